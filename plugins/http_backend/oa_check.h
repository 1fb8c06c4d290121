/* oa_check.h -- whether a JSON value matches a JSON Schema, for the subset of
 * JSON Schema 2020-12 the OpenAPI converter emits (oa_schema.c), so that a
 * tool result's structuredContent is only sent when it matches the tool's
 * outputSchema: the official TypeScript client throws on a mismatch (it checks
 * with ajv and ajv-formats), and the plugin cannot link mcpd's own validator.
 * Pure: no I/O, no global state; any thread. Not installed. */
#ifndef HTTP_BACKEND_OA_CHECK_H
#define HTTP_BACKEND_OA_CHECK_H

#include <jansson.h>

/* 1 when value (borrowed) matches schema (borrowed; its "$ref"s are local pointers
 * into schema itself, "#/$defs/X"), else 0. Errs on the side of 0: a keyword it
 * cannot decide the way ajv would (a pattern it cannot translate, a format ajv-formats
 * knows and this does not, a reference it cannot resolve, nesting deeper than 64) is
 * a mismatch, which only costs the result its structuredContent. Keywords it does not
 * know are annotations to it, as to ajv. */
int oa_check(const json_t *schema, const json_t *value);

#endif
