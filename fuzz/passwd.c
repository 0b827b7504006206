/* passwd.c - an image's User and its /etc/passwd and /etc/group
 * (src/image/user.c), as `corral run --image` resolves them.  The input's
 * first line is the User string; the rest is both files. */
#include "config.h"
#include "fuzz.h"
#include "image.h"

#include <stdio.h>
#include <sys/stat.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static char base[128];
  if (base[0] == '\0')
    {
      char etc[160];
      snprintf (base, sizeof base, "%s/lowers", fuzz_tmpdir ());
      snprintf (etc, sizeof etc, "%s/layer", base);
      if (mkdir (base, 0700) < 0 || mkdir (etc, 0700) < 0
          || (snprintf (etc, sizeof etc, "%s/layer/etc", base), mkdir (etc, 0700)) < 0)
        abort ();
    }
  const uint8_t *nl = memchr (data, '\n', size);
  size_t ulen = nl ? (size_t) (nl - data) : size;
  char *user = fuzz_cstr (data, ulen);
  const uint8_t *rest = nl ? nl + 1 : data + size;
  size_t rlen = size - (size_t) (rest - data);
  char path[200];
  snprintf (path, sizeof path, "%s/layer/etc/passwd", base);
  if (user == NULL || fuzz_write_file (path, rest, rlen, 0) < 0)
    abort ();
  snprintf (path, sizeof path, "%s/layer/etc/group", base);
  if (fuzz_write_file (path, rest, rlen, 0) < 0)
    abort ();
  char *lowers[] = { "layer", NULL };
  struct image im = { .user = user, .lowers = lowers, .n_layers = 1 };
  uid_t uid;
  gid_t gid;
  bool set;
  struct corral_error err = { 0 };
  (void) image_user (&im, base, &uid, &gid, &set, &err);
  free (user);
  return 0;
}
