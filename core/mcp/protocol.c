/* protocol.c -- the MCP protocol revisions mcpd speaks. */
#include "mcp/protocol.h"

#include <string.h>

static const char *const names[PROTO_COUNT] = {"2024-11-05", "2025-03-26", "2025-06-18",
                                               "2025-11-25", "2026-07-28"};

int protocol_parse(const char *s, size_t len) {
  int i;
  for (i = 0; i < PROTO_COUNT; i++) {
    if (len == 10 && memcmp(s, names[i], 10) == 0)
      return i;
  }
  return -1;
}

const char *protocol_name(int version) {
  if (version < 0 || version >= PROTO_COUNT)
    return "unknown";
  return names[version];
}
