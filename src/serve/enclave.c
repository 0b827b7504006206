/* enclave.c - the ms-enclave server API: sandboxes, tools, the pool.
 *
 * An ms-enclave "sandbox" is here a work area: a directory of the server's
 * state directory (as root: on a tmpfs of the server's own mount
 * namespace, so sandboxes cannot fill the host's disk) plus the
 * SandboxConfig's limits, network, environment and working_dir.  No process
 * lives in it between calls: every tool call is a fresh isolated run (a
 * worker job) with that directory mounted at working_dir.  file_operation
 * and archive uploads are done here, fd-relative and without following a
 * symlink, since a program may have planted some.  Pooled sandboxes are
 * wiped before each execution (ms-enclave keeps their files; a clean start
 * is what a grader wants). */
#include "config.h"
#include "server.h"
#include "base64.h"
#include "archive-dl.h"
#include "image.h"
#include "fsat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/openat2.h>

struct sbx {
  char id[9];
  char status[16];
  char type[40];
  cJSON *config;            /* as given */
  cJSON *job_config;        /* normalized, for the workers */
  char created[40], updated[40];
  char dir[4096];
  bool pooled, busy, gone;
  char pool[17];            /* pooled: the pool's id (its type and config), else "" */
  time_t last_used;         /* for the idle expiry */
  unsigned tools;           /* bit per tool */
  struct sbx *next;
};

static const char *const tool_names[] = { "python_executor", "shell_executor", "multi_code_executor",
                                          "file_operation" };
#define N_TOOLS 4

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static struct sbx *all;
static char state_dir[4096];
static size_t pool_size;
static bool pool_initialized;
static double idle_timeout;
static bool reaper_stop, shutting_down;
static pthread_t reaper;
static pthread_cond_t reaper_cond = PTHREAD_COND_INITIALIZER;

static void destroy_locked (struct sbx *s);

/* Sandboxes made with /sandbox/create that nobody used for idle_timeout
 * seconds are deleted (a client that died leaks nothing for long); pooled
 * ones stay until DELETE. */
static void *
reap (void *arg)
{
  (void) arg;
  pthread_mutex_lock (&mu);
  while (!reaper_stop)
    {
      struct timespec ts;
      clock_gettime (CLOCK_REALTIME, &ts);
      ts.tv_sec += 5;
      pthread_cond_timedwait (&reaper_cond, &mu, &ts);
      time_t now = time (NULL);
      for (struct sbx *s = all; s; s = s->next)
        if (!s->gone && !s->pooled && !s->busy && difftime (now, s->last_used) > idle_timeout)
          {
            fprintf (stderr, "corral-serve: sandbox %s idle for %.0f s: deleted\n", s->id, idle_timeout);
            destroy_locked (s);
          }
    }
  pthread_mutex_unlock (&mu);
  return NULL;
}

void
enclave_init (const char *dir, double idle_s)
{
  snprintf (state_dir, sizeof state_dir, "%s", dir);
  idle_timeout = idle_s;
  if (idle_s > 0)
    pthread_create (&reaper, NULL, reap, NULL);
}

static void
iso_now (char *buf, size_t len)
{
  struct timespec t;
  clock_gettime (CLOCK_REALTIME, &t);
  struct tm tm;
  gmtime_r (&t.tv_sec, &tm);
  size_t n = strftime (buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (buf + n, len - n, ".%06ld", t.tv_nsec / 1000);
}

/* Empties a sandbox's directory (the directory itself stays). */
static void
wipe (const char *dir)
{
  int d = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (d < 0)
    return;
  DIR *dp = fdopendir (d);
  if (dp == NULL)
    {
      close (d);
      return;
    }
  struct dirent *de;
  while ((de = readdir (dp)) != NULL)
    if (strcmp (de->d_name, ".") && strcmp (de->d_name, ".."))
      fsat_remove (dirfd (dp), de->d_name);
  closedir (dp);
}

static cJSON *
tool_schema (const char *name)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "type", "function");
  cJSON *f = cJSON_AddObjectToObject (o, "function");
  cJSON_AddStringToObject (f, "name", name);
  cJSON *p = cJSON_CreateObject ();
  cJSON_AddStringToObject (p, "type", "object");
  cJSON *props = cJSON_AddObjectToObject (p, "properties");
  cJSON *req = cJSON_AddArrayToObject (p, "required");
