/* policy.c - a seccomp policy file (corral-policy(5)) parsed and compiled,
 * and the compiled filter run by the classic-BPF interpreter on corral's
 * own calls (src/lib/seccomp-profile.c, seccomp.c, bpf-sim.c). */
#include "config.h"
#include "fuzz.h"
#include "corral.h"
#include "seccomp-profile.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = fuzz_cstr (data, size);
  struct corral_policy *p = NULL;
  struct corral_error err = { 0 };
  if (s && corral_policy_compile_text ("fuzz", s, "fuzz input", &p, &err) == 0)
    corral_policy_free (p);
  free (s);
  return 0;
}
