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
#include "mcp/registry.h"
#include "mcpd/plugin.h"
#include "plugin/plugin_ctx.h"

struct plugin_env;

typedef struct plugin_set {
  list_node active;   /* serving, in file-name order */
  list_node draining; /* retired, waiting for their calls and work */
  list_node reap;     /* retired and idle: unloaded on the next loop turn */
  unsigned count;     /* active */
  unsigned failed;    /* files not serving after the last scan because they failed */
  list_node failures; /* files that failed, remembered (plugin_loader.c) */
  uint64_t next_failure;
  uint64_t next_gen;
  char *runtime_dir; /* where the private copies live */
  unsigned drain_ms; /* after it, a retired version's calls are cancelled */
  uv_idle_t reaper;
  uv_timer_t drain_timer;
  int handles_open;
} plugin_set;

/* What one scan of the plugins directory did. */
typedef struct plugin_scan_result {
  unsigned loaded, replaced, removed, unchanged;
  unsigned failed;       /* files that failed in this scan */
  unsigned still_failed; /* files skipped: they failed before and nothing changed since */
  char first_error[512]; /* "file: reason" of the first failure of this scan; "" when none */
  /* "file: reason" of the newest failure still standing: the first of this
   * scan, else the newest remembered one; "" when every file serves. */
  char newest_error[512];
} plugin_scan_result;

/* Sets the set up: creates runtime_dir (0700) and removes copies left
 * there by processes that no longer run. runtime_dir is copied. Returns 0
 * or a negative error (logged). */
int plugin_set_init(struct plugin_env *env, const char *runtime_dir, unsigned drain_ms);

/* Brings the set in line with dir: new files load, changed files (their
 * plugin_file_id, or their settings in the config) load as a new version
 * that replaces the old one only if it loads, removed files retire. A file
 * that fails is logged with its path and reason; the version serving
 * before it (if any) goes on serving. A plugin whose init() saw a
 * registration refused does not go into service, even if init() returned
 * 0. A failure is remembered: later scans skip the file (its init() does
 * not run again) until the file or its plugin's settings change, or, when
 * a name another plugin held was the reason, until that name is free.
 * Names: the version in service keeps its names; within one scan, the
 * first file in name order takes a free name. Returns 0, or a negative
 * error when dir cannot be read (nothing changes then). */
int plugin_scan(struct plugin_env *env, const char *dir, plugin_scan_result *res);

/* Retires every serving version and unloads each with nothing in flight.
 * Returns how many versions are still loaded (calls or work running). */
unsigned plugin_unload_all(struct plugin_env *env);

/* Closes the set's handles; call after plugin_unload_all() returned 0. */
void plugin_set_close(plugin_set *set);

#endif
