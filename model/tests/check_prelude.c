/* check_prelude.c: the asyncio prelude compiles, defines every public
 * name, and its classes answer their methods. */
#include "testutil.h"

#include "builtins.h"
#include "parse.h"
#include "prelude.h"

START_TEST(parses) {
    ls_arena a = {0};
    ls_error e = {0};
    ls_node *m = ls_parse_program(LS_PRELUDE_PATH, ls_prelude_src, ls_prelude_len, 1, &a, &e);
    ck_assert_msg(m != NULL, "%s", e.msg);
    ck_assert_int_gt(m->n, 50);
    ls_arena_free(&a);
}
END_TEST

START_TEST(public_names_defined) {
    static const char *names[] = {
#define LS_X(n) n,
        LS_PRELUDE_PUBLIC(LS_X)
#undef LS_X
    };
    char *path = tu_case("async def main():\n    pass\n");
    ls_case c;
    ls_error e = {0};
    ck_assert_int_eq(ls_case_load(&c, path, &e), 0);
    ls_program *p = ls_compile(&c, &e);
    ck_assert_msg(p != NULL, "%s", e.msg);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char want[64];
        snprintf(want, sizeof want, "__p_%s", names[i]);
        bool found = false;
        for (int g = 0; g < p->nglobals; g++) found |= strcmp(p->globalnames[g], want) == 0;
        ck_assert_msg(found, "prelude does not define %s", names[i]);
    }
    /* Every lock-like class is an async context manager. */
    static const char *cms[] = {"Lock", "Condition", "Semaphore", "BoundedSemaphore", "Timeout", "TaskGroup"};
    for (size_t i = 0; i < sizeof cms / sizeof *cms; i++) {
        int cls = -1;
        for (int k = 0; k < p->nclasses; k++)
            if (strcmp(p->classnames[k], cms[i]) == 0) cls = k;
        ck_assert_msg(cls >= 0, "no class %s", cms[i]);
        ck_assert_int_ge(p->methods[cls * LS_M__COUNT + LS_M_AENTER], 0);
        ck_assert_int_ge(p->methods[cls * LS_M__COUNT + LS_M_AEXIT], 0);
    }
    ls_program_free(p);
    ls_case_free(&c);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(records_and_dispatch) {
    TU_RUN_EQ("async def main():\n    q = Queue()\n    q.put_nowait(1)\n    q.put_nowait(2)\n"
              "    log(q.qsize(), q.get_nowait(), await q.get(), q.empty())\n"
              "    try:\n        q.acquire()\n    except Exception as e:\n        log(repr(e))\n",
              LS_PROF_ASYNCIO, "2 1 2 True|AttributeError(\"'Queue' object has no attribute 'acquire'\")");
}
END_TEST

START_TEST(async_with_unwinds) {
    /* return, break and an exception inside `async with` all release. */
    TU_RUN_EQ("async def f(l):\n    async with l:\n        return l.locked()\n\n"
              "async def main():\n    l = Lock()\n    log(await f(l), l.locked())\n"
              "    for i in range(3):\n        async with l:\n            if i == 1:\n                break\n"
              "    log(i, l.locked())\n    try:\n        async with l:\n            raise Error('x')\n"
              "    except Error:\n        log('raised', l.locked())\n",
              LS_PROF_ASYNCIO, "True False|1 False|raised False");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("prelude");
    TCase *tc = tcase_create("source");
    tcase_add_test(tc, parses);
    tcase_add_test(tc, public_names_defined);
    suite_add_tcase(s, tc);
    tc = tcase_create("objects");
    tcase_add_test(tc, async_with_unwinds);
    tcase_add_test(tc, records_and_dispatch);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