#define PROP(n, t, d)                                                                              \
  do                                                                                               \
    {                                                                                              \
      cJSON *x = cJSON_AddObjectToObject (props, n);                                               \
      cJSON_AddStringToObject (x, "type", t);                                                      \
      cJSON_AddStringToObject (x, "description", d);                                               \
    }                                                                                              \
  while (0)
  if (strcmp (name, "python_executor") == 0)
    {
      cJSON_AddStringToObject (f, "description", "Execute Python code in an isolated sandbox");
      PROP ("code", "string", "Python code to execute");
      PROP ("timeout", "number", "Execution timeout in seconds (default 30)");
      cJSON_AddItemToArray (req, cJSON_CreateString ("code"));
    }
  else if (strcmp (name, "shell_executor") == 0)
    {
      cJSON_AddStringToObject (f, "description", "Execute a shell command (a string for sh -c, or an argv list)");
      PROP ("command", "string", "The command");
      PROP ("timeout", "number", "Execution timeout in seconds (default 30)");
      cJSON_AddItemToArray (req, cJSON_CreateString ("command"));
    }
  else if (strcmp (name, "multi_code_executor") == 0)
    {
      cJSON_AddStringToObject (f, "description", "Compile (if needed) and run code in one of many languages");
      PROP ("language", "string", "python, cpp, go, java, nodejs, typescript, rust, bash, ...");
      PROP ("code", "string", "The source code");
      PROP ("files", "object", "Extra files: {name: content}");
      PROP ("compile_timeout", "number", "Compile timeout in seconds");
      PROP ("run_timeout", "number", "Run timeout in seconds (default 30)");
      cJSON_AddItemToArray (req, cJSON_CreateString ("language"));
      cJSON_AddItemToArray (req, cJSON_CreateString ("code"));
    }
  else
    {
      cJSON_AddStringToObject (f, "description", "Create, read, write, delete, list or test files");
      PROP ("operation", "string", "create, read, write, delete, list or exists");
      PROP ("file_path", "string", "The path, relative to the working directory or inside it");
      PROP ("content", "string", "For create and write");
      PROP ("encoding", "string", "utf-8 (default)");
      cJSON_AddItemToArray (req, cJSON_CreateString ("operation"));
      cJSON_AddItemToArray (req, cJSON_CreateString ("file_path"));
    }
#undef PROP
  cJSON_AddItemToObject (f, "parameters", p);
  return o;
}

static cJSON *
tools_json (unsigned tools)
{
  cJSON *o = cJSON_CreateObject ();
  for (int i = 0; i < N_TOOLS; i++)
    if (tools & (1u << i))
      cJSON_AddItemToObject (o, tool_names[i], tool_schema (tool_names[i]));
  return o;
}

static int
tool_index (const char *name)
{
  for (int i = 0; name && i < N_TOOLS; i++)
    if (strcmp (name, tool_names[i]) == 0)
      return i;
  return -1;
}

static cJSON *
info_json (const struct sbx *s)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "id", s->id);
  cJSON_AddStringToObject (o, "status", s->status);
  cJSON_AddStringToObject (o, "type", s->type);
  cJSON_AddItemToObject (o, "config", cJSON_Duplicate (s->config, 1));
  cJSON_AddStringToObject (o, "created_at", s->created);
  cJSON_AddStringToObject (o, "updated_at", s->updated);
  cJSON *md = cJSON_AddObjectToObject (o, "metadata");
  if (s->pooled)
    cJSON_AddStringToObject (md, "pool_id", s->pool);
  cJSON_AddItemToObject (o, "available_tools", tools_json (s->tools));
  return o;
}

static struct sbx *
find (const char *id)
{
  for (struct sbx *s = all; s; s = s->next)
    if (!s->gone && strcmp (s->id, id) == 0)
      return s;
  return NULL;
}

/* A SandboxConfig: the keys that mean something here, checked. */
static int
parse_config (const cJSON *c, cJSON **job_config, unsigned *tools, char *err, size_t elen)
{
  cJSON *jc = cJSON_CreateObject ();
  *tools = 0;
  const cJSON *v;
  if (c && !cJSON_IsNull (c) && !cJSON_IsObject (c))
    {
      snprintf (err, elen, "the SandboxConfig must be a JSON object");
      cJSON_Delete (jc);
      return -1;
    }
  const cJSON *tc = cJSON_GetObjectItemCaseSensitive (c, "tools_config"), *t;
  cJSON_ArrayForEach (t, tc)
    {
      int i = tool_index (t->string);
      if (i < 0)
        {
          snprintf (err, elen, "tools_config: no tool %.60s (python_executor, shell_executor, "
                    "multi_code_executor, file_operation)", t->string);
          cJSON_Delete (jc);
          return -1;
        }
      *tools |= 1u << i;
    }
  if ((v = cJSON_GetObjectItemCaseSensitive (c, "working_dir")) && !cJSON_IsNull (v))
    {
      if (!cJSON_IsString (v) || v->valuestring[0] != '/' || strstr (v->valuestring, "..")
          || strlen (v->valuestring) > 200 || strcmp (v->valuestring, "/") == 0)
        {
          snprintf (err, elen, "working_dir: an absolute path other than /");
          cJSON_Delete (jc);
          return -1;
        }
      cJSON_AddStringToObject (jc, "working_dir", v->valuestring);
    }
  if ((v = cJSON_GetObjectItemCaseSensitive (c, "memory_limit")) && !cJSON_IsNull (v))
    {
      uint64_t b;
      if (!cJSON_IsString (v) || corral_parse_size (v->valuestring, &b) < 0 || b == CORRAL_NO_LIMIT
          || b < (1u << 20))
        {
          snprintf (err, elen, "memory_limit: like \"512m\" or \"4g\" (at least 1m)");
          cJSON_Delete (jc);
          return -1;
        }
      cJSON_AddNumberToObject (jc, "memory", (double) b);
    }
  if ((v = cJSON_GetObjectItemCaseSensitive (c, "cpu_limit")) && !cJSON_IsNull (v))
    {
      if (!cJSON_IsNumber (v) || v->valuedouble <= 0 || v->valuedouble > 1024)
        {
          snprintf (err, elen, "cpu_limit: a number of CPUs above 0");
          cJSON_Delete (jc);
          return -1;
        }
      cJSON_AddNumberToObject (jc, "cpus_milli", v->valuedouble * 1000);
    }
  v = cJSON_GetObjectItemCaseSensitive (c, "network_enabled");
  cJSON_AddBoolToObject (jc, "network", cJSON_IsTrue (v));
  cJSON *env = cJSON_AddArrayToObject (jc, "env");
  const cJSON *e;
  cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive (c, "env_vars"))
    {
      if (!cJSON_IsString (e) || strchr (e->string, '=') || e->string[0] == '\0')
        {
          snprintf (err, elen, "env_vars: string values with names without '='");
          cJSON_Delete (jc);
          return -1;
        }
      char kv[8192];
      snprintf (kv, sizeof kv, "%s=%s", e->string, e->valuestring);
      cJSON_AddItemToArray (env, cJSON_CreateString (kv));
    }
  *job_config = jc;
  return 0;
}

