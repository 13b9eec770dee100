/* check_heap.c: the timer heap. */
#include "testutil.h"

#include "heap.h"

START_TEST(pops_in_deadline_order) {
    ls_heap h = {0};
    double when[] = {5, 1, 4, 1, 3, 9, 2, 6};
    for (int i = 0; i < 8; i++) ls_heap_push(&h, when[i], (uint64_t)i, (void *)(intptr_t)i);
    double last = -1;
    ls_heap_item it;
    int n = 0;
    while (ls_heap_pop(&h, &it)) {
        ck_assert(it.when >= last);
        last = it.when;
        n++;
    }
    ck_assert_int_eq(n, 8);
    ls_heap_free(&h);
}
END_TEST

START_TEST(equal_deadlines_are_fifo) {
    ls_heap h = {0};
    for (int i = 0; i < 100; i++) ls_heap_push(&h, 1.0, (uint64_t)i, (void *)(intptr_t)i);
    ls_heap_item it;
    for (int i = 0; i < 100; i++) {
        ck_assert(ls_heap_pop(&h, &it));
        ck_assert_int_eq((int)(intptr_t)it.h, i);
    }
    ck_assert(!ls_heap_pop(&h, &it));
    ck_assert_ptr_null(ls_heap_peek(&h));
    ls_heap_free(&h);
}
END_TEST

START_TEST(random_against_sort) {
    ls_heap h = {0};
    srand(7);
    int n = 5000;
    for (int i = 0; i < n; i++) ls_heap_push(&h, (double)(rand() % 50), (uint64_t)i, NULL);
    ls_heap_item prev = {-1, 0, NULL}, it;
    for (int i = 0; i < n; i++) {
        ck_assert(ls_heap_pop(&h, &it));
        ck_assert(it.when > prev.when || (it.when == prev.when && it.seq > prev.seq));
        prev = it;
    }
    ls_heap_free(&h);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("heap");
    TCase *tc = tcase_create("order");
    tcase_add_test(tc, pops_in_deadline_order);
    tcase_add_test(tc, equal_deadlines_are_fifo);
    tcase_add_test(tc, random_against_sort);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
