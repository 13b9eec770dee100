"""Shared core of the loopspec adapters: builtins, case runner, JSON protocol.

Every adapter (CPython, PyPy, uvloop, Pyodide) loads this one file, so every
implementation gets byte-for-byte the same builtins and the same way of
running a case.  An adapter only decides how to build a fresh event loop and
how to move JSON lines in and out; then it calls `Server.handle_line`.

A case program is plain Python once the builtins of the case format are in
its globals (see `make_globals`).  It runs as `asyncio.run(main())` would, on
a fresh loop built by the adapter's loop factory, with sys.stdout, sys.stderr
and sys.stdin replaced so that nothing it prints can reach the JSON channel.
"""

import asyncio
import contextvars
import gc
import io
import json
import sys
import time
import types

from protocol import (  # noqa: F401 - the adapters import them from here
    MAX_TRACE_BYTES, MAX_TRACE_LINES, CaseError, bad_request_line, bytes_limit_message,
    decode_request, is_eager, lines_limit_message, request_program, trace_limits)


# Names taken from asyncio when this version has them.
ASYNCIO_NAMES = (
    "create_task", "ensure_future", "sleep", "gather", "wait", "wait_for",
    "shield", "timeout", "TaskGroup", "Lock", "Event", "Condition",
    "Semaphore", "BoundedSemaphore", "Queue", "FIRST_COMPLETED",
    "FIRST_EXCEPTION", "ALL_COMPLETED", "CancelledError",
    "InvalidStateError", "QueueFull", "QueueEmpty", "current_task",
    "all_tasks", "timeout_at", "as_completed", "Barrier", "BrokenBarrierError",
    "LifoQueue", "PriorityQueue", "QueueShutDown", "IncompleteReadError",
)

# Builtins that are features of their own (harness/casekit/features.py),
# when this asyncio has them.
FEATURE_NAMES = (
    "ensure_future", "gather", "wait", "wait_for", "shield", "Lock", "Event",
    "Condition", "Semaphore", "Queue", "InvalidStateError", "current_task",
    "all_tasks", "as_completed", "Barrier", "LifoQueue", "PriorityQueue",
)
FEATURE_METHODS = (
    "result", "exception", "cancelled", "add_done_callback",
    "remove_done_callback", "set_result", "set_exception", "cancelling",
    "uncancel", "get_name", "set_name",
)


class Deadlock(Exception):
    """Raised by a loop that would wait forever (the virtual-clock loop, and
    asyncio's own selector loop under `guard_deadlocks`)."""


def guard_deadlocks(factory):
    """`factory`, whose asyncio SelectorEventLoops raise Deadlock where they
    would block forever, instead of letting the case run into its timeout.

    A case's program is the only thing that can make anything happen (no
    thread, no signal, no other process: its sockets are socketpairs), so
    when `_run_once` polls without a timeout (nothing ready, no timer) and
    no descriptor is ready at once, nothing ever will be: the model's rule
    ("CPython would block forever in select()").  Only asyncio's own loop
    class is guarded: other loops poll in their own ways.
    """
    def make():
        loop = factory()
        selector = getattr(loop, "_selector", None)
        if type(loop) is not asyncio.SelectorEventLoop or selector is None:
            return loop
        select = selector.select

        def select_or_deadlock(timeout=None):
            if timeout is not None:
                return select(timeout)
            events = select(0)
            if not events:
                raise Deadlock("the loop has no ready callback, no timer and no ready "
                               "socket: it would wait forever")
            return events
        selector.select = select_or_deadlock
        return loop
    return make


@types.coroutine
def suspend():
    """Yield None to the task once: the task is rescheduled with call_soon."""
    yield


def call_soon(fn, *args, context=None):
    """The running loop's call_soon; returns the handle."""
    return asyncio.get_running_loop().call_soon(fn, *args, context=context)


def call_later(delay, fn, *args, context=None):
    """The running loop's call_later; returns the timer handle."""
    return asyncio.get_running_loop().call_later(delay, fn, *args, context=context)


def call_at(when, fn, *args, context=None):
    """The running loop's call_at; returns the timer handle."""
    return asyncio.get_running_loop().call_at(when, fn, *args, context=context)


def loop_time():
    """The running loop's time(): the case language's `time()`."""
    return asyncio.get_running_loop().time()


def Future():
    """A new future bound to the running loop."""
    return asyncio.get_running_loop().create_future()


def features(io=False):
    """The features (harness/casekit/features.py) this asyncio has.

    The header features a case may `require:` first, then the builtins and
    the future and task methods that are features of their own.  `io`
    (sockets, readiness callbacks, streams) only where the adapter's loop
    polls real sockets: not on the virtual-clock loop, not in Pyodide.
    """
    found = ["contextvars"]
    if hasattr(asyncio, "TaskGroup"):
        found.append("taskgroup")
    if hasattr(asyncio, "timeout"):
        found.append("timeout")
    if hasattr(asyncio, "eager_task_factory"):
        found.append("eager")
    found += ["call_soon", "call_later", "Future", "call_at", "time", "copy_context"]
    if hasattr(asyncio.Queue, "shutdown"):
        found.append("Queue.shutdown")
    if sys.version_info >= (3, 14):
        found.append("eager_start")
    if io and io_available():
        found.append("io")
    # The language's constructs: classes (async with, async for and
    # __await__ on them) and async generators are Python's own.
    found += ["classes", "custom_awaitables", "async_generators"]
    if sys.version_info >= (3, 10):
        found.append("anext")
    found += [name for name in FEATURE_NAMES if hasattr(asyncio, name)]
    found += ["." + name for name in FEATURE_METHODS
              if hasattr(asyncio.Task, name) or hasattr(asyncio.Future, name)]
    return found


