/* heap.c: binary min-heap of timers. */
#include "heap.h"

#include <stdlib.h>

static bool less(const ls_heap_item *a, const ls_heap_item *b) {
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

void ls_heap_push(ls_heap *hp, double when, uint64_t seq, void *h) {
    if (hp->n == hp->cap) {
        hp->cap = hp->cap ? hp->cap * 2 : 64;
        hp->v = ls_xrealloc(hp->v, hp->cap * sizeof *hp->v);
    }
    size_t i = hp->n++;
    ls_heap_item it = {when, seq, h};
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!less(&it, &hp->v[parent])) break;
        hp->v[i] = hp->v[parent];
        i = parent;
    }
    hp->v[i] = it;
}

bool ls_heap_pop(ls_heap *hp, ls_heap_item *out) {
    if (!hp->n) return false;
    *out = hp->v[0];
    ls_heap_item last = hp->v[--hp->n];
    size_t i = 0, n = hp->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && less(&hp->v[c + 1], &hp->v[c])) c++;
        if (!less(&hp->v[c], &last)) break;
        hp->v[i] = hp->v[c];
        i = c;
    }
    if (n) hp->v[i] = last;
    return true;
}

const ls_heap_item *ls_heap_peek(const ls_heap *hp) { return hp->n ? &hp->v[0] : NULL; }

void ls_heap_free(ls_heap *hp) {
    free(hp->v);
    hp->v = NULL;
    hp->n = hp->cap = 0;
}
