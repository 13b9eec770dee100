#!/usr/bin/env python3
"""Serve loopspec cases on the reference model over JSON lines.

The model reads case files itself, so each request must carry `path`, the
case file (ADAPTERS.md); the adapter runs

    loopspec-model run --profile PROFILE PATH

for it (with the request's `limits` as --max-trace-lines, --max-trace-bytes
and --max-memory) and replies with the lines the model printed as the trace.  Exit
status 3 (the model cannot finish the run: CPython would wait forever, or
the step budget ran out) and 2 (a malformed case) become `error` replies
with the model's message.  Standard library only.

A request with `"bench": true` (ADAPTERS.md) also runs

    loopspec-model bench --json --repeat 1 --profile PROFILE PATH

which compiles the case once, runs it once to warm up and once timed
(the run only, on the monotonic clock); the reply's `elapsed_ns` is that
run's time and `rss_bytes_per_op` the model's memory figure.  The trace comes
from `run`, once per case file and profile (the model is deterministic; a
file changed since is run again).  A latency request gets an error reply:
the model's loop runs on a virtual clock.

usage: model_adapter.py [--model PATH]
  --model PATH   the model binary (default: model/loopspec-model beside harness/)
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from casekit import profiles  # noqa: E402

DEFAULT_MODEL = os.path.join(os.path.dirname(os.path.dirname(HERE)), "model",
                             "loopspec-model")
DEFAULT_PROFILE = profiles.normalize("asyncio")
RUN_LIMIT = 3600  # seconds; the harness enforces the case's own timeout


def parse_args(argv):
    """The model path; exit 2 on bad usage."""
    model = DEFAULT_MODEL
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
        else:
            sys.stderr.write("model_adapter: unknown argument %r\n" % arg)
            sys.exit(2)
    return model


_traces = {}  # (path, profile, mtime) -> the model's reply to `run`, for bench requests
TRACE_BEFORE = 50  # trace lines an error reply quotes, at most


def model_limits(request):
    """The model's options for a request's `limits` (ADAPTERS.md): the trace
    limits as they are, and a memory budget of half the process's cap (the
    model counts live memory after a collection; the cap counts everything),
    so that the model's own clear error comes before the cap.  ValueError
    for a malformed `limits`."""
    spec = request.get("limits")
    if spec is None:
        return []
    if not isinstance(spec, dict):
        raise ValueError("limits must be an object")
    out = []
    for key, option in (("max_trace_lines", "--max-trace-lines"),
                        ("max_trace_bytes", "--max-trace-bytes")):
        value = spec.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError("limits.%s must be a positive integer" % key)
        out += [option, str(value)]
    memory = spec.get("max_memory_mib")
    if isinstance(memory, int) and not isinstance(memory, bool) and memory > 0:
        out += ["--max-memory", str(max(16, memory // 2))]
    return out


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
    path = request.get("path")
    profile = request.get("profile", DEFAULT_PROFILE)
    if not isinstance(path, str) or not path:
        reply["error"] = "the model adapter needs the case file: request has no 'path'"
        return reply
    if not isinstance(profile, str) or not profiles.known(profile):
        reply["error"] = "unknown profile %r (profiles: %s)" % (
            profile, ", ".join(profiles.NAMES))
        return reply
    try:
        limits = model_limits(request)
    except ValueError as exc:
        reply["error"] = str(exc)
        return reply
    try:
        proc = subprocess.run([model, "run", "--profile", profile] + limits + [path],
                              stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=RUN_LIMIT)
    except OSError as exc:
        reply["error"] = "cannot run the model: %s" % exc
        return reply
    except subprocess.TimeoutExpired:
        reply["error"] = "the model ran for more than %ds" % RUN_LIMIT
        return reply
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace").strip()
    trace = out.split("\n")
    if trace and trace[-1] == "":
        trace.pop()
    if proc.returncode == 0:
        reply["trace"] = trace
        if err:
            reply["stderr"] = err + "\n"
    elif proc.returncode == 3:
        message = err or "the model could not finish the run (exit 3)"
        if trace and "trace limit" not in message:
            if len(trace) > TRACE_BEFORE:
                trace = ["[... %d lines]" % (len(trace) - TRACE_BEFORE)] + trace[-TRACE_BEFORE:]
            message += "; trace before: %s" % trace
        reply["error"] = message
    else:
        reply["error"] = err or "the model exited with status %d" % proc.returncode
    return reply


def main(argv=None):
    """Print the ready line, then answer requests until end of input."""
    model = parse_args(sys.argv[1:] if argv is None else argv)
    if not os.path.exists(model):
        sys.stderr.write("model_adapter: %s is missing: run `make model`\n" % model)
        return 1
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
