"""loopspec report: conformance, benchmarks, timer latency and plots, in one report.

Usage: make_report.py [--steps LIST | --skip LIST] [--results DIR]
                      [--repeat K] [--max-seconds S] [--jobs N]
                      [--samples N] [--hyperfine-runs N]

Runs each step below in order (every one by default; --steps or --skip
choose, e.g. `--steps render` rewrites the report from the results already
there), each as a subprocess with a time limit.  A step that fails is noted
in the report; the others still run.  Results go to DIR (default results/):

  model        the model on every case under every profile (tools/report.py):
               model.txt, model.json
  conformance  `harness/loopspec run --impl all cases`: conformance.json,
               conformance.xml, conformance.txt
  versions     how the CPython references' traces differ release after release,
               with the CPython change behind each (tools/versions.py):
               VERSIONS.md
  bench        `harness/loopspec bench --impl all` on cases/bench/ (K runs after
               a warm-up, default 5; at most S seconds of timed runs per case and
               implementation, default 4; N implementations at a time, default
               2): bench.json, bench.txt
  latency      `harness/loopspec latency` on the real-time loops (N samples per
               delay, default 100): latency.json, latency.txt
  floor        the C floor of a sleep(0) switch (model/build/floor --json,
               `make floor`): floor.json
  memory       one million tasks pending on one future, on the model: peak
               resident set of the whole process and bytes per task: memory.json
  targets      the model against its targets (tools/targets.py: the ratios of
               the bench step, the floor, the memory, the conformance step's
               time, and its own figures: the fuzzer's rate, the per-case
               overhead, callgrind on the case furthest from its target):
               targets.json, targets.txt
  hyperfine    whole-process time of the conformance run of each implementation
               (`hyperfine --export-json`, N runs each, default 2): hyperfine.json
  plots        gnuplot data and SVGs (tools/plotdata.py, plots/*.gp): plots/
  render       report.md and a self-contained report.html (plots inlined as SVG)

The report: the conformance matrix and pass rates per implementation and
area, the findings (FINDINGS.md when present, and the known divergences of
results/expectations/), the ordering diffs, the ns/op table with ratios to
the model and to the C floor, the model against its targets, timer latency,
whole-process times, the model's pass table, and the plots.  Prints the
closing line of the model's check (`N passed, N failed`).  Exit 0 when the
report was written, 1 when a step failed, 2 on bad usage.
"""
import datetime
import html
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "harness"))

import plotdata  # noqa: E402
import targets  # noqa: E402

PYTHON = "/usr/bin/python3"
LOOPSPEC = os.path.join(ROOT, "harness", "loopspec")
MODEL = os.path.join(ROOT, "model", "loopspec-model")
FLOOR = os.path.join(ROOT, "model", "build", "floor")
STEPS = ("model", "conformance", "versions", "bench", "latency", "floor", "memory",
         "targets", "hyperfine", "plots", "render")

STATUS_COLOURS = {"PASS": "#2ca02c", "FAIL": "#d62728", "UNSUPPORTED": "#d9d9d9",
                  "TIMEOUT": "#ff7f0e", "CRASH": "#9467bd", "ERROR": "#8c564b",
                  "FLAKY": "#f2c80f"}
CELL_TEXT = {"PASS": "ok", "FAIL": "FAIL", "UNSUPPORTED": "unsup", "TIMEOUT": "TIMEOUT",
             "CRASH": "CRASH", "ERROR": "ERROR", "FLAKY": "FLAKY"}
BENCH_WHAT = {
    "bench/direct-await": "direct `await c()`",
    "bench/sleep0-switch": "`sleep(0)` switch between two tasks",
    "bench/await-create-task": "`await create_task(c())`",
    "bench/spawn-then-await": "spawn N tasks, then await each",
    "bench/gather": "`gather` of 1000, per child",
    "bench/future-call-soon": "future resolved by `call_soon`, awaited",
    "bench/call-soon": "`call_soon` throughput, per callback",
    "bench/semaphore-bound": "`Semaphore(10)` bounding 1000 calls, per call",
    "bench/lock-handoff": "`Lock` hand-off between two tasks",
    "bench/queue-ping-pong": "`Queue` ping-pong, per round trip",
    "bench/pending-tasks": "tasks pending on one future, then released",
}



# -- small helpers -----------------------------------------------------------------

def write_atomic(path, text):
    """Every file of the report, without this machine's paths."""
    from casekit.report import scrub
    plotdata.write_atomic(path, scrub(text))


def load_json(path):
    return plotdata.load_json(path)


def say(text=""):
    print(text, flush=True)


def run_logged(argv, log_path, timeout, cwd=ROOT):
    """Run argv; its stdout and stderr go to log_path (atomically).

    Returns (exit status or None on timeout, seconds, output text)."""
    started = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
        status, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        status = None
        out = ((exc.stdout or b"").decode("utf-8", "replace") if isinstance(exc.stdout, bytes)
               else (exc.stdout or "")) + "\n[killed after %ds]\n" % timeout
    except OSError as exc:
        status, out = 127, "cannot run %s: %s\n" % (argv[0], exc)
    if log_path:
        write_atomic(log_path, out)
    return status, time.monotonic() - started, out


def fmt_ns(value):
    """ns for a table: 3 significant digits, thousands separated."""
    if value is None:
        return "-"
    if value >= 100:
        return "{:,.0f}".format(value)
    if value >= 10:
        return "%.1f" % value
    return "%.2f" % value


def fmt_ratio(value):
    if value is None:
        return "-"
    if value >= 100:
        return "%.0fx" % value
    if value >= 10:
        return "%.1fx" % value
    return "%.2fx" % value


