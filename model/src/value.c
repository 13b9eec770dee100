/* value.c: objects, Python's str()/repr(), equality, and the collector. */
#include "value.h"
#include "io.h"

#include "loop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LS_GC_MIN (8u << 20)   /* first collection after 8 MiB */

static const char *const exc_names[] = {
#define LS_X(id, name, parent) name,
    LS_EXCEPTIONS(LS_X)
#undef LS_X
};

static const int exc_parent[] = {
#define LS_X(id, name, parent) LS_E_##parent,
    LS_EXCEPTIONS(LS_X)
#undef LS_X
};

static const char *const obj_names[] = {
#define LS_X(n, py) py,
    LS_OBJECTS(LS_X)
#undef LS_X
};

ls_value *ls_fields_find(const ls_fields *fs, uint32_t id) {
    for (int i = 0; i < fs->n; i++)
        if (fs->f[i].id == id) return &fs->f[i].v;
    return NULL;
}

void ls_fields_set(ls_fields *fs, uint32_t id, ls_value v) {
    ls_value *old = ls_fields_find(fs, id);
    if (old) {
        *old = v;
        return;
    }
    if (fs->n == fs->cap) {
        fs->cap = fs->cap ? fs->cap * 2 : 4;
        fs->f = ls_xrealloc(fs->f, (size_t)fs->cap * sizeof *fs->f);
    }
    fs->f[fs->n].id = id;
    fs->f[fs->n++].v = v;
}

const char *ls_exc_name(uint32_t type) { return type < LS_E__COUNT ? exc_names[type] : "?"; }

bool ls_exc_subclass(uint32_t type, uint32_t parent) {
    if (type == LS_E_GROUP && parent == LS_E_BASE_GROUP) return true;
    for (;;) {
        if (type == parent) return true;
        if (type == LS_E_BASE) return false;
        type = (uint32_t)exc_parent[type];
    }
}

/* Blocks of 64 KiB: a small object costs its size class and no malloc
 * header (16 bytes each: a tenth of a pending task's memory), and a run
 * that makes a million tasks calls malloc a few thousand times. */
#define LS_SLAB_BYTES ((size_t)64 << 10)

/* Blocks a finished run gave back, kept for the next run of the process
 * (serve, bench's repeats): freeing them would hand the heap's top back to
 * the kernel, and the next run would fault every page in again (spawning
 * 40,000 tasks: 230 ns a task with the blocks kept, 420 without). At most
 * 64 MiB are kept. */
#define LS_SPARE_MAX 1024
static void *spare_blocks;
static int nspare;

void *ls_slab_take(ls_vm *vm, size_t bytes) {
    if (!LS_SLABS) return ls_xmalloc(bytes);
    if (vm->slab_left < bytes) {
        void **blk = spare_blocks;
        if (blk) {
            spare_blocks = *blk;
            nspare--;
        } else {
            blk = ls_xmalloc(LS_SLAB_BYTES);
        }
        *blk = vm->slabs;          /* the first 16 bytes link the blocks */
        vm->slabs = blk;
        vm->slab_cur = (char *)blk + 16;
        vm->slab_left = LS_SLAB_BYTES - 16;
    }
    void *p = vm->slab_cur;
    vm->slab_cur += bytes;
    vm->slab_left -= bytes;
    return p;
}

void ls_slabs_free(ls_vm *vm) {
    while (vm->slabs) {
        void **blk = vm->slabs;
        vm->slabs = *blk;
        if (nspare < LS_SPARE_MAX) {
            *blk = spare_blocks;
            spare_blocks = blk;
            nspare++;
        } else {
            free(blk);
        }
    }
    vm->slab_cur = NULL;
    vm->slab_left = 0;
}

void *ls_alloc(ls_vm *vm, ls_okind kind, size_t size) {
    ls_obj *o;
    size_t cls = (size + 15) >> 4;
#ifdef LS_GC_DEBUG
    cls = LS_SIZE_CLASSES;   /* plain malloc: ASan sees every use after free */
#endif
    if (cls < LS_SIZE_CLASSES) {
        o = vm->free_objs[cls];
        if (o) vm->free_objs[cls] = o->gcnext;
        else o = ls_slab_take(vm, cls << 4);
        memset(o, 0, cls << 4);
        o->sizeclass = (uint8_t)cls;
    } else {
        o = ls_xcalloc(1, size);
    }
    o->kind = (uint8_t)kind;
    o->gcnext = vm->objects;
    vm->objects = o;
    vm->bytes += size;
    return o;
}

