/* util.c - what the harnesses share: temporary files for readers that take
 * a path. */
#include "config.h"
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fsat.h"

int
fuzz_write_file (const char *path, const uint8_t *data, size_t size, int gz)
{
  if (gz)
    {
      gzFile g = gzopen (path, "wb1");
      if (g == NULL)
        return -1;
      int ok = size == 0 || gzwrite (g, data, (unsigned) size) == (int) size;
      return gzclose (g) == Z_OK && ok ? 0 : -1;
    }
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  size_t done = 0;
  while (done < size)
    {
      ssize_t n = write (fd, data + done, size - done);
      if (n <= 0)
        {
          close (fd);
          return -1;
        }
      done += (size_t) n;
    }
  return close (fd);
}

static char dir[64];

static void
remove_dir (void)
{
  if (dir[0])
    fsat_remove (AT_FDCWD, dir);
}

const char *
fuzz_tmpdir (void)
{
  if (dir[0] == '\0')
    {
      /* on tmpfs when there is one: the readers of files run ~4x faster */
      struct stat st;
      const char *base = stat ("/dev/shm", &st) == 0 && S_ISDIR (st.st_mode) ? "/dev/shm" : "/tmp";
      snprintf (dir, sizeof dir, "%s/corral-fuzz-%d.XXXXXX", base, (int) getpid ());
      if (mkdtemp (dir) == NULL)
        abort ();
      atexit (remove_dir);
    }
  return dir;
}
