/* ctx.c: contexts as immutable sorted arrays keyed by variable id. */
#include "ctx.h"

#include <string.h>

ls_ctx *ls_ctx_new(ls_vm *vm, ls_ctxmap *map) {
    ls_ctx *c = ls_alloc(vm, LS_O_CTX, sizeof *c);
    c->map = map;
    c->entered = 0;
    return c;
}

ls_ctx *ls_ctx_copy(ls_vm *vm, ls_obj *ctx) {
    return ls_ctx_new(vm, ctx ? ((ls_ctx *)ctx)->map : NULL);
}

static int find(const ls_ctxmap *m, const ls_ctxvar *var, bool *hit) {
    int lo = 0, hi = m ? m->n : 0;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (m->e[mid].var->id < var->id) lo = mid + 1;
        else hi = mid;
    }
    *hit = m && lo < m->n && m->e[lo].var == var;
    return lo;
}

bool ls_ctx_lookup(const ls_ctx *c, const ls_ctxvar *var, ls_value *out) {
    bool hit;
    int i = find(c->map, var, &hit);
    if (hit) *out = c->map->e[i].v;
    return hit;
}

void ls_ctx_set(ls_vm *vm, ls_ctx *c, ls_ctxvar *var, ls_value v) {
    ls_ctxmap *old = c->map;
    bool hit;
    int i = find(old, var, &hit);
    int n = old ? old->n : 0;
    int nn = v.tag == LS_V_UNBOUND ? (hit ? n - 1 : n) : (hit ? n : n + 1);
    size_t esz = sizeof old->e[0];
    ls_ctxmap *m = ls_alloc(vm, LS_O_CTXMAP, sizeof *m + (size_t)nn * esz);
    m->n = nn;
    if (v.tag == LS_V_UNBOUND) {
        if (!hit) {
            if (n) memcpy(m->e, old->e, (size_t)n * esz);
        } else {
            if (i) memcpy(m->e, old->e, (size_t)i * esz);
            if (n - i - 1 > 0) memcpy(&m->e[i], &old->e[i + 1], (size_t)(n - i - 1) * esz);
        }
    } else if (hit) {
        memcpy(m->e, old->e, (size_t)n * esz);
        m->e[i].v = v;
    } else {
        if (i) memcpy(m->e, old->e, (size_t)i * esz);
        m->e[i].var = var;
        m->e[i].v = v;
        if (n - i > 0) memcpy(&m->e[i + 1], &old->e[i], (size_t)(n - i) * esz);
    }
    c->map = m->n ? m : NULL;
}

ls_ctxvar *ls_ctxvar_new(ls_vm *vm, ls_value name, ls_value dflt) {
    ls_ctxvar *v = ls_alloc(vm, LS_O_CTXVAR, sizeof *v);
    v->name = name;
    v->dflt = dflt;
    v->id = ++vm->var_ids;
    return v;
}
