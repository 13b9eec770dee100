/* queue.h: the ready queue, a FIFO ring buffer of handle pointers.
 * O(1) amortized push and pop; grows by doubling. */
#ifndef LS_QUEUE_H
#define LS_QUEUE_H

#include "common.h"

typedef struct ls_queue {
    void **v;
    size_t head, len, cap;   /* cap is a power of two */
} ls_queue;

void ls_queue_push(ls_queue *q, void *h);
void *ls_queue_pop(ls_queue *q);             /* NULL when empty */
void *ls_queue_at(const ls_queue *q, size_t i);
void ls_queue_free(ls_queue *q);

#endif
