/* humaneval.c - `corral eval humaneval`: openai/human-eval's semantics
 * (see ../shared/docs/grading.md), each sample in its own sandbox.
 *
 *   problems  task_id, prompt, test, entry_point   (JSONL or JSONL.gz)
 *   samples   {"task_id", "completion", ...}       (JSONL, any number per task)
 *   program   prompt + completion + "\n" + test + "\n" + "check(entry_point)"
 *   verdict   "passed" | "timed out" | "failed: <exception>" from the
 *             in-sandbox runner (humaneval_runner.py); no verdict = "timed out"
 *   output    each sample row + "result" + "passed", input order
 *   score     unbiased pass@k per task, averaged, k only where every task
 *             has at least k samples */
#include "config.h"
#include "eval.h"
#include "json-nul.h"
#include "json-token.h"
#include "lines.h"
#include "pool.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern const char corral_humaneval_runner_py[];

struct problem {
  char *task_id, *prompt, *test, *entry_point;
  unsigned n, c; /* samples, correct */
};

struct sample {
  size_t lineno;
  cJSON *row;          /* the input row, output gets result + passed added */
  /* A completion holding a NUL ("\u0000", which cJSON cuts at): its
   * bytes, run whole (the reference's exec fails on the NUL, and so does
   * ours), and its token as it came, for the output row; else NULL. */
  char *code, *code_token;
  size_t code_len;
  size_t problem;
  char *result;
  bool passed, done;
};

struct he {
  const struct eval_opts *o;
  struct problem *problems;
  size_t n_problems;
  struct sample *samples;
  size_t n_samples;
  size_t finished, passed_count, warm_count;
  cJSON *statuses; /* sandbox verdicts: name -> count */
  uint64_t t0;
  bool bad_rows;
};

static int
cmp_problem (const void *a, const void *b)
{
  return strcmp (((const struct problem *) a)->task_id, ((const struct problem *) b)->task_id);
}

static long
find_problem (const struct he *h, const char *task_id)
{
  struct problem key = { .task_id = (char *) task_id };
  struct problem *p = bsearch (&key, h->problems, h->n_problems, sizeof key, cmp_problem);
  return p ? p - h->problems : -1;
}

static int
load_problems (struct he *h, struct corral_error *err)
{
  struct lines *l;
  if (lines_open (h->o->problems, &l, err) < 0)
    return -1;
  const char *line;
  size_t lineno, alloc = 0;
  struct corral_error rerr = { 0 };
  int ret = 0;
  while ((line = lines_next (l, &lineno, &rerr)) != NULL)
    {
      if (line[strspn (line, " \t")] == '\0')
        continue;
      cJSON *o = cJSON_Parse (line);
      const char *f[4] = { eval_str_field (o, "task_id"), eval_str_field (o, "prompt"), eval_str_field (o, "test"),
                           eval_str_field (o, "entry_point") };
      if (!cJSON_IsObject (o) || !f[0] || !f[1] || !f[2] || !f[3])
        {
          cJSON_Delete (o);
          ret = corral_fail (err, 0, "%s:%zu: not a HumanEval problem (needs string fields "
                             "task_id, prompt, test, entry_point)", h->o->problems, lineno);
          break;
        }
      if (h->n_problems == alloc)
        {
          alloc = alloc ? alloc * 2 : 256;
          struct problem *np = realloc (h->problems, alloc * sizeof *np);
          if (np == NULL)
            {
              cJSON_Delete (o);
              ret = corral_fail (err, ENOMEM, "problems");
              break;
            }
          h->problems = np;
        }
      struct problem *p = &h->problems[h->n_problems++];
      *p = (struct problem) { strdup (f[0]), strdup (f[1]), strdup (f[2]), strdup (f[3]), 0, 0 };
      cJSON_Delete (o);
    }
  if (ret == 0 && rerr.msg[0])
    ret = corral_fail (err, 0, "%s", rerr.msg);
  lines_close (l);
  if (ret == 0 && h->n_problems == 0)
    ret = corral_fail (err, 0, "%s: no problems in the file", h->o->problems);
  if (ret == 0)
    {
      qsort (h->problems, h->n_problems, sizeof *h->problems, cmp_problem);
      for (size_t i = 1; i < h->n_problems; i++)
        if (strcmp (h->problems[i].task_id, h->problems[i - 1].task_id) == 0)
          return corral_fail (err, 0, "%s: task_id %s appears twice", h->o->problems,
                              h->problems[i].task_id);
    }
  return ret;
}

