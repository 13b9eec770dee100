/* check_parse.c: case files and the program grammar, good and bad. */
#include "testutil.h"

#include "gate.h"

#define HDR "---\ntitle: t\nsource: s\n---\n"

static void rejects(const char *text, const char *want) {
    ls_case c;
    char err[1024] = "";
    int rc = tu_load(text, &c, err, sizeof err);
    ls_case_free(&c);
    ck_assert_msg(rc == -1, "accepted: %s", text);
    ck_assert_str_eq(err, want);
}

static ls_case *accepts(const char *text, ls_case *c) {
    char err[1024] = "";
    int rc = tu_load(text, c, err, sizeof err);
    ck_assert_msg(rc == 0, "rejected: %s", err);
    return c;
}

START_TEST(header_errors) {
    rejects("title: t\n", "error: a case starts with a '---' header line");
    rejects("---\ntitle: t\n", "error: header is not closed by a '---' line");
    rejects("---\ntitle: t\n---\nasync def main():\n    pass\nexpect:\n",
            "error: header needs a non-empty 'source'");
    rejects("---\ntitle: t\nsource: s\ncolour: red\n---\n",
            "error: unknown header key 'colour' (keys: title, source, tags, requires, profiles, timeout, bench)");
    rejects("---\ntitle: t\nsource: s\ntitle: u\n---\n", "error: duplicate header key 'title' (first on line 2)");
    rejects("---\ntitle: t\nsource: s\nprofiles: asyncio fast\n---\n",
            "error: unknown profile 'fast' (profiles: asyncio-3.11, asyncio-3.11.3, asyncio-3.11.7, asyncio-3.12, eager-3.12, asyncio-3.13, eager-3.13, asyncio-3.14, eager-3.14, asyncio-3.15, eager-3.15, asyncio, eager)");
    rejects("---\ntitle: t\nsource: s\ntimeout: soon\n---\n",
            "error: timeout must be a number of seconds in (0, 3600]");
    rejects("---\ntitle: t\nsource: s\nnonsense\n---\n", "error: header line must be 'key: value'");
}
END_TEST

START_TEST(expect_errors) {
    rejects(HDR "async def main():\n    pass\n", "error: no expect block for profile asyncio-3.11 (add 'expect:')");
    rejects(HDR "async def main():\n    pass\nexpect[fast]:\n", "error: unknown profile 'fast' (profiles: asyncio-3.11, asyncio-3.11.3, asyncio-3.11.7, asyncio-3.12, eager-3.12, asyncio-3.13, eager-3.13, asyncio-3.14, eager-3.14, asyncio-3.15, eager-3.15, asyncio, eager)");
    rejects(HDR "async def main():\n    pass\nexpect:\n    a\nexpect:\n    b\n",
            "error: duplicate expect block for the default profile (first on line 7)");
    rejects(HDR "async def main():\n    pass\nexpect:\n    a\n        b\n",
            "error: unexpected indent in expect block (only 'unordered:' opens a nested group)");
    rejects(HDR "async def main():\n    pass\nexpect:\n    unordered:\n    a\n", "error: empty 'unordered:' group");
    rejects(HDR "async def main():\n    pass\nexpect: a\n", "error: expect block: lines go below 'expect:', indented");
    rejects("---\ntitle: t\nsource: s\nprofiles: eager\n---\nasync def main():\n    pass\nexpect[asyncio]:\n    a\nexpect:\n",
            "error: expect block for profile asyncio, which the case's 'profiles:' leaves out");
    rejects(HDR "async def main():\n    pass\nexpect:\n    a\nexpect[asyncio-3.12, eager]:\n    b\nexpect[eager]:\n    c\n",
            "error: duplicate expect block for eager (first on line 9)");
    rejects(HDR "async def main():\n    pass\nexpect[eager-3.12, eager-3.12]:\n    b\n",
            "error: expect block names 'eager-3.12' twice");
    rejects(HDR "async def main():\n    pass\nexpect[]:\n    b\n", "error: expect block: '[]' names no profile");
    rejects("---\ntitle: t\nsource: s\nprofiles: eager\n---\nasync def main():\n    pass\nexpect[asyncio-3.12]:\n    a\nexpect:\n",
            "error: expect block for profile asyncio-3.12, which the case's 'profiles:' leaves out");
}
END_TEST

