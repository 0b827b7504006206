/* curl-dl.h - libcurl, loaded on first use.
 *
 * One sandboxed run is a few milliseconds; loading libcurl and the ~30
 * libraries it pulls in (TLS, Kerberos, LDAP, ...) at every start of corral
 * cost about 3.5 ms more.  So corral does not link libcurl: the commands that
 * talk HTTP (dataset downloads, later image pulls and remote runs) load it
 * with dlopen when they first need it, the way systemd loads its optional
 * heavy libraries.  Call sym_NAME for NAME after corral_curl_load succeeded;
 * the pointers have the exact types of the <curl/curl.h> prototypes. */
#ifndef CORRAL_CURL_DL_H
#define CORRAL_CURL_DL_H

#define CURL_DISABLE_TYPECHECK 1 /* plain prototypes, so __typeof__ works */
#include <curl/curl.h>
#include <stddef.h>

#define CORRAL_CURL_SYMBOLS(X)                                                                     \
  X (curl_global_init)                                                                             \
  X (curl_easy_init)                                                                               \
  X (curl_easy_setopt)                                                                             \
  X (curl_easy_perform)                                                                            \
  X (curl_easy_getinfo)                                                                            \
  X (curl_easy_cleanup)                                                                            \
  X (curl_easy_reset)                                                                              \
  X (curl_easy_strerror)                                                                           \
  X (curl_slist_append)                                                                            \
  X (curl_slist_free_all)                                                                          \
  X (curl_easy_escape)                                                                             \
  X (curl_free)                                                                                    \
  X (curl_multi_init)                                                                              \
  X (curl_multi_add_handle)                                                                        \
  X (curl_multi_remove_handle)                                                                     \
  X (curl_multi_perform)                                                                           \
  X (curl_multi_wait)                                                                              \
  X (curl_multi_info_read)                                                                         \
  X (curl_multi_cleanup)

#define CORRAL_CURL_DECLARE(name) extern __typeof__ (name) *sym_##name;
CORRAL_CURL_SYMBOLS (CORRAL_CURL_DECLARE)
#undef CORRAL_CURL_DECLARE

/* Loads libcurl once (and runs curl_global_init).  Returns 0, or -1 with a
 * message naming what is missing and the package that provides it. */
int corral_curl_load (char *msg, size_t len);

#endif
