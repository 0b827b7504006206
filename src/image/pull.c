/* pull.c - `corral image pull REF`: the registry HTTP API v2, with libcurl.
 *
 *   GET /v2/REPO/manifests/REF   an index (manifest list) picks linux/amd64,
 *                                then the image manifest; both checked
 *                                against their digests when REF or the
 *                                index names one
 *   GET /v2/REPO/blobs/DIGEST    the config, then the layers: up to four at
 *                                once (curl's multi interface), each into
 *                                STORE/tmp/blob.HEX.part, resumed with a
 *                                Range request when a previous pull left one,
 *                                checked against its digest, then unpacked
 *                                (import.c) and deleted
 *
 * Authentication: a 401 names the scheme.  Bearer: a token from the realm it
 * names (anonymous, or with the credentials of the Docker config file:
 * $DOCKER_CONFIG/config.json, else ~/.docker/config.json, `auths` entries
 * with `auth` = base64 of user:password); Basic: those credentials.  Tokens
 * go through curl's own bearer support, which does not hand them to the
 * other hosts that blob downloads are redirected to.  Loopback registries
 * (localhost, 127.0.0.0/8, ::1) are spoken to over plain HTTP, as Docker
 * does; --plain-http for others.  Connection errors and 5xx answers are
 * retried with backoff. */
#include "config.h"
#include "base64.h"
#include "image.h"
#include "curl-dl.h"
#include "archive-dl.h"
#include "sha256.h"
#include "json-nul.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <arpa/inet.h>
#include <unistd.h>

#define MAX_SMALL (16u << 20) /* manifests, configs, tokens */
#define PARALLEL 4
#define MAX_LAYERS 256

static const char *const ACCEPT_MANIFESTS =
  "Accept: application/vnd.oci.image.index.v1+json, "
  "application/vnd.docker.distribution.manifest.list.v2+json, "
  "application/vnd.oci.image.manifest.v1+json, "
  "application/vnd.docker.distribution.manifest.v2+json";

struct reg {
  char host[256];  /* registry host[:port] */
  char repo[256];
  char ref[160];   /* tag or sha256:HEX */
  bool http;
  char user[256], pass[256];
  bool creds, use_basic;
  char *token;
};

/* ---- references and credentials ------------------------------------------ */

/* localhost, 127.0.0.0/8 or [::1], with or without a port: the whole
 * name, so that localhost.example.com is not taken for one */
static bool
is_loopback (const char *host)
{
  char h[256];
  snprintf (h, sizeof h, "%s", host);
  if (h[0] == '[')
    {
      char *e = strchr (h, ']');
      return e && strncmp (h, "[::1]", 5) == 0 && (e[1] == '\0' || e[1] == ':');
    }
  char *colon = strchr (h, ':');
  if (colon)
    *colon = '\0';
  struct in_addr a;
  return strcmp (h, "localhost") == 0
         || (inet_pton (AF_INET, h, &a) == 1 && (ntohl (a.s_addr) >> 24) == 127);
}

static int
parse_ref (const char *in, struct reg *r, struct corral_error *err)
{
  char buf[512];
  if (strlen (in) >= sizeof buf)
    return corral_fail (err, 0, "reference too long");
  snprintf (buf, sizeof buf, "%s", in);
  char *at = strchr (buf, '@');
  if (at)
    {
      *at = '\0';
      if (strncmp (at + 1, "sha256:", 7) != 0 || strlen (at + 8) != 64
          || strspn (at + 8, "0123456789abcdef") != 64)
        return corral_fail (err, 0, "reference %s: the digest must be sha256:<64 hex digits>", in);
      snprintf (r->ref, sizeof r->ref, "%s", at + 1);
    }
  char *slash = strchr (buf, '/');
  const char *name = buf;
  if (slash && (memchr (buf, '.', (size_t) (slash - buf)) || memchr (buf, ':', (size_t) (slash - buf))
                || strncmp (buf, "localhost/", 10) == 0))
    {
      *slash = '\0';
      snprintf (r->host, sizeof r->host, "%s", buf);
      name = slash + 1;
    }
  else
    snprintf (r->host, sizeof r->host, "registry-1.docker.io");
  if (strcmp (r->host, "docker.io") == 0 || strcmp (r->host, "index.docker.io") == 0)
    snprintf (r->host, sizeof r->host, "registry-1.docker.io");
  char *colon = strrchr (name, ':');
  if (colon && !at)
    {
      *colon = '\0';
      snprintf (r->ref, sizeof r->ref, "%s", colon + 1);
    }
  else if (!at)
    snprintf (r->ref, sizeof r->ref, "latest");
  if (*name == '\0')
    return corral_fail (err, 0, "reference %s has no repository", in);
  if (strcmp (r->host, "registry-1.docker.io") == 0 && strchr (name, '/') == NULL)
    snprintf (r->repo, sizeof r->repo, "library/%s", name);
  else
    snprintf (r->repo, sizeof r->repo, "%s", name);
  for (const char *p = r->repo; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr ("._-/", *p)))
      return corral_fail (err, 0, "reference %s: repository `%s` may only have lowercase letters, "
                          "digits and . _ - /", in, r->repo);
  r->http = is_loopback (r->host);
  return 0;
}

