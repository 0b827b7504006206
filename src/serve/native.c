/* native.c - corral's own POST /v1/run: a corral spec in, the result of
 * `corral run --json` out.  What `corral run --remote` and `corral eval
 * --remote` send (src/http/remote.c).  The server keeps its root file
 * system, seccomp policy and identity; the client chooses the command, its
 * environment, stdin, network (none or loopback) and limits. */
#include "config.h"
#include "server.h"
#include "base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *const limit_keys[] = { "memory", "pids", "cpus_milli", "time_ms", "wall_ms",
                                          "output", "fsize", "nofile", "stack" };

static char *
detail (const char *msg)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "detail", msg);
  char *s = cJSON_PrintUnformatted (o);
  cJSON_Delete (o);
  return s;
}

/* in the server: checked, then one job */
int
native_run (const char *body, size_t len, char **out, char *verdict, size_t vlen)
{
  snprintf (verdict, vlen, "-");
  cJSON *req = cJSON_ParseWithLength (body, len);
  const cJSON *argv = cJSON_GetObjectItemCaseSensitive (req, "argv"), *a;
  const char *why = NULL;
  if (!cJSON_IsObject (req))
    why = "the body must be a JSON object";
  else if (!cJSON_IsArray (argv) || cJSON_GetArraySize (argv) == 0 || cJSON_GetArraySize (argv) > 4096)
    why = "argv: a non-empty list of strings";
  else
    {
      cJSON_ArrayForEach (a, argv)
        if (!cJSON_IsString (a))
          why = "argv: a non-empty list of strings";
      const cJSON *env = cJSON_GetObjectItemCaseSensitive (req, "env");
      if (env && !cJSON_IsNull (env))
        {
          if (!cJSON_IsArray (env))
            why = "env: a list of \"K=V\" strings";
          cJSON_ArrayForEach (a, env)
            if (!cJSON_IsString (a) || !strchr (a->valuestring, '=') || a->valuestring[0] == '=')
              why = "env: a list of \"K=V\" strings";
        }
      const char *cwd = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (req, "cwd"));
      if (cwd && cwd[0] != '/')
        why = "cwd: an absolute path";
      const char *net = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (req, "net"));
      if (net && strcmp (net, "none") && strcmp (net, "loopback"))
        why = "net: none or loopback (a server never lends its own network)";
      for (size_t i = 0; i < sizeof limit_keys / sizeof *limit_keys; i++)
        {
          const cJSON *v = cJSON_GetObjectItemCaseSensitive (req, limit_keys[i]);
          if (v && !cJSON_IsNull (v) && !(cJSON_IsNumber (v) && v->valuedouble >= 0)
              && !(cJSON_IsString (v) && strcmp (v->valuestring, "unlimited") == 0))
            why = "limits: numbers, or \"unlimited\"";
        }
      const cJSON *in = cJSON_GetObjectItemCaseSensitive (req, "stdin");
      if (in && !cJSON_IsNull (in) && !cJSON_IsString (in))
        why = "stdin: base64 text";
    }
  if (why)
    {
      cJSON_Delete (req);
      *out = detail (why);
      return 422;
    }
  cJSON *job = cJSON_CreateObject ();
  cJSON_AddStringToObject (job, "kind", "run");
  cJSON_AddItemToObject (job, "spec", req);
  char *text = cJSON_PrintUnformatted (job);
  cJSON_Delete (job);
  int refused;
  char *answer = text ? queue_run (text, &refused) : NULL;
  free (text);
  if (answer == NULL)
    {
      *out = detail (queue_refusal (refused));
      if (refused == 499)
        snprintf (verdict, vlen, "abandoned");
      return refused ? refused : 500;
    }
  cJSON *a2 = cJSON_Parse (answer);
  const char *st = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (a2, "status"));
  snprintf (verdict, vlen, "%s", st ? st : "?");
  int http = cJSON_GetObjectItemCaseSensitive (a2, "detail") ? 422 : 200;
  cJSON_Delete (a2);
  *out = answer;
  return http;
}

/* in a worker */
char *
native_job (const cJSON *j, const struct serve_root *root, const struct serve_limits *lim)
{
  struct corral_spec spec;
  corral_spec_init (&spec);
  const cJSON *argv = cJSON_GetObjectItemCaseSensitive (j, "argv"), *a;
  size_t n = (size_t) cJSON_GetArraySize (argv), k = 0;
  char **av = calloc (n + 1, sizeof *av);
  const cJSON *env = cJSON_GetObjectItemCaseSensitive (j, "env");
  char **ev = cJSON_IsArray (env) ? calloc ((size_t) cJSON_GetArraySize (env) + 1, sizeof *ev) : NULL;
  if (av == NULL)
    return detail ("out of memory");
  cJSON_ArrayForEach (a, argv)
    av[k++] = a->valuestring;
  spec.argv = av;
  if (ev)
    {
      k = 0;
      cJSON_ArrayForEach (a, env)
        ev[k++] = a->valuestring;
      spec.env = ev;
    }
  const char *cwd = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (j, "cwd"));
  if (cwd)
    spec.cwd = cwd;
  const char *net = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (j, "net"));
  spec.net = net && strcmp (net, "loopback") == 0 ? CORRAL_NET_LOOPBACK : CORRAL_NET_NONE;
  uint64_t *fields[] = { &spec.memory, &spec.pids, &spec.cpus_milli, &spec.time_ms, &spec.wall_ms,
                         &spec.output, &spec.fsize, &spec.nofile, &spec.stack };
  spec.memory = lim->memory;
  spec.pids = lim->pids;
  for (size_t i = 0; i < sizeof limit_keys / sizeof *limit_keys; i++)
    {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive (j, limit_keys[i]);
      if (cJSON_IsNumber (v))
        *fields[i] = (uint64_t) v->valuedouble;
      else if (cJSON_IsString (v))
        *fields[i] = CORRAL_NO_LIMIT;
    }
  /* the server's memory limit is a ceiling for remote runs */
  if (spec.memory == CORRAL_NO_LIMIT || spec.memory > lim->memory)
    spec.memory = lim->memory;
  if (spec.wall_ms == CORRAL_NO_LIMIT)
    spec.wall_ms = 3600 * 1000;
  spec.policy = lim->policy;
  spec.lowers_base = root->lowers_base;
  spec.lowers = root->lowers;
  spec.n_lowers = root->n_lowers;
  int sfd = -1;
  const char *in = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (j, "stdin"));
  if (in)
    {
      size_t blen;
      unsigned char *bytes = base64_decode (in, &blen);
      sfd = memfd_create ("stdin", MFD_CLOEXEC);
      size_t off = 0;
      while (bytes && sfd >= 0 && off < blen)
        {
          ssize_t w = write (sfd, bytes + off, blen - off);
          if (w <= 0)
            break;
          off += (size_t) w;
        }
      free (bytes);
      if (sfd >= 0)
        lseek (sfd, 0, SEEK_SET);
      spec.stdin_fd = sfd;
    }
  struct corral_result res;
  struct corral_error err = { 0 };
  char *out;
  if (corral_run (&spec, &res, &err) < 0)
    out = detail (err.msg);
  else
    {
      out = corral_result_json (&res, false);
      corral_result_free (&res);
    }
  if (sfd >= 0)
    close (sfd);
  free (av);
  free (ev);
  return out;
}
