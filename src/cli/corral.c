/* corral.c - entry point: dispatches to one file per subcommand.  The CLI
 * parses arguments into a spec and calls the library; it never touches the
 * kernel itself. */
#include "config.h"
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
cli_error (const char *cmd, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "corral: %s%s", cmd ? cmd : "", cmd ? ": " : "");
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
}

static void
usage (FILE *f)
{
  fputs ("Usage: corral COMMAND [OPTIONS]\n"
         "\n"
         "Run untrusted programs in Linux namespaces under cgroup limits and seccomp,\n"
         "without Docker.\n"
         "\n"
         "Commands:\n"
         "  run [OPTIONS] -- CMD [ARG...]   run one program in a fresh sandbox\n"
         "  eval humaneval|livecodebench    score samples like the reference harnesses\n"
         "  image import|pull|ls|inspect|rm|gc  images without Docker (docker save, OCI, registries)\n"
         "  serve [OPTIONS]                 an HTTP server: SandboxFusion's /run_code\n"
         "  doctor [--json]                 what this host offers and what corral will use\n"
         "  help                            this text\n"
         "\n"
         "`corral COMMAND --help` describes a command; see corral(1), corral-run(1),\n"
         "corral-eval(1), corral-image(1), corral-doctor(1) and corral-policy(5).\n",
         f);
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      usage (stderr);
      return EXIT_USAGE;
    }
  const char *cmd = argv[1];
  if (strcmp (cmd, "run") == 0)
    return cmd_run (argc - 1, argv + 1);
  if (strcmp (cmd, "doctor") == 0)
    return cmd_doctor (argc - 1, argv + 1);
  if (strcmp (cmd, "eval") == 0)
    return cmd_eval (argc - 1, argv + 1);
  if (strcmp (cmd, "image") == 0)
    return cmd_image (argc - 1, argv + 1);
  if (strcmp (cmd, "serve") == 0)
    return cmd_serve (argc - 1, argv + 1);
  if (strcmp (cmd, "help") == 0 || strcmp (cmd, "--help") == 0 || strcmp (cmd, "-h") == 0)
    {
      usage (stdout);
      return 0;
    }
  if (strcmp (cmd, "--version") == 0 || strcmp (cmd, "version") == 0)
    {
      printf ("corral %s\n", PACKAGE_VERSION);
      return 0;
    }
  cli_error (NULL, "unknown command `%s` (try `corral help`)", cmd);
  return EXIT_USAGE;
}
