/* json-nul.c - the finder of \u0000 in JSON strings (src/common/json-nul.c)
 * on any bytes. */
#include "config.h"
#include "fuzz.h"
#include "json-nul.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char where[320];
  char *s = fuzz_cstr (data, size);
  if (s)
    (void) json_find_nul (s, size, where, sizeof where);
  free (s);
  return 0;
}
