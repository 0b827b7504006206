/* tools.c - ms-enclave's code tools, in a worker: python_executor,
 * shell_executor, multi_code_executor.  Each call is a fresh isolated run
 * against the sandbox's directory, mounted at its working_dir.
 * (file_operation needs no process: the server does it, enclave.c.) */
#include "config.h"
#include "serve.h"
#include "base64.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static cJSON *
tool_result (const char *tool, const char *status, double secs, const char *output, const char *error)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "status", status);
  cJSON_AddNumberToObject (o, "execution_time", secs);
  char ts[40];
  struct timespec t;
  clock_gettime (CLOCK_REALTIME, &t);
  struct tm tm;
  gmtime_r (&t.tv_sec, &tm);
  size_t n = strftime (ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (ts + n, sizeof ts - n, ".%06ld", t.tv_nsec / 1000);
  cJSON_AddStringToObject (o, "timestamp", ts);
  cJSON_AddStringToObject (o, "tool_name", tool);
  cJSON_AddStringToObject (o, "output", output ? output : "");
  cJSON_AddObjectToObject (o, "metadata");
  if (error && *error)
    cJSON_AddStringToObject (o, "error", error);
  else
    cJSON_AddNullToObject (o, "error");
  return o;
}

static const char *
str (const cJSON *o, const char *k)
{
  return cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (o, k));
}

static double
num (const cJSON *o, const char *k, double def)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, k);
  return cJSON_IsNumber (v) && v->valuedouble > 0 ? v->valuedouble : def;
}

/* ToolResult from one step: timeout / success (exit 0) / error. */
static cJSON *
from_step (const char *tool, cJSON *sub, bool internal, double timeout)
{
  const char *st = str (sub, "status");
  const char *out = str (sub, "stdout"), *err = str (sub, "stderr");
  const cJSON *rc = cJSON_GetObjectItemCaseSensitive (sub, "return_code");
  double secs = num (sub, "execution_time", 0);
  cJSON *r;
  char msg[128];
  if (internal)
    r = tool_result (tool, "error", secs, out, err);
  else if (strcmp (st, "TimeLimitExceeded") == 0)
    {
      snprintf (msg, sizeof msg, "Command timed out after %g seconds", timeout);
      r = tool_result (tool, "timeout", secs, out, err && *err ? err : msg);
    }
  else if (cJSON_IsNumber (rc) && rc->valuedouble == 0)
    r = tool_result (tool, "success", secs, out, err);
  else
    {
      snprintf (msg, sizeof msg, "Command failed with exit code %d", cJSON_IsNumber (rc) ? rc->valueint : -1);
      r = tool_result (tool, "error", secs, out, err && *err ? err : msg);
    }
  cJSON_Delete (sub);
  return r;
}

