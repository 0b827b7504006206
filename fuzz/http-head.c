/* http-head.c - the server's request-head check (src/serve/gate.c) on any
 * bytes, each prefix too (the gate checks a head as it arrives). */
#include "config.h"
#include "fuzz.h"
#include "gate.h"

#include <assert.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > GATE_MAX_HEAD)
    size = GATE_MAX_HEAD;
  char why[160];
  bool complete;
  size_t hlen;
  int full = gate_check_head ((const char *) data, size, 64u << 20, &complete, &hlen, why, sizeof why);
  assert (!complete || (full == 0 && hlen <= size));
  /* a prefix is never refused when the whole is accepted */
  for (size_t n = 0; full == 0 && complete && n < hlen; n += 1 + n / 8)
    {
      bool c2;
      size_t h2;
      assert (gate_check_head ((const char *) data, n, 64u << 20, &c2, &h2, why, sizeof why) == 0);
      assert (!c2);
    }
  return 0;
}
