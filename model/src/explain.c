/* explain.c: renders the loop's and the interpreter's events as text (one
 * indented line each) or JSON (one object per line). */
#include "explain.h"

#include <stdio.h>
#include <string.h>

static const char *why_text[] = {
    [LS_WHY_NONE] = "", [LS_WHY_RUNNER] = "asyncio.run", [LS_WHY_CREATE_TASK] = "create_task",
    [LS_WHY_YIELD] = "a bare yield", [LS_WHY_SELF_AWAIT] = "a task awaiting itself",
    [LS_WHY_DONE] = "a future completing", [LS_WHY_CALL_SOON] = "call_soon",
    [LS_WHY_CALL_LATER] = "call_later", [LS_WHY_SLEEP] = "sleep",
    [LS_WHY_ADD_READER] = "add_reader", [LS_WHY_ADD_WRITER] = "add_writer",
    [LS_WHY_POLL] = "the poll",
};

/* The program's line: a prelude function's own lines mean nothing to a
 * reader, so an event inside one is placed at the program's line that
 * called it (none, for the prelude's teardown steps). */
int ls_explain_line(const ls_vm *vm) {
    const ls_frame *f = vm->cur_frame;
    while (f && f->proto->prelude) f = f->caller;
    if (!f || !f->proto->ncode) return 0;
    return f->proto->lines[f->pc ? f->pc - 1 : 0];
}

/* A task's coroutine: its function, or for the task gather or
 * ensure_future wraps around an async generator's aclose() (as
 * shutdown_asyncgens makes them), that operation. */
static void coro_label(ls_buf *b, const ls_frame *f) {
    if (strcmp(f->proto->name, "__await1") == 0 && ls_is(f->slots[0], LS_O_AGENOP)) {
        const ls_agenop *op = (const ls_agenop *)f->slots[0].u.o;
        ls_buf_printf(b, "%s() of the async generator %s()",
                      op->op == LS_AG_SEND ? "asend" : op->op == LS_AG_THROW ? "athrow" : "aclose",
                      op->gen->frame->proto->name);
        return;
    }
    ls_buf_printf(b, "%s()", f->proto->name);
}

static int frame_line(const ls_frame *f) {
    while (f && f->proto->prelude) f = f->caller;   /* as ls_explain_line */
    if (!f || !f->proto->ncode) return 0;
    return f->proto->lines[f->pc ? f->pc - 1 : 0];
}

static void task_name(ls_buf *b, const ls_vm *vm, int64_t id) {
    if (!id) {
        ls_buf_puts(b, "the loop");
        return;
    }
    ls_buf_printf(b, "Task-%lld", (long long)id);
    if (vm->main_task && vm->main_task->id == id) ls_buf_puts(b, " (main)");
}

static void future_name(ls_buf *b, const ls_vm *vm, const ls_future *f) {
    switch (f->hdr.kind) {
    case LS_O_TASK: task_name(b, vm, ((const ls_task *)f)->id); break;
    case LS_O_GATHER: ls_buf_printf(b, "gather #%u", f->id); break;
    default:
        if (f->timer) ls_buf_printf(b, "the sleep future #%u", f->id);
        else ls_buf_printf(b, "Future #%u", f->id);
    }
}

static void callable_name(ls_buf *b, const ls_vm *vm, ls_value fn) {
    if (fn.tag == LS_V_FUNC) ls_buf_printf(b, "%s()", vm->prog->protos[fn.u.i]->name);
    else if (ls_is(fn, LS_O_BOUND)) ls_buf_puts(b, "a bound method");
    else if (ls_is(fn, LS_O_RECORD)) ls_buf_printf(b, "a %s callback", ((ls_record *)fn.u.o)->clsname);
    else ls_str_of(b, fn, true);
}

