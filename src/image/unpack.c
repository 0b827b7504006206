/* unpack.c - one image layer, from its tar stream into a directory of the
 * store, with hostile input in mind.
 *
 * Every file operation is relative to a directory fd inside the layer and
 * never follows a symbolic link: a parent directory is reached one
 * component at a time with O_NOFOLLOW, so an entry that goes through a
 * symlink planted by an earlier entry is refused, and nothing is written
 * outside the layer.  Entries are refused when their path has `..`;
 * absolute paths are taken relative to the layer.  Hard links must point
 * at an entry of the same layer.  Device nodes and sockets are skipped
 * (with a count the caller reports), setuid and setgid bits are cleared,
 * extended attributes (file capabilities among them) are not restored.
 * Sizes and entry counts are bounded.
 *
 * Whiteouts become what overlayfs reads: `.wh.NAME` a 0/0 character device
 * NAME (creatable without privileges since Linux 5.8), `.wh..wh..opq` the
 * opaque mark on its directory (trusted.overlay.opaque for a root store,
 * and user.overlay.opaque, which overlayfs reads with `userxattr` in a user
 * namespace).  A directory made where the same layer put a whiteout is
 * marked opaque, as the deletion and re-creation it stands for mean. */
#include "config.h"
#include "image.h"
#include "archive-dl.h"
#include "fsat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_DEPTH 256
#define MAX_PATH 4096

static uint64_t
env_limit (const char *name, uint64_t def)
{
  const char *v = getenv (name);
  char *end;
  if (v == NULL || *v == '\0')
    return def;
  unsigned long long n = strtoull (v, &end, 10);
  return *end == '\0' && n > 0 ? n : def;
}

/* Splits path into components, dropping "", "." and leading slashes;
 * -1 on "..", too deep or too long. */
static int
split_path (const char *path, char *buf, char **comps, size_t *n)
{
  if (strlen (path) >= MAX_PATH)
    return -1;
  strcpy (buf, path);
  *n = 0;
  char *save = NULL;
  for (char *c = strtok_r (buf, "/", &save); c; c = strtok_r (NULL, "/", &save))
    {
      if (strcmp (c, ".") == 0)
        continue;
      if (strcmp (c, "..") == 0 || *n >= MAX_DEPTH)
        return -1;
      comps[(*n)++] = c;
    }
  return 0;
}

/* Opens (creating as needed) the directory made of comps[0..n) under
 * layer, never through a symlink. */