static void
load_creds (struct reg *r)
{
  const char *dc = getenv ("DOCKER_CONFIG"), *home = getenv ("HOME");
  char path[4096];
  if (dc && *dc)
    snprintf (path, sizeof path, "%s/config.json", dc);
  else if (home && *home)
    snprintf (path, sizeof path, "%s/.docker/config.json", home);
  else
    return;
  FILE *f = fopen (path, "re");
  if (f == NULL)
    return;
  char *text = calloc (1, 1 << 20);
  size_t n = text ? fread (text, 1, (1 << 20) - 1, f) : 0;
  fclose (f);
  if (text == NULL)
    return;
  text[n] = '\0';
  cJSON *o = cJSON_Parse (text);
  free (text);
  const cJSON *auths = cJSON_GetObjectItemCaseSensitive (o, "auths"), *e;
  bool hub = strcmp (r->host, "registry-1.docker.io") == 0;
  cJSON_ArrayForEach (e, auths)
    {
      const char *k = e->string;
      const char *h = strstr (k, "://") ? strstr (k, "://") + 3 : k;
      size_t hl = strcspn (h, "/");
      bool match = (hl == strlen (r->host) && strncmp (h, r->host, hl) == 0)
                   || (hub && (strncmp (h, "index.docker.io", 15) == 0 || strncmp (h, "docker.io", 9) == 0));
      if (!match)
        continue;
      const char *auth = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (e, "auth"));
      const char *u = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (e, "username"));
      const char *pw = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (e, "password"));
      if (auth)
        {
          size_t dn = 0;
          unsigned char *raw = base64_decode (auth, &dn);
          char dec[600];
          snprintf (dec, sizeof dec, "%s", raw && dn < sizeof dec ? (char *) raw : "");
          free (raw);
          char *c = strchr (dec, ':');
          if (c)
            {
              *c = '\0';
              snprintf (r->user, sizeof r->user, "%s", dec);
              snprintf (r->pass, sizeof r->pass, "%s", c + 1);
              r->creds = true;
            }
        }
      else if (u && pw)
        {
          snprintf (r->user, sizeof r->user, "%s", u);
          snprintf (r->pass, sizeof r->pass, "%s", pw);
          r->creds = true;
        }
      break;
    }
  cJSON_Delete (o);
}

/* ---- requests -------------------------------------------------------------- */

struct buf {
  char *data;
  size_t len, max;
  bool overflow;
};

static size_t
buf_write (char *p, size_t size, size_t n, void *ud)
{
  struct buf *b = ud;
  size_t add = size * n;
  if (b->len + add > b->max)
    {
      b->overflow = true;
      return 0;
    }
  char *nd = realloc (b->data, b->len + add + 1);
  if (nd == NULL)
    return 0;
  b->data = nd;
  memcpy (b->data + b->len, p, add);
  b->len += add;
  b->data[b->len] = '\0';
  return add;
}

struct hdrs {
  char www[1024];
  char ctype[160];
};

