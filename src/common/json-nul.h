/* json-nul.h - find a NUL character in JSON text before it is parsed.
 *
 * cJSON keeps strings NUL-terminated: a "\u0000" escape (or a raw NUL
 * byte) silently cuts a string short, so "python\u0000" would read as
 * "python".  Readers of untrusted JSON refuse such text instead, naming
 * the field. */
#ifndef CORRAL_JSON_NUL_H
#define CORRAL_JSON_NUL_H

#include <stdbool.h>
#include <stddef.h>

/* True when text[0..len) holds a NUL byte, or a \u0000 escape in a
 * string; then `where` names it ("the value of `files.a`", "a key of
 * `files`", "a NUL byte at offset 12").  Not a validator: text that is
 * not JSON is scanned as far as it goes, for the parser to refuse. */
bool json_find_nul (const char *text, size_t len, char *where, size_t wlen);

#endif
