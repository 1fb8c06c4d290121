/* plugin_loader.h -- plugin versions: loading one from a private copy of its
 * file (dlopen, descriptor checks, init() into a staging registry), putting
 * it in service, retiring it, and unloading it once its last call and its
 * last queued work are done. Loop thread only. */
#ifndef MCPD_PLUGIN_LOADER_H
#define MCPD_PLUGIN_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <uv.h>

#include "lib/list.h"
#include "mcpd/plugin.h"
#include "mcp/registry.h"

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
  const struct mcpd_ctx *replaces; /* during init: the version it replaces */
  registry staged;                 /* its registrations until it is put in service */
  unsigned refs;                   /* 1 while serving, +1 per call and per queued work */
  int retired;                     /* out of service, unloading when refs reaches 0 */
  uint64_t retired_at;             /* loop time, ms */
  int drain_cancelled;             /* its calls were cancelled at the drain deadline */
  unsigned n_tools, n_resources, n_templates, n_prompts;
  list_node link; /* in plugin_set.active, .draining or .reap */
};

typedef struct plugin_set {
  list_node active;   /* serving, in file-name order */
  list_node draining; /* retired, waiting for their calls and work */
  list_node reap;     /* retired and idle: unloaded on the next loop turn */
  unsigned count;     /* active */
  unsigned failed;    /* files that failed in the last scan */
  uint64_t next_gen;
  char *runtime_dir; /* where the private copies live */
  unsigned drain_ms; /* after it, a retired version's calls are cancelled */
  uv_idle_t reaper;
  uv_timer_t drain_timer;
  int handles_open;
} plugin_set;

/* What one scan of the plugins directory did. */
typedef struct plugin_scan_result {
  unsigned loaded, replaced, removed, unchanged, failed;
  char first_error[512]; /* "file: reason" of the first failure; "" when none */
} plugin_scan_result;

/* Sets the set up: creates runtime_dir (0700) and removes copies left
 * there by processes that no longer run. runtime_dir is copied. Returns 0
 * or a negative error (logged). */
int plugin_set_init(struct plugin_env *env, const char *runtime_dir, unsigned drain_ms);

/* Brings the set in line with dir: new files load, changed files (their
 * plugin_file_id, or their settings in the config) load as a new version
 * that replaces the old one only if it loads, removed files retire. A file
 * that fails is logged with its path and reason; the version serving
 * before it (if any) goes on serving. Returns 0, or a negative error when
 * dir cannot be read (nothing changes then). */
int plugin_scan(struct plugin_env *env, const char *dir, plugin_scan_result *res);

/* Keeps a version loaded while a call or queued work of it is in flight. */
void plugin_ref(mcpd_ctx *ctx);
void plugin_unref(mcpd_ctx *ctx);

/* The plugin's name (borrowed: lives as long as ctx). */
const char *plugin_name(const mcpd_ctx *ctx);

/* Retires every serving version and unloads each with nothing in flight.
 * Returns how many versions are still loaded (calls or work running). */
unsigned plugin_unload_all(struct plugin_env *env);

/* Closes the set's handles; call after plugin_unload_all() returned 0. */
void plugin_set_close(plugin_set *set);

#endif
