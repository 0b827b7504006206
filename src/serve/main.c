/* main.c - corral-serve: options, the workers, libmicrohttpd, the routes,
 * the access log, and a graceful stop on SIGTERM.
 *
 * libmicrohttpd runs one thread per connection, so a request that waits for
 * its job blocks only its own thread: /health and /v1/ping answer at once
 * whatever the queue holds. */
#include "config.h"
#include "server.h"
#include "fsat.h"
#include "json-nul.h"
#include "image.h"
#include "gate.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <unistd.h>

#define MAX_BODY (64u << 20)

static struct {
  const char *host;
  unsigned port;
  char api_key[256];
  size_t workers, queue;
  double grace, idle;
  time_t started;
  unsigned max_conn, max_per_ip;
  double header_timeout, body_timeout;
  uint64_t max_body_memory;
} cfg = { .host = "127.0.0.1", .port = 8080, .grace = 30, .idle = 1800, .max_conn = 4096,
          .header_timeout = 10, .body_timeout = 120, .max_body_memory = 512ull << 20 };

/* the bytes of request bodies being received or held, against
 * --max-body-memory */
static atomic_uint_fast64_t body_memory;

static double
now_s (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

/* ---- per request ------------------------------------------------------------ */

struct req {
  char *body;
  size_t len, cap;
  bool too_big;
  int refused; /* the status to answer, the body being thrown away */
  const char *why;
  uint64_t reserved; /* of body_memory */
  double t0;
};

/* Takes n more bytes of body_memory for r; false over the bound. */
static bool
reserve (struct req *r, uint64_t n)
{
  uint64_t cur = atomic_load (&body_memory);
  do
    if (cur + n > cfg.max_body_memory)
      return false;
  while (!atomic_compare_exchange_weak (&body_memory, &cur, cur + n));
  r->reserved += n;
  return true;
}

static enum MHD_Result
reply (struct MHD_Connection *c, int status, const char *ctype, char *text)
{
  struct MHD_Response *r = MHD_create_response_from_buffer (strlen (text), text, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header (r, "Content-Type", ctype);
  /* every request passes the gate (gate.c): one per connection */
  MHD_add_response_header (r, "Connection", "close");
  enum MHD_Result ret = MHD_queue_response (c, (unsigned) status, r);
  MHD_destroy_response (r);
  return ret;
}

static enum MHD_Result
reply_json (struct MHD_Connection *c, int status, cJSON *o)
{
  char *s = cJSON_PrintUnformatted (o);
  cJSON_Delete (o);
  return reply (c, status, "application/json", s ? s : strdup ("{}"));
}

static enum MHD_Result
reply_detail (struct MHD_Connection *c, int status, const char *msg)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "detail", msg);
  return reply_json (c, status, o);
}

/* X-API-Key or ?api_key= (ms-enclave), Authorization: Bearer KEY or KEY
 * (SandboxFusion clients). */
static bool
authorized (struct MHD_Connection *c)
{
  if (cfg.api_key[0] == '\0')
    return true;
  const char *k = MHD_lookup_connection_value (c, MHD_HEADER_KIND, "X-API-Key");
  if (k && strcmp (k, cfg.api_key) == 0)
    return true;
  k = MHD_lookup_connection_value (c, MHD_GET_ARGUMENT_KIND, "api_key");
  if (k && strcmp (k, cfg.api_key) == 0)
    return true;
  k = MHD_lookup_connection_value (c, MHD_HEADER_KIND, "Authorization");
  if (k && strncasecmp (k, "Bearer ", 7) == 0)
    k += 7;
  return k && strcmp (k, cfg.api_key) == 0;
}

