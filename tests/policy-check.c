/* policy-check.c - tests of the seccomp profile parser, the policy lookup
 * and the compiled default policy, run for real in forked children.
 *
 * Usage: policy-check [path/to/default.json]
 * (default: $srcdir/policies/default.json, else policies/default.json).
 * Needs root or user namespaces only for nothing: it sets no_new_privs
 * and loads filters, which any user may do.  Prints TAP; exits 1 on any
 * failure. */
#include "internal.h"
#include "seccomp-profile.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

#define X32_BIT 0x40000000L

extern char **environ;
extern const char corral_default_policy_json[]; /* default-policy.c */

static int n_tests, n_failed;

static void report (bool ok, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
report (bool ok, const char *fmt, ...)
{
  va_list ap;
  n_tests++;
  if (!ok)
    n_failed++;
  printf ("%s %d - ", ok ? "ok" : "not ok", n_tests);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
  fflush (stdout);
}

static char tmpdir[] = "/tmp/policy-check.XXXXXX";

static void
write_file (const char *path, const char *data, size_t len)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || corral_write_all (fd, data, len) != (ssize_t) len)
    {
      perror (path);
      exit (2);
    }
  close (fd);
}

static char *
read_text (const char *path)
{
  FILE *f = fopen (path, "re");
  if (f == NULL)
    return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc (cap);
  size_t r;
  while (buf != NULL && (r = fread (buf + n, 1, cap - n - 1, f)) > 0)
    {
      n += r;
      if (cap - n - 1 == 0)
        {
          char *nb = realloc (buf, cap *= 2);
          if (nb == NULL)
            free (buf);
          buf = nb;
        }
    }
  fclose (f);
  if (buf != NULL)
    buf[n] = '\0';
  return buf;
}

/* ---- parser: profiles that must be refused -------------------------------- */

#define OK_HEAD "{\"defaultAction\":\"SCMP_ACT_ALLOW\","

