/* fuzz.h - what the harnesses share: libFuzzer's entry point, and the
 * input as a NUL-terminated copy for parsers of C strings. */
#ifndef CORRAL_FUZZ_H
#define CORRAL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static inline char *
fuzz_cstr (const uint8_t *data, size_t size)
{
  char *s = malloc (size + 1);
  if (s)
    {
      memcpy (s, data, size);
      s[size] = '\0';
    }
  return s;
}

/* Writes data to a new file at path, gzip-compressed when gz (the dataset
 * readers take both); 0, or -1 with errno. */
int fuzz_write_file (const char *path, const uint8_t *data, size_t size, int gz);

/* A private directory for the process, made once (/dev/shm/corral-fuzz-...,
 * else in /tmp); removed at exit. */
const char *fuzz_tmpdir (void);

#endif