def fmt_bytes(value):
    if value is None:
        return "-"
    if value >= 1024 * 1024:
        return "%.0f MiB" % (value / 1024.0 / 1024.0)
    if value >= 1024:
        return "%.1f KiB" % (value / 1024.0)
    return "%.0f B" % value


def fmt_us(value):
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return "{:,.0f}".format(value)
    return "%.1f" % value


# -- the steps ---------------------------------------------------------------------

class Context:
    """Options and the record of the steps (results/steps.json)."""

    def __init__(self, results, repeat=5, max_seconds=4.0, jobs=1, samples=100,
                 hyperfine_runs=2):
        self.results = results
        self.repeat = repeat
        self.max_seconds = max_seconds
        self.jobs = jobs
        self.samples = samples
        self.hyperfine_runs = hyperfine_runs
        self.steps = {}
        self.previous = {}

    def path(self, name):
        return os.path.join(self.results, name)

    def record(self, step, status, seconds, note=""):
        try:
            load = round(os.getloadavg()[0], 2)
        except OSError:
            load = None
        self.steps[step] = {"ok": status == 0, "status": status,
                            "seconds": round(seconds, 1), "note": note, "load": load}
        say("report: %-12s %s in %.0fs%s" % (step, "ok" if status == 0 else "FAILED",
                                           seconds, (": " + note) if note else ""))


def step_model(ctx):
    """The model's pass table (tools/report.py)."""
    status, secs, out = run_logged(
        [PYTHON, os.path.join(HERE, "report.py"), "--json", ctx.path("model.json")],
        ctx.path("model.txt"), 1800)
    ok = status in (0, 1) and os.path.exists(ctx.path("model.json"))
    last = out.strip().splitlines()[-1] if out.strip() else ""
    ctx.record("model", 0 if ok else (status or 1), secs, last)


def step_conformance(ctx):
    status, secs, out = run_logged(
        [PYTHON, LOOPSPEC, "run", "--impl", "all", "--json", ctx.path("conformance.json"),
         "--junit", ctx.path("conformance.xml"), os.path.join(ROOT, "cases")],
        ctx.path("conformance.txt"), 1800)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    # Exit 1 means a result differs from the expectation files: the report shows it.
    ok = status in (0, 1) and os.path.exists(ctx.path("conformance.json"))
    ctx.record("conformance", 0 if ok else (status or 1), secs,
               last + ("" if status != 1 else " (some results differ from the expectation files)"))


def step_versions(ctx):
    """VERSIONS.md from the conformance run (tools/versions.py)."""
    status, secs, out = run_logged(
        [PYTHON, os.path.join(HERE, "versions.py"), "--conformance", ctx.path("conformance.json"),
         "--out", ctx.path("VERSIONS.md")], ctx.path("versions.txt"), 600)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    ctx.record("versions", status if status is not None else 1, secs, last)


def step_bench(ctx):
    status, secs, out = run_logged(
        [PYTHON, LOOPSPEC, "bench", "--impl", "all", "--repeat", str(ctx.repeat),
         "--max-seconds", "%g" % ctx.max_seconds, "--jobs", str(ctx.jobs),
         "--json", ctx.path("bench.json"), os.path.join(ROOT, "cases", "bench")],
        ctx.path("bench.txt"), 3600)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    ctx.record("bench", status if status is not None else 1, secs, last)


def step_latency(ctx):
    status, secs, out = run_logged(
        [PYTHON, LOOPSPEC, "latency", "--samples", str(ctx.samples),
         "--json", ctx.path("latency.json")], ctx.path("latency.txt"), 1200)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    ctx.record("latency", status if status is not None else 1, secs, last)


def step_floor(ctx):
    if not os.access(FLOOR, os.X_OK):
        ctx.record("floor", 1, 0, "%s is missing: run `make floor`" % os.path.relpath(FLOOR, ROOT))
        return
    started = time.monotonic()
    doc = targets.measure_floor()
    if doc:
        write_atomic(ctx.path("floor.json"), json.dumps(doc, indent=1) + "\n")
    ctx.record("floor", 0 if doc else 1, time.monotonic() - started)


def step_memory(ctx):
    """One million pending tasks on the model: peak RSS, and bytes per task."""
    if not os.access(MODEL, os.X_OK):
        ctx.record("memory", 1, 0, "no model: run `make model`")
        return
    started = time.monotonic()
    doc = targets.measure_memory(os.path.join(ctx.results, "tmp", "cases", "bench"))
    write_atomic(ctx.path("memory.json"), json.dumps(doc, indent=1) + "\n")
    ctx.record("memory", 0 if doc["ok"] else 1, time.monotonic() - started,
               "peak RSS %s for %d tasks" % (fmt_bytes(doc["peak_rss_bytes"]), targets.MILLION))


def step_targets(ctx):
    """The model against its targets, from the other steps' figures and its own."""
    argv = [PYTHON, os.path.join(HERE, "targets.py"), "--bench", ctx.path("bench.json"),
            "--floor", ctx.path("floor.json"), "--memory", ctx.path("memory.json"),
            "--json", ctx.path("targets.json"), "--quiet"]
    conf = ctx.steps.get("conformance") or ctx.previous.get("conformance")
    if conf and conf.get("ok"):
        argv += ["--conformance-seconds", str(conf["seconds"])]
    else:
        argv += ["--no-conformance"]
    status, secs, out = run_logged(argv, ctx.path("targets.txt"), 1800)
    doc = load_json(ctx.path("targets.json")) or {}
    ctx.record("targets", status if status is not None else 1, secs,
               "%s of %s targets met" % (doc.get("met", "?"), doc.get("measured", "?")))


