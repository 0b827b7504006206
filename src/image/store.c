/* store.c - the image store: where it is, image records, names, locks,
 * listing, removal, garbage collection, and what a run needs (see image.h
 * for the layout). */
#include "config.h"
#include "image.h"
#include "sha256.h"
#include "fsat.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int
mkdir_p (const char *path, mode_t mode)
{
  char tmp[PATH_MAX];
  snprintf (tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/')
      {
        *p = '\0';
        if (mkdir (tmp, mode) < 0 && errno != EEXIST)
          return -1;
        *p = '/';
      }
  return mkdir (tmp, mode) < 0 && errno != EEXIST ? -1 : 0;
}

int
image_store_open (const char *dir, struct image_store *st, struct corral_error *err)
{
  memset (st, 0, sizeof *st);
  const char *env = getenv ("CORRAL_STORE");
  if (dir == NULL && env && *env)
    dir = env;
  if (dir == NULL && geteuid () == 0)
    dir = "/var/lib/corral";
  char buf[PATH_MAX];
  if (dir == NULL)
    {
      const char *xdg = getenv ("XDG_DATA_HOME"), *home = getenv ("HOME");
      if (xdg && xdg[0] == '/')
        snprintf (buf, sizeof buf, "%s/corral", xdg);
      else if (home && home[0] == '/')
        snprintf (buf, sizeof buf, "%s/.local/share/corral", home);
      else
        return corral_fail (err, 0, "no image store: set --store, CORRAL_STORE, HOME or XDG_DATA_HOME");
      dir = buf;
    }
  if (dir[0] != '/')
    {
      char cwd[PATH_MAX];
      if (getcwd (cwd, sizeof cwd) == NULL)
        return corral_fail (err, errno, "getcwd");
      snprintf (st->root, sizeof st->root, "%s/%s", cwd, dir);
    }
  else
    snprintf (st->root, sizeof st->root, "%s", dir);
  st->root_owned = geteuid () == 0;
  /* Runs in user namespaces walk the layers: the store is world-searchable;
   * what the layers hold keeps its own modes. */
  static const char *const subs[] = { "", "/layers", "/images", "/tmp" };
  for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
    {
      char p[PATH_MAX + 16];
      snprintf (p, sizeof p, "%s%s", st->root, subs[i]);
      if (mkdir_p (p, 0755) < 0)
        return corral_fail (err, errno, "image store %s", p);
    }
  struct stat sb;
  if (stat (st->root, &sb) < 0)
    return corral_fail (err, errno, "image store %s", st->root);
  if (sb.st_uid != geteuid ())
    return corral_fail (err, 0, "image store %s belongs to uid %u, not to us (uid %u)", st->root,
                        (unsigned) sb.st_uid, (unsigned) geteuid ());
  return 0;
}

/* ---- names ---------------------------------------------------------------- */

static bool
ref_char (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
         || c == '_' || c == '-' || c == '/' || c == ':' || c == '@';
}

int
image_normalize (const char *name, char *out, size_t len, struct corral_error *err)
{
  size_t n = name ? strlen (name) : 0;
  if (n == 0 || n > 255)
    return corral_fail (err, 0, "image name `%.64s`: empty or longer than 255 characters",
                        name ? name : "");
  for (size_t i = 0; i < n; i++)
    if (!ref_char (name[i]))
      return corral_fail (err, 0, "image name `%.255s`: character `%c` is not allowed (letters, "
                          "digits, `.` `_` `-` `/` `:` `@`)", name, name[i]);
  if (name[0] == '/' || name[0] == '.' || name[0] == '-' || strstr (name, "..") || strstr (name, "//"))
    return corral_fail (err, 0, "image name `%s` is not a valid reference", name);
  /* a tag is what follows the last ':' after the last '/' (a registry
   * port comes before a '/') */
  const char *slash = strrchr (name, '/');
  const char *colon = strrchr (slash ? slash : name, ':');
  if (strchr (name, '@') != NULL || (colon && colon[1] != '\0'))
    snprintf (out, len, "%s", name);
  else if (colon)
    return corral_fail (err, 0, "image name `%s` has an empty tag", name);
  else
    snprintf (out, len, "%s:latest", name);
  return 0;
}

static void
record_key (const char *name, char key[65])
{
  struct sha256 s;
  sha256_init (&s);
  sha256_update (&s, name, strlen (name));
  sha256_hex (&s, key);
}

/* ---- records -------------------------------------------------------------- */

static char **
str_list (const cJSON *arr)
{
  if (!cJSON_IsArray (arr))
    return NULL;
  size_t n = (size_t) cJSON_GetArraySize (arr);
  char **v = calloc (n + 1, sizeof *v);
  size_t k = 0;
  const cJSON *it;
  cJSON_ArrayForEach (it, arr)
    if (v && cJSON_IsString (it))
      v[k++] = strdup (it->valuestring);
  return v;
}

static void
free_list (char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free (v[i]);
  free (v);
}

void
image_free (struct image *im)
{
  free (im->name);
  free (im->id);
  free (im->source);
  free (im->created);
  for (size_t i = 0; i < im->n_layers; i++)
    free (im->layers[i]);
  free (im->layers);
  free_list (im->env);
  free (im->workdir);
  free (im->user);
  free_list (im->cmd);
  free_list (im->entrypoint);
  free_list (im->lowers);
  memset (im, 0, sizeof *im);
}

static char *
dup_str (const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, k);
  return cJSON_IsString (v) && v->valuestring[0] ? strdup (v->valuestring) : NULL;
}

