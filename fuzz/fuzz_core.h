/* fuzz_core.h -- the MCP core the dispatch and HTTP fuzz targets drive:
 * one uv loop, a config, a silent logger, metrics, and a registry with a
 * few tools, a resource, a resource template and a prompt whose handlers
 * run in-process (some answer at once, some through the call engine's
 * queue, one asks the client), wired to a call engine, a session table and
 * the dispatcher the way core/daemon/server.c wires them. Made once per
 * process; each input only adds sessions and calls, which the target
 * removes again. FUZZ_CORE_LOG=1 in the environment sends the log to
 * stderr (it is formatted, then dropped, otherwise). */
#ifndef MCPD_FUZZ_CORE_H
#define MCPD_FUZZ_CORE_H

#include <uv.h>

#include "lib/config.h"
#include "lib/log.h"
#include "mcp/call.h"
#include "mcp/dispatch.h"
#include "mcp/registry.h"
#include "mcp/session.h"
#include "net/metrics.h"

typedef struct fuzz_core {
  uv_loop_t loop;
  config cfg;
  logger log;
  metrics metrics;
  registry reg;
  call_engine calls;
  session_table sessions;
  dispatch disp;
  uv_async_t alive; /* never sent: keeps the loop alive (the daemon's listener does) */
} fuzz_core;

/* Sets up fc (static storage: it lives as long as the process). on_remove
 * runs for every removed session, before it is freed. Aborts on failure. */
void fuzz_core_init(fuzz_core *fc, session_remove_cb on_remove, void *arg);

/* Runs the loop for at most turns non-blocking turns, so queued call
 * completions and closing handles are processed. */
void fuzz_core_run(fuzz_core *fc, int turns);

/* Removes every session (the target's cleanup after an input). */
void fuzz_core_remove_sessions(fuzz_core *fc);

/* Cancels every unfinished call (as a shutdown does) and runs the loop so
 * their completions are processed: a call whose session went away goes on
 * without it, and "slow" answers only when cancelled. */
void fuzz_core_cancel_calls(fuzz_core *fc);

#endif
