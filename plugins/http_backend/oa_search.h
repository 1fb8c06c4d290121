/* oa_search.h -- ranked search over a backend's operations, for tools_mode
 * "search": a tokenizer for API text (camelCase, snake_case, kebab-case and
 * paths split into lower-case words, plurals folded, a few abbreviations
 * spelled out) and a BM25F index over five weighted fields of each operation,
 * built once when the document is loaded.
 *
 * Pure: no I/O, no global state (the tables are constant). An index is built
 * on one thread; once oa_search_finish() has run it is read-only, so queries
 * may run on any thread. Strings passed in are borrowed (copied where kept). */
#ifndef HTTP_BACKEND_OA_SEARCH_H
#define HTTP_BACKEND_OA_SEARCH_H

#include <stddef.h>

/* The fields of an operation the index knows, each with its own weight. */
enum oa_search_field {
  OA_SF_NAME,    /* the tool name (operationId-based) */
  OA_SF_SUMMARY, /* the summary */
  OA_SF_DESC,    /* the description (the first OA_SEARCH_DESC_BYTES of it) */
  OA_SF_PATH,    /* the path template */
  OA_SF_TAGS,    /* the tags, space-separated */
  OA_SF_METHOD,  /* the HTTP method, "GET": indexed as the verbs people use for it */
  OA_SF_ARGS,    /* the argument names, space-separated */
  OA_SF_COUNT
};

#define OA_SEARCH_DESC_BYTES 1000 /* long descriptions are mostly boilerplate */
#define OA_SEARCH_TOKEN_MAX  32   /* longer words are cut */

/* Called once per token; tok (borrowed, valid during the call only) is len bytes,
 * lower case, NUL-terminated. */
typedef void (*oa_token_fn)(void *arg, const char *tok, size_t len);

/* Splits text (borrowed; NULL is empty) into tokens and calls fn for each, in
 * order. Returns how many. */
size_t oa_tokenize(const char *text, oa_token_fn fn, void *arg);

typedef struct oa_search oa_search;

/* A new empty index (owned; oa_search_free()), or NULL when out of memory. */
oa_search *oa_search_new(void);

/* Adds the next document (its id is the number added before it); fields
 * (borrowed) has OA_SF_COUNT entries, each NULL or text. 0 or -ENOMEM (the index
 * is then unusable). */
int oa_search_add(oa_search *s, const char *const *fields);

/* Ends the building: computes the field length averages. */
void oa_search_finish(oa_search *s);

typedef struct oa_search_hit {
  size_t doc;   /* the id given by oa_search_add()'s order */
  double score; /* BM25F; 0 for a query without known words */
} oa_search_hit;

/* The best documents for query (borrowed), best first, at most max of them,
 * into hits (the caller's, max entries). allowed (borrowed) is NULL or one byte
 * per document, nonzero for those that may be returned. A query with no word
 * the index knows returns the allowed documents in id order when allowed is set
 * (e.g. everything with a tag), else none. Returns the number of hits; -ENOMEM. */
int oa_search_query(const oa_search *s, const char *query, const unsigned char *allowed,
                    oa_search_hit *hits, size_t max);

/* The number of documents and of distinct words. */
size_t oa_search_docs(const oa_search *s);
size_t oa_search_terms(const oa_search *s);

/* Frees s (NULL is fine). */
void oa_search_free(oa_search *s);

#endif
