"""The observe tool, on CPython 3.11 only, and the one case reader it shares
with loopspec (casekit/cases.py: the model's `ast`, the model's rule for
which expect block applies to a profile).

Run with `/usr/bin/python3 -m pytest harness/tests`.
"""

import json

import pytest

from testlib import load_script, needs_model  # noqa: E402

from casekit import cases, impls  # noqa: E402

pytestmark = needs_model

observe = load_script("observe", "observe_tool")

FIRST = """\
---
title: Direct await runs the callee inline, before a task created earlier
source: seed 001 "Case 1"
tags: await, create_task
---
async def p(word):
    log(word)

async def main():
    t = create_task(p("create_task"))
    await p("await")
    await t

expect:
    await
    create_task
expect[eager]:
    create_task
    await
"""

UNORDERED = """\
---
title: two timers
source: test
---
async def main():
    log("start")
    call_later(0.01, log, "timer a")
    call_later(0.01, log, "timer b")
    await sleep(0.05)
    log("end")

expect:
    start
    unordered:
        timer a
        timer b
    end
"""

WRONG = FIRST.replace("expect:\n    await\n    create_task", "expect:\n    create_task\n    await")

HANG = """\
---
title: spins forever
source: test
timeout: 1
---
async def main():
    while True:
        pass

expect:
    never
"""


def write(tmp_path, name, text):
    path = tmp_path / "cases" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_one_reader_first_example(tmp_path):
    case = cases.parse(write(tmp_path, "await/first.case", FIRST))
    assert not case.rejected, case.error
    assert case.id == "await/first"
    assert case.header["tags"] == "await, create_task"
    assert case.program_line == 6
    assert case.program.startswith("async def p(word):\n")
    assert "expect" not in case.program
    lazy, eager = ["await", "create_task"], ["create_task", "await"]
    for profile in ("asyncio", "asyncio-3.14", "asyncio-3.11", "asyncio-3.11.7",
                    "asyncio-3.12", "asyncio-3.15"):
        assert case.expected(profile) == lazy, profile
        assert case.expect_block(profile) == "expect"
    for profile in ("eager", "eager-3.12", "eager-3.13", "eager-3.14", "eager-3.15"):
        assert case.expected(profile) == eager, profile
        assert case.expect_block(profile) == "expect[eager]"
    assert case.profiles == list(impls.profiles.NAMES)
    assert case.applies("asyncio") and case.applies("eager-3.12")


def test_the_model_decides_which_block_applies(tmp_path):
    text = FIRST.replace("expect[eager]:", "expect[asyncio-3.11, asyncio-3.12]:")
    case = cases.parse(write(tmp_path, "await/two.case", text))
    assert not case.rejected, case.error
    if case.expect_for is None:
        pytest.skip("the model's ast has no expect_for yet")
    assert set(case.expect) == {"default", "asyncio-3.11, asyncio-3.12"}
    assert case.expect_block("asyncio-3.12") == "expect[asyncio-3.11, asyncio-3.12]"
    assert case.expected("asyncio-3.11") == ["create_task", "await"]
    assert case.expected("asyncio-3.13") == ["await", "create_task"]
    # the label the model gives, whatever the harness would have guessed
    case.expect_for["asyncio-3.13"] = "asyncio-3.11, asyncio-3.12"
    assert case.expected("asyncio-3.13") == ["create_task", "await"]


def test_profiles_header_limits_the_profiles(tmp_path):
    text = FIRST.replace("tags:", "profiles: eager\ntags:")
    case = cases.parse(write(tmp_path, "p/eager-only.case", text))
    assert not case.rejected, case.error
    assert case.profiles == ["eager-3.12", "eager-3.13", "eager-3.14", "eager-3.15"]
    assert not case.applies("asyncio-3.14") and case.applies("eager")
    assert case.expected("asyncio-3.11") is None


def test_fallback_without_expect_for():
    """A model without `expect_for`: the profile's own block, else the default."""
    case = cases.Case("x/y.case")
    case.expect = {"default": ["a"], "eager": ["b"], "asyncio-3.11": ["c"]}
    assert case.expected("eager") == ["b"] and case.expected("eager-3.14") == ["b"]
    assert case.expect_block("eager-3.14") == "expect[eager]"
    assert case.expected("asyncio-3.11") == ["c"]
    assert case.expected("asyncio-3.12") == ["a"] and case.expect_block("asyncio") == "expect"
    case.header = {"profiles": ["asyncio", "eager"]}
    assert case.profiles == ["asyncio-3.14", "eager-3.14"]


def test_unordered_groups(tmp_path):
    case = cases.parse(write(tmp_path, "timers/two.case", UNORDERED))
    items = case.expected("asyncio")
    assert items[0] == "start" and items[2] == "end"
    assert items[1] == {"unordered": ["timer a", "timer b"]}
    assert cases.match(items, ["start", "timer b", "timer a", "end"])[0]
    assert not cases.match(items, ["start", "timer a", "end", "timer b"])[0]
    assert not cases.match(items, ["start", "timer a", "timer b"])[0]
    assert not cases.match(items, ["start", "timer a", "timer b", "end", "x"])[0]
    # the same with Group items
    grouped = cases.as_items(items)
    assert isinstance(grouped[1], cases.Group)
    assert cases.match(grouped, ["start", "timer b", "timer a", "end"])[0]
    assert cases.render_expect(items) == [
        "    start", "    unordered:", "        timer a", "        timer b", "    end"]