static size_t
hdr_cb (char *p, size_t size, size_t n, void *ud)
{
  struct hdrs *h = ud;
  size_t len = size * n;
  if (len > 17 && strncasecmp (p, "WWW-Authenticate:", 17) == 0)
    {
      size_t l = len - 17;
      while (l && (p[17 + l - 1] == '\r' || p[17 + l - 1] == '\n'))
        l--;
      snprintf (h->www, sizeof h->www, "%.*s", (int) l, p + 17);
    }
  return len;
}

static void
set_auth (CURL *c, struct reg *r)
{
  if (r->token)
    {
      sym_curl_easy_setopt (c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER);
      sym_curl_easy_setopt (c, CURLOPT_XOAUTH2_BEARER, r->token);
    }
  else if (r->use_basic && r->creds)
    {
      sym_curl_easy_setopt (c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
      sym_curl_easy_setopt (c, CURLOPT_USERNAME, r->user);
      sym_curl_easy_setopt (c, CURLOPT_PASSWORD, r->pass);
    }
}

static void
common_opts (CURL *c)
{
  sym_curl_easy_setopt (c, CURLOPT_FOLLOWLOCATION, 1L);
  sym_curl_easy_setopt (c, CURLOPT_MAXREDIRS, 10L);
  sym_curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT, 20L);
  sym_curl_easy_setopt (c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  sym_curl_easy_setopt (c, CURLOPT_LOW_SPEED_TIME, 60L);
  sym_curl_easy_setopt (c, CURLOPT_USERAGENT, "corral/" PACKAGE_VERSION);
  sym_curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
}

/* One GET into memory.  Returns the curl result; *status the HTTP code. */
static CURLcode
get_small (struct reg *r, const char *url, const char *accept, struct buf *out, long *status,
           struct hdrs *h, bool with_auth)
{
  CURL *c = sym_curl_easy_init ();
  if (c == NULL)
    return CURLE_OUT_OF_MEMORY;
  struct curl_slist *hl = accept ? sym_curl_slist_append (NULL, accept) : NULL;
  common_opts (c);
  sym_curl_easy_setopt (c, CURLOPT_URL, url);
  if (hl)
    sym_curl_easy_setopt (c, CURLOPT_HTTPHEADER, hl);
  sym_curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, buf_write);
  sym_curl_easy_setopt (c, CURLOPT_WRITEDATA, out);
  sym_curl_easy_setopt (c, CURLOPT_HEADERFUNCTION, hdr_cb);
  sym_curl_easy_setopt (c, CURLOPT_HEADERDATA, h);
  if (with_auth)
    set_auth (c, r);
  CURLcode rc = sym_curl_easy_perform (c);
  *status = 0;
  sym_curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, status);
  char *ct = NULL;
  if (sym_curl_easy_getinfo (c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
    snprintf (h->ctype, sizeof h->ctype, "%s", ct);
  sym_curl_slist_free_all (hl);
  sym_curl_easy_cleanup (c);
  return rc;
}

/* value of key="..." in a WWW-Authenticate header */
static bool
auth_param (const char *h, const char *key, char *out, size_t len)
{
  char pat[64];
  snprintf (pat, sizeof pat, "%s=\"", key);
  const char *p = strstr (h, pat);
  if (p == NULL)
    return false;
  p += strlen (pat);
  const char *e = strchr (p, '"');
  if (e == NULL)
    return false;
  snprintf (out, len, "%.*s", (int) (e - p), p);
  return true;
}

/* After a 401: get what the challenge asks for. */
static int
authenticate (struct reg *r, const char *www, struct corral_error *err)
{
  const char *p = www;
  while (*p == ' ')
    p++;
  if (strncasecmp (p, "Basic", 5) == 0)
    {
      if (!r->creds || r->use_basic)
        return corral_fail (err, 0, "registry %s wants a user name and password: log in (`docker "
                            "login`, or `skopeo login --authfile ~/.docker/config.json`)", r->host);
      r->use_basic = true;
      return 0;
    }
  if (strncasecmp (p, "Bearer", 6) != 0)
    return corral_fail (err, 0, "registry %s: unsupported authentication `%.60s`", r->host, p);
  char realm[512], service[256] = "", scope[512] = "";
  if (!auth_param (p, "realm", realm, sizeof realm))
    return corral_fail (err, 0, "registry %s: a Bearer challenge without a realm", r->host);
  auth_param (p, "service", service, sizeof service);
  if (!auth_param (p, "scope", scope, sizeof scope))
    snprintf (scope, sizeof scope, "repository:%s:pull", r->repo);
  CURL *c = sym_curl_easy_init ();
  if (c == NULL)
    return corral_fail (err, ENOMEM, "libcurl");
  char *es = sym_curl_easy_escape (c, service, 0), *ec = sym_curl_easy_escape (c, scope, 0);
  char url[2048];
  snprintf (url, sizeof url, "%s%sservice=%s&scope=%s", realm, strchr (realm, '?') ? "&" : "?",
            es ? es : "", ec ? ec : "");
  sym_curl_free (es);
  sym_curl_free (ec);
  sym_curl_easy_cleanup (c);
  struct reg tr = *r;
  tr.token = NULL;
  tr.use_basic = r->creds;
  struct buf b = { .max = MAX_SMALL };
  struct hdrs h = { 0 };
  long status;
  CURLcode rc = get_small (&tr, url, NULL, &b, &status, &h, true);
  int ret = 0;
  if (rc != CURLE_OK || status != 200)
    ret = corral_fail (err, 0, "registry %s: token from %s: %s", r->host, realm,
                       rc != CURLE_OK ? sym_curl_easy_strerror (rc)
                       : status == 401 ? "credentials refused" : "refused");
  cJSON *o = ret == 0 ? cJSON_Parse (b.data ? b.data : "") : NULL;
  const char *tok = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (o, "token"));
  if (tok == NULL)
    tok = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (o, "access_token"));
  if (ret == 0 && tok == NULL)
    ret = corral_fail (err, 0, "registry %s: the token answer has no token", r->host);
  if (ret == 0)
    {
      free (r->token);
      r->token = strdup (tok);
    }
  cJSON_Delete (o);
  free (b.data);
  return ret;
}

