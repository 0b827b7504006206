/* eval.h - the evaluation driver: scores code-model samples exactly like
 * the reference harnesses, each sample in its own corral sandbox, fanned
 * out over a fork-based worker pool.  A client of corral.h like any other. */
#ifndef CORRAL_EVAL_H
#define CORRAL_EVAL_H

#include "corral.h"

#define EVAL_MAX_PARTS 6

struct eval_opts {
  const char *problems;   /* dataset file (JSONL, .gz allowed) */
  /* LiveCodeBench: the problems are these files in order (an official
   * release: see eval_dataset_resolve), not `problems`; NULL-ended. */
  const char *problem_parts[EVAL_MAX_PARTS + 1];
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
  const char *release;    /* the release named, for the summary (NULL = a local file) */
  /* The sandboxes' root: an image's layers (corral.h's lowers); none = the
   * host view.  path_env: "PATH=..." from the image, NULL = the default. */
  const char *lowers_base;
  const char *const *lowers;
  size_t n_lowers;
  const char *path_env;
  const char *remote;     /* run every sandbox on these corral servers (URL,URL...) */
  bool warm;              /* samples forked from a warm interpreter per worker */
};

/* corral_run here, or on o->remote's servers (one client per process). */
int eval_run (const struct eval_opts *o, const struct corral_spec *spec, struct corral_result *res,
              struct corral_error *err);
/* A worker's end: stops its warm interpreter, if it has one. */
void eval_run_finish (void);

/* Sets spec's root file system and env[0] (PATH) from o. */
void eval_spec_root (const struct eval_opts *o, struct corral_spec *spec, char **env);

/* 0: scored (bad rows, reported on stderr, make it 1); -1 with err when
 * the run could not be done; 2 when interrupted (what finished is written). */
int eval_humaneval (const struct eval_opts *o, struct corral_error *err);
int eval_livecodebench (const struct eval_opts *o, struct corral_error *err);

/* Is NAME a dataset that eval_dataset_resolve downloads? */
bool eval_dataset_known (const char *name);
/* The official files of dataset NAME ("humaneval", "livecodebench"),
 * downloaded once each into the cache; paths[] gets their names (malloc'd,
 * NULL-ended, at most EVAL_MAX_PARTS).  For livecodebench, release picks the
 * files as lcb_runner's --release_version does: release_v1..release_v6 (the
 * files of that release and all before it), release_latest (all: the
 * default, NULL), v1..v6 (the problems that release added). */
int eval_dataset_resolve (const char *name, const char *release, char **paths,
                          struct corral_error *err);
/* The files [first, last] (1..6) of a LiveCodeBench release name; -1 if
 * it is not one. */
int eval_lcb_release (const char *release, unsigned *first, unsigned *last);

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
