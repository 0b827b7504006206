/* host.c - what this host offers: cgroup mode and writable controllers,
 * user namespaces, seccomp, CLONE_INTO_CGROUP.  Probed once per process
 * and cached; `corral doctor` prints the same facts. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/seccomp.h>
#include <linux/sched.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static bool
is_cgroup2 (const char *path)
{
  struct statfs sf;
  return statfs (path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

/* /proc/self/cgroup and /proc/self/mountinfo, read once per probe. */
struct proc_text {
  char cgroup[4096];
  char mountinfo[16384];
};

static void
read_proc_text (struct proc_text *t)
{
  t->cgroup[0] = t->mountinfo[0] = '\0';
  int fd = open ("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
  if (fd >= 0)
    {
      ssize_t n = corral_read_all (fd, t->cgroup, sizeof t->cgroup - 1);
      t->cgroup[n > 0 ? n : 0] = '\0';
      close (fd);
    }
  fd = open ("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  if (fd >= 0)
    {
      ssize_t n = corral_read_all (fd, t->mountinfo, sizeof t->mountinfo - 1);
      t->mountinfo[n > 0 ? n : 0] = '\0';
      close (fd);
    }
}

/* Our cgroup path in the v2 hierarchy ("0::/path") or for a v1 controller. */
static int
self_cgroup (const struct proc_text *t, const char *controller, char *out, size_t len)
{
  char line[1024];
  for (const char *p = t->cgroup; *p;)
    {
      size_t l = strcspn (p, "\n");
      snprintf (line, sizeof line, "%.*s", (int) l, p);
      p += l + (p[l] == '\n');
      char *c1 = strchr (line, ':');
      char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
      if (c2 == NULL)
        continue;
      *c2 = '\0';
      const char *ctrls = c1 + 1;
      bool match = false;
      if (controller == NULL)
        match = *ctrls == '\0' && strncmp (line, "0:", 2) == 0;
      else
        {
          char tmp[256];
          snprintf (tmp, sizeof tmp, "%s", ctrls);
          char *save = NULL;
          for (char *tok = strtok_r (tmp, ",", &save); tok; tok = strtok_r (NULL, ",", &save))
            if (strcmp (tok, controller) == 0)
              match = true;
        }
      if (match)
        {
          snprintf (out, len, "%s", c2 + 1);
          return 0;
        }
    }
  return -1;
}

/* Mount point of the v1 hierarchy holding controller, joined with our path
 * in it.  mountinfo fields: id parent maj:min root mountpoint opts ... - fstype src superopts */
static int
v1_dir (const struct proc_text *t, const char *controller, char *out, size_t len)
{
  char self[512];
  if (self_cgroup (t, controller, self, sizeof self) < 0)
    return -1;
  char line[2048];
  for (const char *p = t->mountinfo; *p;)
    {
      size_t l = strcspn (p, "\n");
      snprintf (line, sizeof line, "%.*s", (int) l, p);
      p += l + (p[l] == '\n');
      char root[512], mnt[512], fstype[64], superopts[512];
      char *dash = strstr (line, " - ");
      if (dash == NULL)
        continue;
      if (sscanf (line, "%*s %*s %*s %511s %511s", root, mnt) != 2)
        continue;
      if (sscanf (dash + 3, "%63s %*s %511s", fstype, superopts) != 2)
        continue;
      if (strcmp (fstype, "cgroup") != 0)
        continue;
      bool has = false;
      char *save = NULL;
      for (char *tok = strtok_r (superopts, ",", &save); tok; tok = strtok_r (NULL, ",", &save))
        if (strcmp (tok, controller) == 0)
          has = true;
      if (!has)
        continue;
      size_t rl = strlen (root);
      const char *rest;
      if (strcmp (root, "/") == 0)
        rest = self;
      else if (strncmp (self, root, rl) == 0 && (self[rl] == '/' || self[rl] == '\0'))
        rest = self + rl;
      else
        continue;
      snprintf (out, len, "%s%s", mnt, strcmp (rest, "/") == 0 ? "" : rest);
      return 0;
    }
  return -1;
}

/* A directory is usable only if we can really create a child in it (a
 * read-only or undelegated /sys/fs/cgroup is common). */
static bool light_probe;

static bool
can_mkdir_child (const char *dir)
{
  /* A run's own mkdir is the real test (and failing it is reported); the
   * per-run probe only checks access, to keep fixed setup off the hot path. */
  if (light_probe)
    return access (dir, W_OK) == 0;
  char probe[600];
  snprintf (probe, sizeof probe, "%s/corral-probe-%d", dir, (int) getpid ());
  if (mkdir (probe, 0755) < 0)
    return false;
  rmdir (probe);
  return true;
}

static bool
file_exists_in (const char *dir, const char *name)
{
  char p[700];
  snprintf (p, sizeof p, "%s/%s", dir, name);
  return access (p, F_OK) == 0;
}

static bool
has_word (const char *list, const char *word)
{
  size_t wl = strlen (word);
  for (const char *p = list; (p = strstr (p, word)) != NULL; p += wl)
    if ((p == list || p[-1] == ' ' || p[-1] == '+') && (p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\n'))
      return true;
  return false;
}

/* Pure v2: runs go in children of our cgroup, which needs the controllers
 * in its cgroup.subtree_control.  The "no internal processes" rule forbids
 * that while processes sit in it; if we are the only one there (a
 * Delegate=yes service), move ourselves into a leaf first, as systemd
 * documents for delegated units. */
static void
probe_v2 (struct corral_host *h, const struct proc_text *t, const char *mnt)
{
  char self[512];
  if (self_cgroup (t, NULL, self, sizeof self) < 0)
    return;
  /* A corral that moved itself into a leaf (below) left its delegated
   * cgroup to run cgroups; the processes it starts later (corral serve's
   * workers) sit in that leaf with it and use the same parent. */
  size_t sl = strlen (self);
  if (sl > 18 && strcmp (self + sl - 18, "/corral-supervisor") == 0)
    self[sl - 18 == 0 ? 1 : sl - 18] = '\0';
  char base[600];
  snprintf (base, sizeof base, "%s%s", mnt, strcmp (self, "/") == 0 ? "" : self);
  if (!can_mkdir_child (base))
    return;
  snprintf (h->cg2_base, sizeof h->cg2_base, "%s", base);

  int dfd = open (base, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dfd < 0)
    return;
  char avail[512] = "", sub[512] = "";
  corral_read_at (dfd, "cgroup.controllers", avail, sizeof avail);
  corral_read_at (dfd, "cgroup.subtree_control", sub, sizeof sub);
  const char *want[] = { "memory", "pids", "cpu" };
  bool missing = false;
  for (int i = 0; i < 3; i++)
    if (has_word (avail, want[i]) && !has_word (sub, want[i]))
      missing = true;
  if (missing)
    {
      char req[64] = "";
      for (int i = 0; i < 3; i++)
        if (has_word (avail, want[i]))
          {
            strcat (req, req[0] ? " +" : "+");
            strcat (req, want[i]);
          }
      if (corral_write_at (dfd, "cgroup.subtree_control", req) < 0 && errno == EBUSY
          && strcmp (self, "/") != 0)
        {
          /* Processes live in our cgroup.  Only when we are alone there may
           * we move ourselves to a leaf; never move anyone else. */
          char procs[256];
          ssize_t n = corral_read_at (dfd, "cgroup.procs", procs, sizeof procs);
          char mine[32];
          snprintf (mine, sizeof mine, "%d\n", (int) getpid ());
          if (n > 0 && strcmp (procs, mine) == 0)
            {
              char leaf[700];
              snprintf (leaf, sizeof leaf, "%s/corral-supervisor", base);
              if ((mkdir (leaf, 0755) == 0 || errno == EEXIST))
                {
                  int lfd = open (leaf, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
                  if (lfd >= 0)
                    {
                      char pid[32];
                      snprintf (pid, sizeof pid, "%d", (int) getpid ());
                      if (corral_write_at (lfd, "cgroup.procs", pid) == 0)
                        corral_write_at (dfd, "cgroup.subtree_control", req);
                      close (lfd);
                    }
                }
            }
        }
      corral_read_at (dfd, "cgroup.subtree_control", sub, sizeof sub);
    }
  h->cg2_memory = has_word (sub, "memory");
  h->cg2_pids = has_word (sub, "pids");
  h->cg2_cpu = has_word (sub, "cpu");
  close (dfd);
  if (!light_probe)
    {
      /* cgroup.kill and memory.peak exist only in non-root cgroups: look at
       * a fresh child.  (A run checks its own cgroup instead.) */
      char probe[700];
      snprintf (probe, sizeof probe, "%s/corral-probe-%d", base, (int) getpid ());
      if (mkdir (probe, 0755) == 0)
        {
          h->cg2_memory_peak = file_exists_in (probe, "memory.peak");
          h->cg2_kill = file_exists_in (probe, "cgroup.kill");
          rmdir (probe);
        }
    }
}

static void
probe_v1 (struct corral_host *h, const struct proc_text *t)
{
  struct { const char *name; char *dst; } c[] = {
    { "memory", h->cg1_memory }, { "pids", h->cg1_pids },
    { "cpu", h->cg1_cpu }, { "cpuacct", h->cg1_cpuacct },
  };
  for (size_t i = 0; i < sizeof c / sizeof *c; i++)
    {
      char dir[512];
      /* Controllers already handled by v2 are not looked for in v1. */
      if ((i == 0 && h->cg2_memory) || (i == 1 && h->cg2_pids) || (i >= 2 && h->cg2_cpu))
        continue;
      if (v1_dir (t, c[i].name, dir, sizeof dir) == 0 && can_mkdir_child (dir))
        snprintf (c[i].dst, 512, "%s", dir);
    }
  if (h->cg1_memory[0])
    h->cg1_memsw = file_exists_in (h->cg1_memory, "memory.memsw.limit_in_bytes");
}

/* clone3(CLONE_INTO_CGROUP) into a throwaway v2 child: the child exits at
 * once.  Old kernels answer E2BIG/EINVAL/ENOSYS. */
static bool
probe_clone_into_cgroup (const char *base)
{
  char dir[700];
  snprintf (dir, sizeof dir, "%s/corral-probe-c%d", base, (int) getpid ());
  if (mkdir (dir, 0755) < 0)
    return false;
  bool ok = false;
  int fd = open (dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (fd >= 0)
    {
      struct clone_args ca = { 0 };
      ca.flags = CLONE_INTO_CGROUP;
      ca.exit_signal = SIGCHLD;
      ca.cgroup = (uint64_t) fd;
      long pid = syscall (SYS_clone3, &ca, sizeof ca);
      if (pid == 0)
        _exit (0);
      if (pid > 0)
        {
          ok = true;
          waitpid ((pid_t) pid, NULL, 0);
        }
      close (fd);
    }
  for (int i = 0; i < 100 && rmdir (dir) < 0 && errno == EBUSY; i++)
    usleep (1000);
  return ok;
}

static void
probe_userns (struct corral_host *h)
{
  char buf[64];
  int fd;
  h->userns = false;
  h->is_root = geteuid () == 0;
  if ((fd = open ("/proc/sys/kernel/unprivileged_userns_clone", O_RDONLY | O_CLOEXEC)) >= 0)
    {
      ssize_t n = read (fd, buf, sizeof buf - 1);
      close (fd);
      if (n > 0 && buf[0] == '0' && !h->is_root)
        {
          snprintf (h->userns_problem, sizeof h->userns_problem,
                    "kernel.unprivileged_userns_clone=0: run `sysctl -w kernel.unprivileged_userns_clone=1`");
          return;
        }
    }
  if ((fd = open ("/proc/sys/user/max_user_namespaces", O_RDONLY | O_CLOEXEC)) >= 0)
    {
      ssize_t n = read (fd, buf, sizeof buf - 1);
      close (fd);
      if (n > 0 && buf[0] == '0' && buf[1] == '\n')
        {
          snprintf (h->userns_problem, sizeof h->userns_problem,
                    "user.max_user_namespaces=0: run `sysctl -w user.max_user_namespaces=15000`");
          return;
        }
    }
  /* The real test: a child that unshares a user namespace. */
  pid_t pid = fork ();
  if (pid == 0)
    _exit (unshare (CLONE_NEWUSER) == 0 ? 0 : 1);
  int st = 0;
  if (pid > 0 && waitpid (pid, &st, 0) == pid && WIFEXITED (st) && WEXITSTATUS (st) == 0)
    {
      h->userns = true;
      return;
    }
  bool apparmor = false;
  if ((fd = open ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", O_RDONLY | O_CLOEXEC)) >= 0)
    {
      ssize_t n = read (fd, buf, sizeof buf - 1);
      close (fd);
      apparmor = n > 0 && buf[0] == '1';
    }
  if (apparmor)
    snprintf (h->userns_problem, sizeof h->userns_problem,
              "AppArmor restricts unprivileged user namespaces: install an AppArmor profile "
              "granting `userns,` to the corral binary, or run `sysctl -w "
              "kernel.apparmor_restrict_unprivileged_userns=0`");
  else
    snprintf (h->userns_problem, sizeof h->userns_problem,
              "unshare(CLONE_NEWUSER) is refused (inside a container whose seccomp profile "
              "blocks it?): run corral as root or allow user namespaces");
}

/* overlayfs inside a user namespace (kernel >= 5.11): a child enters new
 * user and mount namespaces, mounts a tmpfs over /tmp (its own view only)
 * and an overlay of two directories in it. */
static bool
probe_overlay_userns (void)
{
  pid_t pid = fork ();
  if (pid == 0)
    {
      uid_t uid = geteuid ();
      gid_t gid = getegid ();
      if (unshare (CLONE_NEWUSER | CLONE_NEWNS) < 0)
        _exit (1);
      char map[64];
      int fd = open ("/proc/self/setgroups", O_WRONLY);
      if (fd >= 0)
        {
          if (write (fd, "deny", 4) < 0)
            _exit (1);
          close (fd);
        }
      snprintf (map, sizeof map, "0 %u 1", (unsigned) uid);
      if ((fd = open ("/proc/self/uid_map", O_WRONLY)) < 0 || write (fd, map, strlen (map)) < 0)
        _exit (1);
      close (fd);
      snprintf (map, sizeof map, "0 %u 1", (unsigned) gid);
      if ((fd = open ("/proc/self/gid_map", O_WRONLY)) < 0 || write (fd, map, strlen (map)) < 0)
        _exit (1);
      close (fd);
      if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0
          || mount ("tmpfs", "/tmp", "tmpfs", 0, "size=1m") < 0)
        _exit (1);
      if (mkdir ("/tmp/l", 0755) < 0 || mkdir ("/tmp/u", 0755) < 0 || mkdir ("/tmp/w", 0755) < 0
          || mkdir ("/tmp/m", 0755) < 0)
        _exit (1);
      _exit (mount ("overlay", "/tmp/m", "overlay", 0,
                    "lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w,userxattr") == 0 ? 0 : 1);
    }
  int st = 0;
  return pid > 0 && waitpid (pid, &st, 0) == pid && WIFEXITED (st) && WEXITSTATUS (st) == 0;
}

/* full: also the checks that fork (user namespaces, clone3).  A run does
 * without them: it tries clone3 and user namespaces directly and falls
 * back or explains on failure, so the per-run cost stays low. */
static void
probe (struct corral_host *h, bool full)
{
  light_probe = !full;
  memset (h, 0, sizeof *h);
  h->is_root = geteuid () == 0;
  struct utsname u;
  if (uname (&u) == 0)
    snprintf (h->kernel, sizeof h->kernel, "%s %s", u.sysname, u.release);

  const char *v2mnt = NULL;
  if (is_cgroup2 ("/sys/fs/cgroup"))
    v2mnt = "/sys/fs/cgroup";
  else if (is_cgroup2 ("/sys/fs/cgroup/unified"))
    v2mnt = "/sys/fs/cgroup/unified";
  struct proc_text *t = malloc (sizeof *t);
  if (t != NULL)
    {
      read_proc_text (t);
      if (v2mnt)
        probe_v2 (h, t, v2mnt);
      probe_v1 (h, t);
      free (t);
    }

  bool any_v1 = h->cg1_memory[0] || h->cg1_pids[0] || h->cg1_cpu[0];
  bool any_v2 = h->cg2_memory || h->cg2_pids || h->cg2_cpu;
  if (any_v1)
    h->cg_mode = h->cg2_base[0] ? CORRAL_CG_HYBRID : CORRAL_CG_V1;
  else if (any_v2 || h->cg2_base[0])
    h->cg_mode = CORRAL_CG_V2;
  else
    h->cg_mode = CORRAL_CG_NONE;
  if (full)
    {
      if (h->cg2_base[0])
        h->clone_into_cgroup = probe_clone_into_cgroup (h->cg2_base);
      probe_userns (h);
      h->overlay_userns = h->userns && probe_overlay_userns ();
    }
  else
    {
      h->clone_into_cgroup = h->cg2_base[0] != '\0';
      h->userns = true;
    }
  h->seccomp = prctl (PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
  unsigned int act = SECCOMP_RET_USER_NOTIF;
  h->seccomp_notify = syscall (SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &act) == 0;
}

int
corral_host_probe (struct corral_host *h, struct corral_error *err)
{
  (void) err;
  probe (h, true);
  return 0;
}

/* Explains why a user namespace could not be created (after a failure). */
const char *
corral_host_userns_problem (void)
{
  static struct corral_host h;
  probe_userns (&h);
  return h.userns_problem[0] ? h.userns_problem : "user namespaces are not available";
}

const struct corral_host *
corral_host_get (void)
{
  static struct corral_host host;
  static bool done;
  if (!done)
    {
      probe (&host, false);
      done = true;
    }
  return &host;
}
