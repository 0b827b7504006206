/* owner.c - a host uid of its own for each concurrent root run, as the
 * owner of the run's user namespace.
 *
 * The kernel counts many per-user limits per (user namespace, uid) and,
 * up the chain, against the uid that created each namespace: inotify
 * instances and watches, user namespaces, queued signals, message queue
 * bytes, RLIMIT_NPROC.  Runs whose processes all have host uid 65534 (or
 * whose namespaces root created) share one count: a run that takes all 128
 * inotify instances leaves a concurrent run none.  Here root creates each
 * run's user namespace with its effective uid set to a uid leased from a
 * range (CORRAL_OWNER_UIDS, default 1879048192-1879113727, 65536 uids that
 * systemd leaves unassigned): the namespace's counts are that uid's alone.
 * The namespace maps every id to itself, so the program's identity and
 * what it may touch on the host are what they were without it.
 *
 * A uid of the range must belong to nobody else: a process with that uid
 * would hold every capability in the runs' user namespaces.
 *
 * Leases are flock(2)s on /run/corral/owners/N (/tmp/corral-owners/N on a
 * host without /run): a lock is released when
 * the last holder goes, the supervisor and the sandbox's init (which
 * inherits the fd; the program never gets it: O_CLOEXEC), crash included. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#define OWNER_FIRST_DEFAULT 1879048192u /* 0x70000000 */
#define OWNER_COUNT_DEFAULT 65536u

int
corral_owner_range (uid_t *first, unsigned *count, struct corral_error *err)
{
  *first = OWNER_FIRST_DEFAULT;
  *count = OWNER_COUNT_DEFAULT;
  const char *s = getenv ("CORRAL_OWNER_UIDS");
  if (s == NULL || *s == '\0')
    return 0;
  unsigned long a, b;
  int n = -1;
  if (sscanf (s, "%lu-%lu%n", &a, &b, &n) != 2 || n < 0 || s[n] != '\0' || a == 0 || b < a
      || b >= 4294967295ul || (a <= 65534 && b >= 65534))
    return corral_fail (err, 0, "CORRAL_OWNER_UIDS=%s: expected FIRST-LAST, host uids that "
                        "no user has (not 0, not 65534)", s);
  *first = (uid_t) a;
  *count = (unsigned) (b - a + 1);
  return 0;
}

/* The lease directory: /run/corral/owners, or /tmp/corral-owners on a
 * host without /run (a bare initramfs).  Ours only: made 0700 by root, and
 * refused if anyone else made it (in /tmp anyone could). */
static int
open_lease_dir (struct corral_error *err)
{
  struct stat st;
  bool run = stat ("/run", &st) == 0 && S_ISDIR (st.st_mode);
  const char *parent = run ? "/run/corral" : "/tmp";
  const char *path = run ? "/run/corral/owners" : "/tmp/corral-owners";
  if (run && mkdir (parent, 0755) < 0 && errno != EEXIST)
    return corral_fail (err, errno, "mkdir %s", parent);
  if (mkdir (path, 0700) < 0 && errno != EEXIST)
    return corral_fail (err, errno, "mkdir %s", path);
  int dir = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0)
    return corral_fail (err, errno, "open %s", path);
  if (fstat (dir, &st) < 0 || st.st_uid != 0 || (st.st_mode & 077) != 0)
    {
      close (dir);
      return corral_fail (err, 0, "%s is not root's own directory (mode 0700): remove it", path);
    }
  return dir;
}

int
corral_owner_lease (uid_t *uid, int *fd, struct corral_error *err)
{
  *fd = -1;
  uid_t first;
  unsigned count;
  if (corral_owner_range (&first, &count, err) < 0)
    return -1;
  int dir = open_lease_dir (err);
  if (dir < 0)
    return -1;
  /* Start near a spot of our own: concurrent runs rarely try the same
   * file, and the files stay few (about the most runs ever at once). */
  unsigned window = count < 256 ? count : 256;
  unsigned start = (unsigned) getpid () % window;
  int ret = 1; /* none free yet */
  for (unsigned i = 0; ret == 1 && i < count; i++)
    {
      unsigned k = (start + i) % count;
      char name[16];
      snprintf (name, sizeof name, "%u", k);
      int l = openat (dir, name, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (l < 0)
        ret = corral_fail (err, errno, "lease file %s", name);
      else if (flock (l, LOCK_EX | LOCK_NB) == 0)
        {
          *uid = first + k;
          *fd = l;
          ret = 0;
        }
      else
        {
          int e = errno;
          close (l);
          if (e != EWOULDBLOCK)
            ret = corral_fail (err, e, "lock lease file %s", name);
        }
    }
  if (ret == 1)
    ret = corral_fail (err, 0, "all %u uids of the user namespace owners' range are in use "
                       "(CORRAL_OWNER_UIDS)", count);
  close (dir);
  return ret;
}
