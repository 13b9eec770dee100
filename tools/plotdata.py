"""loopspec plot data: gnuplot data files from the results, and the plots.

Usage: plotdata.py [--results DIR] [--out DIR] [--no-svg]

Reads the result files under DIR (default results/): conformance.json
(`loopspec run --json`), bench.json (`loopspec bench --json`), latency.json
(`loopspec latency --json`), and writes under OUT (default DIR/plots/):

  bench.dat            median ns/op, one row per case, one column per implementation
  latency.dat          lateness quantiles per implementation and delay, one block per delay
  matrix.dat           the conformance matrix: cells, then case labels, then implementation labels
  orderdiff/NAME.dat   for each divergent (case, implementation) pair: the position of
                       each line in the expected trace against its position in the actual one

then runs the gnuplot scripts of plots/ on them (unless --no-svg): bench.svg,
latency.svg, matrix.svg and orderdiff/NAME.svg.  A plot whose data is missing
is left out.  Prints the SVG files written, one per line.  Exit 0, or 2 when
gnuplot is missing and SVGs were asked for.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import cli
import versions

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PLOTS = os.path.join(ROOT, "plots")
GNUPLOT_TIMEOUT = 120

# Conformance statuses as heat-map codes (plots/matrix.gp colours them).
STATUS_CODES = {"PASS": 0, "FAIL": 1, "UNSUPPORTED": 2, "TIMEOUT": 3, "CRASH": 4,
                "ERROR": 5, "FLAKY": 6, "SKIPPED": 7, "MISSING": 8}


def write_atomic(path, text):
    """Write `text` to `path` through a temporary file in the same directory."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_json(path):
    """The JSON document at `path`, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def quote(text):
    """A gnuplot string field: double quotes, no quotes or newlines inside."""
    return '"%s"' % str(text).replace('"', "'").replace("\n", " ").replace("\\", "/")


def short_case(case_id):
    """`bench/sleep0-switch` -> `sleep0-switch`."""
    return case_id.split("/", 1)[1] if case_id.startswith("bench/") else case_id


# -- benchmarks --------------------------------------------------------------------

def impl_order(doc, key="impl"):
    """Implementation ids in the order of the document's `impls`, then as met."""
    names = list((doc.get("impls") or {}).keys())
    for e in doc.get("bench", []) + doc.get("latency", []):
        if e[key] not in names:
            names.append(e[key])
    return names


def bench_dat(bench):
    """bench.dat: per case, median, min and max ns/op of each implementation.

    A header line `case IMPL IMPL-min IMPL-max ...`, then one line per case;
    `-` where the case was skipped on an implementation.
    """
    impls = [n for n in impl_order(bench) if any(e["impl"] == n for e in bench["bench"])]
    cases = sorted({e["case"] for e in bench["bench"]})
    by = {(e["case"], e["impl"]): e for e in bench["bench"]}
    lines = ["# ns per operation (loopspec bench): median, min, max per implementation;"
             " - where the case was skipped",
             "case " + " ".join("%s %s %s" % (quote(i), quote(i + "-min"), quote(i + "-max"))
                                for i in impls)]
    for c in cases:
        cells = []
        for i in impls:
            e = by.get((c, i))
            cells.append("%.3f %.3f %.3f" % (e["ns_per_op"]["median"], e["ns_per_op"]["min"],
                                             e["ns_per_op"]["max"]) if e else "- - -")
        lines.append("%s %s" % (quote(short_case(c)), " ".join(cells)))
    return "\n".join(lines) + "\n", len(impls), len(cases)


def latency_dat(latency):
    """latency.dat: one block per delay (gnuplot `index`), one row per implementation.

    Columns: x position, p5, p25, median, p75, p95, implementation, delay.
    Implementations sit at x = 0, 1, ...; the delays of one implementation
    are spread around it.  Returns (text, implementations, delays).
    """
    impls = [n for n in impl_order(latency) if any(e["impl"] == n for e in latency["latency"])]
    delays = []
    for e in latency["latency"]:
        if e["delay_ms"] not in delays:
            delays.append(e["delay_ms"])
    by = {(e["impl"], e["delay_ms"]): e for e in latency["latency"]}
    width = 0.8 / max(1, len(delays))
    blocks = []
    for k, d in enumerate(delays):
        rows = ["# delay %g ms: x p5 p25 median p75 p95 impl delay" % d]
        for i, name in enumerate(impls):
            e = by.get((name, d))
            if not e:
                continue
            s = e["late_us"]
            x = i - 0.4 + width * (k + 0.5)
            rows.append("%.3f %s %s %s %s %s %s %s" % (
                x, s["p5"], s["p25"], s["median"], s["p75"], s["p95"], quote(name),
                quote("%g ms" % d)))
        blocks.append("\n".join(rows))
    return "\n\n\n".join(blocks) + "\n", impls, delays


