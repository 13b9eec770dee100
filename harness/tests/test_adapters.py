"""Start the real adapters and check the traces they report.

Run with Debian's interpreter: `/usr/bin/python3 -m pytest harness/tests`.
The Pyodide tests are skipped when `npm ci` has not been run in harness/.
"""

import json
import os
import subprocess
import time

import pytest

from testlib import HARNESS  # noqa: E402

from casekit import cases, impls, profiles  # noqa: E402
from casekit.adapter import AdapterFailure, AdapterProcess  # noqa: E402

FIRST_EXAMPLE = '''\
async def p(word):
    log(word)

async def main():
    t = create_task(p("create_task"))
    await p("await")
    await t
'''

BOOM = '''\
async def main():
    log("before")
    raise Error("boom")
'''

# A program the gate would refuse, sent straight to the adapter: the
# adapter refuses it too (SECURITY.md).
PRINTS = '''\
import os

async def main():
    print("{\\"id\\": 999}")
    os.write(1, b"straight to fd 1\\n")
    log("still fine")
'''

# print is not a builtin of the case language: a NameError, and nothing
# reaches the channel.
PRINT_NAME = '''\
async def main():
    log("still fine")
    print("{\\"id\\": 999}")
'''

NEVER_RETRIEVED = '''\
async def fail():
    raise Error("lost")

async def main():
    create_task(fail())
    await sleep(0)
    log("done")
'''

WAIT_FOR = '''\
async def ticker():
    for i in range(3):
        log("tick", i)
        await sleep(0)

async def work():
    log("work")
    return 5

async def main():
    t = create_task(ticker())
    await sleep(0)
    log("got", await wait_for(work(), 1))
    await t
'''

PYTHON_311 = impls.SYSTEM_PYTHON

needs_node = pytest.mark.skipif(
    not impls.node_modules_present(),
    reason="harness/node_modules missing: run `npm ci` in harness/")


def start(name):
    """A started AdapterProcess for a registered implementation."""
    impl = impls.registry()[name]
    adapter = AdapterProcess(name, impl.argv)
    adapter.ensure_ready()
    return adapter


def ask(adapter, program, profile="asyncio", case="t/case", line=5, timeout=30):
    """One request; the reply dict."""
    return adapter.request(case, program, line, profile, timeout)


@pytest.fixture(scope="module")
def py311():
    adapter = start("cpython-3.11")
    yield adapter
    adapter.close()


NODE_IMPLS = ("cpython-3.14", "cpython-3.14-eager", "pyodide-webloop", "micropython")


def started(names):
    """An adapter per registered id, all loading their runtimes at once."""
    adapters = {}
    for name in names:
        adapters[name] = AdapterProcess(name, impls.registry()[name].argv)
        adapters[name].start()
    return adapters


@pytest.fixture(scope="module")
def node_adapters():
    """The Node-based adapters, loading their runtimes at the same time."""
    adapters = started(NODE_IMPLS)
    yield adapters
    for adapter in adapters.values():
        adapter.close()


def ready_adapter(adapters, name):
    adapter = adapters[name]
    adapter.ensure_ready()
    return adapter


@pytest.fixture(scope="module")
def py314(node_adapters):
    return ready_adapter(node_adapters, "cpython-3.14")


@pytest.fixture(scope="module")
def py314_eager(node_adapters):
    return ready_adapter(node_adapters, "cpython-3.14-eager")


@pytest.fixture(scope="module")
def webloop(node_adapters):
    return ready_adapter(node_adapters, "pyodide-webloop")


@pytest.fixture(scope="module")
def micropython(node_adapters):
    return ready_adapter(node_adapters, "micropython")


# -- CPython 3.11 ---------------------------------------------------------------

