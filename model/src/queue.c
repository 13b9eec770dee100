/* queue.c: FIFO ring buffer. */
#include "queue.h"

#include <stdlib.h>

void ls_queue_push(ls_queue *q, void *h) {
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        void **v = ls_xmalloc(cap * sizeof *v);
        for (size_t i = 0; i < q->len; i++) v[i] = q->v[(q->head + i) & (q->cap - 1)];
        free(q->v);
        q->v = v;
        q->cap = cap;
        q->head = 0;
    }
    q->v[(q->head + q->len) & (q->cap - 1)] = h;
    q->len++;
}

void *ls_queue_pop(ls_queue *q) {
    if (!q->len) return NULL;
    void *h = q->v[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->len--;
    return h;
}

void *ls_queue_at(const ls_queue *q, size_t i) {
    return i < q->len ? q->v[(q->head + i) & (q->cap - 1)] : NULL;
}

void ls_queue_free(ls_queue *q) {
    free(q->v);
    q->v = NULL;
    q->head = q->len = q->cap = 0;
}
