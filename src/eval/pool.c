/* pool.c - fork-based worker pool (see pool.h).
 *
 * The parent hands each worker one job index at a time on the worker's own
 * pipe and reads results from one shared pipe; a record is smaller than
 * PIPE_BUF, so concurrent writes never interleave.  On interrupt the
 * parent sends SIGTERM to the workers, whose handler kills their running
 * sandbox (corral_interrupt twice); the parent then drains what finished. */
#include "config.h"
#include "pool.h"
#include "eval.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct record_head {
  uint32_t worker, index, len;
};

struct worker {
  pid_t pid;
  int job_wr;       /* parent's end of the worker's job pipe */
  long busy;        /* job index in flight, or -1 */
};

static volatile sig_atomic_t interrupted;
static volatile sig_atomic_t worker_stop;

void
eval_pool_interrupt (void)
{
  interrupted = 1;
}

unsigned
eval_default_jobs (void)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN) / 2;
  return n >= 1 ? (unsigned) n : 1;
}

static void
worker_on_term (int sig)
{
  (void) sig;
  worker_stop = 1;
  corral_interrupt (SIGKILL);
  corral_interrupt (SIGKILL); /* the second call kills the sandbox */
}

static ssize_t
write_full (int fd, const void *buf, size_t len)
{
  const char *p = buf;
  size_t done = 0;
  while (done < len)
    {
      ssize_t n = write (fd, p + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      done += (size_t) n;
    }
  return (ssize_t) done;
}

static void __attribute__ ((noreturn))
worker_exit (int code)
{
  eval_run_finish ();
  _exit (code);
}

static void __attribute__ ((noreturn))
worker_main (unsigned id, int job_rd, int res_wr, eval_job_fn job, void *ctx)
{
  struct sigaction sa = { .sa_handler = worker_on_term };
  sigemptyset (&sa.sa_mask);
  sigaction (SIGTERM, &sa, NULL);
  signal (SIGINT, SIG_IGN); /* the parent decides; Ctrl-C reaches us too */
  static char buf[sizeof (struct record_head) + EVAL_RECORD_MAX];
  for (;;)
    {
      uint32_t index;
      ssize_t n = read (job_rd, &index, sizeof index);
      if (n < 0 && errno == EINTR)
        {
          if (worker_stop)
            worker_exit (0);
          continue;
        }
      if (n != sizeof index || worker_stop)
        worker_exit (0);
      size_t len = job (ctx, index, buf + sizeof (struct record_head));
      if (len > EVAL_RECORD_MAX)
        len = EVAL_RECORD_MAX;
      struct record_head h = { id, index, (uint32_t) len };
      memcpy (buf, &h, sizeof h);
      if (write_full (res_wr, buf, sizeof h + len) < 0)
        worker_exit (1);
      if (worker_stop)
        worker_exit (0);
    }
}

static int
spawn (struct worker *w, unsigned id, int res_rd, int res_wr, eval_job_fn job, void *ctx)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return -1;
  pid_t pid = fork ();
  if (pid < 0)
    {
      close (p[0]);
      close (p[1]);
      return -1;
    }
  if (pid == 0)
    {
      close (p[1]);
      close (res_rd);
      worker_main (id, p[0], res_wr, job, ctx);
    }
  close (p[0]);
  w->pid = pid;
  w->job_wr = p[1];
  w->busy = -1;
  return 0;
}

/* Next job index to hand out, or -1. */
static long
next_job (size_t *cursor, size_t n_jobs, const bool *skip)
{
  while (*cursor < n_jobs && skip && skip[*cursor])
    (*cursor)++;
  return *cursor < n_jobs ? (long) (*cursor)++ : -1;
}

static void
dispatch (struct worker *w, size_t *cursor, size_t n_jobs, const bool *skip, size_t *in_flight)
{
  long j = interrupted ? -1 : next_job (cursor, n_jobs, skip);
  if (j < 0)
    {
      if (w->job_wr >= 0)
        {
          close (w->job_wr); /* EOF: the worker exits */
          w->job_wr = -1;
        }
      return;
    }
  uint32_t idx = (uint32_t) j;
  if (write_full (w->job_wr, &idx, sizeof idx) < 0)
    return;
  w->busy = j;
  (*in_flight)++;
}

