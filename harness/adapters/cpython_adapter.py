#!/usr/bin/env python3
"""Serve loopspec cases on this Python's asyncio over JSON lines.

Reads one JSON request per line on stdin, writes one JSON reply per line on
stdout (see ADAPTERS.md beside this file).  Runs under CPython 3.11+, PyPy
3.9+ and with uvloop.

Options:
  --pure     pure-Python tasks and futures: hide the C `_asyncio` module
  --loop MODULE:ATTR
             run every case on the loop `MODULE.ATTR()` returns (a class or
             any callable returning a new event loop: `uvloop:new_event_loop`,
             `gbulb:GLibEventLoop`, a module of your own on this
             interpreter's path); the default is `asyncio:new_event_loop`
  --runner MODULE:ATTR
             run each case's `main()` with `MODULE.ATTR(coro)`, a function
             like `asyncio.run`, for loops that cannot be made on their own
             (`loopspec_loops:trio_asyncio_run`, `ferro_io:run`)
  --task-factory MODULE:ATTR
             install this task factory on every loop
             (`asyncio:eager_task_factory`)
  --uvloop   the same as --loop uvloop:new_event_loop
  --eager    the same as --task-factory asyncio:eager_task_factory (3.12+)
  --virtual  run every case on the virtual-clock loop the Pyodide adapter
             uses (to compare it with the real loop on this interpreter)
  --python X.Y.Z
             refuse to start (exit 3) unless this interpreter's Python
             version is exactly X.Y.Z, so that an implementation id never
             runs on the wrong interpreter
  --probe    check the options (the modules import, the attributes are
             callable, the loop factory returns an event loop), print the
             ready line and exit 0, without reading requests

A --loop, --runner or --task-factory that cannot be used (the module does
not import, the attribute is missing or not callable, the factory does not
return an event loop) stops the adapter before its ready line with a
message on stderr and exit status 2.

The ready line reports the Python version (`python`) and the profile that
version claims (casekit/profiles.py: `for_version`).
"""

import argparse
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.path.dirname(HERE)


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pure", action="store_true",
                        help="hide the C _asyncio module (pure-Python tasks)")
    parser.add_argument("--loop", metavar="MODULE:ATTR",
                        help="a callable returning a new event loop")
    parser.add_argument("--runner", metavar="MODULE:ATTR",
                        help="a function like asyncio.run that runs main()")
    parser.add_argument("--task-factory", metavar="MODULE:ATTR",
                        help="a task factory installed on every loop")
    parser.add_argument("--uvloop", action="store_true",
                        help="use uvloop.new_event_loop()")
    parser.add_argument("--eager", action="store_true",
                        help="install asyncio.eager_task_factory (3.12+)")
    parser.add_argument("--probe", action="store_true",
                        help="check the options, print the ready line, exit")
    parser.add_argument("--virtual", action="store_true",
                        help="use the Pyodide adapter's virtual-clock loop")
    parser.add_argument("--python", metavar="X.Y.Z",
                        help="refuse to start unless this Python is exactly X.Y.Z")
    return parser.parse_args(argv)


def claimed_profile(eager):
    """The profile this interpreter's version claims (casekit/profiles.py)."""
    sys.path.insert(0, HARNESS)
    try:
        from casekit import profiles
    finally:
        sys.path.remove(HARNESS)
    return profiles.for_version(platform.python_version(), eager=eager)


def open_channel():
    """Keep the real stdout for replies; send fd 1 to stderr from now on.

    Anything written to fd 1 later (by C code, by a child process, by a
    print that escapes the per-case redirection) then cannot corrupt the
    JSON channel.
    """
    sys.stdout.flush()
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    return requests, channel


class BadOption(Exception):
    """An option naming something that cannot be used: exit 2."""


def resolve(option, spec):
    """The object MODULE:ATTR names (ATTR may be dotted); raise BadOption."""
    import importlib
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise BadOption("%s %s: expected MODULE:ATTR (e.g. uvloop:new_event_loop)"
                        % (option, spec))
    try:
        obj = importlib.import_module(module_name)
    except Exception as exc:  # noqa: B902 - an ImportError, or the module's own
        raise BadOption("%s %s: module %s does not import on %s (Python %s): %s: %s"
                        % (option, spec, module_name, sys.executable,
                           platform.python_version(), type(exc).__name__, exc))
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise BadOption("%s %s: %s has no attribute %r"
                            % (option, spec, getattr(obj, "__name__", module_name), part))
        obj = getattr(obj, part)
    if not callable(obj):
        raise BadOption("%s %s: %s is a %s, not callable"
                        % (option, spec, attr, type(obj).__name__))
    return obj


def module_version(spec):
    """The version of the distribution or module MODULE:ATTR comes from, or None."""
    top = spec.partition(":")[0].split(".")[0]
    module = sys.modules.get(top)
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        from importlib import metadata
        for dist in metadata.packages_distributions().get(top, ()):
            return metadata.version(dist)
    except Exception:  # noqa: B902 - no metadata: no version
        pass
    return None


