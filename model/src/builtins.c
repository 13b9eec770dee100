/* builtins.c: the builtin functions and methods of the case language:
 * asyncio's (through loop.c) and the few Python ones cases need. */
#include "builtins.h"
#include "io.h"

#include "ctx.h"
#include "profile.h"
#include "explain.h"
#include "loop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ls_builtin_names[] = {
#define LS_X(id, name, lo, hi) name,
    LS_BUILTINS(LS_X)
#undef LS_X
};

static const int arity[][2] = {
#define LS_X(id, name, lo, hi) {lo, hi},
    LS_BUILTINS(LS_X)
#undef LS_X
};

const char *const ls_method_names[] = {
#define LS_X(id, name) name,
    LS_METHODS(LS_X)
#undef LS_X
};

static const char *const not_yet[] = {
#define LS_X(name) name,
    LS_NOT_YET(LS_X)
#undef LS_X
    NULL};

static const char *const prelude_public[] = {
#define LS_X(name) name,
    LS_PRELUDE_PUBLIC(LS_X)
#undef LS_X
    NULL};

bool ls_prelude_public(const char *name) {
    static ls_name_index ix;
    return ls_name_lookup(&ix, prelude_public, -1, name) >= 0;
}

static const char *const exc_names[] = {
#define LS_X(id, name, parent) name,
    LS_EXCEPTIONS(LS_X)
#undef LS_X
};

int ls_builtin_lookup(const char *name) {
    static ls_name_index ix;
    return ls_name_lookup(&ix, ls_builtin_names, LS_B__COUNT, name);
}

int ls_method_lookup(const char *name) {
    static ls_name_index ix;
    return ls_name_lookup(&ix, ls_method_names, LS_M__COUNT, name);
}

bool ls_method_is_property(int id) {
    return id == LS_M_MAXSIZE || id == LS_M_EXCEPTIONS || id == LS_M_ARGS || id == LS_M_PARTIES ||
           id == LS_M_N_WAITING || id == LS_M_BROKEN || id == LS_M_DUNDER_NAME ||
           id == LS_M_PARTIAL || id == LS_M_EXPECTED;
}

int ls_new_in(ls_vm *vm, ls_exc_type type, ls_change c, const char *message) {
    char rel[16];
    int v = ls_change_since(c);
    return ls_vm_raise(vm, type, "%s (new in Python %d.%d; the profile %s follows CPython %s)", message,
                       v / 10000, v / 100 % 100, ls_profile_name(vm->profile),
                       ls_profile_release(vm->profile, rel));
}

/* A `context=` keyword argument: a Context, or None for a copy. */
static int context_kw(ls_vm *vm, ls_value v, const char *fname, ls_obj **ctx) {
    if (v.tag == LS_V_NONE) return 0;
    if (!ls_is(v, LS_O_CTX))
        return ls_vm_raise(vm, LS_E_TYPE, "%s(): context must be a Context, not %s", fname,
                           ls_type_name(v));
    *ctx = v.u.o;
    return 0;
}

bool ls_builtin_not_yet(const char *name) {
    static ls_name_index ix;
    return ls_name_lookup(&ix, not_yet, -1, name) >= 0;
}

int ls_exc_lookup(const char *name) {
    static ls_name_index ix;
    return ls_name_lookup(&ix, exc_names, LS_E__COUNT, name);
}

/* ---- argument helpers ---- */

typedef struct kwargs {
    ls_list *names;
    ls_value *vals;
    int n;
    unsigned used;
} kwargs;

static kwargs split(ls_value *args, int *nargs, ls_value kwnames) {
    kwargs k = {0};
    if (kwnames.tag == LS_V_OBJ) {
        k.names = (ls_list *)kwnames.u.o;
        k.n = k.names->n;
        *nargs -= k.n;
        k.vals = args + *nargs;
    }
    return k;
}

static bool kw(kwargs *k, const char *name, ls_value *out) {
    for (int i = 0; i < k->n; i++)
        if (strcmp(((ls_str *)k->names->v[i].u.o)->s, name) == 0) {
            *out = k->vals[i];
            k->used |= 1u << i;
            return true;
        }
    return false;
}

static int kw_done(ls_vm *vm, kwargs *k, const char *fname) {
    for (int i = 0; i < k->n; i++)
        if (!(k->used >> i & 1))
            return ls_vm_raise(vm, LS_E_TYPE, "%s() got an unexpected keyword argument '%s'", fname,
                               ((ls_str *)k->names->v[i].u.o)->s);
    return 0;
}

static bool is_int(ls_value v) { return v.tag == LS_V_INT || v.tag == LS_V_BOOL; }
static bool is_num(ls_value v) { return is_int(v) || v.tag == LS_V_FLOAT; }
static double num(ls_value v) { return v.tag == LS_V_FLOAT ? v.u.f : (double)v.u.i; }

static ls_value tuple_of(ls_vm *vm, ls_value *v, int n) {
    ls_list *t = ls_list_new(vm, LS_O_TUPLE, n);
    for (int i = 0; i < n; i++) ls_list_push(t, v[i]);
    return ls_obj_val(t);
}


static bool callable(ls_value v) {
    return v.tag == LS_V_FUNC || v.tag == LS_V_BUILTIN || v.tag == LS_V_METHOD ||
           v.tag == LS_V_EXCTYPE || ls_is(v, LS_O_BOUND) || ls_is(v, LS_O_RECORD) ||
           ls_is(v, LS_O_CLASS);
}

/* issubclass for case classes: c is d or derives from it. */
static bool class_derives(ls_class *c, ls_class *d) {
    for (; c; c = c->base)
        if (c == d) return true;
    return false;
}

