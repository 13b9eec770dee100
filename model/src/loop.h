/* loop.h: the event loop, futures, tasks and gather: the asyncio core.
 *
 * ls_loop_step is BaseEventLoop._run_once; futures, tasks and gather
 * follow futures.py and tasks.py of the profile's CPython, step by step,
 * so that every handle is scheduled when CPython schedules it. */
#ifndef LS_LOOP_H
#define LS_LOOP_H

#include "vm.h"

void ls_loop_init(ls_vm *vm);
void ls_loop_free(ls_vm *vm);

/* call_soon / call_at: schedule a handle (ctx NULL: none needed). */
ls_handle *ls_call_soon(ls_vm *vm, int kind, ls_value a, ls_value b, ls_obj *ctx);
ls_handle *ls_call_at(ls_vm *vm, double when, int kind, ls_value a, ls_value b, ls_obj *ctx);
ls_handle *ls_call_later(ls_vm *vm, double delay, int kind, ls_value a, ls_value b,
                         ls_obj *ctx);
/* A handle that is on no queue yet (the selector's). */
ls_handle *ls_handle_new(ls_vm *vm, int kind, ls_value a, ls_value b, ls_obj *ctx);
void ls_handle_cancel(ls_vm *vm, ls_handle *h);
/* The object a program holds for h (what call_soon returns): a reference. */
ls_value ls_handle_wrap(ls_vm *vm, ls_handle *h);
void ls_handle_release(ls_vm *vm, ls_handle *h);

/* One iteration, the numbered phases of _run_once. Returns 1 if it ran,
 * 0 if the loop is idle with nothing to wait for (CPython would block
 * forever), -1 on abort. */
int ls_loop_step(ls_vm *vm);
/* loop.run_until_complete(fut): 0, or -1 with vm->err set. */
int ls_loop_run_until_complete(ls_vm *vm, ls_future *fut);
/* asyncio.run(main()): run, then cancel the leftovers and shut down.
 * Appends the `uncaught` line. 0, or -1 with vm->err set. */
int ls_run_main(ls_vm *vm);

ls_future *ls_future_new(ls_vm *vm);
int ls_future_set_result(ls_vm *vm, ls_future *f, ls_value v);
int ls_future_set_exception(ls_vm *vm, ls_future *f, ls_value exc);
/* Future.cancel, Task.cancel or _GatheringFuture.cancel, by kind. */
bool ls_future_cancel(ls_vm *vm, ls_future *f, ls_value msg);
void ls_future_add_callback(ls_vm *vm, ls_future *f, ls_callback cb);
int ls_future_remove_callback(ls_vm *vm, ls_future *f, ls_value fn);
/* future.result(): 0 and the value, or -1 with vm->exc. */
int ls_future_result(ls_vm *vm, ls_future *f, ls_value *out);
/* future.exception(): 0 and the exception or None, or -1. */
int ls_future_exception(ls_vm *vm, ls_future *f, ls_value *out);
ls_exc *ls_future_cancelled_error(ls_vm *vm, ls_future *f);

/* create_task / ensure_future / gather, under the runtime's profile. */
int ls_task_create(ls_vm *vm, ls_value coro, ls_value *out);
/* create_task's keyword arguments: context (NULL: a copy of the current
 * one), eager_start (-1: the profile's task factory decides) and name
 * (UNBOUND: none). */
typedef struct ls_task_opts {
    ls_obj *ctx;
    int eager;
    ls_value name;
} ls_task_opts;
int ls_task_create_opts(ls_vm *vm, ls_value coro, const ls_task_opts *o, ls_value *out);
void ls_task_set_name(ls_vm *vm, ls_task *t, ls_value name);
/* asyncio.all_tasks() as a list (CPython's is a set). */
int ls_all_tasks(ls_vm *vm, ls_value *out);
int ls_ensure_future(ls_vm *vm, ls_value aw, ls_value *out);
int ls_gather_new(ls_vm *vm, ls_value *args, int n, bool return_exceptions, ls_value *out);
int ls_task_uncancel(ls_vm *vm, ls_task *t);

#endif