# -- the program's namespace (SECURITY.md) --------------------------------------
#
# A case program runs with the case language's builtins and nothing else.
# The model's gate (`loopspec-model ast`) is the boundary: it refuses every
# `_` attribute and `__` name, so a program the harness sends cannot reach
# any of what follows.  This is the second line, for a program that reaches
# an adapter some other way: `__builtins__` holds only what the language
# documents (no exec, eval, open, __import__, getattr, globals, print, ...),
# and the functions the program can name are defined in a namespace of
# their own, so that their `__globals__` hold nothing but these builtins.

# Python's builtins of the case language (cases/README.md, "Builtins") and
# its exception types; TimeoutError is asyncio's (make_globals).  Python
# needs nothing else to run the program: no classes (`__build_class__`), no
# imports (`__import__`).
CASE_BUILTINS = (
    "len", "str", "repr", "range", "list", "sorted", "min", "max", "sum", "abs",
    "int", "isinstance", "issubclass", "type", "anext", "aiter",
    # super() in a class's methods (its zero-argument form: the compiler
    # gives those methods the __class__ cell it reads)
    "super",
    # what a `class` statement compiles to; the check below keeps classes to
    # the language's (no keywords, no decorators)
    "__build_class__",
)
CASE_EXCEPTIONS = (
    "BaseException", "Exception", "RuntimeError", "RecursionError",
    "NotImplementedError", "OSError", "TimeoutError", "TypeError", "ValueError",
    "AttributeError", "ArithmeticError", "ZeroDivisionError", "OverflowError",
    "LookupError", "IndexError", "KeyError", "NameError", "UnboundLocalError",
    "BaseExceptionGroup", "ExceptionGroup", "StopAsyncIteration", "GeneratorExit",
    # I/O (the feature `io`): Python's, as sockets and streams raise them
    "BlockingIOError", "ConnectionError", "BrokenPipeError", "ConnectionResetError",
    "EOFError",
)


def _asyncio_import(name, globals=None, locals=None, fromlist=(), level=0):
    """The case namespace's `__import__`: a loop's native code may import
    asyncio again while a case runs (bracio does, at each call_soon); any
    other import is refused.  Programs cannot name it (no '__' names)."""
    import builtins
    if level == 0 and name.partition(".")[0] == "asyncio" and name in sys.modules:
        return builtins.__import__(name, globals, locals, fromlist, level)
    raise ImportError("import is not part of the case language")


def case_builtins():
    """A fresh `__builtins__` dict: the case language's builtins only."""
    import builtins
    out = {name: getattr(builtins, name) for name in CASE_BUILTINS + CASE_EXCEPTIONS
           if hasattr(builtins, name)}
    out["__import__"] = _asyncio_import
    return out


def _builtins_honored():
    """False where exec ignores a `__builtins__` dict in its globals (PyPy
    looks builtins up in its builtins module whatever the globals say)."""
    try:
        exec("open", {"__builtins__": {}})
    except NameError:
        return True
    return False


BUILTINS_HONORED = _builtins_honored()


def shadowed_builtins():
    """Where exec ignores `__builtins__`: a global per other builtin, each a
    stub that raises NameError when called, so that `exec(...)`,
    `open(...)`, `getattr(...)` find nothing to call."""
    if BUILTINS_HONORED:
        return {}
    import builtins
    allowed = set(CASE_BUILTINS + CASE_EXCEPTIONS)
    return {name: _unavailable(name) for name in dir(builtins)
            if name not in allowed and name not in ("__name__", "__doc__")}


class TraceLimit(BaseException):
    """Raised by `log` past a trace limit.  A BaseException, so that
    `except Exception` does not swallow it; a program that catches it with
    a bare `except` gets it again at its next `log`."""


class Trace(list):
    """The trace of one run, with its limits; `exceeded` names the limit
    that stopped the run, if one did."""

    def __init__(self, limits=(MAX_TRACE_LINES, MAX_TRACE_BYTES)):
        super().__init__()
        self.max_lines, self.max_bytes = limits
        self.size = 0
        self.exceeded = None

    def check(self):
        """Raise CaseError when a limit stopped the run."""
        if self.exceeded:
            raise CaseError(self.exceeded)


# The program-facing helpers, compiled into a namespace that holds only the
# case builtins (so `log.__globals__` is harmless): what they need from the
# adapter comes in as arguments of `_helpers` and stays in their closures.
HELPERS_SOURCE = """
def _helpers(trace, get_loop, suspend_once, trace_limit, asyncio_names,
             lines_message, bytes_message):
    def log(*values):
        if trace.exceeded:
            raise trace_limit(trace.exceeded)
        line = " ".join([str(v) for v in values])
        trace.size += len(line.encode("utf-8", "replace")) + 1
        if len(trace) >= trace.max_lines:
            trace.exceeded = lines_message(trace.max_lines)
        elif trace.size > trace.max_bytes:
            trace.exceeded = bytes_message(trace.max_bytes)
        if trace.exceeded:
            raise trace_limit(trace.exceeded)
        trace.append(line)

    def suspend():
        return suspend_once()

    def call_soon(fn, *args, context=None):
        return get_loop().call_soon(fn, *args, context=context)

    def call_later(delay, fn, *args, context=None):
        return get_loop().call_later(delay, fn, *args, context=context)

    def call_at(when, fn, *args, context=None):
        return get_loop().call_at(when, fn, *args, context=context)

    def time():
        return get_loop().time()

    def Future():
        return get_loop().create_future()

    def unavailable(name):
        def stub(*args, **kwargs):
            raise NameError("name %r is not defined" % name)
        stub.__name__ = stub.__qualname__ = name
        return stub

    def wrap(fn):
        def wrapper(*args, **kwargs):
            return fn(*args, **kwargs)
        return wrapper

    out = {"log": log, "suspend": suspend, "call_soon": call_soon,
           "call_later": call_later, "call_at": call_at, "time": time,
           "Future": Future, "unavailable": unavailable}
    for name, fn in asyncio_names:
        w = wrap(fn)
        w.__name__ = w.__qualname__ = name
        out[name] = w
    return out
"""

