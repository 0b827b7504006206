/* worker.c - a worker process of corral serve: one job at a time, each in
 * fresh sandboxes of the isolation core.
 *
 * SandboxFusion's /run_code: the request's files and the code go into a
 * fresh work directory, which the compile run and then the program run
 * mount at /sandbox (their cwd); fetch_files are read back from it, then it
 * is removed.  As root the worker keeps its work directories on a tmpfs of
 * its own mount namespace (--work-size), so a program cannot fill the
 * host's disk; rootless they are plain directories, bounded per file by
 * --fsize.  Every host-side operation on a work directory is fd-relative
 * and never follows a symlink: the program may have planted some. */
#include "config.h"
#include "server.h"
#include "base64.h"
#include "fsat.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/openat2.h>

#define OUTPUT_CAP (1u << 20) /* per stream, documented in corral-serve(1) */

static cJSON *
result_obj (const char *status, double secs, const cJSON *rc_or_null, const char *out, size_t out_len,
            const char *err, size_t err_len)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "status", status);
  cJSON_AddNumberToObject (o, "execution_time", secs);
  cJSON_AddItemToObject (o, "return_code", rc_or_null ? cJSON_Duplicate (rc_or_null, 1) : cJSON_CreateNull ());
  /* outputs are text in the API: invalid UTF-8 bytes become U+FFFD */
  char *so = corral_utf8_sanitize (out ? out : "", out ? out_len : 0);
  char *se = corral_utf8_sanitize (err ? err : "", err ? err_len : 0);
  cJSON_AddStringToObject (o, "stdout", so ? so : "");
  cJSON_AddStringToObject (o, "stderr", se ? se : "");
  free (so);
  free (se);
  return o;
}

static cJSON *
sandbox_error (const char *msg)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "status", "SandboxError");
  cJSON_AddStringToObject (o, "message", msg);
  cJSON_AddNullToObject (o, "compile_result");
  cJSON_AddNullToObject (o, "run_result");
  cJSON_AddNullToObject (o, "executor_pod_name");
  cJSON_AddObjectToObject (o, "files");
  return o;
}

/* ---- the work directory ------------------------------------------------------- */

/* A path the request names inside the work directory: relative (or under
 * /sandbox), without `..`; its parents are made as needed. */
static const char *
inside_path (const char *p)
{
  if (strncmp (p, "/sandbox/", 9) == 0)
    p += 9;
  while (p[0] == '.' && p[1] == '/')
    p += 2;
  if (p[0] == '/' || p[0] == '\0' || strstr (p, "..") || strlen (p) > 1024)
    return NULL;
  return p;
}

/* Writes rel under dir, making its parents one component at a time and
 * never through a symlink (an ms-enclave sandbox's directory holds what
 * earlier programs left). */