/* Bad rows are reported with their line number and left out; they never
 * stop the run silently (the exit status says so). */
static int
load_samples (struct he *h, struct corral_error *err)
{
  struct lines *l;
  if (lines_open (h->o->samples, &l, err) < 0)
    return -1;
  const char *line;
  size_t lineno, alloc = 0;
  struct corral_error rerr = { 0 };
  while ((line = lines_next (l, &lineno, &rerr)) != NULL)
    {
      if (line[strspn (line, " \t")] == '\0')
        continue;
      cJSON *o = cJSON_Parse (line);
      const char *task = eval_str_field (o, "task_id"), *completion = eval_str_field (o, "completion");
      long pi = task ? find_problem (h, task) : -1;
      if (!cJSON_IsObject (o) || !task || !completion || pi < 0)
        {
          fprintf (stderr, "corral: eval: %s:%zu: %s; row skipped\n", h->o->samples, lineno,
                   !cJSON_IsObject (o) ? "not a JSON object"
                   : !task             ? "no string \"task_id\""
                   : !completion       ? "no string \"completion\""
                                       : "task_id not among the problems");
          cJSON_Delete (o);
          h->bad_rows = true;
          continue;
        }
      if (h->n_samples == alloc)
        {
          alloc = alloc ? alloc * 2 : 1024;
          struct sample *ns = realloc (h->samples, alloc * sizeof *ns);
          if (ns == NULL)
            {
              cJSON_Delete (o);
              lines_close (l);
              return corral_fail (err, ENOMEM, "samples");
            }
          h->samples = ns;
        }
      struct sample sm = { .lineno = lineno, .row = o, .problem = (size_t) pi };
      char where[320];
      size_t tl;
      const char *tok;
      if (json_find_nul (line, strlen (line), where, sizeof where)
          && (tok = json_member (line, "completion", &tl)) != NULL)
        {
          sm.code = json_string_bytes (tok, tl, &sm.code_len);
          if (sm.code && memchr (sm.code, '\0', sm.code_len)
              && (sm.code_token = json_string_token (sm.code, sm.code_len)))
            ;
          else
            {
              free (sm.code);
              sm.code = NULL;
            }
        }
      h->samples[h->n_samples++] = sm;
    }
  lines_close (l);
  if (rerr.msg[0])
    return corral_fail (err, 0, "%s", rerr.msg);
  if (h->n_samples == 0)
    return corral_fail (err, 0, "%s: no usable samples", h->o->samples);
  return 0;
}

/* --resume: rows of a previous results file with the same task_id and
 * completion (as many times as they occur) are taken as done. */
static void
load_previous (struct he *h, const char *path)
{
  struct lines *l;
  struct corral_error e = { 0 };
  if (access (path, F_OK) < 0 || lines_open (path, &l, &e) < 0)
    return;
  const char *line;
  size_t lineno, reused = 0;
  while ((line = lines_next (l, &lineno, &e)) != NULL)
    {
      /* a NUL cuts strings short: such a row could match another */
      char where[320];
      if (json_find_nul (line, strlen (line), where, sizeof where))
        continue;
      cJSON *o = cJSON_Parse (line);
      const char *task = eval_str_field (o, "task_id"), *comp = eval_str_field (o, "completion"),
                 *result = eval_str_field (o, "result");
      const cJSON *passed = cJSON_GetObjectItemCaseSensitive (o, "passed");
      if (task && comp && result && cJSON_IsBool (passed))
        for (size_t i = 0; i < h->n_samples; i++)
          {
            struct sample *s = &h->samples[i];
            if (!s->done && !s->code && strcmp (eval_str_field (s->row, "task_id"), task) == 0
                && strcmp (eval_str_field (s->row, "completion"), comp) == 0)
              {
                s->done = true;
                s->result = strdup (result);
                s->passed = cJSON_IsTrue (passed);
                h->finished++;
                h->passed_count += s->passed;
                reused++;
                break;
              }
          }
      cJSON_Delete (o);
    }
  lines_close (l);
  if (reused)
    fprintf (stderr, "corral: eval: resuming: %zu of %zu samples already in %s\n", reused,
             h->n_samples, path);
}