# asyncio's functions (not its classes and constants) go to the program
# wrapped, so that `create_task.__globals__` is the helpers' namespace, not
# asyncio.tasks'.
ASYNCIO_FUNCTIONS = (
    "create_task", "ensure_future", "sleep", "gather", "wait", "wait_for",
    "shield", "timeout", "current_task", "all_tasks", "timeout_at", "as_completed",
)


def _compile_helpers():
    ns = {"__name__": "__case__", "__builtins__": case_builtins()}
    exec(compile(HELPERS_SOURCE, "<loopspec builtins>", "exec"), ns)
    return ns["_helpers"]


_make_helpers = _compile_helpers()
_unavailable = _make_helpers(None, None, None, None, (), None, None)["unavailable"]


def make_globals(trace, sockets=None):
    """Fresh globals for one case; `log` appends to `trace` (a Trace).  With
    `sockets` (a CaseSockets), the I/O builtins too, over its sockets."""
    if not isinstance(trace, Trace):
        plain, trace = trace, Trace()
        trace.extend(plain)

    class Error(Exception):
        """The case's own exception class."""

    Error.__module__ = "__case__"
    Error.__qualname__ = "Error"

    g = {"__name__": "__case__", "__builtins__": case_builtins()}
    g.update(shadowed_builtins())
    functions = []
    for name in ASYNCIO_NAMES:
        if hasattr(asyncio, name):
            if name in ASYNCIO_FUNCTIONS:
                functions.append((name, getattr(asyncio, name)))
            else:
                g[name] = getattr(asyncio, name)
    helpers = _make_helpers(trace, asyncio.get_running_loop, suspend, TraceLimit,
                            functions, lines_limit_message, bytes_limit_message)
    del helpers["unavailable"]
    g.update(helpers)
    g.update(
        ContextVar=contextvars.ContextVar,
        copy_context=contextvars.copy_context,
        Error=Error,
        # asyncio's: the builtin from 3.11 on, a class of its own before.
        TimeoutError=asyncio.TimeoutError,
        RuntimeError=RuntimeError,
    )
    if sockets is not None:
        g.update(_make_io_helpers(asyncio.get_running_loop, sockets.pair, object.__new__,
                                  asyncio.open_connection, asyncio.IncompleteReadError,
                                  WRITE_TYPE_MESSAGE))
    return g


# -- I/O (the feature `io`; cases/README.md, "Builtins" and "Methods") -------------
#
# A case gets sockets only from `socketpair()`: AF_UNIX stream pairs from
# `socket.socketpair()`, non-blocking.  It sees them, and the streams over
# them, through wrappers that speak text (UTF-8 on the wire) and offer the
# language's methods alone; the real socket, reader and writer sit in `_`
# slots, which the gate and the adapter's check refuse, and the wrappers
# cannot be made from a program (`type(a)(x)` is a TypeError).  No other
# kind of socket, no address, no bind or connect: the guard refuses those
# events anyway.  A case opens at most MAX_SOCKETPAIRS pairs; every socket it
# opened is closed when its run ends (run_program), so a long-lived adapter
# leaks no descriptors.

MAX_SOCKETPAIRS = 64

# `_SelectorSocketTransport.write`'s TypeError for data that is not bytes
# (selector_events.py; 3.14 names the types).
WRITE_TYPE_MESSAGE = ("data argument must be a bytes, bytearray, or memoryview object, not %r"
                      if sys.version_info >= (3, 14) else
                      "data argument must be a bytes-like object, not %r")


def io_available():
    """Whether this Python can open a socketpair (not Pyodide, not WASI)."""
    if sys.platform in ("emscripten", "wasi"):
        return False
    try:
        import socket
    except ImportError:
        return False
    return hasattr(socket, "socketpair")


class CaseSockets:
    """The real sockets one case opened, closed together by `close_all`."""

    def __init__(self):
        self.opened = []
        self.pairs = 0

    def pair(self):
        """Two connected non-blocking AF_UNIX stream sockets."""
        if self.pairs >= MAX_SOCKETPAIRS:
            import errno
            raise OSError(errno.EMFILE, "Too many open files (a case may open %d sockets)"
                          % (2 * MAX_SOCKETPAIRS))
        import socket
        a, b = socket.socketpair()
        self.pairs += 1
        self.opened += [a, b]
        a.setblocking(False)
        b.setblocking(False)
        return a, b

    def close_all(self):
        """Close every socket opened (again, for those the case or a
        transport closed: closing twice is harmless)."""
        opened, self.opened = self.opened, []
        for sock in opened:
            try:
                sock.close()
            except OSError:
                pass


