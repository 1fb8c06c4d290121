/* reload.c -- SIGHUP. The new configuration is read and checked first; a
 * bad one changes nothing. Settings that need a new socket or thread pool
 * (listen, worker_threads, runtime_dir) keep their old values until a
 * restart, with a log line. Then the plugins directory is scanned (see
 * plugin_scan()), and sessions with a stream get list_changed for each list
 * whose contents changed.
 *
 * The TLS certificate and key are read again: new connections get the new
 * context, open ones keep theirs. Files that do not load keep the old
 * context (an error line) and the reload goes on; turning TLS on or off
 * needs a restart, like listen. */
#include "daemon/reload.h"

#include "daemon/server.h"
#include "lib/config.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keeps a setting that cannot change without a restart, saying so. */
static void keep_str(server *srv, const char *key, char **now, char **next) {
  if ((*now == NULL) != (*next == NULL) || (*now != NULL && strcmp(*now, *next) != 0)) {
    log_msg(&srv->log, LOGLVL_WARN, "reload_setting_ignored",
            "setting=%s reason=\"takes effect at the next restart\"", key);
    free(*next);
    *next = *now ? strdup(*now) : NULL;
  }
}

/* Reloads the certificate when the listener speaks TLS. Returns "reloaded",
 * "off", "kept" (needs a restart) or "failed" with the reason in err. */
static const char *reload_tls(server *srv, config *next, char *err, size_t n) {
  char esc[1100], what[512];
  tls_ctx *tls;

  if (!srv->have_http || srv->http.tls == NULL) {
    if (srv->have_http && next->tls_cert_file != NULL) {
      log_msg(&srv->log, LOGLVL_WARN, "reload_setting_ignored",
              "setting=tls reason=\"takes effect at the next restart\"");
      return "kept";
    }
    return "off";
  }
  if (next->tls_cert_file == NULL) {
    /* Keep serving HTTPS with what the running config says. */
    log_msg(&srv->log, LOGLVL_WARN, "reload_setting_ignored",
            "setting=tls reason=\"takes effect at the next restart\"");
    config_set_string(&next->tls_cert_file, srv->cfg.tls_cert_file);
    config_set_string(&next->tls_key_file, srv->cfg.tls_key_file);
    config_set_string(&next->tls_client_ca_file, srv->cfg.tls_client_ca_file);
    return "kept";
  }
  if (server_tls_load(next, &tls, err, n) < 0) {
    log_msg(&srv->log, LOGLVL_ERROR, "tls_reload_failed", "reason=%s kept=previous_certificate",
            log_escape(err, esc, sizeof(esc)));
    return "failed";
  }
  tls_ctx_describe(tls, what, sizeof(what));
  http_server_set_tls(&srv->http, tls);
  log_msg(&srv->log, LOGLVL_INFO, "tls_reloaded", "%s", what);
  return "reloaded";
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

int reload_run(server *srv) {
  config next;
  char err[1024], esc[1100], tls_err[1024];
  const char *tls;
  plugin_scan_result res;
  json_t *before[REG_LISTS];
  int changed[REG_LISTS], r;
  uint64_t t0 = uv_hrtime();

  srv->reloads++;
  r = config_build(&srv->args, &next, err, sizeof(err));
  if (r < 0) {
    srv->reload_failures++;
    note_error(srv, err, "");
    log_msg(&srv->log, LOGLVL_ERROR, "reload_failed", "reason=%s kept=previous_configuration",
            log_escape(err, esc, sizeof(esc)));
    return r;
  }
  /* Keep what needs a restart. */
  keep_str(srv, "listen", &srv->cfg.listen_host, &next.listen_host);
  if (next.listen_port != srv->cfg.listen_port) {
    log_msg(&srv->log, LOGLVL_WARN, "reload_setting_ignored",
            "setting=listen reason=\"takes effect at the next restart\"");
    next.listen_port = srv->cfg.listen_port;
  }
  keep_str(srv, "runtime_dir", &srv->cfg.runtime_dir, &next.runtime_dir);
  if (next.worker_threads != srv->cfg.worker_threads) {
    log_msg(&srv->log, LOGLVL_WARN, "reload_setting_ignored",
            "setting=worker_threads reason=\"takes effect at the next restart\"");
    next.worker_threads = srv->cfg.worker_threads;
  }
  if (next.plugins_dir == NULL)
    config_set_string(&next.plugins_dir, srv->cfg.plugins_dir);
  /* The verifier takes the new auth section first: a jwks_file that does
   * not load fails the reload, and nothing changes. */
  if (srv->have_auth && auth_verifier_apply(&srv->auth, next.auth, err, sizeof(err)) < 0) {
    srv->reload_failures++;
    note_error(srv, err, "");
    log_msg(&srv->log, LOGLVL_ERROR, "reload_failed", "reason=%s kept=previous_configuration",
            log_escape(err, esc, sizeof(esc)));
    config_free(&next);
    return -EINVAL;
  }
  tls = reload_tls(srv, &next, tls_err, sizeof(tls_err));
  /* Swap: every module reads the settings through &srv->cfg. */
  config_free(&srv->cfg);
  srv->cfg = next;
  server_apply_config(srv);

  registry_lists_snapshot(&srv->reg, before);
  r = plugin_scan(&srv->penv, srv->cfg.plugins_dir, &res);
  registry_lists_compare(&srv->reg, before, changed);
  server_notify_lists(srv, changed);
  /* Only a new failure counts: a broken file left in the directory is
   * skipped, not failed again (plugin_scan()). The error shown is the
   * newest one still standing. */
  if (r < 0 || res.failed > 0) {
    srv->reload_failures++;
    note_error(srv, r < 0 ? res.first_error : res.newest_error,
               res.failed > 1 ? " (and more: see the log)" : "");
  } else if (tls[0] == 'f') {
    srv->reload_failures++;
    note_error(srv, tls_err, "");
  } else {
    note_error(srv, res.newest_error, "");
  }
  log_msg(&srv->log, r < 0 || res.failed || tls[0] == 'f' ? LOGLVL_WARN : LOGLVL_INFO,
          "reload_done",
          "duration_ms=%.3f loaded=%u replaced=%u removed=%u unchanged=%u failed=%u "
          "still_failed=%u plugins=%u tools=%zu tools_changed=%d resources_changed=%d "
          "prompts_changed=%d tls=%s",
          (double)(uv_hrtime() - t0) / 1e6, res.loaded, res.replaced, res.removed, res.unchanged,
          res.failed, res.still_failed, srv->plugins.count, srv->reg.lists[REG_TOOL].count,
          changed[0], changed[1], changed[2], tls);
  return 0;
}
