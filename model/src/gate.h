/* gate.h: the gate that admits only the case language.
 *
 * A case file is untrusted input: the harness sends its program to real
 * interpreters, where an attribute chain such as log.__globals__ reaches
 * Python's builtins. The compiler already refuses names and methods it does
 * not know; the gate walks the whole syntax tree of a case program (every
 * expression, f-string field, default, handler and target) and refuses
 * what the language does not document: attributes that start with '_',
 * names that start with '__', and the prelude's own protocol methods. A
 * program's classes may define attributes and methods of their own, which
 * it may then read on any object: their names may not start with '_'
 * (except the protocol methods the language defines) and may not be on a
 * deny-list of CPython's introspection and event-loop names. The prelude,
 * compiled apart, is not gated. */
#ifndef LS_GATE_H
#define LS_GATE_H

#include "ast.h"

/* 0 when every identifier of the program is in the case language; -1 with
 * `path:line:col: error: ...` in e for the first that is not. */
int ls_gate_check(const ls_node *module, const char *path, ls_error *e);
/* Whether a program may not define an attribute of this name. */
bool ls_gate_denied_attr(const char *name);

#endif
