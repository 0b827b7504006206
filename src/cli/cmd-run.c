/* cmd-run.c - `corral run [OPTIONS] -- CMD [ARG...]`: options to a spec,
 * the library runs it, the result goes out as JSON or as our exit status. */
#include "config.h"
#include "cli.h"
#include "image.h"
#include "remote.h"
#include "corral.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
  OPT_JSON = 256, OPT_PRETTY, OPT_MEMORY, OPT_PIDS, OPT_CPUS, OPT_TIME, OPT_WALL, OPT_OUTPUT,
  OPT_FSIZE, OPT_NOFILE, OPT_STACK, OPT_NET, OPT_BIND, OPT_TMPFS, OPT_CWD, OPT_ENV, OPT_STDIN,
  OPT_POLICY, OPT_USERNS, OPT_NO_USERNS, OPT_UID, OPT_GID, OPT_HOSTNAME, OPT_IMAGE, OPT_ROOTFS,
  OPT_STORE, OPT_ROOT_SIZE, OPT_REMOTE, OPT_ENTRYPOINT,
};

static const struct option options[] = {
  { "json", no_argument, NULL, OPT_JSON },
  { "pretty", no_argument, NULL, OPT_PRETTY },
  { "memory", required_argument, NULL, OPT_MEMORY },
  { "pids", required_argument, NULL, OPT_PIDS },
  { "cpus", required_argument, NULL, OPT_CPUS },
  { "time", required_argument, NULL, OPT_TIME },
  { "wall", required_argument, NULL, OPT_WALL },
  { "output", required_argument, NULL, OPT_OUTPUT },
  { "fsize", required_argument, NULL, OPT_FSIZE },
  { "nofile", required_argument, NULL, OPT_NOFILE },
  { "stack", required_argument, NULL, OPT_STACK },
  { "net", required_argument, NULL, OPT_NET },
  { "bind", required_argument, NULL, OPT_BIND },
  { "tmpfs", required_argument, NULL, OPT_TMPFS },
  { "cwd", required_argument, NULL, OPT_CWD },
  { "env", required_argument, NULL, OPT_ENV },
  { "stdin", required_argument, NULL, OPT_STDIN },
  { "policy", required_argument, NULL, OPT_POLICY },
  { "userns", no_argument, NULL, OPT_USERNS },
  { "no-userns", no_argument, NULL, OPT_NO_USERNS },
  { "uid", required_argument, NULL, OPT_UID },
  { "gid", required_argument, NULL, OPT_GID },
  { "hostname", required_argument, NULL, OPT_HOSTNAME },
  { "image", required_argument, NULL, OPT_IMAGE },
  { "rootfs", required_argument, NULL, OPT_ROOTFS },
  { "store", required_argument, NULL, OPT_STORE },
  { "root-size", required_argument, NULL, OPT_ROOT_SIZE },
  { "remote", required_argument, NULL, OPT_REMOTE },
  { "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

static void
run_usage (FILE *f)
{
  fputs ("Usage: corral run [OPTIONS] -- CMD [ARG...]\n"
         "       corral run --image NAME [OPTIONS] [-- ARG...]\n"
         "\n"
         "Output and result:\n"
         "  --json                 print one JSON result object instead of passing output through\n"
         "  --pretty               indent the JSON\n"
         "Limits (SIZE takes K/M/G suffixes; `unlimited` lifts a default):\n"
         "  --memory SIZE          memory, swap 0 (default 1G)\n"
         "  --pids N               processes and threads (default 256)\n"
         "  --cpus N               CPU share, e.g. 0.5 (default unlimited)\n"
         "  --time SEC             CPU time (default unlimited)\n"
         "  --wall SEC             wall-clock time (default 60)\n"
         "  --output SIZE          captured stdout and stderr, each (default 1M)\n"
         "  --fsize SIZE           largest file written (default 64M)\n"
         "  --nofile N             open files (default 1024)\n"
         "  --stack SIZE           stack size (default 8M)\n"
         "Root file system (default: a read-only view of the host's /usr and a vetted /etc):\n"
         "  --image NAME[:TAG]     an imported image (`corral image`): its layers under a\n"
         "                         writable upper layer that is discarded; its Env,\n"
         "                         WorkingDir and User apply, and the command is its\n"
         "                         Entrypoint + (ARGs, else its Cmd), as in `docker run`\n"
         "  --entrypoint CMD       with --image: CMD instead of the image's Entrypoint\n"
         "                         (and its Cmd); \"\" for none\n"
         "  --rootfs DIR           a directory as the read-only lower layer, the same way\n"
         "  --root-size SIZE       the upper layer's tmpfs (default 256M)\n"
         "  --store DIR            the image store (see `corral image --help`)\n"
         "Filesystem and environment:\n"
         "  --bind SRC:DST[:ro]    bind a host path into the sandbox\n"
         "  --tmpfs DST[:SIZE]     a tmpfs (sizes /sandbox, /tmp, /dev/shm when named)\n"
         "  --cwd DIR              working directory (default /sandbox)\n"
         "  --env K=V | K          set a variable, or copy K from our environment\n"
         "  --stdin FILE           the program's stdin (default: empty)\n"
         "  --hostname NAME        (default corral)\n"
         "  --remote URL[,URL]     run on corral servers (`corral serve`) instead of here\n"
         "Isolation:\n"
         "  --net loopback|none|host   network (default loopback: a new namespace, lo up)\n"
         "  --policy NAME|PATH|none    seccomp policy (default `default`)\n"
         "  --userns | --no-userns     a user namespace mapping only the program's ids, or none\n"
         "                             (default: one each run; as root one mapping every id to\n"
         "                             itself, owned by a uid of CORRAL_OWNER_UIDS)\n"
         "  --uid N, --gid N       identity inside (default 65534 as root, else yours)\n"
         "\n"
         "Exit status without --json and with it: the program's exit code, 128+N for\n"
         "signal N, 124 TLE, 123 MLE, 122 OLE, 121 SYS, 125 internal error, 2 usage.\n",
         f);
}

/* The command of a run on an image, as `docker run` makes it: the
 * Entrypoint (or --entrypoint, "" for none), then the arguments given, or
 * the image's Cmd when none is given and the Entrypoint is the image's
 * (docker drops the Cmd with an --entrypoint).  The strings are borrowed. */
static int
image_argv (const struct image *im, const char *entrypoint, char **args, size_t n_args, char ***out)
{
  char *ep_one[2] = { (char *) entrypoint, NULL };
  char **ep = entrypoint ? (entrypoint[0] ? ep_one : NULL) : im->entrypoint;
  char **tail = n_args ? NULL : entrypoint ? NULL : im->cmd;
  size_t n = n_args;
  for (char **p = ep; p && *p; p++)
    n++;
  for (char **p = tail; p && *p; p++)
    n++;
  char **v = calloc (n + 1, sizeof *v);
  if (v == NULL)
    return -1;
  size_t i = 0;
  for (char **p = ep; p && *p; p++)
    v[i++] = *p;
  for (size_t k = 0; k < n_args; k++)
    v[i++] = args[k];
  for (char **p = tail; p && *p; p++)
    v[i++] = *p;
  *out = v;
  return 0;
}

static int
parse_count (const char *s, uint64_t *out)
{
  if (strcmp (s, "unlimited") == 0)
    {
      *out = CORRAL_NO_LIMIT;
      return 0;
    }
  char *end;
  errno = 0;
  unsigned long long v = strtoull (s, &end, 10);
  if (errno || end == s || *end || s[0] == '-')
    return -1;
  *out = v;
  return 0;
}

static int
add_mount (struct corral_spec *spec, struct corral_mount m)
{
  struct corral_mount *n = realloc (spec->mounts, (spec->n_mounts + 1) * sizeof *n);
  if (n == NULL)
    return -1;
  spec->mounts = n;
  spec->mounts[spec->n_mounts++] = m;
  return 0;
}

static int
parse_bind (struct corral_spec *spec, const char *arg)
{
  char *copy = strdup (arg);
  if (copy == NULL)
    return -1;
  char *src = copy, *dst = strchr (copy, ':');
  if (dst == NULL || dst == src)
    goto bad;
  *dst++ = '\0';
  bool ro = false;
  char *mode = strchr (dst, ':');
  if (mode)
    {
      *mode++ = '\0';
      if (strcmp (mode, "ro") == 0)
        ro = true;
      else if (strcmp (mode, "rw") != 0)
        goto bad;
    }
  if (dst[0] != '/' || src[0] == '\0')
    goto bad;
  char real[PATH_MAX];
  if (realpath (src, real) == NULL)
    {
      cli_error ("run", "--bind %s: source %s: %s", arg, src, strerror (errno));
      free (copy);
      return -2;
    }
  struct corral_mount m = { .kind = CORRAL_MOUNT_BIND, .src = strdup (real), .dst = strdup (dst), .ro = ro };
  free (copy);
  return add_mount (spec, m);
bad:
  free (copy);
  cli_error ("run", "--bind %s: expected SRC:DST[:ro] with an absolute DST", arg);
  return -2;
}

static int
parse_tmpfs (struct corral_spec *spec, const char *arg)
{
  char *copy = strdup (arg);
  if (copy == NULL)
    return -1;
  uint64_t size = 0;
  char *colon = strchr (copy, ':');
  if (colon)
    {
      *colon++ = '\0';
      if (corral_parse_size (colon, &size) < 0 || size == CORRAL_NO_LIMIT)
        {
          cli_error ("run", "--tmpfs %s: bad size `%s`", arg, colon);
          free (copy);
          return -2;
        }
    }
  if (copy[0] != '/')
    {
      cli_error ("run", "--tmpfs %s: the mount point must be an absolute path", arg);
      free (copy);
      return -2;
    }
  /* The built-in tmpfs mounts are resized, not stacked. */
  uint64_t *builtin = strcmp (copy, "/sandbox") == 0 ? &spec->sandbox_size
                      : strcmp (copy, "/tmp") == 0   ? &spec->tmp_size
                      : strcmp (copy, "/dev/shm") == 0 ? &spec->shm_size
                                                       : NULL;
  if (builtin)
    {
      if (size)
        *builtin = size;
      free (copy);
      return 0;
    }
  struct corral_mount m = { .kind = CORRAL_MOUNT_TMPFS, .dst = copy, .size = size };
  return add_mount (spec, m);
}

/* Environment: a clean default with our --env additions on top. */
/* Sets K=V in env (n entries, room for one more), replacing K. */
static void
env_put (char **env, size_t *n, char *kv)
{
  size_t klen = strcspn (kv, "=");
  size_t j;
  for (j = 0; j < *n; j++)
    if (strncmp (env[j], kv, klen) == 0 && env[j][klen] == '=')
      break;
  if (j < *n)
    free (env[j]);
  else
    (*n)++;
  env[j] = kv;
}

/* The default environment, then the image's Env, then --env: later wins.
 * Takes extra's strings. */
static char **
build_env (char *const *image_env, char **extra, size_t n_extra)
{
  char *const *base = corral_default_env;
  size_t nb = 0, ni = 0;
  while (base[nb])
    nb++;
  while (image_env && image_env[ni])
    ni++;
  char **env = calloc (nb + ni + n_extra + 1, sizeof *env);
  if (env == NULL)
    return NULL;
  size_t n = 0;
  for (size_t i = 0; i < nb; i++)
    env[n++] = strdup (base[i]);
  for (size_t i = 0; i < ni; i++)
    if (strchr (image_env[i], '=') && image_env[i][0] != '=')
      env_put (env, &n, strdup (image_env[i]));
  for (size_t i = 0; i < n_extra; i++)
    env_put (env, &n, extra[i]);
  env[n] = NULL;
  return env;
}

static void
on_signal (int sig)
{
  corral_interrupt (sig);
}

static int
exit_status (const struct corral_result *r)
{
  switch (r->status)
    {
    case CORRAL_OK:
    case CORRAL_RE: return r->exit_code;
    case CORRAL_SIG: return 128 + r->signal;
    case CORRAL_TLE: return EXIT_TLE;
    case CORRAL_MLE: return EXIT_MLE;
    case CORRAL_OLE: return EXIT_OLE;
    case CORRAL_SYS: return EXIT_SYS;
    default: return EXIT_IE;
    }
}

int
cmd_run (int argc, char **argv)
{
  struct corral_spec spec;
  corral_spec_init (&spec);
  bool json = false, pretty = false;
  const char *policy_name = "default", *stdin_path = NULL;
  char **extra_env = NULL;
  size_t n_env = 0;
  int ret = EXIT_USAGE;
  char **env = NULL;
  char *workdir = NULL;
  int stdin_fd = -1;
  const char *image_name = NULL, *rootfs_dir = NULL, *store_dir = NULL, *remote = NULL;
  bool cwd_given = false, uid_given = false, gid_given = false;
  const char *entrypoint = NULL;
  char **run_argv = NULL;
  struct image im = { 0 };
  int image_lock = -1;
  const char *rootfs_lowers[] = { ".", NULL };
  char rootfs_abs[PATH_MAX];

  optind = 1;
  opterr = 0;
  int c;
  /* "+": stop at the first non-option, so the command's own flags are its. */
  while ((c = getopt_long (argc, argv, "+h", options, NULL)) != -1)
    {
      uint64_t v;
      const char *name = optind > 1 ? argv[optind - 1] : "?";
      switch (c)
        {
        case 'h': run_usage (stdout); ret = 0; goto out;
        case OPT_JSON: json = true; break;
        case OPT_PRETTY: pretty = json = true; break;
        case OPT_MEMORY: case OPT_OUTPUT: case OPT_FSIZE: case OPT_STACK:
          if (corral_parse_size (optarg, &v) < 0)
            {
              cli_error ("run", "%s: bad size `%s` (e.g. 256M, 1.5G, unlimited)", name, optarg);
              goto out;
            }
          if (c == OPT_MEMORY) spec.memory = v;
          else if (c == OPT_OUTPUT) spec.output = v;
          else if (c == OPT_FSIZE) spec.fsize = v;
          else spec.stack = v;
          if (c == OPT_MEMORY && v != CORRAL_NO_LIMIT && v < (1u << 20))
            {
              cli_error ("run", "--memory %s: at least 1M is needed to start a program", optarg);
              goto out;
            }
          break;
        case OPT_PIDS: case OPT_NOFILE:
          if (parse_count (optarg, &v) < 0 || v == 0)
            {
              cli_error ("run", "%s: bad count `%s` (a positive integer or unlimited)", name, optarg);
              goto out;
            }
          if (c == OPT_PIDS) spec.pids = v; else spec.nofile = v;
          break;
        case OPT_CPUS:
          {
            char *end;
            errno = 0;
            double d = strtod (optarg, &end);
            if (errno || end == optarg || *end || !(d > 0) || d > 4096)
              {
                cli_error ("run", "--cpus: bad CPU count `%s` (e.g. 0.5, 2)", optarg);
                goto out;
              }
            spec.cpus_milli = (uint64_t) (d * 1000 + 0.5);
            break;
          }
        case OPT_TIME: case OPT_WALL:
          if (corral_parse_duration_ms (optarg, &v) < 0 || v == 0)
            {
              cli_error ("run", "%s: bad duration `%s` (seconds, e.g. 2, 0.5, 500ms)", name, optarg);
              goto out;
            }
          if (c == OPT_TIME) spec.time_ms = v; else spec.wall_ms = v;
          break;
        case OPT_NET:
          if (strcmp (optarg, "loopback") == 0) spec.net = CORRAL_NET_LOOPBACK;
          else if (strcmp (optarg, "none") == 0) spec.net = CORRAL_NET_NONE;
          else if (strcmp (optarg, "host") == 0) spec.net = CORRAL_NET_HOST;
          else
            {
              cli_error ("run", "--net: unknown mode `%s` (loopback, none or host)", optarg);
              goto out;
            }
          break;
        case OPT_BIND:
          {
            int r = parse_bind (&spec, optarg);
            if (r == -1) { cli_error ("run", "out of memory"); ret = EXIT_IE; }
            if (r < 0) goto out;
            break;
          }
        case OPT_TMPFS:
          {
            int r = parse_tmpfs (&spec, optarg);
            if (r == -1) { cli_error ("run", "out of memory"); ret = EXIT_IE; }
            if (r < 0) goto out;
            break;
          }
        case OPT_CWD:
          if (optarg[0] != '/')
            {
              cli_error ("run", "--cwd %s: must be an absolute path inside the sandbox", optarg);
              goto out;
            }
          spec.cwd = optarg;
          cwd_given = true;
          break;
        case OPT_IMAGE: image_name = optarg; break;
        case OPT_REMOTE: remote = optarg; break;
        case OPT_ENTRYPOINT: entrypoint = optarg; break;
        case OPT_ROOTFS: rootfs_dir = optarg; break;
        case OPT_STORE: store_dir = optarg; break;
        case OPT_ROOT_SIZE:
          if (corral_parse_size (optarg, &v) < 0 || v == CORRAL_NO_LIMIT || v < (1u << 20))
            {
              cli_error ("run", "--root-size: bad size `%s` (at least 1M)", optarg);
              goto out;
            }
          spec.root_size = v;
          break;
        case OPT_ENV:
          {
            char *e;
            if (optarg[0] == '=' || optarg[0] == '\0')
              {
                cli_error ("run", "--env `%s`: expected K=V or K", optarg);
                goto out;
              }
            if (strchr (optarg, '='))
              e = strdup (optarg);
            else
              {
                const char *hv = getenv (optarg);
                if (hv == NULL)
                  break; /* unset here: unset there */
                if (asprintf (&e, "%s=%s", optarg, hv) < 0)
                  e = NULL;
              }
            char **n = realloc (extra_env, (n_env + 1) * sizeof *n);
            if (n == NULL || e == NULL)
              {
                free (e);
                cli_error ("run", "out of memory");
                ret = EXIT_IE;
                goto out;
              }
            extra_env = n;
            extra_env[n_env++] = e;
            break;
          }
        case OPT_STDIN: stdin_path = optarg; break;
        case OPT_POLICY: policy_name = optarg; break;
        case OPT_USERNS: spec.userns = 1; break;
        case OPT_NO_USERNS: spec.userns = 0; break;
        case OPT_UID: case OPT_GID:
          if (parse_count (optarg, &v) < 0 || v >= 4294967295u)
            {
              cli_error ("run", "%s: bad id `%s`", name, optarg);
              goto out;
            }
          if (c == OPT_UID)
            spec.uid = (uid_t) v, uid_given = true;
          else
            spec.gid = (gid_t) v, gid_given = true;
          break;
        case OPT_HOSTNAME:
          if (strlen (optarg) == 0 || strlen (optarg) > 64)
            {
              cli_error ("run", "--hostname: must be 1 to 64 characters");
              goto out;
            }
          spec.hostname = optarg;
          break;
        case '?':
        default:
          if (optopt && optopt < 256 && optopt != '?')
            cli_error ("run", "unknown option `-%c` (see `corral run --help`)", optopt);
          else if (optopt)
            cli_error ("run", "option `%s` needs a value", name);
          else
            cli_error ("run", "unknown option `%s` (see `corral run --help`)", name);
          goto out;
        }
    }
  if (optind >= argc && !image_name)
    {
      cli_error ("run", "no command given (usage: corral run [OPTIONS] -- CMD [ARG...])");
      goto out;
    }
  if (entrypoint && !image_name)
    {
      cli_error ("run", "--entrypoint is for --image (without one, the command is the one given)");
      goto out;
    }
  spec.argv = argv + optind;
  spec.passthrough = !json;

  if (image_name && rootfs_dir)
    {
      cli_error ("run", "--image and --rootfs exclude each other");
      goto out;
    }
  if (store_dir && !image_name)
    {
      cli_error ("run", "--store is for --image");
      goto out;
    }
  if (rootfs_dir)
    {
      struct stat sb;
      errno = 0;
      if (realpath (rootfs_dir, rootfs_abs) == NULL || stat (rootfs_abs, &sb) < 0 || !S_ISDIR (sb.st_mode))
        {
          cli_error ("run", "--rootfs %s: %s", rootfs_dir, errno ? strerror (errno) : "not a directory");
          goto out;
        }
      spec.lowers_base = rootfs_abs;
      spec.lowers = rootfs_lowers;
      spec.n_lowers = 1;
    }
  if (image_name)
    {
      struct corral_error ierr = { 0 };
      struct image_store st;
      if (image_store_open (store_dir, &st, &ierr) < 0
          || image_use (&st, image_name, &im, &image_lock, &spec, &ierr) < 0)
        {
          cli_error ("run", "--image %s: %s", image_name, ierr.msg);
          ret = EXIT_IE;
          goto out;
        }
      if (!cwd_given && im.workdir && im.workdir[0])
        {
          /* relative (never written by docker build): from the root */
          if (im.workdir[0] != '/' && asprintf (&workdir, "/%s", im.workdir) < 0)
            workdir = NULL;
          spec.cwd = im.workdir[0] == '/' ? im.workdir : workdir ? workdir : "/";
        }
      uid_t iu;
      gid_t ig;
      bool user_set;
      if (image_user (&im, spec.lowers_base, &iu, &ig, &user_set, &ierr) < 0)
        {
          cli_error ("run", "--image %s: %s", image_name, ierr.msg);
          ret = EXIT_IE;
          goto out;
        }
      if (user_set && !uid_given)
        spec.uid = iu;
      if (user_set && !gid_given)
        spec.gid = ig;
      if (image_argv (&im, entrypoint, argv + optind, (size_t) (argc - optind), &run_argv) < 0)
        {
          cli_error ("run", "out of memory");
          ret = EXIT_IE;
          goto out;
        }
      if (run_argv[0] == NULL)
        {
          cli_error ("run", "no command given: image %s has no Entrypoint or Cmd (give one after `--`)",
                     im.name);
          goto out;
        }
      spec.argv = run_argv;
    }

  env = build_env (image_name ? im.env : NULL, extra_env, n_env);
  if (env == NULL)
    {
      cli_error ("run", "out of memory");
      ret = EXIT_IE;
      goto out;
    }
  free (extra_env);
  extra_env = NULL;
  n_env = 0;
  spec.env = env;

  if (stdin_path)
    {
      stdin_fd = open (stdin_path, O_RDONLY | O_CLOEXEC);
      if (stdin_fd < 0)
        {
          cli_error ("run", "--stdin %s: %s", stdin_path, strerror (errno));
          goto out;
        }
      spec.stdin_fd = stdin_fd;
    }

  struct corral_error err = { 0 };
  struct corral_policy *policy = NULL;
  if (corral_policy_load (policy_name, &policy, &err) < 0)
    {
      cli_error ("run", "%s", err.msg);
      ret = EXIT_IE;
      goto out;
    }
  spec.policy = policy;

  struct sigaction sa = { .sa_handler = on_signal };
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGHUP, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);

  struct corral_result res;
  int run_rc;
  if (remote)
    {
      /* the server runs it; its output comes back whole */
      struct corral_remote *client;
      spec.passthrough = false;
      run_rc = corral_remote_open (remote, &client, &err);
      if (run_rc == 0)
        {
          run_rc = corral_remote_run (client, &spec, &res, &err);
          corral_remote_close (client);
        }
      if (run_rc == 0 && !json)
        {
          fwrite (res.out, 1, res.out_len, stdout);
          fflush (stdout);
          fwrite (res.err, 1, res.err_len, stderr);
        }
    }
  else
    run_rc = corral_run (&spec, &res, &err);
  if (run_rc < 0)
    {
      cli_error ("run", "%s", err.msg);
      ret = EXIT_IE;
      goto out;
    }
  for (int i = 0; i < CORRAL_LIM_COUNT; i++)
    if (res.limits[i].value != CORRAL_NO_LIMIT && res.limits[i].backend == CORRAL_BE_NONE)
      cli_error ("run", "warning: --%s is not enforced on this host (see `corral doctor`)",
                 corral_limit_name (i));
  if (json)
    {
      char *s = corral_result_json (&res, pretty);
      if (s)
        {
          puts (s);
          free (s);
        }
      else
        cli_error ("run", "out of memory");
    }
  else if (res.status != CORRAL_OK && res.status != CORRAL_RE && res.status != CORRAL_SIG)
    cli_error ("run", "%s: %s", corral_status_name (res.status), res.reason);
  ret = exit_status (&res);
  corral_result_free (&res);

out:
  for (size_t i = 0; i < n_env; i++)
    free (extra_env[i]);
  free (extra_env);
  if (env)
    {
      for (char **e = env; *e; e++)
        free (*e);
      free (env);
    }
  for (size_t i = 0; i < spec.n_mounts; i++)
    {
      free (spec.mounts[i].src);
      free (spec.mounts[i].dst);
    }
  free (spec.mounts);
  if (stdin_fd >= 0)
    close (stdin_fd);
  if (image_name)
    image_release (&im, image_lock);
  free (run_argv);
  free (workdir);
  fflush (stdout);
  return ret;
}
