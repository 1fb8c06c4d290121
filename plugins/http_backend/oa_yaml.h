/* oa_yaml.h -- an OpenAPI document's text (JSON or YAML) as jansson values.
 *
 * YAML is read with libyaml and resolved the way OpenAPI documents mean it,
 * which is YAML 1.2's core schema, not the YAML 1.1 rules libyaml's users
 * often apply:
 *   - plain null, ~, true/false (in the three spellings of each) and numbers
 *     (decimal, 0o octal, 0x hex, floats) are JSON null, booleans and numbers;
 *   - everything else is a string: on/off/yes/no, dates and timestamps,
 *     .inf and .nan (JSON has no such numbers), and every quoted or block
 *     scalar;
 *   - mapping keys are strings as written: "200:" is the key "200";
 *   - anchors and aliases work (an alias shares the jansson value, never a
 *     copy) within a bound on what aliases add, and "<<" merge keys too;
 *   - a duplicate key, a key that is not a scalar, a second document in the
 *     stream, or a NUL byte in a string is an error.
 *
 * Pure: no I/O, no global state; may run on any thread. */
#ifndef HTTP_BACKEND_OA_YAML_H
#define HTTP_BACKEND_OA_YAML_H

#include <jansson.h>
#include <stddef.h>

/* Nesting deeper than this is an error (jansson's own parser stops at 2048;
 * frees of deep trees recurse). */
#define OA_YAML_MAX_DEPTH 1000

/* Parses the YAML text (borrowed, len bytes, need not be NUL-terminated)
 * into *out (a new reference the caller owns). Returns 0; -EINVAL with a
 * message naming the line in err (size n) when the text is not one valid
 * YAML document or breaks a rule above; -E2BIG when aliases would expand it
 * past the bound; -ENOMEM. */
int oa_yaml_parse(const char *text, size_t len, json_t **out, char *err, size_t n);

/* Parses a document that is JSON or YAML, told apart by its content: JSON
 * when its first character that is not white space (after a UTF-8 byte
 * order mark) is '{', else YAML. The result must be an object (a mapping).
 * text borrowed; *out a new reference the caller owns. Returns 0, or a
 * negative error as oa_yaml_parse() with a message that says which format
 * was tried. */
int oa_yaml_parse_document(const char *text, size_t len, json_t **out, char *err, size_t n);

#endif
