/* import.c - `corral image import`: Docker's and OCI's image formats into
 * the store, without Docker.
 *
 * Sources:
 *   docker export   a flat tar of a container's files: one layer;
 *   docker save     a tar with manifest.json (the legacy layout, whose
 *                   layers are ID/layer.tar, and the OCI layout newer Docker
 *                   writes into it, whose layers are blobs/sha256/HEX);
 *   OCI layout      a directory (or a tar of one) with oci-layout,
 *                   index.json and blobs/: the manifest for linux/amd64 is
 *                   taken from an index that lists several platforms.
 * Any of these may be gzip or zstd compressed, and so may each layer.
 *
 * A layer's bytes go through two libarchive readers: the first undoes the
 * compression (format "raw") while we hash what it reads (the blob digest)
 * and what it gives (the diff_id); the second reads that as a tar for
 * unpack.c.  Every digest named by a manifest or config is checked.  Layers
 * already in the store (same diff_id) are not read again. */
#include "config.h"
#include "image.h"
#include "archive-dl.h"
#include "sha256.h"
#include "json-nul.h"
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
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/openat2.h>

/* from store.c */
int image_write_atomic (const char *dir, const char *name, const char *text,
                        struct corral_error *err);
int image_write_record (struct image_store *st, const char *name, cJSON *rec,
                        struct corral_error *err);
int image_store_lock (struct image_store *st, int how, struct corral_error *err);
uint64_t image_layer_bytes (struct image_store *st, const char *hex);

#define BUF_SIZE (128 * 1024)
#define SMALL_MAX (8u << 20) /* manifests, configs, indexes */

/* ---- byte sources ----------------------------------------------------------- */

struct src {
  struct archive *outer; /* read the current entry of a tar, or */
  int fd;                /* read a file */
  struct sha256 sha;
  uint64_t n;
  char buf[BUF_SIZE];
};

static la_ssize_t
src_read (struct archive *a, void *ud, const void **buf)
{
  (void) a;
  struct src *s = ud;
  ssize_t n;
  if (s->outer)
    n = sym_archive_read_data (s->outer, s->buf, sizeof s->buf);
  else
    do
      n = read (s->fd, s->buf, sizeof s->buf);
    while (n < 0 && errno == EINTR);
  if (n > 0)
    {
      sha256_update (&s->sha, s->buf, (size_t) n);
      s->n += (uint64_t) n;
    }
  *buf = s->buf;
  return n < 0 ? -1 : n;
}

struct mid {
  struct archive *raw;
  struct sha256 sha;
  uint64_t n;
  char buf[BUF_SIZE];
};

static la_ssize_t
mid_read (struct archive *a, void *ud, const void **buf)
{
  (void) a;
  struct mid *m = ud;
  la_ssize_t n = sym_archive_read_data (m->raw, m->buf, sizeof m->buf);
  if (n > 0)
    {
      sha256_update (&m->sha, m->buf, (size_t) n);
      m->n += (uint64_t) n;
    }
  *buf = m->buf;
  return n < 0 ? -1 : n;
}

static const char *
hex_of (const char *digest)
{
  if (digest == NULL || strncmp (digest, "sha256:", 7) != 0 || strlen (digest) != 71
      || strspn (digest + 7, "0123456789abcdef") != 64)
    return NULL;
  return digest + 7;
}

static bool
layer_present (struct image_store *st, const char *hex)
{
  char p[PATH_MAX + 128];
  struct stat sb;
  snprintf (p, sizeof p, "%s/layers/sha256-%s", st->root, hex);
  return stat (p, &sb) == 0 && S_ISDIR (sb.st_mode);
}

/* Unpacks the layer whose compressed bytes s gives, checks its digests
 * (want_blob: of the compressed bytes, want_diff: of the tar; NULL = not
 * known) and moves it into the store.  diff_hex gets its diff_id. */