static void
url_for (const struct reg *r, const char *kind, const char *what, char *url, size_t len)
{
  snprintf (url, len, "%s://%s/v2/%s/%s/%s", r->http ? "http" : "https", r->host, r->repo, kind, what);
}

/* GET a manifest or small blob, authenticating on 401 and retrying
 * transient failures.  want_hex: the digest the bytes must have. */
static int
fetch_small (struct reg *r, const char *kind, const char *what, const char *want_hex, struct buf *out,
             char *ctype, size_t ctlen, struct corral_error *err)
{
  char url[1024];
  url_for (r, kind, what, url, sizeof url);
  for (int attempt = 0, auths = 0;; attempt++)
    {
      struct hdrs h = { 0 };
      long status;
      free (out->data);
      *out = (struct buf) { .max = MAX_SMALL };
      CURLcode rc = get_small (r, url, strcmp (kind, "manifests") == 0 ? ACCEPT_MANIFESTS : NULL,
                               out, &status, &h, true);
      if (rc == CURLE_OK && status == 401 && auths++ < 2)
        {
          if (authenticate (r, h.www, err) < 0)
            return -1;
          continue;
        }
      bool transient = rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT
                       || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING
                       || (rc == CURLE_OK && status >= 500);
      if (transient && attempt < 3)
        {
          struct timespec ts = { 0, (long) (250000000L << attempt) };
          nanosleep (&ts, NULL);
          continue;
        }
      if (rc != CURLE_OK)
        return corral_fail (err, 0, "%s: %s%s", url, out->overflow ? "too large" : sym_curl_easy_strerror (rc),
                            rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT
                            ? " (offline? or import the image from a file: corral image import)" : "");
      if (status == 404)
        return corral_fail (err, ENOENT, "%s: not found (no such repository, tag or digest)", url);
      if (status == 401 || status == 403)
        return corral_fail (err, EACCES, "%s: access denied (HTTP %ld): log in or check the name",
                            url, status);
      if (status != 200)
        return corral_fail (err, 0, "%s: HTTP %ld", url, status);
      if (ctype)
        snprintf (ctype, ctlen, "%s", h.ctype);
      break;
    }
  if (want_hex)
    {
      char got[65];
      struct sha256 s;
      sha256_init (&s);
      sha256_update (&s, out->data ? out->data : "", out->len);
      sha256_hex (&s, got);
      if (strcmp (got, want_hex) != 0)
        return corral_fail (err, 0, "%s: digest sha256:%s, expected sha256:%s: a corrupted or "
                            "altered blob", url, got, want_hex);
    }
  /* manifests, indexes and configs are JSON that cJSON reads up to a NUL:
   * one that holds a NUL is not what the digest vouches for */
  char where[320];
  if (out->data && json_find_nul (out->data, out->len, where, sizeof where))
    return corral_fail (err, 0, "%s: %s holds a NUL character: not the JSON an image has", url, where);
  return 0;
}

