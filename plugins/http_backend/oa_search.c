/* oa_search.c -- the tokenizer and the BM25F index of oa_search.h.
 *
 * The index is an open-addressing hash of words, each with its postings (one per
 * document that has the word: the document and the word's count in each field),
 * appended in document order while building. A query scores only the documents
 * in the postings of its words. BM25F: per field, the count is normalised by
 * the field's length against its average and weighted; the weighted sum goes
 * through BM25's saturation once per word, times the word's IDF. */
#define _POSIX_C_SOURCE 200809L

#include "oa_search.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Summaries say what an operation does in a user's words: they count most. The
 * name repeats the operationId, path and tags name the resource; descriptions
 * are long and mostly about permissions. */
static const double WEIGHT[OA_SF_COUNT] = {1.5, 4.0, 0.6, 1.0, 1.5, 1.0, 0.5};
static const double B[OA_SF_COUNT] = {0.5, 0.75, 0.75, 0.75, 0.3, 0.0, 0.5};

/* What a request in words says instead of the method. */
static const char *const VERBS[][2] = {{"GET", "get list show read fetch view"},
                                       {"POST", "create add new make open send start run submit"},
                                       {"PUT", "set replace update add put enable"},
                                       {"PATCH", "update edit change modify rename"},
                                       {"DELETE", "delete remove cancel disable"},
                                       {NULL, NULL}};
#define K1 1.2

typedef struct posting {
  uint32_t doc;
  uint16_t tf[OA_SF_COUNT];
} posting;

typedef struct term {
  char *word; /* owned */
  posting *p; /* owned, in document order */
  uint32_t n, cap;
} term;

struct oa_search {
  term *terms;
  size_t n_terms;
  uint32_t *slots;              /* term index + 1; 0 is empty */
  size_t n_slots;               /* a power of two, at least twice n_terms */
  uint16_t (*len)[OA_SF_COUNT]; /* per document: tokens per field */
  size_t n_docs, cap_docs;
  double avg[OA_SF_COUNT];
  int oom;
};

/* ---- the tokenizer --------------------------------------------------------------- */

/* Sorted (strcmp), for bsearch: every token of every description is looked up. */
static const char *const STOP[] = {
    "a",    "about", "all",   "an",   "and",   "any",  "are",   "as",  "at",    "be",     "by",
    "can",  "do",    "does",  "for",  "from",  "how",  "i",     "if",  "in",    "into",   "is",
    "it",   "its",   "me",    "my",   "need",  "of",   "on",    "or",  "our",   "please", "some",
    "that", "the",   "their", "them", "these", "this", "those", "to",  "using", "via",    "want",
    "we",   "what",  "which", "who",  "will",  "with", "would", "you", "your"};

/* Abbreviations, after plurals are folded: both the documents and the queries
 * go through this, so "repos" in a path meets "repository" in a question.
 * Sorted by the first column. */
static const char *const ABBREV[][3] = {
    {"app", "application", NULL},      {"auth", "authentication", NULL},
    {"config", "configuration", NULL}, {"dir", "directory", NULL},
    {"env", "environment", NULL},      {"find", "search", NULL},
    {"info", "information", NULL},     {"msg", "message", NULL},
    {"org", "organization", NULL},     {"pr", "pull", "request"},
    {"repo", "repository", NULL}};

#define N_STOP   (sizeof(STOP) / sizeof(STOP[0]))
#define N_ABBREV (sizeof(ABBREV) / sizeof(ABBREV[0]))

static int cmp_word(const void *key, const void *entry) {
  return strcmp(key, *(const char *const *)entry);
}

static int is_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
static int is_upper(unsigned char c) {
  return c >= 'A' && c <= 'Z';
}
static int is_lower(unsigned char c) {
  return c >= 'a' && c <= 'z';
}

static int ends(const char *w, size_t n, const char *suf) {
  size_t k = strlen(suf);
  return n > k && memcmp(w + n - k, suf, k) == 0;
}

/* "starr" -> "star", "runn" -> "run": what "-ed" and "-ing" leave. */
static size_t undouble(const char *w, size_t n) {
  return n >= 3 && w[n - 1] == w[n - 2] && strchr("bdgmnprt", w[n - 1]) != NULL ? n - 1 : n;
}

