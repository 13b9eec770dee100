/* heap.h: the timer heap, a binary min-heap ordered by (deadline,
 * sequence): equal deadlines fire in the order they were scheduled.
 * O(log n) per push and pop, O(1) to peek. */
#ifndef LS_HEAP_H
#define LS_HEAP_H

#include "common.h"

typedef struct ls_heap_item {
    double when;
    uint64_t seq;
    void *h;
} ls_heap_item;

typedef struct ls_heap {
    ls_heap_item *v;
    size_t n, cap;
} ls_heap;

void ls_heap_push(ls_heap *hp, double when, uint64_t seq, void *h);
bool ls_heap_pop(ls_heap *hp, ls_heap_item *out);   /* false when empty */
const ls_heap_item *ls_heap_peek(const ls_heap *hp); /* NULL when empty */
void ls_heap_free(ls_heap *hp);

#endif
