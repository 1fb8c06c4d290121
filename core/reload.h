/* reload.h -- SIGHUP: re-read the configuration, bring the plugins in line
 * with their directory, and tell clients when the lists changed. Loop
 * thread only; one reload runs to its end before the next starts (signals
 * that arrive meanwhile are delivered afterwards, coalesced). */
#ifndef MCPD_RELOAD_H
#define MCPD_RELOAD_H

#include <jansson.h>
#include <stddef.h>

struct server;
struct config;

/* What the command line said, re-applied over the config file each time. */
typedef struct reload_args {
  const char *config_file; /* NULL: no file */
  const char *listen;      /* NULL: from the file */
  const char *plugins_dir;
  int log_level; /* -1: from the file */
  int stdio;     /* serve stdin/stdout instead of HTTP */
} reload_args;

/* Builds the configuration from the file and the command line into *out
 * (initialised here; the caller frees it). Returns 0, or a negative error
 * with a message in err (size n). */
int reload_read_config(const reload_args *args, struct config *out, char *err, size_t n);

/* Runs one reload. Returns 0, or a negative error (logged) when the new
 * configuration is unusable: then nothing changed. */
int reload_run(struct server *srv);

/* The lists a change of which clients hear about: tools, resources (with
 * templates), prompts. */
#define RELOAD_LISTS 3

/* Takes snapshots of the lists (new refs; NULL when out of memory), to
 * compare after a change with reload_announce(). */
void reload_snapshot(struct server *srv, json_t *snap[RELOAD_LISTS]);

/* Compares the lists with before (released and set NULL), sets changed[k],
 * and sends list_changed notifications for those that changed. */
void reload_announce(struct server *srv, json_t *before[RELOAD_LISTS], int changed[RELOAD_LISTS]);

#endif
