"""Run loopspec cases on Pyodide's own WebLoop (asyncio on the JS event loop).

Pyodide's `WebLoop` has no run loop of its own: `call_soon` and
`call_later` hand every callback to the JavaScript event loop (a macrotask,
`setTimeout` or its zero-delay equivalent), and `run_until_complete` cannot
block.  So a case runs the way Pyodide programs do: the adapter (Node) awaits
a Python task, and everything happens on Node's event loop.

For each request, `WebLoopServer.answer(line)` makes a fresh `WebLoop`,
creates `main()` as a task on it, waits for it from a second task (the runner), then does
what `asyncio.run` does after `main` ends: cancels every task still
pending, waits for them, shuts down async generators.  The scheduling
itself is entirely WebLoop's and Node's.  The builtins, the output capture
and the reply format are the shared prelude's.
"""

import asyncio
import json
import time

import prelude
from prelude import CaseError, Captured, compile_program, describe, make_globals
from pyodide.webloop import WebLoop


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
        loop = WebLoop()  # a fresh loop; it registers itself as the running loop
        return loop.create_task(self._answer(text))

    async def _answer(self, text):
        try:
            request = json.loads(text)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
        except ValueError as exc:
            return json.dumps({"id": None, "error": "bad request: %s" % exc})
        if "latency" in request and "program" not in request:
            return json.dumps(await self._latency(request))
        reply = {"id": request.get("id"), "case": request.get("case")}
        timing = {} if request.get("bench") is True else None
        out = err = ""
        try:
            program = request.get("program")
            if not isinstance(program, str):
                raise CaseError("request has no program text")
            line = request.get("line", 1)
            if not isinstance(line, int) or line < 1:
                raise CaseError("line must be a positive integer")
            profile = request.get("profile", "asyncio")
            if profile not in prelude.PROFILES:
                raise CaseError("unknown profile %r" % (profile,))
            eager = self.eager or profile == "eager"
            if eager:
                raise CaseError("Pyodide's WebLoop cannot run eager tasks: with a task "
                                "factory its create_task calls asyncio.tasks."
                                "_set_task_name, which Python 3.14 no longer has")
            filename = "%s.case" % (request.get("case") or "<case>")
            code = compile_program(program, line, filename)
            with Captured() as cap:
                try:
                    reply["trace"] = await run_program(code, filename, timing)
                finally:
                    out, err = cap.out.getvalue(), cap.err.getvalue()
        except CaseError as exc:
            reply["error"] = str(exc)
        except Exception as exc:  # a fault of the runner itself
            reply["error"] = "adapter: " + describe(exc)
        return json.dumps(prelude.finish_reply(reply, timing, out, err))

    async def _latency(self, request):
        """A latency request (ADAPTERS.md), measured on this WebLoop."""
        reply = {"id": request.get("id")}
        try:
            delays, samples = prelude.latency_params(request.get("latency"))
            result = await prelude.measure_latency(delays, samples)
            result["clock"] = "time.monotonic_ns"
            reply["latency"] = result
        except CaseError as exc:
            reply["error"] = str(exc)
        except Exception as exc:
            reply["error"] = "adapter: " + describe(exc)
        return reply


async def run_program(code, filename, timing=None):
    """Run compiled `code` on the running WebLoop; return the trace list.

    With a dict `timing`, its `elapsed_ns` is set to the time from creating
    main()'s task to the end of the teardown, on `time.monotonic_ns()`.
    """
    trace = []
    g = make_globals(trace)
    try:
        exec(code, g)
    except Exception as exc:
        raise CaseError("%s:%s: at top level: %s" % (
            filename, prelude.case_line(exc, filename), describe(exc)))
    main = g.get("main")
    if main is None:
        raise CaseError("%s: the program defines no main()" % filename)
    coro = main()
    if not asyncio.iscoroutine(coro):
        raise CaseError("%s: main() is not a coroutine function" % filename)
    loop = asyncio.get_running_loop()
    runner = asyncio.current_task()
    started = time.monotonic_ns()
    task = loop.create_task(coro)
    uncaught = None
    try:
        await task
    except BaseException as exc:  # noqa: B902 - CancelledError too
        uncaught = exc
    # asyncio.run's teardown (runners._cancel_all_tasks), on this loop.
    leftovers = [t for t in asyncio.all_tasks(loop) if t is not runner and not t.done()]
    for t in leftovers:
        t.cancel()
    if leftovers:
        await asyncio.gather(*leftovers, return_exceptions=True)
    await loop.shutdown_asyncgens()
    if timing is not None:
        timing["elapsed_ns"] = time.monotonic_ns() - started
    if uncaught is not None:
        trace.append("uncaught " + describe(uncaught))
    return trace
