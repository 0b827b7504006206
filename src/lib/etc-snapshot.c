/* etc-snapshot.c - the host view's /etc, copied once and kept between runs.
 *
 * The host view shows the vetted part of the host's /etc (the allowlist
 * below: no shadow, no ssh or ssl private keys, no machine-id).  Binding
 * each allowed entry costs a run some twenty mount operations and a scan of
 * /etc (~0.4 ms of a 4 ms run); instead, the allowed entries are copied once
 * into a snapshot in the cache ($XDG_CACHE_HOME/corral/etc, else
 * ~/.cache/corral/etc) and a run binds that directory with one mount.
 *
 * A snapshot is used only while it is current.  Its manifest records, for
 * /etc itself and for every directory and regular file it was copied from,
 * the device, inode, mode, size, mtime and ctime; before each run one
 * fstatat per record (~70 here, ~50 us) checks them.  An entry added to or
 * removed from a directory changes that directory's times; a file written
 * in place changes its own; a symlink cannot change in place at all, so it
 * needs no record.  When anything differs, a new snapshot is built beside
 * the old one and published by renaming the `current` symlink; superseded
 * snapshots are removed a minute later (a run that opened one just before
 * must still find it whole).
 *
 * Everything here is best effort: no cache directory, one that is not ours
 * or is writable by others, a snapshot over the size limits, any error, and
 * the caller falls back to binding the entries one by one (rootfs.c); a
 * build that failed is not tried again until /etc itself changes. */
#include "internal.h"
#include "cache.h"
#include "fsat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const corral_etc_allow[] = {
  "passwd", "group", "hosts", "host.conf", "nsswitch.conf", "resolv.conf", "gai.conf",
  "protocols", "services", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime",
  "timezone", "alternatives", "ca-certificates", "mime.types", "os-release",
  "python*", "java-*", "perl",
  NULL
};
/* One level down: the parent is created, not copied, so that its other
 * entries (ssl/private) stay out. */
const char *const corral_etc_allow_sub[] = { "ssl/certs", "ssl/openssl.cnf", NULL };

bool
corral_etc_allowed (const char *name)
{
  for (size_t i = 0; corral_etc_allow[i]; i++)
    if (fnmatch (corral_etc_allow[i], name, 0) == 0)
      return true;
  return false;
}

const char *
corral_etc_sub_split (const char *sub, char *parent, size_t len)
{
  const char *slash = strchr (sub, '/');
  snprintf (parent, len, "%.*s", (int) (slash - sub), sub);
  return slash + 1;
}

#define MAGIC "corral-etc-2\n"
#define MAX_BYTES (64ull << 20) /* a snapshot bigger than this is not made */
#define MAX_ENTRIES 20000
#define MAX_DEPTH 16
#define GRACE_S 60 /* a superseded snapshot lives this long */

/* One manifest record, followed by path_len bytes of path (relative to
 * /etc, "." for /etc itself). */
struct record {
  uint64_t dev, ino, size;
  int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
  uint32_t mode;
  uint32_t path_len;
};

struct manifest {
  char *buf;
  size_t len, cap;
};

struct budget {
  uint64_t bytes;
  unsigned entries;
};

static uint64_t
fnv1a (uint64_t h, const void *p, size_t n)
{
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ s[i]) * 1099511628211ull;
  return h;
}

/* The manifest's header: the format, and the allowlist it was made with. */
static uint64_t
allow_hash (void)
{
  uint64_t h = fnv1a (1469598103934665603ull, MAGIC, sizeof MAGIC - 1);
  for (size_t i = 0; corral_etc_allow[i]; i++)
    h = fnv1a (h, corral_etc_allow[i], strlen (corral_etc_allow[i]) + 1);
  for (size_t i = 0; corral_etc_allow_sub[i]; i++)
    h = fnv1a (h, corral_etc_allow_sub[i], strlen (corral_etc_allow_sub[i]) + 1);
  return h;
}

