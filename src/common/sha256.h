/* sha256.h - SHA-256 (FIPS 180-4): downloaded datasets, image blobs and layers. */
#ifndef CORRAL_SHA256_H
#define CORRAL_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
  uint32_t h[8];
  uint64_t len;
  unsigned char buf[64];
  size_t n;
};

void sha256_init (struct sha256 *s);
void sha256_update (struct sha256 *s, const void *data, size_t len);
/* Writes 64 lowercase hex digits and a NUL. */
void sha256_hex (struct sha256 *s, char out[65]);

#endif
