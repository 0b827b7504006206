/* internal.h - declarations shared between the files of the isolation core.
 * Not installed; the CLI and other clients use corral.h only. */
#ifndef CORRAL_INTERNAL_H
#define CORRAL_INTERNAL_H

#include "config.h" /* first: _GNU_SOURCE for every system header */
#include "corral.h"

#include <limits.h>
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
/* Sends / receives one fd over a unix socket. */
int corral_send_fd (int sock, int fd);
int corral_recv_fd (int sock);

/* ---- owner.c -------------------------------------------------------------- */
/* Leases one of them until *fd (O_CLOEXEC, a flock) is closed by every
 * process that has it. */
int corral_owner_lease (uid_t *uid, int *fd, struct corral_error *err);

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
/* The compiled programs (struct sock_filter arrays) of p: the notifying
 * one and the killing one; lengths in bytes, 0 when none. */
void corral_policy_programs (const struct corral_policy *p, const void **notify, size_t *nlen,
                             const void **kill, size_t *klen);

/* ---- cgroup.c ------------------------------------------------------------ */
struct corral_cgroup;
/* Creates the per-run cgroup(s) and writes the limits; fills the backend of
 * the limits it enforces in lim[].  Returns NULL only when the host has
 * cgroups but creating them failed in a way that must not be silent. */
int corral_cgroup_create (const struct corral_host *h, const struct corral_spec *spec,
                          struct corral_limit_report *lim, struct corral_cgroup **out,
                          struct corral_error *err);
/* Removes the cgroups of supervisors that died by SIGKILL (once a process;
 * run.c calls it while the sandbox sets itself up). */
void corral_cgroup_reap_stale (const struct corral_host *h);
int corral_cgroup_v2_fd (const struct corral_cgroup *cg);        /* for CLONE_INTO_CGROUP, or -1 */
/* The sandbox joins its v1 cgroups itself: a single-threaded process that
 * writes "0" to a v1 `tasks` file moves without the global threadgroup lock,
 * whose first writer waits for an RCU grace period (~10 ms) when a pid is
 * written to cgroup.procs.  The supervisor opens the files before the clone
 * (the open file's credentials are what the kernel checks); the child writes
 * and closes them. */
#define CORRAL_CG_JOIN_MAX 5
struct corral_cgroup_join {
  int fd[CORRAL_CG_JOIN_MAX];
  const char *path[CORRAL_CG_JOIN_MAX];
  size_t n;
};
/* with_v2: the v2 cgroup's cgroup.procs too, for a child that was not
 * cloned into it (a warm run's). */
int corral_cgroup_open_join (const struct corral_cgroup *cg, bool with_v2,
                             struct corral_cgroup_join *j, struct corral_error *err);
int corral_cgroup_join_self (const struct corral_cgroup_join *j, struct corral_error *err); /* and closes */
void corral_cgroup_join_close (struct corral_cgroup_join *j);
/* Moves pid into the v2 cgroup when CLONE_INTO_CGROUP could not be used. */
int corral_cgroup_attach_v2 (struct corral_cgroup *cg, pid_t pid, struct corral_error *err);
int corral_cgroup_cpu_usage_us (struct corral_cgroup *cg, uint64_t *us); /* -1 if unknown */
void corral_cgroup_kill (struct corral_cgroup *cg);
/* After the run: peak memory, OOM kill.  Returns backend used for peak or NONE. */
enum corral_backend corral_cgroup_stats (struct corral_cgroup *cg, uint64_t *peak, bool *oom);
void corral_cgroup_destroy (struct corral_cgroup *cg);

/* ---- etc-snapshot.c --------------------------------------------------------- */
/* The host's /etc entries the host view shows (fnmatch patterns), and
 * those one level down. */
extern const char *const corral_etc_allow[];
extern const char *const corral_etc_allow_sub[];
/* name (an entry of /etc) matches one of corral_etc_allow. */
bool corral_etc_allowed (const char *name);
/* Splits an entry of corral_etc_allow_sub ("ssl/certs") into its parent
 * ("ssl", into parent) and returns its leaf ("certs"). */
