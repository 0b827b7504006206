/* result.c - the result as one JSON object (the contract documented in
 * corral-run(1)). */
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
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
