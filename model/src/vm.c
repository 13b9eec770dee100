/* vm.c: the bytecode interpreter. One C loop runs a whole chain of
 * frames: calls and awaits switch frames without recursing in C, so a
 * suspension anywhere in the chain is a plain return to the task step. */
#include "vm.h"

#include "builtins.h"
#include "ctx.h"
#include "explain.h"
#include "loop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bound super().__init__ past the case classes (base_init). */
#define LS_BOUND_BASE_INIT (UINT32_MAX - 1)

#if defined(__GNUC__) && !defined(LS_NO_THREADED)
#define LS_THREADED 1
#endif

#define LS_MAX_DEPTH 1000     /* frames in one chain: CPython's recursion limit */
#define LS_DEFAULT_STEPS 4000000000ull
/* Live bytes a run may keep: a million pending tasks take about 600 MiB. */
#define LS_DEFAULT_MEMORY ((size_t)1 << 30)
/* The trace limit, the same as the harness's for every implementation: a
 * case that logs more is a flood, not a scheduling scenario. */
#define LS_DEFAULT_TRACE_LINES 100000
#define LS_DEFAULT_TRACE_BYTES ((size_t)8 << 20)

int ls_vm_raise(ls_vm *vm, ls_exc_type type, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vm->exc = ls_exc_new(vm, type, msg);
    return -1;
}

int ls_vm_log(ls_vm *vm, const char *line, size_t n) {
    if ((size_t)vm->ntrace >= vm->max_trace_lines || vm->trace_bytes + n + 1 > vm->max_trace_bytes) {
        const ls_frame *f = vm->cur_frame;
        int at = f && f->proto->ncode ? f->proto->lines[f->pc ? f->pc - 1 : 0] : 1;
        if ((size_t)vm->ntrace >= vm->max_trace_lines)
            ls_error_at(&vm->err, vm->prog->path, at, 1,
                        "trace limit of %zu lines exceeded (loopspec-model run --max-trace-lines)",
                        vm->max_trace_lines);
        else
            ls_error_at(&vm->err, vm->prog->path, at, 1,
                        "trace limit of %zu bytes exceeded (loopspec-model run --max-trace-bytes)",
                        vm->max_trace_bytes);
        return -1;
    }
    vm->trace_bytes += n + 1;
    if (vm->ntrace == vm->captrace) {
        vm->captrace = vm->captrace ? vm->captrace * 2 : 64;
        vm->trace = ls_xrealloc(vm->trace, (size_t)vm->captrace * sizeof *vm->trace);
    }
    vm->trace[vm->ntrace++] = ls_xstrndup(line, n);
    ls_explain_log(vm, line, n);
    if (vm->echo) {
        fwrite(line, 1, n, stdout);
        fputc('\n', stdout);
    }
    return 0;
}

ls_frame *ls_frame_new(ls_vm *vm, const ls_proto *p) {
    ls_frame *f = ls_alloc(vm, LS_O_FRAME, p->frame_size);
    f->proto = p;
    f->state = LS_FRAME_CREATED;
    f->waiting = ls_none();
    return f;
}

/* ---- the frame pool ----
 *
 * Most frames die with their call: a plain `def`'s always (it cannot be
 * suspended, and no value refers to it), and a coroutine's that `await
 * f(...)` enters as soon as the call made it (the coroutine object was
 * never anywhere but on the stack between the two instructions). Such a
 * frame is given back to a free list of its size when it returns or its
 * exception leaves it, so the next call reuses memory still in the
 * cache; the collector never sees it (it is on no list of objects, and
 * counts toward no threshold) except to mark what it refers to while it
 * runs. Under AddressSanitizer every pooled frame is malloc'd and freed,
 * so a use of a frame after it was given back is reported. */
#if defined(__SANITIZE_ADDRESS__)
#define LS_POOL_CHECKED 1
#endif

static void pool_track(ls_vm *vm, ls_frame *f) {
    if (vm->npool_all == vm->cappool_all) {
        vm->cappool_all = vm->cappool_all ? vm->cappool_all * 2 : 64;
        vm->pool_all = ls_xrealloc(vm->pool_all, (size_t)vm->cappool_all * sizeof *vm->pool_all);
    }
    vm->pool_all[vm->npool_all++] = f;
}

static ls_frame *frame_pooled_slow(ls_vm *vm, size_t cls) {
    ls_frame *f = ls_xmalloc(cls << 4);
    pool_track(vm, f);
    return f;
}

static inline ls_frame *frame_pooled(ls_vm *vm, const ls_proto *p) {
    size_t cls = (p->frame_size + 15) >> 4;
    if (cls >= LS_SIZE_CLASSES) return ls_frame_new(vm, p);
    ls_frame *f = NULL;
#ifndef LS_POOL_CHECKED
    f = vm->frame_pool[cls];
    if (f) vm->frame_pool[cls] = (ls_frame *)f->hdr.gcnext;
#endif
    if (!f) f = frame_pooled_slow(vm, cls);
    /* The header and the locals (unbound: zero), field by field: a call
     * is a few dozen instructions, and memset's would be a quarter of
     * them. The stack and the try blocks are written before they are
     * read. */
    f->hdr.gcnext = NULL;
    f->hdr.kind = LS_O_FRAME;
    f->hdr.mark = 0;
    f->hdr.flags = LS_OBJ_POOLED;
    f->hdr.sizeclass = (uint8_t)cls;
    f->proto = p;
    f->caller = f->callee = NULL;
    f->waiting = ls_none();
    f->pc = 0;
    f->sp = 0;
    f->depth = 0;
    f->state = LS_FRAME_CREATED;
    f->nblock = f->wait_value = f->init_self = 0;
    f->owner = NULL;
    for (int i = 0; i < p->nlocals; i++) f->slots[i] = ls_tagged(LS_V_UNBOUND, 0);
    return f;
}

/* A pooled frame has ended: back to the pool. What vm->cur_frame read of
 * it (the line of its last call, for explanations and the trace limit's
 * message) stays readable in a ghost. */
static inline void frame_release(ls_vm *vm, ls_frame *f) {
    if (!(f->hdr.flags & LS_OBJ_POOLED)) return;
    if (vm->cur_frame == f) {
        if (!vm->ghost) vm->ghost = ls_xcalloc(1, sizeof *vm->ghost);
        vm->ghost->proto = f->proto;
        vm->ghost->pc = f->pc;
        vm->ghost->state = LS_FRAME_DONE;
        vm->cur_frame = vm->ghost;
    }
#ifdef LS_POOL_CHECKED
    for (int i = 0; i < vm->npool_all; i++)
        if (vm->pool_all[i] == f) {
            vm->pool_all[i] = vm->pool_all[--vm->npool_all];
            break;
        }
    free(f);
#else
    /* Nothing reads a frame in the pool: frame_pooled sets every field. */
    f->state = LS_FRAME_DONE;
    f->hdr.gcnext = (ls_obj *)vm->frame_pool[f->hdr.sizeclass];
    vm->frame_pool[f->hdr.sizeclass] = f;
#endif
}

void ls_frame_pool_free(ls_vm *vm) {
    for (int i = 0; i < vm->npool_all; i++) free(vm->pool_all[i]);
    free(vm->pool_all);
    vm->pool_all = NULL;
    vm->npool_all = vm->cappool_all = 0;
    memset(vm->frame_pool, 0, sizeof vm->frame_pool);
    free(vm->ghost);
    vm->ghost = NULL;
}

static ls_block *blocks_of(ls_frame *f) {
    return (ls_block *)(f->slots + f->proto->nlocals + f->proto->maxstack);
}

int ls_vm_bind(ls_vm *vm, const ls_proto *p, ls_frame *fr, ls_value *args, int nargs,
               ls_value kwnames) {
    if (kwnames.tag != LS_V_OBJ && !p->varargs && nargs == p->nparams) {
        /* every parameter given by position: the common call */
        if (nargs) memcpy(fr->slots, args, (size_t)nargs * sizeof *args);
        return 0;
    }
    ls_list *kw = kwnames.tag == LS_V_OBJ ? (ls_list *)kwnames.u.o : NULL;
    int nkw = kw ? kw->n : 0, npos = nargs - nkw;
    if (p->varargs) {   /* the prelude's `*args`: the extra positionals */
        int extra = npos > p->nparams ? npos - p->nparams : 0;
        ls_list *t = ls_list_new(vm, LS_O_TUPLE, extra);
        for (int i = 0; i < extra; i++) ls_list_push(t, args[p->nparams + i]);
        fr->slots[p->nparams] = ls_obj_val(t);
        npos -= extra;
    }
    if (npos > p->nparams)
        return ls_vm_raise(vm, LS_E_TYPE, "%s() takes %d positional argument%s but %d %s given",
                           p->name, p->nparams, p->nparams == 1 ? "" : "s", npos,
                           npos == 1 ? "was" : "were");
    for (int i = 0; i < npos; i++) fr->slots[i] = args[i];
    for (int k = 0; k < nkw; k++) {
        const char *name = ((ls_str *)kw->v[k].u.o)->s;
        int slot = -1;
        for (int i = 0; i < p->nparams; i++)
            if (strcmp(p->localnames[i], name) == 0) slot = i;
        if (slot < 0)
            return ls_vm_raise(vm, LS_E_TYPE, "%s() got an unexpected keyword argument '%s'",
                               p->name, name);
        if (fr->slots[slot].tag != LS_V_UNBOUND)
            return ls_vm_raise(vm, LS_E_TYPE, "%s() got multiple values for argument '%s'",
                               p->name, name);
        fr->slots[slot] = args[npos + k];
    }
    for (int i = 0; i < p->nparams; i++)
        if (fr->slots[i].tag == LS_V_UNBOUND) {
            if (p->defaults[i].tag == LS_V_UNBOUND)
                return ls_vm_raise(vm, LS_E_TYPE, "%s() missing required argument: '%s'",
                                   p->name, p->localnames[i]);
            fr->slots[i] = p->defaults[i];
        }
    return 0;
}

/* ---- arithmetic and comparison ---- */

static bool isnum(ls_value v) {
    return v.tag == LS_V_INT || v.tag == LS_V_BOOL || v.tag == LS_V_FLOAT;
}
static double fnum(ls_value v) { return v.tag == LS_V_FLOAT ? v.u.f : (double)v.u.i; }

static int type_error2(ls_vm *vm, const char *op, ls_value a, ls_value b) {
    return ls_vm_raise(vm, LS_E_TYPE, "unsupported operand type(s) for %s: '%s' and '%s'", op,
                       ls_type_name(a), ls_type_name(b));
}

static int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static int concat(ls_vm *vm, ls_value a, ls_value b, ls_value *out) {
    if (ls_is(a, LS_O_STR) && ls_is(b, LS_O_STR)) {
        ls_str *x = (ls_str *)a.u.o, *y = (ls_str *)b.u.o;
        ls_str *s = ls_alloc(vm, LS_O_STR, sizeof *s + x->len + y->len + 1);
        memcpy(s->s, x->s, x->len);
        memcpy(s->s + x->len, y->s, y->len);
        s->len = x->len + y->len;
        *out = ls_obj_val(s);
        return 0;
    }
    ls_list *x = (ls_list *)a.u.o, *y = (ls_list *)b.u.o;
    ls_list *l = ls_list_new(vm, a.u.o->kind, x->n + y->n);
    for (int i = 0; i < x->n; i++) ls_list_push(l, x->v[i]);
    for (int i = 0; i < y->n; i++) ls_list_push(l, y->v[i]);
    *out = ls_obj_val(l);
    return 0;
}

