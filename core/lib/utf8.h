/* utf8.h -- the one UTF-8 validity rule of the core (RFC 3629): used by the
 * JSON reader on every string, and by the JSON-RPC layer to repair a
 * message that was cut inside a sequence. Pure; any thread. */
#ifndef MCPD_UTF8_H
#define MCPD_UTF8_H

#include <stddef.h>

/* Length of the valid multi-byte UTF-8 sequence at p (2 to 4) before end,
 * or 0: an ASCII or bad lead byte, an overlong form, a surrogate, a code
 * point above U+10FFFF, or a sequence cut short by end. p is borrowed. */
static inline size_t utf8_len(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  size_t avail = (size_t)(end - p);
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (c == 0xE0)
      lo = 0xA0; /* overlong below U+0800 */
    else if (c == 0xED)
      hi = 0x9F; /* U+D800..U+DFFF */
    return avail >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (c == 0xF0)
      lo = 0x90; /* overlong below U+10000 */
    else if (c == 0xF4)
      hi = 0x8F; /* above U+10FFFF */
    return avail >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80
               ? 4
               : 0;
  }
  return 0;
}

#endif