static const struct bad_case {
  const char *what;
  const char *json;     /* NULL: special (see below) */
  const char *expect;   /* substring of the message, after the file name */
} bad_cases[] = {
  { "invalid JSON", "{\"defaultAction\": ", "not valid JSON at line 1" },
  { "empty file", "", "not valid JSON" },
  { "trailing garbage", OK_HEAD "\"syscalls\":[]} x", "not valid JSON" },
  { "top level not an object", "[1,2]", "the top level must be an object, not an array" },
  { "missing defaultAction", "{}", "defaultAction: missing" },
  { "defaultAction not a string", "{\"defaultAction\":1}", "defaultAction: must be a string" },
  { "unknown defaultAction", "{\"defaultAction\":\"SCMP_ACT_FOO\"}",
    "defaultAction: unknown action \"SCMP_ACT_FOO\"" },
  { "misspelt top-level key", OK_HEAD "\"syscals\":[]}", "unknown key \"syscals\"" },
  { "duplicate key", "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"defaultAction\":\"SCMP_ACT_LOG\"}",
    "duplicate key \"defaultAction\"" },
  { "defaultErrnoRet without ERRNO", OK_HEAD "\"defaultErrnoRet\":1}",
    "defaultErrnoRet: only valid when defaultAction is SCMP_ACT_ERRNO" },
  { "architectures not an array", OK_HEAD "\"architectures\":\"SCMP_ARCH_X86_64\"}",
    "architectures: must be an array of strings" },
  { "unknown architecture", OK_HEAD "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_Z80\"]}",
    "architectures[1]: unknown architecture \"SCMP_ARCH_Z80\"" },
  { "syscalls not an array", OK_HEAD "\"syscalls\":{}}", "syscalls: must be an array, not an object" },
  { "rule not an object", OK_HEAD "\"syscalls\":[1]}", "syscalls[0]: must be an object, not a number" },
  { "unknown rule action",
    OK_HEAD "\"syscalls\":[{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_LOG\"},"
    "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_FOO\"}]}",
    "syscalls[1].action: unknown action \"SCMP_ACT_FOO\"" },
  { "rule without action", OK_HEAD "\"syscalls\":[{\"names\":[\"getpid\"]}]}",
    "syscalls[0].action: missing" },
  { "rule without names", OK_HEAD "\"syscalls\":[{\"action\":\"SCMP_ACT_LOG\"}]}",
    "syscalls[0]: has no \"names\"" },
  { "empty names", OK_HEAD "\"syscalls\":[{\"names\":[],\"action\":\"SCMP_ACT_LOG\"}]}",
    "syscalls[0].names: empty" },
  { "name not a string", OK_HEAD "\"syscalls\":[{\"names\":[\"getpid\",7],\"action\":\"SCMP_ACT_LOG\"}]}",
    "syscalls[0].names: element 1 must be a string" },
  { "unknown name in a kill rule",
    OK_HEAD "\"syscalls\":[{\"names\":[\"getpid\",\"no_such_call\"],\"action\":\"SCMP_ACT_KILL\"}]}",
    "syscalls[0].names[1]: unknown system call \"no_such_call\" in a kill rule" },
  { "foreign-arch name in a kill rule",
    OK_HEAD "\"syscalls\":[{\"names\":[\"umount\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"}]}",
    "syscalls[0].names[0]: \"umount\" is not a system call on" },
  { "unknown rule key",
    OK_HEAD "\"syscalls\":[{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_LOG\",\"arg\":[]}]}",
    "syscalls[0]: unknown key \"arg\"" },
  { "errnoRet negative",
    OK_HEAD "\"syscalls\":[{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":-1}]}",
    "syscalls[0].errnoRet: must be an integer from 0 to 4094" },
  { "errnoRet too large",
    OK_HEAD "\"syscalls\":[{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":5000}]}",
    "syscalls[0].errnoRet: must be an integer from 0 to 4094" },
  { "errnoRet with ALLOW",
    "{\"defaultAction\":\"SCMP_ACT_LOG\",\"syscalls\":[{\"names\":[\"getpid\"],"
    "\"action\":\"SCMP_ACT_ALLOW\",\"errnoRet\":1}]}",
    "syscalls[0].errnoRet: only valid when action is SCMP_ACT_ERRNO" },
  { "args not an array",
    OK_HEAD "\"syscalls\":[{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_LOG\",\"args\":{}}]}",
    "syscalls[0].args: must be an array" },
  { "arg index 6",
    OK_HEAD "\"syscalls\":[{\"names\":[\"ioctl\"],\"action\":\"SCMP_ACT_LOG\","
    "\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
    "syscalls[0].args[0].index: 6 is not a syscall argument (0 to 5)" },
  { "arg index not a number",
    OK_HEAD "\"syscalls\":[{\"names\":[\"ioctl\"],\"action\":\"SCMP_ACT_LOG\","
    "\"args\":[{\"index\":\"0\",\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
    "syscalls[0].args[0].index: must be a number, not a string" },
  { "unknown operator",
    OK_HEAD "\"syscalls\":[{\"names\":[\"ioctl\"],\"action\":\"SCMP_ACT_LOG\","
    "\"args\":[{\"index\":1,\"value\":1,\"op\":\"SCMP_CMP_FOO\"}]}]}",
    "syscalls[0].args[0].op: unknown operator \"SCMP_CMP_FOO\"" },
  { "missing operator",
    OK_HEAD "\"syscalls\":[{\"names\":[\"ioctl\"],\"action\":\"SCMP_ACT_LOG\","
    "\"args\":[{\"index\":1,\"value\":1}]}]}",
    "syscalls[0].args[0].op: missing" },
  { "value not exact in JSON",
    OK_HEAD "\"syscalls\":[{\"names\":[\"ioctl\"],\"action\":\"SCMP_ACT_LOG\","
    "\"args\":[{\"index\":1,\"value\":18446744073709551615,\"op\":\"SCMP_CMP_EQ\"}]}]}",
    "syscalls[0].args[0].value: must be an integer from 0 to 9007199254740992" },
  { "value not an integer",
    OK_HEAD "\"syscalls\":[{\"names\":[\"ioctl\"],\"action\":\"SCMP_ACT_LOG\","
    "\"args\":[{\"index\":1,\"valueTwo\":1.5,\"op\":\"SCMP_CMP_EQ\"}]}]}",
    "syscalls[0].args[0].valueTwo: must be an integer" },
  { "includes not an object",
    OK_HEAD "\"syscalls\":[{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_LOG\",\"includes\":[]}]}",
    "syscalls[0].includes: must be an object, not an array" },
  { "includes.caps not strings",
    OK_HEAD "\"syscalls\":[{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_LOG\","
    "\"includes\":{\"caps\":[1]}}]}",
    "syscalls[0].includes.caps: element 0 must be a string" },
  { "comment not a string",
    OK_HEAD "\"syscalls\":[{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_LOG\",\"comment\":{}}]}",
    "syscalls[0].comment: must be a string" },
  { "both name and names",
    OK_HEAD "\"syscalls\":[{\"name\":\"getpid\",\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_LOG\"}]}",
    "syscalls[0]: has both \"name\" and \"names\"" },
  { "a kill rule on sendmsg, which passes the listener",
    OK_HEAD "\"syscalls\":[{\"names\":[\"sendmsg\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"}]}",
    "it stops sendmsg, which corral itself calls" },
  { "a notify-to-be kill on close of fd 5 only",
    OK_HEAD "\"syscalls\":[{\"names\":[\"close\"],\"action\":\"SCMP_ACT_KILL\","
    "\"args\":[{\"index\":0,\"value\":5,\"op\":\"SCMP_CMP_EQ\"}]}]}",
    "it stops close (on fd 5)" },
  { "a trap on execve",
    OK_HEAD "\"syscalls\":[{\"names\":[\"execve\"],\"action\":\"SCMP_ACT_TRAP\"}]}",
    "it stops execve, which" },
  { "a kill-by-default allowlist without fcntl",
    "{\"defaultAction\":\"SCMP_ACT_KILL_PROCESS\",\"syscalls\":[{\"names\":[\"read\",\"sendmsg\","
    "\"close\",\"execve\",\"write\",\"exit_group\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
    "it stops fcntl" },
  { "NUL byte in the file", NULL, "contains a NUL byte" },
  { "a directory", NULL, "not a regular file" },
};