static void
access_log (struct MHD_Connection *c, const char *method, const char *url, int status, double secs,
            const char *verdict)
{
  char ts[32];
  time_t t = time (NULL);
  struct tm tm;
  gmtime_r (&t, &tm);
  strftime (ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info (c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  char addr[64] = "-";
  if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
    {
      const unsigned char *a = (const unsigned char *) &((struct sockaddr_in *) ci->client_addr)->sin_addr;
      snprintf (addr, sizeof addr, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    }
  /* built with cJSON: a path is the client's text and is escaped */
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "time", ts);
  cJSON_AddStringToObject (o, "remote", addr);
  cJSON_AddStringToObject (o, "method", method);
  char *path = corral_utf8_sanitize (url, strnlen (url, 200));
  cJSON_AddStringToObject (o, "path", path ? path : "");
  free (path);
  cJSON_AddNumberToObject (o, "status", status);
  cJSON_AddNumberToObject (o, "ms", (double) (long long) (secs * 10000) / 10);
  cJSON_AddStringToObject (o, "verdict", verdict);
  char *line = cJSON_PrintUnformatted (o);
  cJSON_Delete (o);
  if (line)
    fprintf (stderr, "%s\n", line);
  free (line);
  metrics_request (url, status, secs, verdict);
}

static cJSON *
health (void)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddBoolToObject (o, "healthy", true);
  cJSON_AddStringToObject (o, "version", PACKAGE_VERSION);
  cJSON_AddNumberToObject (o, "uptime", (double) (time (NULL) - cfg.started));
  cJSON_AddNumberToObject (o, "active_sandboxes", (double) enclave_active ());
  cJSON *si = cJSON_AddObjectToObject (o, "system_info");
  struct utsname u;
  if (uname (&u) == 0)
    {
      cJSON_AddStringToObject (si, "platform", u.sysname);
      cJSON_AddStringToObject (si, "release", u.release);
      cJSON_AddStringToObject (si, "machine", u.machine);
    }
  size_t queued, running;
  queue_depth (&queued, &running);
  cJSON_AddNumberToObject (si, "workers", (double) cfg.workers);
  cJSON_AddNumberToObject (si, "queued", (double) queued);
  cJSON_AddNumberToObject (si, "running", (double) running);
  return o;
}

static const char *
query_arg (void *ctx, const char *name)
{
  return MHD_lookup_connection_value (ctx, MHD_GET_ARGUMENT_KIND, name);
}

/* POST /sandbox/{id}/archive: the one body that is a tar, not JSON */
static bool
is_archive_upload (const char *url)
{
  static const char prefix[] = "/sandbox/", suffix[] = "/archive";
  size_t n = strlen (url);
  return strncmp (url, prefix, sizeof prefix - 1) == 0 && n > sizeof prefix - 1 + sizeof suffix - 1
         && strcmp (url + n - (sizeof suffix - 1), suffix) == 0;
}

static enum MHD_Result
route (struct MHD_Connection *c, const char *url, const char *method, struct req *r, int *status,
       char *verdict, size_t vlen)
{
  snprintf (verdict, vlen, "-");
  bool get = strcmp (method, "GET") == 0, post = strcmp (method, "POST") == 0;
  if (!authorized (c))
    return reply_detail (c, *status = 401, "Unauthorized");
  if (r->too_big)
    return reply_detail (c, *status = 413, "request body larger than 64 MiB");
  char where[320];
  if (r->body && !is_archive_upload (url) && json_find_nul (r->body, r->len, where, sizeof where))
    {
      /* cJSON would cut the string there: "python\u0000" would run as
       * python, code after the NUL would be dropped */
      char msg[400];
      snprintf (msg, sizeof msg, "request body: %s holds a NUL character (\\u0000), which no field "
                "may hold", where);
      return reply_detail (c, *status = 400, msg);
    }
  if (strcmp (url, "/v1/ping") == 0 && get)
    return reply (c, *status = 200, "application/json", strdup ("\"pong\""));
  if (strcmp (url, "/health") == 0 && get)
    return reply_json (c, *status = 200, health ());
  if (strcmp (url, "/metrics") == 0 && get)
    {
      char *m = metrics_text ();
      return reply (c, *status = 200, "text/plain; version=0.0.4", m ? m : strdup (""));
    }
  if (strcmp (url, "/v1/run") == 0 && post)
    {
      char *out = NULL;
      *status = native_run (r->body ? r->body : "", r->len, &out, verdict, vlen);
      return reply (c, *status, "application/json", out ? out : strdup ("{}"));
    }
  if (strcmp (url, "/run_code") == 0 && post)
    {
      char *out = NULL;
      *status = fusion_run_code (r->body ? r->body : "", r->len, &out, verdict, vlen);
      return reply (c, *status, "application/json", out ? out : strdup ("{}"));
    }
  if (strcmp (url, "/run_jupyter") == 0 && post)
    {
      char *out = NULL;
      *status = fusion_run_jupyter (r->body ? r->body : "", r->len, &out, verdict, vlen);
      return reply (c, *status, "application/json", out ? out : strdup ("{}"));
    }
  char *out = NULL;
  int st = enclave_route (method, url, query_arg, c, r->body ? r->body : "", r->len, &out, verdict, vlen);
  if (st)
    return reply (c, *status = st, "application/json", out ? out : strdup ("{}"));
  if (strcmp (url, "/run_code") == 0 || strcmp (url, "/v1/ping") == 0 || strcmp (url, "/health") == 0)
    return reply_detail (c, *status = 405, "Method Not Allowed");
  return reply_detail (c, *status = 404, "Not Found");
}

static enum MHD_Result
on_request (void *cls, struct MHD_Connection *c, const char *url, const char *method,
            const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
  (void) cls;
  (void) version;
  struct req *r = *con_cls;
  if (r == NULL)
    {
      r = calloc (1, sizeof *r);
      if (r == NULL)
        return MHD_NO;
      r->t0 = now_s ();
      *con_cls = r;
      /* decided before the body is read: a request without the key, and
       * one whose body would take the server past --max-body-memory.  Its
       * body is read and thrown away, not held, and then answered (had we
       * answered now, libmicrohttpd would close the connection on a
       * client still sending, who would see a reset, not the answer);
       * a client that waits for 100 Continue is answered now.  The gate
       * (gate.c) refused a Content-Length over MAX_BODY already. */
      const char *cl = MHD_lookup_connection_value (c, MHD_HEADER_KIND, "Content-Length");
      uint64_t want = cl ? strtoull (cl, NULL, 10) : 0;
      int st = 0;
      const char *why = NULL;
      if (!authorized (c))
        st = 401, why = "Unauthorized";
      else if (want > MAX_BODY)
        st = 413, why = "request body larger than 64 MiB";
      else if (want && !reserve (r, want + 1))
        st = 503, why = "server busy: too many request bodies in flight (--max-body-memory): retry";
      if (st)
        {
          r->refused = st;
          r->why = why;
          const char *ex = MHD_lookup_connection_value (c, MHD_HEADER_KIND, "Expect");
          bool body = want > 0 || MHD_lookup_connection_value (c, MHD_HEADER_KIND, "Transfer-Encoding");
          if (!body || (ex && strcasecmp (ex, "100-continue") == 0))
            {
              access_log (c, method, url, st, now_s () - r->t0, "-");
              return reply_detail (c, st, why);
            }
        }
      return MHD_YES;
    }
  if (r->refused)
    {
      if (*upload_size > 0 && now_s () - r->t0 > cfg.body_timeout)
        return MHD_NO;
      if (*upload_size > 0)
        {
          *upload_size = 0;
          return MHD_YES;
        }
      access_log (c, method, url, r->refused, now_s () - r->t0, "-");
      return reply_detail (c, r->refused, r->why);
    }
  if (*upload_size > 0 && now_s () - r->t0 > cfg.body_timeout)
    {
      fprintf (stderr, "corral: serve: a request body took longer than --body-timeout %g s: "
                       "connection closed\n", cfg.body_timeout);
      return MHD_NO;
    }
  if (*upload_size > 0)
    {
      if (!r->too_big && r->len + *upload_size <= MAX_BODY)
        {
          if (r->len + *upload_size + 1 > r->cap)
            {
              size_t ncap = r->cap ? r->cap : 65536;
              while (ncap < r->len + *upload_size + 1)
                ncap *= 2;
              /* a body without a Content-Length (chunked) takes its
               * memory as it grows */
              if (ncap > r->reserved && !reserve (r, ncap - r->reserved))
                {
                  r->refused = 503;
                  r->why = "server busy: too many request bodies in flight (--max-body-memory): retry";
                  free (r->body);
                  r->body = NULL;
                  r->len = r->cap = 0;
                  *upload_size = 0;
                  return MHD_YES;
                }
              char *nb = realloc (r->body, ncap);
              if (nb == NULL)
                return MHD_NO;
              r->body = nb;
              r->cap = ncap;
            }
          memcpy (r->body + r->len, upload, *upload_size);
          r->len += *upload_size;
          r->body[r->len] = '\0';
        }
      else if (!r->too_big)
        {
          r->too_big = true;
          free (r->body);
          r->body = NULL;
          r->len = r->cap = 0;
        }
      *upload_size = 0;
      return MHD_YES;
    }
  int status = 500;
  char verdict[32];
  /* queue_run watches this connection: a client that hangs up leaves no
   * job behind */
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info (c, MHD_CONNECTION_INFO_CONNECTION_FD);
  queue_watch (ci ? ci->connect_fd : -1);
  enum MHD_Result ret = route (c, url, method, r, &status, verdict, sizeof verdict);
  queue_watch (-1);
  /* the body is done with: given back before the answer goes out, so a
   * client that sends its next request on reading this one finds it free
   * (on_done runs after the answer is sent) */
  atomic_fetch_sub (&body_memory, r->reserved);
  r->reserved = 0;
  free (r->body);
  r->body = NULL;
  r->len = r->cap = 0;
  access_log (c, method, url, status, now_s () - r->t0, verdict);
  return ret;
}

static void
on_done (void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
  (void) cls;
  (void) c;
  (void) toe;
  struct req *r = *con_cls;
  if (r)
    {
      atomic_fetch_sub (&body_memory, r->reserved);
      free (r->body);
      free (r);
    }
  *con_cls = NULL;
}

/* State directories that servers killed with SIGKILL left (named with
 * their pid; a pid alive again is left alone): removed, if ours. */
static void
sweep_dead_states (const char *base)
{
  DIR *d = opendir (base);
  if (d == NULL)
    return;
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      int pid;
      char rest[32];
      struct stat st;
      if (sscanf (de->d_name, "corral-serve-state.%d.%31s", &pid, rest) != 2 || pid <= 0
          || (kill (pid, 0) == 0 || errno != ESRCH)
          || fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
          || !S_ISDIR (st.st_mode) || st.st_uid != geteuid ())
        continue;
      fsat_remove (dirfd (d), de->d_name);
    }
  closedir (d);
}

