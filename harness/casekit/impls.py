"""The registry: every implementation the harness can run, in one place.

An entry names an implementation (the id that names its expectation file
and its report column), the profile it claims, the profiles it can run at
all (`--profile`), the features it has (see features.py), the command that
starts its adapter, and what must be installed for it.  Adding an
implementation is one adapter plus one entry in `registry()` (ADAPTERS.md
has a worked example).

Interpreters are named by absolute path: Debian's `/usr/bin/python3` has
uvloop and pytest, and another `python3` may come first on PATH.
"""

import os
import shutil
import subprocess

from . import features as feat

HARNESS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(HARNESS)
ADAPTERS = os.path.join(HARNESS, "adapters")
NODE_MODULES = os.path.join(HARNESS, "node_modules")
MODEL = os.path.join(ROOT, "model", "loopspec-model")
SYSTEM_PYTHON = "/usr/bin/python3"
SYSTEM_PYPY = "/usr/bin/pypy3"
PYODIDE_PACKAGE = "pyodide"
MICROPYTHON_PACKAGE = "@micropython/micropython-webassembly-pyscript"

PROFILES = ("asyncio", "eager", "asyncio-3.11")

# The three ground truths `observe` runs by default.
DEFAULT_IMPLS = ("cpython-3.11", "cpython-3.14", "cpython-3.14-eager")


def node():
    """The Node.js binary: Debian's if present, else the first on PATH."""
    if os.path.exists("/usr/bin/node"):
        return "/usr/bin/node"
    return shutil.which("node") or "node"


def _cpython(interpreter, *options):
    return [interpreter, os.path.join(ADAPTERS, "cpython_adapter.py")] + list(options)


def _pyodide(*options):
    return [node(), os.path.join(ADAPTERS, "pyodide_adapter.mjs")] + list(options)


# -- what must be installed ----------------------------------------------------
# Each check returns None when satisfied, else what to install.

def _program(path, install):
    def check():
        if os.path.isabs(path):
            ok = os.path.exists(path)
        else:
            ok = shutil.which(path) is not None
        return None if ok else "%s is missing: %s" % (path, install)
    return check


def _node_package(name):
    def check():
        if os.path.isdir(os.path.join(NODE_MODULES, *name.split("/"))):
            return None
        return ("the npm package %s is missing: run `npm ci` in harness/ "
                "(`make deps` does it)" % name)
    return check