static void
test_bad_profiles (void)
{
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
    {
      const struct bad_case *c = &bad_cases[i];
      char path[256];
      snprintf (path, sizeof path, "%s/bad-%02zu.json", tmpdir, i);
      if (c->json != NULL)
        write_file (path, c->json, strlen (c->json));
      else if (strstr (c->expect, "NUL") != NULL)
        write_file (path, OK_HEAD "\"comment\":\"a\0b\"}", sizeof (OK_HEAD "\"comment\":\"a\0b\"}") - 1);
      else if (mkdir (path, 0755) < 0)
        {
          perror (path);
          exit (2);
        }

      struct corral_error err = { 0 };
      struct corral_policy *p = (struct corral_policy *) 1;
      int r = corral_policy_load (path, &p, &err);
      char prefix[300];
      snprintf (prefix, sizeof prefix, "policy %s: ", path);
      bool ok = r == -1 && p == NULL && strncmp (err.msg, prefix, strlen (prefix)) == 0
                && strstr (err.msg, c->expect) != NULL;
      report (ok, "bad profile refused (%s): %s", c->what, r == -1 ? err.msg : "accepted");
      if (!ok)
        printf ("# expected a message with \"%s\"\n", c->expect);
    }
}

/* ---- parser: profiles that must load ------------------------------------------ */

/* The Docker features we accept: archMap (ignored), old "name", includes
 * and excludes with caps/arches/minKernel, names this arch lacks in a
 * non-kill rule, a rule doing what the default does, several conditions on
 * one argument, the 32-bit arches with an argument rule on socket. */
