/* queue.c - the server's jobs and workers.
 *
 * A request that runs code becomes a job on one bounded FIFO queue.  Each
 * worker process has a dispatcher thread here that takes the next job,
 * sends it, and waits for the answer; the request's thread waits for its
 * job to be done.  A full queue refuses at once (the caller answers 504,
 * which verl retries).  A worker that dies is started again, and its job
 * answered with a SandboxError.
 *
 * A client that hangs up does not leave work behind: while its request
 * waits, its connection is watched (POLLRDHUP); a job still queued is
 * dropped, a running one is cancelled (SIGUSR1 makes the worker kill the
 * sandbox) and its answer thrown away. */
#include "config.h"
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct worker;

struct job {
  char *text;
  char *answer;
  bool done;
  bool abandoned;         /* its client left while it ran: the dispatcher frees it */
  struct worker *on;      /* the worker running it, once taken */
  struct job *next;
};

struct worker {
  pid_t pid;
  int fd;
  pthread_t thread;
};

static struct {
  pthread_mutex_t mu;
  pthread_cond_t has_job, job_done;
  struct job *head, *tail;
  size_t queued, running, capacity;
  struct worker *w;
  size_t n_workers;
  char **argv;        /* ours, for the workers: + --worker-fd 3 */
  bool stopping;
} q = { .mu = PTHREAD_MUTEX_INITIALIZER, .has_job = PTHREAD_COND_INITIALIZER,
        .job_done = PTHREAD_COND_INITIALIZER };

static int
spawn_worker (struct worker *w)
{
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, sv[1], 3); /* dup2 clears CLOEXEC */
  /* the server blocks SIGTERM and SIGINT for sigwait: not so the worker */
  posix_spawnattr_t at;
  posix_spawnattr_init (&at);
  sigset_t none;
  sigemptyset (&none);
  posix_spawnattr_setsigmask (&at, &none);
  posix_spawnattr_setflags (&at, POSIX_SPAWN_SETSIGMASK);
  pid_t pid;
  int r = posix_spawn (&pid, "/proc/self/exe", &fa, &at, q.argv, environ);
  posix_spawnattr_destroy (&at);
  posix_spawn_file_actions_destroy (&fa);
  close (sv[1]);
  if (r != 0)
    {
      close (sv[0]);
      errno = r;
      return -1;
    }
  w->pid = pid;
  w->fd = sv[0];
  return 0;
}

static char *
sandbox_error_text (const char *msg)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "status", "SandboxError");
  cJSON_AddStringToObject (o, "message", msg);
  cJSON_AddNullToObject (o, "compile_result");
  cJSON_AddNullToObject (o, "run_result");
  cJSON_AddNullToObject (o, "executor_pod_name");
  cJSON_AddObjectToObject (o, "files");
  char *s = cJSON_PrintUnformatted (o);
  cJSON_Delete (o);
  return s;
}

static void *
dispatch (void *arg)
{
  struct worker *w = arg;
  for (;;)
    {
      pthread_mutex_lock (&q.mu);
      while (q.head == NULL && !q.stopping)
        pthread_cond_wait (&q.has_job, &q.mu);
      if (q.head == NULL)
        {
          pthread_mutex_unlock (&q.mu);
          break;
        }
      struct job *j = q.head;
      q.head = j->next;
      if (q.head == NULL)
        q.tail = NULL;
      q.queued--;
      q.running++;
      j->on = w;
      pthread_mutex_unlock (&q.mu);

      char *answer = NULL;
      if (w->fd >= 0 && serve_send (w->fd, j->text, strlen (j->text)) == 0)
        answer = serve_recv (w->fd, 512u << 20, NULL);
      if (answer == NULL)
        {
          /* the worker died (or its socket broke): a new one */
          if (w->fd >= 0)
            close (w->fd);
          w->fd = -1;
          if (w->pid > 0)
            waitpid (w->pid, NULL, 0);
          w->pid = -1;
          answer = sandbox_error_text ("corral: the worker running this request died; it was restarted");
          if (!q.stopping && spawn_worker (w) < 0)
            fprintf (stderr, "corral-serve: cannot restart a worker: %s\n", strerror (errno));
        }
      pthread_mutex_lock (&q.mu);
      q.running--;
      if (j->abandoned)
        {
          free (answer);
          free (j->text);
          free (j);
        }
      else
        {
          j->answer = answer;
          j->done = true;
          pthread_cond_broadcast (&q.job_done);
        }
      pthread_mutex_unlock (&q.mu);
    }
  return NULL;
}

static __thread int watched_fd = -1;

void
queue_watch (int fd)
{
  watched_fd = fd;
}

/* The peer closed (or reset) the connection.  A client that half-closes
 * after its request would read as gone too; HTTP clients do not. */
static bool
client_gone (int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLRDHUP };
  return poll (&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* With q.mu held: j's client left.  A queued job leaves the queue (and is
 * freed); a running one is cancelled and left to its dispatcher. */
