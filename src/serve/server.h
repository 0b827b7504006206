/* server.h - the server process's parts (see serve.h for the design). */
#ifndef CORRAL_SERVER_H
#define CORRAL_SERVER_H

#include "serve.h"

/* queue.c */
int queue_start (char **worker_argv, size_t workers, size_t capacity);
/* Runs a job: blocks until its answer (malloc'd JSON text).  NULL with
 * *refused = 504 when the queue is full, 503 when shutting down, 499 when
 * the client of the connection queue_watch named (for this thread) hung
 * up; queue_refusal says which in words. */
char *queue_run (const char *job_text, int *refused);
void queue_watch (int connection_fd);
const char *queue_refusal (int refused);
void queue_depth (size_t *queued, size_t *running);
void queue_stop (double grace_s);

/* fusion.c: SandboxFusion's /run_code.  Validates body; returns the HTTP
 * status and sets *out to the response text (malloc'd) and *verdict to the
 * run's status for the log and metrics. */
int fusion_run_code (const char *body, size_t len, char **out, char *verdict, size_t vlen);
int fusion_run_jupyter (const char *body, size_t len, char **out, char *verdict, size_t vlen);

/* enclave.c: the ms-enclave API.  state_dir holds the sandboxes'
 * directories.  enclave_route returns the HTTP status, or 0 when url is not
 * one of its routes; arg(ctx, name) gives a query parameter. */
/* idle_s > 0: sandboxes of /sandbox/create unused that long are deleted. */
void enclave_init (const char *state_dir, double idle_s);
int enclave_route (const char *method, const char *url, const char *(*arg) (void *, const char *),
                   void *ctx, const char *body, size_t len, char **out, char *verdict, size_t vlen);
size_t enclave_active (void);
void enclave_quiesce (void);
void enclave_shutdown (void);

/* native.c: corral's POST /v1/run (what --remote clients send). */
int native_run (const char *body, size_t len, char **out, char *verdict, size_t vlen);
char *native_job (const cJSON *job, const struct serve_root *root, const struct serve_limits *lim);

/* metrics.c */
void metrics_request (const char *path, int status, double secs, const char *verdict);
char *metrics_text (void);

#endif
