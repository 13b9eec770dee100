/* parse.c: the case language's parser. Every rule returns NULL on error,
 * with the first error's position and message in p->e. */
#include "parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LS_MAX_NESTING 200

typedef struct parser {
    const char *path;
    ls_tokens toks;
    int pos;
    ls_arena *a;
    ls_error *e;
    int depth;        /* expression nesting, to refuse pathological input */
} parser;

static ls_node *expr(parser *p);
static ls_node *test(parser *p);
static ls_node *block(parser *p);
static ls_node *or_test(parser *p);

static ls_token *peek(parser *p) { return &p->toks.v[p->pos]; }
static ls_token *peek2(parser *p) {
    return &p->toks.v[p->pos + (p->pos + 1 < p->toks.n)];
}
static ls_token *next(parser *p) {
    ls_token *t = &p->toks.v[p->pos];
    if (t->kind != LS_TK_EOF) p->pos++;
    return t;
}
static bool at(parser *p, ls_tok_kind k) { return peek(p)->kind == k; }
static bool accept(parser *p, ls_tok_kind k) {
    if (!at(p, k)) return false;
    next(p);
    return true;
}

static void *err_at(parser *p, ls_token *t, const char *fmt, const char *a1) {
    ls_error_at(p->e, p->path, t->line, t->col, fmt, a1);
    return NULL;
}

static void *unexpected(parser *p, const char *want) {
    ls_token *t = peek(p);
    char buf[200];
    if (t->kind == LS_TK_NAME)
        snprintf(buf, sizeof buf, "expected %s, found name '%.40s'", want, t->str);
    else
        snprintf(buf, sizeof buf, "expected %s, found %s", want, ls_tok_name(t->kind));
    return err_at(p, t, "%s", buf);
}

static ls_token *expect(parser *p, ls_tok_kind k) {
    if (at(p, k)) return next(p);
    unexpected(p, ls_tok_name(k));
    return NULL;
}

static ls_node *node(parser *p, ls_node_kind k, ls_token *t) {
    return ls_node_new(p->a, k, t->line, t->col);
}

static char *astr(parser *p, const char *s, int n) {
    return ls_arena_strndup(p->a, s, (size_t)n);
}

/* ---- f-strings: literal parts and {expr} / {expr!r} fields ---- */

static ls_node *sub_expr(parser *p, const char *src, int n, int line, int col) {
    parser q = {0};
    q.path = p->path;
    q.a = p->a;
    q.e = p->e;
    q.depth = p->depth;
    if (ls_lex(p->path, src, (size_t)n, line, col - 1, &q.toks, p->e) < 0) {
        ls_tokens_free(&q.toks);
        return NULL;
    }
    ls_node *r = NULL;
    if (q.toks.n <= 1) {
        ls_error_at(p->e, p->path, line, col, "empty expression in f-string");
    } else {
        r = test(&q);
        if (r && !at(&q, LS_TK_EOF)) r = unexpected(&q, "'}' after f-string field");
    }
    ls_tokens_free(&q.toks);
    return r;
}

static ls_node *fstring(parser *p, ls_token *t) {
    ls_node *f = node(p, LS_N_FSTR, t);
    const char *s = t->str;
    int n = t->slen, i = 0;
    ls_buf lit = {0};
    while (i <= n) {
        if (i == n || (s[i] == '{' && !(i + 1 < n && s[i + 1] == '{'))) {
            if (lit.len) {
                ls_node *ln = node(p, LS_N_STR, t);
                ln->str = astr(p, lit.p, (int)lit.len);
                ln->slen = (int)lit.len;
                ls_node_add(p->a, f, ln);
                lit.len = 0;
            }
            if (i == n) break;
            int start = ++i, depth = 0;
            char quote = 0;
            while (i < n) {
                char c = s[i];
                if (quote) {
                    if (c == quote) quote = 0;
                } else if (c == '\'' || c == '"') quote = c;
                else if (c == '(' || c == '[' || c == '{') depth++;
                else if ((c == ')' || c == ']' || c == '}') && depth) depth--;
                else if (depth == 0 && (c == '}' || c == '!' || c == ':')) break;
                i++;
            }
            int end = i, conv = 0;
            int col = t->col + 2 + start;
            if (i < n && s[i] == '!') {
                if (i + 1 < n && (s[i + 1] == 'r' || s[i + 1] == 's')) {
                    conv = s[i + 1] == 'r';
                    i += 2;
                } else {
                    ls_buf_free(&lit);
                    ls_error_at(p->e, p->path, t->line, t->col + 2 + i,
                                "f-string conversion must be !r or !s");
                    return NULL;
                }
            }
            if (i < n && s[i] == ':') {
                ls_buf_free(&lit);
                ls_error_at(p->e, p->path, t->line, t->col + 2 + i,
                            "format specs in f-string fields are not supported");
                return NULL;
            }
            if (i >= n || s[i] != '}') {
                ls_buf_free(&lit);
                ls_error_at(p->e, p->path, t->line, t->col + 2 + start,
                            "f-string: expecting '}'");
                return NULL;
            }
            i++;
            ls_node *ex = sub_expr(p, s + start, end - start, t->line, col);
            if (!ex) {
                ls_buf_free(&lit);
                return NULL;
            }
            ls_node *fd = ls_node_new(p->a, LS_N_FIELD, t->line, col);
            fd->k[0] = ex;
            fd->ival = conv;
            ls_node_add(p->a, f, fd);
            continue;
        }
        if (s[i] == '{') { ls_buf_putc(&lit, '{'); i += 2; continue; }
        if (s[i] == '}') {
            if (i + 1 < n && s[i + 1] == '}') { ls_buf_putc(&lit, '}'); i += 2; continue; }
            ls_buf_free(&lit);
            ls_error_at(p->e, p->path, t->line, t->col + 2 + i,
                        "f-string: single '}' is not allowed");
            return NULL;
        }
        if (s[i] == '\\' && i + 1 < n) {
            char c = s[i + 1], d;
            switch (c) {
            case 'n': d = '\n'; break;
            case 't': d = '\t'; break;
            case '\\': d = '\\'; break;
            case '\'': d = '\''; break;
            case '"': d = '"'; break;
            default:
                ls_buf_free(&lit);
                ls_error_at(p->e, p->path, t->line, t->col + 2 + i,
                            "unsupported escape sequence in f-string");
                return NULL;
            }
            ls_buf_putc(&lit, d);
            i += 2;
            continue;
        }
        ls_buf_putc(&lit, s[i++]);
    }
    ls_buf_free(&lit);
    return f;
}

