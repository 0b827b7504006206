/* common.c - small pieces both benchmarks share: pass@k, nonces, verdict
 * lines. */
#include "config.h"
#include "eval.h"
#include "remote.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* The reference estimator (human-eval, LiveCodeBench):
 *   1                                   if n - c < k
 *   1 - prod_{i=n-c+1..n} (1 - k / i)   otherwise */
double
eval_pass_at_k (unsigned n, unsigned c, unsigned k)
{
  if (n < k || n - c < k)
    return 1.0;
  double prod = 1.0;
  for (unsigned i = n - c + 1; i <= n; i++)
    prod *= 1.0 - (double) k / (double) i;
  return 1.0 - prod;
}

void
eval_nonce (char out[25])
{
  unsigned char r[12];
  if (getrandom (r, sizeof r, 0) != (ssize_t) sizeof r)
    for (size_t i = 0; i < sizeof r; i++)
      r[i] = (unsigned char) rand ();
  for (size_t i = 0; i < sizeof r; i++)
    sprintf (out + 2 * i, "%02x", r[i]);
  out[24] = '\0';
}

char *
eval_find_verdict (const char *out, const char *nonce)
{
  if (out == NULL)
    return NULL;
  size_t nl = strlen (nonce);
  const char *found = NULL;
  for (const char *p = out; (p = strstr (p, nonce)) != NULL; p += nl)
    if (p == out || p[-1] == '\n')
      found = p + nl;
  if (found == NULL)
    return NULL;
  const char *end = strchr (found, '\n');
  size_t len = end ? (size_t) (end - found) : strlen (found);
  char *line = strndup (found, len);
  if (line == NULL)
    return NULL;
  cJSON *v = cJSON_Parse (line);
  free (line);
  char *s = NULL;
  if (cJSON_IsString (v))
    s = strdup (v->valuestring);
  cJSON_Delete (v);
  return s;
}

int
eval_write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

uint64_t
eval_now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

char *
eval_extract_fenced (const char *answer)
{
  /* positions of the lines that contain a fence */
  const char *prev = NULL, *last = NULL; /* starts of those lines */
  const char *prev_end = NULL;           /* end of the line `prev` */
  const char *last_end = NULL;
  for (const char *line = answer; line; )
    {
      const char *nl = strchr (line, '\n');
      size_t len = nl ? (size_t) (nl - line) : strlen (line);
      if (memmem (line, len, "```", 3) != NULL)
        {
          prev = last;
          prev_end = last_end;
          last = line;
          last_end = line + len;
        }
      line = nl ? nl + 1 : NULL;
    }
  if (prev == NULL)
    return strdup ("");
  /* from the line after `prev` up to the newline before `last` */
  const char *from = *prev_end ? prev_end + 1 : prev_end;
  const char *to = last > from ? last - 1 : from;
  return strndup (from, (size_t) (to - from));
}

void
eval_progress (size_t done, size_t total, size_t passed, uint64_t t0_ms, bool last)
{
  double el = (double) (eval_now_ms () - t0_ms) / 1000.0;
  double rate = el > 0 ? (double) done / el : 0;
  double eta = rate > 0 ? (double) (total - done) / rate : 0;
  int width = 30, fill = (int) (width * done / (total ? total : 1));
  fprintf (stderr, "\r[%.*s%*s] %zu/%zu  %.1f/s  ETA %.0fs  passed %zu ", fill,
           "##############################", width - fill, "", done, total, rate, eta, passed);
  if (last)
    fputc ('\n', stderr);
}

const char *
eval_str_field (const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, k);
  return cJSON_IsString (v) ? v->valuestring : NULL;
}

void
eval_spec_root (const struct eval_opts *o, struct corral_spec *spec, char **env)
{
  spec->lowers_base = o->lowers_base;
  spec->lowers = o->lowers;
  spec->n_lowers = o->n_lowers;
  if (o->path_env)
    env[0] = (char *) o->path_env;
}

/* One warm interpreter per worker process, started on its first sample
 * (after the fork); if it cannot start, or dies, the worker goes on cold,
 * having said why once.  The state is the worker's: a process that finds
 * another's (inherited over a fork) starts afresh. */
static struct corral_warm *warm;
static bool warm_off;
static pid_t warm_owner;

static void
warm_adopt (void)
{
  if (warm_owner != getpid ())
    {
      warm = NULL;
      warm_off = false;
      warm_owner = getpid ();
    }
}

static void
warm_give_up (const char *what, const char *why)
{
  fprintf (stderr, "corral: eval: %s (%s); samples start their own\n", what, why);
  corral_warm_stop (warm);
  warm = NULL;
  warm_off = true;
}

void
eval_run_finish (void)
{
  warm_adopt ();
  corral_warm_stop (warm);
  warm = NULL;
}

static int
run_warm (const struct corral_spec *spec, struct corral_result *res, struct corral_error *err)
{
  warm_adopt ();
  struct corral_error e = { 0 };
  if (warm == NULL && !warm_off && corral_warm_start (spec, &warm, &e) < 0)
    warm_give_up ("no warm interpreter", e.msg);
  if (warm)
    {
      struct corral_spec s = *spec;
      s.warm = warm;
      int r = corral_run (&s, res, &e);
      /* An internal error of a warm run (its interpreter died, its
       * sandbox could not be made) is ours, not the sample's: it runs
       * again, cold, as do the ones after it. */
      if (r == 0 && (res->status != CORRAL_IE || strncmp (res->reason, "interrupted", 11) == 0))
        return 0;
      if (r == 0)
        {
          snprintf (e.msg, sizeof e.msg, "%s", res->reason);
          corral_result_free (res);
        }
      warm_give_up ("the warm interpreter failed", e.msg);
    }
  return corral_run (spec, res, err);
}

int
eval_run (const struct eval_opts *o, const struct corral_spec *spec, struct corral_result *res,
          struct corral_error *err)
{
  if (o->remote == NULL && o->warm && spec->n_lowers == 0)
    return run_warm (spec, res, err);
  if (o->remote == NULL)
    return corral_run (spec, res, err);
  /* one client per worker process, made after the fork: its connections
   * stay open from one sample to the next */
  static struct corral_remote *client;
  static pid_t owner;
  if (client == NULL || owner != getpid ())
    {
      client = NULL;
      if (corral_remote_open (o->remote, &client, err) < 0)
        return -1;
      owner = getpid ();
    }
  return corral_remote_run (client, spec, res, err);
}