/* A pool is the pooled sandboxes of one sandbox type and one config (the
 * image, limits, tools, ...): its id is a hash of both, so that
 * /pool/initialize with the same config again adds to the same pool. */
static void
pool_id (const char *type, const cJSON *config, char *out, size_t len)
{
  char *text = config ? cJSON_PrintUnformatted (config) : NULL;
  uint64_t h = 1469598103934665603ull;
  const char *parts[] = { type ? type : "docker", "\n", text ? text : "{}" };
  for (size_t k = 0; k < 3; k++)
    for (const char *c = parts[k]; *c; c++)
      h = (h ^ (unsigned char) *c) * 1099511628211ull;
  free (text);
  snprintf (out, len, "%016llx", (unsigned long long) h);
}

static struct sbx *
create (const char *type, const cJSON *config, bool pooled, char *err, size_t elen)
{
  cJSON *jc;
  unsigned tools;
  if (parse_config (config, &jc, &tools, err, elen) < 0)
    return NULL;
  struct sbx *s = calloc (1, sizeof *s);
  if (s == NULL)
    {
      cJSON_Delete (jc);
      snprintf (err, elen, "out of memory");
      return NULL;
    }
  static const char alphabet[] = "23456789abcdefghijkmnopqrstuvwxyz";
  pthread_mutex_lock (&mu);
  do
    {
      unsigned char rnd[8];
      if (getrandom (rnd, sizeof rnd, 0) != sizeof rnd)
        for (size_t i = 0; i < 8; i++)
          rnd[i] = (unsigned char) rand ();
      for (size_t i = 0; i < 8; i++)
        s->id[i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
      s->id[8] = '\0';
    }
  while (find (s->id));
  snprintf (s->dir, sizeof s->dir, "%s/%s", state_dir, s->id);
  if (mkdir (s->dir, 0755) < 0)
    {
      pthread_mutex_unlock (&mu);
      snprintf (err, elen, "create the sandbox's directory: %s", strerror (errno));
      cJSON_Delete (jc);
      free (s);
      return NULL;
    }
  if (geteuid () == 0 && chown (s->dir, 65534, 65534) < 0)
    fprintf (stderr, "corral-serve: chown %s: %s\n", s->dir, strerror (errno));
  snprintf (s->type, sizeof s->type, "%s", type ? type : "docker");
  s->config = config ? cJSON_Duplicate (config, 1) : cJSON_CreateObject ();
  s->job_config = jc;
  s->tools = tools;
  s->pooled = pooled;
  if (pooled)
    pool_id (type, config, s->pool, sizeof s->pool);
  snprintf (s->status, sizeof s->status, pooled ? "idle" : "running");
  iso_now (s->created, sizeof s->created);
  snprintf (s->updated, sizeof s->updated, "%s", s->created);
  s->last_used = time (NULL);
  s->next = all;
  all = s;
  pthread_mutex_unlock (&mu);
  return s;
}

static size_t
count_active (void)
{
  size_t n = 0;
  for (struct sbx *s = all; s; s = s->next)
    n += !s->gone;
  return n;
}

size_t
enclave_active (void)
{
  pthread_mutex_lock (&mu);
  size_t n = count_active ();
  pthread_mutex_unlock (&mu);
  return n;
}

static void
destroy_locked (struct sbx *s)
{
  s->gone = true;
  int d = open (state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d >= 0)
    {
      fsat_remove (d, s->id);
      close (d);
    }
}

/* Wakes every /pool/execute that waits, so that the server can stop. */
void
enclave_quiesce (void)
{
  pthread_mutex_lock (&mu);
  shutting_down = true;
  pthread_cond_broadcast (&idle_cond);
  pthread_mutex_unlock (&mu);
}

void
enclave_shutdown (void)
{
  if (idle_timeout > 0)
    {
      pthread_mutex_lock (&mu);
      reaper_stop = true;
      pthread_cond_broadcast (&reaper_cond);
      pthread_mutex_unlock (&mu);
      pthread_join (reaper, NULL);
    }
  pthread_mutex_lock (&mu);
  for (struct sbx *s = all; s; s = s->next)
    if (!s->gone)
      destroy_locked (s);
  pthread_cond_broadcast (&idle_cond);
  pthread_mutex_unlock (&mu);
}

/* ---- tool calls ----------------------------------------------------------------- */

static char *detail (const char *msg);

static cJSON *
simple_result (const char *tool, const char *status, const char *output, const char *error)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "status", status);
  cJSON_AddNullToObject (o, "execution_time");
  char ts[40];
  iso_now (ts, sizeof ts);
  cJSON_AddStringToObject (o, "timestamp", ts);
  cJSON_AddStringToObject (o, "tool_name", tool);
  cJSON_AddStringToObject (o, "output", output ? output : "");
  cJSON_AddObjectToObject (o, "metadata");
  if (error)
    cJSON_AddStringToObject (o, "error", error);
  else
    cJSON_AddNullToObject (o, "error");
  return o;
}

