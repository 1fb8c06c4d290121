/* batch.h -- JSON-RPC batches run a slice at a time. A transport hands a
 * batch (a JSON array of messages) to a runner, which runs its first slice
 * at once and the rest on later turns of the loop, BATCH_SLICE messages a
 * turn over all batches in progress (BATCH_QUANTUM from each in turn), so
 * that a client's batch of thousands of calls cannot hold the loop, and
 * every other client with it, for the whole of its run. Loop thread
 * only. */
#ifndef MCPD_BATCH_H
#define MCPD_BATCH_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "lib/list.h"

/* Messages run per loop turn, over all batches; and per batch before the
 * next one's turn. A message is typically a few microseconds to tens of
 * them (a tool call is validated against its schema), so a slice keeps the
 * loop's stall in the low milliseconds. */
#define BATCH_SLICE   64
#define BATCH_QUANTUM 16

typedef struct batch_job batch_job;
typedef struct batch_runner batch_runner;

/* One batch, embedded in the transport's own record of it. */
struct batch_job {
  const json_t *msgs; /* borrowed: the array, kept by the owner until done */
  size_t next;        /* the next message to run */
  /* Runs one message (borrowed). It must not cancel or free its own job. */
  void (*run)(batch_job *job, const json_t *msg);
  /* Every message ran, on a later turn than batch_start(): the job is no
   * longer the runner's. Not called for a job that was cancelled. */
  void (*done)(batch_job *job);
  list_node link; /* in the runner's queue */
  int queued;
};

struct batch_runner {
  uv_idle_t idle; /* active while a job waits */
  list_node jobs; /* round robin: the next to run first */
  int started;
};

/* Initialises the runner on loop. Returns 0 or a libuv error. */
int batch_runner_init(batch_runner *r, uv_loop_t *loop);

/* Runs the first slice of job (borrowed; msgs, run and done set, next 0)
 * now. Returns 0 when that was every message (done is not called: the
 * caller goes on at once), 1 when the rest is queued: done(job) follows on
 * a later turn unless the job is cancelled first, and job must stay valid
 * until then. */
int batch_start(batch_runner *r, batch_job *job);

/* Whether job waits in a runner. */
static inline int batch_queued(const batch_job *job) {
  return job->queued;
}

/* Drops a queued job (its owner is going away): no more messages run and
 * done is not called. A job that is not queued is left alone. */
void batch_cancel(batch_runner *r, batch_job *job);

/* Drops every queued job (without done) and closes the handle. */
void batch_runner_close(batch_runner *r);

#endif
