/* case.c: case files (header, program, expect blocks) and trace matching. */
#include "case.h"

#include "gate.h"
#include "parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line of the file: [s, s+n), 1-based number. */
typedef struct line { const char *s; int n, no; } line;

static line *split_lines(const char *text, size_t len, int *count) {
    int cap = 64, k = 0;
    line *v = ls_xmalloc((size_t)cap * sizeof *v);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *q = memchr(p, '\n', (size_t)(end - p));
        if (!q) q = end;
        if (k == cap) v = ls_xrealloc(v, (size_t)(cap *= 2) * sizeof *v);
        int n = (int)(q - p);
        if (n && p[n - 1] == '\r') n--;
        v[k] = (line){p, n, k + 1};
        k++;
        p = q + 1;
    }
    *count = k;
    return v;
}

static int indent_of(const line *l) {
    int i = 0;
    while (i < l->n && l->s[i] == ' ') i++;
    return i;
}

static bool blank(const line *l) {
    for (int i = 0; i < l->n; i++)
        if (!isspace((unsigned char)l->s[i])) return false;
    return true;
}

static void strip(const char **s, int *n) {
    while (*n && isspace((unsigned char)**s)) (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

/* "expect:" or "expect[NAME, ...]:" at column 1, each NAME a profile or
 * a kind (asyncio, eager). Returns 1 and fills x's names (none for the
 * default block), 0 if the line is not an expect header, -1 on error. */
static int expect_header(ls_case *c, const line *l, ls_expect *x, ls_error *e) {
    if (l->n < 6 || memcmp(l->s, "expect", 6) != 0) return 0;
    const char *s = l->s + 6;
    int n = l->n - 6;
    x->nnames = 0;
    if (n > 0 && *s == '[') {
        const char *close = memchr(s, ']', (size_t)n);
        if (!close) {
            ls_error_at(e, c->path, l->no, 7, "expect block: missing ']'");
            return -1;
        }
        const char *p = s + 1;
        while (p < close) {
            while (p < close && (*p == ' ' || *p == ',')) p++;
            const char *q = p;
            while (q < close && *q != ' ' && *q != ',') q++;
            if (q == p) break;
            int name = ls_label_parse(p, (size_t)(q - p));
            if (name == -1) {
                ls_error_at(e, c->path, l->no, (int)(p - l->s) + 1,
                            "unknown profile '%.*s' (profiles: %s)", (int)(q - p), p,
                            ls_profile_list());
                return -1;
            }
            for (int k = 0; k < x->nnames; k++)
                if (x->names[k] == name) {
                    ls_error_at(e, c->path, l->no, (int)(p - l->s) + 1,
                                "expect block names '%.*s' twice", (int)(q - p), p);
                    return -1;
                }
            if (x->nnames == LS_MAX_LABEL) {
                ls_error_at(e, c->path, l->no, (int)(p - l->s) + 1,
                            "expect block: at most %d profiles", LS_MAX_LABEL);
                return -1;
            }
            x->names[x->nnames++] = name;
            p = q;
        }
        if (!x->nnames) {
            ls_error_at(e, c->path, l->no, 8, "expect block: '[]' names no profile");
            return -1;
        }
        n -= (int)(close + 1 - s);
        s = close + 1;
        while (n && *s == ' ') s++, n--;
        if (!n || *s != ':') {
            ls_error_at(e, c->path, l->no, (int)(s - l->s) + 1, "expect block: expected ':'");
            return -1;
        }
    } else {
        while (n && *s == ' ') s++, n--;
        if (!n || *s != ':') return 0;   /* program text, e.g. expected = 1 */
    }
    s++, n--;
    strip(&s, &n);
    if (n) {
        ls_error_at(e, c->path, l->no, (int)(s - l->s) + 1,
                    "expect block: lines go below 'expect:', indented");
        return -1;
    }
    return 1;
}

static const char *label_name(int name) {
    return name == LS_KIND_ASYNCIO ? "asyncio" : name == LS_KIND_EAGER ? "eager"
                                                                       : ls_profile_name(name);
}

/* "asyncio-3.11, asyncio-3.12", or "default". */
static const char *make_label(ls_case *c, const ls_expect *x) {
    if (!x->nnames) return "default";
    char buf[LS_MAX_LABEL * 24] = "";
    size_t at = 0;
    for (int k = 0; k < x->nnames; k++)
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", k ? ", " : "",
                               label_name(x->names[k]));
    return ls_arena_strndup(&c->arena, buf, strlen(buf));
}

static void add_line(ls_case *c, ls_expect *x, const char *s, int n, int group, int no) {
    if (x->n == x->cap) {
        int cap = x->cap ? x->cap * 2 : 16;
        ls_expect_line *v = ls_arena_alloc(&c->arena, (size_t)cap * sizeof *v);
        if (x->n) memcpy(v, x->lines, (size_t)x->n * sizeof *v);
        x->lines = v;
        x->cap = cap;
    }
    x->lines[x->n++] = (ls_expect_line){ls_arena_strndup(&c->arena, s, (size_t)n), group, no};
}

static const char *header_keys[] = {"title", "source", "tags", "requires", "profiles",
                                    "timeout", "bench", NULL};

static int parse_header(ls_case *c, line *L, int nl, int *pos, ls_error *e) {
    if (nl == 0 || L[0].n != 3 || memcmp(L[0].s, "---", 3) != 0) {
        ls_error_at(e, c->path, 1, 1, "a case starts with a '---' header line");
        return -1;
    }
    int seen[8] = {0};
    int i = 1;
    for (; i < nl; i++) {
        line *l = &L[i];
        if (l->n >= 3 && memcmp(l->s, "---", 3) == 0 && blank(&(line){l->s + 3, l->n - 3, 0}))
            break;
        if (blank(l)) continue;
        const char *colon = memchr(l->s, ':', (size_t)l->n);
        if (!colon) {
            ls_error_at(e, c->path, l->no, 1, "header line must be 'key: value'");
            return -1;
        }
        const char *ks = l->s;
        int kn = (int)(colon - l->s);
        strip(&ks, &kn);
        const char *vs = colon + 1;
        int vn = l->n - kn - 1 - (int)(ks - l->s);
        vn = (int)(l->s + l->n - vs);
        strip(&vs, &vn);
        int key = -1;
        for (int k = 0; header_keys[k]; k++)
            if ((int)strlen(header_keys[k]) == kn && memcmp(header_keys[k], ks, (size_t)kn) == 0)
                key = k;
        if (key < 0) {
            ls_error_at(e, c->path, l->no, (int)(ks - l->s) + 1,
                        "unknown header key '%.*s' (keys: title, source, tags, requires, profiles, timeout, bench)", kn, ks);
            return -1;
        }
        if (seen[key]) {
            ls_error_at(e, c->path, l->no, (int)(ks - l->s) + 1,
                        "duplicate header key '%s' (first on line %d)", header_keys[key], seen[key]);
            return -1;
        }
        seen[key] = l->no;
        int vcol = (int)(vs - l->s) + 1;
        char *v = ls_arena_strndup(&c->arena, vs, (size_t)vn);
        switch (key) {
        case 0: c->title = v; break;
        case 1: c->source = v; break;
        case 2: c->tags = v; break;
        case 3: c->requires = v; break;
        case 4: {
            c->profiles = 0;
            const char *p = v;
            while (*p) {
                while (*p == ' ' || *p == ',') p++;
                const char *q = p;
                while (*q && *q != ' ' && *q != ',') q++;
                if (q == p) break;
                int pr = ls_label_parse(p, (size_t)(q - p));
                if (pr == -1) {
                    ls_error_at(e, c->path, l->no, vcol + (int)(p - v),
                                "unknown profile '%.*s' (profiles: %s)", (int)(q - p), p,
                                ls_profile_list());
                    return -1;
                }
                c->profiles |= ls_label_profiles(pr);
                p = q;
            }
            if (!c->profiles) {
                ls_error_at(e, c->path, l->no, vcol, "profiles: names no profile");
                return -1;
            }
            break;
        }
        case 5: {
            char *end;
            c->timeout = strtod(v, &end);
            if (!*v || *end || !(c->timeout > 0) || c->timeout > 3600) {
                ls_error_at(e, c->path, l->no, vcol, "timeout must be a number of seconds in (0, 3600]");
                return -1;
            }
            break;
        }
        case 6: {
            char *end;
            c->bench = strtol(v, &end, 10);
            if (!*v || *end || c->bench <= 0) {
                ls_error_at(e, c->path, l->no, vcol, "bench must be a positive number of operations");
                return -1;
            }
            break;
        }
        }
    }
    if (i == nl) {
        ls_error_at(e, c->path, nl, 1, "header is not closed by a '---' line");
        return -1;
    }
    if (!c->title || !*c->title) {
        ls_error_at(e, c->path, seen[0] ? seen[0] : 1, 1, "header needs a non-empty 'title'");
        return -1;
    }
    if (!c->source || !*c->source) {
        ls_error_at(e, c->path, seen[1] ? seen[1] : 1, 1, "header needs a non-empty 'source'");
        return -1;
    }
    *pos = i + 1;
    return 0;
}

static int parse_expect(ls_case *c, line *L, int nl, int i, ls_error *e) {
    int groups = 0;
    while (i < nl) {
        if (blank(&L[i])) { i++; continue; }
        ls_expect hx = {0};
        int r = expect_header(c, &L[i], &hx, e);
        if (r < 0) return -1;
        if (r == 0) {
            ls_error_at(e, c->path, L[i].no, 1, "expected an 'expect:' block; program text must come before the expect blocks");
            return -1;
        }
        for (int k = 0; k < c->nexpect; k++) {
            const ls_expect *o = &c->expect[k];
            if (!o->nnames && !hx.nnames) {
                ls_error_at(e, c->path, L[i].no, 1, "duplicate expect block for the default profile (first on line %d)",
                            o->line);
                return -1;
            }
            for (int a = 0; a < o->nnames; a++)
                for (int b = 0; b < hx.nnames; b++)
                    if (o->names[a] == hx.names[b]) {
                        ls_error_at(e, c->path, L[i].no, 1, "duplicate expect block for %s (first on line %d)",
                                    label_name(hx.names[b]), o->line);
                        return -1;
                    }
        }
        if (c->nexpect == LS_MAX_EXPECT) {
            ls_error_at(e, c->path, L[i].no, 1, "too many expect blocks");
            return -1;
        }
        ls_expect *x = &c->expect[c->nexpect++];
        *x = hx;
        x->label = make_label(c, x);
        x->line = L[i].no;
        i++;
        int base = -1, group = 0, group_indent = -1, group_line = 0;
        for (; i < nl; i++) {
            line *l = &L[i];
            if (blank(l)) continue;
            int ind = indent_of(l);
            if (ind == 0) break;
            if (l->n > ind && l->s[ind] == '\t') {
                ls_error_at(e, c->path, l->no, ind + 1, "tab in expect block: indent with spaces");
                return -1;
            }
            if (base < 0) base = ind;
            const char *s = l->s + ind;
            int n = l->n - ind;
            strip(&s, &n);
            if (ind < base) {
                ls_error_at(e, c->path, l->no, ind + 1, "expect line is indented less than the first line of its block");
                return -1;
            }
            if (group && ind == group_indent) {
                /* a group line */
            } else if (group && ind > base && group_indent < 0) {
                group_indent = ind;
            } else if (group && ind > base && ind != group_indent) {
                ls_error_at(e, c->path, l->no, ind + 1, "inconsistent indentation in an unordered group");
                return -1;
            } else if (ind > base) {
                ls_error_at(e, c->path, l->no, ind + 1, "unexpected indent in expect block (only 'unordered:' opens a nested group)");
                return -1;
            } else {
                if (group && group_indent < 0) {
                    ls_error_at(e, c->path, group_line, base + 1, "empty 'unordered:' group");
                    return -1;
                }
                group = 0;
                group_indent = -1;
            }
            if (n == 10 && memcmp(s, "unordered:", 10) == 0) {
                if (group) {
                    ls_error_at(e, c->path, l->no, ind + 1, "unordered groups do not nest");
                    return -1;
                }
                group = ++groups;
                group_indent = -1;
                group_line = l->no;
                continue;
            }
            add_line(c, x, s, n, group, l->no);
        }
        if (group && group_indent < 0) {
            ls_error_at(e, c->path, group_line, base + 1, "empty 'unordered:' group");
            return -1;
        }
    }
    return 0;
}

static const char *case_id(ls_arena *a, const char *path) {
    const char *s = path, *hit = NULL;
    for (const char *p = path; (p = strstr(p, "cases/")); p++) hit = p;
    if (hit && (hit == path || hit[-1] == '/')) s = hit + 6;
    const char *dot = strrchr(s, '.');
    const char *slash = strrchr(s, '/');
    size_t n = dot && (!slash || dot > slash) ? (size_t)(dot - s) : strlen(s);
    while (n > 1 && *s == '.' && s[1] == '/') s += 2, n -= 2;
    return ls_arena_strndup(a, s, n);
}

int ls_case_load(ls_case *c, const char *path, ls_error *e) {
    size_t len;
    char *text = ls_read_file(path, &len, e);
    if (!text) {
        memset(c, 0, sizeof *c);
        return -1;
    }
    int rc = ls_case_parse(c, path, text, len, e);
    free(text);
    return rc;
}

int ls_case_parse(ls_case *c, const char *path, const char *src, size_t len, ls_error *e) {
    memset(c, 0, sizeof *c);
    c->path = path;
    c->timeout = 10;
    c->profiles = (1u << LS_PROF__COUNT) - 1;
    c->text = ls_xstrndup(src, len);
    if (memchr(c->text, 0, len)) {
        ls_error_at(e, path, 1, 1, "the case file contains a NUL byte");
        return -1;
    }
    c->id = case_id(&c->arena, path);
    int nl;
    line *L = split_lines(c->text, len, &nl);
    int pos, rc = -1;
    if (parse_header(c, L, nl, &pos, e) < 0) goto out;
    int end = pos;
    while (end < nl) {
        ls_expect hx;
        int r = expect_header(c, &L[end], &hx, e);
        if (r < 0) goto out;
        if (r == 1) break;
        end++;
    }
    c->program_line = pos + 1;
    c->program = pos < nl ? L[pos].s : c->text + len;
    c->program_len = end < nl ? (size_t)(L[end].s - c->program)
                              : (size_t)(c->text + len - c->program);
    if (parse_expect(c, L, nl, end, e) < 0) goto out;
    c->module = ls_parse_program(path, c->program, c->program_len, c->program_line,
                                 &c->arena, e);
    if (!c->module) goto out;
    if (ls_gate_check(c->module, path, e) < 0) goto out;
    ls_node *m = NULL;
    for (int i = 0; i < c->module->n; i++) {
        ls_node *f = c->module->list[i];
        if (f->kind == LS_N_FUNC && strcmp(f->str, "main") == 0) m = f;
    }
    if (!m) {
        ls_error_at(e, path, c->program_line, 1, "the program has no 'async def main()'");
        goto out;
    }
    if (!m->ival) {
        ls_error_at(e, path, m->line, m->col, "'main' must be 'async def main()'");
        goto out;
    }
    if (m->n && !m->list[0]->k[0]) {
        ls_error_at(e, path, m->list[0]->line, m->list[0]->col, "'main' takes no arguments");
        goto out;
    }
    if (!c->bench) {
        for (int p = 0; p < LS_PROF__COUNT; p++)
            if ((c->profiles >> p & 1) && !ls_case_expect(c, p)) {
                ls_error_at(e, path, nl ? nl : 1, 1, "no expect block for profile %s (add 'expect:')",
                            ls_profile_name(p));
                goto out;
            }
    }
    for (int k = 0; k < c->nexpect; k++)
        for (int a = 0; a < c->expect[k].nnames; a++)
            if (!(c->profiles & ls_label_profiles(c->expect[k].names[a]))) {
                ls_error_at(e, path, c->expect[k].line, 1,
                            "expect block for profile %s, which the case's 'profiles:' leaves out",
                            label_name(c->expect[k].names[a]));
                goto out;
            }
    rc = 0;
out:
    free(L);
    return rc;
}

const ls_expect *ls_case_expect(const ls_case *c, int profile) {
    const ls_expect *best = NULL;
    int best_rank = 0;
    for (int k = 0; k < c->nexpect; k++) {
        const ls_expect *x = &c->expect[k];
        int rank = x->nnames ? 0 : 1;
        for (int a = 0; a < x->nnames; a++) {
            int r = ls_label_rank(x->names[a], profile);
            if (r > rank) rank = r;
        }
        if (rank > best_rank) best = x, best_rank = rank;
    }
    return best;
}

void ls_case_free(ls_case *c) {
    free(c->text);
    ls_arena_free(&c->arena);
    memset(c, 0, sizeof *c);
}

static void json_str_field(ls_buf *b, const char *key, const char *v) {
    ls_buf_printf(b, "\"%s\":", key);
    if (v) ls_buf_json(b, v, strlen(v));
    else ls_buf_puts(b, "null");
}

static void expect_json(ls_buf *b, const ls_expect *x) {
    ls_buf_putc(b, '[');
    for (int i = 0; i < x->n; i++) {
        const ls_expect_line *l = &x->lines[i];
        if (i) ls_buf_putc(b, ',');
        if (l->group) {
            ls_buf_puts(b, "{\"unordered\":[");
            int j = i;
            for (; j < x->n && x->lines[j].group == l->group; j++) {
                if (j > i) ls_buf_putc(b, ',');
                ls_buf_json(b, x->lines[j].text, strlen(x->lines[j].text));
            }
            ls_buf_puts(b, "]}");
            i = j - 1;
        } else {
            ls_buf_json(b, l->text, strlen(l->text));
        }
    }
    ls_buf_putc(b, ']');
}

void ls_case_json(ls_buf *b, const ls_case *c) {
    ls_buf_putc(b, '{');
    json_str_field(b, "case", c->id);
    ls_buf_putc(b, ',');
    json_str_field(b, "path", c->path);
    ls_buf_puts(b, ",\"header\":{");
    json_str_field(b, "title", c->title);
    ls_buf_putc(b, ',');
    json_str_field(b, "source", c->source);
    ls_buf_putc(b, ',');
    json_str_field(b, "tags", c->tags);
    ls_buf_putc(b, ',');
    json_str_field(b, "requires", c->requires);
    ls_buf_puts(b, ",\"profiles\":[");
    int first = 1;
    for (int p = 0; p < LS_PROF__COUNT; p++)
        if (c->profiles >> p & 1) {
            ls_buf_printf(b, "%s\"%s\"", first ? "" : ",", ls_profile_name(p));
            first = 0;
        }
    ls_buf_printf(b, "],\"timeout\":%g,\"bench\":%ld}", c->timeout, c->bench);
    ls_buf_puts(b, ",\"program\":");
    ls_buf_json(b, c->program, c->program_len);
    ls_buf_printf(b, ",\"program_line\":%d,\"expect\":{", c->program_line);
    for (int k = 0; k < c->nexpect; k++) {
        if (k) ls_buf_putc(b, ',');
        ls_buf_printf(b, "\"%s\":", c->expect[k].label);
        expect_json(b, &c->expect[k]);
    }
    /* Which block each profile reads: the rule stays here, in one place. */
    ls_buf_puts(b, "},\"expect_for\":{");
    first = 1;
    for (int p = 0; p < LS_PROF__COUNT; p++) {
        const ls_expect *x = (c->profiles >> p & 1) ? ls_case_expect(c, p) : NULL;
        if (!x) continue;
        ls_buf_printf(b, "%s\"%s\":\"%s\"", first ? "" : ",", ls_profile_name(p), x->label);
        first = 0;
    }
    ls_buf_puts(b, "},\"ast\":");
    ls_ast_json(b, c->module);
    ls_buf_putc(b, '}');
}

/* ---- matching ---- */

/* Builds the expected sequence re-ordered, group by group, to follow the
 * actual trace where it can: the lines a diff should compare against. */
static const char **arrange(const ls_expect *x, char **trace, int n) {
    const char **out = ls_xmalloc((size_t)(x->n + 1) * sizeof *out);
    int pos = 0;
    for (int i = 0; i < x->n;) {
        if (!x->lines[i].group) {
            out[i] = x->lines[i].text;
            i++;
            pos++;
            continue;
        }
        int j = i;
        while (j < x->n && x->lines[j].group == x->lines[i].group) j++;
        int k = j - i;
        bool *used = ls_xcalloc((size_t)k, sizeof *used);
        int o = i;
        for (int t = pos; t < pos + k && t < n; t++)
            for (int g = 0; g < k; g++)
                if (!used[g] && strcmp(x->lines[i + g].text, trace[t]) == 0) {
                    used[g] = true;
                    out[o++] = x->lines[i + g].text;
                    break;
                }
        for (int g = 0; g < k; g++)
            if (!used[g]) out[o++] = x->lines[i + g].text;
        free(used);
        pos += k;
        i = j;
    }
    return out;
}

static bool same(const char *a, const char *b) {
    /* Lines compare after stripping surrounding whitespace. */
    while (isspace((unsigned char)*a)) a++;
    while (isspace((unsigned char)*b)) b++;
    size_t na = strlen(a), nb = strlen(b);
    while (na && isspace((unsigned char)a[na - 1])) na--;
    while (nb && isspace((unsigned char)b[nb - 1])) nb--;
    return na == nb && memcmp(a, b, na) == 0;
}

bool ls_expect_match(const ls_expect *x, char **trace, int n) {
    if (x->n != n) return false;
    const char **want = arrange(x, trace, n);
    bool ok = true;
    for (int i = 0; i < n && ok; i++) ok = same(want[i], trace[i]);
    free(want);
    return ok;
}

void ls_expect_diff(ls_buf *b, const ls_expect *x, char **trace, int n,
                    const char *label) {
    const char **a = arrange(x, trace, n);
    int na = x->n, nb = n;
    /* LCS table: O(na * nb), traces are short. */
    int *t = ls_xcalloc((size_t)(na + 1) * (size_t)(nb + 1), sizeof *t);
#define T(i, j) t[(size_t)(i) * (size_t)(nb + 1) + (size_t)(j)]
    for (int i = na - 1; i >= 0; i--)
        for (int j = nb - 1; j >= 0; j--)
            T(i, j) = same(a[i], trace[j]) ? T(i + 1, j + 1) + 1
                    : (T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1));
    ls_buf_printf(b, "--- expected (%s)\n+++ actual\n@@ -1,%d +1,%d @@\n", label, na, nb);
    int i = 0, j = 0;
    while (i < na || j < nb) {
        if (i < na && j < nb && same(a[i], trace[j])) {
            ls_buf_printf(b, " %s\n", trace[j]);
            i++, j++;
        } else if (j < nb && (i == na || T(i, j + 1) > T(i + 1, j))) {
            ls_buf_printf(b, "+%s\n", trace[j++]);
        } else {
            ls_buf_printf(b, "-%s\n", a[i++]);
        }
    }
#undef T
    free(t);
    free(a);
}
