/* cidr.h -- IP addresses and CIDR blocks ("10.0.0.5", "10.1.0.0/16",
 * "2001:db8::/32"), for lists such as trusted_proxies. Pure. */
#ifndef MCPD_CIDR_H
#define MCPD_CIDR_H

#include <stdint.h>
#include <sys/socket.h>

typedef struct cidr {
  int family;       /* AF_INET or AF_INET6 */
  uint8_t addr[16]; /* network byte order; the first 4 bytes for IPv4 */
  unsigned prefix;  /* bits that must match */
} cidr;

/* Parses s (NUL-terminated) into *out. Returns 0 or -EINVAL. */
int cidr_parse(const char *s, cidr *out);

/* Whether the socket address sa (borrowed) is inside c. An IPv4-mapped
 * IPv6 address counts as its IPv4 address. 1 or 0. */
int cidr_match(const cidr *c, const struct sockaddr *sa);

#endif