static int
parse_record (const char *text, struct image *im)
{
  memset (im, 0, sizeof *im);
  cJSON *o = cJSON_Parse (text);
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive (o, "layers");
  if (!cJSON_IsObject (o) || !cJSON_IsArray (layers))
    {
      cJSON_Delete (o);
      return -1;
    }
  im->name = dup_str (o, "name");
  im->id = dup_str (o, "id");
  im->source = dup_str (o, "source");
  im->created = dup_str (o, "created");
  const cJSON *size = cJSON_GetObjectItemCaseSensitive (o, "size");
  im->size = cJSON_IsNumber (size) ? (uint64_t) size->valuedouble : 0;
  im->n_layers = (size_t) cJSON_GetArraySize (layers);
  im->layers = calloc (im->n_layers + 1, sizeof *im->layers);
  size_t k = 0;
  const cJSON *l;
  cJSON_ArrayForEach (l, layers)
    if (im->layers && cJSON_IsString (l) && strncmp (l->valuestring, "sha256:", 7) == 0
        && strlen (l->valuestring) == 71 && strspn (l->valuestring + 7, "0123456789abcdef") == 64)
      im->layers[k++] = strdup (l->valuestring);
  const cJSON *cfg = cJSON_GetObjectItemCaseSensitive (o, "config");
  im->env = str_list (cJSON_GetObjectItemCaseSensitive (cfg, "Env"));
  if (im->env == NULL)
    im->env = calloc (1, sizeof *im->env);
  im->workdir = dup_str (cfg, "WorkingDir");
  im->user = dup_str (cfg, "User");
  im->cmd = str_list (cJSON_GetObjectItemCaseSensitive (cfg, "Cmd"));
  im->entrypoint = str_list (cJSON_GetObjectItemCaseSensitive (cfg, "Entrypoint"));
  cJSON_Delete (o);
  if (!im->name || !im->id || !im->layers || k != im->n_layers || !im->env)
    {
      image_free (im);
      return -1;
    }
  return 0;
}

static char *
read_file (const char *path, size_t max)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return NULL;
  struct stat st;
  char *buf = NULL;
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && (size_t) st.st_size <= max
      && (buf = malloc ((size_t) st.st_size + 1)) != NULL)
    {
      size_t got = 0;
      ssize_t n;
      while (got < (size_t) st.st_size && (n = read (fd, buf + got, (size_t) st.st_size - got)) > 0)
        got += (size_t) n;
      buf[got] = '\0';
    }
  close (fd);
  return buf;
}

int
image_find (struct image_store *st, const char *name, struct image *out,
            struct corral_error *err)
{
  char norm[300], key[65], path[PATH_MAX + 128];
  if (image_normalize (name, norm, sizeof norm, err) < 0)
    return -1;
  record_key (norm, key);
  snprintf (path, sizeof path, "%s/images/%s.json", st->root, key);
  char *text = read_file (path, 4 << 20);
  if (text == NULL)
    return corral_fail (err, ENOENT, "no image %s in %s (`corral image ls` lists them)", norm,
                        st->root);
  int r = parse_record (text, out);
  free (text);
  if (r < 0)
    return corral_fail (err, 0, "image %s: damaged record %s", norm, path);
  return 0;
}