/* Plurals, "-ed", "-ing", "-ion" and "-ee" off, by spelling alone: the same on
 * both sides is what matters ("protect" meets "protection", "assign"
 * "assignees"), not being right about English. */
static size_t stem(char *w, size_t n) {
  if (n < 4)
    return n;
  if (ends(w, n, "ies") && n > 4) {
    w[n - 3] = 'y';
    n -= 2;
  } else if (ends(w, n, "sses") || ends(w, n, "ches") || ends(w, n, "shes") || ends(w, n, "xes") ||
             ends(w, n, "uses")) {
    n -= 2;
  } else if (w[n - 1] == 's' && !ends(w, n, "ss") && !ends(w, n, "us") && !ends(w, n, "is")) {
    n -= 1;
  }
  if (n > 5 && ends(w, n, "ing"))
    n = undouble(w, n - 3);
  else if (n > 4 && ends(w, n, "ed") && !ends(w, n, "eed"))
    n = undouble(w, n - 2);
  else if (n > 6 && ends(w, n, "ly"))
    n -= 2;
  else if (n > 6 && ends(w, n, "ion"))
    n -= 3;
  else if (n > 6 && ends(w, n, "ee"))
    n -= 2;
  return n;
}

static int emit(char *w, size_t n, oa_token_fn fn, void *arg) {
  char x[OA_SEARCH_TOKEN_MAX + 1];
  const char *const(*ab)[3];
  size_t xn;
  int k;
  if (n < 2)
    return 0; /* "s" of "user's", single letters */
  w[n] = '\0';
  if (bsearch(w, STOP, N_STOP, sizeof(STOP[0]), cmp_word) != NULL)
    return 0;
  n = stem(w, n);
  w[n] = '\0';
  ab = bsearch(w, ABBREV, N_ABBREV, sizeof(ABBREV[0]), cmp_word);
  if (ab != NULL) {
    for (k = 1; k < 3 && (*ab)[k] != NULL; k++) {
      xn = strlen((*ab)[k]);
      memcpy(x, (*ab)[k], xn);
      xn = stem(x, xn);
      x[xn] = '\0';
      fn(arg, x, xn);
    }
    return k - 1;
  }
  fn(arg, w, n);
  return 1;
}

size_t oa_tokenize(const char *text, oa_token_fn fn, void *arg) {
  char w[OA_SEARCH_TOKEN_MAX + 1];
  size_t n = 0, count = 0;
  const unsigned char *p = (const unsigned char *)(text ? text : "");
  for (;; p++) {
    unsigned char c = *p;
    /* A word ends at a non-alphanumeric, at "aB" (camelCase) and at "ABc"
     * (the end of an acronym: "HTTPServer" is "http", "server"). */
    int split = !is_alnum(c) || (n > 0 && is_upper(c) && is_lower(p[-1])) ||
                (n > 0 && is_upper(c) && is_upper(p[-1]) && is_lower(p[1]));
    if (split && n > 0) {
      count += (size_t)emit(w, n, fn, arg);
      n = 0;
    }
    if (c == '\0')
      break;
    if (!is_alnum(c))
      continue;
    if (n < OA_SEARCH_TOKEN_MAX)
      w[n++] = (char)(is_upper(c) ? c - 'A' + 'a' : c);
  }
  return count;
}

/* ---- the index -------------------------------------------------------------------- */