ls_value ls_str_new(ls_vm *vm, const char *s, size_t n) {
    ls_str *o = ls_alloc(vm, LS_O_STR, sizeof *o + n + 1);
    memcpy(o->s, s, n);
    o->s[n] = 0;
    o->len = (uint32_t)n;
    return ls_obj_val(o);
}

ls_value ls_str_cstr(ls_vm *vm, const char *s) { return ls_str_new(vm, s, strlen(s)); }

ls_str *ls_str_perm(const char *s, size_t n) {
    ls_str *o = ls_xcalloc(1, sizeof *o + n + 1);
    o->hdr.kind = LS_O_STR;
    o->hdr.flags = LS_OBJ_PERM;
    memcpy(o->s, s, n);
    o->len = (uint32_t)n;
    return o;
}

ls_list *ls_list_new(ls_vm *vm, ls_okind kind, int cap) {
    ls_list *l = ls_alloc(vm, kind, sizeof *l);
    if (cap > 0) {
        l->v = ls_xmalloc((size_t)cap * sizeof *l->v);
        l->cap = cap;
        vm->bytes += (size_t)cap * sizeof *l->v;
    }
    return l;
}

void ls_list_push(ls_list *l, ls_value v) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = ls_xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    l->v[l->n++] = v;
}

ls_exc *ls_exc_newv(ls_vm *vm, ls_exc_type type, ls_value *args, int n) {
    if (type == LS_E_INCOMPLETE_READ && n == 2) {
        /* asyncio.IncompleteReadError(partial, expected): the message is
         * its only argument; partial and expected are attributes. */
        ls_buf m = {0};
        ls_buf_printf(&m, "%d bytes read on a total of ",
                      ls_is(args[0], LS_O_STR) ? (int)((ls_str *)args[0].u.o)->len : 0);
        if (args[1].tag == LS_V_NONE) ls_buf_puts(&m, "undefined");
        else ls_str_of(&m, args[1], true);
        ls_buf_puts(&m, " expected bytes");
        ls_exc *e = ls_exc_new(vm, type, ls_buf_cstr(&m));
        ls_buf_free(&m);
        ls_fields_set(&e->attrs, LS_FIELD_PARTIAL, args[0]);
        ls_fields_set(&e->attrs, LS_FIELD_EXPECTED, args[1]);
        return e;
    }
    ls_exc *e = ls_alloc(vm, LS_O_EXC, sizeof *e);
    e->type = type;
    ls_list *t = ls_list_new(vm, LS_O_TUPLE, n);
    for (int i = 0; i < n; i++) ls_list_push(t, args[i]);
    e->args = ls_obj_val(t);
    return e;
}

ls_exc *ls_exc_new(ls_vm *vm, ls_exc_type type, const char *msg) {
    if (!msg) return ls_exc_newv(vm, type, NULL, 0);
    ls_value m = ls_str_cstr(vm, msg);
    return ls_exc_newv(vm, type, &m, 1);
}

const char *ls_type_name(ls_value v) {
    switch (v.tag) {
    case LS_V_NONE: return "NoneType";
    case LS_V_BOOL: return "bool";
    case LS_V_INT: return "int";
    case LS_V_FLOAT: return "float";
    case LS_V_FUNC: return "function";
    case LS_V_BUILTIN: return "builtin_function_or_method";
    case LS_V_METHOD: return "method";
    case LS_V_EXCTYPE: return "type";
    case LS_V_OBJ:
        if (v.u.o->kind == LS_O_EXC) {
            ls_exc *e = (ls_exc *)v.u.o;
            return e->cls ? e->cls->name : ls_exc_name(e->type);
        }
        if (v.u.o->kind == LS_O_RECORD) return ((ls_record *)v.u.o)->clsname;
        if (v.u.o->kind == LS_O_INSTANCE) return ((ls_instance *)v.u.o)->cls->name;
        if (v.u.o->kind == LS_O_FRAME && !((ls_frame *)v.u.o)->proto->is_async) return "generator";
        if (v.u.o->kind == LS_O_FRAME && ((ls_frame *)v.u.o)->proto->prelude &&
            strcmp(((ls_frame *)v.u.o)->proto->name, "anext_awaitable") == 0)
            return "anext_awaitable";   /* anext(it, default) */
        if (v.u.o->kind == LS_O_AGENOP) {
            int op = ((ls_agenop *)v.u.o)->op;
            return op == LS_AG_SEND ? "async_generator_asend" : "async_generator_athrow";
        }
        return obj_names[v.u.o->kind];
    default: return "unbound";
    }
}

