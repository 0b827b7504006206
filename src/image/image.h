/* image.h - images without Docker.
 *
 * A store of unpacked layers, content-addressed by their uncompressed
 * digest (the image config's diff_id) and shared between images, plus one
 * small JSON record per image name.  Imports read `docker export` and
 * `docker save` tars and OCI image layouts (directories or tars), with
 * layers uncompressed, gzip or zstd; a run mounts an image's layers as the
 * read-only lower layers of an overlay.
 *
 *   STORE/lock                 flock: shared by imports and runs, exclusive
 *                              by gc (which waits for them)
 *   STORE/layers/sha256-HEX/   one unpacked layer (whiteouts as overlayfs
 *                              reads them: 0/0 character devices, opaque
 *                              directories marked with overlay xattrs)
 *   STORE/images/KEY.json      one image: name, id, layers, config
 *   STORE/images/KEY.lock      flock: shared by runs, exclusive by rm
 *   STORE/tmp/                 imports in progress (PID-named; a dead
 *                              importer's leftovers go at the next gc), and
 *                              blob.HEX.part: a pull's downloads, kept for
 *                              resuming until gc
 *
 * Writes are atomic (a temporary name renamed into place) so a crash or
 * Ctrl-C leaves no half image, and concurrent imports of the same layer
 * keep one copy. */
#ifndef CORRAL_IMAGE_H
#define CORRAL_IMAGE_H

#include "corral.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct image_store {
  char root[PATH_MAX];
  bool root_owned;     /* a root store: owners kept, trusted.* marks too */
};

/* The store in dir, else $CORRAL_STORE, else /var/lib/corral for root and
 * $XDG_DATA_HOME/corral (~/.local/share/corral) otherwise; created with
 * its layout if missing. */
int image_store_open (const char *dir, struct image_store *st, struct corral_error *err);

struct image {
  char *name;          /* NAME:TAG */
  char *id;            /* sha256:HEX of the config (or of the tar of an export) */
  char *source;        /* "docker-export", "docker-save", "oci", "registry" */
  char *created;       /* when it was imported, RFC 3339 */
  char **layers;       /* diff_ids "sha256:HEX", bottom first */
  size_t n_layers;
  uint64_t size;       /* bytes of the unpacked layers */
  char **env;          /* config Env, NULL-terminated (never NULL) */
  char *workdir;       /* config WorkingDir or NULL */
  char *user;          /* config User or NULL */
  char **cmd, **entrypoint; /* NULL-terminated or NULL */
  char **lowers;       /* image_use: layer directory names, top first */
  int store_lock;      /* image_use: the store's lock, shared (-1 or 0 when none) */
};

void image_free (struct image *im);

/* "python", "python:3.11-slim", "ghcr.io/org/img:tag": NAME:TAG with the
 * tag "latest" when none is given; -1 when name is not a valid reference. */
int image_normalize (const char *name, char *out, size_t len, struct corral_error *err);

/* Imports source (a file or an OCI layout directory) as name. */
int image_import (struct image_store *st, const char *source, const char *name,
                  struct corral_error *err);

int image_find (struct image_store *st, const char *name, struct image *out,
                struct corral_error *err);
/* Every image, sorted by name. */
int image_list (struct image_store *st, struct image **out, size_t *n, struct corral_error *err);
void image_list_free (struct image *ims, size_t n);
/* Refuses (EBUSY) while a run uses the image.  Layers stay until gc. */
int image_remove (struct image_store *st, const char *name, struct corral_error *err);
/* Removes layers no image refers to and dead imports' leftovers. */
int image_gc (struct image_store *st, size_t *layers_removed, uint64_t *bytes,
              struct corral_error *err);

/* For a run: finds name, holds its lock (shared) until image_release, and
 * fills spec's root (lowers_base, lowers, n_lowers) from its layers.  The
 * strings live in *im. */
int image_use (struct image_store *st, const char *name, struct image *im, int *lock_fd,
               struct corral_spec *spec, struct corral_error *err);
void image_release (struct image *im, int lock_fd);

/* The image's User (NAME, UID, NAME:GROUP or UID:GID) as ids, as `docker
 * run` resolves it: names from the image's own /etc/passwd and /etc/group
 * (its layers, after image_use), a user without a group takes its passwd
 * entry's group (0 without one).  *set is false when the image names no
 * user; -1 (the message names what is wrong) for a name not found. */
int image_user (const struct image *im, const char *lowers_base, uid_t *uid, gid_t *gid,
                bool *set, struct corral_error *err);

/* Downloads REF (NAME[:TAG] or NAME@sha256:HEX, on Docker Hub or
 * REGISTRY/NAME) through the registry HTTP API v2 and stores it as name
 * (REF when NULL).  plain_http: talk HTTP, not HTTPS (the default for
 * loopback registries).  progress: a progress line on stderr. */
int image_pull (struct image_store *st, const char *ref, const char *name, bool plain_http,
                bool progress, struct corral_error *err);

/* ---- inside the module --------------------------------------------------- */

int image_record_write (struct image_store *st, const char *name, const char *source,
                        const char *id_hex, size_t n, char diffs[][65], const uint64_t *bytes,
                        const char *config_text, struct corral_error *err);
/* Unpacks the (maybe compressed) layer tar read from fd into the store. */
int image_unpack_file (struct image_store *st, int fd, const char *want_blob, const char *want_diff,
                       const char *what, char diff_hex[65], uint64_t *bytes, struct corral_error *err);
void image_reap_tmp (struct image_store *st);
int image_store_lock (struct image_store *st, int how, struct corral_error *err);

struct layer_stats {
  uint64_t bytes, entries;
  unsigned skipped_devices, cleared_setid;
};

/* Unpacks one layer: reads the uncompressed tar stream of `a` (an open
 * libarchive reader positioned at its first header) into the directory
 * fd dirfd, safely (see unpack.c). */
struct archive;
int image_unpack_layer (struct archive *a, int dirfd, bool root_owned, const char *what,
                        struct layer_stats *stats, struct corral_error *err);

#endif