/* ---- layers ------------------------------------------------------------------ */

struct dl {
  size_t index;
  char hex[65];
  uint64_t size;      /* from the manifest */
  char part[4200];    /* STORE/tmp/blob.PID.N.part */
  FILE *f;
  uint64_t have;      /* bytes already in the file when the transfer began */
  curl_off_t now;     /* of this transfer */
  CURL *c;
  int tries;
  bool done;
};

static int
on_progress (void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  (void) dltotal;
  (void) ultotal;
  (void) ulnow;
  ((struct dl *) ud)->now = dlnow;
  return 0;
}

static int
start_dl (struct reg *r, struct dl *d, struct corral_error *err)
{
  /* the .part file is named by digest, so that a pull resumes where an
   * interrupted one stopped; a lock keeps two pulls from writing it */
  d->f = fopen (d->part, "ae");
  if (d->f == NULL)
    return corral_fail (err, errno, "write %s", d->part);
  if (flock (fileno (d->f), LOCK_EX | LOCK_NB) < 0)
    {
      fclose (d->f);
      d->f = NULL;
      return corral_fail (err, EBUSY, "layer sha256:%s is being downloaded by another pull; try "
                          "again when it is done", d->hex);
    }
  struct stat st;
  d->have = fstat (fileno (d->f), &st) == 0 ? (uint64_t) st.st_size : 0;
  if (d->size && d->have > d->size)
    {
      if (ftruncate (fileno (d->f), 0) < 0)
        return corral_fail (err, errno, "truncate %s", d->part);
      d->have = 0;
    }
  d->c = sym_curl_easy_init ();
  if (d->c == NULL)
    return corral_fail (err, ENOMEM, "libcurl");
  char url[1024], digest[80];
  snprintf (digest, sizeof digest, "sha256:%s", d->hex);
  url_for (r, "blobs", digest, url, sizeof url);
  common_opts (d->c);
  sym_curl_easy_setopt (d->c, CURLOPT_URL, url);
  sym_curl_easy_setopt (d->c, CURLOPT_WRITEDATA, d->f);
  sym_curl_easy_setopt (d->c, CURLOPT_FAILONERROR, 1L);
  sym_curl_easy_setopt (d->c, CURLOPT_NOPROGRESS, 0L);
  sym_curl_easy_setopt (d->c, CURLOPT_XFERINFOFUNCTION, on_progress);
  sym_curl_easy_setopt (d->c, CURLOPT_XFERINFODATA, d);
  sym_curl_easy_setopt (d->c, CURLOPT_PRIVATE, d);
  if (d->have)
    sym_curl_easy_setopt (d->c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t) d->have);
  set_auth (d->c, r);
  d->now = 0;
  return 0;
}

static void
show_progress (struct dl *dls, size_t n, bool final)
{
  uint64_t total = 0, got = 0;
  size_t done = 0;
  for (size_t i = 0; i < n; i++)
    {
      total += dls[i].size;
      got += dls[i].done ? dls[i].size : dls[i].have + (uint64_t) dls[i].now;
      done += dls[i].done;
    }
  fprintf (stderr, "\rcorral: image: pulling: %zu/%zu layers, %.1f/%.1f MB%s", done, n, got / 1e6,
           total / 1e6, final ? "\n" : "  ");
}

static bool
file_digest_is (const char *path, const char *hex)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  struct sha256 s;
  sha256_init (&s);
  static char buf[1 << 16];
  ssize_t n;
  while ((n = read (fd, buf, sizeof buf)) > 0)
    sha256_update (&s, buf, (size_t) n);
  close (fd);
  char got[65];
  sha256_hex (&s, got);
  return n == 0 && strcmp (got, hex) == 0;
}

