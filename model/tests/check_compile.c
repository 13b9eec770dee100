/* check_compile.c: name resolution, compile errors, and bytecode shape. */
#include "testutil.h"

static char *compile_err(const char *program) {
    char *got = tu_run(program, LS_PROF_ASYNCIO);
    return got;
}

static void fails(const char *program, const char *want) {
    char *got = compile_err(program);
    ck_assert_msg(strstr(got, want) != NULL, "got: %s\nwant: %s", got, want);
    free(got);
}

START_TEST(names) {
    fails("async def main():\n    log(nope)\n", ":6:9: error: name 'nope' is not defined");
    fails("def f():\n    await g()\n\nasync def main():\n    pass\n", ":6:5: error: 'await' outside an async function");
    fails("async def main():\n    break\n", ":6:5: error: 'break' outside a loop");
    fails("async def main():\n    x.frobnicate()\n", "error: attribute 'frobnicate' is not part of the case language");
    /* found by fuzz-run: an error after a `break` leaked the loop's patch list */
    fails("async def main():\n    for i in range(3):\n        break\n        log(nowhere)\n",
          ":8:13: error: name 'nowhere' is not defined");
    /* found by fuzz-parser: an error in a later keyword argument leaked the
     * names of the earlier ones */
    fails("async def main():\n    log(await sleep(result=1, delay=nope))\n",
          ":6:37: error: name 'nope' is not defined");
    fails("async def f():\n    pass\n\nasync def f():\n    pass\n\nasync def main():\n    pass\n",
          "error: function 'f' is defined twice");
    fails("def f():\n    async with x:\n        pass\n\nasync def main():\n    pass\n",
          ":6:5: error: 'async with' outside an async function");
}
END_TEST

START_TEST(super_only_in_methods) {
    /* super() is the zero-argument form, as super().name in a method. */
    fails("class A:\n    def x(self):\n        return 1\n\nasync def main():\n    super().x()\n",
          "error: super() is part of the language only in a method of a class");
    fails("class A:\n    def f(self):\n        return super(A, self).f()\n\n"
          "async def main():\n    A().f()\n",
          "error: super() takes no arguments in the case language");
    TU_RUN_EQ("class A:\n    def f(self):\n        return super().f()\n\n"
              "async def main():\n    A().f()\n",
              LS_PROF_ASYNCIO, "uncaught AttributeError: 'super' object has no attribute 'f'");
    TU_RUN_EQ("class A:\n    def __init__(self, x):\n        super().__init__(x)\n\n"
              "async def main():\n    A(1)\n",
              LS_PROF_ASYNCIO,
              "uncaught TypeError: object.__init__() takes exactly one argument (the instance to initialize)");
}
END_TEST

START_TEST(scopes) {
    TU_RUN_EQ("n = 1\n\ndef bump():\n    global n\n    n = n + 1\n\nasync def main():\n    bump()\n    bump()\n"
              "    log(n)\n",
              LS_PROF_ASYNCIO, "3");
    TU_RUN_EQ("x = 'g'\n\nasync def main():\n    log([x for x in range(2)], x)\n", LS_PROF_ASYNCIO, "[0, 1] g");
    /* found by fuzz-run: *args of an empty list */
    TU_RUN_EQ("async def main():\n    log(*[])\n    log(1, *[], 2)\n", LS_PROF_ASYNCIO, "|1 2");
    TU_RUN_EQ("async def main():\n    log(y)\n    y = 1\n", LS_PROF_ASYNCIO,
              "uncaught UnboundLocalError: cannot access local variable 'y' where it is not associated with a value");
}
END_TEST

START_TEST(finally_on_every_exit) {
    TU_RUN_EQ("def f():\n    for i in range(3):\n        try:\n            if i == 0:\n                continue\n"
              "            if i == 1:\n                break\n        finally:\n            log('fin', i)\n"
              "    try:\n        return 'r'\n    finally:\n        log('last')\n\n"
              "async def main():\n    log(f())\n",
              LS_PROF_ASYNCIO, "fin 0|fin 1|last|r");
}
END_TEST

