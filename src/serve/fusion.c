/* fusion.c - SandboxFusion's POST /run_code and /run_jupyter: the request
 * checked as its FastAPI model checks it (422 with pydantic's error list
 * otherwise), then run as one job.  The response rules are worker.c's and
 * jupyter.c's. */
#include "config.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
add_error (cJSON *list, const char *type, const char *field, const char *msg, const cJSON *input)
{
  cJSON *e = cJSON_CreateObject ();
  cJSON_AddStringToObject (e, "type", type);
  cJSON *loc = cJSON_AddArrayToObject (e, "loc");
  cJSON_AddItemToArray (loc, cJSON_CreateString ("body"));
  if (field)
    cJSON_AddItemToArray (loc, cJSON_CreateString (field));
  cJSON_AddStringToObject (e, "msg", msg);
  cJSON_AddItemToObject (e, "input", input ? cJSON_Duplicate (input, 1) : cJSON_CreateNull ());
  cJSON_AddItemToArray (list, e);
}

static bool
is_int (const cJSON *v)
{
  return cJSON_IsNumber (v) && v->valuedouble == (double) (long long) v->valuedouble;
}

static char *
detail (cJSON *list)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddItemToObject (o, "detail", list);
  char *s = cJSON_PrintUnformatted (o);
  cJSON_Delete (o);
  return s;
}

/* files (path -> base64; null allowed by /run_code) and fetch_files. */
static void
check_files (cJSON *list, const cJSON *req, bool null_ok)
{
  const cJSON *files = cJSON_GetObjectItemCaseSensitive (req, "files"), *f;
  if (files && !cJSON_IsNull (files))
    {
      if (!cJSON_IsObject (files))
        add_error (list, "dict_type", "files", "Input should be a valid dictionary", files);
      else
        cJSON_ArrayForEach (f, files)
          if (!cJSON_IsString (f) && !(null_ok && cJSON_IsNull (f)))
            add_error (list, "string_type", "files", "Input should be a valid string", f);
    }
  const cJSON *ff = cJSON_GetObjectItemCaseSensitive (req, "fetch_files");
  if (ff && !cJSON_IsNull (ff))
    {
      if (!cJSON_IsArray (ff))
        add_error (list, "list_type", "fetch_files", "Input should be a valid list", ff);
      else
        cJSON_ArrayForEach (f, ff)
          if (!cJSON_IsString (f))
            add_error (list, "string_type", "fetch_files", "Input should be a valid string", f);
    }
}

/* The job's answer, or the refusal (queue full, shutting down, client
 * gone) in FastAPI's shape; the verdict for the log. */
static int
run_job (const char *kind, cJSON *req, char **out, char *verdict, size_t vlen)
{
  cJSON *job = cJSON_CreateObject ();
  cJSON_AddStringToObject (job, "kind", kind);
  cJSON_AddItemToObject (job, "request", req);
  char *text = cJSON_PrintUnformatted (job);
  cJSON_Delete (job);
  if (text == NULL)
    return 500;
  int refused;
  char *answer = queue_run (text, &refused);
  free (text);
  if (answer == NULL)
    {
      cJSON *d = cJSON_CreateObject ();
      cJSON_AddStringToObject (d, "detail", queue_refusal (refused));
      *out = cJSON_PrintUnformatted (d);
      cJSON_Delete (d);
      snprintf (verdict, vlen, "%s", refused == 504 ? "queue-full" : refused == 499 ? "abandoned"
                                                                                    : "shutting-down");
      return refused ? refused : 500;
    }
  cJSON *a = cJSON_Parse (answer);
  const char *st = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (a, "status"));
  snprintf (verdict, vlen, "%s", st ? st : "?");
  /* a worker that died (or a shutdown) answers in /run_code's shape: the
   * notebook endpoint's own instead */
  if (strcmp (kind, "jupyter") == 0 && a && !cJSON_GetObjectItemCaseSensitive (a, "cells"))
    {
      cJSON *o = cJSON_CreateObject ();
      cJSON_AddStringToObject (o, "status", st ? st : "SandboxError");
      const char *m = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (a, "message"));
      cJSON_AddStringToObject (o, "message", m ? m : "");
      cJSON_AddNullToObject (o, "driver");
      cJSON_AddArrayToObject (o, "cells");
      cJSON_AddNullToObject (o, "executor_pod_name");
      cJSON_AddObjectToObject (o, "files");
      free (answer);
      answer = cJSON_PrintUnformatted (o);
      cJSON_Delete (o);
    }
  cJSON_Delete (a);
  *out = answer;
  return answer ? 200 : 500;
}

