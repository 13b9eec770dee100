/* common.h: what every module of the loopspec reference model shares:
 * allocation that never returns NULL, a growable byte buffer, and errors
 * that carry a source position ("path:line:col: error: ...").
 *
 * Errors are return codes: a function that can fail returns -1 or NULL and
 * leaves the message in an ls_error. Assertions cost nothing with NDEBUG. */
#ifndef LS_COMMON_H
#define LS_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef NDEBUG
#define ls_assert(c) ((void)0)
#else
#include <assert.h>
#define ls_assert(c) assert(c)
#endif


#define LS_ERRMAX 1024

typedef struct ls_error {
    char msg[LS_ERRMAX];   /* "path:line:col: error: ..." */
    int set;
} ls_error;

typedef struct ls_buf {
    char *p;
    size_t len, cap;
} ls_buf;

/* Formats "path:line:col: error: fmt" into e (first error wins). */
void ls_error_at(ls_error *e, const char *path, int line, int col,
                 const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* What running out of memory prints before the exit with status 3 (the
 * run cannot finish), e.g. the case and its budget; NULL: nothing more. */
void ls_set_oom_note(const char *note);
void *ls_xmalloc(size_t n);
void *ls_xcalloc(size_t n, size_t size);
void *ls_xrealloc(void *p, size_t n);
char *ls_xstrndup(const char *s, size_t n);

void ls_buf_grow(ls_buf *b, size_t extra);
void ls_buf_putn(ls_buf *b, const char *s, size_t n);
void ls_buf_puts(ls_buf *b, const char *s);
void ls_buf_putc(ls_buf *b, char c);
void ls_buf_printf(ls_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included. */
void ls_buf_json(ls_buf *b, const char *s, size_t n);
/* NUL-terminates and returns the contents (still owned by b). */
const char *ls_buf_cstr(ls_buf *b);
void ls_buf_free(ls_buf *b);

/* Reads a whole file; NULL and a message in e on failure. */
char *ls_read_file(const char *path, size_t *len, ls_error *e);



/* A bump allocator whose blocks are all freed at once: the AST and the
 * case file's strings live in one. O(1) per allocation. */
typedef struct ls_arena_chunk ls_arena_chunk;
typedef struct ls_arena {
    ls_arena_chunk *head;
} ls_arena;

void *ls_arena_alloc(ls_arena *a, size_t n);   /* zeroed */
char *ls_arena_strndup(ls_arena *a, const char *s, size_t n);
void ls_arena_free(ls_arena *a);

/* Name indexes: open addressing over an array of names, so that a lookup
 * costs a hash and a strcmp or two instead of a strcmp per name (the
 * lists of builtins, methods and globals are hundreds long, and compiling
 * looks up every name use). slots hold index + 1; 0 is empty. */
int ls_index_find(const char *const *names, const int *slots, int nslots, const char *name);
/* Records names[n - 1], growing the index to stay at most half full. */
void ls_index_add(const char *const *names, int n, int **slots, int *nslots);

/* The index of a fixed list (n names, or NULL-terminated when n < 0),
 * built at its first lookup: the name's position, or -1. */
typedef struct ls_name_index {
    int *slots;
    int nslots;
} ls_name_index;
int ls_name_lookup(ls_name_index *ix, const char *const *names, int n, const char *name);

#endif

