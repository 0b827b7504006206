/* sandbox.c - the two processes inside the namespaces.
 *
 * init (pid 1): waits until the supervisor has written the id maps and
 * cgroup membership, enters a cgroup namespace, brings up lo, builds the
 * root filesystem, then forks the program.  It reaps every process, forwards
 * the usual termination signals to the program, holds the seccomp
 * user-notification listener (a forbidden call becomes verdict SYS with the
 * call's name), and when the program ends kills everything left in the pid
 * namespace and reports.  When init exits the kernel kills whatever
 * remains, daemonized, setsid'd and stopped processes included.
 *
 * program (pid 2, vforked): own session (never our tty: TIOCSTI), rlimits, target
 * uid/gid, every capability dropped, no_new_privs, every fd above 2 closed
 * on exec (runc CVE-2024-21626), seccomp last, then execvp. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/close_range.h>

extern char **environ;

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static void
report (int fd, int type, int wstatus, const char *text)
{
  struct corral_report r;
  memset (&r, 0, sizeof r);
  r.type = type;
  r.wstatus = wstatus;
  if (text)
    snprintf (r.text, sizeof r.text, "%s", text);
  corral_write_all (fd, &r, sizeof r);
}

static void __attribute__ ((noreturn))
setup_failed (const struct corral_sandbox_ctx *ctx, const struct corral_error *err)
{
  report (ctx->report_wr, CORRAL_REP_SETUP, 0, err->msg);
  _exit (126);
}

size_t
corral_sandbox_rlimits (const struct corral_sandbox_ctx *ctx,
                        struct corral_rlimit out[CORRAL_RLIMITS_MAX])
{
  /* CPU: SIGXCPU at the limit (verdict TLE whatever the accounting's
   * rounding), SIGKILL a second later for a program that ignores it. */
  uint64_t cpu_hard = ctx->rl_cpu_s == CORRAL_NO_LIMIT ? CORRAL_NO_LIMIT : ctx->rl_cpu_s + 1;
  const struct corral_rlimit all[] = {
    { RLIMIT_CORE, 0, 0 },
    { RLIMIT_CPU, ctx->rl_cpu_s, cpu_hard },
    { RLIMIT_AS, ctx->rl_as, ctx->rl_as },
    { RLIMIT_NPROC, ctx->rl_nproc, ctx->rl_nproc },
    { RLIMIT_FSIZE, ctx->rl_fsize, ctx->rl_fsize },
    { RLIMIT_NOFILE, ctx->rl_nofile, ctx->rl_nofile },
    { RLIMIT_STACK, ctx->rl_stack, ctx->rl_stack },
  };
  size_t n = 0;
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    if (all[i].soft != CORRAL_NO_LIMIT)
      out[n++] = all[i];
  return n;
}

