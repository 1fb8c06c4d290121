/* sdnotify.h -- the systemd notification protocol (sd_notify(3)) without
 * libsystemd: one datagram to the socket named by $NOTIFY_SOCKET. */
#ifndef MCPD_SDNOTIFY_H
#define MCPD_SDNOTIFY_H

/* Sends state ("READY=1", "RELOADING=1\nMONOTONIC_USEC=...", "STOPPING=1")
 * when mcpd runs under systemd with Type=notify. Returns 1 if sent, 0 when
 * there is no $NOTIFY_SOCKET, or a negative error. */
int sdnotify(const char *state);

/* Sends RELOADING=1 with the monotonic time systemd wants with it. */
int sdnotify_reloading(void);

#endif
