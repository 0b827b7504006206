/* gate.h - the server's front door: accepts connections, holds each until
 * its request head is complete and well formed, and only then hands it to
 * libmicrohttpd (see gate.c). */
#ifndef CORRAL_SERVE_GATE_H
#define CORRAL_SERVE_GATE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct gate_config {
  unsigned max_connections;     /* waiting heads + connections being served */
  unsigned max_per_ip;          /* 0: no limit */
  double header_timeout;        /* seconds for a complete request head */
  uint64_t max_body;            /* a chunk size above it is refused (413) */
};

#define GATE_MAX_HEAD 16384

/* What a request head is worth: 0 (hand it over) or the status to answer,
 * with the reason in why.  head[0..len) is what the client sent so far;
 * *complete says whether it holds the whole head (then *head_len is its
 * length, blank line included).  Pure: the fuzz harness calls it. */
int gate_check_head (const char *head, size_t len, uint64_t max_body, bool *complete,
                     size_t *head_len, char *why, size_t wlen);

/* Listens on fd (bound, listening, non-blocking) in a thread of its own. */
int gate_start (struct MHD_Daemon *d, int listen_fd, const struct gate_config *cfg);
/* No new connections: the listening socket and the waiting heads close. */
void gate_stop (void);
/* For MHD_OPTION_NOTIFY_CONNECTION: counts the connections MHD serves. */
void gate_notify_connection (void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode code);
/* Connections now waiting for their head, and being served. */
void gate_counts (unsigned *waiting, unsigned *served);
/* Those counts and the gate's own answers by status, for /metrics. */
void gate_metrics (FILE *f);

#endif