/* Type objects are interned by name and permanent (outside the
 * collector), so `type(a) is type(b)` compares names: O(types) lookup. */
ls_value ls_type_named(const char *name) {
    static ls_type *types[256];
    static int ntypes;
    for (int i = 0; i < ntypes; i++)
        if (strcmp(types[i]->name, name) == 0) return ls_obj_val(types[i]);
    ls_type *t = ls_xcalloc(1, sizeof *t);
    t->hdr.kind = LS_O_TYPE;
    t->hdr.flags = LS_OBJ_PERM;
    size_t n = strlen(name);
    char *copy = ls_xmalloc(n + 1);
    memcpy(copy, name, n + 1);
    t->name = copy;
    if (ntypes < (int)(sizeof types / sizeof *types)) types[ntypes++] = t;
    return ls_obj_val(t);
}

ls_value ls_type_of(ls_value v) {
    if (v.tag == LS_V_OBJ && v.u.o->kind == LS_O_EXC) {
        ls_exc *e = (ls_exc *)v.u.o;
        return e->cls ? ls_obj_val(e->cls) : ls_tagged(LS_V_EXCTYPE, e->type);
    }
    if (v.tag == LS_V_OBJ && v.u.o->kind == LS_O_INSTANCE) return ls_obj_val(((ls_instance *)v.u.o)->cls);
    return ls_type_named(ls_type_name(v));
}

int64_t ls_range_len(const ls_range *r) {
    int64_t n = r->step > 0 ? (r->stop - r->start + r->step - 1) / r->step
                            : (r->start - r->stop - r->step - 1) / -r->step;
    return n < 0 ? 0 : n;
}

bool ls_truthy(ls_value v) {
    switch (v.tag) {
    case LS_V_NONE: case LS_V_UNBOUND: return false;
    case LS_V_BOOL: case LS_V_INT: return v.u.i != 0;
    case LS_V_FLOAT: return v.u.f != 0;
    case LS_V_OBJ:
        switch (v.u.o->kind) {
        case LS_O_STR: return ((ls_str *)v.u.o)->len != 0;
        case LS_O_LIST: case LS_O_TUPLE: return ((ls_list *)v.u.o)->n != 0;
        case LS_O_RANGE: {
            ls_range *r = (ls_range *)v.u.o;
            return r->step > 0 ? r->start < r->stop : r->start > r->stop;
        }
        default: return true;
        }
    default: return true;
    }
}

static bool numeric(ls_value v) { return v.tag == LS_V_INT || v.tag == LS_V_BOOL || v.tag == LS_V_FLOAT; }
static double num(ls_value v) { return v.tag == LS_V_FLOAT ? v.u.f : (double)v.u.i; }

bool ls_identical(ls_value a, ls_value b) {
    if (a.tag != b.tag) return false;
    switch (a.tag) {
    case LS_V_NONE: return true;
    case LS_V_BOOL: case LS_V_INT: case LS_V_FUNC: return a.u.i == b.u.i;
    case LS_V_FLOAT: return a.u.f == b.u.f;
    case LS_V_BUILTIN: case LS_V_EXCTYPE: case LS_V_METHOD: return a.aux == b.aux;
    case LS_V_OBJ: return a.u.o == b.u.o;
    default: return false;
    }
}