/* ---- expressions ---- */

static ls_node *list_tail(parser *p, ls_node *first, ls_token *open) {
    /* [first for x in it if c], [first async for x in it if c] or [first, ...] */
    bool is_async = at(p, LS_TK_ASYNC) && peek2(p)->kind == LS_TK_FOR;
    if (is_async) next(p);
    if (accept(p, LS_TK_FOR)) {
        ls_node *c = node(p, LS_N_LISTCOMP, open);
        c->ival = is_async;
        c->k[0] = first;
        ls_token *t = peek(p);
        ls_node *tg = node(p, LS_N_NAME, t);
        if (!expect(p, LS_TK_NAME)) return NULL;
        tg->str = astr(p, t->str, t->slen);
        tg->slen = t->slen;
        if (at(p, LS_TK_COMMA)) {
            ls_node *tup = node(p, LS_N_TUPLE, t);
            ls_node_add(p->a, tup, tg);
            while (accept(p, LS_TK_COMMA)) {
                ls_token *u = peek(p);
                if (!expect(p, LS_TK_NAME)) return NULL;
                ls_node *nm = node(p, LS_N_NAME, u);
                nm->str = astr(p, u->str, u->slen);
                nm->slen = u->slen;
                ls_node_add(p->a, tup, nm);
            }
            tg = tup;
        }
        c->k[1] = tg;
        if (!expect(p, LS_TK_IN)) return NULL;
        ls_node *it = or_test(p);   /* no conditional: its 'if' is ours */
        if (!it) return NULL;
        c->k[2] = it;
        if (accept(p, LS_TK_IF)) {
            if (!(c->k[3] = or_test(p))) return NULL;
        }
        if (at(p, LS_TK_FOR) || at(p, LS_TK_ASYNC))
            return err_at(p, peek(p), "%s", "nested comprehensions are not supported");
        if (!expect(p, LS_TK_RBRACK)) return NULL;
        return c;
    }
    ls_node *l = node(p, LS_N_LIST, open);
    ls_node_add(p->a, l, first);
    while (accept(p, LS_TK_COMMA)) {
        if (at(p, LS_TK_RBRACK)) break;
        ls_node *e = at(p, LS_TK_STAR) ? NULL : test(p);
        if (!e) return at(p, LS_TK_STAR) ? err_at(p, peek(p), "%s", "starred list items are not supported") : NULL;
        ls_node_add(p->a, l, e);
    }
    if (!expect(p, LS_TK_RBRACK)) return NULL;
    return l;
}