/* Downloads every layer of dls (up to PARALLEL at once), each checked. */
static int
download_all (struct reg *r, struct dl *dls, size_t n, bool progress, struct corral_error *err)
{
  CURLM *m = sym_curl_multi_init ();
  if (m == NULL)
    return corral_fail (err, ENOMEM, "libcurl");
  size_t next = 0, running = 0, finished = 0;
  int ret = 0;
  time_t last = 0;
  while (ret == 0 && finished < n)
    {
      while (running < PARALLEL && next < n)
        {
          struct dl *d = &dls[next];
          struct stat st;
          /* complete already (a pull interrupted before unpacking) */
          if (d->size && stat (d->part, &st) == 0 && (uint64_t) st.st_size == d->size
              && file_digest_is (d->part, d->hex))
            {
              d->done = true;
              finished++;
              next++;
              continue;
            }
          if ((ret = start_dl (r, d, err)) < 0)
            break;
          sym_curl_multi_add_handle (m, dls[next].c);
          running++;
          next++;
        }
      if (ret < 0)
        break;
      int still;
      sym_curl_multi_perform (m, &still);
      CURLMsg *msg;
      int left;
      while ((msg = sym_curl_multi_info_read (m, &left)) != NULL)
        {
          if (msg->msg != CURLMSG_DONE)
            continue;
          struct dl *d;
          sym_curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &d);
          CURLcode rc = msg->data.result;
          long status = 0;
          sym_curl_easy_getinfo (d->c, CURLINFO_RESPONSE_CODE, &status);
          sym_curl_multi_remove_handle (m, d->c);
          sym_curl_easy_cleanup (d->c);
          d->c = NULL;
          fclose (d->f);
          d->f = NULL;
          running--;
          bool retry = false;
          if (rc == CURLE_RANGE_ERROR || (rc == CURLE_HTTP_RETURNED_ERROR && status == 416))
            {
              unlink (d->part); /* the server cannot resume: start over */
              retry = d->tries < 3;
              if (!retry)
                ret = corral_fail (err, 0, "layer sha256:%s: the server refuses ranges", d->hex);
            }
          else if (rc == CURLE_HTTP_RETURNED_ERROR && status == 401 && d->tries < 2)
            {
              /* a token that expired during a long pull: a fresh one */
              free (r->token);
              r->token = NULL;
              struct buf b = { 0 };
              ret = fetch_small (r, "manifests", r->ref, NULL, &b, NULL, 0, err);
              free (b.data);
              retry = ret == 0;
            }
          else if (rc != CURLE_OK && (rc != CURLE_HTTP_RETURNED_ERROR || status >= 500) && d->tries < 3)
            retry = true; /* the .part file stays: resumed */
          else if (rc != CURLE_OK)
            ret = corral_fail (err, 0, "layer sha256:%s: %s (HTTP %ld)", d->hex,
                               sym_curl_easy_strerror (rc), status);
          else if (!file_digest_is (d->part, d->hex))
            {
              unlink (d->part);
              ret = corral_fail (err, 0, "layer sha256:%s: the downloaded bytes have another "
                                 "digest: a corrupted or altered blob; nothing imported", d->hex);
            }
          else
            {
              d->done = true;
              finished++;
            }
          if (retry && ret == 0)
            {
              d->tries++;
              struct timespec ts = { 0, (long) (200000000L << d->tries) };
              nanosleep (&ts, NULL);
              if ((ret = start_dl (r, d, err)) == 0)
                {
                  sym_curl_multi_add_handle (m, d->c);
                  running++;
                }
            }
        }
      if (progress && time (NULL) != last)
        {
          last = time (NULL);
          show_progress (dls, n, false);
        }
      if (ret == 0 && finished < n)
        sym_curl_multi_wait (m, NULL, 0, 200, NULL);
    }
  for (size_t i = 0; i < n; i++)
    if (dls[i].c)
      {
        sym_curl_multi_remove_handle (m, dls[i].c);
        sym_curl_easy_cleanup (dls[i].c);
        dls[i].c = NULL;
        if (dls[i].f)
          fclose (dls[i].f);
        dls[i].f = NULL;
      }
  sym_curl_multi_cleanup (m);
  if (progress && ret == 0)
    show_progress (dls, n, true);
  return ret;
}

