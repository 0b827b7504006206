/* wire.c - one message between the server and a worker: a 4-byte length
 * (native order: both ends are this program) and the bytes. */
#include "config.h"
#include "serve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
all (int fd, void *buf, size_t len, bool out)
{
  char *p = buf;
  while (len > 0)
    {
      ssize_t n = out ? write (fd, p, len) : read (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

int
serve_send (int fd, const char *text, size_t len)
{
  uint32_t n = (uint32_t) len;
  if (len > UINT32_MAX || all (fd, &n, sizeof n, true) < 0)
    return -1;
  return all (fd, (void *) text, len, true);
}

char *
serve_recv (int fd, size_t max, size_t *len)
{
  uint32_t n;
  if (all (fd, &n, sizeof n, false) < 0 || n > max)
    return NULL;
  char *buf = malloc ((size_t) n + 1);
  if (buf == NULL)
    return NULL;
  if (all (fd, buf, n, false) < 0)
    {
      free (buf);
      return NULL;
    }
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}
