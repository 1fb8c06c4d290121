/* cidr.c -- matching addresses against CIDR blocks. */
#include "lib/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int cidr_parse(const char *s, cidr *out) {
  char buf[64];
  const char *slash = strchr(s, '/');
  size_t len = slash ? (size_t)(slash - s) : strlen(s);
  unsigned max;
  memset(out, 0, sizeof(*out));
  if (len == 0 || len >= sizeof(buf))
    return -EINVAL;
  memcpy(buf, s, len);
  buf[len] = '\0';
  if (inet_pton(AF_INET, buf, out->addr) == 1) {
    out->family = AF_INET;
    max = 32;
  } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    out->family = AF_INET6;
    max = 128;
    if (memcmp(out->addr, mapped, sizeof(mapped)) == 0) {
      /* "::ffff:10.0.0.1" (how dual-stack logs show IPv4 clients) is the
       * IPv4 address: cidr_match() compares mapped peers as IPv4 too. */
      memmove(out->addr, out->addr + 12, 4);
      memset(out->addr + 4, 0, 12);
      out->family = AF_INET;
      if (slash != NULL) {
        char *end;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || p < 96 || p > 128)
          return -EINVAL;
        out->prefix = (unsigned)p - 96;
      } else {
        out->prefix = 32;
      }
      return 0;
    }
  } else {
    return -EINVAL;
  }
  out->prefix = max;
  if (slash != NULL) {
    char *end;
    unsigned long p;
    if (slash[1] < '0' || slash[1] > '9')
      return -EINVAL;
    p = strtoul(slash + 1, &end, 10);
    if (*end != '\0' || p > max)
      return -EINVAL;
    out->prefix = (unsigned)p;
  }
  return 0;
}

static int prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits) {
  unsigned whole = bits / 8, rest = bits % 8;
  if (memcmp(a, b, whole) != 0)
    return 0;
  if (rest == 0)
    return 1;
  return ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int cidr_match(const cidr *c, const struct sockaddr *sa) {
  const uint8_t *a;
  int family;
  if (sa->sa_family == AF_INET) {
    a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    family = AF_INET;
  } else if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
      a = a6->s6_addr + 12;
      family = AF_INET;
    } else {
      a = a6->s6_addr;
      family = AF_INET6;
    }
  } else {
    return 0;
  }
  return family == c->family && prefix_equal(a, c->addr, c->prefix);
}
