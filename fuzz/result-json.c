/* result-json.c - a run's JSON result as read back from a server
 * (corral_result_from_json, src/lib/result.c): --remote trusts no server. */
#include "config.h"
#include "fuzz.h"
#include "corral.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = fuzz_cstr (data, size);
  struct corral_result r;
  memset (&r, 0, sizeof r);
  struct corral_error err = { 0 };
  if (s && corral_result_from_json (s, &r, &err) == 0)
    {
      char *again = corral_result_json (&r, false);
      free (again);
    }
  corral_result_free (&r);
  free (s);
  return 0;
}
