/* parse.h: recursive-descent parser from tokens to the program's AST.
 *
 * Grammar: cases/README.md. One pass, one token of lookahead (two for
 * keyword arguments); O(n) in the number of tokens. */
#ifndef LS_PARSE_H
#define LS_PARSE_H

#include "ast.h"

/* Parses a whole program (a MODULE node), or NULL with the error in e. */
ls_node *ls_parse_program(const char *path, const char *src, size_t len,
                          int line0, ls_arena *a, ls_error *e);

#endif
