/* value.h: values and heap objects of the model, and their collector.
 *
 * A value is 16 bytes: a tag and an immediate or an object pointer.
 * Objects carry a small header and live on one list; the collector is a
 * mark-and-sweep run only between loop handles, when every live object
 * is reachable from the loop, the tasks and the globals, so no C stack
 * scanning is needed. O(live) to mark, O(allocated) to sweep. */
#ifndef LS_VALUE_H
#define LS_VALUE_H

#include "common.h"

typedef struct ls_vm ls_vm;
typedef struct ls_obj ls_obj;
typedef struct ls_proto ls_proto;
typedef struct ls_handle ls_handle;

/* Immediate tags; aux holds a builtin, method or exception type id. */
typedef enum ls_tag {
    LS_V_UNBOUND,   /* an unset local */
    LS_V_NONE,
    LS_V_BOOL,
    LS_V_INT,
    LS_V_FLOAT,
    LS_V_FUNC,      /* i: index of a user function's proto */
    LS_V_BUILTIN,   /* aux: ls_builtin id */
    LS_V_METHOD,    /* aux: ls_method id (receiver follows on the stack) */
    LS_V_EXCTYPE,   /* aux: ls_exc_type id */
    LS_V_OBJ,
} ls_tag;

typedef struct ls_value {
    uint32_t tag;
    uint32_t aux;
    union {
        int64_t i;
        double f;
        ls_obj *o;
    } u;
} ls_value;

/* Object kinds: X(name, python type name). */
#define LS_OBJECTS(X)                                                          \
    X(STR, "str") X(LIST, "list") X(TUPLE, "tuple") X(RANGE, "range")          \
    X(ITER, "iterator") X(EXC, "exception") X(FRAME, "coroutine")              \
    X(FUTURE, "Future") X(TASK, "Task") X(GATHER, "_GatheringFuture")          \
    X(SLEEP, "coroutine") X(SUSPEND, "generator") X(HANDLE, "Handle")          \
    X(CTXVAR, "ContextVar") X(CTX, "Context") X(CTXMAP, "hamt")                \
    X(TOKEN, "Token") X(BOUND, "method") X(RECORD, "object") X(TYPE, "type")  \
    X(CLASS, "type") X(INSTANCE, "object") X(AGEN, "async_generator")          \
    X(AGENOP, "async_generator_asend") X(SOCK, "socket")

typedef enum ls_okind {
#define LS_X(n, py) LS_O_##n,
    LS_OBJECTS(LS_X)
#undef LS_X
    LS_O__COUNT
} ls_okind;

#define LS_OBJ_PERM 1   /* owned by the program (constants): never swept */
#define LS_OBJ_POOLED 2 /* a frame from the frame pool (vm.c): not on the
                           collector's list; back to the pool when it ends */

struct ls_obj {
    ls_obj *gcnext;
    uint8_t kind, mark, flags;
    uint8_t sizeclass;         /* free-list class, 0: malloc'd */
};

/* Objects up to LS_SMALL_MAX bytes come from per-size free lists refilled
 * by the collector's sweep: O(1) allocation, no malloc on hot paths. */
#define LS_SMALL_MAX 1024
#define LS_SIZE_CLASSES (LS_SMALL_MAX / 16 + 1)

/* Exception types: X(id, name, parent id). */
#define LS_EXCEPTIONS(X)                                                       \
    X(BASE, "BaseException", BASE)                                             \
    X(EXCEPTION, "Exception", BASE)                                            \
    X(CANCELLED, "CancelledError", BASE)                                       \
    X(ERROR, "Error", EXCEPTION)                                               \
    X(RUNTIME, "RuntimeError", EXCEPTION)                                      \
    X(RECURSION, "RecursionError", RUNTIME)                                    \
    X(OSERROR, "OSError", EXCEPTION)                                           \
    X(TIMEOUT, "TimeoutError", OSERROR)                                        \
    X(BLOCKING_IO, "BlockingIOError", OSERROR)                                 \
    X(CONNECTION, "ConnectionError", OSERROR)                                  \
    X(BROKEN_PIPE, "BrokenPipeError", CONNECTION)                              \
    X(CONNECTION_RESET, "ConnectionResetError", CONNECTION)                    \
    X(EOF, "EOFError", EXCEPTION)                                              \
    X(INCOMPLETE_READ, "IncompleteReadError", EOF)                             \
    X(INVALID_STATE, "InvalidStateError", EXCEPTION)                           \
    X(TYPE, "TypeError", EXCEPTION)                                            \
    X(VALUE, "ValueError", EXCEPTION)                                          \
    X(ARITH, "ArithmeticError", EXCEPTION)                                     \
    X(ZERO_DIV, "ZeroDivisionError", ARITH)                                    \
    X(OVERFLOW, "OverflowError", ARITH)                                        \
    X(LOOKUP, "LookupError", EXCEPTION)                                        \
    X(INDEX, "IndexError", LOOKUP)                                             \
    X(KEY, "KeyError", LOOKUP)                                                 \
    X(NAME, "NameError", EXCEPTION)                                            \
    X(UNBOUND_LOCAL, "UnboundLocalError", NAME)                                \
    X(ATTRIBUTE, "AttributeError", EXCEPTION)                                  \
    X(NOT_IMPLEMENTED, "NotImplementedError", RUNTIME)                          \
    X(QUEUE_FULL, "QueueFull", EXCEPTION)                                      \
    X(QUEUE_EMPTY, "QueueEmpty", EXCEPTION)                                    \
    X(QUEUE_SHUT_DOWN, "QueueShutDown", EXCEPTION) /* 3.13+ */                 \
    X(BROKEN_BARRIER, "BrokenBarrierError", RUNTIME)                           \
    X(BASE_GROUP, "BaseExceptionGroup", BASE)                                  \
    X(STOP_ASYNC_ITERATION, "StopAsyncIteration", EXCEPTION)                   \
    X(GENERATOR_EXIT, "GeneratorExit", BASE)                                   \
    X(GROUP, "ExceptionGroup", EXCEPTION) /* and a BaseExceptionGroup */