static int
write_file (int dir, const char *rel, const void *data, size_t len, uid_t uid, gid_t gid)
{
  char path[1100];
  snprintf (path, sizeof path, "%s", rel);
  int cur = dup (dir);
  char *name = path;
  for (char *s = strchr (name, '/'); s && cur >= 0; s = strchr (name, '/'))
    {
      *s = '\0';
      int next = openat (cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0 && errno == ENOENT && mkdirat (cur, name, 0755) == 0)
        {
          if (uid != (uid_t) -1)
            fchownat (cur, name, uid, gid, AT_SYMLINK_NOFOLLOW);
          next = openat (cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
      close (cur);
      cur = next;
      name = s + 1;
    }
  if (cur < 0)
    return -1;
  int fd = openat (cur, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  close (cur);
  if (fd < 0)
    return -1;
  const char *p = data;
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n <= 0)
        {
          close (fd);
          return -1;
        }
      p += n;
      len -= (size_t) n;
    }
  if (uid != (uid_t) -1)
    fchown (fd, uid, gid);
  close (fd);
  return 0;
}

/* ---- one step (compile or run) ----------------------------------------------------- */

cJSON *
serve_step (const struct serve_step *st, const struct serve_box *box, const struct serve_root *root,
            const struct serve_limits *lim, bool *internal, char *why, size_t whylen)
{
  struct corral_spec spec;
  corral_spec_init (&spec);
  spec.argv = (char **) st->argv;
  char home[300];
  snprintf (home, sizeof home, "HOME=%s", box->mount_at);
  char *base[] = { (char *) (root->path_env ? root->path_env : "PATH=/usr/local/bin:/usr/bin:/bin"),
                   home, "LANG=C.UTF-8", "TMPDIR=/tmp", "GOCACHE=/tmp/.gocache", "GOPATH=/tmp/.gopath" };
  size_t nb = sizeof base / sizeof *base, ne = 0;
  while (box->extra_env && box->extra_env[ne])
    ne++;
  char **env = calloc (nb + ne + 1, sizeof *env);
  if (env == NULL)
    {
      *internal = true;
      snprintf (why, whylen, "corral: out of memory");
      return result_obj ("Error", 0, NULL, "", 0, why, strlen (why));
    }
  size_t n = 0;
  for (size_t i = 0; i < nb; i++)
    env[n++] = base[i];
  for (size_t i = 0; i < ne; i++)
    {
      size_t k = strcspn (box->extra_env[i], "=");
      size_t j;
      for (j = 0; j < n; j++)
        if (strncmp (env[j], box->extra_env[i], k) == 0 && env[j][k] == '=')
          break;
      env[j] = box->extra_env[i];
      if (j == n)
        n++;
    }
  env[n] = NULL;
  spec.env = env;
  spec.cwd = box->mount_at;
  spec.stdin_fd = st->stdin_fd;
  spec.net = box->net;
  spec.memory = box->memory;
  spec.cpus_milli = box->cpus_milli;
  spec.pids = lim->pids;
  spec.output = lim->output;
  spec.wall_ms = (uint64_t) (st->timeout * 1000.0 + 0.5);
  if (spec.wall_ms == 0)
    spec.wall_ms = 1;
  spec.policy = lim->policy;
  spec.lowers_base = root->lowers_base;
  spec.lowers = root->lowers;
  spec.n_lowers = root->n_lowers;
  struct corral_mount m = { .kind = CORRAL_MOUNT_BIND, .src = (char *) box->dir,
                            .dst = (char *) box->mount_at };
  spec.mounts = &m;
  spec.n_mounts = 1;

  struct corral_result res;
  struct corral_error err = { 0 };
  *internal = false;
  int rr = corral_run (&spec, &res, &err);
  free (env);
  if (rr < 0)
    {
      *internal = true;
      snprintf (why, whylen, "corral: %s", err.msg);
      return result_obj ("Error", 0, NULL, "", 0, why, strlen (why));
    }
  double secs = (double) res.wall_ms / 1000.0;
  cJSON *rc = NULL, *o;
  switch (res.status)
    {
    case CORRAL_TLE:
      o = result_obj ("TimeLimitExceeded", secs, NULL, res.out, res.out_len, res.err, res.err_len);
      break;
    case CORRAL_IE:
      *internal = true;
      snprintf (why, whylen, "corral: %s", res.reason);
      o = result_obj ("Error", secs, NULL, res.out, res.out_len, why, strlen (why));
      break;
    default:
      /* as upstream's subprocess: the exit code, or minus the signal
       * (an OOM kill is -9, a forbidden system call -31) */
      rc = cJSON_CreateNumber (res.status == CORRAL_OK || res.status == CORRAL_RE ? res.exit_code
                               : res.status == CORRAL_SYS ? -31
                               : res.signal ? -res.signal : -9);
      o = result_obj ("Finished", secs, rc, res.out, res.out_len, res.err, res.err_len);
      cJSON_Delete (rc);
      break;
    }
  corral_result_free (&res);
  return o;
}

bool
serve_step_failed (const cJSON *r)
{
  const char *st = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (r, "status"));
  const cJSON *rc = cJSON_GetObjectItemCaseSensitive (r, "return_code");
  return strcmp (st, "Finished") != 0 || (cJSON_IsNumber (rc) && rc->valuedouble != 0);
}