static ls_node *atom(parser *p) {
    ls_token *t = peek(p);
    ls_node *n;
    switch (t->kind) {
    case LS_TK_NAME:
        next(p);
        n = node(p, LS_N_NAME, t);
        n->str = astr(p, t->str, t->slen);
        n->slen = t->slen;
        return n;
    case LS_TK_INT:
        next(p);
        n = node(p, LS_N_INT, t);
        n->ival = t->ival;
        return n;
    case LS_TK_FLOAT:
        next(p);
        n = node(p, LS_N_FLOAT, t);
        n->dval = t->dval;
        return n;
    case LS_TK_STR: {
        next(p);
        ls_buf b = {0};
        ls_buf_putn(&b, t->str, (size_t)t->slen);
        while (at(p, LS_TK_STR)) {   /* adjacent literals concatenate */
            ls_token *u = next(p);
            ls_buf_putn(&b, u->str, (size_t)u->slen);
        }
        if (at(p, LS_TK_FSTR)) {
            ls_buf_free(&b);
            return err_at(p, peek(p), "%s", "concatenating a string and an f-string is not supported");
        }
        n = node(p, LS_N_STR, t);
        n->str = astr(p, b.p ? b.p : "", (int)b.len);
        n->slen = (int)b.len;
        ls_buf_free(&b);
        return n;
    }
    case LS_TK_FSTR:
        next(p);
        if (at(p, LS_TK_STR) || at(p, LS_TK_FSTR))
            return err_at(p, peek(p), "%s", "concatenating an f-string with another string is not supported");
        return fstring(p, t);
    case LS_TK_NONE: next(p); return node(p, LS_N_NONE, t);
    case LS_TK_TRUE: next(p); return node(p, LS_N_TRUE, t);
    case LS_TK_FALSE: next(p); return node(p, LS_N_FALSE, t);
    case LS_TK_LPAR: {
        next(p);
        if (accept(p, LS_TK_RPAR)) return node(p, LS_N_TUPLE, t);
        ls_node *e = test(p);
        if (!e) return NULL;
        if (at(p, LS_TK_COMMA)) {
            ls_node *tup = node(p, LS_N_TUPLE, t);
            ls_node_add(p->a, tup, e);
            while (accept(p, LS_TK_COMMA)) {
                if (at(p, LS_TK_RPAR)) break;
                if (!(e = test(p))) return NULL;
                ls_node_add(p->a, tup, e);
            }
            e = tup;
        } else if (at(p, LS_TK_FOR)) {
            return err_at(p, peek(p), "%s", "generator expressions are not supported; use a list comprehension");
        }
        if (!expect(p, LS_TK_RPAR)) return NULL;
        return e;
    }
    case LS_TK_LBRACK: {
        next(p);
        if (accept(p, LS_TK_RBRACK)) return node(p, LS_N_LIST, t);
        if (at(p, LS_TK_STAR))
            return err_at(p, peek(p), "%s", "starred list items are not supported");
        ls_node *first = test(p);
        if (!first) return NULL;
        return list_tail(p, first, t);
    }
    case LS_TK_LBRACE:
        return err_at(p, t, "%s", "dicts and sets are not part of the case language");
    default:
        return unexpected(p, "an expression");
    }
}

static ls_node *call_args(parser *p, ls_node *callee, ls_token *open) {
    ls_node *c = node(p, LS_N_CALL, open);
    c->k[0] = callee;
    bool kw = false;
    while (!at(p, LS_TK_RPAR)) {
        ls_token *t = peek(p);
        ls_node *a;
        if (t->kind == LS_TK_STAR) {
            next(p);
            if (kw) return err_at(p, t, "%s", "*args after a keyword argument is not supported");
            a = node(p, LS_N_STAR, t);
            if (!(a->k[0] = test(p))) return NULL;
        } else if (t->kind == LS_TK_DSTAR) {
            return err_at(p, t, "%s", "**kwargs is not supported");
        } else if (t->kind == LS_TK_NAME && peek2(p)->kind == LS_TK_ASSIGN) {
            next(p);
            next(p);
            a = node(p, LS_N_KWARG, t);
            a->str = astr(p, t->str, t->slen);
            a->slen = t->slen;
            for (int i = 0; i < c->n; i++)
                if (c->list[i]->kind == LS_N_KWARG && strcmp(c->list[i]->str, a->str) == 0)
                    return err_at(p, t, "keyword argument repeated: '%s'", a->str);
            if (!(a->k[0] = test(p))) return NULL;
            kw = true;
        } else {
            if (kw) return err_at(p, t, "%s", "positional argument follows keyword argument");
            if (!(a = test(p))) return NULL;
            if (at(p, LS_TK_FOR))
                return err_at(p, peek(p), "%s", "generator expressions are not supported; use a list comprehension");
        }
        ls_node_add(p->a, c, a);
        if (!accept(p, LS_TK_COMMA)) break;
    }
    if (!expect(p, LS_TK_RPAR)) return NULL;
    return c;
}

static ls_node *primary(parser *p) {
    ls_node *e = atom(p);
    while (e) {
        ls_token *t = peek(p);
        if (t->kind == LS_TK_LPAR) {
            next(p);
            e = call_args(p, e, t);
        } else if (t->kind == LS_TK_DOT) {
            next(p);
            ls_token *nm = expect(p, LS_TK_NAME);
            if (!nm) return NULL;
            ls_node *a = node(p, LS_N_ATTR, nm);
            a->k[0] = e;
            a->str = astr(p, nm->str, nm->slen);
            a->slen = nm->slen;
            e = a;
        } else if (t->kind == LS_TK_LBRACK) {
            next(p);
            ls_node *s = node(p, LS_N_SUBSCRIPT, t);
            s->k[0] = e;
            if (!(s->k[1] = test(p))) return NULL;
            if (at(p, LS_TK_COLON))
                return err_at(p, peek(p), "%s", "slices are not supported");
            if (!expect(p, LS_TK_RBRACK)) return NULL;
            e = s;
        } else {
            break;
        }
    }
    return e;
}

static ls_node *await_expr(parser *p) {
    ls_token *t = peek(p);
    if (accept(p, LS_TK_AWAIT)) {
        ls_node *n = node(p, LS_N_AWAIT, t);
        if (!(n->k[0] = primary(p))) return NULL;
        return n;
    }
    return primary(p);
}