def step_hyperfine(ctx):
    exe = shutil.which("hyperfine")
    if not exe:
        ctx.record("hyperfine", 1, 0, "hyperfine is missing: `make deps` installs it")
        return
    sys.path.insert(0, os.path.join(ROOT, "harness"))
    from casekit import impls as registry
    names = [n for n, impl in registry.registry().items()
             if impl.conformance and not impl.unavailable()]
    argv = [exe, "--runs", str(ctx.hyperfine_runs), "--ignore-failure", "--style", "basic",
            "--shell", "none", "--export-json", ctx.path("hyperfine.json")]
    for name in names:
        argv += ["--command-name", name,
                 "%s harness/loopspec run --impl %s --expectations none cases" % (PYTHON, name)]
    status, secs, out = run_logged(argv, ctx.path("hyperfine.txt"), 3600)
    ctx.record("hyperfine", status if status is not None else 1, secs)


def step_plots(ctx):
    started = time.monotonic()
    try:
        made = plotdata.generate(ctx.results, ctx.path("plots"))
        ctx.record("plots", 0, time.monotonic() - started, "%d SVG files" % len(made))
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        ctx.record("plots", 1, time.monotonic() - started, str(exc))


def step_render(ctx):
    started = time.monotonic()
    md, page = render(ctx.results, getattr(ctx, "all_steps", ctx.steps))
    write_atomic(ctx.path("report.md"), md)
    write_atomic(ctx.path("report.html"), page)
    ctx.record("render", 0, time.monotonic() - started,
               "%s, %s" % (os.path.relpath(ctx.path("report.md")),
                           os.path.relpath(ctx.path("report.html"))))


# -- reading the results -----------------------------------------------------------

def bench_index(bench):
    """{(case, impl): median ns/op}."""
    return {(e["case"], e["impl"]): e["ns_per_op"]["median"]
            for e in (bench or {}).get("bench", [])}


def bench_spread(bench, case, impl):
    """'±4%': half the min-to-max range of the timed runs, against the median."""
    for e in (bench or {}).get("bench", []):
        if e["case"] == case and e["impl"] == impl:
            s = e["ns_per_op"]
            if s.get("median"):
                return "±%.0f%%" % (50.0 * (s["max"] - s["min"]) / s["median"])
    return ""


def bench_impls(bench):
    names = list((bench or {}).get("impls", {}).keys())
    for e in (bench or {}).get("bench", []):
        if e["impl"] not in names:
            names.append(e["impl"])
    return [n for n in names if any(e["impl"] == n for e in bench.get("bench", []))]


def latency_rows(entries, key, label):
    """Table rows of latency entries: implementation, `label(entry)`, and the
    quantiles of the summary under `key`, in microseconds."""
    rows = []
    for e in entries:
        s = e[key]
        rows.append([e["impl"], label(e), fmt_us(s["min"]), fmt_us(s["median"]),
                     fmt_us(s["p95"]), fmt_us(s["p99"]), fmt_us(s["max"])])
    return rows


def latency_notes(latency, late_us=500.0):
    """Plain statements on the latency medians: early wake-ups, and late ones
    (more than `late_us`)."""
    notes = []
    for e in latency.get("latency", []):
        med = e["late_us"]["median"]
        if med < 0:
            notes.append("%s wakes `sleep(%g ms)` %s µs early" % (e["impl"], e["delay_ms"],
                                                                fmt_us(-med)))
        elif med > late_us:
            notes.append("%s wakes `sleep(%g ms)` %s µs late" % (e["impl"], e["delay_ms"],
                                                               fmt_us(med)))
    return notes


def area_of(case_id):
    return case_id.split("/", 1)[0]


def conformance_tables(conf):
    """(per-implementation rows, per-area rows, area header) from conformance.json."""
    results = conf.get("results", [])
    impls = list((conf.get("impls") or {}).keys())
    for r in results:
        if r["impl"] not in impls:
            impls.append(r["impl"])
    skipped = conf.get("skipped", [])
    per_impl = []
    for name in impls:
        mine = [r for r in results if r["impl"] == name]
        counts = {}
        for r in mine:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        ran = len(mine) - counts.get("UNSUPPORTED", 0)
        passed = counts.get("PASS", 0)
        n_skip = sum(1 for s in skipped if (s["impl"] if isinstance(s, dict) else s[1]) == name)
        profile = ((conf.get("impls") or {}).get(name) or {}).get("profile", "")
        per_impl.append([name, profile, "%d/%d" % (passed, ran),
                         "%.0f%%" % (100.0 * passed / ran) if ran else "-",
                         str(counts.get("FAIL", 0)),
                         str(sum(counts.get(s, 0) for s in ("TIMEOUT", "CRASH", "ERROR", "FLAKY"))),
                         str(counts.get("UNSUPPORTED", 0)), str(n_skip)])
    areas = sorted({area_of(r["case"]) for r in results})
    per_area = []
    for a in areas:
        row = [a]
        for name in impls:
            rs = [r for r in results if r["impl"] == name and area_of(r["case"]) == a
                  and r["status"] != "UNSUPPORTED"]
            ok = sum(1 for r in rs if r["status"] == "PASS")
            row.append("%d/%d" % (ok, len(rs)) if rs else "-")
        per_area.append(row)
    return impls, per_impl, per_area


def known_divergences(conf):
    """Rows (case, impl, status, reason) of the results other than PASS and UNSUPPORTED."""
    rows = []
    for r in conf.get("results", []):
        if r["status"] in ("PASS", "UNSUPPORTED"):
            continue
        exp = r.get("expectation") or {}
        reason = exp.get("reason") or r.get("why") or r.get("error") or ""
        if r.get("unexpected"):
            reason = "NOT IN THE EXPECTATION FILES: " + reason
        rows.append((r["case"], r["impl"], r["status"], reason))
    return rows


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit = ""
    return {"cpu": cpu or platform.processor() or "unknown", "cores": os.cpu_count(),
            "system": "%s %s" % (platform.system(), platform.release()),
            "commit": commit}


