/* livecodebench.c - `corral eval livecodebench`: lcb_runner's
 * code_generation_lite semantics (see ../shared/docs/grading.md), each
 * generation in its own sandbox, its tests run in order by the in-sandbox
 * runner (livecodebench_runner.py) and stopping at the first failure.
 *
 *   problems  code_generation_lite rows (JSONL or JSONL.gz); tests =
 *             public + private, private plain JSON or base64(zlib(pickle))
 *   samples   [{"question_id", "code_list": [...]}] as a JSON list or JSONL
 *   verdict   per test True / -2 WA / -3 TLE / -4 RE; -1 for every test when
 *             the whole run outlives (timeout + 1) * tests + 5 s, as the
 *             reference's global timeout; a generation passes iff all pass
 *   output    an eval_all-style JSON list: question fields, code_list,
 *             graded_list, pass@1 and per-generation metadata */
#include "config.h"
#include "eval.h"
#include "json-nul.h"
#include "json-token.h"
#include "lcb-tests.h"
#include "lines.h"
#include "pool.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern const char corral_livecodebench_runner_py[];

struct question {
  cJSON *row;
  const char *qid, *difficulty;
  char *fn_name;       /* call-based: metadata.func_name; NULL for stdin */
  char *tests;         /* JSON [[input, output], ...] */
  size_t n_tests;
};

struct lsample {
  cJSON *row;
  size_t question, n_codes, first_gen;
};

struct gen {
  size_t sample, k;
  bool done, graded;
  char *record;        /* the worker's JSON record */
};

struct lcb {
  const struct eval_opts *o;
  struct question *q;
  size_t n_q;
  struct lsample *s;
  size_t n_s;
  struct gen *g;
  size_t n_g, finished, passed, warm;
  uint64_t t0;
  bool bad_rows;
};

static bool
selected (const struct eval_opts *o, const cJSON *row)
{
  const char *platform = eval_str_field (row, "platform"), *diff = eval_str_field (row, "difficulty"),
             *date = eval_str_field (row, "contest_date");
  if (o->platform && (!platform || strcmp (platform, o->platform) != 0))
    return false;
  if (o->difficulty && (!diff || strcmp (diff, o->difficulty) != 0))
    return false;
  if (o->start_date && (!date || strncmp (date, o->start_date, strlen (o->start_date)) < 0))
    return false;
  if (o->end_date && (!date || strncmp (date, o->end_date, strlen (o->end_date)) > 0))
    return false;
  return true;
}

/* public + private tests as [[input, output], ...] */
static char *
build_tests (const cJSON *row, size_t *n, char *why, size_t why_len)
{
  const char *pub = eval_str_field (row, "public_test_cases"), *priv = eval_str_field (row, "private_test_cases");
  if (!pub || !priv)
    {
      snprintf (why, why_len, "no public_test_cases/private_test_cases strings");
      return NULL;
    }
  struct corral_error e = { 0 };
  char *pub_text = lcb_tests_text (pub, &e);
  char *priv_text = pub_text ? lcb_tests_text (priv, &e) : NULL;
  if (!pub_text || !priv_text)
    {
      snprintf (why, why_len, "%s test cases: %s", pub_text ? "private" : "public", e.msg);
      free (pub_text);
      return NULL;
    }
  cJSON *lists[2] = { cJSON_Parse (pub_text), cJSON_Parse (priv_text) };
  free (pub_text);
  free (priv_text);
  cJSON *out = cJSON_CreateArray ();
  *n = 0;
  bool ok = true;
  for (int l = 0; l < 2 && ok; l++)
    {
      const cJSON *t;
      cJSON_ArrayForEach (t, lists[l])
      {
        const char *in = eval_str_field (t, "input"), *exp = eval_str_field (t, "output");
        if (!in || !exp)
          {
            snprintf (why, why_len, "a test case without string input/output");
            ok = false;
            break;
          }
        cJSON *pair = cJSON_CreateArray ();
        cJSON_AddItemToArray (pair, cJSON_CreateString (in));
        cJSON_AddItemToArray (pair, cJSON_CreateString (exp));
        cJSON_AddItemToArray (out, pair);
        (*n)++;
      }
    }
  cJSON_Delete (lists[0]);
  cJSON_Delete (lists[1]);
  char *s = ok ? cJSON_PrintUnformatted (out) : NULL;
  cJSON_Delete (out);
  return s;
}

