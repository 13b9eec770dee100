/* vm.h: the runtime (one per case run) and the bytecode interpreter.
 *
 * A coroutine is a frame. `await coro` links the callee below the caller
 * and goes on in the same interpreter loop: the loop is not touched. A
 * suspension (a bare yield, a pending future) returns from ls_vm_exec to
 * the task step with the innermost frame, as CPython's send/yield-from
 * chain returns to Task.__step. */
#ifndef LS_VM_H
#define LS_VM_H

#include "compile.h"
#include "profile.h"
#include "heap.h"
#include "queue.h"

#define LS_MAX_NESTED_EXEC 200   /* eager starts inside eager starts */

/* Handle kinds: what a ready-queue or timer entry runs. */
enum {
    LS_H_STEP,        /* Task.__step(a = task, b = exception or None) */
    LS_H_WAKEUP,      /* Task.__wakeup(a = task, b = future) */
    LS_H_GATHER,      /* gather's _done_callback(a = gather, b = child) */
    LS_H_USER,        /* a(*b) with b a tuple: call_soon, call_later, done
                         callbacks */
    LS_H_STOP,        /* run_until_complete's _run_until_complete_cb */
    LS_H_SET_RESULT,  /* futures._set_result_unless_cancelled(a, b) */
    LS_H_DONE,        /* a user done callback: a(b), b the future */
};

/* Why a handle was scheduled, kept for explanations. */
enum {
    LS_WHY_NONE, LS_WHY_RUNNER, LS_WHY_CREATE_TASK, LS_WHY_YIELD, LS_WHY_SELF_AWAIT,
    LS_WHY_DONE, LS_WHY_CALL_SOON, LS_WHY_CALL_LATER, LS_WHY_SLEEP,
    LS_WHY_ADD_READER, LS_WHY_ADD_WRITER,
    LS_WHY_POLL,      /* made ready by the poll: origin.future is the socket's
                         number, origin.done_task 1 for a writer */
};

typedef struct ls_origin {
    uint64_t iter;             /* the iteration that scheduled it (0: before) */
    int64_t task;              /* the task running then, or 0 */
    int line;                  /* the source line then, or 0 */
    uint8_t why;
    uint32_t future;           /* LS_WHY_DONE: the future that completed */
    int64_t done_task;         /* ... when it is a task, its id */
} ls_origin;

struct ls_handle {
    uint8_t kind, cancelled, timer;
    uint32_t refs;             /* queue or heap, and a user-visible object */
    ls_origin *origin;         /* where it was scheduled: made only when
                                  explaining (explain.c), kept for reuse */
    ls_obj *ctx;               /* Context it runs in, or NULL */
    ls_value a, b;
    double when;
    uint64_t seq;
    ls_handle *next_free;
};

/* A registered socket: selectors' SelectorKey, whose data is the pair
 * (reader, writer) of handles (io.c). */
typedef struct ls_selkey {
    ls_sock *sock;
    ls_handle *h[2];           /* reader, writer: NULL when none */
} ls_selkey;

typedef struct ls_selector {
    ls_selkey *keys;           /* in the order the sockets were registered */
    int n, cap;
    ls_sock **socks;           /* the sockets made in this run, by number - 3 */
    int nsocks;
} ls_selector;

typedef struct ls_loop {
    ls_queue ready;
    ls_heap timers;
    double now;                /* virtual clock, seconds */
    uint64_t seq;
    bool stopping, running;
    ls_task *pending_head, *pending_tail;   /* registered, not done */
    ls_task *current;
    int64_t next_task_id;
    uint64_t iterations;
    ls_handle *free_handles;
    ls_selector sel;
} ls_loop;

typedef enum ls_exec {
    LS_EXEC_RETURN,   /* the base frame returned *out */
    LS_EXEC_RAISE,    /* the base frame raised *out */
    LS_EXEC_YIELD,    /* suspended on *out (a future, or None) */
    LS_EXEC_ABORT,    /* the run cannot go on: vm->err says why */
} ls_exec;