# -- the document ------------------------------------------------------------------
# Blocks: ("h", level, text), ("p", text), ("table", header, rows),
# ("pre", text), ("svg", path relative to the results, caption),
# ("details", summary, [blocks]), ("md", markdown text), ("matrix", conf).
# Text may use `code`, **bold** and [text](link).

def build(results_dir, steps=None):
    """The report as a list of blocks."""
    conf = load_json(os.path.join(results_dir, "conformance.json")) or {}
    bench = load_json(os.path.join(results_dir, "bench.json")) or {}
    latency = load_json(os.path.join(results_dir, "latency.json")) or {}
    floor = load_json(os.path.join(results_dir, "floor.json")) or {}
    memory = load_json(os.path.join(results_dir, "memory.json")) or {}
    hyper = load_json(os.path.join(results_dir, "hyperfine.json")) or {}
    steps = steps if steps is not None else (
        load_json(os.path.join(results_dir, "steps.json")) or {}).get("steps", {})
    info = (load_json(os.path.join(results_dir, "steps.json")) or {}).get("machine") or machine()
    plots = os.path.join(results_dir, "plots")
    B = []
    B.append(("h", 1, "loopspec report"))
    when = (load_json(os.path.join(results_dir, "steps.json")) or {}).get("finished") or \
        datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    B.append(("p", "Written by `make report` (`tools/make_report.py`) on %s, commit `%s`, "
              "on %s (%s cores), %s. Every figure below comes from the files beside "
              "this report in `results/`." % (when, info.get("commit") or "?",
                                              info.get("cpu"), info.get("cores"),
                                              info.get("system"))))
    failed = [name for name, s in steps.items() if not s.get("ok")]
    if failed:
        B.append(("p", "**Steps that failed:** " + "; ".join(
            "`%s` (%s)" % (n, steps[n].get("note") or "exit %s" % steps[n].get("status"))
            for n in failed)))
    # Summary
    B.append(("h", 2, "At a glance"))
    glance = []
    if conf.get("results"):
        impls, per_impl, _ = conformance_tables(conf)
        glance.append("Conformance: %d cases on %d implementations; %s." % (
            len(conf.get("cases") or []), len(impls),
            ", ".join("%s %s" % (row[0], row[2]) for row in per_impl)))
    tdoc = load_json(os.path.join(results_dir, "targets.json")) or {}
    rows = tdoc.get("targets") or []
    if rows:
        glance.append("The model meets %d of its %d measured targets (details in "
                      "[the model against its targets](#the-model-against-its-targets))."
                      % (tdoc.get("met", 0), tdoc.get("measured", 0)))
    idx = bench_index(bench)
    sw, cp = idx.get(("bench/sleep0-switch", "model")), idx.get(("bench/sleep0-switch",
                                                                  "cpython-3.11"))
    if sw and cp:
        glance.append("A `sleep(0)` switch costs %s ns on the model, %s ns on cpython-3.11 "
                      "and %s ns in the C floor." % (fmt_ns(sw), fmt_ns(cp),
                                                    fmt_ns(targets.floor_ns(floor))))
    for text in glance:
        B.append(("p", text))

    # Conformance
    B.append(("h", 2, "Conformance"))
    if conf.get("results"):
        impls, per_impl, per_area = conformance_tables(conf)
        B.append(("p", "`harness/loopspec run --impl all cases`: each implementation against "
                  "the expect block of the profile it claims. Passed counts exclude "
                  "unsupported cases (a feature the implementation lacks); `not its profile` "
                  "counts cases whose `profiles:` leave it out. Full output: "
                  "[conformance.txt](conformance.txt), JSON: "
                  "[conformance.json](conformance.json), JUnit: "
                  "[conformance.xml](conformance.xml)."))
        B.append(("h", 3, "Pass rates per implementation"))
        B.append(("table", ["implementation", "profile", "passed", "rate", "FAIL",
                            "TIMEOUT/CRASH/ERROR/FLAKY", "unsupported", "not its profile"],
                  per_impl))
        B.append(("h", 3, "Pass rates per area"))
        B.append(("table", ["area"] + impls, per_area))
        B.append(("h", 3, "The matrix"))
        if os.path.exists(os.path.join(plots, "matrix.svg")):
            B.append(("svg", "plots/matrix.svg", "Every case (rows) on every implementation "
                      "(columns), coloured by status."))
        B.append(("details", "The matrix as a table (%d cases)" % len(conf.get("cases") or []),
                  [("matrix", conf)]))
    else:
        B.append(("p", "No conformance results (`results/conformance.json`)."))

    # What changed between CPython releases
    B.append(("h", 2, "What changed between CPython releases"))
    versions_md = os.path.join(results_dir, "VERSIONS.md")
    if os.path.exists(os.path.join(plots, "versions.svg")):
        B.append(("svg", "plots/versions.svg", "The cases whose trace differs between CPython "
                  "releases (rows), each release's trace (columns) coloured by which distinct "
                  "trace it is."))
    if os.path.exists(versions_md):
        with open(versions_md, encoding="utf-8") as f:
            text = f.read()
        B.append(("p", "From [VERSIONS.md](VERSIONS.md):"))
        B.append(("md", text.split("\n", 1)[1] if text.startswith("# ") else text))
    else:
        B.append(("p", "No version report (`results/VERSIONS.md`: the `versions` step)."))

    # Findings
    B.append(("h", 2, "Findings"))
    findings = os.path.join(results_dir, "FINDINGS.md")
    if os.path.exists(findings):
        with open(findings, encoding="utf-8") as f:
            text = f.read()
        B.append(("p", "From [FINDINGS.md](FINDINGS.md):"))
        B.append(("md", text))
    if conf.get("results"):
        rows_kd = known_divergences(conf)
        B.append(("p", "Every result other than PASS and unsupported, with the reason its "
                  "expectation file (`results/expectations/IMPL.txt`) gives (%d):"
                  % len(rows_kd)))
        if rows_kd:
            B.append(("table", ["case", "implementation", "status", "reason"],
                      [list(r) for r in rows_kd]))
        od = sorted(n for n in os.listdir(os.path.join(plots, "orderdiff"))
                    if n.endswith(".svg")) if os.path.isdir(os.path.join(plots, "orderdiff")) else []
        B.append(("h", 3, "Ordering diffs"))
        B.append(("p", "For each (case, implementation) pair whose trace differs: the "
                  "position of each line in the expected trace (x) against its position "
                  "in the actual one (y). Lines in the expected order lie on the diagonal; "
                  "a reordering shows as points off it; a missing line sits on the bottom "
                  "row, an unexpected one on the left column."))
        for name in od:
            B.append(("svg", "plots/orderdiff/" + name, ""))
        if not od:
            B.append(("p", "No divergent traces."))

    # Benchmarks
    B.append(("h", 2, "Benchmarks"))
    if bench.get("bench"):
        names = bench_impls(bench)
        B.append(("p", "`harness/loopspec bench` on `cases/bench/`: each case runs in-process, "
                  "timed by the adapter with the implementation's own monotonic clock around "
                  "the run only, once to warm up and then up to %s times (fewer when the "
                  "runs would take more than %s s: `runs` in [bench.json](bench.json) says "
                  "how many), %s. Median ns per operation, after it the spread (half the "
                  "range from min to max, as a share of the median); in brackets the ratio "
                  "to the model, in the same run. Output: [bench.txt](bench.txt)."
                  % (bench.get("repeat"), "%g" % bench["max_seconds"]
                     if bench.get("max_seconds") else "any number of",
                     "one implementation at a time, in rounds: round r times every case once "
                     "on every implementation before round r + 1 starts, every adapter up for "
                     "the whole run, so that a drift of the machine falls on all of them alike"
                     if (bench.get("jobs") or 1) == 1 else
                     "%d implementations at a time, each timed beside another"
                     % bench.get("jobs"))))
        header = ["operation", "ops/run"] + names
        rows_b = []
        ops = bench.get("ops") or {}
        for case in sorted({e["case"] for e in bench["bench"]}):
            model = idx.get((case, "model"))
            row = ["%s (`%s`)" % (BENCH_WHAT.get(case, case), case.split("/")[-1]),
                   "{:,}".format(ops[case]) if case in ops else ""]
            for n in names:
                v = idx.get((case, n))
                sp = bench_spread(bench, case, n)
                if v is None:
                    row.append("-")
                elif n == "model" or not model:
                    row.append("%s %s" % (fmt_ns(v), sp))
                else:
                    row.append("%s %s (%s)" % (fmt_ns(v), sp, fmt_ratio(v / model)))
            rows_b.append(row)
        fl = targets.floor_ns(floor)
        if fl:
            row = ["C floor: `sleep(0)` switch (`tools/floor.c`)", ""]
            for n in names:
                v = idx.get(("bench/sleep0-switch", n))
                row.append("%s floor" % fmt_ratio(v / fl) if v else "-")
            rows_b.append(row)
        B.append(("table", header, rows_b))
        if fl:
            B.append(("p", "The last row divides each implementation's `sleep(0)` switch by "
                      "the C floor: %s ns per switch with a ring-buffer ready queue, %s ns "
                      "with one `malloc`'d handle per `call_soon` (`make floor`, "
                      "[floor.json](floor.json))." % (fmt_ns(fl),
                                                       fmt_ns(targets.floor_ns(floor, "malloc")))))
        if bench.get("skipped"):
            B.append(("p", "Skipped: " + "; ".join(
                "%s on %s (%s)" % (s["case"], s["impl"], s["why"]) for s in bench["skipped"])
                + "."))
        if os.path.exists(os.path.join(plots, "bench.svg")):
            B.append(("svg", "plots/bench.svg", "Median ns per operation (error bars: min to max), log scale."))
    else:
        B.append(("p", "No benchmark results (`results/bench.json`)."))

    B.append(("h", 2, "The model against its targets"))
    if rows:
        B.append(("p", "`tools/targets.py` (`make bench-model` prints the same table alone): "
                  "each ratio from this report's bench step (one implementation at a time, "
                  "rounds interleaved; ± is half the min-to-max spread of the timed runs "
                  "against the median), the floor and memory steps, the conformance step's "
                  "time, and its own runs of `loopspec fuzz --impl model` and of a one-line "
                  "case through the model adapter. [targets.json](targets.json)"))
        B.append(("table", ["what", "target", "measured", "met", "note"],
                  [[r["what"], r["target"], r["measured"],
                    "-" if r["met"] is None else ("yes" if r["met"] else "no"), r["note"]]
                   for r in rows]))
        where = targets.where_text((tdoc.get("figures") or {}).get("where"))
        if where:
            B.append(("p", where))
        for text in targets.closing(rows):
            B.append(("p", text))
    else:
        B.append(("p", "No targets (`results/targets.json`: the targets step)."))
    if memory:
        b = memory.get("bench") or {}
        B.append(("p", "Memory: `loopspec-model run` on one million tasks pending on one "
                  "future (`cases/bench/pending-tasks.case` with N = 1000000) peaks at %s "
                  "resident (a trivial case: %s); `loopspec-model bench` counts %s of "
                  "peak-RSS growth per pending task (%s ns per task created, awaited and "
                  "released). [memory.json](memory.json)" % (
                      fmt_bytes(memory.get("peak_rss_bytes")),
                      fmt_bytes(memory.get("baseline_rss_bytes")),
                      fmt_bytes(b.get("rss_bytes_per_op")),
                      fmt_ns((b.get("ns_per_op") or {}).get("median")))))

    # Latency
    B.append(("h", 2, "Timer latency"))
    if latency.get("latency"):
        B.append(("p", "`harness/loopspec latency`: how late `await sleep(d)` wakes on the "
                  "loops that sleep in real time, %s samples per delay on a fresh loop, read "
                  "from the implementation's clock (MicroPython: JavaScript's "
                  "`performance.now()`, its own ticks move in whole milliseconds). "
                  "Microseconds after the deadline; negative: woke early. "
                  "[latency.json](latency.json)" % latency.get("samples")))
        B.append(("table", ["implementation", "d (ms)", "min µs", "median µs", "p95 µs",
                            "p99 µs", "max µs"],
                  latency_rows(latency["latency"], "late_us", lambda e: "%g" % e["delay_ms"])))
        notes = latency_notes(latency)
        if notes:
            B.append(("p", "What stands out (medians): " + "; ".join(notes) + "."))
        if latency.get("skipped"):
            B.append(("p", "Not measured: " + "; ".join(
                "%s (%s)" % (s["impl"], s["why"]) for s in latency["skipped"]) + "."))
        if os.path.exists(os.path.join(plots, "latency.svg")):
            B.append(("svg", "plots/latency.svg", "Lateness of sleep(d) per implementation "
                      "and delay."))
        if latency.get("io_latency"):
            B.append(("p", "The I/O phase, on the loops with sockets: microseconds from a "
                      "`send` on one end of a socketpair until the reader callback "
                      "`add_reader` registered on the other end runs (reader), and until a "
                      "task blocked in `sock_recv` resumes (sock_recv); %s samples each. "
                      "asyncio's `sock_recv` resumes the task one iteration after its own "
                      "reader callback; the ratio of the two medians shows what a loop "
                      "charges for that iteration." % latency.get("samples")))
            B.append(("table", ["implementation", "after a send, until", "min µs",
                                "median µs", "p95 µs", "p99 µs", "max µs"],
                      latency_rows(latency["io_latency"], "after_send_us", lambda e: e["what"])))
    else:
        B.append(("p", "No latency results (`results/latency.json`)."))

    # Whole-process times
    B.append(("h", 2, "Whole-process time of the conformance run"))
    if hyper.get("results"):
        B.append(("p", "`hyperfine` on `harness/loopspec run --impl IMPL --expectations none "
                  "cases` per implementation: start-up, the model's gate on every case, and "
                  "every case. [hyperfine.json](hyperfine.json) (hyperfine's export)."))
        rows_h = []
        for r in hyper["results"]:
            times = r.get("times") or []
            rows_h.append([r.get("command_name") or r.get("command", ""),
                           "%.2f" % r["mean"], "%.2f" % (r.get("stddev") or 0.0),
                           "%.2f" % r["min"], "%.2f" % r["max"], str(len(times))])
        B.append(("table", ["implementation", "mean s", "stddev s", "min s", "max s", "runs"],
                  rows_h))
    else:
        B.append(("p", "No hyperfine results (`results/hyperfine.json`)."))

    # The model's pass table
    B.append(("h", 2, "The model on every case"))
    model_txt = os.path.join(results_dir, "model.txt")
    if os.path.exists(model_txt):
        with open(model_txt, encoding="utf-8") as f:
            text = f.read()
        start = text.find("Reference model, every case")
        B.append(("p", "`tools/report.py`: `loopspec-model check --all-profiles cases`, one "
                  "row per area, one column per profile. Full output: "
                  "[model.txt](model.txt)."))
        B.append(("pre", (text[start:] if start >= 0 else text).strip()))
    else:
        B.append(("p", "No model results (`results/model.txt`)."))

    if steps:
        B.append(("h", 2, "How this report was made"))
        B.append(("p", "Load: the machine's one-minute load average when the step ended "
                  "(%s cores); a load above the core count means other work shared the "
                  "machine and slowed the measurements." % info.get("cores")))
        B.append(("table", ["step", "ok", "seconds", "load", "note"],
                  [[n, "yes" if s.get("ok") else "no", "%.0f" % s.get("seconds", 0),
                    "-" if s.get("load") is None else "%.1f" % s["load"],
                    s.get("note", "")] for n, s in steps.items()]))
    B.append(("p", "Reproduce: `make report` (installs what is missing with `make deps`). "
              "One part: `harness/loopspec bench`, `harness/loopspec latency`, "
              "`make bench-model`, `make floor && model/build/floor`, "
              "`tools/make_report.py --steps render`."))
    return B


