/* jupyter.c - SandboxFusion's /run_jupyter in a worker: the cells run in a
 * Jupyter kernel inside one sandbox, driven by jupyter_driver.py (run as a
 * /run_code python job, so files, fetch_files, limits and the work
 * directory are /run_code's).  As upstream: the driver gets total_timeout +
 * 10 s; status Success with the cells when it finished, Failed (no cells)
 * when it did not; SandboxError naming what is missing when the root has no
 * Python, jupyter_client or kernel. */
#include "config.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

extern const char corral_jupyter_driver_py[];

#define OUT_FILE ".corral-jupyter.json"

static cJSON *
jupyter_error (const char *msg, cJSON *driver)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "status", "SandboxError");
  cJSON_AddStringToObject (o, "message", msg);
  cJSON_AddItemToObject (o, "driver", driver ? driver : cJSON_CreateNull ());
  cJSON_AddArrayToObject (o, "cells");
  cJSON_AddNullToObject (o, "executor_pod_name");
  cJSON_AddObjectToObject (o, "files");
  return o;
}

cJSON *
serve_run_jupyter (const cJSON *req, const struct serve_root *root, const struct serve_limits *lim,
                   const char *workdir)
{
  char where[256];
  if (!serve_root_has (root, "python3", where, sizeof where))
    return jupyter_error ("run_jupyter needs python3 with jupyter_client and ipykernel, which this "
                          "server's root file system does not have", NULL);
  const cJSON *v;
  double total = 45;
  if (cJSON_IsNumber (v = cJSON_GetObjectItemCaseSensitive (req, "total_timeout")))
    total = v->valuedouble;

  /* the driver's input, on its stdin */
  cJSON *in = cJSON_CreateObject ();
  const char *kernel = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (req, "kernel"));
  cJSON_AddStringToObject (in, "kernel", kernel ? kernel : "python3");
  cJSON_AddItemToObject (in, "cells", cJSON_Duplicate (cJSON_GetObjectItemCaseSensitive (req, "cells"), 1));
  v = cJSON_GetObjectItemCaseSensitive (req, "cell_timeout");
  cJSON_AddNumberToObject (in, "cell_timeout", cJSON_IsNumber (v) ? v->valuedouble : 0);
  char *in_text = cJSON_PrintUnformatted (in);
  cJSON_Delete (in);

  cJSON *job = cJSON_CreateObject ();
  cJSON_AddStringToObject (job, "language", "python");
  cJSON_AddStringToObject (job, "code", corral_jupyter_driver_py);
  cJSON_AddStringToObject (job, "stdin", in_text ? in_text : "{}");
  free (in_text);
  cJSON_AddNumberToObject (job, "run_timeout", total + 10);
  /* The driver is the job's main.py: as upstream (which copies its main.py
   * after the request's files), a file of that name in the request does
   * not replace it. */
  const cJSON *files = cJSON_GetObjectItemCaseSensitive (req, "files");
  if (cJSON_IsObject (files))
    {
      cJSON *copy = cJSON_Duplicate (files, 1);
      cJSON_DeleteItemFromObjectCaseSensitive (copy, "main.py");
      cJSON_DeleteItemFromObjectCaseSensitive (copy, "./main.py");
      cJSON_DeleteItemFromObjectCaseSensitive (copy, "/sandbox/main.py");
      cJSON_AddItemToObject (job, "files", copy);
    }
  /* the driver's output is fetched last and taken out of `files` */
  cJSON *ff = cJSON_AddArrayToObject (job, "fetch_files");
  const cJSON *f;
  cJSON_ArrayForEach (f, cJSON_GetObjectItemCaseSensitive (req, "fetch_files"))
    {
      const char *base = cJSON_IsString (f) ? strrchr (f->valuestring, '/') : NULL;
      base = base ? base + 1 : cJSON_IsString (f) ? f->valuestring : NULL;
      if (base && strcmp (base, OUT_FILE) != 0)
        cJSON_AddItemToArray (ff, cJSON_CreateString (f->valuestring));
    }
  cJSON_AddItemToArray (ff, cJSON_CreateString (OUT_FILE));

  cJSON *r = serve_run_code (job, root, lim, workdir, NULL);
  cJSON_Delete (job);
  const char *st = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (r, "status"));
  if (st && strcmp (st, "SandboxError") == 0)
    {
      const char *m = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (r, "message"));
      cJSON *o = jupyter_error (m ? m : "the driver failed",
                                cJSON_DetachItemFromObjectCaseSensitive (r, "run_result"));
      cJSON_Delete (r);
      return o;
    }
  cJSON *driver = cJSON_DetachItemFromObjectCaseSensitive (r, "run_result");
  cJSON *got = cJSON_GetObjectItemCaseSensitive (r, "files");
  cJSON *outb = cJSON_DetachItemFromObjectCaseSensitive (got, OUT_FILE);
  size_t n = 0;
  unsigned char *raw = cJSON_IsString (outb) ? base64_decode (outb->valuestring, &n) : NULL;
  cJSON_Delete (outb);
  cJSON *output = raw ? cJSON_ParseWithLength ((const char *) raw, n) : NULL;
  free (raw);
  const char *ost = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (output, "status"));
  const char *dst = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (driver, "status"));
  cJSON *o;
  if (ost && strcmp (ost, "NoKernel") == 0)
    {
      const char *m = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (output, "message"));
      o = jupyter_error (m ? m : "no Jupyter kernel in this root file system", driver);
    }
  else
    {
      bool finished = dst && strcmp (dst, "Finished") == 0 && ost && strcmp (ost, "Finished") == 0
                      && cJSON_IsArray (cJSON_GetObjectItemCaseSensitive (output, "cells"));
      o = cJSON_CreateObject ();
      cJSON_AddStringToObject (o, "status", finished ? "Success" : "Failed");
      cJSON_AddStringToObject (o, "message", "");
      cJSON_AddItemToObject (o, "driver", driver ? driver : cJSON_CreateNull ());
      cJSON_AddItemToObject (o, "cells", finished ? cJSON_DetachItemFromObjectCaseSensitive (output, "cells")
                                                  : cJSON_CreateArray ());
      cJSON_AddNullToObject (o, "executor_pod_name");
      cJSON_AddItemToObject (o, "files", finished ? cJSON_DetachItemFromObjectCaseSensitive (r, "files")
                                                  : cJSON_CreateObject ());
    }
  cJSON_Delete (output);
  cJSON_Delete (r);
  return o;
}
