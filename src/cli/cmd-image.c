/* cmd-image.c - `corral image import|ls|inspect|rm|gc`: the image store
 * (src/image) from the command line. */
#include "config.h"
#include "cli.h"
#include "image.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
image_usage (FILE *f)
{
  fputs ("Usage: corral image import SOURCE --name NAME[:TAG] [--store DIR]\n"
         "       corral image pull REF [--name NAME[:TAG]] [--plain-http] [--store DIR]\n"
         "       corral image ls [--json] [--store DIR]\n"
         "       corral image inspect NAME [--store DIR]\n"
         "       corral image rm NAME... [--store DIR]\n"
         "       corral image gc [--store DIR]\n"
         "\n"
         "Images without Docker: SOURCE is a `docker export` tar, a `docker save` tar\n"
         "or an OCI image layout (a directory or a tar of one); layers may be\n"
         "uncompressed, gzip or zstd.  Layers are unpacked once into the store and\n"
         "shared; `corral run --image NAME` runs on an overlay of them.  pull downloads\n"
         "REF (python:3.11-slim, ghcr.io/org/img:tag, REGISTRY/REPO@sha256:...) through\n"
         "the registry HTTP API v2, with the credentials of ~/.docker/config.json.\n"
         "  --name NAME[:TAG]   the name to import as (tag default `latest`)\n"
         "  --store DIR         the store (default $CORRAL_STORE, else /var/lib/corral\n"
         "                      as root, ~/.local/share/corral otherwise)\n"
         "  --json              ls: one JSON list\n"
         "  --plain-http        pull: HTTP instead of HTTPS (the default for loopback)\n"
         "\n"
         "Exit status: 0 done, 2 usage, 125 failed (the message says why).\n",
         f);
}

enum { OPT_NAME = 256, OPT_STORE, OPT_JSON, OPT_PLAIN_HTTP };