# -- rendering ---------------------------------------------------------------------

def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"`", "", text.lower())).strip("-")


def md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_md(blocks):
    out = []
    for b in blocks:
        kind = b[0]
        if kind == "h":
            out.append("#" * b[1] + " " + b[2])
        elif kind == "p":
            out.append(b[1])
        elif kind == "table":
            header, rows = b[1], b[2]
            out.append("| " + " | ".join(md_cell(h) for h in header) + " |")
            out.append("|" + "|".join("---" for _ in header) + "|")
            for r in rows:
                out.append("| " + " | ".join(md_cell(c) for c in r) + " |")
        elif kind == "pre":
            out.append("```\n" + b[1] + "\n```")
        elif kind == "svg":
            out.append("![%s](%s)" % (b[2] or os.path.basename(b[1]), b[1]))
        elif kind == "details":
            out.append("<details><summary>%s</summary>\n" % html.escape(b[1]))
            out.append(render_md(b[2]).rstrip("\n"))
            out.append("\n</details>")
        elif kind == "md":
            out.append(demote_headings(b[1].strip(), 2))
        elif kind == "matrix":
            out.append(matrix_md(b[1]))
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def demote_headings(text, by):
    """Markdown headings of an included file, `by` levels lower."""
    return re.sub(r"(?m)^(#{1,6}) ", lambda m: "#" * min(6, len(m.group(1)) + by) + " ", text)


