/* model-output.c - what the evaluator reads from a sandboxed program and
 * a model (src/eval/common.c): the verdict line after a nonce in the
 * program's output (a program may print anything, nonce-like lines too),
 * and the code in a raw answer's last ``` fence (--fenced). */
#include "config.h"
#include "fuzz.h"
#include "eval.h"

#include <assert.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = fuzz_cstr (data, size);
  if (s == NULL)
    return 0;
  free (eval_find_verdict (s, "0123456789abcdef01234567"));
  free (eval_find_verdict (s, "\n"));
  char *code = eval_extract_fenced (s);
  assert (code != NULL && strlen (code) <= size);
  free (code);
  free (s);
  return 0;
}