static void
abandon (struct job *j)
{
  if (j->on == NULL)
    {
      struct job **pp = &q.head;
      while (*pp && *pp != j)
        pp = &(*pp)->next;
      if (*pp)
        {
          *pp = j->next;
          if (q.tail == j)
            {
              q.tail = NULL;
              for (struct job *t = q.head; t; t = t->next)
                q.tail = t;
            }
          q.queued--;
        }
      free (j->text);
      free (j);
      return;
    }
  j->abandoned = true;
  /* Under q.mu, before the dispatcher can mark j done and send the next
   * job: the signal cannot hit a later job (the worker clears it as it
   * takes one). */
  if (j->on->pid > 0)
    kill (j->on->pid, SIGUSR1);
}

int
queue_start (char **argv, size_t workers, size_t capacity)
{
  q.argv = argv;
  q.capacity = capacity;
  q.n_workers = workers;
  q.w = calloc (workers, sizeof *q.w);
  if (q.w == NULL)
    return -1;
  for (size_t i = 0; i < workers; i++)
    {
      q.w[i].fd = -1;
      if (spawn_worker (&q.w[i]) < 0)
        return -1;
    }
  for (size_t i = 0; i < workers; i++)
    if (pthread_create (&q.w[i].thread, NULL, dispatch, &q.w[i]) != 0)
      return -1;
  return 0;
}

char *
queue_run (const char *job_text, int *refused)
{
  *refused = 0;
  struct job *j = calloc (1, sizeof *j);
  if (j == NULL || (j->text = strdup (job_text)) == NULL)
    {
      free (j);
      return NULL;
    }
  pthread_mutex_lock (&q.mu);
  if (q.stopping || q.queued >= q.capacity)
    {
      *refused = q.stopping ? 503 : 504;
      pthread_mutex_unlock (&q.mu);
      free (j->text);
      free (j);
      return NULL;
    }
  if (q.tail)
    q.tail->next = j;
  else
    q.head = j;
  q.tail = j;
  q.queued++;
  pthread_cond_signal (&q.has_job);
  int fd = watched_fd;
  while (!j->done)
    {
      if (fd < 0)
        {
          pthread_cond_wait (&q.job_done, &q.mu);
          continue;
        }
      struct timespec t;
      clock_gettime (CLOCK_REALTIME, &t);
      t.tv_nsec += 200000000L;
      if (t.tv_nsec >= 1000000000L)
        t.tv_sec++, t.tv_nsec -= 1000000000L;
      pthread_cond_timedwait (&q.job_done, &q.mu, &t);
      if (!j->done && client_gone (fd))
        {
          abandon (j);
          pthread_mutex_unlock (&q.mu);
          *refused = 499;
          return NULL;
        }
    }
  pthread_mutex_unlock (&q.mu);
  char *a = j->answer;
  free (j->text);
  free (j);
  return a;
}

const char *
queue_refusal (int refused)
{
  return refused == 504 ? "the queue is full: retry"
         : refused == 499 ? "the client closed the connection"
                          : "the server is shutting down";
}

void
queue_depth (size_t *queued, size_t *running)
{
  pthread_mutex_lock (&q.mu);
  *queued = q.queued;
  *running = q.running;
  pthread_mutex_unlock (&q.mu);
}

/* Stops taking jobs; waits up to grace_s for the queue to drain and the
 * running jobs to end, then stops the workers (SIGTERM makes a worker kill
 * its sandbox and leave, cgroups removed). */
void
queue_stop (double grace_s)
{
  struct timespec t0;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  for (;;)
    {
      size_t qd, r;
      queue_depth (&qd, &r);
      struct timespec now;
      clock_gettime (CLOCK_MONOTONIC, &now);
      double el = (double) (now.tv_sec - t0.tv_sec) + (double) (now.tv_nsec - t0.tv_nsec) / 1e9;
      if ((qd == 0 && r == 0) || el >= grace_s)
        break;
      struct timespec ts = { 0, 50000000 };
      nanosleep (&ts, NULL);
    }
  pthread_mutex_lock (&q.mu);
  q.stopping = true;
  /* jobs still queued: answered as refused */
  for (struct job *j = q.head; j; j = j->next)
    {
      j->answer = sandbox_error_text ("corral: the server is shutting down");
      j->done = true;
    }
  q.head = q.tail = NULL;
  q.queued = 0;
  pthread_cond_broadcast (&q.has_job);
  pthread_cond_broadcast (&q.job_done);
  pthread_mutex_unlock (&q.mu);
  for (size_t i = 0; i < q.n_workers; i++)
    if (q.w[i].pid > 0)
      kill (q.w[i].pid, SIGTERM);
  for (size_t i = 0; i < q.n_workers; i++)
    pthread_join (q.w[i].thread, NULL);
  for (size_t i = 0; i < q.n_workers; i++)
    {
      if (q.w[i].fd >= 0)
        close (q.w[i].fd);
      if (q.w[i].pid > 0)
        waitpid (q.w[i].pid, NULL, 0);
    }
}
