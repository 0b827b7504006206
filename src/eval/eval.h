/* eval.h - the evaluation driver: scores code-model samples exactly like
 * the reference harnesses, each sample in its own corral sandbox, fanned
 * out over a fork-based worker pool.  A client of corral.h like any other. */
#ifndef CORRAL_EVAL_H
#define CORRAL_EVAL_H

#include "corral.h"

struct eval_opts {
  const char *problems;   /* dataset file (JSONL, .gz allowed) */
  const char *samples;    /* samples file */
  const char *out;        /* results file; NULL = default name */
  unsigned jobs;          /* workers */
  double timeout;         /* seconds: per sample (HumanEval) or per test (LCB) */
  unsigned ks[8];         /* pass@k to report */
  size_t n_ks;
  bool json;              /* machine-readable summary on stdout */
  bool resume;            /* skip samples already in the results file */
  bool progress;          /* progress line on stderr */
  uint64_t memory, pids;  /* sandbox limits */
  const char *python;     /* interpreter inside the sandbox */
  const struct corral_policy *policy;
  bool fenced;            /* samples are raw model answers: extract the code */
  /* LiveCodeBench question filters (NULL = all) */
  const char *platform, *difficulty, *start_date, *end_date;
};

/* 0: scored (bad rows, reported on stderr, make it 1); -1 with err when
 * the run could not be done; 2 when interrupted (what finished is written). */
int eval_humaneval (const struct eval_opts *o, struct corral_error *err);
int eval_livecodebench (const struct eval_opts *o, struct corral_error *err);

/* NAME "humaneval" or "livecodebench" (and no file of that name here):
 * the official dataset, downloaded once into the cache; path gets its
 * file.  Anything else is a path, returned as it is. */
int eval_dataset_resolve (const char *name, char *path, size_t len, struct corral_error *err);

/* Unbiased pass@k for one task with n samples, c correct. */
double eval_pass_at_k (unsigned n, unsigned c, unsigned k);

/* Writes a fresh random nonce of 24 hex characters (+NUL) into out. */
void eval_nonce (char out[25]);

/* The runner's verdict line in a sandbox's stdout: the JSON string after
 * the last line starting with nonce, decoded (malloc'd), or NULL. */
char *eval_find_verdict (const char *out, const char *nonce);

/* The reference code extraction from a raw model answer (lcb_runner's
 * extract_code): the lines between the last two lines that contain ```;
 * "" when there are fewer than two.  malloc'd. */
char *eval_extract_fenced (const char *answer);

/* The progress line on stderr: bar, rate, ETA, passed so far; a newline
 * when last. */
void eval_progress (size_t done, size_t total, size_t passed, uint64_t t0_ms, bool last);

/* o[k] if it is a JSON string, else NULL (o may be NULL). */
struct cJSON;
const char *eval_str_field (const struct cJSON *o, const char *k);

/* Small I/O and clock helpers (the core's internals are not ours to use). */
int eval_write_all (int fd, const void *buf, size_t len);
uint64_t eval_now_ms (void);

#endif