bool ls_equal(ls_value a, ls_value b) {
    if (numeric(a) && numeric(b)) {
        if (a.tag != LS_V_FLOAT && b.tag != LS_V_FLOAT) return a.u.i == b.u.i;
        return num(a) == num(b);
    }
    if (a.tag == LS_V_OBJ && b.tag == LS_V_OBJ) {
        ls_obj *x = a.u.o, *y = b.u.o;
        if (x == y) return true;
        if (x->kind == LS_O_STR && y->kind == LS_O_STR) {
            ls_str *s = (ls_str *)x, *t = (ls_str *)y;
            return s->len == t->len && memcmp(s->s, t->s, s->len) == 0;
        }
        if ((x->kind == LS_O_LIST || x->kind == LS_O_TUPLE) && x->kind == y->kind) {
            ls_list *l = (ls_list *)x, *m = (ls_list *)y;
            if (l->n != m->n) return false;
            for (int i = 0; i < l->n; i++)
                if (!ls_equal(l->v[i], m->v[i])) return false;
            return true;
        }
        if (x->kind == LS_O_BOUND && y->kind == LS_O_BOUND)
            return ((ls_bound *)x)->method == ((ls_bound *)y)->method &&
                   ls_identical(((ls_bound *)x)->self, ((ls_bound *)y)->self);
        if (x->kind == LS_O_RANGE && y->kind == LS_O_RANGE) {
            /* range_equals: the same elements (length, first, step) */
            ls_range *r = (ls_range *)x, *s = (ls_range *)y;
            int64_t nr = ls_range_len(r), ns = ls_range_len(s);
            if (nr != ns) return false;
            if (nr == 0) return true;
            if (r->start != s->start) return false;
            return nr == 1 || r->step == s->step;
        }
        return false;
    }
    return ls_identical(a, b);
}

/* Python's float repr: the shortest digits that read back the same,
 * positional for exponents in [-4, 16), scientific outside. */
static void float_repr(ls_buf *b, double d) {
    if (isnan(d)) { ls_buf_puts(b, "nan"); return; }
    if (isinf(d)) { ls_buf_puts(b, d < 0 ? "-inf" : "inf"); return; }
    if (d == 0) { ls_buf_puts(b, signbit(d) ? "-0.0" : "0.0"); return; }
    char tmp[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d) break;
    }
    /* tmp: [-]D.DDDe[+-]XX */
    char digits[32];
    int nd = 0;
    const char *p = tmp;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    if (neg) ls_buf_putc(b, '-');
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            ls_buf_puts(b, "0.");
            for (int i = 0; i < -exp - 1; i++) ls_buf_putc(b, '0');
            ls_buf_putn(b, digits, (size_t)nd);
        } else {
            for (int i = 0; i <= exp; i++) ls_buf_putc(b, i < nd ? digits[i] : '0');
            ls_buf_putc(b, '.');
            if (nd > exp + 1) ls_buf_putn(b, digits + exp + 1, (size_t)(nd - exp - 1));
            else ls_buf_putc(b, '0');
        }
    } else {
        ls_buf_putc(b, digits[0]);
        if (nd > 1) {
            ls_buf_putc(b, '.');
            ls_buf_putn(b, digits + 1, (size_t)(nd - 1));
        }
        ls_buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
}

static void str_repr(ls_buf *b, const char *s, size_t n) {
    bool sq = memchr(s, '\'', n) != NULL, dq = memchr(s, '"', n) != NULL;
    char q = sq && !dq ? '"' : '\'';
    ls_buf_putc(b, q);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == (unsigned char)q || c == '\\') {
            ls_buf_putc(b, '\\');
            ls_buf_putc(b, (char)c);
        } else if (c == '\n') ls_buf_puts(b, "\\n");
        else if (c == '\r') ls_buf_puts(b, "\\r");
        else if (c == '\t') ls_buf_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f) ls_buf_printf(b, "\\x%02x", c);
        else ls_buf_putc(b, (char)c);
    }
    ls_buf_putc(b, q);
}

static void seq_repr(ls_buf *b, ls_list *l, bool tuple, int depth);