/* Writes text to dir/name through a temporary file and rename. */
int image_write_atomic (const char *dir, const char *name, const char *text,
                        struct corral_error *err);
int
image_write_atomic (const char *dir, const char *name, const char *text, struct corral_error *err)
{
  char tmp[PATH_MAX + 128], dst[PATH_MAX + 128];
  snprintf (tmp, sizeof tmp, "%s/.%s.tmp.%d", dir, name, (int) getpid ());
  snprintf (dst, sizeof dst, "%s/%s", dir, name);
  int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return corral_fail (err, errno, "write %s", tmp);
  size_t len = strlen (text), off = 0;
  int e = 0;
  while (off < len)
    {
      ssize_t n = write (fd, text + off, len - off);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          e = errno;
          break;
        }
      off += (size_t) n;
    }
  if (e == 0 && fsync (fd) < 0)
    e = errno;
  close (fd);
  if (e == 0 && rename (tmp, dst) < 0)
    e = errno;
  if (e)
    {
      unlink (tmp);
      return corral_fail (err, e, "write %s", dst);
    }
  return 0;
}

int image_write_record (struct image_store *st, const char *name, cJSON *rec,
                        struct corral_error *err);
int
image_write_record (struct image_store *st, const char *name, cJSON *rec, struct corral_error *err)
{
  char key[65], dir[PATH_MAX + 16], file[80];
  record_key (name, key);
  snprintf (dir, sizeof dir, "%s/images", st->root);
  snprintf (file, sizeof file, "%s.json", key);
  char *text = cJSON_Print (rec);
  if (text == NULL)
    return corral_fail (err, ENOMEM, "image record");
  int r = image_write_atomic (dir, file, text, err);
  free (text);
  return r;
}

static int
cmp_image (const void *a, const void *b)
{
  return strcmp (((const struct image *) a)->name, ((const struct image *) b)->name);
}

int
image_list (struct image_store *st, struct image **out, size_t *n, struct corral_error *err)
{
  *out = NULL;
  *n = 0;
  char dir[PATH_MAX + 16];
  snprintf (dir, sizeof dir, "%s/images", st->root);
  DIR *d = opendir (dir);
  if (d == NULL)
    return corral_fail (err, errno, "read %s", dir);
  size_t alloc = 0;
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      size_t l = strlen (de->d_name);
      if (de->d_name[0] == '.' || l != 69 || strcmp (de->d_name + 64, ".json") != 0)
        continue;
      char path[PATH_MAX + 128];
      snprintf (path, sizeof path, "%s/%s", dir, de->d_name);
      char *text = read_file (path, 4 << 20);
      struct image im;
      if (text == NULL || parse_record (text, &im) < 0)
        {
          free (text);
          fprintf (stderr, "corral: image: skipping damaged record %s\n", path);
          continue;
        }
      free (text);
      if (*n == alloc)
        {
          alloc = alloc ? alloc * 2 : 16;
          struct image *ni = realloc (*out, alloc * sizeof *ni);
          if (ni == NULL)
            {
              image_free (&im);
              closedir (d);
              return corral_fail (err, ENOMEM, "images");
            }
          *out = ni;
        }
      (*out)[(*n)++] = im;
    }
  closedir (d);
  if (*n > 1)
    qsort (*out, *n, sizeof **out, cmp_image);
  return 0;
}

void
image_list_free (struct image *ims, size_t n)
{
  for (size_t i = 0; i < n; i++)
    image_free (&ims[i]);
  free (ims);
}

static int
open_lock (struct image_store *st, const char *name, struct corral_error *err)
{
  char key[65], path[PATH_MAX + 128];
  record_key (name, key);
  snprintf (path, sizeof path, "%s/images/%s.lock", st->root, key);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return corral_fail (err, errno, "lock %s", path);
  return fd;
}