/* Items of an iterable for list(), sorted(), min() ... */
static int items(ls_vm *vm, ls_value v, ls_list **out) {
    if (ls_is(v, LS_O_RECORD)) {
        /* a prelude iterable: its __iter__ gives the list (vm.c GET_ITER) */
        ls_record *r = (ls_record *)v.u.o;
        int pi = r->cls == LS_RECORD_PLAIN ? -1 : vm->prog->methods[r->cls * LS_M__COUNT + LS_M_ITER];
        if (pi >= 0) {
            ls_value fn = {LS_V_FUNC, 0, {.i = pi}};
            if (ls_vm_call(vm, fn, &v, 1, &v) < 0) return -1;
        }
    }
    if (ls_is(v, LS_O_LIST) || ls_is(v, LS_O_TUPLE)) {
        *out = (ls_list *)v.u.o;
        return 0;
    }
    ls_list *l = ls_list_new(vm, LS_O_LIST, 0);
    if (ls_is(v, LS_O_RANGE)) {
        ls_range *g = (ls_range *)v.u.o;
        for (int64_t x = g->start; g->step > 0 ? x < g->stop : x > g->stop; x += g->step) {
            if (l->n >= (1 << 24)) return ls_vm_raise(vm, LS_E_OVERFLOW, "range too long");
            ls_list_push(l, ls_int(x));
        }
    } else if (ls_is(v, LS_O_STR)) {
        ls_str *s = (ls_str *)v.u.o;
        for (uint32_t i = 0; i < s->len; i++) ls_list_push(l, ls_str_new(vm, s->s + i, 1));
    } else {
        return ls_vm_raise(vm, LS_E_TYPE, "'%s' object is not iterable", ls_type_name(v));
    }
    *out = l;
    return 0;
}

static int lt(ls_vm *vm, ls_value a, ls_value b, bool *r) {
    int c;
    if (ls_order(vm, "<", a, b, &c) < 0) return -1;
    *r = c < 0;
    return 0;
}

/* int(str) as PyLong_FromString: surrounding whitespace, a sign, digits
 * with single underscores between them. */
