/* serve-requests.c - the server's request bodies: SandboxFusion's
 * /run_code and /run_jupyter (src/serve/fusion.c), corral's /v1/run
 * (native.c) and the ms-enclave routes (enclave.c), each validated as the
 * server does.  An input is a series of requests separated by "\n\xff":
 * each one's first byte picks the endpoint, the rest is the body, and
 * "@ID" in it stands for the last sandbox made.
 * The job queue is replaced by one that is always full (504): what is
 * fuzzed is everything before a job exists. */
#include "config.h"
#include "fuzz.h"
#include "server.h"
#include "json-nul.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

char *
queue_run (const char *job_text, int *refused)
{
  (void) job_text;
  *refused = 504;
  return NULL;
}

void
queue_watch (int connection_fd)
{
  (void) connection_fd;
}

const char *
queue_refusal (int refused)
{
  return refused == 504 ? "queue full" : "refused";
}

void
queue_depth (size_t *queued, size_t *running)
{
  *queued = *running = 0;
}

static const char *
args (void *ctx, const char *name)
{
  (void) ctx;
  return strcmp (name, "sandbox_type") == 0 ? "docker" : NULL;
}

static const struct { const char *method, *url; } routes[] = {
  { "POST", "/run_code" },         { "POST", "/run_jupyter" },       { "POST", "/v1/run" },
  { "POST", "/sandbox/create" },   { "POST", "/sandbox/tool/execute" },
  { "POST", "/pool/initialize" },  { "POST", "/pool/execute" },      { "GET", "/sandbox/@ID" },
  { "DELETE", "/sandbox/@ID" },    { "GET", "/sandboxes" },          { "GET", "/stats" },
  { "POST", "/sandbox/@ID/archive" }, { "POST", "/sandbox/@ID/stop" }, { "GET", "/sandbox/@ID/tools" },
};

/* s with each "@ID" replaced by id (malloc'd) */
static char *
with_id (const char *s, size_t len, const char *id, size_t *out_len)
{
  size_t il = strlen (id), n = 0;
  char *o = malloc (len * (il > 3 ? il : 3) / 3 + il + 1);
  if (o == NULL)
    abort ();
  for (size_t i = 0; i < len;)
    if (i + 3 <= len && memcmp (s + i, "@ID", 3) == 0)
      {
        memcpy (o + n, id, il);
        n += il;
        i += 3;
      }
    else
      o[n++] = s[i++];
  o[n] = '\0';
  *out_len = n;
  return o;
}

/* One request: route byte, then the body; "@ID" is the last sandbox made. */
static void
one (const uint8_t *data, size_t size, char *last_id, size_t id_len)
{
  if (size == 0)
    return;
  size_t which = data[0] % (sizeof routes / sizeof *routes);
  size_t len, ul;
  char *body = with_id ((const char *) data + 1, size - 1, last_id, &len);
  char *url = with_id (routes[which].url, strlen (routes[which].url), last_id, &ul);
  char *out = NULL, verdict[32], where[320];
  /* as main.c's route(): a NUL inside a JSON string is a 400 first (an
   * archive upload is no JSON) */
  bool archive = strstr (url, "/archive") != NULL;
  if (archive || !json_find_nul (body, len, where, sizeof where))
    {
      if (which == 0)
        fusion_run_code (body, len, &out, verdict, sizeof verdict);
      else if (which == 1)
        fusion_run_jupyter (body, len, &out, verdict, sizeof verdict);
      else if (which == 2)
        native_run (body, len, &out, verdict, sizeof verdict);
      else if (enclave_route (routes[which].method, url, args, NULL, body, len, &out, verdict,
                              sizeof verdict) == 200)
        {
          cJSON *o = cJSON_Parse (out);
          const char *id = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (o, "sandbox_id"));
          if (id)
            snprintf (last_id, id_len, "%s", id);
          cJSON_Delete (o);
        }
    }
  free (out);
  free (url);
  free (body);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static bool ready;
  if (!ready)
    {
      char dir[160];
      snprintf (dir, sizeof dir, "%s/enclave", fuzz_tmpdir ());
      if (mkdir (dir, 0700) < 0)
        abort ();
      enclave_init (dir, 0);
      ready = true;
    }
  /* requests separated by "\n\xff" (never in a JSON text) */
  char last_id[64] = "none";
  while (size > 0)
    {
      const uint8_t *sep = memmem (data, size, "\n\xff", 2);
      size_t n = sep ? (size_t) (sep - data) : size;
      one (data, n, last_id, sizeof last_id);
      if (sep == NULL)
        break;
      data += n + 2;
      size -= n + 2;
    }
  enclave_shutdown (); /* each input starts with no sandboxes */
  return 0;
}
