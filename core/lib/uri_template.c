/* uri_template.c -- matching URIs against RFC 6570 URI templates. A template
 * is parsed once into literal and expression parts; matching walks the parts
 * with backtracking, remembers failed (part, offset) states and stops after
 * a step budget, so a hostile URI costs bounded time. */
#include "lib/uri_template.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Work allowed per uritpl_match(): a base plus a share per URI byte, so long
 * URIs against simple templates still match; past it the URI does not match. */
#define STEPS_BASE     ((size_t)1 << 20)
#define STEPS_PER_BYTE 16

enum op { OP_LITERAL, OP_SIMPLE, OP_RESERVED, OP_FRAGMENT, OP_LABEL, OP_PATH, OP_QUERY, OP_QCONT };

struct part {
  enum op op;
  const char *lit; /* OP_LITERAL: points into uritpl.text */
  size_t len;      /* OP_LITERAL: length of lit */
  size_t first;    /* expressions: first slot in uritpl.refs */
  size_t count;    /* expressions: number of variables */
};

struct var {
  const char *name; /* NUL-terminated, in uritpl.names */
  size_t len;
  size_t first_part, last_part;
};

struct uritpl {
  char *text;  /* copy of the template */
  char *names; /* distinct variable names, each NUL-terminated */
  struct part *parts;
  size_t nparts;
  size_t *refs;           /* the variable index of each slot of each expression */
  unsigned char *explode; /* per slot: the variable has the '*' modifier */
  size_t nrefs;
  struct var *vars;
  size_t nvars;
  /* memo_ok[i]: no variable bound before part i is used again from part i
   * on, so a failure at (i, offset) does not depend on earlier bindings. */
  unsigned char *memo_ok;
};

struct parser {
  uritpl *t;
  const char *s;
  size_t names_used;
  char *err;
  size_t n;
};

/* A variable's binding: a raw (still encoded) range of the URI. */
struct binding {
  size_t start, end;
  size_t dlen; /* decoded length */
  int set;
};

/* Per expression slot scratch; expressions own disjoint slots, so nested
 * walks never share them. */
struct slot {
  size_t var, start, end;
  int fresh;
};

struct matcher {
  const uritpl *t;
  const char *uri;
  size_t n;
  int allow_empty;
  int over;
  size_t steps, budget;
  unsigned char *failed; /* bitmap over (part, offset) */
  struct binding *b;
  struct slot *slots;
};

struct utf8 {
  int need;
  unsigned char lo, hi; /* allowed range of the next continuation byte */
};

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static int is_varchar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.';
}

static int fail(struct parser *ps, const char *what, size_t off) {
  if (ps->n > 0)
    snprintf(ps->err, ps->n, "%s at offset %zu", what, off);
  return -EINVAL;
}

/* A name ended badly: running into the end or another '{' means the
 * expression was never closed. */
static int bad_name(struct parser *ps, size_t open, size_t q) {
  if (ps->s[q] == '\0' || ps->s[q] == '{')
    return fail(ps, "unclosed '{'", open);
  return fail(ps, "invalid variable name", q);
}

static size_t add_var(struct parser *ps, const char *name, size_t len) {
  uritpl *t = ps->t;
  size_t i;
  for (i = 0; i < t->nvars; i++) {
    if (t->vars[i].len == len && memcmp(t->vars[i].name, name, len) == 0) {
      t->vars[i].last_part = t->nparts;
      return i;
    }
  }
  /* Each name is followed by at least one byte in the template, so the
   * pool (template length + 1) cannot overflow. */
  memcpy(t->names + ps->names_used, name, len);
  t->names[ps->names_used + len] = '\0';
  t->vars[i].name = t->names + ps->names_used;
  t->vars[i].len = len;
  t->vars[i].first_part = t->vars[i].last_part = t->nparts;
  ps->names_used += len + 1;
  t->nvars++;
  return i;
}

static void add_literal(uritpl *t, size_t start, size_t end) {
  struct part *pt;
  if (end == start)
    return;
  pt = &t->parts[t->nparts++];
  pt->op = OP_LITERAL;
  pt->lit = t->text + start;
  pt->len = end - start;
}