static int repeat(ls_vm *vm, ls_value seq, int64_t n, ls_value *out) {
    if (n < 0) n = 0;
    if (ls_is(seq, LS_O_STR)) {
        ls_str *x = (ls_str *)seq.u.o;
        if (n && x->len > (1u << 26) / (uint64_t)n)
            return ls_vm_raise(vm, LS_E_OVERFLOW, "repeated string is too long");
        ls_buf b = {0};
        for (int64_t i = 0; i < n; i++) ls_buf_putn(&b, x->s, x->len);
        *out = ls_str_new(vm, b.p ? b.p : "", b.len);
        ls_buf_free(&b);
        return 0;
    }
    ls_list *x = (ls_list *)seq.u.o;
    if (n && x->n > (1 << 24) / n) return ls_vm_raise(vm, LS_E_OVERFLOW, "repeated list is too long");
    ls_list *l = ls_list_new(vm, seq.u.o->kind, (int)(x->n * n));
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < x->n; j++) ls_list_push(l, x->v[j]);
    *out = ls_obj_val(l);
    return 0;
}

static bool seqlike(ls_value v) {
    return ls_is(v, LS_O_STR) || ls_is(v, LS_O_LIST) || ls_is(v, LS_O_TUPLE);
}

/* ZeroDivisionError with the release's message: one for every operator
 * from 3.14 on, the operator's and the operands' own before. */
static int zero_division(ls_vm *vm, const char *before_3_14) {
    return ls_vm_raise(vm, LS_E_ZERO_DIV, "%s",
                       ls_vm_since(vm, LS_CH_ZERO_DIVISION_MESSAGE) ? "division by zero" : before_3_14);
}

static int binop(ls_vm *vm, int op, ls_value a, ls_value b, ls_value *out) {
    const char *sym = op == LS_TK_PLUS ? "+" : op == LS_TK_MINUS ? "-" : op == LS_TK_STAR ? "*"
                    : op == LS_TK_SLASH ? "/" : op == LS_TK_DSLASH ? "//" : "%";
    if (isnum(a) && isnum(b)) {
        if (a.tag != LS_V_FLOAT && b.tag != LS_V_FLOAT && op != LS_TK_SLASH) {
            int64_t x = a.u.i, y = b.u.i, r;
            switch (op) {
            case LS_TK_PLUS:
                if (__builtin_add_overflow(x, y, &r)) goto overflow;
                break;
            case LS_TK_MINUS:
                if (__builtin_sub_overflow(x, y, &r)) goto overflow;
                break;
            case LS_TK_STAR:
                if (__builtin_mul_overflow(x, y, &r)) goto overflow;
                break;
            case LS_TK_DSLASH:
                if (!y) return zero_division(vm, "integer division or modulo by zero");
                if (x == INT64_MIN && y == -1) goto overflow;
                r = floordiv(x, y);
                break;
            default:
                if (!y) return zero_division(vm, "integer modulo by zero");
                if (y == -1) { r = 0; break; }
                r = x - floordiv(x, y) * y;
                break;
            }
            *out = ls_int(r);
            return 0;
        }
        double x = fnum(a), y = fnum(b), r;
        switch (op) {
        case LS_TK_PLUS: r = x + y; break;
        case LS_TK_MINUS: r = x - y; break;
        case LS_TK_STAR: r = x * y; break;
        case LS_TK_SLASH:
            if (y == 0)
                return zero_division(vm, a.tag == LS_V_FLOAT || b.tag == LS_V_FLOAT
                                             ? "float division by zero" : "division by zero");
            r = x / y;
            break;
        case LS_TK_DSLASH:
            if (y == 0) return zero_division(vm, "float floor division by zero");
            r = floor(x / y);
            break;
        default:
            if (y == 0)
                return zero_division(vm, ls_vm_since(vm, LS_CH_FLOAT_MODULO_BY_ZERO)
                                             ? "float modulo by zero" : "float modulo");
            r = fmod(x, y);
            if (r != 0) {
                if ((r < 0) != (y < 0)) r += y;
            } else {
                r = copysign(0.0, y);   /* float_rem: the divisor's sign */
            }
            break;
        }
        *out = ls_float(r);
        return 0;
    }
    if (op == LS_TK_PLUS && a.tag == LS_V_OBJ && b.tag == LS_V_OBJ && seqlike(a) &&
        a.u.o->kind == b.u.o->kind)
        return concat(vm, a, b, out);
    if (op == LS_TK_STAR && seqlike(a) && (b.tag == LS_V_INT || b.tag == LS_V_BOOL))
        return repeat(vm, a, b.u.i, out);
    if (op == LS_TK_STAR && seqlike(b) && (a.tag == LS_V_INT || a.tag == LS_V_BOOL))
        return repeat(vm, b, a.u.i, out);
    if (op == LS_TK_PLUS && ls_is(a, LS_O_STR))
        return ls_vm_raise(vm, LS_E_TYPE, "can only concatenate str (not \"%s\") to str",
                           ls_type_name(b));
    return type_error2(vm, sym, a, b);
overflow:
    return ls_vm_raise(vm, LS_E_OVERFLOW, "integer overflow: the model's ints are 64-bit");
}

/* <0, 0, >0 into *r; -1 if the values do not order. */
int ls_order(ls_vm *vm, const char *sym, ls_value a, ls_value b, int *r) {
    if (isnum(a) && isnum(b)) {
        if (a.tag != LS_V_FLOAT && b.tag != LS_V_FLOAT) *r = (a.u.i > b.u.i) - (a.u.i < b.u.i);
        else *r = (fnum(a) > fnum(b)) - (fnum(a) < fnum(b));
        return 0;
    }
    if (ls_is(a, LS_O_STR) && ls_is(b, LS_O_STR)) {
        ls_str *x = (ls_str *)a.u.o, *y = (ls_str *)b.u.o;
        size_t n = x->len < y->len ? x->len : y->len;
        int c = memcmp(x->s, y->s, n);
        *r = c ? c : (x->len > y->len) - (x->len < y->len);
        return 0;
    }
    if (a.tag == LS_V_OBJ && b.tag == LS_V_OBJ && a.u.o->kind == b.u.o->kind &&
        (a.u.o->kind == LS_O_LIST || a.u.o->kind == LS_O_TUPLE)) {
        ls_list *x = (ls_list *)a.u.o, *y = (ls_list *)b.u.o;
        for (int i = 0; i < x->n && i < y->n; i++) {
            if (ls_equal(x->v[i], y->v[i])) continue;
            return ls_order(vm, sym, x->v[i], y->v[i], r);
        }
        *r = (x->n > y->n) - (x->n < y->n);
        return 0;
    }
    return ls_vm_raise(vm, LS_E_TYPE, "'%s' not supported between instances of '%s' and '%s'",
                       sym, ls_type_name(a), ls_type_name(b));
}

static int contains(ls_vm *vm, ls_value hay, ls_value needle, bool *r) {
    if (ls_is(hay, LS_O_LIST) || ls_is(hay, LS_O_TUPLE)) {
        ls_list *l = (ls_list *)hay.u.o;
        *r = false;
        for (int i = 0; i < l->n && !*r; i++) *r = ls_equal(l->v[i], needle);
        return 0;
    }
    if (ls_is(hay, LS_O_STR)) {
        if (!ls_is(needle, LS_O_STR))
            return ls_vm_raise(vm, LS_E_TYPE, "'in <string>' requires string as left operand, not %s",
                               ls_type_name(needle));
        *r = strstr(((ls_str *)hay.u.o)->s, ((ls_str *)needle.u.o)->s) != NULL;
        return 0;
    }
    if (ls_is(hay, LS_O_RANGE)) {
        ls_range *g = (ls_range *)hay.u.o;
        *r = false;
        if (needle.tag == LS_V_INT) {
            int64_t x = needle.u.i;
            bool in = g->step > 0 ? x >= g->start && x < g->stop : x <= g->start && x > g->stop;
            *r = in && (x - g->start) % g->step == 0;
        }
        return 0;
    }
    return ls_vm_raise(vm, LS_E_TYPE, "argument of type '%s' is not iterable", ls_type_name(hay));
}

static int compare(ls_vm *vm, int op, ls_value a, ls_value b, ls_value *out) {
    bool neg = op >= 256, r = false;
    op &= 255;
    int c;
    switch (op) {
    case LS_TK_EQ: r = ls_equal(a, b); break;
    case LS_TK_NE: r = !ls_equal(a, b); break;
    case LS_TK_IS: r = ls_identical(a, b) != neg; break;
    case LS_TK_IN: case LS_TK_NOT:
        if (contains(vm, b, a, &r) < 0) return -1;
        if (op == LS_TK_NOT) r = !r;
        break;
    default: {
        const char *sym = op == LS_TK_LT ? "<" : op == LS_TK_LE ? "<=" : op == LS_TK_GT ? ">" : ">=";
        if (ls_order(vm, sym, a, b, &c) < 0) return -1;
        r = op == LS_TK_LT ? c < 0 : op == LS_TK_LE ? c <= 0 : op == LS_TK_GT ? c > 0 : c >= 0;
    }
    }
    *out = ls_bool(r);
    return 0;
}

static int subscript(ls_vm *vm, ls_value o, ls_value i, ls_value *out) {
    if (i.tag != LS_V_INT && i.tag != LS_V_BOOL)
        return ls_vm_raise(vm, LS_E_TYPE, "indices must be integers, not %s", ls_type_name(i));
    int64_t k = i.u.i;
    if (ls_is(o, LS_O_LIST) || ls_is(o, LS_O_TUPLE)) {
        ls_list *l = (ls_list *)o.u.o;
        if (k < 0) k += l->n;
        if (k < 0 || k >= l->n)
            return ls_vm_raise(vm, LS_E_INDEX, "%s index out of range", ls_type_name(o));
        *out = l->v[k];
        return 0;
    }
    if (ls_is(o, LS_O_STR)) {
        ls_str *s = (ls_str *)o.u.o;
        if (k < 0) k += s->len;
        if (k < 0 || k >= (int64_t)s->len) return ls_vm_raise(vm, LS_E_INDEX, "string index out of range");
        *out = ls_str_new(vm, s->s + k, 1);
        return 0;
    }
    if (ls_is(o, LS_O_RANGE)) {
        ls_range *g = (ls_range *)o.u.o;
        int64_t n = g->step > 0 ? (g->stop - g->start + g->step - 1) / g->step
                                : (g->start - g->stop - g->step - 1) / -g->step;
        if (n < 0) n = 0;
        if (k < 0) k += n;
        if (k < 0 || k >= n) return ls_vm_raise(vm, LS_E_INDEX, "range object index out of range");
        *out = ls_int(g->start + k * g->step);
        return 0;
    }
    return ls_vm_raise(vm, LS_E_TYPE, "'%s' object is not subscriptable", ls_type_name(o));
}

