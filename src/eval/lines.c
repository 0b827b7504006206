/* lines.c - line reader over zlib's gzread, which passes plain files
 * through unchanged. */
#include "config.h"
#include "lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_LINE (512u << 20) /* a line above this is not a dataset row */

struct lines {
  gzFile gz;
  char *path;
  char *buf;
  size_t len, alloc, start;
  size_t lineno;
  bool eof;
};

int
lines_open (const char *path, struct lines **out, struct corral_error *err)
{
  gzFile gz = gzopen (path, "rb");
  if (gz == NULL)
    return corral_fail (err, errno ? errno : ENOMEM, "%s", path);
  gzbuffer (gz, 1 << 17);
  struct lines *l = calloc (1, sizeof *l);
  if (l == NULL || (l->path = strdup (path)) == NULL)
    {
      gzclose (gz);
      free (l);
      return corral_fail (err, ENOMEM, "%s", path);
    }
  l->gz = gz;
  *out = l;
  return 0;
}

const char *
lines_next (struct lines *l, size_t *lineno, struct corral_error *err)
{
  for (;;)
    {
      char *nl = l->start < l->len ? memchr (l->buf + l->start, '\n', l->len - l->start) : NULL;
      if (nl || (l->eof && l->start < l->len))
        {
          char *line = l->buf + l->start;
          if (nl)
            {
              *nl = '\0';
              l->start = (size_t) (nl - l->buf) + 1;
            }
          else
            {
              l->buf[l->len] = '\0';
              l->start = l->len;
            }
          size_t n = strlen (line);
          if (n && line[n - 1] == '\r')
            line[n - 1] = '\0';
          *lineno = ++l->lineno;
          return line;
        }
      if (l->eof)
        return NULL;
      /* compact, grow, read more */
      if (l->start > 0)
        {
          memmove (l->buf, l->buf + l->start, l->len - l->start);
          l->len -= l->start;
          l->start = 0;
        }
      if (l->alloc - l->len < (1 << 16) + 1)
        {
          size_t na = l->alloc ? l->alloc * 2 : 1 << 17;
          if (na > MAX_LINE + (1 << 17))
            {
              corral_fail (err, 0, "%s: line %zu is longer than %u MiB", l->path, l->lineno + 1,
                           MAX_LINE >> 20);
              return NULL;
            }
          char *nb = realloc (l->buf, na);
          if (nb == NULL)
            {
              corral_fail (err, ENOMEM, "%s", l->path);
              return NULL;
            }
          l->buf = nb;
          l->alloc = na;
        }
      int n = gzread (l->gz, l->buf + l->len, (unsigned) (l->alloc - l->len - 1));
      if (n < 0)
        {
          int code;
          const char *msg = gzerror (l->gz, &code);
          corral_fail (err, 0, "%s: %s", l->path, msg ? msg : "read error");
          return NULL;
        }
      if (n == 0)
        l->eof = true;
      l->len += (size_t) n;
    }
}

void
lines_close (struct lines *l)
{
  if (l == NULL)
    return;
  gzclose (l->gz);
  free (l->buf);
  free (l->path);
  free (l);
}

char *
read_whole (const char *path, size_t *len, struct corral_error *err)
{
  gzFile gz = gzopen (path, "rb");
  if (gz == NULL)
    {
      corral_fail (err, errno ? errno : ENOMEM, "%s", path);
      return NULL;
    }
  size_t alloc = 1 << 20, n = 0;
  char *buf = malloc (alloc);
  for (;;)
    {
      if (buf == NULL)
        {
          gzclose (gz);
          corral_fail (err, ENOMEM, "%s", path);
          return NULL;
        }
      if (alloc - n < 65537)
        {
          char *nb = alloc > (1u << 30) ? NULL : realloc (buf, alloc * 2);
          if (nb == NULL)
            {
              free (buf);
              buf = NULL;
              continue;
            }
          buf = nb;
          alloc *= 2;
        }
      int r = gzread (gz, buf + n, 65536);
      if (r < 0)
        {
          int code;
          corral_fail (err, 0, "%s: %s", path, gzerror (gz, &code));
          free (buf);
          gzclose (gz);
          return NULL;
        }
      if (r == 0)
        break;
      n += (size_t) r;
    }
  gzclose (gz);
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}
