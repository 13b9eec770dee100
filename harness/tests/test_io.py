"""The I/O builtins of the CPython-based adapters (prelude.py, "I/O"):
text wrappers over real socketpairs, streams and the loop's reader, writer
and socket methods; what a program can reach from them; the cap on
socketpairs; the descriptors a long-lived adapter keeps (none per case);
the guard's one exception for asyncio's transports (sendmsg to the peer).

Run with Debian's interpreter: `/usr/bin/python3 -m pytest harness/tests`.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys

import pytest

from testlib import HARNESS  # noqa: E402

from casekit import features, impls  # noqa: E402
from casekit.adapter import AdapterProcess  # noqa: E402

ADAPTERS = os.path.join(HARNESS, "adapters")
sys.path.insert(0, ADAPTERS)
import prelude  # noqa: E402
sys.path.remove(ADAPTERS)


def run_case(program, io=True):
    """Run a program through the prelude on asyncio's own loop; the trace."""
    code = prelude.compile_program(program, 1, "t.case")
    return prelude.run_program(code, asyncio.new_event_loop, "t.case", io=io)


def open_fds():
    return set(os.listdir("/proc/self/fd"))


# -- the wrappers ------------------------------------------------------------------

def test_sockets_speak_text():
    assert run_case('''
async def main():
    a, b = socketpair()
    log(a.send("héllo"), b.recv(3), b.recv(10))
    try:
        b.recv(1)
    except BlockingIOError as e:
        log("nothing there:", type(e).__name__)
    a.close()
    log(repr(b.recv(5)))
    try:
        b.send("x")
    except BrokenPipeError:
        log("peer closed")
    log(type(a).__name__)
''') == ["6 hé llo", "nothing there: BlockingIOError", "''", "peer closed", "socket"]


def test_streams_and_socket_awaits_speak_text():
    assert run_case('''
async def main():
    a, b = socketpair()
    r, w = await open_stream(a)
    await sock_sendall(b, "one\\ntwo")
    log(repr(await r.readline()), repr(await r.readexactly(2)))
    w.write("back")
    await w.drain()
    log(await sock_recv(b, 10))
    b.close()
    try:
        await r.readexactly(5)
    except IncompleteReadError as e:
        log(type(e).__name__, repr(e.partial), e.expected, isinstance(e, EOFError))
    log(repr(await r.read()), r.at_eof(), w.is_closing())
    w.close()
    await w.wait_closed()
    log(type(r).__name__, type(w).__name__, w.is_closing())
''') == ["'one\\n' 'tw'", "back", "IncompleteReadError 'o' 5 True", "'' True False",
         "StreamReader StreamWriter True"]


def test_readiness_callbacks_in_asyncio_order():
    """add_reader, remove_reader and add_writer are the loop's own: the
    reader runs after the ready callbacks of its iteration."""
    assert run_case('''
def on_read(s):
    log("reader", s.recv(10), remove_reader(s), remove_reader(s))

async def main():
    a, b = socketpair()
    a.send("x")
    log(add_reader(b, on_read, b))
    call_soon(log, "soon")
    await sleep(0)
    log("main")
    await sleep(0)
    add_writer(a, log, "writable")
    await sleep(0)
    log("main again")
    await sleep(0)
    log(remove_writer(a))
''') == ["None", "soon", "main", "reader x True False", "main again", "writable", "True"]


def test_wrappers_cost_no_iteration():
    """The same program on asyncio's objects directly and through the
    wrappers: a ticker interleaves with both in the same places."""
    def ticker_script(body):
        return ('''
async def ticker():
    for i in range(8):
        log("tick", i)
        await sleep(0)

async def main():
    a, b = socketpair()
    t = create_task(ticker())
    await sleep(0)
''' + body + '''
    await t
''')
    wrapped = run_case(ticker_script('''
    call_soon(a.send, "data\\nmore")
    log("recv", await sock_recv(b, 2))
    r, w = await open_stream(b)
    log("line", await r.readline())
    a.close()
    log("rest", await r.read())
    w.close()'''))

    async def direct():
        trace = []
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        loop = asyncio.get_running_loop()

        async def ticker():
            for i in range(8):
                trace.append("tick %d" % i)
                await asyncio.sleep(0)
        t = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        loop.call_soon(a.send, b"data\nmore")
        trace.append("recv " + (await loop.sock_recv(b, 2)).decode())
        r, w = await asyncio.open_connection(sock=b)
        trace.append("line " + (await r.readline()).decode())
        a.close()
        trace.append("rest " + (await r.read()).decode())
        w.close()
        await t
        return trace
    assert wrapped == asyncio.run(direct())


