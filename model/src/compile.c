/* compile.c: AST to bytecode. One pass per function with a stack of
 * "frame blocks" (loops, try blocks, handlers) so that return, break and
 * continue run the finally bodies they leave, as CPython does by inlining
 * them; then a flow pass computes each proto's maximum stack depth. */
#include "compile.h"

#include "builtins.h"
#include "parse.h"
#include "prelude.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LS_MAX_FBLOCK 64
#define LS_MAX_LOCALS 4000

const char *const ls_opcode_names[] = {
#define LS_X(n, eff, doc) #n,
    LS_OPCODES(LS_X)
#undef LS_X
};

static const int op_effect[] = {
#define LS_X(n, eff, doc) eff,
    LS_OPCODES(LS_X)
#undef LS_X
};

enum { FB_WHILE, FB_FOR, FB_TRY_EXCEPT, FB_TRY_FINALLY, FB_HANDLER, FB_WITH };

typedef struct fblock {
    int kind;
    ls_node *final;        /* FB_TRY_FINALLY: the finally body */
    int cont;              /* loops: continue target */
    int *breaks, nbreaks;  /* loops: jumps to patch to the loop's end */
    int exc_slot;          /* FB_HANDLER: the local holding the exception */
} fblock;

typedef struct shadow { const char *name; int slot; } shadow;

typedef struct fstate {
    ls_proto *p;
    uint32_t *code;
    int *lines;
    int ncode, capcode;
    ls_value *consts;
    int nconsts, capconsts;
    const char **locals;
    int nlocals;
    const char **globals_decl;
    int nglobals_decl;
    fblock fb[LS_MAX_FBLOCK];
    int nfb;
    shadow sh[64];
    int nsh;
    int blockdepth, maxblock;
    int retval_slot;
    int last_label;        /* a jump target: no fusing across it */
    bool is_async, is_init;
    bool is_gen;           /* a `yield` was compiled */
    bool returns_value;    /* a `return value` was compiled */
    const char *method;    /* a class's method: its name */
} fstate;

typedef struct compiler {
    const ls_case *c;
    ls_program *prog;
    ls_error *e;
    const char *path;
    fstate *fs;
    const char **gnames;
    int ngnames, capg;
    bool prelude;          /* compiling the prelude: its own namespace */
    const char **fnames;   /* record field names */
    int nfnames;
    /* Hash indexes of gnames and fnames: name lookups were a linear strcmp
     * per name use, a fifth of compiling the prelude. */
    int *gslots, ngslots, *fslots, nfslots;
    const char **uattrs;   /* attribute names the program's classes define */
    int nuattrs;
    int *mprotos;          /* the proto of each class method, in order */
    int nmprotos, mnext;
    const char *cls;       /* the class whose methods are being compiled */
} compiler;

static int expr(compiler *C, ls_node *n);
static int stmts(compiler *C, ls_node *blk);
static void setup(compiler *C, int line);

static int fail(compiler *C, ls_node *n, const char *fmt, const char *a) {
    ls_error_at(C->e, C->path, n->line, n->col, fmt, a);
    return -1;
}

/* ---- emission ---- */

static int emit(compiler *C, ls_opcode op, int32_t arg, int line) {
    fstate *f = C->fs;
    if (f->ncode == f->capcode) {
        f->capcode = f->capcode ? f->capcode * 2 : 64;
        f->code = ls_xrealloc(f->code, (size_t)f->capcode * sizeof *f->code);
        f->lines = ls_xrealloc(f->lines, (size_t)f->capcode * sizeof *f->lines);
    }
    f->code[f->ncode] = LS_INS(op, arg);
    f->lines[f->ncode] = line;
    return f->ncode++;
}

/* Emits a conditional jump on the value on top; a just-emitted `<`
 * comparison fuses with it (one dispatch per loop test). */
static int emit_jump_if_false(compiler *C, int line) {
    fstate *f = C->fs;
    if (f->ncode && f->code[f->ncode - 1] == LS_INS(LS_OP_COMPARE, LS_TK_LT) &&
        f->last_label != f->ncode) {   /* no jump lands on the test itself */
        f->ncode--;
        return emit(C, LS_OP_JUMP_IF_NOT_LT, 0, line);
    }
    return emit(C, LS_OP_JUMP_IF_FALSE, 0, line);
}

static void patch(compiler *C, int at, int target) {
    uint32_t ins = C->fs->code[at];
    C->fs->code[at] = LS_INS(LS_OP(ins), target);
}

static int here(compiler *C) {
    C->fs->last_label = C->fs->ncode;
    return C->fs->ncode;
}

static int add_const(compiler *C, ls_value v) {
    fstate *f = C->fs;
    for (int i = 0; i < f->nconsts; i++)
        if (f->consts[i].tag == v.tag && v.tag == LS_V_OBJ && v.u.o->kind == LS_O_STR &&
            f->consts[i].u.o->kind == LS_O_STR &&
            strcmp(((ls_str *)f->consts[i].u.o)->s, ((ls_str *)v.u.o)->s) == 0) {
            free(v.u.o);   /* a duplicate of constant i */
            return i;
        }
    if (f->nconsts == f->capconsts) {
        f->capconsts = f->capconsts ? f->capconsts * 2 : 16;
        f->consts = ls_xrealloc(f->consts, (size_t)f->capconsts * sizeof *f->consts);
    }
    f->consts[f->nconsts] = v;
    return f->nconsts++;
}

static ls_value perm_str(const char *s, size_t n) {
    return ls_obj_val(ls_str_perm(s, n));
}

/* ---- names ---- */

static int find_local(fstate *f, const char *name) {
    for (int i = f->nsh - 1; i >= 0; i--)
        if (strcmp(f->sh[i].name, name) == 0) return f->sh[i].slot;
    for (int i = 0; i < f->nlocals; i++)
        if (f->locals[i] && strcmp(f->locals[i], name) == 0) return i;
    return -1;
}

static int new_slot(compiler *C, const char *name) {
    fstate *f = C->fs;
    if (f->nlocals >= LS_MAX_LOCALS) return -1;
    f->locals = ls_xrealloc(f->locals, (size_t)(f->nlocals + 1) * sizeof *f->locals);
    f->locals[f->nlocals] = name;
    return f->nlocals++;
}

static int find_global(compiler *C, const char *name) {
    return ls_index_find(C->gnames, C->gslots, C->ngslots, name);
}

static int add_global(compiler *C, const char *name) {
    int g = find_global(C, name);
    if (g >= 0) return g;
    if (C->ngnames == C->capg) {
        C->capg = C->capg ? C->capg * 2 : 16;
        C->gnames = ls_xrealloc(C->gnames, (size_t)C->capg * sizeof *C->gnames);
    }
    C->gnames[C->ngnames] = name;
    ls_index_add(C->gnames, C->ngnames + 1, &C->gslots, &C->ngslots);
    return C->ngnames++;
}

/* The prelude's globals live beside the program's as "__p_NAME". */
static const char *pname(compiler *C, const char *name, char *buf, size_t n, bool persist) {
    snprintf(buf, n, "__p_%s", name);
    return persist ? ls_arena_strndup(&C->prog->arena, buf, strlen(buf)) : buf;
}

static int field_id(compiler *C, const char *name) {
    int i = ls_index_find(C->fnames, C->fslots, C->nfslots, name);
    if (i >= 0) return i;
    C->fnames = ls_xrealloc(C->fnames, (size_t)(C->nfnames + 1) * sizeof *C->fnames);
    C->fnames[C->nfnames] = ls_arena_strndup(&C->prog->arena, name, strlen(name));
    ls_index_add(C->fnames, C->nfnames + 1, &C->fslots, &C->nfslots);
    return C->nfnames++;
}

static bool user_attr(compiler *C, const char *name) {
    for (int i = 0; i < C->nuattrs; i++)
        if (strcmp(C->uattrs[i], name) == 0) return true;
    return false;
}

static void add_user_attr(compiler *C, const char *name) {
    if (name[0] == '_' && !(name[1] == '_')) return;   /* a prelude record's field */
    if (user_attr(C, name)) return;
    C->uattrs = ls_xrealloc(C->uattrs, (size_t)(C->nuattrs + 1) * sizeof *C->uattrs);
    C->uattrs[C->nuattrs++] = name;
}

/* The attribute names a program defines: its classes' members and every
 * `x.name = ...` target. Reading another name is an error at load time. */
static void collect_user_attrs(compiler *C, ls_node *n) {
    if (!n) return;
    if (n->kind == LS_N_CLASS)
        for (int i = 0; i < n->n; i++)
            add_user_attr(C, n->list[i]->kind == LS_N_FUNC ? n->list[i]->str : n->list[i]->k[0]->str);
    if ((n->kind == LS_N_ASSIGN || n->kind == LS_N_AUGASSIGN) && n->k[0]->kind == LS_N_ATTR)
        add_user_attr(C, n->k[0]->str);
    for (int i = 0; i < 4; i++) collect_user_attrs(C, n->k[i]);
    for (int i = 0; i < n->n; i++) collect_user_attrs(C, n->list[i]);
}

static bool declared_global(fstate *f, const char *name) {
    for (int i = 0; i < f->nglobals_decl; i++)
        if (strcmp(f->globals_decl[i], name) == 0) return true;
    return false;
}

