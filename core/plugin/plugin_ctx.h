/* plugin_ctx.h -- one loaded version of a plugin (the opaque mcpd_ctx of
 * the SDK) and its reference count: what the host functions and the loader
 * both need to know about it. The loader creates, retires and unloads
 * versions; the host functions hold references while work of a version is
 * in flight. Loop thread only. */
#ifndef MCPD_PLUGIN_CTX_H
#define MCPD_PLUGIN_CTX_H

#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/list.h"
#include "mcp/registry.h"
#include "mcpd/plugin.h"

struct plugin_env;

#define CTX_MAGIC 0x6d637478u /* "mctx" */

/* The identity of a plugin file: a change of any of these is a new version. */
typedef struct plugin_file_id {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
} plugin_file_id;

/* One loaded version of a plugin (the opaque mcpd_ctx of the SDK). */
struct mcpd_ctx {
  uint32_t magic;
  struct plugin_env *env; /* borrowed */
  char *name;             /* owned copies of the descriptor's strings */
  char *version;
  char *description;
  char *path;      /* the file in the plugins directory */
  char *copy_path; /* the private copy it was loaded from */
  uint64_t gen;    /* load number: in the copy's name and in logs */
  plugin_file_id file;
  json_t *config;                  /* owned: the settings it got in init() */
  void *dl;                        /* dlopen handle of the copy */
  mcpd_plugin desc;                /* the descriptor, normalised to the host's size */
  void *state;                     /* what init() returned */
  int in_init;                     /* registrations are allowed */
  int updating;                    /* update_begin() .. update_commit(): likewise */
  unsigned saved_counts[4];        /* n_tools.. before an update, to restore on failure */
  list_node async;                 /* its HTTP requests and timers (host_api.c) */
  char last_refusal[256];          /* why the last registration was refused */
  unsigned n_refused;              /* registrations refused during init(): it must not serve */
  int taken_kind;                  /* the first key of init() another plugin held: its
                                      enum reg_kind, or -1 */
  char taken_key[256];             /* ... and that key */
  const struct mcpd_ctx *replaces; /* during init: the version it replaces */
  registry staged;                 /* its registrations until it is put in service */
  unsigned refs;                   /* 1 while serving, +1 per call and per queued work */
  int retired;                     /* out of service, unloading when refs reaches 0 */
  uint64_t retired_at;             /* loop time, ms */
  int drain_cancelled;             /* its calls were cancelled at the drain deadline */
  int warned_insecure;             /* MCPD_HTTP_INSECURE_SKIP_VERIFY was logged */
  unsigned n_tools, n_resources, n_templates, n_prompts;
  list_node link; /* in plugin_set.active, .draining or .reap */
  /* Called by plugin_unref() when a retired version's last reference goes:
   * the loader unloads it on a later loop turn. */
  void (*on_idle)(struct mcpd_ctx *ctx);
};

/* Keeps a version loaded while a call or queued work of it is in flight. */
void plugin_ref(mcpd_ctx *ctx);

/* Drops a reference; the last one of a retired version calls its on_idle. */
void plugin_unref(mcpd_ctx *ctx);

/* The plugin's name and version (borrowed: they live as long as ctx). */
const char *plugin_name(const mcpd_ctx *ctx);
const char *plugin_version(const mcpd_ctx *ctx);

#endif