/* The body as a JSON object, else the 422. */
static cJSON *
parse_body (const char *body, size_t len, char **out)
{
  cJSON *req = cJSON_ParseWithLength (body, len);
  if (cJSON_IsObject (req))
    return req;
  cJSON *list = cJSON_CreateArray ();
  if (req == NULL)
    add_error (list, "json_invalid", NULL, "JSON decode error", NULL);
  else
    add_error (list, "model_attributes_type", NULL, "Input should be a valid dictionary or object "
               "to extract fields from", req);
  cJSON_Delete (req);
  *out = detail (list);
  return NULL;
}

/* A number of seconds (a float field), 0 to a day; null too when the
 * field is Optional in SandboxFusion's model. */
static void
check_seconds (cJSON *list, const cJSON *req, const char *name, bool nullable)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (req, name);
  if (v == NULL || (nullable && cJSON_IsNull (v)))
    return;
  if (!cJSON_IsNumber (v) || v->valuedouble < 0 || v->valuedouble > 86400)
    add_error (list, "float_type", name, "Input should be a valid number from 0 to 86400", v);
}

int
fusion_run_code (const char *body, size_t len, char **out, char *verdict, size_t vlen)
{
  snprintf (verdict, vlen, "-");
  cJSON *req = parse_body (body, len, out);
  if (req == NULL)
    return 422;
  cJSON *list = cJSON_CreateArray ();
  const cJSON *code = cJSON_GetObjectItemCaseSensitive (req, "code");
  const cJSON *lang = cJSON_GetObjectItemCaseSensitive (req, "language");
  if (code == NULL)
    add_error (list, "missing", "code", "Field required", req);
  else if (!cJSON_IsString (code))
    add_error (list, "string_type", "code", "Input should be a valid string", code);
  if (lang == NULL)
    add_error (list, "missing", "language", "Field required", req);
  else if (!cJSON_IsString (lang) || !serve_lang_known (lang->valuestring))
    {
      char msg[700];
      snprintf (msg, sizeof msg, "Input should be one of: %s", serve_lang_names ());
      add_error (list, "enum", "language", msg, lang);
    }
  check_seconds (list, req, "compile_timeout", true);
  check_seconds (list, req, "run_timeout", true);
  const cJSON *mem = cJSON_GetObjectItemCaseSensitive (req, "memory_limit_MB");
  if (mem && !cJSON_IsNull (mem) && !is_int (mem))
    add_error (list, "int_type", "memory_limit_MB", "Input should be a valid integer", mem);
  else if (cJSON_IsNumber (mem) && mem->valuedouble > 1048576)
    add_error (list, "less_than_equal", "memory_limit_MB", "Input should be less than or equal to "
               "1048576", mem);
  const cJSON *in = cJSON_GetObjectItemCaseSensitive (req, "stdin");
  if (in && !cJSON_IsNull (in) && !cJSON_IsString (in))
    add_error (list, "string_type", "stdin", "Input should be a valid string", in);
  check_files (list, req, true);
  if (cJSON_GetArraySize (list) > 0)
    {
      *out = detail (list);
      cJSON_Delete (req);
      return 422;
    }
  cJSON_Delete (list);
  return run_job ("run_code", req, out, verdict, vlen);
}

int
fusion_run_jupyter (const char *body, size_t len, char **out, char *verdict, size_t vlen)
{
  snprintf (verdict, vlen, "-");
  cJSON *req = parse_body (body, len, out);
  if (req == NULL)
    return 422;
  cJSON *list = cJSON_CreateArray ();
  const cJSON *cells = cJSON_GetObjectItemCaseSensitive (req, "cells"), *c;
  if (cells == NULL)
    add_error (list, "missing", "cells", "Field required", req);
  else if (!cJSON_IsArray (cells))
    add_error (list, "list_type", "cells", "Input should be a valid list", cells);
  else
    cJSON_ArrayForEach (c, cells)
      if (!cJSON_IsString (c))
        add_error (list, "string_type", "cells", "Input should be a valid string", c);
  check_seconds (list, req, "cell_timeout", false);
  check_seconds (list, req, "total_timeout", false);
  const cJSON *k = cJSON_GetObjectItemCaseSensitive (req, "kernel");
  if (k && (!cJSON_IsString (k) || strcmp (k->valuestring, "python3") != 0))
    add_error (list, "literal_error", "kernel", "Input should be 'python3'", k);
  check_files (list, req, false);
  if (cJSON_GetArraySize (list) > 0)
    {
      *out = detail (list);
      cJSON_Delete (req);
      return 422;
    }
  cJSON_Delete (list);
  return run_job ("jupyter", req, out, verdict, vlen);
}