def check_loop(factory, spec, asyncio):
    """Make one loop with `factory` and close it; raise BadOption unless it
    is an event loop."""
    try:
        loop = factory()
    except Exception as exc:  # noqa: B902 - whatever the factory raises
        raise BadOption("--loop %s: calling it failed: %s: %s"
                        % (spec, type(exc).__name__, exc))
    if not isinstance(loop, asyncio.AbstractEventLoop):
        raise BadOption("--loop %s returned %s, not an event loop "
                        "(an asyncio.AbstractEventLoop)" % (spec, type(loop).__name__))
    try:
        loop.close()
    except Exception:  # noqa: B902 - closing a fresh loop may fail: no matter
        pass
    return type(loop)


def build_server(args):
    """The prelude's Server for this interpreter and these options; raise
    BadOption."""
    if args.pure:
        sys.modules["_asyncio"] = None
    import asyncio  # noqa: E402 - must follow the _asyncio switch
    sys.path.insert(0, HERE)
    import prelude  # noqa: E402

    extra = {}
    loop_spec = args.loop or ("uvloop:new_event_loop" if args.uvloop else None)
    factory_spec = args.task_factory or (
        "asyncio:eager_task_factory" if args.eager else None)
    chosen = [name for name, on in (("--loop", loop_spec), ("--virtual", args.virtual),
                                    ("--runner", args.runner)) if on]
    if len(chosen) > 1:
        raise BadOption("%s exclude each other" % " and ".join(chosen))
    runner = None
    if args.virtual:
        import virtual_loop
        factory = virtual_loop.VirtualClockLoop
        extra["loop"] = "virtual"
    elif loop_spec:
        factory = resolve("--loop", loop_spec)
        loop_type = check_loop(factory, loop_spec, asyncio)
        top = loop_spec.partition(":")[0].split(".")[0]
        extra["loop"] = "uvloop" if loop_spec == "uvloop:new_event_loop" else loop_spec
        extra["loop_class"] = "%s.%s" % (loop_type.__module__, loop_type.__qualname__)
        version = module_version(loop_spec)
        if version:
            extra["loop_version"] = version
            if top == "uvloop":
                extra["uvloop"] = version
    elif args.runner:
        runner = resolve("--runner", args.runner)
        factory = asyncio.new_event_loop
        extra["loop"] = "runner " + args.runner
        version = module_version(args.runner)
        if version:
            extra["loop_version"] = version
    else:
        # asyncio's loop: a case that deadlocks is an error at once, not a
        # timeout (prelude.guard_deadlocks).
        factory = prelude.guard_deadlocks(asyncio.new_event_loop)
        extra["loop"] = "asyncio"
    task_factory = None
    eager = False
    if factory_spec == "asyncio:eager_task_factory":
        if not hasattr(asyncio, "eager_task_factory"):
            raise BadOption("--task-factory asyncio:eager_task_factory needs Python "
                            "3.12+ (this is %s)" % platform.python_version())
        eager = True
    elif factory_spec:
        task_factory = resolve("--task-factory", factory_spec)
    if runner is not None and (eager or task_factory):
        raise BadOption("--task-factory cannot be installed by loopspec under --runner")
    if factory_spec:
        extra["task_factory"] = factory_spec
    if task_factory is not None:
        base = factory

        def factory():
            loop = base()
            loop.set_task_factory(task_factory)
            return loop
    c_task = getattr(asyncio.tasks, "_CTask", None)
    extra["tasks"] = "c" if c_task is not None and asyncio.Task is c_task else "python"
    extra["profile"] = claimed_profile(eager)
    impl = sys.implementation.name
    version = "%d.%d.%d" % sys.implementation.version[:3]
    # The virtual-clock loop polls no descriptor: no I/O there.
    return prelude.Server(impl, version, factory, eager=eager, extra=extra,
                          real_time=not args.virtual, runner=runner, io=not args.virtual)


def main(argv=None):
    """Start, print the ready line, then answer requests until EOF."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.python and platform.python_version() != args.python:
        sys.stderr.write("cpython_adapter: %s is Python %s, not %s (--python %s): "
                         "refusing to start\n" % (sys.executable, platform.python_version(),
                                                   args.python, args.python))
        return 3
    if args.eager and sys.version_info < (3, 12):
        sys.stderr.write("cpython_adapter: --eager needs Python 3.12+\n")
        return 2
    import json
    if args.probe:
        try:
            server = build_server(args)
        except BadOption as exc:
            sys.stderr.write("cpython_adapter: %s\n" % exc)
            return 2
        sys.stdout.write(json.dumps(server.ready()) + "\n")
        return 0
    requests, channel = open_channel()
    try:
        server = build_server(args)
    except BadOption as exc:
        sys.stderr.write("cpython_adapter: %s\n" % exc)
        return 2
    channel.write(json.dumps(server.ready()) + "\n")
    channel.flush()
    for line in requests:
        if not line.strip():
            continue
        channel.write(server.handle_line(line) + "\n")
        channel.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
