/* io.h: simulated sockets and the selector the loop polls.
 *
 * socketpair() gives two connected stream sockets over in-model buffers.
 * The selector keeps, per socket, the reader and writer handles that
 * add_reader / add_writer registered (selectors' key.data), in the order
 * the sockets were first registered. ls_io_poll is _run_once's
 * `self._selector.select(timeout)` plus `_process_events`: it appends the
 * handles of the ready sockets to the ready queue. Readiness follows
 * Linux's AF_UNIX stream sockets, which socket.socketpair() gives there:
 * readable with data, at the end of the stream or with an error pending;
 * writable while little enough is in flight, and once the peer is gone. */
#ifndef LS_IO_H
#define LS_IO_H

#include "vm.h"

/* Bytes one end can have in flight (sent, not yet read by the peer)
 * before send() fails with EAGAIN: what a first send of 1 MB returned on
 * Linux 6 with the default net.core.wmem_default of 212992. */
#define LS_IO_SNDBUF 219264
/* Writable again once no more than this is in flight: unix_writable()'s
 * `wmem_alloc << 2 <= sk_sndbuf`, without the per-buffer overhead. */
#define LS_IO_WRITABLE 53248
/* Sockets one run may open (file descriptors), as the adapters allow. */
#define LS_IO_MAX_SOCKETS 128

enum { LS_IO_READ, LS_IO_WRITE };

/* socketpair(): two new connected sockets. 0, or -1 with vm->exc. */
int ls_io_socketpair(ls_vm *vm, ls_value *out);
/* sock.fileno(): its number, -1 once closed. */
int ls_io_fileno(ls_vm *vm, ls_value sock, ls_value *out);
/* The socket methods send, recv and close. */
int ls_io_method(ls_vm *vm, int id, ls_sock *s, ls_value *a, int n, ls_value *out);
/* BaseSelectorEventLoop._add_reader / _add_writer: registers fn(*args) in
 * a new handle (run in a copy of the current context) and cancels the one
 * it replaces; *out is the handle object. */
int ls_io_add(ls_vm *vm, ls_value sock, int ev, ls_value fn, ls_value args, ls_value *out);
/* _remove_reader / _remove_writer: True if a handle was registered. */
int ls_io_remove(ls_vm *vm, ls_value sock, int ev, ls_value *out);
/* The poll: whether any registered socket is ready now (select would not
 * wait), and _process_events: the ready sockets' handles, reader before
 * writer, appended to the ready queue. */
bool ls_io_any_ready(ls_vm *vm);
void ls_io_poll(ls_vm *vm);
/* Whether the selector has anything registered. */
bool ls_io_registered(const ls_vm *vm);
void ls_io_mark(ls_vm *vm);
void ls_io_free(ls_vm *vm);
void ls_io_sock_free(ls_sock *s);

#endif
