/* ast.h: the syntax tree of a case program.
 *
 * One node type for every construct; the meaning of the four child slots
 * and the list is given per kind below. Nodes live in the case's arena. */
#ifndef LS_AST_H
#define LS_AST_H

#include "common.h"
#include "lex.h"

/* X(name, json name): k[] and list as used by each kind. */
#define LS_NODES(X)                                                            \
    X(INT, "int")             /* ival */                                       \
    X(FLOAT, "float")         /* dval */                                       \
    X(STR, "str")             /* str, slen */                                  \
    X(FSTR, "fstring")        /* list: STR and FIELD parts */                  \
    X(FIELD, "field")         /* k0 expr; ival 1 for !r */                     \
    X(NONE, "None")                                                            \
    X(TRUE, "True")                                                            \
    X(FALSE, "False")                                                          \
    X(NAME, "name")           /* str */                                        \
    X(CALL, "call")           /* k0 callee; list args (STAR, KWARG, expr) */   \
    X(STAR, "star")           /* k0 expr: *args */                             \
    X(KWARG, "kwarg")         /* str name; k0 value */                         \
    X(ATTR, "attr")           /* k0 object; str attribute */                   \
    X(AWAIT, "await")         /* k0 awaitable */                               \
    X(LIST, "list")           /* list elements */                              \
    X(TUPLE, "tuple")         /* list elements */                              \
    X(LISTCOMP, "listcomp")   /* k0 element, k1 target, k2 iterable, k3 if;   \
                                 ival 1: `async for` */                        \
    X(SUBSCRIPT, "subscript") /* k0 object, k1 index */                        \
    X(BINOP, "binop")         /* op (token), k0, k1 */                         \
    X(UNARY, "unary")         /* op (token), k0 */                             \
    X(COMPARE, "compare")     /* op (token; NOT for 'not in', IS+ival for      \
                                 'is not'), k0, k1 */                          \
    X(AND, "and")             /* k0, k1 */                                     \
    X(OR, "or")               /* k0, k1 */                                     \
    X(NOT, "not")             /* k0 */                                         \
    X(IFEXP, "ifexp")         /* k0 cond, k1 then, k2 else */                  \
    X(EXPR, "expr_stmt")      /* k0 */                                         \
    X(ASSIGN, "assign")       /* k0 target (NAME, TUPLE, SUBSCRIPT), k1 */     \
    X(AUGASSIGN, "augassign") /* op (token), k0 target, k1 value */            \
    X(RETURN, "return")       /* k0 value or NULL */                           \
    X(IF, "if")               /* k0 cond, k1 then BLOCK, k2 else or NULL */    \
    X(WHILE, "while")         /* k0 cond, k1 body, k2 else or NULL */          \
    X(FOR, "for")             /* k0 target, k1 iterable, k2 body, k3 else */   \
    X(BREAK, "break")                                                          \
    X(CONTINUE, "continue")                                                    \
    X(PASS, "pass")                                                            \
    X(TRY, "try")             /* k0 body, list EXCEPTs, k1 else, k2 finally */ \
    X(EXCEPT, "except")       /* k0 type or NULL, str as-name, k1 body */      \
    X(RAISE, "raise")         /* k0 exception or NULL */                       \
    X(WITH, "async_with")     /* k0 context manager, str as-name, k1 body */   \
    X(GLOBAL, "global")       /* list NAMEs */                                 \
    X(BLOCK, "block")         /* list statements */                            \
    X(FUNC, "def")            /* str name, ival 1 if async, list PARAMs,       \
                                 k0 body */                                    \
    X(PARAM, "param")         /* str name, k0 default or NULL */               \
    X(CLASS, "class")         /* str name, k0 base or NULL, list FUNCs and     \
                                 ASSIGNs (class attributes) */                 \
    X(YIELD, "yield")         /* k0 value or NULL */                           \
    X(ASYNC_FOR, "async_for") /* k0 target, k1 iterable, k2 body, k3 else */   \
    X(MODULE, "module")       /* list FUNCs and ASSIGNs */

typedef enum ls_node_kind {
#define LS_X(n, j) LS_N_##n,
    LS_NODES(LS_X)
#undef LS_X
    LS_N__COUNT
} ls_node_kind;

typedef struct ls_node ls_node;
struct ls_node {
    ls_node_kind kind;
    int line, col;
    int op;            /* ls_tok_kind of an operator */
    int64_t ival;
    double dval;
    char *str;
    int slen;
    ls_node *k[4];
    ls_node **list;
    int n, cap;
};

ls_node *ls_node_new(ls_arena *a, ls_node_kind kind, int line, int col);
void ls_node_add(ls_arena *a, ls_node *parent, ls_node *child);
const char *ls_node_name(ls_node_kind k);
/* Appends the tree as JSON. */
void ls_ast_json(ls_buf *b, const ls_node *n);

#endif