static void handle_name(ls_buf *b, const ls_vm *vm, const ls_handle *h) {
    switch (h->kind) {
    case LS_H_STEP:
        task_name(b, vm, ((ls_task *)h->a.u.o)->id);
        ls_buf_puts(b, h->b.tag == LS_V_OBJ ? " step (throwing in)" : " step");
        break;
    case LS_H_WAKEUP:
        task_name(b, vm, ((ls_task *)h->a.u.o)->id);
        ls_buf_puts(b, " wake-up (");
        future_name(b, vm, (ls_future *)h->b.u.o);
        ls_buf_puts(b, " is done)");
        break;
    case LS_H_GATHER:
        ls_buf_printf(b, "gather #%u's done callback for ", ((ls_future *)h->a.u.o)->id);
        future_name(b, vm, (ls_future *)h->b.u.o);
        break;
    case LS_H_USER: ls_buf_puts(b, "callback "); callable_name(b, vm, h->a); break;
    case LS_H_DONE:
        ls_buf_puts(b, "done callback ");
        callable_name(b, vm, h->a);
        ls_buf_puts(b, " of ");
        future_name(b, vm, (ls_future *)h->b.u.o);
        break;
    case LS_H_STOP: ls_buf_puts(b, "run_until_complete's stop"); break;
    case LS_H_SET_RESULT:
        ls_buf_puts(b, "timer: resolves ");
        future_name(b, vm, (ls_future *)h->a.u.o);
        break;
    }
}

static const char *handle_kind(const ls_handle *h) {
    static const char *k[] = {"step", "wakeup", "gather_callback", "callback", "stop",
                              "sleep_timer", "done_callback"};
    return k[h->kind];
}

static void indent(ls_vm *vm, int extra) {
    for (int i = 0; i < 2 * (vm->explain_depth + extra); i++) ls_buf_putc(&vm->explain_out, ' ');
}

/* JSON: {"event": E, "iteration": I, "time": T, ...} minus the brace. */
static ls_buf *json_open(ls_vm *vm, const char *event) {
    ls_buf *b = &vm->explain_out;
    ls_buf_printf(b, "{\"event\":\"%s\",\"iteration\":%llu,\"time\":%.9g", event,
                  (unsigned long long)vm->loop.iterations, vm->loop.now);
    if (vm->loop.current) ls_buf_printf(b, ",\"task\":\"Task-%lld\"", (long long)vm->loop.current->id);
    return b;
}

static void json_str(ls_buf *b, const char *key, const char *s) {
    ls_buf_printf(b, ",\"%s\":", key);
    ls_buf_json(b, s, strlen(s));
}

static void json_close(ls_buf *b) { ls_buf_puts(b, "}\n"); }

/* A handle's origin, made when it is first said (explaining only: a
 * handle without one costs 40 bytes less, a tenth of a pending task). */
static ls_origin *origin_make(ls_vm *vm, ls_handle *h) {
    if (!h->origin) h->origin = ls_slab_take(vm, (sizeof(ls_origin) + 15) & ~(size_t)15);
    memset(h->origin, 0, sizeof *h->origin);
    return h->origin;
}

static const ls_origin *origin_get(const ls_handle *h) {
    static const ls_origin none;   /* LS_WHY_NONE */
    return h->origin ? h->origin : &none;
}

static void why_name(ls_buf *b, const ls_vm *vm, const ls_origin *o) {
    if (o->why != LS_WHY_DONE) {
        ls_buf_puts(b, why_text[o->why]);
    } else if (o->done_task) {
        task_name(b, vm, o->done_task);
        ls_buf_puts(b, " finishing");
    } else {
        ls_buf_printf(b, "future #%u completing", o->future);
    }
}

static void origin_text(ls_buf *b, const ls_vm *vm, const ls_origin *o) {
    if (o->why == LS_WHY_RUNNER) {
        ls_buf_puts(b, "scheduled by asyncio.run");
        return;
    }
    if (o->why == LS_WHY_POLL) {
        ls_buf_printf(b, "made ready by the poll of iteration %llu: socket %u is %s",
                      (unsigned long long)o->iter, o->future, o->done_task ? "writable" : "readable");
        return;
    }
    ls_buf_printf(b, "scheduled in iteration %llu ", (unsigned long long)o->iter);
    if (o->why == LS_WHY_DONE && !o->line) {   /* a task finishing, or a callback */
        ls_buf_puts(b, "when ");
        if (o->done_task) {
            task_name(b, vm, o->done_task);
            ls_buf_puts(b, " finished");
        } else {
            ls_buf_printf(b, "future #%u completed", o->future);
        }
        return;
    }
    ls_buf_puts(b, "by ");
    task_name(b, vm, o->task);
    if (o->line) ls_buf_printf(b, " at line %d", o->line);
    ls_buf_puts(b, " (");
    why_name(b, vm, o);
    ls_buf_putc(b, ')');
}

