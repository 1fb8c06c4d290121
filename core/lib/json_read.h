/* json_read.h -- JSON text to jansson values, without jansson's parser.
 * Accepts what json_loadb(text, len, 0, &e) accepts (an object or array at
 * the top level, strict UTF-8, no "\u0000", 64-bit integers, at most 2048
 * levels counting scalars) and builds the same tree: keys in insertion
 * order, a repeated key replaces the earlier value in its first position.
 * One deliberate difference: jansson skips a NUL byte right after a number
 * or literal ("[1\0]" loads); here every NUL outside a string is an error.
 * Meant for every request body: it reads the buffer in place and
 * copies only strings with escapes; jansson's byte-at-a-time lexer costs
 * four to five times as much per document. */
#ifndef MCPD_JSON_READ_H
#define MCPD_JSON_READ_H

#include <stddef.h>

#include <jansson.h>

typedef struct {
  char text[160];  /* what is wrong, NUL-terminated */
  int line;        /* 1-based */
  int column;      /* 1-based, in characters (UTF-8 sequences) on that line */
  size_t position; /* byte offset of the offending character (len at the end) */
  int over;        /* for -E2BIG: JSON_READ_OVER_VALUES or JSON_READ_OVER_ELEMENTS */
} json_read_error;

/* Bounds on what one document may cost to build, checked as it is read, so
 * that a body over them is refused after the first value too many rather
 * than after building (and freeing) millions of them. 0: no bound. */
typedef struct {
  size_t max_values;   /* values in the document, containers included */
  size_t max_elements; /* elements of a top-level array (a JSON-RPC batch) */
} json_read_limits;

enum { JSON_READ_OVER_VALUES = 1, JSON_READ_OVER_ELEMENTS = 2 };

/* Parses the len bytes at text (borrowed; need not be NUL-terminated). On
 * success returns 0 and sets *out to a new reference (the caller owns it).
 * On failure returns -EINVAL (malformed text) or -ENOMEM, sets *out to
 * NULL and, when err is not NULL, fills *err; err is not written on
 * success. out NULL, or text NULL with len > 0, gives -EINVAL and nothing
 * else (text NULL with len 0 is empty input). */
int json_read(const char *text, size_t len, json_t **out, json_read_error *err);

/* json_read() within *lim (borrowed; NULL: no bounds). A document over one
 * of them gives -E2BIG, and err->over says which. Same ownership and
 * threads as json_read(). */
int json_read_limited(const char *text, size_t len, const json_read_limits *lim, json_t **out,
                      json_read_error *err);

#endif
