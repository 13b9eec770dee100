#!/usr/bin/env python3
"""Serve loopspec cases on the reference model over JSON lines.

One `loopspec-model serve` process answers the requests (ADAPTERS.md): the
adapter passes each request line on and its reply back, so a case costs a
run, not a process (about 0.1 ms instead of 3 to 7 ms).  A malformed case,
a run the model cannot finish (CPython would wait forever) or a budget
(steps, memory, the trace limit) comes back as an `error` reply with the
model's message.  A request's `limits` (ADAPTERS.md: the trace limits and
the adapter's memory cap) go to the server with it, which runs the case
under them.  If the server dies (out of memory), the request gets an error
reply and the next one a new server.  Standard library only.

A request with `"bench": true` (ADAPTERS.md) also runs

    loopspec-model bench --json --repeat 1 --profile PROFILE PATH

which compiles the case once, runs it once to warm up and once timed
(the run only, on the monotonic clock); the reply's `elapsed_ns` is that
run's time and `rss_bytes_per_op` the model's memory figure.  The trace comes
from `run`, once per case file and profile (the model is deterministic; a
file changed since is run again).  A latency request gets an error reply:
the model's loop runs on a virtual clock.

usage: model_adapter.py [--model PATH] [MODEL OPTION ...]
  --model PATH   the model binary (default: model/loopspec-model beside harness/)
  the model's budget options (--max-steps N, --max-memory MIB,
  --max-trace-lines N, --max-trace-bytes N) are passed on to `serve`
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from casekit import profiles  # noqa: E402
from casekit.modelserver import ModelServer  # noqa: E402

DEFAULT_MODEL = os.path.join(os.path.dirname(os.path.dirname(HERE)), "model",
                             "loopspec-model")
DEFAULT_PROFILE = profiles.normalize("asyncio")
RUN_LIMIT = 3600  # seconds; the harness enforces the case's own timeout


BUDGETS = ("--max-steps", "--max-memory", "--max-trace-lines", "--max-trace-bytes")


def parse_args(argv):
    """(model path, budget options for serve); exit 2 on bad usage."""
    model, budgets = DEFAULT_MODEL, []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            print(__doc__.strip())
            sys.exit(0)
        elif arg == "--model" and args:
            model = args.pop(0)
        elif arg.startswith("--model="):
            model = arg.partition("=")[2]
        elif arg in BUDGETS and args:
            budgets += [arg, args.pop(0)]
        else:
            sys.stderr.write("model_adapter: unknown argument %r\n" % arg)
            sys.exit(2)
    return model, budgets


_traces = {}  # (path, profile, mtime) -> the model's reply to `run`, for bench requests


def bench(model, path, profile):
    """(elapsed ns, rss bytes per op) of one timed run, or raise RuntimeError."""
    try:
        proc = subprocess.run([model, "bench", "--json", "--repeat", "1",
                               "--profile", profile, path],
                              stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=RUN_LIMIT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError("cannot run the model's bench: %s" % exc)
    err = proc.stderr.decode("utf-8", "replace").strip()
    lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(err or "the model's bench exited with status %d and no result"
                           % proc.returncode)
    try:
        data = json.loads(lines[-1])
        elapsed = int(round(float(data["ns_per_op"]["median"]) * int(data["ops"])))
        return elapsed, data.get("rss_bytes_per_op")
    except (ValueError, KeyError, TypeError) as exc:
        raise RuntimeError("unreadable output of the model's bench: %s" % exc)


def handle(model, request):
    """A reply dict for one decoded request."""
    if "latency" in request and "program" not in request:
        return {"id": request.get("id"),
                "error": "the model's loop runs on a virtual clock: sleep() takes "
                         "no real time, there is no lateness to measure"}
    reply = {"id": request.get("id"), "case": request.get("case")}
    if request.get("bench") is True and isinstance(request.get("path"), str):
        path, profile = request["path"], request.get("profile", DEFAULT_PROFILE)
        try:
            key = (path, profile, os.stat(path).st_mtime_ns)
        except OSError:
            key = None
        if key is not None and profiles.known(profile):
            if key not in _traces:
                first = handle(model, dict(request, bench=False))
                if "trace" not in first:
                    return first
                _traces[key] = first
            reply.update(_traces[key])
            reply["id"] = request.get("id")
            try:
                reply["elapsed_ns"], rss = bench(model, path, profile)
                if rss is not None:
                    reply["rss_bytes_per_op"] = rss
            except RuntimeError as exc:
                reply.pop("trace", None)
                reply["error"] = str(exc)
            return reply
    profile = request.get("profile", DEFAULT_PROFILE)
    if not isinstance(profile, str) or not profiles.known(profile):
        reply["error"] = "unknown profile %r (profiles: %s)" % (
            profile, ", ".join(profiles.NAMES))
        return reply
    try:
        return SERVER.ask(dict(request, profile=profiles.normalize(profile)))
    except (OSError, RuntimeError, ValueError) as exc:
        reply["error"] = "cannot run the model: %s" % exc
        return reply


SERVER = None


def main(argv=None):
    """Print the ready line, then answer requests until end of input."""
    global SERVER
    model, budgets = parse_args(sys.argv[1:] if argv is None else argv)
    if not os.path.exists(model):
        sys.stderr.write("model_adapter: %s is missing: run `make model`\n" % model)
        return 1
    SERVER = ModelServer(model, budgets)
    ready = {"ready": True, "impl": "loopspec-model", "version": "model",
             "python": None, "eager": False, "profile": DEFAULT_PROFILE,
             "profiles": list(profiles.NAMES), "loop": "model", "tasks": "model",
             # The model rejects what it does not run yet before a case gets
             # here, so it claims every feature (casekit/features.py).
             "features": ["*"]}
    out = sys.stdout
    out.write(json.dumps(ready) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
        except ValueError as exc:
            reply = {"id": None, "error": "bad request: %s" % exc}
        else:
            reply = handle(model, request)
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
