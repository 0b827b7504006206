/* base64.h - RFC 4648 base64 (the standard alphabet, '=' padding). */
#ifndef CORRAL_BASE64_H
#define CORRAL_BASE64_H

#include <stddef.h>

/* malloc'd, NUL-terminated text. */
char *base64_encode (const void *data, size_t len);
/* malloc'd bytes (plus a NUL), *out_len their number; NULL when s is not
 * base64 (whitespace is skipped). */
unsigned char *base64_decode (const char *s, size_t *out_len);
/* Lenient, as Python's base64.b64decode (see base64.c). */
unsigned char *base64_decode_loose (const char *s, size_t *out_len);

#endif