static int
cmp_q (const void *a, const void *b)
{
  return strcmp (((const struct question *) a)->qid, ((const struct question *) b)->qid);
}

static int
load_problem_file (struct lcb *c, const char *file, size_t *alloc, struct corral_error *err)
{
  struct lines *l;
  if (lines_open (file, &l, err) < 0)
    return -1;
  const char *line;
  size_t lineno;
  struct corral_error rerr = { 0 };
  int ret = 0;
  while ((line = lines_next (l, &lineno, &rerr)) != NULL)
    {
      if (line[strspn (line, " \t")] == '\0')
        continue;
      cJSON *row = cJSON_Parse (line);
      const char *qid = eval_str_field (row, "question_id");
      if (!cJSON_IsObject (row) || !qid)
        {
          cJSON_Delete (row);
          ret = corral_fail (err, 0, "%s:%zu: not a LiveCodeBench problem (no question_id)",
                             file, lineno);
          break;
        }
      if (!selected (c->o, row))
        {
          cJSON_Delete (row);
          continue;
        }
      char why[600];
      size_t n_tests;
      char *tests = build_tests (row, &n_tests, why, sizeof why);
      if (tests == NULL)
        {
          ret = corral_fail (err, 0, "%s:%zu: question %s: %s", file, lineno, qid, why);
          cJSON_Delete (row); /* qid points into it */
          break;
        }
      char *fn = NULL;
      const char *meta = eval_str_field (row, "metadata");
      cJSON *m = meta ? cJSON_Parse (meta) : NULL;
      const char *f = eval_str_field (m, "func_name");
      if (f)
        fn = strdup (f);
      cJSON_Delete (m);
      if (c->n_q == *alloc)
        {
          *alloc = *alloc ? *alloc * 2 : 512;
          struct question *nq = realloc (c->q, *alloc * sizeof *nq);
          if (nq == NULL)
            {
              free (tests);
              free (fn);
              cJSON_Delete (row);
              ret = corral_fail (err, ENOMEM, "problems");
              break;
            }
          c->q = nq;
        }
      c->q[c->n_q++] = (struct question) { row, eval_str_field (row, "question_id"),
                                           eval_str_field (row, "difficulty"), fn, tests, n_tests };
    }
  if (ret == 0 && rerr.msg[0])
    ret = corral_fail (err, 0, "%s", rerr.msg);
  lines_close (l);
  return ret;
}

/* The problems file, or the release's files in order (see eval.h). */
static int
load_problems (struct lcb *c, struct corral_error *err)
{
  const char *single[] = { c->o->problems, NULL };
  const char *const *files = c->o->problem_parts[0] ? c->o->problem_parts : single;
  size_t alloc = 0;
  for (size_t i = 0; files[i]; i++)
    if (load_problem_file (c, files[i], &alloc, err) < 0)
      return -1;
  if (c->n_q == 0)
    return corral_fail (err, 0, "%s: no problems (after filters)", c->o->problems);
  qsort (c->q, c->n_q, sizeof *c->q, cmp_q);
  for (size_t i = 1; i < c->n_q; i++)
    if (strcmp (c->q[i - 1].qid, c->q[i].qid) == 0)
      return corral_fail (err, 0, "question %s appears twice among the problems", c->q[i].qid);
  return 0;
}

static long
find_q (const struct lcb *c, const char *qid)
{
  struct question key = { .qid = qid };
  struct question *p = bsearch (&key, c->q, c->n_q, sizeof key, cmp_q);
  return p ? p - c->q : -1;
}

/* The codes of row (whose text starts at raw) that hold a NUL, which
 * cJSON cut short, become their tokens as they came (raw items): the
 * runner gets them whole, as the reference's exec does (and fails), and
 * the results list has them as they were. */