/* The directory holding the last component of rel, walked one component
 * at a time without following a symlink (a program may have planted
 * some), made (owned by the program) when create.  *last points into rel.
 * Returns an fd, or -1. */
static int
open_parent (int dir, const char *rel, bool create, const char **last)
{
  char buf[1100];
  snprintf (buf, sizeof buf, "%s", rel);
  const char *slash = strrchr (rel, '/');
  *last = slash ? slash + 1 : rel;
  int cur = dup (dir);
  if (slash == NULL)
    return cur;
  buf[slash - rel] = '\0';
  char *save = NULL;
  for (char *c = strtok_r (buf, "/", &save); c && cur >= 0; c = strtok_r (NULL, "/", &save))
    {
      if (strcmp (c, ".") == 0)
        continue;
      if (strcmp (c, "..") == 0)
        {
          close (cur);
          errno = EPERM;
          return -1;
        }
      int next = openat (cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0 && errno == ENOENT && create && mkdirat (cur, c, 0755) == 0)
        {
          if (geteuid () == 0)
            fchownat (cur, c, 65534, 65534, AT_SYMLINK_NOFOLLOW);
          next = openat (cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
      close (cur);
      cur = next;
    }
  return cur;
}

/* file_path as the program sees it -> relative to the sandbox's directory */
static const char *
rel_path (const struct sbx *s, const char *p)
{
  const char *wd = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (s->job_config, "working_dir"));
  if (wd == NULL)
    wd = "/sandbox";
  size_t wl = strlen (wd);
  if (strncmp (p, wd, wl) == 0 && (p[wl] == '/' || p[wl] == '\0'))
    p += wl;
  while (*p == '/')
    p++;
  if (strstr (p, "..") || strlen (p) > 1024)
    return NULL;
  return *p ? p : ".";
}

static cJSON *
file_operation (struct sbx *s, const cJSON *p)
{
  const char *T = "file_operation";
  const char *op = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (p, "operation"));
  const char *path = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (p, "file_path"));
  const char *content = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (p, "content"));
  const char *rel = path ? rel_path (s, path) : NULL;
  if (op == NULL || rel == NULL)
    return simple_result (T, "error", "", "parameters operation and file_path (inside the working directory) are required");
  int d = open (s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0)
    return simple_result (T, "error", "", "the sandbox's directory is gone");
  cJSON *r = NULL;
  char msg[600];
  if (strcmp (op, "create") == 0 || strcmp (op, "write") == 0)
    {
      const char *last;
      int pd = open_parent (d, rel, true, &last);
      int fd = pd < 0 ? -1 : openat (pd, last, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (pd >= 0)
        close (pd);
      size_t len = content ? strlen (content) : 0;
      if (fd < 0 || (len && write (fd, content, len) != (ssize_t) len))
        {
          snprintf (msg, sizeof msg, "cannot write %s: %s", path, strerror (errno));
          r = simple_result (T, "error", "", msg);
        }
      else
        {
          if (geteuid () == 0)
            fchown (fd, 65534, 65534);
          snprintf (msg, sizeof msg, "File %s successfully: %s", strcmp (op, "create") == 0 ? "created" : "written", path);
          r = simple_result (T, "success", msg, NULL);
        }
      if (fd >= 0)
        close (fd);
    }
  else if (strcmp (op, "read") == 0)
    {
      int fd = fsat_open_beneath (d, rel, O_RDONLY, 0);
      struct stat st;
      if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size > (16 << 20))
        {
          snprintf (msg, sizeof msg, "cannot read %s: %s", path, fd < 0 ? strerror (errno) : "not a regular file of at most 16 MiB");
          r = simple_result (T, "error", "", msg);
        }
      else
        {
          char *buf = malloc ((size_t) st.st_size + 1);
          size_t got = 0;
          ssize_t n;
          while (buf && got < (size_t) st.st_size && (n = read (fd, buf + got, (size_t) st.st_size - got)) > 0)
            got += (size_t) n;
          char *text = buf ? corral_utf8_sanitize (buf, got) : NULL;
          r = simple_result (T, text ? "success" : "error", text ? text : "", text ? NULL : "out of memory");
          free (text);
          free (buf);
        }
      if (fd >= 0)
        close (fd);
    }
  else if (strcmp (op, "delete") == 0)
    {
      /* the entry itself is removed, never what a symlink on the way
       * points at */
      const char *last;
      int pd = strcmp (rel, ".") == 0 ? -1 : open_parent (d, rel, false, &last);
      int rr = pd < 0 ? -1 : fsat_remove (pd, last);
      if (pd >= 0)
        close (pd);
      if (rr < 0)
        {
          snprintf (msg, sizeof msg, "cannot delete %s: %s", path, strerror (errno));
          r = simple_result (T, "error", "", msg);
        }
      else
        r = simple_result (T, "success", "File deleted successfully", NULL);
    }
  else if (strcmp (op, "list") == 0)
    {
      int ld = fsat_open_beneath (d, rel, O_RDONLY | O_DIRECTORY, 0);
      DIR *dp = ld >= 0 ? fdopendir (ld) : NULL;
      if (dp == NULL)
        {
          if (ld >= 0)
            close (ld);
          snprintf (msg, sizeof msg, "cannot list %s: %s", path, strerror (errno));
          r = simple_result (T, "error", "", msg);
        }
      else
        {
          char *out = NULL;
          size_t ol = 0;
          FILE *f = open_memstream (&out, &ol);
          struct dirent *de;
          while ((de = readdir (dp)) != NULL)
            if (strcmp (de->d_name, ".") && strcmp (de->d_name, ".."))
              fprintf (f, "%s\n", de->d_name);
          fclose (f);
          closedir (dp);
          r = simple_result (T, "success", out, NULL);
          free (out);
        }
    }
  else if (strcmp (op, "exists") == 0)
    {
      int fd = fsat_open_beneath (d, rel, O_PATH, 0);
      r = simple_result (T, "success", fd >= 0 ? "True" : "False", NULL);
      if (fd >= 0)
        close (fd);
    }
  else
    r = simple_result (T, "error", "", "operation: create, read, write, delete, list or exists");
  close (d);
  return r;
}

