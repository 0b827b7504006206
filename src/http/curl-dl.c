/* curl-dl.c - libcurl, loaded on first use (see curl-dl.h). */
#include "config.h"
#include "curl-dl.h"

#include <dlfcn.h>
#include <stdio.h>

#define CORRAL_CURL_DEFINE(name) __typeof__ (name) *sym_##name;
CORRAL_CURL_SYMBOLS (CORRAL_CURL_DEFINE)
#undef CORRAL_CURL_DEFINE

/* The soname every libcurl 7.x and 8.x has. */
#define LIBCURL_SONAME "libcurl.so.4"

int
corral_curl_load (char *msg, size_t len)
{
  static void *handle;
  static int state; /* 0 not tried, 1 loaded, -1 failed */
  static char failure[512];

  if (state == 0)
    {
      handle = dlopen (LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
      if (handle == NULL)
        {
          snprintf (failure, sizeof failure,
                    "cannot load %s (%s): install libcurl (Debian/Ubuntu: apt-get install libcurl4)",
                    LIBCURL_SONAME, dlerror ());
          state = -1;
        }
      else
        {
          state = 1;
#define CORRAL_CURL_RESOLVE(name)                                                                  \
  if (state == 1 && (*(void **) &sym_##name = dlsym (handle, #name)) == NULL)                      \
    {                                                                                              \
      snprintf (failure, sizeof failure, "%s lacks %s: libcurl 7.68 or newer is needed",           \
                LIBCURL_SONAME, #name);                                                            \
      state = -1;                                                                                  \
    }
          CORRAL_CURL_SYMBOLS (CORRAL_CURL_RESOLVE)
#undef CORRAL_CURL_RESOLVE
          if (state == 1 && sym_curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK)
            {
              snprintf (failure, sizeof failure, "libcurl failed to initialise");
              state = -1;
            }
        }
    }
  if (state < 0)
    {
      snprintf (msg, len, "%s", failure);
      return -1;
    }
  return 0;
}