static int
open_dir (int layer, char **comps, size_t n, const char *what, struct corral_error *err)
{
  int fd = dup (layer);
  if (fd < 0)
    return corral_fail (err, errno, "dup");
  for (size_t i = 0; i < n; i++)
    {
      int nfd = openat (fd, comps[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (nfd < 0 && errno == ENOENT)
        {
          if (mkdirat (fd, comps[i], 0755) < 0 && errno != EEXIST)
            {
              int e = errno;
              close (fd);
              return corral_fail (err, e, "%s: create directory %s", what, comps[i]);
            }
          nfd = openat (fd, comps[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
      int e = errno;
      close (fd);
      if (nfd < 0)
        {
          if (e == ELOOP || e == ENOTDIR)
            return corral_fail (err, 0, "%s: goes through `%s`, which is not a directory (a "
                                "symlink or file in this layer): refused", what, comps[i]);
          return corral_fail (err, e, "%s: open directory %s", what, comps[i]);
        }
      fd = nfd;
    }
  return fd;
}

static int
mark_opaque (int dir, const char *name, bool root_owned, const char *what,
             struct corral_error *err)
{
  int fd = name ? openat (dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : dup (dir);
  if (fd < 0)
    return corral_fail (err, errno, "%s: open directory to mark opaque", what);
  int r = 0;
  if (root_owned && fsetxattr (fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
    r = corral_fail (err, errno, "%s: set trusted.overlay.opaque", what);
  if (r == 0 && fsetxattr (fd, "user.overlay.opaque", "y", 1, 0) < 0 && !root_owned)
    r = corral_fail (err, errno, "%s: set user.overlay.opaque (the store's file system must "
                     "support user extended attributes)", what);
  close (fd);
  return r;
}

static int
write_data (struct archive *a, int fd, const char *what, uint64_t *total, uint64_t max_total,
            struct corral_error *err)
{
  const void *buf;
  size_t size;
  la_int64_t offset;
  uint64_t end = 0;
  for (;;)
    {
      int r = sym_archive_read_data_block (a, &buf, &size, &offset);
      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN)
        return corral_fail (err, 0, "%s: %s", what, sym_archive_error_string (a));
      if (offset < 0)
        return corral_fail (err, 0, "%s: bad data offset", what);
      if ((*total += size) > max_total)
        return corral_fail (err, EFBIG, "%s: the layer unpacks to more than %llu bytes "
                            "(CORRAL_IMAGE_MAX_BYTES)", what, (unsigned long long) max_total);
      const char *p = buf;
      uint64_t at = (uint64_t) offset;
      while (size > 0)
        {
          ssize_t n = pwrite (fd, p, size, (off_t) at);
          if (n < 0)
            {
              if (errno == EINTR)
                continue;
              return corral_fail (err, errno, "%s: write", what);
            }
          p += n;
          at += (uint64_t) n;
          size -= (size_t) n;
        }
      if (at > end)
        end = at;
    }
  /* a sparse file's trailing hole */
  struct stat st;
  if (fstat (fd, &st) == 0 && (uint64_t) st.st_size < end && ftruncate (fd, (off_t) end) < 0)
    return corral_fail (err, errno, "%s: truncate", what);
  return 0;
}

int
image_unpack_layer (struct archive *a, int layer, bool root_owned, const char *what,
                    struct layer_stats *stats, struct corral_error *err)
{
  uint64_t max_total = env_limit ("CORRAL_IMAGE_MAX_BYTES", 64ull << 30);
  uint64_t max_entries = env_limit ("CORRAL_IMAGE_MAX_ENTRIES", 4000000);
  memset (stats, 0, sizeof *stats);
  static char pbuf[MAX_PATH], lbuf[MAX_PATH];
  char *comps[MAX_DEPTH], *lcomps[MAX_DEPTH];
  struct archive_entry *e;
  int r;
  while ((r = sym_archive_read_next_header (a, &e)) != ARCHIVE_EOF)
    {
      if (r < ARCHIVE_WARN)
        return corral_fail (err, 0, "%s: %s", what, sym_archive_error_string (a));
      if (++stats->entries > max_entries)
        return corral_fail (err, 0, "%s: more than %llu entries (CORRAL_IMAGE_MAX_ENTRIES)", what,
                            (unsigned long long) max_entries);
      const char *path = sym_archive_entry_pathname (e);
      size_t n;
      if (path == NULL || split_path (path, pbuf, comps, &n) < 0)
        return corral_fail (err, 0, "%s: entry `%.200s` escapes the layer (`..`) or is too deep or "
                            "long: refused", what, path ? path : "(no name)");
      if (n == 0)
        continue; /* the layer's root itself */
      char ewhat[MAX_PATH + 256];
      snprintf (ewhat, sizeof ewhat, "%s: %.3000s", what, path);
      const char *name = comps[n - 1];
      unsigned type = sym_archive_entry_filetype (e);
      mode_t mode = sym_archive_entry_mode (e) & 07777;
      if (mode & 06000)
        {
          mode &= ~(mode_t) 06000;
          stats->cleared_setid++;
        }

      int dir = open_dir (layer, comps, n - 1, ewhat, err);
      if (dir < 0)
        return -1;
      int ret = 0;
      bool set_owner = root_owned, set_time = true;

      if (strcmp (name, ".wh..wh..opq") == 0)
        {
          ret = mark_opaque (dir, NULL, root_owned, ewhat, err);
          close (dir);
          if (ret < 0)
            return -1;
          continue;
        }
      if (strncmp (name, ".wh.", 4) == 0)
        {
          const char *gone = name + 4;
          /* ".wh..wh.*" other than the opaque mark: AUFS bookkeeping */
          if (strncmp (gone, ".wh.", 4) != 0 && *gone && strcmp (gone, ".") && strcmp (gone, ".."))
            {
              if (fsat_remove (dir, gone) < 0
                  || mknodat (dir, gone, S_IFCHR | 0000, makedev (0, 0)) < 0)
                ret = corral_fail (err, errno, "%s: create the whiteout of %s", ewhat, gone);
            }
          close (dir);
          if (ret < 0)
            return -1;
          continue;
        }

      const char *hl = sym_archive_entry_hardlink (e);
      if (hl != NULL)
        {
          size_t ln;
          if (split_path (hl, lbuf, lcomps, &ln) < 0 || ln == 0)
            ret = corral_fail (err, 0, "%s: hard link to `%.200s` leaves the layer: refused", ewhat, hl);
          else
            {
              int tdir = open_dir (layer, lcomps, ln - 1, ewhat, err);
              if (tdir < 0)
                ret = -1;
              else
                {
                  struct stat st;
                  if (fstatat (tdir, lcomps[ln - 1], &st, AT_SYMLINK_NOFOLLOW) < 0)
                    ret = corral_fail (err, 0, "%s: hard link to `%.200s`, which this layer does "
                                       "not have: refused", ewhat, hl);
                  else if (S_ISDIR (st.st_mode))
                    ret = corral_fail (err, 0, "%s: hard link to a directory: refused", ewhat);
                  else if (fsat_remove (dir, name) < 0
                           || linkat (tdir, lcomps[ln - 1], dir, name, 0) < 0)
                    ret = corral_fail (err, errno, "%s: hard link", ewhat);
                  close (tdir);
                }
            }
          close (dir);
          if (ret < 0)
            return -1;
          continue; /* a link shares its target's owner, mode and times */
        }

      switch (type)
        {
        case AE_IFDIR:
          {
            struct stat st;
            bool exists = fstatat (dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
            bool over_whiteout = exists && S_ISCHR (st.st_mode) && st.st_rdev == makedev (0, 0);
            if (exists && !S_ISDIR (st.st_mode) && fsat_remove (dir, name) < 0)
              ret = corral_fail (err, errno, "%s: replace", ewhat);
            else if ((!exists || !S_ISDIR (st.st_mode)) && mkdirat (dir, name, 0700) < 0)
              ret = corral_fail (err, errno, "%s: mkdir", ewhat);
            else if (over_whiteout)
              ret = mark_opaque (dir, name, root_owned, ewhat, err);
            if (ret == 0 && set_owner
                && fchownat (dir, name, sym_archive_entry_uid (e), sym_archive_entry_gid (e),
                             AT_SYMLINK_NOFOLLOW) < 0)
              ret = corral_fail (err, errno, "%s: chown", ewhat);
            if (ret == 0 && fchmodat (dir, name, mode, 0) < 0)
              ret = corral_fail (err, errno, "%s: chmod", ewhat);
            set_owner = set_time = false;
            break;
          }
        case AE_IFREG:
          {
            if (sym_archive_entry_size_is_set (e) && (uint64_t) sym_archive_entry_size (e) > max_total)
              {
                ret = corral_fail (err, EFBIG, "%s: %lld bytes: too large (CORRAL_IMAGE_MAX_BYTES)",
                                   ewhat, (long long) sym_archive_entry_size (e));
                break;
              }
            if (fsat_remove (dir, name) < 0)
              {
                ret = corral_fail (err, errno, "%s: replace", ewhat);
                break;
              }
            int fd = openat (dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd < 0)
              {
                ret = corral_fail (err, errno, "%s: create", ewhat);
                break;
              }
            ret = write_data (a, fd, ewhat, &stats->bytes, max_total, err);
            if (ret == 0 && set_owner
                && fchown (fd, sym_archive_entry_uid (e), sym_archive_entry_gid (e)) < 0)
              ret = corral_fail (err, errno, "%s: chown", ewhat);
            if (ret == 0 && fchmod (fd, mode) < 0)
              ret = corral_fail (err, errno, "%s: chmod", ewhat);
            set_owner = false;
            close (fd);
            break;
          }
        case AE_IFLNK:
          {
            const char *target = sym_archive_entry_symlink (e);
            if (target == NULL || strlen (target) >= MAX_PATH)
              ret = corral_fail (err, 0, "%s: symlink without a usable target", ewhat);
            else if (fsat_remove (dir, name) < 0 || symlinkat (target, dir, name) < 0)
              ret = corral_fail (err, errno, "%s: symlink", ewhat);
            break;
          }
        case AE_IFIFO:
          if (fsat_remove (dir, name) < 0 || mknodat (dir, name, S_IFIFO | (mode & 0777), 0) < 0)
            ret = corral_fail (err, errno, "%s: mkfifo", ewhat);
          break;
        default:
          /* character and block devices, sockets: never made */
          stats->skipped_devices++;
          set_owner = set_time = false;
          break;
        }
      if (ret == 0 && set_owner
          && fchownat (dir, name, sym_archive_entry_uid (e), sym_archive_entry_gid (e),
                       AT_SYMLINK_NOFOLLOW) < 0)
        ret = corral_fail (err, errno, "%s: chown", ewhat);
      if (ret == 0 && set_time && type != AE_IFDIR)
        {
          struct timespec ts[2];
          ts[0].tv_sec = ts[1].tv_sec = sym_archive_entry_mtime (e);
          ts[0].tv_nsec = ts[1].tv_nsec = sym_archive_entry_mtime_nsec (e);
          utimensat (dir, name, ts, AT_SYMLINK_NOFOLLOW); /* best effort */
        }
      close (dir);
      if (ret < 0)
        return -1;
    }
  return 0;
}