static ls_node *factor(parser *p) {
    ls_token *t = peek(p);
    if (t->kind == LS_TK_MINUS || t->kind == LS_TK_PLUS) {
        next(p);
        if (++p->depth > LS_MAX_NESTING) return err_at(p, t, "%s", "expression nested too deeply");
        ls_node *n = node(p, LS_N_UNARY, t);
        n->op = t->kind;
        n->k[0] = factor(p);
        p->depth--;
        return n->k[0] ? n : NULL;
    }
    ls_node *e = await_expr(p);
    if (e && at(p, LS_TK_DSTAR)) return err_at(p, peek(p), "%s", "'**' is not supported");
    return e;
}

static ls_node *binary(parser *p, ls_node *(*sub)(parser *), const ls_tok_kind *ops) {
    ls_node *l = sub(p);
    while (l) {
        ls_token *t = peek(p);
        bool hit = false;
        for (int i = 0; ops[i] != LS_TK_EOF; i++) hit |= t->kind == ops[i];
        if (!hit) break;
        next(p);
        ls_node *n = node(p, LS_N_BINOP, t);
        n->op = t->kind;
        n->k[0] = l;
        if (!(n->k[1] = sub(p))) return NULL;
        l = n;
    }
    return l;
}

static ls_node *term(parser *p) {
    static const ls_tok_kind ops[] = {LS_TK_STAR, LS_TK_SLASH, LS_TK_DSLASH,
                                      LS_TK_PERCENT, LS_TK_EOF};
    return binary(p, factor, ops);
}

static ls_node *arith(parser *p) {
    static const ls_tok_kind ops[] = {LS_TK_PLUS, LS_TK_MINUS, LS_TK_EOF};
    return binary(p, term, ops);
}

static ls_node *comparison(parser *p) {
    ls_node *l = arith(p);
    if (!l) return NULL;
    ls_token *t = peek(p);
    int op = -1, neg = 0;
    switch (t->kind) {
    case LS_TK_EQ: case LS_TK_NE: case LS_TK_LT: case LS_TK_LE:
    case LS_TK_GT: case LS_TK_GE: case LS_TK_IN:
        next(p);
        op = t->kind;
        break;
    case LS_TK_IS:
        next(p);
        op = LS_TK_IS;
        neg = accept(p, LS_TK_NOT);
        break;
    case LS_TK_NOT:
        if (peek2(p)->kind == LS_TK_IN) {
            next(p);
            next(p);
            op = LS_TK_NOT;   /* not in */
        }
        break;
    default: break;
    }
    if (op < 0) return l;
    ls_node *n = node(p, LS_N_COMPARE, t);
    n->op = op;
    n->ival = neg;
    n->k[0] = l;
    if (!(n->k[1] = arith(p))) return NULL;
    switch (peek(p)->kind) {
    case LS_TK_EQ: case LS_TK_NE: case LS_TK_LT: case LS_TK_LE:
    case LS_TK_GT: case LS_TK_GE: case LS_TK_IN: case LS_TK_IS:
        return err_at(p, peek(p), "%s", "chained comparisons are not supported");
    default: break;
    }
    return n;
}

static ls_node *not_test(parser *p) {
    ls_token *t = peek(p);
    if (accept(p, LS_TK_NOT)) {
        if (++p->depth > LS_MAX_NESTING) return err_at(p, t, "%s", "expression nested too deeply");
        ls_node *n = node(p, LS_N_NOT, t);
        n->k[0] = not_test(p);
        p->depth--;
        return n->k[0] ? n : NULL;
    }
    return comparison(p);
}

/* sub (OP sub)*, left-associative, for `and` and `or`. */
static ls_node *bool_chain(parser *p, ls_tok_kind op, ls_node_kind kind, ls_node *(*sub)(parser *)) {
    ls_node *l = sub(p);
    while (l && at(p, op)) {
        ls_node *n = node(p, kind, next(p));
        n->k[0] = l;
        if (!(n->k[1] = sub(p))) return NULL;
        l = n;
    }
    return l;
}

static ls_node *and_test(parser *p) { return bool_chain(p, LS_TK_AND, LS_N_AND, not_test); }

static ls_node *or_test(parser *p) { return bool_chain(p, LS_TK_OR, LS_N_OR, and_test); }

static ls_node *test(parser *p) {
    ls_token *t = peek(p);
    if (++p->depth > LS_MAX_NESTING) return err_at(p, t, "%s", "expression nested too deeply");
    ls_node *c = or_test(p);
    if (c && at(p, LS_TK_IF)) {
        ls_node *n = node(p, LS_N_IFEXP, next(p));
        n->k[1] = c;
        if (!(n->k[0] = or_test(p))) return NULL;
        if (!expect(p, LS_TK_ELSE)) return NULL;
        if (!(n->k[2] = test(p))) return NULL;
        c = n;
    }
    p->depth--;
    return c;
}

