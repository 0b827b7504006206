/* lcb-data.c - `corral eval livecodebench`'s readers of user files
 * (src/eval/livecodebench.c, lcb-tests.c, lines.c): the problems file,
 * the samples file (a JSON list or JSONL), a --resume results list, and
 * the private tests' base64(zlib(pickle)) encoding.  The first byte says
 * which the rest is:
 *   0 problems  1 samples  2 previous results  (others: a small dataset)
 *   3 a pickle, as the private tests decode it after base64 and zlib
 *   4 the bytes zlib-compressed and base64-encoded: the private_test_cases
 *     string of a problem row
 * and bit 3 whether a file is gzip-compressed. */
#include "../src/eval/livecodebench.c"
#include "base64.h"
#include "fuzz.h"

#include <zlib.h>

static const char problems[] =
  "{\"question_id\": \"q1\", \"question_title\": \"a\", \"platform\": \"atcoder\", \"difficulty\": \"easy\","
  " \"contest_date\": \"2024-01-01T00:00:00\", \"public_test_cases\": \"[{\\\"input\\\": \\\"1\\\\n\\\","
  " \\\"output\\\": \\\"1\\\\n\\\", \\\"testtype\\\": \\\"stdin\\\"}]\", \"private_test_cases\": \"[]\","
  " \"metadata\": \"{}\"}\n"
  "{\"question_id\": \"q2\", \"public_test_cases\": \"[]\", \"private_test_cases\": \"[]\","
  " \"metadata\": \"{\\\"func_name\\\": \\\"f\\\"}\"}\n";
static const char samples[] = "[{\"question_id\": \"q1\", \"code_list\": [\"print(1)\", \"print(2)\"]},"
                              " {\"question_id\": \"q2\", \"code_list\": [\"class Solution: pass\"]}]";
static const char previous[] = "[{\"question_id\": \"q1\", \"code_list\": [\"print(1)\"], \"graded_list\": [true],"
                               " \"metadata\": [{\"graded\": true}]}]";

/* a problem row whose private tests are base64(zlib(data)) */
static void
encoded_tests (const uint8_t *data, size_t size)
{
  uLongf zlen = compressBound (size);
  unsigned char *z = malloc (zlen);
  if (z == NULL || compress (z, &zlen, data, size) != Z_OK)
    abort ();
  char *b64 = base64_encode (z, zlen);
  free (z);
  struct corral_error err = { 0 };
  char *text = lcb_tests_text (b64, &err);
  free (text);
  cJSON *row = cJSON_CreateObject ();
  cJSON_AddStringToObject (row, "question_id", "q");
  cJSON_AddStringToObject (row, "public_test_cases", "[]");
  cJSON_AddStringToObject (row, "private_test_cases", b64);
  size_t n;
  char why[600];
  free (build_tests (row, &n, why, sizeof why));
  cJSON_Delete (row);
  free (b64);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  unsigned which = (data[0] & 7) % 5, gz = (data[0] >> 3) & 1;
  data++, size--;
  struct corral_error err = { 0 };
  if (which == 3)
    {
      free (lcb_unpickle_str (data, size, &err));
      return 0;
    }
  if (which == 4)
    {
      encoded_tests (data, size);
      return 0;
    }
  char paths[3][128];
  const char *texts[3] = { problems, samples, previous };
  const char *names[3] = { "problems.jsonl", "samples.json", "results.json" };
  for (unsigned i = 0; i < 3; i++)
    {
      snprintf (paths[i], sizeof paths[i], "%s/%s", fuzz_tmpdir (), names[i]);
      if ((i == which ? fuzz_write_file (paths[i], data, size, gz)
                      : fuzz_write_file (paths[i], (const uint8_t *) texts[i], strlen (texts[i]), 0))
          < 0)
        abort ();
    }
  struct eval_opts o = { .problems = paths[0], .samples = paths[1] };
  struct lcb c = { .o = &o };
  if (load_problems (&c, &err) == 0 && load_samples (&c, &err) == 0)
    load_previous (&c, paths[2]);
  lcb_free (&c);
  return 0;
}
