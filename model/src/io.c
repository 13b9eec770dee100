/* io.c: socketpair() sockets over in-model buffers, and the selector. */
#include "io.h"

#include "builtins.h"
#include "ctx.h"
#include "explain.h"
#include "loop.h"

#include <stdlib.h>
#include <string.h>

/* The errno texts CPython's OSError subclasses print on Linux. */
#define EBADF_TEXT "[Errno 9] Bad file descriptor"
#define EAGAIN_TEXT "[Errno 11] Resource temporarily unavailable"
#define EPIPE_TEXT "[Errno 32] Broken pipe"
#define ECONNRESET_TEXT "[Errno 104] Connection reset by peer"

static ls_sock *sock_new(ls_vm *vm) {
    ls_sock *s = ls_alloc(vm, LS_O_SOCK, sizeof *s);
    s->peer = NULL;
    ls_selector *sel = &vm->loop.sel;
    s->fd = 3 + sel->nsocks;
    sel->socks = ls_xrealloc(sel->socks, (size_t)(sel->nsocks + 1) * sizeof *sel->socks);
    sel->socks[sel->nsocks++] = s;
    s->closed = s->eof = s->reset = 0;
    s->rx = NULL;
    s->rxoff = s->rxlen = s->rxcap = 0;
    return s;
}

int ls_io_socketpair(ls_vm *vm, ls_value *out) {
    if (vm->loop.sel.nsocks + 2 > LS_IO_MAX_SOCKETS)
        return ls_vm_raise(vm, LS_E_OSERROR, "[Errno 24] Too many open files (a case may open %d sockets)",
                           LS_IO_MAX_SOCKETS);
    ls_sock *a = sock_new(vm);
    ls_sock *b = sock_new(vm);
    a->peer = b;
    b->peer = a;
    ls_list *t = ls_list_new(vm, LS_O_TUPLE, 2);
    ls_list_push(t, ls_obj_val(a));
    ls_list_push(t, ls_obj_val(b));
    *out = ls_obj_val(t);
    return 0;
}

static size_t pending(const ls_sock *s) { return s->rxlen - s->rxoff; }

static bool readable(const ls_sock *s) {
    return !s->closed && (pending(s) || s->eof || s->reset);
}

static bool writable(const ls_sock *s) {
    return !s->closed && (s->eof || !s->peer || pending(s->peer) <= LS_IO_WRITABLE);
}

static void sock_close(ls_sock *s) {
    if (s->closed) return;
    s->closed = 1;
    ls_sock *p = s->peer;
    if (p) {
        /* unix_release_sock(): the peer sees the end of the stream, and
         * ECONNRESET first when this end leaves data unread. */
        p->eof = 1;
        if (pending(s)) p->reset = 1;
        p->peer = NULL;
        s->peer = NULL;
    }
    free(s->rx);
    s->rx = NULL;
    s->rxoff = s->rxlen = s->rxcap = 0;
}

void ls_io_sock_free(ls_sock *s) { free(s->rx); }

static int text_arg(ls_vm *vm, ls_value v, const char *what, const char **p, size_t *n) {
    if (!ls_is(v, LS_O_STR))
        return ls_vm_raise(vm, LS_E_TYPE, "%s() takes text (str), not '%s'", what, ls_type_name(v));
    *p = ((ls_str *)v.u.o)->s;
    *n = ((ls_str *)v.u.o)->len;
    return 0;
}

int ls_io_fileno(ls_vm *vm, ls_value v, ls_value *out) {
    if (!ls_is(v, LS_O_SOCK)) return ls_vm_raise(vm, LS_E_TYPE, "__fileno() takes a socket");
    const ls_sock *s = (const ls_sock *)v.u.o;
    *out = ls_int(s->closed ? -1 : s->fd);
    return 0;
}

