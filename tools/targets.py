"""loopspec targets: the reference model against its performance targets.

Usage: targets.py [--bench FILE] [--floor FILE] [--memory FILE]
                  [--conformance-seconds S] [--fuzz-count N] [--json FILE]
                  [--no-conformance] [--no-callgrind] [--quiet]

Every target, as a ratio or a figure measured on this machine (never a
timed test; a missed target is reported, not an error):

  - each case of cases/bench/ at least 5x faster on the model than on
    cpython-3.11 in the same `loopspec bench` run (aim: 10x);
  - the sleep(0) switch within 5x of the C floor's ring variant
    (model/build/floor, `make floor`), and at least 30x faster than
    cpython-3.11;
  - one million tasks pending on one future: at most 256 MiB peak resident
    (`loopspec-model run`), at most 256 bytes per pending task
    (`loopspec-model bench`);
  - `loopspec fuzz --impl model`: at least 1,000 programs per second;
  - the model's per-case overhead in `loopspec run` (a request's round trip
    through the model adapter for a case that logs one line): at most 0.3 ms;
  - `make conformance` (every implementation installed) within 60 s;

and where the time goes in the case furthest from its target: instructions
per operation and the functions they run in (valgrind's callgrind).

A figure not given as a file (the report passes its own) is measured here:
--bench runs `loopspec bench --impl model,cpython-3.11 cases/bench`, one
implementation at a time, rounds interleaved; --floor runs the C floor;
--memory runs the million-task case; --conformance-seconds times the run
`make conformance` makes (--no-conformance leaves it out).  Says what it
measures on stderr (--quiet: nothing).  Prints the table;
--json FILE writes it with the figures.  Exit 0 when the figures were
measured, 1 when one could not be, 2 on bad usage.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import cli
from plotdata import load_json

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"
LOOPSPEC = os.path.join(ROOT, "harness", "loopspec")
MODEL = os.path.join(ROOT, "model", "loopspec-model")
FLOOR = os.path.join(ROOT, "model", "build", "floor")
TRIVIAL = os.path.join(ROOT, "cases", "await", "inline-before-task.case")

CASE_SPEEDUP = 5          # each benchmark case against cpython-3.11
CASE_SPEEDUP_AIM = 10
FLOOR_RATIO = 5           # the sleep(0) switch against the C floor's ring
SWITCH_SPEEDUP = 30       # the sleep(0) switch against cpython-3.11
MILLION = 1000000
MILLION_BYTES = 256 * 1024 * 1024
TASK_BYTES = 256
FUZZ_RATE = 1000          # programs per second
OVERHEAD_MS = 0.3
CONFORMANCE_S = 60
# The earlier absolute targets of the switch and of a task's round trip.
SWITCH_NS = 50
CREATE_TASK_NS = 150

MILLION_CASE = """---
title: one million tasks pending on one future, then released (tools/targets.py)
source: cases/bench/pending-tasks.case with N = 1000000
bench: 1000000
timeout: 600
---
N = 1000000

async def waiter(f):
    return await f

async def main():
    f = Future()
    tasks = [create_task(waiter(f)) for i in range(N)]
    await sleep(0)
    f.set_result(1)
    done = await gather(*tasks)
    log(len(done), sum(done))

expect:
    1000000 1000000