# -- what a program reaches --------------------------------------------------------

def test_wrappers_expose_the_language_only():
    """Only the documented methods, nothing that is not '_'; no wrapper can
    be made from a program; the real objects are behind '_' slots, which
    the adapter's check refuses."""
    g = prelude.make_globals(prelude.Trace(), prelude.CaseSockets())

    async def main():
        a, b = g["socketpair"]()
        r, w = await g["open_stream"](a)
        for obj, names in ((a, {"send", "recv", "close"}),
                           (r, {"read", "readline", "readexactly", "at_eof"}),
                           (w, {"write", "drain", "close", "is_closing", "wait_closed"})):
            assert {n for n in dir(obj) if not n.startswith("_")} == names
            assert names <= prelude.CASE_ATTRIBUTES
            assert not hasattr(obj, "__dict__")
            with pytest.raises(TypeError):
                type(obj)(obj)
            # the methods' globals hold the case builtins only
            for n in names:
                assert set(getattr(obj, n).__globals__) <= {
                    "__builtins__", "__name__", "_io_helpers"}
        w.close()
        b.close()
    asyncio.run(main())
    for name in ("socketpair", "add_reader", "sock_recv", "open_stream"):
        assert "exec" not in g[name].__globals__["__builtins__"]
    for program in ("a._sock", "r._reader", "w._writer", "w.transport",
                    "a.fileno()", "a.detach()", "w.get_extra_info('socket')"):
        with pytest.raises(prelude.CaseError, match="refused by the adapter"):
            prelude.compile_program("async def main():\n    a, b = socketpair()\n"
                                    "    r, w = await open_stream(a)\n    log(%s)\n"
                                    % program, 1, "t.case")


def test_names_a_class_defines_find_nothing_on_the_wrappers():
    """A program's own class may define `fileno` or `transport`, which the
    adapter then admits on any object: the wrappers have no such attribute."""
    trace = run_case('''
class Probe:
    def __init__(self):
        self.fileno = 1
        self.transport = 2
        self.detach = 3

async def main():
    a, b = socketpair()
    r, w = await open_stream(a)
    for probe in [lambda_fileno, lambda_transport, lambda_detach]:
        try:
            log(probe(a, r, w))
        except AttributeError:
            log("AttributeError")
    w.close()

def lambda_fileno(a, r, w):
    return a.fileno

def lambda_transport(a, r, w):
    return w.transport

def lambda_detach(a, r, w):
    return r.detach
''')
    assert trace == ["AttributeError"] * 3


def test_only_sockets_from_socketpair():
    trace = run_case('''
def cb():
    log("never")

async def main():
    for bad in [0, 1, 2, "x", None]:
        try:
            add_reader(bad, cb)
        except TypeError as e:
            log("add_reader", type(e).__name__)
        try:
            await sock_recv(bad, 1)
        except AttributeError as e:
            log("sock_recv", type(e).__name__)
        try:
            await open_stream(bad)
        except AttributeError as e:
            log("open_stream", type(e).__name__)
''')
    assert trace == ["add_reader TypeError", "sock_recv AttributeError",
                     "open_stream AttributeError"] * 5


def test_socketpairs_are_capped_and_closed():
    before = open_fds()
    trace = run_case('''
keep = []

async def main():
    try:
        while True:
            keep.append(socketpair())
    except OSError as e:
        log(len(keep), e)
''')
    assert trace == ["%d [Errno 24] Too many open files (a case may open %d sockets)"
                     % (prelude.MAX_SOCKETPAIRS, 2 * prelude.MAX_SOCKETPAIRS)]
    assert open_fds() == before


