/* fsat.c - see fsat.h. */
#include "config.h"
#include "fsat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

int
fsat_remove (int dir, const char *name)
{
  if (unlinkat (dir, name, 0) == 0 || errno == ENOENT)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return -1;
  int d = openat (dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (d < 0)
    return -1;
  DIR *dp = fdopendir (d);
  if (dp == NULL)
    {
      close (d);
      return -1;
    }
  struct dirent *de;
  while ((de = readdir (dp)) != NULL)
    if (strcmp (de->d_name, ".") && strcmp (de->d_name, ".."))
      {
        /* a directory we cannot enter (mode 0) is still ours to empty */
        if (de->d_type == DT_DIR)
          fchmodat (dirfd (dp), de->d_name, 0700, 0);
        fsat_remove (dirfd (dp), de->d_name);
      }
  closedir (dp);
  return unlinkat (dir, name, AT_REMOVEDIR);
}

int
fsat_open_beneath (int dir, const char *rel, int flags, mode_t mode)
{
  struct open_how how = { .flags = (unsigned long long) (flags | O_CLOEXEC | O_NOFOLLOW),
                          .mode = mode,
                          .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
  return (int) syscall (SYS_openat2, dir, rel, &how, sizeof how);
}
