/* loop.c: BaseEventLoop._run_once, Future, Task, gather and asyncio.run,
 * after CPython's base_events.py, futures.py, tasks.py and runners.py. */
#include "loop.h"
#include "io.h"

#include "ctx.h"
#include "explain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- handles ---- */

ls_handle *ls_handle_new(ls_vm *vm, int kind, ls_value a, ls_value b, ls_obj *ctx) {
    ls_loop *L = &vm->loop;
    ls_handle *h = L->free_handles;
    if (h) {
        L->free_handles = h->next_free;
    } else {
        h = ls_slab_take(vm, (sizeof *h + 15) & ~(size_t)15);
        h->origin = NULL;
    }
    h->kind = (uint8_t)kind;
    h->cancelled = h->timer = 0;
    h->when = 0;
    h->seq = 0;
    h->next_free = NULL;
    if (h->origin) h->origin->why = LS_WHY_NONE;
    h->refs = 1;
    h->a = a;
    h->b = b;
    h->ctx = ctx;
    return h;
}

ls_value ls_handle_wrap(ls_vm *vm, ls_handle *h) {
    ls_handle_obj *o = ls_alloc(vm, LS_O_HANDLE, sizeof *o);
    o->h = h;
    h->refs++;
    return ls_obj_val(o);
}

void ls_handle_release(ls_vm *vm, ls_handle *h) {
    if (--h->refs) return;
    h->next_free = vm->loop.free_handles;
    vm->loop.free_handles = h;
}

ls_handle *ls_call_soon(ls_vm *vm, int kind, ls_value a, ls_value b, ls_obj *ctx) {
    ls_handle *h = ls_handle_new(vm, kind, a, b, ctx);
    ls_queue_push(&vm->loop.ready, h);
    return h;
}

/* BaseEventLoop.call_at: a TimerHandle on the heap. */
ls_handle *ls_call_at(ls_vm *vm, double when, int kind, ls_value a, ls_value b, ls_obj *ctx) {
    ls_loop *L = &vm->loop;
    ls_handle *h = ls_handle_new(vm, kind, a, b, ctx);
    h->timer = 1;
    h->when = when;
    h->seq = ++L->seq;
    ls_heap_push(&L->timers, h->when, h->seq, h);
    return h;
}

/* call_later: call_at(self.time() + delay). */
ls_handle *ls_call_later(ls_vm *vm, double delay, int kind, ls_value a, ls_value b,
                         ls_obj *ctx) {
    return ls_call_at(vm, vm->loop.now + delay, kind, a, b, ctx);
}

void ls_handle_cancel(ls_vm *vm, ls_handle *h) {
    (void)vm;
    h->cancelled = 1;
}

void ls_loop_init(ls_vm *vm) {
    memset(&vm->loop, 0, sizeof vm->loop);
}

void ls_loop_free(ls_vm *vm) {
    ls_loop *L = &vm->loop;
    ls_handle *h;
    while ((h = ls_queue_pop(&L->ready))) ls_handle_release(vm, h);
    ls_io_free(vm);
    ls_heap_item it;
    while (ls_heap_pop(&L->timers, &it)) ls_handle_release(vm, it.h);
    /* Handles still held by objects go back when those are freed; the
     * collector frees every object before the free list goes. */
    ls_gc_free_all(vm);
    while (!LS_SLABS && (h = L->free_handles)) {
        L->free_handles = h->next_free;
        free(h->origin);
        free(h);
    }
    L->free_handles = NULL;
    ls_slabs_free(vm);   /* last: the handles were carved from them too */
    ls_queue_free(&L->ready);
    ls_heap_free(&L->timers);
}

/* ---- tasks registry ---- */

static void register_task(ls_vm *vm, ls_task *t) {
    ls_loop *L = &vm->loop;
    t->registered = 1;
    t->prev = L->pending_tail;
    t->next = NULL;
    if (L->pending_tail) L->pending_tail->next = t;
    else L->pending_head = t;
    L->pending_tail = t;
}

static void unregister_task(ls_vm *vm, ls_task *t) {
    ls_loop *L = &vm->loop;
    if (!t->registered) return;
    t->registered = 0;
    if (t->prev) t->prev->next = t->next;
    else L->pending_head = t->next;
    if (t->next) t->next->prev = t->prev;
    else L->pending_tail = t->prev;
    t->prev = t->next = NULL;
}

/* ---- futures ---- */

static void future_init(ls_vm *vm, ls_future *f) {
    f->id = ++vm->future_ids;
    f->cb = &f->cb1;   /* one callback needs no allocation: the common case */
    f->capcb = 1;
    f->state = LS_FUT_PENDING;
    f->result = ls_none();
    f->cancel_msg = ls_none();
}

ls_future *ls_future_new(ls_vm *vm) {
    ls_future *f = ls_alloc(vm, LS_O_FUTURE, sizeof *f);
    future_init(vm, f);
    return f;
}