static void origin_json(ls_buf *b, const ls_origin *o) {
    ls_buf_printf(b, ",\"origin\":{\"iteration\":%llu,\"task\":", (unsigned long long)o->iter);
    if (o->task) ls_buf_printf(b, "\"Task-%lld\"", (long long)o->task);
    else ls_buf_puts(b, "null");
    ls_buf_printf(b, ",\"line\":%d,\"why\":\"%s\"}", o->line, why_text[o->why]);
}

void ls_explain_iteration(ls_vm *vm, size_t nready) {
    if (!vm->explain) return;
    ls_buf *b = &vm->explain_out;
    if (vm->explain == LS_EXPLAIN_JSON) {
        json_open(vm, "iteration");
        ls_buf_printf(b, ",\"ready\":%zu", nready);
        json_close(b);
        return;
    }
    ls_buf_printf(b, "iteration %llu at t=%g: %zu handle%s ready\n",
                  (unsigned long long)vm->loop.iterations, vm->loop.now, nready, nready == 1 ? "" : "s");
}

void ls_explain_handle(ls_vm *vm, const ls_handle *h) {
    if (!vm->explain) return;
    ls_buf *b = &vm->explain_out;
    ls_buf name = {0};
    handle_name(&name, vm, h);
    if (vm->explain == LS_EXPLAIN_JSON) {
        json_open(vm, "handle");
        json_str(b, "kind", handle_kind(h));
        json_str(b, "handle", ls_buf_cstr(&name));
        ls_buf_printf(b, ",\"cancelled\":%s", h->cancelled ? "true" : "false");
        origin_json(b, origin_get(h));
        json_close(b);
    } else {
        indent(vm, 1);
        ls_buf_printf(b, "%s%s [", ls_buf_cstr(&name), h->cancelled ? ": cancelled, skipped" : "");
        origin_text(b, vm, origin_get(h));
        ls_buf_puts(b, "]\n");
    }
    ls_buf_free(&name);
}

void ls_explain_origin(ls_vm *vm, ls_handle *h, int why, const ls_future *done) {
    if (vm->fitness && h->timer) {   /* the deadlines a "schedule" event says ("at") */
        if (vm->ndeadlines == vm->capdeadlines) {
            vm->capdeadlines = vm->capdeadlines ? vm->capdeadlines * 2 : 16;
            vm->deadlines = ls_xrealloc(vm->deadlines, (size_t)vm->capdeadlines * sizeof *vm->deadlines);
        }
        vm->deadlines[vm->ndeadlines++] = h->when;
    }
    if (!vm->explain) return;
    ls_origin *o = origin_make(vm, h);
    o->iter = vm->loop.iterations;
    o->task = vm->loop.current ? vm->loop.current->id : 0;
    o->line = ls_explain_line(vm);
    o->why = (uint8_t)why;
    o->future = done ? done->id : 0;
    o->done_task = done && done->hdr.kind == LS_O_TASK ? ((const ls_task *)done)->id : 0;
    if (why == LS_WHY_RUNNER) return;
    ls_buf *b = &vm->explain_out;
    ls_buf name = {0};
    handle_name(&name, vm, h);
    if (vm->explain == LS_EXPLAIN_JSON) {
        json_open(vm, "schedule");
        json_str(b, "kind", handle_kind(h));
        json_str(b, "handle", ls_buf_cstr(&name));
        ls_buf w = {0};
        why_name(&w, vm, o);
        json_str(b, "why", ls_buf_cstr(&w));
        ls_buf_free(&w);
        ls_buf_printf(b, ",\"line\":%d", o->line);
        if (h->timer) ls_buf_printf(b, ",\"at\":%.9g", h->when);
        else if (why == LS_WHY_ADD_READER || why == LS_WHY_ADD_WRITER) ls_buf_puts(b, ",\"on_poll\":true");
        else ls_buf_printf(b, ",\"for_iteration\":%llu", (unsigned long long)vm->loop.iterations + 1);
        json_close(b);
    } else {
        indent(vm, 2);
        if (o->line) ls_buf_printf(b, "line %d: ", o->line);
        why_name(b, vm, o);
        if (why == LS_WHY_ADD_READER || why == LS_WHY_ADD_WRITER) {
            ls_buf_printf(b, " registers %s: the poll of each iteration in which the socket is %s "
                          "makes it ready\n", ls_buf_cstr(&name),
                          why == LS_WHY_ADD_READER ? "readable" : "writable");
            ls_buf_free(&name);
            return;
        }
        ls_buf_printf(b, " schedules %s ", ls_buf_cstr(&name));
        if (h->timer) ls_buf_printf(b, "at t=%g\n", h->when);
        else ls_buf_printf(b, "for iteration %llu\n", (unsigned long long)vm->loop.iterations + 1);
    }
    ls_buf_free(&name);
}