/* Parses the expression whose '{' is at open; *end gets the offset after
 * its '}'. */
static int parse_expr(struct parser *ps, size_t open, size_t *end) {
  const char *s = ps->s;
  uritpl *t = ps->t;
  struct part *pt = &t->parts[t->nparts];
  size_t q = open + 1, start;
  char c = s[q];

  pt->first = t->nrefs;
  pt->count = 0;
  pt->op = OP_SIMPLE;
  switch (c) {
  case '+':
    pt->op = OP_RESERVED;
    break;
  case '#':
    pt->op = OP_FRAGMENT;
    break;
  case '.':
    pt->op = OP_LABEL;
    break;
  case '/':
    pt->op = OP_PATH;
    break;
  case '?':
    pt->op = OP_QUERY;
    break;
  case '&':
    pt->op = OP_QCONT;
    break;
  default:
    if (c == '\0' || c == '{')
      return fail(ps, "unclosed '{'", open);
    if (c == '}')
      return fail(ps, "empty expression", open);
    if (!is_varchar(c) && c != '%') {
      /* Punctuation here is an operator we do not support (RFC 6570's
       * ";" and its reserved "=,!@|" among them). */
      if (c > ' ' && c < 0x7f) {
        if (ps->n > 0)
          snprintf(ps->err, ps->n, "unsupported operator '%c' at offset %zu", c, q);
        return -EINVAL;
      }
      return fail(ps, "invalid variable name", q);
    }
  }
  if (pt->op != OP_SIMPLE)
    q++;
  if (s[q] == '}')
    return fail(ps, "empty expression", open);

  for (;;) {
    start = q;
    while (is_varchar(s[q]) || s[q] == '%') {
      if (s[q] == '%') {
        if (hexval(s[q + 1]) < 0 || hexval(s[q + 2]) < 0)
          return bad_name(ps, open, q);
        q += 3;
      } else {
        q++;
      }
    }
    if (q == start)
      return bad_name(ps, open, q);
    t->refs[t->nrefs++] = add_var(ps, s + start, q - start);
    pt->count++;
    /* A prefix (:3) changes expansion, not what a variable can match; an
     * explode (*) lets a path expression ({/var*}) span several segments. */
    if (s[q] == ':') {
      size_t digits = ++q;
      while (s[q] >= '0' && s[q] <= '9')
        q++;
      if (q == digits)
        return bad_name(ps, open, q);
    } else if (s[q] == '*') {
      t->explode[t->nrefs - 1] = 1;
      q++;
    }
    if (s[q] == '}')
      break;
    if (s[q] != ',')
      return bad_name(ps, open, q);
    q++;
  }
  t->nparts++;
  *end = q + 1;
  return 0;
}

static void set_memo_flags(uritpl *t) {
  size_t v, i;
  memset(t->memo_ok, 1, t->nparts + 1);
  for (v = 0; v < t->nvars; v++) {
    for (i = t->vars[v].first_part + 1; i <= t->vars[v].last_part; i++)
      t->memo_ok[i] = 0;
  }
}

int uritpl_parse(const char *tmpl, uritpl **out, char *err, size_t n) {
  struct parser ps;
  uritpl *t;
  size_t len = strlen(tmpl), braces = 0, commas = 0, i, lit;
  int r = 0;

  if (n > 0)
    err[0] = '\0';
  for (i = 0; i < len; i++) {
    if (tmpl[i] == '{')
      braces++;
    else if (tmpl[i] == ',')
      commas++;
  }
  t = calloc(1, sizeof(*t));
  if (t == NULL)
    return -ENOMEM;
  /* Upper bounds: literals and expressions alternate; every variable slot
   * is preceded by a '{' or a ','. */
  t->text = malloc(len + 1);
  t->names = malloc(len + 1);
  t->parts = calloc(2 * braces + 1, sizeof(*t->parts));
  t->refs = calloc(braces + commas + 1, sizeof(*t->refs));
  t->explode = calloc(braces + commas + 1, 1);
  t->vars = calloc(braces + commas + 1, sizeof(*t->vars));
  t->memo_ok = calloc(2 * braces + 2, 1);
  if (t->text == NULL || t->names == NULL || t->parts == NULL || t->refs == NULL ||
      t->explode == NULL || t->vars == NULL || t->memo_ok == NULL) {
    uritpl_free(t);
    return -ENOMEM;
  }
  memcpy(t->text, tmpl, len + 1);
  ps.t = t;
  ps.s = t->text;
  ps.names_used = 0;
  ps.err = err;
  ps.n = n;

  i = lit = 0;
  while (i < len) {
    if (tmpl[i] == '}') {
      r = fail(&ps, "unexpected '}'", i);
      break;
    }
    if (tmpl[i] != '{') {
      i++;
      continue;
    }
    add_literal(t, lit, i);
    r = parse_expr(&ps, i, &i);
    if (r < 0)
      break;
    lit = i;
  }
  if (r < 0) {
    uritpl_free(t);
    return r;
  }
  add_literal(t, lit, len);
  set_memo_flags(t);
  *out = t;
  return 0;
}

