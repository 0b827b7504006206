/* fsat.h - file operations relative to a directory fd that never follow a
 * symlink: for trees a program or an image controls (image layers, the
 * server's work and sandbox directories). */
#ifndef CORRAL_FSAT_H
#define CORRAL_FSAT_H

#include <sys/types.h>

/* Removes dir/name, recursively for a directory; a symlink is removed, not
 * followed.  0, or -1 with errno. */
int fsat_remove (int dir, const char *name);
/* openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
 * and O_NOFOLLOW | O_CLOEXEC added to flags. */
int fsat_open_beneath (int dir, const char *rel, int flags, mode_t mode);

#endif