int
eval_pool_run (unsigned workers, size_t n_jobs, const bool *skip, eval_job_fn job,
               eval_done_fn done, void *ctx, struct corral_error *err)
{
  if (workers == 0)
    workers = 1;
  if (workers > n_jobs && n_jobs > 0)
    workers = (unsigned) n_jobs;
  interrupted = 0;
  /* The host probe, once, while we are alone: in a delegated cgroup it
   * moves us into a leaf so that the runs' cgroups get their controllers
   * (with workers beside us it may not); the workers inherit it. */
  corral_host_get ();
  int res[2];
  if (pipe2 (res, O_CLOEXEC) < 0)
    return corral_fail (err, errno, "pool pipe");
  struct worker *w = calloc (workers, sizeof *w);
  if (w == NULL)
    {
      close (res[0]);
      close (res[1]);
      return corral_fail (err, ENOMEM, "pool");
    }
  size_t cursor = 0, in_flight = 0;
  int ret = 0;
  unsigned started = 0;
  for (unsigned i = 0; i < workers; i++)
    {
      if (spawn (&w[i], i, res[0], res[1], job, ctx) < 0)
        {
          ret = corral_fail (err, errno, "fork worker");
          break;
        }
      started++;
      dispatch (&w[i], &cursor, n_jobs, skip, &in_flight);
    }
  bool signalled = false;
  static char stream[8 * (sizeof (struct record_head) + EVAL_RECORD_MAX)];
  size_t have = 0;
  unsigned alive = started;
  while (alive > 0)
    {
      if (interrupted && !signalled)
        {
          signalled = true;
          for (unsigned i = 0; i < started; i++)
            if (w[i].pid > 0)
              kill (w[i].pid, SIGTERM);
        }
      struct pollfd pf = { .fd = res[0], .events = POLLIN };
      int r = poll (&pf, 1, 100);
      if (r > 0)
        {
          ssize_t n = read (res[0], stream + have, sizeof stream - have);
          if (n > 0)
            have += (size_t) n;
          size_t off = 0;
          while (have - off >= sizeof (struct record_head))
            {
              struct record_head h;
              memcpy (&h, stream + off, sizeof h);
              if (have - off < sizeof h + h.len)
                break;
              const char *payload = stream + off + sizeof h;
              off += sizeof h + h.len;
              if (h.worker >= started)
                continue;
              struct worker *wk = &w[h.worker];
              wk->busy = -1;
              in_flight--;
              /* After an interrupt a result may be the killed run's: the
               * worker flags those, the callback decides. */
              done (ctx, h.index, payload, h.len);
              dispatch (wk, &cursor, n_jobs, skip, &in_flight);
            }
          memmove (stream, stream + off, have - off);
          have -= off;
        }
      /* Reap workers that ended; replace one that died with a job. */
      int st;
      pid_t pid;
      while ((pid = waitpid (-1, &st, WNOHANG)) > 0)
        for (unsigned i = 0; i < started; i++)
          if (w[i].pid == pid)
            {
              w[i].pid = 0;
              alive--;
              if (w[i].job_wr >= 0)
                {
                  close (w[i].job_wr);
                  w[i].job_wr = -1;
                }
              if (w[i].busy >= 0 && !interrupted)
                {
                  const char *msg = "{\"worker_died\":true}";
                  in_flight--;
                  done (ctx, (size_t) w[i].busy, msg, strlen (msg));
                  w[i].busy = -1;
                  if (spawn (&w[i], i, res[0], res[1], job, ctx) == 0)
                    {
                      alive++;
                      dispatch (&w[i], &cursor, n_jobs, skip, &in_flight);
                    }
                }
            }
    }
  close (res[0]);
  close (res[1]);
  for (unsigned i = 0; i < started; i++)
    if (w[i].job_wr >= 0)
      close (w[i].job_wr);
  free (w);
  if (ret < 0)
    return ret;
  return interrupted ? 1 : 0;
}