/* Items of a sequence, for unpacking and *args: a list, tuple or range. */
static ls_list *as_list(ls_vm *vm, ls_value v) {
    if (ls_is(v, LS_O_LIST) || ls_is(v, LS_O_TUPLE)) return (ls_list *)v.u.o;
    if (ls_is(v, LS_O_RANGE)) {
        ls_range *g = (ls_range *)v.u.o;
        ls_list *l = ls_list_new(vm, LS_O_LIST, 0);
        for (int64_t x = g->start; g->step > 0 ? x < g->stop : x > g->stop; x += g->step) {
            if (l->n > (1 << 24)) break;
            ls_list_push(l, ls_int(x));
        }
        return l;
    }
    if (ls_is(v, LS_O_STR)) {
        ls_str *s = (ls_str *)v.u.o;
        ls_list *l = ls_list_new(vm, LS_O_LIST, (int)s->len);
        for (uint32_t i = 0; i < s->len; i++) ls_list_push(l, ls_str_new(vm, s->s + i, 1));
        return l;
    }
    ls_vm_raise(vm, LS_E_TYPE, "'%s' object is not iterable", ls_type_name(v));
    return NULL;
}

/* ---- calls ---- */

/* Calls callee. A user `def` returns a frame to run in *frame; anything
 * else leaves its result in *out. 0, or -1 with vm->exc (or vm->err). */
static int call_value(ls_vm *vm, ls_value callee, ls_value *args, int nargs, ls_value kwnames,
                      ls_value *out, ls_frame **frame);

/* Calls with `self` put before the arguments (bound methods, records
 * called as functions). */
static int call_with_self(ls_vm *vm, ls_value callee, ls_value self, ls_value *args, int nargs,
                          ls_value kwnames, ls_value *out, ls_frame **frame) {
    ls_value stackbuf[8];
    ls_value *full = nargs + 1 <= 8 ? stackbuf : ls_xmalloc((size_t)(nargs + 1) * sizeof *full);
    full[0] = self;
    if (nargs) memcpy(full + 1, args, (size_t)nargs * sizeof *args);
    int rc = call_value(vm, callee, full, nargs + 1, kwnames, out, frame);
    if (full != stackbuf) free(full);
    return rc;
}

/* A prelude class's method: the proto of Class__method, or -1. */
static int record_method(ls_vm *vm, ls_record *r, int method) {
    if (r->cls == LS_RECORD_PLAIN) return -1;
    return vm->prog->methods[r->cls * LS_M__COUNT + method];
}

static int group_new(ls_vm *vm, uint32_t type, ls_value *args, int nargs, ls_value *out) {
    if (nargs != 2 || !ls_is(args[0], LS_O_STR) || !(ls_is(args[1], LS_O_LIST) || ls_is(args[1], LS_O_TUPLE)))
        return ls_vm_raise(vm, LS_E_TYPE, "%s() takes a message and a sequence of exceptions",
                           ls_exc_name(type));
    ls_list *src = (ls_list *)args[1].u.o;
    if (!src->n) return ls_vm_raise(vm, LS_E_VALUE, "second argument (exceptions) must be a non-empty sequence");
    bool all_exc = true;
    for (int i = 0; i < src->n; i++) {
        if (!ls_is(src->v[i], LS_O_EXC))
            return ls_vm_raise(vm, LS_E_VALUE, "Item %d of second argument (exceptions) is not an exception", i);
        all_exc &= ls_exc_subclass(((ls_exc *)src->v[i].u.o)->type, LS_E_EXCEPTION);
    }
    if (type == LS_E_GROUP && !all_exc)
        return ls_vm_raise(vm, LS_E_TYPE, "Cannot nest BaseExceptions in an ExceptionGroup");
    if (all_exc) type = LS_E_GROUP;
    ls_list *copy = ls_list_new(vm, LS_O_LIST, src->n);
    for (int i = 0; i < src->n; i++) ls_list_push(copy, src->v[i]);
    ls_value a[2] = {args[0], ls_obj_val(copy)};
    *out = ls_obj_val(ls_exc_newv(vm, (ls_exc_type)type, a, 2));
    return 0;
}

/* ---- case classes ---- */

static bool case_obj(ls_value v) {
    return ls_is(v, LS_O_INSTANCE) || ls_is(v, LS_O_EXC) || ls_is(v, LS_O_CLASS);
}

static ls_class *class_of(ls_value v) {
    if (ls_is(v, LS_O_INSTANCE)) return ((ls_instance *)v.u.o)->cls;
    if (ls_is(v, LS_O_EXC)) return ((ls_exc *)v.u.o)->cls;
    if (ls_is(v, LS_O_CLASS)) return (ls_class *)v.u.o;
    return NULL;
}

/* Attribute id of a case object, as Python's lookup finds it: the
 * object's own attributes, then its class's and the bases'. 0: none; 1:
 * its own, in *out; 2: its class's, in *out (a function unbound). */
static int attr_raw(ls_value obj, uint32_t id, ls_value *out) {
    ls_fields *own = ls_is(obj, LS_O_INSTANCE) ? &((ls_instance *)obj.u.o)->attrs
                   : ls_is(obj, LS_O_EXC) ? &((ls_exc *)obj.u.o)->attrs : NULL;
    ls_value *v = own ? ls_fields_find(own, id) : NULL;
    if (v) {
        *out = *v;
        return 1;
    }
    for (ls_class *c = class_of(obj); c; c = c->base)
        if ((v = ls_fields_find(&c->attrs, id))) {
            *out = *v;
            return 2;
        }
    return 0;
}

/* obj.name for a case object: a function of its class comes bound. */
static bool case_attr(ls_vm *vm, ls_value obj, uint32_t id, ls_value *out) {
    int r = attr_raw(obj, id, out);
    if (r == 2 && out->tag == LS_V_FUNC && !ls_is(obj, LS_O_CLASS)) {
        ls_bound *b = ls_alloc(vm, LS_O_BOUND, sizeof *b);
        b->self = obj;
        b->method = LS_BOUND_FUNC;
        b->fn = *out;
        *out = ls_obj_val(b);
    }
    return r != 0;
}

static int no_attr(ls_vm *vm, ls_value obj, const char *name) {
    if (ls_is(obj, LS_O_CLASS))
        return ls_vm_raise(vm, LS_E_ATTRIBUTE, "type object '%s' has no attribute '%s'",
                           ((ls_class *)obj.u.o)->name, name);
    return ls_vm_raise(vm, LS_E_ATTRIBUTE, "'%s' object has no attribute '%s'", ls_type_name(obj), name);
}

/* C(args): a new instance (an exception, when C derives from one, whose
 * args are the positional arguments, as BaseException.__new__ sets them),
 * then __init__, run as a frame that returns the instance. */
static int instantiate(ls_vm *vm, ls_class *cls, ls_value *args, int nargs, ls_value kwnames,
                       ls_value *out, ls_frame **frame) {
    ls_value self;
    int nkw = kwnames.tag == LS_V_OBJ ? ((ls_list *)kwnames.u.o)->n : 0;
    if (cls->exc_base != LS_NO_EXC) {
        ls_exc *e = ls_exc_newv(vm, (ls_exc_type)cls->exc_base, args, nargs - nkw);
        e->cls = cls;
        self = ls_obj_val(e);
    } else {
        ls_instance *in = ls_alloc(vm, LS_O_INSTANCE, sizeof *in);
        in->cls = cls;
        self = ls_obj_val(in);
    }
    ls_value init;
    if (vm->prog->f_init >= 0 && attr_raw(self, (uint32_t)vm->prog->f_init, &init) == 2 &&
        init.tag == LS_V_FUNC) {
        const ls_proto *p = vm->prog->protos[init.u.i];
        ls_frame *fr = ls_frame_new(vm, p);
        ls_value stackbuf[8];
        ls_value *full = nargs + 1 <= 8 ? stackbuf : ls_xmalloc((size_t)(nargs + 1) * sizeof *full);
        full[0] = self;
        if (nargs) memcpy(full + 1, args, (size_t)nargs * sizeof *args);
        int rc = ls_vm_bind(vm, p, fr, full, nargs + 1, kwnames);
        if (full != stackbuf) free(full);
        if (rc < 0) return -1;
        fr->waiting = self;
        fr->init_self = 1;
        *frame = fr;
        return 0;
    }
    if (nargs && cls->exc_base == LS_NO_EXC)
        return ls_vm_raise(vm, LS_E_TYPE, "%s() takes no arguments", cls->name);
    if (nkw) return ls_vm_raise(vm, LS_E_TYPE, "%s() takes no keyword arguments", cls->name);
    *out = self;
    return 0;
}

/* super().__init__(...) past the case classes: BaseException.__init__
 * sets the exception's args to its arguments; object.__init__ takes none. */
static int base_init(ls_vm *vm, ls_value self, ls_value *args, int nargs, ls_value kwnames,
                     ls_value *out) {
    int nkw = kwnames.tag == LS_V_OBJ ? ((ls_list *)kwnames.u.o)->n : 0;
    if (ls_is(self, LS_O_EXC)) {
        ls_exc *e = (ls_exc *)self.u.o;
        if (nkw)
            return ls_vm_raise(vm, LS_E_TYPE, "%s() takes no keyword arguments",
                               e->cls ? e->cls->name : ls_exc_name(e->type));
        e->args = ls_exc_newv(vm, (ls_exc_type)e->type, args, nargs)->args;
    } else if (nargs) {
        return ls_vm_raise(vm, LS_E_TYPE,
                           "object.__init__() takes exactly one argument (the instance to initialize)");
    }
    *out = ls_none();
    return 0;
}

/* ---- async generators ---- */

/* The value of athrow(exc): an exception instance (a type is called). */
static int throwable(ls_vm *vm, ls_value v, ls_exc **out) {
    if (v.tag == LS_V_EXCTYPE) {
        *out = ls_exc_new(vm, (ls_exc_type)v.aux, NULL);
        return 0;
    }
    if (ls_is(v, LS_O_CLASS) && ((ls_class *)v.u.o)->exc_base != LS_NO_EXC) {
        ls_value e;
        if (ls_vm_call(vm, v, NULL, 0, &e) < 0) return -1;
        *out = (ls_exc *)e.u.o;
        return 0;
    }
    if (ls_is(v, LS_O_EXC)) {
        *out = (ls_exc *)v.u.o;
        return 0;
    }
    return ls_vm_raise(vm, LS_E_TYPE, "exceptions must be classes or instances deriving from "
                                      "BaseException, not %s", ls_type_name(v));
}

/* asend, athrow, aclose, __anext__ and __aiter__ of an async generator.
 * The first of them runs the loop's firstiter hook (sys.set_asyncgen_hooks
 * in run_forever): the loop then knows the generator, and
 * shutdown_asyncgens closes it if it is still open at the end. */
static int agen_method(ls_vm *vm, int m, ls_value *args, int nargs, ls_value *out) {
    ls_agen *g = (ls_agen *)args[0].u.o;
    int op = m == LS_M_ASEND || m == LS_M_ANEXT ? LS_AG_SEND : m == LS_M_ATHROW ? LS_AG_THROW
           : m == LS_M_ACLOSE ? LS_AG_CLOSE : -1;
    if (m == LS_M_AITER) {
        if (nargs != 1) return ls_vm_raise(vm, LS_E_TYPE, "__aiter__() takes no arguments");
        *out = args[0];
        return 0;
    }
    if (op < 0)
        return ls_vm_raise(vm, LS_E_ATTRIBUTE, "'async_generator' object has no attribute '%s'",
                           ls_method_names[m]);
    int want = m == LS_M_ASEND || m == LS_M_ATHROW ? 2 : 1;
    if (nargs != want)
        return ls_vm_raise(vm, LS_E_TYPE, "%s() takes exactly %d argument%s (%d given)",
                           ls_method_names[m], want - 1, want == 2 ? "" : "s", nargs - 1);
    ls_agenop *o = ls_alloc(vm, LS_O_AGENOP, sizeof *o);
    o->gen = g;
    o->op = (uint8_t)op;
    o->value = ls_none();
    if (m == LS_M_ASEND) o->value = args[1];
    if (m == LS_M_ATHROW) {
        ls_exc *e;
        if (throwable(vm, args[1], &e) < 0) return -1;
        o->value = ls_obj_val(e);
    }
    if (!g->hooked && vm->loop.running) {
        g->hooked = 1;
        if (!vm->asyncgens) vm->asyncgens = ls_list_new(vm, LS_O_LIST, 4);
        ls_list_push(vm->asyncgens, args[0]);
    }
    *out = ls_obj_val(o);
    return 0;
}

