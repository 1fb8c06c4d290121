/* plugin_env.h -- what the plugin layer gets from the daemon: the loop,
 * the log, the registry and call engine it registers into and runs calls
 * on, the outgoing HTTP client, the settings, and one callback upward. The
 * plugin layer never sees the server struct. Loop thread only. */
#ifndef MCPD_PLUGIN_ENV_H
#define MCPD_PLUGIN_ENV_H

#include <uv.h>

#include "lib/config.h"
#include "lib/log.h"
#include "mcp/call.h"
#include "mcp/registry.h"
#include "net/http_client.h"

typedef struct plugin_env plugin_env;
struct plugin_set;

struct plugin_env {
  /* Borrowed from the daemon; each outlives the environment. */
  uv_loop_t *loop;
  const logger *log;
  registry *reg;       /* the registry in service */
  call_engine *calls;  /* where calls run */
  http_client *http;   /* plugins' outgoing HTTP (host->http_request) */
  const config *cfg;   /* the settings; each plugin's own object comes from it */
  const int *stopping; /* non-zero once mcpd is stopping: no new work */
  /* Upward: a plugin changed its registrations after init() (update_commit),
   * and changed[k] says which of the REG_LISTS lists changed. The daemon
   * decides whom to tell. */
  void (*lists_changed)(plugin_env *env, const int changed[REG_LISTS]);
  void *arg;                  /* the daemon's */
  struct plugin_set *plugins; /* the loaded versions (the daemon's) */
};

#endif
