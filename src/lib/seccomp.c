/* seccomp.c - compile a seccomp profile to BPF, load it, and read the
 * notifications that report a forbidden system call.
 *
 * A policy is compiled twice, once and for all, in the supervisor:
 *
 *   notify (A): kill actions and the bad-arch action become
 *       SECCOMP_RET_USER_NOTIF.  The program blocks in the forbidden call,
 *       the sandbox init reads the notification (so it knows the syscall by
 *       name, not just "SIGSYS"), and kills the program without answering:
 *       the call never runs.
 *   kill (B): the same actions become SECCOMP_RET_KILL_PROCESS.  Used when
 *       no listener can be had: the kernel refuses a second listener in one
 *       filter chain (we are nested inside another sandbox that uses one,
 *       EBUSY) or predates user notification.
 *
 * Both are exported as raw BPF and libseccomp is released, so applying a
 * policy in the forked child is two raw syscalls, with no allocation. */
#include "internal.h"
#include "seccomp-profile.h"
#include "policy-cache.h"
#include "bpf-sim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#ifndef POLICYDIR
#define POLICYDIR "/usr/local/share/corral/policies"
#endif

/* Generated from policies/default.json at build time (default-policy.c),
 * so that `--policy default` works without an installed data directory. */
extern const char corral_default_policy_json[];

/* x86_64 marks x32 system calls with this bit in the number, under the
 * x86_64 audit arch. */
#define X32_SYSCALL_BIT 0x40000000u

#define POLICY_NAME_MAX 64

struct corral_policy {
  char *name;
  struct sock_fprog notify;     /* A; len 0 if it could not be built */
  struct sock_fprog kill;       /* B */
  struct corral_policy *next;   /* in the cache */
};

/* ---- compiling ------------------------------------------------------------ */

static uint32_t
scmp_action (enum corral_sc_action a, int errno_ret, bool notify)
{
  switch (a)
    {
    case CORRAL_SC_ALLOW:
      return SCMP_ACT_ALLOW;
    case CORRAL_SC_ERRNO:
      return SCMP_ACT_ERRNO ((uint32_t) errno_ret);
    case CORRAL_SC_TRAP:
      return SCMP_ACT_TRAP;
    case CORRAL_SC_LOG:
      return SCMP_ACT_LOG;
    case CORRAL_SC_KILL_THREAD:
    case CORRAL_SC_KILL_PROCESS:
      /* Killing one thread leaves the rest of the program running in an
       * undefined state; a verdict is about the whole program. */
      break;
    }
  return notify ? SCMP_ACT_NOTIFY : SCMP_ACT_KILL_PROCESS;
}

/* Adds one rule for one syscall.  libseccomp ANDs the conditions of a rule
 * but refuses two on the same argument; like runc, a rule with such
 * conditions becomes one rule per condition (OR). */
static int
add_rule (scmp_filter_ctx ctx, uint32_t action, int nr, const struct corral_sc_rule *r)
{
  struct scmp_arg_cmp cmp[CORRAL_SC_MAX_ARGS];
  bool dup = false;
  unsigned int used = 0;

  for (size_t i = 0; i < r->n_args; i++)
    {
      if (used & (1u << r->args[i].index))
        dup = true;
      used |= 1u << r->args[i].index;
    }

  if (r->n_args == 0)
    return seccomp_rule_add_array (ctx, action, nr, 0, NULL);
  if (!dup)
    {
      /* n_args <= 6 here: at most one per argument index */
      for (size_t i = 0; i < r->n_args; i++)
        cmp[i] = (struct scmp_arg_cmp) { .arg = r->args[i].index, .op = r->args[i].op,
                                         .datum_a = r->args[i].value,
                                         .datum_b = r->args[i].value_two };
      return seccomp_rule_add_array (ctx, action, nr, (unsigned int) r->n_args, cmp);
    }
  for (size_t i = 0; i < r->n_args; i++)
    {
      cmp[0] = (struct scmp_arg_cmp) { .arg = r->args[i].index, .op = r->args[i].op,
                                       .datum_a = r->args[i].value,
                                       .datum_b = r->args[i].value_two };
      int ret = seccomp_rule_add_array (ctx, action, nr, 1, cmp);
      if (ret < 0)
        return ret;
    }
  return 0;
}

