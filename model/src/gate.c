/* gate.c: the case language's identifiers, checked on the whole tree. */
#include "gate.h"

#include "builtins.h"

#include <stdlib.h>
#include <string.h>

/* Methods the prelude dispatches by name (its records' __aenter__,
 * __aexit__, __call__ and callbacks, the protocol methods of `async for`
 * and `await`) that case programs do not have. */
static const char *const prelude_only[] = {"aenter", "aexit", "call", "iter", "on_timeout",
                                           "on_task_done", "aiter", "anext", "await", NULL};

/* The protocol methods a case class may define: the language gives each a
 * meaning (`__init__` on construction, `async with`, `async for`, `await`,
 * str() and repr()); any other dunder is refused. */
static const char *const class_dunders[] = {"__init__", "__await__", "__aenter__", "__aexit__",
                                            "__aiter__", "__anext__", "__repr__", "__str__", NULL};

/* Names a program may not give its own attributes or methods, because on
 * the real interpreters the harness runs the program on, a program that
 * defines a name may read it on any object: these reach frames, code,
 * globals, the event loop or str.format's attribute lookups. Reviewed
 * against CPython's coroutine, generator, async generator, frame,
 * traceback, code, function, task, future, handle, loop, str and type
 * objects (3.11 to 3.15). */
static const char *const denied_prefixes[] = {"cr_", "gi_", "ag_", "f_", "tb_", "co_", "func_",
                                              "im_", "subprocess_", "sock_", NULL};
static const char *const denied_names[] = {
    "format", "format_map", "get_coro", "get_loop", "get_stack", "print_stack", "get_context",
    "run_in_executor", "set_default_executor", "shutdown_default_executor", "shutdown_asyncgens",
    "add_reader", "add_writer", "remove_reader", "remove_writer", "add_signal_handler",
    "remove_signal_handler", "getaddrinfo", "getnameinfo", "create_connection", "create_server",
    "create_datagram_endpoint", "create_unix_connection", "create_unix_server", "create_future",
    "connect_read_pipe", "connect_write_pipe", "connect_accepted_socket", "sendfile", "start_tls",
    "set_exception_handler", "get_exception_handler", "call_exception_handler",
    "default_exception_handler", "set_task_factory", "get_task_factory", "set_debug", "get_debug",
    "run_forever", "run_until_complete", "stop", "is_running", "is_closed", "call_soon_threadsafe",
    "mro", "register", "with_traceback", "replace", NULL};

static ls_name_index denied_index, dunders_index, prelude_only_index;

static bool in_list(ls_name_index *ix, const char *const *list, const char *name) {
    return ls_name_lookup(ix, list, -1, name) >= 0;
}

bool ls_gate_denied_attr(const char *name) {
    if (in_list(&denied_index, denied_names, name)) return true;
    for (int i = 0; denied_prefixes[i]; i++)
        if (strncmp(name, denied_prefixes[i], strlen(denied_prefixes[i])) == 0) return true;
    return false;
}

typedef struct gate {
    const char *path;
    ls_error *e;
    const char **attrs;    /* the attribute names the program defines */
    int nattrs;
} gate;

static int refuse(gate *g, const ls_node *n, const char *what, const char *name) {
    ls_error_at(g->e, g->path, n->line, n->col, "%s '%s' is not part of the case language", what,
                name);
    return -1;
}

/* An attribute or method name the program gives its own objects. */
static int define_attr(gate *g, const ls_node *n, const char *name, bool method) {
    bool dunder = method && name[0] == '_' && in_list(&dunders_index, class_dunders, name);
    if (name[0] == '_' && !dunder) {
        ls_error_at(g->e, g->path, n->line, n->col,
                    "attribute '%s' is not part of the case language: a program's own "
                    "attributes do not start with '_'%s",
                    name, method ? " (the protocol methods are __init__, __await__, __aenter__, "
                                   "__aexit__, __aiter__, __anext__, __repr__, __str__)" : "");
        return -1;
    }
    if (!dunder && (in_list(&prelude_only_index, prelude_only, name) || ls_gate_denied_attr(name))) {
        ls_error_at(g->e, g->path, n->line, n->col,
                    "attribute '%s' is not part of the case language: a program may not "
                    "define it (it names interpreter internals on real objects)",
                    name);
        return -1;
    }
    for (int i = 0; i < g->nattrs; i++)
        if (strcmp(g->attrs[i], name) == 0) return 0;
    g->attrs = ls_xrealloc(g->attrs, (size_t)(g->nattrs + 1) * sizeof *g->attrs);
    g->attrs[g->nattrs++] = name;
    return 0;
}