"""


QUIET = []


def say(text):
    if not QUIET:
        print(text, file=sys.stderr, flush=True)


def run(argv, timeout):
    """(exit status or None on timeout, stdout, seconds)."""
    started = time.monotonic()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        return proc.returncode, proc.stdout, time.monotonic() - started
    except subprocess.TimeoutExpired:
        return None, "", time.monotonic() - started


# -- the measurements ----------------------------------------------------------------

def measure_bench(out):
    """`loopspec bench --impl model,cpython-3.11 cases/bench` into `out`."""
    status, _, _ = run([PYTHON, LOOPSPEC, "bench", "--impl", "model,cpython-3.11", "--repeat", "5",
                        "--json", out, os.path.join(ROOT, "cases", "bench")], 3600)
    return load_json(out) if status == 0 else None


def measure_floor():
    if not os.access(FLOOR, os.X_OK):
        return None
    status, out, _ = run([FLOOR, "--json", "--repeat", "7"], 300)
    entries = []
    for line in out.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            pass
    return {"floor": entries} if status == 0 and entries else None


def peak_rss_of(argv, timeout):
    """(exit status, peak resident set in bytes, seconds, stdout) of one process."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                status = -1
                break
            time.sleep(0.05)
        proc.returncode = 0  # reaped by wait4
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    code = os.waitstatus_to_exitcode(status) if status >= 0 else None
    return code, usage.ru_maxrss * 1024, time.monotonic() - started, text