static const struct option options[] = {
  { "name", required_argument, NULL, OPT_NAME },
  { "store", required_argument, NULL, OPT_STORE },
  { "json", no_argument, NULL, OPT_JSON },
  { "plain-http", no_argument, NULL, OPT_PLAIN_HTTP },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

static cJSON *
list_json (char **v)
{
  if (v == NULL)
    return cJSON_CreateNull ();
  cJSON *a = cJSON_CreateArray ();
  for (size_t i = 0; v[i]; i++)
    cJSON_AddItemToArray (a, cJSON_CreateString (v[i]));
  return a;
}

static cJSON *
image_json (const struct image *im)
{
  cJSON *o = cJSON_CreateObject ();
  cJSON_AddStringToObject (o, "name", im->name);
  cJSON_AddStringToObject (o, "id", im->id);
  cJSON_AddStringToObject (o, "source", im->source ? im->source : "");
  cJSON_AddStringToObject (o, "created", im->created ? im->created : "");
  cJSON_AddNumberToObject (o, "size", (double) im->size);
  cJSON *layers = cJSON_AddArrayToObject (o, "layers");
  for (size_t i = 0; i < im->n_layers; i++)
    cJSON_AddItemToArray (layers, cJSON_CreateString (im->layers[i]));
  cJSON *cfg = cJSON_AddObjectToObject (o, "config");
  cJSON_AddItemToObject (cfg, "Env", list_json (im->env));
  if (im->workdir)
    cJSON_AddStringToObject (cfg, "WorkingDir", im->workdir);
  else
    cJSON_AddNullToObject (cfg, "WorkingDir");
  if (im->user)
    cJSON_AddStringToObject (cfg, "User", im->user);
  else
    cJSON_AddNullToObject (cfg, "User");
  cJSON_AddItemToObject (cfg, "Cmd", list_json (im->cmd));
  cJSON_AddItemToObject (cfg, "Entrypoint", list_json (im->entrypoint));
  return o;
}

static void
print_json (cJSON *o, bool pretty)
{
  char *s = pretty ? cJSON_Print (o) : cJSON_PrintUnformatted (o);
  if (s)
    puts (s);
  free (s);
  cJSON_Delete (o);
}

static void
human_size (uint64_t b, char *buf, size_t len)
{
  static const char *const units[] = { "B", "KB", "MB", "GB", "TB" };
  double v = (double) b;
  size_t u = 0;
  while (v >= 1000 && u < 4)
    v /= 1000, u++;
  snprintf (buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

int
cmd_image (int argc, char **argv)
{
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0)
    {
      image_usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? EXIT_USAGE : 0;
    }
  const char *sub = argv[1];
  static const char *const subs[] = { "import", "pull", "ls", "inspect", "rm", "gc" };
  bool known = false;
  for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
    known |= strcmp (sub, subs[i]) == 0;
  if (!known)
    {
      cli_error ("image", "unknown subcommand `%s` (import, pull, ls, inspect, rm, gc)", sub);
      return EXIT_USAGE;
    }
  const char *name = NULL, *store = NULL;
  bool json = false, plain_http = false;
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long (argc - 1, argv + 1, "h", options, NULL)) != -1)
    switch (c)
      {
      case OPT_NAME: name = optarg; break;
      case OPT_STORE: store = optarg; break;
      case OPT_JSON: json = true; break;
      case OPT_PLAIN_HTTP: plain_http = true; break;
      case 'h': image_usage (stdout); return 0;
      default:
        if (optopt >= 256)
          cli_error ("image", "option `%s` needs a value", argv[optind]);
        else
          cli_error ("image", "unknown option `%s` (see `corral image --help`)", argv[optind]);
        return EXIT_USAGE;
      }
  char **args = argv + 1 + optind;
  int nargs = argc - 1 - optind;
  struct corral_error err = { 0 };
  char norm[300];

  if (strcmp (sub, "import") == 0)
    {
      if (nargs != 1 || name == NULL)
        {
          cli_error ("image", "import needs one SOURCE and --name NAME[:TAG]");
          return EXIT_USAGE;
        }
      if (image_normalize (name, norm, sizeof norm, &err) < 0)
        {
          cli_error ("image", "%s", err.msg);
          return EXIT_USAGE;
        }
    }
  else if (strcmp (sub, "pull") == 0)
    {
      if (nargs != 1)
        {
          cli_error ("image", "pull needs one REF");
          return EXIT_USAGE;
        }
      if (image_normalize (name ? name : args[0], norm, sizeof norm, &err) < 0)
        {
          cli_error ("image", "%s", err.msg);
          return EXIT_USAGE;
        }
    }
  else if (name)
    {
      cli_error ("image", "--name is for import and pull");
      return EXIT_USAGE;
    }
  if (plain_http && strcmp (sub, "pull") != 0)
    {
      cli_error ("image", "--plain-http is for pull");
      return EXIT_USAGE;
    }
  if ((strcmp (sub, "ls") == 0 || strcmp (sub, "gc") == 0) && nargs != 0)
    {
      cli_error ("image", "%s takes no arguments", sub);
      return EXIT_USAGE;
    }
  if ((strcmp (sub, "inspect") == 0 && nargs != 1) || (strcmp (sub, "rm") == 0 && nargs < 1))
    {
      cli_error ("image", "%s needs %s", sub, strcmp (sub, "rm") == 0 ? "NAME..." : "one NAME");
      return EXIT_USAGE;
    }

  struct image_store st;
  if (image_store_open (store, &st, &err) < 0)
    {
      cli_error ("image", "%s", err.msg);
      return EXIT_IE;
    }
  if (strcmp (sub, "import") == 0)
    {
      /* Ctrl-C: the default action is right; nothing half-made is ever
       * named (see image.h) and leftovers go at the next import or gc. */
      if (image_import (&st, args[0], norm, &err) < 0)
        {
          cli_error ("image", "import %s: %s", args[0], err.msg);
          return EXIT_IE;
        }
      return 0;
    }
  if (strcmp (sub, "pull") == 0)
    {
      if (image_pull (&st, args[0], norm, plain_http, isatty (2), &err) < 0)
        {
          cli_error ("image", "pull %s: %s", args[0], err.msg);
          return EXIT_IE;
        }
      return 0;
    }
  if (strcmp (sub, "ls") == 0)
    {
      struct image *ims;
      size_t n;
      if (image_list (&st, &ims, &n, &err) < 0)
        {
          cli_error ("image", "%s", err.msg);
          return EXIT_IE;
        }
      if (json)
        {
          cJSON *a = cJSON_CreateArray ();
          for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray (a, image_json (&ims[i]));
          print_json (a, false);
        }
      else
        {
          printf ("%-40s %-14s %7s %10s  %s\n", "NAME", "ID", "LAYERS", "SIZE", "IMPORTED");
          for (size_t i = 0; i < n; i++)
            {
              char sz[32];
              human_size (ims[i].size, sz, sizeof sz);
              printf ("%-40s %-14.14s %7zu %10s  %s\n", ims[i].name,
                      ims[i].id + (strncmp (ims[i].id, "sha256:", 7) == 0 ? 7 : 0), ims[i].n_layers,
                      sz, ims[i].created ? ims[i].created : "");
            }
        }
      image_list_free (ims, n);
      return 0;
    }
  if (strcmp (sub, "inspect") == 0)
    {
      struct image im;
      if (image_find (&st, args[0], &im, &err) < 0)
        {
          cli_error ("image", "%s", err.msg);
          return EXIT_IE;
        }
      print_json (image_json (&im), true);
      image_free (&im);
      return 0;
    }
  if (strcmp (sub, "rm") == 0)
    {
      int rc = 0;
      for (int i = 0; i < nargs; i++)
        {
          struct corral_error e = { 0 };
          if (image_remove (&st, args[i], &e) < 0)
            {
              cli_error ("image", "rm %s: %s", args[i], e.msg);
              rc = EXIT_IE;
            }
          else
            printf ("removed %s\n", args[i]);
        }
      return rc;
    }
  size_t removed;
  uint64_t bytes;
  if (image_gc (&st, &removed, &bytes, &err) < 0)
    {
      cli_error ("image", "%s", err.msg);
      return EXIT_IE;
    }
  char sz[32];
  human_size (bytes, sz, sizeof sz);
  printf ("removed %zu unused layer%s (%s)\n", removed, removed == 1 ? "" : "s", sz);
  return 0;
}