static void str_of(ls_buf *b, ls_value v, bool repr, int depth) {
    if (depth > 50) { ls_buf_puts(b, "..."); return; }
    switch (v.tag) {
    case LS_V_NONE: ls_buf_puts(b, "None"); return;
    case LS_V_UNBOUND: ls_buf_puts(b, "<unbound>"); return;
    case LS_V_BOOL: ls_buf_puts(b, v.u.i ? "True" : "False"); return;
    case LS_V_INT: ls_buf_printf(b, "%lld", (long long)v.u.i); return;
    case LS_V_FLOAT: float_repr(b, v.u.f); return;
    case LS_V_FUNC: ls_buf_puts(b, "<function>"); return;
    case LS_V_BUILTIN: ls_buf_puts(b, "<built-in function>"); return;
    case LS_V_METHOD: ls_buf_puts(b, "<method>"); return;
    case LS_V_EXCTYPE: ls_buf_printf(b, "<class '%s'>", ls_exc_name(v.aux)); return;
    default: break;
    }
    ls_obj *o = v.u.o;
    switch (o->kind) {
    case LS_O_STR: {
        ls_str *s = (ls_str *)o;
        if (repr) str_repr(b, s->s, s->len);
        else ls_buf_putn(b, s->s, s->len);
        return;
    }
    case LS_O_LIST: seq_repr(b, (ls_list *)o, false, depth); return;
    case LS_O_TUPLE: seq_repr(b, (ls_list *)o, true, depth); return;
    case LS_O_RANGE: {
        ls_range *r = (ls_range *)o;
        if (r->step == 1) ls_buf_printf(b, "range(%lld, %lld)", (long long)r->start, (long long)r->stop);
        else ls_buf_printf(b, "range(%lld, %lld, %lld)", (long long)r->start, (long long)r->stop,
                           (long long)r->step);
        return;
    }
    case LS_O_EXC: {
        ls_exc *e = (ls_exc *)o;
        ls_list *args = (ls_list *)e->args.u.o;
        if (repr) {
            ls_buf_printf(b, "%s(", e->cls ? e->cls->name : ls_exc_name(e->type));
            for (int i = 0; i < args->n; i++) {
                if (i) ls_buf_puts(b, ", ");
                str_of(b, args->v[i], true, depth + 1);
            }
            ls_buf_putc(b, ')');
        } else if ((e->type == LS_E_GROUP || e->type == LS_E_BASE_GROUP) && args->n == 2 &&
                   ls_is(args->v[1], LS_O_LIST)) {
            int n = ((ls_list *)args->v[1].u.o)->n;
            str_of(b, args->v[0], false, depth + 1);
            ls_buf_printf(b, " (%d sub-exception%s)", n, n == 1 ? "" : "s");
        } else if (args->n == 1) {
            /* KeyError_str: a lone argument shows as its repr */
            str_of(b, args->v[0], e->type == LS_E_KEY, depth + 1);
        } else if (args->n > 1) {
            seq_repr(b, args, true, depth);
        }
        return;
    }
    case LS_O_FUTURE: case LS_O_GATHER: case LS_O_TASK: {
        ls_future *f = (ls_future *)o;
        const char *st = f->state == LS_FUT_PENDING ? "pending"
                       : f->state == LS_FUT_CANCELLED ? "cancelled" : "finished";
        if (o->kind == LS_O_TASK && ((ls_task *)o)->name.tag == LS_V_OBJ) {
            ls_buf_printf(b, "<Task %s name=", st);
            str_of(b, ((ls_task *)o)->name, true, depth + 1);
            ls_buf_putc(b, '>');
        } else if (o->kind == LS_O_TASK)
            ls_buf_printf(b, "<Task %s name='Task-%lld'>", st, (long long)((ls_task *)o)->id);
        else
            ls_buf_printf(b, "<%s %s>", o->kind == LS_O_GATHER ? "_GatheringFuture" : "Future", st);
        return;
    }
    case LS_O_FRAME:
        ls_buf_printf(b, "<%s object %s>", ((ls_frame *)o)->proto->is_async ? "coroutine" : "generator",
                      ((ls_frame *)o)->proto->name);
        return;
    case LS_O_AGEN:
        ls_buf_printf(b, "<async_generator object %s>", ((ls_agen *)o)->frame->proto->name);
        return;
    case LS_O_CLASS:
        ls_buf_printf(b, "<class '%s'>", ((ls_class *)o)->name);
        return;
    case LS_O_INSTANCE:
        ls_buf_printf(b, "<%s object>", ((ls_instance *)o)->cls->name);
        return;
    case LS_O_RECORD:
        ls_buf_printf(b, "<%s object>", ((ls_record *)o)->clsname);
        return;
    case LS_O_TYPE:
        ls_buf_printf(b, "<class '%s'>", ((ls_type *)o)->name);
        return;
    case LS_O_CTXVAR: {
        ls_buf_puts(b, "<ContextVar name=");
        str_of(b, ((ls_ctxvar *)o)->name, true, depth + 1);
        ls_buf_putc(b, '>');
        return;
    }
    default:
        ls_buf_printf(b, "<%s object>", obj_names[o->kind]);
        return;
    }
}