struct ls_vm {
    const ls_program *prog;
    int profile;
    uint64_t changes_used;     /* bit per LS_CHANGES row this run consulted */
    ls_value *globals;
    ls_loop loop;
    ls_obj *ctx;               /* the Context running now */
    ls_obj *root_ctx;          /* the runner's, current between handles */
    ls_value kwnames;          /* keyword names of the next call */
    ls_exc *exc;               /* raised by a builtin (return -1) */
    ls_frame *yield_top;       /* innermost frame of the last yield */
    int depth;                 /* nested ls_vm_exec */
    /* collector */
    ls_obj *objects;
    size_t bytes, threshold;
    ls_obj **gray;
    size_t ngray, capgray;
    ls_obj *free_objs[LS_SIZE_CLASSES];
    void *slabs;               /* the blocks small objects and handles are carved from */
    char *slab_cur;
    size_t slab_left;
    bool gc_ready;             /* the loop runs: roots are all known */
    bool gc_stress;            /* collect at every safe point (tests) */
    bool wrapping;             /* ensure_future wraps an awaitable */
    ls_handle *running;        /* the handle being run */
    ls_future *until;          /* what run_until_complete waits for */
    /* the loop's _asyncgens: async generators its firstiter hook saw. A
     * WeakSet in CPython, whose finalizer hook closes a generator dropped
     * early; the model keeps them all until shutdown_asyncgens. */
    ls_list *asyncgens;
    /* trace */
    char **trace;
    int ntrace, captrace;
    bool echo;                 /* print each line as it is logged */
    /* limits and fatal errors */
    uint64_t steps, max_steps;
    size_t max_bytes;          /* memory budget: live bytes after a collection */
    size_t max_trace_lines, max_trace_bytes, trace_bytes;
    ls_error err;
    uint64_t var_ids;
    ls_task *main_task;
    ls_task *eager_running[LS_MAX_NESTED_EXEC + 1];   /* in their eager first step */
    int neager;
    uint32_t future_ids;
    /* explanations (loopspec-model run --explain) */
    int explain;               /* LS_EXPLAIN_* */
    ls_buf explain_out;
    ls_frame *cur_frame;       /* the frame calling a builtin, for its line */
    int explain_depth;
    ls_handle **polled;        /* what this iteration's poll made ready */
    int npolled, cappolled;
    /* The frame pool (vm.c): frames that cannot outlive their call (a
     * plain `def`'s, and a coroutine's that `await f(...)` awaits as it
     * is made) are taken from here and given back when they end, while
     * still hot in the cache, instead of waiting for the collector. */
    ls_frame *frame_pool[LS_SIZE_CLASSES];
    bool direct_await;         /* the call being made is awaited at once */
    ls_frame **pool_all;       /* every pooled frame's memory, freed at the end */
    int npool_all, cappool_all;
    ls_obj **pool_marked;      /* pooled frames the running collection marked */
    size_t npool_marked, cappool_marked;
    ls_frame *ghost;           /* what cur_frame read of a frame given back */
    /* The fuzzer's fitness summary (serve's "fitness": true): what it
     * would otherwise read from every explanation event. */
    bool fitness;
    double *deadlines;         /* every timer's deadline, as scheduled */
    int ndeadlines, capdeadlines;
    int leftovers;             /* tasks asyncio.run cancelled after main */
};

/* Whether the run's profile has change c; notes that the run depended on
 * it, so a report can name the CPython change behind a version difference. */
static inline bool ls_vm_since(ls_vm *vm, ls_change c) {
    vm->changes_used |= (uint64_t)1 << c;
    return ls_since(vm->profile, c);
}

/* Sets up a runtime for prog under a profile; runs the module init.
 * Returns 0, or -1 with vm->err set. */
int ls_vm_init(ls_vm *vm, const ls_program *prog, int profile);
void ls_vm_free(ls_vm *vm);

ls_frame *ls_frame_new(ls_vm *vm, const ls_proto *p);
/* Frees the frame pool's memory (the collector's ls_gc_free_all). */
void ls_frame_pool_free(ls_vm *vm);
/* Binds call arguments to a new frame's parameters; -1: TypeError. */
int ls_vm_bind(ls_vm *vm, const ls_proto *p, ls_frame *fr, ls_value *args,
               int nargs, ls_value kwnames);
/* Runs frame f (resuming it, or throwing exc into it) and whatever it
 * calls or awaits, until the chain's base frame finishes or suspends. */
ls_exec ls_vm_exec(ls_vm *vm, ls_frame *f, ls_exc *exc, ls_value *out);
/* Calls a callable to completion from C (loop callbacks). 0, or -1 with
 * vm->exc (an exception) or vm->err (abort) set. */
int ls_vm_call(ls_vm *vm, ls_value fn, ls_value *args, int nargs, ls_value *out);
/* Appends str(v) or repr(v), calling a case class's __str__ or __repr__
 * (also for the items of a list or tuple). 0, or -1 with vm->exc set. */
int ls_vm_str(ls_vm *vm, ls_buf *b, ls_value v, bool repr);
/* Sets vm->exc to a new exception; returns -1. */
int ls_vm_raise(ls_vm *vm, ls_exc_type type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends a trace line; -1 with vm->err set when the trace limit is
 * exceeded (the run stops: no program may catch it). */
int ls_vm_log(ls_vm *vm, const char *line, size_t n);
/* Python's ordering of two values (numbers, strings, lists, tuples):
 * <0, 0 or >0 in *r; -1 and a TypeError naming sym if they do not order. */
int ls_order(ls_vm *vm, const char *sym, ls_value a, ls_value b, int *r);

#endif
