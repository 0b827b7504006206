/* serve.h - `corral serve`: an HTTP server that speaks SandboxFusion's
 * /run_code and the ms-enclave server API, on the isolation core.
 *
 * The server is its own program (corral-serve, which `corral serve` execs)
 * so that `corral` itself never loads libmicrohttpd and its TLS stack.  It
 * is two kinds of process:
 *   the server   libmicrohttpd, one thread per connection; requests that run
 *                code become jobs on a bounded queue (504 when it is full);
 *                one dispatcher thread per worker feeds it jobs;
 *   the workers  single-threaded processes started with posix_spawn (the
 *                isolation core's clone3 must not run in a threaded process),
 *                each running one job at a time in fresh sandboxes.
 * A job and its answer are JSON, each sent as a 4-byte length and the text
 * over a socketpair. */
#ifndef CORRAL_SERVE_H
#define CORRAL_SERVE_H

#include "corral.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- languages (lang.c) ---------------------------------------------------- */

struct lang {
  const char *name;        /* as SandboxFusion spells it */
  const char *file;        /* the source file, in the work directory */
  const char *const *compile; /* argv, or NULL */
  const char *const *run;     /* argv */
  const char *tool;        /* the program that must exist in the root */
  const char *alt_tool;    /* or this one (python: python3) */
};

/* NULL when SandboxFusion has no such language; a known language corral
 * cannot run has run == NULL. */
const struct lang *serve_lang (const char *name);
bool serve_lang_known (const char *name);
/* Comma-separated list of SandboxFusion's languages, for messages. */
const char *serve_lang_names (void);

/* ---- the root the sandboxes run on ----------------------------------------- */

struct serve_root {
  const char *lowers_base;   /* image layers (corral.h), or NULL: the host view */
  const char *const *lowers;
  size_t n_lowers;
  const char *path_env;      /* "PATH=..." */
};

/* Whether the root has an executable named tool in PATH's directories;
 * full gets its path inside the root. */
bool serve_root_has (const struct serve_root *root, const char *tool, char *full, size_t len);

/* ---- jobs (worker.c) --------------------------------------------------------- */

struct serve_limits {
  uint64_t memory, pids, output;
  const struct corral_policy *policy;
};

/* Where a run happens: a host directory mounted at mount_at (its cwd),
 * limits, network, extra environment ("K=V", NULL-terminated or NULL). */
struct serve_box {
  const char *dir;
  const char *mount_at;
  uint64_t memory, cpus_milli;
  enum corral_net net;
  char **extra_env;
};

struct serve_step {
  const char *const *argv;
  double timeout;
  int stdin_fd;   /* -1: empty */
};

/* One run: a SandboxFusion sub-result object ({status, execution_time,
 * return_code, stdout, stderr}); *internal when the sandbox failed. */
cJSON *serve_step (const struct serve_step *st, const struct serve_box *box,
                   const struct serve_root *root, const struct serve_limits *lim, bool *internal,
                   char *why, size_t whylen);
bool serve_step_failed (const cJSON *sub);

/* SandboxFusion's /run_code: job is the validated request; returns the
 * response object.  box NULL: in a fresh work directory under workdir;
 * else in box's directory, which stays. */
cJSON *serve_run_code (const cJSON *job, const struct serve_root *root,
                       const struct serve_limits *lim, const char *workdir,
                       const struct serve_box *box);

/* SandboxFusion's /run_jupyter (jupyter.c): req is the validated request;
 * returns the response object. */
cJSON *serve_run_jupyter (const cJSON *req, const struct serve_root *root,
                          const struct serve_limits *lim, const char *workdir);

/* ms-enclave's tools (tools.c): job {"tool", "params", "dir", "config"};
 * returns a ToolResult. */
cJSON *serve_tool (const cJSON *job, const struct serve_root *root, const struct serve_limits *lim);

/* The worker process: answers jobs on fd until EOF.  Never returns. */
void serve_worker_main (int fd, const struct serve_root *root, const struct serve_limits *lim)
  __attribute__ ((noreturn));

/* Length-prefixed messages (wire.c). */
int serve_send (int fd, const char *text, size_t len);
/* Returns a malloc'd NUL-terminated message, or NULL on EOF/error. */
char *serve_recv (int fd, size_t max, size_t *len);

#endif
