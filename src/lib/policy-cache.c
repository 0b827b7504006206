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
 * is not used.  Writes go to a temporary file renamed into place.
 *
 * The cache is bounded: at most CACHE_ENTRIES files and CACHE_BYTES bytes
 * (a policy fuzz or a script that writes a new policy per run would fill a
 * disk otherwise).  A hit refreshes its file's mtime; a put past either
 * bound removes the files used least recently, and temporary files a
 * killed writer left. */
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
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#define MAGIC "corral-bpf-3\n" /* 3: only policies that pass check_own_calls */
#define CACHE_ENTRIES 64
#define CACHE_BYTES (16u << 20)

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
  futimens (fd, NULL); /* used now: the last to be evicted */
out:
  free (stored);
  close (fd);
  return ret;
}

struct entry {
  char name[64];
  struct timespec used;
  off_t size;
};

static int
older_first (const void *a, const void *b)
{
  const struct entry *x = a, *y = b;
  if (x->used.tv_sec != y->used.tv_sec)
    return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
  if (x->used.tv_nsec != y->used.tv_nsec)
    return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
  return strcmp (x->name, y->name);
}

/* Removes the least recently used entries past the bounds, and temporary
 * files older than a minute. */
static void
evict (int dfd)
{
  int fd = openat (dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
  if (d == NULL)
    {
      if (fd >= 0)
        close (fd);
      return;
    }
  struct entry *e = NULL;
  size_t n = 0, cap = 0;
  uint64_t total = 0;
  time_t now = time (NULL);
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      size_t l = strlen (de->d_name);
      struct stat st;
      if (de->d_name[0] == '.' && l > 4 && strcmp (de->d_name + l - 4, ".tmp") == 0)
        {
          if (fstatat (dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mtime < now - 60)
            unlinkat (dfd, de->d_name, 0);
          continue;
        }
      if (l != 20 || strcmp (de->d_name + 16, ".bpf") != 0
          || fstatat (dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG (st.st_mode))
        continue;
      if (n == cap)
        {
          size_t nc = cap ? cap * 2 : 128;
          struct entry *ne = realloc (e, nc * sizeof *e);
          if (ne == NULL)
            break;
          e = ne;
          cap = nc;
        }
      snprintf (e[n].name, sizeof e[n].name, "%s", de->d_name);
      e[n].used = st.st_mtim;
      e[n].size = st.st_size;
      total += (uint64_t) st.st_size;
      n++;
    }
  closedir (d);
  if (n > CACHE_ENTRIES || total > CACHE_BYTES)
    {
      qsort (e, n, sizeof *e, older_first);
      for (size_t i = 0; i < n && (n - i > CACHE_ENTRIES || total > CACHE_BYTES); i++)
        if (unlinkat (dfd, e[i].name, 0) == 0 || errno == ENOENT)
          total -= (uint64_t) e[i].size;
    }
  free (e);
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
  else
    evict (dfd);
  close (dfd);
}