static void schedule_one(ls_vm *vm, ls_future *f, const ls_callback *cb) {
    ls_value self = ls_obj_val(f);
    ls_handle *h = NULL;
    switch (cb->kind) {
    case LS_CB_USER: h = ls_call_soon(vm, LS_H_DONE, cb->fn, self, cb->obj); break;
    case LS_CB_WAKEUP:
        h = ls_call_soon(vm, LS_H_WAKEUP, ls_obj_val(cb->obj), self, ((ls_task *)cb->obj)->ctx);
        break;
    case LS_CB_GATHER: h = ls_call_soon(vm, LS_H_GATHER, ls_obj_val(cb->obj), self, NULL); break;
    case LS_CB_STOP: h = ls_call_soon(vm, LS_H_STOP, ls_none(), ls_none(), NULL); break;
    }
    ls_explain_origin(vm, h, LS_WHY_DONE, f);
}

/* __schedule_callbacks: each callback through call_soon, in order. */
static void schedule_callbacks(ls_vm *vm, ls_future *f) {
    int n = f->ncb;
    if (f->cb == &f->cb1) {
        ls_callback one = f->cb1;
        f->ncb = 0;
        if (n) schedule_one(vm, f, &one);
        return;
    }
    ls_callback *cb = f->cb;
    f->cb = &f->cb1;
    f->ncb = 0;
    f->capcb = 1;
    for (int i = 0; i < n; i++) schedule_one(vm, f, &cb[i]);
    free(cb);
}

void ls_future_add_callback(ls_vm *vm, ls_future *f, ls_callback cb) {
    if (f->state != LS_FUT_PENDING) {
        schedule_one(vm, f, &cb);   /* a done future schedules it at once */
        return;
    }
    if (f->ncb == f->capcb) {
        int cap = f->capcb * 4;
        ls_callback *v = ls_xmalloc((size_t)cap * sizeof *v);
        memcpy(v, f->cb, (size_t)f->ncb * sizeof *v);
        if (f->cb != &f->cb1) free(f->cb);
        f->cb = v;
        f->capcb = cap;
    }
    f->cb[f->ncb++] = cb;
}

int ls_future_remove_callback(ls_vm *vm, ls_future *f, ls_value fn) {
    (void)vm;
    int k = 0, removed = 0;
    for (int i = 0; i < f->ncb; i++) {
        if (f->cb[i].kind == LS_CB_USER && ls_equal(f->cb[i].fn, fn)) removed++;
        else f->cb[k++] = f->cb[i];
    }
    f->ncb = k;
    return removed;
}

static void describe(ls_buf *b, ls_future *f) {
    static const char *states[] = {"PENDING", "FINISHED", "CANCELLED"};
    ls_buf_printf(b, "%s: ", states[f->state]);
    ls_str_of(b, ls_obj_val(f), true);
}

static int invalid_state(ls_vm *vm, ls_future *f) {
    ls_buf b = {0};
    describe(&b, f);
    ls_vm_raise(vm, LS_E_INVALID_STATE, "%s", ls_buf_cstr(&b));
    ls_buf_free(&b);
    return -1;
}

int ls_future_set_result(ls_vm *vm, ls_future *f, ls_value v) {
    if (f->state != LS_FUT_PENDING) return invalid_state(vm, f);
    f->result = v;
    f->state = LS_FUT_FINISHED;
    if (f->hdr.kind == LS_O_TASK) unregister_task(vm, (ls_task *)f);
    schedule_callbacks(vm, f);
    return 0;
}

int ls_future_set_exception(ls_vm *vm, ls_future *f, ls_value exc) {
    if (f->state != LS_FUT_PENDING) return invalid_state(vm, f);
    if (exc.tag == LS_V_EXCTYPE) exc = ls_obj_val(ls_exc_new(vm, (ls_exc_type)exc.aux, NULL));
    if (!ls_is(exc, LS_O_EXC))
        return ls_vm_raise(vm, LS_E_TYPE, "invalid exception object");
    f->exc = exc.u.o;
    f->state = LS_FUT_FINISHED;
    f->log_tb = 1;
    if (f->hdr.kind == LS_O_TASK) unregister_task(vm, (ls_task *)f);
    schedule_callbacks(vm, f);
    return 0;
}

/* Future.cancel, the base of all three. */
static bool future_cancel(ls_vm *vm, ls_future *f, ls_value msg) {
    if (f->state != LS_FUT_PENDING) return false;
    f->state = LS_FUT_CANCELLED;
    f->cancel_msg = msg;
    if (f->hdr.kind == LS_O_TASK) unregister_task(vm, (ls_task *)f);
    schedule_callbacks(vm, f);
    return true;
}

static bool task_cancel(ls_vm *vm, ls_task *t, ls_value msg) {
    if (t->f.state != LS_FUT_PENDING) return false;
    t->num_cancels++;
    if (t->fut_waiter && ls_future_cancel(vm, t->fut_waiter, msg)) {
        /* The waiter's cancellation wakes the task with CancelledError. */
        return true;
    }
    /* The task is about to step: the step throws CancelledError. */
    t->must_cancel = 1;
    t->f.cancel_msg = msg;
    return true;
}

