/* lex.c: tokenizer with Python's INDENT/DEDENT rules. */
#include "lex.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LS_MAX_INDENT 100

static const char *tok_names[] = {
#define LS_X(n, d) d,
    LS_TOKENS(LS_X)
#undef LS_X
};

const char *ls_tok_name(ls_tok_kind k) { return tok_names[k]; }

typedef struct lexer {
    const char *path, *src, *end, *p;
    int line, col0, first_line;
    const char *line_start;
    ls_tokens *out;
    ls_error *e;
    int depth;                      /* bracket nesting */
    int indents[LS_MAX_INDENT];
    int nindent;
} lexer;

static const struct { const char *word; ls_tok_kind kind; } keywords[] = {
    {"async", LS_TK_ASYNC}, {"def", LS_TK_DEF}, {"await", LS_TK_AWAIT},
    {"return", LS_TK_RETURN}, {"if", LS_TK_IF}, {"elif", LS_TK_ELIF},
    {"else", LS_TK_ELSE}, {"while", LS_TK_WHILE}, {"for", LS_TK_FOR},
    {"in", LS_TK_IN}, {"break", LS_TK_BREAK}, {"continue", LS_TK_CONTINUE},
    {"pass", LS_TK_PASS}, {"try", LS_TK_TRY}, {"except", LS_TK_EXCEPT},
    {"finally", LS_TK_FINALLY}, {"raise", LS_TK_RAISE}, {"as", LS_TK_AS},
    {"with", LS_TK_WITH}, {"global", LS_TK_GLOBAL}, {"not", LS_TK_NOT},
    {"and", LS_TK_AND}, {"or", LS_TK_OR}, {"is", LS_TK_IS},
    {"None", LS_TK_NONE}, {"True", LS_TK_TRUE}, {"False", LS_TK_FALSE},
    {"class", LS_TK_CLASS}, {"yield", LS_TK_YIELD},
};

/* Python keywords the case language leaves out: a clear error, not a name. */
static const char *unsupported_words[] = {
    "lambda", "import", "from", "del", "nonlocal",
    "assert", NULL,
};

/* Whether the n characters at s are the word w: the first character
 * first, since every name is checked against every keyword. */
static bool is_word(const char *w, const char *s, int n) {
    return w[0] == s[0] && strncmp(w, s, (size_t)n) == 0 && w[n] == 0;
}

static int col_of(lexer *L, const char *p) {
    int c = (int)(p - L->line_start) + 1;
    return L->line == L->first_line ? c + L->col0 : c;
}

static int fail(lexer *L, const char *p, const char *fmt, const char *arg) {
    ls_error_at(L->e, L->path, L->line, col_of(L, p), fmt, arg);
    return -1;
}

static ls_token *push(lexer *L, ls_tok_kind k, const char *start, int len) {
    ls_tokens *t = L->out;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->v = ls_xrealloc(t->v, (size_t)t->cap * sizeof *t->v);
    }
    ls_token *tk = &t->v[t->n++];
    memset(tk, 0, sizeof *tk);
    tk->kind = k;
    tk->line = L->line;
    tk->col = col_of(L, start);
    tk->start = start;
    tk->len = len;
    return tk;
}

/* Measures the indentation of the line at L->p and emits INDENT/DEDENTs.
 * Returns 1 if the line is blank or a comment (skip it), 0, or -1. */
static int indentation(lexer *L) {
    const char *p = L->p;
    int w = 0;
    while (p < L->end && (*p == ' ' || *p == '\t')) {
        if (*p == '\t')
            return fail(L, p, "%s", "tab in indentation: indent with spaces");
        w++;
        p++;
    }
    if (p >= L->end || *p == '\n' || *p == '#' || *p == '\r') return 1;
    int top = L->indents[L->nindent - 1];
    if (w > top) {
        if (L->nindent == LS_MAX_INDENT)
            return fail(L, p, "%s", "too many indentation levels");
        L->indents[L->nindent++] = w;
        push(L, LS_TK_INDENT, p, 0);
    } else {
        while (w < L->indents[L->nindent - 1]) {
            L->nindent--;
            push(L, LS_TK_DEDENT, p, 0);
        }
        if (w != L->indents[L->nindent - 1])
            return fail(L, p, "%s",
                        "unindent does not match any outer indentation level");
    }
    L->p = p;
    return 0;
}

