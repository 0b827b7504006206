/* spec.c - run spec defaults, names of verdicts/backends/limits, and the
 * size and duration parsers shared by every front end. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <strings.h>

void
corral_spec_init (struct corral_spec *spec)
{
  memset (spec, 0, sizeof *spec);
  spec->stdin_fd = -1;
  spec->net = CORRAL_NET_LOOPBACK;
  spec->userns = -1;
  spec->uid = (uid_t) -1;
  spec->gid = (gid_t) -1;
  spec->cwd = "/sandbox";
  spec->hostname = "corral";
  spec->tmp_size = 64ull << 20;
  spec->shm_size = 64ull << 20;
  spec->sandbox_size = 64ull << 20;
  spec->root_size = 256ull << 20;
  /* Defaults bound an untrusted program even when the caller sets nothing;
   * documented in corral-run(1). */
  spec->memory = 1ull << 30;
  spec->pids = 256;
  spec->cpus_milli = CORRAL_NO_LIMIT;
  spec->time_ms = CORRAL_NO_LIMIT;
  spec->wall_ms = 60000;
  spec->output = 1ull << 20;
  spec->fsize = 64ull << 20;
  spec->nofile = 1024;
  spec->stack = 8ull << 20;
}

const char *
corral_status_name (enum corral_status s)
{
  static const char *const names[] = { "OK", "RE", "SIG", "TLE", "MLE", "OLE", "SYS", "IE" };
  return (unsigned) s < sizeof names / sizeof *names ? names[s] : "IE";
}

const char *
corral_backend_name (enum corral_backend b)
{
  static const char *const names[] = { "none", "cgroup-v2", "cgroup-v1", "rlimit",
                                       "timer", "pipe", "tmpfs" };
  return (unsigned) b < sizeof names / sizeof *names ? names[b] : "none";
}

const char *
corral_limit_name (enum corral_limit_id id)
{
  static const char *const names[] = { "memory", "pids", "cpus", "time", "wall",
                                       "output", "fsize", "nofile", "stack" };
  return (unsigned) id < CORRAL_LIM_COUNT ? names[id] : "?";
}

int
corral_parse_size (const char *s, uint64_t *out)
{
  if (s == NULL || *s == '\0')
    return -1;
  if (strcasecmp (s, "unlimited") == 0 || strcasecmp (s, "none") == 0)
    {
      *out = CORRAL_NO_LIMIT;
      return 0;
    }
  if (!isdigit ((unsigned char) s[0]) && s[0] != '.')
    return -1;
  char *end;
  errno = 0;
  double v = strtod (s, &end);
  if (errno != 0 || end == s || !isfinite (v) || v < 0)
    return -1;
  double mult = 1;
  switch (tolower ((unsigned char) *end))
    {
    case '\0': break;
    case 'k': mult = 1024.0; end++; break;
    case 'm': mult = 1024.0 * 1024; end++; break;
    case 'g': mult = 1024.0 * 1024 * 1024; end++; break;
    case 't': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: return -1;
    }
  /* Accept "64M", "64MB", "64MiB", "64k". */
  if (mult > 1)
    {
      if (strcasecmp (end, "ib") == 0 || strcasecmp (end, "b") == 0)
        end += strlen (end);
    }
  else if (strcasecmp (end, "b") == 0)
    end++;
  if (*end != '\0')
    return -1;
  double bytes = v * mult;
  if (bytes >= 18446744073709551615.0)
    return -1;
  *out = (uint64_t) bytes;
  return 0;
}

int
corral_parse_duration_ms (const char *s, uint64_t *out)
{
  if (s == NULL || *s == '\0')
    return -1;
  if (strcasecmp (s, "unlimited") == 0 || strcasecmp (s, "none") == 0)
    {
      *out = CORRAL_NO_LIMIT;
      return 0;
    }
  if (!isdigit ((unsigned char) s[0]) && s[0] != '.')
    return -1;
  char *end;
  errno = 0;
  double v = strtod (s, &end);
  if (errno != 0 || end == s || !isfinite (v) || v < 0)
    return -1;
  double ms;
  if (*end == '\0' || strcmp (end, "s") == 0)
    ms = v * 1000.0;
  else if (strcmp (end, "ms") == 0)
    ms = v;
  else if (strcmp (end, "m") == 0 || strcmp (end, "min") == 0)
    ms = v * 60000.0;
  else
    return -1;
  if (ms > 1e15)
    return -1;
  *out = (uint64_t) llround (ms);
  return 0;
}