static void seq_repr(ls_buf *b, ls_list *l, bool tuple, int depth) {
    ls_buf_putc(b, tuple ? '(' : '[');
    for (int i = 0; i < l->n; i++) {
        if (i) ls_buf_puts(b, ", ");
        str_of(b, l->v[i], true, depth + 1);
    }
    if (tuple && l->n == 1) ls_buf_putc(b, ',');
    ls_buf_putc(b, tuple ? ')' : ']');
}

void ls_str_of(ls_buf *b, ls_value v, bool repr) { str_of(b, v, repr, 0); }

/* ---- collector ---- */

void ls_gc_mark_obj(ls_vm *vm, ls_obj *o) {
    if (!o || o->mark || (o->flags & LS_OBJ_PERM)) return;
    o->mark = 1;
    if (vm->ngray == vm->capgray) {
        vm->capgray = vm->capgray ? vm->capgray * 2 : 1024;
        vm->gray = ls_xrealloc(vm->gray, vm->capgray * sizeof *vm->gray);
    }
    vm->gray[vm->ngray++] = o;
}

void ls_gc_mark_value(ls_vm *vm, ls_value v) {
    if (v.tag == LS_V_OBJ) ls_gc_mark_obj(vm, v.u.o);
}

void ls_gc_mark_handle(ls_vm *vm, ls_handle *h) {
    ls_gc_mark_obj(vm, h->ctx);
    ls_gc_mark_value(vm, h->a);
    ls_gc_mark_value(vm, h->b);
}

static void mark_future(ls_vm *vm, ls_future *f) {
    ls_gc_mark_value(vm, f->result);
    ls_gc_mark_obj(vm, f->exc);
    ls_gc_mark_value(vm, f->cancel_msg);
    for (int i = 0; i < f->ncb; i++) {
        ls_gc_mark_value(vm, f->cb[i].fn);
        ls_gc_mark_obj(vm, f->cb[i].obj);
    }
    if (f->timer) ls_gc_mark_handle(vm, f->timer);
}

static void mark_fields(ls_vm *vm, const ls_fields *fs) {
    for (int i = 0; i < fs->n; i++) ls_gc_mark_value(vm, fs->f[i].v);
}