int ls_io_method(ls_vm *vm, int id, ls_sock *s, ls_value *a, int n, ls_value *out) {
    *out = ls_none();
    switch (id) {
    case LS_M_SEND: {
        if (n != 1) return ls_vm_raise(vm, LS_E_TYPE, "send() takes exactly 1 argument (%d given)", n);
        const char *p = NULL;
        size_t len = 0;
        if (text_arg(vm, a[0], "send", &p, &len) < 0) return -1;
        if (s->closed) return ls_vm_raise(vm, LS_E_OSERROR, EBADF_TEXT);
        if (s->eof || !s->peer) return ls_vm_raise(vm, LS_E_BROKEN_PIPE, EPIPE_TEXT);
        ls_sock *q = s->peer;
        size_t room = pending(q) < LS_IO_SNDBUF ? LS_IO_SNDBUF - pending(q) : 0;
        if (len && !room) return ls_vm_raise(vm, LS_E_BLOCKING_IO, EAGAIN_TEXT);
        size_t k = len < room ? len : room;
        if (q->rxoff && q->rxoff == q->rxlen) q->rxoff = q->rxlen = 0;
        if (q->rxlen + k > q->rxcap) {
            if (q->rxoff) {   /* slide the unread bytes down first */
                memmove(q->rx, q->rx + q->rxoff, pending(q));
                q->rxlen -= q->rxoff;
                q->rxoff = 0;
            }
            if (q->rxlen + k > q->rxcap) {
                q->rxcap = (q->rxlen + k) * 2;
                q->rx = ls_xrealloc(q->rx, q->rxcap);
            }
        }
        memcpy(q->rx + q->rxlen, p, k);
        q->rxlen += k;
        *out = ls_int((int64_t)k);
        return 0;
    }
    case LS_M_RECV: {
        if (n != 1 || a[0].tag != LS_V_INT)
            return ls_vm_raise(vm, LS_E_TYPE, "recv() takes one integer argument (the most to read)");
        if (a[0].u.i < 0) return ls_vm_raise(vm, LS_E_VALUE, "negative buffersize in recv");
        if (s->closed) return ls_vm_raise(vm, LS_E_OSERROR, EBADF_TEXT);
        size_t want = (size_t)a[0].u.i;
        /* What arrived before the peer's close is read first, then the
         * reset once, then the end of the stream (as Linux does). */
        if (want && !pending(s) && s->reset) {
            s->reset = 0;
            return ls_vm_raise(vm, LS_E_CONNECTION_RESET, ECONNRESET_TEXT);
        }
        if (want && !pending(s) && !s->eof) return ls_vm_raise(vm, LS_E_BLOCKING_IO, EAGAIN_TEXT);
        size_t k = want < pending(s) ? want : pending(s);
        *out = ls_str_new(vm, s->rx ? s->rx + s->rxoff : "", k);
        s->rxoff += k;
        return 0;
    }
    case LS_M_CLOSE:
        if (n) return ls_vm_raise(vm, LS_E_TYPE, "close() takes no arguments (%d given)", n);
        sock_close(s);
        return 0;
    default:
        return ls_vm_raise(vm, LS_E_ATTRIBUTE, "'socket' object has no attribute '%s'", ls_method_names[id]);
    }
}

static int sock_arg(ls_vm *vm, ls_value v, ls_sock **out) {
    /* A descriptor number, as transports keep it (`self._sock_fd`): it
     * names its socket even once that is closed. */
    ls_selector *sel = &vm->loop.sel;
    if (v.tag == LS_V_INT && v.u.i >= 3 && v.u.i < 3 + sel->nsocks) {
        *out = sel->socks[v.u.i - 3];
        return 0;
    }
    if (!ls_is(v, LS_O_SOCK))
        return ls_vm_raise(vm, LS_E_TYPE, "a socket from socketpair() was expected, got '%s'",
                           ls_type_name(v));
    *out = (ls_sock *)v.u.o;
    /* selectors' _fileobj_lookup: a closed socket has fileno() -1. */
    if ((*out)->closed) return ls_vm_raise(vm, LS_E_VALUE, "Invalid file descriptor: -1");
    return 0;
}

static ls_selkey *key_of(ls_selector *sel, const ls_sock *s) {
    for (int i = 0; i < sel->n; i++)
        if (sel->keys[i].sock == s) return &sel->keys[i];
    return NULL;
}

static void unregister(ls_vm *vm, ls_selkey *k) {
    ls_selector *sel = &vm->loop.sel;
    int i = (int)(k - sel->keys);
    memmove(&sel->keys[i], &sel->keys[i + 1], (size_t)(sel->n - i - 1) * sizeof *k);
    sel->n--;
}

int ls_io_add(ls_vm *vm, ls_value sock, int ev, ls_value fn, ls_value args, ls_value *out) {
    ls_sock *s;
    if (sock_arg(vm, sock, &s) < 0) return -1;
    ls_selector *sel = &vm->loop.sel;
    /* events.Handle(callback, args, self, None): a copy of the context */
    ls_handle *h = ls_handle_new(vm, LS_H_USER, fn, args, (ls_obj *)ls_ctx_copy(vm, vm->ctx));
    ls_explain_origin(vm, h, ev == LS_IO_READ ? LS_WHY_ADD_READER : LS_WHY_ADD_WRITER, NULL);
    ls_selkey *k = key_of(sel, s);
    if (!k) {
        if (sel->n == sel->cap) {
            sel->cap = sel->cap ? sel->cap * 2 : 8;
            sel->keys = ls_xrealloc(sel->keys, (size_t)sel->cap * sizeof *sel->keys);
        }
        k = &sel->keys[sel->n++];
        k->sock = s;
        k->h[0] = k->h[1] = NULL;
    }
    ls_handle *old = k->h[ev];
    k->h[ev] = h;   /* the selector's reference */
    if (old) {
        ls_handle_cancel(vm, old);
        ls_handle_release(vm, old);
    }
    *out = ls_handle_wrap(vm, h);
    return 0;
}