# The program-facing I/O builtins and wrapper classes, compiled like the
# helpers above into a namespace that holds only the case builtins.  A
# wrapper method awaits the real coroutine inline, so it costs no loop
# iteration of its own.
IO_SOURCE = """
def _io_helpers(get_loop, new_pair, new_object, open_connection, incomplete_read,
                write_type_message):
    def encode(text):
        if not isinstance(text, str):
            raise TypeError("send() takes text (str), not '%s'" % type(text).__name__)
        return text.encode("utf-8")

    def count(n):
        if not isinstance(n, int):
            raise TypeError("recv() takes one integer argument (the most to read)")
        return n

    def decode(data):
        return data.decode("utf-8", "replace")

    def refuse(self, *args, **kwargs):
        raise TypeError("cannot create '%s' instances" % type(self).__name__)

    class socket:
        __slots__ = ("_sock",)
        __init__ = refuse

        def send(self, text):
            return self._sock.send(encode(text))

        def recv(self, n):
            return decode(self._sock.recv(count(n)))

        def close(self):
            self._sock.close()

    class StreamReader:
        __slots__ = ("_reader",)
        __init__ = refuse

        async def read(self, n=-1):
            return decode(await self._reader.read(n))

        async def readline(self):
            return decode(await self._reader.readline())

        async def readexactly(self, n):
            try:
                data = await self._reader.readexactly(n)
            except incomplete_read as exc:
                # the same error, its `partial` as text
                raise incomplete_read(decode(exc.partial), exc.expected) from None
            return decode(data)

        def at_eof(self):
            return self._reader.at_eof()

    class StreamWriter:
        __slots__ = ("_writer",)
        __init__ = refuse

        def write(self, text):
            if not isinstance(text, str):
                # the transport's own message (selector_events.py, write)
                raise TypeError(write_type_message % type(text).__name__)
            self._writer.write(text.encode("utf-8"))

        async def drain(self):
            await self._writer.drain()

        def close(self):
            self._writer.close()

        def is_closing(self):
            return self._writer.is_closing()

        async def wait_closed(self):
            await self._writer.wait_closed()

    def real(sock):
        if type(sock) is not socket:
            raise TypeError("a socket from socketpair() was expected, got '%s'"
                            % type(sock).__name__)
        return sock._sock

    def used_as_socket(sock, attribute):
        # what asyncio's sock_recv, sock_sendall and create_connection do
        # first with something other than a socket
        if type(sock) is not socket:
            raise AttributeError("'%s' object has no attribute '%s'"
                                 % (type(sock).__name__, attribute))
        return sock._sock

    def socketpair():
        a, b = new_pair()
        wa, wb = new_object(socket), new_object(socket)
        wa._sock, wb._sock = a, b
        return (wa, wb)

    def add_reader(sock, fn, *args):
        get_loop().add_reader(real(sock), fn, *args)

    def add_writer(sock, fn, *args):
        get_loop().add_writer(real(sock), fn, *args)

    def remove_reader(sock):
        return get_loop().remove_reader(real(sock))

    def remove_writer(sock):
        return get_loop().remove_writer(real(sock))

    async def sock_recv(sock, n):
        real_sock = used_as_socket(sock, "recv")
        return decode(await get_loop().sock_recv(real_sock, count(n)))

    async def sock_sendall(sock, text):
        real_sock = used_as_socket(sock, "send")
        await get_loop().sock_sendall(real_sock, encode(text))

    async def open_stream(sock):
        reader, writer = await open_connection(sock=used_as_socket(sock, "type"))
        r, w = new_object(StreamReader), new_object(StreamWriter)
        r._reader, w._writer = reader, writer
        return (r, w)

    return {"socketpair": socketpair, "add_reader": add_reader, "add_writer": add_writer,
            "remove_reader": remove_reader, "remove_writer": remove_writer,
            "sock_recv": sock_recv, "sock_sendall": sock_sendall,
            "open_stream": open_stream}
"""


def _compile_io_helpers():
    ns = {"__name__": "__case__", "__builtins__": case_builtins()}
    exec(compile(IO_SOURCE, "<loopspec I/O builtins>", "exec"), ns)
    return ns["_io_helpers"]


_make_io_helpers = _compile_io_helpers()


def describe(exc):
    """`Type: message`, as the trace's last line and error replies show it."""
    return "%s: %s" % (type(exc).__name__, exc)


def case_line(exc, filename):
    """The innermost case-file line in `exc`'s traceback, or '?'."""
    found = "?"
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            found = tb.tb_lineno
        tb = tb.tb_next
    return found


# The attributes of the case language (cases/README.md, "Methods"): the
# methods and the three read-only properties.  None starts with '_'.
CASE_ATTRIBUTES = frozenset((
    "result", "exception", "done", "cancelled", "cancel", "add_done_callback",
    "remove_done_callback", "set_result", "set_exception", "cancelling", "uncancel",
    "get_name", "get", "set", "reset", "append", "pop", "extend", "insert", "remove",
    "index", "count", "join", "upper", "lower", "startswith", "endswith", "strip",
    "split", "acquire", "release", "locked", "wait", "is_set", "clear", "notify",
    "notify_all", "wait_for", "put", "put_nowait", "get_nowait", "qsize", "empty",
    "full", "task_done", "create_task", "when", "reschedule", "expired", "maxsize",
    "exceptions", "args", "set_name", "run", "abort", "shutdown", "parties",
    "n_waiting", "broken", "aclose", "asend", "athrow",
    # sockets and streams (the feature `io`)
    "send", "recv", "close", "read", "readline", "readexactly", "at_eof", "write", "drain",
    "is_closing", "wait_closed",
    # IncompleteReadError's read-only properties
    "partial", "expected",
))


# The model's gate on the names a program gives its own classes' attributes
# and methods (model/src/gate.c, the one list; a harness test compares):
# the protocol dunders the language defines, and no name that reaches
# interpreter internals on the real interpreters.
CLASS_DUNDERS = frozenset(("__init__", "__await__", "__aenter__", "__aexit__", "__aiter__",
                           "__anext__", "__repr__", "__str__"))
DENIED_PREFIXES = ("cr_", "gi_", "ag_", "f_", "tb_", "co_", "func_", "im_", "subprocess_",
                   "sock_")
