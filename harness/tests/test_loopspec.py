"""The loopspec command: robustness against bad adapters, gating, sharding,
merge, diff, bad arguments.  Most tests drive a fake adapter
(fakes/fake_adapter.py) registered in place of the real implementations;
cases still go through the real model's `ast` (make model).

Run with `/usr/bin/python3 -m pytest harness/tests`.
"""

import json
import os
import xml.etree.ElementTree as ET

import pytest

from testlib import HARNESS, load_script, PYTHON, needs_model, write  # noqa: E402

from casekit import diff, expectations, features, impls, profiles  # noqa: E402

FAKE = os.path.join(HARNESS, "tests", "fakes", "fake_adapter.py")

pytestmark = needs_model




loopspec = load_script("loopspec", "loopspec_tool")


def case_text(lines, timeout=None, extra_header="", expect=None, program=None):
    """A valid case file whose program logs `lines` (the fake's trace)."""
    header = "---\ntitle: test case\nsource: harness tests\n"
    if timeout:
        header += "timeout: %s\n" % timeout
    header += extra_header + "---\n"
    body = program or ("async def main():\n" + "".join(
        '    log("%s")\n' % l for l in lines))
    expect = lines if expect is None else expect
    return header + body + "\nexpect:\n" + "".join("    %s\n" % l for l in expect)


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Register fake implementations; returns a function to add more."""
    table = {}
    requests_log = tmp_path / "requests.log"

    def add(name, *options, profile="asyncio", feats=features.ALL):
        argv = [PYTHON, FAKE, "--log", str(requests_log), "--profile", profile]
        table[name] = impls.Impl(name, profile, argv + list(options), "a fake",
                                 feats, runs=profiles.NAMES)
        return table[name]

    add("fake")
    monkeypatch.setattr(impls, "registry", lambda: dict(table))
    add.requests = requests_log
    return add


def run(capsys, *argv):
    """loopspec's exit status and stdout."""
    status = loopspec.main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def results_of(path):
    with open(path) as f:
        doc = json.load(f)
    return doc, {r["case"]: r for r in doc["results"]}


# -- robustness ---------------------------------------------------------------------

def test_bad_adapters_each_give_their_status_and_the_run_goes_on(tmp_path, fake, capsys):
    ok = case_text(["a", "b"])
    for case_id, text in [
            ("r/a1-ok", ok),
            ("r/b-hang", case_text(["a"], timeout=1)),
            ("r/c-crash", ok),
            ("r/d-exit", ok),
            ("r/e-garbage", ok),
            ("r/f-noeol", case_text(["a"], timeout=1)),
            ("r/g-wrongcase", ok),
            ("r/h-wrongid", ok),
            ("r/i-error", ok),
            ("r/j-reversed", ok),
            ("r/z-ok", ok)]:
        write(tmp_path, case_id, text)
    out_json = tmp_path / "out" / "results.json"
    status, out, err = run(capsys, "run", "--impl", "fake", "--expectations", "none",
                           "--json", str(out_json), str(tmp_path / "cases"))
    assert status == 1
    doc, by_case = results_of(out_json)
    got = {case: r["status"] for case, r in by_case.items()}
    assert got == {
        "r/a1-ok": "PASS", "r/b-hang": "TIMEOUT", "r/c-crash": "CRASH",
        "r/d-exit": "CRASH", "r/e-garbage": "ERROR", "r/f-noeol": "TIMEOUT",
        "r/g-wrongcase": "ERROR", "r/h-wrongid": "ERROR", "r/i-error": "ERROR",
        "r/j-reversed": "FAIL", "r/z-ok": "PASS"}
    assert "signal 9 (SIGKILL)" in by_case["r/c-crash"]["error"]
    assert "status 3" in by_case["r/d-exit"]["error"]
    assert "not a JSON object" in by_case["r/e-garbage"]["error"]
    assert "some/other-case" in by_case["r/g-wrongcase"]["error"]
    assert by_case["r/i-error"]["error"] == "it went wrong"
    assert by_case["r/j-reversed"]["trace"] == ["b", "a"]
    assert by_case["r/j-reversed"]["expected"] == ["a", "b"]
    for r in doc["results"]:
        assert set(r) >= {"case", "impl", "profile", "status", "trace", "expected",
                          "duration_ms"}
    assert by_case["r/b-hang"]["duration_ms"] < 5000
    assert "2 passed, 9 failed, 0 skipped" == out.strip().splitlines()[-1]
    assert "\r" not in err  # no progress line when stderr is not a terminal
    assert not [p for p in os.listdir(out_json.parent) if p.endswith(".tmp")]