int ls_io_remove(ls_vm *vm, ls_value sock, int ev, ls_value *out) {
    ls_sock *s;
    if (sock_arg(vm, sock, &s) < 0) return -1;
    ls_selkey *k = key_of(&vm->loop.sel, s);
    *out = ls_bool(false);
    if (!k) return 0;
    ls_handle *h = k->h[ev];
    k->h[ev] = NULL;
    if (!k->h[0] && !k->h[1]) unregister(vm, k);
    if (h) {
        ls_handle_cancel(vm, h);
        ls_handle_release(vm, h);
        *out = ls_bool(true);
    }
    return 0;
}

static bool ready_for(const ls_selkey *k, int ev) {
    return k->h[ev] && (ev == LS_IO_READ ? readable(k->sock) : writable(k->sock));
}

bool ls_io_any_ready(ls_vm *vm) {
    ls_selector *sel = &vm->loop.sel;
    for (int i = 0; i < sel->n; i++)
        if (ready_for(&sel->keys[i], LS_IO_READ) || ready_for(&sel->keys[i], LS_IO_WRITE)) return true;
    return false;
}

bool ls_io_registered(const ls_vm *vm) { return vm->loop.sel.n > 0; }

void ls_io_poll(ls_vm *vm) {
    ls_selector *sel = &vm->loop.sel;
    /* select() reports what is ready before any callback runs: collect
     * first, then process, as _process_events walks the event list. */
    int n = sel->n;
    if (!n) return;
    struct ev { ls_sock *s; bool r, w; } *evs = ls_xmalloc((size_t)n * sizeof *evs);
    int m = 0;
    for (int i = 0; i < n; i++) {
        ls_selkey *k = &sel->keys[i];
        bool r = ready_for(k, LS_IO_READ), w = ready_for(k, LS_IO_WRITE);
        if (r || w) evs[m++] = (struct ev){k->sock, r, w};
    }
    for (int i = 0; i < m; i++)
        for (int ev = LS_IO_READ; ev <= LS_IO_WRITE; ev++) {
            if (!(ev == LS_IO_READ ? evs[i].r : evs[i].w)) continue;
            ls_selkey *k = key_of(sel, evs[i].s);
            ls_handle *h = k ? k->h[ev] : NULL;
            if (!h) continue;
            if (h->cancelled) {   /* `if reader._cancelled: self._remove_reader(fileobj)` */
                ls_value ignored;
                ls_io_remove(vm, ls_obj_val(evs[i].s), ev, &ignored);
                continue;
            }
            ls_explain_io(vm, h, evs[i].s->fd, ev == LS_IO_WRITE);
            h->refs++;   /* the ready queue's reference */
            ls_queue_push(&vm->loop.ready, h);
        }
    free(evs);
}

void ls_io_mark(ls_vm *vm) {
    ls_selector *sel = &vm->loop.sel;
    /* every socket of the run (at most LS_IO_MAX_SOCKETS) stays: its
     * number names it */
    for (int i = 0; i < sel->nsocks; i++) ls_gc_mark_obj(vm, (ls_obj *)sel->socks[i]);
    for (int i = 0; i < sel->n; i++) {
        ls_gc_mark_obj(vm, (ls_obj *)sel->keys[i].sock);
        for (int ev = 0; ev < 2; ev++)
            if (sel->keys[i].h[ev]) ls_gc_mark_handle(vm, sel->keys[i].h[ev]);
    }
}

void ls_io_free(ls_vm *vm) {
    ls_selector *sel = &vm->loop.sel;
    for (int i = 0; i < sel->n; i++)
        for (int ev = 0; ev < 2; ev++)
            if (sel->keys[i].h[ev]) ls_handle_release(vm, sel->keys[i].h[ev]);
    free(sel->keys);
    sel->keys = NULL;
    free(sel->socks);
    sel->socks = NULL;
    sel->nsocks = 0;
    sel->n = sel->cap = 0;
}
