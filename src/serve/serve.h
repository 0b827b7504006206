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

/* SandboxFusion's /run_code: job is the validated request; returns the
 * response object. */
cJSON *serve_run_code (const cJSON *job, const struct serve_root *root,
                       const struct serve_limits *lim, const char *workdir);

/* The worker process: answers jobs on fd until EOF.  Never returns. */
void serve_worker_main (int fd, const struct serve_root *root, const struct serve_limits *lim)
  __attribute__ ((noreturn));

/* Length-prefixed messages (wire.c). */
int serve_send (int fd, const char *text, size_t len);
/* Returns a malloc'd NUL-terminated message, or NULL on EOF/error. */
char *serve_recv (int fd, size_t max, size_t *len);

#endif