size_t uritpl_var_count(const uritpl *t) {
  return t->nvars;
}

void uritpl_free(uritpl *t) {
  if (t == NULL)
    return;
  free(t->text);
  free(t->names);
  free(t->parts);
  free(t->refs);
  free(t->explode);
  free(t->vars);
  free(t->memo_ok);
  free(t);
}

/* Matching. */

static int tick(struct matcher *m, size_t k) {
  m->steps += k;
  if (m->steps > m->budget)
    m->over = 1;
  return !m->over;
}

/* The byte that the token at uri[i] (a raw byte or %XX) stands for, or -1
 * for a bad escape; *next gets the offset after the token. */
static int token(const char *uri, size_t i, size_t *next) {
  int hi, lo;
  if (uri[i] != '%') {
    *next = i + 1;
    return (unsigned char)uri[i];
  }
  hi = hexval(uri[i + 1]);
  if (hi < 0)
    return -1;
  lo = hexval(uri[i + 2]);
  if (lo < 0)
    return -1;
  *next = i + 3;
  return hi * 16 + lo;
}

/* Feeds one byte to a UTF-8 validator with the same rules as jansson (no
 * overlongs, surrogates or code points past U+10FFFF). */
static int utf8_step(struct utf8 *u, unsigned char c) {
  if (u->need == 0) {
    u->lo = 0x80;
    u->hi = 0xBF;
    if (c < 0x80)
      return 1;
    if (c >= 0xC2 && c <= 0xDF)
      u->need = 1;
    else if (c >= 0xE0 && c <= 0xEF)
      u->need = 2;
    else if (c >= 0xF0 && c <= 0xF4)
      u->need = 3;
    else
      return 0;
    if (c == 0xE0)
      u->lo = 0xA0;
    else if (c == 0xED)
      u->hi = 0x9F;
    else if (c == 0xF0)
      u->lo = 0x90;
    else if (c == 0xF4)
      u->hi = 0x8F;
    return 1;
  }
  if (c < u->lo || c > u->hi)
    return 0;
  u->need--;
  u->lo = 0x80;
  u->hi = 0xBF;
  return 1;
}

/* Scans a value starting at p up to a byte in stop (or the end), and for a
 * simple string (safe) up to an escape that decodes to '/' as well. Returns
 * the largest e such that uri[p..e) decodes to valid UTF-8 without NUL;
 * *run gets the offset where the scan stopped. */
static size_t scan(struct matcher *m, size_t p, const char *stop, int safe, size_t *run) {
  struct utf8 u = {0, 0x80, 0xBF};
  size_t i = p, last = p, next;
  int c;
  while (i < m->n && strchr(stop, m->uri[i]) == NULL) {
    c = token(m->uri, i, &next);
    if (c <= 0 || (safe && c == '/') || !utf8_step(&u, (unsigned char)c))
      break;
    i = next;
    if (u.need == 0)
      last = i;
  }
  tick(m, i - p + 1);
  *run = i;
  return last;
}

/* Whether a value may end at e, given that uri[p..last) is valid: not inside
 * an escape, and not before a UTF-8 continuation byte. */
