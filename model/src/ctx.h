/* ctx.h: contextvars: Context objects over immutable maps.
 *
 * copy_context() is O(1): the copy shares the map. ContextVar.set builds
 * a new map, O(n) in the variables set in that context (a handful in any
 * case), so a task that copies its creator's context never sees later
 * changes and never leaks its own. */
#ifndef LS_CTX_H
#define LS_CTX_H

#include "vm.h"

ls_ctx *ls_ctx_new(ls_vm *vm, ls_ctxmap *map);
/* copy_context() of a Context (NULL: an empty one). */
ls_ctx *ls_ctx_copy(ls_vm *vm, ls_obj *ctx);
bool ls_ctx_lookup(const ls_ctx *c, const ls_ctxvar *var, ls_value *out);
/* Binds var in c (v UNBOUND removes it). */
void ls_ctx_set(ls_vm *vm, ls_ctx *c, ls_ctxvar *var, ls_value v);
ls_ctxvar *ls_ctxvar_new(ls_vm *vm, ls_value name, ls_value dflt);

#endif