/* A tool call in sandbox s (busy already).  Returns the ToolResult text. */
static char *
call_tool (struct sbx *s, const char *tool, const cJSON *params, double timeout, int *http)
{
  *http = 200;
  cJSON *r;
  if (strcmp (tool, "file_operation") == 0)
    r = file_operation (s, params);
  else
    {
      cJSON *job = cJSON_CreateObject ();
      cJSON_AddStringToObject (job, "kind", "tool");
      cJSON_AddStringToObject (job, "tool", tool);
      cJSON *p = params ? cJSON_Duplicate (params, 1) : cJSON_CreateObject ();
      if (timeout > 0 && !cJSON_GetObjectItemCaseSensitive (p, "timeout"))
        cJSON_AddNumberToObject (p, "timeout", timeout);
      cJSON_AddItemToObject (job, "params", p);
      cJSON_AddStringToObject (job, "dir", s->dir);
      cJSON_AddItemToObject (job, "config", cJSON_Duplicate (s->job_config, 1));
      char *text = cJSON_PrintUnformatted (job);
      cJSON_Delete (job);
      int refused = 0;
      char *ans = text ? queue_run (text, &refused) : NULL;
      free (text);
      if (ans == NULL)
        {
          *http = refused ? refused : 500;
          return detail (queue_refusal (refused));
        }
      /* A worker that died answers in SandboxFusion's shape: a ToolResult
       * here. */
      cJSON *a = cJSON_Parse (ans);
      const char *st = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (a, "status"));
      if (st && strcmp (st, "SandboxError") == 0)
        {
          const char *m = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (a, "message"));
          r = simple_result (tool, "error", "", m ? m : "corral: the run failed");
          cJSON_Delete (a);
          free (ans);
          char *o = cJSON_PrintUnformatted (r);
          cJSON_Delete (r);
          return o;
        }
      cJSON_Delete (a);
      return ans;
    }
  char *out = cJSON_PrintUnformatted (r);
  cJSON_Delete (r);
  return out;
}

static void
set_status (struct sbx *s, const char *st)
{
  snprintf (s->status, sizeof s->status, "%s", st);
  iso_now (s->updated, sizeof s->updated);
  s->last_used = time (NULL);
}

/* ---- routes ----------------------------------------------------------------------- */

static char *
detail (const char *msg)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "detail", msg);
  char *s = cJSON_PrintUnformatted (o);
  cJSON_Delete (o);
  return s;
}

static char *
print (cJSON *o)
{
  char *s = cJSON_PrintUnformatted (o);
  cJSON_Delete (o);
  return s;
}

static double
query_num (const char *v, double def, bool *bad)
{
  if (v == NULL || *v == '\0')
    return def;
  char *end;
  double d = strtod (v, &end);
  if (*end || d < 0)
    *bad = true;
  return d;
}

/* Gives everything under dir to uid 65534, never following a symlink. */
static void
chown_tree (int dir)
{
  fchown (dir, 65534, 65534);
  int d = dup (dir);
  DIR *dp = d >= 0 ? fdopendir (d) : NULL;
  if (dp == NULL)
    {
      if (d >= 0)
        close (d);
      return;
    }
  struct dirent *de;
  while ((de = readdir (dp)) != NULL)
    {
      if (!strcmp (de->d_name, ".") || !strcmp (de->d_name, ".."))
        continue;
      fchownat (dirfd (dp), de->d_name, 65534, 65534, AT_SYMLINK_NOFOLLOW);
      if (de->d_type == DT_DIR)
        {
          int sub = openat (dirfd (dp), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub >= 0)
            {
              chown_tree (sub);
              close (sub);
            }
        }
    }
  closedir (dp);
}