static bool defined(const gate *g, const char *name) {
    for (int i = 0; i < g->nattrs; i++)
        if (strcmp(g->attrs[i], name) == 0) return true;
    return false;
}

/* First pass: the names of class members and of assigned attributes. */
static int collect(gate *g, const ls_node *n) {
    if (!n) return 0;
    if (n->kind == LS_N_CLASS)
        for (int i = 0; i < n->n; i++) {
            const ls_node *m = n->list[i];
            if (m->kind == LS_N_FUNC && define_attr(g, m, m->str, true) < 0) return -1;
            if (m->kind == LS_N_ASSIGN && define_attr(g, m->k[0], m->k[0]->str, false) < 0)
                return -1;
        }
    if ((n->kind == LS_N_ASSIGN || n->kind == LS_N_AUGASSIGN) && n->k[0]->kind == LS_N_ATTR &&
        define_attr(g, n->k[0], n->k[0]->str, false) < 0)
        return -1;
    for (int i = 0; i < 4; i++)
        if (collect(g, n->k[i]) < 0) return -1;
    for (int i = 0; i < n->n; i++)
        if (collect(g, n->list[i]) < 0) return -1;
    return 0;
}

/* A name bound or read by the program: a Python name that starts with two
 * underscores is an interpreter's (__builtins__, __import__, __class__). */
static int check_name(gate *g, const ls_node *n, const char *name) {
    if (name && name[0] == '_' && name[1] == '_') return refuse(g, n, "name", name);
    return 0;
}

static int walk(gate *g, const ls_node *n, bool in_class) {
    if (!n) return 0;
    switch (n->kind) {
    case LS_N_FUNC:
        /* a method's name was checked by collect() */
        if (!in_class && check_name(g, n, n->str) < 0) return -1;
        break;
    case LS_N_NAME: case LS_N_KWARG: case LS_N_PARAM: case LS_N_EXCEPT: case LS_N_WITH:
    case LS_N_CLASS:
        if (check_name(g, n, n->str) < 0) return -1;
        break;
    case LS_N_ATTR:
        /* `type(x).__name__`: the one '_' attribute read, directly on what
         * the builtin type() returns (not through a variable). */
        if (strcmp(n->str, "__name__") == 0) {
            const ls_node *c = n->k[0];
            if (!(c && c->kind == LS_N_CALL && c->k[0] && c->k[0]->kind == LS_N_NAME &&
                  strcmp(c->k[0]->str, "type") == 0))
            {
                ls_error_at(g->e, g->path, n->line, n->col,
                            "attribute '__name__' is part of the case language only as "
                            "type(x).__name__");
                return -1;
            }
            break;
        }
        /* `super().__init__` and `super().m` for a protocol method `m` a
         * class of the program defines: read directly on super()'s result. */
        if (n->str[0] == '_' && in_list(&dunders_index, class_dunders, n->str) &&
            (strcmp(n->str, "__init__") == 0 || defined(g, n->str))) {
            const ls_node *c = n->k[0];
            if (c && c->kind == LS_N_CALL && c->n == 0 && c->k[0] && c->k[0]->kind == LS_N_NAME &&
                strcmp(c->k[0]->str, "super") == 0)
                break;
        }
        /* Every other attribute is a documented asyncio or Python one, or
         * one the program defines on its own classes: none starts with
         * '_', none is on the deny-list. */
        if (n->str[0] == '_') return refuse(g, n, "attribute", n->str);
        if (defined(g, n->str)) break;
        if (ls_method_lookup(n->str) < 0 || in_list(&prelude_only_index, prelude_only, n->str))
            return refuse(g, n, "attribute", n->str);
        break;
    default:
        break;
    }
    for (int i = 0; i < 4; i++)
        if (walk(g, n->k[i], false) < 0) return -1;
    for (int i = 0; i < n->n; i++)
        if (walk(g, n->list[i], n->kind == LS_N_CLASS) < 0) return -1;
    return 0;
}

int ls_gate_check(const ls_node *module, const char *path, ls_error *e) {
    gate g = {path, e, NULL, 0};
    int rc = collect(&g, module);
    if (rc == 0) rc = walk(&g, module, false);
    free(g.attrs);
    return rc;
}
