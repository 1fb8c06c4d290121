/* oa_heap.c -- see oa_heap.h. */
#define _DEFAULT_SOURCE /* sbrk, madvise */

#include "oa_heap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GLIBC__) && defined(__linux__)
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE   ((uintptr_t)2 << 20)
#define SMALL_DOC   ((size_t)2 << 20)
#define PAD_MAX     ((size_t)512 << 20)            /* virtual room; only touched pages cost */
#define TOP_PAD_DEF (128 * 1024)                   /* glibc's documented M_TOP_PAD */
#define MXFAST_DEF  (64 * (int)sizeof(size_t) / 4) /* and M_MXFAST */
#define GROW_BLOCK  (96 * 1024)                    /* under the mmap threshold: from the heap */
#define GROW_TRIES  256

void oa_heap_load_begin(size_t text_len, int compact, oa_heap_load *st) {
  size_t factor = compact ? 10 : 5; /* tree bytes per text byte, with room */
  void *blocks[GROW_TRIES];
  size_t pad, n = 0;
  char *before, *after;
  uintptr_t lo, hi;
  memset(st, 0, sizeof(*st));
  if (text_len < SMALL_DOC)
    return;
  st->active = 1;
  pad = text_len > PAD_MAX / factor ? PAD_MAX : text_len * factor;
  before = sbrk(0);
  /* The next growth of the heap takes the whole pad at once; heap blocks are
   * taken until it happens (the top chunk may have room left first). */
  if (before == (void *)-1 || mallopt(M_TOP_PAD, (int)pad) != 1)
    return;
  while (n < GROW_TRIES && (blocks[n] = malloc(GROW_BLOCK)) != NULL) {
    n++;
    if ((char *)sbrk(0) != before)
      break;
  }
  after = sbrk(0);
  while (n > 0)
    free(blocks[--n]); /* back into the top chunk, which keeps the pad */
  lo = ((uintptr_t)before + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
  hi = (uintptr_t)after & ~(HUGE_PAGE - 1);
  if (after == (void *)-1 || hi <= lo || madvise((void *)lo, hi - lo, MADV_HUGEPAGE) != 0)
    return;
  st->lo = (void *)lo;
  st->hi = (void *)hi;
}

void oa_heap_load_release(oa_heap_load *st) {
  if (st->active)
    mallopt(M_MXFAST, 0);
}

void oa_heap_load_end(oa_heap_load *st) {
  if (!st->active)
    return;
  mallopt(M_MXFAST, MXFAST_DEF);
  mallopt(M_TOP_PAD, TOP_PAD_DEF);
  /* Without this, khugepaged would later fill whole 2 MiB pages around the
   * few small blocks left in the range. */
  if (st->lo != NULL) {
    uintptr_t hi = (uintptr_t)st->hi, brk_now = (uintptr_t)sbrk(0);
    if (brk_now < hi) /* the heap shrank below the range's end */
      hi = brk_now & ~(HUGE_PAGE - 1);
    if (hi > (uintptr_t)st->lo)
      madvise(st->lo, hi - (uintptr_t)st->lo, MADV_NOHUGEPAGE);
  }
  malloc_trim(0);
  memset(st, 0, sizeof(*st));
}

char *oa_heap_buffer(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  madvise(p, n, MADV_HUGEPAGE); /* advice: a failure only costs time */
  return p;
}

void oa_heap_buffer_free(char *p, size_t n) {
  if (p != NULL)
    munmap(p, n);
}

#else

char *oa_heap_buffer(size_t n) {
  return malloc(n);
}

void oa_heap_buffer_free(char *p, size_t n) {
  (void)n;
  free(p);
}

void oa_heap_load_begin(size_t text_len, int compact, oa_heap_load *st) {
  (void)text_len;
  (void)compact;
  memset(st, 0, sizeof(*st));
}

void oa_heap_load_release(oa_heap_load *st) {
  (void)st;
}

void oa_heap_load_end(oa_heap_load *st) {
  memset(st, 0, sizeof(*st));
}

#endif