/* Decodes a quoted string starting at L->p (at the quote). */
static int string(lexer *L, const char *start, bool fstr) {
    char q = *L->p;
    const char *p = L->p + 1;
    ls_buf b = {0};
    if (p + 1 < L->end && p[0] == q && p[1] == q) {
        ls_buf_free(&b);
        return fail(L, start, "%s", "triple-quoted strings are not supported");
    }
    for (;;) {
        if (p >= L->end || *p == '\n') {
            ls_buf_free(&b);
            return fail(L, start, "%s", "unterminated string literal");
        }
        if (*p == q) break;
        if (*p == '\\' && !fstr) {
            p++;
            if (p >= L->end) continue;
            switch (*p) {
            case 'n': ls_buf_putc(&b, '\n'); break;
            case 't': ls_buf_putc(&b, '\t'); break;
            case 'r': ls_buf_putc(&b, '\r'); break;
            case '0': ls_buf_putc(&b, '\0'); break;
            case '\\': ls_buf_putc(&b, '\\'); break;
            case '\'': ls_buf_putc(&b, '\''); break;
            case '"': ls_buf_putc(&b, '"'); break;
            case '\n':
                ls_buf_free(&b);
                return fail(L, start, "%s", "unterminated string literal");
            default:
                ls_buf_free(&b);
                return fail(L, p - 1, "unsupported escape sequence '\\%.1s'", p);
            }
            p++;
            continue;
        }
        if (*p == '\\' && fstr && p + 1 < L->end && p[1] != '\n') {
            ls_buf_putn(&b, p, 2);   /* decoded with the f-string's parts */
            p += 2;
            continue;
        }
        ls_buf_putc(&b, *p++);
    }
    p++;
    ls_token *t = push(L, fstr ? LS_TK_FSTR : LS_TK_STR, start, (int)(p - start));
    t->str = b.p ? b.p : ls_xstrndup("", 0);
    t->slen = (int)b.len;
    L->p = p;
    return 0;
}

static int number(lexer *L) {
    const char *s = L->p, *p = s;
    bool isfloat = false;
    while (p < L->end && (isdigit((unsigned char)*p) || *p == '_')) p++;
    if (p < L->end && *p == '.' && p + 1 < L->end && isdigit((unsigned char)p[1])) {
        isfloat = true;
        p++;
        while (p < L->end && isdigit((unsigned char)*p)) p++;
    }
    if (p < L->end && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        if (q < L->end && (*q == '+' || *q == '-')) q++;
        if (q < L->end && isdigit((unsigned char)*q)) {
            isfloat = true;
            p = q;
            while (p < L->end && isdigit((unsigned char)*p)) p++;
        }
    }
    if (p < L->end && (isalpha((unsigned char)*p) || *p == '_'))
        return fail(L, s, "%s", "invalid number literal");
    char tmp[64];
    int n = 0;
    for (const char *q = s; q < p && n < 63; q++)
        if (*q != '_') tmp[n++] = *q;
    tmp[n] = 0;
    if (isfloat) {
        ls_token *t = push(L, LS_TK_FLOAT, s, (int)(p - s));
        t->dval = strtod(tmp, NULL);
    } else {
        if (n > 18) return fail(L, s, "%s", "integer literal too large");
        if (n > 1 && tmp[0] == '0')
            return fail(L, s, "%s", "leading zeros in integer literal");
        ls_token *t = push(L, LS_TK_INT, s, (int)(p - s));
        t->ival = strtoll(tmp, NULL, 10);
    }
    L->p = p;
    return 0;
}