/* ---- in a worker ---- */

static size_t
record (char *out, const char *result, const char *status, uint64_t wall_ms, bool warm)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "result", result);
  cJSON_AddStringToObject (o, "status", status);
  cJSON_AddNumberToObject (o, "wall_ms", (double) wall_ms);
  cJSON_AddBoolToObject (o, "warm", warm);
  char *s = cJSON_PrintUnformatted (o);
  cJSON_Delete (o);
  size_t n = 0;
  if (s)
    {
      n = strlen (s);
      if (n > EVAL_RECORD_MAX)
        {
          /* a huge exception text: keep the verdict, cut the message */
          free (s);
          char cut[1024];
          snprintf (cut, sizeof cut, "%.1000s", result);
          return record (out, cut, status, wall_ms, warm);
        }
      memcpy (out, s, n);
      free (s);
    }
  return n;
}

static size_t
run_one (void *ctx, size_t index, char *out)
{
  struct he *h = ctx;
  const struct eval_opts *o = h->o;
  struct sample *s = &h->samples[index];
  struct problem *p = &h->problems[s->problem];
  const char *completion = eval_str_field (s->row, "completion");
  char *extracted = o->fenced ? eval_extract_fenced (completion) : NULL;
  if (extracted)
    completion = extracted;

  size_t clen = strlen (completion);
  if (s->code && !extracted)
    {
      completion = s->code;
      clen = s->code_len;
    }
  char *program = NULL;
  size_t plen = 0;
  FILE *ps = open_memstream (&program, &plen);
  bool ok = ps && fputs (p->prompt, ps) >= 0 && fwrite (completion, 1, clen, ps) == clen
            && fprintf (ps, "\n%s\ncheck(%s)", p->test, p->entry_point) >= 0;
  if (ps && fclose (ps) != 0)
    ok = false;
  free (extracted);
  if (!ok)
    {
      free (program);
      return record (out, "failed: corral: out of memory", "IE", 0, false);
    }
  int fd = memfd_create ("program", MFD_CLOEXEC);
  ok = fd >= 0 && eval_write_all (fd, program, plen) == 0 && lseek (fd, 0, SEEK_SET) == 0;
  free (program);
  if (!ok)
    {
      if (fd >= 0)
        close (fd);
      return record (out, "failed: corral: cannot pass the program", "IE", 0, false);
    }

  char nonce[25], env_nonce[64], env_timeout[64];
  eval_nonce (nonce);
  snprintf (env_nonce, sizeof env_nonce, "CORRAL_NONCE=%s:", nonce);
  snprintf (env_timeout, sizeof env_timeout, "CORRAL_TIMEOUT=%.6g", o->timeout);
  char *env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8",
                  "TMPDIR=/tmp", env_nonce, env_timeout, NULL };
  char *argv[] = { (char *) o->python, "-c", (char *) corral_humaneval_runner_py, NULL };

  struct corral_spec spec;
  corral_spec_init (&spec);
  spec.argv = argv;
  spec.env = env;
  spec.stdin_fd = fd;
  spec.net = CORRAL_NET_NONE;
  spec.memory = o->memory;
  spec.pids = o->pids;
  /* the runner's own timer is the limit; the sandbox's is the backstop,
   * like the reference's join(timeout + 1) */
  spec.wall_ms = (uint64_t) (o->timeout * 1000) + 2000;
  spec.output = 8u << 20;
  spec.policy = o->policy;
  eval_spec_root (o, &spec, env);

  struct corral_result res;
  struct corral_error err = { 0 };
  size_t n;
  if (eval_run (o, &spec, &res, &err) < 0)
    {
      char msg[600];
      snprintf (msg, sizeof msg, "failed: corral: %s", err.msg);
      n = record (out, msg, "IE", 0, false);
    }
  else
    {
      char tag[32];
      snprintf (tag, sizeof tag, "%s:", nonce);
      char *verdict = eval_find_verdict (res.out, tag);
      if (res.status == CORRAL_IE && strncmp (res.reason, "interrupted", 11) == 0)
        {
          /* killed by Ctrl-C: not a verdict, so not written, and a
           * --resume runs it again */
          memcpy (out, "{\"interrupted\":true}", 20);
          n = 20;
        }
      else if (res.status == CORRAL_IE)
        {
          char msg[700];
          snprintf (msg, sizeof msg, "failed: corral: %s", res.reason);
          n = record (out, msg, "IE", res.wall_ms, res.warm);
        }
      else
        n = record (out, verdict ? verdict : "timed out", corral_status_name (res.status),
                    res.wall_ms, res.warm);
      free (verdict);
      corral_result_free (&res);
    }
  close (fd);
  return n;
}

