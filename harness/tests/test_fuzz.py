"""`loopspec fuzz`: the generator is reproducible and its programs pass the
model's gate; the shrinker reduces a synthetic divergence to a small case;
the JSON document; bad arguments.  The divergence comes from a fake
implementation (fakes/swap_adapter.py: the model, with the first two trace
lines swapped whenever helper h0 logged).

Run with `/usr/bin/python3 -m pytest harness/tests/test_fuzz.py`.
"""

import json
import os
import subprocess

import pytest

from testlib import HARNESS, load_script, PYTHON, needs_model  # noqa: E402

from casekit import features, fuzz, impls, profiles  # noqa: E402

SWAP = os.path.join(HARNESS, "tests", "fakes", "swap_adapter.py")

pytestmark = needs_model




loopspec = load_script("loopspec", "loopspec_fuzz_tool")


@pytest.fixture
def swap(monkeypatch):
    """The registry with the swapping fake and the model.  The fake has no
    sockets, so that its programs are the ones these tests were written for
    (an I/O episode's lines are as easily swapped, but not as easily shrunk
    away)."""
    real = impls.registry()
    table = {"model": real["model"],
             "swap": impls.Impl("swap", "asyncio", [PYTHON, SWAP], "a fake with one bug",
                                [f for f in features.ALL if f != "io"], runs=profiles.NAMES)}
    monkeypatch.setattr(impls, "registry", lambda: dict(table))
    return table


