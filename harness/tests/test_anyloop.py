"""Gating any loop without editing loopspec: ad-hoc implementations
(--python/--loop), project files (loopspec.toml), `make install`, the pip
package's pytest plugin."""

import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from testlib import HARNESS, PYTHON, load_script, needs_model, write  # noqa: E402

from casekit import impls, project  # noqa: E402

loopspec = load_script("loopspec", "loopspec_anyloop")
ROOT = os.path.dirname(HARNESS)

PASSING = """---
title: passes everywhere
source: a test
---
async def p():
    log("task")

async def main():
    t = create_task(p())
    log("main")
    await t

expect:
    main
    task
"""

WRONG = """---
title: an expect block no loop matches
source: a test
---
async def main():
    log("a")

expect:
    b
"""


def run(capsys, *argv):
    status = loopspec.main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def has_module(python, module):
    return subprocess.run([python, "-c", "import " + module], capture_output=True,
                          timeout=60).returncode == 0


def by_case(path):
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for r in doc["results"]:
        out.setdefault(r["impl"], {})[r["case"]] = (r["status"], r.get("trace"))
    return doc, out


# -- ad-hoc implementations ------------------------------------------------------------

@needs_model
@pytest.mark.skipif(not has_module(PYTHON, "gbulb"), reason="python3-gbulb is not installed")
def test_adhoc_gbulb_gives_the_results_of_the_registered_gbulb(tmp_path, capsys):
    out_json = tmp_path / "r.json"
    status, out, err = run(capsys, "run", "--impl", "gbulb", "--python", PYTHON,
                           "--loop", "gbulb:GLibEventLoop", "--json", str(out_json),
                           os.path.join(ROOT, "cases"))
    doc, results = by_case(out_json)
    assert set(results) == {"gbulb", "gbulb-3.11"}, err
    assert doc["impls"]["gbulb-3.11"]["profile"] == "asyncio-3.11"
    # The same status everywhere, and the same trace wherever the case
    # fixes the order (an `unordered:` group is CPython's set order, which
    # changes from process to process).
    adhoc, registered = results["gbulb-3.11"], results["gbulb"]
    assert {c: s for c, (s, _) in adhoc.items()} == {c: s for c, (s, _) in registered.items()}
    for case, (_, trace) in adhoc.items():
        with open(os.path.join(ROOT, "cases", case + ".case")) as f:
            if "unordered:" not in f.read():
                assert trace == registered[case][1], case
    failing = sorted(c for c, (s, _) in results["gbulb"].items() if s != "PASS")
    assert failing, "gbulb is known to fail some cases"
    # The ad-hoc id has no expectation file: its failures are unexpected.
    assert status == 1
    assert "gbulb-3.11" in out and "UNEXPECTED" in out


def test_default_ids_and_profiles():
    ready = {"python": "3.11.7", "impl": "cpython"}
    spec = project.Spec("/x/python3")
    assert project.default_id(spec, ready) == "cpython-3.11.7"
    assert project.default_id(project.Spec("p", loop="uvloop:new_event_loop"),
                              ready) == "uvloop-3.11"
    assert project.default_id(project.Spec("p", loop="gbulb:GLibEventLoop"),
                              {"python": "3.11.2"}) == "gbulb-3.11"
    assert project.default_id(project.Spec("p", task_factory="asyncio:eager_task_factory"),
                              {"python": "3.12.7", "impl": "cpython"}) == "cpython-3.12.7-eager"
    assert project.default_id(project.Spec("p", pure=True), ready) == "cpython-3.11.7-pure"
    assert project.default_id(project.Spec("p", runner="loopspec_loops:trio_asyncio_run"),
                              ready) == "trio-3.11"
    assert project.default_id(project.Spec("p"), {"python": "3.9.16", "impl": "pypy"}) \
        == "pypy-3.9.16"


def test_adhoc_on_debian_python_claims_its_release(tmp_path):
    impl = project.build(project.Spec(PYTHON, loop="asyncio:SelectorEventLoop"))
    assert impl.name == "asyncio-3.11" and impl.profile == "asyncio-3.11"
    assert impl.argv[impl.argv.index("--python") + 1] == "3.11.2"
    assert impl.argv[-2:] == ["--loop", "asyncio:SelectorEventLoop"]
    assert "eager" not in impl.features  # from the ready line: 3.11 has none
    pinned = project.build(project.Spec(PYTHON, profile="asyncio-3.11.3", name="mine"))
    assert pinned.name == "mine" and pinned.profile == "asyncio-3.11.3"


@pytest.mark.skipif(not os.path.exists(impls.SYSTEM_PYPY), reason="no pypy3")
def test_adhoc_pypy_claims_the_oldest_profile():
    impl = project.build(project.Spec(impls.SYSTEM_PYPY))
    assert impl.profile == "asyncio-3.11"
    assert impl.name.startswith("pypy-3.9")


