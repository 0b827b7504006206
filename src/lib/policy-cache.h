/* policy-cache.h - compiled seccomp programs cached on disk, keyed by the
 * exact policy text (see policy-cache.c). */
#ifndef CORRAL_POLICY_CACHE_H
#define CORRAL_POLICY_CACHE_H

#include <linux/filter.h>

/* 0 and both programs (malloc'd; notify may be empty) if the cache holds a
 * compile of exactly this text by this libseccomp on this arch; else -1. */
int corral_bpf_cache_get (const char *text, struct sock_fprog *notify, struct sock_fprog *kill);
/* Best effort: a cache that cannot be written is simply not used. */
void corral_bpf_cache_put (const char *text, const struct sock_fprog *notify,
                           const struct sock_fprog *kill);

#endif