cJSON *
serve_run_code (const cJSON *job, const struct serve_root *root, const struct serve_limits *lim,
                const char *workdir, const struct serve_box *in_box)
{
  const char *language = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (job, "language"));
  const char *code = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (job, "code"));
  const struct lang *lg = language ? serve_lang (language) : NULL;
  char msg[600];
  if (lg == NULL || code == NULL)
    return sandbox_error ("bad job");
  if (lg->run == NULL)
    {
      snprintf (msg, sizeof msg, "language %s is not supported by this corral server", language);
      return sandbox_error (msg);
    }
  char where[256];
  const char *run_argv[16];
  const char *const *run_cmd = lg->run;
  if (!serve_root_has (root, lg->tool, where, sizeof where) && lg->alt_tool
      && serve_root_has (root, lg->alt_tool, where, sizeof where))
    {
      /* only the alternative (python, not python3): run that */
      size_t k = 0;
      for (; lg->run[k] && k + 1 < sizeof run_argv / sizeof *run_argv; k++)
        run_argv[k] = k == 0 ? lg->alt_tool : lg->run[k];
      run_argv[k] = NULL;
      run_cmd = run_argv;
    }
  else if (!serve_root_has (root, lg->tool, where, sizeof where))
    {
      snprintf (msg, sizeof msg, "language %s needs %s, which this server's root file system does "
                "not have (install it in the image given to corral serve --image)", language, lg->tool);
      return sandbox_error (msg);
    }
  const cJSON *v;
  double compile_timeout = 10, run_timeout = 10;
  if (cJSON_IsNumber (v = cJSON_GetObjectItemCaseSensitive (job, "compile_timeout")))
    compile_timeout = v->valuedouble;
  if (cJSON_IsNumber (v = cJSON_GetObjectItemCaseSensitive (job, "run_timeout")))
    run_timeout = v->valuedouble;
  uint64_t memory = lim->memory;
  if (cJSON_IsNumber (v = cJSON_GetObjectItemCaseSensitive (job, "memory_limit_MB")) && v->valuedouble > 0)
    memory = (uint64_t) v->valuedouble << 20;

  /* the work directory, writable by the program: a fresh one, or the
   * ms-enclave sandbox's own (kept) */
  char jobdir[PATH_MAX];
  bool keep = in_box != NULL;
  if (keep)
    snprintf (jobdir, sizeof jobdir, "%s", in_box->dir);
  else
    {
      snprintf (jobdir, sizeof jobdir, "%s/job.XXXXXX", workdir);
      if (mkdtemp (jobdir) == NULL)
        {
          snprintf (msg, sizeof msg, "work directory in %s: %s", workdir, strerror (errno));
          return sandbox_error (msg);
        }
    }
  struct serve_box box = { .dir = jobdir, .mount_at = "/sandbox", .memory = memory,
                           .cpus_milli = CORRAL_NO_LIMIT, .net = CORRAL_NET_NONE };
  if (keep)
    {
      box = *in_box;
      if (memory != lim->memory)
        box.memory = memory;
    }
  uid_t uid = (uid_t) -1;
  gid_t gid = (gid_t) -1;
  if (geteuid () == 0)
    uid = gid = 65534; /* the sandbox's default identity as root */
  if (uid != (uid_t) -1 && !keep)
    chown (jobdir, uid, gid);
  if (!keep)
    chmod (jobdir, 0755);
  int dir = open (jobdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cJSON *out = NULL;
  const char *rslash = strrchr (jobdir, '/');
  int parent = -1;
  if (dir < 0)
    {
      snprintf (msg, sizeof msg, "open %s: %s", jobdir, strerror (errno));
      out = sandbox_error (msg);
      goto done;
    }
  if (write_file (dir, lg->file, code, strlen (code), uid, gid) < 0)
    {
      out = sandbox_error ("cannot write the code into the work directory");
      goto done;
    }
  const cJSON *files = cJSON_GetObjectItemCaseSensitive (job, "files"), *f;
  cJSON_ArrayForEach (f, files)
    {
      if (cJSON_IsNull (f))
        continue;
      const char *rel = inside_path (f->string);
      size_t blen;
      unsigned char *bytes = rel && cJSON_IsString (f) ? base64_decode (f->valuestring, &blen) : NULL;
      if (bytes == NULL || write_file (dir, rel, bytes, blen, uid, gid) < 0)
        {
          free (bytes);
          snprintf (msg, sizeof msg, "files: `%.200s` is not a relative path with base64 content, or "
                    "cannot be written", f->string);
          out = sandbox_error (msg);
          goto done;
        }
      free (bytes);
    }

  out = cJSON_CreateObject ();
  cJSON *compile_result = NULL, *run_result = NULL;
  bool internal = false;
  char why[700] = "";
  bool ok = true;
  if (lg->compile)
    {
      struct serve_step st = { lg->compile, compile_timeout, -1 };
      compile_result = serve_step (&st, &box, root, lim, &internal, why, sizeof why);
      ok = !internal && !serve_step_failed (compile_result);
    }
  if (ok)
    {
      int sfd = -1;
      const char *stdin_text = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (job, "stdin"));
      if (stdin_text)
        {
          sfd = memfd_create ("stdin", MFD_CLOEXEC);
          size_t left = strlen (stdin_text);
          const char *p = stdin_text;
          while (sfd >= 0 && left > 0)
            {
              ssize_t n = write (sfd, p, left);
              if (n <= 0)
                break;
              p += n;
              left -= (size_t) n;
            }
          if (sfd >= 0)
            lseek (sfd, 0, SEEK_SET);
        }
      struct serve_step st = { run_cmd, run_timeout, sfd };
      run_result = serve_step (&st, &box, root, lim, &internal, why, sizeof why);
      if (sfd >= 0)
        close (sfd);
    }
  /* upstream's rules: an internal error is SandboxError; a time limit or a
   * non-zero exit is Failed */
  const char *status = internal ? "SandboxError"
                       : (compile_result && serve_step_failed (compile_result)) || (run_result && serve_step_failed (run_result))
                       ? "Failed" : "Success";
  cJSON_AddStringToObject (out, "status", status);
  cJSON_AddStringToObject (out, "message", internal ? why : "");
  cJSON_AddItemToObject (out, "compile_result", compile_result ? compile_result : cJSON_CreateNull ());
  cJSON_AddItemToObject (out, "run_result", run_result ? run_result : cJSON_CreateNull ());
  cJSON_AddNullToObject (out, "executor_pod_name");
  cJSON *got = cJSON_AddObjectToObject (out, "files");
  const cJSON *ff = cJSON_GetObjectItemCaseSensitive (job, "fetch_files"), *p;
  cJSON_ArrayForEach (p, ff)
    {
      const char *rel = cJSON_IsString (p) ? inside_path (p->valuestring) : NULL;
      int fd = rel ? fsat_open_beneath (dir, rel, O_RDONLY, 0) : -1;
      struct stat sb;
      if (fd < 0 || fstat (fd, &sb) < 0 || !S_ISREG (sb.st_mode) || sb.st_size > (64 << 20))
        {
          if (fd >= 0)
            close (fd);
          continue; /* absent, not a regular file, or a symlink: left out */
        }
      char *buf = malloc ((size_t) sb.st_size + 1);
      size_t got_n = 0;
      ssize_t n;
      while (buf && got_n < (size_t) sb.st_size && (n = read (fd, buf + got_n, (size_t) sb.st_size - got_n)) > 0)
        got_n += (size_t) n;
      close (fd);
      char *b64 = buf ? base64_encode (buf, got_n) : NULL;
      if (b64)
        cJSON_AddStringToObject (got, p->valuestring, b64);
      free (b64);
      free (buf);
    }