static uint32_t hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  size_t i;
  for (i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

/* The slot of word: its term's, or the empty one it would take. */
static size_t find_slot(const oa_search *s, const char *w, size_t n) {
  size_t mask = s->n_slots - 1, i = hash(w, n) & mask;
  while (s->slots[i] != 0) {
    const term *t = &s->terms[s->slots[i] - 1];
    if (strncmp(t->word, w, n) == 0 && t->word[n] == '\0')
      return i;
    i = (i + 1) & mask;
  }
  return i;
}

static int grow_slots(oa_search *s) {
  size_t n = s->n_slots ? s->n_slots * 2 : 1024, i;
  uint32_t *old = s->slots;
  size_t old_n = s->n_slots;
  s->slots = calloc(n, sizeof(*s->slots));
  if (s->slots == NULL) {
    s->slots = old;
    return -ENOMEM;
  }
  s->n_slots = n;
  for (i = 0; i < old_n; i++) {
    if (old[i] != 0) {
      const term *t = &s->terms[old[i] - 1];
      s->slots[find_slot(s, t->word, strlen(t->word))] = old[i];
    }
  }
  free(old);
  return 0;
}

/* The term of word, added when new; NULL when out of memory. */
static term *intern(oa_search *s, const char *w, size_t n) {
  size_t slot;
  term *t;
  if ((s->n_terms + 1) * 2 > s->n_slots && grow_slots(s) < 0)
    return NULL;
  slot = find_slot(s, w, n);
  if (s->slots[slot] != 0)
    return &s->terms[s->slots[slot] - 1];
  if ((s->n_terms & (s->n_terms - 1)) == 0) { /* 0, 1, 2, 4...: double */
    term *nt = realloc(s->terms, (s->n_terms ? s->n_terms * 2 : 1) * sizeof(*nt));
    if (nt == NULL)
      return NULL;
    s->terms = nt;
  }
  t = &s->terms[s->n_terms];
  memset(t, 0, sizeof(*t));
  t->word = strndup(w, n);
  if (t->word == NULL)
    return NULL;
  s->slots[slot] = (uint32_t)++s->n_terms;
  return t;
}

typedef struct adding {
  oa_search *s;
  uint32_t doc;
  int field;
} adding;

static void add_token(void *arg, const char *w, size_t n) {
  adding *a = arg;
  oa_search *s = a->s;
  term *t;
  posting *last;
  if (s->oom)
    return;
  t = intern(s, w, n);
  if (t == NULL) {
    s->oom = 1;
    return;
  }
  /* Documents are added in order: this one's posting, if any, is the last. */
  if (t->n == 0 || t->p[t->n - 1].doc != a->doc) {
    posting fresh;
    if (t->n == t->cap) {
      uint32_t cap = t->cap ? t->cap * 2 : 2;
      posting *np = realloc(t->p, cap * sizeof(*np));
      if (np == NULL) {
        s->oom = 1;
        return;
      }
      t->p = np;
      t->cap = cap;
    }
    memset(&fresh, 0, sizeof(fresh));
    fresh.doc = a->doc;
    t->p[t->n++] = fresh;
  }
  last = &t->p[t->n - 1];
  if (last->tf[a->field] < UINT16_MAX)
    last->tf[a->field]++;
  if (s->len[a->doc][a->field] < UINT16_MAX)
    s->len[a->doc][a->field]++;
}

oa_search *oa_search_new(void) {
  return calloc(1, sizeof(oa_search));
}

int oa_search_add(oa_search *s, const char *const *fields) {
  adding a;
  int f;
  if (s->oom)
    return -ENOMEM;
  if (s->n_docs == s->cap_docs) {
    size_t cap = s->cap_docs ? s->cap_docs * 2 : 64;
    void *nl = realloc(s->len, cap * sizeof(*s->len));
    if (nl == NULL) {
      s->oom = 1;
      return -ENOMEM;
    }
    s->len = nl;
    s->cap_docs = cap;
  }
  memset(s->len[s->n_docs], 0, sizeof(s->len[0]));
  a.s = s;
  a.doc = (uint32_t)s->n_docs++;
  for (f = 0; f < OA_SF_COUNT; f++) {
    const char *text = fields[f];
    char cut[OA_SEARCH_DESC_BYTES + 1];
    if (text == NULL)
      continue;
    if (f == OA_SF_METHOD) {
      size_t v;
      for (v = 0; VERBS[v][0] != NULL && strcasecmp(VERBS[v][0], text) != 0; v++)
        ;
      text = VERBS[v][1];
      if (text == NULL)
        continue;
    }
    if (f == OA_SF_DESC && strlen(text) > OA_SEARCH_DESC_BYTES) {
      memcpy(cut, text, OA_SEARCH_DESC_BYTES);
      cut[OA_SEARCH_DESC_BYTES] = '\0';
      text = cut;
    }
    a.field = f;
    oa_tokenize(text, add_token, &a);
  }
  return s->oom ? -ENOMEM : 0;
}

void oa_search_finish(oa_search *s) {
  size_t d;
  int f;
  for (f = 0; f < OA_SF_COUNT; f++) {
    double sum = 0;
    for (d = 0; d < s->n_docs; d++)
      sum += s->len[d][f];
    s->avg[f] = s->n_docs > 0 && sum > 0 ? sum / (double)s->n_docs : 1.0;
  }
}

typedef struct querying {
  const oa_search *s;
  const term **words; /* distinct known words of the query */
  size_t n, cap;
  int oom;
} querying;

static void query_token(void *arg, const char *w, size_t n) {
  querying *q = arg;
  const oa_search *s = q->s;
  size_t slot, i;
  const term *t;
  if (s->n_slots == 0 || q->oom)
    return;
  slot = find_slot(s, w, n);
  if (s->slots[slot] == 0)
    return;
  t = &s->terms[s->slots[slot] - 1];
  for (i = 0; i < q->n; i++) {
    if (q->words[i] == t)
      return;
  }
  if (q->n == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 8;
    const term **nw = realloc(q->words, cap * sizeof(*nw));
    if (nw == NULL) {
      q->oom = 1;
      return;
    }
    q->words = nw;
    q->cap = cap;
  }
  q->words[q->n++] = t;
}

/* Puts (doc, score) into the sorted hits if it belongs there. */
static void keep(oa_search_hit *hits, size_t *n, size_t max, size_t doc, double score) {
  size_t i;
  if (*n == max && (max == 0 || hits[max - 1].score >= score))
    return;
  i = *n < max ? (*n)++ : max - 1;
  /* Ties keep document order: a later document goes after an equal score. */
  while (i > 0 && hits[i - 1].score < score) {
    hits[i] = hits[i - 1];
    i--;
  }
  hits[i].doc = doc;
  hits[i].score = score;
}

int oa_search_query(const oa_search *s, const char *query, const unsigned char *allowed,
                    oa_search_hit *hits, size_t max) {
  querying q;
  double *score;
  size_t i, d, n_hits = 0;
  memset(&q, 0, sizeof(q));
  q.s = s;
  oa_tokenize(query, query_token, &q);
  if (q.oom) {
    free(q.words);
    return -ENOMEM;
  }
  if (q.n == 0) {
    for (d = 0; allowed != NULL && d < s->n_docs && n_hits < max; d++) {
      if (allowed[d])
        keep(hits, &n_hits, max, d, 0.0);
    }
    free(q.words);
    return (int)n_hits;
  }
  score = calloc(s->n_docs ? s->n_docs : 1, sizeof(*score));
  if (score == NULL) {
    free(q.words);
    return -ENOMEM;
  }
  for (i = 0; i < q.n; i++) {
    const term *t = q.words[i];
    double N = (double)s->n_docs, df = (double)t->n;
    double idf = log(1.0 + (N - df + 0.5) / (df + 0.5));
    uint32_t k;
    for (k = 0; k < t->n; k++) {
      const posting *p = &t->p[k];
      double tf = 0;
      int f;
      for (f = 0; f < OA_SF_COUNT; f++) {
        if (p->tf[f] == 0)
          continue;
        tf += WEIGHT[f] * p->tf[f] / (1.0 - B[f] + B[f] * (double)s->len[p->doc][f] / s->avg[f]);
      }
      score[p->doc] += idf * tf * (K1 + 1.0) / (K1 + tf);
    }
  }
  for (d = 0; d < s->n_docs; d++) {
    if (score[d] > 0 && (allowed == NULL || allowed[d]))
      keep(hits, &n_hits, max, d, score[d]);
  }
  free(score);
  free(q.words);
  return (int)n_hits;
}

size_t oa_search_docs(const oa_search *s) {
  return s->n_docs;
}

size_t oa_search_terms(const oa_search *s) {
  return s->n_terms;
}

void oa_search_free(oa_search *s) {
  size_t i;
  if (s == NULL)
    return;
  for (i = 0; i < s->n_terms; i++) {
    free(s->terms[i].word);
    free(s->terms[i].p);
  }
  free(s->terms);
  free(s->slots);
  free(s->len);
  free(s);
}
