/* sdnotify.c -- the systemd notification protocol without libsystemd. */
#include "daemon/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int sdnotify(const char *state) {
  const char *path = getenv("NOTIFY_SOCKET");
  struct sockaddr_un sa;
  socklen_t len;
  size_t plen;
  ssize_t sent;
  int fd;

  if (path == NULL || path[0] == '\0')
    return 0;
  plen = strlen(path);
  if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sa.sun_path))
    return -EINVAL;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, plen);
  if (path[0] == '@')
    sa.sun_path[0] = '\0'; /* an abstract socket */
  len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
  close(fd);
  return sent < 0 ? -errno : 1;
}

int sdnotify_reloading(void) {
  struct timespec ts;
  char msg[64];
  clock_gettime(CLOCK_MONOTONIC, &ts);
  snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
           (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
  return sdnotify(msg);
}