def test_adapter_that_cannot_start_is_an_error_for_each_case(tmp_path, fake, capsys):
    fake("broken", "--bad-ready")
    write(tmp_path, "s/one", case_text(["a"]))
    write(tmp_path, "s/two", case_text(["b"]))
    status, out, _ = run(capsys, "run", "--impl", "broken", "--expectations", "none",
                         "--json", str(tmp_path / "r.json"), str(tmp_path / "cases"))
    assert status == 1
    _, by_case = results_of(tmp_path / "r.json")
    assert [r["status"] for r in by_case.values()] == ["ERROR", "ERROR"]
    assert "did not start" in by_case["s/one"]["error"]


def test_rejected_case_is_error_everywhere_and_never_sent(tmp_path, fake, capsys):
    fake("other")
    write(tmp_path, "m/bad", case_text(["a"]).replace("title: test case\n", ""))
    write(tmp_path, "m/good", case_text(["a"]))
    status, out, _ = run(capsys, "run", "--impl", "fake,other", "--expectations", "none",
                         "--json", str(tmp_path / "r.json"), str(tmp_path / "cases"))
    assert status == 1
    doc, _ = results_of(tmp_path / "r.json")
    bad = [r for r in doc["results"] if r["case"] == "m/bad"]
    assert [r["status"] for r in bad] == ["ERROR", "ERROR"]
    assert "title" in bad[0]["error"]
    assert [c["case"] for c in doc["rejected"]] == ["m/bad"]
    assert out.count("rejected by the model") == 1
    assert "m/bad" not in fake.requests.read_text()


def test_profiles_unsupported_and_flaky(tmp_path, fake, capsys):
    fake("small", "--features", "contextvars", profile="asyncio")
    write(tmp_path, "p/only-eager", case_text(["a"], extra_header="profiles: eager\n"))
    write(tmp_path, "p/uses-call-soon", case_text([], program=(
        'async def main():\n    call_soon(log, "x")\n    await sleep(0)\n'), expect=["x"]))
    write(tmp_path, "p/flaky", case_text(["a", "b"]))
    status, out, _ = run(capsys, "run", "--impl", "small", "--repeat", "2",
                         "--expectations", "none", "--json", str(tmp_path / "r.json"),
                         str(tmp_path / "cases"))
    _, by_case = results_of(tmp_path / "r.json")
    assert "p/only-eager" not in by_case  # skipped: not a result
    assert by_case["p/uses-call-soon"]["status"] == "UNSUPPORTED"
    assert by_case["p/uses-call-soon"]["missing"] == ["call_soon"]
    assert by_case["p/flaky"]["status"] == "FLAKY"
    assert by_case["p/flaky"]["traces"] == [["a", "b"], ["b", "a"]]
    assert status == 1
    assert out.strip().splitlines()[-1] == "0 passed, 1 failed, 2 skipped"


def test_benchmarks_run_only_when_named(tmp_path, fake, capsys):
    write(tmp_path, "bench/b", case_text(["a"], extra_header="bench: 10\n"))
    write(tmp_path, "x/c", case_text(["a"]))
    status, out, _ = run(capsys, "run", "--impl", "fake", "--expectations", "none",
                         str(tmp_path / "cases"))
    assert status == 0 and "bench/b" not in out and "x/c" in out
    status, out, _ = run(capsys, "run", "--impl", "fake", "--expectations", "none",
                         str(tmp_path / "cases" / "bench"))
    assert status == 0 and "bench/b" in out


