/* remote.c - runs a corral spec on a corral server (POST /v1/run) instead of
 * here: `corral run --remote URL`, `corral eval --remote URL[,URL...]`.
 *
 * The spec travels as JSON (argv, env, cwd, stdin as base64, network, the
 * limits); the server runs it with its own root file system and seccomp
 * policy and answers the result object of `corral run --json`, which comes
 * back into a struct corral_result, so callers see a local run's result.
 * One curl handle per client keeps its connections alive; requests go to
 * the servers in turn; HTTP 504 (a full queue) and connection errors are
 * retried with backoff on the next server. */
#include "config.h"
#include "remote.h"
#include "curl-dl.h"
#include "base64.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct corral_remote {
  CURL *curl;
  char **urls;
  size_t n, next;
  char api_key[512];
};

int
corral_remote_open (const char *urls, struct corral_remote **out, struct corral_error *err)
{
  *out = NULL;
  char msg[512];
  if (corral_curl_load (msg, sizeof msg) < 0)
    return corral_fail (err, 0, "%s", msg);
  struct corral_remote *r = calloc (1, sizeof *r);
  if (r == NULL)
    return corral_fail (err, ENOMEM, "remote");
  char *copy = strdup (urls), *save = NULL;
  for (char *u = strtok_r (copy, ",", &save); u; u = strtok_r (NULL, ",", &save))
    {
      size_t l = strlen (u);
      while (l && u[l - 1] == '/')
        u[--l] = '\0';
      if (strncmp (u, "http://", 7) != 0 && strncmp (u, "https://", 8) != 0)
        {
          corral_fail (err, 0, "--remote: `%.200s` is not an http:// or https:// URL", u);
          free (copy);
          corral_remote_close (r);
          return -1;
        }
      char **nu = realloc (r->urls, (r->n + 1) * sizeof *nu);
      if (nu == NULL)
        break;
      r->urls = nu;
      r->urls[r->n++] = strdup (u);
    }
  free (copy);
  if (r->n == 0)
    {
      corral_remote_close (r);
      return corral_fail (err, 0, "--remote: no URL given");
    }
  const char *key = getenv ("CORRAL_API_KEY");
  if (key)
    snprintf (r->api_key, sizeof r->api_key, "%s", key);
  r->curl = sym_curl_easy_init ();
  if (r->curl == NULL)
    {
      corral_remote_close (r);
      return corral_fail (err, ENOMEM, "libcurl");
    }
  *out = r;
  return 0;
}

void
corral_remote_close (struct corral_remote *r)
{
  if (r == NULL)
    return;
  if (r->curl)
    sym_curl_easy_cleanup (r->curl);
  for (size_t i = 0; i < r->n; i++)
    free (r->urls[i]);
  free (r->urls);
  free (r);
}

static void
put_limit (cJSON *o, const char *k, uint64_t v)
{
  if (v == CORRAL_NO_LIMIT)
    cJSON_AddStringToObject (o, k, "unlimited");
  else
    cJSON_AddNumberToObject (o, k, (double) v);
}

/* The spec as /v1/run takes it; NULL if it cannot travel. */
static char *
spec_json (const struct corral_spec *spec, struct corral_error *err)
{
  if (spec->n_mounts || spec->n_lowers || spec->net == CORRAL_NET_HOST)
    {
      corral_fail (err, 0, "--bind, --tmpfs, --image, --rootfs and --net host are the server's "
                   "business: a remote run cannot take them");
      return NULL;
    }
  cJSON *o = cJSON_CreateObject ();
  cJSON *argv = cJSON_AddArrayToObject (o, "argv");
  for (char **a = spec->argv; *a; a++)
    cJSON_AddItemToArray (argv, cJSON_CreateString (*a));
  if (spec->env)
    {
      cJSON *env = cJSON_AddArrayToObject (o, "env");
      for (char **e = spec->env; *e; e++)
        cJSON_AddItemToArray (env, cJSON_CreateString (*e));
    }
  if (spec->cwd)
    cJSON_AddStringToObject (o, "cwd", spec->cwd);
  cJSON_AddStringToObject (o, "net", spec->net == CORRAL_NET_NONE ? "none" : "loopback");
  put_limit (o, "memory", spec->memory);
  put_limit (o, "pids", spec->pids);
  put_limit (o, "cpus_milli", spec->cpus_milli);
  put_limit (o, "time_ms", spec->time_ms);
  put_limit (o, "wall_ms", spec->wall_ms);
  put_limit (o, "output", spec->output);
  put_limit (o, "fsize", spec->fsize);
  put_limit (o, "nofile", spec->nofile);
  put_limit (o, "stack", spec->stack);
  if (spec->stdin_fd >= 0)
    {
      /* the whole of stdin, from the start (a memfd or a file) */
      char *buf = NULL;
      size_t len = 0, cap = 0;
      off_t at = 0;
      for (;;)
        {
          if (len + 65536 > cap)
            {
              char *nb = realloc (buf, cap = cap ? cap * 2 : 65536 * 2);
              if (nb == NULL)
                break;
              buf = nb;
            }
          ssize_t n = pread (spec->stdin_fd, buf + len, cap - len, at);
          if (n <= 0)
            break;
          len += (size_t) n;
          at += n;
        }
      char *b64 = base64_encode (buf ? buf : "", len);
      free (buf);
      if (b64)
        cJSON_AddStringToObject (o, "stdin", b64);
      free (b64);
    }
  char *s = cJSON_PrintUnformatted (o);
  cJSON_Delete (o);
  if (s == NULL)
    corral_fail (err, ENOMEM, "remote");
  return s;
}