const char *corral_etc_sub_split (const char *sub, char *parent, size_t len);
/* Recreates sdir's symlink name in ddir: 0 done, 1 unreadable (left out),
 * -1 with errno if it cannot be created (EEXIST included). */
int corral_copy_symlink (int sdir, int ddir, const char *name);
/* An O_PATH fd of a current copy of the allowed part of /etc, kept in the
 * cache and rebuilt when the host's changed, and its path; -1 when none
 * can be had.  (A mount namespace binds only its own mounts: the sandbox
 * reopens the path and checks that it is this directory.) */
int corral_etc_snapshot (char *path, size_t len);

/* ---- rootfs.c (runs inside the new mount namespace) ---------------------- */
/* /proc's entries covered by /dev/null, and its directories covered by an
 * empty read-only tmpfs (NULL-terminated). */
extern const char *const corral_proc_mask_files[];
extern const char *const corral_proc_mask_dirs[];
/* etc_fd, etc_path: corral_etc_snapshot's, bound as /etc; -1 binds the
 * entries. */
int corral_rootfs_setup (const struct corral_spec *spec, uid_t uid, gid_t gid, bool userns,
                         int etc_fd, const char *etc_path, struct corral_error *err);

/* ---- net.c ---------------------------------------------------------------- */
/* Supervisor, as root: a new network namespace, lo up when asked; *nsfd
 * refers to it, and we are back in our own. */
int corral_net_make (bool lo, int *nsfd, struct corral_error *err);
/* In the sandbox: a bound rtnetlink socket in its network namespace, or -1. */
int corral_net_open (void);
/* In the supervisor: brings lo up through that socket, and closes it. */
int corral_net_loopback_up (int fd, struct corral_error *err);

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

/* Who makes the sandbox's network namespace (see net.c). */
enum corral_net_setup {
  CORRAL_NETSET_NONE,       /* the host's network, or clone3 made one left down */
  CORRAL_NETSET_SEND_NL,    /* clone3 made it: the sandbox sends a netlink socket for lo */
  CORRAL_NETSET_RECV_NS,    /* the supervisor made it: the sandbox receives and enters it */
};

struct corral_sandbox_ctx {
  const struct corral_spec *spec;
  char *const *env;
  uid_t uid;
  gid_t gid;
  bool userns;           /* a user namespace mapping uid and gid only (rootless, --userns) */
  bool idmap_userns;     /* root's: a user namespace mapping every id to itself, owned by
                          * a leased uid (owner.c); inside, root's view of the host */
  int parent_fds[4];     /* the supervisor's pipe ends: closed first thing */
  int sync_rd;           /* parent sends 'm' when the id maps are written, 'p' when placed */
  struct corral_cgroup_join join;  /* v1 cgroups the init moves itself into */
  enum corral_net_setup net_setup;
  int etc_fd;            /* the /etc snapshot (host view), or -1 */
  char etc_path[PATH_MAX];
  int report_wr;
  int stdin_fd, out_wr, err_wr;
  /* rlimits to apply to the program (RLIM_INFINITY = leave) */
  uint64_t rl_cpu_s, rl_as, rl_nproc, rl_fsize, rl_nofile, rl_stack;
};

/* Body of the sandbox init (pid 1 in the new namespaces).  Never returns. */
void corral_sandbox_init (const struct corral_sandbox_ctx *ctx) __attribute__ ((noreturn));
/* The program's rlimits from ctx: the ones set, as {resource, soft,
 * hard} (hard CORRAL_NO_LIMIT: unlimited); returns their number.  The cold
 * program sets them; a warm run sends them to its interpreter. */
struct corral_rlimit {
  int resource;
  uint64_t soft, hard;
};
#define CORRAL_RLIMITS_MAX 8
size_t corral_sandbox_rlimits (const struct corral_sandbox_ctx *ctx,
                               struct corral_rlimit out[CORRAL_RLIMITS_MAX]);

/* ---- warm.c ------------------------------------------------------------- */
/* Sends the warm interpreter one run (req: JSON; fds: stdin, stdout,
 * stderr, report, channel, cgroup joins); *pidfd gets its process, which
 * ends with the run. */
int corral_warm_launch (struct corral_warm *w, const char *req, const int *fds, size_t n_fds,
                        int *pidfd, struct corral_error *err);

#endif