static bool gather_cancel(ls_vm *vm, ls_gather *g, ls_value msg) {
    if (g->f.state != LS_FUT_PENDING) return false;
    bool ret = false;
    ls_list *ch = (ls_list *)g->children.u.o;
    for (int i = 0; i < ch->n; i++)
        if (ls_future_cancel(vm, (ls_future *)ch->v[i].u.o, msg)) ret = true;
    if (ret) g->cancel_requested = 1;
    return ret;
}

bool ls_future_cancel(ls_vm *vm, ls_future *f, ls_value msg) {
    switch (f->hdr.kind) {
    case LS_O_TASK: return task_cancel(vm, (ls_task *)f, msg);
    case LS_O_GATHER: return gather_cancel(vm, (ls_gather *)f, msg);
    default: return future_cancel(vm, f, msg);
    }
}

/* _make_cancelled_error: the CancelledError a task caught is handed out
 * once; later calls build a new one from the cancel message. */
ls_exc *ls_future_cancelled_error(ls_vm *vm, ls_future *f) {
    /* A cancelled future's `exc` is its _cancelled_exc; a finished one's
     * is its exception, which this must leave alone. */
    if (f->state == LS_FUT_CANCELLED && f->exc) {
        ls_exc *e = (ls_exc *)f->exc;
        f->exc = NULL;
        return e;
    }
    if (f->cancel_msg.tag == LS_V_NONE) return ls_exc_new(vm, LS_E_CANCELLED, NULL);
    return ls_exc_newv(vm, LS_E_CANCELLED, &f->cancel_msg, 1);
}

int ls_future_result(ls_vm *vm, ls_future *f, ls_value *out) {
    if (f->state == LS_FUT_CANCELLED) {
        vm->exc = ls_future_cancelled_error(vm, f);
        return -1;
    }
    if (f->state == LS_FUT_PENDING) return ls_vm_raise(vm, LS_E_INVALID_STATE, "Result is not set.");
    f->log_tb = 0;
    if (f->exc) {
        vm->exc = (ls_exc *)f->exc;
        return -1;
    }
    *out = f->result;
    return 0;
}

int ls_future_exception(ls_vm *vm, ls_future *f, ls_value *out) {
    if (f->state == LS_FUT_CANCELLED) {
        vm->exc = ls_future_cancelled_error(vm, f);
        return -1;
    }
    if (f->state == LS_FUT_PENDING) return ls_vm_raise(vm, LS_E_INVALID_STATE, "Exception is not set.");
    f->log_tb = 0;
    *out = f->exc ? ls_obj_val(f->exc) : ls_none();
    return 0;
}

/* ---- tasks ---- */

static bool is_cancelled_error(ls_exc *e) { return e && ls_exc_subclass(e->type, LS_E_CANCELLED); }

/* __step_run_and_handle_result: send or throw into the coroutine chain,
 * then settle the task, or wait on what it yielded. */
static int step_run(ls_vm *vm, ls_task *t, ls_exc *exc) {
    ls_value out;
    ls_exec r;
    ls_frame *f = t->top ? t->top : t->coro;
    if (!t->top && t->coro->state != LS_FRAME_CREATED) {
        out = ls_obj_val(ls_exc_new(vm, LS_E_RUNTIME, "cannot reuse already awaited coroutine"));
        r = LS_EXEC_RAISE;
    } else {
        ls_explain_resume(vm, t, f, exc != NULL);
        /* While the step runs, the chain is the running frames' (the
         * collector reaches it from the active frame): the innermost frame
         * of the last suspension may end, and go back to the frame pool,
         * before the step does. */
        t->top = NULL;
        r = ls_vm_exec(vm, f, exc, &out);
    }
    vm->cur_frame = NULL;   /* what follows is the step's, not a line's */
    switch (r) {
    case LS_EXEC_ABORT:
        return -1;
    case LS_EXEC_RETURN:
        t->top = NULL;
        if (t->must_cancel) {   /* cancelled right before the coroutine stopped */
            t->must_cancel = 0;
            ls_explain_finish(vm, t, 2, ls_none());
            future_cancel(vm, &t->f, t->f.cancel_msg);
        } else {
            ls_explain_finish(vm, t, 0, out);
            ls_future_set_result(vm, &t->f, out);
        }
        return 0;
    case LS_EXEC_RAISE:
        t->top = NULL;
        if (is_cancelled_error((ls_exc *)out.u.o)) {
            ls_explain_finish(vm, t, 2, out);
            t->f.exc = out.u.o;   /* _cancelled_exc */
            future_cancel(vm, &t->f, ls_none());
        } else {
            ls_explain_finish(vm, t, 1, out);
            ls_future_set_exception(vm, &t->f, out);
        }
        return 0;
    case LS_EXEC_YIELD:
        t->top = vm->yield_top;
        vm->cur_frame = t->top;
        ls_explain_suspend(vm, t, t->top, out);
        if (ls_is_future(out)) {
            ls_future *w = (ls_future *)out.u.o;
            if (w == &t->f) {
                ls_exc *e = ls_exc_new(vm, LS_E_RUNTIME, "Task cannot await on itself");
                ls_explain_origin(vm, ls_call_soon(vm, LS_H_STEP, ls_obj_val(t), ls_obj_val(e), t->ctx),
                                  LS_WHY_SELF_AWAIT, NULL);
                return 0;
            }
            ls_future_add_callback(vm, w, (ls_callback){LS_CB_WAKEUP, ls_none(), (ls_obj *)t});
            t->fut_waiter = w;
            if (t->must_cancel && ls_future_cancel(vm, w, t->f.cancel_msg)) t->must_cancel = 0;
        } else {
            /* A bare yield gives up the loop for one iteration. */
            ls_explain_origin(vm, ls_call_soon(vm, LS_H_STEP, ls_obj_val(t), ls_none(), t->ctx),
                              LS_WHY_YIELD, NULL);
        }
        return 0;
    }
    return 0;
}