static bool parse_int(const char *s, int64_t *out) {
    while (*s == ' ' || (*s >= '\t' && *s <= '\r')) s++;
    bool neg = false;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    if (*s < '0' || *s > '9') return false;
    uint64_t v = 0;
    while ((*s >= '0' && *s <= '9') || (*s == '_' && s[1] >= '0' && s[1] <= '9')) {
        if (*s != '_') {
            if (v > (UINT64_MAX - 9) / 10) return false;
            v = v * 10 + (uint64_t)(*s - '0');
        }
        s++;
    }
    while (*s == ' ' || (*s >= '\t' && *s <= '\r')) s++;
    if (*s || v > (uint64_t)INT64_MAX) return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* ---- builtins ---- */

int ls_builtin_call(ls_vm *vm, int id, ls_value *args, int nargs, ls_value kwnames,
                    ls_value *out) {
    kwargs k = split(args, &nargs, kwnames);
    const char *name = ls_builtin_names[id];
    if (nargs < arity[id][0] || (arity[id][1] >= 0 && nargs > arity[id][1])) {
        if (arity[id][0] == arity[id][1])
            return ls_vm_raise(vm, LS_E_TYPE, "%s() takes %d positional argument%s (%d given)", name,
                               arity[id][0], arity[id][0] == 1 ? "" : "s", nargs);
        return ls_vm_raise(vm, LS_E_TYPE, "%s() got %d positional arguments; it takes %d to %d",
                           name, nargs, arity[id][0], arity[id][1]);
    }
    *out = ls_none();
    ls_value v;
    switch ((ls_builtin)id) {
    case LS_B_LOG: {
        if (kw_done(vm, &k, name) < 0) return -1;
        ls_buf b = {0};
        for (int i = 0; i < nargs; i++) {
            if (i) ls_buf_putc(&b, ' ');
            if (ls_vm_str(vm, &b, args[i], false) < 0) {
                ls_buf_free(&b);
                return -1;
            }
        }
        int rc = ls_vm_log(vm, b.p ? b.p : "", b.len);
        ls_buf_free(&b);
        return rc;
    }
    case LS_B_CREATE_TASK: {
        ls_task_opts o = {NULL, -1, ls_unbound()};
        if (kw(&k, "name", &v)) o.name = v;
        if (kw(&k, "context", &v) && context_kw(vm, v, name, &o.ctx) < 0) return -1;
        if (kw(&k, "eager_start", &v)) {
            if (!ls_vm_since(vm, LS_CH_CREATE_TASK_EAGER_START))
                return ls_new_in(vm, LS_E_TYPE, LS_CH_CREATE_TASK_EAGER_START,
                                 "create_task() got an unexpected keyword argument 'eager_start'");
            /* Task.__init__: `if eager_start and loop.is_running()` */
            o.eager = ls_truthy(v);
        }
        if (kw_done(vm, &k, name) < 0) return -1;
        return ls_task_create_opts(vm, args[0], &o, out);
    }
    case LS_B_ENSURE_FUTURE:
        if (kw_done(vm, &k, name) < 0) return -1;
        return ls_ensure_future(vm, args[0], out);
    case LS_B_SLEEP: {
        ls_value delay = nargs > 0 ? args[0] : ls_unbound();
        ls_value result = nargs > 1 ? args[1] : ls_none();
        if (kw(&k, "delay", &v)) {
            if (nargs > 0) return ls_vm_raise(vm, LS_E_TYPE, "sleep() got multiple values for argument 'delay'");
            delay = v;
        }
        if (kw(&k, "result", &v)) {
            if (nargs > 1) return ls_vm_raise(vm, LS_E_TYPE, "sleep() got multiple values for argument 'result'");
            result = v;
        }
        if (kw_done(vm, &k, name) < 0) return -1;
        if (delay.tag == LS_V_UNBOUND)
            return ls_vm_raise(vm, LS_E_TYPE, "sleep() missing 1 required positional argument: 'delay'");
        if (!is_num(delay))
            return ls_vm_raise(vm, LS_E_TYPE, "'<=' not supported between instances of '%s' and 'int'",
                               ls_type_name(delay));
        ls_sleep *s = ls_alloc(vm, LS_O_SLEEP, sizeof *s);
        s->delay = num(delay);
        s->result = result;
        *out = ls_obj_val(s);
        return 0;
    }
    case LS_B_SUSPEND: {
        if (kw_done(vm, &k, name) < 0) return -1;
        ls_suspend *s = ls_alloc(vm, LS_O_SUSPEND, sizeof *s);
        *out = ls_obj_val(s);
        return 0;
    }
    case LS_B_CALL_SOON: case LS_B_CALL_LATER: case LS_B_LOOP_CALL_AT: {
        /* loop.call_soon / call_later / call_at(..., context=None): the
         * handle runs in `context`, or in a copy of the current one. */
        bool later = id != LS_B_CALL_SOON;
        ls_obj *ctx = NULL;
        if (kw(&k, "context", &v) && context_kw(vm, v, name, &ctx) < 0) return -1;
        if (kw_done(vm, &k, name) < 0) return -1;
        if (!vm->loop.running) return ls_vm_raise(vm, LS_E_RUNTIME, "no running event loop");
        ls_value fn = args[later];
        if (!callable(fn))
            return ls_vm_raise(vm, LS_E_TYPE, "a callable object was expected by %s(), got %s",
                               name, ls_type_name(fn));
        if (later && !is_num(args[0]))
            return ls_vm_raise(vm, LS_E_TYPE, "%s() %s must be a number", name,
                               id == LS_B_CALL_LATER ? "delay" : "when");
        ls_value a = tuple_of(vm, args + later + 1, nargs - later - 1);
        if (!ctx) ctx = (ls_obj *)ls_ctx_copy(vm, vm->ctx);
        ls_handle *h = id == LS_B_CALL_LATER ? ls_call_later(vm, num(args[0]), LS_H_USER, fn, a, ctx)
                     : id == LS_B_LOOP_CALL_AT ? ls_call_at(vm, num(args[0]), LS_H_USER, fn, a, ctx)
                                               : ls_call_soon(vm, LS_H_USER, fn, a, ctx);
        ls_explain_origin(vm, h, later ? LS_WHY_CALL_LATER : LS_WHY_CALL_SOON, NULL);
        *out = ls_handle_wrap(vm, h);
        return 0;
    }
    case LS_B_LOOP_TIME:
        if (kw_done(vm, &k, name) < 0) return -1;
        if (!vm->loop.running) return ls_vm_raise(vm, LS_E_RUNTIME, "no running event loop");
        *out = ls_float(vm->loop.now);
        return 0;
    case LS_B_COPY_CONTEXT:
        if (kw_done(vm, &k, name) < 0) return -1;
        *out = ls_obj_val(ls_ctx_copy(vm, vm->ctx));
        return 0;
    case LS_B_ALL_TASKS:
        if (kw_done(vm, &k, name) < 0) return -1;
        if (!vm->loop.running) return ls_vm_raise(vm, LS_E_RUNTIME, "no running event loop");
        return ls_all_tasks(vm, out);
    case LS_B_TYPE:
        if (kw_done(vm, &k, name) < 0) return -1;
        if (ls_is(args[0], LS_O_HANDLE) && ((ls_handle_obj *)args[0].u.o)->h->timer)
            *out = ls_type_named("TimerHandle");
        else
            *out = ls_type_of(args[0]);
        return 0;
    case LS_B_NEW_IN: {
        /* __new_in("change", ExcType, "message"): the error for what the
         * profile's CPython does not have yet. */
        if (!ls_is(args[0], LS_O_STR) || args[1].tag != LS_V_EXCTYPE || !ls_is(args[2], LS_O_STR))
            return ls_vm_raise(vm, LS_E_TYPE, "__new_in() takes a change, a type and a message");
        const ls_str *cn = (ls_str *)args[0].u.o;
        int ch = ls_change_parse(cn->s, cn->len);
        if (ch < 0) return ls_vm_raise(vm, LS_E_RUNTIME, "__new_in(): no change '%s'", cn->s);
        return ls_new_in(vm, (ls_exc_type)args[1].aux, (ls_change)ch, ((ls_str *)args[2].u.o)->s);
    }
    case LS_B_FUTURE:
        if (kw_done(vm, &k, name) < 0) return -1;
        if (!vm->loop.running) return ls_vm_raise(vm, LS_E_RUNTIME, "no running event loop");
        *out = ls_obj_val(ls_future_new(vm));
        return 0;
    case LS_B_CONTEXTVAR: {
        ls_value d = ls_unbound();
        kw(&k, "default", &d);
        if (kw_done(vm, &k, name) < 0) return -1;
        if (!ls_is(args[0], LS_O_STR))
            return ls_vm_raise(vm, LS_E_TYPE, "context variable name must be a str");
        *out = ls_obj_val(ls_ctxvar_new(vm, args[0], d));
        return 0;
    }
    case LS_B_GATHER: {
        ls_value re = ls_bool(false);
        kw(&k, "return_exceptions", &re);
        if (kw_done(vm, &k, name) < 0) return -1;
        return ls_gather_new(vm, args, nargs, ls_truthy(re), out);
    }
    case LS_B_LEN: {
        if (kw_done(vm, &k, name) < 0) return -1;
        v = args[0];
        if (ls_is(v, LS_O_STR)) *out = ls_int(((ls_str *)v.u.o)->len);
        else if (ls_is(v, LS_O_LIST) || ls_is(v, LS_O_TUPLE)) *out = ls_int(((ls_list *)v.u.o)->n);
        else if (ls_is(v, LS_O_RANGE)) {
            ls_list *l;
            if (items(vm, v, &l) < 0) return -1;
            *out = ls_int(l->n);
        } else {
            return ls_vm_raise(vm, LS_E_TYPE, "object of type '%s' has no len()", ls_type_name(v));
        }
        return 0;
    }
    case LS_B_STR: case LS_B_REPR: {
        if (kw_done(vm, &k, name) < 0) return -1;
        if (nargs == 0) {
            *out = ls_str_new(vm, "", 0);
            return 0;
        }
        ls_buf b = {0};
        if (ls_vm_str(vm, &b, args[0], id == LS_B_REPR) < 0) {
            ls_buf_free(&b);
            return -1;
        }
        *out = ls_str_new(vm, b.p ? b.p : "", b.len);
        ls_buf_free(&b);
        return 0;
    }
    case LS_B_RANGE: {
        if (kw_done(vm, &k, name) < 0) return -1;
        for (int i = 0; i < nargs; i++)
            if (!is_int(args[i]))
                return ls_vm_raise(vm, LS_E_TYPE, "'%s' object cannot be interpreted as an integer",
                                   ls_type_name(args[i]));
        ls_range *r = ls_alloc(vm, LS_O_RANGE, sizeof *r);
        r->start = nargs > 1 ? args[0].u.i : 0;
        r->stop = nargs > 1 ? args[1].u.i : args[0].u.i;
        r->step = nargs > 2 ? args[2].u.i : 1;
        if (r->step == 0) return ls_vm_raise(vm, LS_E_VALUE, "range() arg 3 must not be zero");
        *out = ls_obj_val(r);
        return 0;
    }
    case LS_B_LIST: case LS_B_SORTED: {
        if (kw_done(vm, &k, name) < 0) return -1;
        ls_list *src, *l;
        if (nargs == 0) {
            *out = ls_obj_val(ls_list_new(vm, LS_O_LIST, 0));
            return 0;
        }
        if (items(vm, args[0], &src) < 0) return -1;
        l = ls_list_new(vm, LS_O_LIST, src->n);
        for (int i = 0; i < src->n; i++) ls_list_push(l, src->v[i]);
        if (id == LS_B_SORTED) {
            /* insertion sort: stable, as Python's sort is */
            for (int i = 1; i < l->n; i++) {
                ls_value x = l->v[i];
                int j = i - 1;
                for (; j >= 0; j--) {
                    bool less;
                    if (lt(vm, x, l->v[j], &less) < 0) return -1;
                    if (!less) break;
                    l->v[j + 1] = l->v[j];
                }
                l->v[j + 1] = x;
            }
        }
        *out = ls_obj_val(l);
        return 0;
    }
    case LS_B_MIN: case LS_B_MAX: {
        if (kw_done(vm, &k, name) < 0) return -1;
        ls_list *src;
        ls_list tmp = {.n = nargs, .v = args};
        if (nargs == 1) {
            if (items(vm, args[0], &src) < 0) return -1;
        } else {
            src = &tmp;
        }
        if (!src->n) return ls_vm_raise(vm, LS_E_VALUE, "%s() arg is an empty sequence", name);
        ls_value best = src->v[0];
        for (int i = 1; i < src->n; i++) {
            bool less;
            if (id == LS_B_MIN ? lt(vm, src->v[i], best, &less) : lt(vm, best, src->v[i], &less))
                return -1;
            if (less) best = src->v[i];
        }
        *out = best;
        return 0;
    }
    case LS_B_SUM: {
        if (kw_done(vm, &k, name) < 0) return -1;
        ls_list *src;
        if (items(vm, args[0], &src) < 0) return -1;
        int64_t si = 0;
        double sf = 0, comp = 0;
        bool fl = false;
        bool neumaier = ls_vm_since(vm, LS_CH_NEUMAIER_SUM);
        for (int i = 0; i < src->n; i++) {
            ls_value x = src->v[i];
            if (!is_num(x))
                return ls_vm_raise(vm, LS_E_TYPE, "unsupported operand type(s) for +: 'int' and '%s'",
                                   ls_type_name(x));
            if (x.tag == LS_V_FLOAT || fl) {
                if (!fl) sf = (double)si;
                fl = true;
                double y = num(x);
                if (neumaier) {
                    double t = sf + y;
                    if (fabs(sf) >= fabs(y)) comp += (sf - t) + y;
                    else comp += (y - t) + sf;
                    sf = t;
                } else {
                    sf += y;
                }
            } else if (__builtin_add_overflow(si, x.u.i, &si)) {
                return ls_vm_raise(vm, LS_E_OVERFLOW, "integer overflow: the model's ints are 64-bit");
            }
        }
        if (fl && neumaier && comp != 0 && isfinite(comp)) sf += comp;
        *out = fl ? ls_float(sf) : ls_int(si);
        return 0;
    }
    case LS_B_ABS:
        if (kw_done(vm, &k, name) < 0) return -1;
        if (is_int(args[0])) *out = ls_int(args[0].u.i < 0 ? -args[0].u.i : args[0].u.i);
        else if (args[0].tag == LS_V_FLOAT) *out = ls_float(fabs(args[0].u.f));
        else return ls_vm_raise(vm, LS_E_TYPE, "bad operand type for abs(): '%s'", ls_type_name(args[0]));
        return 0;
    case LS_B_INT:
        if (kw_done(vm, &k, name) < 0) return -1;
        if (nargs == 0) { *out = ls_int(0); return 0; }
        v = args[0];
        if (is_int(v)) *out = ls_int(v.u.i);
        else if (v.tag == LS_V_FLOAT) *out = ls_int((int64_t)v.u.f);
        else if (ls_is(v, LS_O_STR)) {
            int64_t x;
            const char *s = ((ls_str *)v.u.o)->s;
            if (!parse_int(s, &x))
                return ls_vm_raise(vm, LS_E_VALUE, "invalid literal for int() with base 10: '%s'", s);
            *out = ls_int(x);
        } else {
            return ls_vm_raise(vm, LS_E_TYPE, "int() argument must be a string or a number, not '%s'",
                               ls_type_name(v));
        }
        return 0;
    case LS_B_ISINSTANCE: {
        if (kw_done(vm, &k, name) < 0) return -1;
        ls_value t = args[1];
        bool hit = false;
        if (ls_is(t, LS_O_CLASS)) {
            ls_class *c = ls_is(args[0], LS_O_INSTANCE) ? ((ls_instance *)args[0].u.o)->cls
                        : ls_is(args[0], LS_O_EXC) ? ((ls_exc *)args[0].u.o)->cls : NULL;
            hit = class_derives(c, (ls_class *)t.u.o);
        } else if (t.tag == LS_V_EXCTYPE) {
            hit = ls_is(args[0], LS_O_EXC) && ls_exc_subclass(((ls_exc *)args[0].u.o)->type, t.aux);
        } else if (t.tag == LS_V_BUILTIN && (t.aux == LS_B_STR || t.aux == LS_B_INT || t.aux == LS_B_LIST)) {
            hit = t.aux == LS_B_STR ? ls_is(args[0], LS_O_STR)
                : t.aux == LS_B_INT ? is_int(args[0]) : ls_is(args[0], LS_O_LIST);
        } else {
            return ls_vm_raise(vm, LS_E_TYPE, "isinstance() arg 2 must be a type");
        }
        *out = ls_bool(hit);
        return 0;
    }
    case LS_B_ISSUBCLASS:
        if (kw_done(vm, &k, name) < 0) return -1;
        if (ls_is(args[0], LS_O_CLASS) && ls_is(args[1], LS_O_CLASS)) {
            *out = ls_bool(class_derives((ls_class *)args[0].u.o, (ls_class *)args[1].u.o));
            return 0;
        }
        if (ls_is(args[0], LS_O_CLASS) && args[1].tag == LS_V_EXCTYPE) {
            uint32_t b = ((ls_class *)args[0].u.o)->exc_base;
            *out = ls_bool(b != LS_NO_EXC && ls_exc_subclass(b, args[1].aux));
            return 0;
        }
        if (args[0].tag == LS_V_EXCTYPE && ls_is(args[1], LS_O_CLASS)) {
            *out = ls_bool(false);
            return 0;
        }
        if (args[0].tag != LS_V_EXCTYPE || args[1].tag != LS_V_EXCTYPE)
            return ls_vm_raise(vm, LS_E_TYPE, "issubclass() args must be classes");
        *out = ls_bool(ls_exc_subclass(args[0].aux, args[1].aux));
        return 0;
    case LS_B_AITER:
        if (kw_done(vm, &k, name) < 0) return -1;
        return ls_vm_call(vm, ls_tagged(LS_V_METHOD, LS_M_AITER), args, 1, out);
    case LS_B_ANEXT:
        /* anext(it): it.__anext__(); with a default, the prelude's
         * anext_awaitable(it.__anext__(), default), which gives the default
         * on StopAsyncIteration (builtin_anext). */
        if (kw_done(vm, &k, name) < 0) return -1;
        if (nargs == 1) return ls_vm_call(vm, ls_tagged(LS_V_METHOD, LS_M_ANEXT), args, 1, out);
        {
            ls_value wrap[2] = {ls_none(), args[1]};
            if (ls_vm_call(vm, ls_tagged(LS_V_METHOD, LS_M_ANEXT), args, 1, &wrap[0]) < 0) return -1;
            for (int g = 0; g < vm->prog->nglobals; g++)
                if (strcmp(vm->prog->globalnames[g], "__p_anext_awaitable") == 0 &&
                    vm->globals[g].tag == LS_V_FUNC)
                    return ls_vm_call(vm, vm->globals[g], wrap, 2, out);
            return ls_vm_raise(vm, LS_E_RUNTIME, "anext(): the prelude has no anext_awaitable");
        }
    case LS_B_NEW: {
        if (!ls_is(args[0], LS_O_STR)) return ls_vm_raise(vm, LS_E_TYPE, "__new() takes a class name");
        const char *cn = ((ls_str *)args[0].u.o)->s;
        for (int c = 0; c < vm->prog->nclasses; c++)
            if (strcmp(vm->prog->classnames[c], cn) == 0) {
                ls_record *r = ls_alloc(vm, LS_O_RECORD, sizeof *r);
                r->cls = (uint16_t)c;
                r->clsname = vm->prog->classnames[c];
                *out = ls_obj_val(r);
                return 0;
            }
        /* a class without methods: only fields (the name is a constant
         * of the prelude's, which lives as long as the program) */
        ls_record *r = ls_alloc(vm, LS_O_RECORD, sizeof *r);
        r->cls = LS_RECORD_PLAIN;
        r->clsname = cn;
        *out = ls_obj_val(r);
        return 0;
    }
    case LS_B_SINCE: {
        /* __since("change"): whether the profile's CPython has that row of
         * LS_CHANGES (profile.h). */
        if (!ls_is(args[0], LS_O_STR)) return ls_vm_raise(vm, LS_E_TYPE, "__since() takes a change name");
        const ls_str *name = (ls_str *)args[0].u.o;
        int ch = ls_change_parse(name->s, name->len);
        if (ch < 0) return ls_vm_raise(vm, LS_E_RUNTIME, "__since(): no change '%s'", name->s);
        *out = ls_bool(ls_vm_since(vm, (ls_change)ch));
        return 0;
    }
    case LS_B_TIME:
        *out = ls_float(vm->loop.now);
        return 0;
    case LS_B_CALL_AT: {
        if (!is_num(args[0])) return ls_vm_raise(vm, LS_E_TYPE, "__call_at() when must be a number");
        ls_value a = tuple_of(vm, args + 2, nargs - 2);
        ls_obj *ctx = (ls_obj *)ls_ctx_copy(vm, vm->ctx);
        ls_handle *h = ls_call_at(vm, num(args[0]), LS_H_USER, args[1], a, ctx);
        ls_explain_origin(vm, h, LS_WHY_CALL_LATER, NULL);
        *out = ls_handle_wrap(vm, h);
        return 0;
    }
    case LS_B_IS_COROUTINE:
        *out = ls_bool(ls_is(args[0], LS_O_FRAME) || ls_is(args[0], LS_O_SLEEP));
        return 0;
    case LS_B_IS_FUTURE:
        *out = ls_bool(ls_is_future(args[0]));
        return 0;
    case LS_B_SLICE: case LS_B_FIND: {
        /* The prelude's s[i:j] (j None: to the end) and s.find(sub, i),
         * for the bytearrays of streams.py; on bytes (the model's text). */
        if (!ls_is(args[0], LS_O_STR) || args[1].tag != LS_V_INT)
            return ls_vm_raise(vm, LS_E_TYPE, "%s() takes a str and an int", name);
        const ls_str *s = (ls_str *)args[0].u.o;
        int64_t len = s->len, i = args[1].u.i;
        if (i < 0) i = 0;
        if (i > len) i = len;
        if (id == LS_B_FIND) {
            if (!ls_is(args[2], LS_O_STR)) return ls_vm_raise(vm, LS_E_TYPE, "__find() takes a str to find");
            const ls_str *t = (ls_str *)args[2].u.o;
            int64_t at = -1;
            for (int64_t p = i; p + (int64_t)t->len <= len; p++)
                if (memcmp(s->s + p, t->s, t->len) == 0) { at = p; break; }
            *out = ls_int(at);
            return 0;
        }
        int64_t j = args[2].tag == LS_V_INT ? args[2].u.i : len;
        if (j > len) j = len;
        if (j < i) j = i;
        *out = ls_str_new(vm, s->s + i, (size_t)(j - i));
        return 0;
    }
    case LS_B_FILENO: return ls_io_fileno(vm, args[0], out);
    case LS_B_SOCKETPAIR:
        if (kw_done(vm, &k, name) < 0) return -1;
        return ls_io_socketpair(vm, out);
    case LS_B_ADD_IO: case LS_B_REMOVE_IO: {
        /* the selector's side of _add_reader / _remove_reader (and the
         * writer's): __add_io(sock, ev, fn, args), __remove_io(sock, ev) */
        if (args[1].tag != LS_V_INT) return ls_vm_raise(vm, LS_E_TYPE, "%s() event must be 0 or 1", name);
        int ev = args[1].u.i ? LS_IO_WRITE : LS_IO_READ;
        if (id == LS_B_REMOVE_IO) return ls_io_remove(vm, args[0], ev, out);
        if (!callable(args[2]))
            return ls_vm_raise(vm, LS_E_TYPE, "a callable object was expected by %s(), got %s",
                               ev == LS_IO_READ ? "add_reader" : "add_writer", ls_type_name(args[2]));
        return ls_io_add(vm, args[0], ev, args[2], args[3], out);
    }
    case LS_B_CURRENT_TASK:
        if (kw_done(vm, &k, name) < 0) return -1;
        *out = vm->loop.current ? ls_obj_val(vm->loop.current) : ls_none();
        return 0;
    case LS_B__COUNT: break;
    }
    return ls_vm_raise(vm, LS_E_RUNTIME, "internal error: builtin %d", id);
}

/* ---- methods ---- */

static int no_method(ls_vm *vm, int id, ls_value self) {
    if (id == LS_M_AENTER || id == LS_M_AEXIT)
        return ls_vm_raise(vm, LS_E_TYPE,
                           "'%s' object does not support the asynchronous context manager protocol",
                           ls_type_name(self));
    return ls_vm_raise(vm, LS_E_ATTRIBUTE, "'%s' object has no attribute '%s'", ls_type_name(self),
                       ls_method_names[id]);
}

static int want(ls_vm *vm, int id, int nargs, int lo, int hi) {
    if (nargs < lo || nargs > hi)
        return ls_vm_raise(vm, LS_E_TYPE, "%s() takes %d to %d arguments (%d given)",
                           ls_method_names[id], lo, hi, nargs);
    return 0;
}

static int future_method(ls_vm *vm, int id, ls_future *f, ls_value *a, int n, kwargs *k,
                         ls_value *out) {
    bool task = f->hdr.kind == LS_O_TASK;
    ls_value v;
    switch (id) {
    case LS_M_RESULT:
        if (want(vm, id, n, 0, 0) < 0) return -1;
        return ls_future_result(vm, f, out);
    case LS_M_EXCEPTION:
        if (want(vm, id, n, 0, 0) < 0) return -1;
        return ls_future_exception(vm, f, out);
    case LS_M_DONE:
        if (want(vm, id, n, 0, 0) < 0) return -1;
        *out = ls_bool(f->state != LS_FUT_PENDING);
        return 0;
    case LS_M_CANCELLED:
        if (want(vm, id, n, 0, 0) < 0) return -1;
        *out = ls_bool(f->state == LS_FUT_CANCELLED);
        return 0;
    case LS_M_CANCEL: {
        ls_value msg = n ? a[0] : ls_none();
        if (kw(k, "msg", &v)) msg = v;
        if (want(vm, id, n, 0, 1) < 0 || kw_done(vm, k, "cancel") < 0) return -1;
        *out = ls_bool(ls_future_cancel(vm, f, msg));
        return 0;
    }
    case LS_M_ADD_DONE_CALLBACK: {
        if (want(vm, id, n, 1, 1) < 0) return -1;
        ls_obj *ctx = NULL;
        if (kw(k, "context", &v)) {
            if (!ls_is(v, LS_O_CTX)) return ls_vm_raise(vm, LS_E_TYPE, "context must be a Context");
            ctx = v.u.o;
        }
        if (kw_done(vm, k, "add_done_callback") < 0) return -1;
        if (!callable(a[0])) return ls_vm_raise(vm, LS_E_TYPE, "callback must be callable");
        if (!ctx) ctx = (ls_obj *)ls_ctx_copy(vm, vm->ctx);
        ls_future_add_callback(vm, f, (ls_callback){LS_CB_USER, a[0], ctx});
        return 0;
    }
    case LS_M_REMOVE_DONE_CALLBACK:
        if (want(vm, id, n, 1, 1) < 0) return -1;
        *out = ls_int(ls_future_remove_callback(vm, f, a[0]));
        return 0;
    case LS_M_SET_RESULT: case LS_M_SET_EXCEPTION:
        if (want(vm, id, n, 1, 1) < 0) return -1;
        if (task)
            return ls_vm_raise(vm, LS_E_RUNTIME, "Task does not support %s operation",
                               ls_method_names[id]);
        if (id == LS_M_SET_RESULT) return ls_future_set_result(vm, f, a[0]);
        return ls_future_set_exception(vm, f, a[0]);
    case LS_M_CANCELLING:
        if (!task) return no_method(vm, id, ls_obj_val(f));
        if (want(vm, id, n, 0, 0) < 0) return -1;
        *out = ls_int(((ls_task *)f)->num_cancels);
        return 0;
    case LS_M_UNCANCEL:
        if (!task) return no_method(vm, id, ls_obj_val(f));
        if (want(vm, id, n, 0, 0) < 0) return -1;
        *out = ls_int(ls_task_uncancel(vm, (ls_task *)f));
        return 0;
    case LS_M_SET_NAME:
        if (!task) return no_method(vm, id, ls_obj_val(f));
        if (want(vm, id, n, 1, 1) < 0) return -1;
        ls_task_set_name(vm, (ls_task *)f, a[0]);
        return 0;
    case LS_M_GET_NAME: {
        if (!task) return no_method(vm, id, ls_obj_val(f));
        if (((ls_task *)f)->name.tag == LS_V_OBJ) {
            *out = ((ls_task *)f)->name;
            return 0;
        }
        char buf[32];
        snprintf(buf, sizeof buf, "Task-%lld", (long long)((ls_task *)f)->id);
        *out = ls_str_cstr(vm, buf);
        return 0;
    }
    default:
        return no_method(vm, id, ls_obj_val(f));
    }
}

static int ctxvar_method(ls_vm *vm, int id, ls_ctxvar *var, ls_value *a, int n, ls_value *out) {
    ls_ctx *ctx = (ls_ctx *)vm->ctx;
    switch (id) {
    case LS_M_GET:
        if (want(vm, id, n, 0, 1) < 0) return -1;
        if (ls_ctx_lookup(ctx, var, out)) return 0;
        if (n) { *out = a[0]; return 0; }
        if (var->dflt.tag != LS_V_UNBOUND) { *out = var->dflt; return 0; }
        {
            ls_buf b = {0};
            ls_str_of(&b, ls_obj_val(var), true);
            ls_value m = ls_str_new(vm, b.p, b.len);
            vm->exc = ls_exc_newv(vm, LS_E_LOOKUP, &m, 1);
            ls_buf_free(&b);
            return -1;
        }
    case LS_M_SET: {
        if (want(vm, id, n, 1, 1) < 0) return -1;
        ls_cvtoken *t = ls_alloc(vm, LS_O_TOKEN, sizeof *t);
        t->var = var;
        t->ctx = ctx;
        t->old = ls_unbound();
        ls_ctx_lookup(ctx, var, &t->old);
        ls_ctx_set(vm, ctx, var, a[0]);
        *out = ls_obj_val(t);
        return 0;
    }
    case LS_M_RESET: {
        if (want(vm, id, n, 1, 1) < 0) return -1;
        if (!ls_is(a[0], LS_O_TOKEN)) return ls_vm_raise(vm, LS_E_TYPE, "expected an instance of Token");
        ls_cvtoken *t = (ls_cvtoken *)a[0].u.o;
        if (t->used) return ls_vm_raise(vm, LS_E_RUNTIME, "Token has already been used once");
        if (t->var != var) return ls_vm_raise(vm, LS_E_VALUE, "Token was created by a different ContextVar");
        if (t->ctx != ctx) return ls_vm_raise(vm, LS_E_VALUE, "Token was created in a different Context");
        t->used = 1;
        ls_ctx_set(vm, ctx, var, t->old);
        return 0;
    }
    default:
        return no_method(vm, id, ls_obj_val(var));
    }
}

static int list_method(ls_vm *vm, int id, ls_list *l, ls_value *a, int n, ls_value *out) {
    switch (id) {
    case LS_M_APPEND:
        if (want(vm, id, n, 1, 1) < 0) return -1;
        ls_list_push(l, a[0]);
        return 0;
    case LS_M_EXTEND: {
        if (want(vm, id, n, 1, 1) < 0) return -1;
        ls_list *src;
        if (items(vm, a[0], &src) < 0) return -1;
        int cnt = src->n;
        for (int i = 0; i < cnt; i++) ls_list_push(l, src->v[i]);
        return 0;
    }
    case LS_M_POP: {
        if (want(vm, id, n, 0, 1) < 0) return -1;
        if (!l->n) return ls_vm_raise(vm, LS_E_INDEX, "pop from empty list");
        int64_t i = n ? a[0].u.i : l->n - 1;
        if (n && !is_int(a[0])) return ls_vm_raise(vm, LS_E_TYPE, "list indices must be integers");
        if (i < 0) i += l->n;
        if (i < 0 || i >= l->n) return ls_vm_raise(vm, LS_E_INDEX, "pop index out of range");
        *out = l->v[i];
        memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof *l->v);
        l->n--;
        return 0;
    }
    case LS_M_INSERT: {
        if (want(vm, id, n, 2, 2) < 0) return -1;
        if (!is_int(a[0])) return ls_vm_raise(vm, LS_E_TYPE, "list indices must be integers");
        int64_t i = a[0].u.i;
        if (i < 0) i += l->n;
        if (i < 0) i = 0;
        if (i > l->n) i = l->n;
        ls_list_push(l, ls_none());
        memmove(&l->v[i + 1], &l->v[i], (size_t)(l->n - 1 - i) * sizeof *l->v);
        l->v[i] = a[1];
        return 0;
    }
    case LS_M_CLEAR:
        if (want(vm, id, n, 0, 0) < 0) return -1;
        l->n = 0;
        return 0;
    case LS_M_REMOVE: case LS_M_INDEX: case LS_M_COUNT: {
        if (want(vm, id, n, 1, 1) < 0) return -1;
        int cnt = 0;
        for (int i = 0; i < l->n; i++) {
            if (!ls_equal(l->v[i], a[0])) continue;
            if (id == LS_M_REMOVE) {
                memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof *l->v);
                l->n--;
                return 0;
            }
            if (id == LS_M_INDEX) {
                *out = ls_int(i);
                return 0;
            }
            cnt++;
        }
        if (id == LS_M_COUNT) {
            *out = ls_int(cnt);
            return 0;
        }
        if (id == LS_M_INDEX && !ls_vm_since(vm, LS_CH_LIST_INDEX_MESSAGE)) {
            ls_buf b = {0};
            ls_str_of(&b, a[0], true);
            ls_vm_raise(vm, LS_E_VALUE, "%s is not in list", ls_buf_cstr(&b));
            ls_buf_free(&b);
            return -1;
        }
        return ls_vm_raise(vm, LS_E_VALUE, "list.%s(x): x not in list", ls_method_names[id]);
    }
    default:
        return no_method(vm, id, ls_obj_val(l));
    }
}

