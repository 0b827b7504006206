/* lcb-tests.h - LiveCodeBench test cases: plain JSON, or the official
 * encoding base64(zlib(pickle(json string))), decoded without unpickling. */
#ifndef CORRAL_EVAL_LCB_TESTS_H
#define CORRAL_EVAL_LCB_TESTS_H

#include "corral.h"

/* The JSON text of a test-case list: s itself if it parses as JSON, else
 * its decoding.  malloc'd; NULL with err on anything else. */
char *lcb_tests_text (const char *s, struct corral_error *err);

/* Decodes a protocol-4 pickle holding one str: only PROTO, FRAME,
 * SHORT_BINUNICODE, BINUNICODE, BINUNICODE8, MEMOIZE and STOP are
 * accepted.  malloc'd UTF-8 string, or NULL with err. */
char *lcb_unpickle_str (const unsigned char *p, size_t n, struct corral_error *err);

#endif
