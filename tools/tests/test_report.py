"""The report generator and the plot data, on small fake results.

Run with `/usr/bin/python3 -m pytest tools/tests` (`make check` does).
"""

import json
import os
import re
import shutil
import sys

import pytest

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOOLS)

import make_report  # noqa: E402
import targets  # noqa: E402
import plotdata  # noqa: E402

needs_gnuplot = pytest.mark.skipif(shutil.which("gnuplot") is None,
                                   reason="gnuplot is missing (`make deps`)")


def fake_results(root):
    """A results directory with every input the report reads, small."""
    conf = {
        "loopspec": 1,
        "cases": ["a/one", "a/two", "b/three"],
        "impls": {"model": {"profile": "asyncio"}, "fastloop": {"profile": "asyncio"},
                  "tiny": {"profile": "asyncio"}},
        "skipped": [{"case": "b/three", "impl": "tiny"}],
        "results": [
            {"case": "a/one", "impl": "model", "profile": "asyncio", "status": "PASS",
             "trace": ["x", "y"], "expected": ["x", "y"]},
            {"case": "a/one", "impl": "fastloop", "profile": "asyncio", "status": "FAIL",
             "trace": ["y", "x", "z"], "expected": ["x", "y", "w"],
             "expectation": {"status": "FAIL", "reason": "runs y before x"}},
            {"case": "a/one", "impl": "tiny", "profile": "asyncio", "status": "UNSUPPORTED",
             "trace": [], "expected": ["x", "y"], "why": "tiny lacks Future"},
            {"case": "a/two", "impl": "model", "profile": "asyncio", "status": "PASS",
             "trace": ["a", "b", "c"], "expected": [{"unordered": ["a", "b"]}, "c"]},
            {"case": "a/two", "impl": "fastloop", "profile": "asyncio", "status": "PASS",
             "trace": ["b", "a", "c"], "expected": [{"unordered": ["a", "b"]}, "c"]},
            {"case": "a/two", "impl": "tiny", "profile": "asyncio", "status": "TIMEOUT",
             "trace": [], "expected": [{"unordered": ["a", "b"]}, "c"],
             "error": "no reply within 10s", "unexpected": True},
            {"case": "b/three", "impl": "model", "profile": "asyncio", "status": "PASS",
             "trace": ["q"], "expected": ["q"]},
            {"case": "b/three", "impl": "fastloop", "profile": "asyncio", "status": "PASS",
             "trace": ["q"], "expected": ["q"]},
        ],
    }
    bench = {
        "bench": [
            {"case": "bench/sleep0-switch", "impl": "model",
             "ns_per_op": {"median": 100.0, "min": 90.0, "max": 120.0}, "runs": 5},
            {"case": "bench/sleep0-switch", "impl": "cpython-3.11",
             "ns_per_op": {"median": 4000.0, "min": 3900.0, "max": 4100.0}, "runs": 5},
            {"case": "bench/await-create-task", "impl": "model",
             "ns_per_op": {"median": 120.0, "min": 110.0, "max": 130.0}, "runs": 5},
        ],
        "skipped": [{"case": "bench/await-create-task", "impl": "cpython-3.11",
                     "why": "no reply within 300s"}],
        "ops": {"bench/sleep0-switch": 200000, "bench/await-create-task": 100000},
        "repeat": 5, "max_seconds": 5, "jobs": 2,
        "impls": {"model": {}, "cpython-3.11": {}},
    }
    latency = {
        "latency": [
            {"impl": "cpython-3.11", "delay_ms": d, "clock": "time.monotonic_ns",
             "late_us": {"n": 3, "min": 1.0, "p5": 1.0, "p25": 2.0, "median": 3.0, "p75": 4.0,
                         "p95": 5.0, "p99": 6.0, "max": 7.0, "mean": 3.0},
             "samples": [1.0, 3.0, 7.0]} for d in (0, 1)
        ] + [{"impl": "webloop", "delay_ms": 1, "clock": "time.monotonic_ns",
              "late_us": {"n": 1, "min": -900.0, "p5": -900.0, "p25": -900.0,
                          "median": -900.0, "p75": -900.0, "p95": -900.0, "p99": -900.0,
                          "max": -900.0, "mean": -900.0}, "samples": [-900.0]}],
        "skipped": [{"impl": "model", "why": "its loop runs on a virtual clock"}],
        "samples": 3, "impls": {"cpython-3.11": {}, "webloop": {}},
    }
    floor = {"floor": [{"case": "floor/sleep0-switch", "impl": "c-floor", "variant": "ring",
                        "ops": 10, "ns_per_op": {"median": 10.0, "min": 9.0, "max": 11.0},
                        "runs": 5},
                       {"case": "floor/sleep0-switch", "impl": "c-floor", "variant": "malloc",
                        "ops": 10, "ns_per_op": {"median": 40.0, "min": 39.0, "max": 41.0},
                        "runs": 5}]}
    memory = {"tasks": 1000000, "peak_rss_bytes": 300 * 1024 * 1024,
              "baseline_rss_bytes": 2 * 1024 * 1024, "ok": True,
              "bench": {"rss_bytes_per_op": 310.0, "ns_per_op": {"median": 900.0}}}
    hyper = {"results": [{"command": "x", "command_name": "model", "mean": 3.5, "stddev": 0.1,
                          "min": 3.4, "max": 3.6, "times": [3.4, 3.6]}]}
    for name, doc in (("conformance.json", conf), ("bench.json", bench),
                      ("latency.json", latency), ("floor.json", floor),
                      ("memory.json", memory), ("hyperfine.json", hyper)):
        (root / name).write_text(json.dumps(doc))
    (root / "FINDINGS.md").write_text("# Findings\n\n- **uvloop** runs `call_later(0)` "
                                      "first\n- second\n\n```\ncode <here>\n```\n")
    (root / "model.txt").write_text("Reference model, every case under every profile it "
                                    "applies to:\n\narea  asyncio\n\n3 passed, 0 failed\n")
    return root