static void collect_target(compiler *C, ls_node *t) {
    fstate *f = C->fs;
    if (t->kind == LS_N_NAME) {
        if (!declared_global(f, t->str) && find_local(f, t->str) < 0) new_slot(C, t->str);
    } else if (t->kind == LS_N_TUPLE || t->kind == LS_N_LIST) {
        for (int i = 0; i < t->n; i++) collect_target(C, t->list[i]);
    }
}

/* Finds the function's locals: every name it assigns, as Python does. */
static int collect_locals(compiler *C, ls_node *n) {
    if (!n) return 0;
    fstate *f = C->fs;
    switch (n->kind) {
    case LS_N_GLOBAL:
        for (int i = 0; i < n->n; i++) {
            const char *nm = n->list[i]->str;
            int l = find_local(f, nm);
            if (l >= 0 && l < f->p->nparams)
                return fail(C, n->list[i], "name '%s' is a parameter and global", nm);
            if (l >= 0)
                return fail(C, n->list[i], "name '%s' is assigned before its global declaration", nm);
            f->globals_decl = ls_xrealloc(f->globals_decl,
                                          (size_t)(f->nglobals_decl + 1) * sizeof(char *));
            f->globals_decl[f->nglobals_decl++] = nm;
            add_global(C, nm);
        }
        return 0;
    case LS_N_ASSIGN: case LS_N_AUGASSIGN:
        collect_target(C, n->k[0]);
        return 0;
    case LS_N_FOR: case LS_N_ASYNC_FOR:
        collect_target(C, n->k[0]);
        break;
    case LS_N_EXCEPT: case LS_N_WITH:
        if (n->str && !declared_global(f, n->str) && find_local(f, n->str) < 0)
            new_slot(C, n->str);
        break;
    default:
        break;
    }
    if (n->kind == LS_N_BLOCK || n->kind == LS_N_TRY)
        for (int i = 0; i < n->n; i++)
            if (collect_locals(C, n->list[i]) < 0) return -1;
    if (n->kind == LS_N_BLOCK || n->kind == LS_N_IF || n->kind == LS_N_WHILE ||
        n->kind == LS_N_FOR || n->kind == LS_N_TRY || n->kind == LS_N_EXCEPT ||
        n->kind == LS_N_WITH || n->kind == LS_N_ASYNC_FOR)
        for (int i = 0; i < 4; i++)
            if (n->k[i] && (n->k[i]->kind == LS_N_BLOCK || n->k[i]->kind == LS_N_IF))
                if (collect_locals(C, n->k[i]) < 0) return -1;
    return 0;
}

static int load_name(compiler *C, ls_node *n) {
    fstate *f = C->fs;
    char buf[300];
    int l = f->is_init ? -1 : find_local(f, n->str);
    if (l >= 0 && !declared_global(f, n->str)) return emit(C, LS_OP_LOAD_LOCAL, l, n->line);
    int g = find_global(C, C->prelude ? pname(C, n->str, buf, sizeof buf, false) : n->str);
    if (g < 0 && !C->prelude && ls_prelude_public(n->str))
        g = find_global(C, pname(C, n->str, buf, sizeof buf, false));
    if (g >= 0) return emit(C, LS_OP_LOAD_GLOBAL, g, n->line);
    int b = ls_builtin_lookup(n->str);
    if (b >= 0) return emit(C, LS_OP_LOAD_BUILTIN, b, n->line);
    int x = ls_exc_lookup(n->str);
    if (x >= 0) return emit(C, LS_OP_LOAD_EXC, x, n->line);
    if (ls_builtin_not_yet(n->str))
        return fail(C, n, "'%s' is not supported yet by the reference model", n->str);
    return fail(C, n, "name '%s' is not defined", n->str);
}

static int store_name(compiler *C, ls_node *n) {
    fstate *f = C->fs;
    char buf[300];
    if (f->is_init || declared_global(f, n->str)) {
        const char *nm = C->prelude ? pname(C, n->str, buf, sizeof buf, true) : n->str;
        return emit(C, LS_OP_STORE_GLOBAL, add_global(C, nm), n->line);
    }
    int l = find_local(f, n->str);
    if (l < 0) return fail(C, n, "internal error: no slot for '%s'", n->str);
    return emit(C, LS_OP_STORE_LOCAL, l, n->line);
}

static int store_target(compiler *C, ls_node *t) {
    if (t->kind == LS_N_NAME) return store_name(C, t);
    if (t->kind == LS_N_TUPLE || t->kind == LS_N_LIST) {
        emit(C, LS_OP_UNPACK, t->n, t->line);
        for (int i = 0; i < t->n; i++)
            if (store_target(C, t->list[i]) < 0) return -1;
        return 0;
    }
    if (t->kind == LS_N_SUBSCRIPT) {
        if (expr(C, t->k[0]) < 0 || expr(C, t->k[1]) < 0) return -1;
        return emit(C, LS_OP_STORE_SUBSCR, 0, t->line);
    }
    if (t->kind == LS_N_ATTR) {   /* a record's field, or a case object's attribute */
        if (expr(C, t->k[0]) < 0) return -1;
        return emit(C, LS_OP_STORE_FIELD, field_id(C, t->str), t->line);
    }
    return fail(C, t, "%s", "cannot assign to this expression");
}

/* ---- expressions ---- */

/* super().name in a method of a class: the class (by its global, as
 * CPython's __class__ cell names it) and the method's first parameter,
 * then SUPER_ATTR. 1 if `n` is that form, 0 if not, -1 on error. */
static int super_attr(compiler *C, ls_node *n, bool called) {
    if (n->kind != LS_N_ATTR) return 0;
    ls_node *s = n->k[0];
    if (s->kind != LS_N_CALL || s->k[0]->kind != LS_N_NAME || strcmp(s->k[0]->str, "super") != 0)
        return 0;
    fstate *f = C->fs;
    if (!C->cls || !f->method || f->p->nparams == 0 || find_local(f, "super") >= 0)
        return fail(C, s, "%s", "super() is part of the language only in a method of a class");
    if (s->n != 0)
        return fail(C, s, "%s", "super() takes no arguments in the case language");
    int g = find_global(C, C->cls);
    if (g < 0) return fail(C, s, "class '%s' is not defined", C->cls);
    emit(C, LS_OP_LOAD_GLOBAL, g, s->line);
    emit(C, LS_OP_LOAD_LOCAL, 0, s->line);
    emit(C, LS_OP_SUPER_ATTR, field_id(C, n->str) << 1 | (called ? 1 : 0), n->line);
    return 1;
}

static int call(compiler *C, ls_node *n) {
    ls_node *callee = n->k[0];
    int pushed = 0;
    bool star = false;
    int nkw = 0;
    for (int i = 0; i < n->n; i++) {
        star |= n->list[i]->kind == LS_N_STAR;
        nkw += n->list[i]->kind == LS_N_KWARG;
    }
    int m = callee->kind == LS_N_ATTR ? ls_method_lookup(callee->str) : -1;
    int sup = super_attr(C, callee, true);
    if (sup < 0) return -1;
    if (sup) {
        /* super().name(...): a bound method, called as a function */
    } else if (callee->kind == LS_N_ATTR && m >= 0) {
        if (expr(C, callee->k[0]) < 0) return -1;
        emit(C, LS_OP_LOAD_METHOD, m, callee->line);
        pushed = 1;   /* the receiver */
    } else if (callee->kind == LS_N_ATTR && !user_attr(C, callee->str)) {
        return fail(C, callee, "unknown method '%s'", callee->str);
    } else {   /* a function, or a method of a case class (a bound method) */
        if (expr(C, callee) < 0) return -1;
    }
    if (star) {
        emit(C, LS_OP_BUILD_LIST, pushed, n->line);
        for (int i = 0; i < n->n; i++) {
            ls_node *a = n->list[i];
            if (a->kind == LS_N_KWARG) continue;
            if (expr(C, a->kind == LS_N_STAR ? a->k[0] : a) < 0) return -1;
            emit(C, a->kind == LS_N_STAR ? LS_OP_LIST_EXTEND : LS_OP_LIST_APPEND,
                 a->kind == LS_N_STAR ? 0 : 1, a->line);
        }
    } else {
        for (int i = 0; i < n->n; i++)
            if (n->list[i]->kind != LS_N_KWARG) {
                if (expr(C, n->list[i]) < 0) return -1;
                pushed++;
            }
    }
    if (nkw) {
        ls_list *names = calloc(1, sizeof *names);
        if (!names) return fail(C, n, "%s", "out of memory");
        names->hdr.kind = LS_O_TUPLE;
        names->hdr.flags = LS_OBJ_PERM;
        names->v = ls_xmalloc((size_t)nkw * sizeof(ls_value));
        names->cap = nkw;
        for (int i = 0; i < n->n; i++) {
            ls_node *a = n->list[i];
            if (a->kind != LS_N_KWARG) continue;
            if (expr(C, a->k[0]) < 0) {
                for (int j = 0; j < names->n; j++) free(names->v[j].u.o);
                free(names->v);
                free(names);
                return -1;
            }
            names->v[names->n++] = perm_str(a->str, (size_t)a->slen);
        }
        emit(C, LS_OP_KWNAMES, add_const(C, ls_obj_val(names)), n->line);
    }
    if (star) return emit(C, LS_OP_CALL_EX, nkw, n->line);
    return emit(C, LS_OP_CALL, pushed + nkw, n->line);
}

