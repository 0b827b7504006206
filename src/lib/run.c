/* run.c - one run, from spec to result: the supervisor side.
 *
 *   cgroup(s) created and limited
 *   clone3(new user?, pid, mount, net, ipc, uts; CLONE_INTO_CGROUP; CLONE_PIDFD)
 *   write uid/gid maps, release the child (sync socket); it joins its v1
 *   cgroups itself (see corral_cgroup_open_join)
 *   supervise: drain stdout/stderr (bounded), poll CPU time, wall deadline,
 *              the init's pidfd, the report pipe
 *   verdict, stats, then tear down: cgroup.kill / SIGKILL to init, rmdir.
 *
 * Runs must be started from a single-threaded process (the child of a raw
 * clone3 is a fork without glibc's atfork handling). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sched.h>
#include <cjson/cJSON.h>

static volatile sig_atomic_t interrupt_count, interrupt_sig;

void
corral_interrupt (int sig)
{
  interrupt_sig = sig;
  interrupt_count++;
}

void
corral_interrupt_clear (void)
{
  interrupt_count = 0;
  interrupt_sig = 0;
}

char *const corral_default_env[] = {
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  "HOME=/sandbox", "LANG=C.UTF-8", "TMPDIR=/tmp", NULL,
};

struct stream {
  int fd;            /* read end, -1 at EOF */
  int relay;         /* passthrough target fd, or -1 */
  char *buf;
  size_t len, alloc;
  uint64_t total;
  bool truncated;
};

/* Reads what is there; keeps at most limit bytes; returns true when the
 * stream went over its limit. */
static bool
stream_read (struct stream *s, uint64_t limit)
{
  char chunk[65536];
  for (;;)
    {
      ssize_t n = read (s->fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          if (n == 0 || errno != EAGAIN)
            {
              close (s->fd);
              s->fd = -1;
            }
          break;
        }
      uint64_t room = s->total >= limit ? 0 : limit - s->total;
      size_t keep = (uint64_t) n < room ? (size_t) n : (size_t) room;
      s->total += (uint64_t) n;
      if (keep < (size_t) n)
        s->truncated = true;
      if (keep == 0)
        continue;
      if (s->relay >= 0)
        corral_write_all (s->relay, chunk, keep);
      else
        {
          if (s->len + keep + 1 > s->alloc)
            {
              size_t na = s->alloc ? s->alloc : 4096;
              while (na < s->len + keep + 1)
                na *= 2;
              char *nb = realloc (s->buf, na);
              if (nb == NULL)
                {
                  s->truncated = true;
                  continue;
                }
              s->buf = nb;
              s->alloc = na;
            }
          memcpy (s->buf + s->len, chunk, keep);
          s->len += keep;
        }
    }
  return s->truncated;
}

static int
write_proc_file (pid_t pid, const char *file, const char *data, struct corral_error *err)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/%s", (int) pid, file);
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return corral_fail (err, errno, "open %s", path);
  ssize_t n = write (fd, data, strlen (data));
  int e = errno;
  close (fd);
  if (n < 0)
    return corral_fail (err, e, "write %s", path);
  return 0;
}

/* The host ids the sandbox's processes have.  Rootless: our own, the only
 * ones we may map.  Root with a user namespace: the same ids outside as
 * inside, except that inside 0 is never the host's root. */
static void
outer_ids (uid_t uid, gid_t gid, bool userns, uid_t *ou, gid_t *og)
{
  if (geteuid () != 0)
    {
      *ou = geteuid ();
      *og = getegid ();
    }
  else if (userns)
    {
      *ou = uid != 0 ? uid : 65534;
      *og = gid != 0 ? gid : 65534;
    }
  else
    {
      *ou = uid;
      *og = gid;
    }
}

static int
write_id_maps (pid_t pid, uid_t uid, gid_t gid, bool idmap, struct corral_error *err)
{
  char map[64];
  if (idmap)
    {
      /* root's namespace: every id is itself (only root may write this) */
      const char *all = "0 0 4294967295\n";
      if (write_proc_file (pid, "uid_map", all, err) < 0)
        return -1;
      return write_proc_file (pid, "gid_map", all, err);
    }
  uid_t outer_uid;
  gid_t outer_gid;
  outer_ids (uid, gid, true, &outer_uid, &outer_gid);
  /* setgroups must be denied before an unprivileged gid_map write. */
  if (geteuid () != 0 && write_proc_file (pid, "setgroups", "deny", err) < 0)
    return -1;
  snprintf (map, sizeof map, "%u %u 1\n", (unsigned) uid, (unsigned) outer_uid);
  if (write_proc_file (pid, "uid_map", map, err) < 0)
    return -1;
  snprintf (map, sizeof map, "%u %u 1\n", (unsigned) gid, (unsigned) outer_gid);
  return write_proc_file (pid, "gid_map", map, err);
}