static const char docker_like[] =
  "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,"
  " \"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\",\"subArchitectures\":null}],"
  " \"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\",\"SCMP_ARCH_PPC64\"],"
  " \"flags\":[\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],"
  " \"syscalls\":["
  "  {\"names\":[\"read\",\"write\",\"chown32\",\"s390_runtime_instr\",\"no_such_call\"],"
  "   \"action\":\"SCMP_ACT_ALLOW\",\"comment\":\"\"},"
  "  {\"name\":\"getpid\",\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"minKernel\":\"4.8\"}},"
  "  {\"names\":[\"arch_prctl\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"arches\":[\"amd64\",\"x32\"]}},"
  "  {\"names\":[\"mount\",\"no_such_call\"],\"action\":\"SCMP_ACT_KILL\",\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
  "  {\"names\":[\"riscv_flush_icache\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"arches\":[\"riscv64\"]}},"
  "  {\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\","
  "   \"args\":[{\"index\":0,\"value\":2114060288,\"valueTwo\":0,\"op\":\"SCMP_CMP_MASKED_EQ\"}],"
  "   \"excludes\":{\"caps\":[\"CAP_SYS_ADMIN\"],\"arches\":[\"s390\",\"s390x\"]}},"
  "  {\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\","
  "   \"args\":[{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"},{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]},"
  "  {\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\","
  "   \"args\":[{\"index\":0,\"value\":40,\"op\":\"SCMP_CMP_NE\"}]},"
  "  {\"names\":[\"sethostname\"],\"action\":\"SCMP_ACT_ERRNO\"},"
  "  {\"names\":[\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38},"
  "  {\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_TRAP\"},"
  "  {\"names\":[\"gettid\"],\"action\":\"SCMP_ACT_LOG\"},"
  "  {\"names\":[\"kcmp\"],\"action\":\"SCMP_ACT_KILL_THREAD\"}"
  " ]}";

static void
test_good_profiles (const char *default_path)
{
  struct corral_error err = { 0 };
  struct corral_policy *p = NULL;
  size_t a, b;

  int r = corral_policy_load (default_path, &p, &err);
  report (r == 0 && p != NULL, "default profile %s loads%s%s", default_path,
          r < 0 ? ": " : "", r < 0 ? err.msg : "");
  if (p != NULL)
    {
      corral_policy_sizes (p, &a, &b);
      report (a > 0 && b > 0, "both programs built (notify %zu, kill %zu instructions)", a, b);
      report (strcmp (corral_policy_name (p), default_path) == 0, "a path policy is named by its path");
      struct corral_policy *again = NULL;
      r = corral_policy_load (default_path, &again, &err);
      report (r == 0 && again == p, "a second load comes from the cache");
    }

  struct corral_policy *d = NULL;
  r = corral_policy_compile_text ("docker-like", docker_like, "docker-like", &d, &err);
  report (r == 0 && d != NULL, "Docker-style profile compiles%s%s", r < 0 ? ": " : "",
          r < 0 ? err.msg : "");
  corral_policy_free (d);

  static const char allowlist[] =
    "{\"defaultAction\":\"SCMP_ACT_KILL_PROCESS\",\"syscalls\":[{\"names\":[\"read\",\"write\","
    "\"exit_group\",\"fcntl\",\"sendmsg\",\"close\",\"execve\"],\"action\":\"SCMP_ACT_ALLOW\"}]}";
  d = NULL;
  r = corral_policy_compile_text ("allowlist", allowlist, "allowlist", &d, &err);
  report (r == 0 && d != NULL, "allow-list profile with a kill default compiles%s%s",
          r < 0 ? ": " : "", r < 0 ? err.msg : "");
  corral_policy_free (d);

  p = (struct corral_policy *) 1;
  r = corral_policy_load ("none", &p, &err);
  report (r == 0 && p == NULL, "\"none\" gives no policy");
  report (strcmp (corral_policy_name (NULL), "none") == 0, "the name of no policy is \"none\"");
  int listener = 7;
  report (corral_policy_apply (NULL, &listener) == 0 && listener == -1,
          "applying no policy does nothing");
}

/* ---- lookup by name ------------------------------------------------------------- */