# -- plot data ------------------------------------------------------------------

def test_order_points_marks_reorderings_missing_and_extra_lines():
    points = plotdata.order_points(["x", "y", "w"], ["y", "x", "z"])
    assert points == [(1, 2, 0, "x"), (2, 1, 0, "y"), (3, 0, 1, "w"), (0, 3, 2, "z")]
    # In order: everything on the diagonal; repeated lines match in order.
    assert plotdata.order_points(["a", "a", "b"], ["a", "a", "b"]) == [
        (1, 1, 0, "a"), (2, 2, 0, "a"), (3, 3, 0, "b")]


def test_divergent_pairs_skip_passes_and_unordered_matches(tmp_path):
    conf = json.loads((fake_results(tmp_path) / "conformance.json").read_text())
    pairs = plotdata.divergent(conf)
    assert [(r["case"], r["impl"]) for r, _ in pairs] == [("a/one", "fastloop")]
    text, n = plotdata.orderdiff_dat(pairs[0][0], pairs[0][1])
    rows = [l for l in text.splitlines() if not l.startswith("#")]
    assert rows == ['1 2 0 "x"', '2 1 0 "y"', '3 0 1 "w"', '0 3 2 "z"'] and n == 3


def test_bench_latency_and_matrix_data(tmp_path):
    root = fake_results(tmp_path)
    bench = json.loads((root / "bench.json").read_text())
    text, n_impls, n_cases = plotdata.bench_dat(bench)
    lines = [l for l in text.splitlines() if not l.startswith("#")]
    assert lines[0] == ('case "model" "model-min" "model-max" "cpython-3.11" '
                        '"cpython-3.11-min" "cpython-3.11-max"')
    assert lines[1] == '"await-create-task" 120.000 110.000 130.000 - - -'
    assert (n_impls, n_cases) == (2, 2)
    latency = json.loads((root / "latency.json").read_text())
    text, impls, delays = plotdata.latency_dat(latency)
    assert impls == ["cpython-3.11", "webloop"] and delays == [0, 1]
    blocks = text.split("\n\n\n")
    assert len(blocks) == 2 and '"webloop"' in blocks[1] and '"webloop"' not in blocks[0]
    conf = json.loads((root / "conformance.json").read_text())
    text, cases, impls = plotdata.matrix_dat(conf)
    cells, ylab, xlab = text.split("\n\n\n")
    codes = {tuple(l.split()[:2]): int(l.split()[2]) for l in cells.splitlines()[1:]}
    # a/one is the top row (y = 2): PASS, FAIL, UNSUPPORTED.
    assert [codes[(str(x), "2")] for x in range(3)] == [0, 1, 2]
    assert codes[("2", "1")] == plotdata.STATUS_CODES["TIMEOUT"]
    assert codes[("2", "0")] == plotdata.STATUS_CODES["SKIPPED"]
    assert '2 "a/one"' in ylab and '1 "fastloop"' in xlab


@needs_gnuplot
def test_generate_writes_every_plot_as_svg(tmp_path):
    root = fake_results(tmp_path)
    made = plotdata.generate(str(root), str(root / "plots"))
    assert set(made) == {"bench", "latency", "matrix",
                         "orderdiff/fastloop--a--one"}
    for path in made.values():
        text = open(path).read()
        assert "<svg" in text and "</svg>" in text


# -- the report -----------------------------------------------------------------

