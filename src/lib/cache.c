/* cache.c - corral's per-user cache directory (see cache.h). */
#include "internal.h"
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

bool
corral_cache_trusted (int fd, bool dir)
{
  struct stat st;
  return fstat (fd, &st) == 0 && st.st_uid == geteuid () && (st.st_mode & 022) == 0
         && (dir ? S_ISDIR (st.st_mode) : S_ISREG (st.st_mode));
}

int
corral_cache_home (char *buf, size_t len)
{
  const char *xdg = getenv ("XDG_CACHE_HOME");
  const char *home = getenv ("HOME");
  int n;
  if (xdg && xdg[0] == '/')
    n = snprintf (buf, len, "%s", xdg);
  else if (home && home[0] == '/')
    n = snprintf (buf, len, "%s/.cache", home);
  else
    return -1;
  return n < 0 || (size_t) n >= len ? -1 : 0;
}

int
corral_cache_open (const char *sub, bool create, char *path, size_t len)
{
  char base[PATH_MAX];
  if (corral_cache_home (base, sizeof base) < 0)
    return -1;
  int fd = open (base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && create && errno == ENOENT && mkdir (base, 0700) == 0)
    fd = open (base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  const char *const levels[] = { "corral", sub };
  for (size_t i = 0; i < 2; i++)
    {
      if (create)
        mkdirat (fd, levels[i], 0700);
      int next = openat (fd, levels[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      close (fd);
      if (next < 0 || !corral_cache_trusted (next, true))
        {
          if (next >= 0)
            close (next);
          return -1;
        }
      fd = next;
    }
  if (path && (size_t) snprintf (path, len, "%s/corral/%s", base, sub) >= len)
    {
      close (fd);
      return -1;
    }
  return fd;
}