/* expr: test (',' test)* : a tuple when there is a comma. */
static ls_node *expr(parser *p) {
    ls_token *t = peek(p);
    ls_node *e = test(p);
    if (!e || !at(p, LS_TK_COMMA)) return e;
    ls_node *tup = node(p, LS_N_TUPLE, t);
    ls_node_add(p->a, tup, e);
    while (accept(p, LS_TK_COMMA)) {
        ls_tok_kind k = peek(p)->kind;
        if (k == LS_TK_NEWLINE || k == LS_TK_ASSIGN || k == LS_TK_RPAR || k == LS_TK_SEMI ||
            k == LS_TK_EOF || k == LS_TK_IN || k == LS_TK_COLON)
            break;
        if (!(e = test(p))) return NULL;
        ls_node_add(p->a, tup, e);
    }
    return tup;
}

/* ---- statements ---- */

/* An attribute target: a prelude record's field (`self._x`), or an
 * attribute of a case class's instance (`self.x`). */
static bool is_field(ls_node *n) {
    return n->kind == LS_N_ATTR;
}

static bool is_target(ls_node *n) {
    if (n->kind == LS_N_NAME || n->kind == LS_N_SUBSCRIPT || is_field(n)) return true;
    if (n->kind != LS_N_TUPLE && n->kind != LS_N_LIST) return false;
    if (n->n == 0) return false;
    for (int i = 0; i < n->n; i++)
        if (n->list[i]->kind != LS_N_NAME) return false;
    return true;
}

static ls_node *end_simple(parser *p, ls_node *n) {
    if (!n) return NULL;
    if (at(p, LS_TK_SEMI)) return n;   /* the caller continues the line */
    if (!at(p, LS_TK_NEWLINE) && !at(p, LS_TK_EOF)) return unexpected(p, "end of line");
    accept(p, LS_TK_NEWLINE);
    return n;
}

/* `yield [value]`: a statement, or the right side of an assignment. */
static ls_node *yield_expr(parser *p) {
    ls_token *t = next(p);
    ls_node *n = node(p, LS_N_YIELD, t);
    if (!at(p, LS_TK_NEWLINE) && !at(p, LS_TK_SEMI) && !at(p, LS_TK_EOF))
        if (!(n->k[0] = expr(p))) return NULL;
    return n;
}

static ls_node *small_stmt(parser *p) {
    ls_token *t = peek(p);
    ls_node *n;
    switch (t->kind) {
    case LS_TK_PASS: next(p); return node(p, LS_N_PASS, t);
    case LS_TK_BREAK: next(p); return node(p, LS_N_BREAK, t);
    case LS_TK_CONTINUE: next(p); return node(p, LS_N_CONTINUE, t);
    case LS_TK_RETURN:
        next(p);
        n = node(p, LS_N_RETURN, t);
        if (!at(p, LS_TK_NEWLINE) && !at(p, LS_TK_SEMI) && !at(p, LS_TK_EOF))
            if (!(n->k[0] = expr(p))) return NULL;
        return n;
    case LS_TK_RAISE:
        next(p);
        n = node(p, LS_N_RAISE, t);
        if (!at(p, LS_TK_NEWLINE) && !at(p, LS_TK_SEMI) && !at(p, LS_TK_EOF)) {
            if (!(n->k[0] = test(p))) return NULL;
            if (at(p, LS_TK_NAME) && strcmp(peek(p)->str, "from") == 0)
                return err_at(p, peek(p), "%s", "'raise ... from' is not supported");
        }
        return n;
    case LS_TK_GLOBAL:
        next(p);
        n = node(p, LS_N_GLOBAL, t);
        do {
            ls_token *nm = expect(p, LS_TK_NAME);
            if (!nm) return NULL;
            ls_node *x = node(p, LS_N_NAME, nm);
            x->str = astr(p, nm->str, nm->slen);
            x->slen = nm->slen;
            ls_node_add(p->a, n, x);
        } while (accept(p, LS_TK_COMMA));
        return n;
    case LS_TK_YIELD:
        n = node(p, LS_N_EXPR, t);
        return (n->k[0] = yield_expr(p)) ? n : NULL;
    default: break;
    }
    ls_node *e = expr(p);
    if (!e) return NULL;
    ls_token *op = peek(p);
    if (op->kind == LS_TK_ASSIGN) {
        next(p);
        if (!is_target(e))
            return err_at(p, op, "%s", "cannot assign to this expression");
        n = node(p, LS_N_ASSIGN, op);
        n->k[0] = e;
        if (!(n->k[1] = at(p, LS_TK_YIELD) ? yield_expr(p) : expr(p))) return NULL;
        if (at(p, LS_TK_ASSIGN))
            return err_at(p, peek(p), "%s", "chained assignment is not supported");
        return n;
    }
    if (op->kind == LS_TK_PLUSEQ || op->kind == LS_TK_MINUSEQ || op->kind == LS_TK_STAREQ) {
        next(p);
        if (e->kind != LS_N_NAME && e->kind != LS_N_SUBSCRIPT && !is_field(e))
            return err_at(p, op, "%s", "cannot assign to this expression");
        n = node(p, LS_N_AUGASSIGN, op);
        n->op = op->kind == LS_TK_PLUSEQ ? LS_TK_PLUS
              : op->kind == LS_TK_MINUSEQ ? LS_TK_MINUS : LS_TK_STAR;
        n->k[0] = e;
        if (!(n->k[1] = test(p))) return NULL;
        return n;
    }
    if (op->kind == LS_TK_COLON)
        return err_at(p, op, "%s", "annotations are not supported");
    n = node(p, LS_N_EXPR, t);
    n->k[0] = e;
    return n;
}

