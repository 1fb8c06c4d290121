/* plugin_loader.h -- loading plugins: dlopen, descriptor checks, init(),
 * and unloading once nothing of a plugin is in flight. Loop thread only. */
#ifndef MCPD_PLUGIN_LOADER_H
#define MCPD_PLUGIN_LOADER_H

#include <stddef.h>

#include "mcpd/plugin.h"

struct server;

#define CTX_MAGIC 0x6d637478u /* "mctx" */

/* One loaded plugin (the opaque mcpd_ctx of the SDK). */
struct mcpd_ctx {
  uint32_t magic;
  struct server *srv;
  char *name; /* owned copies of the descriptor's strings */
  char *version;
  char *description;
  char *path;             /* the file it was loaded from */
  void *dl;               /* dlopen handle */
  mcpd_plugin desc;       /* the descriptor, normalised to the host's size */
  void *state;            /* what init() returned */
  int in_init;            /* registrations are allowed */
  char last_refusal[256]; /* why the last registration was refused, for the log */
  unsigned refs;          /* 1 while loaded, +1 per call and per queued work */
  unsigned n_tools, n_resources, n_templates;
  struct mcpd_ctx *next;
};

typedef struct plugin_set {
  mcpd_ctx *head; /* in load order */
  unsigned count;
  unsigned failed; /* files that failed to load */
} plugin_set;

/* Loads every *.so in dir, in name order. A file that fails is logged with
 * its path and the reason and skipped. Returns the number loaded, or a
 * negative error when dir cannot be read. */
int plugin_load_dir(struct server *srv, const char *dir);

/* Loads one file. Returns 0, or a negative error with the reason in err
 * (size n); nothing of the plugin stays loaded then. */
int plugin_load_file(struct server *srv, const char *path, char *err, size_t n);

/* Keeps a plugin loaded while something of it is in flight. */
void plugin_ref(mcpd_ctx *ctx);
void plugin_unref(mcpd_ctx *ctx);

/* Unloads every plugin with nothing in flight (shutdown() then dlclose()).
 * Returns how many could not be unloaded because calls or work are still
 * running (they stay mapped; logged). */
unsigned plugin_unload_all(struct server *srv);

#endif