/* ---- in the parent ---- */

static void
progress (struct he *h, bool last)
{
  if (h->o->progress)
    eval_progress (h->finished, h->n_samples, h->passed_count, h->t0, last);
}

static void
on_done (void *ctx, size_t index, const char *rec, size_t len)
{
  struct he *h = ctx;
  struct sample *s = &h->samples[index];
  char *text = strndup (rec, len);
  cJSON *o = text ? cJSON_Parse (text) : NULL;
  free (text);
  if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (o, "interrupted")))
    {
      cJSON_Delete (o);
      return;
    }
  const char *result = eval_str_field (o, "result");
  if (cJSON_GetObjectItemCaseSensitive (o, "worker_died"))
    result = "failed: corral: the worker running this sample died";
  free (s->result);
  s->result = strdup (result ? result : "failed: corral: no result");
  s->passed = strcmp (s->result, "passed") == 0;
  s->done = true;
  h->finished++;
  h->passed_count += s->passed;
  h->warm_count += cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (o, "warm"));
  const char *status = eval_str_field (o, "status");
  if (status && h->statuses)
    {
      cJSON *n = cJSON_GetObjectItemCaseSensitive (h->statuses, status);
      if (n)
        cJSON_SetNumberValue (n, n->valuedouble + 1);
      else
        cJSON_AddNumberToObject (h->statuses, status, 1);
    }
  cJSON_Delete (o);
  progress (h, false);
}

static int
write_results (struct he *h, const char *path, struct corral_error *err)
{
  char tmp[4096];
  snprintf (tmp, sizeof tmp, "%s.tmp.%d", path, (int) getpid ());
  FILE *f = fopen (tmp, "we");
  if (f == NULL)
    return corral_fail (err, errno, "write %s", tmp);
  for (size_t i = 0; i < h->n_samples; i++)
    {
      struct sample *s = &h->samples[i];
      if (!s->done)
        continue;
      cJSON *row = s->row;
      if (s->code_token)
        {
          /* the completion as it came, NUL and all (cJSON cut it there) */
          cJSON *raw = cJSON_CreateRaw (s->code_token);
          if (raw)
            cJSON_ReplaceItemInObjectCaseSensitive (row, "completion", raw);
        }
      cJSON *r = cJSON_CreateString (s->result), *p = cJSON_CreateBool (s->passed);
      if (cJSON_HasObjectItem (row, "result"))
        cJSON_ReplaceItemInObjectCaseSensitive (row, "result", r);
      else
        cJSON_AddItemToObject (row, "result", r);
      if (cJSON_HasObjectItem (row, "passed"))
        cJSON_ReplaceItemInObjectCaseSensitive (row, "passed", p);
      else
        cJSON_AddItemToObject (row, "passed", p);
      char *line = cJSON_PrintUnformatted (row);
      if (line)
        {
          fputs (line, f);
          fputc ('\n', f);
          free (line);
        }
    }
  if (fclose (f) != 0 || rename (tmp, path) < 0)
    {
      int e = errno;
      unlink (tmp);
      return corral_fail (err, e, "write %s", path);
    }
  return 0;
}