def gate(path):
    """The model's `ast` JSON of a case file; fails the test if rejected."""
    proc = subprocess.run([impls.MODEL, "ast", path], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_generator_is_reproducible_from_the_seed():
    a = [fuzz.generate("s1", i).render() for i in range(20)]
    b = [fuzz.generate("s1", i).render() for i in range(20)]
    c = [fuzz.generate("s2", i).render() for i in range(20)]
    assert a == b
    assert a != c
    assert len(set(a)) == 20
    assert fuzz.generate("s1", 3, attempt=1).render() != a[3]


def test_programs_pass_the_models_gate(tmp_path):
    seen = set()
    for i in range(60):
        text = fuzz.case_text(fuzz.generate("gate", i).render(), "asyncio")
        path = tmp_path / ("p%d.case" % i)
        path.write_text(text)
        data = gate(str(path))
        seen.update(features.used_by_program(data["ast"]))
        for profile in ("asyncio", "eager", "asyncio-3.11"):
            result = fuzz.run_model(str(path), profile)
            assert result.status == "ok", (text, result.message)
    # The generator covers the constructs of the brief.
    for feature in ("call_soon", "call_later", "Future", "gather", "Lock", "Event",
                    "Queue", "contextvars", ".add_done_callback", ".cancelled"):
        assert feature in seen, feature
    sources = "".join(fuzz.generate("gate", i).render() for i in range(60))
    for construct in ("create_task(", "await sleep(0)", "await suspend()", "cancel(\"",
                      ".cancel()", "return_exceptions=True", "async with lock",
                      "except CancelledError", "raise Error(", "finally:", "cv.set("):
        assert construct in sources, construct


def test_programs_for_micropython_use_only_what_it_has(tmp_path):
    impl = impls.registry()["micropython"]
    feats = fuzz.Features.for_impl(impl)
    for i in range(30):
        text = fuzz.case_text(fuzz.generate("mpy", i, features=feats).render(), "asyncio")
        path = tmp_path / ("p%d.case" % i)
        path.write_text(text)
        used = features.used_by_program(gate(str(path))["ast"])
        assert set(used) <= set(impl.features), (used, text)
        assert "repr(" not in text and '.cancel("' not in text


LATER = ("classes", "custom_awaitables", "Barrier", "as_completed", "PriorityQueue",
         "Queue.shutdown", "io")


def test_later_constructs_appear_and_respect_each_implementations_features(tmp_path):
    # Every CPython 3.13+ feature set gets the later constructs; 3.11's never
    # Queue.shutdown, and each program passes the gate under the profile.
    # Only the implementations with sockets get I/O episodes (the Pyodide
    # builds have none).
    for name, profile, want in (("cpython-3.14", "asyncio-3.14", set(LATER) - {"io"}),
                                ("cpython-3.11", "asyncio-3.11",
                                 set(LATER) - {"Queue.shutdown"})):
        impl = impls.registry()[name]
        feats = fuzz.Features.for_impl(impl)
        seen = set()
        for i in range(120):
            text = fuzz.case_text(fuzz.generate("later", i, features=feats).render(), profile)
            path = tmp_path / ("p%d.case" % i)
            path.write_text(text)
            used = set(features.used_by_program(gate(str(path))["ast"]))
            assert used <= set(impl.features), (used, text)
            seen |= used & set(LATER)
            assert fuzz.run_model(str(path), profile).status in ("ok", "hang"), text
        assert seen == want, (name, seen)


def test_unfit_programs_are_recognised(tmp_path):
    def model(program, profile="asyncio"):
        path = tmp_path / "u.case"
        path.write_text(fuzz.case_text(program, profile))
        return fuzz.run_model(str(path), profile)

    hang = model("async def main():\n    await Future()\n")
    assert hang.status == "hang" and hang.unfit()
    twice = model("async def w():\n    await sleep(0.1)\n\nasync def main():\n"
                  "    create_task(w())\n    await sleep(0.1)\n")
    assert "two timers" in twice.unfit()
    leftovers = model("async def w():\n    await sleep(1)\n\nasync def main():\n"
                      "    create_task(w())\n    create_task(w())\n    await sleep(0)\n")
    assert leftovers.leftovers == 2 and "pending" in leftovers.unfit()
    late = model("def cb(f):\n    create_task(w())\n\nasync def w():\n"
                 "    for i in range(5):\n        await sleep(0)\n\nasync def main():\n    t = create_task(w())\n"
                 "    t.add_done_callback(cb)\n    t.cancel()\n")
    assert "pending after asyncio.run" in late.unfit()
    one = model("async def w():\n    await sleep(0.05)\n\nasync def main():\n"
                "    create_task(w())\n    await sleep(0)\n    log(\"end\")\n")
    assert one.unfit() == "" and one.trace == ["end"]


def test_shrinker_reduces_a_synthetic_divergence(swap, tmp_path, capsys):
    out = tmp_path / "fuzz"
    doc_path = tmp_path / "fuzz.json"
    status = loopspec.main(["fuzz", "--impl", "swap", "--count", "12", "--seed", "7",
                            "--out", str(out), "--json", str(doc_path),
                            "--shrink-tests", "250"])
    assert status == 1
    doc = json.loads(doc_path.read_text())
    assert doc["programs"] == 12
    assert doc["divergences"]
    shrunk = [d for d in doc["divergences"] if d.get("shrunk") is not False]
    assert shrunk
    for d in shrunk:
        assert os.path.isfile(d["case"])
        assert d["status"] == "FAIL"
        assert d["actual"][:2] == d["expected"][1::-1]
        assert any(t.startswith("h0 ") for t in d["expected"])
        text = open(d["case"]).read()
        assert "source: loopspec fuzz --seed 7" in text
        assert "# model" in text and "| swap" in text
        # Small: main and h0, a few statements.
        before, after = d["statements"]
        assert after <= 8 and after < before, text
        # A valid case whose expect block is the model's trace...
        check = subprocess.run([impls.MODEL, "check", "--profile", "asyncio", d["case"]],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    # ...on which the fake still diverges: `loopspec diff` fails it.
    assert loopspec.main(["diff", "--impl", "swap", shrunk[0]["case"]]) == 1
    printed = capsys.readouterr().out
    assert "divergence" in printed


def test_json_document_and_no_divergence_on_the_model(swap, tmp_path, capsys):
    doc_path = tmp_path / "sub" / "model.json"
    status = loopspec.main(["fuzz", "--impl", "model", "--count", "25", "--seed", "3",
                            "--out", str(tmp_path / "out"), "--json", str(doc_path)])
    assert status == 0
    doc = json.loads(doc_path.read_text())
    assert doc["programs"] == 25 and doc["divergences"] == []
    assert doc["seed"] == "3" and doc["impl"] == "model"
    assert not (tmp_path / "out").exists()
    assert "25 programs on model" in capsys.readouterr().out
    # The same seed gives the same programs: the document repeats.
    loopspec.main(["fuzz", "--impl", "model", "--count", "25", "--seed", "3",
                   "--json", str(tmp_path / "again.json")])
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["unfit_regenerated"] == doc["unfit_regenerated"]


@pytest.mark.parametrize("argv", [
    ["fuzz"],
    ["fuzz", "--impl", "nosuch"],
    ["fuzz", "--impl", "model,swap"],
    ["fuzz", "--impl", "all"],
    ["fuzz", "--impl", "model", "--count", "0"],
    ["fuzz", "--impl", "model", "--count", "many"],
    ["fuzz", "--impl", "model", "--timeout", "-1"],
    ["fuzz", "--impl", "model", "--jobs", "0"],
    ["fuzz", "--impl", "model", "--seed", "two words"],
    ["fuzz", "--impl", "model", "--bogus"],
])
def test_bad_arguments_exit_2(swap, argv, capsys):
    assert loopspec.main(argv) == 2
    assert "loopspec:" in capsys.readouterr().err


def test_case_text_round_trip():
    text = fuzz.case_text("async def main():\n    log(\"a\")\n", "asyncio-3.11",
                          title="t", source="s", comment=["x", "", "y "],
                          expect=["a ", "b"])
    assert text.startswith("---\ntitle: t\nsource: s\nprofiles: asyncio-3.11\n---\n# x\n#\n# y\n")
    assert fuzz.program_line(text) == 6
    assert fuzz.program_part(text).startswith("# x\n")
    assert text.endswith("expect:\n    a\n    b\n")
