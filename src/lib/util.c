/* util.c - small helpers: errors as values, fd-relative file I/O, clocks,
 * UTF-8 sanitising, fd passing. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

int
corral_fail (struct corral_error *err, int errnum, const char *fmt, ...)
{
  if (err == NULL)
    return -1;
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  if (errnum != 0 && n >= 0 && (size_t) n < sizeof err->msg)
    snprintf (err->msg + n, sizeof err->msg - n, ": %s", strerror (errnum));
  err->code = errnum ? errnum : EINVAL;
  return -1;
}

uint64_t
corral_now_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

uint64_t
corral_now_ms (void)
{
  return corral_now_us () / 1000u;
}

ssize_t
corral_write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;
  size_t done = 0;
  while (done < len)
    {
      ssize_t n = write (fd, p + done, len - done);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      done += (size_t) n;
    }
  return (ssize_t) done;
}

ssize_t
corral_read_all (int fd, void *buf, size_t len)
{
  char *p = buf;
  size_t done = 0;
  while (done < len)
    {
      ssize_t n = read (fd, p + done, len - done);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      if (n == 0)
        break;
      done += (size_t) n;
    }
  return (ssize_t) done;
}

/* Control files are written by name relative to a directory fd we opened
 * ourselves; O_NOFOLLOW because a cgroup dir may be delegated to the user. */
int
corral_write_at (int dirfd, const char *name, const char *data)
{
  int fd = openat (dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -1;
  size_t len = strlen (data);
  ssize_t n = write (fd, data, len);
  int saved = errno;
  close (fd);
  if (n < 0 || (size_t) n != len)
    {
      errno = n < 0 ? saved : EIO;
      return -1;
    }
  return 0;
}

ssize_t
corral_read_at (int dirfd, const char *name, char *buf, size_t len)
{
  int fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -1;
  ssize_t n = corral_read_all (fd, buf, len - 1);
  int saved = errno;
  close (fd);
  if (n < 0)
    {
      errno = saved;
      return -1;
    }
  buf[n] = '\0';
  return n;
}

int
corral_read_u64_at (int dirfd, const char *name, uint64_t *out)
{
  char buf[64];
  if (corral_read_at (dirfd, name, buf, sizeof buf) < 0)
    return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull (buf, &end, 10);
  if (errno != 0 || end == buf)
    {
      errno = EINVAL;
      return -1;
    }
  *out = v;
  return 0;
}

int
corral_read_key_u64 (int dirfd, const char *name, const char *key, uint64_t *out)
{
  char buf[4096];
  if (corral_read_at (dirfd, name, buf, sizeof buf) < 0)
    return -1;
  size_t klen = strlen (key);
  for (char *line = buf; line && *line; )
    {
      char *nl = strchr (line, '\n');
      if (strncmp (line, key, klen) == 0 && line[klen] == ' ')
        {
          *out = strtoull (line + klen + 1, NULL, 10);
          return 0;
        }
      line = nl ? nl + 1 : NULL;
    }
  errno = ENOENT;
  return -1;
}

/* Program output goes into JSON, which must be valid UTF-8: replace every
 * byte that does not start a well-formed sequence with U+FFFD.  NUL bytes
 * are kept (cJSON escapes them as \u0000 only if we pass a length, so we
 * map them to U+FFFD too: a C string cannot hold them). */
char *
corral_utf8_sanitize (const char *s, size_t len)
{
  char *out = malloc (len * 3 + 1);
  if (out == NULL)
    return NULL;
  size_t o = 0;
  const unsigned char *u = (const unsigned char *) s;
  for (size_t i = 0; i < len;)
    {
      unsigned char c = u[i];
      size_t need = 0;
      uint32_t cp = 0;
      if (c >= 0x01 && c < 0x80)
        {
          out[o++] = (char) c;
          i++;
          continue;
        }
      else if (c >= 0xC2 && c <= 0xDF)
        need = 1, cp = c & 0x1F;
      else if (c >= 0xE0 && c <= 0xEF)
        need = 2, cp = c & 0x0F;
      else if (c >= 0xF0 && c <= 0xF4)
        need = 3, cp = c & 0x07;
      bool ok = need > 0 && i + need < len;
      for (size_t k = 1; ok && k <= need; k++)
        {
          if ((u[i + k] & 0xC0) != 0x80)
            ok = false;
          cp = (cp << 6) | (u[i + k] & 0x3F);
        }
      if (ok && ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF))
                 || (cp >= 0xD800 && cp <= 0xDFFF)))
        ok = false;
      if (ok)
        {
          memcpy (out + o, u + i, need + 1);
          o += need + 1;
          i += need + 1;
        }
      else
        {
          memcpy (out + o, "\xEF\xBF\xBD", 3);
          o += 3;
          i++;
        }
    }
  out[o] = '\0';
  return out;
}

int
corral_send_fd (int sock, int fd)
{
  char byte = 'F';
  struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE (sizeof (int))];
  } ctl;
  memset (&ctl, 0, sizeof ctl);
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
  struct cmsghdr *c = CMSG_FIRSTHDR (&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (c), &fd, sizeof fd);
  ssize_t n;
  do
    n = sendmsg (sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == 1 ? 0 : -1;
}

int
corral_recv_fd (int sock)
{
  char byte;
  struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE (sizeof (int))];
  } ctl;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
  ssize_t n;
  do
    n = recvmsg (sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n != 1)
    return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR (&msg);
  if (c == NULL || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN (sizeof (int)))
    return -1;
  int fd;
  memcpy (&fd, CMSG_DATA (c), sizeof fd);
  return fd;
}

int
corral_copy_symlink (int sdir, int ddir, const char *name)
{
  char target[PATH_MAX];
  ssize_t n = readlinkat (sdir, name, target, sizeof target - 1);
  if (n < 0)
    return 1;
  target[n] = '\0';
  return symlinkat (target, ddir, name) < 0 ? -1 : 0;
}