static int task_step(ls_vm *vm, ls_task *t, ls_exc *exc) {
    if (t->f.state != LS_FUT_PENDING) return 0;   /* InvalidStateError, logged */
    if (t->must_cancel) {
        if (!is_cancelled_error(exc)) exc = ls_future_cancelled_error(vm, &t->f);
        t->must_cancel = 0;
    }
    t->fut_waiter = NULL;
    ls_task *prev = vm->loop.current;   /* _enter_task */
    vm->loop.current = t;
    int rc = step_run(vm, t, exc);
    vm->loop.current = prev;            /* _leave_task */
    return rc;
}

static int task_wakeup(ls_vm *vm, ls_task *t, ls_future *fut) {
    ls_value v;
    ls_exc *e = NULL;
    if (ls_future_result(vm, fut, &v) < 0) {
        e = vm->exc;
        vm->exc = NULL;
    }
    return task_step(vm, t, e);
}

static ls_task *task_new(ls_vm *vm, ls_frame *coro, ls_ctx *ctx) {
    ls_task *t = ls_alloc(vm, LS_O_TASK, sizeof *t);
    future_init(vm, &t->f);
    t->coro = coro;
    t->ctx = (ls_obj *)ctx;
    t->id = ++vm->loop.next_task_id;
    t->name = ls_unbound();
    return t;
}

/* Task.set_name: str(value). */
void ls_task_set_name(ls_vm *vm, ls_task *t, ls_value name) {
    if (ls_is(name, LS_O_STR)) {
        t->name = name;
        return;
    }
    ls_buf b = {0};
    ls_str_of(&b, name, false);
    t->name = ls_str_new(vm, b.p ? b.p : "", b.len);
    ls_buf_free(&b);
}

int ls_all_tasks(ls_vm *vm, ls_value *out) {
    /* tasks.all_tasks: the registered tasks and the eager ones in their
     * first step, not done. A set in CPython: its order means nothing. */
    ls_list *l = ls_list_new(vm, LS_O_LIST, 0);
    for (ls_task *p = vm->loop.pending_head; p; p = p->next)
        if (p->f.state == LS_FUT_PENDING) ls_list_push(l, ls_obj_val(p));
    for (int i = 0; i < vm->neager; i++)
        if (vm->eager_running[i]->f.state == LS_FUT_PENDING)
            ls_list_push(l, ls_obj_val(vm->eager_running[i]));
    *out = ls_obj_val(l);
    return 0;
}

static ls_frame *as_coroutine(ls_vm *vm, ls_value coro) {
    if (ls_is(coro, LS_O_FRAME) && ((ls_frame *)coro.u.o)->proto->is_async) return (ls_frame *)coro.u.o;
    if (ls_is(coro, LS_O_SLEEP) || ls_is(coro, LS_O_SUSPEND) ||
        (vm->wrapping && (ls_is(coro, LS_O_AGENOP) || ls_is(coro, LS_O_INSTANCE)))) {
        ls_frame *f = ls_frame_new(vm, vm->prog->protos[vm->prog->await1]);
        f->slots[0] = coro;
        return f;
    }
    return NULL;
}

int ls_task_create(ls_vm *vm, ls_value coro, ls_value *out) {
    ls_task_opts o = {NULL, -1, {LS_V_UNBOUND, 0, {0}}};
    return ls_task_create_opts(vm, coro, &o, out);
}

