"""loopspec bench-model: time the reference model on the benchmark cases.

Usage: bench_model.py [--model PATH] [--repeat K] [CASE...]

Runs each benchmark case (default: cases/bench/*.case) in its own
`loopspec-model bench --json` process, so each case's peak memory is its
own, and prints ns per operation (median, min, max over K runs after a
warm-up; default 5) and the resident-set growth per operation, with the
targets the model aims at. Exit 0 when every case ran (missing a target is
reported, not an error: this is a benchmark, not a test).
"""
import glob
import json
import os
import subprocess
import sys

import cli

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# case id -> (what it measures, target ns/op or None, target bytes/op or None)
TARGETS = {
    "bench/sleep0-switch": ("sleep(0) switch between two tasks", 50, None),
    "bench/await-create-task": ("await create_task(c())", 150, None),
    "bench/direct-await": ("direct await c()", 20, None),
    "bench/pending-tasks": ("a task pending on a future", None, 256),
}


def main(argv):
    parsed = cli.parse(argv, __doc__, "bench_model.py", values=("--model", "--repeat"))
    if isinstance(parsed, int):
        return parsed
    opts, cases = parsed
    model = opts.get("--model", os.path.join(ROOT, "model", "loopspec-model"))
    repeat = opts.get("--repeat", "5")
    if not cases:
        cases = sorted(glob.glob(os.path.join(ROOT, "cases", "bench", "*.case")))
    if not os.access(model, os.X_OK):
        print(f"bench_model.py: no model at {model}: run `make model`", file=sys.stderr)
        return 2
    print(f"{'case':28} {'measures':36} {'ns/op':>9} {'min':>9} {'max':>9} {'B/op':>7}  target")
    rc = 0
    for path in cases:
        try:
            proc = subprocess.run([model, "bench", "--json", "--repeat", repeat, path],
                                  capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            print(f"{path}: timed out", file=sys.stderr)
            rc = 1
            continue
        if proc.returncode != 0 or not proc.stdout.strip():
            print(f"{path}: {proc.stderr.strip() or 'no result'}", file=sys.stderr)
            rc = 1
            continue
        for line in proc.stdout.splitlines():
            r = json.loads(line)
            what, t_ns, t_b = TARGETS.get(r["case"], ("", None, None))
            ns = r["ns_per_op"]
            target = []
            if t_ns is not None:
                target.append(f"<= {t_ns} ns: {'met' if ns['median'] <= t_ns else 'missed x%.1f' % (ns['median'] / t_ns)}")
            if t_b is not None:
                b = r["rss_bytes_per_op"]
                target.append(f"<= {t_b} B: {'met' if b <= t_b else 'missed x%.1f' % (b / t_b)}")
            print(f"{r['case']:28} {what:36} {ns['median']:9.1f} {ns['min']:9.1f} {ns['max']:9.1f} "
                  f"{r['rss_bytes_per_op']:7.0f}  {'; '.join(target)}")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
