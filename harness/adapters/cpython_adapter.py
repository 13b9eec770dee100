#!/usr/bin/env python3
"""Serve loopspec cases on this Python's asyncio over JSON lines.

Reads one JSON request per line on stdin, writes one JSON reply per line on
stdout (see ADAPTERS.md beside this file).  Runs under CPython 3.11+, PyPy
3.9+ and with uvloop.

Options:
  --pure     pure-Python tasks and futures: hide the C `_asyncio` module
  --uvloop   run every case on `uvloop.new_event_loop()`
  --eager    install `asyncio.eager_task_factory` on every loop (3.12+)
  --virtual  run every case on the virtual-clock loop the Pyodide adapter
             uses (to compare it with the real loop on this interpreter)
  --python X.Y.Z
             refuse to start (exit 3) unless this interpreter's Python
             version is exactly X.Y.Z, so that an implementation id never
             runs on the wrong interpreter

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
    parser.add_argument("--uvloop", action="store_true",
                        help="use uvloop.new_event_loop()")
    parser.add_argument("--eager", action="store_true",
                        help="install asyncio.eager_task_factory (3.12+)")
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


def build_server(args):
    """The prelude's Server for this interpreter and these options."""
    if args.pure:
        sys.modules["_asyncio"] = None
    import asyncio  # noqa: E402 - must follow the _asyncio switch
    sys.path.insert(0, HERE)
    import prelude  # noqa: E402

    extra = {}
    if args.uvloop and args.virtual:
        raise SystemExit("cpython_adapter: --uvloop and --virtual exclude each other")
    if args.virtual:
        import virtual_loop
        factory = virtual_loop.VirtualClockLoop
        extra["loop"] = "virtual"
    elif args.uvloop:
        import uvloop
        factory = uvloop.new_event_loop
        extra["loop"] = "uvloop"
        extra["uvloop"] = uvloop.__version__
    else:
        factory = asyncio.new_event_loop
        extra["loop"] = "asyncio"
    c_task = getattr(asyncio.tasks, "_CTask", None)
    extra["tasks"] = "c" if c_task is not None and asyncio.Task is c_task else "python"
    extra["profile"] = claimed_profile(args.eager)
    impl = sys.implementation.name
    version = "%d.%d.%d" % sys.implementation.version[:3]
    return prelude.Server(impl, version, factory, eager=args.eager, extra=extra,
                          real_time=not args.virtual)


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
    requests, channel = open_channel()
    server = build_server(args)
    import json
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