int ls_task_create_opts(ls_vm *vm, ls_value coro, const ls_task_opts *o, ls_value *out) {
    ls_frame *f = as_coroutine(vm, coro);
    /* suspend() is a generator-based coroutine, which create_task refuses
     * from 3.12 on (ensure_future still wraps it as an awaitable). */
    if (ls_is(coro, LS_O_SUSPEND) && ls_vm_since(vm, LS_CH_CREATE_TASK_COROUTINE_ONLY) &&
        !vm->wrapping)
        f = NULL;
    if (!f) {
        ls_buf b = {0};
        ls_str_of(&b, coro, true);
        ls_vm_raise(vm, LS_E_TYPE, "a coroutine was expected, got %s", ls_buf_cstr(&b));
        ls_buf_free(&b);
        return -1;
    }
    if (!vm->loop.running) return ls_vm_raise(vm, LS_E_RUNTIME, "no running event loop");
    ls_task *t = task_new(vm, f, o->ctx ? (ls_ctx *)o->ctx : ls_ctx_copy(vm, vm->ctx));
    *out = ls_obj_val(t);
    /* The task factory (eager_task_factory) or create_task(eager_start=):
     * with a factory, CPython before 3.14 names the task only after the
     * factory returned, so after an eager first step. */
    t->made = 1;
    bool factory = ls_profile_eager(vm->profile);
    bool eager = o->eager >= 0 ? o->eager : factory;
    bool late_name = factory && !ls_vm_since(vm, LS_CH_TASK_FACTORY_GETS_NAME);
    if (!late_name && o->name.tag != LS_V_UNBOUND && o->name.tag != LS_V_NONE)
        ls_task_set_name(vm, t, o->name);
    if (eager) {
        /* Task.__eager_start: the first step runs now, inside create_task,
         * in the task's context and as the current task. */
        ls_explain_create(vm, t, true);
        ls_task *prev = vm->loop.current;
        ls_obj *ctx = vm->ctx;
        vm->loop.current = t;
        vm->ctx = t->ctx;
        ((ls_ctx *)t->ctx)->entered++;
        vm->eager_running[vm->neager++] = t;   /* _register_eager_task */
        vm->explain_depth++;
        int rc = step_run(vm, t, NULL);
        vm->explain_depth--;
        vm->neager--;
        ((ls_ctx *)t->ctx)->entered--;
        vm->ctx = ctx;
        vm->loop.current = prev;
        if (rc < 0) return -1;
        if (t->f.state == LS_FUT_PENDING) register_task(vm, t);
    } else {
        ls_explain_create(vm, t, false);
        ls_explain_origin(vm, ls_call_soon(vm, LS_H_STEP, ls_obj_val(t), ls_none(), t->ctx),
                          LS_WHY_CREATE_TASK, NULL);
        register_task(vm, t);
    }
    if (late_name) {
        /* BaseEventLoop.create_task after the factory: 3.12 sets a name
         * given; 3.13 calls set_name(name) even with None. */
        bool given = o->name.tag != LS_V_UNBOUND && o->name.tag != LS_V_NONE;
        if (ls_vm_since(vm, LS_CH_TASK_FACTORY_SETS_NAME_NONE))
            ls_task_set_name(vm, t, o->name.tag == LS_V_UNBOUND ? ls_none() : o->name);
        else if (given)
            ls_task_set_name(vm, t, o->name);
    }
    return 0;
}

int ls_ensure_future(ls_vm *vm, ls_value aw, ls_value *out) {
    if (ls_is_future(aw)) {
        *out = aw;
        return 0;
    }
    if (ls_is(aw, LS_O_FRAME) || ls_is(aw, LS_O_SLEEP) || ls_is(aw, LS_O_SUSPEND) ||
        ls_is(aw, LS_O_AGENOP) || ls_is(aw, LS_O_INSTANCE)) {
        vm->wrapping = true;   /* _wrap_awaitable */
        int rc = ls_task_create(vm, aw, out);
        vm->wrapping = false;
        return rc;
    }
    return ls_vm_raise(vm, LS_E_TYPE, "An asyncio.Future, a coroutine or an awaitable is required");
}

int ls_task_uncancel(ls_vm *vm, ls_task *t) {
    if (t->num_cancels > 0) {
        t->num_cancels--;
        /* With every request withdrawn, a cancellation not yet delivered
         * is dropped too, from 3.13 on. */
        if (t->num_cancels == 0 && ls_vm_since(vm, LS_CH_UNCANCEL_CLEARS_MUST_CANCEL))
            t->must_cancel = 0;
    }
    return t->num_cancels;
}

/* ---- gather ---- */

static int gather_done(ls_vm *vm, ls_gather *g, ls_future *fut) {
    g->nfinished++;
    if (g->f.state != LS_FUT_PENDING) {
        if (fut->state != LS_FUT_CANCELLED) fut->log_tb = 0;
        return 0;
    }
    if (!g->return_exceptions) {
        if (fut->state == LS_FUT_CANCELLED) {
            ls_exc *e = ls_future_cancelled_error(vm, fut);
            return ls_future_set_exception(vm, &g->f, ls_obj_val(e));
        }
        if (fut->exc) {
            fut->log_tb = 0;
            return ls_future_set_exception(vm, &g->f, ls_obj_val(fut->exc));
        }
    }
    if (g->nfinished != g->nfuts) return 0;
    ls_list *ch = (ls_list *)g->children.u.o;
    ls_list *res = ls_list_new(vm, LS_O_LIST, ch->n);
    for (int i = 0; i < ch->n; i++) {
        ls_future *c = (ls_future *)ch->v[i].u.o;
        if (c->state == LS_FUT_CANCELLED) {
            ls_value m = c->cancel_msg.tag == LS_V_NONE ? ls_str_new(vm, "", 0) : c->cancel_msg;
            ls_list_push(res, ls_obj_val(ls_exc_newv(vm, LS_E_CANCELLED, &m, 1)));
        } else {
            c->log_tb = 0;
            ls_list_push(res, c->exc ? ls_obj_val(c->exc) : c->result);
        }
    }
    if (g->cancel_requested) {
        /* CPython's `fut` here is the loop variable above: the last
         * child listed, not the one that finished last. */
        ls_future *last = (ls_future *)ch->v[ch->n - 1].u.o;
        ls_exc *e = ls_future_cancelled_error(vm, last);
        return ls_future_set_exception(vm, &g->f, ls_obj_val(e));
    }
    return ls_future_set_result(vm, &g->f, ls_obj_val(res));
}