static void
keep_nul_codes (cJSON *codes, const char *raw)
{
  size_t tl, el, n;
  const char *tok = json_member (raw, "code_list", &tl);
  for (int k = 0; tok && k < cJSON_GetArraySize (codes); k++)
    {
      const char *e = json_element (tok, (size_t) k, &el);
      char *bytes = e ? json_string_bytes (e, el, &n) : NULL;
      /* written anew: cJSON reads some escapes Python refuses ("\u0zzz") */
      char *text = bytes && memchr (bytes, '\0', n) ? json_string_token (bytes, n) : NULL;
      cJSON *item = text ? cJSON_CreateRaw (text) : NULL;
      if (item)
        cJSON_ReplaceItemInArray (codes, k, item);
      free (text);
      free (bytes);
    }
}

static int
add_sample (struct lcb *c, cJSON *row, const char *raw, const char *where, size_t at, size_t *alloc,
            size_t *filtered)
{
  const char *qid = eval_str_field (row, "question_id");
  cJSON *codes = cJSON_GetObjectItemCaseSensitive (row, "code_list");
  long qi = qid ? find_q (c, qid) : -1;
  bool codes_ok = cJSON_IsArray (codes) && cJSON_GetArraySize (codes) > 0;
  const cJSON *code;
  cJSON_ArrayForEach (code, codes)
    if (!cJSON_IsString (code))
      codes_ok = false;
  if (!cJSON_IsObject (row) || !qid || !codes_ok || qi < 0)
    {
      bool narrowed = c->o->platform || c->o->difficulty || c->o->start_date || c->o->end_date
                      || (c->o->release && strcmp (c->o->release, "release_latest") != 0);
      if (qid && codes_ok && qi < 0 && narrowed)
        {
          (*filtered)++; /* a question the filters left out */
          cJSON_Delete (row);
          return 0;
        }
      fprintf (stderr, "corral: eval: %s %zu: %s; row skipped\n", where, at,
               !cJSON_IsObject (row) ? "not a JSON object"
               : !qid                ? "no string \"question_id\""
               : !codes_ok           ? "\"code_list\" is not a non-empty list of strings"
                                     : "question_id not among the problems");
      cJSON_Delete (row);
      c->bad_rows = true;
      return 0;
    }
  if (raw)
    keep_nul_codes (codes, raw);
  if (c->n_s == *alloc)
    {
      *alloc = *alloc ? *alloc * 2 : 1024;
      struct lsample *ns = realloc (c->s, *alloc * sizeof *ns);
      if (ns == NULL)
        return -1;
      c->s = ns;
    }
  size_t n = (size_t) cJSON_GetArraySize (codes);
  c->s[c->n_s++] = (struct lsample) { row, (size_t) qi, n, c->n_g };
  c->n_g += n;
  return 0;
}

static int
load_samples (struct lcb *c, struct corral_error *err)
{
  size_t len, alloc = 0, filtered = 0;
  char *text = read_whole (c->o->samples, &len, err);
  if (text == NULL)
    return -1;
  const char *p = text + strspn (text, " \t\r\n");
  int ret = 0;
  char where[320];
  bool nul = json_find_nul (text, len, where, sizeof where);
  if (*p == '[')
    {
      cJSON *list = cJSON_Parse (p);
      if (!cJSON_IsArray (list))
        {
          cJSON_Delete (list);
          free (text);
          return corral_fail (err, 0, "%s: not valid JSON (a list of {question_id, code_list})",
                              c->o->samples);
        }
      size_t i = 0;
      const char *cur = p + 1; /* the next item's text, when there is a NUL */
      while (ret == 0 && cJSON_GetArraySize (list) > 0)
        {
          cJSON *row = cJSON_DetachItemFromArray (list, 0);
          const char *raw = NULL;
          if (nul && cur)
            {
              raw = cur;
              cur = json_value_end (raw);
              if (cur)
                {
                  while (*cur && (unsigned char) *cur <= 32)
                    cur++;
                  cur += *cur == ',';
                }
            }
          ret = add_sample (c, row, raw, "item", i++, &alloc, &filtered);
        }
      cJSON_Delete (list);
    }
  else
    {
      size_t lineno = 0;
      for (char *line = text, *next; ret == 0 && line && *line; line = next)
        {
          next = strchr (line, '\n');
          if (next)
            *next++ = '\0';
          lineno++;
          if (line[strspn (line, " \t\r")] == '\0')
            continue;
          ret = add_sample (c, cJSON_Parse (line), nul ? line : NULL, "line", lineno, &alloc, &filtered);
        }
    }
  free (text);
  if (ret < 0)
    return corral_fail (err, ENOMEM, "samples");
  if (filtered)
    fprintf (stderr, "corral: eval: %zu samples are for questions the filters leave out\n", filtered);
  if (c->n_s == 0)
    return corral_fail (err, 0, "%s: no usable samples", c->o->samples);
  c->g = calloc (c->n_g, sizeof *c->g);
  if (c->g == NULL)
    return corral_fail (err, ENOMEM, "samples");
  for (size_t i = 0; i < c->n_s; i++)
    for (size_t k = 0; k < c->s[i].n_codes; k++)
      c->g[c->s[i].first_gen + k] = (struct gen) { .sample = i, .k = k };
  return 0;
}