/* The head of `async for`: with the async iterator on the stack, awaits
 * its __anext__() under a handler that ends the loop on StopAsyncIteration.
 * Leaves the item on the stack above the iterator; *exit_jump is the jump
 * to patch to the loop's end (the iterator popped). Returns the loop's top. */
static int anext_head(compiler *C, int line, int *exit_jump) {
    fstate *f = C->fs;
    int top = here(C);
    int setup_pc = emit(C, LS_OP_SETUP_TRY, 0, line);
    setup(C, line);
    emit(C, LS_OP_DUP, 0, line);
    emit(C, LS_OP_LOAD_METHOD, LS_M_ANEXT, line);
    emit(C, LS_OP_CALL, 1, line);
    emit(C, LS_OP_AWAIT, 0, line);
    emit(C, LS_OP_POP_BLOCK, 0, line);
    f->blockdepth--;
    int body = emit(C, LS_OP_JUMP, 0, line);
    /* the handler: [iterator, exception] */
    patch(C, setup_pc, here(C));
    emit(C, LS_OP_DUP, 0, line);
    emit(C, LS_OP_LOAD_EXC, LS_E_STOP_ASYNC_ITERATION, line);
    emit(C, LS_OP_EXC_MATCH, 0, line);
    int other = emit(C, LS_OP_JUMP_IF_FALSE, 0, line);
    emit(C, LS_OP_POP, 0, line);
    emit(C, LS_OP_POP, 0, line);
    *exit_jump = emit(C, LS_OP_JUMP, 0, line);
    patch(C, other, here(C));
    emit(C, LS_OP_RERAISE, 0, line);
    patch(C, body, here(C));
    return top;
}

/* `async for` and async comprehensions: aiter(x), as Python's GET_AITER. */
static int aiter_of(compiler *C, ls_node *it, int line) {
    if (!C->fs->is_async) return fail(C, it, "%s", "'async for' outside an async function");
    if (expr(C, it) < 0) return -1;
    emit(C, LS_OP_LOAD_METHOD, LS_M_AITER, line);
    return emit(C, LS_OP_CALL, 1, line);
}

static int listcomp(compiler *C, ls_node *n) {
    fstate *f = C->fs;
    emit(C, LS_OP_BUILD_LIST, 0, n->line);
    int top, exit_jump = -1;
    if (n->ival) {
        if (aiter_of(C, n->k[2], n->line) < 0) return -1;
        top = anext_head(C, n->line, &exit_jump);
    } else {
        if (expr(C, n->k[2]) < 0) return -1;
        emit(C, LS_OP_GET_ITER, 0, n->line);
        top = emit(C, LS_OP_FOR_ITER, 0, n->line);
    }
    /* The loop variables get slots of their own: they do not leak. */
    int nsh = f->nsh;
    ls_node *t = n->k[1];
    int ntg = t->kind == LS_N_TUPLE ? t->n : 1;
    if (f->nsh + ntg > 64) return fail(C, n, "%s", "comprehensions nested too deeply");
    int slots[64];
    for (int i = 0; i < ntg; i++) {
        ls_node *nm = t->kind == LS_N_TUPLE ? t->list[i] : t;
        slots[i] = new_slot(C, NULL);
        if (slots[i] < 0) return fail(C, n, "%s", "too many local variables");
        (void)nm;
    }
    if (t->kind == LS_N_TUPLE) emit(C, LS_OP_UNPACK, t->n, t->line);
    for (int i = 0; i < ntg; i++) {
        ls_node *nm = t->kind == LS_N_TUPLE ? t->list[i] : t;
        emit(C, LS_OP_STORE_LOCAL, slots[i], nm->line);
        f->sh[f->nsh++] = (shadow){nm->str, slots[i]};
    }
    if (n->k[3]) {
        if (expr(C, n->k[3]) < 0) return -1;
        emit(C, LS_OP_JUMP_IF_FALSE, top, n->line);
    }
    if (expr(C, n->k[0]) < 0) return -1;
    emit(C, LS_OP_LIST_APPEND, 2, n->line);
    emit(C, LS_OP_JUMP, top, n->line);
    patch(C, n->ival ? exit_jump : top, here(C));
    f->nsh = nsh;
    return 0;
}

static int expr(compiler *C, ls_node *n) {
    switch (n->kind) {
    case LS_N_INT:
        if (n->ival >= -(1 << 23) && n->ival < (1 << 23))
            return emit(C, LS_OP_INT, (int32_t)n->ival, n->line);
        return emit(C, LS_OP_CONST, add_const(C, ls_int(n->ival)), n->line);
    case LS_N_FLOAT:
        return emit(C, LS_OP_CONST, add_const(C, ls_float(n->dval)), n->line);
    case LS_N_STR:
        return emit(C, LS_OP_CONST, add_const(C, perm_str(n->str, (size_t)n->slen)), n->line);
    case LS_N_NONE: return emit(C, LS_OP_NONE, 0, n->line);
    case LS_N_TRUE: return emit(C, LS_OP_TRUE, 0, n->line);
    case LS_N_FALSE: return emit(C, LS_OP_FALSE, 0, n->line);
    case LS_N_NAME: return load_name(C, n);
    case LS_N_FSTR:
        for (int i = 0; i < n->n; i++) {
            ls_node *p = n->list[i];
            if (p->kind == LS_N_STR) {
                if (expr(C, p) < 0) return -1;
            } else {
                if (expr(C, p->k[0]) < 0) return -1;
                emit(C, LS_OP_FORMAT, (int32_t)p->ival, p->line);
            }
        }
        if (n->n == 0) return expr(C, &(ls_node){.kind = LS_N_STR, .line = n->line, .str = "", .slen = 0});
        return emit(C, LS_OP_BUILD_STR, n->n, n->line);
    case LS_N_CALL: return call(C, n);
    case LS_N_ATTR: {
        int sup = super_attr(C, n, false);
        if (sup) return sup < 0 ? -1 : 0;
        if (n->str[0] == '_' && strcmp(n->str, "__name__") != 0) {   /* a record's field */
            if (expr(C, n->k[0]) < 0) return -1;
            return emit(C, LS_OP_LOAD_FIELD, field_id(C, n->str), n->line);
        }
        int m = ls_method_lookup(n->str);
        if (m < 0 && user_attr(C, n->str)) {   /* an attribute of a case object */
            if (expr(C, n->k[0]) < 0) return -1;
            return emit(C, LS_OP_LOAD_FIELD, field_id(C, n->str), n->line);
        }
        if (m < 0) return fail(C, n, "unknown attribute '%s'", n->str);
        if (expr(C, n->k[0]) < 0) return -1;
        if (ls_method_is_property(m)) {   /* a property: read by calling it */
            emit(C, LS_OP_LOAD_METHOD, m, n->line);
            return emit(C, LS_OP_CALL, 1, n->line);
        }
        return emit(C, LS_OP_LOAD_ATTR, m, n->line);
    }
    case LS_N_STAR: return fail(C, n, "%s", "'*' is only allowed in call arguments");
    case LS_N_KWARG: return fail(C, n, "%s", "keyword argument outside a call");
    case LS_N_AWAIT: {
        if (!C->fs->is_async) return fail(C, n, "%s", "'await' outside an async function");
        ls_node *c = n->k[0];
        /* `await sleep(d)`: the coroutine object never escapes, so the
         * VM runs sleep's body in place (one opcode, no allocation). */
        if (c->kind == LS_N_CALL && c->k[0]->kind == LS_N_NAME &&
            strcmp(c->k[0]->str, "sleep") == 0 && (c->n == 1 || c->n == 2) &&
            c->list[0]->kind != LS_N_STAR && c->list[0]->kind != LS_N_KWARG &&
            (c->n == 1 || (c->list[1]->kind != LS_N_STAR && c->list[1]->kind != LS_N_KWARG)) &&
            find_local(C->fs, "sleep") < 0 && find_global(C, "sleep") < 0) {
            for (int i = 0; i < c->n; i++)
                if (expr(C, c->list[i]) < 0) return -1;
            return emit(C, LS_OP_AWAIT_SLEEP, c->n, n->line);
        }
        if (expr(C, c) < 0) return -1;
        return emit(C, LS_OP_AWAIT, 0, n->line);
    }
    case LS_N_LIST: case LS_N_TUPLE:
        for (int i = 0; i < n->n; i++)
            if (expr(C, n->list[i]) < 0) return -1;
        return emit(C, n->kind == LS_N_LIST ? LS_OP_BUILD_LIST : LS_OP_BUILD_TUPLE, n->n, n->line);
    case LS_N_LISTCOMP: return listcomp(C, n);
    case LS_N_YIELD: {
        fstate *f = C->fs;
        if (f->is_init) return fail(C, n, "%s", "'yield' outside a function");
        if (!f->is_async && !(f->method && strcmp(f->method, "__await__") == 0))
            return fail(C, n, "%s",
                        "'yield' makes an async generator in an 'async def', or the generator of "
                        "a class's __await__; other generators are not part of the case language");
        if (!f->is_async && n->k[0])
            return fail(C, n, "%s", "__await__ may only use a bare 'yield' (one loop iteration)");
        f->is_gen = true;
        if (n->k[0]) {
            if (expr(C, n->k[0]) < 0) return -1;
        } else {
            emit(C, LS_OP_NONE, 0, n->line);
        }
        return emit(C, LS_OP_YIELD, 0, n->line);
    }
    case LS_N_SUBSCRIPT:
        if (expr(C, n->k[0]) < 0 || expr(C, n->k[1]) < 0) return -1;
        return emit(C, LS_OP_SUBSCR, 0, n->line);
    case LS_N_BINOP:
        if (expr(C, n->k[0]) < 0 || expr(C, n->k[1]) < 0) return -1;
        return emit(C, LS_OP_BINARY, n->op, n->line);
    case LS_N_UNARY:
        if (expr(C, n->k[0]) < 0) return -1;
        return emit(C, n->op == LS_TK_MINUS ? LS_OP_NEG : LS_OP_POS, 0, n->line);
    case LS_N_COMPARE:
        if (expr(C, n->k[0]) < 0 || expr(C, n->k[1]) < 0) return -1;
        return emit(C, LS_OP_COMPARE, n->op + (n->ival ? 256 : 0), n->line);
    case LS_N_NOT:
        if (expr(C, n->k[0]) < 0) return -1;
        return emit(C, LS_OP_NOT, 0, n->line);
    case LS_N_AND: case LS_N_OR: {
        if (expr(C, n->k[0]) < 0) return -1;
        int j = emit(C, n->kind == LS_N_AND ? LS_OP_JUMP_IF_FALSE_OR_POP : LS_OP_JUMP_IF_TRUE_OR_POP,
                     0, n->line);
        if (expr(C, n->k[1]) < 0) return -1;
        patch(C, j, here(C));
        return 0;
    }
    case LS_N_IFEXP: {
        if (expr(C, n->k[0]) < 0) return -1;
        int j = emit(C, LS_OP_JUMP_IF_FALSE, 0, n->line);
        if (expr(C, n->k[1]) < 0) return -1;
        int k = emit(C, LS_OP_JUMP, 0, n->line);
        patch(C, j, here(C));
        if (expr(C, n->k[2]) < 0) return -1;
        patch(C, k, here(C));
        return 0;
    }
    default:
        return fail(C, n, "'%s' is not an expression", ls_node_name(n->kind));
    }
}

