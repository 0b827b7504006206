/* seccomp-profile.c - read a Docker/OCI seccomp profile into a rule list.
 *
 * The format is Docker's (profiles/seccomp/default.json in moby) and the
 * OCI runtime spec's linux.seccomp object:
 *
 *   { "defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1,
 *     "architectures": ["SCMP_ARCH_X86_64"],
 *     "syscalls": [ { "names": ["keyctl"], "action": "SCMP_ACT_KILL_PROCESS",
 *                     "args": [ {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"} ],
 *                     "comment": "..." } ] }
 *
 * A policy is a security boundary, so a typo must not quietly weaken it:
 * unknown keys, wrong types, unknown actions/operators/architectures and
 * out-of-range numbers are errors that name the file and the field.  The
 * exceptions are the ones Docker profiles need to load at all (see
 * corral-policy(5)).  Nothing here trusts the input: every field is type
 * checked before use, and cJSON limits nesting depth itself. */
#include "internal.h"
#include "seccomp-profile.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define PROFILE_MAX_BYTES (4u << 20)

/* JSON numbers are doubles: integers above 2^53 cannot be told apart, so
 * they are refused rather than silently rounded. */
#define JSON_MAX_EXACT_INT 9007199254740992.0

struct parser {
  const char *origin;          /* file name (or "default (built-in)") */
  struct corral_error *err;
  uint32_t native;             /* SCMP_ARCH_* of this machine */
};

/* ---- architectures -------------------------------------------------------- */

static const struct arch_info {
  uint32_t token;
  const char *scmp;            /* as written in "architectures" */
  const char *name;            /* as we print it */
  const char *goarch;          /* as Docker writes it in includes/excludes.arches */
} arch_table[] = {
  { SCMP_ARCH_X86_64, "SCMP_ARCH_X86_64", "x86_64", "amd64" },
  { SCMP_ARCH_X86, "SCMP_ARCH_X86", "i386", "386" },
  { SCMP_ARCH_X32, "SCMP_ARCH_X32", "x32", "x32" },
  { SCMP_ARCH_ARM, "SCMP_ARCH_ARM", "arm", "arm" },
  { SCMP_ARCH_AARCH64, "SCMP_ARCH_AARCH64", "aarch64", "arm64" },
  { SCMP_ARCH_MIPS, "SCMP_ARCH_MIPS", "mips", "mips" },
  { SCMP_ARCH_MIPS64, "SCMP_ARCH_MIPS64", "mips64", "mips64" },
  { SCMP_ARCH_MIPS64N32, "SCMP_ARCH_MIPS64N32", "mips64n32", "mips64p32" },
  { SCMP_ARCH_MIPSEL, "SCMP_ARCH_MIPSEL", "mipsel", "mipsle" },
  { SCMP_ARCH_MIPSEL64, "SCMP_ARCH_MIPSEL64", "mipsel64", "mips64le" },
  { SCMP_ARCH_MIPSEL64N32, "SCMP_ARCH_MIPSEL64N32", "mipsel64n32", "mips64p32le" },
  { SCMP_ARCH_PPC, "SCMP_ARCH_PPC", "ppc", "ppc" },
  { SCMP_ARCH_PPC64, "SCMP_ARCH_PPC64", "ppc64", "ppc64" },
  { SCMP_ARCH_PPC64LE, "SCMP_ARCH_PPC64LE", "ppc64le", "ppc64le" },
  { SCMP_ARCH_S390, "SCMP_ARCH_S390", "s390", "s390" },
  { SCMP_ARCH_S390X, "SCMP_ARCH_S390X", "s390x", "s390x" },
  { SCMP_ARCH_PARISC, "SCMP_ARCH_PARISC", "parisc", "parisc" },
  { SCMP_ARCH_PARISC64, "SCMP_ARCH_PARISC64", "parisc64", "parisc64" },
  { SCMP_ARCH_RISCV64, "SCMP_ARCH_RISCV64", "riscv64", "riscv64" },
};

#define N_ELEMS(a) (sizeof (a) / sizeof ((a)[0]))

static const struct arch_info *
arch_by_token (uint32_t token)
{
  for (size_t i = 0; i < N_ELEMS (arch_table); i++)
    if (arch_table[i].token == token)
      return &arch_table[i];
  return NULL;
}