/* ---- in a worker ---- */

static size_t
put (char *out, cJSON *o)
{
  char *s = cJSON_PrintUnformatted (o);
  size_t n = s ? strlen (s) : 0;
  if (n > EVAL_RECORD_MAX)
    {
      /* keep the verdicts, drop the details that made it too long */
      cJSON_DeleteItemFromObject (o, "metadata");
      cJSON_AddStringToObject (o, "metadata_dropped", "too long");
      free (s);
      s = cJSON_PrintUnformatted (o);
      n = s ? strlen (s) : 0;
      if (n > EVAL_RECORD_MAX)
        n = 0;
    }
  if (n)
    memcpy (out, s, n);
  free (s);
  cJSON_Delete (o);
  return n;
}

static size_t
run_gen (void *ctx, size_t index, char *out)
{
  struct lcb *c = ctx;
  const struct eval_opts *o = c->o;
  struct gen *g = &c->g[index];
  struct lsample *s = &c->s[g->sample];
  struct question *q = &c->q[s->question];
  const cJSON *code = cJSON_GetArrayItem (cJSON_GetObjectItemCaseSensitive (s->row, "code_list"),
                                          (int) g->k);
  cJSON *rec = cJSON_CreateObject ();

  cJSON *head = cJSON_CreateObject ();
  cJSON_AddNumberToObject (head, "timeout", (double) (int) o->timeout);
  if (q->fn_name)
    cJSON_AddStringToObject (head, "fn_name", q->fn_name);
  else
    cJSON_AddNullToObject (head, "fn_name");
  /* a raw item: a code holding a NUL, its token as it came (see
   * keep_nul_codes); fenced, the answer is read up to the NUL */
  size_t blen;
  char *bytes = cJSON_IsRaw (code) ? json_string_bytes (code->valuestring, strlen (code->valuestring), &blen)
                                   : NULL;
  const char *answer = bytes ? bytes : code->valuestring;
  char *extracted = o->fenced ? eval_extract_fenced (answer) : NULL;
  if (extracted)
    cJSON_AddStringToObject (head, "code", extracted);
  else if (cJSON_IsRaw (code))
    cJSON_AddRawToObject (head, "code", code->valuestring);
  else
    cJSON_AddStringToObject (head, "code", code->valuestring);
  free (extracted);
  free (bytes);
  char *h = cJSON_PrintUnformatted (head);
  cJSON_Delete (head);
  int fd = memfd_create ("job", MFD_CLOEXEC);
  bool ok = h && fd >= 0 && eval_write_all (fd, h, strlen (h) - 1) == 0
            && eval_write_all (fd, ",\"tests\":", 9) == 0
            && eval_write_all (fd, q->tests, strlen (q->tests)) == 0
            && eval_write_all (fd, "}", 1) == 0 && lseek (fd, 0, SEEK_SET) == 0;
  free (h);
  if (!ok)
    {
      if (fd >= 0)
        close (fd);
      cJSON_AddBoolToObject (rec, "graded", false);
      cJSON_AddStringToObject (rec, "error", "corral: cannot pass the job to the sandbox");
      return put (out, rec);
    }

  char nonce[25], env_nonce[64];
  eval_nonce (nonce);
  snprintf (env_nonce, sizeof env_nonce, "CORRAL_NONCE=%s:", nonce);
  char *env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8",
                  "TMPDIR=/tmp", env_nonce, NULL };
  char *argv[] = { (char *) o->python, "-c", (char *) corral_livecodebench_runner_py, NULL };
  struct corral_spec spec;
  corral_spec_init (&spec);
  spec.argv = argv;
  spec.env = env;
  spec.stdin_fd = fd;
  spec.net = CORRAL_NET_NONE;
  spec.memory = o->memory;
  spec.pids = o->pids;
  /* the reference's global timeout for one generation */
  spec.wall_ms = (uint64_t) (((int) o->timeout + 1) * (double) q->n_tests + 5) * 1000;
  spec.output = 8u << 20;
  spec.policy = o->policy;
  eval_spec_root (o, &spec, env);

  struct corral_result res;
  struct corral_error err = { 0 };
  if (eval_run (o, &spec, &res, &err) < 0)
    {
      close (fd);
      cJSON_AddBoolToObject (rec, "graded", false);
      cJSON_AddStringToObject (rec, "error", err.msg);
      return put (out, rec);
    }
  close (fd);
  if (res.status == CORRAL_IE && strncmp (res.reason, "interrupted", 11) == 0)
    {
      corral_result_free (&res);
      cJSON_AddBoolToObject (rec, "interrupted", true);
      return put (out, rec);
    }
  char tag[32];
  snprintf (tag, sizeof tag, "%s:", nonce);
  /* the verdict is JSON, not a string: find the line by hand */
  const char *line = NULL;
  size_t tl = strlen (tag);
  for (const char *p = res.out; p && (p = strstr (p, tag)) != NULL; p += tl)
    if (p == res.out || p[-1] == '\n')
      line = p + tl;
  cJSON *v = line ? cJSON_ParseWithOpts (line, NULL, false) : NULL;
  cJSON *results = cJSON_DetachItemFromObject (v, "results");
  cJSON *meta = cJSON_DetachItemFromObject (v, "metadata");
  cJSON_Delete (v);
  if (!cJSON_IsArray (results))
    {
      /* no verdict: the whole run was killed (global timeout, memory) or
       * crashed; the reference records -1 for every test */
      cJSON_Delete (results);
      cJSON_Delete (meta);
      results = cJSON_CreateArray ();
      for (size_t i = 0; i < q->n_tests; i++)
        cJSON_AddItemToArray (results, cJSON_CreateNumber (-1));
      meta = cJSON_CreateObject ();
      cJSON_AddNumberToObject (meta, "error_code", -1);
      cJSON_AddStringToObject (meta, "error_message", res.reason);
      cJSON_AddStringToObject (meta, "sandbox_status", corral_status_name (res.status));
    }
  bool graded = true;
  const cJSON *r;
  cJSON_ArrayForEach (r, results)
    if (!cJSON_IsTrue (r))
      graded = false;
  cJSON_AddBoolToObject (rec, "graded", graded);
  cJSON_AddItemToObject (rec, "results", results);
  cJSON_AddItemToObject (rec, "metadata", meta ? meta : cJSON_CreateObject ());
  cJSON_AddNumberToObject (rec, "wall_ms", (double) res.wall_ms);
  cJSON_AddBoolToObject (rec, "warm", res.warm);
  corral_result_free (&res);
  return put (out, rec);
}

