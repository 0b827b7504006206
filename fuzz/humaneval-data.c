/* humaneval-data.c - `corral eval humaneval`'s readers of user files: the
 * problems file, the samples file and a --resume results file
 * (src/eval/humaneval.c, lines.c), plain or gzip.  The first byte says
 * which file the rest is (the others are a small valid dataset) and
 * whether it is compressed. */
#include "../src/eval/humaneval.c"
#include "fuzz.h"

static const char problems[] =
  "{\"task_id\": \"t/0\", \"prompt\": \"def f():\\n\", \"test\": \"def check(c):\\n    assert c() == 1\","
  " \"entry_point\": \"f\"}\n"
  "{\"task_id\": \"t/1\", \"prompt\": \"def g(x):\\n\", \"test\": \"def check(c):\\n    pass\","
  " \"entry_point\": \"g\"}\n";
static const char samples[] = "{\"task_id\": \"t/0\", \"completion\": \"    return 1\"}\n"
                              "{\"task_id\": \"t/1\", \"completion\": \"    return x\"}\n"
                              "{\"task_id\": \"t/0\", \"completion\": \"    return 1\"}\n";
static const char previous[] = "{\"task_id\": \"t/0\", \"completion\": \"    return 1\", \"result\": \"passed\","
                               " \"passed\": true}\n";

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  unsigned which = data[0] % 3, gz = (data[0] >> 2) & 1;
  char p_path[128], s_path[128], r_path[128];
  snprintf (p_path, sizeof p_path, "%s/problems.jsonl", fuzz_tmpdir ());
  snprintf (s_path, sizeof s_path, "%s/samples.jsonl", fuzz_tmpdir ());
  snprintf (r_path, sizeof r_path, "%s/results.jsonl", fuzz_tmpdir ());
  const char *paths[3] = { p_path, s_path, r_path }, *texts[3] = { problems, samples, previous };
  for (unsigned i = 0; i < 3; i++)
    if ((i == which ? fuzz_write_file (paths[i], data + 1, size - 1, gz)
                    : fuzz_write_file (paths[i], (const uint8_t *) texts[i], strlen (texts[i]), 0))
        < 0)
      abort ();

  struct eval_opts o = { .problems = p_path, .samples = s_path };
  struct he h = { .o = &o };
  struct corral_error err = { 0 };
  if (load_problems (&h, &err) == 0 && load_samples (&h, &err) == 0)
    load_previous (&h, r_path);
  he_free (&h);
  return 0;
}
