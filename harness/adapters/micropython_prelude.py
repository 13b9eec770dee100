# The loopspec prelude for MicroPython's asyncio (the WebAssembly "pyscript"
# build, run by micropython_adapter.mjs under Node).
#
# MicroPython's asyncio is a small subset of CPython's: tasks, sleep, gather,
# wait_for, Event, Lock, current_task.  It has no Future, no call_soon or
# call_later, no contextvars, and tasks have only done() and cancel().  This
# file gives case programs the case format's builtins where MicroPython has
# them and nothing else, so `features()` (the ready line) says exactly what
# is there; the harness reports cases that use anything more as UNSUPPORTED.
# Scheduling is MicroPython's own; the adaptations are:
#
# - `suspend()` is `asyncio.sleep(0)`: MicroPython's task loop drops a task
#   whose coroutine yields a bare None (that is how its Event parks a task),
#   and sleep(0) is its way of yielding for one round, as a bare yield is in
#   CPython.
# - `sleep(delay, result)` returns `result` after MicroPython's sleep.
# - `create_task` records the task, so that the teardown can cancel what is
#   still pending, as asyncio.run does (MicroPython has no all_tasks()).
# - This build has no asyncio.run: `answer()` creates a runner task that
#   creates main() as a task, awaits it, then cancels and awaits the
#   leftover tasks.  The adapter awaits the runner from runPythonAsync.
#
# Timing (ADAPTERS.md): a `"bench": true` request's `elapsed_ns` is measured
# with MicroPython's own clock, time.ticks_us(), which in this build moves in
# whole milliseconds (1% of a 100 ms run).  Latency requests need better, so
# they read the host's clock, JavaScript's performance.now() (microseconds),
# through the `js` module, and fall back to ticks_us() without it.

# protocol.py (the requests, shared with the other Python adapters) runs
# first in the same namespace: CaseError, is_eager, decode_request,
# bad_request_line and request_program come from there; the adapter then
# sets CLAIMED_PROFILE (its --profile) for the ready line.

import asyncio
from asyncio import core as _core
import json
import sys
import time

try:
    import js
    _perf = js.performance
except Exception:  # not the pyscript build
    _perf = None

LATENCY_DELAYS_MS = (0, 0.1, 0.5, 1, 2, 5)

FEATURE_NAMES = (
    "ensure_future", "gather", "wait", "wait_for", "shield", "Lock", "Event",
    "Condition", "Semaphore", "Queue", "InvalidStateError", "current_task",
)
FEATURE_METHODS = (
    "result", "exception", "cancelled", "add_done_callback",
    "remove_done_callback", "set_result", "set_exception", "cancelling",
    "uncancel", "get_name",
)


def features():
    """The features (harness/casekit/features.py) MicroPython's asyncio has."""
    found = [n for n in FEATURE_NAMES if hasattr(asyncio, n)]
    found += ["." + m for m in FEATURE_METHODS if hasattr(asyncio.Task, m)]
    return found


def ready():
    impl = sys.implementation
    return {
        "ready": True, "impl": impl.name,
        "version": "%d.%d.%d" % impl.version[:3],
        "python": sys.version.split()[0].rstrip(";"), "eager": False,
        "features": features(), "loop": "micropython", "tasks": "micropython",
        "profile": CLAIMED_PROFILE, "build": getattr(impl, "_build", ""),
    }


def describe(exc):
    return "%s: %s" % (type(exc).__name__, exc)


_tasks = []


# The program's namespace (SECURITY.md).  MicroPython ignores `__builtins__`
# in exec's globals: it looks names up in the globals, then in the builtins
# module.  So this namespace (protocol.py's and this file's code) keeps its
# own reference to every builtin, and the builtins module gets, for every
# name the case language does not have, a stub that raises NameError when
# called (MicroPython lets a program override builtins, not delete them).
# The functions the program can name are made in a namespace of their own
# (HELPERS_SOURCE), so their `__globals__` hold nothing of this one.

import builtins as _builtins

CASE_BUILTINS = (
    "len", "str", "repr", "range", "list", "sorted", "min", "max", "sum", "abs",
    "int", "isinstance", "issubclass", "type",
)
# Kept: the exception types, and what MicroPython runs a def or a class with.
_KEEP = ("__build_class__", "__name__", "__repl_print__")

_g = globals()
for _name in dir(_builtins):
    if _name not in _g:
        _g[_name] = getattr(_builtins, _name)