static void
test_lookup (void)
{
  struct corral_error err = { 0 };
  struct corral_policy *p = (struct corral_policy *) 1;
  char path[300];

  setenv ("CORRAL_POLICY_DIR", tmpdir, 1);

  int r = corral_policy_load ("no-such-policy", &p, &err);
  snprintf (path, sizeof path, "%s/no-such-policy.json", tmpdir);
  report (r == -1 && p == NULL && err.code == ENOENT && strstr (err.msg, path) != NULL
          && strstr (err.msg, "/policies/no-such-policy.json") != NULL,
          "unknown name fails, naming where it looked: %s", err.msg);

  r = corral_policy_load ("a b", &p, &err);
  report (r == -1 && strstr (err.msg, "a policy name may only have") != NULL,
          "a name with odd characters is refused: %s", err.msg);

  r = corral_policy_load ("", &p, &err);
  report (r == -1, "an empty name is refused: %s", err.msg);

  snprintf (path, sizeof path, "%s/no-such-file.json", tmpdir);
  r = corral_policy_load (path, &p, &err);
  report (r == -1 && err.code == ENOENT && strstr (err.msg, "cannot open") != NULL,
          "a missing path fails: %s", err.msg);

  static const char mine[] =
    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"acct\"],"
    "\"action\":\"SCMP_ACT_ERRNO\"}]}";
  snprintf (path, sizeof path, "%s/mine.json", tmpdir);
  write_file (path, mine, strlen (mine));
  r = corral_policy_load ("mine", &p, &err);
  report (r == 0 && p != NULL && strcmp (corral_policy_name (p), "mine") == 0,
          "NAME is found in $CORRAL_POLICY_DIR%s%s", r < 0 ? ": " : "", r < 0 ? err.msg : "");

  /* a broken default.json where we look first must not be skipped */
  snprintf (path, sizeof path, "%s/default.json", tmpdir);
  write_file (path, "{\"defaultAction\":\"SCMP_ACT_NOPE\"}", 33);
  r = corral_policy_load ("default", &p, &err);
  report (r == -1 && strstr (err.msg, path) != NULL && strstr (err.msg, "SCMP_ACT_NOPE") != NULL,
          "a broken default.json in $CORRAL_POLICY_DIR is an error, not skipped: %s", err.msg);
  unlink (path);

  r = corral_policy_load ("default", &p, &err);
  report (r == 0 && p != NULL && strcmp (corral_policy_name (p), "default") == 0,
          "\"default\" loads (installed or built-in copy)%s%s", r < 0 ? ": " : "",
          r < 0 ? err.msg : "");

  unsetenv ("CORRAL_POLICY_DIR");

  struct corral_policy *b = NULL;
  r = corral_policy_compile_text ("default", corral_default_policy_json, "default (built-in)",
                                  &b, &err);
  report (r == 0, "the built-in copy of the default compiles%s%s", r < 0 ? ": " : "",
          r < 0 ? err.msg : "");
  corral_policy_free (b);
}

/* ---- robustness: mangled profiles ------------------------------------------------ */

static void
test_mangled (const char *default_path)
{
  char *text = read_text (default_path);
  if (text == NULL)
    {
      report (false, "read %s for mangling", default_path);
      return;
    }
  size_t len = strlen (text);
  if (len == 0)
    {
      report (false, "mangled copies: the default policy text is empty");
      free (text);
      return;
    }
  char *buf = malloc (len + 1);
  unsigned accepted = 0, total = 0;
  unsigned seed = 12345;
  static const char junk[] = "{}[]\",:0-9eE.\\ \ntfnSCMP_";

  /* every prefix (in steps), then random byte edits */
  for (size_t cut = 0; cut < len; cut += 13)
    {
      memcpy (buf, text, cut);
      buf[cut] = '\0';
      struct corral_policy *p = NULL;
      struct corral_error err = { 0 };
      if (corral_policy_compile_text ("m", buf, "mangled", &p, &err) == 0)
        accepted++;
      corral_policy_free (p);
      total++;
    }
  for (int i = 0; i < 3000; i++)
    {
      memcpy (buf, text, len + 1);
      int edits = 1 + i % 4;
      for (int e = 0; e < edits; e++)
        {
          seed = seed * 1103515245u + 12345u;
          size_t at = (seed >> 8) % len;
          seed = seed * 1103515245u + 12345u;
          buf[at] = junk[(seed >> 8) % (sizeof junk - 1)];
        }
      struct corral_policy *p = NULL;
      struct corral_error err = { 0 };
      if (corral_policy_compile_text ("m", buf, "mangled", &p, &err) == 0)
        accepted++;
      else if (err.msg[0] == '\0')
        report (false, "mangled profile %d refused without a message", i);
      corral_policy_free (p);
      total++;
    }
  report (true, "%u mangled profiles handled (%u still valid)", total, accepted);
  free (buf);
  free (text);
}

/* ---- the default policy, for real ---------------------------------------------- */

/* Child processes report each check as a line "1 text" or "0 text" on this
 * pipe; the parent turns them into TAP lines. */
static int check_fd = -1;

