/* cmd-doctor.c - `corral doctor [--json]`: what this host offers, what corral
 * will use, and the exact remedy for each missing piece. */
#include "config.h"
#include "cli.h"
#include "corral.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
mode_name (enum corral_cgroup_mode m)
{
  switch (m)
    {
    case CORRAL_CG_V2: return "v2";
    case CORRAL_CG_HYBRID: return "hybrid";
    case CORRAL_CG_V1: return "v1";
    default: return "none";
    }
}

static const char *
limit_backend (const struct corral_host *h, const char *ctl)
{
  if (strcmp (ctl, "memory") == 0)
    return h->cg2_memory ? "cgroup-v2" : h->cg1_memory[0] ? "cgroup-v1" : "rlimit (RLIMIT_AS)";
  if (strcmp (ctl, "pids") == 0)
    return h->cg2_pids ? "cgroup-v2" : h->cg1_pids[0] ? "cgroup-v1" : "rlimit (RLIMIT_NPROC)";
  return h->cg2_cpu ? "cgroup-v2" : h->cg1_cpu[0] ? "cgroup-v1" : "none";
}

int
cmd_doctor (int argc, char **argv)
{
  bool json = false;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--json") == 0)
        json = true;
      else if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          puts ("Usage: corral doctor [--json]\n\n"
                "Probe this host: cgroup mode and controllers, user namespaces, seccomp,\n"
                "CLONE_INTO_CGROUP, memory.peak, overlayfs in user namespaces.  Each missing\n"
                "piece is printed with its remedy.  Exit 0 when `corral run` can work here.");
          return 0;
        }
      else
        {
          cli_error ("doctor", "unknown argument `%s`", argv[i]);
          return EXIT_USAGE;
        }
    }
  struct corral_host h;
  struct corral_error err = { 0 };
  corral_host_probe (&h, &err);

  /* Remedies, one sentence each. */
  const char *problems[8];
  int np = 0;
  if (h.cg_mode == CORRAL_CG_NONE)
    problems[np++] = "no writable cgroup: limits fall back to rlimits; run as root, or under "
                     "`systemd-run --user --scope -p Delegate=yes corral ...`";
  else if (h.cg_mode == CORRAL_CG_V2 && !(h.cg2_memory && h.cg2_pids && h.cg2_cpu))
    problems[np++] = "cgroup v2 controllers memory/pids/cpu are not all delegated to our cgroup: "
                     "run corral in a cgroup of its own (a systemd unit or scope with Delegate=yes)";
  if (!h.userns)
    problems[np++] = h.userns_problem;
  if (!h.seccomp)
    problems[np++] = "seccomp is not available: the kernel needs CONFIG_SECCOMP_FILTER";
  if (h.seccomp && !h.seccomp_notify)
    problems[np++] = "seccomp user notification is missing (kernel < 5.0): SYS verdicts will not "
                     "name the system call";
  bool usable = h.is_root || h.userns;
  /* Root's runs: a user namespace each, owned by a uid of the range,
   * which no user of the host may have. */
  uid_t owner_first = 0;
  unsigned owner_count = 0;
  struct corral_error oerr = { 0 };
  char owner_msg[512] = "";
  if (h.is_root && corral_owner_range (&owner_first, &owner_count, &oerr) < 0)
    {
      snprintf (owner_msg, sizeof owner_msg, "%s", oerr.msg);
      problems[np++] = owner_msg;
      owner_count = 0;
      usable = false;
    }
  else if (h.is_root)
    {
      FILE *pw = fopen ("/etc/passwd", "r");
      char line[1024];
      while (pw && fgets (line, sizeof line, pw))
        {
          char *f = strchr (line, ':');
          f = f ? strchr (f + 1, ':') : NULL;
          unsigned long id = f ? strtoul (f + 1, NULL, 10) : 0;
          if (f && id >= owner_first && id - owner_first < owner_count)
            {
              snprintf (owner_msg, sizeof owner_msg, "user %.*s (uid %lu) is in CORRAL_OWNER_UIDS, the "
                        "range whose uids own root's runs' user namespaces: set CORRAL_OWNER_UIDS "
                        "to uids no user has", (int) strcspn (line, ":"), line, id);
              problems[np++] = owner_msg;
              break;
            }
        }
      if (pw)
        fclose (pw);
    }

  if (json)
    {
      cJSON *o = cJSON_CreateObject ();
      cJSON_AddStringToObject (o, "kernel", h.kernel);
      cJSON_AddBoolToObject (o, "root", h.is_root);
      cJSON *cg = cJSON_AddObjectToObject (o, "cgroup");
      cJSON_AddStringToObject (cg, "mode", mode_name (h.cg_mode));
      cJSON_AddStringToObject (cg, "v2_base", h.cg2_base);
      cJSON *ctl = cJSON_AddArrayToObject (cg, "v2_controllers");
      if (h.cg2_memory) cJSON_AddItemToArray (ctl, cJSON_CreateString ("memory"));
      if (h.cg2_pids) cJSON_AddItemToArray (ctl, cJSON_CreateString ("pids"));
      if (h.cg2_cpu) cJSON_AddItemToArray (ctl, cJSON_CreateString ("cpu"));
      cJSON *v1 = cJSON_AddObjectToObject (cg, "v1");
      cJSON_AddStringToObject (v1, "memory", h.cg1_memory);
      cJSON_AddStringToObject (v1, "pids", h.cg1_pids);
      cJSON_AddStringToObject (v1, "cpu", h.cg1_cpu);
      cJSON_AddStringToObject (v1, "cpuacct", h.cg1_cpuacct);
      cJSON_AddBoolToObject (cg, "kill", h.cg2_kill);
      cJSON_AddBoolToObject (cg, "memory_peak", h.cg2_memory_peak);
      cJSON_AddBoolToObject (cg, "clone_into_cgroup", h.clone_into_cgroup);
      cJSON *lb = cJSON_AddObjectToObject (o, "limits");
      cJSON_AddStringToObject (lb, "memory", limit_backend (&h, "memory"));
      cJSON_AddStringToObject (lb, "pids", limit_backend (&h, "pids"));
      cJSON_AddStringToObject (lb, "cpus", limit_backend (&h, "cpu"));
      cJSON_AddBoolToObject (o, "user_namespaces", h.userns);
      cJSON_AddBoolToObject (o, "seccomp", h.seccomp);
      cJSON_AddBoolToObject (o, "seccomp_notify", h.seccomp_notify);
      cJSON_AddBoolToObject (o, "overlay_in_userns", h.overlay_userns);
      if (h.is_root && owner_count)
        {
          cJSON *ow = cJSON_AddObjectToObject (o, "userns_owner_uids");
          cJSON_AddNumberToObject (ow, "first", owner_first);
          cJSON_AddNumberToObject (ow, "last", (double) owner_first + owner_count - 1);
        }
      cJSON *pr = cJSON_AddArrayToObject (o, "problems");
      for (int i = 0; i < np; i++)
        cJSON_AddItemToArray (pr, cJSON_CreateString (problems[i]));
      cJSON_AddBoolToObject (o, "usable", usable);
      char *s = cJSON_Print (o);
      puts (s);
      free (s);
      cJSON_Delete (o);
    }
  else
    {
      printf ("kernel:              %s\n", h.kernel);
      printf ("running as:          %s\n", h.is_root ? "root" : "unprivileged user");
      printf ("cgroup mode:         %s\n", mode_name (h.cg_mode));
      if (h.cg2_base[0])
        printf ("  v2 run cgroups in: %s (controllers:%s%s%s%s)\n", h.cg2_base,
                h.cg2_memory ? " memory" : "", h.cg2_pids ? " pids" : "", h.cg2_cpu ? " cpu" : "",
                h.cg2_memory || h.cg2_pids || h.cg2_cpu ? "" : " none");
      if (h.cg1_memory[0]) printf ("  v1 memory:        %s\n", h.cg1_memory);
      if (h.cg1_pids[0]) printf ("  v1 pids:          %s\n", h.cg1_pids);
      if (h.cg1_cpu[0]) printf ("  v1 cpu:           %s\n", h.cg1_cpu);
      printf ("  cgroup.kill:       %s\n", h.cg2_kill ? "yes" : "no");
      printf ("  memory.peak:       %s\n", h.cg2_memory_peak ? "yes" : "no");
      printf ("  CLONE_INTO_CGROUP: %s\n", h.clone_into_cgroup ? "yes" : "no");
      printf ("limits enforced by:  memory %s, pids %s, cpus %s\n", limit_backend (&h, "memory"),
              limit_backend (&h, "pids"), limit_backend (&h, "cpu"));
      printf ("user namespaces:     %s\n", h.userns ? "yes" : "no");
      printf ("seccomp:             %s (user notification: %s)\n", h.seccomp ? "yes" : "no",
              h.seccomp_notify ? "yes" : "no");
      printf ("overlay in userns:   %s\n", h.overlay_userns ? "yes" : "no");
      if (h.is_root && owner_count)
        printf ("root's runs:         a user namespace each, owned by a uid of %u-%u "
                "(CORRAL_OWNER_UIDS)\n", (unsigned) owner_first, (unsigned) (owner_first + owner_count - 1));
      for (int i = 0; i < np; i++)
        printf ("problem: %s\n", problems[i]);
      printf ("verdict:             %s\n", usable ? "corral run works here" : "corral run cannot work here");
    }
  return usable ? 0 : 1;
}