def test_header_needed(tmp_path):
    case = cases.parse(write(tmp_path, "x/bad.case", "async def main():\n    pass\n"))
    assert case.rejected and ": error: " in case.error


def test_case_ids_and_files(tmp_path):
    path = write(tmp_path, "a/b/c.case", FIRST)
    assert cases.case_id(path) == "a/b/c"
    assert cases.find_cases([str(tmp_path / "cases")]) == [path]


def test_observe_passes(tmp_path, capsys):
    write(tmp_path, "await/first.case", FIRST)
    write(tmp_path, "timers/two.case", UNORDERED)
    status = observe.main(["--impl", "cpython-3.11", str(tmp_path / "cases")])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "== await/first" in out and "== timers/two" in out
    assert "[asyncio-3.11] ok" in out


def test_observe_fails_and_suggests(tmp_path, capsys):
    path = write(tmp_path, "await/wrong.case", WRONG)
    status = observe.main(["--impl", "cpython-3.11", "--suggest", path])
    out = capsys.readouterr().out
    assert status == 1
    assert "FAIL" in out
    assert "expect:\n    await\n    create_task" in out


def test_observe_json_and_timeout(tmp_path, capsys):
    write(tmp_path, "a/hang.case", HANG)
    write(tmp_path, "b/first.case", FIRST)
    status = observe.main(["--impl", "cpython-3.11", "--json", str(tmp_path)])
    lines = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert status == 1
    assert [l["case"] for l in lines] == ["a/hang", "b/first"]
    assert lines[0]["results"]["cpython-3.11"]["status"] == "TIMEOUT"
    first = lines[1]["results"]["cpython-3.11"]
    assert first["status"] == "ok" and first["trace"] == ["await", "create_task"]


def test_observe_skips_other_profiles(tmp_path, capsys):
    path = write(tmp_path, "p/only.case",
                 WRONG.replace("tags:", "profiles: eager\ntags:"))
    assert observe.main(["--impl", "cpython-3.11", path]) == 0
    assert "skip" in capsys.readouterr().out


def test_observe_reports_malformed_case(tmp_path, capsys):
    path = write(tmp_path, "bad/no-header.case", "async def main():\n    pass\n")
    assert observe.main(["--impl", "cpython-3.11", path]) == 1
    assert "error" in capsys.readouterr().out


def test_observe_usage_errors(capsys):
    assert observe.main(["--impl", "no-such-loop"]) == 2
    assert observe.main(["--frobnicate"]) == 2
    assert observe.main(["--help"]) == 0
    assert "usage: observe" in capsys.readouterr().out


def test_observe_runs_a_case_without_expect_blocks(tmp_path, capsys):
    draft = FIRST[:FIRST.index("expect:")]
    path = write(tmp_path, "d/draft.case", draft)
    status = observe.main(["--impl", "cpython-3.11", "--suggest", path])
    out = capsys.readouterr().out
    assert status == 1
    assert "== d/draft" in out and "NO-EXPECT" in out
    assert "expect:\n    await\n    create_task" in out


def test_observe_suggests_one_block_per_trace():
    names = ("cpython-3.11", "cpython-3.12", "cpython-3.12-eager", "cpython-3.13-eager",
             "cpython-3.14")
    impl = [impls.registry()[n] for n in names]
    results = {"cpython-3.11": {"status": "FAIL", "trace": ["b", "a"]},
               "cpython-3.12": {"status": "ok", "trace": ["a", "b"]},
               "cpython-3.12-eager": {"status": "FAIL", "trace": ["b", "a"]},
               "cpython-3.13-eager": {"status": "FAIL", "trace": ["b", "a"]},
               "cpython-3.14": {"status": "ok", "trace": ["a", "b"]}}
    # the default block holds asyncio-3.14's trace
    assert observe.suggest(None, impl, results) == [
        "expect:", "    a", "    b",
        "expect[asyncio-3.11, eager-3.12, eager-3.13]:", "    b", "    a"]
    # without it, the most common trace
    del results["cpython-3.14"]
    assert observe.suggest(None, impl[:4], results) == [
        "expect:", "    b", "    a", "expect[asyncio-3.12]:", "    a", "    b"]


def test_observe_defaults_to_the_cpython_references(monkeypatch):
    monkeypatch.setenv("LOOPSPEC_PYTHON_3_11_7", "/nonexistent/python3")
    notes = []
    chosen = [i.name for i in observe.select_impls([], notes)]
    assert "cpython-3.11.7" not in chosen
    assert [n for n in notes if n.startswith("leaving out cpython-3.11.7")]
    assert chosen[0] == "cpython-3.11"
    assert set(chosen) <= set(impls.DEFAULT_IMPLS)
    # named, it is kept (and reported UNAVAILABLE when the run starts)
    assert [i.name for i in observe.select_impls(["cpython-3.11.7"], notes)] == [
        "cpython-3.11.7"]