HELPERS_SOURCE = """
def _helpers(trace, asyncio, tasks, limits_messages, functions, trace_limit):
    lines_message, bytes_message = limits_messages
    state = {"lines": 0, "size": 0, "exceeded": None}

    def log(*values):
        if state["exceeded"]:
            raise trace_limit(state["exceeded"])
        line = " ".join([str(v) for v in values])
        state["size"] += len(line) + 1
        if len(trace) >= trace_max[0]:
            state["exceeded"] = lines_message(trace_max[0])
        elif state["size"] > trace_max[1]:
            state["exceeded"] = bytes_message(trace_max[1])
        if state["exceeded"]:
            raise trace_limit(state["exceeded"])
        trace.append(line)

    trace_max = [0, 0]

    def create_task(coro, name=None):
        t = asyncio.create_task(coro)
        tasks.append(t)
        return t

    def suspend():
        return asyncio.sleep(0)

    async def sleep_result(delay, result):
        await asyncio.sleep(delay)
        return result

    def sleep(delay, result=None):
        if result is None:
            return asyncio.sleep(delay)
        return sleep_result(delay, result)

    def wrap(fn):
        def wrapper(*args, **kwargs):
            return fn(*args, **kwargs)
        return wrapper

    def unavailable(name):
        def stub(*args, **kwargs):
            raise NameError("name '%s' isn't defined" % name)
        return stub

    out = {"log": log, "create_task": create_task, "suspend": suspend,
           "sleep": sleep, "unavailable": unavailable, "state": state,
           "trace_max": trace_max}
    for name, fn in functions:
        out[name] = wrap(fn)
    return out
"""


def _compile_helpers():
    ns = {"__name__": "__case__"}
    exec(HELPERS_SOURCE, ns)
    return ns["_helpers"]


_make_helpers = _compile_helpers()


class TraceLimit(Exception):
    """Raised by log() past a trace limit.  An Exception: MicroPython's task
    loop lets anything else out and stops.  A program that catches it gets
    it again at its next log(), and the reply is the limit's error."""


_unavailable = _make_helpers([], asyncio, [], (None, None), (), TraceLimit)["unavailable"]
_FUNCTIONS = [(name, getattr(asyncio, name)) for name in ("gather", "wait_for", "current_task")
              if hasattr(asyncio, name)]


# Builtins replaced in the builtins module itself: nothing MicroPython's
# asyncio calls once the adapter has started.  Every other builtin the case
# language lacks is shadowed in the program's globals only (asyncio's own
# code needs hasattr, print, type, ...).
_SHADOW_MODULE = ("exec", "eval", "compile", "open", "__import__",
                  "input", "setattr", "delattr", "getattr", "execfile")
_real_import = __import__


def _import(name, *args):
    """`__import__` once the adapter has started: asyncio's own lazy imports
    only (a case program has no import; this refuses `import js`, `import
    os`, which reach the host)."""
    if name == "asyncio" or name.startswith("asyncio.") or (
            len(args) >= 4 and args[3] and name in ("core", "funcs", "event", "lock")):
        return _real_import(name, *args)
    raise ImportError("import is not part of the case language (refused by the adapter)")
_SHADOW_GLOBALS = {}


def _shadow_builtins():
    """Install the stubs (at the end of this file)."""
    keep = set(CASE_BUILTINS) | set(_KEEP)
    for name in dir(_builtins):
        if name in keep or name.endswith("Error") or name.endswith("Exception") or \
                name in ("StopIteration", "GeneratorExit", "KeyboardInterrupt",
                         "SystemExit", "StopAsyncIteration", "Ellipsis",
                         "NotImplemented"):
            continue
        _SHADOW_GLOBALS[name] = _unavailable(name)
    for name in _SHADOW_MODULE:
        try:
            setattr(_builtins, name, _import if name == "__import__" else _unavailable(name))
        except (AttributeError, TypeError):
            pass


def make_globals(trace, limits=None):
    """Fresh globals for one case; `log` appends to the list `trace`; the
    helpers' `state` says whether a trace limit stopped the run."""
    helpers = _make_helpers(trace, asyncio, _tasks,
                            (lines_limit_message, bytes_limit_message), _FUNCTIONS,
                            TraceLimit)
    helpers["trace_max"][:] = list(limits or (MAX_TRACE_LINES, MAX_TRACE_BYTES))
    state = helpers.pop("state")
    del helpers["trace_max"], helpers["unavailable"]

    class Error(Exception):
        pass

    g = dict(_SHADOW_GLOBALS)
    g.update({
        "__name__": "__case__", "Error": Error,
        "CancelledError": asyncio.CancelledError,
        "TimeoutError": asyncio.TimeoutError,
        "RuntimeError": RuntimeError,
    })
    g.update(helpers)
    for name in ("Lock", "Event"):
        if hasattr(asyncio, name):
            g[name] = getattr(asyncio, name)
    g["__state__"] = state
    return g


def prepare(request):
    """Compile and load one request's program; (globals, trace, state)."""
    program, line, profile, filename = request_program(request)
    limits = trace_limits(request)
    if is_eager(profile):
        raise CaseError("MicroPython has no eager tasks")
    source = "\n" * (line - 1) + program
    trace = []
    g = make_globals(trace, limits)
    state = g.pop("__state__")
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        raise CaseError("%s: SyntaxError: %s" % (filename, exc))
    try:
        exec(code, g)
    except Exception as exc:
        raise CaseError("%s: at top level: %s" % (filename, describe(exc)))
    main = g.get("main")
    if main is None:
        raise CaseError("%s: the program defines no main()" % filename)
    return g, trace, state