/* clone3 with the effective uid `owner` (not (uid_t) -1), which then owns
 * the new user namespace (owner.c); the real and saved uids stay 0, so 0
 * comes back, and the fs uid stays 0 for CLONE_INTO_CGROUP's write check.
 * Only this thread changes (the raw syscalls, not glibc's broadcasting
 * wrappers).  A change of euid clears the parent-death signal: ours is
 * put back. */
static long clone_sandbox (uint64_t flags, int cgfd, int *pidfd);

static long
clone_as_owner (uid_t owner, uint64_t flags, int cgfd, int *pidfd)
{
  if (owner == (uid_t) -1)
    return clone_sandbox (flags, cgfd, pidfd);
  int deathsig = 0;
  prctl (PR_GET_PDEATHSIG, &deathsig, 0, 0, 0);
  if (syscall (SYS_setresuid, -1, owner, -1) < 0)
    return -1;
  syscall (SYS_setfsuid, 0);
  long p = clone_sandbox (flags, cgfd, pidfd);
  if (p == 0)
    return 0; /* the child: its init takes its identity in the namespace */
  int e = errno;
  if (syscall (SYS_setresuid, -1, 0, -1) < 0)
    abort (); /* cannot happen: the saved uid is 0 */
  if (deathsig)
    prctl (PR_SET_PDEATHSIG, deathsig, 0, 0, 0);
  errno = e;
  return p;
}

static long
clone_sandbox (uint64_t flags, int cgfd, int *pidfd)
{
  struct clone_args ca;
  memset (&ca, 0, sizeof ca);
  ca.flags = flags | CLONE_PIDFD;
  ca.pidfd = (uint64_t) (uintptr_t) pidfd;
  ca.exit_signal = SIGCHLD;
  if (cgfd >= 0)
    {
      ca.flags |= CLONE_INTO_CGROUP;
      ca.cgroup = (uint64_t) cgfd;
    }
  return syscall (SYS_clone3, &ca, sizeof ca);
}

