/* reload.h -- SIGHUP: re-read the configuration, bring the plugins in line
 * with their directory, and tell clients when the lists changed. It sits
 * above the server, as nginx keeps reconfiguration in its process cycle:
 * main.c hands reload_run() to the server as its SIGHUP hook. Loop thread
 * only; one reload runs to its end before the next starts (signals that
 * arrive meanwhile are delivered afterwards, coalesced). */
#ifndef MCPD_RELOAD_H
#define MCPD_RELOAD_H

#include "daemon/server.h"

/* Runs one reload. Returns 0, or a negative error (logged) when the new
 * configuration is unusable: then nothing changed. */
int reload_run(server *srv);

#endif