/* Writes the filter as BPF into a memfd and reads it back. */
static int
export_bpf (scmp_filter_ctx ctx, const char *origin, struct sock_fprog *prog,
            struct corral_error *err)
{
  cleanup_fd int fd = memfd_create ("corral-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    return corral_fail (err, errno, "policy %s: memfd_create", origin);
  int r = seccomp_export_bpf (ctx, fd);
  if (r < 0)
    return corral_fail (err, -r, "policy %s: cannot export the filter", origin);
  struct stat st;
  if (fstat (fd, &st) < 0)
    return corral_fail (err, errno, "policy %s: fstat on the filter", origin);
  size_t size = (size_t) st.st_size;
  if (size == 0 || size % sizeof (struct sock_filter) != 0)
    return corral_fail (err, 0, "policy %s: libseccomp exported a filter of %zu bytes",
                        origin, size);
  if (size / sizeof (struct sock_filter) > BPF_MAXINSNS)
    return corral_fail (err, 0, "policy %s: the filter has %zu instructions, more than the "
                        "kernel's %d", origin, size / sizeof (struct sock_filter), BPF_MAXINSNS);
  struct sock_filter *insns = malloc (size);
  if (insns == NULL)
    return corral_fail (err, ENOMEM, "policy %s", origin);
  if (lseek (fd, 0, SEEK_SET) < 0 || corral_read_all (fd, insns, size) != (ssize_t) size)
    {
      int e = errno;
      free (insns);
      return corral_fail (err, e, "policy %s: cannot read back the filter", origin);
    }
  prog->filter = insns;
  prog->len = (unsigned short) (size / sizeof (struct sock_filter));
  return 0;
}

static int
compile_variant (const struct corral_sc_profile *prof, bool notify, const char *origin,
                 struct sock_fprog *prog, struct corral_error *err)
{
  uint32_t def = scmp_action (prof->default_action, prof->default_errno_ret, notify);
  scmp_filter_ctx ctx = seccomp_init (def);
  if (ctx == NULL)
    return corral_fail (err, 0, "policy %s: libseccomp refused defaultAction", origin);

  int ret = -1;
  int r;

  /* A binary tree of syscall numbers instead of a chain: the kernel walks
   * the filter for every syscall number when it is loaded (to build its
   * always-allowed bitmap), so a chain of 60 comparisons costs ~70 us per
   * run and the tree half of that.  libseccomp < 2.5 lacks it: ignored. */
  seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

  /* Calls of an architecture not in the filter (i386 via int 0x80, x32
   * via the x32 bit) are as forbidden as a kill rule.  libseccomp may not
   * take NOTIFY here (older versions); then it is KILL_PROCESS. */
  if (!notify || seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_NOTIFY) < 0)
    {
      r = seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
      if (r < 0)
        {
          corral_fail (err, -r, "policy %s: cannot set the bad-architecture action", origin);
          goto out;
        }
    }

  /* Architectures before rules: libseccomp translates a rule only for the
   * arches already in the filter.  The native one is there from
   * seccomp_init; EEXIST means it was listed too.  EDOM is an arch of the
   * other byte order, which this machine cannot run anyway. */
  for (size_t i = 0; i < prof->n_arches; i++)
    {
      r = seccomp_arch_add (ctx, prof->arches[i]);
      if (r < 0 && r != -EEXIST && r != -EDOM)
        {
          const char *name = corral_sc_arch_name (prof->arches[i]);
          corral_fail (err, -r, "policy %s: architectures[%zu]: libseccomp cannot add %s",
                       origin, i, name ? name : "it");
          goto out;
        }
    }

  for (size_t i = 0; i < prof->n_rules; i++)
    {
      const struct corral_sc_rule *rule = &prof->rules[i];
      uint32_t act = scmp_action (rule->action, rule->errno_ret, notify);
      /* libseccomp refuses a rule that does what the default does (EACCES);
       * runc skips them too, and Docker profiles have some. */
      if (act == def)
        continue;
      for (size_t k = 0; k < rule->n_syscalls; k++)
        {
          r = add_rule (ctx, act, rule->syscalls[k].nr, rule);
          if (r < 0)
            {
              corral_fail (err, -r, "policy %s: syscalls[%zu]: libseccomp refused the rule "
                           "for \"%s\"", origin, rule->index, rule->syscalls[k].name);
              goto out;
            }
        }
    }

  ret = export_bpf (ctx, origin, prog, err);
out:
  seccomp_release (ctx);
  return ret;
}

void
corral_policy_free (struct corral_policy *p)
{
  if (p == NULL)
    return;
  free (p->notify.filter);
  free (p->kill.filter);
  free (p->name);
  free (p);
}

/* The calls the sandbox's child makes under the filter before the program
 * runs (sandbox.c, seccomp.c): the listener made close-on-exec and sent
 * to the init, the sockets closed, the exec, and on its failure the report
 * and the exit.  The init waits in vfork() until the exec: a call of these
 * that the filter stops there (a notification nobody can read yet, a kill)
 * hangs the run or ends it before the program starts, whatever the
 * program is.  Such a policy is refused when it is loaded. */