static void traverse(ls_vm *vm, ls_obj *o) {
    switch (o->kind) {
    case LS_O_LIST: case LS_O_TUPLE: {
        ls_list *l = (ls_list *)o;
        for (int i = 0; i < l->n; i++) ls_gc_mark_value(vm, l->v[i]);
        break;
    }
    case LS_O_ITER: ls_gc_mark_value(vm, ((ls_iter *)o)->src); break;
    case LS_O_EXC: {
        ls_exc *e = (ls_exc *)o;
        ls_gc_mark_value(vm, e->args);
        ls_gc_mark_obj(vm, (ls_obj *)e->cls);
        mark_fields(vm, &e->attrs);
        break;
    }
    case LS_O_CLASS:
        ls_gc_mark_obj(vm, (ls_obj *)((ls_class *)o)->base);
        mark_fields(vm, &((ls_class *)o)->attrs);
        break;
    case LS_O_INSTANCE:
        ls_gc_mark_obj(vm, (ls_obj *)((ls_instance *)o)->cls);
        mark_fields(vm, &((ls_instance *)o)->attrs);
        break;
    case LS_O_AGEN: ls_gc_mark_obj(vm, (ls_obj *)((ls_agen *)o)->frame); break;
    case LS_O_SOCK: ls_gc_mark_obj(vm, (ls_obj *)((ls_sock *)o)->peer); break;
    case LS_O_AGENOP:
        ls_gc_mark_obj(vm, (ls_obj *)((ls_agenop *)o)->gen);
        ls_gc_mark_value(vm, ((ls_agenop *)o)->value);
        break;
    case LS_O_FRAME: {
        ls_frame *f = (ls_frame *)o;
        if (o->flags & LS_OBJ_POOLED) {   /* on no list: its mark is reset after the sweep */
            if (vm->npool_marked == vm->cappool_marked) {
                vm->cappool_marked = vm->cappool_marked ? vm->cappool_marked * 2 : 64;
                vm->pool_marked = ls_xrealloc(vm->pool_marked, vm->cappool_marked * sizeof *vm->pool_marked);
            }
            vm->pool_marked[vm->npool_marked++] = o;
        }
        ls_gc_mark_obj(vm, f->owner);
        ls_gc_mark_obj(vm, (ls_obj *)f->caller);
        ls_gc_mark_obj(vm, (ls_obj *)f->callee);
        ls_gc_mark_value(vm, f->waiting);
        int n = f->state == LS_FRAME_DONE ? 0 : f->proto->nlocals + f->sp;
        for (int i = 0; i < n; i++) ls_gc_mark_value(vm, f->slots[i]);
        break;
    }
    case LS_O_TASK: {
        ls_task *t = (ls_task *)o;
        mark_future(vm, &t->f);
        ls_gc_mark_obj(vm, (ls_obj *)t->coro);
        ls_gc_mark_obj(vm, (ls_obj *)t->top);
        ls_gc_mark_obj(vm, t->ctx);
        ls_gc_mark_obj(vm, (ls_obj *)t->fut_waiter);
        ls_gc_mark_value(vm, t->name);
        break;
    }
    case LS_O_GATHER:
        mark_future(vm, (ls_future *)o);
        ls_gc_mark_value(vm, ((ls_gather *)o)->children);
        break;
    case LS_O_FUTURE: mark_future(vm, (ls_future *)o); break;
    case LS_O_SLEEP: ls_gc_mark_value(vm, ((ls_sleep *)o)->result); break;
    case LS_O_HANDLE: ls_gc_mark_handle(vm, ((ls_handle_obj *)o)->h); break;
    case LS_O_BOUND:
        ls_gc_mark_value(vm, ((ls_bound *)o)->self);
        ls_gc_mark_value(vm, ((ls_bound *)o)->fn);
        break;
    case LS_O_RECORD: {
        ls_record *r = (ls_record *)o;
        for (int i = 0; i < r->n; i++) ls_gc_mark_value(vm, r->f[i].v);
        break;
    }
    case LS_O_CTXVAR:
        ls_gc_mark_value(vm, ((ls_ctxvar *)o)->name);
        ls_gc_mark_value(vm, ((ls_ctxvar *)o)->dflt);
        break;
    case LS_O_CTX: ls_gc_mark_obj(vm, (ls_obj *)((ls_ctx *)o)->map); break;
    case LS_O_CTXMAP: {
        ls_ctxmap *m = (ls_ctxmap *)o;
        for (int i = 0; i < m->n; i++) {
            ls_gc_mark_obj(vm, (ls_obj *)m->e[i].var);
            ls_gc_mark_value(vm, m->e[i].v);
        }
        break;
    }
    case LS_O_TOKEN: {
        ls_cvtoken *t = (ls_cvtoken *)o;
        ls_gc_mark_obj(vm, (ls_obj *)t->var);
        ls_gc_mark_obj(vm, (ls_obj *)t->ctx);
        ls_gc_mark_value(vm, t->old);
        break;
    }
    default: break;
    }
}

static void free_obj(ls_vm *vm, ls_obj *o) {
    switch (o->kind) {
    case LS_O_LIST: case LS_O_TUPLE: free(((ls_list *)o)->v); break;
    case LS_O_RECORD: free(((ls_record *)o)->f); break;
    case LS_O_EXC: free(((ls_exc *)o)->attrs.f); break;
    case LS_O_CLASS: free(((ls_class *)o)->attrs.f); break;
    case LS_O_INSTANCE: free(((ls_instance *)o)->attrs.f); break;
    case LS_O_FUTURE: case LS_O_TASK: case LS_O_GATHER: {
        ls_future *f = (ls_future *)o;
        if (f->cb != &f->cb1) free(f->cb);
        if (f->timer) ls_handle_release(vm, f->timer);
        break;
    }
    case LS_O_HANDLE: ls_handle_release(vm, ((ls_handle_obj *)o)->h); break;
    case LS_O_SOCK: ls_io_sock_free((ls_sock *)o); break;
    default: break;
    }
    if (o->sizeclass) {
        o->gcnext = vm->free_objs[o->sizeclass];
        vm->free_objs[o->sizeclass] = o;
    } else {
        free(o);
    }
}