def test_every_socket_is_closed_when_the_case_ends_however_it_ends():
    before = open_fds()
    for program in ('''
async def main():
    a, b = socketpair()
    r, w = await open_stream(a)
    add_reader(b, log, "never")
''', '''
async def main():
    a, b = socketpair()
    raise Error("boom")
''', '''
a, b = socketpair()
x = 1 / 0

async def main():
    pass
'''):
        try:
            run_case(program)
        except prelude.CaseError:
            pass
    assert open_fds() == before


def test_without_io_there_are_no_io_builtins():
    trace = run_case('async def main():\n    a, b = socketpair()\n', io=False)
    assert trace == ["uncaught NameError: name 'socketpair' is not defined"]


# -- the guard -------------------------------------------------------------------

def test_the_guard_lets_transports_send_to_their_peer_only(monkeypatch):
    monkeypatch.setattr(prelude, "_AF_UNIX", socket.AF_UNIX)
    a, b = socket.socketpair()
    try:
        prelude._guard("socket.sendmsg", (a, None))      # the transport's write
        for event, args in (("socket.sendmsg", (a, "/tmp/x")),
                            ("socket.sendto", (a, "/tmp/x")),
                            ("socket.connect", (a, "/tmp/x")),
                            ("socket.bind", (a, "/tmp/x"))):
            with pytest.raises(PermissionError):
                prelude._guard(event, args)
        inet = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            with pytest.raises(PermissionError):
                prelude._guard("socket.sendmsg", (inet, None))
        finally:
            inet.close()
    finally:
        a.close()
        b.close()
    monkeypatch.setattr(prelude, "_AF_UNIX", None)
    with pytest.raises(PermissionError):
        prelude._guard("socket.sendmsg", (object(), None))


# -- through the adapters ------------------------------------------------------------

LEAKY = '''
def cb(s):
    log("reader", s.recv(5))

async def main():
    a, b = socketpair()
    c, d = socketpair()
    r, w = await open_stream(a)
    w.write("hello")
    log(await sock_recv(b, 10))
    add_reader(d, cb, d)
    c.send("x")
    await sleep(0.01)
    add_writer(c, log, "writable")
    await sleep(0)
'''


@pytest.mark.parametrize("name", ["cpython-3.11", "cpython-3.11-pure", "uvloop", "pypy-3.9"])
def test_a_long_lived_adapter_keeps_no_descriptor_per_case(name):
    impl = impls.registry()[name]
    if impl.unavailable():
        pytest.skip(impl.unavailable())
    adapter = AdapterProcess(name, impl.argv)
    try:
        first = adapter.request("io/leaky", LEAKY, 1, impl.profile, 30)
        assert first["trace"][:2] == ["hello", "reader x"], first
        fds = os.path.join("/proc", str(adapter.proc.pid), "fd")
        before = len(os.listdir(fds))
        for _ in range(10):
            assert "trace" in adapter.request("io/leaky", LEAKY, 1, impl.profile, 30)
        assert len(os.listdir(fds)) == before
    finally:
        adapter.close()


def ready_line(argv):
    out = subprocess.run(argv, input="", capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout.splitlines()[0])


def test_io_is_a_feature_where_the_loop_polls_sockets():
    assert "io" in features.HEADER and "io" in features.ALL
    for name in ("socketpair", "add_reader", "add_writer", "remove_reader",
                 "remove_writer", "sock_recv", "sock_sendall", "open_stream",
                 "BlockingIOError", "BrokenPipeError", "ConnectionResetError",
                 "IncompleteReadError"):
        assert features.BUILTINS[name] == "io", name
    reg = impls.registry()
    assert "io" in ready_line(reg["cpython-3.11"].argv)["features"]
    virtual = ready_line(reg["cpython-3.11-virtual"].argv)["features"]
    assert "io" not in virtual and set(virtual) == set(reg["cpython-3.11-virtual"].features)
    for name, impl in reg.items():
        if impl.slow_start:    # Pyodide and MicroPython: no sockets
            assert "io" not in impl.features, name