int
image_remove (struct image_store *st, const char *name, struct corral_error *err)
{
  struct image im;
  if (image_find (st, name, &im, err) < 0)
    return -1;
  int lk = open_lock (st, im.name, err);
  if (lk < 0)
    {
      image_free (&im);
      return -1;
    }
  if (flock (lk, LOCK_EX | LOCK_NB) < 0)
    {
      int e = errno;
      close (lk);
      corral_fail (err, e == EWOULDBLOCK ? EBUSY : e, "image %s is in use by a running sandbox: "
                   "not removed", im.name);
      image_free (&im);
      return -1;
    }
  char key[65], path[PATH_MAX + 128];
  record_key (im.name, key);
  snprintf (path, sizeof path, "%s/images/%s.json", st->root, key);
  /* The lock file stays: a run may have it open already (gc removes the
   * lock files of images that are gone). */
  int r = unlink (path) < 0 ? corral_fail (err, errno, "remove %s", path) : 0;
  close (lk);
  image_free (&im);
  return r;
}

/* ---- gc ------------------------------------------------------------------- */

int image_store_lock (struct image_store *st, int how, struct corral_error *err);
int
image_store_lock (struct image_store *st, int how, struct corral_error *err)
{
  char path[PATH_MAX + 16];
  snprintf (path, sizeof path, "%s/lock", st->root);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return corral_fail (err, errno, "lock %s", path);
  while (flock (fd, how) < 0)
    if (errno != EINTR)
      {
        int e = errno;
        close (fd);
        return corral_fail (err, e, "lock %s", path);
      }
  return fd;
}

uint64_t image_layer_bytes (struct image_store *st, const char *hex);
uint64_t
image_layer_bytes (struct image_store *st, const char *hex)
{
  char path[PATH_MAX + 128];
  snprintf (path, sizeof path, "%s/layers/sha256-%s.json", st->root, hex);
  char *text = read_file (path, 1 << 16);
  cJSON *o = text ? cJSON_Parse (text) : NULL;
  const cJSON *b = cJSON_GetObjectItemCaseSensitive (o, "bytes");
  uint64_t v = cJSON_IsNumber (b) ? (uint64_t) b->valuedouble : 0;
  cJSON_Delete (o);
  free (text);
  return v;
}