static int boundary(const struct matcher *m, size_t p, size_t e, size_t last) {
  size_t next;
  if (e == p || e == last)
    return 1;
  if (m->uri[e - 1] == '%' || (e - p >= 2 && m->uri[e - 2] == '%'))
    return 0;
  return (token(m->uri, e, &next) & 0xC0) != 0x80;
}

/* Whether uri[s..e) decodes to "." or "..": a simple string must not name
 * the current or the parent directory either. */
static int is_dots(const struct matcher *m, size_t s, size_t e) {
  size_t dots = 0, next;
  while (s < e && dots < 3) {
    if (token(m->uri, s, &next) != '.')
      return 0;
    dots++;
    s = next;
  }
  return s == e && (dots == 1 || dots == 2);
}

/* Finds the end of an occurrence at p of the value already bound to v,
 * without bytes in stop (and, for a simple string, no '/' and not a dots
 * value: it may have been bound by a {+var} first); SIZE_MAX if there is
 * none. Decoding is deterministic, so at most one end fits. */
static size_t bound_end(struct matcher *m, size_t v, size_t p, const char *stop, int safe) {
  size_t a = m->b[v].start, a_end = m->b[v].end, na, np, steps = 1;
  /* Raw text is never shorter than its decoding: a cheap early no. */
  if (m->b[v].dlen > m->n - p || (safe && is_dots(m, a, a_end)))
    return SIZE_MAX;
  while (a < a_end) {
    int c;
    if (p >= m->n || strchr(stop, m->uri[p]) != NULL || (c = token(m->uri, a, &na)) < 0 ||
        (safe && c == '/') || c != token(m->uri, p, &np))
      break;
    a = na;
    p = np;
    steps++;
  }
  tick(m, steps);
  return a == a_end ? p : SIZE_MAX;
}

/* Binds variable v to uri[s..e) (checked as a simple string when safe).
 * Returns 1 if newly bound, 0 if it already had an equal value, -1 if it had
 * another one or the value is not allowed. */
static int bind_var(struct matcher *m, size_t v, size_t s, size_t e, int safe) {
  struct binding *b = &m->b[v];
  size_t i;
  if (safe && is_dots(m, s, e))
    return -1;
  if (!b->set) {
    b->set = 1;
    b->start = s;
    b->end = e;
    b->dlen = e - s;
    for (i = s; i < e; i++) {
      if (m->uri[i] == '%')
        b->dlen -= 2;
    }
    tick(m, e - s);
    return 1;
  }
  return bound_end(m, v, s, "", safe) == e ? 0 : -1;
}

static void unbind(struct matcher *m, const struct slot *sl, size_t k) {
  while (k-- > 0) {
    if (sl[k].fresh)
      m->b[sl[k].var].set = 0;
  }
}

static int walk(struct matcher *m, size_t i, size_t p);

/* Bytes a value cannot contain, by operator; with several variables the
 * separator is excluded too, which makes the split unambiguous. */
static const char *stop_bytes(enum op op, int multi) {
  switch (op) {
  case OP_SIMPLE:
    return multi ? "/?#," : "/?#";
  case OP_RESERVED:
  case OP_FRAGMENT:
    return multi ? "," : "";
  case OP_LABEL:
    return "/?#.";
  default:
    return "/?#";
  }
}

/* Whether the value of slot k of part pt is a simple string: no decoded '/'
 * and not "." or "..". Everything but the expressions made to carry a path
 * ({+var}, {#var}, {/var*}) and the query ones (form values: free text). */
static int slot_safe(const uritpl *t, const struct part *pt, size_t k) {
  switch (pt->op) {
  case OP_RESERVED:
  case OP_FRAGMENT:
  case OP_QUERY:
  case OP_QCONT:
    return 0;
  case OP_PATH:
    return !t->explode[pt->first + k];
  default:
    return 1;
  }
}

