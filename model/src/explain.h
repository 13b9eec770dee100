/* explain.h: the model's account of why things ran when they did.
 *
 * With explanations on, the loop and the interpreter report each
 * iteration, each handle run (and who scheduled it, when, from which
 * line), where each task step resumed and why it suspended, what it
 * scheduled, and each log line in place: as text, or one JSON object per
 * event. Off, each hook costs one test of vm->explain. */
#ifndef LS_EXPLAIN_H
#define LS_EXPLAIN_H

#include "vm.h"

enum { LS_EXPLAIN_OFF, LS_EXPLAIN_TEXT, LS_EXPLAIN_JSON };

void ls_explain_iteration(ls_vm *vm, size_t nready);
void ls_explain_handle(ls_vm *vm, const ls_handle *h);
void ls_explain_origin(ls_vm *vm, ls_handle *h, int why, const ls_future *done);
void ls_explain_resume(ls_vm *vm, const ls_task *t, const ls_frame *f, bool throwing);
void ls_explain_suspend(ls_vm *vm, const ls_task *t, const ls_frame *f, ls_value on);
/* outcome: 0 returns v, 1 raises v, 2 is cancelled. */
void ls_explain_finish(ls_vm *vm, const ls_task *t, int outcome, ls_value v);
void ls_explain_create(ls_vm *vm, const ls_task *t, bool eager);
void ls_explain_log(ls_vm *vm, const char *line, size_t n);
void ls_explain_phase(ls_vm *vm, const char *what);
/* The poll made h, the reader (writer) of socket fd, ready. */
void ls_explain_io(ls_vm *vm, ls_handle *h, int fd, bool write);
/* Says what the poll made ready, after the iteration's header. */
void ls_explain_polled(ls_vm *vm);
/* The source line the running frame is at, or 0. */
int ls_explain_line(const ls_vm *vm);

#endif
