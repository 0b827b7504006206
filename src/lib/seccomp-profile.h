/* seccomp-profile.h - a Docker/OCI seccomp profile (JSON), parsed and
 * checked, before libseccomp sees it.
 *
 * The parser is strict about what it understands (types, actions,
 * comparison operators, architectures, argument indexes, key names) and
 * lenient only where Docker's own profiles need it: syscall names that this
 * architecture lacks are skipped, except in kill rules, where a name we
 * cannot enforce is an error.  Rules that only apply with capabilities
 * (includes.caps) or to other architectures (includes/excludes.arches) are
 * dropped here, so the compiler in seccomp.c sees only the rules that
 * apply. */
#ifndef CORRAL_SECCOMP_PROFILE_H
#define CORRAL_SECCOMP_PROFILE_H

#include "corral.h"

#include <stddef.h>
#include <stdint.h>

/* What a rule (or the default, or nothing) does.  The kill kinds are kept
 * apart from libseccomp's constants because seccomp.c turns them into
 * SECCOMP_RET_USER_NOTIF or SECCOMP_RET_KILL_PROCESS depending on the
 * variant it compiles. */
enum corral_sc_action {
  CORRAL_SC_ALLOW,
  CORRAL_SC_ERRNO,        /* fail with errno_ret */
  CORRAL_SC_KILL_THREAD,  /* SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD */
  CORRAL_SC_KILL_PROCESS,
  CORRAL_SC_TRAP,
  CORRAL_SC_LOG,
};

static inline int
corral_sc_action_is_kill (enum corral_sc_action a)
{
  return a == CORRAL_SC_KILL_THREAD || a == CORRAL_SC_KILL_PROCESS;
}

#define CORRAL_SC_MAX_ARGS 6    /* syscall arguments 0..5 */
#define CORRAL_SC_MAX_ERRNO 4094 /* libseccomp refuses 4095 and above */

struct corral_sc_arg {
  unsigned int index;     /* 0..5 */
  int op;                 /* enum scmp_compare */
  uint64_t value;         /* the datum, or the mask for MASKED_EQ */
  uint64_t value_two;     /* the datum for MASKED_EQ */
};

struct corral_sc_syscall {
  char *name;
  int nr;                 /* native number, or libseccomp's negative pseudo
                             number for one that exists on other arches */
};

struct corral_sc_rule {
  size_t index;           /* position in "syscalls", for messages */
  enum corral_sc_action action;
  int errno_ret;
  struct corral_sc_syscall *syscalls; /* resolvable names only */
  size_t n_syscalls;
  struct corral_sc_arg *args;
  size_t n_args;
};

struct corral_sc_profile {
  enum corral_sc_action default_action;
  int default_errno_ret;
  uint32_t *arches;       /* SCMP_ARCH_* tokens as listed (may omit native) */
  size_t n_arches;
  struct corral_sc_rule *rules; /* only the rules that apply to us */
  size_t n_rules;
};

/* Parses the NUL-terminated JSON text.  Not thread-safe (cJSON keeps a
 * global error pointer); corral_policy_load serializes its calls.  origin names the source in error
 * messages ("policy /etc/x.json: syscalls[3].action: ...").  Returns 0 with
 * *out set (free with corral_sc_profile_free), or -1 with err set. */
int corral_sc_profile_parse (const char *text, const char *origin,
                             struct corral_sc_profile **out,
                             struct corral_error *err);

/* Reads PATH (at most 4 MiB) and parses it; the origin in messages is
 * "policy PATH".  Returns 0, or -1 with err set; err->code is ENOENT when
 * the file does not exist, so callers can try the next place. */
int corral_sc_profile_load_file (const char *path, struct corral_sc_profile **out,
                                 struct corral_error *err);

void corral_sc_profile_free (struct corral_sc_profile *p);

/* Reads a policy file (size-limited, no NUL bytes) into a malloc'd string;
 * a missing file fails with err->code ENOENT. */
int corral_sc_read_file (const char *path, char **text, struct corral_error *err);

/* Short name of a SCMP_ARCH_* token as we print it ("x86_64", "i386",
 * "aarch64"), or NULL for one we do not know. */
const char *corral_sc_arch_name (uint32_t token);

/* ---- seccomp.c, for tests ------------------------------------------------ */

/* Parses and compiles TEXT into a policy called NAME without touching the
 * per-name cache.  Free the result with corral_policy_free. */
int corral_policy_compile_text (const char *name, const char *text,
                                const char *origin, struct corral_policy **out,
                                struct corral_error *err);
void corral_policy_free (struct corral_policy *p);
/* Number of BPF instructions of the notify (A) and kill (B) programs; the
 * notify one is 0 when libseccomp could not build it. */
void corral_policy_sizes (const struct corral_policy *p, size_t *notify_len,
                          size_t *kill_len);

#endif