static void mark_roots(ls_vm *vm) {
    ls_loop *L = &vm->loop;
    for (int i = 0; vm->globals && i < vm->prog->nglobals; i++) ls_gc_mark_value(vm, vm->globals[i]);
    for (size_t i = 0; i < L->ready.len; i++) ls_gc_mark_handle(vm, ls_queue_at(&L->ready, i));
    for (size_t i = 0; i < L->timers.n; i++) ls_gc_mark_handle(vm, L->timers.v[i].h);
    for (ls_task *t = L->pending_head; t; t = t->next) ls_gc_mark_obj(vm, (ls_obj *)t);
    ls_gc_mark_obj(vm, (ls_obj *)L->current);
    ls_gc_mark_obj(vm, vm->ctx);
    ls_gc_mark_obj(vm, vm->root_ctx);
    ls_gc_mark_obj(vm, (ls_obj *)vm->main_task);
    ls_gc_mark_obj(vm, (ls_obj *)vm->exc);
    ls_gc_mark_value(vm, vm->kwnames);
    ls_gc_mark_obj(vm, (ls_obj *)vm->until);
    ls_gc_mark_obj(vm, (ls_obj *)vm->asyncgens);
    if (vm->running) ls_gc_mark_handle(vm, vm->running);
    ls_io_mark(vm);
}

/* An object's bytes with the arrays it owns, for the memory budget; an
 * object too big for the free lists counts as LS_SMALL_MAX. */
static size_t obj_bytes(const ls_obj *o) {
    size_t n = o->sizeclass ? (size_t)o->sizeclass << 4 : LS_SMALL_MAX;
    switch (o->kind) {
    case LS_O_LIST:
    case LS_O_TUPLE:
        return n + (size_t)((const ls_list *)o)->cap * sizeof(ls_value);
    case LS_O_STR:
        return n + (o->sizeclass ? 0 : ((const ls_str *)o)->len);
    case LS_O_FUTURE:
    case LS_O_TASK:
    case LS_O_GATHER:
        return n + (size_t)((const ls_future *)o)->capcb * sizeof(ls_callback);
    case LS_O_RECORD:
        return n + (size_t)((const ls_record *)o)->cap * sizeof(struct ls_field);
    default:
        return n;
    }
}

bool ls_gc_collect_checked(ls_vm *vm, ls_obj *active, const char *path, int line) {
    ls_gc_collect(vm, active);
    if (vm->bytes <= vm->max_bytes) return true;
    ls_error_at(&vm->err, path, line, 1,
                "memory budget of %zu MiB exceeded: %zu MiB live after a collection "
                "(tasks or lists that grow without end?)",
                vm->max_bytes >> 20, vm->bytes >> 20);
    return false;
}

void ls_gc_collect(ls_vm *vm, ls_obj *active) {
    mark_roots(vm);
    ls_gc_mark_obj(vm, active);
    while (vm->ngray) traverse(vm, vm->gray[--vm->ngray]);
    size_t live = 0;
    ls_obj **pp = &vm->objects;
    while (*pp) {
        ls_obj *o = *pp;
        if (o->mark) {
            o->mark = 0;
            live += obj_bytes(o);
            pp = &o->gcnext;
        } else {
            *pp = o->gcnext;
            free_obj(vm, o);
        }
    }
    for (size_t i = 0; i < vm->npool_marked; i++) vm->pool_marked[i]->mark = 0;
    vm->npool_marked = 0;
    /* Next collection when the heap has doubled: O(1) amortized; but no
     * later than a quarter over the memory budget, so that a run outgrowing
     * it stops before it has taken twice as much. */
    vm->bytes = live;
    vm->threshold = live * 2 > LS_GC_MIN ? live * 2 : LS_GC_MIN;
    size_t cap = vm->max_bytes + vm->max_bytes / 4;
    if (vm->max_bytes && vm->threshold > cap) vm->threshold = cap > live + LS_GC_MIN ? cap : live + LS_GC_MIN;
    if (vm->gc_stress) vm->threshold = 0;
}

void ls_gc_free_all(ls_vm *vm) {
    ls_frame_pool_free(vm);
    free(vm->pool_marked);
    vm->pool_marked = NULL;
    vm->npool_marked = vm->cappool_marked = 0;
    ls_obj *o = vm->objects;
    while (o) {
        ls_obj *n = o->gcnext;
        free_obj(vm, o);
        o = n;
    }
    vm->objects = NULL;
    for (int c = 0; c < LS_SIZE_CLASSES; c++)
        while ((o = vm->free_objs[c])) {
            vm->free_objs[c] = o->gcnext;
            if (!LS_SLABS) free(o);
        }
    free(vm->gray);
    vm->gray = NULL;
    vm->ngray = vm->capgray = 0;
}
