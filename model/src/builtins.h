/* builtins.h: the case language's builtin functions and methods.
 *
 * Each builtin is the asyncio (or Python) function of the same name; the
 * table gives its name and how many positional arguments it takes. */
#ifndef LS_BUILTINS_H
#define LS_BUILTINS_H

#include "profile.h"
#include "value.h"

/* X(id, name, min positional, max positional (-1: any)) */
#define LS_BUILTINS(X)                                                         \
    X(LOG, "log", 0, -1)                                                       \
    X(CREATE_TASK, "create_task", 1, 1)                                        \
    X(ENSURE_FUTURE, "ensure_future", 1, 1)                                    \
    X(SLEEP, "sleep", 0, 2)                                                    \
    X(SUSPEND, "suspend", 0, 0)                                                \
    X(CALL_SOON, "call_soon", 1, -1)                                           \
    X(CALL_LATER, "call_later", 2, -1)                                         \
    X(FUTURE, "Future", 0, 0)                                                  \
    X(CONTEXTVAR, "ContextVar", 1, 1)                                          \
    X(GATHER, "gather", 0, -1)                                                 \
    X(LEN, "len", 1, 1)                                                        \
    X(STR, "str", 0, 1)                                                        \
    X(REPR, "repr", 1, 1)                                                      \
    X(RANGE, "range", 1, 3)                                                    \
    X(LIST, "list", 0, 1)                                                      \
    X(SORTED, "sorted", 1, 1)                                                  \
    X(MIN, "min", 1, -1)                                                       \
    X(MAX, "max", 1, -1)                                                       \
    X(SUM, "sum", 1, 1)                                                        \
    X(ABS, "abs", 1, 1)                                                        \
    X(INT, "int", 0, 1)                                                        \
    X(ISINSTANCE, "isinstance", 2, 2)                                          \
    X(ISSUBCLASS, "issubclass", 2, 2)                                          \
    X(CURRENT_TASK, "current_task", 0, 0)                                      \
    X(ALL_TASKS, "all_tasks", 0, 0)                                            \
    X(LOOP_TIME, "time", 0, 0)                                                 \
    X(LOOP_CALL_AT, "call_at", 2, -1)                                          \
    X(COPY_CONTEXT, "copy_context", 0, 0)                                      \
    X(TYPE, "type", 1, 1)                                                      \
    X(ANEXT, "anext", 1, 2)                                                    \
    X(AITER, "aiter", 1, 1)                                                    \
    X(SOCKETPAIR, "socketpair", 0, 0)                                          \
    /* the prelude's own: */                                                   \
    X(NEW, "__new", 1, 1)                                                      \
    X(SINCE, "__since", 1, 1)                                                  \
    X(TIME, "__time", 0, 0)                                                    \
    X(CALL_AT, "__call_at", 2, -1)                                             \
    X(IS_COROUTINE, "__is_coroutine", 1, 1)                                    \
    X(IS_FUTURE, "__is_future", 1, 1)                                          \
    X(NEW_IN, "__new_in", 3, 3)                                                \
    X(ADD_IO, "__add_io", 4, 4)                                                \
    X(REMOVE_IO, "__remove_io", 2, 2)                                          \
    X(SLICE, "__slice", 3, 3)                                                  \
    X(FIND, "__find", 3, 3)                                                    \
    X(FILENO, "__fileno", 1, 1)

typedef enum ls_builtin {
#define LS_X(id, name, lo, hi) LS_B_##id,
    LS_BUILTINS(LS_X)
#undef LS_X
    LS_B__COUNT
} ls_builtin;

/* Names of the contract the model does not run yet (none left; the
 * table stays for the next extension of the contract). */
#define LS_NOT_YET(X)

/* What the prelude (prelude.aio) defines for case programs. */
#define LS_PRELUDE_PUBLIC(X)                                                   \
    X("Lock") X("Event") X("Condition") X("Semaphore") X("BoundedSemaphore")   \
    X("Queue") X("wait") X("wait_for") X("shield") X("timeout")                \
    X("TaskGroup") X("FIRST_COMPLETED") X("FIRST_EXCEPTION")                   \
    X("ALL_COMPLETED") X("timeout_at") X("as_completed") X("Barrier")          \
    X("LifoQueue") X("PriorityQueue") X("add_reader") X("add_writer")         \
    X("remove_reader") X("remove_writer") X("sock_recv") X("sock_sendall")     \
    X("open_stream")

