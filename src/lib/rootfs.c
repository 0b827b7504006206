/* rootfs.c - the sandbox's filesystem view, built inside a fresh mount
 * namespace and entered with pivot_root.
 *
 * The default view ("the embedded default"): a tmpfs root, read-only
 * read-only binds of the host's /usr, /bin, /sbin, /lib* (symlinks copied as
 * symlinks on merged-/usr hosts), a vetted part of /etc (an allowlist: no
 * shadow, no ssh or ssl private keys, no machine-id; one bind of the cached
 * snapshot of etc-snapshot.c, else a bind per entry), a fresh /proc with the
 * usual masks, a minimal /dev, and size-limited tmpfs at /tmp, /dev/shm and
 * /sandbox.
 *
 * Every mount target is opened component by component under the new root
 * with O_NOFOLLOW and mounted through /proc/self/fd/N, so a symlink that a
 * previous run planted in a bound host directory cannot redirect a mount. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/mount.h>
#include <linux/openat2.h>

#define NEWROOT "/tmp" /* host path we mount the new root tmpfs over, in our private namespace */

static int
set_attr (int fd, const char *path, unsigned long long set, bool recursive)
{
  struct mount_attr attr = { .attr_set = set };
  unsigned flags = recursive ? AT_RECURSIVE : 0;
  if (fd >= 0)
    flags |= AT_EMPTY_PATH;
  return (int) syscall (SYS_mount_setattr, fd >= 0 ? fd : AT_FDCWD, fd >= 0 ? "" : path,
                        flags, &attr, sizeof attr);
}

static void
fd_path (int fd, char *buf, size_t len)
{
  snprintf (buf, len, "/proc/self/fd/%d", fd);
}

/* The fast path: one openat2 that refuses any symlink on the way and any
 * escape from the new root.  -1 with errno ENOENT means "create it". */
static int
open_existing (int rootfd, const char *rel, bool want_dir)
{
  static bool no_openat2;
  if (!no_openat2)
    {
      struct open_how how = { .flags = O_PATH | O_CLOEXEC | (want_dir ? O_DIRECTORY : 0),
                              .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
                                         | RESOLVE_NO_MAGICLINKS };
      int fd = (int) syscall (SYS_openat2, rootfd, rel, &how, sizeof how);
      if (fd >= 0 || (errno != ENOSYS && errno != E2BIG && errno != EINVAL))
        return fd;
      no_openat2 = true;
    }
  errno = EAGAIN; /* walk component by component */
  return -1;
}

/* Opens (creating as needed) the mount point for dst under the new root.
 * Intermediate components must be real directories (never symlinks); the
 * last one is created as a directory or an empty file. */