/* ---- the pull ------------------------------------------------------------------ */

static bool
is_index (const char *ctype, const cJSON *j)
{
  const char *mt = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (j, "mediaType"));
  return (ctype && (strstr (ctype, "image.index") || strstr (ctype, "manifest.list")))
         || (mt && (strstr (mt, "image.index") || strstr (mt, "manifest.list")))
         || cJSON_GetObjectItemCaseSensitive (j, "manifests") != NULL;
}

static const char *
hex_of_digest (const char *d)
{
  return d && strncmp (d, "sha256:", 7) == 0 && strlen (d) == 71 && strspn (d + 7, "0123456789abcdef") == 64
         ? d + 7 : NULL;
}

int
image_pull (struct image_store *st, const char *ref, const char *name, bool plain_http,
            bool progress, struct corral_error *err)
{
  char norm[300];
  if (image_normalize (name ? name : ref, norm, sizeof norm, err) < 0)
    return -1;
  struct reg r = { 0 };
  if (parse_ref (ref, &r, err) < 0)
    return -1;
  if (plain_http)
    r.http = true;
  load_creds (&r);
  char msg[512];
  if (corral_curl_load (msg, sizeof msg) < 0 || corral_archive_load (msg, sizeof msg) < 0)
    return corral_fail (err, 0, "%s", msg);

  int lk = image_store_lock (st, LOCK_SH, err);
  if (lk < 0)
    return -1;
  image_reap_tmp (st);
  struct buf b = { 0 }, cfg = { 0 };
  char ctype[160] = "";
  cJSON *man = NULL;
  struct dl *dls = NULL;
  char (*diffs)[65] = calloc (MAX_LAYERS, 65);
  uint64_t *bytes = calloc (MAX_LAYERS, sizeof *bytes);
  size_t n = 0;
  int ret = diffs && bytes ? 0 : corral_fail (err, ENOMEM, "pull");

  /* the manifest, through an index if there is one */
  const char *want = hex_of_digest (r.ref);
  char what[160];
  snprintf (what, sizeof what, "%s", r.ref);
  for (int depth = 0; ret == 0 && depth < 3; depth++)
    {
      if ((ret = fetch_small (&r, "manifests", what, want, &b, ctype, sizeof ctype, err)) < 0)
        break;
      cJSON *j = cJSON_Parse (b.data ? b.data : "");
      if (!cJSON_IsObject (j))
        {
          cJSON_Delete (j);
          ret = corral_fail (err, 0, "%s: the manifest is not JSON", ref);
          break;
        }
      const cJSON *sv = cJSON_GetObjectItemCaseSensitive (j, "schemaVersion");
      if (cJSON_IsNumber (sv) && sv->valueint == 1)
        {
          cJSON_Delete (j);
          ret = corral_fail (err, 0, "%s: a schema 1 manifest (deprecated by Docker since 2017) is "
                             "not supported", ref);
          break;
        }
      if (!is_index (ctype, j))
        {
          man = j;
          break;
        }
      const cJSON *d, *pick = NULL;
      cJSON_ArrayForEach (d, cJSON_GetObjectItemCaseSensitive (j, "manifests"))
        {
          const cJSON *plat = cJSON_GetObjectItemCaseSensitive (d, "platform");
          const char *os = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (plat, "os"));
          const char *arch = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (plat, "architecture"));
          if (os && arch && strcmp (os, "linux") == 0 && strcmp (arch, "amd64") == 0)
            {
              pick = d;
              break;
            }
        }
      const char *dg = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (pick, "digest"));
      if (pick == NULL || hex_of_digest (dg) == NULL)
        ret = corral_fail (err, 0, "%s: the index has no linux/amd64 image", ref);
      else
        {
          snprintf (what, sizeof what, "%s", dg);
          want = what + 7;
        }
      cJSON_Delete (j);
    }
  if (ret == 0 && man == NULL)
    ret = corral_fail (err, 0, "%s: indexes nested too deep", ref);

  /* the config: its digest is the image's id; its diff_ids name the layers */
  const char *cdg = ret == 0 ? cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (
                                   cJSON_GetObjectItemCaseSensitive (man, "config"), "digest"))
                             : NULL;
  if (ret == 0 && hex_of_digest (cdg) == NULL)
    ret = corral_fail (err, 0, "%s: the manifest has no config digest", ref);
  char cfg_hex[65] = "";
  if (ret == 0)
    {
      snprintf (cfg_hex, sizeof cfg_hex, "%s", cdg + 7);
      ret = fetch_small (&r, "blobs", cdg, cfg_hex, &cfg, NULL, 0, err);
    }
  cJSON *c = ret == 0 ? cJSON_Parse (cfg.data ? cfg.data : "") : NULL;
  const cJSON *ids = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (c, "rootfs"), "diff_ids");
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive (man, "layers");
  if (ret == 0)
    {
      n = (size_t) cJSON_GetArraySize (layers);
      if (n == 0 || n > MAX_LAYERS || !cJSON_IsArray (ids) || (size_t) cJSON_GetArraySize (ids) != n)
        ret = corral_fail (err, 0, "%s: the manifest's layers and the config's diff_ids disagree", ref);
    }
  if (ret == 0 && (dls = calloc (n, sizeof *dls)) == NULL)
    ret = corral_fail (err, ENOMEM, "pull");
  size_t nd = 0;
  for (size_t i = 0; ret == 0 && i < n; i++)
    {
      const cJSON *l = cJSON_GetArrayItem (layers, (int) i);
      const char *lhex = hex_of_digest (cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (l, "digest")));
      const char *dhex = hex_of_digest (cJSON_GetStringValue (cJSON_GetArrayItem (ids, (int) i)));
      const char *mt = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (l, "mediaType"));
      const cJSON *sz = cJSON_GetObjectItemCaseSensitive (l, "size");
      if (lhex == NULL || dhex == NULL)
        {
          ret = corral_fail (err, 0, "%s: layer %zu has no sha256 digest", ref, i + 1);
          break;
        }
      if (mt && !strstr (mt, "tar"))
        {
          ret = corral_fail (err, 0, "%s: layer %zu has media type %s, not a tar", ref, i + 1, mt);
          break;
        }
      snprintf (diffs[i], 65, "%s", dhex);
      char p[PATH_MAX + 16];
      struct stat sb;
      snprintf (p, sizeof p, "%s/layers/sha256-%s", st->root, dhex);
      if (stat (p, &sb) == 0 && S_ISDIR (sb.st_mode))
        continue; /* already in the store */
      struct dl *d = &dls[nd++];
      d->index = i;
      snprintf (d->hex, sizeof d->hex, "%s", lhex);
      d->size = cJSON_IsNumber (sz) && sz->valuedouble > 0 ? (uint64_t) sz->valuedouble : 0;
      /* named by digest, so an interrupted pull's bytes are found again */
      snprintf (d->part, sizeof d->part, "%s/tmp/blob.%s.part", st->root, lhex);
    }
  if (ret == 0 && nd > 0)
    ret = download_all (&r, dls, nd, progress, err);
  for (size_t k = 0; ret == 0 && k < nd; k++)
    {
      struct dl *d = &dls[k];
      int fd = open (d->part, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        {
          ret = corral_fail (err, errno, "%s", d->part);
          break;
        }
      char got[65], lwhat[128];
      snprintf (lwhat, sizeof lwhat, "layer %zu (sha256:%.12s)", d->index + 1, d->hex);
      ret = image_unpack_file (st, fd, d->hex, diffs[d->index], lwhat, got, &bytes[d->index], err);
      close (fd);
      unlink (d->part);
    }
  if (ret == 0)
    ret = image_record_write (st, norm, "registry", cfg_hex, n, diffs, bytes, cfg.data, err);
  if (ret == 0)
    fprintf (stderr, "corral: image: pulled %s as %s (%zu layer%s, %zu downloaded, sha256:%.12s)\n",
             ref, norm, n, n == 1 ? "" : "s", nd, cfg_hex);
  cJSON_Delete (c);
  cJSON_Delete (man);
  free (b.data);
  free (cfg.data);
  free (dls);
  free (diffs);
  free (bytes);
  free (r.token);
  close (lk);
  return ret;
}