cJSON *
serve_tool (const cJSON *job, const struct serve_root *root, const struct serve_limits *lim)
{
  const char *tool = str (job, "tool");
  const cJSON *p = cJSON_GetObjectItemCaseSensitive (job, "params");
  const cJSON *cfg = cJSON_GetObjectItemCaseSensitive (job, "config");
  const char *dir = str (job, "dir");
  if (tool == NULL || dir == NULL)
    return tool_result (tool ? tool : "", "error", 0, "", "corral: bad tool job");
  struct serve_box box = { .dir = dir, .mount_at = str (cfg, "working_dir"), .memory = lim->memory,
                           .cpus_milli = CORRAL_NO_LIMIT, .net = CORRAL_NET_NONE };
  if (box.mount_at == NULL || box.mount_at[0] != '/')
    box.mount_at = "/sandbox";
  const cJSON *v;
  if (cJSON_IsNumber (v = cJSON_GetObjectItemCaseSensitive (cfg, "memory")) && v->valuedouble > 0)
    box.memory = (uint64_t) v->valuedouble;
  if (cJSON_IsNumber (v = cJSON_GetObjectItemCaseSensitive (cfg, "cpus_milli")) && v->valuedouble > 0)
    box.cpus_milli = (uint64_t) v->valuedouble;
  if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (cfg, "network")))
    box.net = CORRAL_NET_LOOPBACK; /* a network of its own; the host's is never given */
  const cJSON *envs = cJSON_GetObjectItemCaseSensitive (cfg, "env"), *e;
  char **env = calloc ((size_t) cJSON_GetArraySize (envs) + 1, sizeof *env);
  size_t ne = 0;
  cJSON_ArrayForEach (e, envs)
    if (env && cJSON_IsString (e))
      env[ne++] = e->valuestring;
  box.extra_env = env;
  char why[700];
  bool internal = false;
  cJSON *r;

  if (strcmp (tool, "python_executor") == 0 || strcmp (tool, "shell_executor") == 0)
    {
      double timeout = num (p, "timeout", 30);
      const char *argv_buf[260];
      const char *const *argv = argv_buf;
      char file[64] = "";
      if (strcmp (tool, "python_executor") == 0)
        {
          const char *code = str (p, "code");
          if (code == NULL)
            {
              free (env);
              return tool_result (tool, "error", 0, "", "parameter code: a string is required");
            }
          /* the code goes in a file of the sandbox's directory, as
           * ms-enclave does, and is removed after */
          snprintf (file, sizeof file, ".corral_exec_%d_%ld.py", (int) getpid (), (long) time (NULL));
          int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          int fd = dfd < 0 ? -1 : openat (dfd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
          bool ok = fd >= 0 && write (fd, code, strlen (code)) == (ssize_t) strlen (code);
          if (fd >= 0)
            {
              if (geteuid () == 0)
                fchown (fd, 65534, 65534);
              close (fd);
            }
          if (!ok)
            {
              if (dfd >= 0)
                close (dfd);
              free (env);
              return tool_result (tool, "error", 0, "", "corral: cannot write the code into the sandbox");
            }
          argv_buf[0] = "python3";
          argv_buf[1] = file;
          argv_buf[2] = NULL;
          struct serve_step st = { argv, timeout, -1 };
          r = from_step (tool, serve_step (&st, &box, root, lim, &internal, why, sizeof why), internal, timeout);
          unlinkat (dfd, file, 0);
          close (dfd);
          free (env);
          return r;
        }
      const cJSON *cmd = cJSON_GetObjectItemCaseSensitive (p, "command");
      if (cJSON_IsString (cmd))
        {
          argv_buf[0] = "sh";
          argv_buf[1] = "-c";
          argv_buf[2] = cmd->valuestring;
          argv_buf[3] = NULL;
        }
      else if (cJSON_IsArray (cmd) && cJSON_GetArraySize (cmd) > 0 && cJSON_GetArraySize (cmd) < 256)
        {
          size_t k = 0;
          cJSON_ArrayForEach (e, cmd)
            argv_buf[k++] = cJSON_IsString (e) ? e->valuestring : "";
          argv_buf[k] = NULL;
        }
      else
        {
          free (env);
          return tool_result (tool, "error", 0, "", "parameter command: a string or a list of strings is required");
        }
      struct serve_step st = { argv, timeout, -1 };
      r = from_step (tool, serve_step (&st, &box, root, lim, &internal, why, sizeof why), internal, timeout);
      free (env);
      return r;
    }

  if (strcmp (tool, "multi_code_executor") == 0)
    {
      /* SandboxFusion's rules, in the sandbox's own directory */
      cJSON *req = cJSON_CreateObject ();
      const char *lang = str (p, "language"), *code = str (p, "code");
      cJSON_AddStringToObject (req, "language", lang ? lang : "");
      cJSON_AddStringToObject (req, "code", code ? code : "");
      cJSON_AddNumberToObject (req, "compile_timeout", num (p, "compile_timeout", 30));
      cJSON_AddNumberToObject (req, "run_timeout", num (p, "run_timeout", 30));
      /* files: {name: content} as text */
      const cJSON *files = cJSON_GetObjectItemCaseSensitive (p, "files"), *f;
      if (cJSON_IsObject (files))
        {
          cJSON *fo = cJSON_AddObjectToObject (req, "files");
          cJSON_ArrayForEach (f, files)
            if (cJSON_IsString (f))
              {
                char *b = base64_encode (f->valuestring, strlen (f->valuestring));
                if (b)
                  cJSON_AddStringToObject (fo, f->string, b);
                free (b);
              }
        }
      if (lang == NULL || !serve_lang_known (lang) || code == NULL)
        {
          cJSON_Delete (req);
          free (env);
          return tool_result (tool, "error", 0, "", "parameters language (a known language) and code are required");
        }
      cJSON *ans = serve_run_code (req, root, lim, NULL, &box);
      cJSON_Delete (req);
      free (env);
      const char *st = str (ans, "status");
      const cJSON *cr = cJSON_GetObjectItemCaseSensitive (ans, "compile_result");
      const cJSON *rr = cJSON_GetObjectItemCaseSensitive (ans, "run_result");
      char *out = NULL, *err = NULL;
      size_t ol = 0, el = 0;
      FILE *fo = open_memstream (&out, &ol), *fe = open_memstream (&err, &el);
      if (cJSON_IsObject (cr))
        fprintf (fo, "%s\n", str (cr, "stdout") ? str (cr, "stdout") : "");
      if (cJSON_IsObject (rr))
        fprintf (fo, "%s", str (rr, "stdout") ? str (rr, "stdout") : "");
      if (cJSON_IsObject (cr) && str (cr, "stderr"))
        fprintf (fe, "%s", str (cr, "stderr"));
      if (cJSON_IsObject (rr) && str (rr, "stderr"))
        fprintf (fe, "%s", str (rr, "stderr"));
      if (strcmp (st, "SandboxError") == 0)
        fprintf (fe, "%s", str (ans, "message") ? str (ans, "message") : "");
      fclose (fo);
      fclose (fe);
      bool tle = (cJSON_IsObject (cr) && strcmp (str (cr, "status"), "TimeLimitExceeded") == 0)
                 || (cJSON_IsObject (rr) && strcmp (str (rr, "status"), "TimeLimitExceeded") == 0);
      double secs = (cJSON_IsObject (cr) ? num (cr, "execution_time", 0) : 0)
                    + (cJSON_IsObject (rr) ? num (rr, "execution_time", 0) : 0);
      r = tool_result (tool, strcmp (st, "Success") == 0 ? "success" : tle ? "timeout" : "error", secs,
                       out, err);
      free (out);
      free (err);
      cJSON_Delete (ans);
      return r;
    }
  free (env);
  snprintf (why, sizeof why, "tool %s is not run in a worker", tool);
  return tool_result (tool, "error", 0, "", why);
}
