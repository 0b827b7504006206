/* policy-cache.c - compiled seccomp programs kept on disk, so that a
 * one-shot `corral run` does not parse and compile its policy every time
 * (~0.3 ms here, a twentieth of a run).
 *
 * A cache file holds the policy's full text next to its two BPF programs
 * and is used only if that text is byte-for-byte the text being loaded, and
 * libseccomp's version and the native architecture match: no hash
 * collision or stale entry can hand a run the wrong filter.  The directory
 * ($XDG_CACHE_HOME/corral/seccomp, else $HOME/.cache/corral/seccomp) and
 * the file must belong to us and be writable by nobody else, else the cache
 * is not used.  Writes go to a temporary file renamed into place. */
#include "internal.h"
#include "policy-cache.h"
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MAGIC "corral-bpf-2\n"

struct header {
  char magic[16];
  uint32_t lib_major, lib_minor, lib_micro, arch;
  uint64_t text_len, notify_len, kill_len; /* lens in bytes / instructions */
};

static uint64_t
fnv1a (const char *s, size_t n)
{
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char) s[i]) * 1099511628211ull;
  return h;
}

static void
fill_header (struct header *h, size_t text_len)
{
  memset (h, 0, sizeof *h);
  memcpy (h->magic, MAGIC, sizeof MAGIC - 1);
  const struct scmp_version *v = seccomp_version ();
  h->lib_major = v->major;
  h->lib_minor = v->minor;
  h->lib_micro = v->micro;
  h->arch = seccomp_arch_native ();
  h->text_len = text_len;
}

static void
file_name (const char *text, size_t len, char *out, size_t n)
{
  struct header h;
  fill_header (&h, len);
  uint64_t k = fnv1a (text, len) ^ (fnv1a ((const char *) &h, sizeof h) * 31);
  snprintf (out, n, "%016" PRIx64 ".bpf", k);
}

static int
read_prog (int fd, uint64_t len, struct sock_fprog *prog)
{
  *prog = (struct sock_fprog) { 0 };
  if (len == 0)
    return 0;
  if (len > BPF_MAXINSNS)
    return -1;
  prog->filter = malloc (len * sizeof *prog->filter);
  if (prog->filter == NULL)
    return -1;
  if (corral_read_all (fd, prog->filter, len * sizeof *prog->filter)
      != (ssize_t) (len * sizeof *prog->filter))
    {
      free (prog->filter);
      prog->filter = NULL;
      return -1;
    }
  prog->len = (unsigned short) len;
  return 0;
}

int
corral_bpf_cache_get (const char *text, struct sock_fprog *notify, struct sock_fprog *kill)
{
  size_t len = strlen (text);
  int dfd = corral_cache_open ("seccomp", false, NULL, 0);
  if (dfd < 0)
    return -1;
  char name[64];
  file_name (text, len, name, sizeof name);
  int fd = openat (dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  close (dfd);
  if (fd < 0)
    return -1;
  int ret = -1;
  struct header want, got;
  fill_header (&want, len);
  char *stored = NULL;
  if (!corral_cache_trusted (fd, false) || corral_read_all (fd, &got, sizeof got) != sizeof got
      || memcmp (got.magic, want.magic, sizeof want.magic) != 0 || got.lib_major != want.lib_major
      || got.lib_minor != want.lib_minor || got.lib_micro != want.lib_micro
      || got.arch != want.arch || got.text_len != len || got.kill_len == 0)
    goto out;
  stored = malloc (len + 1);
  if (stored == NULL || corral_read_all (fd, stored, len) != (ssize_t) len
      || memcmp (stored, text, len) != 0)
    goto out;
  if (read_prog (fd, got.notify_len, notify) < 0)
    goto out;
  if (read_prog (fd, got.kill_len, kill) < 0)
    {
      free (notify->filter);
      *notify = (struct sock_fprog) { 0 };
      goto out;
    }
  ret = 0;
out:
  free (stored);
  close (fd);
  return ret;
}

void
corral_bpf_cache_put (const char *text, const struct sock_fprog *notify,
                      const struct sock_fprog *kill)
{
  size_t len = strlen (text);
  int dfd = corral_cache_open ("seccomp", true, NULL, 0);
  if (dfd < 0)
    return;
  char name[64], tmp[96];
  file_name (text, len, name, sizeof name);
  snprintf (tmp, sizeof tmp, ".%s.%d.tmp", name, (int) getpid ());
  int fd = openat (dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      close (dfd);
      return;
    }
  struct header h;
  fill_header (&h, len);
  h.notify_len = notify->len;
  h.kill_len = kill->len;
  bool ok = corral_write_all (fd, &h, sizeof h) == sizeof h
            && corral_write_all (fd, text, len) == (ssize_t) len
            && corral_write_all (fd, notify->filter, notify->len * sizeof *notify->filter)
                   == (ssize_t) (notify->len * sizeof *notify->filter)
            && corral_write_all (fd, kill->filter, kill->len * sizeof *kill->filter)
                   == (ssize_t) (kill->len * sizeof *kill->filter);
  ok = close (fd) == 0 && ok;
  if (!ok || renameat (dfd, tmp, dfd, name) < 0)
    unlinkat (dfd, tmp, 0);
  close (dfd);
}
