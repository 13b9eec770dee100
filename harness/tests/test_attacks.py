"""The hostile-input corpus (harness/tests/attacks/, SECURITY.md) on every
implementation installed here.

Each file's header says what must happen to it: `attack, refused` the
model's gate refuses it, so it is an ERROR everywhere and reaches no
adapter; `attack, contained` it runs and must end as ERROR, TIMEOUT, CRASH
(or PASS/FAIL, for one that finishes harmlessly, like a caught
RecursionError) within its header timeout, plus slack.  Either way no file
appears (each program tries to create `owned-<name>`: the working directory,
the harness directory and the temporary directory are checked) and no
adapter process is left behind.

To stay within `make check`'s budget the run uses a fraction of the header
timeouts and lower limits (--max-trace-lines, --max-memory), and runs the
attacks that cost most time on Node (the slow starters) on one Pyodide
release, Pyodide's WebLoop and MicroPython only; every implementation runs
the refused set and the limit attacks.

Besides: the namespace a program runs in, without the gate (programs sent
straight to an adapter, and built with the prelude's own functions), and
the fuzzer's programs, which must stay inside the gate.
"""

import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import pytest

from testlib import HARNESS, PYTHON, needs_model  # noqa: E402

from casekit import impls  # noqa: E402
from casekit.adapter import AdapterProcess  # noqa: E402

ATTACKS = os.path.join(HARNESS, "tests", "attacks")
LOOPSPEC = os.path.join(HARNESS, "loopspec")
ADAPTERS = os.path.join(HARNESS, "adapters")
MULTIPLIER = 0.4
SLACK = 15.0           # seconds over a case's own timeout: adapter restarts, load
LIMITS = ["--max-trace-lines", "20000", "--max-trace-bytes", "2000000",
          "--max-memory", "1024"]
# The attacks that bound a resource: every implementation runs them.
LIMIT_ATTACKS = ("output-flood", "one-huge-line", "memory-hog", "huge-string")
# The implementations that run every contained attack (besides the native ones).
NODE_FULL = ("cpython-3.14", "pyodide-webloop", "micropython")
CONTAINED_STATUSES = ("ERROR", "TIMEOUT", "CRASH", "PASS", "FAIL")


def header(path):
    """(tags, timeout) of an attack file."""
    text = open(path).read().split("\n---\n", 1)[0]
    tags = re.search(r"^tags:\s*(.*)$", text, re.M).group(1)
    timeout = re.search(r"^timeout:\s*(\S+)$", text, re.M)
    return [t.strip() for t in tags.split(",")], float(timeout.group(1)) if timeout else 10.0


def attack_files():
    return sorted(glob.glob(os.path.join(ATTACKS, "*.case")))


def name_of(path):
    return os.path.basename(path)[:-len(".case")]


def owned_files(dirs):
    found = []
    for d in dirs:
        try:
            found += [os.path.join(d, f) for f in os.listdir(d) if f.startswith("owned-")]
        except OSError:
            pass
    return found