void ls_explain_create(ls_vm *vm, const ls_task *t, bool eager) {
    if (!vm->explain) return;
    ls_buf *b = &vm->explain_out;
    int line = ls_explain_line(vm);
    if (vm->explain == LS_EXPLAIN_JSON) {
        json_open(vm, "create");
        ls_buf_printf(b, ",\"new_task\":\"Task-%lld\",\"coroutine\":", (long long)t->id);
        ls_buf_json(b, t->coro->proto->name, strlen(t->coro->proto->name));
        ls_buf_printf(b, ",\"line\":%d,\"eager\":%s", line, eager ? "true" : "false");
        json_close(b);
        return;
    }
    indent(vm, 2);
    if (line) ls_buf_printf(b, "line %d: ", line);
    ls_buf_puts(b, "create_task makes ");
    task_name(b, vm, t->id);
    ls_buf_puts(b, " for ");
    coro_label(b, t->coro);
    ls_buf_printf(b, "%s\n", eager ? ": eager, its first step runs now, inside create_task" : "");
}

void ls_explain_resume(ls_vm *vm, const ls_task *t, const ls_frame *f, bool throwing) {
    if (!vm->explain) return;
    ls_buf *b = &vm->explain_out;
    bool start = f->state == LS_FRAME_CREATED;
    if (vm->explain == LS_EXPLAIN_JSON) {
        json_open(vm, "resume");
        ls_buf_printf(b, ",\"step_of\":\"Task-%lld\",\"function\":", (long long)t->id);
        ls_buf_json(b, f->proto->name, strlen(f->proto->name));
        ls_buf_printf(b, ",\"line\":%d,\"start\":%s,\"throw\":%s", start ? 0 : frame_line(f),
                      start ? "true" : "false", throwing ? "true" : "false");
        json_close(b);
        return;
    }
    indent(vm, 2);
    task_name(b, vm, t->id);
    if (start) {
        ls_buf_puts(b, " starts ");
        coro_label(b, f);
    }
    else if (frame_line(f)) ls_buf_printf(b, " resumes %s() at line %d", f->proto->name, frame_line(f));
    else ls_buf_printf(b, " resumes %s()", f->proto->name);
    ls_buf_puts(b, throwing ? ", throwing CancelledError in\n" : "\n");
}

void ls_explain_suspend(ls_vm *vm, const ls_task *t, const ls_frame *f, ls_value on) {
    if (!vm->explain) return;
    ls_buf *b = &vm->explain_out;
    ls_buf what = {0};
    if (ls_is_future(on)) {
        ls_future *fut = (ls_future *)on.u.o;
        ls_buf_puts(&what, "waits on ");
        future_name(&what, vm, fut);
        if (fut->hdr.kind == LS_O_TASK) ls_buf_puts(&what, ": it resumes one iteration after that task finishes");
        else if (fut->hdr.kind == LS_O_GATHER) ls_buf_puts(&what, ": its children finishing complete it");
        else if (fut->timer) ls_buf_printf(&what, ": a timer at t=%g resolves it", fut->timer->when);
        else ls_buf_puts(&what, ": whoever calls set_result, set_exception or cancel on it");
    } else {
        ls_buf_puts(&what, "yields (a bare yield): its next step is one iteration later");
    }
    if (vm->explain == LS_EXPLAIN_JSON) {
        json_open(vm, "suspend");
        ls_buf_printf(b, ",\"step_of\":\"Task-%lld\",\"function\":", (long long)t->id);
        ls_buf_json(b, f->proto->name, strlen(f->proto->name));
        ls_buf_printf(b, ",\"line\":%d", frame_line(f));
        json_str(b, "reason", ls_buf_cstr(&what));
        json_close(b);
    } else {
        indent(vm, 2);
        if (frame_line(f)) ls_buf_printf(b, "line %d: ", frame_line(f));
        task_name(b, vm, t->id);
        ls_buf_printf(b, " %s\n", ls_buf_cstr(&what));
    }
    ls_buf_free(&what);
}