DENIED_NAMES = frozenset((
    "format", "format_map", "get_coro", "get_loop", "get_stack", "print_stack", "get_context",
    "run_in_executor", "set_default_executor", "shutdown_default_executor", "shutdown_asyncgens",
    "add_reader", "add_writer", "remove_reader", "remove_writer", "add_signal_handler",
    "remove_signal_handler", "getaddrinfo", "getnameinfo", "create_connection", "create_server",
    "create_datagram_endpoint", "create_unix_connection", "create_unix_server", "create_future",
    "connect_read_pipe", "connect_write_pipe", "connect_accepted_socket", "sendfile", "start_tls",
    "set_exception_handler", "get_exception_handler", "call_exception_handler",
    "default_exception_handler", "set_task_factory", "get_task_factory", "set_debug", "get_debug",
    "run_forever", "run_until_complete", "stop", "is_running", "is_closed", "call_soon_threadsafe",
    "mro", "register", "with_traceback", "replace",
))


def check_program(tree, filename):
    """The adapter's own check of a parsed program (SECURITY.md): the rules
    of the model's gate that keep a program inside the case language's
    objects.  No import, no decorator, no class beyond the language's (one
    base, no keywords); no name starting with '__' but the protocol methods
    a class defines; no attribute the language does not document or the
    program's classes define (so none starting with '_', and no
    `str.format`, whose fields read attributes), and none of the names a
    class may not define (gate.c's list).  Raise CaseError."""
    import ast

    def refuse(node, what):
        raise CaseError("%s:%s:%s: %s is not part of the case language (refused by "
                        "the adapter)" % (filename, getattr(node, "lineno", "?"),
                                          getattr(node, "col_offset", -1) + 1, what))

    # The attribute names the program defines: its classes' methods and
    # class attributes, and what it assigns to an attribute.
    own = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            if node.keywords or node.decorator_list or len(node.bases) > 1:
                refuse(node, "class with keywords, decorators or several bases")
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    own.add(item.name)
                elif isinstance(item, ast.Assign):
                    own.update(t.id for t in item.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            own.add(node.attr)
    for name in own:
        if (name.startswith("_") and name not in CLASS_DUNDERS) or name in DENIED_NAMES \
                or name.startswith(DENIED_PREFIXES):
            refuse(tree, "attribute name %r" % name)

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            refuse(node, "import")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.decorator_list:
            refuse(node, "decorator")
        elif isinstance(node, ast.Attribute):
            # `type(x).__name__`: the one '_' attribute, read on type()'s result.
            on_type = (node.attr == "__name__" and isinstance(node.value, ast.Call)
                       and isinstance(node.value.func, ast.Name)
                       and node.value.func.id == "type")
            # `super().__init__`, `super().__aenter__`, ...: a protocol method
            # read directly on super()'s result (__init__, or one a class defines).
            on_super = (node.attr in CLASS_DUNDERS
                        and (node.attr == "__init__" or node.attr in own)
                        and isinstance(node.value, ast.Call) and not node.value.args
                        and not node.value.keywords
                        and isinstance(node.value.func, ast.Name)
                        and node.value.func.id == "super")
            if node.attr not in CASE_ATTRIBUTES and node.attr not in own and not on_type \
                    and not on_super:
                refuse(node, "attribute %r" % node.attr)
        names = ()
        if isinstance(node, ast.Name):
            names = (node.id,)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names = () if node.name in CLASS_DUNDERS else (node.name,)
        elif isinstance(node, ast.arg):
            names = (node.arg,)
        elif isinstance(node, ast.keyword):
            names = (node.arg,) if node.arg else ()
        elif isinstance(node, ast.ExceptHandler):
            names = (node.name,) if node.name else ()
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names = tuple(node.names)
        for name in names:
            if name.startswith("__"):
                refuse(node, "name %r" % name)


def compile_program(program, line, filename):
    """Compile `program` so that its line numbers are case-file line numbers,
    after the adapter's own check (check_program)."""
    import ast
    source = "\n" * max(0, line - 1) + program
    try:
        tree = ast.parse(source, filename, "exec")
    except SyntaxError as exc:
        raise CaseError("%s:%s:%s: %s: %s" % (
            filename, exc.lineno, exc.offset, type(exc).__name__, exc.msg))
    except (ValueError, RecursionError, MemoryError) as exc:
        raise CaseError("%s: cannot parse the program: %s" % (filename, describe(exc)))
    check_program(tree, filename)
    try:
        return compile(tree, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise CaseError("%s:%s:%s: %s: %s" % (
            filename, exc.lineno, exc.offset, type(exc).__name__, exc.msg))
    except (ValueError, RecursionError, MemoryError) as exc:
        raise CaseError("%s: cannot compile the program: %s" % (filename, describe(exc)))


def run_program(code, loop_factory, filename, timing=None, runner=None, limits=None,
                io=False):
    """Run compiled `code` as `asyncio.run(main())`; return the trace list.

    With a dict `timing`, its `elapsed_ns` is set to the time the run took
    on `time.monotonic_ns()`: `asyncio.run` only (loop creation, main(),
    the teardown), not the compile or the module's top level.  `limits` is
    (max lines, max bytes) of the trace; past one, a CaseError naming it.
    With `io`, the program has the I/O builtins; every socket it opened is
    closed when the run ends, however it ends.
    """
    sockets = CaseSockets() if io else None
    try:
        return _run_program(code, loop_factory, filename, timing, runner, limits, sockets)
    finally:
        if sockets is not None:
            sockets.close_all()


def _run_program(code, loop_factory, filename, timing, runner, limits, sockets):
    trace = Trace(limits or (MAX_TRACE_LINES, MAX_TRACE_BYTES))
    g = make_globals(trace, sockets)
    try:
        exec(code, g)
    except Exception as exc:
        raise CaseError("%s:%s: at top level: %s" % (
            filename, case_line(exc, filename), describe(exc)))
    except TraceLimit:
        trace.check()
    main = g.get("main")
    if main is None:
        raise CaseError("%s: the program defines no main()" % filename)
    coro = main()
    if not asyncio.iscoroutine(coro):
        raise CaseError("%s: main() is not a coroutine function" % filename)
    started = time.monotonic_ns()
    try:
        if runner is not None:
            runner(coro)
        else:
            run(coro, loop_factory, trace)
    except Deadlock as exc:
        trace.check()
        before = getattr(exc, "before", trace)
        message = "%s: %s; trace before: %s" % (filename, exc, before)
        if len(trace) > len(before):
            message += "; then the teardown logged: %s" % trace[len(before):]
        raise CaseError(message)
    except BaseException as exc:  # noqa: B902 - CancelledError, SystemExit too
        trace.append("uncaught " + describe(exc))
    finally:
        if timing is not None:
            timing["elapsed_ns"] = time.monotonic_ns() - started
    trace.check()
    return list(trace)


# -- timer latency (ADAPTERS.md, "Timer latency") ----------------------------------

LATENCY_DELAYS_MS = (0, 0.1, 0.5, 1, 2, 5)
LATENCY_SAMPLES = 100
LATENCY_WARMUP = 5
LATENCY_MAX_SAMPLES = 10000


def latency_params(spec):
    """(delays in ms, samples per delay) from a request's `latency` object."""
    if spec is True or spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise CaseError("latency must be an object: {\"delays_ms\": [...], \"samples\": N}")
    delays = spec.get("delays_ms", list(LATENCY_DELAYS_MS))
    samples = spec.get("samples", LATENCY_SAMPLES)
    if not (isinstance(delays, list) and delays and all(
            isinstance(d, (int, float)) and not isinstance(d, bool) and 0 <= d <= 1000
            for d in delays)):
        raise CaseError("latency.delays_ms must be a list of 0 to 1000 ms")
    if not (isinstance(samples, int) and 1 <= samples <= LATENCY_MAX_SAMPLES):
        raise CaseError("latency.samples must be 1 to %d" % LATENCY_MAX_SAMPLES)
    return delays, samples


async def measure_latency(delays_ms, samples, clock_ns=time.monotonic_ns):
    """How late `asyncio.sleep(d)` wakes: {"late_us": [[...] per delay]}.

    For each delay d (ms), `samples` times: read the clock, `await sleep(d)`,
    read it again; lateness = elapsed - d, in microseconds (negative when a
    loop wakes early: asyncio fires timers up to its clock resolution early).
    A few sleeps first warm the loop up.
    """
    sleep = asyncio.sleep
    for _ in range(LATENCY_WARMUP):
        await sleep(0)
    late = []
    for d in delays_ms:
        seconds = d / 1000.0
        target = int(d * 1000000)
        row = []
        for _ in range(samples):
            t0 = clock_ns()
            await sleep(seconds)
            row.append(round((clock_ns() - t0 - target) / 1000.0, 1))
        late.append(row)
    return {"delays_ms": list(delays_ms), "samples": samples, "late_us": late}


async def measure_io_latency(samples, clock_ns=time.monotonic_ns):
    """How long after a peer's `send` the loop's I/O phase acts, in
    microseconds: {"reader": [...], "sock_recv": [...]}, each a list of
    `samples` values, or {"<what>_error": "..."} where the loop lacks it.

    reader: one byte sent on a socketpair, until the reader callback that
    `loop.add_reader` registered on the other end runs (the send is the
    last thing the sending task's step does, so this is the rest of that
    iteration, the poll and the callbacks ahead of the reader).
    sock_recv: the same, until a task blocked in `loop.sock_recv` resumes
    (asyncio: one iteration after its reader callback).  Descriptors are
    passed as integers, which every loop's add_reader takes.
    """
    import socket
    loop = asyncio.get_running_loop()
    sleep = asyncio.sleep
    out = {}
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        b.setblocking(False)
        for _ in range(LATENCY_WARMUP):
            await sleep(0)
        box = {}

        def on_read():
            t1 = clock_ns()
            b.recv(64)
            fut = box.pop("fut", None)
            if fut is not None and not fut.done():
                fut.set_result(t1)

        try:
            loop.add_reader(b.fileno(), on_read)
        except Exception as exc:
            out["reader_error"] = "%s: %s" % (type(exc).__name__, exc)
        else:
            row = []
            try:
                for _ in range(samples):
                    box["fut"] = fut = loop.create_future()
                    t0 = clock_ns()
                    a.send(b"x")
                    row.append(round((await fut - t0) / 1000.0, 1))
            finally:
                loop.remove_reader(b.fileno())
            out["reader"] = row

        async def waiter():
            await loop.sock_recv(b, 64)
            return clock_ns()

        if not hasattr(loop, "sock_recv"):
            out["sock_recv_error"] = "the loop has no sock_recv"
        else:
            row = []
            try:
                for _ in range(samples):
                    task = asyncio.ensure_future(waiter())
                    for _ in range(2):   # until it waits in sock_recv
                        await sleep(0)
                    t0 = clock_ns()
                    a.send(b"x")
                    row.append(round((await task - t0) / 1000.0, 1))
            except Exception as exc:
                out["sock_recv_error"] = "%s: %s" % (type(exc).__name__, exc)
            else:
                out["sock_recv"] = row
    finally:
        a.close()
        b.close()
    return out


def run(coro, loop_factory, trace=None):
    """`asyncio.run(coro)` on a loop from `loop_factory`, on any version.

    A `Deadlock` raised while `coro` runs gets a `before` attribute: a copy
    of `trace` at that moment, before the teardown logs anything.
    """
    runner_class = getattr(asyncio, "Runner", None)
    if runner_class is not None:
        with runner_class(loop_factory=loop_factory) as runner:
            try:
                return runner.run(coro)
            except Deadlock as exc:
                exc.before = list(trace or ())
                raise
    # Before 3.11 (PyPy 3.9): the body of asyncio.run, with our loop.
    from asyncio import runners
    loop = loop_factory()
    try:
        asyncio.set_event_loop(loop)
        try:
            return loop.run_until_complete(coro)
        except Deadlock as exc:
            exc.before = list(trace or ())
            raise
    finally:
        try:
            runners._cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            shutdown = getattr(loop, "shutdown_default_executor", None)
            if shutdown is not None:
                loop.run_until_complete(shutdown())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def set_error(reply, exc):
    """The reply's `error` for `exc`: a CaseError's own message, anything
    else as a fault of the adapter."""
    if isinstance(exc, CaseError):
        reply["error"] = str(exc)
    else:
        reply["error"] = "adapter: " + describe(exc)


OUTPUT_LIMIT = 65536  # characters of stdout and of stderr kept per reply


def _clip(text):
    if len(text) <= OUTPUT_LIMIT:
        return text
    return text[:OUTPUT_LIMIT] + "\n[... %d more characters]\n" % (len(text) - OUTPUT_LIMIT)


def finish_reply(reply, timing, out, err):
    """Adds the bench timing and what the program printed to a reply."""
    if timing and "trace" in reply:
        reply["elapsed_ns"] = timing["elapsed_ns"]
    if out:
        reply["stdout"] = _clip(out)
    if err:
        reply["stderr"] = _clip(err)
    return reply


# -- the guard (SECURITY.md) --------------------------------------------------------
#
# Once an adapter has started, nothing it runs has any business writing
# files, starting processes, signalling other processes, opening network
# connections, loading native code or building code objects by hand.  An
# audit hook (PEP 578) refuses those events for the rest of the process's
# life.  It keeps no state a program could flip, and it cannot be removed.
# It is a tripwire, not a sandbox: CPython raises these events for its own
# operations only, PyPy raises few of them, and Pyodide's `js` module
# reaches the host without any.

GUARD_REFUSED = frozenset((
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "os.startfile", "subprocess.Popen", "pty.spawn",
    "os.kill", "os.killpg", "signal.pthread_kill",
    "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link",
    "os.truncate", "os.chmod", "os.chown", "os.lchown", "os.chflags", "os.lchflags",
    "os.utime", "os.mkfifo", "os.mknod", "os.setxattr", "os.removexattr",
    "os.chdir", "os.putenv", "os.unsetenv",
    "shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.copytree",
    "shutil.move", "shutil.rmtree", "shutil.chown", "shutil.make_archive",
    "shutil.unpack_archive",
    "socket.bind", "socket.connect", "socket.sendto", "socket.sendmsg",
    "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
    "socket.getnameinfo", "socket.gethostname",
    "ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata",
    "ctypes.cdata/buffer", "ctypes.addressof", "ctypes.call_function",
    "ctypes.string_at", "ctypes.wstring_at", "ctypes.get_errno", "ctypes.set_errno",
    "ctypes.seh_exception", "ctypes.PyObj_FromPtr",
    "code.__new__", "function.__new__", "mmap.__new__",
    "resource.setrlimit", "resource.prlimit",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "sys.addaudithook", "sys.remote_exec", "cpython.remote_debugger_script",
    "webbrowser.open", "urllib.Request", "http.client.connect",
))
# socket.AF_UNIX, where there is one (read when the guard is installed).
_AF_UNIX = None
GUARD_MODULES = frozenset((
    "ctypes", "_ctypes", "cffi", "_posixsubprocess", "subprocess", "multiprocessing",
    "_multiprocessing", "pty", "mmap", "resource",
))
_WRITE_FLAGS = None


def _guard(event, args):
    """The audit hook: refuse the events above; open files for reading only.

    One exception: `sendmsg` with no address on an AF_UNIX socket, which
    reaches only the socket's connected peer.  asyncio's socket transport
    writes what it buffered that way from 3.12 on (selector_events.py,
    `_write_sendmsg`), and the only AF_UNIX sockets in an adapter are the
    socketpairs of cases and of the loop's self-pipe (connect and bind are
    refused)."""
    if event == "socket.sendmsg" and _AF_UNIX is not None and len(args) >= 2 \
            and args[1] is None and getattr(args[0], "family", None) == _AF_UNIX:
        return
    if event in GUARD_REFUSED:
        raise PermissionError("loopspec: %s is not allowed in an adapter" % event)
    if event == "open":
        mode, flags = (args[1], args[2]) if len(args) >= 3 else (None, None)
        if isinstance(flags, int) and flags & _WRITE_FLAGS:
            raise PermissionError("loopspec: opening a file for writing is not allowed "
                                  "in an adapter")
        if isinstance(mode, str) and any(ch in mode for ch in "wax+"):
            raise PermissionError("loopspec: opening a file for writing is not allowed "
                                  "in an adapter")
    elif event == "import" and args and args[0] in GUARD_MODULES:
        raise PermissionError("loopspec: importing %s is not allowed in an adapter"
                              % args[0])


def install_guard():
    """Add the audit hook, once per process (where sys.addaudithook exists)."""
    global _WRITE_FLAGS, _AF_UNIX
    if _WRITE_FLAGS is not None or not hasattr(sys, "addaudithook"):
        return False
    import os
    try:
        import socket
        _AF_UNIX = getattr(socket, "AF_UNIX", None)
    except ImportError:
        _AF_UNIX = None
    _WRITE_FLAGS = (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
                    | getattr(os, "O_EXCL", 0))
    sys.addaudithook(_guard)
    return True


WARM_UP = "async def main():\n    await sleep(0)\n    await sleep(0.001)\n"


class Captured:
    """Swap sys.stdout/stderr/stdin for buffers while a case runs."""

    def __enter__(self):
        self.saved = sys.stdout, sys.stderr, sys.stdin
        self.out, self.err = io.StringIO(), io.StringIO()
        sys.stdout, sys.stderr, sys.stdin = self.out, self.err, io.StringIO()
        return self

    def __exit__(self, *exc_info):
        # Collect now, so "Task exception was never retrieved" and "never
        # awaited" messages land in this case's buffer, not the next one's.
        # Cheap where gc.freeze exists (Server.ready froze the start-up
        # objects).  PyPy has no freeze and a full collection costs it ~20 ms
        # per case: there an incremental step must do, so such a message may
        # land in a later case's stderr.
        if hasattr(gc, "freeze") or not hasattr(gc, "collect_step"):
            gc.collect()
        else:
            gc.collect_step()
        sys.stdout, sys.stderr, sys.stdin = self.saved
        return False


class Server:
    """Answers protocol requests for one implementation.

    `loop_factory()` returns a fresh event loop; or `runner(coro)` runs a
    case's main() the way `asyncio.run` does, for loops that cannot be made
    on their own (then `loop_factory` serves nothing).  `eager` is True when every
    case runs with `eager_task_factory` (the adapter's --eager); otherwise a
    request whose profile is `eager` asks for it.  `io` gives the programs
    the I/O builtins (the feature `io`), for loops that poll real sockets.
    """

    def __init__(self, impl, version, loop_factory, eager=False, extra=None,
                 real_time=True, runner=None, io=False):
        self.runner = runner
        self.io = bool(io) and io_available()
        self.impl = impl
        self.version = version
        self.base_factory = loop_factory
        self.eager = eager
        self.extra = dict(extra or {})
        self.real_time = real_time

    def ready(self):
        """The first line an adapter prints; start-up ends here.

        Everything alive now (modules, the server) is moved out of the
        collector's way (gc.freeze), so the collection after each case only
        scans what the case made: it costs microseconds, not milliseconds.
        """
        # A warm-up run before the guard: a loop's own lazy imports (trio
        # loads ctypes at its first run) happen now, not inside a case.
        try:
            with Captured():
                run_program(compile_program(WARM_UP, 1, "<warm-up>"), self.base_factory,
                            "<warm-up>", runner=self.runner)
        except Exception:   # noqa: BLE001 - the first case will say what is wrong
            pass
        if hasattr(gc, "freeze"):
            gc.collect()
            gc.freeze()
        guarded = install_guard() or _WRITE_FLAGS is not None
        info = {"ready": True, "impl": self.impl, "version": self.version,
                "python": sys.version.split()[0],
                "eager": self.eager, "features": features(self.io), "guard": guarded}
        info.update(self.extra)
        return info

    def loop_factory(self, eager):
        """A factory for fresh loops, with eager_task_factory if asked."""
        if not eager:
            return self.base_factory
        if self.runner is not None:
            raise CaseError("eager tasks cannot be installed under a --runner")
        factory = getattr(asyncio, "eager_task_factory", None)
        if factory is None:
            raise CaseError("eager tasks need Python 3.12 or later (this is %s)"
                            % sys.version.split()[0])

        def make():
            loop = self.base_factory()
            loop.set_task_factory(factory)
            return loop
        return make

    def latency(self, request):
        """The reply to a latency request (ADAPTERS.md): sleep lateness."""
        reply = {"id": request.get("id")}
        try:
            if not self.real_time:
                raise CaseError("this loop runs on a virtual clock: sleep() takes no "
                                "real time, there is no lateness to measure")
            delays, samples = latency_params(request.get("latency"))
            if self.runner is not None:
                result = self.runner(measure_latency(delays, samples))
            else:
                result = run(measure_latency(delays, samples), self.base_factory)
            result["clock"] = "time.monotonic_ns"
            if self.io:
                measure = measure_io_latency(samples)
                try:
                    if self.runner is not None:
                        result["io"] = self.runner(measure)
                    else:
                        result["io"] = run(measure, self.base_factory)
                except Exception as exc:
                    result["io"] = {"error": "%s: %s" % (type(exc).__name__, exc)}
            reply["latency"] = result
        except Exception as exc:
            set_error(reply, exc)
        return reply

    def handle(self, request):
        """Answer one decoded request with a reply dict."""
        if "latency" in request and "program" not in request:
            return self.latency(request)
        reply = {"id": request.get("id"), "case": request.get("case")}
        timing = {} if request.get("bench") is True else None
        out = err = ""
        try:
            program, line, profile, filename = request_program(request)
            limits = trace_limits(request)
            factory = self.loop_factory(self.eager or is_eager(profile))
            code = compile_program(program, line, filename)
            with Captured() as cap:
                try:
                    reply["trace"] = run_program(code, factory, filename, timing,
                                                 self.runner, limits, self.io)
                finally:
                    out, err = cap.out.getvalue(), cap.err.getvalue()
        except Exception as exc:
            set_error(reply, exc)
        return finish_reply(reply, timing, out, err)

    def handle_line(self, text):
        """Answer one JSON request line with one JSON reply line (no newline)."""
        try:
            request = decode_request(text)
        except ValueError as exc:
            return bad_request_line(exc)
        return json.dumps(self.handle(request))