/* Extracts a tar (the request body) into the sandbox's directory, under
 * target_dir: hostile input rules of image layers (src/image/unpack.c). */
static int
archive_into (struct sbx *s, const char *target, const char *body, size_t len, char *msg, size_t mlen)
{
  char m[512];
  if (corral_archive_load (m, sizeof m) < 0)
    {
      snprintf (msg, mlen, "%s", m);
      return -1;
    }
  const char *rel = rel_path (s, target ? target : ".");
  if (rel == NULL)
    {
      snprintf (msg, mlen, "target_dir must be inside the working directory");
      return -1;
    }
  int d = open (s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0)
    {
      snprintf (msg, mlen, "the sandbox's directory is gone");
      return -1;
    }
  int td;
  if (strcmp (rel, ".") == 0)
    td = dup (d);
  else
    {
      char full[1100];
      snprintf (full, sizeof full, "%s/x", rel); /* its parents, and it */
      const char *last;
      td = open_parent (d, full, true, &last);
    }
  close (d);
  if (td < 0)
    {
      snprintf (msg, mlen, "target_dir %s: %s", target, strerror (errno));
      return -1;
    }
  struct archive *a = sym_archive_read_new ();
  corral_archive_filters (a);
  sym_archive_read_support_format_tar (a);
  int r = -1;
  if (sym_archive_read_open_memory (a, body, len) != ARCHIVE_OK)
    snprintf (msg, mlen, "not a tar: %s", sym_archive_error_string (a));
  else
    {
      struct layer_stats st;
      struct corral_error err = { 0 };
      r = image_unpack_layer (a, td, false, "archive", &st, &err);
      if (r < 0)
        snprintf (msg, mlen, "%s", err.msg);
    }
  sym_archive_read_free (a);
  if (r == 0 && geteuid () == 0)
    chown_tree (td); /* the program (uid 65534) owns what it was given */
  close (td);
  return r;
}