struct sink {
  char *data;
  size_t len;
};

static size_t
on_data (char *p, size_t size, size_t n, void *ud)
{
  struct sink *s = ud;
  size_t add = size * n;
  if (s->len + add > (512u << 20))
    return 0;
  char *nd = realloc (s->data, s->len + add + 1);
  if (nd == NULL)
    return 0;
  s->data = nd;
  memcpy (s->data + s->len, p, add);
  s->len += add;
  s->data[s->len] = '\0';
  return add;
}

int
corral_remote_run (struct corral_remote *r, const struct corral_spec *spec, struct corral_result *res,
                   struct corral_error *err)
{
  char *body = spec_json (spec, err);
  if (body == NULL)
    return -1;
  struct curl_slist *h = sym_curl_slist_append (NULL, "Content-Type: application/json");
  char keyh[600];
  if (r->api_key[0])
    {
      snprintf (keyh, sizeof keyh, "X-API-Key: %s", r->api_key);
      h = sym_curl_slist_append (h, keyh);
    }
  /* the server's own deadline is the spec's; ours is longer */
  long deadline_s = spec->wall_ms == CORRAL_NO_LIMIT ? 0 : (long) (spec->wall_ms / 1000) + 60;
  int ret = -1;
  for (int attempt = 0; attempt < 8; attempt++)
    {
      const char *base = r->urls[r->next++ % r->n];
      char url[1200];
      snprintf (url, sizeof url, "%s/v1/run", base);
      struct sink s = { 0 };
      CURL *c = r->curl;
      sym_curl_easy_reset (c);
      sym_curl_easy_setopt (c, CURLOPT_URL, url);
      sym_curl_easy_setopt (c, CURLOPT_POSTFIELDS, body);
      sym_curl_easy_setopt (c, CURLOPT_HTTPHEADER, h);
      sym_curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, on_data);
      sym_curl_easy_setopt (c, CURLOPT_WRITEDATA, &s);
      sym_curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT, 10L);
      sym_curl_easy_setopt (c, CURLOPT_TIMEOUT, deadline_s);
      sym_curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
      sym_curl_easy_setopt (c, CURLOPT_USERAGENT, "corral/" PACKAGE_VERSION);
      CURLcode rc = sym_curl_easy_perform (c);
      long status = 0;
      sym_curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &status);
      bool retry = rc == CURLE_COULDNT_CONNECT || rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR
                   || rc == CURLE_SEND_ERROR || (rc == CURLE_OK && (status == 504 || status == 503));
      if (rc == CURLE_OK && status == 200)
        {
          ret = corral_result_from_json (s.data ? s.data : "", res, err);
          free (s.data);
          break;
        }
      if (!retry || attempt == 7)
        {
          cJSON *d = rc == CURLE_OK ? cJSON_Parse (s.data ? s.data : "") : NULL;
          const cJSON *det = cJSON_GetObjectItemCaseSensitive (d, "detail");
          char *dt = det ? cJSON_PrintUnformatted (det) : NULL;
          if (rc != CURLE_OK)
            corral_fail (err, 0, "%s: %s", url, sym_curl_easy_strerror (rc));
          else
            corral_fail (err, 0, "%s: HTTP %ld%s%s", url, status, dt ? ": " : "", dt ? dt : "");
          free (dt);
          cJSON_Delete (d);
          free (s.data);
          break;
        }
      free (s.data);
      struct timespec ts = { 0, 100000000L << (attempt < 3 ? attempt : 3) };
      nanosleep (&ts, NULL);
    }
  sym_curl_slist_free_all (h);
  free (body);
  return ret;
}