static const char *
stops_own_calls (const struct sock_fprog *prog, int *fd_out)
{
  static const struct {
    const char *name;
    int nr, fd_arg;
    uint64_t args[6];
  } calls[] = {
    { "fcntl", SYS_fcntl, 0, { 0, F_SETFD, FD_CLOEXEC, 0, 0, 0 } },
    { "sendmsg", SYS_sendmsg, 0, { 0, 0x7ffc00001000, MSG_NOSIGNAL, 0, 0, 0 } },
    { "close", SYS_close, 0, { 0, 0, 0, 0, 0, 0 } },
    { "execve", SYS_execve, -1, { 0x7ffc00002000, 0x7ffc00003000, 0x7ffc00004000, 0, 0, 0 } },
    { "write", SYS_write, 0, { 0, 0x7ffc00005000, 64, 0, 0, 0 } },
    { "exit_group", SYS_exit_group, -1, { 126, 0, 0, 0, 0, 0 } },
  };
  for (size_t i = 0; i < sizeof calls / sizeof *calls; i++)
    {
    int first = -1, stopped = 0, tried = calls[i].fd_arg < 0 ? 1 : 64;
    for (int fd = 0; fd < tried; fd++)
      {
        struct seccomp_data d = { .nr = calls[i].nr, .arch = seccomp_arch_native (),
                                  .instruction_pointer = 0x7f0000001000 };
        memcpy (d.args, calls[i].args, sizeof d.args);
        if (calls[i].fd_arg >= 0)
          d.args[calls[i].fd_arg] = (uint64_t) fd;
        uint32_t act = corral_bpf_run (prog, &d) & SECCOMP_RET_ACTION_FULL;
        if (act == SECCOMP_RET_KILL_PROCESS || act == SECCOMP_RET_KILL_THREAD
            || act == SECCOMP_RET_TRAP || act == SECCOMP_RET_USER_NOTIF)
          {
            if (first < 0)
              first = fd;
            stopped++;
          }
      }
    if (stopped)
      {
        /* the fd is worth naming only when the rule depends on it */
        *fd_out = stopped < tried ? first : -1;
        return calls[i].name;
      }
    }
  return NULL;
}

static int
check_own_calls (const struct corral_policy *p, const char *origin, struct corral_error *err)
{
  const struct sock_fprog *progs[] = { &p->kill, &p->notify };
  for (size_t i = 0; i < 2; i++)
    {
      int fd;
      const char *name = progs[i]->len ? stops_own_calls (progs[i], &fd) : NULL;
      if (name == NULL)
        continue;
      char on[32] = "";
      if (fd >= 0)
        snprintf (on, sizeof on, " (on fd %d)", fd);
      return corral_fail (err, 0, "policy %s: it stops %s%s, which corral itself calls under the "
                          "filter before the program starts: fcntl, sendmsg, close, execve, write "
                          "and exit_group must be allowed, or fail with an errno, else every run "
                          "would hang or end before its program", origin, name, on);
    }
  return 0;
}

static int
compile_profile (const char *name, const struct corral_sc_profile *prof, const char *origin,
                 struct corral_policy **out, struct corral_error *err)
{
  struct corral_policy *p = calloc (1, sizeof *p);
  if (p == NULL || (p->name = strdup (name)) == NULL)
    {
      free (p);
      return corral_fail (err, ENOMEM, "policy %s", origin);
    }
  /* B first: it must build, and its errors are the profile's errors. */
  if (compile_variant (prof, false, origin, &p->kill, err) < 0)
    {
      corral_policy_free (p);
      return -1;
    }
  /* A can only fail over SCMP_ACT_NOTIFY itself (a libseccomp or kernel
   * without user notification): then we live with B alone. */
  struct corral_error ignored = { 0 };
  if (compile_variant (prof, true, origin, &p->notify, &ignored) < 0)
    p->notify = (struct sock_fprog) { 0 };
  if (check_own_calls (p, origin, err) < 0)
    {
      corral_policy_free (p);
      return -1;
    }
  *out = p;
  return 0;
}

int
corral_policy_compile_text (const char *name, const char *text, const char *origin,
                            struct corral_policy **out, struct corral_error *err)
{
  struct corral_sc_profile *prof;
  *out = NULL;
  if (corral_sc_profile_parse (text, origin, &prof, err) < 0)
    return -1;
  int r = compile_profile (name, prof, origin, out, err);
  corral_sc_profile_free (prof);
  return r;
}

