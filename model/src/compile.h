/* compile.h: the bytecode and the compiler from AST to it.
 *
 * An instruction is 32 bits: the opcode in the low 8, its argument in the
 * high 24. Each function compiles to a proto; the program is the protos,
 * the globals, and a module-init proto that binds the top-level names. */
#ifndef LS_COMPILE_H
#define LS_COMPILE_H

#include "builtins.h"
#include "case.h"
#include "value.h"

/* X(name, stack effect, semantics). Jump targets are absolute pcs. */
#define LS_OPCODES(X)                                                          \
    X(NOP, 0, "do nothing")                                                    \
    X(CONST, 1, "push constants[arg]")                                         \
    X(INT, 1, "push the small int arg (signed 24 bits)")                       \
    X(NONE, 1, "push None")                                                    \
    X(TRUE, 1, "push True")                                                    \
    X(FALSE, 1, "push False")                                                  \
    X(LOAD_LOCAL, 1, "push locals[arg]; UnboundLocalError if unset")           \
    X(STORE_LOCAL, -1, "pop into locals[arg]")                                 \
    X(LOAD_GLOBAL, 1, "push globals[arg]; NameError if unset")                 \
    X(STORE_GLOBAL, -1, "pop into globals[arg]")                               \
    X(LOAD_BUILTIN, 1, "push builtin function arg")                            \
    X(LOAD_EXC, 1, "push exception type arg")                                  \
    X(POP, -1, "discard the top")                                              \
    X(DUP, 1, "push the top again")                                            \
    X(DUP2, 2, "push the top two again, in order")                             \
    X(ROT2, 0, "swap the top two")                                             \
    X(ROT3, 0, "move the top below the next two")                              \
    X(BINARY, -1, "pop b, a; push a <arg> b (arg: token kind)")                \
    X(COMPARE, -1, "pop b, a; push a <arg> b (arg: token kind; +256 negates)") \
    X(NOT, 0, "replace the top by its negated truth")                          \
    X(NEG, 0, "replace the top number by its negation")                        \
    X(POS, 0, "check the top is a number")                                     \
    X(JUMP, 0, "pc = arg")                                                     \
    X(JUMP_IF_FALSE, -1, "pop; if falsy, pc = arg")                            \
    X(JUMP_IF_NOT_LT, -2, "pop b, a; if not a < b, pc = arg (a loop test)")     \
    X(JUMP_IF_TRUE, -1, "pop; if truthy, pc = arg")                            \
    X(JUMP_IF_FALSE_OR_POP, -1, "if the top is falsy pc = arg, else pop it")   \
    X(JUMP_IF_TRUE_OR_POP, -1, "if the top is truthy pc = arg, else pop it")   \
    X(BUILD_LIST, 0, "pop arg values, push a list of them")                    \
    X(BUILD_TUPLE, 0, "pop arg values, push a tuple of them")                  \
    X(LIST_APPEND, -1, "pop v; append it to the list at depth arg")            \
    X(LIST_EXTEND, -1, "pop an iterable; extend the list below it")            \
    X(UNPACK, 0, "pop a sequence of arg items; push them, item 0 on top")      \
    X(SUBSCR, -1, "pop index, obj; push obj[index]")                           \
    X(STORE_SUBSCR, -3, "pop index, obj, value; obj[index] = value")           \
    X(GET_ITER, 0, "replace the top by an iterator over it")                   \
    X(FOR_ITER, 1, "push the iterator's next item, or pop it and pc = arg")    \
    X(FORMAT, 0, "replace the top by its str(), or repr() if arg is 1")        \
    X(BUILD_STR, 0, "pop arg strings, push their concatenation")              \
    X(KWNAMES, 0, "the next call's last values are keyword arguments named "   \
                  "by the tuple constants[arg]")                               \
    X(CALL, 0, "call the callee under arg arguments; push the result")         \
    X(CALL_EX, 0, "call the callee with the list below arg keyword values")    \
    X(LOAD_METHOD, 1, "pop obj; push method arg of it, then obj")              \
    X(LOAD_ATTR, 0, "replace obj by its method arg, bound to it")              \
    X(LOAD_FIELD, 0, "replace a record by its field arg")                      \
    X(SUPER_ATTR, -1, "pop self and a class: super().field (arg >> 1) found "  \
                      "from the class's base on, bound to self (arg & 1: "     \
                      "called at once)")                                       \
    X(STORE_FIELD, -2, "pop record, value; set the record's field arg")        \
    X(EXC_TYPE, 0, "replace an exception by its type")                         \
    X(AWAIT, 0, "pop an awaitable: run a coroutine inline, or suspend the "   \
                "task until the future is done; push its result")              \
    X(AWAIT_SLEEP, 0, "await sleep(delay[, result]) with arg arguments on "  \
                      "the stack, without making the sleep coroutine")         \
    X(RETURN, -1, "pop the result and finish the frame")                       \
    X(SETUP_TRY, 0, "push a handler at pc arg for the current stack depth")    \
    X(POP_BLOCK, 0, "pop the innermost handler")                               \
    X(RAISE, -1, "pop an exception or exception type and raise it")            \
    X(RERAISE, -1, "pop an exception and raise it again")                      \
    X(RAISE_ACTIVE, 0, "raise: RuntimeError, no exception is being handled")   \
    X(EXC_MATCH, -1, "pop a type (or tuple of types) and an exception; "     \
                     "push whether the exception is an instance")              \
    X(BUILD_CLASS, 0, "pop arg attribute values, the base, the name and the "  \
                      "tuple of attribute names; push the new class")          \
    X(YIELD, 0, "pop a value: an async generator hands it to the frame "       \
                "awaiting it, a generator (__await__) yields it to the task; " \
                "push what is sent back")