/* simple_stmts: small (';' small)* NEWLINE, appended to blk. */
static bool simple_stmts(parser *p, ls_node *blk) {
    for (;;) {
        ls_node *s = end_simple(p, small_stmt(p));
        if (!s) return false;
        ls_node_add(p->a, blk, s);
        if (!accept(p, LS_TK_SEMI)) return true;
        if (at(p, LS_TK_NEWLINE)) {
            next(p);
            return true;
        }
    }
}

static ls_node *stmt_into(parser *p, ls_node *blk);

static ls_node *if_stmt(parser *p, ls_token *t) {
    ls_node *n = node(p, LS_N_IF, t);
    if (!(n->k[0] = test(p))) return NULL;
    if (!(n->k[1] = block(p))) return NULL;
    ls_token *u = peek(p);
    if (accept(p, LS_TK_ELIF)) {
        ls_node *b = node(p, LS_N_BLOCK, u);
        ls_node *el = if_stmt(p, u);
        if (!el) return NULL;
        ls_node_add(p->a, b, el);
        n->k[2] = b;
    } else if (accept(p, LS_TK_ELSE)) {
        if (!(n->k[2] = block(p))) return NULL;
    }
    return n;
}

static ls_node *name_target(parser *p) {
    ls_token *t = peek(p);
    ls_node *first = NULL;
    ls_node *tup = node(p, LS_N_TUPLE, t);
    bool paren = accept(p, LS_TK_LPAR);
    do {
        ls_token *nm = expect(p, LS_TK_NAME);
        if (!nm) return NULL;
        ls_node *x = node(p, LS_N_NAME, nm);
        x->str = astr(p, nm->str, nm->slen);
        x->slen = nm->slen;
        if (!first) first = x;
        ls_node_add(p->a, tup, x);
    } while (accept(p, LS_TK_COMMA) && !at(p, LS_TK_IN) && !at(p, LS_TK_RPAR));
    if (paren && !expect(p, LS_TK_RPAR)) return NULL;
    return tup->n == 1 && !paren ? first : tup;
}


/* `for` and `async for` after the keyword: TARGET in EXPR: BLOCK [else: BLOCK]. */
static ls_node *for_rest(parser *p, ls_node *n) {
    if (!(n->k[0] = name_target(p))) return NULL;
    if (!expect(p, LS_TK_IN)) return NULL;
    if (!(n->k[1] = expr(p))) return NULL;
    if (!(n->k[2] = block(p))) return NULL;
    if (accept(p, LS_TK_ELSE) && !(n->k[3] = block(p))) return NULL;
    return n;
}

static ls_node *compound(parser *p, ls_token *t) {
    ls_node *n;
    switch (t->kind) {
    case LS_TK_IF:
        next(p);
        return if_stmt(p, t);
    case LS_TK_WHILE:
        next(p);
        n = node(p, LS_N_WHILE, t);
        if (!(n->k[0] = test(p))) return NULL;
        if (!(n->k[1] = block(p))) return NULL;
        if (accept(p, LS_TK_ELSE) && !(n->k[2] = block(p))) return NULL;
        return n;
    case LS_TK_FOR:
        next(p);
        return for_rest(p, node(p, LS_N_FOR, t));
    case LS_TK_TRY: {
        next(p);
        n = node(p, LS_N_TRY, t);
        if (!(n->k[0] = block(p))) return NULL;
        bool bare = false;
        while (at(p, LS_TK_EXCEPT)) {
            ls_token *u = next(p);
            if (bare) return err_at(p, u, "%s", "default 'except:' must be last");
            ls_node *h = node(p, LS_N_EXCEPT, u);
            if (at(p, LS_TK_STAR)) return err_at(p, peek(p), "%s", "'except*' is not supported yet");
            if (!at(p, LS_TK_COLON)) {
                if (!(h->k[0] = test(p))) return NULL;
                if (accept(p, LS_TK_AS)) {
                    ls_token *nm = expect(p, LS_TK_NAME);
                    if (!nm) return NULL;
                    h->str = astr(p, nm->str, nm->slen);
                    h->slen = nm->slen;
                }
            } else {
                bare = true;
            }
            if (!(h->k[1] = block(p))) return NULL;
            ls_node_add(p->a, n, h);
        }
        if (accept(p, LS_TK_ELSE)) {
            if (!n->n) return err_at(p, t, "%s", "'else' of a 'try' needs an 'except'");
            if (!(n->k[1] = block(p))) return NULL;
        }
        if (accept(p, LS_TK_FINALLY) && !(n->k[2] = block(p))) return NULL;
        if (!n->n && !n->k[2])
            return err_at(p, t, "%s", "'try' needs an 'except' or a 'finally'");
        return n;
    }
    case LS_TK_ASYNC: {
        next(p);
        ls_token *u = peek(p);
        if (u->kind == LS_TK_WITH) {
            next(p);
            n = node(p, LS_N_WITH, t);
            if (!(n->k[0] = test(p))) return NULL;
            if (accept(p, LS_TK_AS)) {
                ls_token *nm = expect(p, LS_TK_NAME);
                if (!nm) return NULL;
                n->str = astr(p, nm->str, nm->slen);
                n->slen = nm->slen;
            }
            if (at(p, LS_TK_COMMA))
                return err_at(p, peek(p), "%s", "one context manager per 'async with'");
            if (!(n->k[1] = block(p))) return NULL;
            return n;
        }
        if (u->kind == LS_TK_FOR) {
            next(p);
            return for_rest(p, node(p, LS_N_ASYNC_FOR, t));
        }
        if (u->kind == LS_TK_DEF)
            return err_at(p, u, "%s", "functions are top-level only: no nested 'def'");
        return unexpected(p, "'with' after 'async'");
    }
    case LS_TK_WITH:
        return err_at(p, t, "%s", "plain 'with' is not supported; use 'async with'");
    case LS_TK_DEF:
        return err_at(p, t, "%s", "functions are top-level only: no nested 'def'");
    case LS_TK_CLASS:
        return err_at(p, t, "%s", "classes are top-level only: no nested 'class'");
    default:
        return NULL;
    }
}