/* ---- in the parent ---- */

static void
progress (struct lcb *c, bool last)
{
  if (c->o->progress)
    eval_progress (c->finished, c->n_g, c->passed, c->t0, last);
}

static void
on_done (void *ctx, size_t index, const char *rec, size_t len)
{
  struct lcb *c = ctx;
  struct gen *g = &c->g[index];
  char *text = strndup (rec, len);
  cJSON *o = text ? cJSON_Parse (text) : NULL;
  if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (o, "interrupted")))
    {
      /* killed by Ctrl-C: left out of the results as unfinished */
      free (text);
      cJSON_Delete (o);
      return;
    }
  free (g->record);
  g->record = text;
  g->graded = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (o, "graded"));
  c->warm += cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (o, "warm"));
  cJSON_Delete (o);
  g->done = true;
  c->finished++;
  c->passed += g->graded;
  progress (c, false);
}

/* --resume: generations of a previous results file with the same
 * question_id and code, graded (true/false, with their metadata), are taken
 * as done; unfinished ones (null) run again. */
static void
load_previous (struct lcb *c, const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  char *text = NULL;
  size_t len = 0, cap = 0;
  for (;;)
    {
      if (len + 65536 > cap)
        {
          char *nt = realloc (text, cap = cap ? cap * 2 : 1 << 20);
          if (nt == NULL)
            break;
          text = nt;
        }
      ssize_t n = read (fd, text + len, cap - len - 1);
      if (n <= 0)
        break;
      len += (size_t) n;
    }
  close (fd);
  if (text == NULL)
    return;
  text[len] = '\0';
  char where[320];
  if (json_find_nul (text, len, where, sizeof where))
    {
      /* cJSON cuts strings at a NUL: a code there could match another */
      fprintf (stderr, "corral: eval: --resume: %s holds a NUL (%s); starting afresh\n", path, where);
      free (text);
      return;
    }
  cJSON *all = cJSON_Parse (text);
  free (text);
  if (!cJSON_IsArray (all))
    {
      fprintf (stderr, "corral: eval: --resume: %s is not a results list; starting afresh\n", path);
      cJSON_Delete (all);
      return;
    }
  size_t reused = 0;
  const cJSON *q;
  cJSON_ArrayForEach (q, all)
    {
      const char *qid = eval_str_field (q, "question_id");
      const cJSON *codes = cJSON_GetObjectItemCaseSensitive (q, "code_list");
      const cJSON *graded = cJSON_GetObjectItemCaseSensitive (q, "graded_list");
      const cJSON *meta = cJSON_GetObjectItemCaseSensitive (q, "metadata");
      if (!qid || !cJSON_IsArray (codes) || !cJSON_IsArray (graded) || !cJSON_IsArray (meta))
        continue;
      for (int k = 0; k < cJSON_GetArraySize (codes); k++)
        {
          const cJSON *code = cJSON_GetArrayItem (codes, k), *gr = cJSON_GetArrayItem (graded, k);
          const cJSON *m = cJSON_GetArrayItem (meta, k);
          if (!cJSON_IsString (code) || !cJSON_IsBool (gr) || !cJSON_IsObject (m))
            continue;
          for (size_t i = 0; i < c->n_g; i++)
            {
              struct gen *g = &c->g[i];
              struct lsample *sm = &c->s[g->sample];
              if (g->done || strcmp (c->q[sm->question].qid, qid) != 0)
                continue;
              const cJSON *mine = cJSON_GetArrayItem (
                  cJSON_GetObjectItemCaseSensitive (sm->row, "code_list"), (int) g->k);
              if (strcmp (mine->valuestring, code->valuestring) != 0)
                continue;
              cJSON *rec = cJSON_Duplicate (m, true);
              cJSON_DeleteItemFromObject (rec, "graded");
              cJSON_AddBoolToObject (rec, "graded", cJSON_IsTrue (gr));
              g->record = cJSON_PrintUnformatted (rec);
              cJSON_Delete (rec);
              if (g->record == NULL)
                break;
              g->done = true;
              g->graded = cJSON_IsTrue (gr);
              c->finished++;
              c->passed += g->graded;
              reused++;
              break;
            }
        }
    }
  cJSON_Delete (all);
  if (reused)
    fprintf (stderr, "corral: eval: resuming: %zu of %zu generations already in %s\n", reused,
             c->n_g, path);
}