def test_ready_line_comes_first():
    argv = impls.registry()["cpython-3.11"].argv
    out = subprocess.run(argv, input="", capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    ready = json.loads(out.stdout.splitlines()[0])
    assert ready["ready"] is True
    assert ready["impl"] == "cpython"
    assert ready["version"].startswith("3.11")
    assert ready["python"] == "3.11.2"
    assert ready["profile"] == "asyncio-3.11"
    assert "eager" not in ready["features"]


def test_cpython_adapter_refuses_another_python():
    argv = impls._cpython(PYTHON_311, python="3.11.99")
    out = subprocess.run(argv, input="", capture_output=True, text=True, timeout=30)
    assert out.returncode == 3 and out.stdout == ""
    assert "is Python 3.11.2, not 3.11.99" in out.stderr and "refusing to start" in out.stderr


@pytest.mark.parametrize("name", ["cpython-3.11.7", "cpython-3.11.7-pure"])
def test_pyenv_311_7(name):
    impl = impls.registry()[name]
    if impl.unavailable():
        pytest.skip(impl.unavailable())
    adapter = start(name)
    try:
        assert adapter.ready["python"] == "3.11.7"
        assert adapter.ready["profile"] == "asyncio-3.11.7"
        assert adapter.ready["tasks"] == ("python" if name.endswith("-pure") else "c")
        assert set(adapter.ready["features"]) == set(impl.features)
        assert ask(adapter, FIRST_EXAMPLE, profile="asyncio-3.11.7")["trace"] == [
            "await", "create_task"]
        assert ask(adapter, WAIT_FOR, profile="asyncio-3.11.7")["trace"] == [
            "tick 0", "tick 1", "work", "tick 2", "got 5"]
    finally:
        adapter.close()


def test_311_first_example(py311):
    reply = ask(py311, FIRST_EXAMPLE, profile="asyncio-3.11", line=6)
    assert reply["trace"] == ["await", "create_task"]
    assert reply["case"] == "t/case"


def test_311_uncaught(py311):
    assert ask(py311, BOOM)["trace"] == ["before", "uncaught Error: boom"]


def test_311_syntax_error_then_next_case(py311):
    reply = ask(py311, "async def main(:\n    pass\n", case="t/bad", line=7)
    assert "error" in reply and "trace" not in reply
    assert reply["error"].startswith("t/bad.case:7:")
    assert "SyntaxError" in reply["error"]
    assert ask(py311, FIRST_EXAMPLE)["trace"] == ["await", "create_task"]


def test_311_top_level_error_names_case_line(py311):
    reply = ask(py311, "x = 1\ny = 1 // 0\n", case="t/top", line=10)
    assert reply["error"].startswith("t/top.case:11:")
    assert "ZeroDivisionError" in reply["error"]


def test_311_output_does_not_corrupt_channel(py311):
    reply = ask(py311, PRINTS)
    assert "import is not part of the case language" in reply["error"]
    reply = ask(py311, PRINT_NAME)
    assert reply["trace"] == ["still fine", "uncaught NameError: name 'print' is not defined"]
    assert ask(py311, BOOM)["trace"][-1] == "uncaught Error: boom"


def test_311_never_retrieved_goes_to_reply(py311):
    reply = ask(py311, NEVER_RETRIEVED)
    assert reply["trace"] == ["done"]
    assert "never retrieved" in reply["stderr"]


def test_311_wait_for_costs_iterations(py311):
    assert ask(py311, WAIT_FOR)["trace"] == [
        "tick 0", "tick 1", "work", "tick 2", "got 5"]


def test_311_eager_profile_is_an_error(py311):
    reply = ask(py311, FIRST_EXAMPLE, profile="eager")
    assert "3.12" in reply["error"]


def test_bad_json_gets_error_reply(py311):
    py311.proc.stdin.write(b"this is not json\n")
    py311.proc.stdin.flush()
    reply = json.loads(py311._readline(time.monotonic() + 10))
    assert reply["id"] is None and "bad request" in reply["error"]
    assert ask(py311, BOOM)["trace"][-1] == "uncaught Error: boom"


def test_311_eager_option_refused():
    argv = impls.registry()["cpython-3.11"].argv + ["--eager"]
    out = subprocess.run(argv, input="", capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and out.stdout == ""


def test_hang_is_a_timeout_and_restart_works():
    adapter = start("cpython-3.11")
    try:
        with pytest.raises(AdapterFailure) as info:
            ask(adapter, "async def main():\n    while True:\n        pass\n", timeout=1)
        assert info.value.kind == "timeout"
        assert ask(adapter, BOOM)["trace"][-1] == "uncaught Error: boom"
        assert adapter.starts == 2
    finally:
        adapter.close()


@pytest.mark.parametrize("name, key, value", [
    ("cpython-3.11-pure", "tasks", "python"),
    ("cpython-3.11-virtual", "loop", "virtual"),
    ("uvloop", "loop", "uvloop"),
])
def test_variants_run_the_first_example(name, key, value):
    if name == "uvloop":
        pytest.importorskip("uvloop")
    adapter = start(name)
    try:
        assert adapter.ready[key] == value
        assert ask(adapter, FIRST_EXAMPLE)["trace"] == ["await", "create_task"]
    finally:
        adapter.close()


# -- CPython 3.14 in Pyodide -------------------------------------------------------

@needs_node
def test_314_ready(py314, py314_eager):
    assert py314.ready["version"].startswith("3.14")
    assert py314.ready["python"] == "3.14.2"
    assert py314.ready["profile"] == "asyncio-3.14"
    assert py314.ready["runtime"] == "pyodide 314.0.7"
    assert "eager" in py314.ready["features"]
    assert py314_eager.ready["eager"] is True
    assert py314_eager.ready["profile"] == "eager-3.14"


@needs_node
def test_314_first_example(py314, py314_eager):
    assert ask(py314, FIRST_EXAMPLE)["trace"] == ["await", "create_task"]
    assert ask(py314_eager, FIRST_EXAMPLE, profile="eager")["trace"] == [
        "create_task", "await"]


@needs_node
def test_314_eager_profile_on_lazy_adapter(py314):
    assert ask(py314, FIRST_EXAMPLE, profile="eager")["trace"] == [
        "create_task", "await"]


@needs_node
def test_314_uncaught(py314):
    assert ask(py314, BOOM)["trace"] == ["before", "uncaught Error: boom"]


@needs_node
def test_314_syntax_error_then_next_case(py314):
    reply = ask(py314, "async def main(:\n    pass\n", case="t/bad", line=7)
    assert reply["error"].startswith("t/bad.case:7:")
    assert ask(py314, BOOM)["trace"][-1] == "uncaught Error: boom"


@needs_node
def test_314_output_does_not_corrupt_channel(py314):
    reply = ask(py314, PRINTS)
    assert "import is not part of the case language" in reply["error"]
    reply = ask(py314, PRINT_NAME)
    assert reply["trace"] == ["still fine", "uncaught NameError: name 'print' is not defined"]
    assert ask(py314, BOOM)["trace"][-1] == "uncaught Error: boom"


@needs_node
def test_314_wait_for_is_inline(py314):
    assert ask(py314, WAIT_FOR)["trace"] == [
        "tick 0", "work", "got 5", "tick 1", "tick 2"]


def runs_on_a_virtual_clock(adapter):
    """An hour's sleep and two timers: in order, and in no real time."""
    program = ('async def main():\n'
               '    call_later(20, log, "b")\n'
               '    call_later(10, log, "a")\n'
               '    await sleep(3600)\n'
               '    log("c")\n')
    started = time.monotonic()
    assert ask(adapter, program)["trace"] == ["a", "b", "c"]
    assert time.monotonic() - started < 10


@needs_node
def test_314_virtual_clock(py314):
    runs_on_a_virtual_clock(py314)


@needs_node
def test_314_deadlock_is_an_error(py314):
    reply = ask(py314, 'async def main():\n    log("x")\n    await Future()\n')
    assert "wait forever" in reply["error"]
    assert ask(py314, BOOM)["trace"][-1] == "uncaught Error: boom"


# -- the other CPython versions in Pyodide ------------------------------------------

VERSIONED = ("cpython-3.11.3", "cpython-3.12", "cpython-3.13", "cpython-3.15",
             "cpython-3.15-eager")


@pytest.fixture(scope="module")
def versioned():
    """An adapter per Pyodide release (one eager), loading at the same time."""
    adapters = started(VERSIONED)
    yield adapters
    for adapter in adapters.values():
        adapter.close()


@needs_node
@pytest.mark.parametrize("name", VERSIONED)
def test_each_pyodide_release_starts_and_runs_cases(name, versioned):
    impl = impls.registry()[name]
    adapter = ready_adapter(versioned, name)
    ready = adapter.ready
    assert ready["python"] == impl.python
    assert ready["profile"] == impl.profile
    assert ready["loop"] == "virtual" and ready["tasks"] == "c"
    assert ready["eager"] is name.endswith("-eager")
    assert set(ready["features"]) == set(impl.features)
    lazy = profiles.for_version(impl.python)
    eager = profiles.for_version(impl.python, eager=True)
    if not name.endswith("-eager"):
        assert ask(adapter, FIRST_EXAMPLE, profile=lazy)["trace"] == [
            "await", "create_task"]
    if eager:
        assert ask(adapter, FIRST_EXAMPLE, profile=eager)["trace"] == [
            "create_task", "await"]
    else:
        assert "eager tasks need Python 3.12" in ask(
            adapter, FIRST_EXAMPLE, profile="eager")["error"]
    # wait_for: a task on 3.11, inline from 3.12
    trace = ask(adapter, WAIT_FOR, profile=impl.profile)["trace"]
    if impl.python.startswith("3.11"):
        assert trace == ["tick 0", "tick 1", "work", "tick 2", "got 5"]
    elif not name.endswith("-eager"):
        assert trace == ["tick 0", "work", "got 5", "tick 1", "tick 2"]


@needs_node
@pytest.mark.parametrize("name", ["cpython-3.11.3", "cpython-3.15"])
def test_virtual_clock_on_the_oldest_and_newest_release(name, versioned):
    adapter = ready_adapter(versioned, name)
    runs_on_a_virtual_clock(adapter)
    reply = ask(adapter, 'async def main():\n    log("x")\n    await Future()\n')
    assert "wait forever" in reply["error"]
    assert ask(adapter, BOOM)["trace"] == ["before", "uncaught Error: boom"]


@needs_node
def test_pyodide_adapter_refuses_another_python():
    argv = impls._pyodide("pyodide-3.12")
    argv[argv.index("--python") + 1] = "3.12.8"
    out = subprocess.run(argv, input="", capture_output=True, text=True, timeout=120)
    assert out.returncode == 3 and out.stdout == ""
    assert "pyodide-3.12 (pyodide 0.27.7) runs CPython 3.12.7, not 3.12.8" in out.stderr


@needs_node
def test_pyodide_adapter_refuses_eager_before_312_and_bad_options():
    out = subprocess.run(impls._pyodide("pyodide-3.11", "--eager"), input="",
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert "CPython 3.11.3 has no eager_task_factory" in out.stderr
    for extra in (["--package"], ["--frobnicate"], ["--eager=yes"]):
        argv = [impls.node(), os.path.join(HARNESS, "adapters", "pyodide_adapter.mjs")] + extra
        out = subprocess.run(argv, input="", capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and out.stdout == "", extra


# -- Pyodide's WebLoop --------------------------------------------------------------

@needs_node
def test_webloop_runs_on_node_event_loop(webloop):
    assert webloop.ready["loop"] == "webloop"
    assert "eager" not in webloop.ready["features"]
    assert ask(webloop, FIRST_EXAMPLE)["trace"] == ["await", "create_task"]
    assert ask(webloop, BOOM)["trace"] == ["before", "uncaught Error: boom"]
    assert ask(webloop, WAIT_FOR)["trace"] == [
        "tick 0", "work", "got 5", "tick 1", "tick 2"]


@needs_node
def test_webloop_cancels_leftovers_and_reports_errors(webloop):
    program = ('async def forever():\n'
               '    try:\n'
               '        while True:\n'
               '            await sleep(0)\n'
               '    finally:\n'
               '        log("leftover cancelled")\n\n'
               'async def main():\n'
               '    create_task(forever())\n'
               '    await sleep(0)\n'
               '    log("main returns")\n')
    assert ask(webloop, program)["trace"] == ["main returns", "leftover cancelled"]
    reply = ask(webloop, "async def main(:\n    pass\n", case="t/bad", line=7)
    assert reply["error"].startswith("t/bad.case:7:")
    assert "cannot run eager tasks" in ask(webloop, FIRST_EXAMPLE, profile="eager")["error"]


def teardown_case():
    """The program and CPython's trace of a case that counts asyncio.run's
    teardown iterations: a task started while the leftovers are cancelled
    steps once in each until the loop closes."""
    path = os.path.join(os.path.dirname(HARNESS), "cases", "teardown",
                        "task-started-during-the-teardown-runs-until-the-loop-closes.case")
    case = cases.parse(path)
    assert not case.rejected, case.error
    return case.program, case.program_line, list(case.expected("asyncio"))


@needs_node
@pytest.mark.parametrize("fixture", ["webloop", "micropython"])
def test_clock_takes_the_teardown_iterations_of_asyncio_run(fixture, request):
    adapter = request.getfixturevalue(fixture)
    program, line, expected = teardown_case()
    assert ask(adapter, program, line=line)["trace"] == expected
    # The task still running when the loop closes is dropped: the adapter
    # answers the next request.
    assert ask(adapter, FIRST_EXAMPLE)["trace"] == ["await", "create_task"]


# -- MicroPython -------------------------------------------------------------------

@needs_node
def test_micropython_features_and_traces(micropython):
    ready = micropython.ready
    assert ready["impl"] == "micropython" and ready["version"].startswith("1.27")
    assert ready["profile"] == impls.registry()["micropython"].profile == "asyncio-3.14"
    assert set(ready["features"]) == set(impls.registry()["micropython"].features)
    assert ask(micropython, FIRST_EXAMPLE)["trace"] == ["await", "create_task"]
    assert ask(micropython, BOOM)["trace"] == ["before", "uncaught Error: boom"]
    reply = ask(micropython, 'async def main():\n    log("x")\n    print("hi")\n')
    assert reply["trace"] == ["x", "uncaught NameError: name 'print' isn't defined"]
    assert "stdout" not in reply
    assert "SyntaxError" in ask(micropython, "async def main(:\n    pass\n")["error"]
    assert "eager" in ask(micropython, FIRST_EXAMPLE, profile="eager")["error"]


@needs_node
def test_micropython_main_is_a_real_task(micropython):
    program = ('async def ticker(name):\n'
               '    for i in range(3):\n'
               '        log(name, i)\n'
               '        await sleep(0)\n\n'
               'async def main():\n'
               '    t = create_task(ticker("t"))\n'
               '    for i in range(3):\n'
               '        log("main", i)\n'
               '        await sleep(0)\n'
               '    await t\n')
    assert ask(micropython, program)["trace"] == [
        "main 0", "t 0", "main 1", "t 1", "main 2", "t 2"]


def test_registry_features_match_ready_lines():
    for name in ("cpython-3.11", "pypy-3.9", "cpython-3.11.7"):
        impl = impls.registry()[name]
        if impl.unavailable():
            continue
        out = subprocess.run(impl.argv, input="", capture_output=True, text=True,
                             timeout=60)
        ready = json.loads(out.stdout.splitlines()[0])
        assert set(ready["features"]) == set(impl.features), name