static void __attribute__ ((noreturn))
run_program (const struct corral_sandbox_ctx *ctx, int notif_sock)
{
  struct corral_error err = { 0 };
  const struct corral_spec *spec = ctx->spec;

  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
    signal (forwarded[i], SIG_DFL);
  signal (SIGPIPE, SIG_DFL);

  if (setsid () < 0)
    corral_fail (&err, errno, "setsid");
  else if (dup2 (ctx->stdin_fd, 0) < 0 || dup2 (ctx->out_wr, 1) < 0 || dup2 (ctx->err_wr, 2) < 0)
    corral_fail (&err, errno, "set up stdio");
  if (err.msg[0])
    setup_failed (ctx, &err);

  struct corral_rlimit lims[CORRAL_RLIMITS_MAX];
  size_t nl = corral_sandbox_rlimits (ctx, lims);
  for (size_t i = 0; i < nl; i++)
    {
      struct rlimit rl = { .rlim_cur = lims[i].soft,
                           .rlim_max = lims[i].hard == CORRAL_NO_LIMIT ? RLIM_INFINITY : lims[i].hard };
      setrlimit (lims[i].resource, &rl);
    }

  /* Identity: supplementary groups first (refused in a rootless user
   * namespace, where setgroups is denied and there are none to drop).  A
   * warm interpreter (keep_caps, uid 0 of its user namespace) keeps its
   * capabilities there: it makes each run's sandbox. */
  if (!spec->keep_caps && corral_caps_drop_bounding (&err) < 0)
    setup_failed (ctx, &err);
  if (setgroups (0, NULL) < 0 && !(ctx->userns && errno == EPERM))
    corral_fail (&err, errno, "setgroups");
  else if (setresgid (ctx->gid, ctx->gid, ctx->gid) < 0)
    corral_fail (&err, errno, "setresgid %u", (unsigned) ctx->gid);
  else if (setresuid (ctx->uid, ctx->uid, ctx->uid) < 0)
    corral_fail (&err, errno, "setresuid %u", (unsigned) ctx->uid);
  if (err.msg[0] || (!spec->keep_caps && corral_caps_clear (&err) < 0))
    setup_failed (ctx, &err);
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    {
      corral_fail (&err, errno, "no_new_privs");
      setup_failed (ctx, &err);
    }
  if (chdir (spec->cwd) < 0)
    {
      corral_fail (&err, errno, "working directory %s", spec->cwd);
      setup_failed (ctx, &err);
    }
  /* Every fd above 2 closes at execve, including the report pipe: a
   * successful exec is then seen as "nothing reported". */
  if (syscall (SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    {
      for (int fd = 3; fd < 65536; fd++)
        fcntl (fd, F_SETFD, FD_CLOEXEC);
    }
  environ = (char **) ctx->env;

  if (spec->policy)
    {
      int listener = -1;
      int r = corral_policy_apply (spec->policy, &listener);
      if (r < 0)
        {
          corral_fail (&err, -r, "load seccomp policy %s", corral_policy_name (spec->policy));
          setup_failed (ctx, &err);
        }
      if (listener >= 0)
        {
          if (corral_send_fd (notif_sock, listener) < 0)
            {
              corral_fail (&err, errno, "pass seccomp listener");
              setup_failed (ctx, &err);
            }
          close (listener);
        }
      close (notif_sock);
    }

  execvp (spec->argv[0], spec->argv);
  corral_fail (&err, errno, "execvp %s", spec->argv[0]);
  setup_failed (ctx, &err);
}

/* The supervisor's argv and environment strings, which init inherited by
 * the fork (a server's --api-key, a run's host paths), are wiped from
 * init's memory: /proc/1/cmdline is then empty, should anything see pid 1
 * past hidepid.  Called once the program has been started (the vfork has
 * returned), as spec->argv may point into them. */
static void
wipe_inherited_strings (void)
{
  char buf[2048];
  int fd = open ("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  ssize_t n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return;
  buf[n] = '\0';
  /* fields 48-51 (arg_start, arg_end, env_start, env_end); the second,
   * the name in parentheses, may hold spaces and ')' itself */
  char *p = strrchr (buf, ')');
  unsigned long v[4];
  int field = 2;
  while (p && field < 48)
    {
      p = strchr (p + 1, ' ');
      field++;
    }
  if (p == NULL || sscanf (p, " %lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3]) != 4)
    return;
  for (int i = 0; i < 4; i += 2)
    if (v[i] && v[i + 1] > v[i] && v[i + 1] - v[i] < (64u << 20))
      memset ((void *) v[i], 0, v[i + 1] - v[i]);
}

/* Kills every other process of the pid namespace and reaps them all. */
static void
kill_and_reap_all (void)
{
  kill (-1, SIGKILL);
  while (waitpid (-1, NULL, 0) > 0 || errno == EINTR)
    ;
}

void
corral_sandbox_init (const struct corral_sandbox_ctx *ctx)
{
  struct corral_error err = { 0 };
  const struct corral_spec *spec = ctx->spec;

  /* If the supervisor dies, so does the sandbox: init's death tears the
   * pid namespace down.  (getppid() is 0 here: the parent is outside our
   * pid namespace; a supervisor that died before this line is seen as EOF
   * on the sync pipe below.) */
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  for (int i = 0; i < 4; i++)
    close (ctx->parent_fds[i]);
  /* First release: the id maps are written. */
  char b;
  if (read (ctx->sync_rd, &b, 1) != 1)
    _exit (125);
  /* Not dumpable while we set up: nothing may ptrace or read our memory.
   * (Only now: a rootless supervisor must open our /proc/PID/uid_map,
   * which a non-dumpable process's /proc files refuse.) */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);

  /* In a user namespace, take the mapped identity now: files we create
   * while building the root need a mapped fsuid (root's outer uid 0 is not
   * mapped).  The creator keeps its capabilities in the namespace: they
   * are cleared only when leaving the namespace's uid 0. */
  if (ctx->userns && (setresgid (ctx->gid, ctx->gid, ctx->gid) < 0
                      || setresuid (ctx->uid, ctx->uid, ctx->uid) < 0))
    {
      corral_fail (&err, errno, "take uid %u in the user namespace", (unsigned) ctx->uid);
      setup_failed (ctx, &err);
    }
  /* Root's namespace (every id itself): we were cloned with the owner's
   * euid (owner.c) and become its uid 0, root's view of the host with
   * capabilities in our namespaces only. */
  if (ctx->idmap_userns && (setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0))
    {
      corral_fail (&err, errno, "take uid 0 in the user namespace");
      setup_failed (ctx, &err);
    }
  /* A change of euid cleared the death signal: set it again (a supervisor
   * gone meanwhile is seen as EOF on the sync socket below). */
  if (ctx->userns || ctx->idmap_userns)
    prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  const char *hn = spec->hostname ? spec->hostname : "corral";
  if (sethostname (hn, strlen (hn)) < 0)
    {
      corral_fail (&err, errno, "sethostname");
      setup_failed (ctx, &err);
    }
  if (ctx->net_setup == CORRAL_NETSET_SEND_NL)
    {
      /* The supervisor brings lo up through it (net.c) before 'p'. */
      int nl = corral_net_open ();
      if (nl < 0 || corral_send_fd (ctx->sync_rd, nl) < 0)
        {
          corral_fail (&err, errno, "netlink socket for lo");
          setup_failed (ctx, &err);
        }
      close (nl);
    }
  if (corral_rootfs_setup (spec, ctx->uid, ctx->gid, ctx->userns || ctx->idmap_userns, ctx->etc_fd,
                           ctx->etc_path, &err) < 0)
    setup_failed (ctx, &err);
  if (ctx->etc_fd >= 0)
    close (ctx->etc_fd);

  if (ctx->net_setup == CORRAL_NETSET_RECV_NS)
    {
      int ns = corral_recv_fd (ctx->sync_rd);
      if (ns < 0)
        _exit (125); /* the supervisor failed: it reports why */
      if (setns (ns, CLONE_NEWNET) < 0)
        {
          corral_fail (&err, errno, "enter the network namespace");
          setup_failed (ctx, &err);
        }
      close (ns);
    }
  /* Second release: we are in our v2 cgroup; join the v1 ones.  The cgroup
   * namespace is made only now, so the sandbox sees its own cgroup as the
   * root. */
  if (read (ctx->sync_rd, &b, 1) != 1)
    _exit (125);
  close (ctx->sync_rd);
  if (corral_cgroup_join_self (&ctx->join, &err) < 0)
    setup_failed (ctx, &err);
  if (unshare (CLONE_NEWCGROUP) < 0)
    {
      corral_fail (&err, errno, "unshare cgroup namespace");
      setup_failed (ctx, &err);
    }

  int sv[2] = { -1, -1 };
  if (spec->policy && socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      corral_fail (&err, errno, "socketpair");
      setup_failed (ctx, &err);
    }

  sigset_t mask;
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
    sigaddset (&mask, forwarded[i]);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  int sfd = signalfd (-1, &mask, SFD_CLOEXEC);
  if (sfd < 0)
    {
      corral_fail (&err, errno, "signalfd");
      setup_failed (ctx, &err);
    }

  /* vfork: the program's setup runs in init's memory while init waits,
   * which spares copying init's page tables and the copy-on-write faults
   * after (~0.1 ms a run).  run_program never returns; what it writes in
   * init's memory (environ, libcap's allocations) init does not use. */
  pid_t prog = vfork ();
  if (prog < 0)
    {
      corral_fail (&err, errno, "fork program");
      setup_failed (ctx, &err);
    }
  if (prog == 0)
    {
      close (sfd);
      if (sv[0] >= 0)
        close (sv[0]);
      run_program (ctx, sv[1]);
    }
  wipe_inherited_strings ();
  if (sv[1] >= 0)
    close (sv[1]);
  close (ctx->out_wr);
  close (ctx->err_wr);
  close (ctx->stdin_fd);

  /* The listener arrives right before execve, or never (setup failed,
   * or no listener could be had): then recv sees the socket closed. */
  int listener = -1;
  if (sv[0] >= 0)
    {
      listener = corral_recv_fd (sv[0]);
      close (sv[0]);
    }

  int prog_status = 0;
  bool prog_done = false;
  for (;;)
    {
      struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = listener, .events = POLLIN } };
      if (poll (p, listener >= 0 ? 2 : 1, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (listener >= 0 && (p[1].revents & POLLIN))
        {
          char name[64];
          pid_t who;
          if (corral_policy_notif_receive (listener, name, sizeof name, &who) == 0)
            {
              kill_and_reap_all ();
              report (ctx->report_wr, CORRAL_REP_SYS, 0, name);
              _exit (0);
            }
        }
      if (listener >= 0 && (p[1].revents & (POLLHUP | POLLERR)))
        {
          close (listener);
          listener = -1;
        }
      if (!(p[0].revents & POLLIN))
        continue;
      struct signalfd_siginfo si;
      if (read (sfd, &si, sizeof si) != sizeof si)
        continue;
      if (si.ssi_signo != SIGCHLD)
        {
          kill (prog, (int) si.ssi_signo);
          continue;
        }
      int st;
      pid_t w;
      while ((w = waitpid (-1, &st, WNOHANG)) > 0)
        if (w == prog)
          {
            prog_status = st;
            prog_done = true;
          }
      if (prog_done)
        break;
    }
  kill_and_reap_all ();
  report (ctx->report_wr, CORRAL_REP_EXIT, prog_status, NULL);
  _exit (0);
}
