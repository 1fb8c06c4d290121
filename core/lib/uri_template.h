/* uri_template.h -- matching URIs against RFC 6570 URI templates, for
 * resources/read on resource templates.
 *
 * Supported expressions (the ones resource templates use in practice):
 *   {var}        simple: the value has no '/', '?', '#' (percent-decoded)
 *   {+var}       reserved: any characters, including '/' (decoded)
 *   {#var}       fragment: '#' followed by any characters
 *   {/var}       path segment: '/' followed by a value without '/'
 *   {/var*}      path segments: '/' followed by one or more segments; the
 *                value is them joined by '/' ("/a/b" gives "a/b")
 *   {.var}       label: '.' followed by a value without '/' or '.'
 *   {?a,b}       query: each of "a=..", "b=.." optional, in any order
 *   {&a,b}       query continuation: like {?..} after a literal '?'
 *   several variables in one simple or reserved expression: {x,y}, the
 *   values separated by ','.
 * Values are percent-decoded. A value of {var}, {.var} or {/var} is an
 * RFC 6570 simple string: a URI where it would decode to a string holding
 * '/' (%2F) or to exactly "." or ".." does not match, so such a value can be
 * used as a file name. {+var}, {#var} and {/var*} carry paths (any '/', any
 * ".."), and query values are free text: a plugin checks those itself.
 * Variable names: [A-Za-z0-9_.] or %XX. A prefix modifier (:3) is accepted
 * and ignored when matching. Matching is exact over the whole URI: literal
 * text must match byte for byte. Pure: no I/O, no global state. */
#ifndef MCPD_URI_TEMPLATE_H
#define MCPD_URI_TEMPLATE_H

#include <stddef.h>
#include <jansson.h>

typedef struct uritpl uritpl;

/* Parses a template. On success returns 0 and sets *out (owned by the
 * caller; release with uritpl_free()). On a malformed template (unclosed
 * '{', empty or bad variable name, unknown operator, nested braces) returns
 * -EINVAL and writes a message into err (size n); -ENOMEM when out of
 * memory. */
int uritpl_parse(const char *tmpl, uritpl **out, char *err, size_t n);

/* Matches uri (borrowed, NUL-terminated) against t. Returns 1 on a match
 * and sets *vars to a new object (new ref) mapping each variable that
 * appeared in the URI to its percent-decoded string value (a variable of a
 * query expression that is absent from the URI is left out); returns 0 when
 * the URI does not match (*vars untouched); -ENOMEM when out of memory.
 * A value whose percent-decoding is invalid (bad %XX, a decoded NUL, not
 * UTF-8), or a simple string that decodes to '/', "." or ".." (see above),
 * does not match. */
int uritpl_match(const uritpl *t, const char *uri, json_t **vars);

/* Returns the number of variables in the template. */
size_t uritpl_var_count(const uritpl *t);

/* Frees a template (NULL is fine). */
void uritpl_free(uritpl *t);

#endif
