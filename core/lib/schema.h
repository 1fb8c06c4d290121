/* schema.h -- validation of tool arguments against a tool's inputSchema.
 *
 * A JSON Schema subset, enough to reject what a handler cannot use and to
 * say why: type (one or a list; "integer" accepts 2.0), enum, const,
 * properties, required, additionalProperties (false or a schema),
 * patternProperties is ignored, items (a schema), prefixItems, minItems,
 * maxItems, uniqueItems, minLength, maxLength (counted in Unicode code
 * points), minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers;
 * the boolean draft-4 form too), multipleOf, allOf, anyOf, oneOf, not,
 * minProperties, maxProperties, and $ref to "#", "#/$defs/..." or
 * "#/definitions/..." inside the same root schema. Keywords it does not know
 * (format, pattern, $schema, title, description, default, examples, ...)
 * are ignored, so a valid schema never rejects valid input. Recursion is
 * bounded (depth 64), so a cyclic $ref cannot loop. Pure: no I/O, no
 * global state, thread-safe. */
#ifndef MCPD_SCHEMA_H
#define MCPD_SCHEMA_H

#include <stddef.h>
#include <jansson.h>

/* Validates instance (borrowed) against schema (borrowed; NULL or true
 * accepts anything, false rejects everything). Returns 0 when valid, or
 * -EINVAL and writes one message into err (size n, NUL-terminated, may be
 * cut) naming the JSON Pointer of the first offending value and the rule,
 * for example:
 *   "/text: expected string, got integer"
 *   "missing required property \"text\""            (at the root)
 *   "/items/2: must be >= 0"
 *   "/mode: must be one of \"fast\", \"slow\""
 *   "/x: unexpected property (additionalProperties is false)"
 * err may be NULL when n is 0. */
int schema_validate(const json_t *schema, const json_t *instance, char *err, size_t n);

/* Checks that schema (borrowed) is acceptable as a tool's inputSchema: an
 * object whose "type" is "object" (MCP requires it), and whose "properties"
 * (if present) is an object and "required" (if present) an array of
 * strings. Returns 0, or -EINVAL with a message in err. */
int schema_check_input_schema(const json_t *schema, char *err, size_t n);

#endif
