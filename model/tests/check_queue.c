/* check_queue.c: the ready queue. */
#include "testutil.h"

#include "queue.h"

START_TEST(fifo_across_growth) {
    ls_queue q = {0};
    intptr_t next = 1, want = 1;
    /* Interleave pushes and pops so the ring wraps while it grows. */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < round * 3; i++) ls_queue_push(&q, (void *)next++);
        for (int i = 0; i < round * 2; i++) ck_assert_ptr_eq(ls_queue_pop(&q), (void *)want++);
    }
    while (q.len) ck_assert_ptr_eq(ls_queue_pop(&q), (void *)want++);
    ck_assert_int_eq((int)want, (int)next);
    ck_assert_ptr_null(ls_queue_pop(&q));
    ls_queue_free(&q);
}
END_TEST

START_TEST(indexing) {
    ls_queue q = {0};
    for (intptr_t i = 1; i <= 10; i++) ls_queue_push(&q, (void *)i);
    ls_queue_pop(&q);
    ck_assert_ptr_eq(ls_queue_at(&q, 0), (void *)2);
    ck_assert_ptr_eq(ls_queue_at(&q, 8), (void *)10);
    ck_assert_ptr_null(ls_queue_at(&q, 9));
    ls_queue_free(&q);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("fifo");
    tcase_add_test(tc, fifo_across_growth);
    tcase_add_test(tc, indexing);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