static int
open_target (int rootfd, const char *dst, bool want_dir, struct corral_error *err)
{
  char path[PATH_MAX];
  if (dst[0] != '/' || strlen (dst) >= sizeof path)
    return corral_fail (err, 0, "mount point `%s` must be an absolute path", dst);
  if (strstr (dst, "/../") || strstr (dst, "/./") || strcmp (dst + strlen (dst) - (strlen (dst) > 2 ? 3 : 0), "/..") == 0)
    return corral_fail (err, 0, "mount point `%s` contains `..` or `.`", dst);
  if (dst[1] != '\0')
    {
      int fd = open_existing (rootfd, dst + 1, want_dir);
      if (fd >= 0)
        return fd;
      if (errno == ELOOP || errno == EXDEV)
        return corral_fail (err, errno, "mount point %s (a symlink on the way)", dst);
      if (errno != ENOENT && errno != EAGAIN)
        return corral_fail (err, errno, "open mount point %s", dst);
    }
  snprintf (path, sizeof path, "%s", dst);
  int dfd = dup (rootfd);
  if (dfd < 0)
    return corral_fail (err, errno, "dup");
  char *save = NULL;
  char *comp = strtok_r (path + 1, "/", &save);
  if (comp == NULL)
    {
      close (dfd);
      return corral_fail (err, 0, "mount point `%s` is the root", dst);
    }
  while (comp)
    {
      char *next = strtok_r (NULL, "/", &save);
      if (strcmp (comp, "..") == 0 || strcmp (comp, ".") == 0)
        {
          close (dfd);
          return corral_fail (err, 0, "mount point `%s` contains `%s`", dst, comp);
        }
      bool last = next == NULL;
      if (!last || want_dir)
        {
          if (mkdirat (dfd, comp, 0755) < 0 && errno != EEXIST)
            {
              int e = errno;
              close (dfd);
              return corral_fail (err, e, "create mount point %s", dst);
            }
          int nfd = openat (dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          close (dfd);
          if (nfd < 0)
            return corral_fail (err, errno, "open mount point %s (component `%s`)", dst, comp);
          dfd = nfd;
        }
      else
        {
          /* An empty regular file to mount a file over; an existing
           * entry is used as it is, but never followed if a symlink. */
          int f = openat (dfd, comp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
          if (f >= 0)
            close (f);
          int pf = openat (dfd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
          int e = errno;
          close (dfd);
          if (pf < 0)
            return corral_fail (err, e, "create mount point %s", dst);
          return pf;
        }
      comp = next;
    }
  return dfd;
}

/* Binds src over dst (created as needed), then makes the new mount
 * nosuid, nodev and, when ro, read-only: for every mount below it too. */
static int
bind_at (int rootfd, const char *src, const char *dst, bool ro, struct corral_error *err)
{
  struct stat st;
  if (stat (src, &st) < 0)
    return corral_fail (err, errno, "bind source %s", src);
  int t = open_target (rootfd, dst, S_ISDIR (st.st_mode), err);
  if (t < 0)
    return -1;
  char tp[64];
  fd_path (t, tp, sizeof tp);
  int ret = 0;
  if (mount (src, tp, NULL, MS_BIND | MS_REC, NULL) < 0)
    ret = corral_fail (err, errno, "bind %s on %s", src, dst);
  close (t);
  if (ret < 0)
    return ret;
  /* Reopen: the fd we had points at the covered inode, not the new mount. */
  t = open_target (rootfd, dst, S_ISDIR (st.st_mode), err);
  if (t < 0)
    return -1;
  unsigned long long attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (ro)
    attr |= MOUNT_ATTR_RDONLY;
  if (set_attr (t, NULL, attr, true) < 0)
    ret = corral_fail (err, errno, "make %s %s", dst, ro ? "read-only" : "nosuid");
  close (t);
  return ret;
}

/* mount_setattr on the mount at dst (and, recursive, every mount below). */
static int
set_attr_at (int rootfd, const char *dst, unsigned long long attr, bool recursive,
             struct corral_error *err)
{
  int t = open_target (rootfd, dst, true, err);
  if (t < 0)
    return -1;
  int r = set_attr (t, NULL, attr, recursive);
  int e = errno;
  close (t);
  if (r < 0)
    return corral_fail (err, e, "set mount attributes of %s", dst);
  return 0;
}

static int
tmpfs_at (int rootfd, const char *dst, uint64_t size, const char *mode, uid_t uid, gid_t gid,
          unsigned long flags, struct corral_error *err)
{
  int t = open_target (rootfd, dst, true, err);
  if (t < 0)
    return -1;
  char tp[64], opts[128];
  fd_path (t, tp, sizeof tp);
  int n = snprintf (opts, sizeof opts, "mode=%s", mode);
  if (size != 0 && size != CORRAL_NO_LIMIT)
    n += snprintf (opts + n, sizeof opts - n, ",size=%llu", (unsigned long long) size);
  if (uid != (uid_t) -1)
    snprintf (opts + n, sizeof opts - n, ",uid=%u,gid=%u", (unsigned) uid, (unsigned) gid);
  int ret = 0;
  if (mount ("tmpfs", tp, "tmpfs", flags | MS_NOSUID | MS_NODEV, opts) < 0)
    ret = corral_fail (err, errno, "mount tmpfs on %s", dst);
  close (t);
  return ret;
}

/* /usr, /bin, /sbin, /lib*: bind what is a directory, copy what is a
 * symlink (merged-/usr hosts), skip what is absent. */
static int
host_system_dirs (int rootfd, struct corral_error *err)
{
  static const char *const dirs[] = { "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32" };
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
    {
      char src[64];
      snprintf (src, sizeof src, "/%s", dirs[i]);
      struct stat st;
      if (lstat (src, &st) < 0)
        continue;
      if (S_ISLNK (st.st_mode))
        {
          char target[PATH_MAX];
          ssize_t n = readlink (src, target, sizeof target - 1);
          if (n < 0)
            return corral_fail (err, errno, "readlink %s", src);
          target[n] = '\0';
          if (symlinkat (target, rootfd, dirs[i]) < 0)
            return corral_fail (err, errno, "symlink %s", src);
        }
      else if (S_ISDIR (st.st_mode) && bind_at (rootfd, src, src, true, err) < 0)
        return -1;
    }
  return 0;
}

/* The vetted /etc.  An allowlist, not a denylist: a secret nobody thought
 * of stays out.  What programs need to start (ld.so cache, alternatives,
 * users, name service, time zone, TLS roots, MIME types) and the runtimes'
 * own config dirs are in; shadow, gshadow, ssh, ssl/private, machine-id,
 * sudoers, credentials are not.  Each entry costs ~20 us per run, so the
 * list holds what programs use, not what a login shell would like. */
/* One /etc entry, from the host's /etc (hfd) into the new one (efd), both
 * directory fds: symlinks are recreated, files and directories bound (a
 * bind costs half of a copy into tmpfs, teardown included).  Read-only
 * comes later, once, for the whole tree.  An entry we cannot read is left
 * out. */
static int
etc_entry (int hfd, int efd, const char *name, struct corral_error *err)
{
  struct stat st;
  if (fstatat (hfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return 0;
  if (S_ISLNK (st.st_mode))
    {
      if (corral_copy_symlink (hfd, efd, name) < 0 && errno != EEXIST)
        return corral_fail (err, errno, "symlink /etc/%s", name);
      return 0;
    }
  if (!S_ISDIR (st.st_mode) && !S_ISREG (st.st_mode))
    return 0;
  /* A directory or a file: bind it. */
  bool dir = S_ISDIR (st.st_mode);
  int src = openat (hfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (src < 0)
    return 0;
  int r = dir ? mkdirat (efd, name, 0755) : mknodat (efd, name, S_IFREG | 0644, 0);
  int t = r < 0 && errno != EEXIST ? -1 : openat (efd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  int ret = 0;
  if (t < 0)
    ret = corral_fail (err, errno, "create mount point /etc/%s", name);
  else
    {
      char sp[64], tp[64];
      fd_path (src, sp, sizeof sp);
      fd_path (t, tp, sizeof tp);
      if (mount (sp, tp, NULL, MS_BIND | MS_REC, NULL) < 0)
        ret = corral_fail (err, errno, "bind /etc/%s", name);
      close (t);
    }
  close (src);
  return ret;
}

/* The snapshot as /etc: the fd open_etc_snapshot reopened in our mount
 * namespace.  1 if bound, 0 to bind the entries instead. */
static int
etc_snapshot (int rootfd, int snap, struct corral_error *err)
{
  if (snap < 0)
    return 0;
  char src[64];
  fd_path (snap, src, sizeof src);
  return bind_at (rootfd, src, "/etc", true, err) < 0 ? -1 : 1;
}

static int
host_etc (int rootfd, int snap, struct corral_error *err)
{
  int r = etc_snapshot (rootfd, snap, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  int hfd = open ("/etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (hfd < 0)
    return 0;
  DIR *d = fdopendir (hfd);
  if (d == NULL)
    {
      close (hfd);
      return corral_fail (err, errno, "read /etc");
    }
  int ret = tmpfs_at (rootfd, "/etc", 4ull << 20, "0755", (uid_t) -1, 0, 0, err);
  int pfd = ret < 0 ? -1 : open_target (rootfd, "/etc", true, err);
  int efd = pfd < 0 ? -1 : openat (pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd >= 0)
    close (pfd);
  if (ret == 0 && efd < 0)
    ret = corral_fail (err, errno, "open new /etc");
  struct dirent *de;
  while (ret == 0 && (de = readdir (d)) != NULL)
    {
      if (de->d_name[0] == '.')
        continue;
      if (corral_etc_allowed (de->d_name))
        ret = etc_entry (hfd, efd, de->d_name, err);
    }
  /* Entries one level down ("ssl/certs"): their parent is created, not
   * bound, so that its siblings (ssl/private) stay out. */
  for (size_t i = 0; ret == 0 && corral_etc_allow_sub[i]; i++)
    {
      char parent[64];
      const char *leaf = corral_etc_sub_split (corral_etc_allow_sub[i], parent, sizeof parent);
      int hsub = openat (hfd, parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (hsub < 0)
        continue;
      mkdirat (efd, parent, 0755);
      int esub = openat (efd, parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (esub < 0)
        ret = corral_fail (err, errno, "create /etc/%s", parent);
      else
        {
          ret = etc_entry (hsub, esub, leaf, err);
          close (esub);
        }
      close (hsub);
    }
  closedir (d);
  if (efd >= 0)
    close (efd);
  if (ret == 0)
    ret = set_attr_at (rootfd, "/etc", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                       true, err);
  return ret;
}

/* Binds src (a path we trust: the host's /dev or the new /proc) over the
 * entry name of directory dfd, which must already exist; the entry is
 * opened without following symlinks.  Returns the mount point fd via *tfd
 * when asked, else closes it. */
static int
bind_over (int dfd, const char *name, const char *src, const char *what, int *tfd,
           struct corral_error *err)
{
  int t = openat (dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (t < 0)
    return corral_fail (err, errno, "open %s", what);
  char tp[64];
  fd_path (t, tp, sizeof tp);
  if (mount (src, tp, NULL, MS_BIND | MS_REC, NULL) < 0)
    {
      int e = errno;
      close (t);
      return corral_fail (err, e, "bind %s on %s", src, what);
    }
  if (tfd)
    *tfd = t;
  else
    close (t);
  return 0;
}

static int
make_dev (int rootfd, struct corral_error *err)
{
  if (tmpfs_at (rootfd, "/dev", 64 * 1024, "0755", (uid_t) -1, 0, MS_NOEXEC, err) < 0)
    return -1;
  int pfd = open_target (rootfd, "/dev", true, err);
  if (pfd < 0)
    return -1;
  int dfd = openat (pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  close (pfd);
  if (dfd < 0)
    return corral_fail (err, errno, "open /dev");
  int ret = 0;
  /* Device nodes are bind mounts of the host's: mknod is not allowed in a
   * user namespace, and a bind cannot be more than the host node. */
  static const char *const nodes[] = { "null", "zero", "full", "random", "urandom" };
  for (size_t i = 0; ret == 0 && i < sizeof nodes / sizeof *nodes; i++)
    {
      char src[32];
      snprintf (src, sizeof src, "/dev/%s", nodes[i]);
      if (mknodat (dfd, nodes[i], S_IFREG | 0644, 0) < 0)
        ret = corral_fail (err, errno, "create %s", src);
      else
        ret = bind_over (dfd, nodes[i], src, src, NULL, err);
    }
  static const char *const links[][2] = {
    { "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
    { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
  };
  for (size_t i = 0; ret == 0 && i < sizeof links / sizeof *links; i++)
    if (symlinkat (links[i][1], dfd, links[i][0]) < 0)
      ret = corral_fail (err, errno, "symlink /dev/%s", links[i][0]);
  if (ret == 0 && mkdirat (dfd, "shm", 01777) < 0)
    ret = corral_fail (err, errno, "mkdir /dev/shm");
  /* Read-only (device nodes stay usable: writing to a device is not a
   * write to the filesystem), nosuid, noexec, for the tmpfs and the nodes
   * at once; /dev/shm is mounted later, writable. */
  if (ret == 0 && set_attr (dfd, NULL, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                            true) < 0)
    ret = corral_fail (err, errno, "make /dev read-only");
  close (dfd);
  return ret;
}

const char *const corral_proc_mask_files[] = {
  "kcore", "keys", "latency_stats", "timer_list", "timer_stats", "sched_debug", "kallsyms",
  "sysrq-trigger", "kpagecount", "kpageflags", "kpagecgroup", "config.gz",
  /* the host's boot command line, every uid's key quotas, its physical
   * memory map */
  "cmdline", "key-users", "iomem", NULL,
};
const char *const corral_proc_mask_dirs[] = { "acpi", "scsi", "asound", "driver", NULL };

/* A fresh, read-only procfs for the new pid namespace, with crun's masks:
 * files that leak host state or act on the host are covered by /dev/null or
 * an empty read-only tmpfs. */
static int
make_proc (int rootfd, struct corral_error *err)
{
  int t = open_target (rootfd, "/proc", true, err);
  if (t < 0)
    return -1;
  char tp[64];
  fd_path (t, tp, sizeof tp);
  /* Read-only as a whole, as nsjail mounts it: /proc/sys, /proc/sysrq-trigger,
   * /proc/irq and the rest cannot be written even by a uid 0 that kept no
   * capabilities (sysctl permissions look at the uid alone).  Writes through
   * /proc/self/fd/N reach the file itself, not procfs, and still work.
   * hidepid=2: a process the program may not ptrace is not there at all;
   * init (pid 1, not dumpable, or root's) is one, so its argv, fds and
   * environment are not to be seen, not even by number. */
  int r = mount ("proc", tp, "proc", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2");
  int e = errno;
  close (t);
  if (r < 0)
    return corral_fail (err, e, "mount /proc");
  int pfd = open_target (rootfd, "/proc", true, err);
  if (pfd < 0)
    return -1;
  int dfd = openat (pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  close (pfd);
  if (dfd < 0)
    return corral_fail (err, errno, "open /proc");
  int ret = 0;
  char what[64];
  for (size_t i = 0; ret == 0 && corral_proc_mask_files[i]; i++)
    {
      if (faccessat (dfd, corral_proc_mask_files[i], F_OK, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      snprintf (what, sizeof what, "/proc/%s", corral_proc_mask_files[i]);
      ret = bind_over (dfd, corral_proc_mask_files[i], "/dev/null", what, NULL, err);
    }
  for (size_t i = 0; ret == 0 && corral_proc_mask_dirs[i]; i++)
    {
      int m = openat (dfd, corral_proc_mask_dirs[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (m < 0)
        continue;
      char mp[64];
      fd_path (m, mp, sizeof mp);
      if (mount ("tmpfs", mp, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 "size=4k,mode=0555") < 0)
        ret = corral_fail (err, errno, "mask /proc/%s", corral_proc_mask_dirs[i]);
      close (m);
    }
  close (dfd);
  return ret;
}

/* Bind sources are opened before the root tmpfs covers NEWROOT (a source
 * under /tmp would vanish otherwise) and bound through /proc/self/fd. */
static int
open_sources (const struct corral_spec *spec, int *fds, struct corral_error *err)
{
  for (size_t i = 0; i < spec->n_mounts; i++)
    {
      fds[i] = -1;
      if (spec->mounts[i].kind != CORRAL_MOUNT_BIND)
        continue;
      fds[i] = open (spec->mounts[i].src, O_PATH | O_CLOEXEC);
      if (fds[i] < 0)
        return corral_fail (err, errno, "bind source %s", spec->mounts[i].src);
    }
  return 0;
}

static int
user_mounts (int rootfd, const struct corral_spec *spec, const int *src_fds,
             struct corral_error *err)
{
  for (size_t i = 0; i < spec->n_mounts; i++)
    {
      const struct corral_mount *m = &spec->mounts[i];
      int r;
      char src[64];
      fd_path (src_fds[i], src, sizeof src);
      if (m->kind == CORRAL_MOUNT_BIND)
        r = bind_at (rootfd, src, m->dst, m->ro, err);
      else
        r = tmpfs_at (rootfd, m->dst, m->size ? m->size : 64ull << 20, "1777", (uid_t) -1, 0,
                      m->ro ? MS_RDONLY : 0, err);
      if (r < 0)
        return -1;
    }
  return 0;
}

/* The /etc snapshot, reopened by path in our mount namespace (the
 * supervisor's fd is of its namespace's mount, which we cannot bind) before
 * anything covers it, and used only if it is the very directory the
 * supervisor checked.  -1: bind the entries. */
static int
open_etc_snapshot (int checked, const char *path)
{
  if (checked < 0)
    return -1;
  int fd = open (path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -1; /* e.g. a uid in a user namespace that cannot reach the cache */
  struct stat a, b;
  if (fstat (fd, &a) == 0 && fstat (checked, &b) == 0 && a.st_dev == b.st_dev
      && a.st_ino == b.st_ino)
    return fd;
  close (fd);
  return -1;
}

static int build_root (const struct corral_spec *spec, uid_t uid, gid_t gid, bool userns,
                       const int *src_fds, int lowers_fd, int etc_fd,
                       struct corral_error *err);

int
corral_rootfs_setup (const struct corral_spec *spec, uid_t uid, gid_t gid, bool userns,
                     int etc_fd, const char *etc_path, struct corral_error *err)
{
  /* Nothing we mount may propagate back to the host. */
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return corral_fail (err, errno, "make / private");
  int *src_fds = calloc (spec->n_mounts + 1, sizeof *src_fds);
  if (src_fds == NULL)
    return corral_fail (err, ENOMEM, "rootfs");
  int r = open_sources (spec, src_fds, err);
  /* The layers' directory, like bind sources, is opened before NEWROOT is
   * covered. */
  int lowers_fd = -1;
  if (r == 0 && spec->n_lowers > 0
      && (lowers_fd = open (spec->lowers_base ? spec->lowers_base : "/",
                            O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    r = corral_fail (err, errno, "root file system layers in %s",
                     spec->lowers_base ? spec->lowers_base : "/");
  int etc = r == 0 ? open_etc_snapshot (etc_fd, etc_path) : -1;
  if (r == 0)
    r = build_root (spec, uid, gid, userns, src_fds, lowers_fd, etc, err);
  if (etc >= 0)
    close (etc);
  if (lowers_fd >= 0)
    close (lowers_fd);
  for (size_t i = 0; i < spec->n_mounts; i++)
    if (src_fds[i] >= 0)
      close (src_fds[i]);
  free (src_fds);
  return r;
}

/* An appended overlay mount option value: ':' ',' '\\' escaped. */
static bool
opt_append (char *buf, size_t len, size_t *at, const char *s, bool escape)
{
  for (; *s; s++)
    {
      if (escape && (*s == ':' || *s == ',' || *s == '\\'))
        {
          if (*at + 1 >= len)
            return false;
          buf[(*at)++] = '\\';
        }
      if (*at + 1 >= len)
        return false;
      buf[(*at)++] = *s;
    }
  buf[*at] = '\0';
  return true;
}

/* The image root: an overlay of the layers (read-only) under a writable
 * upper layer on a size-limited tmpfs at NEWROOT, mounted at NEWROOT/root.
 * Layer names are relative to lowers_fd (our cwd while mounting), which
 * keeps the option string short: mount(2) takes one page of options. */
static int
overlay_root (const struct corral_spec *spec, bool userns, int lowers_fd, struct corral_error *err)
{
  char opts[64];
  snprintf (opts, sizeof opts, "mode=0755,size=%llu", (unsigned long long) spec->root_size);
  if (mount ("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
    return corral_fail (err, errno, "mount the upper layer's tmpfs");
  if (mkdir (NEWROOT "/upper", 0755) < 0 || mkdir (NEWROOT "/work", 0700) < 0
      || mkdir (NEWROOT "/root", 0755) < 0)
    return corral_fail (err, errno, "create the overlay's directories");
  char data[4096];
  size_t at = 0;
  bool ok = opt_append (data, sizeof data, &at, "lowerdir=", false);
  for (size_t i = 0; ok && i < spec->n_lowers; i++)
    ok = (i == 0 || opt_append (data, sizeof data, &at, ":", false))
         && opt_append (data, sizeof data, &at, spec->lowers[i], true);
  ok = ok && opt_append (data, sizeof data, &at, ",upperdir=" NEWROOT "/upper,workdir=" NEWROOT "/work", false);
  /* In a user namespace overlayfs keeps its marks in user.overlay.*
   * xattrs (the image store writes both kinds). */
  if (ok && userns)
    ok = opt_append (data, sizeof data, &at, ",userxattr", false);
  if (!ok)
    return corral_fail (err, 0, "root file system: %zu layers do not fit in one overlay mount",
                        spec->n_lowers);
  if (fchdir (lowers_fd) < 0)
    return corral_fail (err, errno, "enter the layers' directory");
  int r = mount ("overlay", NEWROOT "/root", "overlay", MS_NOSUID | MS_NODEV, data);
  int e = errno;
  if (chdir ("/") < 0 && r == 0)
    return corral_fail (err, errno, "chdir /");
  if (r < 0)
    return corral_fail (err, e, "mount the image's overlay%s",
                        e == ENODEV ? " (this kernel has no overlayfs: modprobe overlay)"
                        : e == EINVAL && userns ? " (does this kernel mount overlayfs in a user "
                                                  "namespace? `corral doctor` tells)" : "");
  return 0;
}

static int
build_root (const struct corral_spec *spec, uid_t uid, gid_t gid, bool userns, const int *src_fds,
            int lowers_fd, int etc_fd, struct corral_error *err)
{
  const char *root = NEWROOT;
  bool image = spec->n_lowers > 0;
  if (image)
    {
      if (overlay_root (spec, userns, lowers_fd, err) < 0)
        return -1;
      root = NEWROOT "/root";
    }
  else if (mount ("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=4096") < 0)
    return corral_fail (err, errno, "mount root tmpfs");
  int rootfd cleanup_fd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return corral_fail (err, errno, "open new root");

  /* An image brings its own /usr and /etc. */
  if (!image && (host_system_dirs (rootfd, err) < 0 || host_etc (rootfd, etc_fd, err) < 0))
    return -1;
  if (make_dev (rootfd, err) < 0 || make_proc (rootfd, err) < 0)
    return -1;
  if (tmpfs_at (rootfd, "/tmp", spec->tmp_size, "1777", (uid_t) -1, 0, 0, err) < 0
      || tmpfs_at (rootfd, "/dev/shm", spec->shm_size, "1777", (uid_t) -1, 0, 0, err) < 0
      || tmpfs_at (rootfd, "/sandbox", spec->sandbox_size, "0755", uid, gid, 0, err) < 0)
    return -1;
  if (user_mounts (rootfd, spec, src_fds, err) < 0)
    return -1;

  if (image)
    {
      /* Like a container's: the root is writable (into the upper tmpfs),
       * and the working directory exists (`WORKDIR /` is the root itself,
       * made already). */
      const char *cwd = spec->cwd ? spec->cwd : "/sandbox";
      if (cwd[strspn (cwd, "/")] != '\0')
        {
          int c = open_target (rootfd, cwd, true, err);
          if (c < 0)
            return -1;
          close (c);
        }
    }
  /* The host view's root is read-only once populated. */
  else if (set_attr (rootfd, NULL, MOUNT_ATTR_RDONLY, false) < 0)
    return corral_fail (err, errno, "make / read-only");

  /* pivot_root(".", ".") stacks the old root on the new one; detaching it
   * leaves no path back to the host tree. */
  if (chdir (root) < 0)
    return corral_fail (err, errno, "chdir new root");
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return corral_fail (err, errno, "pivot_root");
  if (umount2 (".", MNT_DETACH) < 0)
    return corral_fail (err, errno, "detach old root");
  if (chdir ("/") < 0)
    return corral_fail (err, errno, "chdir /");
  return 0;
}