static void
fill_record (struct record *r, const struct stat *st, size_t path_len)
{
  *r = (struct record) {
    .dev = st->st_dev, .ino = st->st_ino, .size = (uint64_t) st->st_size,
    .mtime_s = st->st_mtim.tv_sec, .mtime_ns = st->st_mtim.tv_nsec,
    .ctime_s = st->st_ctim.tv_sec, .ctime_ns = st->st_ctim.tv_nsec,
    .mode = st->st_mode, .path_len = (uint32_t) path_len,
  };
}

static int
append (struct manifest *m, const void *data, size_t len)
{
  if (m->len + len > m->cap)
    {
      size_t cap = m->cap ? m->cap * 2 : 16384;
      while (cap < m->len + len)
        cap *= 2;
      char *b = realloc (m->buf, cap);
      if (b == NULL)
        return -1;
      m->buf = b;
      m->cap = cap;
    }
  memcpy (m->buf + m->len, data, len);
  m->len += len;
  return 0;
}

static int
record (struct manifest *m, const char *path, const struct stat *st)
{
  struct record r;
  size_t plen = strlen (path);
  fill_record (&r, st, plen);
  return append (m, &r, sizeof r) < 0 || append (m, path, plen) < 0 ? -1 : 0;
}

/* ---- building ---- */

static int copy_entry (int sdir, int ddir, const char *name, const char *path, int depth,
                       struct manifest *m, struct budget *b);

