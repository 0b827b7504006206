/* dataset.c - `--problems humaneval` / `--problems livecodebench`: the
 * official files, each downloaded once over HTTPS with libcurl into
 * $XDG_CACHE_HOME/corral/datasets (else ~/.cache/...), checked against a
 * SHA-256 where one is known, written atomically.  LiveCodeBench keeps its
 * six release files apart, so that --release reads exactly the files
 * lcb_runner would.  CORRAL_DATASET_MIRROR replaces the hosts (a local
 * mirror; the tests serve one on loopback). */
#include "config.h"
#include "eval.h"
#include "sha256.h"

#include "curl-dl.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One file of a dataset: cached under `file`, fetched from `url`. */
struct part {
  const char *file, *url;
  const char *sha256; /* of the file, or NULL */
};

#define HF_LCB "https://huggingface.co/datasets/livecodebench/code_generation_lite/resolve/main/"

/* HumanEval.jsonl.gz as published in openai/human-eval (44,877 bytes). */
static const struct part humaneval_parts[] = {
  { "HumanEval.jsonl.gz", "https://github.com/openai/human-eval/raw/master/data/HumanEval.jsonl.gz",
    "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef" },
};
/* LiveCodeBench code_generation_lite: one file per release, test.jsonl
 * (release_v1) to test6.jsonl (release_v6). */
static const struct part lcb_parts[] = {
  { "livecodebench-test.jsonl", HF_LCB "test.jsonl", NULL },
  { "livecodebench-test2.jsonl", HF_LCB "test2.jsonl", NULL },
  { "livecodebench-test3.jsonl", HF_LCB "test3.jsonl", NULL },
  { "livecodebench-test4.jsonl", HF_LCB "test4.jsonl", NULL },
  { "livecodebench-test5.jsonl", HF_LCB "test5.jsonl", NULL },
  { "livecodebench-test6.jsonl", HF_LCB "test6.jsonl", NULL },
};

struct sink {
  FILE *f;
  struct sha256 sha;
};

static size_t
on_data (char *p, size_t size, size_t n, void *ud)
{
  struct sink *s = ud;
  sha256_update (&s->sha, p, size * n);
  return fwrite (p, size, n, s->f) * size;
}

static int
cache_dir (char *out, size_t len, struct corral_error *err)
{
  char base[PATH_MAX];
  if (corral_cache_home (base, sizeof base) < 0)
    return corral_fail (err, 0, "no cache directory for datasets: set HOME or XDG_CACHE_HOME");
  snprintf (out, len, "%s/corral/datasets", base);
  char step[PATH_MAX];
  snprintf (step, sizeof step, "%s/corral", base);
  mkdir (base, 0700);
  mkdir (step, 0700);
  if (mkdir (out, 0700) < 0 && errno != EEXIST)
    return corral_fail (err, errno, "create %s", out);
  return 0;
}

