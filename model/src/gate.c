/* gate.c: the case language's identifiers, checked on the whole tree. */
#include "gate.h"

#include "builtins.h"

#include <string.h>

/* Methods the prelude dispatches by name (its records' __aenter__,
 * __aexit__, __call__ and callbacks) that case programs do not have. */
static const char *const prelude_only[] = {"aenter", "aexit", "call", "iter", "on_timeout",
                                           "on_task_done", NULL};

static bool prelude_method(const char *name) {
    for (int i = 0; prelude_only[i]; i++)
        if (strcmp(prelude_only[i], name) == 0) return true;
    return false;
}

static int refuse(const ls_node *n, const char *path, ls_error *e, const char *what,
                  const char *name) {
    ls_error_at(e, path, n->line, n->col, "%s '%s' is not part of the case language", what, name);
    return -1;
}

/* A name bound or read by the program: a Python name that starts with two
 * underscores is an interpreter's (__builtins__, __import__, __class__). */
static int check_name(const ls_node *n, const char *name, const char *path, ls_error *e) {
    if (name && name[0] == '_' && name[1] == '_') return refuse(n, path, e, "name", name);
    return 0;
}

static int walk(const ls_node *n, const char *path, ls_error *e) {
    if (!n) return 0;
    switch (n->kind) {
    case LS_N_NAME: case LS_N_KWARG: case LS_N_PARAM: case LS_N_EXCEPT: case LS_N_WITH:
    case LS_N_FUNC:
        if (check_name(n, n->str, path, e) < 0) return -1;
        break;
    case LS_N_ATTR:
        /* `type(x).__name__`: the one '_' attribute, read directly on
         * what the builtin type() returns (not through a variable). */
        if (strcmp(n->str, "__name__") == 0) {
            const ls_node *c = n->k[0];
            if (!(c && c->kind == LS_N_CALL && c->k[0] && c->k[0]->kind == LS_N_NAME &&
                  strcmp(c->k[0]->str, "type") == 0))
            {
                ls_error_at(e, path, n->line, n->col,
                            "attribute '__name__' is part of the case language only as "
                            "type(x).__name__");
                return -1;
            }
            break;
        }
        /* Every other documented attribute and method is a public asyncio
         * or Python one: nothing starts with '_'. */
        if (n->str[0] == '_') return refuse(n, path, e, "attribute", n->str);
        if (ls_method_lookup(n->str) < 0 || prelude_method(n->str))
            return refuse(n, path, e, "attribute", n->str);
        break;
    default:
        break;
    }
    for (int i = 0; i < 4; i++)
        if (walk(n->k[i], path, e) < 0) return -1;
    for (int i = 0; i < n->n; i++)
        if (walk(n->list[i], path, e) < 0) return -1;
    return 0;
}

int ls_gate_check(const ls_node *module, const char *path, ls_error *e) {
    return walk(module, path, e);
}