/* Identity map from argument to its future, for repeated arguments. */
typedef struct argmap { ls_obj **k; ls_value *v; size_t cap; } argmap;

static ls_value *argmap_slot(argmap *m, ls_obj *k, bool *found) {
    size_t i = ((uintptr_t)k >> 4) * 0x9E3779B97F4A7C15ull & (m->cap - 1);
    while (m->k[i] && m->k[i] != k) i = (i + 1) & (m->cap - 1);
    *found = m->k[i] != NULL;
    m->k[i] = k;
    return &m->v[i];
}

int ls_gather_new(ls_vm *vm, ls_value *args, int n, bool return_exceptions, ls_value *out) {
    if (n == 0) {
        ls_future *f = ls_future_new(vm);
        ls_future_set_result(vm, f, ls_obj_val(ls_list_new(vm, LS_O_LIST, 0)));
        *out = ls_obj_val(f);
        return 0;
    }
    ls_gather *g = ls_alloc(vm, LS_O_GATHER, sizeof *g);
    future_init(vm, &g->f);
    g->return_exceptions = return_exceptions;
    ls_list *children = ls_list_new(vm, LS_O_LIST, n);
    g->children = ls_obj_val(children);
    argmap m = {0};
    m.cap = 16;
    while (m.cap < (size_t)n * 2) m.cap *= 2;
    m.k = ls_xcalloc(m.cap, sizeof *m.k);
    m.v = ls_xcalloc(m.cap, sizeof *m.v);
    ls_future **done = ls_xmalloc((size_t)n * sizeof *done);
    int ndone = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        bool found = args[i].tag != LS_V_OBJ;
        ls_value *slot = NULL;
        if (args[i].tag == LS_V_OBJ) slot = argmap_slot(&m, args[i].u.o, &found);
        ls_value fut;
        if (found && slot) {
            fut = *slot;
        } else {
            if ((rc = ls_ensure_future(vm, args[i], &fut)) < 0) break;
            *slot = fut;
            g->nfuts++;
            ls_future *f = (ls_future *)fut.u.o;
            /* Already-done children finish at once from 3.12 on; before, a
             * done callback, which a done future schedules at once. */
            if (ls_vm_since(vm, LS_CH_GATHER_DONE_AT_ONCE) && f->state != LS_FUT_PENDING)
                done[ndone++] = f;
            else
                ls_future_add_callback(vm, f, (ls_callback){LS_CB_GATHER, ls_none(), (ls_obj *)g});
        }
        ls_list_push(children, fut);
    }
    free(m.k);
    free(m.v);
    for (int i = 0; rc == 0 && i < ndone; i++) rc = gather_done(vm, g, done[i]);
    free(done);
    if (rc < 0) return -1;
    *out = ls_obj_val(g);
    return 0;
}

/* ---- the loop ---- */

static int run_handle(ls_vm *vm, ls_handle *h) {
    ls_obj *saved = vm->ctx;
    int rc = 0;
    /* Handle._run: self._context.run(callback, *args) */
    if (h->ctx) {
        vm->ctx = h->ctx;
        ((ls_ctx *)h->ctx)->entered++;
    }
    switch (h->kind) {
    case LS_H_STEP:
        rc = task_step(vm, (ls_task *)h->a.u.o, h->b.tag == LS_V_OBJ ? (ls_exc *)h->b.u.o : NULL);
        break;
    case LS_H_WAKEUP: rc = task_wakeup(vm, (ls_task *)h->a.u.o, (ls_future *)h->b.u.o); break;
    case LS_H_GATHER:
        if (gather_done(vm, (ls_gather *)h->a.u.o, (ls_future *)h->b.u.o) < 0) {
            rc = vm->err.set ? -1 : 0;
            vm->exc = NULL;
        }
        break;
    case LS_H_STOP: vm->loop.stopping = true; break;
    case LS_H_SET_RESULT: {
        ls_future *f = (ls_future *)h->a.u.o;
        if (f->state == LS_FUT_PENDING) ls_future_set_result(vm, f, h->b);
        break;
    }
    case LS_H_USER: case LS_H_DONE: {
        ls_value out, *args = &h->b;
        int n = 1;
        if (h->kind == LS_H_USER) {
            ls_list *t = (ls_list *)h->b.u.o;
            args = t->v;
            n = t->n;
        }
        if (ls_vm_call(vm, h->a, args, n, &out) < 0) {
            /* The loop's exception handler logs it; the loop goes on. */
            if (vm->err.set) rc = -1;
            vm->exc = NULL;
        }
        break;
    }
    }
    if (h->ctx) ((ls_ctx *)h->ctx)->entered--;
    vm->ctx = saved;
    return rc;
}

