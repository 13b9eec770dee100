/* json.h: reading one JSON object, for `loopspec-model serve`.
 *
 * A request line is a flat object; the server needs its strings decoded,
 * its numbers and booleans, and the raw text of `id` to echo it back. So
 * this reads an object's members in one pass: each member's key, the raw
 * text of its value, and, for a string value, the decoded UTF-8. Nested
 * objects and arrays are checked and kept raw. */
#ifndef LS_JSON_H
#define LS_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define LS_JSON_MAX_MEMBERS 32

typedef struct ls_json_member {
    char *key;                 /* decoded */
    const char *raw;           /* the value's text in the input */
    size_t rawlen;
    char *str;                 /* decoded, when the value is a string */
    size_t strlen;
} ls_json_member;

typedef struct ls_json_object {
    ls_json_member m[LS_JSON_MAX_MEMBERS];
    int n;
} ls_json_object;

/* Reads the object that is all of s[0..n) (white space around it allowed).
 * 0, or -1 with a message in err. Free with ls_json_free either way. */
int ls_json_parse(const char *s, size_t n, ls_json_object *o, char *err, size_t errn);
void ls_json_free(ls_json_object *o);

const ls_json_member *ls_json_get(const ls_json_object *o, const char *key);
/* The member's decoded string, or NULL if absent or not a string. */
const char *ls_json_str(const ls_json_object *o, const char *key);
/* Whether the member is `true`. */
bool ls_json_true(const ls_json_object *o, const char *key);
/* The member as an integer: 1 and *out, or 0 if absent or not one. */
int ls_json_int(const ls_json_object *o, const char *key, long long *out);

#endif