static ls_node *stmt_into(parser *p, ls_node *blk) {
    ls_token *t = peek(p);
    switch (t->kind) {
    case LS_TK_IF: case LS_TK_WHILE: case LS_TK_FOR: case LS_TK_TRY:
    case LS_TK_ASYNC: case LS_TK_WITH: case LS_TK_DEF: case LS_TK_CLASS: {
        ls_node *n = compound(p, t);
        if (!n) return NULL;
        ls_node_add(p->a, blk, n);
        return n;
    }
    case LS_TK_ELSE: case LS_TK_ELIF: case LS_TK_EXCEPT: case LS_TK_FINALLY:
        return err_at(p, t, "%s without a matching statement", ls_tok_name(t->kind));
    case LS_TK_INDENT:
        return err_at(p, t, "%s", "unexpected indent");
    default:
        return simple_stmts(p, blk) ? blk : NULL;
    }
}

/* block: ':' (simple_stmts | NEWLINE INDENT stmt+ DEDENT) */
static ls_node *block(parser *p) {
    ls_token *t = peek(p);
    if (!expect(p, LS_TK_COLON)) return NULL;
    ls_node *b = node(p, LS_N_BLOCK, t);
    if (!accept(p, LS_TK_NEWLINE)) return simple_stmts(p, b) ? b : NULL;
    if (!at(p, LS_TK_INDENT)) return unexpected(p, "an indented block");
    next(p);
    if (++p->depth > LS_MAX_NESTING) return err_at(p, t, "%s", "blocks nested too deeply");
    while (!at(p, LS_TK_DEDENT) && !at(p, LS_TK_EOF))
        if (!stmt_into(p, b)) return NULL;
    p->depth--;
    accept(p, LS_TK_DEDENT);
    return b;
}

static ls_node *funcdef(parser *p, ls_token *t, bool is_async) {
    ls_token *nm = expect(p, LS_TK_NAME);
    if (!nm) return NULL;
    ls_node *f = node(p, LS_N_FUNC, t);
    f->str = astr(p, nm->str, nm->slen);
    f->slen = nm->slen;
    f->ival = is_async;
    if (!expect(p, LS_TK_LPAR)) return NULL;
    bool defaults = false;
    while (!at(p, LS_TK_RPAR)) {
        ls_token *pt = peek(p);
        /* `*args` is parsed for the prelude (compile.c refuses it in a
         * case program); `**kwargs` nowhere. */
        bool star = pt->kind == LS_TK_STAR;
        if (pt->kind == LS_TK_DSTAR)
            return err_at(p, pt, "%s", "*args and **kwargs parameters are not supported");
        if (star) {
            accept(p, LS_TK_STAR);
            pt = peek(p);
        }
        if (!expect(p, LS_TK_NAME)) return NULL;
        ls_node *pa = node(p, LS_N_PARAM, pt);
        pa->ival = star;
        pa->str = astr(p, pt->str, pt->slen);
        pa->slen = pt->slen;
        for (int i = 0; i < f->n; i++)
            if (strcmp(f->list[i]->str, pa->str) == 0)
                return err_at(p, pt, "duplicate parameter '%s'", pa->str);
        if (accept(p, LS_TK_ASSIGN)) {
            if (!(pa->k[0] = test(p))) return NULL;
            defaults = true;
        } else if (defaults) {
            return err_at(p, pt, "%s", "parameter without a default follows a parameter with a default");
        }
        if (at(p, LS_TK_COLON)) return err_at(p, peek(p), "%s", "annotations are not supported");
        ls_node_add(p->a, f, pa);
        if (star) {
            if (pa->k[0]) return err_at(p, pt, "%s", "*args cannot have a default");
            accept(p, LS_TK_COMMA);
            if (!at(p, LS_TK_RPAR)) return err_at(p, peek(p), "%s", "*args must be the last parameter");
        }
        if (!accept(p, LS_TK_COMMA)) break;
    }
    if (!expect(p, LS_TK_RPAR)) return NULL;
    if (at(p, LS_TK_ARROW)) return err_at(p, peek(p), "%s", "annotations are not supported");
    if (!(f->k[0] = block(p))) return NULL;
    return f;
}