int
image_gc (struct image_store *st, size_t *removed, uint64_t *bytes, struct corral_error *err)
{
  *removed = 0;
  *bytes = 0;
  int lk = image_store_lock (st, LOCK_EX, err);
  if (lk < 0)
    return -1;
  struct image *ims;
  size_t n;
  int ret = image_list (st, &ims, &n, err);
  if (ret < 0)
    {
      close (lk);
      return -1;
    }
  char dir[PATH_MAX + 16];
  snprintf (dir, sizeof dir, "%s/layers", st->root);
  DIR *d = opendir (dir);
  if (d == NULL)
    ret = corral_fail (err, errno, "read %s", dir);
  struct dirent *de;
  while (d && (de = readdir (d)) != NULL)
    {
      if (strncmp (de->d_name, "sha256-", 7) != 0 || strlen (de->d_name) != 71)
        continue;
      const char *hex = de->d_name + 7;
      bool used = false;
      for (size_t i = 0; i < n && !used; i++)
        for (size_t k = 0; k < ims[i].n_layers && !used; k++)
          used = strcmp (ims[i].layers[k] + 7, hex) == 0;
      if (used)
        continue;
      uint64_t b = image_layer_bytes (st, hex);
      if (fsat_remove (dirfd (d), de->d_name) == 0)
        {
          char meta[100];
          snprintf (meta, sizeof meta, "%s.json", de->d_name);
          unlinkat (dirfd (d), meta, 0);
          (*removed)++;
          *bytes += b;
        }
    }
  if (d)
    closedir (d);
  /* lock files of removed images that no run holds */
  snprintf (dir, sizeof dir, "%s/images", st->root);
  d = opendir (dir);
  while (d && (de = readdir (d)) != NULL)
    {
      size_t l = strlen (de->d_name);
      if (l != 69 || strcmp (de->d_name + 64, ".lock") != 0)
        continue;
      char rec[80];
      snprintf (rec, sizeof rec, "%.64s.json", de->d_name);
      if (faccessat (dirfd (d), rec, F_OK, 0) == 0)
        continue;
      int fd = openat (dirfd (d), de->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
      if (fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) == 0)
        unlinkat (dirfd (d), de->d_name, 0);
      if (fd >= 0)
        close (fd);
    }
  if (d)
    closedir (d);
  /* imports that died: tmp/NAME.PID.* whose PID is gone; downloads kept
   * for resuming (tmp/blob.HEX.part) that no pull holds */
  snprintf (dir, sizeof dir, "%s/tmp", st->root);
  d = opendir (dir);
  while (d && (de = readdir (d)) != NULL)
    {
      size_t l = strlen (de->d_name);
      if (l > 10 && strncmp (de->d_name, "blob.", 5) == 0 && strcmp (de->d_name + l - 5, ".part") == 0)
        {
          int fd = openat (dirfd (d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
          if (fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) == 0)
            unlinkat (dirfd (d), de->d_name, 0);
          if (fd >= 0)
            close (fd);
          continue;
        }
      const char *dot = strchr (de->d_name, '.');
      int pid = dot ? atoi (dot + 1) : 0;
      if (de->d_name[0] == '.' || pid <= 0 || (kill (pid, 0) == 0 || errno != ESRCH))
        continue;
      fsat_remove (dirfd (d), de->d_name);
    }
  if (d)
    closedir (d);
  image_list_free (ims, n);
  close (lk);
  return ret;
}

/* ---- a run ---------------------------------------------------------------- */

int
image_use (struct image_store *st, const char *name, struct image *im, int *lock_fd,
           struct corral_spec *spec, struct corral_error *err)
{
  *lock_fd = -1;
  if (image_find (st, name, im, err) < 0)
    return -1;
  /* The image's lock keeps `rm` away; the store's (shared, like an
   * import's) keeps `gc` from taking the layers even if the name is
   * imported again meanwhile.  Both are released when the run ends. */
  int slk = image_store_lock (st, LOCK_SH, err);
  if (slk < 0)
    {
      image_free (im);
      return -1;
    }
  int lk = open_lock (st, im->name, err);
  if (lk < 0 || flock (lk, LOCK_SH) < 0)
    {
      if (lk >= 0)
        close (lk);
      close (slk);
      image_free (im);
      return lk < 0 ? -1 : corral_fail (err, errno, "lock image %s", name);
    }

  /* the record may have gone while we waited for the lock */
  struct image again;
  if (image_find (st, name, &again, err) < 0)
    {
      close (lk);
      close (slk);
      image_free (im);
      return -1;
    }
  image_free (&again);
  if (im->n_layers == 0)
    {
      close (lk);
      close (slk);
      corral_fail (err, 0, "image %s has no layers", im->name);
      image_free (im);
      return -1;
    }
  static char base[PATH_MAX + 16];
  snprintf (base, sizeof base, "%s/layers", st->root);
  /* overlay wants the top layer first; names relative to the layers dir */
  im->lowers = calloc (im->n_layers + 1, sizeof *im->lowers);
  for (size_t i = 0; im->lowers && i < im->n_layers; i++)
    {
      const char *l = im->layers[im->n_layers - 1 - i];
      char path[PATH_MAX + 128];
      struct stat sb;
      snprintf (path, sizeof path, "%s/sha256-%s", base, l + 7);
      if (stat (path, &sb) < 0 || !S_ISDIR (sb.st_mode))
        {
          close (lk);
          close (slk);
          corral_fail (err, 0, "image %s: layer %s is missing from the store (import it again)",
                       im->name, l);
          image_free (im);
          return -1;
        }
      if (asprintf (&im->lowers[i], "sha256-%s", l + 7) < 0)
        im->lowers[i] = NULL;
      if (im->lowers[i] == NULL)
        break;
    }
  if (im->lowers == NULL || im->lowers[im->n_layers - 1] == NULL)
    {
      close (lk);
      close (slk);
      image_free (im);
      return corral_fail (err, ENOMEM, "layers");
    }
  spec->lowers_base = base;
  spec->lowers = (const char *const *) im->lowers;
  spec->n_lowers = im->n_layers;
  *lock_fd = lk;
  im->store_lock = slk;
  return 0;
}

void
image_release (struct image *im, int lock_fd)
{
  if (im->store_lock > 0)
    close (im->store_lock);
  image_free (im);
  if (lock_fd >= 0)
    close (lock_fd);
}
