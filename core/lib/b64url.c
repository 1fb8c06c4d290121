/* b64url.c -- base64url without padding. */
#include "lib/b64url.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64url_encode(const unsigned char *in, size_t n, char *out) {
  size_t i, o = 0;
  for (i = 0; i + 2 < n; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[v >> 12 & 63];
    out[o++] = alphabet[v >> 6 & 63];
    out[o++] = alphabet[v & 63];
  }
  if (n - i == 1) {
    out[o++] = alphabet[in[i] >> 2];
    out[o++] = alphabet[(in[i] & 3) << 4];
  } else if (n - i == 2) {
    unsigned v = (unsigned)in[i] << 8 | in[i + 1];
    out[o++] = alphabet[v >> 10];
    out[o++] = alphabet[v >> 4 & 63];
    out[o++] = alphabet[(v & 15) << 2];
  }
  out[o] = '\0';
  return o;
}

static int value_of(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  return c == '-' ? 62 : c == '_' ? 63 : -1;
}

long b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap) {
  unsigned acc = 0, bits = 0;
  size_t i, o = 0;
  if (len % 4 == 1)
    return -1;
  for (i = 0; i < len; i++) {
    int v = value_of(in[i]);
    if (v < 0)
      return -1;
    acc = (acc << 6 | (unsigned)v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o >= cap)
        return -1;
      out[o++] = (unsigned char)(acc >> bits);
    }
  }
  /* The bits left over must be zero: one encoding per value. */
  if ((acc & ((1u << bits) - 1)) != 0)
    return -1;
  return (long)o;
}
