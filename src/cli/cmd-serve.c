/* cmd-serve.c - `corral serve`: execs corral-serve, the server program
 * (src/serve), found next to this binary (a build tree) or in the
 * package's libexec directory.  It is a program of its own so that corral
 * never loads libmicrohttpd. */
#include "config.h"
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
cmd_serve (int argc, char **argv)
{
  char self[PATH_MAX], path[PATH_MAX + 32];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
  if (n > 0)
    {
      self[n] = '\0';
      char *slash = strrchr (self, '/');
      if (slash)
        {
          *slash = '\0';
          snprintf (path, sizeof path, "%s/corral-serve", self);
          if (access (path, X_OK) == 0)
            {
              argv[0] = path;
              execv (path, argv);
            }
        }
    }
  snprintf (path, sizeof path, "%s/corral-serve", PKGLIBEXECDIR);
  argv[0] = path;
  execv (path, argv);
  cli_error ("serve", "cannot run %s: %s (is corral installed?)", path, strerror (errno));
  (void) argc;
  return EXIT_IE;
}