static void child_check (bool ok, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
child_check (bool ok, const char *fmt, ...)
{
  char line[600];
  va_list ap;
  int n = snprintf (line, sizeof line, "%d ", ok ? 1 : 0);
  va_start (ap, fmt);
  n += vsnprintf (line + n, sizeof line - (size_t) n - 1, fmt, ap);
  va_end (ap);
  if ((size_t) n > sizeof line - 2)
    n = sizeof line - 2;
  line[n++] = '\n';
  corral_write_all (check_fd, line, (size_t) n);
}

typedef void (*child_fn) (const struct corral_policy *p);

static void
run_child (const char *what, child_fn fn, const struct corral_policy *p)
{
  int fds[2];
  if (pipe2 (fds, O_CLOEXEC) < 0)
    {
      perror ("pipe2");
      exit (2);
    }
  fflush (stdout);
  pid_t pid = fork ();
  if (pid < 0)
    {
      perror ("fork");
      exit (2);
    }
  if (pid == 0)
    {
      close (fds[0]);
      check_fd = fds[1];
      if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_check (false, "PR_SET_NO_NEW_PRIVS: %s", strerror (errno));
      else
        fn (p);
      _exit (0);
    }
  close (fds[1]);

  char buf[16384];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof buf - 1 && (r = read (fds[0], buf + n, sizeof buf - 1 - n)) != 0)
    {
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        break;
      n += (size_t) r;
    }
  buf[n] = '\0';
  close (fds[0]);
  int status;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;

  for (char *line = buf, *next; *line != '\0'; line = next)
    {
      next = strchr (line, '\n');
      if (next == NULL)
        next = line + strlen (line);
      else
        *next++ = '\0';
      report (line[0] == '1', "%s: %s", what, line + 2);
    }
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    report (false, "%s: the test process itself died (status 0x%x)", what, status);
}

static int
apply_or_report (const struct corral_policy *p, bool want_listener)
{
  int listener = -1;
  int r = corral_policy_apply (p, &listener);
  if (r < 0)
    {
      child_check (false, "corral_policy_apply: %s", strerror (-r));
      return -2;
    }
  if (want_listener)
    {
      int fl = listener >= 0 ? fcntl (listener, F_GETFD) : -1;
      child_check (listener >= 0 && fl >= 0 && (fl & FD_CLOEXEC),
                   "policy applied with a close-on-exec listener (fd %d)", listener);
    }
  return listener;
}

/* What a grandchild does that the policy must stop. */
enum forbidden {
  DO_KEYCTL, DO_X32_GETPID, DO_I386_GETPID, DO_CLONE_NEWUSER, DO_UNSHARE, DO_MOUNT,
  DO_PTRACE, DO_TIOCSTI_HIGH_BITS, DO_BPF,
};

static long
i386_getpid (void)
{
  long ret = 20; /* __NR_getpid on i386 */
  __asm__ volatile ("int $0x80" : "+a"(ret) : : "memory", "cc", "r8", "r9", "r10", "r11");
  return ret;
}

static void
do_forbidden (enum forbidden what)
{
  char c = 'x';
  switch (what)
    {
    case DO_KEYCTL:
      syscall (SYS_keyctl, 0, 0, 0, 0);
      break;
    case DO_X32_GETPID:
      syscall (X32_BIT | SYS_getpid);
      break;
    case DO_I386_GETPID:
      i386_getpid ();
      break;
    case DO_CLONE_NEWUSER:
      syscall (SYS_clone, (long) (CLONE_NEWUSER | SIGCHLD), 0L, 0L, 0L, 0L);
      break;
    case DO_UNSHARE:
      unshare (CLONE_NEWNS);
      break;
    case DO_MOUNT:
      mount ("none", "/tmp", "tmpfs", 0, NULL);
      break;
    case DO_PTRACE:
      syscall (SYS_ptrace, 0L, 0L, 0L, 0L); /* PTRACE_TRACEME */
      break;
    case DO_TIOCSTI_HIGH_BITS:
      syscall (SYS_ioctl, 0L, (1L << 32) | TIOCSTI, &c);
      break;
    case DO_BPF:
      syscall (SYS_bpf, 0L, 0L, 0L);
      break;
    }
  _exit (42); /* the call returned: the policy failed */
}