done:
  if (dir >= 0)
    close (dir);
  if (!keep && (parent = open (workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
    {
      fsat_remove (parent, rslash + 1);
      close (parent);
    }
  return out;
}

/* ---- the worker process ---------------------------------------------------------- */

static char workdir[PATH_MAX];

/* As root: a private mount namespace with a tmpfs for the work directories. */
static void
make_workdir (uint64_t size)
{
  const char *state = getenv ("CORRAL_SERVE_STATE"); /* the server's */
  const char *rt = getenv ("XDG_RUNTIME_DIR");
  if (state && state[0] == '/')
    snprintf (workdir, sizeof workdir, "%s/work.XXXXXX", state);
  else
    snprintf (workdir, sizeof workdir, "%s/corral-serve.XXXXXX",
              geteuid () != 0 && rt && *rt ? rt : "/tmp");
  if (mkdtemp (workdir) == NULL)
    {
      fprintf (stderr, "corral-serve: worker: %s: %s\n", workdir, strerror (errno));
      _exit (1);
    }
  chmod (workdir, 0711);
  if (geteuid () == 0 && unshare (CLONE_NEWNS) == 0
      && mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
    {
      char opts[64];
      snprintf (opts, sizeof opts, "size=%llu,mode=0711", (unsigned long long) size);
      if (mount ("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
        fprintf (stderr, "corral-serve: worker: tmpfs for work dirs: %s (plain directory)\n",
                 strerror (errno));
    }
}

static volatile sig_atomic_t stop_requested;

/* SIGTERM from the server at shutdown: kill the running sandbox (corral
 * then removes its cgroups and mounts) and leave after this job. */
static void
on_term (int sig)
{
  (void) sig;
  stop_requested = 1;
  corral_interrupt (SIGKILL);
  corral_interrupt (SIGKILL);
}

/* SIGUSR1 from the server: the client of the running job hung up; kill
 * its sandbox (the answer is thrown away). */
static void
on_cancel (int sig)
{
  (void) sig;
  corral_interrupt (SIGKILL);
  corral_interrupt (SIGKILL);
}

void
serve_worker_main (int fd, const struct serve_root *root, const struct serve_limits *lim)
{
  /* A server killed with SIGKILL takes us along, and our sandbox with us
   * (its init has the same death signal): a job must not run on to its
   * own timeout with nobody to answer.  The server starts us from
   * threads that live as long as it does.  If it died before the prctl,
   * its end of the socket is closed already. */
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  struct pollfd alive = { .fd = fd, .events = POLLRDHUP };
  if (poll (&alive, 1, 0) == 1 && (alive.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)))
    _exit (0);
  signal (SIGPIPE, SIG_IGN);
  signal (SIGINT, SIG_IGN); /* the server decides */
  struct sigaction sa = { .sa_handler = on_term };
  sigemptyset (&sa.sa_mask);
  sigaction (SIGTERM, &sa, NULL);
  struct sigaction sc = { .sa_handler = on_cancel, .sa_flags = SA_RESTART };
  sigemptyset (&sc.sa_mask);
  sigaction (SIGUSR1, &sc, NULL);
  const char *ws = getenv ("CORRAL_SERVE_WORK_SIZE");
  uint64_t size = 1ull << 30;
  if (ws)
    corral_parse_size (ws, &size);
  make_workdir (size);
  while (!stop_requested)
    {
      size_t len;
      char *text = serve_recv (fd, 256u << 20, &len);
      if (text == NULL)
        break;
      /* a cancel meant for the job before this one must not hit this one */
      if (!stop_requested)
        corral_interrupt_clear ();
      cJSON *job = cJSON_Parse (text);
      free (text);
      const char *kind = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (job, "kind"));
      if (kind && strcmp (kind, "run") == 0)
        {
          char *out = native_job (cJSON_GetObjectItemCaseSensitive (job, "spec"), root, lim);
          cJSON_Delete (job);
          int r = out ? serve_send (fd, out, strlen (out)) : -1;
          free (out);
          if (r < 0)
            break;
          continue;
        }
      cJSON *ans = kind && strcmp (kind, "run_code") == 0
                   ? serve_run_code (cJSON_GetObjectItemCaseSensitive (job, "request"), root, lim, workdir, NULL)
                   : kind && strcmp (kind, "jupyter") == 0
                   ? serve_run_jupyter (cJSON_GetObjectItemCaseSensitive (job, "request"), root, lim, workdir)
                   : kind && strcmp (kind, "tool") == 0 ? serve_tool (job, root, lim)
                   : sandbox_error ("unknown job");
      cJSON_Delete (job);
      char *out = cJSON_PrintUnformatted (ans);
      cJSON_Delete (ans);
      int r = out ? serve_send (fd, out, strlen (out)) : -1;
      free (out);
      if (r < 0)
        break;
    }
  umount2 (workdir, MNT_DETACH); /* (if it is a tmpfs: ours alone) */
  rmdir (workdir);
  _exit (0);
}