static int
unpack_blob (struct image_store *st, struct src *s, const char *want_blob, const char *want_diff,
             const char *what, char diff_hex[65], uint64_t *bytes, struct corral_error *err)
{
  static unsigned counter;
  char tmpname[96], tmpdir[PATH_MAX + 16];
  snprintf (tmpname, sizeof tmpname, "layer.%d.%u", (int) getpid (), counter++);
  snprintf (tmpdir, sizeof tmpdir, "%s/tmp", st->root);
  int tdir = open (tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (tdir < 0)
    return corral_fail (err, errno, "open %s", tmpdir);
  if (mkdirat (tdir, tmpname, 0755) < 0)
    {
      int e = errno;
      close (tdir);
      return corral_fail (err, e, "create %s/%s", tmpdir, tmpname);
    }
  int ldir = openat (tdir, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct mid *m = calloc (1, sizeof *m);
  struct archive *raw = NULL, *tar = NULL;
  int ret = 0;
  struct layer_stats stats = { 0 };
  if (ldir < 0 || m == NULL)
    ret = corral_fail (err, ldir < 0 ? errno : ENOMEM, "%s: unpack", what);
  if (ret == 0)
    {
      sha256_init (&s->sha);
      s->n = 0;
      sha256_init (&m->sha);
      raw = sym_archive_read_new ();
      tar = sym_archive_read_new ();
      if (raw == NULL || tar == NULL)
        ret = corral_fail (err, ENOMEM, "libarchive");
    }
  struct archive_entry *e;
  if (ret == 0)
    {
      corral_archive_filters (raw);
      sym_archive_read_support_format_raw (raw);
      if (sym_archive_read_open (raw, s, NULL, src_read, NULL) != ARCHIVE_OK
          || sym_archive_read_next_header (raw, &e) != ARCHIVE_OK)
        ret = corral_fail (err, 0, "%s: %s", what, sym_archive_error_string (raw));
    }
  if (ret == 0)
    {
      m->raw = raw;
      sym_archive_read_support_format_tar (tar);
      if (sym_archive_read_open (tar, m, NULL, mid_read, NULL) != ARCHIVE_OK)
        ret = corral_fail (err, 0, "%s: not a tar: %s", what, sym_archive_error_string (tar));
    }
  if (ret == 0)
    ret = image_unpack_layer (tar, ldir, st->root_owned, what, &stats, err);
  /* the digests cover every byte, padding after the tar's end included */
  if (ret == 0)
    {
      la_ssize_t n;
      while ((n = sym_archive_read_data (raw, m->buf, sizeof m->buf)) > 0)
        {
          sha256_update (&m->sha, m->buf, (size_t) n);
          m->n += (uint64_t) n;
        }
      if (n < 0)
        ret = corral_fail (err, 0, "%s: %s", what, sym_archive_error_string (raw));
      const void *dummy;
      while (ret == 0 && (n = src_read (NULL, s, &dummy)) > 0)
        ;
      if (ret == 0 && n < 0)
        ret = corral_fail (err, errno, "%s: read", what);
    }
  if (ret < 0 && want_blob)
    {
      /* A blob that does not unpack: if its bytes are not the ones the
       * manifest names, say that, not what the decompressor tripped on. */
      const void *dummy;
      while (src_read (NULL, s, &dummy) > 0)
        ;
      char blob_hex[65];
      sha256_hex (&s->sha, blob_hex);
      if (strcmp (want_blob, blob_hex) != 0)
        {
          memset (err, 0, sizeof *err);
          corral_fail (err, 0, "%s: digest sha256:%s, but the manifest says sha256:%s: a "
                       "corrupted or altered blob; nothing imported", what, blob_hex, want_blob);
        }
    }
  if (tar)
    sym_archive_read_free (tar);
  if (raw)
    sym_archive_read_free (raw);
  if (ret == 0)
    {
      char blob_hex[65];
      sha256_hex (&s->sha, blob_hex);
      sha256_hex (&m->sha, diff_hex);
      if (want_blob && strcmp (want_blob, blob_hex) != 0)
        ret = corral_fail (err, 0, "%s: digest sha256:%s, but the manifest says sha256:%s: a "
                           "corrupted or altered blob; nothing imported", what, blob_hex, want_blob);
      else if (want_diff && strcmp (want_diff, diff_hex) != 0)
        ret = corral_fail (err, 0, "%s: uncompressed digest sha256:%s, but the config says "
                           "sha256:%s: a corrupted or altered layer; nothing imported", what,
                           diff_hex, want_diff);
    }
  if (ldir >= 0)
    close (ldir);
  free (m);
  if (ret == 0)
    {
      if (stats.skipped_devices)
        fprintf (stderr, "corral: image: %s: %u device node(s) or socket(s) skipped\n", what,
                 stats.skipped_devices);
      if (stats.cleared_setid)
        fprintf (stderr, "corral: image: %s: setuid/setgid cleared on %u file(s)\n", what,
                 stats.cleared_setid);
      char dst[PATH_MAX + 128], src[PATH_MAX + 128];
      snprintf (src, sizeof src, "%s/%s", tmpdir, tmpname);
      snprintf (dst, sizeof dst, "%s/layers/sha256-%s", st->root, diff_hex);
      if (rename (src, dst) < 0)
        {
          if (errno == EEXIST || errno == ENOTEMPTY)
            fsat_remove (tdir, tmpname); /* another import got there first */
          else
            ret = corral_fail (err, errno, "%s: move into the store", what);
        }
      if (ret == 0)
        {
          char meta[128], name[96], ldir_path[PATH_MAX + 16];
          snprintf (meta, sizeof meta, "{\"bytes\": %llu, \"entries\": %llu}\n",
                    (unsigned long long) stats.bytes, (unsigned long long) stats.entries);
          snprintf (name, sizeof name, "sha256-%s.json", diff_hex);
          snprintf (ldir_path, sizeof ldir_path, "%s/layers", st->root);
          ret = image_write_atomic (ldir_path, name, meta, err);
        }
      *bytes = stats.bytes;
    }
  if (ret < 0)
    fsat_remove (tdir, tmpname);
  close (tdir);
  return ret;
}

/* ---- small files of an image archive or layout ---------------------------------- */

struct small {
  char *name;
  char *data;
  size_t len;
};

struct source {
  const char *path;
  bool is_dir;
  int dirfd;           /* OCI layout directory */
  struct small *files; /* tar: the small entries, read in the first pass */
  size_t n_files;
};

static void
source_free (struct source *s)
{
  for (size_t i = 0; i < s->n_files; i++)
    {
      free (s->files[i].name);
      free (s->files[i].data);
    }
  free (s->files);
  if (s->dirfd >= 0)
    close (s->dirfd);
}

static const char *
clean_name (const char *n)
{
  while (n[0] == '.' && n[1] == '/')
    n += 2;
  while (n[0] == '/')
    n++;
  return n;
}

/* A small file of the source, with a NUL after its bytes (which may hold
 * NULs of their own: *len counts them all); NULL if absent. */
static char *
small_get (struct source *s, const char *name, size_t *len)
{
  name = clean_name (name);
  if (s->is_dir)
    {
      int fd = fsat_open_beneath (s->dirfd, name, O_RDONLY, 0);
      if (fd < 0)
        return NULL;
      struct stat st;
      char *buf = NULL;
      if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && (size_t) st.st_size <= SMALL_MAX
          && (buf = malloc ((size_t) st.st_size + 1)) != NULL)
        {
          size_t got = 0;
          ssize_t n;
          while (got < (size_t) st.st_size
                 && (n = read (fd, buf + got, (size_t) st.st_size - got)) > 0)
            got += (size_t) n;
          buf[got] = '\0';
          if (len)
            *len = got;
        }
      close (fd);
      return buf;
    }
  for (size_t i = 0; i < s->n_files; i++)
    if (strcmp (s->files[i].name, name) == 0)
      {
        if (len)
          *len = s->files[i].len;
        {
          /* binary-safe: the bytes as they are, and one NUL after */
          char *buf = malloc (s->files[i].len + 1);
          if (buf)
            {
              memcpy (buf, s->files[i].data, s->files[i].len);
              buf[s->files[i].len] = '\0';
            }
          return buf;
        }
      }
  return NULL;
}

/* JSON that the importer reads (index, manifests, configs) is refused when
 * it holds a NUL: cJSON would read a string cut short there, while the
 * digest covers every byte. */
static bool
json_has_nul (const char *data, size_t len, const char *what, const char *name, struct corral_error *err)
{
  char where[320];
  if (!json_find_nul (data, len, where, sizeof where))
    return false;
  corral_fail (err, 0, "%s: %s: %s holds a NUL character: not the JSON an image has", what, name, where);
  return true;
}

static bool
wanted_small (const char *name)
{
  return strcmp (name, "manifest.json") == 0 || strcmp (name, "index.json") == 0
         || strcmp (name, "oci-layout") == 0 || strncmp (name, "blobs/", 6) == 0
         || (strlen (name) > 5 && strcmp (name + strlen (name) - 5, ".json") == 0);
}

static struct archive *
open_tar (const char *path, int *fd, struct corral_error *err)
{
  *fd = open (path, O_RDONLY | O_CLOEXEC);
  if (*fd < 0)
    {
      corral_fail (err, errno, "open %s", path);
      return NULL;
    }
  struct archive *a = sym_archive_read_new ();
  if (a == NULL)
    {
      close (*fd);
      corral_fail (err, ENOMEM, "libarchive");
      return NULL;
    }
  corral_archive_filters (a);
  sym_archive_read_support_format_tar (a);
  if (sym_archive_read_open_fd (a, *fd, BUF_SIZE) != ARCHIVE_OK)
    {
      corral_fail (err, 0, "%s: not a tar archive: %s", path, sym_archive_error_string (a));
      sym_archive_read_free (a);
      close (*fd);
      return NULL;
    }
  return a;
}

/* First pass over a tar: keep its small metadata entries. */
static int
scan_tar (struct source *s, struct corral_error *err)
{
  int fd;
  struct archive *a = open_tar (s->path, &fd, err);
  if (a == NULL)
    return -1;
  struct archive_entry *e;
  int r, ret = 0;
  size_t alloc = 0, total = 0;
  while ((r = sym_archive_read_next_header (a, &e)) != ARCHIVE_EOF)
    {
      if (r < ARCHIVE_WARN)
        {
          ret = corral_fail (err, 0, "%s: %s", s->path, sym_archive_error_string (a));
          break;
        }
      const char *name = sym_archive_entry_pathname (e);
      if (name == NULL || sym_archive_entry_filetype (e) != AE_IFREG)
        continue;
      name = clean_name (name);
      la_int64_t size = sym_archive_entry_size (e);
      /* only the top level of an image archive matters; a flat export's
       * files are many and are read in the second pass */
      if (!wanted_small (name) || size < 0 || (uint64_t) size > SMALL_MAX || total > (64u << 20))
        continue;
      if (s->n_files == alloc)
        {
          alloc = alloc ? alloc * 2 : 32;
          struct small *nf = realloc (s->files, alloc * sizeof *nf);
          if (nf == NULL)
            {
              ret = corral_fail (err, ENOMEM, "scan");
              break;
            }
          s->files = nf;
        }
      char *data = malloc ((size_t) size + 1);
      if (data == NULL)
        {
          ret = corral_fail (err, ENOMEM, "scan");
          break;
        }
      la_ssize_t got = sym_archive_read_data (a, data, (size_t) size);
      if (got < 0)
        {
          free (data);
          ret = corral_fail (err, 0, "%s: %s", s->path, sym_archive_error_string (a));
          break;
        }
      data[got] = '\0';
      total += (size_t) got;
      s->files[s->n_files++] = (struct small) { strdup (name), data, (size_t) got };
    }
  sym_archive_read_free (a);
  close (fd);
  return ret;
}

/* ---- what an image is made of ------------------------------------------------ */

struct plan {
  char *config_text;       /* the config blob (NULL for an export) */
  char id_hex[65];
  size_t n;
  char *path[256];         /* where each layer's blob is in the source */
  char *want_blob[256];    /* digest hex of the blob, or NULL */
  char *want_diff[256];    /* diff_id hex from the config */
  bool done[256];
  uint64_t bytes[256];
};

static void
plan_free (struct plan *p)
{
  free (p->config_text);
  for (size_t i = 0; i < p->n; i++)
    {
      free (p->path[i]);
      free (p->want_blob[i]);
      free (p->want_diff[i]);
    }
}

static void
hash_hex (const char *data, size_t len, char out[65])
{
  struct sha256 s;
  sha256_init (&s);
  sha256_update (&s, data, len);
  sha256_hex (&s, out);
}

/* A blob of an OCI layout, checked against its digest. */
static char *
oci_blob (struct source *s, const char *digest, const char *what, struct corral_error *err)
{
  const char *hex = hex_of (digest);
  if (hex == NULL)
    {
      corral_fail (err, 0, "%s: digest `%.80s` is not sha256:HEX", what, digest ? digest : "");
      return NULL;
    }
  char name[128];
  snprintf (name, sizeof name, "blobs/sha256/%s", hex);
  size_t len;
  char *data = small_get (s, name, &len);
  if (data == NULL)
    {
      corral_fail (err, 0, "%s: blob %s is missing from %s", what, name, s->path);
      return NULL;
    }
  char got[65];
  hash_hex (data, len, got);
  if (strcmp (got, hex) != 0)
    {
      corral_fail (err, 0, "%s: blob %s has digest sha256:%s: a corrupted or altered blob", what,
                   name, got);
      free (data);
      return NULL;
    }
  if (json_has_nul (data, len, what, name, err))
    {
      free (data);
      return NULL;
    }
  return data;
}

static bool
is_index_type (const char *mt)
{
  return mt && (strstr (mt, "image.index") || strstr (mt, "manifest.list"));
}

/* OCI: index.json -> (index ->)* manifest for linux/amd64 -> config, layers. */
static int
plan_oci (struct source *s, struct plan *p, struct corral_error *err)
{
  size_t tlen;
  char *text = small_get (s, "index.json", &tlen);
  if (text == NULL)
    return corral_fail (err, 0, "%s: no index.json: not an OCI image layout", s->path);
  if (json_has_nul (text, tlen, s->path, "index.json", err))
    {
      free (text);
      return -1;
    }
  cJSON *idx = cJSON_Parse (text);
  free (text);
  cJSON *man = NULL;
  for (int depth = 0; depth < 4 && idx; depth++)
    {
      const cJSON *list = cJSON_GetObjectItemCaseSensitive (idx, "manifests");
      const cJSON *pick = NULL, *d;
      cJSON_ArrayForEach (d, list)
        {
          const cJSON *plat = cJSON_GetObjectItemCaseSensitive (d, "platform");
          const char *os = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (plat, "os"));
          const char *arch = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (plat, "architecture"));
          if (plat == NULL && pick == NULL)
            pick = d;
          else if (os && arch && strcmp (os, "linux") == 0 && strcmp (arch, "amd64") == 0)
            {
              pick = d;
              break;
            }
        }
      if (pick == NULL)
        {
          cJSON_Delete (idx);
          return corral_fail (err, 0, "%s: no manifest for linux/amd64 in the index", s->path);
        }
      const char *mt = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (pick, "mediaType"));
      const char *dg = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (pick, "digest"));
      bool pick_is_index = is_index_type (mt);
      char *blob = oci_blob (s, dg, "manifest", err);
      cJSON_Delete (idx); /* mt and dg point into it */
      idx = NULL;
      if (blob == NULL)
        return -1;
      cJSON *j = cJSON_Parse (blob);
      free (blob);
      const char *jmt = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (j, "mediaType"));
      if (pick_is_index || is_index_type (jmt) || cJSON_GetObjectItemCaseSensitive (j, "manifests"))
        idx = j;
      else
        man = j;
    }
  cJSON_Delete (idx);
  if (man == NULL)
    return corral_fail (err, 0, "%s: no image manifest found", s->path);
  const cJSON *cfgd = cJSON_GetObjectItemCaseSensitive (man, "config");
  const char *cdg = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (cfgd, "digest"));
  p->config_text = oci_blob (s, cdg, "config", err);
  if (p->config_text == NULL)
    {
      cJSON_Delete (man);
      return -1;
    }
  snprintf (p->id_hex, sizeof p->id_hex, "%s", hex_of (cdg));
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive (man, "layers"), *l;
  int ret = 0;
  cJSON_ArrayForEach (l, layers)
    {
      const char *mt = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (l, "mediaType"));
      const char *dg = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (l, "digest"));
      const char *hex = hex_of (dg);
      if (hex == NULL || p->n >= 256)
        {
          ret = corral_fail (err, 0, "%s: layer %zu: bad digest or too many layers", s->path, p->n);
          break;
        }
      if (mt && !strstr (mt, "tar"))
        {
          ret = corral_fail (err, 0, "%s: layer %s has media type %s, not a tar", s->path, dg, mt);
          break;
        }
      char path[128];
      snprintf (path, sizeof path, "blobs/sha256/%s", hex);
      p->path[p->n] = strdup (path);
      p->want_blob[p->n] = strdup (hex);
      p->n++;
    }
  cJSON_Delete (man);
  return ret;
}