# -- the conformance matrix --------------------------------------------------------

def matrix_dat(conf, labels=None):
    """matrix.dat: index 0 cells `x y code`, index 1 `y "case"`, index 2 `x "impl"`.

    Cases run top to bottom (y counts down from the first case), one column
    per implementation; a pair the case's profiles exclude is SKIPPED, a
    pair without a result MISSING.  Returns (text, cases, implementations).
    """
    results = conf.get("results", [])
    impls = list((conf.get("impls") or {}).keys())
    for r in results:
        if r["impl"] not in impls:
            impls.append(r["impl"])
    cases = list(conf.get("cases") or sorted({r["case"] for r in results}))
    by = {(r["case"], r["impl"]): r["status"] for r in results}
    skipped = {(s["case"], s["impl"]) if isinstance(s, dict) else tuple(s)
               for s in conf.get("skipped", [])}
    n = len(cases)
    cells, ylab, xlab = ["# x y status-code"], ["# y case"], ["# x implementation"]
    for j, c in enumerate(cases):
        y = n - 1 - j
        for x, impl in enumerate(impls):
            status = by.get((c, impl))
            if status is None:
                status = "SKIPPED" if (c, impl) in skipped else "MISSING"
            cells.append("%d %d %d" % (x, y, STATUS_CODES.get(status, 8)))
        ylab.append("%d %s" % (y, quote(c)))
    for x, impl in enumerate(impls):
        xlab.append("%d %s" % (x, quote((labels or {}).get(impl, impl))))
    text = "\n".join(cells) + "\n\n\n" + "\n".join(ylab) + "\n\n\n" + "\n".join(xlab) + "\n"
    return text, cases, impls


# -- ordering diffs ----------------------------------------------------------------

def flat_expected(expected):
    """Expect items (strings and {"unordered": [...]}) as a flat list of lines."""
    out = []
    for item in expected or []:
        if isinstance(item, dict):
            out.extend(str(x) for x in item.get("unordered", []))
        else:
            out.append(str(item))
    return out


def order_points(expected, actual):
    """Points of an ordering-diff plot: (expected pos, actual pos, kind, text).

    Positions are 1-based.  Each actual line is matched to the first unused
    expected line with the same text: kind 0 (on the diagonal when in
    place).  An expected line never matched is kind 1, drawn at actual
    position 0; an actual line that matches none is kind 2, at expected 0.
    """
    exp = [e.strip() for e in expected]
    act = [a.strip() for a in actual]
    used = [False] * len(exp)
    points = []
    for j, line in enumerate(act):
        for i, e in enumerate(exp):
            if not used[i] and e == line:
                used[i] = True
                points.append((i + 1, j + 1, 0, line))
                break
        else:
            points.append((0, j + 1, 2, line))
    for i, e in enumerate(exp):
        if not used[i]:
            points.append((i + 1, 0, 1, e))
    points.sort(key=lambda p: (p[2], p[0], p[1]))
    return points


