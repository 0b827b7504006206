/* archive-dl.c - libarchive, loaded on first use (see archive-dl.h). */
#include "config.h"
#include "archive-dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define CORRAL_ARCHIVE_DEFINE(name) __typeof__ (name) *sym_##name;
CORRAL_ARCHIVE_SYMBOLS (CORRAL_ARCHIVE_DEFINE)
#undef CORRAL_ARCHIVE_DEFINE

/* The soname of libarchive 3.x. */
#define LIBARCHIVE_SONAME "libarchive.so.13"

static int load_locked (char *msg, size_t len);

int
corral_archive_load (char *msg, size_t len)
{
  /* corral serve calls this from several connection threads */
  static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock (&once);
  int r = load_locked (msg, len);
  pthread_mutex_unlock (&once);
  return r;
}

static int
load_locked (char *msg, size_t len)
{
  static void *handle;
  static int state; /* 0 not tried, 1 loaded, -1 failed */
  static char failure[512];

  if (state == 0)
    {
      handle = dlopen (LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
      if (handle == NULL)
        {
          snprintf (failure, sizeof failure,
                    "cannot load %s (%s): install libarchive (Debian/Ubuntu: apt-get install "
                    "libarchive13)", LIBARCHIVE_SONAME, dlerror ());
          state = -1;
        }
      else
        {
          state = 1;
#define CORRAL_ARCHIVE_RESOLVE(name)                                                               \
  if (state == 1 && (*(void **) &sym_##name = dlsym (handle, #name)) == NULL)                      \
    {                                                                                              \
      snprintf (failure, sizeof failure, "%s lacks %s: libarchive 3.4 or newer is needed",         \
                LIBARCHIVE_SONAME, #name);                                                         \
      state = -1;                                                                                  \
    }
          CORRAL_ARCHIVE_SYMBOLS (CORRAL_ARCHIVE_RESOLVE)
#undef CORRAL_ARCHIVE_RESOLVE
        }
    }
  if (state < 0)
    {
      snprintf (msg, len, "%s", failure);
      return -1;
    }
  return 0;
}

void
corral_archive_filters (struct archive *a)
{
  sym_archive_read_support_filter_gzip (a);
  sym_archive_read_support_filter_zstd (a);
  sym_archive_read_support_filter_xz (a);
  sym_archive_read_support_filter_bzip2 (a);
}