/* docker save: manifest.json -> Config, Layers (legacy ID/layer.tar, or
 * blobs/sha256/HEX in the OCI-style archives of Docker 25+). */
static int
plan_docker_save (struct source *s, struct plan *p, struct corral_error *err)
{
  size_t tlen;
  char *text = small_get (s, "manifest.json", &tlen);
  if (text && json_has_nul (text, tlen, s->path, "manifest.json", err))
    {
      free (text);
      return -1;
    }
  cJSON *m = text ? cJSON_Parse (text) : NULL;
  free (text);
  const cJSON *first = cJSON_GetArrayItem (m, 0);
  const char *cfg = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (first, "Config"));
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive (first, "Layers");
  if (cfg == NULL || !cJSON_IsArray (layers))
    {
      cJSON_Delete (m);
      return corral_fail (err, 0, "%s: manifest.json has no Config and Layers", s->path);
    }
  size_t len;
  p->config_text = small_get (s, cfg, &len);
  if (p->config_text == NULL)
    {
      corral_fail (err, 0, "%s: the config %s is missing", s->path, cfg);
      cJSON_Delete (m);
      return -1;
    }
  hash_hex (p->config_text, len, p->id_hex);
  if (json_has_nul (p->config_text, len, s->path, cfg, err))
    {
      cJSON_Delete (m);
      return -1;
    }
  const char *named = strncmp (clean_name (cfg), "blobs/sha256/", 13) == 0 ? clean_name (cfg) + 13 : NULL;
  if (named && strcmp (named, p->id_hex) != 0)
    {
      /* cfg lives in m: the message first (fuzz/image-import found the
       * use after free) */
      corral_fail (err, 0, "%s: the config %s has digest sha256:%s: a corrupted or altered "
                   "blob", s->path, cfg, p->id_hex);
      cJSON_Delete (m);
      return -1;
    }
  const cJSON *l;
  int ret = 0;
  cJSON_ArrayForEach (l, layers)
    {
      if (!cJSON_IsString (l) || p->n >= 256)
        {
          ret = corral_fail (err, 0, "%s: bad Layers in manifest.json", s->path);
          break;
        }
      const char *path = clean_name (l->valuestring);
      p->path[p->n] = strdup (path);
      if (strncmp (path, "blobs/sha256/", 13) == 0 && strlen (path + 13) == 64
          && strspn (path + 13, "0123456789abcdef") == 64)
        p->want_blob[p->n] = strdup (path + 13);
      p->n++;
    }
  cJSON_Delete (m);
  return ret;
}