BAD = [
    (["--python", "@TEXT"], "cannot run"),
    (["--python", "/no/such/python"], "no such file"),
    (["--python", "/etc"], "not an executable program"),
    (["--python", "/bin/true"], "is not a Python 3 interpreter"),
    (["--python", PYTHON, "--loop", "no_such_module_xyz:new_loop"],
     "module no_such_module_xyz does not import"),
    (["--python", PYTHON, "--loop", "asyncio:no_such_attr"],
     "asyncio has no attribute 'no_such_attr'"),
    (["--python", PYTHON, "--loop", "asyncio:ALL_COMPLETED"], "not callable"),
    (["--python", PYTHON, "--loop", "os:getcwd"], "returned str, not an event loop"),
    (["--python", PYTHON, "--loop", "asyncio:get_running_loop"], "calling it failed"),
    (["--python", PYTHON, "--loop", "not a spec"], "expected MODULE:ATTR"),
    (["--python", PYTHON, "--task-factory", "asyncio:eager_task_factory"],
     "needs Python 3.12+"),
    (["--python", PYTHON, "--task-factory", "asyncio:nope"], "has no attribute 'nope'"),
    (["--loop", "asyncio:new_event_loop"], "--loop needs --python PATH"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a[1:])[:40] for a, _ in BAD])
def test_bad_adhoc_input_exits_2_before_any_case(tmp_path, capsys, argv, message):
    if argv[1] == "@TEXT":
        text = tmp_path / "notes.txt"
        text.write_text("not a program\n")
        text.chmod(0o755)
        argv = ["--python", str(text)]
    path = write(tmp_path, "a/pass", PASSING)
    for command in ("run", "diff", "bench"):
        extra = [path] if command != "bench" else [path]
        status, out, err = run(capsys, command, *argv, *extra)
        assert status == 2, (command, out, err)
        assert message in err, err
        assert "passed" not in out and "PASS" not in out


def test_fuzz_and_latency_take_an_adhoc_implementation(capsys):
    status, _, err = run(capsys, "latency", "--python", PYTHON, "--loop", "os:getcwd")
    assert status == 2 and "not an event loop" in err
    status, _, err = run(capsys, "fuzz", "--python", PYTHON, "--loop", "os:getcwd")
    assert status == 2 and "not an event loop" in err
    status, _, err = run(capsys, "fuzz")
    assert status == 2 and "fuzz needs --impl" in err


# -- project files ---------------------------------------------------------------------

def project_dir(tmp_path, body):
    (tmp_path / "loopspec.toml").write_text(body)
    return tmp_path


@needs_model
def test_project_file_runs_its_implementation_with_its_own_expectations(
        tmp_path, capsys, monkeypatch):
    project_dir(tmp_path, """# my loop's gate
[implementation.myloop]
python = "%s"
loop = "asyncio:SelectorEventLoop"
expectations = "loopspec-expectations"
""" % PYTHON)
    write(tmp_path, "x/pass", PASSING)
    write(tmp_path, "x/wrong", WRONG)
    monkeypatch.chdir(tmp_path)
    status, out, _ = run(capsys, "run", "--impl", "myloop", "cases")
    assert status == 1 and "x/wrong on myloop" in out
    status, out, err = run(capsys, "run", "--impl", "myloop", "--update-expectations", "cases")
    written = tmp_path / "loopspec-expectations" / "myloop.txt"
    assert written.exists(), err
    assert "x/wrong FAIL" in written.read_text()
    status, out, _ = run(capsys, "run", "--impl", "myloop", "cases")
    assert status == 0, out
    assert "every result is as the expectation files say" in out
    assert out.strip().endswith("1 passed, 1 failed, 0 skipped")
    status, out, _ = run(capsys, "list")
    assert status == 0
    line = [l for l in out.splitlines() if l.startswith("myloop ")][0]
    assert "asyncio-3.11" in line and "loopspec.toml:2" in line
    assert "\ncpython-3.11 " in out  # the registered ones beside it


@needs_model
def test_config_option_names_the_project_file(tmp_path, capsys):
    config = tmp_path / "elsewhere.toml"
    config.write_text('[implementation.other]\npython = "%s"\n' % PYTHON)
    path = write(tmp_path, "x/pass", PASSING)
    status, out, err = run(capsys, "run", "--config", str(config), "--impl", "other", path)
    assert status == 0, err
    assert "other" in out and "1 passed, 0 failed" in out
    status, _, err = run(capsys, "run", "--config", str(tmp_path / "none.toml"), path)
    assert status == 2 and "no such file" in err