/* ---- statements ---- */

static fblock *push_fb(compiler *C, ls_node *n, int kind) {
    fstate *f = C->fs;
    if (f->nfb == LS_MAX_FBLOCK) {
        fail(C, n, "%s", "blocks nested too deeply");
        return NULL;
    }
    fblock *b = &f->fb[f->nfb++];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    return b;
}

static void pop_fb(compiler *C) {
    fblock *b = &C->fs->fb[--C->fs->nfb];
    free(b->breaks);
}

static void setup(compiler *C, int line) {
    fstate *f = C->fs;
    if (++f->blockdepth > f->maxblock) f->maxblock = f->blockdepth;
    (void)line;
}

/* Leaves the frame blocks above index `to` as return/break/continue do:
 * pops handlers and iterators, runs finally bodies, innermost first. */
static int unwind(compiler *C, int to, int line, bool keep_loop_iter) {
    fstate *f = C->fs;
    for (int i = f->nfb - 1; i >= to; i--) {
        fblock *b = &f->fb[i];
        switch (b->kind) {
        case FB_FOR:
            if (i > to || !keep_loop_iter) emit(C, LS_OP_POP, 0, line);
            break;
        case FB_TRY_EXCEPT:
            emit(C, LS_OP_POP_BLOCK, 0, line);
            break;
        case FB_WITH:
            /* leaving `async with` normally: await mgr.__aexit__(None, ...) */
            emit(C, LS_OP_POP_BLOCK, 0, line);
            emit(C, LS_OP_LOAD_METHOD, LS_M_AEXIT, line);
            emit(C, LS_OP_NONE, 0, line);
            emit(C, LS_OP_NONE, 0, line);
            emit(C, LS_OP_NONE, 0, line);
            emit(C, LS_OP_CALL, 4, line);
            emit(C, LS_OP_AWAIT, 0, line);
            emit(C, LS_OP_POP, 0, line);
            break;
        case FB_TRY_FINALLY: {
            emit(C, LS_OP_POP_BLOCK, 0, line);
            /* The finally body runs outside the blocks it closes. */
            int save = f->nfb;
            fblock saved[LS_MAX_FBLOCK];
            memcpy(saved, f->fb, sizeof saved);
            f->nfb = i;
            int bd = f->blockdepth;
            f->blockdepth -= 0;
            int r = stmts(C, b->final);
            f->blockdepth = bd;
            memcpy(f->fb, saved, sizeof saved);
            f->nfb = save;
            if (r < 0) return -1;
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

static int loop_index(fstate *f) {
    for (int i = f->nfb - 1; i >= 0; i--)
        if (f->fb[i].kind == FB_WHILE || f->fb[i].kind == FB_FOR) return i;
    return -1;
}

static void add_break(fblock *b, int pc) {
    b->breaks = ls_xrealloc(b->breaks, (size_t)(b->nbreaks + 1) * sizeof *b->breaks);
    b->breaks[b->nbreaks++] = pc;
}

static int try_stmt(compiler *C, ls_node *n) {
    fstate *f = C->fs;
    int fin_setup = -1, exc_setup = -1;
    if (n->k[2]) {
        fin_setup = emit(C, LS_OP_SETUP_TRY, 0, n->line);
        setup(C, n->line);
        fblock *b = push_fb(C, n, FB_TRY_FINALLY);
        if (!b) return -1;
        b->final = n->k[2];
    }
    int after = -1;
    if (n->n) {
        exc_setup = emit(C, LS_OP_SETUP_TRY, 0, n->line);
        setup(C, n->line);
        if (!push_fb(C, n, FB_TRY_EXCEPT)) return -1;
        if (stmts(C, n->k[0]) < 0) return -1;
        pop_fb(C);
        f->blockdepth--;
        emit(C, LS_OP_POP_BLOCK, 0, n->line);
        if (n->k[1] && stmts(C, n->k[1]) < 0) return -1;
        int *ends = ls_xmalloc((size_t)(n->n + 1) * sizeof *ends);
        int nends = 0;
        ends[nends++] = emit(C, LS_OP_JUMP, 0, n->line);
        patch(C, exc_setup, here(C));
        /* Handler entry: the exception is on the stack. */
        int slot = new_slot(C, NULL);
        for (int i = 0; i < n->n; i++) {
            ls_node *h = n->list[i];
            int skip = -1;
            if (h->k[0]) {
                emit(C, LS_OP_DUP, 0, h->line);
                if (expr(C, h->k[0]) < 0) { free(ends); return -1; }
                emit(C, LS_OP_EXC_MATCH, 0, h->line);
                skip = emit(C, LS_OP_JUMP_IF_FALSE, 0, h->line);
            }
            emit(C, LS_OP_STORE_LOCAL, slot, h->line);
            if (h->str) {
                emit(C, LS_OP_LOAD_LOCAL, slot, h->line);
                if (store_name(C, &(ls_node){.kind = LS_N_NAME, .line = h->line, .col = h->col,
                                             .str = h->str, .slen = h->slen}) < 0) {
                    free(ends);
                    return -1;
                }
            }
            fblock *hb = push_fb(C, h, FB_HANDLER);
            if (!hb) { free(ends); return -1; }
            hb->exc_slot = slot;
            if (stmts(C, h->k[1]) < 0) { free(ends); return -1; }
            pop_fb(C);
            ends[nends++] = emit(C, LS_OP_JUMP, 0, h->line);
            if (skip >= 0) patch(C, skip, here(C));
            if (!h->k[0]) break;
        }
        if (n->list[n->n - 1]->k[0]) emit(C, LS_OP_RERAISE, 0, n->line);
        after = here(C);
        for (int i = 0; i < nends; i++) patch(C, ends[i], after);
        free(ends);
    } else {
        if (stmts(C, n->k[0]) < 0) return -1;
    }
    if (n->k[2]) {
        pop_fb(C);
        f->blockdepth--;
        emit(C, LS_OP_POP_BLOCK, 0, n->line);
        if (stmts(C, n->k[2]) < 0) return -1;
        int j = emit(C, LS_OP_JUMP, 0, n->line);
        patch(C, fin_setup, here(C));
        int slot = new_slot(C, NULL);
        emit(C, LS_OP_STORE_LOCAL, slot, n->k[2]->line);
        if (stmts(C, n->k[2]) < 0) return -1;
        emit(C, LS_OP_LOAD_LOCAL, slot, n->k[2]->line);
        emit(C, LS_OP_RERAISE, 0, n->k[2]->line);
        patch(C, j, here(C));
    }
    return 0;
}

/* async with M as x: body, as PEP 492 spells it out:
 *   value = await M.__aenter__(); try: body
 *   except: if not await M.__aexit__(type, exc, None): raise
 *   else: await M.__aexit__(None, None, None)
 * The manager stays on the stack for the whole body. */
static int with_stmt(compiler *C, ls_node *n) {
    fstate *f = C->fs;
    if (!f->is_async) return fail(C, n, "%s", "'async with' outside an async function");
    if (expr(C, n->k[0]) < 0) return -1;
    emit(C, LS_OP_DUP, 0, n->line);
    emit(C, LS_OP_LOAD_METHOD, LS_M_AENTER, n->line);
    emit(C, LS_OP_CALL, 1, n->line);
    emit(C, LS_OP_AWAIT, 0, n->line);
    if (n->str) {
        if (store_name(C, &(ls_node){.kind = LS_N_NAME, .line = n->line, .col = n->col,
                                     .str = n->str, .slen = n->slen}) < 0)
            return -1;
    } else {
        emit(C, LS_OP_POP, 0, n->line);
    }
    int setup_pc = emit(C, LS_OP_SETUP_TRY, 0, n->line);
    setup(C, n->line);
    if (!push_fb(C, n, FB_WITH)) return -1;
    if (stmts(C, n->k[1]) < 0) return -1;
    pop_fb(C);
    f->blockdepth--;
    /* normal exit */
    emit(C, LS_OP_POP_BLOCK, 0, n->line);
    emit(C, LS_OP_LOAD_METHOD, LS_M_AEXIT, n->line);
    emit(C, LS_OP_NONE, 0, n->line);
    emit(C, LS_OP_NONE, 0, n->line);
    emit(C, LS_OP_NONE, 0, n->line);
    emit(C, LS_OP_CALL, 4, n->line);
    emit(C, LS_OP_AWAIT, 0, n->line);
    emit(C, LS_OP_POP, 0, n->line);
    int j = emit(C, LS_OP_JUMP, 0, n->line);
    /* exceptional exit: [mgr, exc] */
    patch(C, setup_pc, here(C));
    int slot = new_slot(C, NULL);
    if (slot < 0) return fail(C, n, "%s", "too many local variables");
    emit(C, LS_OP_STORE_LOCAL, slot, n->line);
    emit(C, LS_OP_LOAD_METHOD, LS_M_AEXIT, n->line);
    emit(C, LS_OP_LOAD_LOCAL, slot, n->line);
    emit(C, LS_OP_EXC_TYPE, 0, n->line);
    emit(C, LS_OP_LOAD_LOCAL, slot, n->line);
    emit(C, LS_OP_NONE, 0, n->line);
    emit(C, LS_OP_CALL, 4, n->line);
    emit(C, LS_OP_AWAIT, 0, n->line);
    int swallow = emit(C, LS_OP_JUMP_IF_TRUE, 0, n->line);
    emit(C, LS_OP_LOAD_LOCAL, slot, n->line);
    emit(C, LS_OP_RERAISE, 0, n->line);
    patch(C, swallow, here(C));
    patch(C, j, here(C));
    return 0;
}


/* The rest of a loop (while, for, async for) after its head: the body
 * with `continue` going back to `top`, the exit, the `else` block, and the
 * breaks patched to jump past it. */
static int loop_rest(compiler *C, ls_node *n, int kind, int top, int exit_jump, ls_node *body,
                     ls_node *els) {
    fstate *f = C->fs;
    fblock *b = push_fb(C, n, kind);
    if (!b) return -1;
    b->cont = top;
    if (stmts(C, body) < 0) return -1;
    emit(C, LS_OP_JUMP, top, n->line);
    patch(C, exit_jump, here(C));
    b = &f->fb[f->nfb - 1];
    int nb = b->nbreaks;
    int *br = b->breaks;
    b->breaks = NULL;
    pop_fb(C);
    if (els && stmts(C, els) < 0) {
        free(br);
        return -1;
    }
    for (int i = 0; i < nb; i++) patch(C, br[i], here(C));
    free(br);
    return 0;
}

static int stmt(compiler *C, ls_node *n) {
    fstate *f = C->fs;
    switch (n->kind) {
    case LS_N_EXPR:
        if (expr(C, n->k[0]) < 0) return -1;
        return emit(C, LS_OP_POP, 0, n->line);
    case LS_N_ASSIGN:
        if (expr(C, n->k[1]) < 0) return -1;
        return store_target(C, n->k[0]);
    case LS_N_AUGASSIGN:
        if (n->k[0]->kind == LS_N_NAME) {
            if (load_name(C, n->k[0]) < 0 || expr(C, n->k[1]) < 0) return -1;
            emit(C, LS_OP_BINARY, n->op | LS_BINARY_INPLACE, n->line);
            return store_name(C, n->k[0]);
        }
        if (n->k[0]->kind == LS_N_ATTR) {
            int fid = field_id(C, n->k[0]->str);
            if (expr(C, n->k[0]->k[0]) < 0) return -1;
            emit(C, LS_OP_DUP, 0, n->line);
            emit(C, LS_OP_LOAD_FIELD, fid, n->line);
            if (expr(C, n->k[1]) < 0) return -1;
            emit(C, LS_OP_BINARY, n->op | LS_BINARY_INPLACE, n->line);
            emit(C, LS_OP_ROT2, 0, n->line);
            return emit(C, LS_OP_STORE_FIELD, fid, n->line);
        }
        if (expr(C, n->k[0]->k[0]) < 0 || expr(C, n->k[0]->k[1]) < 0) return -1;
        emit(C, LS_OP_DUP2, 0, n->line);
        emit(C, LS_OP_SUBSCR, 0, n->line);
        if (expr(C, n->k[1]) < 0) return -1;
        emit(C, LS_OP_BINARY, n->op | LS_BINARY_INPLACE, n->line);
        emit(C, LS_OP_ROT3, 0, n->line);
        return emit(C, LS_OP_STORE_SUBSCR, 0, n->line);
    case LS_N_RETURN:
        if (f->is_init) return fail(C, n, "%s", "'return' outside a function");
        if (n->k[0]) f->returns_value = true;
        if (n->k[0]) {
            if (expr(C, n->k[0]) < 0) return -1;
        } else {
            emit(C, LS_OP_NONE, 0, n->line);
        }
        if (f->nfb) {
            if (f->retval_slot < 0) f->retval_slot = new_slot(C, NULL);
            emit(C, LS_OP_STORE_LOCAL, f->retval_slot, n->line);
            if (unwind(C, 0, n->line, false) < 0) return -1;
            emit(C, LS_OP_LOAD_LOCAL, f->retval_slot, n->line);
        }
        return emit(C, LS_OP_RETURN, 0, n->line);
    case LS_N_IF: {
        if (expr(C, n->k[0]) < 0) return -1;
        int j = emit_jump_if_false(C, n->line);
        if (stmts(C, n->k[1]) < 0) return -1;
        if (n->k[2]) {
            int k = emit(C, LS_OP_JUMP, 0, n->line);
            patch(C, j, here(C));
            if (stmts(C, n->k[2]) < 0) return -1;
            patch(C, k, here(C));
        } else {
            patch(C, j, here(C));
        }
        return 0;
    }
    case LS_N_WHILE: case LS_N_FOR: {
        bool isfor = n->kind == LS_N_FOR;
        int top, exit_jump;
        if (isfor) {
            if (expr(C, n->k[1]) < 0) return -1;
            emit(C, LS_OP_GET_ITER, 0, n->line);
            top = exit_jump = emit(C, LS_OP_FOR_ITER, 0, n->line);
            if (store_target(C, n->k[0]) < 0) return -1;
        } else {
            top = here(C);
            if (expr(C, n->k[0]) < 0) return -1;
            exit_jump = emit_jump_if_false(C, n->line);
        }
        return loop_rest(C, n, isfor ? FB_FOR : FB_WHILE, top, exit_jump,
                         n->k[isfor ? 2 : 1], n->k[isfor ? 3 : 2]);
    }
    case LS_N_ASYNC_FOR: {
        /* it = aiter(x); while True: try: v = await anext(it) except
         * StopAsyncIteration: break; body */
        if (aiter_of(C, n->k[1], n->line) < 0) return -1;
        int exit_jump;
        int top = anext_head(C, n->line, &exit_jump);
        if (store_target(C, n->k[0]) < 0) return -1;
        return loop_rest(C, n, FB_FOR, top, exit_jump, n->k[2], n->k[3]);
    }
    case LS_N_BREAK: case LS_N_CONTINUE: {
        int li = loop_index(f);
        if (li < 0)
            return fail(C, n, "'%s' outside a loop", n->kind == LS_N_BREAK ? "break" : "continue");
        bool brk = n->kind == LS_N_BREAK;
        if (unwind(C, li, n->line, !brk) < 0) return -1;
        if (brk) add_break(&f->fb[li], emit(C, LS_OP_JUMP, 0, n->line));
        else emit(C, LS_OP_JUMP, f->fb[li].cont, n->line);
        return 0;
    }
    case LS_N_PASS: return 0;
    case LS_N_GLOBAL:
        if (f->is_init) return fail(C, n, "%s", "'global' outside a function");
        return 0;
    case LS_N_TRY: return try_stmt(C, n);
    case LS_N_RAISE:
        if (n->k[0]) {
            if (expr(C, n->k[0]) < 0) return -1;
            return emit(C, LS_OP_RAISE, 0, n->line);
        }
        for (int i = f->nfb - 1; i >= 0; i--)
            if (f->fb[i].kind == FB_HANDLER) {
                emit(C, LS_OP_LOAD_LOCAL, f->fb[i].exc_slot, n->line);
                return emit(C, LS_OP_RERAISE, 0, n->line);
            }
        return emit(C, LS_OP_RAISE_ACTIVE, 0, n->line);
    case LS_N_WITH: return with_stmt(C, n);
    default:
        return fail(C, n, "'%s' is not a statement here", ls_node_name(n->kind));
    }
}

static int stmts(compiler *C, ls_node *blk) {
    for (int i = 0; i < blk->n; i++)
        if (stmt(C, blk->list[i]) < 0) return -1;
    return 0;
}

/* ---- stack depth: a flow pass over the code ---- */

static int stack_depth(compiler *C, ls_proto *p, int line) {
    int n = p->ncode;
    int *depth = ls_xmalloc((size_t)(n + 1) * sizeof *depth);
    int *work = ls_xmalloc((size_t)(n + 1) * sizeof *work);
    for (int i = 0; i <= n; i++) depth[i] = -1;
    int nw = 0, max = 0;
    depth[0] = 0;
    work[nw++] = 0;
#define FLOW(pc, d)                                                            \
    do {                                                                       \
        int pc_ = (pc), d_ = (d);                                              \
        if (pc_ <= n && depth[pc_] < 0) {                                      \
            depth[pc_] = d_;                                                   \
            work[nw++] = pc_;                                                  \
        }                                                                      \
    } while (0)
    while (nw) {
        int pc = work[--nw];
        if (pc >= n) continue;
        int d = depth[pc];
        uint32_t ins = p->code[pc];
        ls_opcode op = LS_OP(ins);
        int arg = LS_ARG(ins);
        int eff = op_effect[op];
        switch (op) {
        case LS_OP_BUILD_LIST: case LS_OP_BUILD_TUPLE: case LS_OP_BUILD_STR: eff = 1 - arg; break;
        case LS_OP_UNPACK: eff = arg - 1; break;
        case LS_OP_AWAIT_SLEEP: eff = 1 - arg; break;
        case LS_OP_CALL: eff = -arg; break;
        case LS_OP_CALL_EX: eff = -(arg + 1); break;
        case LS_OP_BUILD_CLASS: eff = -(arg + 2); break;
        default: break;
        }
        if (d + (eff > 0 ? eff : 0) > max) max = d + (eff > 0 ? eff : 0);
        if (op == LS_OP_DUP2 && d + 2 > max) max = d + 2;
        switch (op) {
        case LS_OP_JUMP: FLOW(arg, d); break;
        case LS_OP_JUMP_IF_FALSE: case LS_OP_JUMP_IF_TRUE:
            FLOW(arg, d - 1); FLOW(pc + 1, d - 1); break;
        case LS_OP_JUMP_IF_NOT_LT: FLOW(arg, d - 2); FLOW(pc + 1, d - 2); break;
        case LS_OP_JUMP_IF_FALSE_OR_POP: case LS_OP_JUMP_IF_TRUE_OR_POP:
            FLOW(arg, d); FLOW(pc + 1, d - 1); break;
        case LS_OP_FOR_ITER: FLOW(arg, d - 1); FLOW(pc + 1, d + 1); break;
        case LS_OP_SETUP_TRY:
            if (d + 1 > max) max = d + 1;
            FLOW(arg, d + 1); FLOW(pc + 1, d); break;
        case LS_OP_RETURN: case LS_OP_RAISE: case LS_OP_RERAISE: case LS_OP_RAISE_ACTIVE: break;
        default: FLOW(pc + 1, d + eff); break;
        }
    }
#undef FLOW
    free(depth);
    free(work);
    if (max > 60000) {
        ls_error_at(C->e, C->path, line, 1, "function '%s' needs too deep a stack", p->name);
        return -1;
    }
    p->maxstack = max + 1;
    return 0;
}

/* ---- functions ---- */

static ls_value literal(compiler *C, ls_node *n, bool *ok) {
    *ok = true;
    switch (n->kind) {
    case LS_N_INT: return ls_int(n->ival);
    case LS_N_FLOAT: return ls_float(n->dval);
    case LS_N_STR: return perm_str(n->str, (size_t)n->slen);
    case LS_N_NONE: return ls_none();
    case LS_N_TRUE: return ls_bool(true);
    case LS_N_FALSE: return ls_bool(false);
    case LS_N_UNARY:
        if (n->op == LS_TK_MINUS && n->k[0]->kind == LS_N_INT) return ls_int(-n->k[0]->ival);
        if (n->op == LS_TK_MINUS && n->k[0]->kind == LS_N_FLOAT) return ls_float(-n->k[0]->dval);
        break;
    default: break;
    }
    *ok = false;
    fail(C, n, "%s", "parameter defaults must be literals (numbers, strings, None, True, False)");
    return ls_none();
}

static void finish_proto(fstate *f) {
    ls_proto *p = f->p;
    /* A compile error can leave loop blocks open: free their patch lists. */
    for (int i = 0; i < f->nfb; i++) free(f->fb[i].breaks);
    f->nfb = 0;
    p->code = f->code;
    p->lines = f->lines;
    p->ncode = f->ncode;
    p->field_hint = ls_xcalloc((size_t)(f->ncode ? f->ncode : 1), 1);
    p->consts = f->consts;
    p->nconsts = f->nconsts;
    p->nlocals = f->nlocals;
    p->localnames = f->locals;
    p->maxblock = f->maxblock;
    free(f->globals_decl);
}

static void set_frame_size(ls_proto *p) {
    p->frame_size = sizeof(ls_frame) + (size_t)(p->nlocals + p->maxstack) * sizeof(ls_value) +
                    (size_t)p->maxblock * sizeof(ls_block);
}

static ls_proto *compile_func(compiler *C, ls_node *fn, const char *name, const char *method) {
    ls_proto *p = ls_xcalloc(1, sizeof *p);
    p->name = name;
    p->is_async = fn->ival;
    p->prelude = C->prelude;
    p->varargs = fn->n && fn->list[fn->n - 1]->ival;
    p->nparams = fn->n - p->varargs;
    if (p->varargs && !C->prelude) {
        ls_node *v = fn->list[fn->n - 1];
        ls_error_at(C->e, C->path, v->line, v->col, "%s", "*args and **kwargs parameters are not supported");
        free(p);
        return NULL;
    }
    fstate f = {0};
    f.p = p;
    f.is_async = p->is_async;
    f.retval_slot = -1;
    f.method = method;
    fstate *saved = C->fs;
    C->fs = &f;
    p->defaults = ls_xmalloc((size_t)(fn->n ? fn->n : 1) * sizeof(ls_value));
    for (int i = 0; i < fn->n; i++) {
        new_slot(C, fn->list[i]->str);
        p->defaults[i] = ls_unbound();
        if (fn->list[i]->k[0]) {
            bool ok;
            p->defaults[i] = literal(C, fn->list[i]->k[0], &ok);
            if (!ok) goto fail;
        }
    }
    if (collect_locals(C, fn->k[0]) < 0) goto fail;
    if (f.nlocals >= LS_MAX_LOCALS) {
        fail(C, fn, "function '%s' has too many local variables", fn->str);
        goto fail;
    }
    if (stmts(C, fn->k[0]) < 0) goto fail;
    p->is_gen = f.is_gen;
    if (f.is_gen && f.is_async && f.returns_value) {
        fail(C, fn, "%s", "'return' with value in async generator");
        goto fail;
    }
    emit(C, LS_OP_NONE, 0, fn->line);
    emit(C, LS_OP_RETURN, 0, fn->line);
    C->fs = saved;
    finish_proto(&f);
    if (stack_depth(C, p, fn->line) < 0) return p;
    set_frame_size(p);
    return p;
fail:
    C->fs = saved;
    finish_proto(&f);
    return p;
}

/* Hand-built protos the loop needs: `async def __noop(): pass` (what
 * shutdown_asyncgens amounts to) and `async def __await1(x): return
 * await x` (a task around an awaitable that is not a coroutine). */
static ls_proto *internal_proto(const char *name, int nparams, const uint32_t *code, int n) {
    ls_proto *p = ls_xcalloc(1, sizeof *p);
    p->name = name;
    p->prelude = true;
    p->is_async = true;
    p->nparams = p->nlocals = nparams;
    p->maxstack = 2;
    p->code = ls_xmalloc((size_t)n * sizeof *code);
    memcpy(p->code, code, (size_t)n * sizeof *code);
    p->lines = ls_xcalloc((size_t)n, sizeof *p->lines);
    p->ncode = n;
    p->field_hint = ls_xcalloc((size_t)n, 1);
    p->defaults = ls_xmalloc(sizeof(ls_value) * (size_t)(nparams ? nparams : 1));
    for (int i = 0; i < nparams; i++) p->defaults[i] = ls_unbound();
    p->localnames = ls_xcalloc((size_t)(nparams ? nparams : 1), sizeof(char *));
    set_frame_size(p);
    return p;
}

/* Registers a module's functions and top-level bindings as globals. */
static int declare_module(compiler *C, ls_node *m) {
    char buf[300];
    for (int i = 0; i < m->n; i++) {
        ls_node *s = m->list[i];
        if (s->kind == LS_N_FUNC) {
            const char *nm = C->prelude ? pname(C, s->str, buf, sizeof buf, true) : s->str;
            if (find_global(C, nm) >= 0) return fail(C, s, "function '%s' is defined twice", s->str);
            if (!C->prelude && (ls_builtin_lookup(s->str) >= 0 || ls_exc_lookup(s->str) >= 0 ||
                                ls_prelude_public(s->str)))
                fprintf(stderr, "%s:%d:%d: warning: function '%s' shadows a builtin\n", C->path,
                        s->line, s->col, s->str);
            add_global(C, nm);
        } else if (s->kind == LS_N_CLASS) {
            if (find_global(C, s->str) >= 0) return fail(C, s, "class '%s' is defined twice", s->str);
            if (ls_builtin_lookup(s->str) >= 0 || ls_exc_lookup(s->str) >= 0 || ls_prelude_public(s->str))
                return fail(C, s, "class '%s' would shadow a builtin", s->str);
            add_global(C, s->str);
        } else if (s->kind == LS_N_ASSIGN) {
            ls_node *t = s->k[0];
            int n = t->kind == LS_N_NAME ? 1 : t->n;
            for (int j = 0; j < n; j++) {
                ls_node *x = t->kind == LS_N_NAME ? t : t->list[j];
                if (x->kind != LS_N_NAME) continue;
                add_global(C, C->prelude ? pname(C, x->str, buf, sizeof buf, true) : x->str);
            }
        }
    }
    return 0;
}

/* The protocol methods: which must be a plain `def`, which may be either. */
static int check_method(compiler *C, ls_node *fn) {
    static const char *const sync_only[] = {"__init__", "__await__", "__aiter__", "__repr__",
                                            "__str__", NULL};
    for (int i = 0; sync_only[i]; i++)
        if (strcmp(fn->str, sync_only[i]) == 0 && fn->ival)
            return fail(C, fn, "%s must be a plain 'def', not 'async def'", fn->str);
    if (fn->n == 0) return fail(C, fn, "method '%s' needs a 'self' parameter", fn->str);
    return 0;
}

static int compile_methods(compiler *C, ls_node *cls) {
    ls_program *prog = C->prog;
    for (int i = 0; i < cls->n; i++) {
        ls_node *fn = cls->list[i];
        if (fn->kind != LS_N_FUNC) continue;
        if (check_method(C, fn) < 0) return -1;
        char buf[300];
        snprintf(buf, sizeof buf, "%s.%s", cls->str, fn->str);
        const char *name = ls_arena_strndup(&prog->arena, buf, strlen(buf));
        int idx = prog->nprotos;
        C->cls = cls->str;
        prog->protos[prog->nprotos++] = compile_func(C, fn, name, fn->str);
        C->cls = NULL;
        prog->proto_global[idx] = -1;
        if (C->e->set) return -1;
        C->mprotos = ls_xrealloc(C->mprotos, (size_t)(C->nmprotos + 1) * sizeof *C->mprotos);
        C->mprotos[C->nmprotos++] = idx;
    }
    return 0;
}

/* class C(B): members. At module init, in the order of the top level:
 * the tuple of the members' field ids, the name, the base, the members'
 * values (functions, and class attributes evaluated now); BUILD_CLASS. */
static int class_stmt(compiler *C, ls_node *m, ls_node *cls) {
    if (cls->k[0]) {
        const char *b = cls->k[0]->str;
        int x = ls_exc_lookup(b);
        bool ok = x >= 0 && x != LS_E_GROUP && x != LS_E_BASE_GROUP;
        for (int i = 0; !ok && i < m->n && m->list[i] != cls; i++)
            ok = m->list[i]->kind == LS_N_CLASS && strcmp(m->list[i]->str, b) == 0;
        if (!ok)
            return fail(C, cls->k[0],
                        "the base of a class must be a class defined above it or an exception "
                        "type, not '%s'", b);
    }
    ls_list *ids = calloc(1, sizeof *ids);
    if (!ids) return fail(C, cls, "%s", "out of memory");
    ids->hdr.kind = LS_O_TUPLE;
    ids->hdr.flags = LS_OBJ_PERM;
    ids->v = ls_xmalloc((size_t)(cls->n ? cls->n : 1) * sizeof(ls_value));
    ids->cap = cls->n;
    for (int i = 0; i < cls->n; i++) {
        ls_node *x = cls->list[i];
        ids->v[ids->n++] = ls_int(field_id(C, x->kind == LS_N_FUNC ? x->str : x->k[0]->str));
    }
    emit(C, LS_OP_CONST, add_const(C, ls_obj_val(ids)), cls->line);
    emit(C, LS_OP_CONST, add_const(C, perm_str(cls->str, (size_t)cls->slen)), cls->line);
    if (cls->k[0]) {
        if (load_name(C, cls->k[0]) < 0) return -1;
    } else {
        emit(C, LS_OP_NONE, 0, cls->line);
    }
    for (int i = 0; i < cls->n; i++) {
        ls_node *x = cls->list[i];
        if (x->kind == LS_N_FUNC) {
            ls_value fn = {LS_V_FUNC, 0, {.i = C->mprotos[C->mnext++]}};
            emit(C, LS_OP_CONST, add_const(C, fn), x->line);
        } else if (expr(C, x->k[1]) < 0) {
            return -1;
        }
    }
    emit(C, LS_OP_BUILD_CLASS, cls->n, cls->line);
    return store_name(C, &(ls_node){.kind = LS_N_NAME, .line = cls->line, .col = cls->col,
                                    .str = cls->str, .slen = cls->slen});
}

static int compile_functions(compiler *C, ls_node *m) {
    ls_program *prog = C->prog;
    char buf[300];
    for (int i = 0; i < m->n; i++) {
        ls_node *s = m->list[i];
        if (s->kind == LS_N_CLASS) {
            if (compile_methods(C, s) < 0) return -1;
            continue;
        }
        if (s->kind != LS_N_FUNC) continue;
        int idx = prog->nprotos;
        prog->protos[prog->nprotos++] = compile_func(C, s, s->str, NULL);
        if (C->e->set) return -1;
        const char *nm = C->prelude ? pname(C, s->str, buf, sizeof buf, false) : s->str;
        prog->proto_global[idx] = find_global(C, nm);
        if (!C->prelude && strcmp(s->str, "main") == 0) prog->main = idx;
    }
    return 0;
}

static int compile_bindings(compiler *C, ls_node *m) {
    for (int i = 0; i < m->n; i++) {
        ls_node *s = m->list[i];
        if (s->kind == LS_N_FUNC) continue;
        if (s->kind == LS_N_CLASS) {
            if (class_stmt(C, m, s) < 0) return -1;
            continue;
        }
        if (s->kind != LS_N_ASSIGN)
            return fail(C, s, "%s", "top level holds only functions and 'NAME = value' bindings");
        if (stmt(C, s) < 0) return -1;
    }
    return 0;
}

/* The prelude's classes: each `def Class__method` with a known method. */
static void collect_classes(compiler *C, int first, int last) {
    ls_program *prog = C->prog;
    for (int i = first; i < last; i++) {
        const char *nm = prog->protos[i]->name;
        const char *sep = strstr(nm, "__");
        if (!sep || sep == nm || nm[0] < 'A' || nm[0] > 'Z') continue;
        int m = ls_method_lookup(sep + 2);
        if (m < 0) continue;   /* a helper called directly */
        int cls = -1;
        for (int k = 0; k < prog->nclasses; k++)
            if (strlen(prog->classnames[k]) == (size_t)(sep - nm) &&
                strncmp(prog->classnames[k], nm, (size_t)(sep - nm)) == 0)
                cls = k;
        if (cls < 0) {
            cls = prog->nclasses++;
            prog->classnames = ls_xrealloc(prog->classnames, (size_t)prog->nclasses * sizeof(char *));
            prog->classnames[cls] = ls_arena_strndup(&prog->arena, nm, (size_t)(sep - nm));
            prog->methods = ls_xrealloc(prog->methods,
                                        (size_t)prog->nclasses * LS_M__COUNT * sizeof(int));
            for (int k = 0; k < LS_M__COUNT; k++) prog->methods[cls * LS_M__COUNT + k] = -1;
        }
        prog->methods[cls * LS_M__COUNT + m] = i;
    }
}

/* The prelude's syntax tree, parsed once per process: parsing it is most of
 * what a small case costs (about 60% of a run), and the compiler only
 * reads the tree. It lives until the process exits. */
static const ls_node *prelude_module(ls_error *e) {
    static ls_arena arena;
    static ls_node *module;
    if (!module) module = ls_parse_program(LS_PRELUDE_PATH, ls_prelude_src, ls_prelude_len, 1, &arena, e);
    return module;
}

/* The prelude compiled once per process, the prefix every program starts
 * from: its protos (shared by every program, never freed), its globals
 * and record fields (the first ids of every program's tables, so its
 * bytecode means the same in each) and its classes. Compiling it was
 * most of what a request to `loopspec-model serve` cost (0.4 of 0.66 ms
 * for a fuzzer's program). Its bytecode depends on nothing of the
 * program: the prelude names its own globals "__p_NAME", reads only
 * record fields and known methods, and defines no class. */
typedef struct prelude_image {
    ls_program prog;
    const char **gnames, **fnames;
    int ngnames, nfnames;
    int *gslots, ngslots, *fslots, nfslots;
} prelude_image;

static const prelude_image *prelude_image_get(ls_error *e) {
    static prelude_image *img;
    if (img) return img;
    ls_node *pm = (ls_node *)prelude_module(e);
    if (!pm) return NULL;
    prelude_image *im = ls_xcalloc(1, sizeof *im);
    int nfunc = 0;
    for (int i = 0; i < pm->n; i++) nfunc += pm->list[i]->kind == LS_N_FUNC;
    compiler C = {0};
    C.e = e;
    C.prog = &im->prog;
    C.prelude = true;
    C.path = LS_PRELUDE_PATH;
    im->prog.protos = ls_xcalloc((size_t)nfunc + 1, sizeof *im->prog.protos);
    im->prog.proto_global = ls_xcalloc((size_t)nfunc + 1, sizeof *im->prog.proto_global);
    if (declare_module(&C, pm) < 0 || compile_functions(&C, pm) < 0) return NULL;   /* a bad build */
    collect_classes(&C, 0, im->prog.nprotos);
    im->gnames = C.gnames;
    im->ngnames = C.ngnames;
    im->gslots = C.gslots;
    im->ngslots = C.ngslots;
    im->fnames = C.fnames;
    im->nfnames = C.nfnames;
    im->fslots = C.fslots;
    im->nfslots = C.nfslots;
    img = im;
    return img;
}

static void *dup_array(const void *src, int n, size_t size) {
    void *d = ls_xmalloc((size_t)(n ? n : 1) * size);
    if (n) memcpy(d, src, (size_t)n * size);
    return d;
}

ls_program *ls_compile(const ls_case *c, ls_error *e) {
    compiler C = {0};
    C.c = c;
    C.e = e;
    C.path = c->path;
    ls_program *prog = ls_xcalloc(1, sizeof *prog);
    prog->path = c->path;
    prog->main = -1;
    C.prog = prog;
    ls_node *m = c->module;
    ls_node *pm = (ls_node *)prelude_module(e);
    const prelude_image *img = pm ? prelude_image_get(e) : NULL;
    if (!img) goto fail;
    int nfunc = img->prog.nprotos;
    for (int i = 0; i < m->n; i++) {
        nfunc += m->list[i]->kind == LS_N_FUNC;
        if (m->list[i]->kind == LS_N_CLASS)
            for (int j = 0; j < m->list[i]->n; j++) nfunc += m->list[i]->list[j]->kind == LS_N_FUNC;
    }
    collect_user_attrs(&C, m);
    prog->protos = ls_xcalloc((size_t)nfunc + 2, sizeof *prog->protos);
    prog->proto_global = ls_xcalloc((size_t)nfunc + 2, sizeof *prog->proto_global);
    /* The prelude's image first: the program's names and protos follow. */
    memcpy(prog->protos, img->prog.protos, (size_t)img->prog.nprotos * sizeof *prog->protos);
    memcpy(prog->proto_global, img->prog.proto_global,
           (size_t)img->prog.nprotos * sizeof *prog->proto_global);
    prog->nprotos = prog->nshared = img->prog.nprotos;
    prog->nclasses = img->prog.nclasses;
    prog->classnames = dup_array(img->prog.classnames, img->prog.nclasses, sizeof(char *));
    prog->methods = dup_array(img->prog.methods, img->prog.nclasses * LS_M__COUNT, sizeof(int));
    C.gnames = dup_array(img->gnames, img->ngnames, sizeof(char *));
    C.ngnames = C.capg = img->ngnames;
    C.gslots = dup_array(img->gslots, img->ngslots, sizeof(int));
    C.ngslots = img->ngslots;
    C.fnames = dup_array(img->fnames, img->nfnames, sizeof(char *));
    C.nfnames = img->nfnames;
    C.fslots = dup_array(img->fslots, img->nfslots, sizeof(int));
    C.nfslots = img->nfslots;

    if (declare_module(&C, m) < 0) goto fail;
    if (compile_functions(&C, m) < 0) goto fail;

    static const uint32_t noop[] = {LS_INS(LS_OP_NONE, 0), LS_INS(LS_OP_RETURN, 0)};
    static const uint32_t await1[] = {LS_INS(LS_OP_LOAD_LOCAL, 0), LS_INS(LS_OP_AWAIT, 0),
                                      LS_INS(LS_OP_RETURN, 0)};
    prog->noop = prog->nprotos;
    prog->proto_global[prog->nprotos] = -1;
    prog->protos[prog->nprotos++] = internal_proto("shutdown_step", 0, noop, 2);
    prog->await1 = prog->nprotos;
    prog->proto_global[prog->nprotos] = -1;
    prog->protos[prog->nprotos++] = internal_proto("__await1", 1, await1, 3);

    /* The module init: the prelude's bindings, then the program's. */
    ls_proto *init = ls_xcalloc(1, sizeof *init);
    init->name = "<module>";
    init->defaults = ls_xmalloc(sizeof(ls_value));
    fstate f = {0};
    f.p = init;
    f.is_init = true;
    f.retval_slot = -1;
    C.fs = &f;
    C.prelude = true;
    C.path = LS_PRELUDE_PATH;
    int rc = compile_bindings(&C, pm);
    C.prelude = false;
    C.path = c->path;
    if (rc == 0) compile_bindings(&C, m);
    emit(&C, LS_OP_NONE, 0, m->line);
    emit(&C, LS_OP_RETURN, 0, m->line);
    C.fs = NULL;
    finish_proto(&f);
    prog->init = init;
    if (e->set) goto fail;
    if (stack_depth(&C, init, m->line) < 0) goto fail;
    set_frame_size(init);
    prog->globalnames = C.gnames;
    prog->nglobals = C.ngnames;
    prog->fieldnames = C.fnames;
    prog->nfields = C.nfnames;
    /* A method called by its id on a case object is looked up by name;
     * the protocol ids by their dunder names. */
    for (int k = 0; k < LS_M__COUNT; k++) {
        const char *nm = k == LS_M_AENTER ? "__aenter__" : k == LS_M_AEXIT ? "__aexit__"
                       : k == LS_M_AITER ? "__aiter__" : k == LS_M_ANEXT ? "__anext__"
                       : k == LS_M_AWAIT ? "__await__" : k == LS_M_CALL || k == LS_M_ITER ? NULL
                       : ls_method_names[k];
        prog->method_field[k] = nm ? ls_index_find(C.fnames, C.fslots, C.nfslots, nm) : -1;
    }
    prog->g_shutdown_asyncgens = find_global(&C, "__p_shutdown_asyncgens");
    prog->f_init = ls_index_find(C.fnames, C.fslots, C.nfslots, "__init__");
    prog->f_repr = ls_index_find(C.fnames, C.fslots, C.nfslots, "__repr__");
    prog->f_str = ls_index_find(C.fnames, C.fslots, C.nfslots, "__str__");
    free(C.gslots);
    free(C.fslots);
    free(C.uattrs);
    free(C.mprotos);
    return prog;
fail:
    prog->globalnames = C.gnames;
    prog->nglobals = C.ngnames;
    prog->fieldnames = C.fnames;
    prog->nfields = C.nfnames;
    free(C.gslots);
    free(C.fslots);
    free(C.uattrs);
    free(C.mprotos);
    ls_program_free(prog);
    return NULL;
}

static void free_const(ls_value v) {
    if (v.tag != LS_V_OBJ) return;
    if (v.u.o->kind == LS_O_TUPLE || v.u.o->kind == LS_O_LIST) {
        ls_list *l = (ls_list *)v.u.o;
        for (int i = 0; i < l->n; i++) free_const(l->v[i]);
        free(l->v);
    }
    free(v.u.o);
}

static void free_proto(ls_proto *p) {
    if (!p) return;
    for (int i = 0; i < p->nconsts; i++) free_const(p->consts[i]);
    for (int i = 0; i < p->nparams; i++) free_const(p->defaults[i]);
    free(p->consts);
    free(p->code);
    free(p->lines);
    free(p->field_hint);
    free(p->defaults);
    free(p->localnames);
    free(p);
}

void ls_program_free(ls_program *p) {
    if (!p) return;
    for (int i = p->nshared; i < p->nprotos; i++) free_proto(p->protos[i]);
    free_proto(p->init);
    free(p->protos);
    free(p->proto_global);
    free(p->globalnames);
    free(p->classnames);
    free(p->methods);
    free(p->fieldnames);
    ls_arena_free(&p->arena);
    free(p);
}

static void dump_proto(ls_buf *b, const ls_proto *p) {
    ls_buf_printf(b, "%sdef %s: %d params, %d locals, stack %d, blocks %d\n",
                  p->is_async ? "async " : "", p->name, p->nparams, p->nlocals,
                  p->maxstack, p->maxblock);
    for (int i = 0; i < p->ncode; i++) {
        uint32_t ins = p->code[i];
        ls_buf_printf(b, "  %4d  line %-4d %-22s %d\n", i, p->lines[i],
                      ls_opcode_names[LS_OP(ins)], LS_ARG(ins));
    }
}

void ls_program_dump(ls_buf *b, const ls_program *p) {
    dump_proto(b, p->init);
    for (int i = 0; i < p->nprotos; i++) dump_proto(b, p->protos[i]);
}
