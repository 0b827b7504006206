/* internal.h - declarations shared between the files of the isolation core.
 * Not installed; the CLI and other clients use corral.h only. */
#ifndef CORRAL_INTERNAL_H
#define CORRAL_INTERNAL_H

#include "config.h" /* first: _GNU_SOURCE for every system header */
#include "corral.h"

#include <stdlib.h>
#include <unistd.h>

/* ---- cleanup idioms (bubblewrap style) ---------------------------------- */
static inline void corral_freep (void *p) { free (*(void **) p); }
static inline void corral_closep (int *fd) { if (*fd >= 0) close (*fd); }
#define cleanup_free __attribute__ ((cleanup (corral_freep)))
#define cleanup_fd __attribute__ ((cleanup (corral_closep)))

static inline int steal_fd (int *fd) { int r = *fd; *fd = -1; return r; }

/* ---- util.c -------------------------------------------------------------- */
uint64_t corral_now_ms (void);           /* CLOCK_MONOTONIC */
uint64_t corral_now_us (void);
/* Write a whole string to dirfd/name (no O_CREAT, O_NOFOLLOW). */
int corral_write_at (int dirfd, const char *name, const char *data);
/* Read up to len-1 bytes of dirfd/name, NUL-terminate; returns bytes or -1. */
ssize_t corral_read_at (int dirfd, const char *name, char *buf, size_t len);
/* Read a "key value" line of a flat-keyed file (memory.events, cpu.stat). */
int corral_read_key_u64 (int dirfd, const char *name, const char *key, uint64_t *out);
int corral_read_u64_at (int dirfd, const char *name, uint64_t *out);
ssize_t corral_write_all (int fd, const void *buf, size_t len);
ssize_t corral_read_all (int fd, void *buf, size_t len);
/* Replace invalid UTF-8 with U+FFFD; returns a malloc'd NUL-terminated copy. */
char *corral_utf8_sanitize (const char *s, size_t len);
/* Sends / receives one fd over a unix socket. */
int corral_send_fd (int sock, int fd);
int corral_recv_fd (int sock);

/* ---- host.c --------------------------------------------------------------- */
/* Why a user namespace cannot be created here, with the remedy. */
const char *corral_host_userns_problem (void);

/* ---- seccomp.c / seccomp-profile.c ------------------------------------- */
/* In the program process, after PR_SET_NO_NEW_PRIVS, as the last step before
 * execve.  Loads the filter; the "kill" actions of the profile become
 * SECCOMP_RET_USER_NOTIF when a listener can be had, and *listener gets its
 * fd (else -1, and they are SECCOMP_RET_KILL_PROCESS).  Uses only syscalls:
 * safe after fork.  Returns 0 or -errno. */
int corral_policy_apply (const struct corral_policy *p, int *listener);
/* In the sandbox init: receives one notification from the listener and
 * writes the syscall name ("ptrace", "i386:getpid" for a foreign arch, or
 * "syscall 1234") into name.  Returns 0, or -errno. */
int corral_policy_notif_receive (int listener, char *name, size_t len, pid_t *pid);

/* ---- cgroup.c ------------------------------------------------------------ */
struct corral_cgroup;
/* Creates the per-run cgroup(s) and writes the limits; fills the backend of
 * the limits it enforces in lim[].  Returns NULL only when the host has
 * cgroups but creating them failed in a way that must not be silent. */
int corral_cgroup_create (const struct corral_host *h, const struct corral_spec *spec,
                          struct corral_limit_report *lim, struct corral_cgroup **out,
                          struct corral_error *err);
int corral_cgroup_v2_fd (const struct corral_cgroup *cg);        /* for CLONE_INTO_CGROUP, or -1 */
bool corral_cgroup_needs_attach (const struct corral_cgroup *cg, bool cloned_into);
int corral_cgroup_attach (struct corral_cgroup *cg, pid_t pid, bool cloned_into,
                          struct corral_error *err);
int corral_cgroup_cpu_usage_us (struct corral_cgroup *cg, uint64_t *us); /* -1 if unknown */
void corral_cgroup_kill (struct corral_cgroup *cg);
/* After the run: peak memory, OOM kill.  Returns backend used for peak or NONE. */
enum corral_backend corral_cgroup_stats (struct corral_cgroup *cg, uint64_t *peak, bool *oom);
void corral_cgroup_destroy (struct corral_cgroup *cg);

/* ---- rootfs.c (runs inside the new mount namespace) ---------------------- */
int corral_rootfs_setup (const struct corral_spec *spec, uid_t uid, gid_t gid,
                         struct corral_error *err);

/* ---- net.c ---------------------------------------------------------------- */
int corral_net_loopback_up (struct corral_error *err);

/* ---- caps.c --------------------------------------------------------------- */
int corral_caps_drop_bounding (struct corral_error *err); /* before setresuid */
int corral_caps_clear (struct corral_error *err);         /* after it */

/* ---- sandbox.c: the processes inside the namespaces --------------------- */
enum corral_report_type {
  CORRAL_REP_SETUP = 1, /* setup failed: text says what */
  CORRAL_REP_EXIT,      /* the program ended: wstatus */
  CORRAL_REP_SYS,       /* forbidden syscall: text is its name */
};

/* Sent from the sandbox to the supervisor on the report pipe.  Smaller than
 * PIPE_BUF, so each write is atomic. */
struct corral_report {
  int type;
  int wstatus;
  char text[1016];
};

struct corral_sandbox_ctx {
  const struct corral_spec *spec;
  char *const *env;
  uid_t uid;
  gid_t gid;
  bool userns;
  int parent_fds[4];     /* the supervisor's pipe ends: closed first thing */
  int sync_rd;           /* parent writes one byte when maps and cgroups are ready */
  int report_wr;
  int stdin_fd, out_wr, err_wr;
  /* rlimits to apply to the program (RLIM_INFINITY = leave) */
  uint64_t rl_cpu_s, rl_as, rl_nproc, rl_fsize, rl_nofile, rl_stack;
};

/* Body of the sandbox init (pid 1 in the new namespaces).  Never returns. */
void corral_sandbox_init (const struct corral_sandbox_ctx *ctx) __attribute__ ((noreturn));

#endif
