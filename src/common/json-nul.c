/* json-nul.c - find a NUL character in JSON text (see json-nul.h).
 *
 * A small tokenizer that follows objects, arrays and strings far enough to
 * know the path of the value it is in: object keys and array indices, up to
 * a depth of 32 (deeper, the path is cut there). */
#include "json-nul.h"

#include <ctype.h>

#include <stdio.h>
#include <string.h>

#define DEPTH 32
#define KEY 40

struct frame {
  bool object;
  bool want_key;     /* in an object: the next string is a key */
  size_t index;      /* in an array */
  char key[KEY];     /* in an object: the current member's key, printable */
  bool key_cut;
};

static void
path_of (const struct frame *st, size_t depth, char *out, size_t len)
{
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < depth && i < DEPTH && used + 1 < len; i++)
    {
      int n;
      if (st[i].object)
        n = snprintf (out + used, len - used, "%s%s%s", used ? "." : "", st[i].key,
                      st[i].key_cut ? "..." : "");
      else
        n = snprintf (out + used, len - used, "[%zu]", st[i].index);
      if (n < 0)
        break;
      used += (size_t) n;
      if (used >= len)
        used = len - 1;
    }
}

/* Whether cJSON reads the 4 digits of a \u escape as 0: its parse_hex4
 * gives 0 for "0000", and for any that is not 4 hex digits ("\u0zzz"
 * cut "python\u0zzz" to "python" past a check for "\u0000" alone). */
static bool
is_hex0 (const char *p)
{
  for (int i = 0; i < 4; i++)
    if (!isxdigit ((unsigned char) p[i]))
      return true;
  return p[0] == '0' && p[1] == '0' && p[2] == '0' && p[3] == '0';
}

bool
json_find_nul (const char *text, size_t len, char *where, size_t wlen)
{
  struct frame st[DEPTH];
  size_t depth = 0;
  char path[256];
  for (size_t i = 0; i < len; i++)
    {
      char c = text[i];
      struct frame *top = depth && depth <= DEPTH ? &st[depth - 1] : NULL;
      if (c == '\0')
        {
          snprintf (where, wlen, "a NUL byte at offset %zu", i);
          return true;
        }
      if (c == '{' || c == '[')
        {
          if (depth < DEPTH)
            st[depth] = (struct frame) { .object = c == '{', .want_key = c == '{' };
          depth++;
        }
      else if ((c == '}' || c == ']') && depth)
        depth--;
      else if (c == ',' && top)
        {
          if (top->object)
            top->want_key = true;
          else
            top->index++;
        }
      else if (c == '"')
        {
          bool is_key = top && top->object && top->want_key;
          size_t k = 0;
          if (is_key)
            {
              top->key_cut = false;
              top->want_key = false;
            }
          for (i++; i < len && text[i] != '"'; i++)
            {
              bool nul = text[i] == '\0';
              char ch = text[i];
              if (ch == '\\' && i + 1 < len)
                {
                  i++;
                  if (text[i] == 'u' && i + 4 < len && is_hex0 (text + i + 1))
                    nul = true;
                  ch = text[i] == 'u' ? '?' : text[i];
                  if (text[i] == 'u')
                    i += i + 4 < len ? 4 : 0;
                }
              if (nul)
                {
                  if (is_key)
                    {
                      /* the object holding the key is at the path of
                       * the frames above it */
                      path_of (st, depth - 1, path, sizeof path);
                      if (path[0])
                        snprintf (where, wlen, "a key of `%s`", path);
                      else
                        snprintf (where, wlen, "a key");
                    }
                  else
                    {
                      path_of (st, depth, path, sizeof path);
                      if (path[0])
                        snprintf (where, wlen, "the value of `%s`", path);
                      else
                        snprintf (where, wlen, "the string");
                    }
                  return true;
                }
              if (is_key)
                {
                  if (k + 1 < KEY)
                    top->key[k++] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
                  else
                    top->key_cut = true;
                }
            }
          if (is_key)
            top->key[k] = '\0';
        }
    }
  return false;
}