typedef enum ls_exc_type {
#define LS_X(id, name, parent) LS_E_##id,
    LS_EXCEPTIONS(LS_X)
#undef LS_X
    LS_E__COUNT
} ls_exc_type;

typedef struct ls_str {
    ls_obj hdr;
    uint32_t len;
    char s[];          /* NUL-terminated */
} ls_str;

typedef struct ls_list {   /* also tuples */
    ls_obj hdr;
    int32_t n, cap;
    ls_value *v;
} ls_list;

typedef struct ls_range {
    ls_obj hdr;
    int64_t start, stop, step;
} ls_range;

typedef struct ls_iter {
    ls_obj hdr;
    ls_value src;
    int64_t i;
} ls_iter;

/* An attribute of a record, an instance or a class: a field id (the
 * program's table of attribute names) and its value. */
struct ls_field { uint32_t id; ls_value v; };

typedef struct ls_fields {
    uint16_t n, cap;
    struct ls_field *f;
} ls_fields;

/* The value of attribute id, or NULL. */
ls_value *ls_fields_find(const ls_fields *fs, uint32_t id);
void ls_fields_set(ls_fields *fs, uint32_t id, ls_value v);

typedef struct ls_class ls_class;

typedef struct ls_exc {
    ls_obj hdr;
    uint32_t type;     /* the builtin type, or a case class's builtin base */
    ls_value args;     /* a tuple */
    ls_class *cls;     /* the case class of the exception, or NULL */
    ls_fields attrs;   /* attributes the program set on it */
} ls_exc;

#define LS_NO_EXC UINT32_MAX

/* IncompleteReadError's attributes `partial` and `expected`, kept among
 * the exception's fields under ids no program attribute has. */
#define LS_FIELD_PARTIAL (UINT32_MAX - 1)
#define LS_FIELD_EXPECTED (UINT32_MAX - 2)

/* A `class` of a case program: its methods and class attributes, and its
 * base (a case class, or an exception type when exc_base is set). */
struct ls_class {
    ls_obj hdr;
    const char *name;
    ls_class *base;
    uint32_t exc_base;         /* builtin exception type it derives from, or LS_NO_EXC */
    ls_fields attrs;
};

typedef struct ls_instance {   /* an instance of a case class (not an exception) */
    ls_obj hdr;
    ls_class *cls;
    ls_fields attrs;
} ls_instance;

/* A try handler: where to jump and the stack depth to restore. */
typedef struct ls_block {
    uint32_t handler;
    uint32_t depth;
} ls_block;

enum { LS_FRAME_CREATED, LS_FRAME_RUNNING, LS_FRAME_SUSPENDED, LS_FRAME_DONE };

/* A call of a user function. For an `async def` it is the coroutine
 * object itself: created by the call, run by `await` or a task. */
typedef struct ls_frame {
    ls_obj hdr;
    const ls_proto *proto;
    struct ls_frame *caller;   /* resumed when this frame returns */
    struct ls_frame *callee;   /* the frame this one awaits or calls */
    ls_value waiting;          /* what the suspended frame waits on */
    uint32_t pc;
    uint16_t sp;               /* stack depth, above the locals */
    uint16_t depth;            /* frames below it in its chain */
    uint8_t state, nblock;
    uint8_t wait_value;        /* resuming pushes `waiting` itself */
    uint8_t init_self;         /* an __init__ call: returning gives `waiting`, the new object */
    ls_obj *owner;             /* an async generator's frame: the generator */
    ls_value slots[];          /* locals, stack, then ls_block[maxblock] */
} ls_frame;

