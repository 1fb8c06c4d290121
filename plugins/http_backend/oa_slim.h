/* oa_slim.h -- a large JSON OpenAPI document made smaller before it is parsed.
 * Parsing costs per byte and per value: GitHub's 13 MB description is half
 * indentation, and a fifth of its values are components.examples, which the
 * converter never reads (examples are only ever referenced from the "examples"
 * of media types and parameters, which it does not resolve). The slim copy
 * has no whitespace outside strings and "components": {"examples": {}}.
 *
 * Pure: no I/O, no global state; any thread. */
#ifndef HTTP_BACKEND_OA_SLIM_H
#define HTTP_BACKEND_OA_SLIM_H

#include <stddef.h>

/* The slim copy of the JSON text (borrowed; len bytes): a new buffer the caller
 * frees with oa_slim_free(), *out_len bytes (not NUL-terminated). NULL when text is not a JSON
 * object whose structure the scan could follow (an unterminated string,
 * unbalanced brackets: the parser then reads the original and says what is
 * wrong with it) or when out of memory. Numbers and literals that were
 * separated only by whitespace stay separated, so text that is not valid JSON
 * does not become valid. */
char *oa_slim_json(const char *text, size_t len, size_t *out_len);

/* Frees a copy from oa_slim_json() (NULL is fine); text_len is the length of the
 * text it was made from. */
void oa_slim_free(char *slim, size_t text_len);

#endif