int ls_loop_step(ls_vm *vm) {
    ls_loop *L = &vm->loop;
    const ls_heap_item *top;
    ls_heap_item it;

    /* 1. Drop cancelled timers from the head of the heap. */
    while ((top = ls_heap_peek(&L->timers)) && ((ls_handle *)top->h)->cancelled) {
        ls_heap_pop(&L->timers, &it);
        ls_handle_release(vm, it.h);
    }

    /* 2. Poll for I/O (`event_list = self._selector.select(timeout)`):
     *    with nothing ready and no socket ready, it waits for the nearest
     *    timer: the virtual clock jumps to its deadline. Then
     *    _process_events appends the ready sockets' handles. */
    if (!L->ready.len && !L->stopping && !ls_io_any_ready(vm)) {
        if (!top) return 0;   /* CPython would block forever */
        if (top->when > L->now) L->now = top->when;
    }
    ls_io_poll(vm);

    /* 3. Move every expired timer to the ready queue, in heap order. As in
     *    CPython (`if handle._when >= end_time: break`), a NaN deadline
     *    compares false, so such a timer is due at once. */
    while ((top = ls_heap_peek(&L->timers)) && !(top->when > L->now)) {
        ls_heap_pop(&L->timers, &it);
        ls_queue_push(&L->ready, it.h);
    }

    /* 4. Run exactly the handles ready now; what they schedule waits for
     *    the next iteration. */
    L->iterations++;
    size_t n = L->ready.len;
    ls_explain_iteration(vm, n);
    ls_explain_polled(vm);
    for (size_t i = 0; i < n; i++) {
        if (vm->bytes > vm->threshold &&
            !ls_gc_collect_checked(vm, NULL, vm->prog->path, 1))
            return -1;
        ls_handle *h = ls_queue_pop(&L->ready);
        /* Each handle counts against the step budget: callbacks that only
         * reschedule each other cannot spin forever either. */
        if (++vm->steps > vm->max_steps) {
            ls_handle_release(vm, h);
            ls_error_at(&vm->err, vm->prog->path, 1, 1,
                        "step budget of %llu exhausted in iteration %llu (callbacks that never stop?)",
                        (unsigned long long)vm->max_steps, (unsigned long long)L->iterations);
            return -1;
        }
        ls_explain_handle(vm, h);
        vm->running = h;
        vm->cur_frame = NULL;
        int rc = h->cancelled ? 0 : run_handle(vm, h);
        vm->running = NULL;
        ls_handle_release(vm, h);
        if (rc < 0) return -1;
    }
    return 1;
}

static int hang(ls_vm *vm, ls_future *fut) {
    int line = 1;
    ls_task *t = fut->hdr.kind == LS_O_TASK ? (ls_task *)fut : vm->main_task;
    const ls_frame *f = t ? t->top : NULL;
    while (f && f->proto->prelude) f = f->caller;   /* the program's line, not the prelude's */
    if (f && f->pc) line = f->proto->lines[f->pc - 1];
    bool io = ls_io_registered(vm);
    ls_error_at(&vm->err, vm->prog->path, line, 1,
                "the loop has nothing left to run%s no timer to wait for%s, but the future it "
                "runs is not done: CPython would block forever%s here",
                io ? "," : " and", io ? " and no registered socket that is ready" : "",
                io ? " in select()" : "");
    return -1;
}

int ls_loop_run_until_complete(ls_vm *vm, ls_future *fut) {
    ls_loop *L = &vm->loop;
    ls_future_add_callback(vm, fut, (ls_callback){LS_CB_STOP, ls_none(), NULL});
    L->running = true;
    vm->until = fut;
    vm->gc_ready = true;
    int rc = 0;
    for (;;) {
        int r = ls_loop_step(vm);
        if (r < 0) { rc = -1; break; }
        if (r == 0) { rc = hang(vm, fut); break; }
        if (L->stopping) break;
    }
    L->stopping = false;
    L->running = false;
    vm->until = NULL;
    for (int i = 0; i < fut->ncb; i++)
        if (fut->cb[i].kind == LS_CB_STOP) {
            memmove(&fut->cb[i], &fut->cb[i + 1], (size_t)(fut->ncb - i - 1) * sizeof *fut->cb);
            fut->ncb--;
            break;
        }
    return rc;
}