/* class NAME [(BASE)]: members, each a def, an async def, a
 * `NAME = value` class attribute or pass. */
static ls_node *classdef(parser *p, ls_token *t) {
    ls_token *nm = expect(p, LS_TK_NAME);
    if (!nm) return NULL;
    ls_node *c = node(p, LS_N_CLASS, t);
    c->str = astr(p, nm->str, nm->slen);
    c->slen = nm->slen;
    if (accept(p, LS_TK_LPAR)) {
        if (!at(p, LS_TK_RPAR)) {
            ls_token *b = expect(p, LS_TK_NAME);
            if (!b) return NULL;
            ls_node *base = node(p, LS_N_NAME, b);
            base->str = astr(p, b->str, b->slen);
            base->slen = b->slen;
            c->k[0] = base;
            if (at(p, LS_TK_COMMA) || at(p, LS_TK_ASSIGN))
                return err_at(p, peek(p), "%s", "a class has one base at most, and no keywords");
        }
        if (!expect(p, LS_TK_RPAR)) return NULL;
    }
    if (!expect(p, LS_TK_COLON)) return NULL;
    if (!accept(p, LS_TK_NEWLINE)) {   /* class E(Exception): pass */
        if (!expect(p, LS_TK_PASS)) return NULL;
        return end_simple(p, c);
    }
    if (!at(p, LS_TK_INDENT)) return unexpected(p, "an indented block");
    next(p);
    while (!at(p, LS_TK_DEDENT) && !at(p, LS_TK_EOF)) {
        ls_token *u = peek(p);
        ls_node *m = NULL;
        if (u->kind == LS_TK_ASYNC && peek2(p)->kind == LS_TK_DEF) {
            next(p);
            next(p);
            m = funcdef(p, u, true);
        } else if (u->kind == LS_TK_DEF) {
            next(p);
            m = funcdef(p, u, false);
        } else if (u->kind == LS_TK_PASS) {
            next(p);
            if (!end_simple(p, c)) return NULL;
            continue;
        } else if (u->kind == LS_TK_NAME && peek2(p)->kind == LS_TK_ASSIGN) {
            ls_node *blk = node(p, LS_N_BLOCK, u);
            if (!simple_stmts(p, blk)) return NULL;
            for (int i = 0; i < blk->n; i++) {
                ls_node *a = blk->list[i];
                if (a->kind != LS_N_ASSIGN || a->k[0]->kind != LS_N_NAME)
                    return err_at(p, u, "%s", "a class body holds only methods, 'NAME = value' and pass");
                ls_node_add(p->a, c, a);
            }
            continue;
        } else {
            return err_at(p, u, "%s", "a class body holds only methods, 'NAME = value' and pass");
        }
        if (!m) return NULL;
        ls_node_add(p->a, c, m);
    }
    accept(p, LS_TK_DEDENT);
    return c;
}

ls_node *ls_parse_program(const char *path, const char *src, size_t len,
                          int line0, ls_arena *a, ls_error *e) {
    parser p = {0};
    p.path = path;
    p.a = a;
    p.e = e;
    if (ls_lex(path, src, len, line0, 0, &p.toks, e) < 0) {
        ls_tokens_free(&p.toks);
        return NULL;
    }
    ls_node *m = ls_node_new(a, LS_N_MODULE, line0, 1);
    while (!at(&p, LS_TK_EOF)) {
        ls_token *t = peek(&p);
        ls_node *n = NULL;
        if (t->kind == LS_TK_ASYNC && peek2(&p)->kind == LS_TK_DEF) {
            next(&p);
            next(&p);
            n = funcdef(&p, t, true);
        } else if (t->kind == LS_TK_DEF) {
            next(&p);
            n = funcdef(&p, t, false);
        } else if (t->kind == LS_TK_CLASS) {
            next(&p);
            n = classdef(&p, t);
        } else if (t->kind == LS_TK_NAME && peek2(&p)->kind == LS_TK_ASSIGN) {
            ls_node *blk = ls_node_new(a, LS_N_BLOCK, t->line, t->col);
            if (simple_stmts(&p, blk)) {
                for (int i = 0; i < blk->n; i++) ls_node_add(a, m, blk->list[i]);
                continue;
            }
        } else if (t->kind == LS_TK_INDENT) {
            err_at(&p, t, "%s", "unexpected indent");
        } else {
            err_at(&p, t, "%s", "top level holds only 'def', 'async def', 'class' and 'NAME = value' bindings");
        }
        if (!n) break;
        ls_node_add(a, m, n);
    }
    ls_tokens_free(&p.toks);
    return e->set ? NULL : m;
}