static void
kill_sandbox (struct corral_cgroup *cg, int pidfd)
{
  corral_cgroup_kill (cg);
  if (pidfd >= 0)
    syscall (SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

static const char *
signame (int sig)
{
  const char *d = sigabbrev_np (sig);
  return d ? d : "?";
}

static void
decide (struct corral_result *res, const struct corral_spec *spec, int wstatus, bool have_status,
        const struct corral_report *setup, const struct corral_report *sys,
        const char *killed_for, bool interrupted)
{
  if (have_status && WIFEXITED (wstatus))
    res->exit_code = WEXITSTATUS (wstatus);
  else if (have_status && WIFSIGNALED (wstatus))
    res->signal = WTERMSIG (wstatus);

  if (setup)
    {
      res->status = CORRAL_IE;
      snprintf (res->reason, sizeof res->reason, "sandbox setup failed: %s", setup->text);
      return;
    }
  if (interrupted)
    {
      res->status = CORRAL_IE;
      snprintf (res->reason, sizeof res->reason, "interrupted: the sandbox was killed");
      return;
    }
  if (killed_for && strcmp (killed_for, "output") == 0)
    {
      res->status = CORRAL_OLE;
      snprintf (res->reason, sizeof res->reason,
                "output limit exceeded: more than %llu bytes on %s",
                (unsigned long long) spec->output, res->out_truncated ? "stdout" : "stderr");
      return;
    }
  if (killed_for)
    {
      res->status = CORRAL_TLE;
      res->tle_kind = killed_for;
      snprintf (res->reason, sizeof res->reason, "%s time limit of %.3f s exceeded",
                strcmp (killed_for, "cpu") == 0 ? "CPU" : "wall",
                (strcmp (killed_for, "cpu") == 0 ? spec->time_ms : spec->wall_ms) / 1000.0);
      return;
    }
  if (sys)
    {
      res->status = CORRAL_SYS;
      snprintf (res->syscall, sizeof res->syscall, "%s", sys->text);
      snprintf (res->reason, sizeof res->reason, "forbidden system call %s", sys->text);
      return;
    }
  if (!have_status)
    {
      res->status = CORRAL_IE;
      snprintf (res->reason, sizeof res->reason, "the sandbox ended without reporting");
      return;
    }
  bool failed = res->signal != 0 || res->exit_code != 0;
  if (res->oom_killed && failed)
    {
      res->status = CORRAL_MLE;
      snprintf (res->reason, sizeof res->reason, "memory limit of %llu bytes exceeded (OOM kill)",
                (unsigned long long) spec->memory);
      return;
    }
  if (res->signal == SIGSYS)
    {
      res->status = CORRAL_SYS;
      snprintf (res->reason, sizeof res->reason,
                "killed by SIGSYS (seccomp: forbidden call or foreign architecture)");
      return;
    }
  if (res->signal == SIGXFSZ)
    {
      res->status = CORRAL_OLE;
      snprintf (res->reason, sizeof res->reason, "file size limit of %llu bytes exceeded",
                (unsigned long long) spec->fsize);
      return;
    }
  if (res->signal == SIGXCPU
      || (res->signal == SIGKILL && spec->time_ms != CORRAL_NO_LIMIT && res->cpu_ms >= spec->time_ms))
    {
      res->status = CORRAL_TLE;
      res->tle_kind = "cpu";
      snprintf (res->reason, sizeof res->reason, "CPU time limit of %.3f s exceeded (rlimit)",
                spec->time_ms / 1000.0);
      return;
    }
  if (res->signal)
    {
      res->status = CORRAL_SIG;
      snprintf (res->reason, sizeof res->reason, "killed by signal %d (SIG%s)", res->signal,
                signame (res->signal));
      return;
    }
  res->status = res->exit_code == 0 ? CORRAL_OK : CORRAL_RE;
  snprintf (res->reason, sizeof res->reason, "exited with code %d", res->exit_code);
}

/* One release byte; a child that gave up during its setup (EPIPE) is not an
 * error here: its report says why. */
static int
release_step (int fd, char what, struct corral_error *err)
{
  if (send (fd, &what, 1, MSG_NOSIGNAL) == 1 || errno == EPIPE || errno == ECONNRESET)
    return 0;
  return corral_fail (err, errno, "release sandbox");
}

/* Two releases: 'm' once the id maps are written, so the child can take its
 * identity and build its root; 'p' once it sits in its v2 cgroup (at once
 * with CLONE_INTO_CGROUP) and its lo is up (through the netlink socket it
 * sends us), after which it joins its v1 cgroups itself and runs the
 * program. */
static int
release_sandbox (int fd, pid_t pid, bool userns, bool idmap, uid_t uid, gid_t gid,
                 enum corral_net_setup net_setup, bool net_lo, const struct corral_host *host,
                 struct corral_cgroup *cg, bool cloned_into, struct corral_error *err)
{
  if ((userns || idmap) && write_id_maps (pid, uid, gid, idmap, err) < 0)
    return -1;
  if (release_step (fd, 'm', err) < 0)
    return -1;
  /* Work that needs no order with the child, done while it sets up. */
  corral_cgroup_reap_stale (host);
  if (net_setup == CORRAL_NETSET_RECV_NS)
    {
      int ns;
      if (corral_net_make (net_lo, &ns, err) < 0)
        return -1;
      int r = corral_send_fd (fd, ns);
      close (ns);
      if (r < 0 && errno != EPIPE && errno != ECONNRESET)
        return corral_fail (err, errno, "pass the network namespace");
    }
  if (net_setup == CORRAL_NETSET_SEND_NL)
    {
      int nl = corral_recv_fd (fd);
      if (nl < 0)
        {
          /* The child stopped during setup (its report says why): send it
           * no release, only EOF. */
          shutdown (fd, SHUT_WR);
          return 0;
        }
      if (corral_net_loopback_up (nl, err) < 0)
        return -1;
    }
  if (!cloned_into && corral_cgroup_attach_v2 (cg, pid, err) < 0)
    return -1;
  return release_step (fd, 'p', err);
}

/* The sandbox made by clone3, released step by step (the usual way); the
 * child's ends of the pipes are closed here. */
static int
start_cold (const struct corral_spec *spec, struct corral_sandbox_ctx *ctx,
            const struct corral_host *host, struct corral_cgroup *cg, bool userns, uid_t owner,
            uid_t uid, gid_t gid, int *sync_p, int *rep_p, int *out_p, int *err_p, int *stdin_fd,
            pid_t *pid, int *pidfd, struct corral_error *err)
{
  uint64_t flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
  bool own_userns = userns || ctx->idmap_userns;
  /* The network namespace: see net.c. */
  if (spec->net == CORRAL_NET_HOST)
    ctx->net_setup = CORRAL_NETSET_NONE;
  else if (!own_userns)
    ctx->net_setup = CORRAL_NETSET_RECV_NS;
  else
    {
      flags |= CLONE_NEWNET;
      ctx->net_setup = spec->net == CORRAL_NET_LOOPBACK ? CORRAL_NETSET_SEND_NL : CORRAL_NETSET_NONE;
    }
  if (own_userns)
    flags |= CLONE_NEWUSER;
  int cgfd = host->clone_into_cgroup ? corral_cgroup_v2_fd (cg) : -1;
  long p = clone_as_owner (owner, flags, cgfd, pidfd);
  if (p < 0 && cgfd >= 0 && (errno == E2BIG || errno == EINVAL || errno == ENOSYS))
    {
      cgfd = -1; /* kernel without CLONE_INTO_CGROUP: attach by pid below */
      p = clone_as_owner (owner, flags, -1, pidfd);
    }
  if (p == 0)
    corral_sandbox_init (ctx);
  if (p < 0)
    {
      int e = errno;
      if (own_userns && (e == EPERM || e == ENOSPC || e == EACCES))
        return corral_fail (err, 0, "cannot create a user namespace: %s", corral_host_userns_problem ());
      return corral_fail (err, e, "clone3 sandbox");
    }
  *pid = (pid_t) p;
  corral_cgroup_join_close (&ctx->join);
  if (ctx->etc_fd >= 0)
    close (steal_fd (&ctx->etc_fd));
  int *mine[] = { &sync_p[0], &rep_p[1], &out_p[1], &err_p[1], stdin_fd };
  for (size_t i = 0; i < sizeof mine / sizeof *mine; i++)
    close (steal_fd (mine[i]));
  if (release_sandbox (sync_p[1], *pid, userns, ctx->idmap_userns, uid, gid, ctx->net_setup,
                       spec->net == CORRAL_NET_LOOPBACK, host, cg, cgfd >= 0, err) < 0)
    {
      kill_sandbox (cg, *pidfd);
      waitpid (*pid, NULL, 0);
      *pid = -1;
      return -1;
    }
  close (steal_fd (&sync_p[1]));
  return 0;
}

/* The sandbox made by a warm interpreter (warm.c): it gets the child's
 * ends (closed here, as start_cold does), the fds that join the run's
 * cgroups, and the channel on which the run's seccomp listener comes back
 * (*chan: our end).  No sync socket: the interpreter's child needs no
 * release. */
static int
start_warm (const struct corral_spec *spec, struct corral_sandbox_ctx *ctx,
            struct corral_cgroup *cg, int *sync_p, int *rep_p, int *out_p, int *err_p,
            int *stdin_fd, int *chan, int *pidfd, struct corral_error *err)
{
  int ch[2];
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ch) < 0)
    return corral_fail (err, errno, "socketpair");
  int fds[5 + CORRAL_CG_JOIN_MAX] = { *stdin_fd, out_p[1], err_p[1], rep_p[1], ch[1] };
  size_t n = 5;
  for (size_t i = 0; i < ctx->join.n; i++)
    fds[n++] = ctx->join.fd[i];

  /* The run's settings: what the cold sandbox's init and program do with
   * ctx and spec. */
  cJSON *o = cJSON_CreateObject ();
  cJSON *env = cJSON_AddArrayToObject (o, "env");
  for (char *const *e = ctx->env; *e; e++)
    cJSON_AddItemToArray (env, cJSON_CreateString (*e));
  cJSON_AddStringToObject (o, "cwd", spec->cwd ? spec->cwd : "/sandbox");
  cJSON_AddStringToObject (o, "hostname", spec->hostname ? spec->hostname : "corral");
  cJSON_AddNumberToObject (o, "tmp", (double) spec->tmp_size);
  cJSON_AddNumberToObject (o, "shm", (double) spec->shm_size);
  cJSON_AddNumberToObject (o, "sandbox", (double) spec->sandbox_size);
  cJSON_AddBoolToObject (o, "lo", spec->net == CORRAL_NET_LOOPBACK);
  cJSON *rl = cJSON_AddArrayToObject (o, "rlimits");
  struct corral_rlimit lims[CORRAL_RLIMITS_MAX];
  size_t nl = corral_sandbox_rlimits (ctx, lims);
  for (size_t i = 0; i < nl; i++)
    {
      cJSON *t = cJSON_CreateArray ();
      cJSON_AddItemToArray (t, cJSON_CreateNumber (lims[i].resource));
      cJSON_AddItemToArray (t, cJSON_CreateNumber ((double) lims[i].soft));
      cJSON_AddItemToArray (t, cJSON_CreateNumber (lims[i].hard == CORRAL_NO_LIMIT ? -1.0 : (double) lims[i].hard));
      cJSON_AddItemToArray (rl, t);
    }
  char *req = cJSON_PrintUnformatted (o);
  cJSON_Delete (o);
  int r = req ? corral_warm_launch (spec->warm, req, fds, n, pidfd, err)
              : corral_fail (err, ENOMEM, "warm run");
  free (req);
  close (ch[1]);
  if (r < 0)
    {
      close (ch[0]);
      return -1;
    }
  *chan = ch[0];
  corral_cgroup_join_close (&ctx->join);
  int *mine[] = { &sync_p[0], &sync_p[1], &rep_p[1], &out_p[1], &err_p[1], stdin_fd };
  for (size_t i = 0; i < sizeof mine / sizeof *mine; i++)
    close (steal_fd (mine[i]));
  return 0;
}