def measure_memory(workdir):
    """One million tasks pending on one future on the model: the peak RSS of
    `loopspec-model run`, and `loopspec-model bench`'s bytes per task."""
    os.makedirs(workdir, exist_ok=True)
    case = os.path.join(workdir, "million-pending-tasks.case")
    with open(case, "w", encoding="utf-8") as f:
        f.write(MILLION_CASE)
    _, base_rss, _, _ = peak_rss_of([MODEL, "run", TRIVIAL], 60)
    status, rss, secs, out = peak_rss_of([MODEL, "run", case], 600)
    doc = {"tasks": MILLION, "peak_rss_bytes": rss, "baseline_rss_bytes": base_rss,
           "run_seconds": round(secs, 2), "trace": out.strip().splitlines()[-3:]}
    b_status, b_out, _ = run([MODEL, "bench", "--json", "--repeat", "1", case], 600)
    try:
        doc["bench"] = json.loads(b_out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        doc["bench"] = None
    doc["ok"] = status == 0 and out.strip() == "%d %d" % (MILLION, MILLION)
    return doc


def measure_fuzz(count):
    """`loopspec fuzz --impl model`'s programs per second."""
    with tempfile.TemporaryDirectory(prefix="loopspec-targets-") as tmp:
        out = os.path.join(tmp, "fuzz.json")
        status, _, _ = run([PYTHON, LOOPSPEC, "fuzz", "--impl", "model", "--count", str(count),
                            "--seed", "1", "--json", out, "--out", tmp], 600)
        doc = load_json(out)
    if status != 0 or not doc:
        return None
    return {"programs": doc.get("programs"), "seconds": doc.get("seconds"),
            "programs_per_second": doc.get("programs_per_second")}


def measure_overhead(requests=500):
    """The mean round trip, in ms, of a request through the model adapter (as
    `loopspec run` sends it) for a case that logs one line."""
    sys.path.insert(0, os.path.join(ROOT, "harness"))
    from casekit import adapter, cases, impls
    impl = impls.registry()["model"]
    case = cases.parse(TRIVIAL)
    proc = adapter.AdapterProcess(impl.name, impl.argv)
    try:
        proc.ensure_ready()
        for _ in range(20):   # warm-up
            proc.request(case.id, case.program, case.program_line, impl.profile, 30, path=TRIVIAL)
        started = time.perf_counter()
        for _ in range(requests):
            reply = proc.request(case.id, case.program, case.program_line, impl.profile, 30,
                                 path=TRIVIAL)
        elapsed = time.perf_counter() - started
    finally:
        proc.close()
    if "trace" not in reply:
        return None
    return {"requests": requests, "ms_per_case": round(1000.0 * elapsed / requests, 4)}


def measure_conformance():
    """The seconds of the run `make conformance` makes."""
    with tempfile.TemporaryDirectory(prefix="loopspec-targets-") as tmp:
        status, _, secs = run([PYTHON, LOOPSPEC, "run", "--impl", "all",
                               "--json", os.path.join(tmp, "c.json"),
                               "--junit", os.path.join(tmp, "c.xml"),
                               os.path.join(ROOT, "cases")], 1800)
    return round(secs, 1) if status in (0, 1) else None


def callgrind_ir(argv, out):
    """(total instructions, [(share of instructions, function)]) of one run
    under callgrind, or None."""
    status, _, _ = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + argv, 1200)
    if status != 0:
        return None
    status, text, _ = run(["callgrind_annotate", out], 120)
    total, funcs = None, []
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.*)", line)
        if not m:
            continue
        count = int(m.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in m.group(3):
            total = count
        else:
            where = m.group(3).split(" [")[0]
            name = where.rsplit(":", 1)[-1]
            funcs.append((float(m.group(2)), name))
    return (total, funcs) if total else None


def where_time_goes(case_id, ops):
    """Instructions per operation of a benchmark case on the model and the
    functions they run in: callgrind on the case, less a trivial case's run
    (start-up and compiling the prelude)."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        return {"case": case_id, "error": "valgrind is not installed (`make deps` installs it)"}
    path = os.path.join(ROOT, "cases", case_id + ".case")
    with tempfile.TemporaryDirectory(prefix="loopspec-targets-") as tmp:
        case = callgrind_ir([MODEL, "run", path], os.path.join(tmp, "case.out"))
        base = callgrind_ir([MODEL, "run", TRIVIAL], os.path.join(tmp, "base.out"))
    if not case or not base:
        return {"case": case_id, "error": "callgrind did not run"}
    per_op = (case[0] - base[0]) / float(ops)
    return {"case": case_id, "ops": ops, "instructions_per_op": round(per_op),
            "instructions": case[0], "baseline_instructions": base[0],
            "functions": [{"share": s, "function": f} for s, f in case[1][:8]],
            "command": "valgrind --tool=callgrind model/loopspec-model run cases/%s.case"
                       % case_id}


# -- the table -----------------------------------------------------------------------

def fmt_ratio(x):
    return "%.1fx" % x if x < 100 else "{:,.0f}x".format(x)


def fmt_ns(v):
    return "{:,.0f}".format(v) if v >= 1000 else ("%.1f" % v if v >= 10 else "%.2f" % v)


def fmt_mib(b):
    return "%.0f MiB" % (b / 1024.0 / 1024.0)


def bench_medians(bench):
    return {(e["case"], e["impl"]): e["ns_per_op"] for e in (bench or {}).get("bench", [])}


def floor_ns(floor, variant="ring"):
    for e in (floor or {}).get("floor", []):
        if e.get("variant") == variant:
            return e["ns_per_op"]["median"]
    return None


def spread(s):
    return "±%.0f%%" % (50.0 * (s["max"] - s["min"]) / s["median"]) if s.get("median") else ""


def rows(fig):
    """[{what, target, measured, met, note}] from the figures."""
    out = []

    def add(what, target, measured, met, note="", key=None):
        out.append({"what": what, "target": target, "measured": measured,
                    "met": met, "note": note, "key": key})

    def missed(by):
        return "misses by %s" % fmt_ratio(by)

    med = bench_medians(fig.get("bench"))
    cases = sorted({c for c, i in med if i == "model"})
    for case in cases:
        m, c = med.get((case, "model")), med.get((case, "cpython-3.11"))
        if not m or not c:
            add("`%s` against cpython-3.11" % case, ">= %dx faster" % CASE_SPEEDUP, "-", None,
                "not measured on both", key=case)
            continue
        speed = c["median"] / m["median"]
        note = "" if speed >= CASE_SPEEDUP else missed(CASE_SPEEDUP / speed)
        if speed >= CASE_SPEEDUP and speed < CASE_SPEEDUP_AIM:
            note = "the aim is %dx" % CASE_SPEEDUP_AIM
        add("`%s` against cpython-3.11" % case, ">= %dx faster" % CASE_SPEEDUP,
            "%s faster (%s ns %s; %s ns %s)" % (fmt_ratio(speed), fmt_ns(m["median"]), spread(m),
                                               fmt_ns(c["median"]), spread(c)),
            speed >= CASE_SPEEDUP, note, key=case)
    sw = med.get(("bench/sleep0-switch", "model"))
    sw_cp = med.get(("bench/sleep0-switch", "cpython-3.11"))
    fl = floor_ns(fig.get("floor"))
    if sw and fl:
        r = sw["median"] / fl
        add("`sleep(0)` switch against the C floor (ring)", "<= %dx the floor" % FLOOR_RATIO,
            "%s the floor (%s ns against %s ns)" % (fmt_ratio(r), fmt_ns(sw["median"]), fmt_ns(fl)),
            r <= FLOOR_RATIO, "" if r <= FLOOR_RATIO else missed(r / FLOOR_RATIO), key="floor")
    else:
        add("`sleep(0)` switch against the C floor (ring)", "<= %dx the floor" % FLOOR_RATIO,
            "-", None, "not measured")
    if sw and sw_cp:
        s = sw_cp["median"] / sw["median"]
        add("`sleep(0)` switch against cpython-3.11", ">= %dx faster" % SWITCH_SPEEDUP,
            "%s faster" % fmt_ratio(s), s >= SWITCH_SPEEDUP,
            "" if s >= SWITCH_SPEEDUP else missed(SWITCH_SPEEDUP / s), key="bench/sleep0-switch")
    mem = fig.get("memory") or {}
    rss = mem.get("peak_rss_bytes") if mem.get("ok") else None
    add("one million tasks pending on one future: peak RSS", "<= %s" % fmt_mib(MILLION_BYTES),
        fmt_mib(rss) if rss else "-", None if rss is None else rss <= MILLION_BYTES,
        "" if rss is None or rss <= MILLION_BYTES else missed(rss / float(MILLION_BYTES)),
        key="memory")
    per = (mem.get("bench") or {}).get("rss_bytes_per_op") if mem.get("ok") else None
    add("bytes per pending task", "<= %d B" % TASK_BYTES, "%.0f B" % per if per else "-",
        None if per is None else per <= TASK_BYTES,
        "" if per is None or per <= TASK_BYTES else missed(per / TASK_BYTES), key="memory")
    fz = (fig.get("fuzz") or {}).get("programs_per_second")
    add("`loopspec fuzz --impl model`", ">= {:,} programs/s".format(FUZZ_RATE),
        "{:,.0f} programs/s".format(fz) if fz else "-", None if fz is None else fz >= FUZZ_RATE,
        "" if fz is None or fz >= FUZZ_RATE else missed(FUZZ_RATE / fz), key="fuzz")
    ov = (fig.get("overhead") or {}).get("ms_per_case")
    add("the model's per-case overhead in `loopspec run`", "<= %.1f ms" % OVERHEAD_MS,
        "%.3f ms" % ov if ov else "-", None if ov is None else ov <= OVERHEAD_MS,
        "" if ov is None or ov <= OVERHEAD_MS else missed(ov / OVERHEAD_MS), key="overhead")
    cs = fig.get("conformance_seconds")
    add("`make conformance`, every implementation", "<= %d s" % CONFORMANCE_S,
        "%.1f s" % cs if cs else "-", None if cs is None else cs <= CONFORMANCE_S,
        "" if cs is None or cs <= CONFORMANCE_S else missed(cs / CONFORMANCE_S),
        key="conformance")
    if sw:
        add("`sleep(0)` switch (earlier target)", "<= %d ns" % SWITCH_NS,
            "%s ns" % fmt_ns(sw["median"]), sw["median"] <= SWITCH_NS,
            "" if sw["median"] <= SWITCH_NS else missed(sw["median"] / SWITCH_NS),
            key="bench/sleep0-switch")
    ct = med.get(("bench/await-create-task", "model"))
    if ct:
        add("`await create_task(c())` (earlier target)", "<= %d ns" % CREATE_TASK_NS,
            "%s ns" % fmt_ns(ct["median"]), ct["median"] <= CREATE_TASK_NS,
            "" if ct["median"] <= CREATE_TASK_NS else missed(ct["median"] / CREATE_TASK_NS),
            key="bench/await-create-task")
    return out


# What would close each missed target: what the model spends there, and the
# remedy, by the key of its rows (a benchmark case's id, or a kind).
CLOSING = {
    "bench/direct-await":
        "**A direct `await c()`**: the model interprets about 450 instructions per "
        "operation (callgrind on `cases/bench/direct-await.case`, as above): eleven dispatches (the `for` loop, the call, the "
        "callee's two instructions, the sum), a frame taken from the pool and given back, "
        "and the loop's bookkeeping (the step budget, the collector's safe point); CPython "
        "3.11's own `await` of a coroutine is a frame push in C. What would close it: "
        "superinstructions for call-then-await and for a `for` over a `range`, a "
        "register-based instruction set (fewer stack moves per operation), and frames "
        "carved from a per-task stack.",
    "bench/queue-ping-pong":
        "**Queue ping-pong**: each round trip runs the prelude's transliteration of "
        "`queues.py` (`put`, `get`, `_wakeup_next`, a deque, a future per waiter) as "
        "case-language code, so it gains exactly what the interpreter gains: the remedies "
        "of the direct await close it too.",
    "floor":
        "**The C floor**: the floor calls one C function through a pointer per switch; the "
        "model interprets the `ping` loop's bytecode, then runs one iteration of the loop "
        "(a handle, the current task, its context, the task's step). Within 5x means about "
        "22 ns per switch: a step handle inside the task (no allocation), and the "
        "interpreter's remedies for the loop body.",
    "bench/sleep0-switch":
        "**The `sleep(0)` switch**: see the C floor; every instruction saved in the "
        "interpreter or the loop's step counts here.",
    "memory":
        "**Memory**: each pending task holds its task object (200 B), its coroutine frame "
        "(128 B: an 80 B header, its local and its stack), its context (32 B), the "
        "handle of its first step (80 B, alive for every task created before the loop "
        "runs), its slot in the future's callback array (32 B, the array doubling as it "
        "grows) and the program's list entries (16 B each: the list of tasks, gather's "
        "children and results). What would close it: a task's first step queued without "
        "a handle of its own, the future fields a pending task does not use (its result, "
        "its cancel message) out of line, and 8-byte values (NaN-boxing) in every slot.",
    "fuzz":
        "**The fuzzer's rate**: the model's part is small (a request costs about 0.15 ms "
        "since the prelude is compiled once per process); the rest is the harness's "
        "Python, now in worker processes on both cores: generating and rendering a "
        "program takes about 0.5 ms, and a third of the programs are generated again "
        "because the model finds them unfit (four in five of those because two timers "
        "fall due in the same millisecond, an order real loops do not fix), and each fit "
        "program is run twice on the model (the fitness run, then through the "
        "implementation's adapter). What would close it: a generator that never draws two "
        "timers due together (it would change the program each seed makes, so the "
        "recorded campaigns would no longer replay) and a cheaper generator.",
    "conformance":
        "**The conformance run**: the slowest implementations (PyPy, the Pyodide builds "
        "in Node) set its length; see `loopspec run -v` for each one's time.",
}


def closing(rs):
    """What would close the missed targets: one paragraph per cause."""
    texts = []
    for r in rs:
        text = CLOSING.get(r.get("key")) if r.get("met") is False else None
        if text and text not in texts:
            texts.append(text)
    return texts


def slowest_case(bench):
    """(case id without 'bench/', ops) of the case with the smallest speed-up
    against cpython-3.11, or None."""
    med = bench_medians(bench)
    worst = None
    for (case, impl), m in med.items():
        c = med.get((case, "cpython-3.11"))
        if impl != "model" or not c:
            continue
        speed = c["median"] / m["median"]
        if worst is None or speed < worst[0]:
            worst = (speed, case)
    if not worst:
        return None
    ops = (bench or {}).get("ops", {}).get(worst[1])
    if not ops:
        with open(os.path.join(ROOT, "cases", worst[1] + ".case"), encoding="utf-8") as f:
            m = re.search(r"^bench:\s*(\d+)", f.read(), re.M)
        ops = int(m.group(1)) if m else None
    return worst[1], ops


def table(rs):
    lines = ["%-48s %-22s %-54s %-4s %s" % ("what", "target", "measured", "met", "note")]
    for r in rs:
        met = "-" if r["met"] is None else ("yes" if r["met"] else "no")
        lines.append("%-48s %-22s %-54s %-4s %s" % (r["what"].replace("`", ""), r["target"],
                                                     r["measured"], met, r["note"]))
    return "\n".join(lines)


def where_text(w):
    if not w:
        return ""
    if w.get("error"):
        return "Where the time goes (%s): %s." % (w["case"], w["error"])
    funcs = ", ".join("%s %.0f%%" % (f["function"], f["share"])
                      for f in w["functions"][:6] if f["share"] >= 1)
    return ("Where the time goes in `%s` (the case furthest from its target): %s instructions "
            "per operation (`%s`, less a trivial case's run: start-up and the prelude), in %s."
            % (w["case"], "{:,}".format(w["instructions_per_op"]), w["command"], funcs))


def main(argv):
    parsed = cli.parse(argv, __doc__, "targets.py",
                       values=("--bench", "--floor", "--memory", "--conformance-seconds",
                               "--fuzz-count", "--json"),
                       flags=("--no-conformance", "--no-callgrind", "--quiet"), positionals=False)
    if isinstance(parsed, int):
        return parsed
    opts, _ = parsed
    if "--quiet" in opts:
        QUIET.append(True)
    if not os.access(MODEL, os.X_OK):
        print("targets.py: no model at %s: run `make model`" % MODEL, file=sys.stderr)
        return 2
    fig = {}
    with tempfile.TemporaryDirectory(prefix="loopspec-targets-") as tmp:
        if "--bench" in opts:
            fig["bench"] = load_json(opts["--bench"])
        else:
            say("targets: loopspec bench --impl model,cpython-3.11 cases/bench")
            fig["bench"] = measure_bench(os.path.join(tmp, "bench.json"))
        if "--floor" in opts:
            fig["floor"] = load_json(opts["--floor"])
        else:
            say("targets: the C floor")
            fig["floor"] = measure_floor()
        if "--memory" in opts:
            fig["memory"] = load_json(opts["--memory"])
        else:
            say("targets: one million pending tasks")
            fig["memory"] = measure_memory(tmp)
    say("targets: loopspec fuzz --impl model")
    fig["fuzz"] = measure_fuzz(int(opts.get("--fuzz-count", "3000")))
    say("targets: the per-case overhead")
    try:
        fig["overhead"] = measure_overhead()
    except Exception as exc:  # the adapter could not start: the figure is missing
        say("targets: overhead: %s" % exc)
        fig["overhead"] = None
    if "--conformance-seconds" in opts:
        fig["conformance_seconds"] = float(opts["--conformance-seconds"])
    elif "--no-conformance" not in opts:
        say("targets: loopspec run --impl all cases")
        fig["conformance_seconds"] = measure_conformance()
    worst = slowest_case(fig["bench"])
    if worst and worst[1] and "--no-callgrind" not in opts:
        say("targets: callgrind on %s" % worst[0])
        fig["where"] = where_time_goes(*worst)
    rs = rows(fig)
    doc = {"targets": rs, "figures": {k: v for k, v in fig.items() if k not in ("bench", "floor")},
           "met": sum(1 for r in rs if r["met"]), "measured": sum(1 for r in rs if r["met"] is not None)}
    print(table(rs))
    w = where_text(fig.get("where"))
    if w:
        print()
        print(w)
    if "--json" in opts:
        tmp = opts["--json"] + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.replace(tmp, opts["--json"])
    complete = fig["bench"] and fig["memory"] and fig["fuzz"] and fig["overhead"]
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