static int str_method(ls_vm *vm, int id, ls_str *s, ls_value *a, int n, ls_value *out) {
    switch (id) {
    case LS_M_UPPER: case LS_M_LOWER: {
        if (want(vm, id, n, 0, 0) < 0) return -1;
        ls_value r = ls_str_new(vm, s->s, s->len);
        ls_str *t = (ls_str *)r.u.o;
        for (uint32_t i = 0; i < t->len; i++)
            if (id == LS_M_UPPER && t->s[i] >= 'a' && t->s[i] <= 'z') t->s[i] -= 32;
            else if (id == LS_M_LOWER && t->s[i] >= 'A' && t->s[i] <= 'Z') t->s[i] += 32;
        *out = r;
        return 0;
    }
    case LS_M_STRIP: {
        if (want(vm, id, n, 0, 0) < 0) return -1;
        uint32_t b = 0, e = s->len;
        while (b < e && (s->s[b] == ' ' || s->s[b] == '\t' || s->s[b] == '\n')) b++;
        while (e > b && (s->s[e - 1] == ' ' || s->s[e - 1] == '\t' || s->s[e - 1] == '\n')) e--;
        *out = ls_str_new(vm, s->s + b, e - b);
        return 0;
    }
    case LS_M_STARTSWITH: case LS_M_ENDSWITH: {
        if (want(vm, id, n, 1, 1) < 0) return -1;
        if (!ls_is(a[0], LS_O_STR)) return ls_vm_raise(vm, LS_E_TYPE, "expected a str");
        ls_str *p = (ls_str *)a[0].u.o;
        bool r = p->len <= s->len &&
                 memcmp(id == LS_M_STARTSWITH ? s->s : s->s + s->len - p->len, p->s, p->len) == 0;
        *out = ls_bool(r);
        return 0;
    }
    case LS_M_JOIN: {
        if (want(vm, id, n, 1, 1) < 0) return -1;
        ls_list *src;
        if (items(vm, a[0], &src) < 0) return -1;
        ls_buf b = {0};
        for (int i = 0; i < src->n; i++) {
            if (!ls_is(src->v[i], LS_O_STR)) {
                ls_buf_free(&b);
                return ls_vm_raise(vm, LS_E_TYPE, "sequence item %d: expected str instance, %s found", i,
                                   ls_type_name(src->v[i]));
            }
            if (i) ls_buf_putn(&b, s->s, s->len);
            ls_str *x = (ls_str *)src->v[i].u.o;
            ls_buf_putn(&b, x->s, x->len);
        }
        *out = ls_str_new(vm, b.p ? b.p : "", b.len);
        ls_buf_free(&b);
        return 0;
    }
    case LS_M_SPLIT: {
        if (want(vm, id, n, 0, 1) < 0) return -1;
        ls_list *l = ls_list_new(vm, LS_O_LIST, 0);
        if (n && ls_is(a[0], LS_O_STR) && ((ls_str *)a[0].u.o)->len) {
            ls_str *sep = (ls_str *)a[0].u.o;
            const char *p = s->s, *end = s->s + s->len;
            for (;;) {
                const char *q = p;
                while (q + sep->len <= end && memcmp(q, sep->s, sep->len) != 0) q++;
                if (q + sep->len > end) q = end;
                ls_list_push(l, ls_str_new(vm, p, (size_t)(q - p)));
                if (q == end) break;
                p = q + sep->len;
            }
        } else {
            uint32_t i = 0;
            while (i < s->len) {
                while (i < s->len && (s->s[i] == ' ' || s->s[i] == '\t' || s->s[i] == '\n')) i++;
                uint32_t j = i;
                while (j < s->len && !(s->s[j] == ' ' || s->s[j] == '\t' || s->s[j] == '\n')) j++;
                if (j > i) ls_list_push(l, ls_str_new(vm, s->s + i, j - i));
                i = j;
            }
        }
        *out = ls_obj_val(l);
        return 0;
    }
    default:
        return no_method(vm, id, ls_obj_val(s));
    }
}