/* The config's rootfs.diff_ids: one per layer, in order. */
static int
plan_diff_ids (const char *what, struct plan *p, struct corral_error *err)
{
  cJSON *c = cJSON_Parse (p->config_text);
  const cJSON *ids = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (c, "rootfs"),
                                                       "diff_ids");
  int ret = 0;
  if (!cJSON_IsArray (ids) || (size_t) cJSON_GetArraySize (ids) != p->n)
    ret = corral_fail (err, 0, "%s: the config's rootfs.diff_ids do not list the %zu layers", what, p->n);
  for (size_t i = 0; ret == 0 && i < p->n; i++)
    {
      const char *hex = hex_of (cJSON_GetStringValue (cJSON_GetArrayItem (ids, (int) i)));
      if (hex == NULL)
        ret = corral_fail (err, 0, "%s: diff_id %zu is not sha256:HEX", what, i);
      else
        p->want_diff[i] = strdup (hex);
    }
  cJSON_Delete (c);
  return ret;
}

/* ---- the record ------------------------------------------------------------ */

static void
now_rfc3339 (char *buf, size_t len)
{
  time_t t = time (NULL);
  struct tm tm;
  gmtime_r (&t, &tm);
  strftime (buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
image_record_write (struct image_store *st, const char *name, const char *source, const char *id_hex,
                    size_t n, char diffs[][65], const uint64_t *bytes, const char *config_text,
                    struct corral_error *err)
{
  cJSON *rec = cJSON_CreateObject ();
  cJSON_AddStringToObject (rec, "name", name);
  char id[80], created[32];
  snprintf (id, sizeof id, "sha256:%s", id_hex);
  cJSON_AddStringToObject (rec, "id", id);
  cJSON_AddStringToObject (rec, "source", source);
  now_rfc3339 (created, sizeof created);
  cJSON_AddStringToObject (rec, "created", created);
  cJSON *layers = cJSON_AddArrayToObject (rec, "layers");
  uint64_t size = 0;
  for (size_t i = 0; i < n; i++)
    {
      char d[80];
      snprintf (d, sizeof d, "sha256:%s", diffs[i]);
      cJSON_AddItemToArray (layers, cJSON_CreateString (d));
      size += bytes[i];
    }
  cJSON_AddNumberToObject (rec, "size", (double) size);
  cJSON *cfg = cJSON_AddObjectToObject (rec, "config");
  cJSON *c = config_text ? cJSON_Parse (config_text) : NULL;
  const cJSON *cc = cJSON_GetObjectItemCaseSensitive (c, "config");
  static const char *const keys[] = { "Env", "WorkingDir", "User", "Cmd", "Entrypoint" };
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive (cc, keys[i]);
      if (v && !cJSON_IsNull (v))
        cJSON_AddItemToObject (cfg, keys[i], cJSON_Duplicate (v, true));
    }
  if (!cJSON_GetObjectItemCaseSensitive (cfg, "Env"))
    {
      cJSON *env = cJSON_AddArrayToObject (cfg, "Env");
      cJSON_AddItemToArray (env, cJSON_CreateString (
          "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    }
  cJSON_Delete (c);
  int r = image_write_record (st, name, rec, err);
  cJSON_Delete (rec);
  return r;
}

/* ---- import -------------------------------------------------------------- */

/* Second pass over a tar: unpack each entry that is a layer of the plan. */
static int
unpack_from_tar (struct image_store *st, struct source *s, struct plan *p, char diffs[][65],
                 struct corral_error *err)
{
  int fd;
  struct archive *a = open_tar (s->path, &fd, err);
  if (a == NULL)
    return -1;
  struct src *src = calloc (1, sizeof *src);
  if (src == NULL)
    {
      sym_archive_read_free (a);
      close (fd);
      return corral_fail (err, ENOMEM, "import");
    }
  src->outer = a;
  struct archive_entry *e;
  int r, ret = 0;
  while (ret == 0 && (r = sym_archive_read_next_header (a, &e)) != ARCHIVE_EOF)
    {
      if (r < ARCHIVE_WARN)
        {
          ret = corral_fail (err, 0, "%s: %s", s->path, sym_archive_error_string (a));
          break;
        }
      const char *name = sym_archive_entry_pathname (e);
      if (name == NULL)
        continue;
      name = clean_name (name);
      for (size_t i = 0; i < p->n; i++)
        if (!p->done[i] && strcmp (p->path[i], name) == 0)
          {
            char what[PATH_MAX];
            snprintf (what, sizeof what, "layer %zu (%s)", i + 1, name);
            ret = unpack_blob (st, src, p->want_blob[i], p->want_diff[i], what, diffs[i],
                               &p->bytes[i], err);
            p->done[i] = ret == 0;
            /* the same blob listed twice: unpacked once */
            for (size_t k = i + 1; ret == 0 && k < p->n; k++)
              if (!p->done[k] && strcmp (p->path[k], name) == 0)
                {
                  p->done[k] = true;
                  snprintf (diffs[k], 65, "%s", diffs[i]);
                }
            break;
          }
    }
  free (src);
  sym_archive_read_free (a);
  close (fd);
  for (size_t i = 0; ret == 0 && i < p->n; i++)
    if (!p->done[i])
      ret = corral_fail (err, 0, "%s: layer %s is missing from the archive", s->path, p->path[i]);
  return ret;
}

static int
unpack_from_dir (struct image_store *st, struct source *s, struct plan *p, char diffs[][65],
                 struct corral_error *err)
{
  struct src *src = calloc (1, sizeof *src);
  if (src == NULL)
    return corral_fail (err, ENOMEM, "import");
  int ret = 0;
  for (size_t i = 0; ret == 0 && i < p->n; i++)
    {
      if (p->done[i])
        continue;
      src->fd = fsat_open_beneath (s->dirfd, p->path[i], O_RDONLY, 0);
      if (src->fd < 0)
        {
          ret = corral_fail (err, errno, "%s: layer %s", s->path, p->path[i]);
          break;
        }
      char what[PATH_MAX];
      snprintf (what, sizeof what, "layer %zu (%s)", i + 1, p->path[i]);
      ret = unpack_blob (st, src, p->want_blob[i], p->want_diff[i], what, diffs[i], &p->bytes[i], err);
      close (src->fd);
      p->done[i] = ret == 0;
    }
  free (src);
  return ret;
}

int
image_unpack_file (struct image_store *st, int fd, const char *want_blob, const char *want_diff,
                   const char *what, char diff_hex[65], uint64_t *bytes, struct corral_error *err)
{
  struct src *src = calloc (1, sizeof *src);
  if (src == NULL)
    return corral_fail (err, ENOMEM, "unpack");
  src->fd = fd;
  int r = unpack_blob (st, src, want_blob, want_diff, what, diff_hex, bytes, err);
  free (src);
  return r;
}

/* Imports of a dead process leave tmp/layer.PID.N: cleared on the way in. */
void
image_reap_tmp (struct image_store *st)
{
  char dir[PATH_MAX + 16];
  snprintf (dir, sizeof dir, "%s/tmp", st->root);
  DIR *d = opendir (dir);
  struct dirent *de;
  while (d && (de = readdir (d)) != NULL)
    {
      int pid;
      unsigned n;
      if ((sscanf (de->d_name, "layer.%d.%u", &pid, &n) == 2 || sscanf (de->d_name, "blob.%d.%u", &pid, &n) == 2)
          && pid > 0 && pid != (int) getpid ()
          && kill (pid, 0) < 0 && errno == ESRCH)
        fsat_remove (dirfd (d), de->d_name);
    }
  if (d)
    closedir (d);
}

int
image_import (struct image_store *st, const char *source, const char *name,
              struct corral_error *err)
{
  char norm[300];
  if (image_normalize (name, norm, sizeof norm, err) < 0)
    return -1;
  char msg[512];
  if (corral_archive_load (msg, sizeof msg) < 0)
    return corral_fail (err, 0, "%s", msg);
  struct stat sb;
  if (stat (source, &sb) < 0)
    return corral_fail (err, errno, "%s", source);
  int lk = image_store_lock (st, LOCK_SH, err);
  if (lk < 0)
    return -1;
  image_reap_tmp (st);

  struct source s = { .path = source, .dirfd = -1, .is_dir = S_ISDIR (sb.st_mode) };
  struct plan *p = calloc (1, sizeof *p);
  char (*diffs)[65] = calloc (256, 65);
  const char *kind = NULL;
  int ret = p && diffs ? 0 : corral_fail (err, ENOMEM, "import");
  if (ret == 0 && s.is_dir)
    {
      s.dirfd = open (source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (s.dirfd < 0)
        ret = corral_fail (err, errno, "%s", source);
      else if (faccessat (s.dirfd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
        ret = corral_fail (err, 0, "%s: a directory without oci-layout is not an OCI image layout "
                           "(for a plain root file system, use `corral run --rootfs DIR`)", source);
      kind = "oci";
    }
  else if (ret == 0 && !S_ISREG (sb.st_mode))
    ret = corral_fail (err, 0, "%s: not a file or directory", source);
  else if (ret == 0)
    {
      ret = scan_tar (&s, err);
      char *probe;
      if (ret == 0 && (probe = small_get (&s, "manifest.json", NULL)) != NULL)
        kind = "docker-save", free (probe);
      else if (ret == 0 && (probe = small_get (&s, "oci-layout", NULL)) != NULL)
        kind = "oci", free (probe);
      else
        kind = "docker-export";
    }

  if (ret == 0 && strcmp (kind, "docker-export") == 0)
    {
      /* one layer: the whole (maybe compressed) tar */
      p->n = 1;
      p->path[0] = strdup (source);
      struct src *src = calloc (1, sizeof *src);
      if (src == NULL || (src->fd = open (source, O_RDONLY | O_CLOEXEC)) < 0)
        ret = corral_fail (err, src ? errno : ENOMEM, "%s", source);
      else
        {
          ret = unpack_blob (st, src, NULL, NULL, source, diffs[0], &p->bytes[0], err);
          close (src->fd);
        }
      free (src);
      if (ret == 0)
        snprintf (p->id_hex, sizeof p->id_hex, "%s", diffs[0]);
    }
  else if (ret == 0)
    {
      ret = strcmp (kind, "oci") == 0 ? plan_oci (&s, p, err) : plan_docker_save (&s, p, err);
      if (ret == 0)
        ret = plan_diff_ids (source, p, err);
      if (ret == 0 && p->n == 0)
        ret = corral_fail (err, 0, "%s: the image has no layers", source);
      /* layers the store already has are not read again */
      for (size_t i = 0; ret == 0 && i < p->n; i++)
        if (layer_present (st, p->want_diff[i]))
          {
            p->done[i] = true;
            p->bytes[i] = image_layer_bytes (st, p->want_diff[i]);
            snprintf (diffs[i], 65, "%s", p->want_diff[i]);
          }
      if (ret == 0)
        ret = s.is_dir ? unpack_from_dir (st, &s, p, diffs, err)
                       : unpack_from_tar (st, &s, p, diffs, err);
    }
  if (ret == 0)
    ret = image_record_write (st, norm, kind, p->id_hex, p->n, diffs, p->bytes, p->config_text, err);
  if (ret == 0)
    fprintf (stderr, "corral: image: imported %s (%s, %zu layer%s, sha256:%.12s)\n", norm, kind,
             p->n, p->n == 1 ? "" : "s", p->id_hex);
  if (p)
    plan_free (p);
  free (p);
  free (diffs);
  source_free (&s);
  close (lk);
  return ret;
}