/* The one rule for which block a profile reads: its own name, its version
 * line, for eager profiles `eager` then its version's lazy profile, the
 * kind `asyncio`, then the default block. */
START_TEST(expect_block_rule) {
    ls_case c;
    accepts(HDR "async def main():\n    pass\n\nexpect:\n    new\n"
                "expect[asyncio-3.11, asyncio-3.12]:\n    old\n"
                "expect[asyncio-3.11.7]:\n    patched\n"
                "expect[eager]:\n    eager\n",
            &c);
    const char *want[][2] = {
        {"asyncio-3.11", "old"}, {"asyncio-3.11.3", "old"}, {"asyncio-3.11.7", "patched"},
        {"asyncio-3.12", "old"}, {"eager-3.12", "eager"}, {"asyncio-3.13", "new"},
        {"eager-3.13", "eager"}, {"asyncio-3.14", "new"}, {"eager-3.15", "eager"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        int p = ls_profile_parse(want[i][0], strlen(want[i][0]));
        ck_assert_int_ge(p, 0);
        ck_assert_msg(strcmp(ls_case_expect(&c, p)->lines[0].text, want[i][1]) == 0,
                      "%s reads %s", want[i][0], ls_case_expect(&c, p)->lines[0].text);
    }
    ck_assert_str_eq(c.expect[1].label, "asyncio-3.11, asyncio-3.12");
    ck_assert_str_eq(c.expect[0].label, "default");
    ls_case_free(&c);
    /* Without an eager block, an eager profile reads its version's lazy one. */
    accepts(HDR "async def main():\n    pass\n\nexpect:\n    new\nexpect[asyncio-3.12]:\n    old\n", &c);
    ck_assert_str_eq(ls_case_expect(&c, LS_PROF_EAGER312)->lines[0].text, "old");
    ck_assert_str_eq(ls_case_expect(&c, LS_PROF_EAGER313)->lines[0].text, "new");
    ls_case_free(&c);
}
END_TEST

/* The gate: only the case language's identifiers, on every path. */
START_TEST(gate_refuses) {
    rejects(HDR "async def main():\n    b = log.__globals__\nexpect:\n",
            "error: attribute '__globals__' is not part of the case language");
    rejects(HDR "async def main():\n    log(f\"{create_task.__globals__}\")\nexpect:\n",
            "error: attribute '__globals__' is not part of the case language");
    rejects(HDR "def f(x=log.__self__):\n    return x\n\nasync def main():\n    pass\nexpect:\n",
            "error: attribute '__self__' is not part of the case language");
    rejects(HDR "async def main():\n    __builtins__ = 1\nexpect:\n",
            "error: name '__builtins__' is not part of the case language");
    rejects(HDR "async def main():\n    try:\n        pass\n    except Error as __e:\n        pass\nexpect:\n",
            "error: name '__e' is not part of the case language");
    rejects(HDR "async def f(__x):\n    pass\n\nasync def main():\n    pass\nexpect:\n",
            "error: name '__x' is not part of the case language");
    rejects(HDR "async def main():\n    Lock().aenter()\nexpect:\n",
            "error: attribute 'aenter' is not part of the case language");
    rejects(HDR "async def main():\n    x = [t._coro for t in []]\nexpect:\n",
            "error: attribute '_coro' is not part of the case language");
    rejects(HDR "async def main():\n    f = Future()\n    f._result = 1\nexpect:\n",
            "error: attribute '_result' is not part of the case language: a program's own attributes "
            "do not start with '_'");
    rejects(HDR "async def main():\n    log(len.__call__)\nexpect:\n",
            "error: attribute '__call__' is not part of the case language");
    rejects(HDR "async def main():\n    create_task(main(), __x=1)\nexpect:\n",
            "error: name '__x' is not part of the case language");
}
END_TEST

/* Each version switch is one row: ls_since follows the release order. */
/* A program's classes: its own attributes and methods may not start with
 * '_' (but for the protocol methods) and may not be names that reach
 * interpreter internals on real objects, since defining a name lets the
 * program read it on any object. */
#define DEF_REFUSED "' is not part of the case language: a program may not define it (it names " \
                    "interpreter internals on real objects)"
START_TEST(gate_refuses_class_attributes) {
    rejects(HDR "class C:\n    def __getattr__(self, n):\n        pass\nasync def main():\n    pass\nexpect:\n",
            "error: attribute '__getattr__' is not part of the case language: a program's own attributes "
            "do not start with '_' (the protocol methods are __init__, __await__, __aenter__, __aexit__, "
            "__aiter__, __anext__, __repr__, __str__)");
    rejects(HDR "class C:\n    def __init__(self):\n        self._x = 1\nasync def main():\n    pass\nexpect:\n",
            "error: attribute '_x' is not part of the case language: a program's own attributes do not "
            "start with '_'");
    rejects(HDR "class C:\n    __slots__ = 1\nasync def main():\n    pass\nexpect:\n",
            "error: attribute '__slots__' is not part of the case language: a program's own attributes "
            "do not start with '_'");
    rejects(HDR "class C:\n    cr_frame = None\nasync def main():\n    log(main().cr_frame)\nexpect:\n",
            "error: attribute 'cr_frame" DEF_REFUSED);
    rejects(HDR "class C:\n    def format(self):\n        pass\nasync def main():\n    pass\nexpect:\n",
            "error: attribute 'format" DEF_REFUSED);
    rejects(HDR "class C:\n    def get_loop(self):\n        pass\nasync def main():\n    pass\nexpect:\n",
            "error: attribute 'get_loop" DEF_REFUSED);
    rejects(HDR "class C:\n    def mro(self):\n        pass\nasync def main():\n    pass\nexpect:\n",
            "error: attribute 'mro" DEF_REFUSED);
    rejects(HDR "class C:\n    def aenter(self):\n        pass\nasync def main():\n    pass\nexpect:\n",
            "error: attribute 'aenter" DEF_REFUSED);
    rejects(HDR "async def main():\n    t = current_task()\n    t.gi_frame = 1\nexpect:\n",
            "error: attribute 'gi_frame" DEF_REFUSED);
    rejects(HDR "async def main():\n    e = Error()\n    e.f_globals = 1\nexpect:\n",
            "error: attribute 'f_globals" DEF_REFUSED);
    rejects(HDR "async def main():\n    x = Error()\n    x.tb_frame += 1\nexpect:\n",
            "error: attribute 'tb_frame" DEF_REFUSED);
    rejects(HDR "class C:\n    def run_in_executor(self):\n        pass\nasync def main():\n    pass\nexpect:\n",
            "error: attribute 'run_in_executor" DEF_REFUSED);
    rejects(HDR "class C:\n    def subprocess_exec(self):\n        pass\nasync def main():\n    pass\nexpect:\n",
            "error: attribute 'subprocess_exec" DEF_REFUSED);
    /* reading a name nobody defines stays refused */
    rejects(HDR "class C:\n    x = 1\nasync def main():\n    log(main().cr_frame)\nexpect:\n",
            "error: attribute 'cr_frame' is not part of the case language");
    rejects(HDR "class C:\n    pass\nasync def main():\n    log(C().__class__)\nexpect:\n",
            "error: attribute '__class__' is not part of the case language");
    rejects(HDR "class __C:\n    pass\nasync def main():\n    pass\nexpect:\n",
            "error: name '__C' is not part of the case language");
    ck_assert(ls_gate_denied_attr("cr_frame") && ls_gate_denied_attr("ag_await") &&
              ls_gate_denied_attr("co_code") && ls_gate_denied_attr("format_map") &&
              ls_gate_denied_attr("print_stack") && !ls_gate_denied_attr("count") &&
              !ls_gate_denied_attr("close"));
    ls_case c;
    accepts(HDR "class E(Exception):\n    pass\nclass C(E):\n    n = 0\n    def __init__(self, x):\n"
                "        self.x = x\n    def __str__(self):\n        return 'c'\n    async def __aenter__(self):\n"
                "        return self\n    async def __aexit__(self, t, e, tb):\n        pass\n"
                "    def __await__(self):\n        yield\nasync def main():\n    log(C(1).x, type(C(1)).__name__)\nexpect:\n",
            &c);
    ls_case_free(&c);
}
END_TEST

START_TEST(version_changes) {
    ck_assert(!ls_since(LS_PROF_PY311, LS_CH_TIMEOUT_CANCELLING));
    ck_assert(ls_since(LS_PROF_PY3113, LS_CH_TIMEOUT_CANCELLING));
    ck_assert(!ls_since(LS_PROF_PY3113, LS_CH_INVALID_STATE_CHECKS));
    ck_assert(ls_since(LS_PROF_PY3117, LS_CH_INVALID_STATE_CHECKS));
    ck_assert(!ls_since(LS_PROF_EAGER312, LS_CH_UNCANCEL_CLEARS_MUST_CANCEL));
    ck_assert(ls_since(LS_PROF_EAGER313, LS_CH_UNCANCEL_CLEARS_MUST_CANCEL));
    ck_assert(ls_since(LS_PROF_EAGER315, LS_CH_TASKGROUP_ALWAYS_DONE_CALLBACK));
    ck_assert_int_eq(ls_profile_parse("asyncio", 7), LS_PROF_ASYNCIO);
    ck_assert_int_eq(ls_profile_parse("eager", 5), LS_PROF_EAGER);
    ck_assert_str_eq(ls_profile_name(LS_PROF_ASYNCIO), "asyncio-3.14");
    ck_assert_int_eq(ls_change_parse("wait_for_timeout", 16), LS_CH_WAIT_FOR_TIMEOUT);
    ck_assert_int_eq(ls_change_parse("nope", 4), -1);
}
END_TEST

START_TEST(expect_blocks_parse) {
    ls_case c;
    accepts(HDR "async def main():\n    pass\n\nexpect:\n    a\n    unordered:\n        b\n        c\n    d\n"
                "expect[eager]:\n    x\n",
            &c);
    ck_assert_int_eq(c.nexpect, 2);
    const ls_expect *x = ls_case_expect(&c, LS_PROF_ASYNCIO);
    ck_assert_int_eq(x->n, 4);
    ck_assert_str_eq(x->lines[1].text, "b");
    ck_assert_int_eq(x->lines[1].group, 1);
    ck_assert_int_eq(x->lines[2].group, 1);
    ck_assert_int_eq(x->lines[3].group, 0);
    ck_assert_str_eq(ls_case_expect(&c, LS_PROF_EAGER)->lines[0].text, "x");
    ck_assert_ptr_eq(ls_case_expect(&c, LS_PROF_PY311), x);
    char *t1[] = {"a", "c", "b", "d"}, *t2[] = {"a", "b", "d", "c"}, *t3[] = {" a ", "b", "c", "d"};
    ck_assert(ls_expect_match(x, t1, 4));
    ck_assert(!ls_expect_match(x, t2, 4));
    ck_assert(ls_expect_match(x, t3, 4));
    ck_assert(!ls_expect_match(x, t1, 3));
    ls_buf b = {0};
    ls_expect_diff(&b, x, t2, 4, "asyncio");
    ck_assert_str_eq(ls_buf_cstr(&b), "--- expected (asyncio)\n+++ actual\n@@ -1,4 +1,4 @@\n a\n b\n-c\n d\n+c\n");
    ls_buf_free(&b);
    ls_case_free(&c);
}
END_TEST

START_TEST(program_errors) {
    rejects(HDR "async def main():\npass\nexpect:\n", "error: expected an indented block, found 'pass'");
    rejects(HDR "async def main():\n    x = (1 +\nexpect:\n", "error: unexpected end of program: unclosed bracket");
    rejects(HDR "async def helper():\n    pass\nexpect:\n", "error: the program has no 'async def main()'");
    rejects(HDR "def main():\n    pass\nexpect:\n", "error: 'main' must be 'async def main()'");
    rejects(HDR "async def main(x):\n    pass\nexpect:\n", "error: 'main' takes no arguments");
    rejects(HDR "async def main():\n    async def inner():\n        pass\nexpect:\n",
            "error: functions are top-level only: no nested 'def'");
    rejects(HDR "async def main():\n    d = {}\nexpect:\n", "error: dicts and sets are not part of the case language");
    rejects(HDR "async def main():\n    log('x')\n  log('y')\nexpect:\n",
            "error: unindent does not match any outer indentation level");
    rejects(HDR "async def main():\n    f(a=1, 2)\nexpect:\n", "error: positional argument follows keyword argument");
    rejects(HDR "async def main():\n    log(f'{x:>3}')\nexpect:\n",
            "error: format specs in f-string fields are not supported");
    rejects(HDR "x = 1\nlog(x)\nasync def main():\n    pass\nexpect:\n",
            "error: top level holds only 'def', 'async def', 'class' and 'NAME = value' bindings");
    rejects(HDR "async def main():\n    class C:\n        pass\nexpect:\n",
            "error: classes are top-level only: no nested 'class'");
    rejects(HDR "class C(A, B):\n    pass\nasync def main():\n    pass\nexpect:\n",
            "error: a class has one base at most, and no keywords");
    rejects(HDR "class C:\n    log(1)\nasync def main():\n    pass\nexpect:\n",
            "error: a class body holds only methods, 'NAME = value' and pass");
    rejects(HDR "async def main():\n    yield from g()\nexpect:\n", "error: 'from' is not part of the case language");
}
END_TEST

START_TEST(error_positions) {
    ls_case c;
    char err[1024];
    char *path = tu_write(HDR "async def main():\n    log(1 +)\nexpect:\n");
    ls_error e = {0};
    ck_assert_int_eq(ls_case_load(&c, path, &e), -1);
    snprintf(err, sizeof err, "%s", strchr(e.msg, ':'));
    ck_assert_str_eq(err, ":6:12: error: expected an expression, found ')'");
    ls_case_free(&c);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(ast_json) {
    ls_case c;
    accepts(HDR "async def main():\n    t = create_task(p('x'))\n    await t\nexpect:\n    x\n", &c);
    ls_buf b = {0};
    ls_case_json(&b, &c);
    const char *j = ls_buf_cstr(&b);
    ck_assert_ptr_nonnull(strstr(j, "\"program_line\":5"));
    ck_assert_ptr_nonnull(strstr(j, "\"expect\":{\"default\":[\"x\"]}"));
    ck_assert_ptr_nonnull(strstr(j, "{\"kind\":\"await\",\"line\":7,\"col\":5,\"value\":{\"kind\":\"name\""));
    ls_buf_free(&b);
    ls_case_free(&c);
}
END_TEST

START_TEST(fstring_lex_error_frees) {
    /* Found by fuzz-parser: a bad token inside an f-string field leaked
     * the field's tokens (ASan's leak check fails this test). */
    rejects(HDR "async def main():\n    log(f\"{await`x}\")\nexpect:\n",
            "error: unexpected character '`'");
    rejects(HDR "async def main():\n    log(f\"{'abc}\")\nexpect:\n", "error: f-string: expecting '}'");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("parse");
    TCase *tc = tcase_create("header");
    tcase_add_test(tc, header_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("expect");
    tcase_add_test(tc, expect_errors);
    tcase_add_test(tc, expect_blocks_parse);
    tcase_add_test(tc, expect_block_rule);
    tcase_add_test(tc, version_changes);
    tcase_add_test(tc, gate_refuses);
    tcase_add_test(tc, gate_refuses_class_attributes);
    suite_add_tcase(s, tc);
    tc = tcase_create("program");
    tcase_add_test(tc, program_errors);
    tcase_add_test(tc, error_positions);
    tcase_add_test(tc, ast_json);
    tcase_add_test(tc, fstring_lex_error_frees);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