void ls_explain_finish(ls_vm *vm, const ls_task *t, int outcome, ls_value v) {
    if (!vm->explain) return;
    ls_buf *b = &vm->explain_out;
    ls_buf what = {0};
    if (outcome == 2) {
        ls_buf_puts(&what, "is cancelled");
    } else if (outcome == 1) {
        ls_buf_printf(&what, "raises %s: ", ls_type_name(v));
        ls_str_of(&what, v, false);
    } else {
        ls_buf_puts(&what, "returns ");
        ls_str_of(&what, v, true);
    }
    if (vm->explain == LS_EXPLAIN_JSON) {
        json_open(vm, "finish");
        ls_buf_printf(b, ",\"finished\":\"Task-%lld\"", (long long)t->id);
        json_str(b, "outcome", ls_buf_cstr(&what));
        json_close(b);
    } else {
        indent(vm, 2);
        task_name(b, vm, t->id);
        ls_buf_printf(b, " %s\n", ls_buf_cstr(&what));
    }
    ls_buf_free(&what);
}

void ls_explain_log(ls_vm *vm, const char *line, size_t n) {
    if (!vm->explain) return;
    ls_buf *b = &vm->explain_out;
    int src = ls_explain_line(vm);
    if (vm->explain == LS_EXPLAIN_JSON) {
        json_open(vm, "log");
        ls_buf_puts(b, ",\"text\":");
        ls_buf_json(b, line, n);
        ls_buf_printf(b, ",\"line\":%d", src);
        if (vm->running) {
            ls_buf name = {0};
            handle_name(&name, vm, vm->running);
            json_str(b, "handle", ls_buf_cstr(&name));
            origin_json(b, origin_get(vm->running));
            ls_buf_free(&name);
        }
        json_close(b);
        return;
    }
    indent(vm, 2);
    ls_buf_puts(b, "log: ");
    ls_buf_putn(b, line, n);
    if (src) ls_buf_printf(b, "    (line %d)", src);
    ls_buf_putc(b, '\n');
}

void ls_explain_phase(ls_vm *vm, const char *what) {
    if (!vm->explain) return;
    ls_buf *b = &vm->explain_out;
    if (vm->explain == LS_EXPLAIN_JSON) {
        json_open(vm, "phase");
        json_str(b, "what", what);
        json_close(b);
        return;
    }
    ls_buf_printf(b, "-- %s\n", what);
}

/* _process_events: the poll found h's socket ready and appended h to the
 * ready queue. Kept until the iteration's header is out (ls_explain_polled);
 * the handle's origin becomes the poll (add_reader's or add_writer's
 * registration was said when it ran). */
void ls_explain_io(ls_vm *vm, ls_handle *h, int fd, bool write) {
    if (!vm->explain) return;
    ls_origin *o = origin_make(vm, h);
    o->iter = vm->loop.iterations + 1;
    o->task = 0;
    o->line = 0;
    o->why = LS_WHY_POLL;
    o->future = (uint32_t)fd;
    o->done_task = write;
    if (vm->npolled == vm->cappolled) {
        vm->cappolled = vm->cappolled ? vm->cappolled * 2 : 8;
        vm->polled = ls_xrealloc(vm->polled, (size_t)vm->cappolled * sizeof *vm->polled);
    }
    vm->polled[vm->npolled++] = h;
}

void ls_explain_polled(ls_vm *vm) {
    if (!vm->explain) return;
    ls_buf *b = &vm->explain_out;
    for (int i = 0; i < vm->npolled; i++) {
        const ls_handle *h = vm->polled[i];
        int fd = (int)origin_get(h)->future;
        bool write = origin_get(h)->done_task != 0;
        ls_buf name = {0};
        handle_name(&name, vm, h);
        if (vm->explain == LS_EXPLAIN_JSON) {
            json_open(vm, "poll");
            ls_buf_printf(b, ",\"socket\":%d,\"ready\":\"%s\"", fd, write ? "write" : "read");
            json_str(b, "handle", ls_buf_cstr(&name));
            json_close(b);
        } else {
            indent(vm, 1);
            ls_buf_printf(b, "poll: socket %d is %s: its %s, %s, is made ready\n", fd,
                          write ? "writable" : "readable", write ? "writer" : "reader", ls_buf_cstr(&name));
        }
        ls_buf_free(&name);
    }
    vm->npolled = 0;
}
