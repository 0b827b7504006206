/* cgroup.c - one cgroup (or one per v1 controller) per run.
 *
 * Backends behind one interface:
 *   v2      memory.max + memory.swap.max=0, pids.max, cpu.max (100 ms period),
 *           memory.events oom_kill, memory.peak, cpu.stat, cgroup.kill;
 *   hybrid  the v1 memory/pids/cpu controllers for limits, and a v2 cgroup in
 *           the unified mount (no controllers) for cpu.stat and cgroup.kill;
 *   none    nothing here: the caller falls back to rlimits and says so.
 * Every control file is written through a directory fd we created. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

struct corral_cgroup {
  int v2_fd;                 /* run cgroup in the v2 hierarchy, or -1 */
  char v2_path[600];
  bool v2_mem, v2_pids, v2_cpu, v2_kill, v2_peak;
  int mem1_fd, pids1_fd, cpu1_fd, acct1_fd;
  char mem1_path[600], pids1_path[600], cpu1_path[600], acct1_path[600];
  uint64_t memory_limit;
};

static unsigned run_counter;

static int
make_dir (const char *base, const char *name, char *path, size_t len, int *fd)
{
  snprintf (path, len, "%s/%s", base, name);
  if (mkdir (path, 0755) < 0)
    return -1;
  *fd = open (path, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (*fd < 0)
    {
      int saved = errno;
      rmdir (path);
      errno = saved;
      path[0] = '\0';
      return -1;
    }
  return 0;
}

static int
write_u64 (int dfd, const char *file, uint64_t v)
{
  char buf[32];
  snprintf (buf, sizeof buf, "%" PRIu64, v);
  return corral_write_at (dfd, file, buf);
}

/* Kills what is left in a dead supervisor's cgroup dir/name: cgroup.kill
 * where the kernel has it, else each process of cgroup.procs. */
static void
kill_leftovers (int dir, const char *name)
{
  int cg = openat (dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (cg < 0)
    return;
  if (corral_write_at (cg, "cgroup.kill", "1") < 0)
    {
      int fd = openat (cg, "cgroup.procs", O_RDONLY | O_CLOEXEC);
      FILE *f = fd >= 0 ? fdopen (fd, "r") : NULL;
      int pid;
      while (f && fscanf (f, "%d", &pid) == 1)
        if (pid > 1)
          kill (pid, SIGKILL);
      if (f)
        fclose (f);
      else if (fd >= 0)
        close (fd);
    }
  close (cg);
}

/* A supervisor killed with SIGKILL takes its sandbox along (the init has
 * PR_SET_PDEATHSIG) but cannot remove the run's cgroups.  The next corral
 * in the same place removes corral-PID-N dirs whose PID is gone.  Its
 * sandbox may still be dying (the death signal is on its way, a process
 * is being released): what is left there is killed, and the removal
 * waits up to a second for the last tasks to go. */
/* Whether the corral that made corral-PID-N still runs.  A zombie runs
 * nothing (a killed server's workers may wait a while for the host's pid 1
 * to reap them), unless it is a leader whose other threads live on. */
static bool
owner_running (int pid)
{
  if (kill (pid, 0) < 0 && errno == ESRCH)
    return false;
  char path[64], buf[256];
  snprintf (path, sizeof path, "/proc/%d/stat", pid);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno != ENOENT;
  ssize_t n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return true;
  buf[n] = '\0';
  const char *paren = strrchr (buf, ')');
  if (paren == NULL || paren[1] != ' ' || paren[2] != 'Z')
    return true;
  snprintf (path, sizeof path, "/proc/%d/task", pid);
  DIR *d = opendir (path);
  if (d == NULL)
    return false;
  int tasks = 0;
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    if (de->d_name[0] != '.')
      tasks++;
  closedir (d);
  return tasks > 1;
}

static void
reap_stale (const char *base)
{
  DIR *d = opendir (base);
  if (d == NULL)
    return;
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      int pid;
      unsigned n;
      char tail;
      if (sscanf (de->d_name, "corral-%d-%u%c", &pid, &n, &tail) != 2 || pid <= 0
          || pid == (int) getpid ())
        continue;
      if (owner_running (pid))
        continue;
      if (unlinkat (dirfd (d), de->d_name, AT_REMOVEDIR) == 0 || errno != EBUSY)
        continue;
      kill_leftovers (dirfd (d), de->d_name);
      for (int i = 0; i < 2000; i++)
        {
          if (unlinkat (dirfd (d), de->d_name, AT_REMOVEDIR) == 0 || errno != EBUSY)
            break;
          usleep (500);
        }
    }
  closedir (d);
}

void
corral_cgroup_reap_stale (const struct corral_host *h)
{
  static bool done;
  if (done)
    return;
  done = true;
  const char *bases[] = { h->cg2_base, h->cg1_memory, h->cg1_pids, h->cg1_cpu, h->cg1_cpuacct };
  for (size_t i = 0; i < sizeof bases / sizeof *bases; i++)
    if (bases[i][0])
      reap_stale (bases[i]);
}

void
corral_reap_stale (void)
{
  const struct corral_host *h = corral_host_get ();
  if (h)
    corral_cgroup_reap_stale (h);
}

int
corral_cgroup_create (const struct corral_host *h, const struct corral_spec *spec,
                      struct corral_limit_report *lim, struct corral_cgroup **out,
                      struct corral_error *err)
{
  *out = NULL;
  if (h->cg_mode == CORRAL_CG_NONE && !h->cg2_base[0])
    return 0;
  struct corral_cgroup *cg = calloc (1, sizeof *cg);
  if (cg == NULL)
    return corral_fail (err, ENOMEM, "cgroup");
  cg->v2_fd = cg->mem1_fd = cg->pids1_fd = cg->cpu1_fd = cg->acct1_fd = -1;
  cg->memory_limit = spec->memory;
  char name[64];
  snprintf (name, sizeof name, "corral-%d-%u", (int) getpid (), run_counter++);

  if (h->cg2_base[0])
    {
      if (make_dir (h->cg2_base, name, cg->v2_path, sizeof cg->v2_path, &cg->v2_fd) < 0)
        {
          int e = errno;
          corral_cgroup_destroy (cg);
          return corral_fail (err, e, "create cgroup %s/%s", h->cg2_base, name);
        }
      cg->v2_mem = h->cg2_memory;
      cg->v2_pids = h->cg2_pids;
      cg->v2_cpu = h->cg2_cpu;
      cg->v2_kill = faccessat (cg->v2_fd, "cgroup.kill", F_OK, 0) == 0;
      cg->v2_peak = cg->v2_mem && faccessat (cg->v2_fd, "memory.peak", F_OK, 0) == 0;
    }
  /* A v1 mkdir that fails leaves that limit to the rlimit fallback, which
   * the result names. */
  if (h->cg1_memory[0] && !cg->v2_mem)
    make_dir (h->cg1_memory, name, cg->mem1_path, sizeof cg->mem1_path, &cg->mem1_fd);
  if (h->cg1_pids[0] && !cg->v2_pids && spec->pids != CORRAL_NO_LIMIT)
    make_dir (h->cg1_pids, name, cg->pids1_path, sizeof cg->pids1_path, &cg->pids1_fd);
  /* Each cgroup costs a mkdir and an rmdir: make the v1 cpu one only when
   * a CPU share is asked for. */
  if (h->cg1_cpu[0] && !cg->v2_cpu && spec->cpus_milli != CORRAL_NO_LIMIT)
    make_dir (h->cg1_cpu, name, cg->cpu1_path, sizeof cg->cpu1_path, &cg->cpu1_fd);
  /* cpuacct only matters when there is no v2 cpu.stat to read. */
  if (h->cg1_cpuacct[0] && cg->v2_fd < 0 && strcmp (h->cg1_cpuacct, h->cg1_cpu) != 0)
    make_dir (h->cg1_cpuacct, name, cg->acct1_path, sizeof cg->acct1_path, &cg->acct1_fd);

  /* Limits.  A write that fails is an error, not a silent fallback. */
  const char *what = NULL;
  if (spec->memory != CORRAL_NO_LIMIT)
    {
      if (cg->v2_mem)
        {
          if (write_u64 (cg->v2_fd, "memory.max", spec->memory) < 0)
            what = "memory.max";
          /* Without swap.max=0 the "limit" just swaps. */
          else if (corral_write_at (cg->v2_fd, "memory.swap.max", "0") < 0 && errno != ENOENT)
            what = "memory.swap.max";
          lim[CORRAL_LIM_MEMORY].backend = CORRAL_BE_CG2;
        }
      else if (cg->mem1_fd >= 0)
        {
          if (write_u64 (cg->mem1_fd, "memory.limit_in_bytes", spec->memory) < 0)
            what = "memory.limit_in_bytes";
          else if (h->cg1_memsw
                   && write_u64 (cg->mem1_fd, "memory.memsw.limit_in_bytes", spec->memory) < 0)
            what = "memory.memsw.limit_in_bytes";
          lim[CORRAL_LIM_MEMORY].backend = CORRAL_BE_CG1;
        }
    }
  if (what == NULL && spec->pids != CORRAL_NO_LIMIT)
    {
      if (cg->v2_pids)
        {
          if (write_u64 (cg->v2_fd, "pids.max", spec->pids) < 0)
            what = "pids.max";
          lim[CORRAL_LIM_PIDS].backend = CORRAL_BE_CG2;
        }
      else if (cg->pids1_fd >= 0)
        {
          if (write_u64 (cg->pids1_fd, "pids.max", spec->pids) < 0)
            what = "pids.max";
          lim[CORRAL_LIM_PIDS].backend = CORRAL_BE_CG1;
        }
    }
  if (what == NULL && spec->cpus_milli != CORRAL_NO_LIMIT)
    {
      /* 100 ms period: a 1 s period throttles in visible bursts. */
      uint64_t quota = spec->cpus_milli * 100;
      if (quota < 1000)
        quota = 1000;
      if (cg->v2_cpu)
        {
          char buf[64];
          snprintf (buf, sizeof buf, "%" PRIu64 " 100000", quota);
          if (corral_write_at (cg->v2_fd, "cpu.max", buf) < 0)
            what = "cpu.max";
          lim[CORRAL_LIM_CPUS].backend = CORRAL_BE_CG2;
        }
      else if (cg->cpu1_fd >= 0)
        {
          if (write_u64 (cg->cpu1_fd, "cpu.cfs_period_us", 100000) < 0
              || write_u64 (cg->cpu1_fd, "cpu.cfs_quota_us", quota) < 0)
            what = "cpu.cfs_quota_us";
          lim[CORRAL_LIM_CPUS].backend = CORRAL_BE_CG1;
        }
    }
  if (what)
    {
      int e = errno;
      corral_cgroup_destroy (cg);
      return corral_fail (err, e, "set cgroup limit %s", what);
    }
  *out = cg;
  return 0;
}

int
corral_cgroup_v2_fd (const struct corral_cgroup *cg)
{
  return cg ? cg->v2_fd : -1;
}

int
corral_cgroup_open_join (const struct corral_cgroup *cg, bool with_v2,
                         struct corral_cgroup_join *j, struct corral_error *err)
{
  j->n = 0;
  if (cg == NULL)
    return 0;
  struct { int fd; const char *path, *file; } t[] = {
    { cg->mem1_fd, cg->mem1_path, "tasks" }, { cg->pids1_fd, cg->pids1_path, "tasks" },
    { cg->cpu1_fd, cg->cpu1_path, "tasks" }, { cg->acct1_fd, cg->acct1_path, "tasks" },
    { with_v2 ? cg->v2_fd : -1, cg->v2_path, "cgroup.procs" },
  };
  for (size_t i = 0; i < sizeof t / sizeof *t; i++)
    {
      if (t[i].fd < 0)
        continue;
      int fd = openat (t[i].fd, t[i].file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0)
        {
          int e = errno;
          corral_cgroup_join_close (j);
          return corral_fail (err, e, "open %s/%s", t[i].path, t[i].file);
        }
      j->fd[j->n] = fd;
      j->path[j->n++] = t[i].path;
    }
  return 0;
}

int
corral_cgroup_join_self (const struct corral_cgroup_join *j, struct corral_error *err)
{
  int ret = 0;
  for (size_t i = 0; i < j->n; i++)
    {
      if (ret == 0 && write (j->fd[i], "0", 1) != 1)
        ret = corral_fail (err, errno, "join cgroup %s", j->path[i]);
      close (j->fd[i]);
    }
  return ret;
}

void
corral_cgroup_join_close (struct corral_cgroup_join *j)
{
  for (size_t i = 0; i < j->n; i++)
    close (j->fd[i]);
  j->n = 0;
}

int
corral_cgroup_attach_v2 (struct corral_cgroup *cg, pid_t pid, struct corral_error *err)
{
  if (cg == NULL || cg->v2_fd < 0)
    return 0;
  char buf[32];
  snprintf (buf, sizeof buf, "%d", (int) pid);
  if (corral_write_at (cg->v2_fd, "cgroup.procs", buf) < 0)
    return corral_fail (err, errno, "move sandbox into cgroup %s", cg->v2_path);
  return 0;
}

int
corral_cgroup_cpu_usage_us (struct corral_cgroup *cg, uint64_t *us)
{
  if (cg == NULL)
    return -1;
  if (cg->v2_fd >= 0)
    return corral_read_key_u64 (cg->v2_fd, "cpu.stat", "usage_usec", us);
  uint64_t ns;
  int fd = cg->acct1_fd >= 0 ? cg->acct1_fd : cg->cpu1_fd;
  if (fd >= 0 && corral_read_u64_at (fd, "cpuacct.usage", &ns) == 0)
    {
      *us = ns / 1000;
      return 0;
    }
  return -1;
}

void
corral_cgroup_kill (struct corral_cgroup *cg)
{
  if (cg && cg->v2_fd >= 0 && cg->v2_kill)
    corral_write_at (cg->v2_fd, "cgroup.kill", "1");
}

enum corral_backend
corral_cgroup_stats (struct corral_cgroup *cg, uint64_t *peak, bool *oom)
{
  *peak = 0;
  *oom = false;
  if (cg == NULL)
    return CORRAL_BE_NONE;
  uint64_t v;
  if (cg->v2_mem)
    {
      if (corral_read_key_u64 (cg->v2_fd, "memory.events", "oom_kill", &v) == 0)
        *oom = v > 0;
      if (cg->v2_peak && corral_read_u64_at (cg->v2_fd, "memory.peak", &v) == 0)
        {
          *peak = v;
          return CORRAL_BE_CG2;
        }
      return CORRAL_BE_NONE;
    }
  if (cg->mem1_fd >= 0)
    {
      if (corral_read_key_u64 (cg->mem1_fd, "memory.oom_control", "oom_kill", &v) == 0)
        *oom = v > 0;
      if (corral_read_u64_at (cg->mem1_fd, "memory.max_usage_in_bytes", &v) == 0)
        {
          *peak = v;
          return CORRAL_BE_CG1;
        }
    }
  return CORRAL_BE_NONE;
}

/* rmdir fails with EBUSY while the last tasks are still being released;
 * every process is already reaped here, so this settles within
 * milliseconds. */
static void
remove_dir (int *fd, char *path)
{
  if (*fd >= 0)
    {
      close (*fd);
      *fd = -1;
    }
  if (path[0] == '\0')
    return;
  for (int i = 0; i < 2000; i++)
    {
      if (rmdir (path) == 0 || errno == ENOENT)
        break;
      if (errno != EBUSY)
        break;
      usleep (500);
    }
  path[0] = '\0';
}

void
corral_cgroup_destroy (struct corral_cgroup *cg)
{
  if (cg == NULL)
    return;
  remove_dir (&cg->v2_fd, cg->v2_path);
  remove_dir (&cg->mem1_fd, cg->mem1_path);
  remove_dir (&cg->pids1_fd, cg->pids1_path);
  remove_dir (&cg->cpu1_fd, cg->cpu1_path);
  remove_dir (&cg->acct1_fd, cg->acct1_path);
  free (cg);
}
