/* result.c - the result as one JSON object (the contract documented in
 * corral-run(1)). */
#include "internal.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *
add_text (cJSON *o, const char *key, const char *s, size_t len)
{
  char *clean = corral_utf8_sanitize (s ? s : "", s ? len : 0);
  cJSON *v = cJSON_AddStringToObject (o, key, clean ? clean : "");
  free (clean);
  return v;
}

char *
corral_result_json (const struct corral_result *r, bool pretty)
{
  cJSON *o = cJSON_CreateObject ();
  if (o == NULL)
    return NULL;
  cJSON_AddStringToObject (o, "status", corral_status_name (r->status));
  if (r->exit_code >= 0)
    cJSON_AddNumberToObject (o, "exit_code", r->exit_code);
  else
    cJSON_AddNullToObject (o, "exit_code");
  if (r->signal)
    cJSON_AddNumberToObject (o, "signal", r->signal);
  else
    cJSON_AddNullToObject (o, "signal");
  cJSON_AddNumberToObject (o, "wall_ms", (double) r->wall_ms);
  cJSON_AddNumberToObject (o, "cpu_ms", (double) r->cpu_ms);
  cJSON_AddNumberToObject (o, "memory_peak_bytes", (double) r->memory_peak_bytes);
  cJSON_AddStringToObject (o, "memory_peak_source",
                           r->memory_peak_source == CORRAL_BE_RLIMIT
                               ? "ru_maxrss"
                               : corral_backend_name (r->memory_peak_source));
  cJSON_AddBoolToObject (o, "oom_killed", r->oom_killed);
  add_text (o, "stdout", r->out, r->out_len);
  add_text (o, "stderr", r->err, r->err_len);
  cJSON_AddBoolToObject (o, "stdout_truncated", r->out_truncated);
  cJSON_AddBoolToObject (o, "stderr_truncated", r->err_truncated);
  if (r->status == CORRAL_SYS && r->syscall[0])
    cJSON_AddStringToObject (o, "syscall", r->syscall);
  else
    cJSON_AddNullToObject (o, "syscall");
  if (r->tle_kind)
    cJSON_AddStringToObject (o, "tle", r->tle_kind);
  else
    cJSON_AddNullToObject (o, "tle");
  add_text (o, "reason", r->reason, strlen (r->reason));
  cJSON *limits = cJSON_AddObjectToObject (o, "limits");
  for (int i = 0; i < CORRAL_LIM_COUNT; i++)
    {
      cJSON *l = cJSON_AddObjectToObject (limits, corral_limit_name (i));
      if (r->limits[i].value == CORRAL_NO_LIMIT)
        cJSON_AddNullToObject (l, "value");
      else
        cJSON_AddNumberToObject (l, "value", (double) r->limits[i].value);
      cJSON_AddStringToObject (l, "backend", corral_backend_name (r->limits[i].backend));
    }
  char *s = pretty ? cJSON_Print (o) : cJSON_PrintUnformatted (o);
  cJSON_Delete (o);
  return s;
}

/* ---- the inverse, for results that come back from a server ---------------- */

static int
find_name (const char *name, const char *(*namer) (int), int n)
{
  for (int i = 0; name && i < n; i++)
    if (strcmp (namer (i), name) == 0)
      return i;
  return -1;
}

static const char *
status_namer (int i)
{
  return corral_status_name ((enum corral_status) i);
}

static const char *
backend_namer (int i)
{
  return corral_backend_name ((enum corral_backend) i);
}

static char *
dup_text (const cJSON *o, const char *k, size_t *len)
{
  const char *v = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (o, k));
  *len = v ? strlen (v) : 0;
  return strdup (v ? v : "");
}

/* A count of k: absent or null leaves *out; a number in [0, 2^64) is
 * taken (whole part); anything else is -1 (a cast would be undefined). */
static int
get_count (const cJSON *o, const char *k, uint64_t *out)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, k);
  if (v == NULL || cJSON_IsNull (v))
    return 0;
  if (!cJSON_IsNumber (v) || !(v->valuedouble >= 0 && v->valuedouble < 18446744073709551616.0))
    return -1;
  *out = (uint64_t) v->valuedouble;
  return 0;
}