def matrix_rows(conf):
    impls = list((conf.get("impls") or {}).keys())
    for r in conf.get("results", []):
        if r["impl"] not in impls:
            impls.append(r["impl"])
    by = {(r["case"], r["impl"]): r for r in conf.get("results", [])}
    cases = conf.get("cases") or sorted({r["case"] for r in conf.get("results", [])})
    return impls, cases, by


def matrix_md(conf):
    impls, cases, by = matrix_rows(conf)
    lines = ["| case | " + " | ".join(impls) + " |", "|---|" + "---|" * len(impls)]
    for c in cases:
        cells = []
        for i in impls:
            r = by.get((c, i))
            cells.append(CELL_TEXT.get(r["status"], r["status"]) if r else "-")
        lines.append("| %s | %s |" % (c, " | ".join(cells)))
    return "\n".join(lines)


def inline_html(text):
    """`code`, **bold** and [text](link) in escaped text."""
    parts = re.split(r"(`[^`]*`)", str(text))
    out = []
    for p in parts:
        if len(p) >= 2 and p.startswith("`") and p.endswith("`"):
            out.append("<code>%s</code>" % html.escape(p[1:-1]))
            continue
        e = html.escape(p, quote=False)
        e = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", e)
        e = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)",
                   lambda m: '<a href="%s">%s</a>' % (html.escape(m.group(2)), m.group(1)), e)
        out.append(e)
    return "".join(out)


