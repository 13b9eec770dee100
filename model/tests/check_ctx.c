/* check_ctx.c: context maps: O(1) copies that never see later sets. */
#include "testutil.h"

#include "ctx.h"

static ls_vm *vm_new(void) {
    ls_vm *vm = calloc(1, sizeof *vm);
    vm->threshold = (size_t)-1;
    return vm;
}

static void vm_del(ls_vm *vm) {
    ls_gc_free_all(vm);
    free(vm);
}

START_TEST(copy_is_isolated) {
    ls_vm *vm = vm_new();
    ls_ctxvar *a = ls_ctxvar_new(vm, ls_none(), ls_unbound());
    ls_ctxvar *b = ls_ctxvar_new(vm, ls_none(), ls_unbound());
    ls_ctx *c1 = ls_ctx_new(vm, NULL);
    ls_value v;
    ck_assert(!ls_ctx_lookup(c1, a, &v));
    ls_ctx_set(vm, c1, a, ls_int(1));
    ls_ctx *c2 = ls_ctx_copy(vm, (ls_obj *)c1);
    ck_assert_ptr_eq(c1->map, c2->map);   /* O(1): shared */
    ls_ctx_set(vm, c2, a, ls_int(2));
    ls_ctx_set(vm, c2, b, ls_int(3));
    ck_assert(ls_ctx_lookup(c1, a, &v) && v.u.i == 1);
    ck_assert(!ls_ctx_lookup(c1, b, &v));
    ck_assert(ls_ctx_lookup(c2, a, &v) && v.u.i == 2);
    ck_assert(ls_ctx_lookup(c2, b, &v) && v.u.i == 3);
    vm_del(vm);
}
END_TEST

START_TEST(many_vars_and_removal) {
    ls_vm *vm = vm_new();
    ls_ctxvar *vars[40];
    ls_ctx *c = ls_ctx_new(vm, NULL);
    for (int i = 0; i < 40; i++) vars[i] = ls_ctxvar_new(vm, ls_none(), ls_unbound());
    for (int i = 39; i >= 0; i -= 2) ls_ctx_set(vm, c, vars[i], ls_int(i));
    for (int i = 0; i < 40; i += 2) ls_ctx_set(vm, c, vars[i], ls_int(i));
    ck_assert_int_eq(c->map->n, 40);
    for (int i = 0; i < 40; i++) {
        ls_value v;
        ck_assert(ls_ctx_lookup(c, vars[i], &v));
        ck_assert_int_eq((int)v.u.i, i);
    }
    for (int i = 0; i < 40; i += 3) ls_ctx_set(vm, c, vars[i], ls_unbound());
    for (int i = 0; i < 40; i++) {
        ls_value v;
        ck_assert(ls_ctx_lookup(c, vars[i], &v) == (i % 3 != 0));
    }
    vm_del(vm);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ctx");
    TCase *tc = tcase_create("copies");
    tcase_add_test(tc, copy_is_isolated);
    suite_add_tcase(s, tc);
    tc = tcase_create("maps");
    tcase_add_test(tc, many_vars_and_removal);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