static int call_value(ls_vm *vm, ls_value callee, ls_value *args, int nargs, ls_value kwnames,
                      ls_value *out, ls_frame **frame) {
    *frame = NULL;
    /* The CALL instruction's promise that an AWAIT takes the result next:
     * good for this callee (and the method or function it stands for),
     * not for what a builtin calls in turn. */
    bool direct = vm->direct_await;
    vm->direct_await = false;
    switch (callee.tag) {
    case LS_V_FUNC: {
        const ls_proto *p = vm->prog->protos[callee.u.i];
        ls_frame *fr = !p->is_gen && (!p->is_async || direct) ? frame_pooled(vm, p)
                                                              : ls_frame_new(vm, p);
        if (ls_vm_bind(vm, p, fr, args, nargs, kwnames) < 0) {
            frame_release(vm, fr);
            return -1;
        }
        if (p->is_async && p->is_gen) {   /* an async generator */
            ls_agen *g = ls_alloc(vm, LS_O_AGEN, sizeof *g);
            g->frame = fr;
            fr->owner = (ls_obj *)g;
            *out = ls_obj_val(g);
        } else if (p->is_async || p->is_gen) {   /* a coroutine, or __await__'s generator */
            *out = ls_obj_val(fr);
        } else {
            *frame = fr;
        }
        return 0;
    }
    case LS_V_BUILTIN:
        return ls_builtin_call(vm, (int)callee.aux, args, nargs, kwnames, out);
    case LS_V_METHOD:
        if (nargs > 0 && ls_is(args[0], LS_O_AGEN))
            return agen_method(vm, (int)callee.aux, args, nargs, out);
        if (nargs > 0 && case_obj(args[0])) {
            /* A method of a case class, found by its name. */
            int fid = vm->prog->method_field[callee.aux];
            ls_value a;
            int r = fid >= 0 ? attr_raw(args[0], (uint32_t)fid, &a) : 0;
            if (r && ls_method_is_property((int)callee.aux)) {
                *out = a;
                return 0;
            }
            vm->direct_await = direct;
            if (r == 2 && a.tag == LS_V_FUNC && !ls_is(args[0], LS_O_CLASS))
                return call_value(vm, a, args, nargs, kwnames, out, frame);
            if (r) return call_value(vm, a, args + 1, nargs - 1, kwnames, out, frame);
            vm->direct_await = false;
            if (ls_is(args[0], LS_O_INSTANCE)) {
                ls_class *c = class_of(args[0]);
                if (callee.aux == LS_M_AENTER || callee.aux == LS_M_AEXIT)
                    return ls_vm_raise(vm, LS_E_TYPE,
                                       "'%s' object does not support the asynchronous context manager protocol",
                                       c->name);
                if (callee.aux == LS_M_AITER)
                    return ls_vm_raise(vm, LS_E_TYPE, "'async for' requires an object with __aiter__ "
                                                      "method, got %s", c->name);
                if (callee.aux == LS_M_ANEXT)
                    return ls_vm_raise(vm, LS_E_TYPE, "'async for' received an invalid object from "
                                                      "__aiter__: %s", c->name);
            }
        }
        if (nargs > 0 && ls_is(args[0], LS_O_RECORD)) {
            ls_record *r = (ls_record *)args[0].u.o;
            int pi = record_method(vm, r, (int)callee.aux);
            if (pi < 0 && (callee.aux == LS_M_AENTER || callee.aux == LS_M_AEXIT))
                return ls_vm_raise(vm, LS_E_TYPE,
                                   "'%s' object does not support the asynchronous context manager protocol",
                                   r->clsname);
            if (pi < 0)
                return ls_vm_raise(vm, LS_E_ATTRIBUTE, "'%s' object has no attribute '%s'",
                                   r->clsname, ls_method_names[callee.aux]);
            ls_value fn = {LS_V_FUNC, 0, {.i = pi}};
            vm->direct_await = direct;
            return call_value(vm, fn, args, nargs, kwnames, out, frame);
        }
        return ls_method_call(vm, (int)callee.aux, args, nargs, kwnames, out);
    case LS_V_EXCTYPE:
        if (kwnames.tag == LS_V_OBJ)
            return ls_vm_raise(vm, LS_E_TYPE, "%s() takes no keyword arguments",
                               ls_exc_name(callee.aux));
        if (callee.aux == LS_E_GROUP || callee.aux == LS_E_BASE_GROUP)
            return group_new(vm, callee.aux, args, nargs, out);
        if (callee.aux == LS_E_INCOMPLETE_READ && nargs != 2)
            return ls_vm_raise(vm, LS_E_TYPE, "IncompleteReadError.__init__() missing %d required positional argument%s",
                               nargs < 2 ? 2 - nargs : 0, nargs == 1 ? "" : "s");
        *out = ls_obj_val(ls_exc_newv(vm, (ls_exc_type)callee.aux, args, nargs));
        return 0;
    case LS_V_OBJ:
        if (callee.u.o->kind == LS_O_BOUND && ((ls_bound *)callee.u.o)->method == LS_BOUND_FUNC) {
            ls_bound *b = (ls_bound *)callee.u.o;
            vm->direct_await = direct;
            return call_with_self(vm, b->fn, b->self, args, nargs, kwnames, out, frame);
        }
        if (callee.u.o->kind == LS_O_BOUND && ((ls_bound *)callee.u.o)->method == LS_BOUND_BASE_INIT)
            return base_init(vm, ((ls_bound *)callee.u.o)->self, args, nargs, kwnames, out);
        if (callee.u.o->kind == LS_O_CLASS)
            return instantiate(vm, (ls_class *)callee.u.o, args, nargs, kwnames, out, frame);
        if (callee.u.o->kind == LS_O_BOUND) {
            ls_bound *b = (ls_bound *)callee.u.o;
            vm->direct_await = direct;
            return call_with_self(vm, ls_tagged(LS_V_METHOD, b->method), b->self, args, nargs,
                                  kwnames, out, frame);
        }
        if (callee.u.o->kind == LS_O_RECORD &&
            record_method(vm, (ls_record *)callee.u.o, LS_M_CALL) >= 0)
            return call_with_self(vm, ls_tagged(LS_V_METHOD, LS_M_CALL), callee, args, nargs,
                                  kwnames, out, frame);
        return ls_vm_raise(vm, LS_E_TYPE, "'%s' object is not callable", ls_type_name(callee));
    default:
        return ls_vm_raise(vm, LS_E_TYPE, "'%s' object is not callable", ls_type_name(callee));
    }
}

int ls_vm_call(ls_vm *vm, ls_value fn, ls_value *args, int nargs, ls_value *out) {
    ls_frame *fr;
    if (call_value(vm, fn, args, nargs, ls_none(), out, &fr) < 0) return -1;
    if (!fr) return 0;
    ls_exec r = ls_vm_exec(vm, fr, NULL, out);
    if (r == LS_EXEC_RETURN) return 0;
    if (r == LS_EXEC_RAISE) vm->exc = (ls_exc *)out->u.o;
    return -1;
}

/* except T: 1 if e is an instance of T (an exception type, or a case
 * class deriving from one), 0 if not, -1 if T is not an exception class. */
static int exc_matches(ls_exc *e, ls_value t) {
    if (t.tag == LS_V_EXCTYPE) return ls_exc_subclass(e->type, t.aux);
    if (!ls_is(t, LS_O_CLASS) || ((ls_class *)t.u.o)->exc_base == LS_NO_EXC) return -1;
    for (ls_class *c = e->cls; c; c = c->base)
        if (c == (ls_class *)t.u.o) return 1;
    return 0;
}

int ls_vm_str(ls_vm *vm, ls_buf *b, ls_value v, bool repr) {
    if ((ls_is(v, LS_O_INSTANCE) || (ls_is(v, LS_O_EXC) && ((ls_exc *)v.u.o)->cls))) {
        /* __str__, else (an instance: object.__str__) __repr__ */
        int fids[2] = {repr ? vm->prog->f_repr : vm->prog->f_str,
                       repr || ls_is(v, LS_O_EXC) ? -1 : vm->prog->f_repr};
        for (int i = 0; i < 2; i++) {
            ls_value fn, res;
            if (fids[i] < 0 || attr_raw(v, (uint32_t)fids[i], &fn) != 2 || fn.tag != LS_V_FUNC) continue;
            if (ls_vm_call(vm, fn, &v, 1, &res) < 0) return -1;
            if (!ls_is(res, LS_O_STR))
                return ls_vm_raise(vm, LS_E_TYPE, "%s returned non-string (type %s)",
                                   fids[i] == vm->prog->f_repr ? "__repr__" : "__str__", ls_type_name(res));
            ls_buf_putn(b, ((ls_str *)res.u.o)->s, ((ls_str *)res.u.o)->len);
            return 0;
        }
    }
    if (ls_is(v, LS_O_LIST) || ls_is(v, LS_O_TUPLE)) {
        ls_list *l = (ls_list *)v.u.o;
        bool any = false;
        for (int i = 0; i < l->n && !any; i++) any = ls_is(l->v[i], LS_O_INSTANCE) || ls_is(l->v[i], LS_O_EXC) ||
                                                     ls_is(l->v[i], LS_O_LIST) || ls_is(l->v[i], LS_O_TUPLE);
        if (any) {   /* the items' repr may be a case class's __repr__ */
            bool tuple = ls_is(v, LS_O_TUPLE);
            ls_buf_putc(b, tuple ? '(' : '[');
            for (int i = 0; i < l->n; i++) {
                if (i) ls_buf_puts(b, ", ");
                if (vm->depth > LS_MAX_NESTED_EXEC - 2)
                    return ls_vm_raise(vm, LS_E_RECURSION, "maximum recursion depth exceeded");
                vm->depth++;
                int rc = ls_vm_str(vm, b, l->v[i], true);
                vm->depth--;
                if (rc < 0) return -1;
            }
            if (tuple && l->n == 1) ls_buf_putc(b, ',');
            ls_buf_putc(b, tuple ? ')' : ']');
            return 0;
        }
    }
    ls_str_of(b, v, repr);
    return 0;
}

static bool budget_exhausted(ls_vm *vm, ls_frame *f, uint32_t pc) {
    ls_error_at(&vm->err, vm->prog->path, f->proto->lines[pc ? pc - 1 : 0], 1,
                "step budget of %llu instructions exhausted (a loop that never yields?)",
                (unsigned long long)vm->max_steps);
    return true;
}

/* Marks f finished and unlinks it from its caller: returns the caller to
 * resume, or NULL when f was its chain's base. */
static ls_frame *frame_finish(ls_frame *f) {
    ls_frame *c = f->caller;
    f->state = LS_FRAME_DONE;
    f->caller = NULL;
    if (c) {
        c->callee = NULL;
        c->state = LS_FRAME_RUNNING;
    }
    return c;
}