# -- gating -------------------------------------------------------------------------

def gating_cases(tmp_path):
    write(tmp_path, "g/passes", case_text(["a", "b"]))
    write(tmp_path, "g/reversed", case_text(["a", "b"]))


def test_known_failure_passes_the_gate(tmp_path, fake, capsys):
    gating_cases(tmp_path)
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "fake.txt").write_text("# comment\ng/reversed FAIL the fake reverses traces\n")
    status, out, _ = run(capsys, "run", "--impl", "fake", "--expectations", str(exp),
                         "--junit", str(tmp_path / "r.xml"), str(tmp_path / "cases"))
    assert status == 0, out
    assert "known: the fake reverses traces" in out
    xml = ET.parse(tmp_path / "r.xml").getroot()
    assert xml.get("failures") == "0" and xml.get("skipped") == "1"


def test_unexpected_pass_and_unlisted_failure_fail_the_gate(tmp_path, fake, capsys):
    gating_cases(tmp_path)
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "fake.txt").write_text("g/passes FAIL stale line\n")
    status, out, _ = run(capsys, "run", "--impl", "fake", "--expectations", str(exp),
                         "--junit", str(tmp_path / "r.xml"), str(tmp_path / "cases"))
    assert status == 1
    assert "2 results differ from the expectation files" in out
    xml = ET.parse(tmp_path / "r.xml").getroot()
    assert xml.get("failures") == "2"
    kinds = [f.get("type") for f in xml.iter("failure")]
    assert sorted(kinds) == ["FAIL", "UNEXPECTED-PASS"]


def test_update_expectations_rewrites_and_keeps_reasons(tmp_path, fake, capsys):
    gating_cases(tmp_path)
    write(tmp_path, "g/error", case_text(["a"]))
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "fake.txt").write_text("g/passes FAIL stale\ng/reversed FAIL my reason\n"
                                  "g/not-in-this-run ERROR kept\n")
    status, _, _ = run(capsys, "run", "--impl", "fake", "--expectations", str(exp),
                       "--update-expectations", str(tmp_path / "cases"))
    assert status == 0
    lines = [l for l in (exp / "fake.txt").read_text().splitlines() if not l.startswith("#")]
    assert lines == ["g/error ERROR it went wrong", "g/not-in-this-run ERROR kept",
                     "g/reversed FAIL my reason"]
    assert run(capsys, "run", "--impl", "fake", "--expectations", str(exp),
               str(tmp_path / "cases"))[0] == 0


def test_expectation_alternatives_and_bad_files(tmp_path, fake, capsys):
    gating_cases(tmp_path)
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "fake.txt").write_text("g/reversed PASS|FAIL varies\n")
    assert run(capsys, "run", "--impl", "fake", "--expectations", str(exp),
               str(tmp_path / "cases"))[0] == 0
    (exp / "fake.txt").write_text("g/reversed BROKEN nope\n")
    status, _, err = run(capsys, "run", "--impl", "fake", "--expectations", str(exp),
                         str(tmp_path / "cases"))
    assert status == 2 and "unknown status 'BROKEN'" in err


# -- shards and merge ---------------------------------------------------------------

def test_shards_partition_and_merge_joins_them(tmp_path, fake, capsys):
    for n in range(7):
        write(tmp_path, "s/case%d" % n, case_text(["a%d" % n]))
    write(tmp_path, "s/reversed", case_text(["a", "b"]))
    files = []
    for k in (1, 2, 3):
        path = tmp_path / ("shard%d.json" % k)
        run(capsys, "run", "--impl", "fake", "--shard", "%d/3" % k, "--expectations", "none",
            "--json", str(path), str(tmp_path / "cases"))
        files.append(str(path))
    shards = [set(results_of(f)[1]) for f in files]
    assert all(shards) and not (shards[0] & shards[1] or shards[1] & shards[2]
                                or shards[0] & shards[2])
    assert len(shards[0] | shards[1] | shards[2]) == 8
    merged = tmp_path / "merged.json"
    status, out, _ = run(capsys, "merge", "--expectations", "none", "--json", str(merged),
                         "--junit", str(tmp_path / "merged.xml"), *files)
    assert status == 1  # s/reversed fails and is in no expectation file
    doc, by_case = results_of(merged)
    assert len(by_case) == 8 and by_case["s/reversed"]["status"] == "FAIL"
    assert out.strip().splitlines()[-1] == "7 passed, 1 failed, 0 skipped"
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "fake.txt").write_text("s/reversed FAIL reversed\n")
    assert run(capsys, "merge", "--expectations", str(exp), *files)[0] == 0