def _python_module(interpreter, module, install):
    def check():
        try:
            proc = subprocess.run([interpreter, "-c", "import " + module],
                                  capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return "%s cannot run: %s" % (interpreter, install)
        if proc.returncode != 0:
            return "%s cannot import %s: %s" % (interpreter, module, install)
        return None
    return check


def _node_check():
    return _program(node(), "install Node.js (Debian package nodejs, `make deps`)")


class Impl:
    """One implementation.

    `name` is its id; `profile` the profile it claims (its results are
    checked against that profile's expect blocks); `runs` the profiles it
    can run with `--profile`; `features` what it has; `argv` the adapter's
    command; `needs` checks of what must be installed; `label` a short
    column title; `slow_start` marks adapters that load a runtime first;
    `conformance` whether `--impl all` includes it; `real_time` whether its
    loop sleeps in real time (`loopspec latency` measures those only).
    """

    def __init__(self, name, profile, argv, about, features, runs=None,
                 needs=(), label=None, slow_start=False, conformance=True,
                 real_time=True):
        self.name = name
        self.profile = profile
        self.argv = list(argv)
        self.about = about
        self.features = tuple(features)
        self.runs = tuple(runs or (profile,))
        self.needs = tuple(needs)
        self.label = label or name
        self.slow_start = slow_start
        self.conformance = conformance
        self.real_time = real_time

    @property
    def id(self):
        """The implementation id (same as `name`)."""
        return self.name

    def unavailable(self):
        """Why this implementation cannot start here (with what to install), or None.

        Checked once per Impl object (`registry()` makes new ones)."""
        if not hasattr(self, "_problem"):
            self._problem = None
            for check in self.needs:
                self._problem = check()
                if self._problem:
                    break
        return self._problem

    def lacks(self):
        """The features of the full set this implementation does not have."""
        return [f for f in feat.ALL if f not in self.features]

    def __repr__(self):
        return "Impl(%r)" % self.name


def registry():
    """Every known implementation, by id, in display order."""
    python = _program(SYSTEM_PYTHON, "install Debian's python3 (`make deps`)")
    pypy = _program(SYSTEM_PYPY, "install Debian's pypy3 (`make deps`)")
    uvloop = _python_module(SYSTEM_PYTHON, "uvloop",
                            "install Debian's python3-uvloop (`make deps`)")
    model = _program(MODEL, "run `make model`")
    pyodide = _node_package(PYODIDE_PACKAGE)
    micropython = _node_package(MICROPYTHON_PACKAGE)
    impls = [
        Impl("model", "asyncio",
             [SYSTEM_PYTHON, os.path.join(ADAPTERS, "model_adapter.py"), "--model", MODEL],
             "the reference model (model/loopspec-model run), any profile",
             feat.ALL, runs=PROFILES, needs=(python, model), label="model",
             real_time=False),
        Impl("cpython-3.11", "asyncio-3.11", _cpython(SYSTEM_PYTHON),
             "Debian CPython 3.11, C tasks, SelectorEventLoop",
             feat.without("eager"), needs=(python,), label="cp311"),
        Impl("cpython-3.11-pure", "asyncio-3.11", _cpython(SYSTEM_PYTHON, "--pure"),
             "Debian CPython 3.11, pure-Python tasks and futures",
             feat.without("eager"), needs=(python,), label="cp311-py"),
        Impl("uvloop", "asyncio-3.11", _cpython(SYSTEM_PYTHON, "--uvloop"),
             "uvloop 0.17 (Debian python3-uvloop) on Debian CPython 3.11",
             feat.without("eager"), needs=(python, uvloop), label="uvloop"),
        Impl("pypy-3.9", "asyncio-3.11", _cpython(SYSTEM_PYPY),
             "Debian PyPy 3.9 (7.3.11), pure-Python asyncio",
             feat.without("eager", "taskgroup", "timeout", ".cancelling", ".uncancel"),
             needs=(pypy,), label="pypy39"),
        Impl("cpython-3.14", "asyncio", _pyodide(),
             "CPython 3.14 in Pyodide under Node, virtual-clock BaseEventLoop",
             feat.ALL, runs=("asyncio", "eager"), needs=(_node_check(), pyodide),
             label="cp314", slow_start=True, real_time=False),
        Impl("cpython-3.14-eager", "eager", _pyodide("--eager"),
             "the same, with eager_task_factory",
             feat.ALL, needs=(_node_check(), pyodide), label="cp314-eager",
             slow_start=True, real_time=False),
        Impl("pyodide-webloop", "asyncio", _pyodide("--webloop"),
             "Pyodide's WebLoop (CPython 3.14): asyncio on Node's event loop",
             feat.without("eager"), needs=(_node_check(), pyodide), label="webloop",
             slow_start=True),
        Impl("micropython", "asyncio",
             [node(), os.path.join(ADAPTERS, "micropython_adapter.mjs")],
             "MicroPython 1.27 (WebAssembly, pyscript build) under Node",
             ("gather", "wait_for", "Lock", "Event", "current_task"),
             needs=(_node_check(), micropython), label="mpy", slow_start=True),
        # Not part of `--impl all`: a diagnostic of the virtual-clock loop.
        Impl("cpython-3.11-virtual", "asyncio-3.11", _cpython(SYSTEM_PYTHON, "--virtual"),
             "Debian CPython 3.11 on the Pyodide adapter's virtual-clock loop",
             feat.without("eager"), needs=(python,), label="cp311-virt",
             conformance=False, real_time=False),
    ]
    return {impl.name: impl for impl in impls}


def conformance_ids():
    """The ids `--impl all` stands for, in display order."""
    return [name for name, impl in registry().items() if impl.conformance]


def node_modules_present():
    """True when `npm ci` has been run in the harness directory."""
    return os.path.isdir(os.path.join(NODE_MODULES, PYODIDE_PACKAGE))
