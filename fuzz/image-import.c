/* image-import.c - `corral image import` of any bytes as a tar: a `docker
 * export`, a `docker save` or an OCI layout tar, and the layers in it
 * (src/image/import.c, unpack.c, store.c).  Each input is imported into a
 * private store, then removed and collected.  Run it as an unprivileged
 * user (fuzz/build.sh does): a layer that escaped the store would write
 * where that user can. */
#include "config.h"
#include "fuzz.h"
#include "image.h"

#include <stdio.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static struct image_store st;
  static char tar[160];
  struct corral_error err = { 0 };
  if (tar[0] == '\0')
    {
      char dir[160];
      snprintf (dir, sizeof dir, "%s/store", fuzz_tmpdir ());
      snprintf (tar, sizeof tar, "%s/input.tar", fuzz_tmpdir ());
      if (image_store_open (dir, &st, &err) < 0)
        {
          fprintf (stderr, "fuzz: %s\n", err.msg);
          abort ();
        }
    }
  if (fuzz_write_file (tar, data, size, 0) < 0)
    abort ();
  if (image_import (&st, tar, "fuzz:latest", &err) == 0)
    {
      struct image im = { 0 };
      if (image_find (&st, "fuzz:latest", &im, &err) == 0)
        image_free (&im);
      if (image_remove (&st, "fuzz:latest", &err) < 0)
        {
          fprintf (stderr, "fuzz: remove: %s\n", err.msg);
          abort ();
        }
    }
  size_t removed;
  uint64_t bytes;
  if (image_gc (&st, &removed, &bytes, &err) < 0)
    {
      fprintf (stderr, "fuzz: gc: %s\n", err.msg);
      abort ();
    }
  return 0;
}