# -- diff ---------------------------------------------------------------------------

def test_diff_shows_both_traces_and_the_distance(tmp_path, fake, capsys):
    path = write(tmp_path, "d/reversed", case_text(["a", "b", "c"]))
    status, out, _ = run(capsys, "diff", "--impl", "fake", path)
    assert status == 1
    assert "== d/reversed on fake [asyncio-3.14]: FAIL" in out
    assert "expected 'a', got 'c'" in out
    assert "Kendall tau 3 (3 of 3 pairs" in out
    rows = [l for l in out.splitlines() if "|" in l]
    assert "a" in rows[1] and rows[1].rstrip().endswith("c")
    path = write(tmp_path, "d/fine", case_text(["a"]))
    assert run(capsys, "diff", "--impl", "fake", path)[0] == 0


def test_kendall_tau():
    assert diff.kendall(["a", "b", "c"], ["a", "b", "c"])[:3] == (0, 3, 0.0)
    assert diff.kendall(["a", "b", "c"], ["c", "b", "a"])[:3] == (3, 3, 1.0)
    assert diff.kendall(["a", "b", "c", "d"], ["b", "a", "x", "d"]) == (1, 3, 1 / 3, 1, 1)
    # repeated lines are told apart by occurrence
    assert diff.kendall(["t", "x", "t"], ["x", "t", "t"])[:2] == (1, 3)
    # an unordered group follows the actual order
    assert diff.kendall(["s", {"unordered": ["a", "b"]}, "e"], ["s", "b", "a", "e"])[0] == 0


# -- arguments ----------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    [],
    ["frobnicate"],
    ["run", "--impl", "no-such-loop"],
    ["run", "--impl", ""],
    ["run", "--shard", "3/2"],
    ["run", "--shard", "x"],
    ["run", "--repeat", "0"],
    ["run", "--jobs", "many"],
    ["run", "--timeout-multiplier", "-1"],
    ["run", "--profile", "trio"],
    ["run", "--bogus"],
    ["run", "--expectations", "/nonexistent-dir"],
    ["run", "/nonexistent.case"],
    ["diff", "some/case"],
    ["diff", "--impl", "fake", "no/such-case"],
    ["diff", "--impl", "fake,model,fake", "x"],
    ["diff", "--impl", "all", "x"],
    ["diff", "--impl", "fake:bogus", "x"],
    ["diff", "--impl", "fake:", "x"],
    ["diff", "--impl", "fake", "--profile", "asyncio,eager,asyncio-3.11", "x"],
    ["diff", "--impl", "fake:eager", "--profile", "asyncio,asyncio-3.11", "x"],
    ["diff", "--impl", "fake,fake", "x"],
    ["diff", "--impl", "fake", "--profile", "asyncio,asyncio-3.14", "x"],
    ["merge"],
    ["merge", "/nonexistent.json"],
])
def test_bad_arguments_exit_2(argv, fake, capsys):
    status, out, err = run(capsys, *argv)
    assert status == 2, (argv, out, err)
    assert err.startswith("loopspec: ") and out == ""


def test_merge_rejects_a_file_that_is_not_results(tmp_path, fake, capsys):
    bogus = tmp_path / "x.json"
    bogus.write_text('{"something": 1}')
    status, _, err = run(capsys, "merge", str(bogus))
    assert status == 2 and "not a loopspec results file" in err


