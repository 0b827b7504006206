/* dataset.c - `--problems humaneval` / `--problems livecodebench`: the
 * official files, downloaded once over HTTPS with libcurl into
 * $XDG_CACHE_HOME/corral/datasets (else ~/.cache/...), checked against a
 * SHA-256 where one is known, written atomically.  CORRAL_DATASET_MIRROR
 * replaces the hosts (a local mirror; the tests serve one on loopback). */
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

struct dataset {
  const char *name, *file;      /* cache file name */
  const char *sha256;           /* of the whole file, or NULL */
  const char *urls[7];          /* concatenated in this order */
};

/* HumanEval.jsonl.gz as published in openai/human-eval (44,877 bytes);
 * LiveCodeBench code_generation_lite's test files up to release_v6. */
static const struct dataset datasets[] = {
  { "humaneval", "HumanEval.jsonl.gz",
    "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
    { "https://github.com/openai/human-eval/raw/master/data/HumanEval.jsonl.gz" } },
  { "livecodebench", "livecodebench-release_v6.jsonl", NULL,
    { "https://huggingface.co/datasets/livecodebench/code_generation_lite/resolve/main/test.jsonl",
      "https://huggingface.co/datasets/livecodebench/code_generation_lite/resolve/main/test2.jsonl",
      "https://huggingface.co/datasets/livecodebench/code_generation_lite/resolve/main/test3.jsonl",
      "https://huggingface.co/datasets/livecodebench/code_generation_lite/resolve/main/test4.jsonl",
      "https://huggingface.co/datasets/livecodebench/code_generation_lite/resolve/main/test5.jsonl",
      "https://huggingface.co/datasets/livecodebench/code_generation_lite/resolve/main/test6.jsonl" } },
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
  const char *xdg = getenv ("XDG_CACHE_HOME"), *home = getenv ("HOME");
  char base[PATH_MAX];
  if (xdg && xdg[0] == '/')
    snprintf (base, sizeof base, "%s", xdg);
  else if (home && home[0] == '/')
    snprintf (base, sizeof base, "%s/.cache", home);
  else
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

int
eval_dataset_resolve (const char *name, char *path, size_t len, struct corral_error *err)
{
  const struct dataset *d = NULL;
  for (size_t i = 0; i < sizeof datasets / sizeof *datasets; i++)
    if (strcmp (name, datasets[i].name) == 0)
      d = &datasets[i];
  /* a file of that name in the working directory wins */
  if (d == NULL || access (name, F_OK) == 0)
    {
      snprintf (path, len, "%s", name);
      return 0;
    }
  char dir[PATH_MAX];
  if (cache_dir (dir, sizeof dir, err) < 0)
    return -1;
  snprintf (path, len, "%s/%s", dir, d->file);
  if (access (path, R_OK) == 0)
    return 0;

  char tmp[PATH_MAX + 32];
  snprintf (tmp, sizeof tmp, "%s.part.%d", path, (int) getpid ());
  char msg[512];
  if (corral_curl_load (msg, sizeof msg) < 0)
    return corral_fail (err, 0, "download %s: %s", d->name, msg);
  struct sink s = { .f = fopen (tmp, "we") };
  if (s.f == NULL)
    return corral_fail (err, errno, "write %s", tmp);
  sha256_init (&s.sha);
  const char *mirror = getenv ("CORRAL_DATASET_MIRROR");
  CURL *c = sym_curl_easy_init ();
  int ret = c ? 0 : corral_fail (err, ENOMEM, "libcurl");
  for (size_t i = 0; ret == 0 && i < 7 && d->urls[i]; i++)
    {
      char url[1024];
      if (mirror && mirror[0])
        snprintf (url, sizeof url, "%s/%s", mirror, strrchr (d->urls[i], '/') + 1);
      else
        snprintf (url, sizeof url, "%s", d->urls[i]);
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
    }
  if (c)
    sym_curl_easy_cleanup (c);
  if (fclose (s.f) != 0 && ret == 0)
    ret = corral_fail (err, errno, "write %s", tmp);
  if (ret == 0 && d->sha256)
    {
      char hex[65];
      sha256_hex (&s.sha, hex);
      if (strcmp (hex, d->sha256) != 0)
        ret = corral_fail (err, 0, "download of %s: SHA-256 %s, expected %s: not the official file",
                           d->name, hex, d->sha256);
    }
  if (ret == 0 && rename (tmp, path) < 0)
    ret = corral_fail (err, errno, "write %s", path);
  if (ret < 0)
    unlink (tmp);
  return ret;
}
