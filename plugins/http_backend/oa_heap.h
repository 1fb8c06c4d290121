/* oa_heap.h -- the process heap while a large OpenAPI document is loaded.
 *
 * A document's tree is about four times its text and is freed as soon as it
 * is converted; GitHub's 13 MB description makes about a million small
 * allocations. Two costs dominate its load: page faults on the fresh heap
 * (half the parse time on a virtual machine), and pages the freed tree leaves
 * in the heap (RSS stays at the peak). So, around a load, the heap grows in
 * one step that is advised for transparent huge pages (faults per 2 MiB, not
 * per 4 KiB), and afterwards the advice and the padding are undone and the free
 * pages are given back.
 *
 * glibc on Linux only; elsewhere both calls do nothing. They change
 * process-wide malloc settings for the time between them: loop thread only,
 * and nothing else should allocate much meanwhile. */
#ifndef HTTP_BACKEND_OA_HEAP_H
#define HTTP_BACKEND_OA_HEAP_H

#include <stddef.h>

typedef struct oa_heap_load {
  int active;    /* a large document: settings changed, to be undone */
  void *lo, *hi; /* the range advised for huge pages, or NULL */
} oa_heap_load;

/* Before parsing a document of text_len bytes (compact: without indentation, as
 * oa_slim_json() makes it; its tree is then about ten times the text, else
 * five): for a large one (over 2 MiB), grows the heap by room for its tree and
 * advises huge pages for that room. st is the caller's, filled for
 * oa_heap_load_end(). */
void oa_heap_load_begin(size_t text_len, int compact, oa_heap_load *st);

/* Just before the tree is freed: small blocks are merged as they are freed
 * (no fast bins), which costs less than merging a million of them in
 * oa_heap_load_end(). */
void oa_heap_load_release(oa_heap_load *st);

/* After the tree is freed: undoes what oa_heap_load_begin() did and returns the
 * heap's free pages to the system (malloc_trim). Always call it, also after a
 * failed load. For a small document, neither call does anything. */
void oa_heap_load_end(oa_heap_load *st);

/* A buffer of n bytes for a large document's text (its own mapping of huge
 * pages on Linux: it is written once, front to back, and 4 KiB page faults
 * cost more than the copy; else malloc). NULL when out of memory. Any thread. */
char *oa_heap_buffer(size_t n);

/* Frees a buffer from oa_heap_buffer() of n bytes (NULL is fine). */
void oa_heap_buffer_free(char *p, size_t n);

#endif