def test_help_and_list(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "loopspec run" in out and "Kendall tau" in out
    status, out, _ = run(capsys, "list")
    assert status == 0
    for name in impls.registry():
        assert "\n" + name + " " in out
    for name in profiles.NAMES:
        assert "\n  " + name + " " in out
    assert "asyncio-3.14    3.14.2  (also: asyncio)" in out


def test_all_is_every_conformance_implementation():
    assert impls.conformance_ids() == [
        "model", "cpython-3.11", "cpython-3.11-pure", "uvloop", "pypy-3.9",
        "cpython-3.11.3", "cpython-3.11.7", "cpython-3.11.7-pure",
        "cpython-3.12", "cpython-3.12-eager", "cpython-3.13", "cpython-3.13-eager",
        "cpython-3.14", "cpython-3.14-eager", "cpython-3.15", "cpython-3.15-eager",
        "pyodide-webloop", "micropython", "gbulb", "uvloop-0.23", "rloop", "bracio",
        "qasync", "trio-asyncio", "ferro-io"]
    assert "cpython-3.11-virtual" in impls.registry()


# -- diff of two sides ---------------------------------------------------------------

def test_diff_of_two_implementations_shows_both_traces(tmp_path, fake, capsys):
    fake("swapped", "--swap-first")
    path = write(tmp_path, "d/three", case_text(["a", "b", "c"]))
    status, out, _ = run(capsys, "diff", "--impl", "fake,swapped", path)
    assert status == 1, out
    assert "== d/three: fake [asyncio-3.14] vs swapped [asyncio-3.14]" in out
    assert "fake [asyncio-3.14]: PASS against expect" in out
    assert "swapped [asyncio-3.14]: FAIL against expect: line 1: expected 'a', got 'b'" in out
    assert "both are checked against the same block, expect" in out
    assert ("first divergence: line 1: fake [asyncio-3.14] has 'a', "
            "swapped [asyncio-3.14] has 'b'") in out
    assert "Kendall tau 1 (1 of 3 pairs" in out
    rows = [l for l in out.splitlines() if " | " in l]
    assert rows[0].split() == ["fake", "[asyncio-3.14]", "|", "swapped", "[asyncio-3.14]"]
    assert rows[1].startswith("  *  1") and rows[3].startswith("     3")
    # the same implementation under two profiles: the same trace, exit 0
    status, out, _ = run(capsys, "diff", "--impl", "fake", "--profile",
                         "asyncio-3.12,asyncio-3.13", path)
    assert status == 0, out
    assert "fake [asyncio-3.12] vs fake [asyncio-3.13]" in out
    assert "first divergence: none, the traces are the same" in out
    status, out, _ = run(capsys, "diff", "--impl", "fake:asyncio-3.12,swapped:eager", path)
    assert "fake [asyncio-3.12] vs swapped [eager-3.14]" in out


def test_diff_of_two_profiles_on_the_model():
    sides = loopspec.diff_sides("model", "asyncio-3.11,asyncio-3.12")
    assert sides == [("model", "asyncio-3.11"), ("model", "asyncio-3.12")]
    assert loopspec.diff_sides("model:asyncio-3.11,model:asyncio-3.12", None) == sides
    assert loopspec.diff_sides("a,b", "eager") == [("a", "eager-3.14"), ("b", "eager-3.14")]
    assert loopspec.diff_sides("a,b:asyncio", "eager") == [("a", "eager-3.14"),
                                                            ("b", "asyncio-3.14")]
    assert loopspec.diff_sides("a,b", "asyncio-3.12,asyncio-3.13") == [
        ("a", "asyncio-3.12"), ("b", "asyncio-3.13")]
    assert loopspec.diff_sides("a", None) == [("a", None)]


def test_diff_of_two_profiles_on_the_real_model(capsys):
    case = os.path.join(os.path.dirname(HARNESS), "cases", "await",
                        "inline-before-task.case")
    status, out, _ = run(capsys, "diff", "--impl", "model:asyncio-3.12,model:eager-3.12", case)
    assert status == 1, out
    assert "model [asyncio-3.12]: PASS against expect" in out
    assert "model [eager-3.12]: PASS against expect[eager]" in out
    assert "the expect blocks differ: expect for the left, expect[eager] for the right" in out
    assert "first divergence: line 1: model [asyncio-3.12] has 'await'" in out


# -- pieces -------------------------------------------------------------------------

def test_features_used_by_a_program():
    ast = {"kind": "module", "body": [
        {"kind": "def", "name": "Future", "params": [], "body": {"kind": "block", "body": []}},
        {"kind": "def", "name": "main", "params": [{"kind": "param", "name": "gather"}],
         "body": {"kind": "block", "body": [
             {"kind": "expr_stmt", "value": {"kind": "call", "func": {
                 "kind": "name", "name": "call_soon"}, "args": [
                 {"kind": "name", "name": "Future"}, {"kind": "name", "name": "gather"}]}},
             {"kind": "expr_stmt", "value": {"kind": "call", "func": {
                 "kind": "attr", "name": "uncancel", "object": {"kind": "name", "name": "t"}},
                 "args": []}},
             {"kind": "expr_stmt", "value": {"kind": "call", "func": {
                 "kind": "attr", "name": "append", "object": {"kind": "name", "name": "xs"}},
                 "args": [{"kind": "name", "name": "ContextVar"}]}}]}}]}
    assert features.used_by_program(ast) == ["contextvars", "call_soon", ".uncancel"]


def test_expectation_judge():
    e = expectations.Expectation("c", ["FAIL"], "r")
    assert expectations.judge({"status": "FAIL"}, e)
    assert not expectations.judge({"status": "PASS"}, e)
    assert expectations.judge({"status": "UNSUPPORTED"}, None)
    assert not expectations.judge({"status": "TIMEOUT"}, None)


# -- the real model through its adapter ----------------------------------------------

def test_model_adapter_runs_cases_and_reports_exit_3(tmp_path, capsys):
    write(tmp_path, "m/first", case_text([], program=(
        'async def p(word):\n    log(word)\n\nasync def main():\n'
        '    t = create_task(p("task"))\n    await p("await")\n    await t\n'),
        expect=["await", "task"]))
    write(tmp_path, "m/forever", case_text([], program=(
        'async def main():\n    log("x")\n    await Future()\n'), expect=["x"]))
    status, out, _ = run(capsys, "run", "--impl", "model", "--expectations", "none",
                         "--json", str(tmp_path / "r.json"), str(tmp_path / "cases"))
    assert status == 1
    _, by_case = results_of(tmp_path / "r.json")
    assert by_case["m/first"]["status"] == "PASS"
    assert by_case["m/forever"]["status"] == "ERROR"
    assert "forever" in by_case["m/forever"]["error"] or "wait" in by_case["m/forever"]["error"]
    status, out, _ = run(capsys, "run", "--impl", "model", "--profile", "eager",
                         "--expectations", "none", "--json", str(tmp_path / "e.json"),
                         str(tmp_path / "cases" / "m" / "first.case"))
    assert status == 1 and "first divergence: line 1: expected 'await', got 'task'" in out
    _, by_case = results_of(tmp_path / "e.json")
    assert by_case["m/first"]["profile"] == "eager-3.14"  # the alias, normalized
    for profile in ("asyncio-3.11", "asyncio-3.12", "eager-3.13", "asyncio-3.15"):
        status, out, _ = run(capsys, "run", "--impl", "model", "--profile", profile,
                             "--expectations", "none", "--json", str(tmp_path / "p.json"),
                             str(tmp_path / "cases" / "m" / "first.case"))
        _, by_case = results_of(tmp_path / "p.json")
        assert by_case["m/first"]["profile"] == profile
        assert by_case["m/first"]["status"] == ("FAIL" if profile.startswith("eager")
                                                else "PASS"), out


def test_run_refuses_a_profile_an_implementation_cannot_run(tmp_path, capsys):
    write(tmp_path, "m/x", case_text(["a"]))
    status, _, err = run(capsys, "run", "--impl", "cpython-3.11", "--profile", "eager",
                         str(tmp_path / "cases"))
    assert status == 2 and "cpython-3.11 cannot run profile eager-3.14" in err
    status, _, err = run(capsys, "run", "--impl", "model", "--profile", "asyncio-3.10",
                         str(tmp_path / "cases"))
    assert status == 2 and "unknown profile 'asyncio-3.10'" in err


def test_missing_implementation_is_skipped_by_all_and_refused_by_name(tmp_path, fake, capsys):
    missing = fake("missing")
    missing.needs = (lambda: "/opt/nowhere is missing: install the nowhere package",)
    write(tmp_path, "u/one", case_text(["a"]))
    status, out, err = run(capsys, "run", "--impl", "all", "--expectations", "none",
                           "--json", str(tmp_path / "r.json"), str(tmp_path / "cases"))
    assert status == 0
    assert "skipping missing, not available here: /opt/nowhere is missing" in err
    doc, _ = results_of(tmp_path / "r.json")
    assert {r["impl"] for r in doc["results"]} == {"fake"}
    assert "missing" in doc["unavailable"]
    status, _, err = run(capsys, "run", "--impl", "missing", str(tmp_path / "cases"))
    assert status == 2 and "install the nowhere package" in err
    status, out, _ = run(capsys, "list")
    assert status == 0 and "missing: /opt/nowhere is missing" in out


def test_all_leaves_out_a_missing_pyenv_python(monkeypatch):
    monkeypatch.setenv("LOOPSPEC_PYTHON_3_11_7", "/nonexistent/python3")
    chosen, notes = loopspec.select_impls(["all"])
    names = [impl.name for impl in chosen]
    assert "cpython-3.11.7" not in names and "cpython-3.11.7-pure" not in names
    assert any(n.startswith("skipping cpython-3.11.7, not available here: "
                            "/nonexistent/python3 is missing") for n in notes)
    assert "cpython-3.12-eager" in names or not impls.node_modules_present()
    with pytest.raises(loopspec.UsageError):
        loopspec.select_impls(["cpython-3.11.7"])


@needs_model
def test_model_server_answers_each_request_as_a_fresh_process():
    """One `loopspec-model serve` shares the compiled prelude, its memory
    blocks and its lookup hints between requests: a case's reply must not
    depend on what ran before it. Every program of model/tests/programs and
    every tenth case, under alternating profiles, in two orders, against
    `loopspec-model run` in a process of its own."""
    import glob
    import subprocess
    from casekit.modelserver import ModelServer
    root = os.path.dirname(HARNESS)
    paths = sorted(glob.glob(os.path.join(root, "model", "tests", "programs", "*.case")))
    paths += sorted(glob.glob(os.path.join(root, "cases", "*", "*.case")))[::10]
    paths = [p for p in paths if os.sep + "bench" + os.sep not in p]
    chosen = ("asyncio-3.11", "eager-3.14", "asyncio-3.13", "eager-3.12")
    work = [(p, chosen[i % len(chosen)]) for i, p in enumerate(paths)]
    fresh = {}
    for path, profile in work:
        proc = subprocess.run([impls.MODEL, "run", "--profile", profile, path],
                              capture_output=True, text=True, timeout=60)
        fresh[path, profile] = (proc.returncode, proc.stdout.splitlines())
    for order in (work, work[::-1]):
        server = ModelServer(impls.MODEL)
        try:
            for i, (path, profile) in enumerate(order):
                reply = server.ask({"id": i, "path": path, "profile": profile})
                got = (0, [str(t) for t in reply["trace"]]) if "trace" in reply else \
                    (reply.get("exit"), None)
                want = fresh[path, profile]
                if got[0] == 0 or want[0] == 0:
                    assert got == want, (path, profile)
                else:
                    assert got[0] == want[0], (path, profile, reply)
        finally:
            server.close()