void
corral_policy_sizes (const struct corral_policy *p, size_t *notify_len, size_t *kill_len)
{
  *notify_len = p ? p->notify.len : 0;
  *kill_len = p ? p->kill.len : 0;
}

const char *
corral_policy_name (const struct corral_policy *p)
{
  return p ? p->name : "none";
}

/* The text's compile from the disk cache, else compiled and stored there. */
static int
compile_text_cached (const char *name, const char *text, const char *origin,
                     struct corral_policy **out, struct corral_error *err)
{
  struct corral_policy *p = calloc (1, sizeof *p);
  if (p != NULL && (p->name = strdup (name)) != NULL
      && corral_bpf_cache_get (text, &p->notify, &p->kill) == 0)
    {
      *out = p;
      return 0;
    }
  corral_policy_free (p);
  if (corral_policy_compile_text (name, text, origin, out, err) < 0)
    return -1;
  corral_bpf_cache_put (text, &(*out)->notify, &(*out)->kill);
  return 0;
}

static int
compile_file_cached (const char *name, const char *path, struct corral_policy **out,
                     struct corral_error *err)
{
  char *text;
  if (corral_sc_read_file (path, &text, err) < 0)
    return -1;
  int r = compile_text_cached (name, text, path, out, err);
  free (text);
  return r;
}

/* ---- finding and caching -------------------------------------------------- */

/* Compiled policies live as long as the process: runs share them by
 * pointer (struct corral_spec.policy), so they are never freed.  One lock
 * covers lookup and compilation: loads are rare, and cJSON's parser writes
 * a global error pointer. */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static struct corral_policy *cache;

static struct corral_policy *
cache_find (const char *name)
{
  for (struct corral_policy *p = cache; p != NULL; p = p->next)
    if (strcmp (p->name, name) == 0)
      return p;
  return NULL;
}

/* A policy name becomes part of a path: keep it to a plain file name. */
static bool
valid_policy_name (const char *name)
{
  size_t n = strlen (name);
  if (n == 0 || n > POLICY_NAME_MAX || name[0] == '.')
    return false;
  for (size_t i = 0; i < n; i++)
    {
      char c = name[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
            || c == '.' || c == '_' || c == '-'))
        return false;
    }
  return true;
}

/* Loads the profile NAME from the first place that has it.  A file that
 * exists but is broken is an error: falling through to the next place
 * would run programs under a policy nobody asked for. */
static int
load_named (const char *name, struct corral_policy **out, struct corral_error *err)
{
  char looked[2][PATH_MAX + 32];
  size_t n_looked = 0;
  char path[PATH_MAX];
  const char *dirs[2];
  size_t n_dirs = 0;

  const char *env = getenv ("CORRAL_POLICY_DIR");
  if (env != NULL && env[0] != '\0')
    dirs[n_dirs++] = env;
  dirs[n_dirs++] = POLICYDIR;

  for (size_t i = 0; i < n_dirs; i++)
    {
      int n = snprintf (path, sizeof path, "%s/%s.json", dirs[i], name);
      if (n < 0 || (size_t) n >= sizeof path)
        return corral_fail (err, ENAMETOOLONG, "policy \"%s\": %s/%s.json", name, dirs[i], name);
      snprintf (looked[n_looked++], sizeof looked[0], "%s%s", path,
                dirs[i] == env ? " ($CORRAL_POLICY_DIR)" : "");

      struct corral_error e = { 0 };
      if (compile_file_cached (name, path, out, &e) < 0)
        {
          if (e.code == ENOENT)
            continue;
          if (err != NULL)
            *err = e;
          return -1;
        }
      return 0;
    }

  if (strcmp (name, "default") == 0)
    return compile_text_cached (name, corral_default_policy_json, "default (built-in)", out, err);

  if (n_looked == 2)
    corral_fail (err, 0, "policy \"%s\": not found; looked for %s and %s",
                 name, looked[0], looked[1]);
  else
    corral_fail (err, 0, "policy \"%s\": not found; looked for %s", name, looked[0]);
  if (err != NULL)
    err->code = ENOENT;
  return -1;
}

int
corral_policy_load (const char *name_or_path, struct corral_policy **out,
                    struct corral_error *err)
{
  *out = NULL;
  if (name_or_path == NULL || name_or_path[0] == '\0')
    return corral_fail (err, 0, "policy: empty name");
  if (strcmp (name_or_path, "none") == 0)
    return 0;

  pthread_mutex_lock (&load_lock);
  struct corral_policy *p = cache_find (name_or_path);
  if (p != NULL)
    {
      pthread_mutex_unlock (&load_lock);
      *out = p;
      return 0;
    }

