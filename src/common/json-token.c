/* json-token.c - raw tokens of JSON text (see json-token.h).  A scanner
 * that only skips: no recursion (brackets are counted), no allocation but
 * the decoded string and the keys compared. */
#include "json-token.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* whitespace as cJSON skips it: every byte from 1 to 32 */
static const char *
ws (const char *p)
{
  while (*p && (unsigned char) *p <= 32)
    p++;
  return p;
}

/* p at '"': the byte after the closing quote, or NULL */
static const char *
skip_string (const char *p)
{
  for (p++; *p && *p != '"'; p++)
    if (*p == '\\' && *++p == '\0')
      return NULL;
  return *p == '"' ? p + 1 : NULL;
}

/* p at a value: the byte after it, or NULL */
static const char *
skip_value (const char *p)
{
  if (*p == '"')
    return skip_string (p);
  if (*p == '{' || *p == '[')
    {
      size_t depth = 0;
      while (*p)
        {
          if (*p == '"')
            {
              if ((p = skip_string (p)) == NULL)
                return NULL;
              continue;
            }
          if (*p == '{' || *p == '[')
            depth++;
          else if ((*p == '}' || *p == ']') && --depth == 0)
            return p + 1;
          p++;
        }
      return NULL;
    }
  const char *s = p;
  while ((unsigned char) *p > 32 && !strchr (",]}", *p))
    p++;
  return p > s ? p : NULL;
}

const char *
json_value_end (const char *v)
{
  return skip_value (ws (v));
}

const char *
json_member (const char *obj, const char *key, size_t *len)
{
  const char *p = ws (obj), *found = NULL;
  if (*p++ != '{')
    return NULL;
  size_t klen = strlen (key);
  for (p = ws (p); *p != '}';)
    {
      const char *ks = p, *ke = *p == '"' ? skip_string (p) : NULL;
      if (ke == NULL)
        return NULL;
      size_t n;
      char *k = json_string_bytes (ks, (size_t) (ke - ks), &n);
      bool match = k && n == klen && memcmp (k, key, n) == 0;
      free (k);
      p = ws (ke);
      if (*p++ != ':')
        return NULL;
      const char *v = ws (p), *ve = skip_value (v);
      if (ve == NULL)
        return NULL;
      if (match && found == NULL)
        {
          found = v;
          *len = (size_t) (ve - v);
        }
      p = ws (ve);
      if (*p == ',')
        p = ws (p + 1);
      else if (*p != '}')
        return NULL;
    }
  return found;
}

const char *
json_element (const char *arr, size_t k, size_t *len)
{
  const char *p = ws (arr);
  if (*p++ != '[')
    return NULL;
  for (size_t i = 0; *(p = ws (p)) != ']'; i++)
    {
      const char *v = p, *ve = skip_value (v);
      if (ve == NULL)
        return NULL;
      if (i == k)
        {
          *len = (size_t) (ve - v);
          return v;
        }
      p = ws (ve);
      if (*p == ',')
        p++;
      else if (*p != ']')
        return NULL;
    }
  return NULL;
}

/* As cJSON's parse_hex4: 4 hex digits, and 0 for anything else (cJSON
 * reads "\u0zzz" as a NUL: the strings here must be the ones it read). */
static unsigned
hex4 (const char *p)
{
  unsigned v = 0;
  for (int i = 0; i < 4; i++)
    {
      char c = p[i];
      unsigned d = c >= '0' && c <= '9' ? (unsigned) (c - '0')
                   : c >= 'a' && c <= 'f' ? (unsigned) (c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (unsigned) (c - 'A' + 10)
                                          : 16u;
      if (d == 16)
        return 0;
      v = v * 16 + d;
    }
  return v;
}

char *
json_string_bytes (const char *tok, size_t len, size_t *out_len)
{
  if (len < 2 || tok[0] != '"' || tok[len - 1] != '"')
    return NULL;
  /* an escape never decodes to more bytes than it takes */
  char *out = malloc (len);
  if (out == NULL)
    return NULL;
  size_t n = 0;
  for (size_t i = 1; i < len - 1; i++)
    {
      if (tok[i] != '\\')
        {
          out[n++] = tok[i];
          continue;
        }
      /* as cJSON: the escaped character may be the closing quote itself
       * (its end scan and its decoding disagree there: "\u00e\\\"") */
      if (++i >= len)
        goto bad;
      char c = tok[i];
      if (c != 'u')
        {
          const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
          const char *at = strchr (from, c);
          if (at == NULL || c == '\0')
            goto bad;
          out[n++] = to[at - from];
          continue;
        }
      if (i + 4 >= len - 1)
        goto bad;
      unsigned cp = hex4 (tok + i + 1);
      i += 4;
      if (cp >= 0xDC00 && cp < 0xE000)
        goto bad; /* a lone low surrogate: cJSON refuses it */
      if (cp >= 0xD800 && cp < 0xDC00)
        {
          unsigned lo = i + 6 < len - 1 && tok[i + 1] == '\\' && tok[i + 2] == 'u' ? hex4 (tok + i + 3) : 0;
          if (lo < 0xDC00 || lo >= 0xE000)
            goto bad; /* as cJSON: a high surrogate needs its low one */
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          i += 6;
        }
      if (cp < 0x80)
        out[n++] = (char) cp;
      else if (cp < 0x800)
        {
          out[n++] = (char) (0xC0 | (cp >> 6));
          out[n++] = (char) (0x80 | (cp & 0x3F));
        }
      else if (cp < 0x10000)
        {
          out[n++] = (char) (0xE0 | (cp >> 12));
          out[n++] = (char) (0x80 | ((cp >> 6) & 0x3F));
          out[n++] = (char) (0x80 | (cp & 0x3F));
        }
      else
        {
          out[n++] = (char) (0xF0 | (cp >> 18));
          out[n++] = (char) (0x80 | ((cp >> 12) & 0x3F));
          out[n++] = (char) (0x80 | ((cp >> 6) & 0x3F));
          out[n++] = (char) (0x80 | (cp & 0x3F));
        }
    }
  out[n] = '\0';
  *out_len = n;
  return out;
bad:
  free (out);
  return NULL;
}

char *
json_string_token (const char *bytes, size_t n)
{
  /* at most 6 bytes per byte ("\u0000"), the quotes and a NUL */
  char *out = malloc (n * 6 + 3);
  if (out == NULL)
    return NULL;
  size_t o = 0;
  out[o++] = '"';
  for (size_t i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char) bytes[i];
      if (c == '"' || c == '\\')
        {
          out[o++] = '\\';
          out[o++] = (char) c;
        }
      else if (c < 0x20 || c == 0x7f)
        o += (size_t) snprintf (out + o, 7, "\\u%04x", c);
      else
        out[o++] = (char) c;
    }
  out[o++] = '"';
  out[o] = '\0';
  return out;
}
