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
from . import profiles

HARNESS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(HARNESS)
ADAPTERS = os.path.join(HARNESS, "adapters")
NODE_MODULES = os.path.join(HARNESS, "node_modules")


def _data_dir(inside, outside):
    """A data directory: beside the harness when it is installed with pip
    (the package holds `cases/` and `expectations/`), else in the source
    tree or the `make install` tree (`ROOT/cases`, `ROOT/results/expectations`)."""
    packaged = os.path.join(HARNESS, inside)
    return packaged if os.path.isdir(packaged) else os.path.join(ROOT, *outside)


CASES = _data_dir("cases", ("cases",))
EXPECTATIONS = _data_dir("expectations", ("results", "expectations"))


def find_model():
    """The model binary: $LOOPSPEC_MODEL; else `model/loopspec-model` of the
    source tree (`make model`); else the `loopspec-model` installed beside
    `make install`'s harness (PREFIX/bin); else the first on PATH.  When
    there is none, the source tree's path (its absence says `make model`)."""
    override = os.environ.get("LOOPSPEC_MODEL")
    if override:
        return os.path.abspath(override)
    built = os.path.join(ROOT, "model", "loopspec-model")
    installed = os.path.normpath(os.path.join(ROOT, "..", "..", "bin", "loopspec-model"))
    for path in (built, installed):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return shutil.which("loopspec-model") or built


MODEL = find_model()
SYSTEM_PYTHON = "/usr/bin/python3"
SYSTEM_PYTHON_VERSION = "3.11.2"   # Debian 12's python3
SYSTEM_PYPY = "/usr/bin/pypy3"
PYODIDE_PACKAGE = "pyodide"
MICROPYTHON_PACKAGE = "@micropython/micropython-webassembly-pyscript"

# The Pyodide releases pinned in package.json (npm aliases), each with the
# exact CPython it ships (the adapter refuses to start on any other), as
# (implementation id, npm package, CPython version, column label).  From
# 3.12 on each also has an `-eager` id.
PYODIDE_IMPLS = (
    ("cpython-3.11.3", "pyodide-3.11", "3.11.3", "cp3113"),     # pyodide 0.25.1
    ("cpython-3.12", "pyodide-3.12", "3.12.7", "cp312"),        # pyodide 0.27.7
    ("cpython-3.13", "pyodide-3.13", "3.13.2", "cp313"),        # pyodide 0.29.3
    ("cpython-3.14", PYODIDE_PACKAGE, "3.14.2", "cp314"),       # pyodide 314.0.7
    ("cpython-3.15", "pyodide-3.15", "3.15.0rc1", "cp315"),     # pyodide 315.0.0-alpha.2
)
PYODIDE_RUNTIMES = {package: version for _, package, version, _ in PYODIDE_IMPLS}

# The virtual environment `make deps` makes (Debian's CPython 3.11.2 with
# its site packages, so Debian's python3-gi and python3-gbulb show through)
# for the loops installed from PyPI, pinned with hashes in
# harness/requirements.lock; $LOOPSPEC_VENV names another.
VENV = os.environ.get("LOOPSPEC_VENV") or os.path.join(HARNESS, ".venv")
VENV_PYTHON = os.path.join(VENV, "bin", "python3")

# The loops installed in VENV: (id, --loop or --runner, module to import,
# version, what it is, column label).
VENV_LOOPS = (
    ("uvloop-0.23", "--loop", "uvloop:new_event_loop", "0.23.0",
     "uvloop 0.23 (PyPI)", "uvl023"),
    ("rloop", "--loop", "rloop:new_event_loop", "0.5.0",
     "rloop 0.5 (PyPI): a Rust loop on mio", "rloop"),
    ("bracio", "--loop", "bracio:BracioLoop", "0.0.1",
     "bracio 0.0.1 (PyPI): a Rust/Tokio loop on BaseEventLoop", "bracio"),
    ("qasync", "--loop", "loopspec_loops:qasync_loop", "0.28.0",
     "qasync 0.28 (PyPI) on PySide6 6.12, Qt offscreen", "qasync"),
    ("trio-asyncio", "--runner", "loopspec_loops:trio_asyncio_run", "0.16.0",
     "trio-asyncio 0.16 (PyPI) on trio 0.35, main() run through aio_as_trio",
     "trio-aio"),
    ("ferro-io", "--runner", "ferro_io:run", "0.2.0",
     "ferro-io 0.2 (PyPI): ferro_io.run on a Tokio runtime (its new_event_loop "
     "is asyncio's own)", "ferro"),
)

