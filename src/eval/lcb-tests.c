/* lcb-tests.c - decoding LiveCodeBench's private test cases.  The data is
 * untrusted: a pickle is never executed, only a fixed handful of opcodes
 * that can express "one string" are read, with every length checked. */
#include "config.h"
#include "lcb-tests.h"
#include "base64.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_DECODED (1ull << 30) /* 1 GiB of test data is not a dataset row */

static unsigned char *
inflate_all (const unsigned char *in, size_t n, size_t *out_len)
{
  z_stream z;
  memset (&z, 0, sizeof z);
  if (inflateInit (&z) != Z_OK)
    return NULL;
  size_t alloc = n * 4 + 1024, len = 0;
  unsigned char *out = malloc (alloc);
  z.next_in = (unsigned char *) in;
  z.avail_in = (uInt) n;
  int r = Z_OK;
  while (out && r != Z_STREAM_END)
    {
      if (alloc - len < 65536)
        {
          if (alloc > MAX_DECODED)
            break;
          unsigned char *nb = realloc (out, alloc * 2);
          if (nb == NULL)
            break;
          out = nb;
          alloc *= 2;
        }
      z.next_out = out + len;
      z.avail_out = (uInt) (alloc - len);
      r = inflate (&z, Z_NO_FLUSH);
      len = alloc - z.avail_out;
      if (r != Z_OK && r != Z_STREAM_END)
        break;
    }
  inflateEnd (&z);
  if (out == NULL || r != Z_STREAM_END)
    {
      free (out);
      return NULL;
    }
  *out_len = len;
  return out;
}

static uint64_t
le (const unsigned char *p, int n)
{
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

char *
lcb_unpickle_str (const unsigned char *p, size_t n, struct corral_error *err)
{
  size_t i = 0;
  char *str = NULL;
  while (i < n)
    {
      unsigned char op = p[i++];
      uint64_t len = 0;
      int width = 0;
      switch (op)
        {
        case 0x80: /* PROTO */
          if (i >= n || p[i] > 5)
            goto bad;
          i++;
          continue;
        case 0x95: /* FRAME: an 8-byte length we can ignore */
          if (n - i < 8)
            goto bad;
          i += 8;
          continue;
        case 0x94: /* MEMOIZE */
          continue;
        case 0x8c: width = 1; break; /* SHORT_BINUNICODE */
        case 0x58: width = 4; break; /* BINUNICODE */
        case 0x8d: width = 8; break; /* BINUNICODE8 */
        case 0x2e: /* STOP */
          if (str == NULL)
            goto bad;
          return str;
        default:
          corral_fail (err, 0, "pickle opcode 0x%02x is not allowed (only a pickled string is)", op);
          free (str);
          return NULL;
        }
      if (str != NULL)
        {
          corral_fail (err, 0, "the pickle holds more than one string");
          free (str);
          return NULL;
        }
      if (n - i < (size_t) width)
        goto bad;
      len = le (p + i, width);
      i += (size_t) width;
      if (len > n - i || len > MAX_DECODED)
        goto bad;
      str = malloc ((size_t) len + 1);
      if (str == NULL)
        {
          corral_fail (err, ENOMEM, "private tests");
          return NULL;
        }
      memcpy (str, p + i, (size_t) len);
      str[len] = '\0';
      if (strlen (str) != len)
        goto bad;
      i += (size_t) len;
    }
bad:
  free (str);
  corral_fail (err, 0, "not a pickled string (truncated or malformed)");
  return NULL;
}

char *
lcb_tests_text (const char *s, struct corral_error *err)
{
  cJSON *j = cJSON_Parse (s);
  if (j != NULL)
    {
      bool list = cJSON_IsArray (j);
      cJSON_Delete (j);
      if (!list)
        {
          corral_fail (err, 0, "JSON but not a list");
          return NULL;
        }
      return strdup (s);
    }
  size_t blen, zlen;
  unsigned char *b = base64_decode_loose (s, &blen);
  if (b == NULL)
    {
      corral_fail (err, 0, "neither JSON nor base64");
      return NULL;
    }
  unsigned char *z = inflate_all (b, blen, &zlen);
  free (b);
  if (z == NULL)
    {
      corral_fail (err, 0, "base64 but not zlib data");
      return NULL;
    }
  char *text = lcb_unpickle_str (z, zlen, err);
  free (z);
  if (text == NULL)
    return NULL;
  j = cJSON_Parse (text);
  bool list = cJSON_IsArray (j);
  cJSON_Delete (j);
  if (!list)
    {
      free (text);
      corral_fail (err, 0, "the decoded text is not a JSON list");
      return NULL;
    }
  return text;
}
