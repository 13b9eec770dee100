"""The version report (tools/versions.py) on a small fake conformance run.

The causes come from the real model (`loopspec-model run --changes`), so
these tests need `make model` (`make check` builds it first).
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)

import versions  # noqa: E402

MODEL = os.path.join(ROOT, "model", "loopspec-model")
needs_model = pytest.mark.skipif(not os.path.exists(MODEL), reason="run `make model`")
CASE = "timeout/earlier-unwithdrawn-cancel-hides-timeout-on-3-11"
OLD = ["body caught a cancel, cancelling 1", "CancelledError", "body finished"]
NEW = ["body caught a cancel, cancelling 1", "TimeoutError", "body finished"]


def result(case, impl, profile, trace, status="PASS"):
    return {"case": case, "impl": impl, "profile": profile, "status": status,
            "trace": trace, "expected": trace if status == "PASS" else OLD}


def fake_run():
    results = []
    for impl, profile, trace in (("cpython-3.11", "asyncio-3.11", OLD),
                                 ("cpython-3.11.3", "asyncio-3.11.3", NEW),
                                 ("cpython-3.12", "asyncio-3.12", NEW),
                                 ("cpython-3.12-eager", "eager-3.12", NEW),
                                 ("cpython-3.14-eager", "eager-3.14", NEW),
                                 ("uvloop", "asyncio-3.11", ["other"])):
        results.append(result(CASE, impl, profile, trace))
        results.append(result("a/same", impl, profile, ["x"]))
    # A failing reference counts as its own trace.
    results.append(result("a/fails", "cpython-3.11", "asyncio-3.11", ["1", "2"]))
    results.append(result("a/fails", "cpython-3.12", "asyncio-3.12", ["2", "1"], "FAIL"))
    return {"started": "2026-01-01T00:00:00", "results": results}


@needs_model
def test_boundaries_name_the_cpython_change():
    cols, classes, boundaries = versions.analyse(fake_run(), MODEL)
    assert [c.impl for c in cols] == ["cpython-3.11", "cpython-3.11.3", "cpython-3.12",
                                      "cpython-3.12-eager", "cpython-3.14-eager"]
    assert [c.release for c in cols][:3] == ["3.11.2", "3.11.3", "3.12.7"]
    assert classes[CASE] == [0, 1, 1, 1, 1]
    assert classes["a/same"] == [0, 0, 0, 0, 0]
    first = boundaries[0]
    assert (first[0].impl, first[1].impl) == ("cpython-3.11", "cpython-3.11.3")
    [(case, diff, causes)] = first[2]
    assert case == CASE
    assert "-CancelledError" in diff and "+TimeoutError" in diff
    assert [name for name, _, _ in causes] == ["timeout_cancelling"]
    assert "gh-102780" in causes[0][2]
    # uvloop is no reference; 3.11.3 to 3.12 changes nothing here.
    assert boundaries[1][2] == [] or all(c != CASE for c, _, _ in boundaries[1][2])


@needs_model
def test_report_and_plot_data(tmp_path):
    conf = tmp_path / "conformance.json"
    conf.write_text(json.dumps(fake_run()))
    out, dat = tmp_path / "VERSIONS.md", tmp_path / "versions.dat"
    rc = versions.main(["--conformance", str(conf), "--out", str(out),
                        "--plot-data", str(dat), "--model", MODEL])
    assert rc == 0
    text = out.read_text()
    assert "### 3.11.2 to 3.11.3" in text
    assert "`timeout_cancelling` (from 3.11.3)" in text
    assert "| `%s` | A | B | B | B | B |" % CASE in text
    assert "| `a/fails` | A | - | B | - | - |" in text
    cells = dat.read_text().split("\n\n\n")[0].splitlines()[1:]
    assert len(cells) == 2 * 5  # two varying cases, five releases
    if shutil.which("gnuplot"):
        svg = tmp_path / "versions.svg"
        subprocess.run(["gnuplot", "-e", 'datafile="%s"; outfile="%s"; ncases=2; ncols=5; '
                        'plotsdir="%s"' % (dat, svg, os.path.join(ROOT, "plots")),
                        os.path.join(ROOT, "plots", "versions.gp")], check=True, timeout=60)
        assert "<svg" in svg.read_text()


def test_unreadable_conformance_is_status_2(tmp_path):
    assert versions.main(["--conformance", str(tmp_path / "missing.json"),
                          "--out", str(tmp_path / "v.md")]) == 2
    assert not (tmp_path / "v.md").exists()
