/* lex.h: the tokenizer for case programs, a Python subset.
 *
 * It turns the program part of a case file into a token array, with
 * NEWLINE, INDENT and DEDENT tokens computed from indentation as Python
 * does (newlines inside brackets are joined). O(n) in the program size. */
#ifndef LS_LEX_H
#define LS_LEX_H

#include "common.h"

/* Token kinds: X(name, description used in error messages). */
#define LS_TOKENS(X)                                                           \
    X(EOF, "end of program") X(NEWLINE, "end of line") X(INDENT, "indent")     \
    X(DEDENT, "dedent") X(NAME, "name") X(INT, "integer") X(FLOAT, "number")   \
    X(STR, "string") X(FSTR, "f-string")                                       \
    X(LPAR, "'('") X(RPAR, "')'") X(LBRACK, "'['") X(RBRACK, "']'")            \
    X(LBRACE, "'{'") X(RBRACE, "'}'") X(COMMA, "','") X(COLON, "':'")          \
    X(DOT, "'.'") X(SEMI, "';'") X(PLUS, "'+'") X(MINUS, "'-'")                \
    X(STAR, "'*'") X(SLASH, "'/'") X(DSLASH, "'//'") X(PERCENT, "'%'")         \
    X(ASSIGN, "'='") X(EQ, "'=='") X(NE, "'!='") X(LT, "'<'") X(LE, "'<='")    \
    X(GT, "'>'") X(GE, "'>='") X(PLUSEQ, "'+='") X(MINUSEQ, "'-='")            \
    X(STAREQ, "'*='") X(DSTAR, "'**'") X(ARROW, "'->'")                        \
    X(ASYNC, "'async'") X(DEF, "'def'") X(AWAIT, "'await'")                    \
    X(RETURN, "'return'") X(IF, "'if'") X(ELIF, "'elif'") X(ELSE, "'else'")    \
    X(WHILE, "'while'") X(FOR, "'for'") X(IN, "'in'") X(BREAK, "'break'")      \
    X(CONTINUE, "'continue'") X(PASS, "'pass'") X(TRY, "'try'")                \
    X(EXCEPT, "'except'") X(FINALLY, "'finally'") X(RAISE, "'raise'")          \
    X(AS, "'as'") X(WITH, "'with'") X(GLOBAL, "'global'") X(NOT, "'not'")      \
    X(AND, "'and'") X(OR, "'or'") X(IS, "'is'") X(NONE, "'None'")              \
    X(TRUE, "'True'") X(FALSE, "'False'") X(CLASS, "'class'")           \
    X(YIELD, "'yield'")

typedef enum ls_tok_kind {
#define LS_X(n, d) LS_TK_##n,
    LS_TOKENS(LS_X)
#undef LS_X
    LS_TK__COUNT
} ls_tok_kind;

typedef struct ls_token {
    ls_tok_kind kind;
    int line, col;          /* 1-based, in the case file */
    const char *start;      /* the token's text in the source */
    int len;
    int64_t ival;           /* INT */
    double dval;            /* FLOAT */
    char *str;              /* STR, FSTR: decoded (FSTR: raw body), NAME */
    int slen;
} ls_token;

typedef struct ls_tokens {
    ls_token *v;
    int n, cap;
} ls_tokens;

/* Tokenizes src (len bytes) whose first line is line `line0` of `path`.
 * col0 > 0 tokenizes one embedded expression (an f-string field) that
 * starts at column col0 + 1: no NEWLINE, INDENT or DEDENT tokens.
 * Returns 0, or -1 with the message in e. */
int ls_lex(const char *path, const char *src, size_t len, int line0, int col0,
           ls_tokens *out, ls_error *e);
void ls_tokens_free(ls_tokens *t);
const char *ls_tok_name(ls_tok_kind k);

#endif
