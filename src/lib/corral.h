/* corral.h - the isolation core: a run spec in, a typed result out.
 *
 * This is the only header that the CLI, the evaluator and the server use.
 * A run is a value: build a struct corral_spec, call corral_run(), read the
 * struct corral_result.  Many runs may be in flight at once from different
 * processes; nothing here keeps global mutable state except caches that are
 * filled once (host probe, compiled policies).
 *
 * Errors are values: functions that can fail take a struct corral_error *
 * and return a negative number; the message is built where the failure
 * happened and printed once by the caller.
 */
#ifndef CORRAL_H
#define CORRAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CORRAL_ERR_MSG 512

struct corral_error {
  int code;                  /* errno-like, 0 when unset */
  char msg[CORRAL_ERR_MSG];  /* one human sentence */
};

/* Sets err (if not NULL) and returns -1.  errnum 0 means "no errno text". */
int corral_fail (struct corral_error *err, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* ---- verdicts ---------------------------------------------------------- */

enum corral_status {
  CORRAL_OK = 0, /* exited with code 0 */
  CORRAL_RE,     /* exited with a non-zero code */
  CORRAL_SIG,    /* killed by a signal it did not get from us */
  CORRAL_TLE,    /* CPU or wall time limit */
  CORRAL_MLE,    /* memory limit (OOM kill in its cgroup) */
  CORRAL_OLE,    /* output or file size limit */
  CORRAL_SYS,    /* forbidden system call (seccomp) */
  CORRAL_IE,     /* internal error: the sandbox could not be set up */
};

const char *corral_status_name (enum corral_status s);

/* ---- host facts, probed once -------------------------------------------- */

enum corral_cgroup_mode {
  CORRAL_CG_NONE = 0, /* no usable cgroup: rlimit fallbacks */
  CORRAL_CG_V2,       /* unified hierarchy with the controllers we need */
  CORRAL_CG_HYBRID,   /* v1 controllers (memory, pids, cpu), v2 mount for kill/cpu.stat */
  CORRAL_CG_V1,       /* v1 only */
};

enum corral_backend {
  CORRAL_BE_NONE = 0, /* not enforced */
  CORRAL_BE_CG2,      /* cgroup v2 */
  CORRAL_BE_CG1,      /* cgroup v1 */
  CORRAL_BE_RLIMIT,   /* setrlimit on the program */
  CORRAL_BE_TIMER,    /* supervisor timer / poll */
  CORRAL_BE_PIPE,     /* supervisor pipe reader */
  CORRAL_BE_TMPFS,    /* tmpfs size= option */
};

const char *corral_backend_name (enum corral_backend b);

struct corral_host {
  bool is_root;                   /* euid 0 in the initial user namespace */
  enum corral_cgroup_mode cg_mode;
  char cg2_base[512];             /* v2 dir we create run cgroups under ("" if none) */
  bool cg2_memory, cg2_pids, cg2_cpu; /* controllers usable in cg2_base children */
  bool cg2_kill;                  /* cgroup.kill present */
  bool cg2_memory_peak;           /* memory.peak present (>= 5.19) */
  char cg1_memory[512], cg1_pids[512], cg1_cpu[512], cg1_cpuacct[512]; /* writable v1 dirs */
  bool cg1_memsw;                 /* memory.memsw.* present */
  bool clone_into_cgroup;         /* clone3(CLONE_INTO_CGROUP) works */
  bool userns;                    /* we can create a user namespace */
  char userns_problem[256];       /* why not, with the remedy */
  bool seccomp;                   /* seccomp filters available */
  bool seccomp_notify;            /* SECCOMP_RET_USER_NOTIF available */
  bool overlay_userns;            /* overlayfs mountable inside a user namespace */
  char kernel[128];
};

/* Probes the host once per process; later calls return the cached value. */
const struct corral_host *corral_host_get (void);
/* Kills what is left in the run cgroups of corral processes that are
 * gone (a supervisor killed with SIGKILL), and removes them.  Each
 * process does this once, before its first run; a server calls it as it
 * starts, for the runs of a server killed before it. */
void corral_reap_stale (void);
/* The host uids that own root's runs' user namespaces, one leased per
 * concurrent run (CORRAL_OWNER_UIDS=FIRST-LAST, else 1879048192-1879113727;
 * see owner.c); -1 when the variable is malformed. */
int corral_owner_range (uid_t *first, unsigned *count, struct corral_error *err);
/* Fresh probe, for `corral doctor`. */
int corral_host_probe (struct corral_host *h, struct corral_error *err);
/* The user's cache base: $XDG_CACHE_HOME if absolute, else $HOME/.cache;
 * corral keeps its caches in <base>/corral.  -1 if neither is set. */
int corral_cache_home (char *buf, size_t len);

/* ---- policies ------------------------------------------------------------ */

struct corral_policy; /* compiled seccomp filter, immutable, shareable */

/* NAME ("default", "none", ...) or a PATH containing '/'.  "none" gives
 * *out = NULL.  The result is cached per name for the process lifetime. */
int corral_policy_load (const char *name_or_path, struct corral_policy **out,
                        struct corral_error *err);
const char *corral_policy_name (const struct corral_policy *p);

/* ---- the run spec ------------------------------------------------------- */

enum corral_net { CORRAL_NET_LOOPBACK = 0, CORRAL_NET_NONE, CORRAL_NET_HOST };

enum corral_mount_kind { CORRAL_MOUNT_BIND, CORRAL_MOUNT_TMPFS };

struct corral_mount {
  enum corral_mount_kind kind;
  char *src;     /* host path (bind) */
  char *dst;     /* path inside the sandbox, absolute */
  bool ro;
  uint64_t size; /* tmpfs size in bytes (0 = default) */
};

#define CORRAL_NO_LIMIT UINT64_MAX

struct corral_spec {
  char **argv;             /* command, NULL-terminated; looked up in the sandbox PATH */
  char **env;              /* NULL-terminated "K=V" list; NULL = clean default */
  const char *cwd;         /* default "/sandbox" */
  int stdin_fd;            /* fd to give the program as stdin; -1 = empty */
  enum corral_net net;
  int userns;              /* -1 auto (when not root), 0 never, 1 always */
  uid_t uid;               /* program uid inside; (uid_t)-1 = default */
  gid_t gid;
  const char *hostname;    /* default "corral" */
  struct corral_mount *mounts;
  size_t n_mounts;
  uint64_t tmp_size, shm_size, sandbox_size; /* tmpfs sizes, bytes */

  /* The root file system.  n_lowers == 0: the host view (the embedded
   * default).  Otherwise an overlay of the directories lowers[] (the first
   * is the top layer: an image's layers, or one --rootfs directory), named
   * relative to lowers_base, with a writable upper layer on a tmpfs of
   * root_size bytes that is discarded after the run. */
  const char *lowers_base;
  const char *const *lowers;
  size_t n_lowers;
  uint64_t root_size;

  /* limits; CORRAL_NO_LIMIT when unset */
  uint64_t memory;         /* bytes */
  uint64_t pids;
  uint64_t cpus_milli;     /* 1000 = one CPU */
  uint64_t time_ms;        /* CPU time */
  uint64_t wall_ms;
  uint64_t output;         /* bytes, per stream */
  uint64_t fsize;          /* bytes */
  uint64_t nofile;
  uint64_t stack;          /* bytes */

  const struct corral_policy *policy; /* NULL = no seccomp */
  bool passthrough;        /* relay output to our fd 1/2 instead of capturing */

  /* Run the program's payload in this warm interpreter (corral_warm_start)
   * instead of starting it: argv, the root file system and mounts are the
   * interpreter's; everything else applies per run. */
  struct corral_warm *warm;
  /* The program keeps its capabilities in its own user namespace (no
   * seccomp either): for the warm interpreters alone, which run no
   * sample themselves. */
  bool keep_caps;
};

/* ---- warm interpreters ------------------------------------------------- */

/* A Python interpreter started once in a sandbox of its own, that runs
 * each run's payload in a fresh sandbox made inside its own (new
 * namespaces, tmpfs, cgroups, seccomp filter, no capabilities) by a fork
 * of itself: the interpreter's start-up is paid once, not per run.  spec
 * is as for corral_run with argv = { PYTHON, "-c", PAYLOAD }, the host
 * view or an image with that Python, and no extra mounts.  Runs through it
 * (spec->warm) must come from one thread at a time. */
struct corral_warm;
int corral_warm_start (const struct corral_spec *spec, struct corral_warm **out,
                       struct corral_error *err);
void corral_warm_stop (struct corral_warm *w);

/* The clean environment a run gets when spec->env is NULL (PATH, HOME,
 * LANG, TMPDIR), NULL-terminated; front ends add their variables to it. */
extern char *const corral_default_env[];

/* Fills the defaults documented in corral-run(1). */
void corral_spec_init (struct corral_spec *spec);

/* ---- the result ---------------------------------------------------------- */

enum corral_limit_id {
  CORRAL_LIM_MEMORY, CORRAL_LIM_PIDS, CORRAL_LIM_CPUS, CORRAL_LIM_TIME,
  CORRAL_LIM_WALL, CORRAL_LIM_OUTPUT, CORRAL_LIM_FSIZE, CORRAL_LIM_NOFILE,
  CORRAL_LIM_STACK, CORRAL_LIM_COUNT
};

const char *corral_limit_name (enum corral_limit_id id);

struct corral_limit_report {
  uint64_t value;               /* CORRAL_NO_LIMIT if unset */
  enum corral_backend backend;
};

struct corral_result {
  enum corral_status status;
  int exit_code;                /* -1 unless exited */
  int signal;                   /* 0 unless killed by a signal */
  uint64_t wall_ms, cpu_ms;
  uint64_t memory_peak_bytes;
  enum corral_backend memory_peak_source; /* CG2, CG1, or RLIMIT (= ru_maxrss of the largest process) */
  bool oom_killed;
  bool warm;                    /* forked from a warm interpreter (spec->warm) */
  char *out, *err;              /* captured output (NUL-terminated), NULL in passthrough */
  size_t out_len, err_len;
  bool out_truncated, err_truncated;
  char syscall[64];             /* for SYS: name, "" if unknown */
  const char *tle_kind;         /* "cpu" or "wall" for TLE, else NULL */
  char reason[512];             /* one human sentence */
  struct corral_limit_report limits[CORRAL_LIM_COUNT];
};

void corral_result_free (struct corral_result *r);

/* Runs spec to completion.  Returns 0 with *res filled (any verdict,
 * including IE for a setup failure inside the sandbox), or -1 with err set
 * when nothing could be started.  Never leaves a process, mount, cgroup or
 * temporary directory behind. */
int corral_run (const struct corral_spec *spec, struct corral_result *res,
                struct corral_error *err);

/* Result as one JSON object (malloc'd string). */
char *corral_result_json (const struct corral_result *r, bool pretty);
/* And back (a result that a corral server sent); free with
 * corral_result_free. */
int corral_result_from_json (const char *text, struct corral_result *r, struct corral_error *err);

/* From a signal handler (async-signal-safe): the first call forwards sig to
 * the running program (through the sandbox init); a second call kills the
 * sandbox and the run ends with IE "interrupted". */
void corral_interrupt (int sig);
/* Forgets interrupts so far (a process that runs one sandbox after another
 * and cancelled one). */
void corral_interrupt_clear (void);

/* ---- small shared parsers ------------------------------------------------ */

/* "64M", "1.5G", "4096", "unlimited" -> bytes.  Returns -1 on bad input. */
int corral_parse_size (const char *s, uint64_t *out);
/* s[0..len) with invalid UTF-8 (and NUL) replaced by U+FFFD: malloc'd. */
char *corral_utf8_sanitize (const char *s, size_t len);
/* "2", "0.5", "1.25s", "500ms" -> milliseconds. */
int corral_parse_duration_ms (const char *s, uint64_t *out);

#endif
