"""The observe tool and its case-file splitting, on CPython 3.11 only.

Run with `/usr/bin/python3 -m pytest harness/tests`.
"""

import json

import pytest

from testlib import load_script  # noqa: E402

from casekit import casefile  # noqa: E402




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


def test_split_first_example(tmp_path):
    case = casefile.parse_case(write(tmp_path, "await/first.case", FIRST))
    assert case.id == "await/first"
    assert case.header["tags"] == "await, create_task"
    assert case.program_line == 6
    assert case.program.startswith("async def p(word):\n")
    assert "expect" not in case.program
    assert case.expected("asyncio") == ["await", "create_task"]
    assert case.expected("asyncio-3.11") == ["await", "create_task"]
    assert case.expected("eager") == ["create_task", "await"]


def test_unordered_groups():
    case = casefile.parse_case("x.case", UNORDERED)
    items = case.expected("asyncio")
    assert items[0] == "start" and items[2] == "end"
    assert isinstance(items[1], casefile.Group)
    assert casefile.match(items, ["start", "timer b", "timer a", "end"])[0]
    assert not casefile.match(items, ["start", "timer a", "end", "timer b"])[0]
    assert not casefile.match(items, ["start", "timer a", "timer b"])[0]
    assert not casefile.match(items, ["start", "timer a", "timer b", "end", "x"])[0]


def test_header_needed():
    with pytest.raises(casefile.CaseFormatError):
        casefile.parse_case("x.case", "async def main():\n    pass\n")


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
