"""Run loopspec cases on Pyodide's own WebLoop (asyncio on the JS event loop).

Pyodide's `WebLoop` has no run loop of its own: `call_soon` and
`call_later` hand every callback to the JavaScript event loop (a macrotask,
`setTimeout` or its zero-delay equivalent), and `run_until_complete` cannot
block.  So a case runs the way Pyodide programs do: the adapter (Node) awaits
a Python task, and everything happens on Node's event loop.

For each request, `WebLoopServer.answer(line)` makes a fresh `WebLoop`,
creates `main()` as a task on it, waits for it from a second task (the
runner), then does what `asyncio.run` does after `main` ends, iteration for
iteration (see `_Clock`).  The scheduling itself is entirely WebLoop's and
Node's.  The builtins, the output capture and the reply format are the
shared prelude's.
"""

import asyncio
import json
import time

import prelude
from prelude import CaseError, Captured, compile_program, describe, make_globals
from pyodide.webloop import WebLoop


class CaseLoop(WebLoop):
    """A WebLoop that can drop its pending handles, as closing a loop does.

    WebLoop hands every handle to Node at once, so nothing is left for
    `close()` to drop: the handles are kept here (while `handles` is a
    list) and cancelled when the run is over.
    """

    def __init__(self):
        super().__init__()
        self.handles = None

    def call_later(self, delay, callback, *args, context=None):
        h = super().call_later(delay, callback, *args, context=context)
        if self.handles is not None:
            self.handles.append(h)
        return h

    def drop_pending(self):
        for h in self.handles or ():
            h.cancel()
        self.handles = None


class _Clock:
    """Loop iterations on WebLoop, for an exact `asyncio.run` teardown.

    WebLoop has no iterations: every handle is a Node macrotask in one FIFO.
    asyncio.run's teardown is made of iteration boundaries, though:
    `run_until_complete` returns at the end of the iteration in which its
    future's done callback (`stop`) runs, then `_cancel_all_tasks` cancels
    the leftovers and runs the loop until they are gathered, then
    `shutdown_asyncgens()` and `shutdown_default_executor()` each run as a
    task until done, and the loop is closed with whatever is still queued.
    A task that only does `sleep(0)` is the first handle of every round:
    what is queued ahead of its step is one iteration, so it takes each
    teardown step where asyncio.run would, between two iterations.  It
    costs one task step per round, so bench runs go without it.
    """

    def __init__(self, loop, trace, exclude):
        self.loop = loop
        self.trace = trace
        self.exclude = exclude  # tasks that are the adapter's, not the program's
        self.round = 0
        self.step_at = None
        self.final = None

    def stop_after_this_round(self, _future=None):
        """As run_until_complete's stop: the next step starts the next round."""
        self.step_at = self.round + 1

    def _cancel_all_tasks(self):
        to_cancel = [t for t in asyncio.all_tasks(self.loop)
                     if not t.done() and t not in self.exclude]
        if not to_cancel:
            return None
        for t in to_cancel:
            t.cancel()
        return asyncio.gather(*to_cancel, return_exceptions=True)

    def _shutdown_asyncgens(self):
        return self.loop.create_task(self.loop.shutdown_asyncgens())

    def _shutdown_default_executor(self):
        return self.loop.create_task(self.loop.shutdown_default_executor())

    async def tick(self):
        steps = [self._cancel_all_tasks, self._shutdown_asyncgens,
                 self._shutdown_default_executor]
        while True:
            self.round += 1
            while self.step_at is not None and self.round >= self.step_at:
                if not steps:
                    self.final = list(self.trace)
                    self.loop.drop_pending()
                    return
                fut = steps.pop(0)()
                if fut is None:  # nothing to cancel: no loop run
                    continue
                self.step_at = None
                fut.add_done_callback(self.stop_after_this_round)
            await asyncio.sleep(0)