static const char *const copied_fields[] = { "question_title", "question_content", "platform",
                                             "question_id", "contest_id", "contest_date",
                                             "starter_code", "difficulty" };

static int
write_results (struct lcb *c, const char *path, struct corral_error *err)
{
  cJSON *all = cJSON_CreateArray ();
  for (size_t i = 0; i < c->n_s; i++)
    {
      struct lsample *s = &c->s[i];
      struct question *q = &c->q[s->question];
      cJSON *o = cJSON_CreateObject ();
      for (size_t f = 0; f < sizeof copied_fields / sizeof *copied_fields; f++)
        {
          const cJSON *v = cJSON_GetObjectItemCaseSensitive (q->row, copied_fields[f]);
          if (v)
            cJSON_AddItemToObject (o, copied_fields[f], cJSON_Duplicate (v, true));
        }
      cJSON_AddItemToObject (o, "code_list",
                             cJSON_Duplicate (cJSON_GetObjectItemCaseSensitive (s->row, "code_list"), true));
      cJSON *graded = cJSON_AddArrayToObject (o, "graded_list");
      cJSON *meta = cJSON_AddArrayToObject (o, "metadata");
      size_t done = 0, passed = 0;
      for (size_t k = 0; k < s->n_codes; k++)
        {
          struct gen *g = &c->g[s->first_gen + k];
          if (!g->done)
            {
              cJSON_AddItemToArray (graded, cJSON_CreateNull ());
              cJSON_AddItemToArray (meta, cJSON_CreateNull ());
              continue;
            }
          done++;
          passed += g->graded;
          cJSON_AddItemToArray (graded, cJSON_CreateBool (g->graded));
          cJSON *r = cJSON_Parse (g->record);
          cJSON_DeleteItemFromObject (r, "graded");
          cJSON_AddItemToArray (meta, r ? r : cJSON_CreateNull ());
        }
      if (done)
        cJSON_AddNumberToObject (o, "pass@1", (double) passed / (double) done);
      else
        cJSON_AddNullToObject (o, "pass@1");
      cJSON_AddItemToArray (all, o);
    }
  char *text = cJSON_Print (all);
  cJSON_Delete (all);
  if (text == NULL)
    return corral_fail (err, ENOMEM, "results");
  char tmp[4096];
  snprintf (tmp, sizeof tmp, "%s.tmp.%d", path, (int) getpid ());
  FILE *f = fopen (tmp, "we");
  if (f == NULL)
    {
      free (text);
      return corral_fail (err, errno, "write %s", tmp);
    }
  fputs (text, f);
  fputc ('\n', f);
  free (text);
  if (fclose (f) != 0 || rename (tmp, path) < 0)
    {
      int e = errno;
      unlink (tmp);
      return corral_fail (err, e, "write %s", path);
    }
  return 0;
}

