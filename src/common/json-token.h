/* json-token.h - the raw text of a value in JSON text, and the bytes of a
 * JSON string with any NUL in it.
 *
 * cJSON keeps strings NUL-terminated, so a "\u0000" cuts a string short.
 * Where such a string must still be read whole (a model's completion: the
 * reference graders exec it and fail on the NUL; the row is written back
 * as it came), its token is found here in the text the row was parsed
 * from.  Tokens are located, not validated: call these on text cJSON has
 * already accepted. */
#ifndef CORRAL_JSON_TOKEN_H
#define CORRAL_JSON_TOKEN_H

#include <stddef.h>

/* The value of key in the object whose text starts at obj (whitespace
 * first allowed): a pointer to its first byte and *len its length; NULL
 * when obj is no object or has no such key (the first one, when repeated,
 * as cJSON reads it). */
const char *json_member (const char *obj, const char *key, size_t *len);
/* The byte after the value whose text starts at v (after whitespace), or
 * NULL when v starts no value. */
const char *json_value_end (const char *v);
/* The k-th element (from 0) of the array whose text starts at arr. */
const char *json_element (const char *arr, size_t k, size_t *len);
/* The bytes of the string token tok[0..len) ("..." with its escapes),
 * NULs included, malloc'd with a NUL after them; *out_len their number.
 * NULL when tok is no string token or on ENOMEM. */
char *json_string_bytes (const char *tok, size_t len, size_t *out_len);

/* bytes[0..n) as a JSON string token ("..."; quotes, backslashes and
 * control characters, NUL included, escaped), malloc'd; NULL on ENOMEM. */
char *json_string_token (const char *bytes, size_t n);

#endif