def adapter_processes():
    """The pids of processes running one of this harness's adapters."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if ADAPTERS in cmd or impls.MODEL + " run" in cmd:
            pids.add(int(entry))
    return pids


def installed():
    """The conformance implementations installed here."""
    return [name for name, impl in impls.registry().items()
            if impl.conformance and not impl.unavailable()]


def test_the_corpus_is_tagged():
    files = attack_files()
    assert len(files) >= 30
    for path in files:
        tags, timeout = header(path)
        assert "attack" in tags and ("refused" in tags) != ("contained" in tags), path
        assert timeout <= 30, path


def loopspec(args, cwd, timeout):
    return subprocess.run([PYTHON, LOOPSPEC] + args, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@needs_model
def test_attacks_on_every_implementation(tmp_path):
    files = attack_files()
    kinds = {name_of(p): header(p) for p in files}
    names = installed()
    native = [n for n in names if not impls.registry()[n].slow_start]
    node = [n for n in names if impls.registry()[n].slow_start]
    limit_files = [p for p in files if "refused" in kinds[name_of(p)][0]
                   or name_of(p) in LIMIT_ATTACKS]
    runs = [(native + [n for n in node if n in NODE_FULL], files)]
    rest = [n for n in node if n not in NODE_FULL]
    if rest:
        runs.append((rest, limit_files))
    tmp_dir = tempfile.gettempdir()
    watched = [str(tmp_path), HARNESS, os.path.dirname(HARNESS), ATTACKS, tmp_dir]
    before_files = set(owned_files(watched))
    before = adapter_processes()
    results = []
    started = time.monotonic()
    for k, (chosen, paths) in enumerate(runs):
        out = tmp_path / ("attacks-%d.json" % k)
        proc = loopspec(["run", "--impl", ",".join(chosen), "--expectations", "none",
                         "--timeout-multiplier", str(MULTIPLIER), "--json", str(out)]
                        + LIMITS + paths, cwd=str(tmp_path), timeout=900)
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        doc = json.loads(out.read_text())   # the JSON results stay whole
        results += doc["results"]
    elapsed = time.monotonic() - started
    # Every pair ran, with the status its kind allows, in time.
    seen = {}
    for r in results:
        name = name_of(r["case"] + ".case")
        tags, timeout = kinds[name]
        seen.setdefault(name, set()).add(r["impl"])
        where = "%s on %s: %s %s" % (name, r["impl"], r["status"], r.get("error", ""))
        if "refused" in tags:
            assert r["status"] == "ERROR" and r.get("rejected"), where
            assert "rejected by the model" in r["error"], where
        elif r["status"] == "UNSUPPORTED":
            # the I/O attacks, where there are no sockets (Pyodide, MicroPython)
            assert "io" not in impls.registry()[r["impl"]].features, where
        else:
            assert r["status"] in CONTAINED_STATUSES, where
            assert r["duration_ms"] <= (timeout * MULTIPLIER + SLACK) * 1000, where
            if r["status"] in ("PASS", "FAIL"):
                assert len(r["trace"]) <= 20000, where
        if r["status"] in ("ERROR", "TIMEOUT", "CRASH"):
            assert not r.get("trace"), where   # the error, not a partial trace
    for name, (tags, _) in kinds.items():
        wanted = set(names) if ("refused" in tags or name in LIMIT_ATTACKS) else \
            set(native + [n for n in node if n in NODE_FULL])
        assert seen.get(name, set()) >= wanted, (name, wanted - seen.get(name, set()))
    # The floods end on the trace limit everywhere.
    for r in results:
        if name_of(r["case"] + ".case") == "output-flood":
            assert r["status"] in ("ERROR", "CRASH"), r
            assert "trace limit" in r.get("error", "") or "max-trace" in r.get("error", ""), r
    assert set(owned_files(watched)) == before_files, "a hostile program created a file"
    deadline = time.monotonic() + 10
    while adapter_processes() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not adapter_processes() - before, "adapter processes left behind"
    print("attack runs: %.1fs for %d results" % (elapsed, len(results)))


# -- the namespace, without the gate ----------------------------------------------

HOSTILE = {
    "log-globals": 'async def main():\n'
                   '    log.__globals__["__builtins__"]["exec"]("open(\'owned-ns\', \'w\')")\n',
    "import": 'import os\n\nasync def main():\n    os.system("touch owned-ns")\n',
    "exec-name": 'async def main():\n    exec("open(\'owned-ns\', \'w\')")\n',
    "format-field": 'async def main():\n    log("{0.__globals__}".format(log))\n',
}


def ask(adapter, program, case):
    return adapter.request(case, program, 1, "asyncio-3.11", 20)


def test_hostile_programs_straight_to_the_cpython_adapter(tmp_path):
    adapter = AdapterProcess("cpython-3.11", impls.registry()["cpython-3.11"].argv)
    try:
        for case, program in HOSTILE.items():
            reply = ask(adapter, program, case)
            assert "trace" not in reply or "owned" not in " ".join(reply["trace"]), reply
            if case == "exec-name":
                assert reply["trace"] == ["uncaught NameError: name 'exec' is not defined"]
            else:
                assert "refused by the adapter" in reply["error"], reply
        # The adapter answers the next case as usual.
        assert ask(adapter, 'async def main():\n    log("fine")\n', "ok")["trace"] == ["fine"]
    finally:
        adapter.close()
    assert not owned_files([str(tmp_path), os.getcwd(), HARNESS])


def test_namespace_has_nothing_to_call():
    """The second line on its own: the prelude's namespace, with a program
    the adapter's check would refuse compiled around it."""
    sys.path.insert(0, ADAPTERS)
    try:
        import prelude
    finally:
        sys.path.remove(ADAPTERS)
    trace = prelude.Trace()
    g = prelude.make_globals(trace)
    for name in ("exec", "eval", "open", "compile", "getattr", "globals",
                 "breakpoint", "input", "print", "setattr", "vars"):
        assert name not in g["__builtins__"], name
    # `__import__` only re-imports asyncio, for a loop's native code (bracio);
    # `__build_class__` runs the class statements the check lets through.
    importer = g["__builtins__"]["__import__"]
    assert importer("asyncio") is sys.modules["asyncio"]
    for name in ("os", "ctypes", "subprocess", "asyncio.nosuch"):
        with pytest.raises(ImportError):
            importer(name)
    for helper in ("log", "call_soon", "call_later", "Future", "suspend", "create_task",
                   "sleep", "gather", "wait_for", "current_task"):
        fn_globals = g[helper].__globals__
        assert set(fn_globals) <= {"__builtins__", "__name__", "_helpers"}, helper
        assert "exec" not in fn_globals["__builtins__"], helper
    code = compile('async def main():\n    b = log.__globals__["__builtins__"]\n'
                   '    log(sorted(b))\n    b["exec"]("1")\n', "x.case", "exec")
    exec(code, g)
    coro = g["main"]()
    with pytest.raises(KeyError):
        coro.send(None)
    assert "exec" not in trace[0] and "open" not in trace[0]