/* pass@k over the questions that have samples, overall and by difficulty */
static void
summary (struct lcb *c, const char *path, bool interrupted)
{
  static const char *const diffs[] = { NULL, "easy", "medium", "hard" };
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "benchmark", "livecodebench");
  cJSON_AddNumberToObject (o, "generations", (double) c->finished);
  cJSON_AddNumberToObject (o, "passed", (double) c->passed);
  cJSON_AddNumberToObject (o, "warm", (double) c->warm); /* generations forked warm */
  cJSON_AddStringToObject (o, "results", path);
  cJSON_AddBoolToObject (o, "interrupted", interrupted);
  if (c->o->release)
    cJSON_AddStringToObject (o, "release", c->o->release);
  else
    cJSON_AddNullToObject (o, "release");
  if (c->o->release && !c->o->json)
    printf ("release %s\n", c->o->release);
  cJSON *by = cJSON_CreateObject ();
  for (size_t d = 0; d < sizeof diffs / sizeof *diffs; d++)
    {
      size_t nq = 0;
      unsigned min_n = UINT32_MAX;
      for (size_t i = 0; i < c->n_s; i++)
        {
          const char *qd = c->q[c->s[i].question].difficulty;
          if (diffs[d] && (!qd || strcmp (qd, diffs[d]) != 0))
            continue;
          unsigned n = 0;
          for (size_t k = 0; k < c->s[i].n_codes; k++)
            n += c->g[c->s[i].first_gen + k].done;
          if (n == 0)
            continue;
          nq++;
          if (n < min_n)
            min_n = n;
        }
      if (nq == 0)
        continue;
      cJSON *pk = d == 0 ? cJSON_AddObjectToObject (o, "pass_at_k") : cJSON_CreateObject ();
      if (d == 0)
        cJSON_AddNumberToObject (o, "questions", (double) nq);
      else
        {
          cJSON_AddNumberToObject (pk, "questions", (double) nq);
          cJSON_AddItemToObject (by, diffs[d], pk);
        }
      for (size_t kk = 0; kk < c->o->n_ks; kk++)
        {
          unsigned k = c->o->ks[kk];
          if (min_n < k)
            continue;
          double sum = 0;
          for (size_t i = 0; i < c->n_s; i++)
            {
              const char *qd = c->q[c->s[i].question].difficulty;
              if (diffs[d] && (!qd || strcmp (qd, diffs[d]) != 0))
                continue;
              unsigned n = 0, cc = 0;
              for (size_t j = 0; j < c->s[i].n_codes; j++)
                {
                  struct gen *g = &c->g[c->s[i].first_gen + j];
                  n += g->done;
                  cc += g->done && g->graded;
                }
              if (n)
                sum += eval_pass_at_k (n, cc, k);
            }
          char key[32];
          snprintf (key, sizeof key, "pass@%u", k);
          cJSON_AddNumberToObject (pk, key, sum / (double) nq);
          if (!c->o->json)
            printf ("%-8s %s: %.4f  (%zu questions)\n", diffs[d] ? diffs[d] : "overall", key,
                    sum / (double) nq, nq);
        }
    }
  cJSON_AddItemToObject (o, "by_difficulty", by);
  if (c->o->json)
    {
      char *s = cJSON_PrintUnformatted (o);
      puts (s);
      free (s);
    }
  else
    printf ("%zu generations, %zu passed; results in %s%s\n", c->finished, c->passed, path,
            interrupted ? " (interrupted)" : "");
  cJSON_Delete (o);
}