/* Forks a grandchild doing `what`; expects a notification naming `name`
 * on the listener, then kills the grandchild as the sandbox init would. */
static void
expect_notification (int listener, enum forbidden what, const char *name)
{
  pid_t g = fork ();
  if (g < 0)
    {
      child_check (false, "fork: %s", strerror (errno));
      return;
    }
  if (g == 0)
    do_forbidden (what);

  int status = 0;
  bool exited = false;
  int ready = 0;
  for (int i = 0; i < 100 && ready == 0 && !exited; i++)
    {
      struct pollfd pfd = { .fd = listener, .events = POLLIN };
      ready = poll (&pfd, 1, 50);
      if (ready == 0 && waitpid (g, &status, WNOHANG) == g)
        exited = true;
    }
  if (exited)
    {
      bool no_ia32 = what == DO_I386_GETPID && WIFSIGNALED (status) && WTERMSIG (status) == SIGSEGV;
      child_check (no_ia32, "%s: %s without a notification (status 0x%x)%s", name,
                   WIFEXITED (status) && WEXITSTATUS (status) == 42 ? "the call returned"
                                                                    : "the process ended",
                   status, no_ia32 ? " # SKIP the kernel runs no i386 code" : "");
      return;
    }
  if (ready <= 0)
    {
      kill (g, SIGKILL);
      waitpid (g, &status, 0);
      child_check (false, "%s: no notification within 5 s", name);
      return;
    }

  char got[64] = "";
  pid_t who = 0;
  int r = corral_policy_notif_receive (listener, got, sizeof got, &who);
  kill (g, SIGKILL);
  while (waitpid (g, &status, 0) < 0 && errno == EINTR)
    ;
  if (r < 0)
    {
      child_check (false, "%s: corral_policy_notif_receive: %s", name, strerror (-r));
      return;
    }
  child_check (strcmp (got, name) == 0 && who == g && WIFSIGNALED (status)
               && WTERMSIG (status) == SIGKILL,
               "%s: notification names \"%s\" from pid %d (expected %d), stopped until killed",
               name, got, (int) who, (int) g);
}

static void
child_notify (const struct corral_policy *p)
{
  int listener = apply_or_report (p, true);
  if (listener < 0)
    return;
  expect_notification (listener, DO_KEYCTL, "keyctl");
  expect_notification (listener, DO_CLONE_NEWUSER, "clone");
  expect_notification (listener, DO_UNSHARE, "unshare");
  expect_notification (listener, DO_MOUNT, "mount");
  expect_notification (listener, DO_PTRACE, "ptrace");
  expect_notification (listener, DO_BPF, "bpf");
  expect_notification (listener, DO_TIOCSTI_HIGH_BITS, "ioctl");
  expect_notification (listener, DO_X32_GETPID, "x32:getpid");
  expect_notification (listener, DO_I386_GETPID, "i386:getpid");
  close (listener);
}

static void *
thread_main (void *arg)
{
  return arg;
}

static void
check_errno (const char *what, long r, int want)
{
  int e = errno;
  child_check (r == -1 && e == want, "%s fails with %s (got %ld, %s)", what, strerror (want), r,
               r == -1 ? strerror (e) : "no error");
}