int ls_lex(const char *path, const char *src, size_t len, int line0, int col0,
           ls_tokens *out, ls_error *e) {
    lexer L = {0};
    L.path = path;
    L.src = L.p = L.line_start = src;
    L.end = src + len;
    L.line = L.first_line = line0;
    L.col0 = col0;
    L.out = out;
    L.e = e;
    L.nindent = 1;
    bool at_line_start = true;

    while (L.p < L.end) {
        if (at_line_start && L.depth == 0 && col0 == 0) {
            int r = indentation(&L);
            if (r < 0) return -1;
            if (r == 1) {   /* blank line or comment only */
                while (L.p < L.end && *L.p != '\n') L.p++;
                if (L.p < L.end) {
                    L.p++;
                    L.line++;
                    L.line_start = L.p;
                }
                continue;
            }
            at_line_start = false;
        }
        char c = *L.p;
        const char *s = L.p;
        if (c == ' ' || c == '\r') { L.p++; continue; }
        if (c == '\t') { L.p++; continue; }
        if (c == '#') {
            while (L.p < L.end && *L.p != '\n') L.p++;
            continue;
        }
        if (c == '\\' && L.p + 1 < L.end && L.p[1] == '\n') {
            L.p += 2;
            L.line++;
            L.line_start = L.p;
            continue;
        }
        if (c == '\n') {
            if (L.depth == 0 && col0 == 0) {
                ls_tok_kind last = out->n ? out->v[out->n - 1].kind : LS_TK_NEWLINE;
                if (last != LS_TK_NEWLINE && last != LS_TK_INDENT && last != LS_TK_DEDENT)
                    push(&L, LS_TK_NEWLINE, s, 0);
                at_line_start = true;
            }
            L.p++;
            L.line++;
            L.line_start = L.p;
            continue;
        }
        if (isdigit((unsigned char)c) ||
            (c == '.' && L.p + 1 < L.end && isdigit((unsigned char)L.p[1]))) {
            if (number(&L) < 0) return -1;
            continue;
        }
        if (isalpha((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80) {
            const char *p = L.p;
            while (p < L.end && (isalnum((unsigned char)*p) || *p == '_' ||
                                 (unsigned char)*p >= 0x80))
                p++;
            int n = (int)(p - s);
            if ((n == 1 && (*s == 'f' || *s == 'F')) && p < L.end &&
                (*p == '"' || *p == '\'')) {
                L.p = p;
                if (string(&L, s, true) < 0) return -1;
                continue;
            }
            if (n == 1 && (*s == 'r' || *s == 'b' || *s == 'u') && p < L.end &&
                (*p == '"' || *p == '\''))
                return fail(&L, s, "string prefix '%.1s' is not supported", s);
            ls_tok_kind k = LS_TK_NAME;
            for (size_t i = 0; i < sizeof keywords / sizeof *keywords; i++)
                if (is_word(keywords[i].word, s, n))
                    k = keywords[i].kind;
            if (k == LS_TK_NAME)
                for (int i = 0; unsupported_words[i]; i++)
                    if (is_word(unsupported_words[i], s, n)) {
                        char w[32];
                        snprintf(w, sizeof w, "%.*s", n, s);
                        return fail(&L, s, "'%s' is not part of the case language", w);
                    }
            ls_token *t = push(&L, k, s, n);
            if (k == LS_TK_NAME) {
                t->str = ls_xstrndup(s, (size_t)n);
                t->slen = n;
            }
            L.p = p;
            continue;
        }
        if (c == '"' || c == '\'') {
            if (string(&L, s, false) < 0) return -1;
            continue;
        }
        char d = L.p + 1 < L.end ? L.p[1] : 0;
        ls_tok_kind k;
        int n = 1;
        switch (c) {
        case '(': k = LS_TK_LPAR; L.depth++; break;
        case ')': k = LS_TK_RPAR; L.depth--; break;
        case '[': k = LS_TK_LBRACK; L.depth++; break;
        case ']': k = LS_TK_RBRACK; L.depth--; break;
        case '{': k = LS_TK_LBRACE; L.depth++; break;
        case '}': k = LS_TK_RBRACE; L.depth--; break;
        case ',': k = LS_TK_COMMA; break;
        case ':': k = LS_TK_COLON; break;
        case '.': k = LS_TK_DOT; break;
        case ';': k = LS_TK_SEMI; break;
        case '+': k = d == '=' ? (n = 2, LS_TK_PLUSEQ) : LS_TK_PLUS; break;
        case '-':
            k = d == '=' ? (n = 2, LS_TK_MINUSEQ)
              : d == '>' ? (n = 2, LS_TK_ARROW) : LS_TK_MINUS;
            break;
        case '*':
            k = d == '=' ? (n = 2, LS_TK_STAREQ)
              : d == '*' ? (n = 2, LS_TK_DSTAR) : LS_TK_STAR;
            break;
        case '/': k = d == '/' ? (n = 2, LS_TK_DSLASH) : LS_TK_SLASH; break;
        case '%': k = LS_TK_PERCENT; break;
        case '=': k = d == '=' ? (n = 2, LS_TK_EQ) : LS_TK_ASSIGN; break;
        case '!':
            if (d != '=') return fail(&L, s, "%s", "unexpected character '!'");
            k = LS_TK_NE; n = 2;
            break;
        case '<': k = d == '=' ? (n = 2, LS_TK_LE) : LS_TK_LT; break;
        case '>': k = d == '=' ? (n = 2, LS_TK_GE) : LS_TK_GT; break;
        default: {
            char w[8];
            snprintf(w, sizeof w, "%c", c);
            return fail(&L, s, "unexpected character '%s'", w);
        }
        }
        if (L.depth < 0) return fail(&L, s, "%s", "unmatched closing bracket");
        push(&L, k, s, n);
        L.p += n;
    }
    if (L.depth > 0)
        return fail(&L, L.p, "%s", "unexpected end of program: unclosed bracket");
    if (col0 == 0) {
        ls_tok_kind last = out->n ? out->v[out->n - 1].kind : LS_TK_NEWLINE;
        if (last != LS_TK_NEWLINE && last != LS_TK_DEDENT && last != LS_TK_INDENT)
            push(&L, LS_TK_NEWLINE, L.p, 0);
        while (L.nindent > 1) {
            L.nindent--;
            push(&L, LS_TK_DEDENT, L.p, 0);
        }
    }
    push(&L, LS_TK_EOF, L.p, 0);
    return 0;
}

void ls_tokens_free(ls_tokens *t) {
    for (int i = 0; i < t->n; i++) free(t->v[i].str);
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}