/* Everything the loaders and the runs allocated in c. */
static void
lcb_free (struct lcb *c)
{
  for (size_t i = 0; i < c->n_q; i++)
    {
      cJSON_Delete (c->q[i].row);
      free (c->q[i].fn_name);
      free (c->q[i].tests);
    }
  free (c->q);
  for (size_t i = 0; i < c->n_s; i++)
    cJSON_Delete (c->s[i].row);
  free (c->s);
  for (size_t i = 0; i < c->n_g; i++)
    free (c->g[i].record);
  free (c->g);
}

int
eval_livecodebench (const struct eval_opts *o, struct corral_error *err)
{
  struct lcb c = { .o = o };
  int ret = -1;
  char *out_path = NULL;
  if (load_problems (&c, err) < 0 || load_samples (&c, err) < 0)
    goto done;
  if (o->out)
    out_path = strdup (o->out);
  else if (asprintf (&out_path, "%s_eval_all.json", o->samples) < 0)
    out_path = NULL;
  if (out_path == NULL)
    {
      corral_fail (err, ENOMEM, "results path");
      goto done;
    }
  bool *skip = NULL;
  if (o->resume)
    {
      load_previous (&c, out_path);
      if ((skip = calloc (c.n_g ? c.n_g : 1, sizeof *skip)) == NULL)
        {
          corral_fail (err, ENOMEM, "generations");
          goto done;
        }
      for (size_t i = 0; i < c.n_g; i++)
        skip[i] = c.g[i].done;
    }
  c.t0 = eval_now_ms ();
  int r = eval_pool_run (o->jobs, c.n_g, skip, run_gen, on_done, &c, err);
  free (skip);
  progress (&c, true);
  if (r < 0 || write_results (&c, out_path, err) < 0)
    goto done;
  summary (&c, out_path, r == 1);
  ret = r == 1 ? 2 : c.bad_rows ? 1 : 0;
done:
  lcb_free (&c);
  free (out_path);
  return ret;
}
