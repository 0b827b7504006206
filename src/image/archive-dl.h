/* archive-dl.h - libarchive, loaded on first use.
 *
 * Like libcurl (src/http/curl-dl.h), libarchive and the ~15 libraries it
 * pulls in (compressors, XML, ACLs) are not linked into corral: only
 * `corral image import` and `pull` read archives, so they load it with
 * dlopen when they start.  Call sym_NAME after corral_archive_load
 * succeeded; the pointers have the exact types of <archive.h>. */
#ifndef CORRAL_ARCHIVE_DL_H
#define CORRAL_ARCHIVE_DL_H

#include <archive.h>
#include <archive_entry.h>
#include <stddef.h>

#define CORRAL_ARCHIVE_SYMBOLS(X)                                                                  \
  X (archive_read_new)                                                                             \
  X (archive_read_free)                                                                            \
  X (archive_read_support_filter_gzip)                                                             \
  X (archive_read_support_filter_zstd)                                                             \
  X (archive_read_support_filter_xz)                                                               \
  X (archive_read_support_filter_bzip2)                                                            \
  X (archive_read_support_format_tar)                                                              \
  X (archive_read_support_format_raw)                                                              \
  X (archive_read_open)                                                                             \
  X (archive_read_open_fd)                                                                          \
  X (archive_read_open_memory)                                                                      \
  X (archive_read_next_header)                                                                      \
  X (archive_read_data)                                                                             \
  X (archive_read_data_block)                                                                       \
  X (archive_read_data_skip)                                                                        \
  X (archive_error_string)                                                                          \
  X (archive_filter_count)                                                                          \
  X (archive_filter_name)                                                                           \
  X (archive_entry_pathname)                                                                        \
  X (archive_entry_filetype)                                                                        \
  X (archive_entry_mode)                                                                            \
  X (archive_entry_size)                                                                            \
  X (archive_entry_size_is_set)                                                                     \
  X (archive_entry_symlink)                                                                         \
  X (archive_entry_hardlink)                                                                        \
  X (archive_entry_uid)                                                                             \
  X (archive_entry_gid)                                                                             \
  X (archive_entry_mtime)                                                                           \
  X (archive_entry_mtime_nsec)

#define CORRAL_ARCHIVE_DECLARE(name) extern __typeof__ (name) *sym_##name;
CORRAL_ARCHIVE_SYMBOLS (CORRAL_ARCHIVE_DECLARE)
#undef CORRAL_ARCHIVE_DECLARE

/* The decompressors libarchive has built in (gzip, zstd, xz, bzip2): never
 * filter_all, whose fallbacks run external programs on untrusted input. */
void corral_archive_filters (struct archive *a);

/* Loads libarchive once.  Returns 0, or -1 with a message naming what is
 * missing and the package that provides it. */
int corral_archive_load (char *msg, size_t len);

#endif