typedef enum ls_opcode {
#define LS_X(n, eff, doc) LS_OP_##n,
    LS_OPCODES(LS_X)
#undef LS_X
    LS_OP__COUNT
} ls_opcode;

/* BINARY's argument flag for augmented assignment: `xs += ys` extends
 * the list xs in place, as list.__iadd__ does. */
#define LS_BINARY_INPLACE 512

#define LS_OP(ins) ((ls_opcode)((ins) & 0xff))
#define LS_ARG(ins) ((int32_t)(ins) >> 8)
#define LS_INS(op, arg) ((uint32_t)(op) | ((uint32_t)(arg) << 8))

struct ls_proto {
    const char *name;
    int nparams, nlocals, maxstack, maxblock;
    bool is_async;
    bool prelude;             /* the prelude's: no line of the program */
    bool varargs;             /* a last `*args` parameter (the prelude's): slot
                                 nparams holds the extra positionals */
    bool is_gen;              /* has a yield: a generator, or with is_async
                                 an async generator */
    uint32_t *code;
    int *lines;               /* source line of each instruction */
    int ncode;
    ls_value *consts;
    int nconsts;
    ls_value *defaults;       /* nparams entries, UNBOUND: required */
    const char **localnames;  /* nlocals: parameters first */
    size_t frame_size;        /* bytes of a frame of this proto */
    /* Per instruction, where LOAD_FIELD and STORE_FIELD last found their
     * field in a record: checked before the scan of the record's fields
     * (a prelude Queue has a dozen), and only a hint. */
    uint8_t *field_hint;
};

typedef struct ls_program {
    ls_proto **protos;
    int *proto_global;        /* the global each proto is bound to, or -1 */
    int nprotos;
    int nshared;              /* protos [0, nshared): the prelude's, shared by every program */
    int main, noop, await1;   /* proto indexes */
    ls_proto *init;           /* binds the top-level names */
    const char **globalnames;
    int nglobals;
    const char *path;
    /* the prelude's classes: methods[cls * LS_M__COUNT + m] is the proto
     * of Class__m, or -1 */
    const char **classnames;
    int nclasses;
    int *methods;
    const char **fieldnames;
    int nfields;
    /* the field of each method name on a case class's instance (the
     * protocol ids under their dunder names: aenter is __aenter__), or -1;
     * and the fields of __init__, __repr__, __str__ */
    int method_field[LS_M__COUNT];
    int f_init, f_repr, f_str;
    int g_shutdown_asyncgens;  /* the prelude's shutdown_asyncgens, a global */
    ls_arena arena;           /* the prelude's syntax tree and names */
} ls_program;

extern const char *const ls_opcode_names[];

/* Compiles a loaded case. Returns the program, or NULL with e set. */
ls_program *ls_compile(const ls_case *c, ls_error *e);
void ls_program_free(ls_program *p);
/* Appends a readable listing of the bytecode. */
void ls_program_dump(ls_buf *b, const ls_program *p);

#endif