/* An int of k (an exit code, a signal): absent or null leaves *out. */
static int
get_int (const cJSON *o, const char *k, int *out)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, k);
  if (v == NULL || cJSON_IsNull (v))
    return 0;
  if (!cJSON_IsNumber (v) || !(v->valuedouble >= INT_MIN && v->valuedouble <= INT_MAX))
    return -1;
  *out = (int) v->valuedouble;
  return 0;
}

int
corral_result_from_json (const char *text, struct corral_result *r, struct corral_error *err)
{
  memset (r, 0, sizeof *r);
  r->exit_code = -1;
  cJSON *o = cJSON_Parse (text);
  int st = find_name (cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (o, "status")),
                      status_namer, CORRAL_IE + 1);
  if (!cJSON_IsObject (o) || st < 0)
    {
      cJSON_Delete (o);
      return corral_fail (err, 0, "not a corral result");
    }
  r->status = (enum corral_status) st;
  const char *bad = get_int (o, "exit_code", &r->exit_code) < 0  ? "exit_code"
                    : get_int (o, "signal", &r->signal) < 0        ? "signal"
                    : get_count (o, "wall_ms", &r->wall_ms) < 0    ? "wall_ms"
                    : get_count (o, "cpu_ms", &r->cpu_ms) < 0      ? "cpu_ms"
                    : get_count (o, "memory_peak_bytes", &r->memory_peak_bytes) < 0 ? "memory_peak_bytes"
                                                                   : NULL;
  if (bad)
    {
      cJSON_Delete (o);
      return corral_fail (err, 0, "a corral result whose \"%s\" is not %s", bad,
                          bad[0] == 'e' || bad[0] == 's' ? "an int" : "a count (0 to 2^64-1)");
    }
  const char *src = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (o, "memory_peak_source"));
  int b = src && strcmp (src, "ru_maxrss") == 0 ? CORRAL_BE_RLIMIT
                                                : find_name (src, backend_namer, CORRAL_BE_TMPFS + 1);
  r->memory_peak_source = b < 0 ? CORRAL_BE_NONE : (enum corral_backend) b;
  r->oom_killed = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (o, "oom_killed"));
  r->out = dup_text (o, "stdout", &r->out_len);
  r->err = dup_text (o, "stderr", &r->err_len);
  r->out_truncated = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (o, "stdout_truncated"));
  r->err_truncated = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (o, "stderr_truncated"));
  const char *sc = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (o, "syscall"));
  snprintf (r->syscall, sizeof r->syscall, "%s", sc ? sc : "");
  const char *tle = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (o, "tle"));
  r->tle_kind = tle && strcmp (tle, "cpu") == 0 ? "cpu" : tle && strcmp (tle, "wall") == 0 ? "wall" : NULL;
  const char *reason = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (o, "reason"));
  snprintf (r->reason, sizeof r->reason, "%s", reason ? reason : "");
  const cJSON *limits = cJSON_GetObjectItemCaseSensitive (o, "limits");
  for (int i = 0; i < CORRAL_LIM_COUNT; i++)
    {
      const cJSON *l = cJSON_GetObjectItemCaseSensitive (limits, corral_limit_name ((enum corral_limit_id) i));
      r->limits[i].value = CORRAL_NO_LIMIT;
      if (get_count (l, "value", &r->limits[i].value) < 0)
        {
          const char *name = corral_limit_name ((enum corral_limit_id) i);
          cJSON_Delete (o);
          corral_result_free (r);
          return corral_fail (err, 0, "a corral result whose limits.%s.value is not a count (0 to 2^64-1)",
                              name);
        }
      int be = find_name (cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (l, "backend")),
                          backend_namer, CORRAL_BE_TMPFS + 1);
      r->limits[i].backend = be < 0 ? CORRAL_BE_NONE : (enum corral_backend) be;
    }
  cJSON_Delete (o);
  return 0;
}