def md_to_html(text):
    """A small Markdown reader for FINDINGS.md: headings, lists, code, tables, paragraphs."""
    out, para, lst, code, table = [], [], [], None, []

    def flush():
        if para:
            out.append("<p>%s</p>" % inline_html(" ".join(para)))
            para.clear()
        if lst:
            out.append("<ul>%s</ul>" % "".join("<li>%s</li>" % inline_html(i) for i in lst))
            lst.clear()
        if table:
            rows = [r for r in table if not re.match(r"^\|?\s*:?-{3,}", r)]
            cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
            if cells:
                head = "".join("<th>%s</th>" % inline_html(c) for c in cells[0])
                body = "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % inline_html(c)
                                                       for c in r) for r in cells[1:])
                out.append("<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>"
                           % (head, body))
            table.clear()

    for line in text.splitlines():
        if code is not None:
            if line.startswith("```"):
                out.append("<pre>%s</pre>" % html.escape("\n".join(code)))
                code = None
            else:
                code.append(line)
            continue
        if line.startswith("```"):
            flush()
            code = []
        elif re.match(r"^#{1,6} ", line):
            flush()
            level = min(6, len(line.split(" ")[0]) + 2)
            out.append("<h%d>%s</h%d>" % (level, inline_html(line.split(" ", 1)[1]), level))
        elif re.match(r"^\s*[-*] ", line):
            if para:
                flush()
            lst.append(re.sub(r"^\s*[-*] ", "", line))
        elif line.strip().startswith("|"):
            if para or lst:
                flush()
            table.append(line)
        elif not line.strip():
            flush()
        elif lst and line.startswith(" "):
            lst[-1] += " " + line.strip()
        else:
            if table:
                flush()
            para.append(line.strip())
    if code is not None:
        out.append("<pre>%s</pre>" % html.escape("\n".join(code)))
    flush()
    return "\n".join(out)


_svg_counter = [0]


def inline_svg(path):
    """An SVG file as an inline <svg> element, its ids made unique in the page."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.find("<svg")
    if start < 0:
        return "<p>(not an SVG: %s)</p>" % html.escape(os.path.basename(path))
    text = text[start:]
    _svg_counter[0] += 1
    prefix = "s%d-" % _svg_counter[0]
    ids = set(re.findall(r'\bid=["\']([^"\']+)["\']', text))
    for i in sorted(ids, key=len, reverse=True):
        text = re.sub(r'\bid=(["\'])%s\1' % re.escape(i), r'id=\g<1>%s%s\g<1>' % (prefix, i),
                      text)
        text = re.sub(r'(href=["\']#)%s(["\'])' % re.escape(i), r"\g<1>%s%s\2" % (prefix, i),
                      text)
        text = re.sub(r"url\(#%s\)" % re.escape(i), "url(#%s%s)" % (prefix, i), text)
    # Scale to the page's width, keep the aspect ratio.
    text = re.sub(r'<svg\b', '<svg class="plot"', text, count=1)
    return text


CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 1em 2em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; } h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td { font-variant-numeric: tabular-nums; }
code { background: #f4f4f4; padding: 0 0.2em; border-radius: 3px; font-size: 0.92em; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.6em; overflow-x: auto;
      font-size: 0.85em; }
svg.plot { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; }
.orderdiffs { display: flex; flex-wrap: wrap; gap: 0.5em; }
.orderdiffs figure { width: 380px; margin: 0; }
table.matrix td { text-align: center; font-size: 0.8em; padding: 0 0.3em; }
table.matrix td.case { text-align: left; font-family: monospace; }
details { margin: 0.8em 0; } summary { cursor: pointer; font-weight: bold; }
"""


