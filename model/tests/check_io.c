/* check_io.c: the simulated sockets (what Linux's AF_UNIX socketpair does,
 * observed with CPython 3.11 on Linux 6), the selector and the poll phase. */
#include "testutil.h"

#include "io.h"

START_TEST(send_recv_and_eof) {
    TU_RUN_EQ("async def main():\n    a, b = socketpair()\n    log(a.send('hello'), b.recv(3), b.recv(10))\n"
              "    try:\n        b.recv(1)\n    except BlockingIOError as e:\n        log(e)\n"
              "    a.close()\n    log(repr(b.recv(5)), repr(b.recv(0)))\n",
              LS_PROF_ASYNCIO, "5 hel lo|[Errno 11] Resource temporarily unavailable|'' ''");
}
END_TEST

START_TEST(closed_peer_and_reset) {
    /* unix_release_sock: data sent before the close is read first, then
     * ECONNRESET once (this end had left the peer's data unread), then
     * the end of the stream; sending to a closed peer is EPIPE. */
    TU_RUN_EQ("async def main():\n    a, b = socketpair()\n    b.send('unread')\n    a.send('data')\n    a.close()\n"
              "    for i in range(3):\n        try:\n            log(repr(b.recv(100)))\n"
              "        except ConnectionResetError as e:\n            log('reset', e)\n"
              "    try:\n        b.send('x')\n    except BrokenPipeError as e:\n        log(e)\n"
              "    try:\n        a.recv(1)\n    except OSError as e:\n        log(type(e).__name__, e)\n",
              LS_PROF_ASYNCIO,
              "'data'|reset [Errno 104] Connection reset by peer|''|[Errno 32] Broken pipe|"
              "OSError [Errno 9] Bad file descriptor");
}
END_TEST

START_TEST(send_fills_the_buffer) {
    /* A first send of 1 MB takes what one end may have in flight; the next
     * fails until the peer reads. */
    char prog[512];
    snprintf(prog, sizeof prog,
             "async def main():\n    a, b = socketpair()\n    n = a.send('x' * 1000000)\n    log(n == %d)\n"
             "    try:\n        a.send('y')\n    except BlockingIOError:\n        log('full')\n"
             "    log(len(b.recv(1000)), a.send('y'))\n", LS_IO_SNDBUF);
    TU_RUN_EQ(prog, LS_PROF_ASYNCIO, "True|full|1000 1");
}
END_TEST

START_TEST(poll_after_ready_before_timers) {
    /* _run_once: the callbacks ready before the poll, then the ready
     * sockets' callbacks, then the timers that expired. */
    TU_RUN_EQ("def reader(s):\n    log('reader', s.recv(10))\n\n"
              "async def main():\n    a, b = socketpair()\n    a.send('1')\n    add_reader(b, reader, b)\n"
              "    call_later(0, log, 'timer')\n    call_soon(log, 'soon')\n    log('main')\n"
              "    await sleep(0)\n    log('main 2')\n    a.send('2')\n    await sleep(0.01)\n"
              "    log(remove_reader(b), remove_reader(b))\n",
              LS_PROF_ASYNCIO, "main|soon|main 2|reader 12|timer|True False");
}
END_TEST

START_TEST(removed_before_it_runs) {
    /* A reader made ready by this iteration's poll and removed by a
     * callback that runs before it: the handle is cancelled, skipped. */
    TU_RUN_EQ("def reader(s):\n    log('reader')\n\n"
              "def remove(s):\n    log('remove', remove_reader(s))\n\n"
              "async def main():\n    a, b = socketpair()\n    a.send('1')\n    add_reader(b, reader, b)\n"
              "    call_soon(remove, b)\n    await sleep(0)\n    await sleep(0)\n    log('end')\n",
              LS_PROF_ASYNCIO, "remove True|end");
}
END_TEST

START_TEST(blocked_forever_is_an_error) {
    char *got = tu_run("async def main():\n    a, b = socketpair()\n    log(await sock_recv(b, 1))\n",
                       LS_PROF_ASYNCIO);
    ck_assert_msg(strstr(got, "block forever in select()"), "%s", got);
    free(got);
}
END_TEST

START_TEST(socket_limit) {
    char *got = tu_run("async def main():\n    for i in range(1000):\n        socketpair()\n", LS_PROF_ASYNCIO);
    ck_assert_msg(strstr(got, "Too many open files"), "%s", got);
    free(got);
}
END_TEST

START_TEST(stream_round_trip) {
    TU_RUN_EQ("async def main():\n    a, b = socketpair()\n    r1, w1 = await open_stream(a)\n"
              "    r2, w2 = await open_stream(b)\n    w1.write('line\\nrest')\n"
              "    log(repr(await r2.readline()))\n    w1.close()\n    await w1.wait_closed()\n"
              "    log(repr(await r2.read()), r2.at_eof())\n"
              "    try:\n        await r2.readexactly(2)\n"
              "    except IncompleteReadError as e:\n        log(e, repr(e.partial), e.expected)\n"
              "    w2.close()\n",
              LS_PROF_ASYNCIO,
              "'line\\n'|'rest' True|0 bytes read on a total of 2 expected bytes '' 2");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("sockets");
    tcase_add_test(tc, send_recv_and_eof);
    tcase_add_test(tc, closed_peer_and_reset);
    tcase_add_test(tc, send_fills_the_buffer);
    tcase_add_test(tc, socket_limit);
    suite_add_tcase(s, tc);
    tc = tcase_create("poll");
    tcase_add_test(tc, poll_after_ready_before_timers);
    tcase_add_test(tc, removed_before_it_runs);
    tcase_add_test(tc, blocked_forever_is_an_error);
    tcase_add_test(tc, stream_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
