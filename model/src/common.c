/* common.c: allocation, byte buffers, positioned errors. */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ls_error_at(ls_error *e, const char *path, int line, int col,
                 const char *fmt, ...) {
    if (e->set) return;
    int n = snprintf(e->msg, sizeof e->msg, "%s:%d:%d: error: ", path, line, col);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof e->msg) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg + n, sizeof e->msg - (size_t)n, fmt, ap);
        va_end(ap);
    }
    e->set = 1;
}

static const char *oom_note;

void ls_set_oom_note(const char *note) { oom_note = note; }

/* The allocators never return NULL: there is no way on from here that
 * would not leave a half-built object behind. */
static void oom(void) {
    fprintf(stderr, "loopspec-model: out of memory%s%s\n", oom_note ? ": " : "",
            oom_note ? oom_note : "");
    exit(3);
}

void *ls_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom();
    return p;
}

void *ls_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom();
    return p;
}

void *ls_xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) oom();
    return p;
}

char *ls_xstrndup(const char *s, size_t n) {
    char *p = ls_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void ls_buf_grow(ls_buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    b->p = ls_xrealloc(b->p, cap);
    b->cap = cap;
}

void ls_buf_putn(ls_buf *b, const char *s, size_t n) {
    ls_buf_grow(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void ls_buf_puts(ls_buf *b, const char *s) { ls_buf_putn(b, s, strlen(s)); }

void ls_buf_putc(ls_buf *b, char c) { ls_buf_putn(b, &c, 1); }

void ls_buf_printf(ls_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    ls_buf_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ls_buf_json(ls_buf *b, const char *s, size_t n) {
    ls_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': ls_buf_puts(b, "\\\""); break;
        case '\\': ls_buf_puts(b, "\\\\"); break;
        case '\n': ls_buf_puts(b, "\\n"); break;
        case '\r': ls_buf_puts(b, "\\r"); break;
        case '\t': ls_buf_puts(b, "\\t"); break;
        default:
            if (c < 0x20) ls_buf_printf(b, "\\u%04x", c);
            else ls_buf_putc(b, (char)c);
        }
    }
    ls_buf_putc(b, '"');
}

const char *ls_buf_cstr(ls_buf *b) {
    ls_buf_grow(b, 0);
    b->p[b->len] = 0;
    return b->p;
}

void ls_buf_free(ls_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

char *ls_read_file(const char *path, size_t *len, ls_error *e) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ls_error_at(e, path, 1, 1, "cannot open: %s", strerror(errno));
        return NULL;
    }
    ls_buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) ls_buf_putn(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        ls_error_at(e, path, 1, 1, "read error");
        ls_buf_free(&b);
        return NULL;
    }
    ls_buf_grow(&b, 0);
    b.p[b.len] = 0;
    if (len) *len = b.len;
    return b.p;
}

struct ls_arena_chunk {
    ls_arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

void *ls_arena_alloc(ls_arena *a, size_t n) {
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    ls_arena_chunk *c = a->head;
    if (!c || c->used + n > c->cap) {
        size_t cap = n > 16384 ? n : 16384;
        c = ls_xmalloc(sizeof *c + cap);
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *ls_arena_strndup(ls_arena *a, const char *s, size_t n) {
    char *p = ls_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void ls_arena_free(ls_arena *a) {
    while (a->head) {
        ls_arena_chunk *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}

/* ---- name indexes ---- */

static uint32_t name_hash(const char *s) {
    uint32_t h = 2166136261u;   /* FNV-1a */
    while (*s) h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

int ls_index_find(const char *const *names, const int *slots, int nslots, const char *name) {
    if (!nslots) return -1;
    for (uint32_t k = name_hash(name) & (uint32_t)(nslots - 1);; k = (k + 1) & (uint32_t)(nslots - 1)) {
        int i = slots[k] - 1;
        if (i < 0) return -1;
        if (strcmp(names[i], name) == 0) return i;
    }
}

void ls_index_add(const char *const *names, int n, int **slots, int *nslots) {
    if (2 * n > *nslots) {
        int cap = *nslots ? *nslots * 2 : 64;
        while (2 * n > cap) cap *= 2;
        free(*slots);
        *slots = ls_xcalloc((size_t)cap, sizeof **slots);
        *nslots = cap;
        for (int i = 0; i < n - 1; i++) {
            uint32_t k = name_hash(names[i]) & (uint32_t)(cap - 1);
            while ((*slots)[k]) k = (k + 1) & (uint32_t)(cap - 1);
            (*slots)[k] = i + 1;
        }
    }
    uint32_t k = name_hash(names[n - 1]) & (uint32_t)(*nslots - 1);
    while ((*slots)[k]) k = (k + 1) & (uint32_t)(*nslots - 1);
    (*slots)[k] = n;
}

int ls_name_lookup(ls_name_index *ix, const char *const *names, int n, const char *name) {
    if (!ix->slots) {
        if (n < 0)
            for (n = 0; names[n]; n++) {}
        for (int i = 1; i <= n; i++) ls_index_add(names, i, &ix->slots, &ix->nslots);
        if (!ix->slots) return -1;   /* an empty list */
    }
    return ls_index_find(names, ix->slots, ix->nslots, name);
}