/* Methods: X(id, name). */
#define LS_METHODS(X)                                                          \
    X(RESULT, "result") X(EXCEPTION, "exception") X(DONE, "done")              \
    X(CANCELLED, "cancelled") X(CANCEL, "cancel")                              \
    X(ADD_DONE_CALLBACK, "add_done_callback")                                  \
    X(REMOVE_DONE_CALLBACK, "remove_done_callback")                            \
    X(SET_RESULT, "set_result") X(SET_EXCEPTION, "set_exception")              \
    X(CANCELLING, "cancelling") X(UNCANCEL, "uncancel")                        \
    X(GET_NAME, "get_name") X(GET, "get") X(SET, "set") X(RESET, "reset")      \
    X(APPEND, "append") X(POP, "pop") X(EXTEND, "extend")                      \
    X(INSERT, "insert") X(REMOVE, "remove") X(INDEX, "index")                  \
    X(COUNT, "count") X(JOIN, "join") X(UPPER, "upper") X(LOWER, "lower")      \
    X(STARTSWITH, "startswith") X(ENDSWITH, "endswith") X(STRIP, "strip")      \
    X(SPLIT, "split")                                                          \
    X(ACQUIRE, "acquire") X(RELEASE, "release") X(LOCKED, "locked")            \
    X(WAIT, "wait") X(IS_SET, "is_set") X(CLEAR, "clear")                      \
    X(NOTIFY, "notify") X(NOTIFY_ALL, "notify_all") X(WAIT_FOR, "wait_for")    \
    X(PUT, "put") X(PUT_NOWAIT, "put_nowait") X(GET_NOWAIT, "get_nowait")      \
    X(QSIZE, "qsize") X(EMPTY, "empty") X(FULL, "full")                        \
    X(TASK_DONE, "task_done") X(CREATE_TASK, "create_task")                    \
    X(WHEN, "when") X(RESCHEDULE, "reschedule") X(EXPIRED, "expired")          \
    X(ON_TIMEOUT, "on_timeout") X(ON_TASK_DONE, "on_task_done")                \
    /* protocols: __aenter__, __aexit__, __call__ */                           \
    X(SET_NAME, "set_name") X(RUN, "run") X(ABORT, "abort")                    \
    X(SHUTDOWN, "shutdown")                                                    \
    /* protocols: __aenter__, __aexit__, __call__, __iter__ */                 \
    X(AENTER, "aenter") X(AEXIT, "aexit") X(CALL, "call") X(ITER, "iter")     \
    /* async for and await on a case class's objects: __aiter__, __anext__, \
     * __await__ */                                                            \
    X(AITER, "aiter") X(ANEXT, "anext") X(AWAIT, "await")                      \
    /* async generators */                                                     \
    X(ASEND, "asend") X(ATHROW, "athrow") X(ACLOSE, "aclose")                  \
    /* sockets and streams */                                                  \
    X(SEND, "send") X(RECV, "recv") X(CLOSE, "close") X(READ, "read")          \
    X(READLINE, "readline") X(READEXACTLY, "readexactly") X(AT_EOF, "at_eof")  \
    X(WRITE, "write") X(DRAIN, "drain") X(IS_CLOSING, "is_closing")            \
    X(WAIT_CLOSED, "wait_closed")                                              \
    /* IncompleteReadError's, read-only: */                                    \
    X(PARTIAL, "partial") X(EXPECTED, "expected")                              \
    /* read-only properties, read as obj.name: */                              \
    X(MAXSIZE, "maxsize") X(EXCEPTIONS, "exceptions") X(ARGS, "args")          \
    X(PARTIES, "parties") X(N_WAITING, "n_waiting") X(BROKEN, "broken")        \
    /* a type's name: only as type(x).__name__ (gate.c) */                     \
    X(DUNDER_NAME, "__name__")

typedef enum ls_method {
#define LS_X(id, name) LS_M_##id,
    LS_METHODS(LS_X)
#undef LS_X
    LS_M__COUNT
} ls_method;

extern const char *const ls_builtin_names[];
extern const char *const ls_method_names[];

int ls_builtin_lookup(const char *name);        /* -1 if none */
int ls_method_lookup(const char *name);         /* -1 if none */
bool ls_method_is_property(int id);
bool ls_builtin_not_yet(const char *name);
bool ls_prelude_public(const char *name);
int ls_exc_lookup(const char *name);            /* -1 if none */

/* Raises `type` for something the profile's CPython does not have yet:
 * "<message> (<what> is new in Python X.Y; profile P follows CPython
 * X.Y.Z)"; returns -1. */
int ls_new_in(ls_vm *vm, ls_exc_type type, ls_change c, const char *message);

/* Calls builtin id / method id (receiver args[0]). nkw trailing values of
 * args are keyword arguments named by kwnames. Returns 0 and the result,
 * or -1 with vm->exc set. */
int ls_builtin_call(ls_vm *vm, int id, ls_value *args, int nargs,
                    ls_value kwnames, ls_value *out);
int ls_method_call(ls_vm *vm, int id, ls_value *args, int nargs,
                   ls_value kwnames, ls_value *out);

#endif