/* ---- the interpreter ---- */

ls_exec ls_vm_exec(ls_vm *vm, ls_frame *f, ls_exc *exc, ls_value *out) {
    const ls_proto *p;
    const uint32_t *code;
    const ls_value *consts;
    ls_value *locals, *stack, *sp;
    uint32_t pc;
    ls_frame *nf;
    ls_value v, w;

#define LOAD()                                                                 \
    do {                                                                       \
        p = f->proto;                                                          \
        code = p->code;                                                        \
        consts = p->consts;                                                    \
        locals = f->slots;                                                     \
        stack = locals + p->nlocals;                                           \
        sp = stack + f->sp;                                                    \
        pc = f->pc;                                                            \
    } while (0)
#define SAVE()                                                                 \
    do {                                                                       \
        f->pc = pc;                                                            \
        f->sp = (uint16_t)(sp - stack);                                        \
    } while (0)
/* A value copied as two 8-byte words, never one 16-byte move: most values
 * are written as two words (a tag, then a payload), and a 16-byte load of
 * them just after cannot be forwarded from the store buffer (a stall of
 * about 10 ns, a third of a direct await's time). */
#ifdef __GNUC__
#define VCOPY(d, s)                                                            \
    do {                                                                       \
        uint64_t h_, p_;                                                       \
        memcpy(&h_, (s), 8);                                                   \
        memcpy(&p_, (const char *)(s) + 8, 8);                                 \
        __asm__("" : "+r"(h_), "+r"(p_));                                      \
        memcpy((d), &h_, 8);                                                   \
        memcpy((char *)(d) + 8, &p_, 8);                                       \
    } while (0)
#define PUSH(x)                                                                \
    do {                                                                       \
        ls_value x_ = (x);                                                     \
        VCOPY(sp, &x_);                                                        \
        sp++;                                                                  \
    } while (0)
#define POP()                                                                  \
    __extension__({                                                            \
        ls_value x_;                                                           \
        sp--;                                                                  \
        VCOPY(&x_, sp);                                                        \
        x_;                                                                    \
    })
#define TOPV()                                                                 \
    __extension__({                                                            \
        ls_value x_;                                                           \
        VCOPY(&x_, sp - 1);                                                    \
        x_;                                                                    \
    })
#else
#define VCOPY(d, s) (*(d) = *(s))
#define TOPV() (sp[-1])
#define PUSH(x) (*sp++ = (x))
#define POP() (*--sp)
#endif
#define TOP() (sp[-1])
#define RAISE_EXC(e)                                                           \
    do {                                                                       \
        exc = (e);                                                             \
        goto handle;                                                           \
    } while (0)
#define CHECK(call)                                                            \
    do {                                                                       \
        if ((call) < 0) goto failed;                                           \
    } while (0)
/* A callee (an awaited coroutine, an __await__ generator, an async
 * generator) runs below f in the same loop: no more than LS_MAX_DEPTH. */
#define CHECK_DEPTH()                                                          \
    do {                                                                       \
        if (f->depth + 1 >= LS_MAX_DEPTH) {                                    \
            ls_vm_raise(vm, LS_E_RECURSION, "maximum recursion depth exceeded"); \
            goto failed;                                                       \
        }                                                                      \
    } while (0)
#define ENTER(frame)                                                           \
    do {                                                                       \
        ls_frame *c_ = (frame);                                                \
        c_->caller = f;                                                        \
        c_->depth = (uint16_t)(f->depth + 1);                                  \
        f->callee = c_;                                                        \
        f = c_;                                                                \
        f->state = LS_FRAME_RUNNING;                                           \
        LOAD();                                                                \
    } while (0)

    if (vm->depth >= LS_MAX_NESTED_EXEC) {
        *out = ls_obj_val(ls_exc_new(vm, LS_E_RECURSION, "maximum recursion depth exceeded"));
        return LS_EXEC_RAISE;
    }
    vm->depth++;
    ls_assert(f->state == LS_FRAME_CREATED || f->state == LS_FRAME_SUSPENDED);
    if (f->state == LS_FRAME_CREATED) {
        f->state = LS_FRAME_RUNNING;
        LOAD();
        if (exc) {   /* throw() into a coroutine that never started */
            f->state = LS_FRAME_DONE;
            *out = ls_obj_val(exc);
            vm->depth--;
            return LS_EXEC_RAISE;
        }
    } else {
        f->state = LS_FRAME_RUNNING;
        LOAD();
        w = f->waiting;
        f->waiting = ls_none();
        if (f->wait_value) {   /* sleep(0) in place: its result */
            f->wait_value = 0;
            if (exc) goto handle;
            PUSH(w);
        } else if (ls_is_future(w)) {
            ls_future *fut = (ls_future *)w.u.o;
            if (fut->timer) {   /* sleep's `finally: h.cancel()` */
                ls_handle_cancel(vm, fut->timer);
            }
            if (exc) goto handle;
            if (fut->state == LS_FUT_PENDING) {
                ls_vm_raise(vm, LS_E_RUNTIME, "await wasn't used with future");
                goto failed;
            }
            CHECK(ls_future_result(vm, fut, &v));
            PUSH(v);
        } else {
            if (exc) goto handle;
            PUSH(ls_is(w, LS_O_SLEEP) ? ((ls_sleep *)w.u.o)->result : ls_none());
        }
    }

    uint32_t ins;
    int32_t arg;
#ifdef LS_THREADED
    /* Threaded dispatch: each hot opcode jumps straight to the next one's
     * code, saving the switch's bounds check and shared indirect branch. */
    static void *const labels[] = {
#define LS_X(n, eff, doc) &&L_##n,
        LS_OPCODES(LS_X)
#undef LS_X
    };
#define OP(n) case LS_OP_##n: L_##n:
#define NEXT()                                                                 \
    do {                                                                       \
        ins = code[pc++];                                                      \
        arg = LS_ARG(ins);                                                     \
        goto *labels[LS_OP(ins)];                                              \
    } while (0)
#else
#define OP(n) case LS_OP_##n:
#define NEXT() break
#endif
    for (;;) {
        ins = code[pc++];
        arg = LS_ARG(ins);
        switch (LS_OP(ins)) {
        OP(NOP) break;
        OP(CONST) VCOPY(sp, &consts[arg]); sp++; NEXT();
        OP(INT) PUSH(ls_int(arg)); NEXT();
        OP(NONE) PUSH(ls_none()); NEXT();
        OP(TRUE) PUSH(ls_bool(true)); break;
        OP(FALSE) PUSH(ls_bool(false)); break;
        OP(LOAD_LOCAL)
            if (locals[arg].tag == LS_V_UNBOUND) {
                const char *nm = p->localnames[arg];
                ls_vm_raise(vm, LS_E_UNBOUND_LOCAL,
                            "cannot access local variable '%s' where it is not associated with a value",
                            nm ? nm : "?");
                goto failed;
            }
            VCOPY(sp, &locals[arg]);
            sp++;
            NEXT();
        OP(STORE_LOCAL) sp--; VCOPY(&locals[arg], sp); NEXT();
        OP(LOAD_GLOBAL)
            if (vm->globals[arg].tag == LS_V_UNBOUND) {
                ls_vm_raise(vm, LS_E_NAME, "name '%s' is not defined", vm->prog->globalnames[arg]);
                goto failed;
            }
            VCOPY(sp, &vm->globals[arg]);
            sp++;
            NEXT();
        OP(STORE_GLOBAL) sp--; VCOPY(&vm->globals[arg], sp); break;
        OP(LOAD_BUILTIN) PUSH(ls_tagged(LS_V_BUILTIN, (uint32_t)arg)); break;
        OP(LOAD_EXC)
            /* asyncio.QueueShutDown exists from 3.13 on. */
            if (arg == LS_E_QUEUE_SHUT_DOWN && !ls_vm_since(vm, LS_CH_QUEUE_SHUTDOWN)) {
                SAVE();
                ls_new_in(vm, LS_E_NAME, LS_CH_QUEUE_SHUTDOWN, "name 'QueueShutDown' is not defined");
                goto failed;
            }
            PUSH(ls_tagged(LS_V_EXCTYPE, (uint32_t)arg));
            break;
        OP(POP) sp--; NEXT();
        OP(DUP) v = TOPV(); PUSH(v); break;
        OP(DUP2) sp[0] = sp[-2]; sp[1] = sp[-1]; sp += 2; break;
        OP(ROT2) v = sp[-1]; sp[-1] = sp[-2]; sp[-2] = v; break;
        OP(ROT3) v = sp[-1]; sp[-1] = sp[-2]; sp[-2] = sp[-3]; sp[-3] = v; break;
        OP(BINARY)
            w = POP();
            v = TOPV();
            if (v.tag == LS_V_INT && w.tag == LS_V_INT && (arg & 255) == LS_TK_PLUS) {
                int64_t r;
                if (!__builtin_add_overflow(v.u.i, w.u.i, &r)) {
                    sp[-1] = ls_int(r);
                    NEXT();
                }
            }
            if (arg & LS_BINARY_INPLACE) {
                arg &= ~LS_BINARY_INPLACE;
                if (arg == LS_TK_PLUS && ls_is(v, LS_O_LIST)) {   /* list.__iadd__ */
                    ls_list *src = as_list(vm, w);
                    if (!src) goto failed;
                    ls_list *dst = (ls_list *)v.u.o;
                    int n = src->n;
                    for (int i = 0; i < n; i++) ls_list_push(dst, src->v[i]);
                    break;
                }
                if (arg == LS_TK_STAR && ls_is(v, LS_O_LIST) &&
                    (w.tag == LS_V_INT || w.tag == LS_V_BOOL)) {   /* list.__imul__ */
                    ls_list *dst = (ls_list *)v.u.o;
                    int n = dst->n;
                    int64_t k = w.u.i;
                    if (k <= 0) {
                        dst->n = 0;
                        break;
                    }
                    if (n && k > (1 << 24) / n) {
                        ls_vm_raise(vm, LS_E_OVERFLOW, "repeated list is too long");
                        goto failed;
                    }
                    for (int64_t r = 1; r < k; r++)
                        for (int i = 0; i < n; i++) ls_list_push(dst, dst->v[i]);
                    break;
                }
            }
            CHECK(binop(vm, arg, v, w, &sp[-1]));
            break;
        OP(COMPARE)
            w = POP();
            v = TOPV();
            if (v.tag == LS_V_INT && w.tag == LS_V_INT && arg == LS_TK_LT) {
                sp[-1] = ls_bool(v.u.i < w.u.i);
                break;
            }
            CHECK(compare(vm, arg, v, w, &sp[-1]));
            break;
        OP(NOT) sp[-1] = ls_bool(!ls_truthy(sp[-1])); break;
        OP(NEG)
            v = TOPV();
            if (v.tag == LS_V_INT || v.tag == LS_V_BOOL) {
                if (v.u.i == INT64_MIN) {
                    ls_vm_raise(vm, LS_E_OVERFLOW, "integer overflow: the model's ints are 64-bit");
                    goto failed;
                }
                sp[-1] = ls_int(-v.u.i);
            } else if (v.tag == LS_V_FLOAT) {
                sp[-1] = ls_float(-v.u.f);
            } else {
                ls_vm_raise(vm, LS_E_TYPE, "bad operand type for unary -: '%s'", ls_type_name(v));
                goto failed;
            }
            break;
        OP(POS)
            if (!isnum(TOP())) {
                ls_vm_raise(vm, LS_E_TYPE, "bad operand type for unary +: '%s'", ls_type_name(TOP()));
                goto failed;
            }
            if (TOP().tag == LS_V_BOOL) sp[-1] = ls_int(TOP().u.i);
            break;
        OP(JUMP)
            if ((uint32_t)arg < pc) {
                if (++vm->steps > vm->max_steps) goto budget;
                if (vm->bytes > vm->threshold && vm->depth == 1 && vm->gc_ready) {
                    SAVE();
                    if (!ls_gc_collect_checked(vm, (ls_obj *)f, vm->prog->path,
                                               f->proto->lines[pc ? pc - 1 : 0]))
                        goto aborted;
                }
            }
            pc = (uint32_t)arg;
            NEXT();
        OP(JUMP_IF_FALSE)
            v = POP();
            if (v.tag == LS_V_BOOL ? !v.u.i : !ls_truthy(v)) pc = (uint32_t)arg;
            NEXT();
        OP(JUMP_IF_NOT_LT)
            w = POP();
            v = POP();
            if (v.tag == LS_V_INT && w.tag == LS_V_INT) {
                if (!(v.u.i < w.u.i)) pc = (uint32_t)arg;
                NEXT();
            }
            CHECK(compare(vm, LS_TK_LT, v, w, &v));
            if (!v.u.i) pc = (uint32_t)arg;
            break;
        OP(JUMP_IF_TRUE)
            if (ls_truthy(POP())) pc = (uint32_t)arg;
            break;
        OP(JUMP_IF_FALSE_OR_POP)
            if (!ls_truthy(TOP())) pc = (uint32_t)arg;
            else sp--;
            break;
        OP(JUMP_IF_TRUE_OR_POP)
            if (ls_truthy(TOP())) pc = (uint32_t)arg;
            else sp--;
            break;
        OP(BUILD_LIST) OP(BUILD_TUPLE) {
            ls_list *l = ls_list_new(vm, LS_OP(ins) == LS_OP_BUILD_LIST ? LS_O_LIST : LS_O_TUPLE, arg);
            sp -= arg;
            for (int i = 0; i < arg; i++) ls_list_push(l, sp[i]);
            PUSH(ls_obj_val(l));
            break;
        }
        OP(LIST_APPEND)
            v = POP();
            ls_list_push((ls_list *)sp[-arg].u.o, v);
            break;
        OP(LIST_EXTEND) {
            v = POP();
            ls_list *src = as_list(vm, v);
            if (!src) goto failed;
            ls_list *dst = (ls_list *)TOP().u.o;
            int n = src->n;
            for (int i = 0; i < n; i++) ls_list_push(dst, src->v[i]);
            break;
        }
        OP(UNPACK) {
            v = POP();
            ls_list *l = as_list(vm, v);
            if (!l) goto failed;
            if (l->n != arg) {
                if (l->n > arg && ls_vm_since(vm, LS_CH_UNPACK_GOT_COUNT))
                    ls_vm_raise(vm, LS_E_VALUE, "too many values to unpack (expected %d, got %d)", arg, l->n);
                else if (l->n > arg)
                    ls_vm_raise(vm, LS_E_VALUE, "too many values to unpack (expected %d)", arg);
                else ls_vm_raise(vm, LS_E_VALUE, "not enough values to unpack (expected %d, got %d)", arg, l->n);
                goto failed;
            }
            for (int i = arg - 1; i >= 0; i--) PUSH(l->v[i]);
            break;
        }
        OP(SUBSCR)
            w = POP();
            v = TOPV();
            CHECK(subscript(vm, v, w, &sp[-1]));
            break;
        OP(STORE_SUBSCR) {
            w = POP();   /* index */
            v = POP();   /* object */
            ls_value val = POP();
            if (!ls_is(v, LS_O_LIST)) {
                ls_vm_raise(vm, LS_E_TYPE, "'%s' object does not support item assignment", ls_type_name(v));
                goto failed;
            }
            if (w.tag != LS_V_INT) {
                ls_vm_raise(vm, LS_E_TYPE, "list indices must be integers, not %s", ls_type_name(w));
                goto failed;
            }
            ls_list *l = (ls_list *)v.u.o;
            int64_t k = w.u.i < 0 ? w.u.i + l->n : w.u.i;
            if (k < 0 || k >= l->n) {
                ls_vm_raise(vm, LS_E_INDEX, "list assignment index out of range");
                goto failed;
            }
            l->v[k] = val;
            break;
        }
        OP(GET_ITER) {
            v = TOPV();
            if (ls_is(v, LS_O_RECORD) && record_method(vm, (ls_record *)v.u.o, LS_M_ITER) >= 0) {
                /* A prelude iterable (as_completed's generator or iterator):
                 * its __iter__ runs now, to completion, and gives the list
                 * the loop walks. */
                SAVE();
                ls_value fn = {LS_V_FUNC, 0, {.i = record_method(vm, (ls_record *)v.u.o, LS_M_ITER)}};
                ls_value items;
                if (ls_vm_call(vm, fn, &v, 1, &items) < 0) {
                    if (vm->err.set) goto aborted;
                    goto failed;
                }
                sp[-1] = v = items;
            }
            if (!(ls_is(v, LS_O_LIST) || ls_is(v, LS_O_TUPLE) || ls_is(v, LS_O_RANGE) ||
                  ls_is(v, LS_O_STR))) {
                ls_vm_raise(vm, LS_E_TYPE, "'%s' object is not iterable", ls_type_name(v));
                goto failed;
            }
            ls_iter *it = ls_alloc(vm, LS_O_ITER, sizeof *it);
            it->src = v;
            if (ls_is(v, LS_O_RANGE)) it->i = ((ls_range *)v.u.o)->start;
            sp[-1] = ls_obj_val(it);
            break;
        }
        OP(FOR_ITER) {
            ls_iter *it = (ls_iter *)TOP().u.o;
            ls_obj *src = it->src.u.o;
            bool more = false;
            if (++vm->steps > vm->max_steps) goto budget;
            switch (src->kind) {
            case LS_O_LIST: case LS_O_TUPLE: {
                ls_list *l = (ls_list *)src;
                if (it->i < l->n) {
                    PUSH(l->v[it->i++]);
                    more = true;
                }
                break;
            }
            case LS_O_RANGE: {
                ls_range *g = (ls_range *)src;
                if (g->step > 0 ? it->i < g->stop : it->i > g->stop) {
                    PUSH(ls_int(it->i));
                    it->i += g->step;
                    more = true;
                }
                break;
            }
            default: {
                ls_str *s = (ls_str *)src;
                if (it->i < (int64_t)s->len) {
                    PUSH(ls_str_new(vm, s->s + it->i++, 1));
                    more = true;
                }
                break;
            }
            }
            if (!more) {
                sp--;
                pc = (uint32_t)arg;
            }
            NEXT();
        }
        OP(FORMAT) {
            ls_buf b = {0};
            v = TOPV();
            if (arg == 0 && ls_is(v, LS_O_STR)) break;
            SAVE();
            if (ls_vm_str(vm, &b, v, arg == 1) < 0) {
                ls_buf_free(&b);
                if (vm->err.set) goto aborted;
                goto failed;
            }
            sp[-1] = ls_str_new(vm, b.p ? b.p : "", b.len);
            ls_buf_free(&b);
            break;
        }
        OP(BUILD_STR) {
            size_t n = 0;
            sp -= arg;
            for (int i = 0; i < arg; i++) n += ((ls_str *)sp[i].u.o)->len;
            ls_str *s = ls_alloc(vm, LS_O_STR, sizeof *s + n + 1);
            s->len = (uint32_t)n;
            n = 0;
            for (int i = 0; i < arg; i++) {
                ls_str *part = (ls_str *)sp[i].u.o;
                memcpy(s->s + n, part->s, part->len);
                n += part->len;
            }
            PUSH(ls_obj_val(s));
            break;
        }
        OP(KWNAMES) vm->kwnames = consts[arg]; break;
        OP(CALL) OP(CALL_EX) {
            if (vm->bytes > vm->threshold && vm->depth == 1 && vm->gc_ready) {
                /* A safe point: every live value is in a frame of the
                 * chain (the callee and arguments still on its stack),
                 * the loop's queues, or a task. */
                SAVE();
                if (!ls_gc_collect_checked(vm, (ls_obj *)f, vm->prog->path,
                                           f->proto->lines[pc ? pc - 1 : 0]))
                    goto aborted;
            }
            ls_value kw = ls_none();
            if (vm->kwnames.tag == LS_V_OBJ) {
                kw = vm->kwnames;
                vm->kwnames = ls_none();
            }
            ls_value *args, callee, res = ls_none();
            int nargs;
            ls_value *tmp = NULL;
            if (LS_OP(ins) == LS_OP_CALL) {
                nargs = arg;
                args = sp - nargs;
                callee = args[-1];
                sp -= nargs + 1;
            } else {
                ls_value *kwv = sp - arg;
                ls_list *pos = (ls_list *)kwv[-1].u.o;
                callee = kwv[-2];
                nargs = pos->n + arg;
                tmp = ls_xmalloc((size_t)(nargs ? nargs : 1) * sizeof *tmp);
                if (pos->n) memcpy(tmp, pos->v, (size_t)pos->n * sizeof *tmp);
                if (arg) memcpy(tmp + pos->n, kwv, (size_t)arg * sizeof *tmp);
                args = tmp;
                sp -= arg + 2;
            }
            if (++vm->steps > vm->max_steps) {
                free(tmp);
                goto budget;
            }
            if (kw.tag != LS_V_OBJ && f->depth + 1 < LS_MAX_DEPTH) {
                /* The calls of user functions with every parameter given
                 * by position, entered here as call_value would: a plain
                 * `def` (a prelude class's method too), and an `async def`
                 * that the next instruction awaits (CALL then AWAIT would
                 * enter its new frame at once; the coroutine object never
                 * reaches the stack). */
                int fi = -1;
                if (callee.tag == LS_V_FUNC) {
                    fi = (int)callee.u.i;
                } else if (callee.tag == LS_V_METHOD && nargs > 0 && ls_is(args[0], LS_O_RECORD)) {
                    fi = record_method(vm, (ls_record *)args[0].u.o, (int)callee.aux);
                }
                const ls_proto *cp = fi >= 0 ? vm->prog->protos[fi] : NULL;
                bool awaited = LS_OP(code[pc]) == LS_OP_AWAIT;
                if (cp && !cp->is_gen && !cp->varargs && nargs == cp->nparams &&
                    (!cp->is_async || awaited)) {
                    nf = frame_pooled(vm, cp);
                    for (int i = 0; i < nargs; i++) VCOPY(&nf->slots[i], &args[i]);
                    if (tmp) free(tmp);
                    if (cp->is_async) pc++;   /* past the AWAIT: the result comes back there */
                    SAVE();
                    vm->cur_frame = f;
                    ENTER(nf);
                    NEXT();
                }
            }
            SAVE();
            vm->cur_frame = f;
            vm->direct_await = LS_OP(code[pc]) == LS_OP_AWAIT;
            int rc = call_value(vm, callee, args, nargs, kw, &res, &nf);
            free(tmp);
            if (rc < 0) goto failed;
            if (nf) {
                CHECK_DEPTH();
                ENTER(nf);
                break;
            }
            PUSH(res);
            break;
        }
        OP(LOAD_ATTR) {
            v = TOPV();
            if (case_obj(v)) {   /* a case object's attribute of a method's name */
                int fid = vm->prog->method_field[arg];
                if (fid >= 0 && case_attr(vm, v, (uint32_t)fid, &sp[-1])) break;
                if (!ls_is(v, LS_O_EXC)) {
                    no_attr(vm, v, ls_method_names[arg]);
                    goto failed;
                }
            }
            ls_bound *b = ls_alloc(vm, LS_O_BOUND, sizeof *b);
            b->self = TOPV();
            b->method = (uint32_t)arg;
            sp[-1] = ls_obj_val(b);
            break;
        }
        OP(SUPER_ATTR) {
            /* super().name: the class's bases searched from its base on;
             * a function comes bound to self. Past the case classes,
             * __init__ is object.__init__ or BaseException.__init__. */
            ls_value self = POP(), cls = TOPV();
            uint32_t fid = (uint32_t)arg >> 1;
            ls_value *found = NULL;
            if (!ls_is(cls, LS_O_CLASS)) {
                ls_vm_raise(vm, LS_E_TYPE, "super(type, obj): obj must be an instance or subtype of type");
                goto failed;
            }
            ls_class *c0 = (ls_class *)cls.u.o;
            for (ls_class *c = c0->base; c && !found; c = c->base) found = ls_fields_find(&c->attrs, fid);
            if (found && found->tag == LS_V_FUNC) {
                ls_bound *b = ls_alloc(vm, LS_O_BOUND, sizeof *b);
                b->self = self;
                b->method = LS_BOUND_FUNC;
                b->fn = *found;
                sp[-1] = ls_obj_val(b);
                break;
            }
            if (found) {
                sp[-1] = *found;
                break;
            }
            if ((int)fid == vm->prog->f_init && (arg & 1)) {
                ls_bound *b = ls_alloc(vm, LS_O_BOUND, sizeof *b);
                b->self = self;
                b->method = LS_BOUND_BASE_INIT;
                b->fn = ls_none();
                sp[-1] = ls_obj_val(b);
                break;
            }
            ls_vm_raise(vm, LS_E_ATTRIBUTE, "'super' object has no attribute '%s'",
                        vm->prog->fieldnames[fid]);
            goto failed;
        }
        OP(LOAD_FIELD) {
            v = TOPV();
            if (case_obj(v)) {
                if (!case_attr(vm, v, (uint32_t)arg, &sp[-1])) {
                    no_attr(vm, v, vm->prog->fieldnames[arg]);
                    goto failed;
                }
                break;
            }
            if (!ls_is(v, LS_O_RECORD)) {
                ls_vm_raise(vm, LS_E_ATTRIBUTE, "'%s' object has no attribute '%s'", ls_type_name(v),
                            vm->prog->fieldnames[arg]);
                goto failed;
            }
            ls_record *r = (ls_record *)v.u.o;
            int k = p->field_hint[pc - 1];
            if (k >= r->n || r->f[k].id != (uint32_t)arg) {
                k = 0;
                while (k < r->n && r->f[k].id != (uint32_t)arg) k++;
                if (k < 256) p->field_hint[pc - 1] = (uint8_t)k;
            }
            if (k == r->n) {
                ls_vm_raise(vm, LS_E_ATTRIBUTE, "'%s' object has no attribute '%s'", r->clsname,
                            vm->prog->fieldnames[arg]);
                goto failed;
            }
            sp[-1] = r->f[k].v;
            break;
        }
        OP(STORE_FIELD) {
            v = POP();
            w = POP();
            if (case_obj(v)) {
                ls_fields *fs = ls_is(v, LS_O_INSTANCE) ? &((ls_instance *)v.u.o)->attrs
                              : ls_is(v, LS_O_EXC) ? &((ls_exc *)v.u.o)->attrs
                              : &((ls_class *)v.u.o)->attrs;
                ls_fields_set(fs, (uint32_t)arg, w);
                break;
            }
            if (!ls_is(v, LS_O_RECORD)) {
                ls_vm_raise(vm, LS_E_ATTRIBUTE, "'%s' object attribute '%s' is read-only",
                            ls_type_name(v), vm->prog->fieldnames[arg]);
                goto failed;
            }
            ls_record *r = (ls_record *)v.u.o;
            int k = p->field_hint[pc - 1];
            if (k >= r->n || r->f[k].id != (uint32_t)arg) {
                k = 0;
                while (k < r->n && r->f[k].id != (uint32_t)arg) k++;
                if (k < 256) p->field_hint[pc - 1] = (uint8_t)k;
            }
            if (k == r->n) {
                if (r->n == r->cap) {
                    r->cap = r->cap ? r->cap * 2 : 4;
                    r->f = ls_xrealloc(r->f, (size_t)r->cap * sizeof *r->f);
                }
                r->f[r->n++].id = (uint32_t)arg;
            }
            r->f[k].v = w;
            break;
        }
        OP(EXC_TYPE)
            if (ls_is(TOP(), LS_O_EXC)) sp[-1] = ls_type_of(TOP());
            else sp[-1] = ls_none();
            break;
        OP(LOAD_METHOD)
            v = TOPV();
            sp[-1] = ls_tagged(LS_V_METHOD, (uint32_t)arg);
            PUSH(v);
            break;
        OP(AWAIT) {
            v = POP();
            if (ls_is(v, LS_O_FRAME)) {
                nf = (ls_frame *)v.u.o;
                if (nf->state != LS_FRAME_CREATED) {
                    if (nf->state == LS_FRAME_RUNNING)
                        ls_vm_raise(vm, LS_E_VALUE, "coroutine already executing");
                    else if (nf->state == LS_FRAME_SUSPENDED)
                        ls_vm_raise(vm, LS_E_RUNTIME, "coroutine is being awaited already");
                    else
                        ls_vm_raise(vm, LS_E_RUNTIME, "cannot reuse already awaited coroutine");
                    goto failed;
                }
                CHECK_DEPTH();
                SAVE();
                ENTER(nf);
                break;
            }
            if (ls_is_future(v)) {
                ls_future *fut = (ls_future *)v.u.o;
                if (fut->state != LS_FUT_PENDING) {
                    CHECK(ls_future_result(vm, fut, &w));
                    PUSH(w);
                    break;
                }
                SAVE();
                f->waiting = v;
                goto yield;
            }
            if (ls_is(v, LS_O_SLEEP)) {
                ls_sleep *s = (ls_sleep *)v.u.o;
                if (s->used) {
                    ls_vm_raise(vm, LS_E_RUNTIME, "cannot reuse already awaited coroutine");
                    goto failed;
                }
                s->used = 1;
                SAVE();
                if (s->delay <= 0) {   /* sleep(0): __sleep0, a bare yield */
                    f->waiting = v;
                    v = ls_none();
                    goto yield;
                }
                if (isnan(s->delay) && ls_vm_since(vm, LS_CH_SLEEP_NAN_VALUE_ERROR)) {
                    ls_vm_raise(vm, LS_E_VALUE, "Invalid delay: NaN (not a number)");
                    goto failed;
                }
                ls_future *fut = ls_future_new(vm);
                fut->timer = ls_call_later(vm, s->delay, LS_H_SET_RESULT, ls_obj_val(fut),
                                           s->result, NULL);
                fut->timer->refs++;
                vm->cur_frame = f;
                ls_explain_origin(vm, fut->timer, LS_WHY_SLEEP, NULL);
                f->waiting = v = ls_obj_val(fut);
                goto yield;
            }
            if (ls_is(v, LS_O_SUSPEND)) {
                ls_suspend *s = (ls_suspend *)v.u.o;
                if (s->used) {   /* a finished generator: StopIteration, None */
                    PUSH(ls_none());
                    break;
                }
                s->used = 1;
                SAVE();
                f->waiting = v;
                v = ls_none();
                goto yield;
            }
            if (ls_is(v, LS_O_AGENOP)) {
                ls_agenop *op = (ls_agenop *)v.u.o;
                ls_frame *gf = op->gen->frame;
                if (op->used) {
                    ls_vm_raise(vm, LS_E_RUNTIME, "%s",
                                op->op == LS_AG_SEND ? "cannot reuse already awaited __anext__()/asend()"
                                                     : "cannot reuse already awaited aclose()/athrow()");
                    goto failed;
                }
                op->used = 1;
                if (gf->state == LS_FRAME_RUNNING || gf->caller) {
                    ls_vm_raise(vm, LS_E_RUNTIME, "%s(): asynchronous generator is already running",
                                op->op == LS_AG_SEND ? "anext" : op->op == LS_AG_THROW ? "athrow" : "aclose");
                    goto failed;
                }
                /* genobject.c's async_gen_athrow_send: once an aclose() has
                 * started (ag_closed), a generator still suspended (one that
                 * ignored the GeneratorExit) gets StopAsyncIteration from
                 * every later athrow() and aclose(), without running. */
                if (op->op != LS_AG_SEND && op->gen->closed && gf->state == LS_FRAME_SUSPENDED)
                    RAISE_EXC(ls_exc_new(vm, LS_E_STOP_ASYNC_ITERATION, NULL));
                if (op->op == LS_AG_CLOSE) op->gen->closed = 1;
                if (gf->state == LS_FRAME_CREATED && op->op != LS_AG_SEND)
                    gf->state = LS_FRAME_DONE;   /* thrown into before it started: it never runs */
                else if (gf->state == LS_FRAME_CREATED && op->value.tag != LS_V_NONE) {
                    ls_vm_raise(vm, LS_E_TYPE, "can't send non-None value to a just-started async generator");
                    goto failed;
                }
                if (gf->state == LS_FRAME_DONE) {
                    if (op->op == LS_AG_CLOSE) {
                        PUSH(ls_none());
                        break;
                    }
                    if (op->op == LS_AG_THROW && gf->pc == 0) RAISE_EXC((ls_exc *)op->value.u.o);
                    RAISE_EXC(ls_exc_new(vm, LS_E_STOP_ASYNC_ITERATION, NULL));
                }
                CHECK_DEPTH();
                /* Resume the generator under the awaiting frame: it runs
                 * until its next yield hands a value back, as a callee. */
                SAVE();
                bool started = gf->state != LS_FRAME_CREATED;
                op->gen->op = op->op;
                ENTER(gf);
                if (!started) break;
                if (op->op == LS_AG_SEND) {
                    PUSH(op->value);
                    break;
                }
                RAISE_EXC(op->op == LS_AG_THROW ? (ls_exc *)op->value.u.o
                                                : ls_exc_new(vm, LS_E_GENERATOR_EXIT, NULL));
            }
            if (case_obj(v) && !ls_is(v, LS_O_CLASS)) {
                /* a case object: `yield from` the generator its __await__ returns */
                int fid = vm->prog->method_field[LS_M_AWAIT];
                ls_value fn;
                if (fid >= 0 && attr_raw(v, (uint32_t)fid, &fn) == 2 && fn.tag == LS_V_FUNC) {
                    SAVE();
                    ls_value gen;
                    CHECK(call_value(vm, fn, &v, 1, ls_none(), &gen, &nf));
                    if (nf || !ls_is(gen, LS_O_FRAME) || ((ls_frame *)gen.u.o)->state != LS_FRAME_CREATED) {
                        ls_vm_raise(vm, LS_E_TYPE, "__await__() returned non-iterator of type '%s'",
                                    ls_type_name(gen));
                        goto failed;
                    }
                    CHECK_DEPTH();
                    ENTER((ls_frame *)gen.u.o);
                    break;
                }
            }
            ls_vm_raise(vm, LS_E_TYPE, "object %s can't be used in 'await' expression",
                        ls_type_name(v));
            goto failed;
        }
        OP(YIELD) {
            v = POP();
            if (!f->owner) {   /* __await__'s bare yield: the task gives up one iteration */
                SAVE();
                f->waiting = ls_none();
                v = ls_none();
                goto yield;
            }
            /* An async generator's yield: the value goes to the frame that
             * awaits asend()/__anext__(); the generator stays suspended. */
            ls_agen *g = (ls_agen *)f->owner;
            ls_frame *c = f->caller;
            SAVE();
            f->state = LS_FRAME_SUSPENDED;
            f->caller = NULL;
            c->callee = NULL;
            c->state = LS_FRAME_RUNNING;
            f = c;
            LOAD();
            if (g->op == LS_AG_CLOSE) {
                ls_vm_raise(vm, LS_E_RUNTIME, "async generator ignored GeneratorExit");
                goto failed;
            }
            PUSH(v);
            break;
        }
        OP(BUILD_CLASS) {
            sp -= arg;
            ls_value *vals = sp;
            ls_value base = sp[-1], name = sp[-2];
            ls_list *ids = (ls_list *)sp[-3].u.o;
            sp -= 3;
            ls_class *c = ls_alloc(vm, LS_O_CLASS, sizeof *c);
            c->name = ((ls_str *)name.u.o)->s;
            c->exc_base = LS_NO_EXC;
            if (base.tag == LS_V_EXCTYPE) {
                c->exc_base = base.aux;
            } else if (ls_is(base, LS_O_CLASS)) {
                c->base = (ls_class *)base.u.o;
                c->exc_base = c->base->exc_base;
            } else if (base.tag != LS_V_NONE) {
                ls_vm_raise(vm, LS_E_TYPE, "a class's base must be a class, not %s", ls_type_name(base));
                goto failed;
            }
            for (int i = 0; i < arg; i++) ls_fields_set(&c->attrs, (uint32_t)ids->v[i].u.i, vals[i]);
            PUSH(ls_obj_val(c));
            break;
        }
        OP(AWAIT_SLEEP) {
            w = arg == 2 ? POP() : ls_none();   /* result */
            v = POP();                          /* delay */
            double d;
            if (v.tag == LS_V_INT || v.tag == LS_V_BOOL) d = (double)v.u.i;
            else if (v.tag == LS_V_FLOAT) d = v.u.f;
            else {
                ls_vm_raise(vm, LS_E_TYPE, "'<=' not supported between instances of '%s' and 'int'",
                            ls_type_name(v));
                goto failed;
            }
            SAVE();
            if (d <= 0) {   /* __sleep0: a bare yield, then the result */
                f->waiting = w;
                f->wait_value = 1;
                v = ls_none();
                goto yield;
            }
            if (isnan(d) && ls_vm_since(vm, LS_CH_SLEEP_NAN_VALUE_ERROR)) {
                ls_vm_raise(vm, LS_E_VALUE, "Invalid delay: NaN (not a number)");
                goto failed;
            }
            ls_future *fut = ls_future_new(vm);
            fut->timer = ls_call_later(vm, d, LS_H_SET_RESULT, ls_obj_val(fut), w, NULL);
            fut->timer->refs++;
            vm->cur_frame = f;
            ls_explain_origin(vm, fut->timer, LS_WHY_SLEEP, NULL);
            f->waiting = v = ls_obj_val(fut);
            goto yield;
        }
        OP(RETURN) {
            v = POP();
            if (f->init_self) {   /* C(...) gives the instance __init__ set up */
                if (v.tag != LS_V_NONE) {
                    ls_vm_raise(vm, LS_E_TYPE, "__init__() should return None, not '%s'", ls_type_name(v));
                    goto failed;
                }
                v = f->waiting;
            }
            ls_frame *done = f;
            ls_frame *c = frame_finish(f);
            ls_obj *owner = done->owner;
            frame_release(vm, done);
            if (owner && c) {
                /* An async generator ran off its end: asend()/athrow()
                 * raise StopAsyncIteration, aclose() returns None. */
                f = c;
                LOAD();
                if (((ls_agen *)owner)->op == LS_AG_CLOSE) {
                    PUSH(ls_none());
                    break;
                }
                RAISE_EXC(ls_exc_new(vm, LS_E_STOP_ASYNC_ITERATION, NULL));
            }
            if (!c) {
                *out = v;
                vm->depth--;
                return LS_EXEC_RETURN;
            }
            f = c;
            LOAD();
            PUSH(v);
            NEXT();
        }
        OP(SETUP_TRY) {
            ls_block *b = &blocks_of(f)[f->nblock++];
            b->handler = (uint32_t)arg;
            b->depth = (uint32_t)(sp - stack);
            break;
        }
        OP(POP_BLOCK) f->nblock--; break;
        OP(RAISE)
            v = POP();
            if (v.tag == LS_V_EXCTYPE) RAISE_EXC(ls_exc_new(vm, (ls_exc_type)v.aux, NULL));
            if (ls_is(v, LS_O_EXC)) RAISE_EXC((ls_exc *)v.u.o);
            if (ls_is(v, LS_O_CLASS) && ((ls_class *)v.u.o)->exc_base != LS_NO_EXC) {
                SAVE();
                ls_exc *e;
                if (throwable(vm, v, &e) < 0) {
                    if (vm->err.set) goto aborted;
                    goto failed;
                }
                RAISE_EXC(e);
            }
            ls_vm_raise(vm, LS_E_TYPE, "exceptions must derive from BaseException");
            goto failed;
        OP(RERAISE)
            v = POP();
            RAISE_EXC((ls_exc *)v.u.o);
        OP(RAISE_ACTIVE)
            ls_vm_raise(vm, LS_E_RUNTIME, "No active exception to reraise");
            goto failed;
        OP(EXC_MATCH) {
            w = POP();
            v = POP();
            ls_exc *e = (ls_exc *)v.u.o;
            bool hit = false;
            if (w.tag == LS_V_EXCTYPE || ls_is(w, LS_O_CLASS)) {
                if (exc_matches(e, w) < 0) goto badmatch;
                hit = exc_matches(e, w);
            } else if (ls_is(w, LS_O_TUPLE)) {
                ls_list *t = (ls_list *)w.u.o;
                for (int i = 0; i < t->n; i++) {
                    int r = exc_matches(e, t->v[i]);
                    if (r < 0) goto badmatch;
                    hit |= r;
                }
            } else {
            badmatch:
                ls_vm_raise(vm, LS_E_TYPE,
                            "catching classes that do not inherit from BaseException is not allowed");
                goto failed;
            }
            PUSH(ls_bool(hit));
            break;
        }
        default:
            ls_error_at(&vm->err, vm->prog->path, p->lines[pc - 1], 1, "internal error: bad opcode %d",
                        LS_OP(ins));
            vm->depth--;
            return LS_EXEC_ABORT;
        }
        continue;

    failed:
        if (vm->err.set) {
            vm->depth--;
            return LS_EXEC_ABORT;
        }
        exc = vm->exc;
        vm->exc = NULL;
    handle:
        /* Find a handler in this frame or, frame by frame, its callers. */
        for (;;) {
            if (f->nblock) {
                ls_block b = blocks_of(f)[--f->nblock];
                sp = stack + b.depth;
                PUSH(ls_obj_val(exc));
                pc = b.handler;
                break;
            }
            ls_frame *done = f;
            ls_frame *c = frame_finish(f);
            ls_obj *owner = done->owner;
            frame_release(vm, done);
            if (owner && c) {
                /* An exception leaving an async generator: aclose() is
                 * done when it is the GeneratorExit thrown in; a
                 * StopAsyncIteration raised inside is a RuntimeError. */
                f = c;
                LOAD();
                if (((ls_agen *)owner)->op == LS_AG_CLOSE &&
                    (exc->type == LS_E_GENERATOR_EXIT || exc->type == LS_E_STOP_ASYNC_ITERATION) &&
                    !exc->cls) {
                    PUSH(ls_none());
                    break;
                }
                if (ls_exc_subclass(exc->type, LS_E_STOP_ASYNC_ITERATION))
                    exc = ls_exc_new(vm, LS_E_RUNTIME, "async generator raised StopAsyncIteration");
                continue;
            }
            if (!c) {
                *out = ls_obj_val(exc);
                vm->depth--;
                return LS_EXEC_RAISE;
            }
            f = c;
            LOAD();
        }
        continue;
    }

yield:
    f->state = LS_FRAME_SUSPENDED;
    vm->yield_top = f;
    *out = v;
    vm->depth--;
    return LS_EXEC_YIELD;

budget:
    budget_exhausted(vm, f, pc);
aborted:
    vm->depth--;
    return LS_EXEC_ABORT;
#undef LOAD
#undef SAVE
#undef PUSH
#undef POP
#undef TOP
#undef RAISE_EXC
#undef CHECK
#undef CHECK_DEPTH
#undef ENTER
#undef OP
#undef NEXT
}