int
enclave_route (const char *method, const char *url, const char *(*arg) (void *, const char *),
               void *ctx, const char *body, size_t len, char **out, char *verdict, size_t vlen)
{
  bool get = strcmp (method, "GET") == 0, post = strcmp (method, "POST") == 0,
       del = strcmp (method, "DELETE") == 0;
  char msg[700];
  cJSON *bj = NULL;
  bool bad = false;

  if (strcmp (url, "/stats") == 0 && get)
    {
      pthread_mutex_lock (&mu);
      cJSON *o = cJSON_CreateObject ();
      cJSON_AddStringToObject (o, "manager_type", "local");
      cJSON_AddNumberToObject (o, "total_sandboxes", (double) count_active ());
      cJSON *sc = cJSON_AddObjectToObject (o, "status_counts");
      cJSON *tc = cJSON_AddObjectToObject (o, "sandbox_types");
      size_t running = 0;
      for (struct sbx *s = all; s; s = s->next)
        if (!s->gone)
          {
            cJSON *c = cJSON_GetObjectItemCaseSensitive (sc, s->status);
            if (c)
              cJSON_SetNumberValue (c, c->valuedouble + 1);
            else
              cJSON_AddNumberToObject (sc, s->status, 1);
            c = cJSON_GetObjectItemCaseSensitive (tc, s->type);
            if (c)
              cJSON_SetNumberValue (c, c->valuedouble + 1);
            else
              cJSON_AddNumberToObject (tc, s->type, 1);
            running += strcmp (s->status, "running") == 0 || strcmp (s->status, "busy") == 0;
          }
      cJSON_AddNumberToObject (o, "running", (double) running);
      cJSON_AddNumberToObject (o, "cleanup_interval", 300);
      cJSON_AddNumberToObject (o, "pool_size", (double) pool_size);
      cJSON_AddBoolToObject (o, "pool_enabled", pool_size > 0);
      cJSON_AddBoolToObject (o, "pool_initialized", pool_initialized);
      /* corral's addition: each pool's size and idle sandboxes */
      cJSON *pools = cJSON_AddObjectToObject (o, "pools");
      for (struct sbx *s = all; s; s = s->next)
        if (!s->gone && s->pooled)
          {
            cJSON *p = cJSON_GetObjectItemCaseSensitive (pools, s->pool);
            if (p == NULL)
              {
                p = cJSON_AddObjectToObject (pools, s->pool);
                cJSON_AddStringToObject (p, "sandbox_type", s->type);
                cJSON_AddNumberToObject (p, "size", 0);
                cJSON_AddNumberToObject (p, "idle", 0);
              }
            cJSON *n = cJSON_GetObjectItemCaseSensitive (p, "size");
            cJSON_SetNumberValue (n, n->valuedouble + 1);
            if (!s->busy && strcmp (s->status, "stopped") != 0)
              {
                n = cJSON_GetObjectItemCaseSensitive (p, "idle");
                cJSON_SetNumberValue (n, n->valuedouble + 1);
              }
          }
      pthread_mutex_unlock (&mu);
      *out = print (o);
      return 200;
    }
  if (strcmp (url, "/sandbox/create") == 0 && post)
    {
      if (len && (bj = cJSON_ParseWithLength (body, len)) == NULL)
        return *out = detail ("the body must be a SandboxConfig JSON object"), 400;
      struct sbx *s = create (arg (ctx, "sandbox_type"), bj, false, msg, sizeof msg);
      cJSON_Delete (bj);
      if (s == NULL)
        return *out = detail (msg), 400;
      cJSON *o = cJSON_CreateObject ();
      cJSON_AddStringToObject (o, "sandbox_id", s->id);
      *out = print (o);
      return 200;
    }
  if (strcmp (url, "/sandboxes") == 0 && get)
    {
      const char *want = arg (ctx, "status");
      cJSON *a = cJSON_CreateArray ();
      pthread_mutex_lock (&mu);
      for (struct sbx *s = all; s; s = s->next)
        if (!s->gone && (!want || strcmp (want, s->status) == 0))
          cJSON_AddItemToArray (a, info_json (s));
      pthread_mutex_unlock (&mu);
      *out = print (a);
      return 200;
    }
  if (strcmp (url, "/pool/initialize") == 0 && post)
    {
      double n = query_num (arg (ctx, "pool_size"), 1, &bad);
      if (bad || n < 1 || n > 1024 || n != (double) (int) n)
        return *out = detail ("pool_size: an integer from 1 to 1024"), 400;
      if (len && (bj = cJSON_ParseWithLength (body, len)) == NULL)
        return *out = detail ("the body must be a SandboxConfig JSON object"), 400;
      cJSON *o = cJSON_CreateObject ();
      cJSON_AddStringToObject (o, "message", "Pool initialized successfully");
      cJSON_AddNumberToObject (o, "pool_size", n);
      char pid[17];
      pool_id (arg (ctx, "sandbox_type"), bj, pid, sizeof pid);
      cJSON_AddStringToObject (o, "pool_id", pid); /* corral's addition */
      cJSON *ids = cJSON_AddArrayToObject (o, "sandbox_ids");
      for (int i = 0; i < (int) n; i++)
        {
          struct sbx *s = create (arg (ctx, "sandbox_type"), bj, true, msg, sizeof msg);
          if (s == NULL)
            {
              cJSON_Delete (o);
              cJSON_Delete (bj);
              return *out = detail (msg), 400;
            }
          cJSON_AddItemToArray (ids, cJSON_CreateString (s->id));
        }
      cJSON_Delete (bj);
      pthread_mutex_lock (&mu);
      pool_size += (size_t) n;
      pool_initialized = true;
      pthread_mutex_unlock (&mu);
      *out = print (o);
      return 200;
    }
  if (strcmp (url, "/pool/execute") == 0 && post)
    {
      const char *tool = arg (ctx, "tool_name");
      const char *want_pool = arg (ctx, "pool_id"); /* corral's addition: one pool only */
      double wait_s = query_num (arg (ctx, "timeout"), -1, &bad);
      if (tool == NULL || tool_index (tool) < 0 || bad)
        return *out = detail ("tool_name: python_executor, shell_executor, multi_code_executor or "
                              "file_operation; timeout: seconds"), 400;
      cJSON *params = len ? cJSON_ParseWithLength (body, len) : cJSON_CreateObject ();
      if (!cJSON_IsObject (params))
        {
          cJSON_Delete (params);
          return *out = detail ("the body must be the tool's parameters, a JSON object"), 400;
        }
      struct timespec deadline;
      clock_gettime (CLOCK_REALTIME, &deadline);
      if (wait_s >= 0)
        {
          deadline.tv_sec += (time_t) wait_s;
          deadline.tv_nsec += (long) ((wait_s - (double) (time_t) wait_s) * 1e9);
          if (deadline.tv_nsec >= 1000000000L)
            deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
        }
      /* FIFO: the idle pooled sandbox that has waited longest */
      pthread_mutex_lock (&mu);
      struct sbx *pick = NULL;
      for (;;)
        {
          bool any_pool = false;
          for (struct sbx *s = all; s; s = s->next)
            if (s->pooled && !s->gone && (s->tools & (1u << tool_index (tool)))
                && (!want_pool || strcmp (want_pool, s->pool) == 0))
              {
                any_pool = true;
                if (!s->busy && strcmp (s->status, "stopped") != 0 && (s->tools & (1u << tool_index (tool)))
                    && (pick == NULL || strcmp (s->updated, pick->updated) < 0))
                  pick = s;
              }
          if (pick || !any_pool || shutting_down)
            break;
          if (wait_s >= 0 ? pthread_cond_timedwait (&idle_cond, &mu, &deadline) != 0
                          : pthread_cond_wait (&idle_cond, &mu) != 0)
            break;
        }
      if (pick == NULL)
        {
          bool none = true, pool_exists = false;
          for (struct sbx *s = all; s; s = s->next)
            {
              if (s->pooled && !s->gone && want_pool && strcmp (want_pool, s->pool) == 0)
                pool_exists = true;
              if (s->pooled && !s->gone && (s->tools & (1u << tool_index (tool)))
                  && (!want_pool || strcmp (want_pool, s->pool) == 0))
                none = false;
            }
          pthread_mutex_unlock (&mu);
          cJSON_Delete (params);
          snprintf (verdict, vlen, "pool-timeout");
          if (want_pool && !pool_exists)
            return *out = detail ("pool_id: no such pool (POST /pool/initialize answers its id)"), 404;
          return *out = detail (none ? "no pooled sandbox has that tool: POST /pool/initialize with "
                                       "it in tools_config first"
                                     : "no idle sandbox with that tool became available in time"),
                 none ? 400 : 408;
        }
      pick->busy = true;
      set_status (pick, "busy");
      pthread_mutex_unlock (&mu);
      wipe (pick->dir); /* a fresh start for every pooled execution */
      int http;
      *out = call_tool (pick, tool, params, -1, &http);
      cJSON_Delete (params);
      pthread_mutex_lock (&mu);
      pick->busy = false;
      set_status (pick, "idle");
      pthread_cond_broadcast (&idle_cond);
      pthread_mutex_unlock (&mu);
      cJSON *a = cJSON_Parse (*out);
      snprintf (verdict, vlen, "%s", http == 499 ? "abandoned"
                : cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (a, "status")) ?: "-");
      cJSON_Delete (a);
      return http;
    }
  if (strcmp (url, "/sandbox/tool/execute") == 0 && post)
    {
      bj = cJSON_ParseWithLength (body, len);
      const char *id = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (bj, "sandbox_id"));
      const char *tool = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (bj, "tool_name"));
      const cJSON *params = cJSON_GetObjectItemCaseSensitive (bj, "parameters");
      const cJSON *to = cJSON_GetObjectItemCaseSensitive (bj, "timeout");
      if (!cJSON_IsObject (bj) || id == NULL || tool == NULL || (params && !cJSON_IsObject (params)))
        {
          cJSON_Delete (bj);
          return *out = detail ("the body must be {sandbox_id, tool_name, parameters, timeout}"), 400;
        }
      pthread_mutex_lock (&mu);
      struct sbx *s = find (id);
      int ti = tool_index (tool);
      if (s == NULL || ti < 0 || !(s->tools & (1u << ti)))
        {
          pthread_mutex_unlock (&mu);
          snprintf (msg, sizeof msg, s == NULL ? "Sandbox %s not found" : "Tool %s not found in sandbox",
                    s == NULL ? id : tool);
          cJSON_Delete (bj);
          return *out = detail (msg), 404;
        }
      if (strcmp (s->status, "stopped") == 0)
        {
          pthread_mutex_unlock (&mu);
          cJSON_Delete (bj);
          return *out = detail ("the sandbox is stopped"), 400;
        }
      s->busy = true;
      pthread_mutex_unlock (&mu);
      int http;
      *out = call_tool (s, tool, params, cJSON_IsNumber (to) ? to->valuedouble : -1, &http);
      cJSON_Delete (bj);
      pthread_mutex_lock (&mu);
      s->busy = false;
      iso_now (s->updated, sizeof s->updated);
      s->last_used = time (NULL);
      pthread_mutex_unlock (&mu);
      cJSON *a = cJSON_Parse (*out);
      snprintf (verdict, vlen, "%s", http == 499 ? "abandoned"
                : cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (a, "status")) ?: "-");
      cJSON_Delete (a);
      return http;
    }
  /* /sandbox/{id}[/stop|/tools|/archive] */
  if (strncmp (url, "/sandbox/", 9) == 0)
    {
      char id[64];
      const char *rest = url + 9;
      size_t il = strcspn (rest, "/");
      if (il == 0 || il >= sizeof id)
        return 0;
      snprintf (id, sizeof id, "%.*s", (int) il, rest);
      rest += il;
      pthread_mutex_lock (&mu);
      struct sbx *s = find (id);
      if (s == NULL)
        {
          pthread_mutex_unlock (&mu);
          snprintf (msg, sizeof msg, "Sandbox %s not found", id);
          return *out = detail (msg), 404;
        }
      int st = 0;
      if (*rest == '\0' && get)
        *out = print (info_json (s)), st = 200;
      else if (*rest == '\0' && del)
        {
          destroy_locked (s);
          if (s->pooled && pool_size)
            pool_size--;
          *out = strdup ("{\"message\":\"Sandbox deleted successfully\"}"), st = 200;
        }
      else if (strcmp (rest, "/stop") == 0 && post)
        {
          set_status (s, "stopped");
          *out = strdup ("{\"message\":\"Sandbox stopped successfully\"}"), st = 200;
        }
      else if (strcmp (rest, "/tools") == 0 && get)
        *out = print (tools_json (s->tools)), st = 200;
      else if (strcmp (rest, "/archive") == 0 && post)
        {
          pthread_mutex_unlock (&mu);
          if (archive_into (s, arg (ctx, "target_dir"), body, len, msg, sizeof msg) < 0)
            return *out = detail (msg), 400;
          *out = strdup ("{\"ok\":true}");
          return 200;
        }
      else
        st = 405, *out = detail ("Method Not Allowed");
      pthread_mutex_unlock (&mu);
      return st;
    }
  (void) bad;
  return 0;
}