def test_the_adapters_check_refuses_what_the_gate_refuses():
    sys.path.insert(0, ADAPTERS)
    try:
        import prelude
    finally:
        sys.path.remove(ADAPTERS)
    refused = 0
    for path in attack_files():
        tags, _ = header(path)
        text = open(path).read()
        program = text.split("\n---\n", 1)[1].split("\nexpect:", 1)[0]
        try:
            prelude.compile_program(program, 1, "x.case")
        except prelude.CaseError as exc:
            assert "refused by the adapter" in str(exc) or "Error" in str(exc)
            refused += 1
            continue
        # What passes the adapter's check is refused by name (exec, open,
        # getattr: NameError at run time), by the model's rules alone (a
        # protocol method), or contained.
        assert "refused" not in tags or re.search(
            r"\b(exec|eval|open|getattr)\(|\.aenter\(", program), path
    assert refused >= 15


def test_fuzz_programs_stay_inside_the_gate():
    """The fuzzer emits no '_' attribute and no '__' name but the protocol
    methods its classes define (the gate would refuse the program, the
    adapters too)."""
    from casekit import fuzz
    sys.path.insert(0, ADAPTERS)
    try:
        import prelude
    finally:
        sys.path.remove(ADAPTERS)
    for i in range(200):
        text = fuzz.generate("gate-names", i).render()
        assert not re.search(r"\.\s*_", text), text
        dunders = re.findall(r"def (__\w+__)\(self", text)
        assert set(dunders) <= prelude.CLASS_DUNDERS, text
        assert "__" not in re.sub(r"def __\w+__\(self", "", text), text
        prelude.compile_program(text, 1, "fuzz.case")   # the adapter's check admits it
