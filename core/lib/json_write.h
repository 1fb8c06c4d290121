/* json_write.h -- compact JSON text of a jansson value, appended to a buf.
 * The same text as json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) (insertion
 * order, "\uXXXX" for control characters, UTF-8 as is), written straight
 * into the buffer: every response and SSE event goes through it, and
 * jansson's callback dumper costs about three times as much. */
#ifndef MCPD_JSON_WRITE_H
#define MCPD_JSON_WRITE_H

#include <jansson.h>

#include "lib/buf.h"

/* Appends the text of v (borrowed) to out. Returns 0, -ENOMEM or -E2BIG
 * (out's limit), or -ELOOP for a value nested more than 2048 levels deep
 * (which is how a cycle shows); out is then left with a partial text. */
int json_write(buf *out, const json_t *v);

#endif