class WebLoopServer(prelude.Server):
    """Answers protocol requests on a fresh WebLoop each."""

    def __init__(self, impl, version, eager=False, extra=None):
        super().__init__(impl, version, WebLoop, eager=eager, extra=extra)

    def ready(self):
        """The ready line: WebLoop cannot install a task factory in this
        Pyodide (its create_task calls a helper 3.14 removed), so no eager."""
        info = super().ready()
        info["features"] = [f for f in info["features"] if f != "eager"]
        return info

    def answer(self, text):
        """Start answering one request line; a task whose result is the reply line."""
        loop = CaseLoop()  # a fresh loop; it registers itself as the running loop
        return loop.create_task(self._answer(text))

    async def _answer(self, text):
        try:
            request = prelude.decode_request(text)
        except ValueError as exc:
            return prelude.bad_request_line(exc)
        if "latency" in request and "program" not in request:
            return json.dumps(await self._latency(request))
        reply = {"id": request.get("id"), "case": request.get("case")}
        timing = {} if request.get("bench") is True else None
        out = err = ""
        try:
            program, line, profile, filename = prelude.request_program(request)
            if self.eager or prelude.is_eager(profile):
                raise CaseError("Pyodide's WebLoop cannot run eager tasks: with a task "
                                "factory its create_task calls asyncio.tasks."
                                "_set_task_name, which Python 3.14 no longer has")
            limits = prelude.trace_limits(request)
            code = compile_program(program, line, filename)
            with Captured() as cap:
                try:
                    reply["trace"] = await run_program(code, filename, timing, limits)
                finally:
                    out, err = cap.out.getvalue(), cap.err.getvalue()
        except Exception as exc:
            prelude.set_error(reply, exc)
        return json.dumps(prelude.finish_reply(reply, timing, out, err))

    async def _latency(self, request):
        """A latency request (ADAPTERS.md), measured on this WebLoop."""
        reply = {"id": request.get("id")}
        try:
            delays, samples = prelude.latency_params(request.get("latency"))
            result = await prelude.measure_latency(delays, samples)
            result["clock"] = "time.monotonic_ns"
            reply["latency"] = result
        except Exception as exc:
            prelude.set_error(reply, exc)
        return reply


async def run_program(code, filename, timing=None, limits=None):
    """Run compiled `code` on the running WebLoop; return the trace list.

    With a dict `timing`, its `elapsed_ns` is set to the time from creating
    main()'s task to the end of the teardown, on `time.monotonic_ns()`.
    `limits` is (max lines, max bytes) of the trace, as prelude.run_program's.
    """
    trace = prelude.Trace(limits or (prelude.MAX_TRACE_LINES, prelude.MAX_TRACE_BYTES))
    g = make_globals(trace)
    # all_tasks() as the program sees it: without the adapter's own tasks
    # (the one answering this request, and the clock), which asyncio.run
    # does not have.
    adapter_tasks = {asyncio.current_task()}
    g["all_tasks"] = lambda loop=None: {
        t for t in asyncio.all_tasks(loop) if t not in adapter_tasks}
    try:
        exec(code, g)
    except Exception as exc:
        raise CaseError("%s:%s: at top level: %s" % (
            filename, prelude.case_line(exc, filename), describe(exc)))
    except prelude.TraceLimit:
        trace.check()
    main = g.get("main")
    if main is None:
        raise CaseError("%s: the program defines no main()" % filename)
    coro = main()
    if not asyncio.iscoroutine(coro):
        raise CaseError("%s: main() is not a coroutine function" % filename)
    loop = asyncio.get_running_loop()
    runner = asyncio.current_task()
    clock = ticker = None
    if timing is None:
        loop.handles = []
        clock = _Clock(loop, trace, adapter_tasks)
        # An explicit name takes no number from the Task-N counter.
        ticker = loop.create_task(clock.tick(), name="loopspec-clock")
        adapter_tasks.add(ticker)
    started = time.monotonic_ns()
    task = loop.create_task(coro)
    uncaught = None
    try:
        await task
    except BaseException as exc:  # noqa: B902 - CancelledError too
        uncaught = exc
    if clock is not None:
        # Woken by main's completion like run_until_complete's stop.
        clock.stop_after_this_round()
        await ticker
        trace.check()
        trace = clock.final
    else:
        # Bench runs: asyncio.run's teardown without its iterations.
        leftovers = [t for t in asyncio.all_tasks(loop)
                     if t is not runner and not t.done()]
        for t in leftovers:
            t.cancel()
        if leftovers:
            await asyncio.gather(*leftovers, return_exceptions=True)
        await loop.shutdown_asyncgens()
    if timing is not None:
        timing["elapsed_ns"] = time.monotonic_ns() - started
    if isinstance(trace, prelude.Trace):
        trace.check()
    if uncaught is not None:
        trace.append("uncaught " + describe(uncaught))
    return list(trace)
