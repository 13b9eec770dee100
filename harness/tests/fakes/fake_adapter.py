#!/usr/bin/env python3
"""A fake adapter for the harness's tests: misbehaves on request.

It speaks the protocol of ADAPTERS.md.  Its trace for a program is the
string arguments of the program's `log("...")` calls, in order, so a case
whose expect block lists them passes.  What it does depends on the last
hyphen-separated word of the case id (`r/c-crash` crashes):

  hang       never replies
  crash      kills itself with SIGKILL
  exit       exits with status 3 without replying
  garbage    replies with a line that is not JSON
  noeol      writes half a reply without a newline, then hangs
  wrongcase  replies with the right id for another case
  wrongid    replies with another id
  error      an error reply
  flaky      alternates between the trace and the trace reversed
  reversed   the trace reversed (a FAIL)
  notime     a bench request gets no elapsed_ns

A request with `"bench": true` gets `elapsed_ns`: 1000000 times the
request's id (so the runs differ and the statistics can be checked).  A
latency request gets, for each delay d, the lateness d*10+1 .. d*10+samples us.

Options: --bad-ready (the ready line is garbage), --features A,B (the
ready line's features; default '*'), --log FILE (append each case id
received), --profile P, --swap-first (the first two lines of every trace
swapped: another implementation that orders differently).
"""

import json
import os
import re
import signal
import sys
import time

LOG_RE = re.compile(r'log\("([^"]*)"\)')


def main(argv):
    features, log_file, profile, bad_ready, swap = ["*"], None, "asyncio", False, False
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--bad-ready":
            bad_ready = True
        elif arg == "--features":
            features = [f for f in args.pop(0).split(",") if f]
        elif arg == "--log":
            log_file = args.pop(0)
        elif arg == "--profile":
            profile = args.pop(0)
        elif arg == "--swap-first":
            swap = True
    out = sys.stdout
    if bad_ready:
        out.write("this is not a ready line\n")
        out.flush()
        time.sleep(30)
        return 1
    out.write(json.dumps({"ready": True, "impl": "fake", "version": "0",
                          "features": features, "profile": profile}) + "\n")
    out.flush()
    count = 0
    for line in sys.stdin:
        request = json.loads(line)
        if "latency" in request and "program" not in request:
            spec = request["latency"]
            rows = [[d * 10 + k + 1 for k in range(spec["samples"])]
                    for d in spec["delays_ms"]]
            out.write(json.dumps({"id": request["id"], "latency": {
                "delays_ms": spec["delays_ms"], "samples": spec["samples"],
                "late_us": rows, "clock": "fake"}}) + "\n")
            out.flush()
            continue
        case = request["case"]
        if log_file:
            with open(log_file, "a") as f:
                f.write(case + "\n")
        mode = case.rsplit("/", 1)[-1].split("-")[-1]
        trace = LOG_RE.findall(request.get("program", ""))
        if swap and len(trace) >= 2:
            trace[0], trace[1] = trace[1], trace[0]
        reply = {"id": request["id"], "case": case, "trace": trace}
        if request.get("bench") is True and mode != "notime":
            reply["elapsed_ns"] = 1000000 * request["id"]
        if mode == "hang":
            time.sleep(3600)
        elif mode == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        elif mode == "exit":
            sys.exit(3)
        elif mode == "garbage":
            out.write("Traceback (most recent call last): oops\n")
            out.flush()
            continue
        elif mode == "noeol":
            out.write('{"id": %d, "case": "%s", "tra' % (request["id"], case))
            out.flush()
            time.sleep(3600)
        elif mode == "wrongcase":
            reply["case"] = "some/other-case"
        elif mode == "wrongid":
            reply["id"] = request["id"] + 100
        elif mode == "error":
            reply = {"id": request["id"], "case": case, "error": "it went wrong"}
        elif mode == "flaky":
            count += 1
            if count % 2 == 0:
                reply["trace"] = trace[::-1]
        elif mode == "reversed":
            reply["trace"] = trace[::-1]
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
