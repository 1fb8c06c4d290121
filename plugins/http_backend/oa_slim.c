/* oa_slim.c -- see oa_slim.h. One pass over the text, following only its
 * structure: strings (with their escapes), brackets, and the keys at the first
 * two levels. The parser checks everything else. */
#define _POSIX_C_SOURCE 200809L

#include "oa_slim.h"
#include "oa_heap.h"

#include <stdlib.h>
#include <string.h>

static int is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Part of a number or a literal: two of these must stay apart. */
static int is_atom(char c) {
  return strchr("{}[],:\"", c) == NULL;
}

/* The index just after the string that starts at t[i] ('"'), or 0 when it is
 * not terminated. */
static size_t string_end(const char *t, size_t i, size_t len) {
  for (i++; i < len;) {
    const char *q = memchr(t + i, '"', len - i);
    size_t j, bs = 0;
    if (q == NULL)
      return 0;
    j = (size_t)(q - t);
    while (bs < j - i && t[j - 1 - bs] == '\\') /* an odd run escapes the quote */
      bs++;
    if (bs % 2 == 0)
      return j + 1;
    i = j + 1;
  }
  return 0;
}

/* The index just after the object or array that starts at t[i], or 0. */
static size_t container_end(const char *t, size_t i, size_t len) {
  size_t depth = 0;
  while (i < len) {
    char c = t[i];
    if (c == '"') {
      i = string_end(t, i, len);
      if (i == 0)
        return 0;
      continue;
    }
    if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (depth == 0)
        return 0;
      if (--depth == 0)
        return i + 1;
    }
    i++;
  }
  return 0;
}

/* Slims in[0..len) into out (len bytes). The slim length, or 0. */
static size_t slim(const char *in, size_t len, char *out) {
  size_t i = 0, o = 0, depth = 0, key_len = 0;
  const char *key = NULL; /* the last string */
  int ws = 0, in_components = 0;
  char last = '\0';
  /* A NUL byte is never valid JSON, and jansson takes it for the end in some
   * places and not in others: the parser reads such a text as it is. */
  if (memchr(in, '\0', len) != NULL)
    return 0;
  if (len >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0)
    i = 3;
  while (i < len && is_ws(in[i]))
    i++;
  if (i == len || in[i] != '{')
    return 0;
  while (i < len) {
    char c = in[i];
    if (is_ws(c)) {
      ws = 1;
      i++;
      continue;
    }
    if (ws && is_atom(last) && is_atom(c)) {
      out[o++] = ' ';
    }
    ws = 0;
    if (c == '"') {
      size_t end = string_end(in, i, len);
      if (end == 0)
        return 0;
      memcpy(out + o, in + i, end - i);
      key = in + i;
      key_len = end - i;
      o += end - i;
      i = end;
      last = '"';
      continue;
    }
    out[o++] = c;
    i++;
    last = c;
    if (c == ':' && depth == 1) {
      in_components = key_len == 12 && memcmp(key, "\"components\"", 12) == 0;
    } else if (c == ':' && depth == 2 && in_components && key_len == 10 &&
               memcmp(key, "\"examples\"", 10) == 0) {
      size_t s = i, end;
      while (s < len && is_ws(in[s]))
        s++;
      if (s < len && in[s] == '{') {
        end = container_end(in, s, len);
        if (end == 0)
          return 0;
        memcpy(out + o, "{}", 2);
        o += 2;
        i = end;
        last = '}';
      }
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (depth == 0)
        return 0;
      depth--;
    }
  }
  return depth == 0 ? o : 0;
}

char *oa_slim_json(const char *text, size_t len, size_t *out_len) {
  char *out = len > 0 ? oa_heap_buffer(len) : NULL; /* it only shrinks */
  if (out != NULL && (*out_len = slim(text, len, out)) == 0) {
    oa_heap_buffer_free(out, len);
    out = NULL;
  }
  return out;
}

void oa_slim_free(char *slim, size_t text_len) {
  if (slim != NULL)
    oa_heap_buffer_free(slim, text_len);
}