/* Downloads one part into path (atomically: a temporary file renamed). */
static int
download (const struct part *pt, const char *path, struct corral_error *err)
{
  char tmp[PATH_MAX + 32];
  snprintf (tmp, sizeof tmp, "%s.part.%d", path, (int) getpid ());
  char msg[512];
  if (corral_curl_load (msg, sizeof msg) < 0)
    return corral_fail (err, 0, "download %s: %s", pt->file, msg);
  char url[1024];
  const char *mirror = getenv ("CORRAL_DATASET_MIRROR");
  if (mirror && mirror[0])
    snprintf (url, sizeof url, "%s/%s", mirror, strrchr (pt->url, '/') + 1);
  else
    snprintf (url, sizeof url, "%s", pt->url);
  struct sink s = { .f = fopen (tmp, "we") };
  if (s.f == NULL)
    return corral_fail (err, errno, "write %s", tmp);
  sha256_init (&s.sha);
  CURL *c = sym_curl_easy_init ();
  int ret = c ? 0 : corral_fail (err, ENOMEM, "libcurl");
  if (ret == 0)
    {
      fprintf (stderr, "corral: eval: downloading %s\n", url);
      sym_curl_easy_setopt (c, CURLOPT_URL, url);
      sym_curl_easy_setopt (c, CURLOPT_FOLLOWLOCATION, 1L);
      sym_curl_easy_setopt (c, CURLOPT_FAILONERROR, 1L);
      sym_curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT, 20L);
      sym_curl_easy_setopt (c, CURLOPT_LOW_SPEED_LIMIT, 1L);
      sym_curl_easy_setopt (c, CURLOPT_LOW_SPEED_TIME, 60L);
      sym_curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, on_data);
      sym_curl_easy_setopt (c, CURLOPT_WRITEDATA, &s);
      sym_curl_easy_setopt (c, CURLOPT_USERAGENT, "corral/" PACKAGE_VERSION);
      CURLcode r = sym_curl_easy_perform (c);
      if (r != CURLE_OK)
        {
          bool offline = r == CURLE_COULDNT_RESOLVE_HOST || r == CURLE_COULDNT_CONNECT
                         || r == CURLE_OPERATION_TIMEDOUT;
          ret = corral_fail (err, 0, "download %s: %s%s", url, sym_curl_easy_strerror (r),
                             offline ? " (offline? give --problems a local copy of the file)" : "");
        }
      sym_curl_easy_cleanup (c);
    }
  if (fclose (s.f) != 0 && ret == 0)
    ret = corral_fail (err, errno, "write %s", tmp);
  if (ret == 0 && pt->sha256)
    {
      char hex[65];
      sha256_hex (&s.sha, hex);
      if (strcmp (hex, pt->sha256) != 0)
        ret = corral_fail (err, 0, "download of %s: SHA-256 %s, expected %s: not the official file",
                           pt->file, hex, pt->sha256);
    }
  if (ret == 0 && rename (tmp, path) < 0)
    ret = corral_fail (err, errno, "write %s", path);
  if (ret < 0)
    unlink (tmp);
  return ret;
}

int
eval_lcb_release (const char *release, unsigned *first, unsigned *last)
{
  unsigned n;
  char tail;
  if (release == NULL || strcmp (release, "release_latest") == 0)
    *first = 1, *last = 6;
  else if (sscanf (release, "release_v%u%c", &n, &tail) == 1 && n >= 1 && n <= 6)
    *first = 1, *last = n;
  else if (sscanf (release, "v%u%c", &n, &tail) == 1 && n >= 1 && n <= 6)
    *first = *last = n;
  else
    return -1;
  return 0;
}

bool
eval_dataset_known (const char *name)
{
  return strcmp (name, "humaneval") == 0 || strcmp (name, "livecodebench") == 0;
}

int
eval_dataset_resolve (const char *name, const char *release, char **paths,
                      struct corral_error *err)
{
  paths[0] = NULL;
  const struct part *parts;
  unsigned first = 1, last = 1;
  if (strcmp (name, "humaneval") == 0)
    parts = humaneval_parts;
  else if (strcmp (name, "livecodebench") == 0)
    {
      parts = lcb_parts;
      if (eval_lcb_release (release, &first, &last) < 0)
        return corral_fail (err, 0, "--release: `%s` is not release_v1..release_v6, "
                            "release_latest or v1..v6", release);
    }
  else
    return corral_fail (err, 0, "no dataset called %s", name);
  char dir[PATH_MAX];
  if (cache_dir (dir, sizeof dir, err) < 0)
    return -1;
  size_t n = 0;
  for (unsigned i = first; i <= last; i++)
    {
      const struct part *pt = &parts[i - 1];
      char path[PATH_MAX + 128];
      snprintf (path, sizeof path, "%s/%s", dir, pt->file);
      if (access (path, R_OK) != 0 && download (pt, path, err) < 0)
        goto fail;
      if ((paths[n++] = strdup (path)) == NULL)
        {
          corral_fail (err, ENOMEM, "dataset");
          goto fail;
        }
      paths[n] = NULL;
    }
  return 0;
fail:
  for (size_t i = 0; i < n; i++)
    free (paths[i]);
  paths[0] = NULL;
  return -1;
}
