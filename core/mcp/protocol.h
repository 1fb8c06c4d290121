/* protocol.h -- the MCP protocol revisions mcpd speaks. */
#ifndef MCPD_PROTOCOL_H
#define MCPD_PROTOCOL_H

#include <stddef.h>

/* In release order, so features can be gated with >=. */
enum protocol_version {
  PROTO_2024_11_05 = 0,
  PROTO_2025_03_26 = 1,
  PROTO_2025_06_18 = 2,
  PROTO_2025_11_25 = 3,
  PROTO_COUNT
};

#define PROTO_LATEST PROTO_2025_11_25

/* Returns the revision named by s[0..len), or -1 if mcpd does not speak it. */
int protocol_parse(const char *s, size_t len);

/* Returns the name of a revision ("2025-11-25"). */
const char *protocol_name(int version);

#endif
