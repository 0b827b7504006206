/* pool.h - a fork-based worker pool for the evaluator.  Each worker is a
 * single-threaded process (corral_run needs that) forked after the data is
 * loaded, so a job is just an index.  Results come back as short records
 * over one pipe. */
#ifndef CORRAL_EVAL_POOL_H
#define CORRAL_EVAL_POOL_H

#include "corral.h"

#define EVAL_RECORD_MAX 3800 /* result payload bytes: one atomic pipe write */

/* Runs in a worker: fills out (at most EVAL_RECORD_MAX bytes), returns the
 * length.  Must not exit. */
typedef size_t (*eval_job_fn) (void *ctx, size_t index, char *out);
/* Runs in the parent for each finished job, in completion order. */
typedef void (*eval_done_fn) (void *ctx, size_t index, const char *rec, size_t len);

/* Runs jobs 0..n_jobs-1 except those with skip[i] on `workers` processes.
 * Returns 0 when every job ran, 1 when interrupted (eval_pool_interrupt)
 * after delivering what finished, -1 with err on failure.  A worker that
 * dies mid-job is replaced and its job is reported with an IE record. */
int eval_pool_run (unsigned workers, size_t n_jobs, const bool *skip, eval_job_fn job,
                   eval_done_fn done, void *ctx, struct corral_error *err);

/* From a signal handler: stop dispatching, kill every sandbox, return. */
void eval_pool_interrupt (void);

/* Half the online CPUs, at least 1: the default -j. */
unsigned eval_default_jobs (void);

#endif
