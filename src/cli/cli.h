/* cli.h - the corral command line: one file per subcommand. */
#ifndef CORRAL_CLI_H
#define CORRAL_CLI_H

/* Exit codes of corral itself (corral(1)). */
enum {
  EXIT_USAGE = 2,   /* bad command line */
  EXIT_SYS = 121,   /* forbidden system call */
  EXIT_OLE = 122,   /* output limit */
  EXIT_MLE = 123,   /* memory limit */
  EXIT_TLE = 124,   /* time limit (as timeout(1)) */
  EXIT_IE = 125,    /* internal error: nothing or not all could be run */
};

int cmd_run (int argc, char **argv);
int cmd_doctor (int argc, char **argv);
int cmd_eval (int argc, char **argv);
int cmd_image (int argc, char **argv);
int cmd_serve (int argc, char **argv);

/* Prints "corral: <cmd>: <message>" on stderr. */
void cli_error (const char *cmd, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

#endif