static int walk_values(struct matcher *m, size_t i, size_t p) {
  const uritpl *t = m->t;
  const struct part *pt = &t->parts[i];
  struct slot *sl = &m->slots[pt->first];
  const char *stop = stop_bytes(pt->op, pt->count > 1);
  int safe;
  char prefix = pt->op == OP_FRAGMENT ? '#'
                : pt->op == OP_LABEL  ? '.'
                : pt->op == OP_PATH   ? '/'
                                      : 0;
  char sep = pt->op == OP_LABEL ? '.' : pt->op == OP_PATH ? '/' : ',';
  size_t k, pos = p, last, run, e, pct;
  int fresh;

  if (prefix != 0) {
    if (pos >= m->n || m->uri[pos] != prefix)
      return 0;
    pos++;
  }
  /* Every value but the last one ends at the next separator. */
  for (k = 0; k + 1 < pt->count; k++) {
    safe = slot_safe(t, pt, k);
    last = scan(m, pos, stop, safe, &run);
    if (last != run || run >= m->n || m->uri[run] != sep || (run == pos && !m->allow_empty))
      break;
    fresh = bind_var(m, t->refs[pt->first + k], pos, run, safe);
    if (fresh < 0)
      break;
    sl[k].var = t->refs[pt->first + k];
    sl[k].fresh = fresh;
    pos = run + 1;
  }
  if (k + 1 == pt->count) {
    size_t v = t->refs[pt->first + k];
    safe = slot_safe(t, pt, k);
    /* {/var*}: the last value takes every segment up to the query. */
    if (pt->op == OP_PATH && !safe)
      stop = "?#";
    if (m->b[v].set) {
      e = bound_end(m, v, pos, stop, safe);
      if (e != SIZE_MAX && (e > pos || m->allow_empty) && walk(m, i + 1, e))
        return 1;
    } else {
      last = scan(m, pos, stop, safe, &run);
      for (pct = 0, e = pos; e < last; e++)
        pct += m->uri[e] == '%';
      /* Longest value first; pct counts the escapes in uri[pos..e). */
      for (e = last + 1; e-- > pos && tick(m, 1);) {
        if (e < last && m->uri[e] == '%')
          pct--;
        if (e == pos && !m->allow_empty)
          break;
        if (!boundary(m, pos, e, last) || (safe && is_dots(m, pos, e)))
          continue;
        m->b[v].set = 1;
        m->b[v].start = pos;
        m->b[v].end = e;
        m->b[v].dlen = e - pos - 2 * pct;
        if (walk(m, i + 1, e))
          return 1;
        m->b[v].set = 0;
      }
    }
  }
  unbind(m, sl, k);
  return 0;
}

static size_t find_key(const struct matcher *m, const struct part *pt, size_t key, size_t len) {
  size_t j, v;
  for (j = 0; j < pt->count; j++) {
    v = m->t->refs[pt->first + j];
    if (m->t->vars[v].len == len && memcmp(m->t->vars[v].name, m->uri + key, len) == 0)
      return v;
  }
  return SIZE_MAX;
}

static int walk_query(struct matcher *m, size_t i, size_t p) {
  const struct part *pt = &m->t->parts[i];
  struct slot *sl = &m->slots[pt->first];
  char prefix = pt->op == OP_QUERY ? '?' : '&';
  size_t k = 0, pos = p, key, eq, last, run, j, v, end;
  int fresh;

  /* Collect the longest run of "k=v" pairs with listed, distinct keys; the
   * first pair that is not one ends this expression's share of the URI. */
  while (k < pt->count && pos < m->n && m->uri[pos] == (k == 0 ? prefix : '&')) {
    key = eq = pos + 1;
    while (eq < m->n && strchr("=&#", m->uri[eq]) == NULL)
      eq++;
    tick(m, eq - key);
    if (eq >= m->n || m->uri[eq] != '=')
      break;
    v = find_key(m, pt, key, eq - key);
    if (v == SIZE_MAX)
      break;
    for (j = 0; j < k && sl[j].var != v; j++)
      ;
    if (j < k)
      break;
    last = scan(m, eq + 1, "&#", 0, &run);
    if (last != run)
      break;
    sl[k].var = v;
    sl[k].start = eq + 1;
    sl[k].end = run;
    k++;
    pos = run;
  }
  /* Every prefix of that run (down to none) is a candidate; most pairs first. */
  for (;;) {
    end = k > 0 ? sl[k - 1].end : p;
    for (j = 0; j < k; j++) {
      fresh = bind_var(m, sl[j].var, sl[j].start, sl[j].end, 0);
      if (fresh < 0)
        break;
      sl[j].fresh = fresh;
    }
    if (j == k && walk(m, i + 1, end))
      return 1;
    unbind(m, sl, j);
    if (k == 0 || m->over)
      return 0;
    k--;
  }
}

