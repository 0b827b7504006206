/* user.c - an image's User ("name", "uid", "name:group", "uid:gid") as
 * ids, as `docker run` takes them: names are looked up in the image's own
 * /etc/passwd and /etc/group, read from its unpacked layers top first with
 * the layers' whiteouts and opaque directories honoured, never following a
 * symlink the image planted; a user given without a group takes the
 * passwd entry's group (0 when the uid has no entry). */
#include "config.h"
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define ACCOUNT_FILE_MAX (4u << 20)

static bool
is_whiteout (const struct stat *sb)
{
  return S_ISCHR (sb->st_mode) && sb->st_rdev == makedev (0, 0);
}

static bool
is_opaque (int dirfd)
{
  char v[2];
  return fgetxattr (dirfd, "trusted.overlay.opaque", v, 1) == 1 && v[0] == 'y'
         ? true
         : fgetxattr (dirfd, "user.overlay.opaque", v, 1) == 1 && v[0] == 'y';
}

enum found { FOUND, ABSENT, NEXT_LAYER };

/* Looks dir/name up in one layer: FOUND with *fd open on the file; ABSENT
 * when this layer deletes it (a whiteout, or an opaque directory above it
 * without it); NEXT_LAYER when the layer says nothing of it; -1 on an
 * error (a symlink on the way: not resolved here). */
static int
layer_lookup (int layer, const char *dir, const char *name, int *fd, struct corral_error *err)
{
  struct stat sb;
  if (fstatat (layer, dir, &sb, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? NEXT_LAYER : corral_fail (err, errno, "image /%s", dir);
  if (is_whiteout (&sb))
    return ABSENT;
  if (!S_ISDIR (sb.st_mode))
    return corral_fail (err, 0, "image /%s is not a directory (a symlink is not followed here)", dir);
  int d = openat (layer, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (d < 0)
    return corral_fail (err, errno, "image /%s", dir);
  bool opaque = is_opaque (d);
  int r;
  if (fstatat (d, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
    r = errno == ENOENT ? (opaque ? ABSENT : NEXT_LAYER) : corral_fail (err, errno, "image /%s/%s", dir, name);
  else if (is_whiteout (&sb))
    r = ABSENT;
  else if (!S_ISREG (sb.st_mode))
    r = corral_fail (err, 0, "image /%s/%s is not a regular file (a symlink is not followed here)", dir, name);
  else if ((*fd = openat (d, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
    r = corral_fail (err, errno, "image /%s/%s", dir, name);
  else
    r = FOUND;
  close (d);
  return r;
}

/* The merged view's /etc/NAME as a string (NULL when the image has none);
 * -1 on an error. */
static int
read_etc (const struct image *im, const char *lowers_base, const char *name, char **out,
          struct corral_error *err)
{
  *out = NULL;
  int base = open (lowers_base, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (base < 0)
    return corral_fail (err, errno, "%s", lowers_base);
  int fd = -1, r = NEXT_LAYER;
  for (size_t i = 0; i < im->n_layers && r == NEXT_LAYER; i++)
    {
      int layer = openat (base, im->lowers[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (layer < 0)
        {
          r = corral_fail (err, errno, "layer %s", im->lowers[i]);
          break;
        }
      r = layer_lookup (layer, "etc", name, &fd, err);
      close (layer);
    }
  close (base);
  if (r != FOUND)
    return r < 0 ? -1 : 0;
  char *buf = malloc (ACCOUNT_FILE_MAX + 1);
  size_t len = 0;
  ssize_t n = 0;
  while (buf && len < ACCOUNT_FILE_MAX && (n = read (fd, buf + len, ACCOUNT_FILE_MAX - len)) > 0)
    len += (size_t) n;
  int e = errno;
  close (fd);
  if (buf == NULL)
    return corral_fail (err, ENOMEM, "image /etc/%s", name);
  if (n < 0)
    {
      free (buf);
      return corral_fail (err, e, "read image /etc/%s", name);
    }
  buf[len] = '\0';
  *out = buf;
  return 0;
}

static bool
parse_id (const char *s, unsigned long *v)
{
  if (*s < '0' || *s > '9')
    return false;
  char *end;
  errno = 0;
  unsigned long long x = strtoull (s, &end, 10);
  if (errno || *end || x >= 4294967295ull)
    return false;
  *v = (unsigned long) x;
  return true;
}

/* Finds the line of db (passwd or group) whose name (field 0) is key, or,
 * by_id, whose id (field 2) is key; its fields 2 and 3 go to id and id2. */
static bool
db_find (char *db, const char *key, bool by_id, unsigned long *id, unsigned long *id2)
{
  for (char *save = NULL, *line = db ? strtok_r (db, "\n", &save) : NULL; line;
       line = strtok_r (NULL, "\n", &save))
    {
      char *f[4] = { NULL };
      char *p = line;
      for (int i = 0; i < 4 && p; i++)
        {
          f[i] = p;
          p = strchr (p, ':');
          if (p)
            *p++ = '\0';
        }
      if (f[2] == NULL || !parse_id (f[2], id))
        continue;
      if (by_id ? strcmp (f[2], key) != 0 : strcmp (f[0], key) != 0)
        continue;
      if (id2 && (f[3] == NULL || !parse_id (f[3], id2)))
        continue;
      return true;
    }
  return false;
}

int
image_user (const struct image *im, const char *lowers_base, uid_t *uid, gid_t *gid, bool *set,
            struct corral_error *err)
{
  *set = false;
  if (im->user == NULL || im->user[0] == '\0')
    return 0;
  char *spec = strdup (im->user);
  if (spec == NULL)
    return corral_fail (err, ENOMEM, "image User");
  char *group = strchr (spec, ':');
  if (group)
    *group++ = '\0';
  int ret = 0;
  char *passwd = NULL, *groups = NULL;
  unsigned long u = 0, g = 0, pg = 0;
  bool user_num = parse_id (spec, &u);
  if (spec[0] == '\0' || (group && group[0] == '\0'))
    {
      ret = corral_fail (err, 0, "image User `%s`: expected USER, UID, USER:GROUP or UID:GID", im->user);
      goto out;
    }
  if (read_etc (im, lowers_base, "passwd", &passwd, err) < 0)
    {
      ret = -1;
      goto out;
    }
  if (user_num)
    {
      /* a uid need not have an entry; its group is the entry's, else 0 */
      char key[16];
      snprintf (key, sizeof key, "%lu", u);
      unsigned long pu;
      if (!db_find (passwd, key, true, &pu, &pg))
        pg = 0;
    }
  else if (!db_find (passwd, spec, false, &u, &pg))
    {
      ret = corral_fail (err, 0, "image User `%s`: no user `%s` in the image's /etc/passwd",
                         im->user, spec);
      goto out;
    }
  g = pg;
  if (group && !parse_id (group, &g))
    {
      if (read_etc (im, lowers_base, "group", &groups, err) < 0)
        {
          ret = -1;
          goto out;
        }
      if (!db_find (groups, group, false, &g, NULL))
        {
          ret = corral_fail (err, 0, "image User `%s`: no group `%s` in the image's /etc/group",
                             im->user, group);
          goto out;
        }
    }
  *uid = (uid_t) u;
  *gid = (gid_t) g;
  *set = true;
out:
  free (passwd);
  free (groups);
  free (spec);
  return ret;
}
