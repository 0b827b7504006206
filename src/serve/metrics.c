/* metrics.c - /metrics in Prometheus's text format: requests by path and
 * status, runs by verdict, the queue, and a histogram of /run_code times. */
#include "config.h"
#include "server.h"
#include "gate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct { char path[48]; int status; unsigned long long n; } reqs[MAX_SERIES];
static size_t n_reqs;
static struct { char verdict[24]; unsigned long long n; } runs[16];
static size_t n_runs;
static const double bounds[] = { 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
#define NB (sizeof bounds / sizeof *bounds)
static unsigned long long hist[NB + 1], hist_count;
static double hist_sum;

void
metrics_request (const char *path, int status, double secs, const char *verdict)
{
  static const char *const known[] = { "/run_code", "/run_jupyter", "/v1/run", "/v1/ping", "/health",
                                       "/stats", "/metrics" };
  const char *p = "other";
  for (size_t i = 0; i < sizeof known / sizeof *known; i++)
    if (strcmp (path, known[i]) == 0)
      p = known[i];
  if (strncmp (path, "/sandbox", 8) == 0)
    p = "/sandbox";
  else if (strncmp (path, "/pool", 5) == 0)
    p = "/pool";
  pthread_mutex_lock (&mu);
  size_t i;
  for (i = 0; i < n_reqs; i++)
    if (reqs[i].status == status && strcmp (reqs[i].path, p) == 0)
      break;
  if (i == n_reqs && n_reqs < MAX_SERIES)
    {
      snprintf (reqs[i].path, sizeof reqs[i].path, "%s", p);
      reqs[i].status = status;
      n_reqs++;
    }
  if (i < n_reqs)
    reqs[i].n++;
  if (strcmp (p, "/run_code") == 0 && status == 200)
    {
      size_t b = 0;
      while (b < NB && secs > bounds[b])
        b++;
      hist[b]++;
      hist_count++;
      hist_sum += secs;
      for (i = 0; i < n_runs; i++)
        if (strcmp (runs[i].verdict, verdict) == 0)
          break;
      if (i == n_runs && n_runs < 16)
        snprintf (runs[n_runs++].verdict, sizeof runs[i].verdict, "%s", verdict);
      if (i < n_runs)
        runs[i].n++;
    }
  pthread_mutex_unlock (&mu);
}

char *
metrics_text (void)
{
  size_t queued, running;
  queue_depth (&queued, &running);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    return NULL;
  pthread_mutex_lock (&mu);
  fprintf (f, "# HELP corral_requests_total HTTP requests answered.\n# TYPE corral_requests_total counter\n");
  for (size_t i = 0; i < n_reqs; i++)
    fprintf (f, "corral_requests_total{path=\"%s\",status=\"%d\"} %llu\n", reqs[i].path, reqs[i].status,
             reqs[i].n);
  fprintf (f, "# HELP corral_runs_total /run_code answers by status.\n# TYPE corral_runs_total counter\n");
  for (size_t i = 0; i < n_runs; i++)
    fprintf (f, "corral_runs_total{status=\"%s\"} %llu\n", runs[i].verdict, runs[i].n);
  fprintf (f, "# HELP corral_queue_depth Jobs waiting for a worker.\n# TYPE corral_queue_depth gauge\n"
              "corral_queue_depth %zu\n", queued);
  fprintf (f, "# HELP corral_running Jobs running.\n# TYPE corral_running gauge\ncorral_running %zu\n", running);
  fprintf (f, "# HELP corral_run_seconds /run_code time, queueing included.\n"
              "# TYPE corral_run_seconds histogram\n");
  unsigned long long cum = 0;
  for (size_t b = 0; b < NB; b++)
    {
      cum += hist[b];
      fprintf (f, "corral_run_seconds_bucket{le=\"%g\"} %llu\n", bounds[b], cum);
    }
  fprintf (f, "corral_run_seconds_bucket{le=\"+Inf\"} %llu\n", hist_count);
  fprintf (f, "corral_run_seconds_sum %.6f\ncorral_run_seconds_count %llu\n", hist_sum, hist_count);
  pthread_mutex_unlock (&mu);
  gate_metrics (f);
  fclose (f);
  return buf;
}