static void
child_errno (const struct corral_policy *p)
{
  int listener = apply_or_report (p, false);
  if (listener < -1)
    return;

  struct clone_args ca = { .exit_signal = SIGCHLD };
  check_errno ("clone3", syscall (SYS_clone3, &ca, sizeof ca), ENOSYS);
  char params[120] = { 0 };
  check_errno ("io_uring_setup", syscall (SYS_io_uring_setup, 4, params), ENOSYS);
  check_errno ("io_uring_enter", syscall (SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0), ENOSYS);
  check_errno ("userfaultfd", syscall (SYS_userfaultfd, 0), ENOSYS);
  struct perf_event_attr attr = { .size = sizeof attr };
  check_errno ("perf_event_open", syscall (SYS_perf_event_open, &attr, 0, -1, -1, 0), EACCES);
  check_errno ("socket(AF_VSOCK)", socket (AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT);
  check_errno ("socket(AF_VSOCK | 1<<32)", syscall (SYS_socket, (1L << 32) | AF_VSOCK, SOCK_STREAM, 0),
               EAFNOSUPPORT);
  /* we are root with every capability here: EPERM can only be the policy */
  check_errno ("chroot as root", chroot ("/"), EPERM);
  check_errno ("settimeofday as root", syscall (SYS_settimeofday, NULL, NULL), EPERM);

  /* and what ordinary programs do still works */
  int fd = socket (AF_UNIX, SOCK_STREAM, 0);
  child_check (fd >= 0, "socket(AF_UNIX) works");
  if (fd >= 0)
    close (fd);
  pthread_t t;
  int r = pthread_create (&t, NULL, thread_main, NULL);
  if (r == 0)
    pthread_join (t, NULL);
  child_check (r == 0, "pthread_create works (falls back from clone3): %s", strerror (r));

  pid_t pid;
  char *argv[] = { "sh", "-c", "exit 7", NULL };
  r = posix_spawn (&pid, "/bin/sh", NULL, NULL, argv, environ);
  int status = 0;
  if (r == 0)
    waitpid (pid, &status, 0);
  child_check (r == 0 && WIFEXITED (status) && WEXITSTATUS (status) == 7,
               "posix_spawn of /bin/sh works (status 0x%x, %s)", status, strerror (r));

  pid = fork ();
  if (pid == 0)
    {
      char *py[] = { "python3", "-c",
                     "import threading, subprocess, os\n"
                     "t = threading.Thread(target=os.getpid); t.start(); t.join()\n"
                     "subprocess.run(['true'], check=True)\n"
                     "raise SystemExit(5)", NULL };
      execvp (py[0], py);
      _exit (127);
    }
  status = 0;
  waitpid (pid, &status, 0);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 127)
    child_check (true, "python3 runs # SKIP no python3");
  else
    child_check (WIFEXITED (status) && WEXITSTATUS (status) == 5,
                 "python3 with a thread and a subprocess runs (status 0x%x)", status);
}

/* Nested case: a filter with a listener is already there, so the kernel
 * refuses a second one (EBUSY) and the kill variant must be loaded. */
static void
child_fallback (const struct corral_policy *p)
{
  struct sock_filter allow = BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = { .len = 1, .filter = &allow };
  long outer = syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (outer < 0)
    {
      child_check (false, "outer filter with a listener: %s", strerror (errno));
      return;
    }
  int listener = 7;
  int r = corral_policy_apply (p, &listener);
  child_check (r == 0 && listener == -1, "policy applied without a listener (r=%d, listener %d)",
               r, listener);
  if (r < 0)
    return;

  static const struct {
    enum forbidden what;
    const char *name;
  } cases[] = { { DO_KEYCTL, "keyctl" }, { DO_CLONE_NEWUSER, "clone" }, { DO_X32_GETPID, "x32:getpid" } };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      pid_t g = fork ();
      if (g == 0)
        do_forbidden (cases[i].what);
      int status = 0;
      waitpid (g, &status, 0);
      child_check (WIFSIGNALED (status) && WTERMSIG (status) == SIGSYS,
                   "%s kills the process with SIGSYS (status 0x%x)", cases[i].name, status);
    }
}

int
main (int argc, char **argv)
{
  char default_path[4096];
  const char *srcdir = getenv ("srcdir");
  if (argc > 1)
    snprintf (default_path, sizeof default_path, "%s", argv[1]);
  else if (srcdir != NULL)
    snprintf (default_path, sizeof default_path, "%s/policies/default.json", srcdir);
  else
    snprintf (default_path, sizeof default_path, "policies/default.json");

  if (mkdtemp (tmpdir) == NULL)
    {
      perror ("mkdtemp");
      return 2;
    }

  test_bad_profiles ();
  test_good_profiles (default_path);
  test_lookup ();
  test_mangled (default_path);

  struct corral_policy *p = NULL;
  struct corral_error err = { 0 };
  if (corral_policy_load (default_path, &p, &err) == 0 && p != NULL)
    {
      run_child ("notify", child_notify, p);
      run_child ("errno", child_errno, p);
      run_child ("fallback", child_fallback, p);
    }
  else
    report (false, "default policy for the run tests: %s", err.msg);

  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system (cmd) != 0)
    fprintf (stderr, "could not remove %s\n", tmpdir);

  printf ("1..%d\n", n_tests);
  return n_failed == 0 ? 0 : 1;
}
