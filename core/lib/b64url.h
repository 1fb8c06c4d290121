/* b64url.h -- base64url without padding (RFC 4648 section 5), for tokens
 * mcpd signs and hands out (session ids, requestState). Pure; any thread. */
#ifndef MCPD_B64URL_H
#define MCPD_B64URL_H

#include <stddef.h>

/* The length of the encoding of n bytes. */
#define B64URL_LEN(n) (((n)*4 + 2) / 3)

/* Writes the encoding of n bytes of in, and a NUL, into out (room for
 * B64URL_LEN(n) + 1). Returns B64URL_LEN(n). */
size_t b64url_encode(const unsigned char *in, size_t n, char *out);

/* Decodes len characters of in into out (room for cap bytes). Strict: only
 * the base64url alphabet, no padding, unused bits zero. Returns the byte
 * count, or -1. */
long b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap);

#endif
