/* lines.h - reading JSONL datasets, plain or gzip-compressed (zlib reads
 * both), line by line with no length limit. */
#ifndef CORRAL_EVAL_LINES_H
#define CORRAL_EVAL_LINES_H

#include "corral.h"

struct lines;

int lines_open (const char *path, struct lines **out, struct corral_error *err);
/* Next line without its newline (NUL-terminated, valid until the next
 * call), or NULL at the end; *lineno counts from 1.  Read errors set err. */
const char *lines_next (struct lines *l, size_t *lineno, struct corral_error *err);
void lines_close (struct lines *l);

/* A whole file (plain or gzip) into a malloc'd NUL-terminated string. */
char *read_whole (const char *path, size_t *len, struct corral_error *err);

#endif