def render_html(blocks, results_dir):
    body = []
    pending_od = []

    def flush_od():
        if pending_od:
            body.append('<div class="orderdiffs">%s</div>' % "".join(pending_od))
            pending_od.clear()

    def render(bs, out):
        for b in bs:
            kind = b[0]
            if kind == "svg" and "/orderdiff/" in b[1]:
                path = os.path.join(results_dir, b[1])
                if os.path.exists(path):
                    pending_od.append("<figure>%s</figure>" % inline_svg(path))
                continue
            flush_od()
            if kind == "h":
                out.append('<h%d id="%s">%s</h%d>' % (b[1], slug(b[2]), inline_html(b[2]), b[1]))
            elif kind == "p":
                out.append("<p>%s</p>" % inline_html(b[1]))
            elif kind == "table":
                head = "".join("<th>%s</th>" % inline_html(h) for h in b[1])
                rows = "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % inline_html(c) for c in r)
                               for r in b[2])
                out.append("<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>"
                           % (head, rows))
            elif kind == "pre":
                out.append("<pre>%s</pre>" % html.escape(b[1]))
            elif kind == "svg":
                path = os.path.join(results_dir, b[1])
                if os.path.exists(path):
                    out.append("<figure>%s<figcaption>%s</figcaption></figure>"
                               % (inline_svg(path), inline_html(b[2])))
            elif kind == "details":
                inner = []
                render(b[2], inner)
                out.append("<details><summary>%s</summary>%s</details>"
                           % (html.escape(b[1]), "".join(inner)))
            elif kind == "md":
                out.append(md_to_html(b[1]))
            elif kind == "matrix":
                out.append(matrix_html(b[1]))
    render(blocks, body)
    flush_od()
    title = "loopspec report"
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n%s\n</body>\n</html>\n"
            % (title, CSS, "\n".join(body)))


def matrix_html(conf):
    impls, cases, by = matrix_rows(conf)
    head = "<th>case</th>" + "".join("<th>%s</th>" % html.escape(i) for i in impls)
    rows = []
    for c in cases:
        cells = ['<td class="case">%s</td>' % html.escape(c)]
        for i in impls:
            r = by.get((c, i))
            if r is None:
                cells.append("<td>-</td>")
                continue
            colour = STATUS_COLOURS.get(r["status"], "#fff")
            fg = "#fff" if r["status"] in ("PASS", "FAIL", "CRASH", "ERROR") else "#222"
            tip = html.escape(r.get("why") or r.get("error") or "", quote=True)
            cells.append('<td style="background:%s;color:%s" title="%s">%s</td>' % (
                colour, fg, tip, CELL_TEXT.get(r["status"], r["status"])))
        rows.append("<tr>%s</tr>" % "".join(cells))
    return '<table class="matrix"><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (
        head, "".join(rows))


def with_contents(blocks):
    """The blocks with a list of the sections after the first paragraphs."""
    sections = [b[2] for b in blocks if b[0] == "h" and b[1] == 2]
    if not sections:
        return blocks
    first = next(i for i, b in enumerate(blocks) if b[0] == "h" and b[1] == 2)
    line = "Contents: " + " · ".join("[%s](#%s)" % (t.replace("`", ""), slug(t))
                                     for t in sections)
    return blocks[:first] + [("p", line)] + blocks[first:]


def render(results_dir, steps=None):
    """(markdown, html) of the report on the results in `results_dir`."""
    blocks = with_contents(build(results_dir, steps))
    return render_md(blocks), render_html(blocks, results_dir)


# -- main --------------------------------------------------------------------------

def parse_list(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        raise ValueError("unknown step(s) %s (steps: %s)" % (", ".join(unknown),
                                                            ", ".join(STEPS)))
    return names


def main(argv):
    args = list(argv)
    results = os.path.join(ROOT, "results")
    chosen = list(STEPS)
    opts = {}
    try:
        while args:
            a = args.pop(0)
            if a in ("-h", "--help"):
                print(__doc__.strip())
                return 0
            if not args:
                raise ValueError("%s needs a value" % a)
            value = args.pop(0)
            if a == "--steps":
                chosen = parse_list(value)
            elif a == "--skip":
                skip = parse_list(value)
                chosen = [s for s in STEPS if s not in skip]
            elif a == "--results":
                results = value
            elif a == "--repeat":
                opts["repeat"] = int(value)
            elif a == "--max-seconds":
                opts["max_seconds"] = float(value)
            elif a == "--jobs":
                opts["jobs"] = int(value)
            elif a == "--samples":
                opts["samples"] = int(value)
            elif a == "--hyperfine-runs":
                opts["hyperfine_runs"] = int(value)
            else:
                raise ValueError("unknown option %s" % a)
        if any(v <= 0 for v in opts.values()):
            raise ValueError("numbers must be positive")
    except ValueError as exc:
        print("make_report.py: %s (see --help)" % exc, file=sys.stderr)
        return 2
    os.makedirs(results, exist_ok=True)
    ctx = Context(results, **opts)
    previous = load_json(ctx.path("steps.json")) or {}
    ctx.previous = previous.get("steps") or {}
    started = time.monotonic()
    funcs = {"model": step_model, "conformance": step_conformance, "bench": step_bench,
             "latency": step_latency, "floor": step_floor, "memory": step_memory,
             "targets": step_targets, "hyperfine": step_hyperfine, "plots": step_plots, "versions": step_versions}
    for name in chosen:
        if name in funcs:
            funcs[name](ctx)
    # Steps not run this time keep their last record.
    merged = dict(previous.get("steps") or {})
    merged.update(ctx.steps)
    merged = {n: merged[n] for n in STEPS if n in merged}
    ctx.all_steps = merged
    doc = {"finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": machine(), "steps": merged,
           "seconds": round(time.monotonic() - started, 1)}
    if chosen != ["render"]:
        write_atomic(ctx.path("steps.json"), json.dumps(doc, indent=1) + "\n")
    if "render" in chosen:
        step_render(ctx)
    model_txt = ctx.path("model.txt")
    if os.path.exists(model_txt):
        with open(model_txt, encoding="utf-8") as f:
            tail = [l for l in f.read().splitlines() if re.match(r"^\d+ passed, \d+ failed", l)]
        if tail:
            say("model: " + tail[-1])
    say("report: %s steps in %.0fs" % (len(chosen), time.monotonic() - started))
    return 0 if all(s["ok"] for s in ctx.steps.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