int
corral_run (const struct corral_spec *spec, struct corral_result *res, struct corral_error *err)
{
  memset (res, 0, sizeof *res);
  res->exit_code = -1;
  if (spec->argv == NULL || spec->argv[0] == NULL)
    return corral_fail (err, 0, "no command to run");
  const struct corral_host *host = corral_host_get ();
  bool userns = spec->userns == 1 || (spec->userns == -1 && !host->is_root);
  if (!host->is_root && !userns)
    return corral_fail (err, 0, "running without a user namespace needs root");
  uid_t uid = spec->uid;
  gid_t gid = spec->gid;
  if (uid == (uid_t) -1)
    uid = host->is_root ? 65534 : geteuid ();
  if (gid == (gid_t) -1)
    gid = host->is_root ? 65534 : getegid ();

  struct corral_limit_report *lim = res->limits;
  uint64_t values[CORRAL_LIM_COUNT] = {
    spec->memory, spec->pids, spec->cpus_milli, spec->time_ms, spec->wall_ms,
    spec->output, spec->fsize, spec->nofile, spec->stack,
  };
  for (int i = 0; i < CORRAL_LIM_COUNT; i++)
    lim[i] = (struct corral_limit_report) { values[i], CORRAL_BE_NONE };

  /* Root's runs get a user namespace of their own, owned by a uid leased
   * for the run (owner.c), mapping every id to itself: per-user kernel
   * limits are then the run's own.  Not where the kernel cannot make one
   * (or mount an image's overlay in one) and not with --no-userns: those
   * share the counts of their uid. */
  bool idmap = host->is_root && spec->userns == -1 && !spec->warm && host->userns
               && (spec->n_lowers == 0 || host->overlay_userns);
  uid_t owner = (uid_t) -1;
  int owner_fd cleanup_fd = -1;
  if (host->is_root && (userns || idmap) && !spec->warm
      && corral_owner_lease (&owner, &owner_fd, err) < 0)
    return -1;

  struct corral_cgroup *cg = NULL;
  if (corral_cgroup_create (host, spec, lim, &cg, err) < 0)
    return -1;
  uint64_t probe_us;
  bool cg_cpu = cg && corral_cgroup_cpu_usage_us (cg, &probe_us) == 0;

  struct corral_sandbox_ctx ctx = {
    .spec = spec, .env = spec->env ? spec->env : corral_default_env, .uid = uid, .gid = gid,
    .userns = userns, .idmap_userns = idmap, .etc_fd = -1,
    .rl_cpu_s = CORRAL_NO_LIMIT, .rl_as = CORRAL_NO_LIMIT, .rl_nproc = CORRAL_NO_LIMIT,
    .rl_fsize = spec->fsize, .rl_nofile = spec->nofile, .rl_stack = spec->stack,
  };
  /* rlimit fallbacks, named in the result: never a silent downgrade. */
  if (spec->memory != CORRAL_NO_LIMIT && lim[CORRAL_LIM_MEMORY].backend == CORRAL_BE_NONE)
    {
      ctx.rl_as = spec->memory;
      lim[CORRAL_LIM_MEMORY].backend = CORRAL_BE_RLIMIT;
    }
  if (spec->pids != CORRAL_NO_LIMIT && lim[CORRAL_LIM_PIDS].backend == CORRAL_BE_NONE)
    {
      ctx.rl_nproc = spec->pids;
      lim[CORRAL_LIM_PIDS].backend = CORRAL_BE_RLIMIT;
    }
  if (spec->time_ms != CORRAL_NO_LIMIT)
    {
      /* Polled cgroup CPU time is the limit; RLIMIT_CPU one second past it
       * is the backstop.  Without cgroup CPU accounting, the rlimit is it. */
      uint64_t s = (spec->time_ms + 999) / 1000;
      ctx.rl_cpu_s = cg_cpu ? s + 1 : s;
      lim[CORRAL_LIM_TIME].backend = cg_cpu ? CORRAL_BE_TIMER : CORRAL_BE_RLIMIT;
    }
  if (spec->wall_ms != CORRAL_NO_LIMIT)
    lim[CORRAL_LIM_WALL].backend = CORRAL_BE_TIMER;
  if (spec->output != CORRAL_NO_LIMIT)
    lim[CORRAL_LIM_OUTPUT].backend = CORRAL_BE_PIPE;
  if (spec->fsize != CORRAL_NO_LIMIT)
    lim[CORRAL_LIM_FSIZE].backend = CORRAL_BE_RLIMIT;
  if (spec->nofile != CORRAL_NO_LIMIT)
    lim[CORRAL_LIM_NOFILE].backend = CORRAL_BE_RLIMIT;
  if (spec->stack != CORRAL_NO_LIMIT)
    lim[CORRAL_LIM_STACK].backend = CORRAL_BE_RLIMIT;

  int ret = -1;
  int sync_p[2] = { -1, -1 }, rep_p[2] = { -1, -1 }, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
  int stdin_fd = -1, pidfd = -1, rep_fd = -1, chan = -1, listener = -1;
  pid_t pid = -1;
  struct stream out = { .fd = -1, .relay = -1 }, errs = { .fd = -1, .relay = -1 };

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync_p) < 0 || pipe2 (rep_p, O_CLOEXEC) < 0 || pipe2 (out_p, O_CLOEXEC) < 0
      || pipe2 (err_p, O_CLOEXEC) < 0)
    {
      corral_fail (err, errno, "pipe");
      goto out;
    }
  /* The program's stdout and stderr pipes are its own, so that it can
   * reopen them as /dev/stdout or /proc/self/fd/1 (a root-owned 0600 pipe
   * refuses that to uid 65534). */
  if (geteuid () == 0)
    {
      uid_t ou;
      gid_t og;
      outer_ids (uid, gid, userns, &ou, &og);
      if (fchown (out_p[1], ou, og) < 0 || fchown (err_p[1], ou, og) < 0)
        {
          corral_fail (err, errno, "give the output pipes to uid %u", (unsigned) ou);
          goto out;
        }
    }
  stdin_fd = spec->stdin_fd >= 0 ? dup (spec->stdin_fd) : open ("/dev/null", O_RDONLY | O_CLOEXEC);
  if (stdin_fd < 0)
    {
      corral_fail (err, errno, "stdin");
      goto out;
    }
  if (corral_cgroup_open_join (cg, spec->warm != NULL, &ctx.join, err) < 0)
    goto out;
  /* The host view's /etc: a snapshot bound with one mount, when the cache
   * has (or can make) a current one; else the sandbox binds entries. */
  if (spec->n_lowers == 0 && !spec->warm)
    ctx.etc_fd = corral_etc_snapshot (ctx.etc_path, sizeof ctx.etc_path);
  ctx.sync_rd = sync_p[0];
  ctx.parent_fds[0] = sync_p[1];
  ctx.parent_fds[1] = rep_p[0];
  ctx.parent_fds[2] = out_p[0];
  ctx.parent_fds[3] = err_p[0];
  ctx.report_wr = rep_p[1];
  ctx.stdin_fd = stdin_fd;
  ctx.out_wr = out_p[1];
  ctx.err_wr = err_p[1];

  uint64_t t0 = corral_now_us ();
  int started = spec->warm ? start_warm (spec, &ctx, cg, sync_p, rep_p, out_p, err_p, &stdin_fd,
                                         &chan, &pidfd, err)
                           : start_cold (spec, &ctx, host, cg, userns, owner, uid, gid, sync_p, rep_p,
                                         out_p, err_p, &stdin_fd, &pid, &pidfd, err);
  if (started < 0)
    goto out;

  /* ---- supervise ---- */
  out.fd = out_p[0];
  errs.fd = err_p[0];
  out_p[0] = err_p[0] = -1;
  fcntl (out.fd, F_SETFL, O_NONBLOCK);
  fcntl (errs.fd, F_SETFL, O_NONBLOCK);
  if (spec->passthrough)
    {
      out.relay = 1;
      errs.relay = 2;
    }
  uint64_t output_limit = spec->output;
  uint64_t start_ms = t0 / 1000;
  uint64_t wall_deadline = spec->wall_ms == CORRAL_NO_LIMIT ? 0 : start_ms + spec->wall_ms;
  uint64_t tick = 0;
  if (spec->time_ms != CORRAL_NO_LIMIT && cg_cpu)
    {
      tick = spec->time_ms / 10;
      tick = tick < 10 ? 10 : tick > 50 ? 50 : tick;
    }
  uint64_t next_tick = start_ms + tick;
  const char *killed_for = NULL;
  bool interrupted = false, init_done = false, forwarded = false;
  rep_fd = rep_p[0];
  rep_p[0] = -1;
  struct corral_report setup_rep, sys_rep, cur;
  bool have_setup = false, have_sys = false, have_status = false;
  int wstatus = 0;
  struct rusage ru;
  memset (&ru, 0, sizeof ru);
  size_t rep_got = 0;

  while (!init_done || out.fd >= 0 || errs.fd >= 0 || rep_fd >= 0)
    {
      struct pollfd pf[6];
      int n = 0, i_out = -1, i_err = -1, i_pid = -1, i_rep = -1, i_chan = -1, i_lis = -1;
      if (out.fd >= 0)
        pf[i_out = n++] = (struct pollfd) { .fd = out.fd, .events = POLLIN };
      if (errs.fd >= 0)
        pf[i_err = n++] = (struct pollfd) { .fd = errs.fd, .events = POLLIN };
      if (!init_done)
        pf[i_pid = n++] = (struct pollfd) { .fd = pidfd, .events = POLLIN };
      if (rep_fd >= 0)
        pf[i_rep = n++] = (struct pollfd) { .fd = rep_fd, .events = POLLIN };
      if (chan >= 0 && !init_done)
        pf[i_chan = n++] = (struct pollfd) { .fd = chan, .events = POLLIN };
      if (listener >= 0 && !init_done && !killed_for && !have_sys)
        pf[i_lis = n++] = (struct pollfd) { .fd = listener, .events = POLLIN };
      int timeout = -1;
      uint64_t now = corral_now_ms ();
      if (!init_done && !killed_for)
        {
          if (wall_deadline)
            timeout = wall_deadline > now ? (int) (wall_deadline - now) : 0;
          if (tick)
            {
              int t = next_tick > now ? (int) (next_tick - now) : 0;
              timeout = timeout < 0 || t < timeout ? t : timeout;
            }
        }
      int r = poll (pf, (nfds_t) n, timeout);
      if (r < 0 && errno != EINTR)
        break;
      if (interrupt_count > 0 && !init_done)
        {
          if (interrupt_count == 1 && !forwarded)
            {
              syscall (SYS_pidfd_send_signal, pidfd, (int) interrupt_sig, NULL, 0);
              forwarded = true;
            }
          else if (interrupt_count > 1 && !interrupted)
            {
              interrupted = true;
              kill_sandbox (cg, pidfd);
            }
        }
      if (r > 0)
        {
          if (i_out >= 0 && pf[i_out].revents)
            if (stream_read (&out, output_limit) && !killed_for)
              {
                killed_for = "output";
                kill_sandbox (cg, pidfd);
              }
          if (i_err >= 0 && pf[i_err].revents)
            if (stream_read (&errs, output_limit) && !killed_for)
              {
                killed_for = "output";
                kill_sandbox (cg, pidfd);
              }
          if (i_rep >= 0 && pf[i_rep].revents)
            {
              ssize_t k = read (rep_fd, (char *) &cur + rep_got, sizeof cur - rep_got);
              if (k <= 0 && !(k < 0 && errno == EINTR))
                {
                  close (rep_fd);
                  rep_fd = -1;
                }
              else if (k > 0 && (rep_got += (size_t) k) == sizeof cur)
                {
                  rep_got = 0;
                  if (cur.type == CORRAL_REP_SETUP && !have_setup)
                    setup_rep = cur, have_setup = true;
                  else if (cur.type == CORRAL_REP_SYS)
                    sys_rep = cur, have_sys = true;
                  else if (cur.type == CORRAL_REP_EXIT)
                    wstatus = cur.wstatus, have_status = true;
                }
            }
          /* A warm run's seccomp listener comes on the channel, right
           * before its program runs; a forbidden call is SYS, as the
           * cold sandbox's init reports it. */
          if (i_chan >= 0 && pf[i_chan].revents)
            {
              listener = corral_recv_fd (chan);
              close (steal_fd (&chan));
            }
          if (i_lis >= 0 && (pf[i_lis].revents & POLLIN))
            {
              pid_t who;
              /* The listener stays open: closed, it would let the
               * forbidden call fail with ENOSYS and the program go on
               * before the kill has reached it. */
              if (corral_policy_notif_receive (listener, sys_rep.text, sizeof sys_rep.text, &who) == 0)
                {
                  have_sys = true;
                  kill_sandbox (cg, pidfd);
                }
            }
          else if (i_lis >= 0 && pf[i_lis].revents)
            close (steal_fd (&listener));
          if (i_pid >= 0 && pf[i_pid].revents)
            {
              /* init is gone; the kernel has already killed and reaped
               * everything else in its pid namespace.  (A warm run's
               * process is the warm interpreter's child, not ours.) */
              int st;
              if (spec->warm)
                init_done = true;
              else if (wait4 (pid, &st, 0, &ru) == pid)
                {
                  init_done = true;
                  pid = -1;
                }
            }
        }
      if (init_done || killed_for || have_sys)
        continue;
      now = corral_now_ms ();
      if (wall_deadline && now >= wall_deadline)
        {
          killed_for = "wall";
          kill_sandbox (cg, pidfd);
        }
      else if (tick && now >= next_tick)
        {
          uint64_t us;
          if (corral_cgroup_cpu_usage_us (cg, &us) == 0 && us / 1000 >= spec->time_ms)
            {
              killed_for = "cpu";
              kill_sandbox (cg, pidfd);
            }
          next_tick = now + tick;
        }
    }
  uint64_t t1 = corral_now_us ();
  res->wall_ms = (t1 - t0 + 500) / 1000;

  /* ---- account ---- */
  uint64_t us;
  if (cg_cpu && corral_cgroup_cpu_usage_us (cg, &us) == 0)
    res->cpu_ms = us / 1000;
  else
    res->cpu_ms = (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000
                  + (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
  res->memory_peak_source = corral_cgroup_stats (cg, &res->memory_peak_bytes, &res->oom_killed);
  if (res->memory_peak_source == CORRAL_BE_NONE)
    {
      /* ru_maxrss of the largest single process: documented as such. */
      res->memory_peak_bytes = (uint64_t) ru.ru_maxrss * 1024;
      res->memory_peak_source = CORRAL_BE_RLIMIT;
    }
  res->out_truncated = out.truncated;
  res->err_truncated = errs.truncated;
  if (!spec->passthrough)
    {
      res->out = out.buf ? out.buf : strdup ("");
      res->out_len = out.len;
      res->err = errs.buf ? errs.buf : strdup ("");
      res->err_len = errs.len;
      if (out.buf)
        out.buf[out.len] = '\0';
      if (errs.buf)
        errs.buf[errs.len] = '\0';
      out.buf = errs.buf = NULL;
    }
  res->warm = spec->warm != NULL;
  decide (res, spec, wstatus, have_status, have_setup ? &setup_rep : NULL,
          have_sys ? &sys_rep : NULL, killed_for, interrupted);
  ret = 0;

out:
  if (spec->warm && pidfd >= 0)
    kill_sandbox (cg, pidfd); /* ended already, or must */
  if (pid > 0)
    {
      kill_sandbox (cg, pidfd);
      waitpid (pid, NULL, 0);
    }
  int fds[] = { sync_p[0], sync_p[1], rep_p[0], rep_p[1], out_p[0], out_p[1], err_p[0], err_p[1],
                stdin_fd, pidfd, out.fd, errs.fd, rep_fd, chan, listener };
  for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  corral_cgroup_join_close (&ctx.join);
  if (ctx.etc_fd >= 0)
    close (ctx.etc_fd);
  free (out.buf);
  free (errs.buf);
  corral_cgroup_destroy (cg);
  return ret;
}

void
corral_result_free (struct corral_result *r)
{
  free (r->out);
  free (r->err);
  r->out = r->err = NULL;
}