START_TEST(stack_depth_fits) {
    /* Deep expressions and nested handlers run without overflowing. */
    TU_RUN_EQ("async def main():\n    log(1 + (2 + (3 + (4 + (5 + (6 + (7 + (8 + [9][0]))))))))\n"
              "    try:\n        try:\n            try:\n                raise Error('x')\n"
              "            finally:\n                log('a')\n        except ValueError:\n            log('no')\n"
              "    except Error as e:\n        log('b', e)\n",
              LS_PROF_ASYNCIO, "45|a|b x");
}
END_TEST

START_TEST(fused_loop_test) {
    /* `<` fuses with the branch, except where a jump lands between them. */
    TU_RUN_EQ("async def main():\n    x = 0\n    y = 1\n    if x and y < 2:\n        log('no')\n"
              "    else:\n        log('short circuit')\n    i = 0\n    while i < 3:\n        i += 1\n"
              "    log(i, 'a' < 'b', 2.5 < 3)\n    while x or y < 0:\n        x = 0\n        log('or')\n",
              LS_PROF_ASYNCIO, "short circuit|3 True True");
}
END_TEST

START_TEST(prelude_names) {
    /* asyncio's names come from the prelude; a program may shadow them,
     * and the prelude's own helpers stay private. */
    TU_RUN_EQ("async def main():\n    l = Lock()\n    async with l:\n        log(l.locked())\n    log(l.locked())\n",
              LS_PROF_ASYNCIO, "True|False");
    TU_RUN_EQ("async def wait(x):\n    return x\n\nasync def main():\n    log(await wait(3))\n",
              LS_PROF_ASYNCIO, "3");
    fails("async def main():\n    _py311()\n", "error: name '_py311' is not defined");
    /* Its records' fields too: the gate refuses every '_' attribute. */
    fails("async def main():\n    e = Event()\n    log(e._value)\n",
          "error: attribute '_value' is not part of the case language");
}
END_TEST

START_TEST(new_builtins) {
    /* type(x).__name__ is the one '__' attribute, and only on type()'s call. */
    TU_RUN_EQ("async def main():\n    log(type(1).__name__, type(Barrier(2)).__name__, type(Error()).__name__)\n",
              LS_PROF_ASYNCIO, "int Barrier Error");
    fails("async def main():\n    t = type(1)\n    log(t.__name__)\n",
          ":7:11: error: attribute '__name__' is part of the case language only as type(x).__name__");
    fails("async def main():\n    log(main.__name__)\n", "only as type(x).__name__");
    /* What a profile's CPython lacks raises, naming the first version with it. */
    TU_RUN_EQ("async def main():\n    Queue().shutdown()\n", LS_PROF_PY312,
              "uncaught AttributeError: 'Queue' object has no attribute 'shutdown' (new in Python 3.13; "
              "the profile asyncio-3.12 follows CPython 3.12.7)");
    TU_RUN_EQ("async def main():\n    log(QueueShutDown)\n", LS_PROF_PY311,
              "uncaught NameError: name 'QueueShutDown' is not defined (new in Python 3.13; "
              "the profile asyncio-3.11 follows CPython 3.11.2)");
    TU_RUN_EQ("async def c():\n    pass\n\nasync def main():\n    create_task(c(), eager_start=True)\n",
              LS_PROF_EAGER313,
              "uncaught TypeError: create_task() got an unexpected keyword argument 'eager_start' (new in "
              "Python 3.14; the profile eager-3.13 follows CPython 3.13.2)");
    TU_RUN_EQ("async def main():\n    call_soon(log, 1, context=2)\n", LS_PROF_ASYNCIO,
              "uncaught TypeError: call_soon(): context must be a Context, not int");
    TU_RUN_EQ("async def main():\n    c = copy_context()\n    c.run(c.run, log, 1)\n", LS_PROF_ASYNCIO,
              "uncaught RuntimeError: cannot enter context: <Context object> is already entered");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("compile");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, names);
    tcase_add_test(tc, prelude_names);
    tcase_add_test(tc, new_builtins);
    suite_add_tcase(s, tc);
    tc = tcase_create("scopes");
    tcase_add_test(tc, scopes);
    tcase_add_test(tc, super_only_in_methods);
    suite_add_tcase(s, tc);
    tc = tcase_create("control");
    tcase_add_test(tc, finally_on_every_exit);
    tcase_add_test(tc, stack_depth_fits);
    tcase_add_test(tc, fused_loop_test);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
