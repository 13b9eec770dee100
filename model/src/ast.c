/* ast.c: node allocation and the JSON form of the tree. */
#include "ast.h"

#include <string.h>

static const char *node_names[] = {
#define LS_X(n, j) j,
    LS_NODES(LS_X)
#undef LS_X
};

const char *ls_node_name(ls_node_kind k) { return node_names[k]; }

ls_node *ls_node_new(ls_arena *a, ls_node_kind kind, int line, int col) {
    ls_node *n = ls_arena_alloc(a, sizeof *n);
    n->kind = kind;
    n->line = line;
    n->col = col;
    return n;
}

void ls_node_add(ls_arena *a, ls_node *p, ls_node *c) {
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 4;
        ls_node **v = ls_arena_alloc(a, (size_t)cap * sizeof *v);
        if (p->n) memcpy(v, p->list, (size_t)p->n * sizeof *v);
        p->list = v;
        p->cap = cap;
    }
    p->list[p->n++] = c;
}

/* Operators print as their source text, taken from the token table. */
static void op_json(ls_buf *b, const ls_node *n) {
    const char *d = ls_tok_name((ls_tok_kind)n->op);
    size_t len = strlen(d);
    if (n->kind == LS_N_COMPARE && n->op == LS_TK_NOT) {
        ls_buf_puts(b, ",\"op\":\"not in\"");
        return;
    }
    if (n->kind == LS_N_COMPARE && n->op == LS_TK_IS && n->ival) {
        ls_buf_puts(b, ",\"op\":\"is not\"");
        return;
    }
    ls_buf_puts(b, ",\"op\":");
    if (len >= 2 && d[0] == '\'') ls_buf_json(b, d + 1, len - 2);
    else ls_buf_json(b, d, len);
}

void ls_ast_json(ls_buf *b, const ls_node *n) {
    static const char *slot[LS_N__COUNT][4];
    static int init;
    if (!init) {
        /* Child slot names per kind, for readable JSON. */
        for (int i = 0; i < LS_N__COUNT; i++)
            for (int j = 0; j < 4; j++) slot[i][j] = NULL;
        const char *k0 = "value";
        for (int i = 0; i < LS_N__COUNT; i++) slot[i][0] = k0;
        slot[LS_N_CALL][0] = "func";
        slot[LS_N_ATTR][0] = "object";
        slot[LS_N_LISTCOMP][0] = "element"; slot[LS_N_LISTCOMP][1] = "target";
        slot[LS_N_LISTCOMP][2] = "iter"; slot[LS_N_LISTCOMP][3] = "cond";
        slot[LS_N_SUBSCRIPT][0] = "object"; slot[LS_N_SUBSCRIPT][1] = "index";
        slot[LS_N_BINOP][0] = slot[LS_N_COMPARE][0] = slot[LS_N_AND][0] =
            slot[LS_N_OR][0] = "left";
        slot[LS_N_BINOP][1] = slot[LS_N_COMPARE][1] = slot[LS_N_AND][1] =
            slot[LS_N_OR][1] = "right";
        slot[LS_N_IFEXP][0] = "cond"; slot[LS_N_IFEXP][1] = "then";
        slot[LS_N_IFEXP][2] = "else";
        slot[LS_N_ASSIGN][0] = slot[LS_N_AUGASSIGN][0] = "target";
        slot[LS_N_ASSIGN][1] = slot[LS_N_AUGASSIGN][1] = "value";
        slot[LS_N_IF][0] = slot[LS_N_WHILE][0] = "cond";
        slot[LS_N_IF][1] = slot[LS_N_WHILE][1] = "body";
        slot[LS_N_IF][2] = slot[LS_N_WHILE][2] = "else";
        slot[LS_N_FOR][0] = "target"; slot[LS_N_FOR][1] = "iter";
        slot[LS_N_FOR][2] = "body"; slot[LS_N_FOR][3] = "else";
        slot[LS_N_ASYNC_FOR][0] = "target"; slot[LS_N_ASYNC_FOR][1] = "iter";
        slot[LS_N_ASYNC_FOR][2] = "body"; slot[LS_N_ASYNC_FOR][3] = "else";
        slot[LS_N_CLASS][0] = "base";
        slot[LS_N_TRY][0] = "body"; slot[LS_N_TRY][1] = "else";
        slot[LS_N_TRY][2] = "finally";
        slot[LS_N_EXCEPT][0] = "type"; slot[LS_N_EXCEPT][1] = "body";
        slot[LS_N_WITH][0] = "manager"; slot[LS_N_WITH][1] = "body";
        slot[LS_N_FUNC][0] = "body";
        slot[LS_N_PARAM][0] = "default";
        init = 1;
    }
    if (!n) {
        ls_buf_puts(b, "null");
        return;
    }
    ls_buf_printf(b, "{\"kind\":\"%s\",\"line\":%d,\"col\":%d", node_names[n->kind],
                  n->line, n->col);
    switch (n->kind) {
    case LS_N_INT: ls_buf_printf(b, ",\"value\":%lld", (long long)n->ival); break;
    case LS_N_FLOAT: ls_buf_printf(b, ",\"value\":%.17g", n->dval); break;
    case LS_N_FIELD: ls_buf_printf(b, ",\"repr\":%s", n->ival ? "true" : "false"); break;
    case LS_N_FUNC: case LS_N_LISTCOMP:
        ls_buf_printf(b, ",\"async\":%s", n->ival ? "true" : "false");
        break;
    case LS_N_BINOP: case LS_N_UNARY: case LS_N_COMPARE: case LS_N_AUGASSIGN:
        op_json(b, n);
        break;
    default: break;
    }
    if (n->str) {
        ls_buf_puts(b, n->kind == LS_N_STR ? ",\"value\":" : ",\"name\":");
        ls_buf_json(b, n->str, (size_t)n->slen);
    }
    for (int i = 0; i < 4; i++) {
        if (!n->k[i]) continue;
        if (n->kind == LS_N_FIELD || n->kind == LS_N_INT) continue;
        ls_buf_printf(b, ",\"%s\":", slot[n->kind][i] ? slot[n->kind][i] : "child");
        ls_ast_json(b, n->k[i]);
    }
    if (n->kind == LS_N_FIELD) {
        ls_buf_puts(b, ",\"value\":");
        ls_ast_json(b, n->k[0]);
    }
    if (n->n || n->kind == LS_N_BLOCK || n->kind == LS_N_LIST ||
        n->kind == LS_N_CALL || n->kind == LS_N_FUNC || n->kind == LS_N_MODULE ||
        n->kind == LS_N_CLASS) {
        const char *ln = n->kind == LS_N_BLOCK || n->kind == LS_N_MODULE || n->kind == LS_N_CLASS ? "body"
                       : n->kind == LS_N_CALL ? "args"
                       : n->kind == LS_N_FUNC ? "params"
                       : n->kind == LS_N_TRY ? "handlers"
                       : n->kind == LS_N_GLOBAL ? "names"
                       : n->kind == LS_N_FSTR ? "parts" : "items";
        ls_buf_printf(b, ",\"%s\":[", ln);
        for (int i = 0; i < n->n; i++) {
            if (i) ls_buf_putc(b, ',');
            ls_ast_json(b, n->list[i]);
        }
        ls_buf_putc(b, ']');
    }
    ls_buf_putc(b, '}');
}
