/* remote.h - a corral run on a corral server (see remote.c). */
#ifndef CORRAL_REMOTE_H
#define CORRAL_REMOTE_H

#include "corral.h"

struct corral_remote;

/* urls: one or more base URLs separated by commas (http://HOST:PORT).
 * The API key, if the servers want one, comes from $CORRAL_API_KEY. */
int corral_remote_open (const char *urls, struct corral_remote **out, struct corral_error *err);
/* Like corral_run, on a server: 0 with *res filled, or -1 with err. */
int corral_remote_run (struct corral_remote *r, const struct corral_spec *spec,
                       struct corral_result *res, struct corral_error *err);
void corral_remote_close (struct corral_remote *r);

#endif
