/* json.c: one JSON object's members (RFC 8259), for request lines. */
#include "json.h"

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const char *s, *end;
    char *err;
    size_t errn;
    int depth;
} reader;

static int failat(reader *r, const char *start, const char *what) {
    snprintf(r->err, r->errn, "%s at character %ld", what, (long)(r->s - start) + 1);
    return -1;
}

static void ws(reader *r) {
    while (r->s < r->end && (*r->s == ' ' || *r->s == '\t' || *r->s == '\n' || *r->s == '\r')) r->s++;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(ls_buf *b, unsigned c) {
    if (c < 0x80) {
        ls_buf_putc(b, (char)c);
    } else if (c < 0x800) {
        ls_buf_putc(b, (char)(0xC0 | c >> 6));
        ls_buf_putc(b, (char)(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        ls_buf_putc(b, (char)(0xE0 | c >> 12));
        ls_buf_putc(b, (char)(0x80 | (c >> 6 & 0x3F)));
        ls_buf_putc(b, (char)(0x80 | (c & 0x3F)));
    } else {
        ls_buf_putc(b, (char)(0xF0 | c >> 18));
        ls_buf_putc(b, (char)(0x80 | (c >> 12 & 0x3F)));
        ls_buf_putc(b, (char)(0x80 | (c >> 6 & 0x3F)));
        ls_buf_putc(b, (char)(0x80 | (c & 0x3F)));
    }
}

/* A string at r->s (its opening quote); decoded into b when b is set. */
static int string(reader *r, const char *start, ls_buf *b) {
    r->s++;
    while (r->s < r->end && *r->s != '"') {
        unsigned char c = (unsigned char)*r->s;
        if (c < 0x20) return failat(r, start, "control character in a string");
        if (c != '\\') {
            if (b) ls_buf_putc(b, (char)c);
            r->s++;
            continue;
        }
        if (r->end - r->s < 2) break;
        char e = r->s[1];
        r->s += 2;
        char plain = 0;
        switch (e) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        default: break;
        }
        if (plain) {
            if (b) ls_buf_putc(b, plain);
            continue;
        }
        if (e != 'u') return failat(r, start, "bad escape in a string");
        unsigned u;
        if (r->end - r->s < 4 || hex4(r->s, &u) < 0) return failat(r, start, "bad \\u escape");
        r->s += 4;
        if (u >= 0xD800 && u < 0xDC00 && r->end - r->s >= 6 && r->s[0] == '\\' && r->s[1] == 'u') {
            unsigned lo;
            if (hex4(r->s + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                r->s += 6;
            }
        }
        if (u >= 0xD800 && u < 0xE000) u = 0xFFFD;   /* a lone surrogate */
        if (b) put_utf8(b, u);
    }
    if (r->s >= r->end) return failat(r, start, "unterminated string");
    r->s++;
    return 0;
}

static int value(reader *r, const char *start);

static int container(reader *r, const char *start, char close) {
    if (++r->depth > 64) return failat(r, start, "nested too deeply");
    r->s++;
    ws(r);
    if (r->s < r->end && *r->s == close) {
        r->s++;
        r->depth--;
        return 0;
    }
    for (;;) {
        ws(r);
        if (close == '}') {
            if (r->s >= r->end || *r->s != '"') return failat(r, start, "expected a key");
            if (string(r, start, NULL) < 0) return -1;
            ws(r);
            if (r->s >= r->end || *r->s != ':') return failat(r, start, "expected ':'");
            r->s++;
        }
        if (value(r, start) < 0) return -1;
        ws(r);
        if (r->s < r->end && *r->s == ',') {
            r->s++;
            continue;
        }
        if (r->s < r->end && *r->s == close) {
            r->s++;
            r->depth--;
            return 0;
        }
        return failat(r, start, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int literal(reader *r, const char *start, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(r->end - r->s) < n || memcmp(r->s, word, n) != 0)
        return failat(r, start, "unexpected character");
    r->s += n;
    return 0;
}

static int value(reader *r, const char *start) {
    ws(r);
    if (r->s >= r->end) return failat(r, start, "expected a value");
    switch (*r->s) {
    case '"': return string(r, start, NULL);
    case '{': return container(r, start, '}');
    case '[': return container(r, start, ']');
    case 't': return literal(r, start, "true");
    case 'f': return literal(r, start, "false");
    case 'n': return literal(r, start, "null");
    default: {
        const char *p = r->s;
        if (p < r->end && *p == '-') p++;
        if (p >= r->end || *p < '0' || *p > '9') return failat(r, start, "unexpected character");
        while (p < r->end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
                              *p == '+' || *p == '-'))
            p++;
        r->s = p;
        return 0;
    }
    }
}

int ls_json_parse(const char *s, size_t n, ls_json_object *o, char *err, size_t errn) {
    memset(o, 0, sizeof *o);
    reader r = {s, s + n, err, errn, 0};
    ws(&r);
    if (r.s >= r.end || *r.s != '{') return failat(&r, s, "a request is a JSON object");
    r.s++;
    ws(&r);
    if (r.s < r.end && *r.s == '}') {
        r.s++;
    } else {
        for (;;) {
            ws(&r);
            if (r.s >= r.end || *r.s != '"') return failat(&r, s, "expected a key");
            ls_buf k = {0};
            if (string(&r, s, &k) < 0) {
                ls_buf_free(&k);
                return -1;
            }
            if (o->n == LS_JSON_MAX_MEMBERS) {
                ls_buf_free(&k);
                return failat(&r, s, "too many members");
            }
            ls_json_member *m = &o->m[o->n++];
            m->key = ls_xstrndup(k.p ? k.p : "", k.len);
            ls_buf_free(&k);
            ws(&r);
            if (r.s >= r.end || *r.s != ':') return failat(&r, s, "expected ':'");
            r.s++;
            ws(&r);
            m->raw = r.s;
            if (r.s < r.end && *r.s == '"') {
                ls_buf v = {0};
                if (string(&r, s, &v) < 0) {
                    ls_buf_free(&v);
                    return -1;
                }
                m->str = ls_xstrndup(v.p ? v.p : "", v.len);
                m->strlen = v.len;
                ls_buf_free(&v);
            } else if (value(&r, s) < 0) {
                return -1;
            }
            m->rawlen = (size_t)(r.s - m->raw);
            ws(&r);
            if (r.s < r.end && *r.s == ',') {
                r.s++;
                continue;
            }
            if (r.s < r.end && *r.s == '}') {
                r.s++;
                break;
            }
            return failat(&r, s, "expected ',' or '}'");
        }
    }
    ws(&r);
    if (r.s != r.end) return failat(&r, s, "text after the object");
    return 0;
}

void ls_json_free(ls_json_object *o) {
    for (int i = 0; i < o->n; i++) {
        free(o->m[i].key);
        free(o->m[i].str);
    }
    o->n = 0;
}

const ls_json_member *ls_json_get(const ls_json_object *o, const char *key) {
    const ls_json_member *found = NULL;
    for (int i = 0; i < o->n; i++)   /* the last one wins, as in Python's json */
        if (strcmp(o->m[i].key, key) == 0) found = &o->m[i];
    return found;
}

const char *ls_json_str(const ls_json_object *o, const char *key) {
    const ls_json_member *m = ls_json_get(o, key);
    return m && m->str ? m->str : NULL;
}

bool ls_json_true(const ls_json_object *o, const char *key) {
    const ls_json_member *m = ls_json_get(o, key);
    return m && m->rawlen == 4 && memcmp(m->raw, "true", 4) == 0;
}

int ls_json_int(const ls_json_object *o, const char *key, long long *out) {
    const ls_json_member *m = ls_json_get(o, key);
    if (!m || m->str || !m->rawlen) return 0;
    char buf[32];
    if (m->rawlen >= sizeof buf) return 0;
    memcpy(buf, m->raw, m->rawlen);
    buf[m->rawlen] = 0;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (*end) return 0;
    *out = v;
    return 1;
}
