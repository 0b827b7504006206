/* caps.c - drop every capability in two steps around the uid change:
 * the bounding and ambient sets while we still hold CAP_SETPCAP (before
 * setresuid), then effective, permitted and inheritable (after it: a
 * change to a non-zero uid clears them anyway, but uid 0 in a user
 * namespace keeps them).  After this, execve cannot regain any. */
#include "internal.h"

#include <errno.h>
#include <sys/capability.h>
#include <sys/prctl.h>

int
corral_caps_drop_bounding (struct corral_error *err)
{
  /* Up to the kernel's last capability, not CAP_LAST_CAP: the kernel may
   * know more than our headers; EINVAL marks the end of its list. */
  for (int c = 0; c < 64; c++)
    if (prctl (PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
      {
        if (errno == EINVAL)
          break;
        return corral_fail (err, errno, "drop capability %d from the bounding set", (int) c);
      }
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return corral_fail (err, errno, "clear ambient capabilities");
  return 0;
}

int
corral_caps_clear (struct corral_error *err)
{
  cap_t caps = cap_init (); /* all sets empty */
  if (caps == NULL)
    return corral_fail (err, errno, "cap_init");
  int r = cap_set_proc (caps);
  int e = errno;
  cap_free (caps);
  if (r < 0)
    return corral_fail (err, e, "clear capability sets");
  return 0;
}
