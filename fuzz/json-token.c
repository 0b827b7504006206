/* json-token.c - the raw-token scanner (src/common/json-token.c) that
 * reads a completion or code holding a NUL whole, on any bytes; where
 * cJSON accepts the text, the scanner must agree with it: the string it
 * decodes is cJSON's (up to a NUL, where cJSON stops). */
#include "config.h"
#include "fuzz.h"
#include "json-token.h"

#include <assert.h>
#include <cjson/cJSON.h>

static void
agree (const cJSON *item, const char *tok, size_t len)
{
  size_t n;
  char *bytes = json_string_bytes (tok, len, &n);
  if (cJSON_IsString (item))
    {
      assert (bytes != NULL);
      assert (strcmp (bytes, item->valuestring) == 0); /* up to the first NUL */
    }
  free (bytes);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = fuzz_cstr (data, size);
  if (s == NULL)
    return 0;
  cJSON *o = cJSON_Parse (s);
  size_t len, el;
  const char *v = json_member (s, "completion", &len);
  if (v)
    {
      assert (v >= s && v + len <= s + size && memchr (s, '\0', (size_t) (v - s)) == NULL);
      if (cJSON_IsObject (o))
        agree (cJSON_GetObjectItemCaseSensitive (o, "completion"), v, len);
      else
        free (json_string_bytes (v, len, &el));
    }
  const char *list = json_member (s, "code_list", &len);
  const cJSON *codes = cJSON_GetObjectItemCaseSensitive (o, "code_list");
  for (size_t k = 0; list && k < 4; k++)
    {
      const char *e = json_element (list, k, &el);
      if (e == NULL)
        break;
      /* within the array's text, when the text is JSON (on other text
       * the scan only stays within the string) */
      assert (e >= s && e + el <= s + size);
      assert (!cJSON_IsObject (o) || (e >= list && e + el <= list + len));
      if (cJSON_IsObject (o) && cJSON_IsArray (codes))
        agree (cJSON_GetArrayItem (codes, (int) k), e, el);
    }
  (void) json_value_end (s);
  cJSON_Delete (o);
  free (s);
  return 0;
}