int ls_vm_init(ls_vm *vm, const ls_program *prog, int profile) {
    memset(vm, 0, sizeof *vm);
    vm->prog = prog;
    vm->profile = profile;
    vm->kwnames = ls_none();
    vm->max_steps = LS_DEFAULT_STEPS;
    vm->max_bytes = LS_DEFAULT_MEMORY;
    vm->max_trace_lines = LS_DEFAULT_TRACE_LINES;
    vm->max_trace_bytes = LS_DEFAULT_TRACE_BYTES;
    vm->threshold = 8u << 20;
    /* LOOPSPEC_GC_STRESS=1 collects at every safe point: a test of the
     * collector's roots, far too slow for anything else. */
    const char *stress = getenv("LOOPSPEC_GC_STRESS");
    vm->gc_stress = stress && *stress && *stress != '0';
    if (vm->gc_stress) vm->threshold = 0;
    vm->globals = ls_xcalloc((size_t)(prog->nglobals ? prog->nglobals : 1), sizeof *vm->globals);
    for (int i = 0; i < prog->nprotos; i++) {
        int g = prog->proto_global[i];
        if (g < 0) continue;
        vm->globals[g].tag = LS_V_FUNC;
        vm->globals[g].u.i = i;
    }
    ls_loop_init(vm);
    vm->ctx = vm->root_ctx = (ls_obj *)ls_ctx_new(vm, NULL);
    ls_frame *f = ls_frame_new(vm, prog->init);
    ls_value out;
    ls_exec r = ls_vm_exec(vm, f, NULL, &out);
    if (r == LS_EXEC_ABORT) return -1;
    if (r == LS_EXEC_RAISE) {
        ls_buf b = {0};
        ls_str_of(&b, out, false);
        ls_error_at(&vm->err, prog->path, 1, 1, "top-level binding raised %s: %s",
                    ls_type_name(out), b.p ? b.p : "");
        ls_buf_free(&b);
        return -1;
    }
    return 0;
}

void ls_vm_free(ls_vm *vm) {
    ls_buf_free(&vm->explain_out);
    free(vm->deadlines);
    free(vm->polled);
    ls_loop_free(vm);
    ls_gc_free_all(vm);
    for (int i = 0; i < vm->ntrace; i++) free(vm->trace[i]);
    free(vm->trace);
    free(vm->globals);
    memset(vm, 0, sizeof *vm);
}
