"""`loopspec bench` and `loopspec latency`: the JSON they write, skips, budgets.

They drive the fake adapter (fakes/fake_adapter.py), which answers bench
requests with `elapsed_ns` = 1000000 x the request id and latency requests
with made-up lateness; cases still go through the real model's `ast`.

Run with `/usr/bin/python3 -m pytest harness/tests`.
"""

import json
import os

import pytest

from testlib import HARNESS, load_script, PYTHON, needs_model, write  # noqa: E402

from casekit import bench as benchlib  # noqa: E402
from casekit import features, impls, profiles  # noqa: E402

FAKE = os.path.join(HARNESS, "tests", "fakes", "fake_adapter.py")

pytestmark = needs_model




loopspec = load_script("loopspec", "loopspec_bench_tool")


def bench_case(lines, ops=10, program=None, extra=""):
    header = "---\ntitle: a benchmark\nsource: harness tests\nbench: %d\n%s---\n" % (ops, extra)
    body = program or ("async def main():\n" + "".join('    log("%s")\n' % l for l in lines))
    return header + body + "\nexpect:\n" + "".join("    %s\n" % l for l in lines)


@pytest.fixture
def fake(monkeypatch):
    table = {}

    def add(name, *options, feats=features.ALL, real_time=True):
        argv = [PYTHON, FAKE] + list(options)
        table[name] = impls.Impl(name, "asyncio", argv, "a fake", feats,
                                 runs=profiles.NAMES, real_time=real_time)
        return table[name]

    add("fake")
    monkeypatch.setattr(impls, "registry", lambda: dict(table))
    return add


def run(capsys, *argv):
    status = loopspec.main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_bench_json_has_the_issue_shape_and_the_statistics(tmp_path, fake, capsys):
    write(tmp_path, "bench/a", bench_case(["x", "y"], ops=10))
    write(tmp_path, "bench/b-notime", bench_case(["x"]))
    write(tmp_path, "bench/c-reversed", bench_case(["x", "y"]))
    write(tmp_path, "bench/d", bench_case(["x"], program=(
        'async def main():\n    call_soon(len, "")\n    log("x")\n'), ops=5))
    out_json = tmp_path / "out" / "bench.json"
    fake("small", "--features", "gather", feats=("gather",))
    status, out, err = run(capsys, "bench", "--impl", "fake,small", "--repeat", "3",
                           "--json", str(out_json), str(tmp_path / "cases" / "bench"))
    assert status == 0, out + err
    doc = json.loads(out_json.read_text())
    assert set(doc) >= {"bench", "skipped", "ops", "impls"}
    for e in doc["bench"]:
        assert set(e) == {"case", "impl", "ns_per_op", "runs"}
        assert set(e["ns_per_op"]) == {"median", "min", "max"}
    by = {(e["case"], e["impl"]): e for e in doc["bench"]}
    # Rounds: round 0 warms up every case on `fake` (requests 1 to 4: a, b, c,
    # d; b and c drop out), then each round times a and d once: a is timed by
    # requests 5, 7 and 9 (the fake's elapsed_ns is 1e6 times the request id).
    assert by[("bench/a", "fake")] == {"case": "bench/a", "impl": "fake", "runs": 3,
                                       "ns_per_op": {"median": 700000.0, "min": 500000.0,
                                                     "max": 900000.0}}
    assert ("bench/d", "fake") in by and ("bench/a", "small") in by
    why = {(s["case"], s["impl"]): s["why"] for s in doc["skipped"]}
    assert "elapsed_ns" in why[("bench/b-notime", "fake")]
    assert "wrong trace" in why[("bench/c-reversed", "fake")]
    assert "lacks call_soon" in why[("bench/d", "small")]
    assert doc["ops"]["bench/a"] == 10
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["median", "ns/op", "fake"]
    assert any(l.startswith("bench/a") and "700000" in l for l in lines)
    assert "skipped:" in out


def test_bench_budget_cuts_the_runs_and_plain_cases_are_left_out(tmp_path, fake, capsys):
    write(tmp_path, "bench/a", bench_case(["x"], ops=10))
    plain = write(tmp_path, "x/plain", bench_case(["x"]).replace("bench: 10\n", ""))
    out_json = tmp_path / "b.json"
    status, out, err = run(capsys, "bench", "--impl", "fake", "--repeat", "5",
                           "--max-seconds", "0.001", "--json", str(out_json),
                           str(tmp_path / "cases" / "bench"), plain)
    assert status == 0
    doc = json.loads(out_json.read_text())
    assert [e["runs"] for e in doc["bench"]] == [1]
    assert "x/plain" in err and "fewer runs" in out


def test_bench_bad_usage(tmp_path, fake, capsys):
    assert run(capsys, "bench", "--repeat", "0")[0] == 2
    plain = write(tmp_path, "x/plain", bench_case(["x"]).replace("bench: 10\n", ""))
    status, _, err = run(capsys, "bench", "--impl", "fake", plain)
    assert status == 2 and "no benchmark cases" in err


def test_latency_json_and_virtual_clock_skip(tmp_path, fake, capsys):
    fake("virtual", real_time=False)
    out_json = tmp_path / "lat.json"
    status, out, err = run(capsys, "latency", "--impl", "fake,virtual", "--delays", "0,1",
                           "--samples", "5", "--json", str(out_json))
    assert status == 0, out + err
    doc = json.loads(out_json.read_text())
    assert [(e["impl"], e["delay_ms"]) for e in doc["latency"]] == [("fake", 0), ("fake", 1)]
    first = doc["latency"][0]
    assert first["samples"] == [1, 2, 3, 4, 5]
    assert first["late_us"]["median"] == 3 and first["late_us"]["max"] == 5
    assert doc["latency"][1]["late_us"]["min"] == 11
    assert [s["impl"] for s in doc["skipped"]] == ["virtual"]
    assert "virtual clock" in doc["skipped"][0]["why"]
    assert run(capsys, "latency", "--delays", "x")[0] == 2


def test_statistics_helpers():
    assert benchlib.stats([3, 1, 2]) == {"median": 2, "min": 1, "max": 3}
    assert benchlib.median([1, 2, 3, 4]) == 2.5
    assert benchlib.percentile([0, 10], 50) == 5
    s = benchlib.summary([float(x) for x in range(101)])
    assert s["p5"] == 5 and s["p99"] == 99 and s["n"] == 101


def test_latency_measures_the_io_phase_on_a_loop_with_sockets(tmp_path, capsys):
    # A real adapter (Debian's CPython): the reader and sock_recv rows come
    # with the timer rows, one value per sample, each a positive time.
    out = tmp_path / "lat.json"
    status, text, _ = run(capsys, "latency", "--impl", "cpython-3.11", "--delays", "0",
                          "--samples", "5", "--json", str(out))
    assert status == 0, text
    doc = json.loads(out.read_text())
    rows = {e["what"]: e for e in doc["io_latency"]}
    assert sorted(rows) == ["reader", "sock_recv"]
    for e in rows.values():
        assert e["impl"] == "cpython-3.11" and len(e["samples"]) == 5
        assert all(v > 0 for v in e["samples"])
    assert "the I/O phase acts" in text