# asyncio loops looked up on PyPI that cannot be run here, and why
# (`loopspec list` prints them).
CANNOT_RUN = (
    ("zuvloop", "not on PyPI: `pip index versions zuvloop` finds no distribution"),
    ("winloop", "Windows only: PyPI has wheels for win_amd64 alone, no Linux wheel "
     "or buildable source for this machine"),
    ("tokio", "PyPI's tokio 0.2.0 is a source archive of a 2017 Rust extension "
     "(no wheel); it needs a Rust toolchain and a PyO3 of its time to build"),
    ("leviathan", "the PyPI name `leviathan` is a bioinformatics package, not the "
     "Zig event loop of that name, which is not on PyPI"),
)

# A CPython found outside Debian (pyenv): (version, what installs it).
PYENV_PYTHON_VERSION = "3.11.7"

# The CPython references `observe` runs by default: every CPython release the
# model follows, lazy and eager (those not installed here are left out).
DEFAULT_IMPLS = (
    "cpython-3.11", "cpython-3.11.3", "cpython-3.11.7",
    "cpython-3.12", "cpython-3.12-eager", "cpython-3.13", "cpython-3.13-eager",
    "cpython-3.14", "cpython-3.14-eager", "cpython-3.15", "cpython-3.15-eager",
)


def node():
    """The Node.js binary: Debian's if present, else the first on PATH."""
    if os.path.exists("/usr/bin/node"):
        return "/usr/bin/node"
    return shutil.which("node") or "node"


def find_python(version):
    """The path of a CPython of exactly `version` outside the system: from
    $LOOPSPEC_PYTHON_3_11_7 (the version's dots as underscores), else pyenv's
    (`$PYENV_ROOT/versions/V/bin/python3`, `~/.pyenv/versions/V/bin/python3`,
    `pyenv root`); None when there is none.  The version itself is checked
    when the implementation starts (`needs`, and the adapter's --python)."""
    candidates = []
    override = os.environ.get("LOOPSPEC_PYTHON_" + version.replace(".", "_"))
    if override:
        return override
    tail = os.path.join("versions", version, "bin", "python3")
    if os.environ.get("PYENV_ROOT"):
        candidates.append(os.path.join(os.environ["PYENV_ROOT"], tail))
    candidates.append(os.path.join(os.path.expanduser("~"), ".pyenv", tail))
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            proc = subprocess.run([pyenv, "root"], capture_output=True, text=True,
                                  timeout=20)
            path = os.path.join(proc.stdout.strip(), tail)
            if proc.returncode == 0 and os.path.isfile(path):
                return path
        except (OSError, subprocess.TimeoutExpired):
            pass
    return None


def _cpython(interpreter, *options, python=None):
    argv = [interpreter, os.path.join(ADAPTERS, "cpython_adapter.py")]
    if python:
        argv += ["--python", python]
    return argv + list(options)


def _pyodide(package=PYODIDE_PACKAGE, *options):
    return [node(), os.path.join(ADAPTERS, "pyodide_adapter.mjs"),
            "--package", package, "--python", PYODIDE_RUNTIMES[package]] + list(options)


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