static int
copy_file (int sdir, int ddir, const char *name, const char *path, struct manifest *m,
           struct budget *b)
{
  int in = openat (sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (in < 0)
    {
      /* Unreadable to us: left out, but recorded, so that a chmod that
       * makes it readable (a ctime change) brings it in. */
      struct stat st;
      if (fstatat (sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
      return record (m, path, &st);
    }
  struct stat st;
  int ret = -1;
  int out = -1;
  if (fstat (in, &st) < 0 || !S_ISREG (st.st_mode))
    goto done;
  b->bytes += (uint64_t) st.st_size;
  if (b->bytes > MAX_BYTES)
    goto done;
  out = openat (ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                st.st_mode & 0777);
  if (out < 0)
    goto done;
  /* What the file held when it was stat'ed, at most: one that grows
   * meanwhile has a new mtime, and the next run makes a new snapshot. */
  char buf[65536];
  for (off_t left = st.st_size; left > 0;)
    {
      ssize_t n = read (in, buf, (size_t) (left < (off_t) sizeof buf ? left : (off_t) sizeof buf));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        goto done;
      if (n == 0)
        break;
      if (corral_write_all (out, buf, (size_t) n) != n)
        goto done;
      left -= n;
    }
  /* The mode again: the umask trimmed the one given to openat.  And the
   * times: a program that compares them must see the host's (Python's
   * cached bytecode of /etc/python3.x/sitecustomize.py is keyed on the
   * source's mtime; a new one cost every run a compile, 0.7 ms). */
  const struct timespec times[2] = { st.st_atim, st.st_mtim };
  if (fchmod (out, st.st_mode & 0777) < 0 || futimens (out, times) < 0)
    goto done;
  ret = record (m, path, &st);
done:
  if (out >= 0 && close (out) < 0)
    ret = -1;
  close (in);
  return ret;
}

static int
copy_dir (int sdir, int ddir, const char *name, const char *path, int depth, struct manifest *m,
          struct budget *b)
{
  if (depth > MAX_DEPTH)
    return -1;
  int s = openat (sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (s < 0)
    {
      struct stat st;
      if (fstatat (sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
      return record (m, path, &st);
    }
  struct stat st;
  if (fstat (s, &st) < 0 || record (m, path, &st) < 0
      || (mkdirat (ddir, name, 0700) < 0 && errno != EEXIST))
    {
      close (s);
      return -1;
    }
  int d = openat (ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR *dir = d < 0 ? NULL : fdopendir (s);
  if (dir == NULL)
    {
      if (d >= 0)
        close (d);
      close (s);
      return -1;
    }
  int ret = 0;
  struct dirent *de;
  while (ret == 0 && (de = readdir (dir)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      char sub[PATH_MAX];
      if ((size_t) snprintf (sub, sizeof sub, "%s/%s", path, de->d_name) >= sizeof sub)
        ret = -1;
      else
        ret = copy_entry (dirfd (dir), d, de->d_name, sub, depth + 1, m, b);
    }
  /* Its mode last, so that a 0555 directory could still be filled. */
  if (ret == 0 && fchmod (d, st.st_mode & 0777) < 0)
    ret = -1;
  closedir (dir);
  close (d);
  return ret;
}

static int
copy_entry (int sdir, int ddir, const char *name, const char *path, int depth, struct manifest *m,
            struct budget *b)
{
  if (++b->entries > MAX_ENTRIES)
    return -1;
  struct stat st;
  if (fstatat (sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return 0;
  if (S_ISLNK (st.st_mode))
    {
    return corral_copy_symlink (sdir, ddir, name) < 0 ? -1 : 0;
    }
  if (S_ISDIR (st.st_mode))
    return copy_dir (sdir, ddir, name, path, depth, m, b);
  if (S_ISREG (st.st_mode))
    return copy_file (sdir, ddir, name, path, m, b);
  return 0; /* sockets, fifos, device nodes: never part of the view */
}


/* Copies the allowed part of /etc (hfd) into dst/etc and writes
 * dst/manifest. */
static int
build_into (int hfd, int dst)
{
  struct manifest m = { 0 };
  struct budget b = { 0 };
  int ret = -1;
  int e = -1;
  DIR *dir = NULL;
  struct stat st;
  uint64_t h = allow_hash ();
  if (append (&m, &h, sizeof h) < 0 || fstat (hfd, &st) < 0 || record (&m, ".", &st) < 0 || mkdirat (dst, "etc", 0700) < 0
      || (e = openat (dst, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
    goto out;
  int scan = openat (hfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (scan < 0 || (dir = fdopendir (scan)) == NULL)
    {
      if (scan >= 0)
        close (scan);
      goto out;
    }
  struct dirent *de;
  while ((de = readdir (dir)) != NULL)
    if (de->d_name[0] != '.' && corral_etc_allowed (de->d_name)
        && copy_entry (hfd, e, de->d_name, de->d_name, 1, &m, &b) < 0)
      goto out;
  for (size_t i = 0; corral_etc_allow_sub[i]; i++)
    {
      const char *sub = corral_etc_allow_sub[i];
      char parent[64];
      const char *leaf = corral_etc_sub_split (sub, parent, sizeof parent);
      int hp = openat (hfd, parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (hp < 0)
        {
          /* Absent now; recorded (if it is something else) so that its
           * appearance shows in /etc's own times either way. */
          continue;
        }
      if (fstat (hp, &st) < 0 || record (&m, parent, &st) < 0
          || (mkdirat (e, parent, 0755) < 0 && errno != EEXIST))
        {
          close (hp);
          goto out;
        }
      int ep = openat (e, parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int r = ep < 0 ? -1 : copy_entry (hp, ep, leaf, sub, 2, &m, &b);
      if (ep >= 0)
        close (ep);
      close (hp);
      if (r < 0)
        goto out;
    }
  if (fchmod (e, 0755) < 0)
    goto out;
  int mf = openat (dst, "manifest", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (mf < 0)
    goto out;
  bool ok = corral_write_all (mf, m.buf, m.len) == (ssize_t) m.len;
  if (close (mf) < 0 || !ok)
    goto out;
  ret = 0;
out:
  if (dir)
    closedir (dir);
  if (e >= 0)
    close (e);
  free (m.buf);
  return ret;
}

/* ---- checking ---- */

/* 0 if every record of the snapshot's manifest matches the host's /etc. */
static int
current_with (int snap, int hfd)
{
  int fd = openat (snap, "manifest", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -1;
  struct stat st;
  char *buf = NULL;
  int ret = -1;
  if (!corral_cache_trusted (fd, false) || fstat (fd, &st) < 0 || st.st_size < 8
      || st.st_size > (16 << 20) || (buf = malloc ((size_t) st.st_size)) == NULL
      || corral_read_all (fd, buf, (size_t) st.st_size) != st.st_size)
    goto out;
  uint64_t h;
  memcpy (&h, buf, sizeof h);
  if (h != allow_hash ())
    goto out;
  size_t at = sizeof h, len = (size_t) st.st_size;
  while (at < len)
    {
      struct record r;
      char path[PATH_MAX];
      if (len - at < sizeof r)
        goto out;
      memcpy (&r, buf + at, sizeof r);
      at += sizeof r;
      if (r.path_len == 0 || r.path_len >= sizeof path || r.path_len > len - at)
        goto out;
      memcpy (path, buf + at, r.path_len);
      path[r.path_len] = '\0';
      at += r.path_len;
      struct stat now;
      struct record want;
      if (fstatat (hfd, path, &now, AT_SYMLINK_NOFOLLOW) < 0)
        goto out;
      fill_record (&want, &now, r.path_len);
      if (memcmp (&want, &r, sizeof r) != 0)
        goto out;
    }
  ret = 0;
out:
  free (buf);
  close (fd);
  return ret;
}

/* The etc directory of the snapshot `current` names, if that is current;
 * name gets the snapshot's name. */
static int
open_current (int cache, int hfd, char *name, size_t len)
{
  ssize_t n = readlinkat (cache, "current", name, len - 1);
  if (n <= 0)
    return -1;
  name[n] = '\0';
  if (strncmp (name, "snap-", 5) != 0 || strchr (name, '/'))
    return -1;
  int snap = openat (cache, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (snap < 0)
    return -1;
  int etc = -1;
  if (corral_cache_trusted (snap, true) && current_with (snap, hfd) == 0)
    etc = openat (snap, "etc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  close (snap);
  return etc;
}

static bool
usable (int cache, const char *name, int hfd)
{
  int snap = openat (cache, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (snap < 0)
    return false;
  bool ok = corral_cache_trusted (snap, true) && current_with (snap, hfd) == 0;
  close (snap);
  return ok;
}

/* ---- publishing ---- */

/* Removes snapshots other than keep that were superseded more than
 * GRACE_S ago (their mtime is when), and builds left over by a crash. */
static void
sweep (int cache, const char *keep)
{
  int fd = openat (cache, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir = fd < 0 ? NULL : fdopendir (fd);
  if (dir == NULL)
    {
      if (fd >= 0)
        close (fd);
      return;
    }
  time_t now = time (NULL);
  struct dirent *de;
  while ((de = readdir (dir)) != NULL)
    {
      bool snap = strncmp (de->d_name, "snap-", 5) == 0;
      bool tmp = strncmp (de->d_name, "tmp-", 4) == 0;
      struct stat st;
      if ((!snap && !tmp) || strcmp (de->d_name, keep) == 0
          || fstatat (fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      if (now - st.st_mtim.tv_sec > (tmp ? 10 * GRACE_S : GRACE_S))
        fsat_remove (fd, de->d_name);
    }
  closedir (dir);
}

static int
build (int cache, int hfd)
{
  char tmp[64], name[64], link[64];
  snprintf (tmp, sizeof tmp, "tmp-%d-%" PRIx64, (int) getpid (), corral_now_us ());
  if (mkdirat (cache, tmp, 0700) < 0)
    return -1;
  int t = openat (cache, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (t < 0 || build_into (hfd, t) < 0)
    goto fail;
  /* Named by its manifest, so that two runs building the same /etc at
   * once end with one snapshot. */
  int mf = openat (t, "manifest", O_RDONLY | O_CLOEXEC);
  struct stat st;
  char *buf = NULL;
  if (mf < 0 || fstat (mf, &st) < 0 || (buf = malloc ((size_t) st.st_size + 1)) == NULL
      || corral_read_all (mf, buf, (size_t) st.st_size) != st.st_size)
    {
      free (buf);
      if (mf >= 0)
        close (mf);
      goto fail;
    }
  close (mf);
  snprintf (name, sizeof name, "snap-%016" PRIx64,
            fnv1a (1469598103934665603ull, buf, (size_t) st.st_size));
  free (buf);
  close (t);
  t = -1;
  if (renameat (cache, tmp, cache, name) < 0)
    {
      if (errno != EEXIST && errno != ENOTEMPTY)
        goto fail;
      /* The same snapshot exists: another run just made it, or it is one
       * that was damaged or loosened (which is why we are here); that one
       * is replaced. */
      if (usable (cache, name, hfd))
        fsat_remove (cache, tmp);
      else if (fsat_remove (cache, name) < 0 || renameat (cache, tmp, cache, name) < 0)
        goto fail;
    }
  /* The old snapshot's grace period starts now: mark it. */
  char old[64];
  ssize_t n = readlinkat (cache, "current", old, sizeof old - 1);
  if (n > 0)
    {
      old[n] = '\0';
      if (strcmp (old, name) != 0)
        utimensat (cache, old, NULL, AT_SYMLINK_NOFOLLOW);
    }
  snprintf (link, sizeof link, "tmp-%d-%" PRIx64 ".lnk", (int) getpid (), corral_now_us ());
  if (symlinkat (name, cache, link) < 0)
    return -1;
  if (renameat (cache, link, cache, "current") < 0)
    {
      unlinkat (cache, link, 0);
      return -1;
    }
  sweep (cache, name);
  return 0;
fail:
  if (t >= 0)
    close (t);
  fsat_remove (cache, tmp);
  return -1;
}

/* A build that failed (over the limits, out of space) is not tried again
 * by every run: "failed" records /etc's times then, and while they are the
 * same the runs bind entries without trying. */
static void
fail_key (int hfd, char *key, size_t len)
{
  struct stat st;
  if (fstat (hfd, &st) < 0)
    memset (&st, 0, sizeof st);
  snprintf (key, len, "%016" PRIx64 " %llu %lld.%09ld %lld.%09ld\n", allow_hash (),
            (unsigned long long) st.st_ino, (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
            (long long) st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
}

static bool
failed_before (int cache, int hfd)
{
  char want[160], got[160];
  fail_key (hfd, want, sizeof want);
  int fd = openat (cache, "failed", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return false;
  ssize_t n = read (fd, got, sizeof got - 1);
  close (fd);
  if (n <= 0)
    return false;
  got[n] = '\0';
  return strcmp (want, got) == 0;
}

static void
note_failure (int cache, int hfd)
{
  char key[160], tmp[64];
  fail_key (hfd, key, sizeof key);
  snprintf (tmp, sizeof tmp, "tmp-%d-failed", (int) getpid ());
  int fd = openat (cache, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return;
  bool ok = corral_write_all (fd, key, strlen (key)) == (ssize_t) strlen (key);
  if (close (fd) < 0 || !ok || renameat (cache, tmp, cache, "failed") < 0)
    unlinkat (cache, tmp, 0);
}

int
corral_etc_snapshot (char *path, size_t len)
{
  int hfd = open ("/etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (hfd < 0)
    return -1;
  int etc = -1;
  char dir[PATH_MAX], name[64];
  int cache = corral_cache_open ("etc", false, dir, sizeof dir);
  if (cache >= 0)
    etc = open_current (cache, hfd, name, sizeof name);
  if (etc < 0)
    {
      if (cache < 0)
        cache = corral_cache_open ("etc", true, dir, sizeof dir);
      if (cache >= 0 && !failed_before (cache, hfd))
        {
          if (build (cache, hfd) == 0)
            etc = open_current (cache, hfd, name, sizeof name);
          else
            note_failure (cache, hfd);
        }
    }
  if (etc >= 0 && (size_t) snprintf (path, len, "%s/%s/etc", dir, name) >= len)
    {
      close (etc);
      etc = -1;
    }
  if (cache >= 0)
    close (cache);
  close (hfd);
  return etc;
}
