#!/usr/bin/env python3
"""A fake implementation for the fuzzer's tests: the model with one bug.

It speaks the adapter protocol (ADAPTERS.md) and answers each request with
the trace of `loopspec-model run --profile P PATH`, except that when a line
of that trace starts with the marker (default `h0 `: the helper coroutine
h0 logged), the first two lines of the trace are swapped.  `loopspec fuzz`
must find that divergence and shrink it to a small program.

usage: swap_adapter.py [--model PATH] [--marker TEXT]
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))),
                     "model", "loopspec-model")


def main(argv):
    model, marker = MODEL, "h0 "
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--model":
            model = args.pop(0)
        elif arg == "--marker":
            marker = args.pop(0)
    out = sys.stdout
    out.write(json.dumps({"ready": True, "impl": "swap", "version": "0",
                          "features": ["*"], "profile": "asyncio"}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        reply = {"id": request.get("id"), "case": request.get("case")}
        proc = subprocess.run([model, "run", "--profile", request.get("profile", "asyncio"),
                               request["path"]], capture_output=True)
        if proc.returncode != 0:
            reply["error"] = proc.stderr.decode("utf-8", "replace").strip()
        else:
            trace = proc.stdout.decode("utf-8", "replace").split("\n")
            if trace and trace[-1] == "":
                trace.pop()
            if len(trace) >= 2 and any(t.startswith(marker) for t in trace):
                trace[0], trace[1] = trace[1], trace[0]
            reply["trace"] = trace
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
