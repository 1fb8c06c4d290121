/* reload.c -- SIGHUP. The new configuration is read and checked first; a
 * bad one changes nothing. Settings that need a new socket or thread pool
 * (listen, worker_threads, runtime_dir) keep their old values until a
 * restart, with a log line. Then the plugins directory is scanned (see
 * plugin_scan()), and sessions with a stream get list_changed for each list
 * whose contents changed. */
#include "reload.h"

#include "config.h"
#include "error.h"
#include "log.h"
#include "dispatch.h"
#include "plugin_loader.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int reload_read_config(const reload_args *args, config *out, char *err, size_t n) {
  char why[1024];
  int r = config_init(out);
  if (r < 0) {
    snprintf(err, n, "out of memory");
    return r;
  }
  if (args->config_file != NULL &&
      (r = config_load_file(out, args->config_file, why, sizeof(why))) < 0) {
    snprintf(err, n, "config: %s", why);
    goto fail;
  }
  if (args->listen != NULL && (r = config_set_listen(out, args->listen, why, sizeof(why))) < 0) {
    snprintf(err, n, "--listen: %s", why);
    goto fail;
  }
  if (args->plugins_dir != NULL &&
      (r = config_set_string(&out->plugins_dir, args->plugins_dir)) < 0)
    goto fail;
  if (args->log_level >= 0)
    out->log_level = args->log_level;
  return 0;
fail:
  config_free(out);
  return r;
}

/* Keeps a setting that cannot change without a restart, saying so. */
static void keep_str(server *srv, const char *key, char **now, char **next) {
  if ((*now == NULL) != (*next == NULL) || (*now != NULL && strcmp(*now, *next) != 0)) {
    log_msg(&srv->log, LOG_WARN, "reload_setting_ignored",
            "setting=%s reason=\"takes effect at the next restart\"", key);
    free(*next);
    *next = *now ? strdup(*now) : NULL;
  }
}

/* Keeps why the last reload failed, for /healthz: what, then more (cut to
 * fit). */
static void note_error(server *srv, const char *what, const char *more) {
  size_t n = sizeof(srv->last_reload_error), a = strlen(what), b = strlen(more);
  if (b >= n)
    b = 0;
  if (a > n - 1 - b)
    a = n - 1 - b;
  memcpy(srv->last_reload_error, what, a);
  memcpy(srv->last_reload_error + a, more, b);
  srv->last_reload_error[a + b] = '\0';
}

/* The lists clients can be told about, and how. */
static const struct {
  unsigned kinds;
  const char *method;
} lists[RELOAD_LISTS] = {
    {1u << REG_TOOL, "notifications/tools/list_changed"},
    {(1u << REG_RESOURCE) | (1u << REG_TEMPLATE), "notifications/resources/list_changed"},
    {1u << REG_PROMPT, "notifications/prompts/list_changed"},
};

void reload_snapshot(server *srv, json_t *snap[RELOAD_LISTS]) {
  int k;
  for (k = 0; k < RELOAD_LISTS; k++)
    snap[k] = registry_snapshot(&srv->reg, lists[k].kinds);
}

void reload_announce(server *srv, json_t *before[RELOAD_LISTS], int changed[RELOAD_LISTS]) {
  int k;
  for (k = 0; k < RELOAD_LISTS; k++) {
    json_t *after = registry_snapshot(&srv->reg, lists[k].kinds);
    /* Out of memory for a snapshot: say it changed rather than miss it. */
    changed[k] = before[k] == NULL || after == NULL || !json_equal(before[k], after);
    json_decref(before[k]);
    json_decref(after);
    before[k] = NULL;
    if (changed[k])
      dispatch_notify_all(&srv->disp, lists[k].method);
  }
}

int reload_run(server *srv) {
  config next;
  char err[1024], esc[1100];
  plugin_scan_result res;
  json_t *before[RELOAD_LISTS];
  int changed[RELOAD_LISTS], r;
  uint64_t t0 = uv_hrtime();

  srv->reloads++;
  r = reload_read_config(&srv->args, &next, err, sizeof(err));
  if (r < 0) {
    srv->reload_failures++;
    note_error(srv, err, "");
    log_msg(&srv->log, LOG_ERROR, "reload_failed", "reason=%s kept=previous_configuration",
            log_escape(err, esc, sizeof(esc)));
    return r;
  }
  /* Keep what needs a restart. */
  keep_str(srv, "listen", &srv->cfg.listen_host, &next.listen_host);
  if (next.listen_port != srv->cfg.listen_port) {
    log_msg(&srv->log, LOG_WARN, "reload_setting_ignored",
            "setting=listen reason=\"takes effect at the next restart\"");
    next.listen_port = srv->cfg.listen_port;
  }
  keep_str(srv, "runtime_dir", &srv->cfg.runtime_dir, &next.runtime_dir);
  if (next.worker_threads != srv->cfg.worker_threads) {
    log_msg(&srv->log, LOG_WARN, "reload_setting_ignored",
            "setting=worker_threads reason=\"takes effect at the next restart\"");
    next.worker_threads = srv->cfg.worker_threads;
  }
  if (next.plugins_dir == NULL)
    config_set_string(&next.plugins_dir, srv->cfg.plugins_dir);
  /* Swap: every module reads the settings through &srv->cfg. */
  config_free(&srv->cfg);
  srv->cfg = next;
  server_apply_config(srv);

  reload_snapshot(srv, before);
  r = plugin_scan(srv, srv->cfg.plugins_dir, &res);
  reload_announce(srv, before, changed);
  if (r < 0 || res.failed > 0) {
    srv->reload_failures++;
    note_error(srv, res.first_error, res.failed > 1 ? " (and more: see the log)" : "");
  } else {
    srv->last_reload_error[0] = '\0';
  }
  log_msg(&srv->log, r < 0 || res.failed ? LOG_WARN : LOG_INFO, "reload_done",
          "duration_ms=%.3f loaded=%u replaced=%u removed=%u unchanged=%u failed=%u "
          "plugins=%u tools=%zu tools_changed=%d resources_changed=%d prompts_changed=%d",
          (double)(uv_hrtime() - t0) / 1e6, res.loaded, res.replaced, res.removed, res.unchanged,
          res.failed, srv->plugins.count, srv->reg.lists[REG_TOOL].count, changed[0], changed[1],
          changed[2]);
  return 0;
}
