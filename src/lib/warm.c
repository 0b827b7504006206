/* warm.c - warm interpreters (corral_warm_*, see corral.h).
 *
 * A warm interpreter is a Python process started once in a sandbox of its
 * own (warm_zygote.py), where it is uid 0 of a user namespace with its
 * capabilities there and no seccomp filter; it runs no sample.  A run
 * through it (corral_run with spec->warm) sends it the run's fds and
 * settings; it forks a child that joins the run's cgroups, makes fresh
 * namespaces and tmpfs inside its own sandbox, locks itself down as the
 * sandbox's program does, and runs the payload there.  What is saved is
 * the interpreter's start-up and the root file system's construction; each
 * run still gets its own namespaces, tmpfs, cgroups, seccomp filter and
 * capability-less process.
 *
 * The warm sandbox is supervised by a helper process (corral_run, which
 * blocks): it dies with us (PDEATHSIG), and the sandbox with it. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cjson/cJSON.h>

extern const char corral_warm_zygote_py[];

struct corral_warm {
  pid_t helper;
  int ctl; /* SOCK_SEQPACKET to the interpreter */
};

static char *
hex (const void *p, size_t n)
{
  static const char d[] = "0123456789abcdef";
  const unsigned char *b = p;
  char *s = malloc (2 * n + 1);
  if (s == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    {
      s[2 * i] = d[b[i] >> 4];
      s[2 * i + 1] = d[b[i] & 15];
    }
  s[2 * n] = '\0';
  return s;
}

static cJSON *
string_list (const char *const *v)
{
  cJSON *a = cJSON_CreateArray ();
  for (size_t i = 0; a && v[i]; i++)
    cJSON_AddItemToArray (a, cJSON_CreateString (v[i]));
  return a;
}

/* The first message: the payload, the seccomp programs, /proc's masks. */
static char *
start_message (const struct corral_spec *spec)
{
  const void *notify = NULL, *kill = NULL;
  size_t nlen = 0, klen = 0;
  corral_policy_programs (spec->policy, &notify, &nlen, &kill, &klen);
  char *hn = hex (notify, nlen), *hk = hex (kill, klen);
  cJSON *o = cJSON_CreateObject ();
  cJSON *m = cJSON_AddObjectToObject (o, "masks");
  cJSON_AddStringToObject (o, "payload", spec->argv[2]);
  cJSON_AddStringToObject (o, "bpf_notify", hn ? hn : "");
  cJSON_AddStringToObject (o, "bpf_kill", hk ? hk : "");
  cJSON_AddItemToObject (m, "null", string_list (corral_proc_mask_files));
  cJSON_AddItemToObject (m, "dirs", string_list (corral_proc_mask_dirs));
  char *s = hn && hk ? cJSON_PrintUnformatted (o) : NULL;
  cJSON_Delete (o);
  free (hn);
  free (hk);
  return s;
}

void
corral_warm_stop (struct corral_warm *w)
{
  if (w == NULL)
    return;
  close (w->ctl); /* EOF: the interpreter leaves, its supervisor returns */
  for (int i = 0; i < 200; i++)
    {
      if (waitpid (w->helper, NULL, WNOHANG) != 0)
        {
          free (w);
          return;
        }
      poll (NULL, 0, 10);
    }
  kill (w->helper, SIGKILL);
  waitpid (w->helper, NULL, 0);
  free (w);
}

int
corral_warm_start (const struct corral_spec *spec, struct corral_warm **out,
                   struct corral_error *err)
{
  *out = NULL;
  if (spec->argv == NULL || spec->argv[0] == NULL || spec->argv[1] == NULL
      || strcmp (spec->argv[1], "-c") != 0 || spec->argv[2] == NULL || spec->argv[3] != NULL)
    return corral_fail (err, 0, "a warm interpreter runs `PYTHON -c PROGRAM`");
  if (spec->n_mounts > 0)
    return corral_fail (err, 0, "a warm interpreter takes no extra mounts");
  /* An image's root is writable (an overlay's upper layer): runs would
   * share it.  The host view's is read-only but for the tmpfs each run
   * gets fresh. */
  if (spec->n_lowers > 0)
    return corral_fail (err, 0, "a warm interpreter runs on the host view only");
  char *start = start_message (spec);
  if (start == NULL)
    return corral_fail (err, ENOMEM, "warm interpreter");
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      free (start);
      return corral_fail (err, errno, "socketpair");
    }
  pid_t parent = getpid ();
  pid_t helper = fork ();
  if (helper < 0)
    {
      int e = errno;
      free (start);
      close (sv[0]);
      close (sv[1]);
      return corral_fail (err, e, "fork");
    }
  if (helper == 0)
    {
      prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      if (getppid () != parent)
        _exit (1);
      close (sv[0]);
      char *argv[] = { spec->argv[0], "-c", (char *) corral_warm_zygote_py, NULL };
      struct corral_spec z = *spec;
      z.argv = argv;
      z.stdin_fd = sv[1];
      z.userns = 1;
      z.uid = 0;
      z.gid = 0;
      z.keep_caps = true;
      z.policy = NULL;
      z.net = CORRAL_NET_NONE;
      z.time_ms = CORRAL_NO_LIMIT;
      z.wall_ms = CORRAL_NO_LIMIT;
      z.output = 64 * 1024;
      z.passthrough = false;
      z.warm = NULL;
      struct corral_result res;
      struct corral_error e = { 0 };
      if (corral_run (&z, &res, &e) == 0)
        {
          if (getenv ("CORRAL_WARM_DEBUG"))
            fprintf (stderr, "corral: warm interpreter ended: %s\n%s", res.reason, res.err);
          corral_result_free (&res);
        }
      else if (getenv ("CORRAL_WARM_DEBUG"))
        fprintf (stderr, "corral: warm interpreter: %s\n", e.msg);
      _exit (0);
    }
  close (sv[1]);
  struct corral_warm *w = calloc (1, sizeof *w);
  if (w == NULL)
    {
      free (start);
      close (sv[0]);
      kill (helper, SIGKILL);
      waitpid (helper, NULL, 0);
      return corral_fail (err, ENOMEM, "warm interpreter");
    }
  w->helper = helper;
  w->ctl = sv[0];
  ssize_t n = send (w->ctl, start, strlen (start), MSG_NOSIGNAL);
  free (start);
  char ready[8] = "";
  struct pollfd p = { .fd = w->ctl, .events = POLLIN };
  if (n < 0 || poll (&p, 1, 30000) != 1 || recv (w->ctl, ready, sizeof ready, 0) != 5
      || memcmp (ready, "ready", 5) != 0)
    {
      corral_warm_stop (w);
      return corral_fail (err, 0, "the warm interpreter did not start");
    }
  *out = w;
  return 0;
}