def _python_version(interpreter, version, install):
    """The interpreter runs and is Python `version` exactly."""
    def check():
        if interpreter is None:
            return install
        if not os.path.exists(interpreter):
            return "%s is missing: %s" % (interpreter, install)
        try:
            proc = subprocess.run(
                [interpreter, "-c", "import platform; print(platform.python_version())"],
                capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return "%s cannot run: %s" % (interpreter, install)
        found = proc.stdout.strip()
        if proc.returncode != 0 or found != version:
            return "%s is Python %s, not %s: %s" % (interpreter, found or "?", version,
                                                     install)
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
    loop sleeps in real time (`loopspec latency` measures those only);
    `python` the exact Python version it runs, when it is pinned.
    Profiles are canonical names (an alias given here is normalized).
    """

    def __init__(self, name, profile, argv, about, features, runs=None,
                 needs=(), label=None, slow_start=False, conformance=True,
                 real_time=True, python=None):
        self.name = name
        self.profile = profiles.normalize(profile)
        self.argv = list(argv)
        self.about = about
        self.features = tuple(features)
        self.runs = tuple(profiles.normalize(p) for p in (runs or (profile,)))
        self.python = python
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


def _claims(version, eager=False):
    """The profile a CPython of `version` claims (profiles.for_version)."""
    return profiles.for_version(version, eager=eager)


def _both(version):
    """The lazy and (3.12+) eager profiles of a CPython version."""
    return tuple(p for p in (_claims(version), _claims(version, True)) if p)


def _pyodide_impls(upto=None, after=None):
    """The Pyodide CPython implementations, lazy and (3.12+) eager; those of
    versions before `upto`, or from `after` on."""
    check = _node_check()
    out = []
    for name, package, version, label in PYODIDE_IMPLS:
        key = profiles.version_tuple(version)
        if (upto and key >= profiles.version_tuple(upto)) or (
                after and key < profiles.version_tuple(after)):
            continue
        lazy, eager = _claims(version), _claims(version, True)
        # No sockets in Pyodide: the virtual-clock loop polls nothing.
        has = feat.for_python(version, *(("io",) if eager else ("eager", "io")))
        npm = _node_package(package)
        out.append(Impl(
            name, lazy, _pyodide(package),
            "CPython %s in Pyodide (npm %s) under Node, virtual-clock BaseEventLoop"
            % (version, package),
            has, runs=_both(version), needs=(check, npm), label=label,
            slow_start=True, real_time=False, python=version))
        if eager:
            out.append(Impl(
                name + "-eager", eager, _pyodide(package, "--eager"),
                "the same, with eager_task_factory", has, needs=(check, npm),
                label=label + "-eager", slow_start=True, real_time=False,
                python=version))
    return out


def registry():
    """Every known implementation, by id, in display order."""
    system = SYSTEM_PYTHON_VERSION
    python = _python_version(SYSTEM_PYTHON, system, "install Debian's python3 (`make deps`)")
    pypy = _program(SYSTEM_PYPY, "install Debian's pypy3 (`make deps`)")
    uvloop = _python_module(SYSTEM_PYTHON, "uvloop",
                            "install Debian's python3-uvloop (`make deps`)")
    model = _program(MODEL, "run `make model`")
    pyodide = _node_package(PYODIDE_PACKAGE)
    micropython = _node_package(MICROPYTHON_PACKAGE)
    pyenv_version = PYENV_PYTHON_VERSION
    pyenv_python = find_python(pyenv_version)
    pyenv_needs = (_python_version(
        pyenv_python, pyenv_version,
        "CPython %s was not found ($LOOPSPEC_PYTHON_%s, $PYENV_ROOT/versions/%s, "
        "~/.pyenv/versions/%s): install it with `pyenv install %s` (optional)"
        % (pyenv_version, pyenv_version.replace(".", "_"), pyenv_version,
           pyenv_version, pyenv_version)),)
    pyenv_path = pyenv_python or os.path.join("~", ".pyenv", "versions", pyenv_version,
                                              "bin", "python3")
    pyenv_short = "cp" + pyenv_version.replace(".", "")
    py311 = _claims(system)
    no_io = feat.without("eager", "io")
    impls = [
        Impl("model", profiles.normalize("asyncio"),
             [SYSTEM_PYTHON, os.path.join(ADAPTERS, "model_adapter.py"), "--model", MODEL],
             "the reference model (model/loopspec-model run), any profile",
             feat.ALL, runs=profiles.NAMES, needs=(python, model), label="model",
             real_time=False),
        Impl("cpython-3.11", py311, _cpython(SYSTEM_PYTHON, python=system),
             "Debian CPython %s, C tasks, SelectorEventLoop" % system,
             feat.for_python(system, "eager"), needs=(python,), label="cp311", python=system),
        Impl("cpython-3.11-pure", py311, _cpython(SYSTEM_PYTHON, "--pure", python=system),
             "Debian CPython %s, pure-Python tasks and futures" % system,
             feat.for_python(system, "eager"), needs=(python,), label="cp311-py", python=system),
        Impl("uvloop", py311, _cpython(SYSTEM_PYTHON, "--uvloop", python=system),
             "uvloop 0.17 (Debian python3-uvloop) on Debian CPython %s" % system,
             feat.for_python(system, "eager"), needs=(python, uvloop), label="uvloop",
             python=system),
        Impl("pypy-3.9", py311, _cpython(SYSTEM_PYPY),
             "Debian PyPy 3.9 (7.3.11), pure-Python asyncio",
             feat.for_python("3.9", "eager", "taskgroup", "timeout", ".cancelling", ".uncancel",
                             "Barrier"),
             needs=(pypy,), label="pypy39"),
    ]
    impls += _pyodide_impls(upto=pyenv_version)
    impls += [
        Impl("cpython-%s" % pyenv_version, _claims(pyenv_version),
             _cpython(pyenv_path, python=pyenv_version),
             "CPython %s (pyenv), C tasks, SelectorEventLoop" % pyenv_version,
             feat.for_python(pyenv_version, "eager"), needs=pyenv_needs, label=pyenv_short,
             python=pyenv_version),
        Impl("cpython-%s-pure" % pyenv_version, _claims(pyenv_version),
             _cpython(pyenv_path, "--pure", python=pyenv_version),
             "CPython %s (pyenv), pure-Python tasks and futures" % pyenv_version,
             feat.for_python(pyenv_version, "eager"), needs=pyenv_needs,
             label=pyenv_short + "-py", python=pyenv_version),
    ]
    impls += _pyodide_impls(after=pyenv_version)
    latest = _claims(PYODIDE_RUNTIMES[PYODIDE_PACKAGE])
    impls += [
        Impl("pyodide-webloop", latest, _pyodide(PYODIDE_PACKAGE, "--webloop"),
             "Pyodide's WebLoop (CPython %s): asyncio on Node's event loop"
             % PYODIDE_RUNTIMES[PYODIDE_PACKAGE],
             no_io, needs=(_node_check(), pyodide), label="webloop",
             slow_start=True, python=PYODIDE_RUNTIMES[PYODIDE_PACKAGE]),
        Impl("micropython", latest,
             [node(), os.path.join(ADAPTERS, "micropython_adapter.mjs"), "--profile", latest],
             "MicroPython 1.27 (WebAssembly, pyscript build) under Node",
             ("gather", "wait_for", "Lock", "Event", "current_task"),
             needs=(_node_check(), micropython), label="mpy", slow_start=True),
        Impl("gbulb", py311, _cpython(SYSTEM_PYTHON, "--loop", "gbulb:GLibEventLoop",
                                      python=system),
             "gbulb 0.6.3 (Debian python3-gbulb): asyncio on GLib's main loop, "
             "Debian CPython %s" % system,
             feat.for_python(system, "eager"), needs=(python, _python_module(
                 SYSTEM_PYTHON, "gbulb", "install Debian's python3-gbulb (`make deps`)")),
             label="gbulb", python=system),
    ]
    venv_python = _python_version(VENV_PYTHON, system,
                                  "the loops from PyPI live in %s: run `make deps`" % VENV)
    for name, option, spec, version, about, label in VENV_LOOPS:
        module = spec.partition(":")[0]
        if module == "loopspec_loops":
            module = {"qasync": "qasync", "trio-asyncio": "trio_asyncio"}[name]
        impls.append(Impl(
            name, py311, _cpython(VENV_PYTHON, option, spec, python=system),
            "%s on Debian CPython %s" % (about, system), feat.for_python(system, "eager"),
            needs=(venv_python, _python_module(
                VENV_PYTHON, module, "pinned in harness/requirements.lock: run `make deps`")),
            label=label, python=system))
    impls += [
        # Not part of `--impl all`: a diagnostic of the virtual-clock loop.
        Impl("cpython-3.11-virtual", py311,
             _cpython(SYSTEM_PYTHON, "--virtual", python=system),
             "Debian CPython %s on the Pyodide adapter's virtual-clock loop" % system,
             feat.for_python(system, "eager", "io"), needs=(python,), label="cp311-virt",
             conformance=False, real_time=False, python=system),
    ]
    return {impl.name: impl for impl in impls}


def conformance_ids():
    """The ids `--impl all` stands for, in display order."""
    return [name for name, impl in registry().items() if impl.conformance]


def node_modules_present():
    """True when `npm ci` has been run in the harness directory."""
    return os.path.isdir(os.path.join(NODE_MODULES, PYODIDE_PACKAGE))