  int r;
  if (strchr (name_or_path, '/') != NULL)
    {
      r = compile_file_cached (name_or_path, name_or_path, &p, err);
    }
  else if (!valid_policy_name (name_or_path))
    r = corral_fail (err, 0, "policy \"%.64s\": a policy name may only have letters, "
                     "digits, '.', '_' and '-' (a file path must contain '/')", name_or_path);
  else
    r = load_named (name_or_path, &p, err);

  if (r == 0)
    {
      p->next = cache;
      cache = p;
      *out = p;
    }
  pthread_mutex_unlock (&load_lock);
  return r < 0 ? -1 : 0;
}

/* ---- in the program process ---------------------------------------------- */

void
corral_policy_programs (const struct corral_policy *p, const void **notify, size_t *nlen,
                        const void **kill, size_t *klen)
{
  *notify = *kill = NULL;
  *nlen = *klen = 0;
  if (p == NULL)
    return;
  *notify = p->notify.filter;
  *nlen = p->notify.len * sizeof (struct sock_filter);
  *kill = p->kill.filter;
  *klen = p->kill.len * sizeof (struct sock_filter);
}

int
corral_policy_apply (const struct corral_policy *p, int *listener)
{
  *listener = -1;
  if (p == NULL)
    return 0;

  if (p->notify.len > 0)
    {
      long fd = syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                         SECCOMP_FILTER_FLAG_NEW_LISTENER, &p->notify);
      if (fd >= 0)
        {
          /* The kernel makes it close-on-exec already; the program must
           * never hold its own listener (it could answer "continue"). */
          if (fcntl ((int) fd, F_SETFD, FD_CLOEXEC) < 0)
            {
              int e = errno;
              close ((int) fd);
              return -e; /* the filter is on: the caller must not exec */
            }
          *listener = (int) fd;
          return 0;
        }
      /* EBUSY: a filter above us already has a listener (nested sandbox);
       * EINVAL, ENOSYS: a kernel without SECCOMP_FILTER_FLAG_NEW_LISTENER. */
      if (errno != EBUSY && errno != EINVAL && errno != ENOSYS)
        return -errno;
    }

  if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p->kill) < 0)
    return -errno;
  return 0;
}

/* ---- in the sandbox init --------------------------------------------------- */

int
corral_policy_notif_receive (int listener, char *name, size_t len, pid_t *pid)
{
  /* The kernel's struct may be larger than our header's; the buffer must
   * be as large as the kernel's and zeroed (RECV checks that). */
  union {
    struct seccomp_notif notif;
    char bytes[1024];
  } buf;
  struct seccomp_notif_sizes sizes;

  if (syscall (SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
    return -errno;
  size_t size = sizes.seccomp_notif > sizeof buf.notif ? sizes.seccomp_notif : sizeof buf.notif;
  if (size > sizeof buf)
    return -E2BIG;

  for (;;)
    {
      memset (&buf, 0, size);
      if (ioctl (listener, SECCOMP_IOCTL_NOTIF_RECV, &buf.notif) == 0)
        break;
      if (errno != EINTR)
        return -errno; /* ENOENT: the caller died before we looked */
    }

  /* Deliberately no SECCOMP_IOCTL_NOTIF_SEND: the caller kills the
   * program, and the forbidden call never returns. */
  if (pid != NULL)
    *pid = (pid_t) buf.notif.pid;
  if (name == NULL || len == 0)
    return 0;

  uint32_t arch = buf.notif.data.arch;
  int nr = buf.notif.data.nr;
  uint32_t native = seccomp_arch_native ();
  uint32_t resolve_arch = arch;
  const char *prefix = NULL;

  if (arch == SCMP_ARCH_X86_64 && nr >= 0 && ((uint32_t) nr & X32_SYSCALL_BIT) != 0)
    {
      /* x32 calls arrive under the x86_64 audit arch with the x32 bit set;
       * libseccomp's x32 table strips the bit itself. */
      resolve_arch = SCMP_ARCH_X32;
      prefix = "x32";
    }
  else if (arch != native)
    {
      prefix = corral_sc_arch_name (arch);
      if (prefix == NULL)
        prefix = "unknown-arch";
    }

  char *sys = seccomp_syscall_resolve_num_arch (resolve_arch, nr);
  if (sys != NULL && prefix != NULL)
    snprintf (name, len, "%s:%s", prefix, sys);
  else if (sys != NULL)
    snprintf (name, len, "%s", sys);
  else if (prefix != NULL)
    snprintf (name, len, "%s:syscall %d", prefix, nr);
  else
    snprintf (name, len, "syscall %d", nr);
  free (sys);
  return 0;
}