/* The state directory and everything in it (a dead worker's work dir). */
static void
drop_state (const char *state, bool tmpfs)
{
  if (tmpfs)
    umount2 (state, MNT_DETACH);
  fsat_remove (AT_FDCWD, state);
}

/* ---- options ----------------------------------------------------------------- */

static void
usage (FILE *f)
{
  fputs ("Usage: corral serve [--host ADDR] [--port N] [--api-key KEY | --api-key-file F]\n"
         "                    [--max-concurrency N] [--queue N] [--image NAME [--store DIR]]\n"
         "                    [--memory SIZE] [--pids N] [--policy NAME|PATH]\n"
         "                    [--work-size SIZE] [--shutdown-grace SEC] [--idle-timeout SEC]\n"
         "                    [--max-connections N] [--max-connections-per-ip N]\n"
         "                    [--header-timeout SEC] [--body-timeout SEC] [--max-body-memory SIZE]\n"
         "\n"
         "An HTTP server for SandboxFusion's POST /run_code (and GET /v1/ping), the\n"
         "ms-enclave server API (/sandbox/..., /pool/...) and corral's POST /v1/run\n"
         "(corral run|eval --remote), with every run in a fresh corral sandbox.\n"
         "Also GET /health and /metrics.\n"
         "  --host ADDR            address to listen on (default 127.0.0.1)\n"
         "  --port N               (default 8080)\n"
         "  --api-key KEY          require KEY (X-API-Key, ?api_key= or Authorization)\n"
         "  --api-key-file F       the same, read from F\n"
         "  --max-concurrency N    runs at once: worker processes (default: the CPUs)\n"
         "  --queue N              runs that may wait; more are answered 504 (default 1024)\n"
         "  --image NAME           run on this image (`corral image`), --store DIR its store\n"
         "  --memory SIZE          per run unless a request asks (default 2G)\n"
         "  --pids N               per run (default 256)\n"
         "  --policy NAME|PATH     seccomp policy (default `default`)\n"
         "  --work-size SIZE       as root, each worker's tmpfs for work dirs (default 1G)\n"
         "  --shutdown-grace SEC   on SIGTERM, wait this long for running jobs (default 30)\n"
         "  --idle-timeout SEC     delete ms-enclave sandboxes unused this long (default 1800;\n"
         "                         0: never; pooled ones stay until deleted)\n"
         "  --max-connections N    open connections; more are answered 503 (default 4096,\n"
         "                         at most the open-file limit less 256)\n"
         "  --max-connections-per-ip N  per client address (default 0: no limit)\n"
         "  --header-timeout SEC   for a request's whole head, else 408 (default 10)\n"
         "  --body-timeout SEC     for a request's whole body, else closed (default 120)\n"
         "  --max-body-memory SIZE request bodies held at once; more are 503 (default 512M)\n",
         f);
}

