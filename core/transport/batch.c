/* batch.c -- JSON-RPC batches run a slice at a time, across loop turns. */
#include "transport/batch.h"

static int more(const batch_job *job) {
  return job->next < json_array_size(job->msgs);
}

/* Runs up to n messages of job; returns how many ran. */
static unsigned run_some(batch_job *job, unsigned n) {
  unsigned ran = 0;
  while (ran < n && more(job)) {
    const json_t *msg = json_array_get(job->msgs, job->next++);
    ran++;
    job->run(job, msg);
  }
  return ran;
}

/* An idle handle rather than a timer: it runs once per turn, and while it
 * is active the loop polls without blocking, so the I/O of every other
 * client is served between two slices. */
static void on_idle(uv_idle_t *h) {
  batch_runner *r = h->data;
  unsigned budget = BATCH_SLICE;

  while (budget > 0 && !list_empty(&r->jobs)) {
    batch_job *job = list_entry(r->jobs.next, batch_job, link);
    /* To the back first: run() may cancel other jobs, never this one. */
    list_remove(&job->link);
    list_insert_tail(&r->jobs, &job->link);
    budget -= run_some(job, budget < BATCH_QUANTUM ? budget : BATCH_QUANTUM);
    if (!more(job)) {
      list_remove(&job->link);
      job->queued = 0;
      job->done(job);
    }
  }
  if (list_empty(&r->jobs))
    uv_idle_stop(h);
}

int batch_runner_init(batch_runner *r, uv_loop_t *loop) {
  int rc;
  list_init(&r->jobs);
  rc = uv_idle_init(loop, &r->idle);
  if (rc < 0)
    return rc;
  r->idle.data = r;
  r->started = 1;
  return 0;
}

int batch_start(batch_runner *r, batch_job *job) {
  list_init(&job->link);
  job->queued = 0;
  run_some(job, BATCH_SLICE);
  if (!more(job))
    return 0;
  job->queued = 1;
  list_insert_tail(&r->jobs, &job->link);
  uv_idle_start(&r->idle, on_idle);
  return 1;
}

void batch_cancel(batch_runner *r, batch_job *job) {
  if (!job->queued)
    return;
  list_remove(&job->link);
  job->queued = 0;
  if (list_empty(&r->jobs))
    uv_idle_stop(&r->idle);
}

void batch_runner_close(batch_runner *r) {
  if (!r->started)
    return;
  while (!list_empty(&r->jobs))
    batch_cancel(r, list_entry(r->jobs.next, batch_job, link));
  uv_close((uv_handle_t *)&r->idle, NULL);
  r->started = 0;
}
