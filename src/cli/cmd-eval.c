/* cmd-eval.c - `corral eval BENCHMARK [OPTIONS]`: options to struct
 * eval_opts; the evaluator (src/eval) does the rest. */
#include "config.h"
#include "cli.h"
#include "corral.h"
#include "eval.h"
#include "image.h"
#include "pool.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_PROBLEMS = 256, OPT_SAMPLES, OPT_OUT, OPT_TIMEOUT, OPT_K, OPT_JSON, OPT_RESUME, OPT_COLD,
       OPT_MEMORY, OPT_PIDS, OPT_PYTHON, OPT_POLICY, OPT_NO_PROGRESS, OPT_PLATFORM,
       OPT_DIFFICULTY, OPT_START, OPT_END, OPT_ANSWER_FORMAT, OPT_RELEASE, OPT_IMAGE, OPT_STORE,
       OPT_REMOTE };

static const struct option options[] = {
  { "problems", required_argument, NULL, OPT_PROBLEMS },
  { "samples", required_argument, NULL, OPT_SAMPLES },
  { "out", required_argument, NULL, OPT_OUT },
  { "jobs", required_argument, NULL, 'j' },
  { "timeout", required_argument, NULL, OPT_TIMEOUT },
  { "k", required_argument, NULL, OPT_K },
  { "json", no_argument, NULL, OPT_JSON },
  { "resume", no_argument, NULL, OPT_RESUME },
  { "cold", no_argument, NULL, OPT_COLD },
  { "memory", required_argument, NULL, OPT_MEMORY },
  { "pids", required_argument, NULL, OPT_PIDS },
  { "python", required_argument, NULL, OPT_PYTHON },
  { "policy", required_argument, NULL, OPT_POLICY },
  { "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
  { "answer-format", required_argument, NULL, OPT_ANSWER_FORMAT },
  { "platform", required_argument, NULL, OPT_PLATFORM },
  { "difficulty", required_argument, NULL, OPT_DIFFICULTY },
  { "start-date", required_argument, NULL, OPT_START },
  { "end-date", required_argument, NULL, OPT_END },
  { "release", required_argument, NULL, OPT_RELEASE },
  { "image", required_argument, NULL, OPT_IMAGE },
  { "store", required_argument, NULL, OPT_STORE },
  { "remote", required_argument, NULL, OPT_REMOTE },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

static void
eval_usage (FILE *f)
{
  fputs ("Usage: corral eval humaneval --problems FILE --samples FILE [OPTIONS]\n"
         "       corral eval livecodebench --problems FILE --samples FILE [OPTIONS]\n"
         "\n"
         "Scores samples exactly like the reference harness (openai/human-eval,\n"
         "lcb_runner), each sample or generation in its own sandbox.\n"
         "  --problems FILE     HumanEval problems / code_generation_lite rows, JSONL(.gz);\n"
         "                      `humaneval` / `livecodebench`: the official file, downloaded\n"
         "                      once into ~/.cache/corral/datasets (SHA-256 checked if known)\n"
         "  --samples FILE      HumanEval: {\"task_id\", \"completion\"} rows;\n"
         "                      LiveCodeBench: [{\"question_id\", \"code_list\"}] (JSON or JSONL)\n"
         "  --out FILE          results (default SAMPLES_results.jsonl / SAMPLES_eval_all.json)\n"
         "  -j, --jobs N        parallel sandboxes (default half the CPUs, at least 1)\n"
         "  --timeout SEC       per sample (HumanEval, default 3.0) or per test\n"
         "                      (LiveCodeBench, whole seconds, default 6), as the references\n"
         "  --k LIST            pass@k to report (default 1,10,100 / 1,5)\n"
         "  --json              print the summary as JSON\n"
         "  --resume            keep samples (generations) already scored in the results file\n"
         "  --answer-format raw|fenced  fenced: samples are raw model answers; grade the\n"
         "                      last fenced code block (the reference extraction)\n"
         "  --platform P, --difficulty D, --start-date YYYY-MM-DD, --end-date YYYY-MM-DD\n"
         "                      LiveCodeBench: only the questions that match\n"
         "  --release R         LiveCodeBench, with --problems livecodebench: the official\n"
         "                      release files, as lcb_runner: release_v1..release_v6 (that\n"
         "                      release and all before), release_latest (default), v1..v6\n"
         "                      (only what that release added)\n"
         "  --memory SIZE       per sandbox (default 2G)\n"
         "  --pids N            per sandbox (default 128)\n"
         "  --python PATH       interpreter inside the sandbox (default python3)\n"
         "  --image NAME[:TAG]  run every sandbox on this imported image (`corral image`)\n"
         "  --store DIR         the image store\n"
         "  --remote URL[,URL]  run the sandboxes on corral servers (`corral serve`), in\n"
         "                      turn; $CORRAL_API_KEY is sent as X-API-Key\n"
         "  --policy NAME|PATH  seccomp policy (default `default`)\n"
         "  --cold              every sample starts its own interpreter (default: each\n"
         "                      worker forks them from a warm one, each into a fresh\n"
         "                      sandbox; on the host view, not with --image or --remote)\n"
         "  --no-progress       no progress line on a terminal\n"
         "\n"
         "Exit status: 0 scored, 1 scored but some rows were bad (reported with their\n"
         "line numbers), 2 usage, 125 the evaluation could not run, 130 interrupted\n"
         "(what finished is written).\n",
         f);
}

static void
on_sigint (int sig)
{
  (void) sig;
  eval_pool_interrupt ();
}

int
cmd_eval (int argc, char **argv)
{
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      eval_usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? EXIT_USAGE : 0;
    }
  const char *bench = argv[1];
  bool lcb = strcmp (bench, "livecodebench") == 0;
  if (strcmp (bench, "humaneval") != 0 && !lcb)
    {
      cli_error ("eval", "unknown benchmark `%s` (humaneval or livecodebench)", bench);
      return EXIT_USAGE;
    }
  struct eval_opts o = {
    .jobs = eval_default_jobs (), .timeout = lcb ? 6.0 : 3.0, .ks = { 1, 10, 100 },
    .n_ks = lcb ? 2 : 3, .memory = 2ull << 30, .pids = 128, .python = "python3",
    .progress = isatty (2), .warm = true,
  };
  if (lcb)
    o.ks[1] = 5;
  const char *policy_name = "default", *image_name = NULL, *store_dir = NULL;
  optind = 1;
  opterr = 0;
  int c;
  argc--;
  argv++;
  while ((c = getopt_long (argc, argv, "+hj:", options, NULL)) != -1)
    {
      const char *name = optind > 1 ? argv[optind - 1] : "?";
      char *end;
      switch (c)
        {
        case 'h': eval_usage (stdout); return 0;
        case OPT_PROBLEMS: o.problems = optarg; break;
        case OPT_SAMPLES: o.samples = optarg; break;
        case OPT_OUT: o.out = optarg; break;
        case 'j':
          {
            errno = 0;
            unsigned long v = strtoul (optarg, &end, 10);
            if (errno || *end || v == 0 || v > 1024 || optarg[0] == '-')
              {
                cli_error ("eval", "-j: bad worker count `%s` (1 to 1024)", optarg);
                return EXIT_USAGE;
              }
            o.jobs = (unsigned) v;
            break;
          }
        case OPT_TIMEOUT:
          {
            errno = 0;
            double v = strtod (optarg, &end);
            if (errno || *end || !(v > 0) || v > 86400 || (lcb && v < 1))
              {
                cli_error ("eval", "--timeout: bad duration `%s` (seconds, e.g. 3)", optarg);
                return EXIT_USAGE;
              }
            o.timeout = v;
            break;
          }
        case OPT_K:
          {
            o.n_ks = 0;
            char *copy = strdup (optarg), *save = NULL;
            for (char *t = strtok_r (copy, ",", &save); t; t = strtok_r (NULL, ",", &save))
              {
                errno = 0;
                unsigned long v = strtoul (t, &end, 10);
                if (errno || *end || v == 0 || v > 100000 || o.n_ks == 8 || t[0] == '-')
                  {
                    free (copy);
                    cli_error ("eval", "--k: bad list `%s` (up to 8 positive numbers, e.g. 1,10)", optarg);
                    return EXIT_USAGE;
                  }
                o.ks[o.n_ks++] = (unsigned) v;
              }
            free (copy);
            if (o.n_ks == 0)
              {
                cli_error ("eval", "--k: empty list");
                return EXIT_USAGE;
              }
            break;
          }
        case OPT_JSON: o.json = true; break;
        case OPT_RESUME: o.resume = true; break;
        case OPT_COLD: o.warm = false; break;
        case OPT_MEMORY:
          if (corral_parse_size (optarg, &o.memory) < 0
              || (o.memory != CORRAL_NO_LIMIT && o.memory < (16u << 20)))
            {
              cli_error ("eval", "--memory: bad size `%s` (at least 16M, e.g. 2G)", optarg);
              return EXIT_USAGE;
            }
          break;
        case OPT_PIDS:
          {
            errno = 0;
            unsigned long long v = strtoull (optarg, &end, 10);
            if (errno || *end || v < 2 || optarg[0] == '-')
              {
                cli_error ("eval", "--pids: bad count `%s` (at least 2)", optarg);
                return EXIT_USAGE;
              }
            o.pids = v;
            break;
          }
        case OPT_PYTHON: o.python = optarg; break;
        case OPT_POLICY: policy_name = optarg; break;
        case OPT_NO_PROGRESS: o.progress = false; break;
        case OPT_ANSWER_FORMAT:
          if (strcmp (optarg, "raw") == 0)
            o.fenced = false;
          else if (strcmp (optarg, "fenced") == 0)
            o.fenced = true;
          else
            {
              cli_error ("eval", "--answer-format: `%s` is not raw or fenced", optarg);
              return EXIT_USAGE;
            }
          break;
        case OPT_PLATFORM: o.platform = optarg; break;
        case OPT_IMAGE: image_name = optarg; break;
        case OPT_STORE: store_dir = optarg; break;
        case OPT_REMOTE: o.remote = optarg; break;
        case OPT_RELEASE:
          {
            unsigned a, b;
            if (eval_lcb_release (optarg, &a, &b) < 0)
              {
                cli_error ("eval", "--release: `%s` is not release_v1..release_v6, release_latest "
                           "or v1..v6", optarg);
                return EXIT_USAGE;
              }
            o.release = optarg;
            break;
          }
        case OPT_DIFFICULTY:
          if (strcmp (optarg, "easy") && strcmp (optarg, "medium") && strcmp (optarg, "hard"))
            {
              cli_error ("eval", "--difficulty: `%s` is not easy, medium or hard", optarg);
              return EXIT_USAGE;
            }
          o.difficulty = optarg;
          break;
        case OPT_START: case OPT_END:
          {
            int y, m, d;
            char tail;
            if (sscanf (optarg, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12
                || d < 1 || d > 31 || strlen (optarg) != 10)
              {
                cli_error ("eval", "%s: bad date `%s` (YYYY-MM-DD)", name, optarg);
                return EXIT_USAGE;
              }
            if (c == OPT_START) o.start_date = optarg; else o.end_date = optarg;
            break;
          }
        default:
          if (optopt && optopt < 256 && optopt != '?')
            cli_error ("eval", "option `-%c` %s", optopt,
                       strchr ("j", optopt) ? "needs a value" : "is unknown");
          else if (optopt)
            cli_error ("eval", "option `%s` needs a value", name);
          else
            cli_error ("eval", "unknown option `%s` (see `corral eval --help`)", name);
          return EXIT_USAGE;
        }
    }
  if (optind < argc)
    {
      cli_error ("eval", "unexpected argument `%s`", argv[optind]);
      return EXIT_USAGE;
    }
  if (o.problems == NULL || o.samples == NULL)
    {
      cli_error ("eval", "%s needs --problems FILE and --samples FILE", bench);
      return EXIT_USAGE;
    }
  if (!lcb && (o.platform || o.difficulty || o.start_date || o.end_date || o.release))
    {
      cli_error ("eval", "--platform, --difficulty, --release and the dates are for livecodebench");
      return EXIT_USAGE;
    }
  bool by_name = strcmp (o.problems, bench) == 0 && access (o.problems, F_OK) != 0;
  if (o.release && !by_name)
    {
      cli_error ("eval", "--release picks the official release files: use it with `--problems "
                 "livecodebench` (a local file can be narrowed with --start-date/--end-date)");
      return EXIT_USAGE;
    }
  struct corral_error err = { 0 };
  struct corral_policy *policy = NULL;
  if (corral_policy_load (policy_name, &policy, &err) < 0)
    {
      cli_error ("eval", "%s", err.msg);
      return EXIT_IE;
    }
  o.policy = policy;
  if (store_dir && !image_name)
    {
      cli_error ("eval", "--store is for --image");
      return EXIT_USAGE;
    }
  if (o.remote && image_name)
    {
      cli_error ("eval", "--image and --remote exclude each other (a server runs on its own image)");
      return EXIT_USAGE;
    }
  /* An image: every sandbox's root; held (runs' lock) for the whole eval. */
  struct image im = { 0 };
  int image_lock = -1;
  if (image_name)
    {
      struct image_store st;
      struct corral_spec root;
      corral_spec_init (&root);
      if (image_store_open (store_dir, &st, &err) < 0
          || image_use (&st, image_name, &im, &image_lock, &root, &err) < 0)
        {
          cli_error ("eval", "--image %s: %s", image_name, err.msg);
          return EXIT_IE;
        }
      o.lowers_base = root.lowers_base;
      o.lowers = root.lowers;
      o.n_lowers = root.n_lowers;
      for (size_t i = 0; im.env[i]; i++)
        if (strncmp (im.env[i], "PATH=", 5) == 0)
          o.path_env = im.env[i];
    }
  /* the dataset's name fetches the official files (once, then cached); a
   * file of that name in the working directory wins */
  char *parts[EVAL_MAX_PARTS + 1] = { NULL };
  if (by_name)
    {
      if (eval_dataset_resolve (o.problems, o.release, parts, &err) < 0)
        {
          cli_error ("eval", "%s", err.msg);
          return EXIT_IE;
        }
      o.problems = parts[0];
      for (size_t i = 0; parts[i]; i++)
        o.problem_parts[i] = parts[i];
      if (lcb && o.release == NULL)
        o.release = "release_latest";
    }
  struct sigaction sa = { .sa_handler = on_sigint };
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);
  fflush (stdout);
  int r = lcb ? eval_livecodebench (&o, &err) : eval_humaneval (&o, &err);
  for (size_t i = 0; parts[i]; i++)
    free (parts[i]);
  if (image_name)
    image_release (&im, image_lock);
  if (r < 0)
    {
      cli_error ("eval", "%s", err.msg);
      return EXIT_IE;
    }
  return r == 2 ? 130 : r;
}
