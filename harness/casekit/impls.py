"""The real implementations the harness knows how to start.

Each entry names an implementation, the profile it claims, and the command
that starts its adapter.  Interpreters are named by absolute path: Debian's
`/usr/bin/python3` has uvloop and pytest, and another `python3` may come
first on PATH.
"""

import os
import shutil

HARNESS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADAPTERS = os.path.join(HARNESS, "adapters")
SYSTEM_PYTHON = "/usr/bin/python3"
SYSTEM_PYPY = "/usr/bin/pypy3"

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


class Impl:
    """An implementation: `name`, claimed `profile`, adapter `argv`, `about`."""

    def __init__(self, name, profile, argv, about):
        self.name = name
        self.profile = profile
        self.argv = argv
        self.about = about

    def unavailable(self):
        """Why this implementation cannot start here, or None."""
        program = self.argv[0]
        if os.path.isabs(program) and not os.path.exists(program):
            return "%s is not installed" % program
        if not os.path.isabs(program) and shutil.which(program) is None:
            return "%s is not on PATH" % program
        if self.argv[1].endswith(".mjs") and not node_modules_present():
            return "the pyodide package is missing: run `npm ci` in harness/"
        return None


def registry():
    """Every known implementation, by name, in display order."""
    impls = [
        Impl("cpython-3.11", "asyncio-3.11", _cpython(SYSTEM_PYTHON),
             "Debian CPython 3.11, C tasks, SelectorEventLoop"),
        Impl("cpython-3.14", "asyncio", _pyodide(),
             "CPython 3.14 in Pyodide under Node, virtual-clock BaseEventLoop"),
        Impl("cpython-3.14-eager", "eager", _pyodide("--eager"),
             "the same, with eager_task_factory"),
        Impl("cpython-3.11-pure", "asyncio-3.11", _cpython(SYSTEM_PYTHON, "--pure"),
             "Debian CPython 3.11, pure-Python tasks"),
        Impl("cpython-3.11-virtual", "asyncio-3.11",
             _cpython(SYSTEM_PYTHON, "--virtual"),
             "Debian CPython 3.11 on the Pyodide adapter's virtual-clock loop"),
        Impl("uvloop", "asyncio-3.11", _cpython(SYSTEM_PYTHON, "--uvloop"),
             "uvloop on Debian CPython 3.11"),
        Impl("pypy-3.9", "asyncio-3.11", _cpython(SYSTEM_PYPY),
             "Debian PyPy 3.9"),
    ]
    return {impl.name: impl for impl in impls}


def node_modules_present():
    """True when `npm ci` has been run in the harness directory."""
    return os.path.isdir(os.path.join(HARNESS, "node_modules", "pyodide"))