class _Rounds:
    """Loop iterations, as asyncio.run's teardown needs them.

    MicroPython's run queue is one FIFO with no iteration boundary, where
    asyncio runs in iterations, and asyncio.run's teardown is made of them:
    `run_until_complete(main)` returns at the end of the iteration after the
    one in which main finished (its done callback's); `_cancel_all_tasks`
    then cancels the leftovers and runs the loop until their gather is done
    (the iteration after the last one finished runs gather's callback, the
    next its stop); then `shutdown_asyncgens()` and
    `shutdown_default_executor()` each run as a task, one iteration for the
    step, one for the stop.  A task that does nothing but `sleep(0)` is the
    first of every round: everything queued before its step is one
    iteration, so it takes each step at the start of the round where
    asyncio.run takes it, and keeps the trace as it stands when the last
    iteration is over.  It costs one task step per round, so bench runs go
    without it.
    """

    def __init__(self, trace):
        self.trace = trace
        self.round = 0
        self.main_done = None
        self.final = None

    async def tick(self):
        leftovers = None
        final_at = None
        while True:
            self.round += 1
            r = self.round
            if leftovers is None and self.main_done is not None and r >= self.main_done + 2:
                leftovers = _cancel_leftovers()
                if not leftovers:
                    final_at = r + 4        # two shutdown tasks, each with its stop
            elif leftovers and final_at is None and all(t.done() for t in leftovers):
                final_at = (r - 1) + 7      # the last ended in r - 1: gather, stop, shutdowns
            if final_at is not None and r >= final_at:
                self.final = list(self.trace)
                _drop_pending()
                return
            await asyncio.sleep(0)


def _drop_pending():
    """Empty the run queue, as closing a loop drops what is still scheduled.

    The clock's step is the running one, so it is not in the queue; a task
    still ready would otherwise run on, and one that never ends would keep
    MicroPython's task loop from ever returning to JavaScript.
    """
    queue = _core._task_queue
    while queue.peek():
        queue.pop()


def _cancel_leftovers():
    leftovers = [t for t in _tasks if not t.done()]
    for t in leftovers:
        t.cancel()
    return leftovers


async def _runner(main, trace, exact_teardown=True):
    rounds = _Rounds(trace) if exact_teardown else None

    async def main_then_mark():
        try:
            return await main()
        finally:
            if rounds is not None:
                rounds.main_done = rounds.round

    ticker = asyncio.create_task(rounds.tick()) if rounds else None
    task = asyncio.create_task(main_then_mark())
    _tasks.append(task)
    uncaught = None
    try:
        await task
    except BaseException as exc:  # CancelledError is a BaseException here too
        uncaught = exc
    if ticker is not None:
        # asyncio.run's teardown, round for round (_Rounds).
        await ticker
        trace = rounds.final
    else:
        # Bench runs: cancel what is still pending, wait for it.
        leftovers = _cancel_leftovers()
        for t in leftovers:
            try:
                await t
            except BaseException:
                pass
    if uncaught is not None:
        trace.append("uncaught " + describe(uncaught))
    return trace


def _latency_clock_us():
    if _perf is not None:
        return _perf.now() * 1000.0
    return time.ticks_us()


async def latency(request):
    """The reply to a latency request: how late asyncio.sleep(d) wakes, in us."""
    reply = {"id": request.get("id")}
    spec = request.get("latency")
    if not isinstance(spec, dict):
        spec = {}
    delays = spec.get("delays_ms", list(LATENCY_DELAYS_MS))
    samples = spec.get("samples", 100)
    if not (isinstance(delays, list) and delays and isinstance(samples, int)
            and 1 <= samples <= 10000):
        reply["error"] = "latency needs delays_ms (a list) and samples (1 to 10000)"
        return reply
    asyncio.new_event_loop()
    late = []
    for _ in range(5):
        await asyncio.sleep(0)
    for d in delays:
        row = []
        for _ in range(samples):
            t0 = _latency_clock_us()
            await asyncio.sleep(d / 1000)
            row.append(round(_latency_clock_us() - t0 - d * 1000, 1))
        late.append(row)
    reply["latency"] = {"delays_ms": delays, "samples": samples, "late_us": late,
                        "clock": "js.performance.now" if _perf is not None
                        else "time.ticks_us"}
    return reply


async def answer(text):
    """The reply line (a JSON string) to one request line."""
    try:
        request = decode_request(text)
    except ValueError as exc:
        return bad_request_line(exc)
    if "latency" in request and "program" not in request:
        return json.dumps(await latency(request))
    reply = {"id": request.get("id"), "case": request.get("case")}
    try:
        asyncio.new_event_loop()
        del _tasks[:]
        g, trace, state = prepare(request)
        started = time.ticks_us()
        runner = asyncio.create_task(
            _runner(g["main"], trace, request.get("bench") is not True))
        reply["trace"] = await runner
        if state["exceeded"]:
            del reply["trace"]
            raise CaseError(state["exceeded"])
        if request.get("bench") is True:
            reply["elapsed_ns"] = time.ticks_diff(time.ticks_us(), started) * 1000
    except CaseError as exc:
        reply["error"] = str(exc)
    except Exception as exc:
        reply["error"] = "adapter: " + describe(exc)
    del _tasks[:]
    return json.dumps(reply)


# Last: from here on the case programs see only the case language's builtins.
_shadow_builtins()
