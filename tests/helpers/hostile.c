/* hostile.c - programs that attack or probe the sandbox, one per
 * subcommand.  Statically linked so it runs in any rootfs.  Used by the
 * test suite; each subcommand prints what it observed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int
usage (void)
{
  fputs ("hostile: forkbomb|membomb|busy|sleep N|flood|daemon|stopped|mount|unshare|ptrace|"
         "keyctl|tiocsti|int80|x32|io_uring|vsock|clone-newuser|exit N|kill SIG|caps|"
         "write-file PATH SIZE|fds|runas UID GID CMD...\n", stderr);
  return 2;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    return usage ();
  const char *c = argv[1];
  if (!strcmp (c, "runas") && argc > 4)
    {
      /* runas UID GID CMD...: drop to an unprivileged identity (test setup,
       * where no setpriv(1) that can do it is at hand). */
      gid_t g = (gid_t) atoi (argv[3]);
      if (setgroups (0, NULL) < 0 || setresgid (g, g, g) < 0)
        return 125;
      uid_t u = (uid_t) atoi (argv[2]);
      if (setresuid (u, u, u) < 0)
        return 125;
      execvp (argv[4], argv + 4);
      return 127;
    }
  if (!strcmp (c, "exit") && argc > 2)
    return atoi (argv[2]);
  if (!strcmp (c, "kill") && argc > 2)
    {
      raise (atoi (argv[2]));
      return 0;
    }
  if (!strcmp (c, "forkbomb"))
    {
      int ok = 0, fail = 0;
      for (int i = 0; i < 100000; i++)
        {
          pid_t p = fork ();
          if (p == 0)
            {
              pause ();
              _exit (0);
            }
          if (p < 0)
            {
              if (++fail > 50)
                break;
            }
          else
            ok++;
        }
      printf ("forked %d, failed %d\n", ok, fail);
      fflush (stdout);
      return 0;
    }
  if (!strcmp (c, "membomb"))
    {
      size_t total = 0;
      for (;;)
        {
          size_t n = 16 << 20;
          char *p = malloc (n);
          if (p == NULL)
            {
              printf ("malloc failed at %zu MiB\n", total >> 20);
              return 3;
            }
          memset (p, 1, n);
          total += n;
        }
    }
  if (!strcmp (c, "busy"))
    for (volatile unsigned long i = 0;; i++)
      ;
  if (!strcmp (c, "sleep") && argc > 2)
    {
      sleep ((unsigned) atoi (argv[2]));
      return 0;
    }
  if (!strcmp (c, "flood"))
    {
      static char buf[65536];
      memset (buf, 'x', sizeof buf);
      for (;;)
        if (write (1, buf, sizeof buf) < 0)
          return 1;
    }
  if (!strcmp (c, "daemon"))
    {
      /* Double fork + setsid: the grandchild outlives its parent and would
       * outlive a naive sandbox.  It writes its pid for the test. */
      pid_t p = fork ();
      if (p == 0)
        {
          setsid ();
          if (fork () == 0)
            {
              printf ("daemon %d\n", getpid ());
              fflush (stdout);
              close (0);
              close (1);
              close (2);
              for (;;)
                sleep (1000);
            }
          _exit (0);
        }
      waitpid (p, NULL, 0);
      usleep (100000);
      return 0;
    }
  if (!strcmp (c, "stopped"))
    {
      pid_t p = fork ();
      if (p == 0)
        {
          for (;;)
            pause ();
        }
      kill (p, SIGSTOP);
      printf ("stopped %d\n", p);
      return 0;
    }
  if (!strcmp (c, "mount"))
    {
      int r = mount ("none", "/tmp", "tmpfs", 0, NULL);
      printf ("mount returned %d errno %d\n", r, errno);
      return 0;
    }
  if (!strcmp (c, "unshare"))
    {
      int r = unshare (CLONE_NEWUSER);
      printf ("unshare returned %d errno %d\n", r, errno);
      return 0;
    }
  if (!strcmp (c, "ptrace"))
    {
      long r = ptrace (PTRACE_TRACEME, 0, 0, 0);
      printf ("ptrace returned %ld errno %d\n", r, errno);
      return 0;
    }
  if (!strcmp (c, "keyctl"))
    {
      long r = syscall (SYS_keyctl, 0, 0, 0, 0);
      printf ("keyctl returned %ld errno %d\n", r, errno);
      return 0;
    }
  if (!strcmp (c, "tiocsti"))
    {
      char ch = 'x';
      int r = ioctl (0, TIOCSTI, &ch);
      printf ("TIOCSTI returned %d errno %d\n", r, errno);
      return 0;
    }
  if (!strcmp (c, "int80"))
    {
      /* i386 getpid (20) through the 32-bit entry point. */
      long r;
      __asm__ volatile ("int $0x80" : "=a"(r) : "a"(20L) : "memory");
      printf ("int80 getpid returned %ld\n", r);
      return 0;
    }
  if (!strcmp (c, "x32"))
    {
      long r = syscall (0x40000000L + 39);
      printf ("x32 getpid returned %ld errno %d\n", r, errno);
      return 0;
    }
  if (!strcmp (c, "io_uring"))
    {
      char params[120] = { 0 };
      long r = syscall (425, 8, params);
      printf ("io_uring_setup returned %ld errno %d\n", r, errno);
      return 0;
    }
  if (!strcmp (c, "vsock"))
    {
      int r = socket (40, SOCK_STREAM, 0);
      printf ("vsock socket returned %d errno %d\n", r, errno);
      return 0;
    }
  if (!strcmp (c, "clone-newuser"))
    {
      long r = syscall (SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
      if (r == 0)
        _exit (0);
      printf ("clone returned %ld errno %d\n", r, errno);
      return 0;
    }
  if (!strcmp (c, "fds"))
    {
      /* Lists open fds above 2: a leak from the supervisor shows here. */
      int n = 0;
      for (int fd = 3; fd < 1024; fd++)
        if (fcntl (fd, F_GETFD) >= 0)
          {
            printf ("open fd %d\n", fd);
            n++;
          }
      printf ("%d extra fds\n", n);
      return 0;
    }
  if (!strcmp (c, "write-file") && argc > 3)
    {
      int fd = open (argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0)
        {
          printf ("open failed errno %d\n", errno);
          return 1;
        }
      long long size = atoll (argv[3]);
      static char buf[65536];
      memset (buf, 'y', sizeof buf);
      for (long long done = 0; done < size; done += sizeof buf)
        if (write (fd, buf, sizeof buf) < 0)
          {
            printf ("write failed errno %d\n", errno);
            return 1;
          }
      return 0;
    }
  return usage ();
}
