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
  /* The modern era: no initialize, no session; each request carries its
   * version and the client's capabilities (mcp/modern.h). */
  PROTO_2026_07_28 = 4,
  PROTO_COUNT
};
/* The newest revision initialize negotiates (the legacy era's last). */
#define PROTO_LATEST PROTO_2025_11_25

/* Whether a revision belongs to the modern era. */
#define PROTO_IS_MODERN(v) ((v) >= PROTO_2026_07_28)

/* Returns the revision named by s[0..len), or -1 if mcpd does not speak it. */
int protocol_parse(const char *s, size_t len);

/* Returns the name of a revision ("2025-11-25"). */
const char *protocol_name(int version);

#endif
