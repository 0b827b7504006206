/* cache.h - corral's per-user cache directory ($XDG_CACHE_HOME/corral,
 * else $HOME/.cache/corral), shared by the compiled seccomp programs
 * (policy-cache.c) and the /etc snapshot (etc-snapshot.c). */
#ifndef CORRAL_CACHE_H
#define CORRAL_CACHE_H

#include <stdbool.h>
#include <stddef.h>

/* An O_RDONLY directory fd of <cache>/corral/<sub>, creating the levels
 * when asked.  Every level below the base must be a directory of ours that
 * nobody else can write, else -1 (the cache is then simply not used).
 * path (when not NULL) gets the directory's path. */
int corral_cache_open (const char *sub, bool create, char *path, size_t len);

/* fd is ours, writable by nobody else, and a directory (dir) or a regular
 * file. */
bool corral_cache_trusted (int fd, bool dir);

#endif