enum { LS_FUT_PENDING, LS_FUT_FINISHED, LS_FUT_CANCELLED };

/* Done-callback kinds, each run as a loop handle. */
enum {
    LS_CB_USER,       /* fn(fut) in the context captured when added */
    LS_CB_WAKEUP,     /* Task.__wakeup of `obj` */
    LS_CB_GATHER,     /* gather's _done_callback of `obj` */
    LS_CB_STOP,       /* run_until_complete's stop */
};

typedef struct ls_callback {
    uint8_t kind;
    ls_value fn;      /* LS_CB_USER */
    ls_obj *obj;      /* task or gather; context for LS_CB_USER */
} ls_callback;

typedef struct ls_future {
    ls_obj hdr;
    uint8_t state;
    uint8_t log_tb;
    uint32_t id;               /* creation order, to name it in explanations */
    ls_value result;
    ls_obj *exc;               /* the exception, or a CancelledError kept */
    ls_value cancel_msg;
    ls_callback *cb;           /* &cb1 while there is at most one */
    int32_t ncb, capcb;
    ls_callback cb1;
    ls_handle *timer;          /* sleep's timer: cancelled on throw */
} ls_future;

typedef struct ls_task {
    ls_future f;
    ls_frame *coro;            /* outermost frame */
    ls_frame *top;             /* innermost suspended frame, or NULL */
    ls_obj *ctx;               /* the task's Context */
    ls_future *fut_waiter;
    struct ls_task *prev, *next;   /* pending-task list */
    int64_t id;                /* Task-<id> */
    ls_value name;             /* set_name()'s, or UNBOUND: Task-<id> */
    int32_t num_cancels;
    uint8_t must_cancel, registered;
    uint8_t made;              /* by create_task, ensure_future or gather (not a runner's) */
} ls_task;

typedef struct ls_gather {
    ls_future f;
    ls_value children;         /* list of futures */
    int32_t nfuts, nfinished;
    uint8_t return_exceptions, cancel_requested;
} ls_gather;

typedef struct ls_sleep {      /* sleep(delay, result) not yet awaited */
    ls_obj hdr;
    double delay;
    ls_value result;
    uint8_t used;
} ls_sleep;

typedef struct ls_suspend {    /* suspend(): a bare yield */
    ls_obj hdr;
    uint8_t used;
} ls_suspend;

typedef struct ls_bound {     /* obj.method, not called yet */
    ls_obj hdr;
    ls_value self;
    uint32_t method;           /* LS_BOUND_FUNC: a case class's method, fn */
    ls_value fn;
} ls_bound;

#define LS_BOUND_FUNC UINT32_MAX

/* Operations of an async generator, each an awaitable object. */
enum { LS_AG_SEND, LS_AG_THROW, LS_AG_CLOSE };

typedef struct ls_agen {      /* what calling an `async def` with `yield` gives */
    ls_obj hdr;
    ls_frame *frame;
    uint8_t hooked;            /* the loop's firstiter hook has seen it */
    uint8_t op;                /* the operation running in it now */
    uint8_t closed;            /* CPython's ag_closed: an aclose() has started */
} ls_agen;

typedef struct ls_agenop {    /* asend(), athrow(), aclose(), __anext__() */
    ls_obj hdr;
    ls_agen *gen;
    ls_value value;            /* the value sent, or the exception thrown */
    uint8_t op, used;
} ls_agenop;

#define LS_RECORD_PLAIN UINT16_MAX   /* a record whose class has no methods */

typedef struct ls_record {     /* a prelude object: class and fields */
    ls_obj hdr;
    const char *clsname;
    uint16_t cls;
    uint16_t n, cap;
    struct ls_field *f;
} ls_record;

typedef struct ls_sock {      /* one end of a socketpair() (io.c) */
    ls_obj hdr;
    struct ls_sock *peer;      /* the other end, until either is closed */
    int32_t fd;                /* a number to name it by, from 3 */
    uint8_t closed;            /* close() was called on this end */
    uint8_t eof;               /* the peer is closed: the end of the stream after rx */
    uint8_t reset;             /* ECONNRESET pending: the peer closed with data unread */
    char *rx;                  /* bytes received, not yet read: rx[rxoff..rxlen) */
    size_t rxoff, rxlen, rxcap;
} ls_sock;

typedef struct ls_handle_obj { /* what call_soon / call_later return */
    ls_obj hdr;
    ls_handle *h;
} ls_handle_obj;

typedef struct ls_ctxvar {
    ls_obj hdr;
    ls_value name, dflt;       /* dflt UNBOUND when there is none */
    uint64_t id;
} ls_ctxvar;

