/* check_vm.c: the interpreter and the loop, on programs whose traces were
 * observed on CPython (observed.h), and on the model's own limits. */
#include "testutil.h"

#include "observed.h"

START_TEST(language) {
    TU_RUN_EQ(prog_lang, LS_PROF_ASYNCIO, want_lang);
    TU_RUN_EQ(prog_lang, LS_PROF_PY311, want_lang);
}
END_TEST

START_TEST(loop_order) {
    TU_RUN_EQ(prog_loop, LS_PROF_ASYNCIO, want_loop);
    TU_RUN_EQ(prog_loop, LS_PROF_PY311, want_loop);
    TU_RUN_EQ(prog_loop, LS_PROF_EAGER, want_loop_eager);
}
END_TEST

START_TEST(context_and_cancel) {
    TU_RUN_EQ(prog_ctx_cancel, LS_PROF_ASYNCIO, want_ctx_cancel);
    TU_RUN_EQ(prog_ctx_cancel, LS_PROF_PY311, want_ctx_cancel);
    TU_RUN_EQ(prog_ctx_cancel, LS_PROF_EAGER, want_ctx_cancel_eager);
}
END_TEST

START_TEST(await_is_inline) {
    /* seed 001 Case 1: await runs the callee before a task made earlier. */
    const char *p = "async def p(w):\n    log(w)\n\nasync def main():\n"
                    "    t = create_task(p('task'))\n    await p('await')\n    await t\n";
    TU_RUN_EQ(p, LS_PROF_ASYNCIO, "await|task");
    TU_RUN_EQ(p, LS_PROF_EAGER, "task|await");
}
END_TEST

START_TEST(hang_is_reported) {
    char *got = tu_run("async def main():\n    log('a')\n    await Future()\n", LS_PROF_ASYNCIO);
    ck_assert_msg(strstr(got, "CPython would block forever") != NULL, "%s", got);
    free(got);
}
END_TEST

/* Runs `program` with the given budgets (0: the default): the error
 * message, or NULL when the run ended normally. */
static char *run_limited(const char *program, uint64_t max_steps, size_t max_mib) {
    char *path = tu_case(program);
    ls_case c;
    ls_error e = {0};
    ck_assert_int_eq(ls_case_load(&c, path, &e), 0);
    ls_program *p = ls_compile(&c, &e);
    ck_assert_ptr_nonnull(p);
    ls_vm vm;
    ck_assert_int_eq(ls_vm_init(&vm, p, LS_PROF_ASYNCIO), 0);
    if (max_steps) vm.max_steps = max_steps;
    if (max_mib) vm.max_bytes = max_mib << 20;
    char *msg = NULL;
    if (ls_run_main(&vm) < 0) msg = ls_xstrndup(vm.err.msg, strlen(vm.err.msg));
    ls_vm_free(&vm);
    ls_program_free(p);
    ls_case_free(&c);
    unlink(path);
    free(path);
    return msg;
}

START_TEST(step_budget) {
    char *msg = run_limited("async def main():\n    while True:\n        pass\n", 100000, 0);
    ck_assert_ptr_nonnull(msg);
    ck_assert_ptr_nonnull(strstr(msg, ":6:1: error: step budget of 100000 instructions exhausted"));
    free(msg);
}
END_TEST

START_TEST(trace_limit) {
    /* A flood stops at the line or byte limit, also from a callback and
     * across iterations; what fits runs to the end. */
    char *got = tu_run("async def main():\n    for i in range(100001):\n        log(i)\n", LS_PROF_ASYNCIO);
    ck_assert_ptr_nonnull(strstr(got, ":7:1: error: trace limit of 100000 lines exceeded"));
    free(got);
    got = tu_run("async def main():\n    while True:\n        call_soon(log, 'tick')\n        await sleep(0)\n",
                 LS_PROF_ASYNCIO);
    ck_assert_ptr_nonnull(strstr(got, "error: trace limit of 100000 lines exceeded"));
    free(got);
    got = tu_run("async def main():\n    s = 'x' * 1000000\n    for i in range(9):\n        log(s)\n", LS_PROF_ASYNCIO);
    ck_assert_ptr_nonnull(strstr(got, ":8:1: error: trace limit of 8388608 bytes exceeded"));
    free(got);
    got = tu_run("async def main():\n    for i in range(100000):\n        log(i)\n", LS_PROF_ASYNCIO);
    ck_assert_ptr_null(strstr(got, "ERROR"));
    free(got);
}
END_TEST

START_TEST(memory_budget) {
    /* A task tree without a base case, and a list doubled in a loop: both
     * stop at a safe point once what is live exceeds the budget. */
    char *msg = run_limited("async def node(d):\n    t1 = create_task(node(d - 1))\n"
                            "    t2 = create_task(node(d - 1))\n    await t1\n    await t2\n\n"
                            "async def main():\n    await node(3)\n", 0, 16);
    ck_assert_ptr_nonnull(msg);
    ck_assert_ptr_nonnull(strstr(msg, "error: memory budget of 16 MiB exceeded"));
    free(msg);
    msg = run_limited("async def main():\n    x = [1]\n    for i in range(40):\n        x = x + x\n", 0, 16);
    ck_assert_ptr_nonnull(msg);
    ck_assert_ptr_nonnull(strstr(msg, ":7:1: error: memory budget of 16 MiB exceeded"));
    free(msg);
    /* What fits runs to the end. */
    ck_assert_ptr_null(run_limited("async def main():\n    x = [1]\n    for i in range(16):\n"
                                   "        x = x + x\n    log(len(x))\n", 0, 16));
}
END_TEST

START_TEST(runtime_errors_are_exceptions) {
    TU_RUN_EQ("async def main():\n    try:\n        x = [1][5]\n    except Exception as e:\n"
              "        log(repr(e))\n    log(1 // 0)\n",
              LS_PROF_ASYNCIO, "IndexError('list index out of range')|uncaught ZeroDivisionError: integer division or modulo by zero");
    TU_RUN_EQ("def f(n):\n    return f(n + 1)\n\nasync def main():\n    f(0)\n", LS_PROF_ASYNCIO,
              "uncaught RecursionError: maximum recursion depth exceeded");
}
END_TEST

START_TEST(many_tasks_collect) {
    /* Enough garbage to run the collector many times mid-run. */
    TU_RUN_EQ("async def w(i):\n    await sleep(0)\n    return [i, str(i)]\n\n"
              "async def main():\n    total = 0\n    for r in range(20):\n"
              "        res = await gather(*[w(i) for i in range(2000)])\n"
              "        total += len(res)\n    log(total)\n",
              LS_PROF_ASYNCIO, "40000");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("vm");
    TCase *tc = tcase_create("observed");
    tcase_add_test(tc, language);
    tcase_add_test(tc, loop_order);
    tcase_add_test(tc, context_and_cancel);
    tcase_add_test(tc, await_is_inline);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_add_test(tc, hang_is_reported);
    tcase_add_test(tc, step_budget);
    tcase_add_test(tc, runtime_errors_are_exceptions);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, many_tasks_collect);
    tcase_add_test(tc, memory_budget);
    tcase_add_test(tc, trace_limit);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
