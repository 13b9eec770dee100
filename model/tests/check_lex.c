/* check_lex.c: the tokenizer. */
#include "testutil.h"

#include "lex.h"

static int lex(const char *src, ls_tokens *t, ls_error *e) {
    memset(t, 0, sizeof *t);
    memset(e, 0, sizeof *e);
    return ls_lex("p", src, strlen(src), 1, 0, t, e);
}

static void kinds(const char *src, const ls_tok_kind *want, int n) {
    ls_tokens t;
    ls_error e;
    ck_assert_int_eq(lex(src, &t, &e), 0);
    ck_assert_int_eq(t.n, n);
    for (int i = 0; i < n; i++) ck_assert_msg(t.v[i].kind == want[i], "token %d: %s, want %s", i,
                                              ls_tok_name(t.v[i].kind), ls_tok_name(want[i]));
    ls_tokens_free(&t);
}

START_TEST(indent_dedent) {
    static const ls_tok_kind want[] = {
        LS_TK_DEF, LS_TK_NAME, LS_TK_LPAR, LS_TK_RPAR, LS_TK_COLON, LS_TK_NEWLINE, LS_TK_INDENT,
        LS_TK_IF, LS_TK_NAME, LS_TK_COLON, LS_TK_NEWLINE, LS_TK_INDENT, LS_TK_PASS, LS_TK_NEWLINE,
        LS_TK_DEDENT, LS_TK_RETURN, LS_TK_NEWLINE, LS_TK_DEDENT, LS_TK_EOF};
    kinds("def f():\n    if x:\n        pass\n\n    # c\n    return\n", want,
          (int)(sizeof want / sizeof *want));
}
END_TEST

START_TEST(brackets_join_lines) {
    static const ls_tok_kind want[] = {LS_TK_NAME, LS_TK_LPAR, LS_TK_INT, LS_TK_COMMA,
                                       LS_TK_INT, LS_TK_RPAR, LS_TK_NEWLINE, LS_TK_EOF};
    kinds("f(1,\n      2)\n", want, (int)(sizeof want / sizeof *want));
}
END_TEST

START_TEST(literals) {
    ls_tokens t;
    ls_error e;
    ck_assert_int_eq(lex("x = 'a\\'b' + \"c\" 12 3.5 f'{x}!'\n", &t, &e), 0);
    ck_assert_int_eq(t.v[2].kind, LS_TK_STR);
    ck_assert_str_eq(t.v[2].str, "a'b");
    ck_assert_int_eq(t.v[4].kind, LS_TK_STR);
    ck_assert_int_eq(t.v[5].ival, 12);
    ck_assert(t.v[6].dval == 3.5);
    ck_assert_int_eq(t.v[7].kind, LS_TK_FSTR);
    ck_assert_str_eq(t.v[7].str, "{x}!");
    ls_tokens_free(&t);
}
END_TEST

START_TEST(errors_have_positions) {
    static const struct { const char *src, *msg; } bad[] = {
        {"x = 'abc\n", "p:1:5: error: unterminated string literal"},
        {"def f():\n        a\n    b\n", "p:3:5: error: unindent does not match any outer indentation level"},
        {"x = $\n", "p:1:5: error: unexpected character '$'"},
        {"lambda x: x\n", "p:1:1: error: 'lambda' is not part of the case language"},
        {"f(1\n", "p:2:1: error: unexpected end of program: unclosed bracket"},
        {"\tx = 1\n", "p:1:1: error: tab in indentation: indent with spaces"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ls_tokens t;
        ls_error e;
        ck_assert_int_eq(lex(bad[i].src, &t, &e), -1);
        ck_assert_str_eq(e.msg, bad[i].msg);
        ls_tokens_free(&t);
    }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("lex");
    TCase *tc = tcase_create("indentation");
    tcase_add_test(tc, indent_dedent);
    tcase_add_test(tc, brackets_join_lines);
    suite_add_tcase(s, tc);
    tc = tcase_create("literals");
    tcase_add_test(tc, literals);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, errors_have_positions);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