typedef struct ls_ctxmap {     /* immutable: set() builds a new one */
    ls_obj hdr;
    int32_t n;
    struct { ls_ctxvar *var; ls_value v; } e[];
} ls_ctxmap;

typedef struct ls_ctx {
    ls_obj hdr;
    ls_ctxmap *map;            /* NULL: empty */
    uint32_t entered;          /* running: Context.run refuses to re-enter */
} ls_ctx;

typedef struct ls_type {       /* what type(x) returns: interned, permanent */
    ls_obj hdr;
    const char *name;
} ls_type;

typedef struct ls_cvtoken {
    ls_obj hdr;
    ls_ctxvar *var;
    ls_ctx *ctx;
    ls_value old;              /* UNBOUND: the var had no value */
    uint8_t used;
} ls_cvtoken;

/* ---- constructors ---- */
static inline ls_value ls_none(void) { ls_value v = {LS_V_NONE, 0, {0}}; return v; }
static inline ls_value ls_unbound(void) { ls_value v = {LS_V_UNBOUND, 0, {0}}; return v; }
static inline ls_value ls_bool(bool b) { ls_value v = {LS_V_BOOL, 0, {.i = b}}; return v; }
static inline ls_value ls_int(int64_t i) { ls_value v = {LS_V_INT, 0, {.i = i}}; return v; }
static inline ls_value ls_float(double f) { ls_value v = {LS_V_FLOAT, 0, {.f = f}}; return v; }
static inline ls_value ls_obj_val(void *o) { ls_value v = {LS_V_OBJ, 0, {.o = (ls_obj *)o}}; return v; }
static inline ls_value ls_tagged(ls_tag t, uint32_t aux) { ls_value v = {t, aux, {0}}; return v; }
static inline bool ls_is(ls_value v, ls_okind k) { return v.tag == LS_V_OBJ && v.u.o->kind == k; }
static inline bool ls_is_future(ls_value v) {
    return v.tag == LS_V_OBJ && (v.u.o->kind == LS_O_FUTURE || v.u.o->kind == LS_O_TASK ||
                                 v.u.o->kind == LS_O_GATHER);
}

void *ls_alloc(ls_vm *vm, ls_okind kind, size_t size);
/* `bytes` (a multiple of 16) carved from the run's blocks, never freed
 * alone: the blocks go when the run ends (ls_slabs_free). LS_SLABS is 0
 * under AddressSanitizer, where each is malloc'd so a use after it is
 * given back is reported. */
void *ls_slab_take(ls_vm *vm, size_t bytes);
void ls_slabs_free(ls_vm *vm);
#if defined(__SANITIZE_ADDRESS__) || defined(LS_GC_DEBUG)
#define LS_SLABS 0
#else
#define LS_SLABS 1
#endif
ls_value ls_str_new(ls_vm *vm, const char *s, size_t n);
ls_value ls_str_cstr(ls_vm *vm, const char *s);
ls_str *ls_str_perm(const char *s, size_t n);     /* a constant */
ls_list *ls_list_new(ls_vm *vm, ls_okind kind, int cap);
void ls_list_push(ls_list *l, ls_value v);
ls_exc *ls_exc_new(ls_vm *vm, ls_exc_type type, const char *msg);
ls_exc *ls_exc_newv(ls_vm *vm, ls_exc_type type, ls_value *args, int n);

/* ---- operations ---- */
const char *ls_exc_name(uint32_t type);
bool ls_exc_subclass(uint32_t type, uint32_t parent);
const char *ls_type_name(ls_value v);
/* type(v): an exception's class, or the interned type object of a name. */
ls_value ls_type_of(ls_value v);
ls_value ls_type_named(const char *name);
/* type(v): an exception's class, or an interned type object. */
ls_value ls_type_of(ls_value v);
bool ls_truthy(ls_value v);
int64_t ls_range_len(const ls_range *r);
bool ls_equal(ls_value a, ls_value b);
bool ls_identical(ls_value a, ls_value b);
/* Appends Python's str(v) or repr(v). */
void ls_str_of(ls_buf *b, ls_value v, bool repr);

/* ---- collector ---- */
void ls_gc_mark_value(ls_vm *vm, ls_value v);
void ls_gc_mark_obj(ls_vm *vm, ls_obj *o);
void ls_gc_mark_handle(ls_vm *vm, ls_handle *h);
/* Collects; `active` is the running frame (its chain is a root). */
void ls_gc_collect(ls_vm *vm, ls_obj *active);
/* ls_gc_collect, then false with vm->err set (at path:line) when what is
 * live exceeds vm->max_bytes. */
bool ls_gc_collect_checked(ls_vm *vm, ls_obj *active, const char *path, int line);
void ls_gc_free_all(ls_vm *vm);

#endif