static int run_noop(ls_vm *vm, const char *what) {
    ls_explain_phase(vm, what);
    ls_frame *f = ls_frame_new(vm, vm->prog->protos[vm->prog->noop]);
    ls_task *t = task_new(vm, f, ls_ctx_copy(vm, vm->ctx));
    ls_explain_origin(vm, ls_call_soon(vm, LS_H_STEP, ls_obj_val(t), ls_none(), t->ctx),
                      LS_WHY_RUNNER, NULL);
    register_task(vm, t);
    return ls_loop_run_until_complete(vm, &t->f);
}

/* shutdown_asyncgens(): the prelude's, when the loop's firstiter hook saw
 * async generators; else a task that finishes in its first step. */
static int run_shutdown_asyncgens(ls_vm *vm) {
    ls_list *gens = vm->asyncgens;
    int g = vm->prog->g_shutdown_asyncgens;
    if (!gens || !gens->n || g < 0 || vm->globals[g].tag != LS_V_FUNC)
        return run_noop(vm, "asyncio.run: shutdown_asyncgens()");
    char what[120];
    snprintf(what, sizeof what, "asyncio.run: shutdown_asyncgens() closes %d async generator%s", gens->n,
             gens->n == 1 ? "" : "s");
    ls_explain_phase(vm, what);
    vm->asyncgens = NULL;   /* the WeakSet copied and cleared */
    ls_frame *f = ls_frame_new(vm, vm->prog->protos[vm->globals[g].u.i]);
    f->slots[0] = ls_obj_val(gens);
    ls_task *t = task_new(vm, f, ls_ctx_copy(vm, vm->ctx));
    ls_explain_origin(vm, ls_call_soon(vm, LS_H_STEP, ls_obj_val(t), ls_none(), t->ctx),
                      LS_WHY_RUNNER, NULL);
    register_task(vm, t);
    return ls_loop_run_until_complete(vm, &t->f);
}

int ls_run_main(ls_vm *vm) {
    ls_loop *L = &vm->loop;
    ls_frame *f = ls_frame_new(vm, vm->prog->protos[vm->prog->main]);
    /* Runner.run: the main task runs in a copy of the runner's context and
     * is never eager (the loop is not running yet). */
    ls_task *t = task_new(vm, f, ls_ctx_copy(vm, vm->ctx));
    vm->main_task = t;
    /* Runner.run makes it with loop.create_task, so through the task
     * factory: 3.13 then names it 'None'. */
    if (ls_profile_eager(vm->profile) && !ls_since(vm->profile, LS_CH_TASK_FACTORY_GETS_NAME) &&
        ls_since(vm->profile, LS_CH_TASK_FACTORY_SETS_NAME_NONE))
        ls_task_set_name(vm, t, ls_none());
    ls_explain_phase(vm, "asyncio.run: Task-1 runs main()");
    ls_explain_origin(vm, ls_call_soon(vm, LS_H_STEP, ls_obj_val(t), ls_none(), t->ctx),
                      LS_WHY_RUNNER, NULL);
    register_task(vm, t);
    if (ls_loop_run_until_complete(vm, &t->f) < 0) return -1;

    ls_buf uncaught = {0};
    if (t->f.state == LS_FUT_CANCELLED || t->f.exc) {
        ls_value v;
        if (ls_future_result(vm, &t->f, &v) < 0) {
            ls_exc *e = vm->exc;
            vm->exc = NULL;
            ls_buf_printf(&uncaught, "uncaught %s: ", ls_type_name(ls_obj_val(e)));
            if (ls_vm_str(vm, &uncaught, ls_obj_val(e), false) < 0) {
                vm->exc = NULL;   /* a failing __str__: traceback prints <exception str() failed> */
                ls_buf_puts(&uncaught, "<exception str() failed>");
            }
        }
    }

    /* _cancel_all_tasks: cancel what is left, run until it finishes. */
    int rc = 0;
    int n = 0;
    for (ls_task *p = L->pending_head; p; p = p->next) n++;
    vm->leftovers = n;
    if (n) {
        char what[120];
        snprintf(what, sizeof what, "main is done: asyncio.run cancels the %d task%s still pending", n,
                 n == 1 ? "" : "s");
        ls_explain_phase(vm, what);
        ls_value *v = ls_xmalloc((size_t)n * sizeof *v);
        int i = 0;
        for (ls_task *p = L->pending_head; p; p = p->next) v[i++] = ls_obj_val(p);
        for (i = 0; i < n; i++) task_cancel(vm, (ls_task *)v[i].u.o, ls_none());
        ls_value g;
        L->running = true;   /* gather runs inside run_until_complete's call */
        rc = ls_gather_new(vm, v, n, true, &g);
        L->running = false;
        free(v);
        if (rc == 0) rc = ls_loop_run_until_complete(vm, (ls_future *)g.u.o);
    }
    /* shutdown_asyncgens() and shutdown_default_executor(): each a task
     * that finishes in its first step. */
    if (rc == 0) rc = run_shutdown_asyncgens(vm);
    if (rc == 0) rc = run_noop(vm, "asyncio.run: shutdown_default_executor()");
    if (rc == 0 && uncaught.len && ls_vm_log(vm, uncaught.p, uncaught.len) < 0) rc = -1;
    ls_buf_free(&uncaught);
    return rc;
}