def orderdiff_name(case_id, impl):
    """A file name for a (case, implementation) pair."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "%s--%s" % (impl, case_id.replace("/", "--")))


def divergent(conf):
    """The results whose trace differs from the expected one (FAIL, FLAKY)."""
    out = []
    for r in conf.get("results", []):
        if r.get("status") in ("FAIL", "FLAKY") and r.get("expected") is not None:
            trace = r.get("trace") or ((r.get("traces") or [[]])[-1] if r["status"] == "FLAKY"
                                       else [])
            if flat_expected(r["expected"]) != [t.strip() for t in trace]:
                out.append((r, trace))
    return out


def orderdiff_dat(result, trace, limit=40):
    """The data file of one divergent pair: points, then (index 1) the diagonal."""
    expected = flat_expected(result["expected"])
    points = order_points(expected, trace)
    lines = ["# %s on %s [%s]: %s" % (result["case"], result["impl"], result.get("profile", ""),
                                      result["status"]),
             "# expected-position actual-position kind(0 matched,1 missing,2 extra) line"]
    for x, y, kind, text in points:
        label = text if len(text) <= limit else text[:limit - 1] + "~"
        lines.append("%d %d %d %s" % (x, y, kind, quote(label)))
    n = max(len(expected), len(trace), 1)
    return "\n".join(lines) + "\n", n


# -- gnuplot ---------------------------------------------------------------------

def gnuplot(script, params, cwd):
    """Run plots/SCRIPT with `-e` parameters; raises RuntimeError on failure."""
    exe = shutil.which("gnuplot")
    if not exe:
        raise RuntimeError("gnuplot is missing: install Debian's gnuplot-nox (`make deps`)")
    params = dict(params, plotsdir=PLOTS)
    assign = "; ".join("%s=%s" % (k, json.dumps(v) if isinstance(v, str) else v)
                       for k, v in params.items())
    proc = subprocess.run([exe, "-e", assign, os.path.join(PLOTS, script)], cwd=cwd,
                          capture_output=True, text=True, timeout=GNUPLOT_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError("gnuplot %s: %s" % (script, proc.stderr.strip()[-800:]))


def generate(results_dir, out_dir, svg=True, log=None):
    """Write the data files (and the SVGs); returns {name: svg path} written.

    Names: bench, latency, matrix, versions, and orderdiff/NAME for each
    divergent pair.
    """
    say = log or (lambda text: None)
    os.makedirs(out_dir, exist_ok=True)
    made = {}
    jobs = []
    bench = load_json(os.path.join(results_dir, "bench.json"))
    if bench and bench.get("bench"):
        text, n_impls, n_cases = bench_dat(bench)
        write_atomic(os.path.join(out_dir, "bench.dat"), text)
        jobs.append(("bench", "bench.gp", {"datafile": "bench.dat", "outfile": "bench.svg",
                                           "nimpls": n_impls, "ncases": n_cases}))
    latency = load_json(os.path.join(results_dir, "latency.json"))
    if latency and latency.get("latency"):
        text, impls, delays = latency_dat(latency)
        write_atomic(os.path.join(out_dir, "latency.dat"), text)
        jobs.append(("latency", "latency.gp", {
            "datafile": "latency.dat", "outfile": "latency.svg", "nimpls": len(impls),
            "ndelays": len(delays), "implnames": " ".join(impls),
            "delaynames": " ".join("%g" % d for d in delays)}))
    conf = load_json(os.path.join(results_dir, "conformance.json"))
    if conf and conf.get("results"):
        labels = {name: (info or {}).get("label", name)
                  for name, info in (conf.get("impls") or {}).items()}
        text, cases, impls = matrix_dat(conf, labels)
        write_atomic(os.path.join(out_dir, "matrix.dat"), text)
        jobs.append(("matrix", "matrix.gp", {"datafile": "matrix.dat", "outfile": "matrix.svg",
                                             "ncases": len(cases), "nimpls": len(impls)}))
        # The version matrix (tools/versions.py): which trace each CPython
        # release gives, for the cases where releases differ.
        cols, classes, _ = versions.analyse(conf, with_causes=False)
        if cols:
            text, rows, ncols = versions.plot_data(cols, classes)
            write_atomic(os.path.join(out_dir, "versions.dat"), text)
            if rows:
                jobs.append(("versions", "versions.gp", {"datafile": "versions.dat",
                                                         "outfile": "versions.svg",
                                                         "ncases": rows, "ncols": ncols}))
        od_dir = os.path.join(out_dir, "orderdiff")
        if os.path.isdir(od_dir):
            for name in os.listdir(od_dir):
                if name.endswith((".dat", ".svg")):
                    os.unlink(os.path.join(od_dir, name))
        for r, trace in divergent(conf):
            name = orderdiff_name(r["case"], r["impl"])
            text, n = orderdiff_dat(r, trace)
            write_atomic(os.path.join(od_dir, name + ".dat"), text)
            jobs.append(("orderdiff/" + name, "orderdiff.gp", {
                "datafile": "orderdiff/%s.dat" % name, "outfile": "orderdiff/%s.svg" % name,
                "titletext": "%s on %s" % (r["case"], r["impl"]), "npos": n}))
    if not svg:
        return made
    for name, script, params in jobs:
        gnuplot(script, params, out_dir)
        made[name] = os.path.join(out_dir, params["outfile"])
        say(made[name])
    return made


def main(argv):
    parsed = cli.parse(argv, __doc__, "plotdata.py", values=("--results", "--out"),
                       flags=("--no-svg",), positionals=False)
    if isinstance(parsed, int):
        return parsed
    opts, _ = parsed
    results = opts.get("--results", os.path.join(ROOT, "results"))
    out = opts.get("--out")
    svg = not opts.get("--no-svg", False)
    try:
        generate(results, out or os.path.join(results, "plots"), svg=svg, log=print)
    except RuntimeError as exc:
        print("plotdata.py: %s" % exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