enum { OPT_HOST = 256, OPT_PORT, OPT_KEY, OPT_KEY_FILE, OPT_CONC, OPT_QUEUE, OPT_IMAGE, OPT_STORE,
       OPT_MEMORY, OPT_PIDS, OPT_POLICY, OPT_WORKER_FD, OPT_WORK_SIZE, OPT_GRACE, OPT_IDLE,
       OPT_MAX_CONN, OPT_MAX_PER_IP, OPT_HEADER_TIMEOUT, OPT_BODY_TIMEOUT, OPT_BODY_MEMORY };

static const struct option options[] = {
  { "host", required_argument, NULL, OPT_HOST },
  { "port", required_argument, NULL, OPT_PORT },
  { "api-key", required_argument, NULL, OPT_KEY },
  { "api-key-file", required_argument, NULL, OPT_KEY_FILE },
  { "max-concurrency", required_argument, NULL, OPT_CONC },
  { "queue", required_argument, NULL, OPT_QUEUE },
  { "image", required_argument, NULL, OPT_IMAGE },
  { "store", required_argument, NULL, OPT_STORE },
  { "memory", required_argument, NULL, OPT_MEMORY },
  { "pids", required_argument, NULL, OPT_PIDS },
  { "policy", required_argument, NULL, OPT_POLICY },
  { "work-size", required_argument, NULL, OPT_WORK_SIZE },
  { "shutdown-grace", required_argument, NULL, OPT_GRACE },
  { "idle-timeout", required_argument, NULL, OPT_IDLE },
  { "max-connections", required_argument, NULL, OPT_MAX_CONN },
  { "max-connections-per-ip", required_argument, NULL, OPT_MAX_PER_IP },
  { "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
  { "body-timeout", required_argument, NULL, OPT_BODY_TIMEOUT },
  { "max-body-memory", required_argument, NULL, OPT_BODY_MEMORY },
  { "worker-fd", required_argument, NULL, OPT_WORKER_FD },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

static bool
parse_count (const char *s, unsigned long max, unsigned long *out)
{
  char *end;
  errno = 0;
  unsigned long v = strtoul (s, &end, 10);
  if (errno || end == s || *end || s[0] == '-' || v == 0 || v > max)
    return false;
  *out = v;
  return true;
}

static int __attribute__ ((format (printf, 1, 2)))
fail_usage (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "corral: serve: ");
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
  return 2;
}

int
main (int argc, char **argv)
{
  const char *image_name = NULL, *store = NULL, *policy_name = "default";
  int worker_fd = -1;
  struct serve_limits lim = { .memory = 2ull << 30, .pids = 256, .output = 1u << 20 };
  long ncpu = sysconf (_SC_NPROCESSORS_ONLN);
  cfg.workers = ncpu > 0 ? (size_t) ncpu : 1;
  cfg.queue = 1024;
  opterr = 0;
  int c;
  while ((c = getopt_long (argc, argv, "h", options, NULL)) != -1)
    {
      unsigned long v;
      uint64_t sz;
      const char *name = argv[optind - 1];
      switch (c)
        {
        case 'h': usage (stdout); return 0;
        case OPT_HOST: cfg.host = optarg; break;
        case OPT_PORT:
          if (strcmp (optarg, "0") == 0)
            v = 0; /* any free port: the "listening on" line says which */
          else if (!parse_count (optarg, 65535, &v))
            return fail_usage ("--port: `%s` is not 0 to 65535", optarg);
          cfg.port = (unsigned) v;
          break;
        case OPT_KEY:
          if (strlen (optarg) == 0 || strlen (optarg) >= sizeof cfg.api_key)
            return fail_usage ("--api-key: 1 to 255 characters");
          snprintf (cfg.api_key, sizeof cfg.api_key, "%s", optarg);
          break;
        case OPT_KEY_FILE:
          {
            FILE *f = fopen (optarg, "re");
            if (f == NULL || fgets (cfg.api_key, sizeof cfg.api_key, f) == NULL)
              {
                if (f)
                  fclose (f);
                fprintf (stderr, "corral: serve: --api-key-file %s: %s\n", optarg,
                         f ? "empty" : strerror (errno));
                return 2;
              }
            fclose (f);
            cfg.api_key[strcspn (cfg.api_key, "\r\n")] = '\0';
            if (cfg.api_key[0] == '\0')
              return fail_usage ("--api-key-file %s: empty", optarg);
            break;
          }
        case OPT_CONC:
          if (!parse_count (optarg, 1024, &v))
            return fail_usage ("--max-concurrency: `%s` is not 1 to 1024", optarg);
          cfg.workers = v;
          break;
        case OPT_QUEUE:
          if (!parse_count (optarg, 1000000, &v))
            return fail_usage ("--queue: `%s` is not 1 to 1000000", optarg);
          cfg.queue = v;
          break;
        case OPT_IMAGE: image_name = optarg; break;
        case OPT_STORE: store = optarg; break;
        case OPT_MEMORY: case OPT_WORK_SIZE:
          if (corral_parse_size (optarg, &sz) < 0 || sz == CORRAL_NO_LIMIT || sz < (1u << 20))
            return fail_usage ("bad size `%s` (at least 1M)", optarg);
          if (c == OPT_MEMORY)
            lim.memory = sz;
          else
            setenv ("CORRAL_SERVE_WORK_SIZE", optarg, 1);
          break;
        case OPT_PIDS:
          if (!parse_count (optarg, 1000000, &v))
            return fail_usage ("--pids: `%s` is not a count", optarg);
          lim.pids = v;
          break;
        case OPT_POLICY: policy_name = optarg; break;
        case OPT_GRACE:
          {
            char *end;
            cfg.grace = strtod (optarg, &end);
            if (*end || cfg.grace < 0 || cfg.grace > 3600)
              return fail_usage ("--shutdown-grace: `%s` is not 0 to 3600 seconds", optarg);
            break;
          }
        case OPT_IDLE:
          {
            char *end;
            cfg.idle = strtod (optarg, &end);
            if (*end || end == optarg || cfg.idle < 0 || cfg.idle > 31536000)
              return fail_usage ("--idle-timeout: `%s` is not 0 to 31536000 seconds", optarg);
            break;
          }
        case OPT_MAX_CONN:
          if (!parse_count (optarg, 1000000, &v))
            return fail_usage ("--max-connections: `%s` is not 1 to 1000000", optarg);
          cfg.max_conn = (unsigned) v;
          break;
        case OPT_MAX_PER_IP:
          if (strcmp (optarg, "0") == 0)
            v = 0;
          else if (!parse_count (optarg, 1000000, &v))
            return fail_usage ("--max-connections-per-ip: `%s` is not 0 to 1000000", optarg);
          cfg.max_per_ip = (unsigned) v;
          break;
        case OPT_HEADER_TIMEOUT: case OPT_BODY_TIMEOUT:
          {
            char *end;
            double t = strtod (optarg, &end);
            if (*end || end == optarg || !(t >= 0.1 && t <= 86400))
              return fail_usage ("%s: `%s` is not 0.1 to 86400 seconds",
                                 c == OPT_HEADER_TIMEOUT ? "--header-timeout" : "--body-timeout", optarg);
            *(c == OPT_HEADER_TIMEOUT ? &cfg.header_timeout : &cfg.body_timeout) = t;
            break;
          }
        case OPT_BODY_MEMORY:
          if (corral_parse_size (optarg, &sz) < 0 || sz == CORRAL_NO_LIMIT || sz < (1u << 20))
            return fail_usage ("--max-body-memory: bad size `%s` (at least 1M)", optarg);
          cfg.max_body_memory = sz;
          break;
        case OPT_WORKER_FD:
          worker_fd = atoi (optarg);
          break;
        default:
          if (optopt)
            return fail_usage ("option `%s` needs a value", name);
          return fail_usage ("unknown option `%s` (see `corral serve --help`)", name);
        }
    }
  if (optind < argc)
    return fail_usage ("unexpected argument `%s`", argv[optind]);
  if (store && !image_name)
    return fail_usage ("--store is for --image");
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) cfg.port) };
  if (inet_pton (AF_INET, cfg.host, &sa.sin_addr) != 1)
    {
      fprintf (stderr, "corral: serve: --host %s: not an IPv4 address\n", cfg.host);
      return 2;
    }

  struct corral_error err = { 0 };
  struct corral_policy *policy = NULL;
  if (corral_policy_load (policy_name, &policy, &err) < 0)
    {
      fprintf (stderr, "corral: serve: %s\n", err.msg);
      return 125;
    }
  lim.policy = policy;
  struct serve_root root = { 0 };
  struct image im = { 0 };
  int image_lock = -1;
  if (image_name)
    {
      struct image_store st;
      struct corral_spec spec;
      corral_spec_init (&spec);
      if (image_store_open (store, &st, &err) < 0 || image_use (&st, image_name, &im, &image_lock, &spec, &err) < 0)
        {
          fprintf (stderr, "corral: serve: --image %s: %s\n", image_name, err.msg);
          return 125;
        }
      root.lowers_base = spec.lowers_base;
      root.lowers = spec.lowers;
      root.n_lowers = spec.n_lowers;
      for (size_t i = 0; im.env[i]; i++)
        if (strncmp (im.env[i], "PATH=", 5) == 0)
          root.path_env = im.env[i];
    }
  if (worker_fd >= 0)
    serve_worker_main (worker_fd, &root, &lim);

  /* ms-enclave sandboxes' directories: as root on a tmpfs of our own mount
   * namespace (which the workers, started after, share), so that they
   * cannot fill the host's disk and vanish with us */
  /* SIGTERM and SIGINT are blocked before any thread exists (the idle
   * reaper below is the first), so that every thread leaves them to the
   * sigwait at the end; a thread that did not block them would take a
   * SIGTERM sent during start-up with its default action, ending us
   * without the graceful stop. */
  sigset_t stop;
  sigemptyset (&stop);
  sigaddset (&stop, SIGTERM);
  sigaddset (&stop, SIGINT);
  pthread_sigmask (SIG_BLOCK, &stop, NULL);
  const char *rt = getenv ("XDG_RUNTIME_DIR");
  char state[4096];
  const char *sbase = geteuid () != 0 && rt && *rt ? rt : "/tmp";
  sweep_dead_states (sbase);
  snprintf (state, sizeof state, "%s/corral-serve-state.%d.XXXXXX", sbase, (int) getpid ());
  if (mkdtemp (state) == NULL)
    {
      fprintf (stderr, "corral: serve: %s: %s\n", state, strerror (errno));
      return 125;
    }
  chmod (state, 0711);
  bool state_tmpfs = false;
  if (geteuid () == 0 && unshare (CLONE_NEWNS) == 0 && mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
    {
      char opts[64];
      uint64_t ssz = 2ull << 30;
      const char *sv = getenv ("CORRAL_SERVE_STATE_SIZE");
      if (sv && (corral_parse_size (sv, &ssz) < 0 || ssz == CORRAL_NO_LIMIT || ssz < (1u << 20)))
        {
          fprintf (stderr, "corral: serve: CORRAL_SERVE_STATE_SIZE=%s is not a size\n", sv);
          drop_state (state, false);
          return 2;
        }
      snprintf (opts, sizeof opts, "size=%llu,mode=0711", (unsigned long long) ssz);
      state_tmpfs = mount ("tmpfs", state, "tmpfs", MS_NOSUID | MS_NODEV, opts) == 0;
    }
  enclave_init (state, cfg.idle);
  /* the workers' own work directories go in it too: one left by a worker
   * that died goes with it */
  setenv ("CORRAL_SERVE_STATE", state, 1);

  /* the workers: this program again, with --worker-fd 3 */
  char **wargv = calloc ((size_t) argc + 3, sizeof *wargv);
  if (wargv == NULL)
    {
      drop_state (state, state_tmpfs);
      return 125;
    }
  for (int i = 0; i < argc; i++)
    wargv[i] = argv[i];
  wargv[argc] = "--worker-fd";
  wargv[argc + 1] = "3";
  signal (SIGPIPE, SIG_IGN);
  cfg.started = time (NULL);
  /* Probe the host once here, before the workers exist: under a systemd
   * unit with Delegate=yes on cgroup v2 we are alone in the unit's cgroup
   * and may move into a leaf and enable the controllers; the workers
   * inherit the leaf and create run cgroups beside it (host.c). */
  (void) corral_host_get ();
  /* the runs of a server killed with SIGKILL died with its workers
   * (PR_SET_PDEATHSIG): their cgroups go now, not at our first run */
  corral_reap_stale ();
  if (queue_start (wargv, cfg.workers, cfg.queue) < 0)
    {
      fprintf (stderr, "corral: serve: cannot start the workers: %s\n", strerror (errno));
      queue_stop (0);
      drop_state (state, state_tmpfs);
      return 125;
    }

  bool loopback = (ntohl (sa.sin_addr.s_addr) >> 24) == 127;
  if (!loopback && cfg.api_key[0] == '\0')
    fprintf (stderr, "corral: serve: warning: listening on %s without --api-key: anyone who can "
                     "reach it can run code here\n", cfg.host);
  /* as many connections as descriptors allow: the soft limit up to the
   * hard one, 256 kept for the workers' pipes, the state and the logs */
  struct rlimit nofile;
  if (getrlimit (RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max)
    {
      nofile.rlim_cur = nofile.rlim_max;
      setrlimit (RLIMIT_NOFILE, &nofile);
      getrlimit (RLIMIT_NOFILE, &nofile);
    }
  if (nofile.rlim_cur != RLIM_INFINITY && cfg.max_conn + 256 > nofile.rlim_cur)
    {
      unsigned fit = nofile.rlim_cur > 512 ? (unsigned) (nofile.rlim_cur - 256) : 256;
      fprintf (stderr, "corral: serve: warning: --max-connections %u lowered to %u: the open-file "
                       "limit is %llu (ulimit -n)\n", cfg.max_conn, fit, (unsigned long long) nofile.rlim_cur);
      cfg.max_conn = fit;
    }
  int lfd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (lfd >= 0)
    setsockopt (lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct MHD_Daemon *d = NULL;
  if (lfd >= 0 && bind (lfd, (struct sockaddr *) &sa, sizeof sa) == 0 && listen (lfd, 4096) == 0)
    d = MHD_start_daemon (
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC
            | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET,
        0, NULL, NULL, on_request, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, gate_notify_connection, NULL,
        MHD_OPTION_CONNECTION_LIMIT, cfg.max_conn + 16,
        /* idle time between a client's bytes (a request waiting for its
         * job is not idle); --body-timeout bounds the whole body */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 30, MHD_OPTION_END);
  struct gate_config gc = { .max_connections = cfg.max_conn, .max_per_ip = cfg.max_per_ip,
                            .header_timeout = cfg.header_timeout, .max_body = MAX_BODY };
  if (d == NULL || gate_start (d, lfd, &gc) < 0)
    {
      fprintf (stderr, "corral: serve: cannot listen on %s:%u (%s)\n", cfg.host, cfg.port,
               d ? strerror (errno) : "in use, or not allowed");
      if (d)
        MHD_stop_daemon (d);
      if (lfd >= 0)
        close (lfd);
      queue_stop (0);
      drop_state (state, state_tmpfs);
      return 125;
    }
  struct sockaddr_in bound;
  socklen_t blen = sizeof bound;
  unsigned port = getsockname (lfd, (struct sockaddr *) &bound, &blen) == 0 ? ntohs (bound.sin_port) : cfg.port;
  fprintf (stderr, "corral: serve: listening on http://%s:%u (%zu workers, queue %zu%s%s)\n", cfg.host,
           port, cfg.workers, cfg.queue, image_name ? ", image " : "",
           image_name ? image_name : "");

  int sig = 0;
  sigwait (&stop, &sig);
  fprintf (stderr, "corral: serve: %s: no new connections; finishing running jobs (up to %g s)\n",
           sig == SIGTERM ? "SIGTERM" : "SIGINT", cfg.grace);
  gate_stop ();
  enclave_quiesce ();
  queue_stop (cfg.grace);
  MHD_stop_daemon (d);
  enclave_shutdown ();
  drop_state (state, state_tmpfs);
  if (image_name)
    image_release (&im, image_lock);
  free (wargv);
  fprintf (stderr, "corral: serve: stopped\n");
  return 0;
}