def test_targets_met_and_missed(tmp_path):
    root = fake_results(tmp_path)
    load = lambda n: json.loads((root / n).read_text())  # noqa: E731
    fig = {"bench": load("bench.json"), "floor": load("floor.json"), "memory": load("memory.json"),
           "fuzz": {"programs_per_second": 1200.0}, "overhead": {"ms_per_case": 0.45},
           "conformance_seconds": 59.0}
    rows = targets.rows(fig)
    by = {r["what"]: r for r in rows}
    switch = by["`sleep(0)` switch (earlier target)"]
    assert switch["met"] is False and "misses by 2.0x" in switch["note"]
    speed = by["`sleep(0)` switch against cpython-3.11"]
    assert speed["met"] is True and speed["measured"].startswith("40.0x")
    case = by["`bench/sleep0-switch` against cpython-3.11"]
    assert case["met"] is True and "100.0 ns" in case["measured"]
    assert by["`await create_task(c())` (earlier target)"]["met"] is True
    floor = by["`sleep(0)` switch against the C floor (ring)"]
    assert floor["met"] is False and "10.0x" in floor["measured"] and "2.0x" in floor["note"]
    assert by["one million tasks pending on one future: peak RSS"]["met"] is False
    assert by["`loopspec fuzz --impl model`"]["met"] is True
    overhead = by["the model's per-case overhead in `loopspec run`"]
    assert overhead["met"] is False and "1.5x" in overhead["note"]
    assert by["`make conformance`, every implementation"]["met"] is True
    # What would close a miss is said once per cause, and only for a miss.
    texts = targets.closing(rows)
    assert any(t.startswith("**The C floor**") for t in texts)
    assert not any(t.startswith("**The fuzzer's rate**") for t in texts)
    # Nothing measured: no verdict.
    assert all(r["met"] is None for r in targets.rows({}))


@needs_gnuplot
def test_render_writes_markdown_and_self_contained_html(tmp_path):
    root = fake_results(tmp_path)
    load = lambda n: json.loads((root / n).read_text())  # noqa: E731
    rows = targets.rows({"bench": load("bench.json"), "floor": load("floor.json"),
                         "memory": load("memory.json")})
    (root / "targets.json").write_text(json.dumps({"targets": rows, "met": 2, "measured": 5}))
    plotdata.generate(str(root), str(root / "plots"))
    md, page = make_report.render(str(root), steps={"bench": {"ok": False, "note": "boom",
                                                              "seconds": 1}})
    for heading in ("## Conformance", "### Pass rates per implementation",
                    "### Pass rates per area", "## Findings", "### Ordering diffs",
                    "## Benchmarks", "## The model against its targets",
                    "## Timer latency", "## Whole-process time of the conformance run",
                    "## The model on every case"):
        assert heading + "\n" in md, heading
    assert "| fastloop | asyncio | 2/3 | 67% | 1 | 0 | 0 | 0 |" in md
    assert "| tiny | asyncio | 0/1 | 0% | 0 | 1 | 1 | 1 |" in md
    assert "| a | 2/2 | 1/2 | 0/1 |" in md
    assert "runs y before x" in md and "NOT IN THE EXPECTATION FILES" in md
    assert "4,000 ±2% (40.0x)" in md                 # spread, ratio to the model
    assert "| C floor: `sleep(0)` switch (`tools/floor.c`) |  | 10.0x floor | 400x floor |" in md
    assert "![Median ns per operation (error bars: min to max), log scale.](plots/bench.svg)" in md
    assert "**Steps that failed:** `bench` (boom)" in md
    assert "The model meets 2 of its 5 measured targets" in md
    assert "| `sleep(0)` switch against the C floor (ring) | <= 5x the floor | 10.0x the floor" in md
    assert "**The C floor**" in md                    # what would close the miss
    assert "### Findings" in md                      # FINDINGS.md, headings demoted
    assert "3 passed, 0 failed" in md
    # The HTML: no external resources, every plot inline, ids unique.
    assert "<script" not in page and "src=" not in page
    assert page.count("<svg") == 4
    ids = re.findall(r'\bid="([^"]+)"', page) + re.findall(r"\bid='([^']+)'", page)
    assert len(ids) == len(set(ids))
    for ref in re.findall(r"url\(#([^)]+)\)", page) + re.findall(r'href="#([^"]+)"', page):
        assert ref in ids, ref
    assert "<strong>uvloop</strong> runs <code>call_later(0)</code>" in page
    assert "<pre>code &lt;here&gt;</pre>" in page
    assert 'title="tiny lacks Future"' in page


def test_latency_notes_name_early_and_late_wake_ups(tmp_path):
    latency = json.loads((fake_results(tmp_path) / "latency.json").read_text())
    latency["latency"][0]["late_us"]["median"] = 968.5
    assert make_report.latency_notes(latency) == [
        "cpython-3.11 wakes `sleep(0 ms)` 968.5 µs late",
        "webloop wakes `sleep(1 ms)` 900.0 µs early"]


def test_render_without_results_says_what_is_missing(tmp_path):
    md, page = make_report.render(str(tmp_path), steps={})
    assert "No conformance results" in md and "No benchmark results" in md
    assert "<!DOCTYPE html>" in page


def test_bad_usage():
    assert make_report.main(["--steps", "nope"]) == 2
    assert make_report.main(["--repeat", "0"]) == 2
