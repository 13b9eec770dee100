/* check_json.c: the request reader of `loopspec-model serve`. */
#include "testutil.h"

#include "json.h"

static void parses(const char *text, ls_json_object *o) {
    char err[256] = "";
    int rc = ls_json_parse(text, strlen(text), o, err, sizeof err);
    ck_assert_msg(rc == 0, "rejected %s: %s", text, err);
}

static void rejects(const char *text, const char *want) {
    ls_json_object o;
    char err[256] = "";
    int rc = ls_json_parse(text, strlen(text), &o, err, sizeof err);
    ls_json_free(&o);
    ck_assert_msg(rc == -1, "accepted %s", text);
    ck_assert_str_eq(err, want);
}

START_TEST(members) {
    ls_json_object o;
    parses(" {\"id\": [1, {\"x\": null}], \"case\": \"a/b\", \"line\": 12, \"bench\": true,"
           " \"program\": \"log(\\\"\\u00e9\\\\n\\ud83d\\ude00\\\")\\n\", \"id\": 7} ", &o);
    ck_assert_int_eq(o.n, 6);
    const ls_json_member *id = ls_json_get(&o, "id");   /* the last one wins */
    ck_assert_int_eq((int)id->rawlen, 1);
    ck_assert_str_eq(ls_json_str(&o, "case"), "a/b");
    ck_assert_str_eq(ls_json_str(&o, "program"), "log(\"\xc3\xa9\\n\xf0\x9f\x98\x80\")\n");
    long long line = 0;
    ck_assert(ls_json_int(&o, "line", &line) && line == 12);
    ck_assert(!ls_json_int(&o, "case", &line));
    ck_assert(ls_json_true(&o, "bench"));
    ck_assert(!ls_json_true(&o, "line"));
    ck_assert_ptr_null(ls_json_str(&o, "line"));
    ck_assert_ptr_null(ls_json_get(&o, "missing"));
    ls_json_free(&o);
    parses("{}", &o);
    ck_assert_int_eq(o.n, 0);
    ls_json_free(&o);
}
END_TEST

START_TEST(errors) {
    rejects("[1]", "a request is a JSON object at character 1");
    rejects("{\"a\" 1}", "expected ':' at character 6");
    rejects("{\"a\": 1", "expected ',' or '}' at character 8");
    rejects("{\"a\": \"x}", "unterminated string at character 10");
    rejects("{\"a\": \"\\q\"}", "bad escape in a string at character 10");
    rejects("{\"a\": tru}", "unexpected character at character 7");
    rejects("{\"a\": 1} x", "text after the object at character 10");
    rejects("{\"a\": \"\x01\"}", "control character in a string at character 8");
    char deep[200] = "{\"a\": ";
    for (int i = 0; i < 70; i++) strcat(deep, "[");
    rejects(deep, "nested too deeply at character 71");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("reader");
    tcase_add_test(tc, members);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