int
corral_warm_launch (struct corral_warm *w, const char *req, const int *fds, size_t n_fds,
                    int *pidfd, struct corral_error *err)
{
  char cbuf[CMSG_SPACE (sizeof (int) * 16)];
  if (n_fds > 16)
    return corral_fail (err, EINVAL, "warm run: too many fds");
  struct iovec iov = { .iov_base = (void *) req, .iov_len = strlen (req) };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
  memset (cbuf, 0, sizeof cbuf);
  mh.msg_control = cbuf;
  mh.msg_controllen = CMSG_SPACE (sizeof (int) * n_fds);
  struct cmsghdr *c = CMSG_FIRSTHDR (&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (sizeof (int) * n_fds);
  memcpy (CMSG_DATA (c), fds, sizeof (int) * n_fds);
  if (sendmsg (w->ctl, &mh, MSG_NOSIGNAL) < 0)
    return corral_fail (err, errno, "warm interpreter gone");
  struct pollfd p = { .fd = w->ctl, .events = POLLIN };
  if (poll (&p, 1, 30000) != 1)
    return corral_fail (err, 0, "warm interpreter does not answer");
  *pidfd = corral_recv_fd (w->ctl);
  if (*pidfd < 0)
    return corral_fail (err, errno, "warm interpreter gone");
  return 0;
}