int ls_method_call(ls_vm *vm, int id, ls_value *args, int nargs, ls_value kwnames, ls_value *out) {
    kwargs k = split(args, &nargs, kwnames);
    ls_value self = args[0];
    ls_value *a = args + 1;
    int n = nargs - 1;
    *out = ls_none();
    if (ls_is_future(self)) return future_method(vm, id, (ls_future *)self.u.o, a, n, &k, out);
    if (kw_done(vm, &k, ls_method_names[id]) < 0) return -1;
    if (id == LS_M_DUNDER_NAME && self.tag == LS_V_EXCTYPE) {
        *out = ls_str_cstr(vm, ls_exc_name(self.aux));
        return 0;
    }
    if (id == LS_M_DUNDER_NAME && ls_is(self, LS_O_CLASS)) {
        *out = ls_str_cstr(vm, ((ls_class *)self.u.o)->name);
        return 0;
    }
    if (id == LS_M_DUNDER_NAME && ls_is(self, LS_O_TYPE)) {
        *out = ls_str_cstr(vm, ((ls_type *)self.u.o)->name);
        return 0;
    }
    if (self.tag != LS_V_OBJ) return no_method(vm, id, self);
    switch (self.u.o->kind) {
    case LS_O_EXC: {
        ls_exc *e = (ls_exc *)self.u.o;
        ls_list *args = (ls_list *)e->args.u.o;
        if (id == LS_M_ARGS) {
            *out = e->args;
            return 0;
        }
        if (id == LS_M_PARTIAL || id == LS_M_EXPECTED) {
            ls_value *f = ls_fields_find(&e->attrs, id == LS_M_PARTIAL ? LS_FIELD_PARTIAL : LS_FIELD_EXPECTED);
            if (f) {
                *out = *f;
                return 0;
            }
        }
        if (id == LS_M_EXCEPTIONS && (e->type == LS_E_GROUP || e->type == LS_E_BASE_GROUP) && args->n == 2) {
            ls_list *src = (ls_list *)args->v[1].u.o;
            ls_list *t = ls_list_new(vm, LS_O_TUPLE, src->n);
            for (int i = 0; i < src->n; i++) ls_list_push(t, src->v[i]);
            *out = ls_obj_val(t);
            return 0;
        }
        return no_method(vm, id, self);
    }
    case LS_O_HANDLE: {
        ls_handle *h = ((ls_handle_obj *)self.u.o)->h;
        if (id == LS_M_CANCEL) {
            if (want(vm, id, n, 0, 0) < 0) return -1;
            ls_handle_cancel(vm, h);
            return 0;
        }
        if (id == LS_M_CANCELLED) {
            if (want(vm, id, n, 0, 0) < 0) return -1;
            *out = ls_bool(h->cancelled);
            return 0;
        }
        return no_method(vm, id, self);
    }
    case LS_O_CTXVAR: return ctxvar_method(vm, id, (ls_ctxvar *)self.u.o, a, n, out);
    case LS_O_SOCK:
        if (id != LS_M_SEND && id != LS_M_RECV && id != LS_M_CLOSE) return no_method(vm, id, self);
        return ls_io_method(vm, id, (ls_sock *)self.u.o, a, n, out);
    case LS_O_CTX: {
        /* Context.run(fn, *args): fn runs with this context current; a
         * context runs in one place at a time. */
        if (id != LS_M_RUN) return no_method(vm, id, self);
        if (n < 1) return ls_vm_raise(vm, LS_E_TYPE, "run() missing 1 required positional argument");
        ls_ctx *c = (ls_ctx *)self.u.o;
        if (c->entered)
            return ls_vm_raise(vm, LS_E_RUNTIME, "cannot enter context: <Context object> is already entered");
        ls_obj *saved = vm->ctx;
        vm->ctx = (ls_obj *)c;
        c->entered++;
        int rc = ls_vm_call(vm, a[0], a + 1, n - 1, out);
        c->entered--;
        vm->ctx = saved;
        return rc;
    }
    case LS_O_LIST: return list_method(vm, id, (ls_list *)self.u.o, a, n, out);
    case LS_O_STR: return str_method(vm, id, (ls_str *)self.u.o, a, n, out);
    case LS_O_TUPLE:
        if (id == LS_M_INDEX || id == LS_M_COUNT) return list_method(vm, id, (ls_list *)self.u.o, a, n, out);
        return no_method(vm, id, self);
    default:
        return no_method(vm, id, self);
    }
}
