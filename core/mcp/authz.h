/* authz.h -- which scopes a tool, resource or prompt needs, and whether a
 * principal holds them. The first auth.scopes rule whose pattern matches
 * the entry decides; else the scopes the plugin registered with it
 * (required_scopes); else auth.scopes.default. Knows nothing of HTTP: the
 * transports ask it before dispatching (to answer 403), and the dispatcher
 * asks it again (a batch may run after a reload). Loop thread only. */
#ifndef MCPD_AUTHZ_H
#define MCPD_AUTHZ_H

#include <stddef.h>

#include "lib/auth_config.h"
#include "lib/principal.h"
#include "mcp/jsonrpc.h"
#include "mcp/registry.h"

/* Whether p may use entry e (kind, and key: a tool or prompt name, a
 * resource URI, a template text; for a template matched by a read, the
 * URI read). cfg NULL (auth off) or p NULL (stdio): yes. When not, the
 * first scope set that would allow it is written into need (size n). */
int authz_allows(const auth_config *cfg, const principal *p, const reg_entry *e, const char *key,
                 char *need, size_t n);

/* The transports' check of one message before it is dispatched: 0 when p
 * may send it (or it names nothing that needs a scope); -EACCES with the
 * scopes needed in need (size n) and what was refused in what (size wn,
 * "tools/call delete_item"). reg is borrowed. */
int authz_check_message(const auth_config *cfg, const registry *reg, const principal *p,
                        const jsonrpc_msg *m, char *need, size_t n, char *what, size_t wn);

/* Every scope named by the config and the registered entries, sorted and
 * unique, as a new JSON array (for scopes_supported); NULL without memory. */
json_t *authz_scopes_supported(const auth_config *cfg, const registry *reg);

#endif