static void
summary (struct he *h, const char *path, bool interrupted)
{
  for (size_t i = 0; i < h->n_problems; i++)
    h->problems[i].n = h->problems[i].c = 0;
  for (size_t i = 0; i < h->n_samples; i++)
    if (h->samples[i].done)
      {
        struct problem *p = &h->problems[h->samples[i].problem];
        p->n++;
        p->c += h->samples[i].passed;
      }
  unsigned min_n = UINT32_MAX;
  size_t tasks = 0;
  for (size_t i = 0; i < h->n_problems; i++)
    if (h->problems[i].n)
      {
        tasks++;
        if (h->problems[i].n < min_n)
          min_n = h->problems[i].n;
      }
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "benchmark", "humaneval");
  cJSON_AddNumberToObject (o, "samples", (double) h->finished);
  cJSON_AddNumberToObject (o, "passed", (double) h->passed_count);
  cJSON_AddNumberToObject (o, "tasks", (double) tasks);
  cJSON_AddStringToObject (o, "results", path);
  cJSON_AddBoolToObject (o, "interrupted", interrupted);
  /* how the samples ran: the sandboxes' verdicts (MLE, TLE, SYS... the
   * results file has only the reference's strings), and how many were
   * forked from a warm interpreter */
  cJSON_AddItemToObject (o, "sandbox_statuses", cJSON_Duplicate (h->statuses, true));
  cJSON_AddNumberToObject (o, "warm", (double) h->warm_count);
  cJSON *pk = cJSON_AddObjectToObject (o, "pass_at_k");
  for (size_t k = 0; k < h->o->n_ks; k++)
    {
      unsigned kk = h->o->ks[k];
      if (tasks == 0 || min_n < kk)
        continue;
      double sum = 0;
      for (size_t i = 0; i < h->n_problems; i++)
        if (h->problems[i].n)
          sum += eval_pass_at_k (h->problems[i].n, h->problems[i].c, kk);
      char key[32];
      snprintf (key, sizeof key, "pass@%u", kk);
      cJSON_AddNumberToObject (pk, key, sum / (double) tasks);
      if (!h->o->json)
        printf ("%s: %.4f\n", key, sum / (double) tasks);
    }
  if (h->o->json)
    {
      char *s = cJSON_PrintUnformatted (o);
      puts (s);
      free (s);
    }
  else
    printf ("%zu samples, %zu passed, %zu tasks; results in %s%s\n", h->finished,
            h->passed_count, tasks, path, interrupted ? " (interrupted)" : "");
  cJSON_Delete (o);
}

/* Everything the loaders and the runs allocated in h. */
static void
he_free (struct he *h)
{
  for (size_t i = 0; i < h->n_problems; i++)
    {
      free (h->problems[i].task_id);
      free (h->problems[i].prompt);
      free (h->problems[i].test);
      free (h->problems[i].entry_point);
    }
  free (h->problems);
  for (size_t i = 0; i < h->n_samples; i++)
    {
      cJSON_Delete (h->samples[i].row);
      free (h->samples[i].result);
      free (h->samples[i].code);
      free (h->samples[i].code_token);
    }
  free (h->samples);
  cJSON_Delete (h->statuses);
}

int
eval_humaneval (const struct eval_opts *o, struct corral_error *err)
{
  struct he h = { .o = o, .statuses = cJSON_CreateObject () };
  int ret = -1;
  char *out_path = NULL;
  bool *skip = NULL;
  if (load_problems (&h, err) < 0 || load_samples (&h, err) < 0)
    goto done;
  if (o->out)
    out_path = strdup (o->out);
  else if (asprintf (&out_path, "%s_results.jsonl", o->samples) < 0)
    out_path = NULL;
  if (out_path == NULL)
    {
      corral_fail (err, ENOMEM, "results path");
      goto done;
    }
  if (o->resume)
    load_previous (&h, out_path);
  skip = calloc (h.n_samples, sizeof *skip);
  if (skip == NULL)
    {
      corral_fail (err, ENOMEM, "samples");
      goto done;
    }
  for (size_t i = 0; i < h.n_samples; i++)
    skip[i] = h.samples[i].done;
  h.t0 = eval_now_ms ();
  int r = eval_pool_run (o->jobs, h.n_samples, skip, run_one, on_done, &h, err);
  progress (&h, true);
  if (r < 0)
    goto done;
  if (write_results (&h, out_path, err) < 0)
    goto done;
  summary (&h, out_path, r == 1);
  ret = r == 1 ? 2 : h.bad_rows ? 1 : 0;
done:
  he_free (&h);
  free (skip);
  free (out_path);
  return ret;
}