BAD_FILES = [
    ('[implementation.a]\npython = "/usr/bin/python3"\nloop = \n', 3, "Invalid value"),
    ('[implementation.a]\npython = "/usr/bin/python3"\n\nloops = "x:y"\n', 4,
     "unknown key 'loops'"),
    ('# comment\n[implementations.a]\npython = "/usr/bin/python3"\n', 2,
     "unknown table or key 'implementations'"),
    ('[implementation.a]\nloop = "x:y"\n', 1, "needs python"),
    ('[implementation.a]\npython = "/usr/bin/python3"\npure = "yes"\n', 3,
     "pure must be a boolean"),
    ('[implementation.a]\npython = "/usr/bin/python3"\nloop = "nocolon"\n', 1,
     "expected MODULE:ATTR"),
    ('[implementation.a]\npython = "/usr/bin/python3"\nprofile = "asyncio-2.7"\n', 1,
     "unknown profile"),
    ('[implementation.uvloop]\npython = "/usr/bin/python3"\n', 1,
     "already a registered implementation"),
]


@pytest.mark.parametrize("body,line,message", BAD_FILES,
                         ids=[m.split()[0] + str(n) for _, n, m in BAD_FILES])
def test_bad_project_files_name_their_line(tmp_path, capsys, monkeypatch, body, line,
                                            message):
    project_dir(tmp_path, body)
    monkeypatch.chdir(tmp_path)
    for argv in (["list"], ["run", "--impl", "model"]):
        status, out, err = run(capsys, *argv)
        assert status == 2, (argv, out)
        assert "loopspec.toml:%d" % line in err, err
        assert message in err, err


def test_project_implementation_that_cannot_start_is_a_usage_error(tmp_path, capsys,
                                                                  monkeypatch):
    project_dir(tmp_path, '[implementation.broken]\npython = "%s"\nloop = "nope_mod:x"\n'
                % PYTHON)
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "run", "--impl", "broken")
    assert status == 2 and "loopspec.toml:1" in err and "does not import" in err
    status, out, _ = run(capsys, "list")
    assert status == 0
    assert "broken" in out and "does not import" in out


# -- make install ----------------------------------------------------------------------

@needs_model
def test_make_install_runs_the_installed_corpus_anywhere(tmp_path):
    prefix = tmp_path / "prefix"
    make = ["make", "-s", "-C", ROOT, "PREFIX=%s" % prefix]
    proc = subprocess.run(make + ["install"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for path in ("bin/loopspec", "bin/loopspec-model", "share/loopspec/harness/loopspec",
                 "share/loopspec/harness/adapters/cpython_adapter.py",
                 "share/loopspec/cases/await/inline-before-task.case",
                 "share/loopspec/results/expectations/uvloop.txt"):
        assert (prefix / path).exists(), path
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ)
    env.pop("LOOPSPEC_MODEL", None)
    proc = subprocess.run([str(prefix / "bin" / "loopspec"), "run", "--impl",
                           "model,cpython-3.11"], cwd=str(elsewhere), env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    n = int(last.split()[0])
    assert n > 400 and last.startswith("%d passed, 0 failed" % n), last
    stage = tmp_path / "stage"
    proc = subprocess.run(["make", "-s", "-C", ROOT, "install", "PREFIX=/opt/ls",
                           "DESTDIR=%s" % stage], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "/opt/ls/share/loopspec/harness/loopspec" in (
        stage / "opt/ls/bin/loopspec").read_text()
    proc = subprocess.run(make + ["uninstall"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not (prefix / "bin" / "loopspec").exists()
    assert not (prefix / "share" / "loopspec").exists()


# -- the pytest plugin -----------------------------------------------------------------

@needs_model
def test_pytest_plugin_runs_each_case_as_an_item(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    os.symlink(HARNESS, str(pkg / "loopspec"))  # the package's import name
    write(tmp_path, "p/passes", PASSING)
    write(tmp_path, "p/wrong", WRONG)
    write(tmp_path, "p/listed-but-passes", PASSING)
    (tmp_path / "known.txt").write_text(
        "p/wrong FAIL no loop prints b\np/listed-but-passes FAIL stale line\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    env = dict(os.environ, PYTHONPATH=str(pkg), LOOPSPEC_MODEL=impls.MODEL)
    proc = subprocess.run(
        [PYTHON, "-m", "pytest", "-p", "loopspec.pytest_plugin", "-p", "no:cacheprovider",
         "--loopspec-loop=asyncio:new_event_loop",
         "--loopspec-expectations=%s" % (tmp_path / "known.txt"),
         "--loopspec-cases=%s" % (tmp_path / "cases"), "-rxXfs", "-v"],
        cwd=str(run_dir), env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout
    assert "p/passes PASSED" in out, out
    assert "p/wrong XFAIL" in out, out
    assert "p/listed-but-passes FAILED" in out and "XPASS(strict)" in out, out
    assert "1 failed, 1 passed, 1 xfailed" in out, out
    assert proc.returncode == 1