static int walk(struct matcher *m, size_t i, size_t p) {
  const uritpl *t = m->t;
  const struct part *pt;
  size_t bit;
  int r;

  if (i == t->nparts)
    return p == m->n;
  bit = i * (m->n + 1) + p;
  if (t->memo_ok[i] && (m->failed[bit / 8] >> (bit % 8)) & 1)
    return 0;
  if (!tick(m, 1))
    return 0;
  pt = &t->parts[i];
  if (pt->op == OP_LITERAL)
    r = m->n - p >= pt->len && memcmp(m->uri + p, pt->lit, pt->len) == 0 &&
        walk(m, i + 1, p + pt->len);
  else if (pt->op == OP_QUERY || pt->op == OP_QCONT)
    r = walk_query(m, i, p);
  else
    r = walk_values(m, i, p);
  if (!r && !m->over && t->memo_ok[i])
    m->failed[bit / 8] |= (unsigned char)(1u << (bit % 8));
  return r;
}

static size_t decode(const char *uri, size_t s, size_t e, char *out) {
  size_t len = 0, next;
  while (s < e) {
    out[len++] = (char)token(uri, s, &next);
    s = next;
  }
  return len;
}

static int build(const struct matcher *m, json_t **vars) {
  const uritpl *t = m->t;
  json_t *obj = json_object(), *s;
  char *buf = malloc(m->n + 1);
  size_t v, len;

  if (obj == NULL || buf == NULL)
    goto nomem;
  for (v = 0; v < t->nvars; v++) {
    if (!m->b[v].set)
      continue;
    len = decode(m->uri, m->b[v].start, m->b[v].end, buf);
    /* Values were checked for UTF-8 while matching, so NULL means no memory. */
    s = json_stringn(buf, len);
    if (s == NULL || json_object_set_new(obj, t->vars[v].name, s) < 0)
      goto nomem;
  }
  free(buf);
  *vars = obj;
  return 1;
nomem:
  free(buf);
  json_decref(obj);
  return -ENOMEM;
}

int uritpl_match(const uritpl *t, const char *uri, json_t **vars) {
  struct matcher m;
  size_t bytes, i;
  int r = 0, pass, passes = 1;

  memset(&m, 0, sizeof(m));
  m.t = t;
  m.uri = uri;
  m.n = strlen(uri);
  if (m.n >= (SIZE_MAX / 8 - 1) / (t->nparts + 1) - 1)
    return -ENOMEM;
  m.budget = STEPS_BASE + STEPS_PER_BYTE * m.n;
  bytes = (t->nparts + 1) * (m.n + 1) / 8 + 1;
  m.failed = calloc(bytes, 1);
  m.b = calloc(t->nvars + 1, sizeof(*m.b));
  m.slots = calloc(t->nrefs + 1, sizeof(*m.slots));
  if (m.failed == NULL || m.b == NULL || m.slots == NULL) {
    r = -ENOMEM;
    goto out;
  }
  /* Empty values only when nothing else matches: a first pass without them,
   * a second one (needed only if some value could be empty) with them. */
  for (i = 0; i < t->nparts; i++) {
    if (t->parts[i].op != OP_LITERAL && t->parts[i].op != OP_QUERY && t->parts[i].op != OP_QCONT)
      passes = 2;
  }
  for (pass = 0; pass < passes && r == 0 && !m.over; pass++) {
    m.allow_empty = pass;
    memset(m.failed, 0, bytes);
    memset(m.b, 0, (t->nvars + 1) * sizeof(*m.b));
    r = walk(&m, 0, 0);
  }
  if (r == 1)
    r = build(&m, vars);
out:
  free(m.failed);
  free(m.b);
  free(m.slots);
  return r;
}