const char *
corral_sc_arch_name (uint32_t token)
{
  const struct arch_info *a = arch_by_token (token);
  return a ? a->name : NULL;
}

/* ---- messages --------------------------------------------------------------- */

/* A printable, bounded copy of a string from the profile for a message: the
 * input is not ours, and a message is printed on a terminal. */
static const char *
shown (const char *s, char *buf, size_t len)
{
  size_t i = 0, o = 0;
  for (; s[i] != '\0' && o + 4 < len; i++)
    {
      unsigned char c = (unsigned char) s[i];
      buf[o++] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
    }
  if (s[i] != '\0')
    {
      memcpy (buf + o, "...", 3);
      o += 3;
    }
  buf[o] = '\0';
  return buf;
}

#define SHOWN(s) shown ((s), (char[64]){ 0 }, 64)

static int
pfail (struct parser *ps, const char *where, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

/* "policy ORIGIN: WHERE: what" */
static int
pfail (struct parser *ps, const char *where, const char *fmt, ...)
{
  char what[CORRAL_ERR_MSG];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (what, sizeof what, fmt, ap);
  va_end (ap);
  if (where != NULL && where[0] != '\0')
    return corral_fail (ps->err, 0, "policy %s: %s: %s", ps->origin, where, what);
  return corral_fail (ps->err, 0, "policy %s: %s", ps->origin, what);
}

static const char *
json_type_name (const cJSON *v)
{
  if (cJSON_IsObject (v))
    return "an object";
  if (cJSON_IsArray (v))
    return "an array";
  if (cJSON_IsString (v))
    return "a string";
  if (cJSON_IsNumber (v))
    return "a number";
  if (cJSON_IsBool (v))
    return "a boolean";
  if (cJSON_IsNull (v))
    return "null";
  return "not valid";
}

/* ---- small typed getters ----------------------------------------------------- */

/* Refuses keys we do not know (a misspelt "syscals" must not turn a policy
 * into "allow everything") and duplicates (cJSON would keep the first one
 * silently, other parsers the last). */
static int
check_keys (struct parser *ps, const cJSON *obj, const char *where,
            const char *const *known, size_t n_known)
{
  uint32_t seen = 0;
  for (const cJSON *c = obj->child; c != NULL; c = c->next)
    {
      size_t k;
      for (k = 0; k < n_known; k++)
        if (c->string != NULL && strcmp (c->string, known[k]) == 0)
          break;
      if (k == n_known)
        return pfail (ps, where, "unknown key \"%s\"", c->string ? SHOWN (c->string) : "");
      if (seen & (1u << k))
        return pfail (ps, where, "duplicate key \"%s\"", known[k]);
      seen |= 1u << k;
    }
  return 0;
}

/* A non-negative integer no larger than max (max <= 2^53). */
static int
get_uint (struct parser *ps, const cJSON *v, const char *where, double max, uint64_t *out)
{
  if (!cJSON_IsNumber (v))
    return pfail (ps, where, "must be a number, not %s", json_type_name (v));
  double d = v->valuedouble;
  if (!(d >= 0 && d <= max) || (double) (uint64_t) d != d)
    return pfail (ps, where, "must be an integer from 0 to %.0f", max);
  *out = (uint64_t) d;
  return 0;
}

/* Checks that v is an array whose elements are all strings. */
static int
check_string_array (struct parser *ps, const cJSON *v, const char *where)
{
  if (!cJSON_IsArray (v))
    return pfail (ps, where, "must be an array of strings, not %s", json_type_name (v));
  size_t i = 0;
  for (const cJSON *c = v->child; c != NULL; c = c->next, i++)
    if (!cJSON_IsString (c))
      return pfail (ps, where, "element %zu must be a string, not %s", i, json_type_name (c));
  return 0;
}

static bool
string_array_contains (const cJSON *v, const char *s)
{
  for (const cJSON *c = v ? v->child : NULL; c != NULL; c = c->next)
    if (cJSON_IsString (c) && strcmp (c->valuestring, s) == 0)
      return true;
  return false;
}

/* ---- actions and operators ---------------------------------------------------- */

static const struct {
  const char *name;
  enum corral_sc_action action;
} action_table[] = {
  { "SCMP_ACT_ALLOW", CORRAL_SC_ALLOW },
  { "SCMP_ACT_ERRNO", CORRAL_SC_ERRNO },
  { "SCMP_ACT_KILL", CORRAL_SC_KILL_THREAD },
  { "SCMP_ACT_KILL_THREAD", CORRAL_SC_KILL_THREAD },
  { "SCMP_ACT_KILL_PROCESS", CORRAL_SC_KILL_PROCESS },
  { "SCMP_ACT_TRAP", CORRAL_SC_TRAP },
  { "SCMP_ACT_LOG", CORRAL_SC_LOG },
};

static const struct {
  const char *name;
  enum scmp_compare op;
} op_table[] = {
  { "SCMP_CMP_NE", SCMP_CMP_NE },
  { "SCMP_CMP_LT", SCMP_CMP_LT },
  { "SCMP_CMP_LE", SCMP_CMP_LE },
  { "SCMP_CMP_EQ", SCMP_CMP_EQ },
  { "SCMP_CMP_GE", SCMP_CMP_GE },
  { "SCMP_CMP_GT", SCMP_CMP_GT },
  { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static int
get_action (struct parser *ps, const cJSON *v, const char *where, enum corral_sc_action *out)
{
  if (!cJSON_IsString (v))
    return pfail (ps, where, "must be a string, not %s", json_type_name (v));
  for (size_t i = 0; i < N_ELEMS (action_table); i++)
    if (strcmp (v->valuestring, action_table[i].name) == 0)
      {
        *out = action_table[i].action;
        return 0;
      }
  return pfail (ps, where, "unknown action \"%s\"", SHOWN (v->valuestring));
}

/* errnoRet / defaultErrnoRet: only meaningful with SCMP_ACT_ERRNO; without
 * it the errno is EPERM, as in runc. */
static int
get_errno_ret (struct parser *ps, const cJSON *v, enum corral_sc_action action,
               const char *where, const char *action_key, int *out)
{
  *out = EPERM;
  if (v == NULL)
    return 0;
  if (action != CORRAL_SC_ERRNO)
    return pfail (ps, where, "only valid when %s is SCMP_ACT_ERRNO", action_key);
  uint64_t n;
  if (get_uint (ps, v, where, CORRAL_SC_MAX_ERRNO, &n) < 0)
    return -1;
  *out = (int) n;
  return 0;
}

/* ---- one rule ------------------------------------------------------------------ */

static int
parse_arg (struct parser *ps, const cJSON *v, const char *where, struct corral_sc_arg *arg)
{
  static const char *const keys[] = { "index", "value", "valueTwo", "op" };
  char at[128];

  if (!cJSON_IsObject (v))
    return pfail (ps, where, "must be an object, not %s", json_type_name (v));
  if (check_keys (ps, v, where, keys, N_ELEMS (keys)) < 0)
    return -1;

  const cJSON *index = cJSON_GetObjectItemCaseSensitive (v, "index");
  const cJSON *value = cJSON_GetObjectItemCaseSensitive (v, "value");
  const cJSON *value_two = cJSON_GetObjectItemCaseSensitive (v, "valueTwo");
  const cJSON *op = cJSON_GetObjectItemCaseSensitive (v, "op");
  uint64_t n;

  snprintf (at, sizeof at, "%s.index", where);
  if (index == NULL)
    return pfail (ps, at, "missing");
  if (get_uint (ps, index, at, JSON_MAX_EXACT_INT, &n) < 0)
    return -1;
  if (n >= CORRAL_SC_MAX_ARGS)
    return pfail (ps, at, "%llu is not a syscall argument (0 to %d)",
                  (unsigned long long) n, CORRAL_SC_MAX_ARGS - 1);
  arg->index = (unsigned int) n;

  arg->value = arg->value_two = 0;
  snprintf (at, sizeof at, "%s.value", where);
  if (value != NULL && get_uint (ps, value, at, JSON_MAX_EXACT_INT, &arg->value) < 0)
    return -1;
  snprintf (at, sizeof at, "%s.valueTwo", where);
  if (value_two != NULL && get_uint (ps, value_two, at, JSON_MAX_EXACT_INT, &arg->value_two) < 0)
    return -1;

  snprintf (at, sizeof at, "%s.op", where);
  if (op == NULL)
    return pfail (ps, at, "missing");
  if (!cJSON_IsString (op))
    return pfail (ps, at, "must be a string, not %s", json_type_name (op));
  for (size_t i = 0; i < N_ELEMS (op_table); i++)
    if (strcmp (op->valuestring, op_table[i].name) == 0)
      {
        arg->op = op_table[i].op;
        return 0;
      }
  return pfail (ps, at, "unknown operator \"%s\"", SHOWN (op->valuestring));
}

/* includes / excludes: {"caps": [...], "arches": [...], "minKernel": "4.8"} */
static int
check_filter_object (struct parser *ps, const cJSON *v, const char *where)
{
  static const char *const keys[] = { "caps", "arches", "minKernel" };
  char at[128];

  if (!cJSON_IsObject (v))
    return pfail (ps, where, "must be an object, not %s", json_type_name (v));
  if (check_keys (ps, v, where, keys, N_ELEMS (keys)) < 0)
    return -1;
  const cJSON *caps = cJSON_GetObjectItemCaseSensitive (v, "caps");
  const cJSON *arches = cJSON_GetObjectItemCaseSensitive (v, "arches");
  const cJSON *min_kernel = cJSON_GetObjectItemCaseSensitive (v, "minKernel");
  snprintf (at, sizeof at, "%s.caps", where);
  if (caps != NULL && check_string_array (ps, caps, at) < 0)
    return -1;
  snprintf (at, sizeof at, "%s.arches", where);
  if (arches != NULL && check_string_array (ps, arches, at) < 0)
    return -1;
  snprintf (at, sizeof at, "%s.minKernel", where);
  if (min_kernel != NULL && !cJSON_IsString (min_kernel))
    return pfail (ps, at, "must be a string, not %s", json_type_name (min_kernel));
  return 0;
}

/* Whether a rule is meant for us, following Docker: a rule that needs a
 * capability (includes.caps) never is, since the program runs with none;
 * excludes.caps therefore never excludes; includes/excludes.arches are
 * matched against this machine (Go architecture names, as Docker writes
 * them).  minKernel is not checked: the kernels we support are newer than
 * any minKernel in Docker's profiles. */
static bool
rule_applies (struct parser *ps, const cJSON *includes, const cJSON *excludes)
{
  const struct arch_info *native = arch_by_token (ps->native);
  const char *goarch = native ? native->goarch : "";

  if (includes != NULL)
    {
      const cJSON *caps = cJSON_GetObjectItemCaseSensitive (includes, "caps");
      const cJSON *arches = cJSON_GetObjectItemCaseSensitive (includes, "arches");
      if (cJSON_GetArraySize (caps) > 0)
        return false;
      if (cJSON_GetArraySize (arches) > 0 && !string_array_contains (arches, goarch))
        return false;
    }
  if (excludes != NULL)
    {
      const cJSON *arches = cJSON_GetObjectItemCaseSensitive (excludes, "arches");
      if (string_array_contains (arches, goarch))
        return false;
    }
  return true;
}

static void
rule_free (struct corral_sc_rule *r)
{
  for (size_t i = 0; i < r->n_syscalls; i++)
    free (r->syscalls[i].name);
  free (r->syscalls);
  free (r->args);
  memset (r, 0, sizeof *r);
}

/* Adds one syscall name to the rule, or skips it (see the comment at the
 * top of seccomp-profile.h). */
static int
add_name (struct parser *ps, struct corral_sc_rule *rule, const char *name, const char *where)
{
  if (name[0] == '\0')
    return pfail (ps, where, "empty system call name");

  int nr = seccomp_syscall_resolve_name (name);
  if (corral_sc_action_is_kill (rule->action) && nr < 0)
    {
      /* A kill rule is a promise that the call never runs: a name we cannot
       * turn into a number here (a typo, a syscall newer than libseccomp, or
       * one of another architecture) would make it an empty promise. */
      const struct arch_info *native = arch_by_token (ps->native);
      if (nr == __NR_SCMP_ERROR)
        return pfail (ps, where, "unknown system call \"%s\" in a kill rule", SHOWN (name));
      return pfail (ps, where, "\"%s\" is not a system call on %s, so this kill rule "
                    "cannot stop it", SHOWN (name), native ? native->name : "this machine");
    }
  if (nr == __NR_SCMP_ERROR)
    return 0; /* unknown here; Docker profiles list every arch's names */

  char *copy = strdup (name);
  if (copy == NULL)
    return corral_fail (ps->err, ENOMEM, "policy %s", ps->origin);
  rule->syscalls[rule->n_syscalls].name = copy;
  rule->syscalls[rule->n_syscalls].nr = nr;
  rule->n_syscalls++;
  return 0;
}

/* Parses syscalls[index].  *applies is false for a well-formed rule that is
 * not meant for us; then *rule is left empty. */
static int
parse_rule (struct parser *ps, const cJSON *v, size_t index, struct corral_sc_rule *rule,
            bool *applies)
{
  static const char *const keys[] = { "names", "name", "action", "errnoRet", "args",
                                      "comment", "includes", "excludes" };
  char where[64], at[128];

  memset (rule, 0, sizeof *rule);
  rule->index = index;
  *applies = false;
  snprintf (where, sizeof where, "syscalls[%zu]", index);

  if (!cJSON_IsObject (v))
    return pfail (ps, where, "must be an object, not %s", json_type_name (v));
  if (check_keys (ps, v, where, keys, N_ELEMS (keys)) < 0)
    return -1;

  const cJSON *names = cJSON_GetObjectItemCaseSensitive (v, "names");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive (v, "name");
  const cJSON *action = cJSON_GetObjectItemCaseSensitive (v, "action");
  const cJSON *errno_ret = cJSON_GetObjectItemCaseSensitive (v, "errnoRet");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive (v, "args");
  const cJSON *comment = cJSON_GetObjectItemCaseSensitive (v, "comment");
  const cJSON *includes = cJSON_GetObjectItemCaseSensitive (v, "includes");
  const cJSON *excludes = cJSON_GetObjectItemCaseSensitive (v, "excludes");

  /* action first: whether unknown names are fatal depends on it */
  snprintf (at, sizeof at, "%s.action", where);
  if (action == NULL)
    return pfail (ps, at, "missing");
  if (get_action (ps, action, at, &rule->action) < 0)
    return -1;
  snprintf (at, sizeof at, "%s.errnoRet", where);
  if (get_errno_ret (ps, errno_ret, rule->action, at, "action", &rule->errno_ret) < 0)
    return -1;

  snprintf (at, sizeof at, "%s.comment", where);
  if (comment != NULL && !cJSON_IsString (comment))
    return pfail (ps, at, "must be a string, not %s", json_type_name (comment));

  snprintf (at, sizeof at, "%s.includes", where);
  if (includes != NULL && check_filter_object (ps, includes, at) < 0)
    return -1;
  snprintf (at, sizeof at, "%s.excludes", where);
  if (excludes != NULL && check_filter_object (ps, excludes, at) < 0)
    return -1;

  /* "name" (one string) is the pre-1.13 Docker spelling */
  if (names != NULL && name != NULL)
    return pfail (ps, where, "has both \"name\" and \"names\"");
  if (names == NULL && name == NULL)
    return pfail (ps, where, "has no \"names\"");
  if (name != NULL && !cJSON_IsString (name))
    return pfail (ps, where, "name: must be a string, not %s", json_type_name (name));
  snprintf (at, sizeof at, "%s.names", where);
  if (names != NULL && check_string_array (ps, names, at) < 0)
    return -1;
  if (names != NULL && names->child == NULL)
    return pfail (ps, at, "empty");

  snprintf (at, sizeof at, "%s.args", where);
  if (args != NULL && !cJSON_IsArray (args))
    return pfail (ps, at, "must be an array, not %s", json_type_name (args));
  int n_args = cJSON_GetArraySize (args);

  /* Everything is checked; a rule for someone else stops here. */
  if (!rule_applies (ps, includes, excludes))
    {
      /* still check the arguments' syntax: a broken file is broken */
      struct corral_sc_arg scratch;
      for (int i = 0; i < n_args; i++)
        {
          snprintf (at, sizeof at, "%s.args[%d]", where, i);
          if (parse_arg (ps, cJSON_GetArrayItem (args, i), at, &scratch) < 0)
            return -1;
        }
      return 0;
    }

  if (n_args > 0)
    {
      rule->args = calloc ((size_t) n_args, sizeof *rule->args);
      if (rule->args == NULL)
        return corral_fail (ps->err, ENOMEM, "policy %s", ps->origin);
      int i = 0;
      for (const cJSON *a = args->child; a != NULL; a = a->next, i++)
        {
          snprintf (at, sizeof at, "%s.args[%d]", where, i);
          if (parse_arg (ps, a, at, &rule->args[i]) < 0)
            goto fail;
          rule->n_args++;
        }
    }

  size_t n_names = names != NULL ? (size_t) cJSON_GetArraySize (names) : 1;
  rule->syscalls = calloc (n_names, sizeof *rule->syscalls);
  if (rule->syscalls == NULL)
    {
      corral_fail (ps->err, ENOMEM, "policy %s", ps->origin);
      goto fail;
    }
  if (name != NULL)
    {
      snprintf (at, sizeof at, "%s.name", where);
      if (add_name (ps, rule, name->valuestring, at) < 0)
        goto fail;
    }
  else
    {
      size_t i = 0;
      for (const cJSON *c = names->child; c != NULL; c = c->next, i++)
        {
          snprintf (at, sizeof at, "%s.names[%zu]", where, i);
          if (add_name (ps, rule, c->valuestring, at) < 0)
            goto fail;
        }
    }

  *applies = true;
  return 0;

fail:
  rule_free (rule);
  return -1;
}

/* ---- the whole profile ---------------------------------------------------------- */

static int
parse_architectures (struct parser *ps, const cJSON *v, struct corral_sc_profile *p)
{
  if (check_string_array (ps, v, "architectures") < 0)
    return -1;
  int n = cJSON_GetArraySize (v);
  if (n == 0)
    return 0;
  p->arches = calloc ((size_t) n, sizeof *p->arches);
  if (p->arches == NULL)
    return corral_fail (ps->err, ENOMEM, "policy %s", ps->origin);
  size_t i = 0;
  for (const cJSON *c = v->child; c != NULL; c = c->next, i++)
    {
      const struct arch_info *a = NULL;
      for (size_t k = 0; k < N_ELEMS (arch_table); k++)
        if (strcmp (c->valuestring, arch_table[k].scmp) == 0)
          a = &arch_table[k];
      if (a == NULL)
        {
          char at[64];
          snprintf (at, sizeof at, "architectures[%zu]", i);
          return pfail (ps, at, "unknown architecture \"%s\"", SHOWN (c->valuestring));
        }
      p->arches[p->n_arches++] = a->token;
    }
  return 0;
}

static int
parse_profile (struct parser *ps, const cJSON *root, struct corral_sc_profile *p)
{
  /* archMap, flags, listenerPath, listenerMetadata: Docker and OCI fields
   * we ignore.  archMap would add the native arch's 32-bit companions; we
   * want exactly the listed arches (the others then get the bad-arch
   * action), and flags only tune logging and speculation mitigations. */
  static const char *const keys[] = { "defaultAction", "defaultErrnoRet", "architectures",
                                      "syscalls", "comment", "archMap", "flags",
                                      "listenerPath", "listenerMetadata" };

  if (!cJSON_IsObject (root))
    return pfail (ps, NULL, "the top level must be an object, not %s", json_type_name (root));
  if (check_keys (ps, root, NULL, keys, N_ELEMS (keys)) < 0)
    return -1;

  const cJSON *def = cJSON_GetObjectItemCaseSensitive (root, "defaultAction");
  const cJSON *def_errno = cJSON_GetObjectItemCaseSensitive (root, "defaultErrnoRet");
  const cJSON *arches = cJSON_GetObjectItemCaseSensitive (root, "architectures");
  const cJSON *syscalls = cJSON_GetObjectItemCaseSensitive (root, "syscalls");
  const cJSON *comment = cJSON_GetObjectItemCaseSensitive (root, "comment");
  const cJSON *flags = cJSON_GetObjectItemCaseSensitive (root, "flags");

  if (def == NULL)
    return pfail (ps, "defaultAction", "missing");
  if (get_action (ps, def, "defaultAction", &p->default_action) < 0)
    return -1;
  if (get_errno_ret (ps, def_errno, p->default_action, "defaultErrnoRet", "defaultAction",
                     &p->default_errno_ret) < 0)
    return -1;
  if (comment != NULL && !cJSON_IsString (comment))
    return pfail (ps, "comment", "must be a string, not %s", json_type_name (comment));
  if (flags != NULL && check_string_array (ps, flags, "flags") < 0)
    return -1;
  if (arches != NULL && parse_architectures (ps, arches, p) < 0)
    return -1;

  if (syscalls == NULL)
    return 0;
  if (!cJSON_IsArray (syscalls))
    return pfail (ps, "syscalls", "must be an array, not %s", json_type_name (syscalls));
  int n = cJSON_GetArraySize (syscalls);
  if (n == 0)
    return 0;
  p->rules = calloc ((size_t) n, sizeof *p->rules);
  if (p->rules == NULL)
    return corral_fail (ps->err, ENOMEM, "policy %s", ps->origin);
  size_t i = 0;
  for (const cJSON *c = syscalls->child; c != NULL; c = c->next, i++)
    {
      bool applies;
      if (parse_rule (ps, c, i, &p->rules[p->n_rules], &applies) < 0)
        return -1;
      if (applies)
        p->n_rules++;
    }
  return 0;
}

void
corral_sc_profile_free (struct corral_sc_profile *p)
{
  if (p == NULL)
    return;
  for (size_t i = 0; i < p->n_rules; i++)
    rule_free (&p->rules[i]);
  free (p->rules);
  free (p->arches);
  free (p);
}

int
corral_sc_profile_parse (const char *text, const char *origin,
                         struct corral_sc_profile **out, struct corral_error *err)
{
  struct parser ps = { .origin = origin, .err = err, .native = seccomp_arch_native () };

  *out = NULL;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithOpts (text, &end, 1);
  if (root == NULL)
    {
      if (end == NULL || end < text)
        return corral_fail (err, ENOMEM, "policy %s: cannot parse", origin);
      unsigned line = 1, col = 1;
      for (const char *s = text; s < end && *s != '\0'; s++)
        {
          if (*s == '\n')
            line++, col = 1;
          else
            col++;
        }
      return corral_fail (err, 0, "policy %s: not valid JSON at line %u, column %u",
                          origin, line, col);
    }

  struct corral_sc_profile *p = calloc (1, sizeof *p);
  if (p == NULL)
    {
      cJSON_Delete (root);
      return corral_fail (err, ENOMEM, "policy %s", origin);
    }
  int r = parse_profile (&ps, root, p);
  cJSON_Delete (root);
  if (r < 0)
    {
      corral_sc_profile_free (p);
      return -1;
    }
  *out = p;
  return 0;
}

int
corral_sc_profile_load_file (const char *path, struct corral_sc_profile **out,
                             struct corral_error *err)
{
  *out = NULL;
  cleanup_free char *text = NULL;
  if (corral_sc_read_file (path, &text, err) < 0)
    return -1;
  return corral_sc_profile_parse (text, path, out, err);
}

int
corral_sc_read_file (const char *path, char **out, struct corral_error *err)
{
  *out = NULL;
  cleanup_fd int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return corral_fail (err, errno, "policy %s: cannot open", path);
  struct stat st;
  if (fstat (fd, &st) < 0)
    return corral_fail (err, errno, "policy %s: cannot stat", path);
  if (!S_ISREG (st.st_mode))
    return corral_fail (err, 0, "policy %s: not a regular file", path);
  if (st.st_size > (off_t) PROFILE_MAX_BYTES)
    return corral_fail (err, 0, "policy %s: larger than %u bytes", path, PROFILE_MAX_BYTES);

  /* One byte more than st_size, to notice a file that grew meanwhile. */
  size_t size = (size_t) st.st_size;
  cleanup_free char *text = malloc (size + 2);
  if (text == NULL)
    return corral_fail (err, ENOMEM, "policy %s", path);
  ssize_t n = corral_read_all (fd, text, size + 1);
  if (n < 0)
    return corral_fail (err, errno, "policy %s: cannot read", path);
  if ((size_t) n != size)
    return corral_fail (err, 0, "policy %s: changed while being read", path);
  text[n] = '\0';
  if (strlen (text) != (size_t) n)
    return corral_fail (err, 0, "policy %s: contains a NUL byte", path);
  *out = text;
  text = NULL;
  return 0;
}
