"""Implementations made outside the registry: on the command line
(`--python PATH [--loop MODULE:ATTR] ...`) or in a project file
(`loopspec.toml`), so that a loop's own repository gates it without
editing loopspec.

Each is the CPython adapter on the interpreter PATH with `--loop`,
`--runner` and `--task-factory` (adapters/cpython_adapter.py).  Before any
case runs, the adapter is started once with `--probe`: it imports the
modules, checks that the attributes are callable and that the loop factory
returns an event loop, and prints its ready line, from which the
implementation takes its Python version, the profile that version claims
(profiles.for_version; eager with `asyncio:eager_task_factory`) and its
default id.  Anything wrong there is a `ProjectError` (`loopspec` exits 2).

A project file:

    [implementation.myloop]
    python = "/usr/bin/python3"
    loop = "gbulb:GLibEventLoop"
    # runner = "MODULE:ATTR"
    # task_factory = "asyncio:eager_task_factory"
    # pure = false
    # profile = "asyncio-3.11"
    # expectations = "loopspec-expectations"
    # about = "one line shown by `loopspec list`"

Relative paths (`python`, `expectations`) are relative to the file's
directory.
"""

import json
import os
import re
import shutil
import subprocess

from . import features as feat
from . import profiles
from .impls import ADAPTERS, Impl

CONFIG_NAME = "loopspec.toml"
PROBE_TIMEOUT = 120
EAGER_FACTORY = "asyncio:eager_task_factory"
KEYS = ("python", "loop", "runner", "task_factory", "pure", "profile", "expectations",
        "about")
SPEC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:"
                  r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class ProjectError(Exception):
    """Bad ad-hoc options or a bad project file: a usage error (exit 2)."""


class Spec:
    """What makes an implementation outside the registry."""

    def __init__(self, python, loop=None, runner=None, task_factory=None, pure=False,
                 name=None, profile=None, expectations=None, about=None, where=None):
        self.python = python
        self.loop = loop
        self.runner = runner
        self.task_factory = task_factory
        self.pure = bool(pure)
        self.name = name
        self.profile = profile
        self.expectations = expectations
        self.about = about
        self.where = where  # "loopspec.toml:3" for a project file's entry

    def options(self):
        """The adapter's options, without --python."""
        out = []
        if self.pure:
            out.append("--pure")
        if self.loop:
            out += ["--loop", self.loop]
        if self.runner:
            out += ["--runner", self.runner]
        if self.task_factory:
            out += ["--task-factory", self.task_factory]
        return out

    def what(self):
        """How the user named it, for messages."""
        if self.where:
            return "%s (implementation %s)" % (self.where, self.name)
        return "--python %s" % self.python


def check_spec(spec):
    """Raise ProjectError for option values of the wrong shape."""
    for option, value in (("loop", spec.loop), ("runner", spec.runner),
                          ("task-factory", spec.task_factory)):
        if value is not None and not SPEC.match(value):
            raise ProjectError("%s: --%s %r: expected MODULE:ATTR (e.g. "
                               "uvloop:new_event_loop)" % (spec.what(), option, value))
    if spec.loop and spec.runner:
        raise ProjectError("%s: a loop and a runner exclude each other" % spec.what())
    if spec.name is not None and not ID.match(spec.name):
        raise ProjectError("%s: the id %r may hold letters, digits, '.', '_', '+' "
                           "and '-' only" % (spec.what(), spec.name))
    if spec.profile is not None:
        try:
            spec.profile = profiles.normalize(spec.profile)
        except profiles.UnknownProfile as exc:
            raise ProjectError("%s: %s" % (spec.what(), exc))


def find_python(path):
    """The interpreter as an absolute path (a bare name is looked up on PATH)."""
    if os.sep not in path:
        found = shutil.which(path)
        if found:
            return found
    return os.path.abspath(os.path.expanduser(path))


def probe(spec, timeout=PROBE_TIMEOUT):
    """The adapter's ready line for `spec` (a dict); raise ProjectError."""
    python = find_python(spec.python)
    if not os.path.exists(python):
        raise ProjectError("%s: no such file: %s" % (spec.what(), python))
    if os.path.isdir(python) or not os.access(python, os.X_OK):
        raise ProjectError("%s: %s is not an executable program" % (spec.what(), python))
    argv = [python, os.path.join(ADAPTERS, "cpython_adapter.py"), "--probe"] + spec.options()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ProjectError("%s: %s did not answer within %ds" % (spec.what(), python, timeout))
    except OSError as exc:
        raise ProjectError("%s: %s cannot run: %s" % (spec.what(), python, exc))
    ready = None
    for line in proc.stdout.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("ready") is True:
            ready = value
    if proc.returncode == 0 and ready is not None:
        return ready
    said = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    adapter = [line[len("cpython_adapter: "):] for line in said
               if line.startswith("cpython_adapter: ")]
    if adapter:
        raise ProjectError("%s: %s" % (spec.what(), adapter[-1]))
    if ready is None and not any("Traceback" in line or "Error" in line for line in said):
        raise ProjectError("%s: %s is not a Python 3 interpreter (no ready line from "
                           "the adapter%s)" % (spec.what(), python,
                                               ": " + said[-1][:200] if said else ""))
    raise ProjectError("%s: the adapter failed on %s (exit %s): %s" % (
        spec.what(), python, proc.returncode, (said[-1] if said else "")[:300]))


def default_id(spec, ready):
    """A readable id: the loop's module and the Python line (`gbulb-3.11`,
    `uvloop-3.11`), or the interpreter and its exact version
    (`cpython-3.11.7`, `pypy-3.9.16`); `-pure`, `-eager` or the task
    factory's module appended."""
    python = ready.get("python") or "?"
    line = ".".join(python.split(".")[:2])
    kind = ready.get("impl") or "python"
    chosen = spec.loop or spec.runner
    if chosen and chosen not in ("asyncio:new_event_loop",):
        module = chosen.partition(":")[0].split(".")[0]
        if module == "loopspec_loops":
            module = chosen.partition(":")[2].split("_")[0]
        name = "%s-%s" % (module.replace("_", "-"), line)
    else:
        exact = profiles.version_tuple(python)
        name = "%s-%d.%d.%d" % (kind, exact[0], exact[1], exact[2])
    if spec.pure:
        name += "-pure"
    if spec.task_factory == EAGER_FACTORY:
        name += "-eager"
    elif spec.task_factory:
        name += "-" + spec.task_factory.partition(":")[0].split(".")[0].replace("_", "-")
    return name


def build(spec, timeout=PROBE_TIMEOUT):
    """The Impl for `spec`, probed; raise ProjectError."""
    check_spec(spec)
    ready = probe(spec, timeout)
    python = ready.get("python") or ""
    eager = spec.task_factory == EAGER_FACTORY
    claimed = ready.get("profile") if isinstance(ready.get("profile"), str) else None
    if not claimed or not profiles.known(claimed):
        claimed = profiles.for_version(python, eager=eager) or profiles.for_version(python)
    profile = spec.profile or claimed
    name = spec.name or default_id(spec, ready)
    interpreter = find_python(spec.python)
    argv = [interpreter, os.path.join(ADAPTERS, "cpython_adapter.py")]
    if python and ready.get("impl") == "cpython":
        argv += ["--python", python]
    argv += spec.options()
    has = ready.get("features")
    has = tuple(f for f in has if f in feat.ALL) if isinstance(has, list) else feat.ALL
    what = spec.loop or spec.runner or "asyncio's own loop"
    about = spec.about or "%s on %s %s (%s)%s%s" % (
        what, ready.get("impl", "python"), python, interpreter,
        " with task factory %s" % spec.task_factory if spec.task_factory else "",
        ", pure-Python tasks" if spec.pure else "")
    if ready.get("loop_version") and not spec.about:
        about = "%s %s" % (about, "[%s]" % ready["loop_version"])
    runs = tuple(p for p in profiles.NAMES if profiles.is_eager(p) == eager) \
        if spec.profile is None else (profile,)
    if profile not in runs:
        runs = (profile,) + runs
    impl = Impl(name, profile, argv, about, has, runs=runs, label=name,
                python=python or None)
    impl.expectations = spec.expectations
    impl.origin = spec.where or "command line"
    impl.ready_probe = ready
    return impl


# -- project files -----------------------------------------------------------------

def find_config(explicit=None, cwd=None):
    """The project file: `explicit` (must exist), else ./loopspec.toml if any."""
    if explicit:
        if not os.path.isfile(explicit):
            raise ProjectError("--config: no such file: %s" % explicit)
        return os.path.abspath(explicit)
    candidate = os.path.join(cwd or os.getcwd(), CONFIG_NAME)
    return candidate if os.path.isfile(candidate) else None


def _line_of(text, pattern, after=0):
    """The 1-based line of the first line matching `pattern` from line `after` on."""
    regex = re.compile(pattern)
    for number, line in enumerate(text.splitlines(), 1):
        if number > after and regex.search(line):
            return number
    return after or 1


def _table_line(text, name):
    quoted = re.escape(name)
    return _line_of(text, r"^\s*\[\s*implementation\s*\.\s*(%s|\"%s\"|'%s')\s*\]"
                    % (quoted, quoted, quoted))


def load_config(path):
    """[Spec] from a project file; raise ProjectError with `path:line:`."""
    import tomllib
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise ProjectError("%s: %s" % (path, exc))
    text = raw.decode("utf-8", "replace")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if match:
            message = message[:match.start()].strip()
            raise ProjectError("%s:%s:%s: %s" % (path, match.group(1), match.group(2),
                                                 message))
        raise ProjectError("%s: %s" % (path, message))
    base = os.path.dirname(os.path.abspath(path))
    for key in doc:
        if key != "implementation":
            raise ProjectError("%s:%d: unknown table or key %r (a project file holds "
                               "[implementation.ID] tables)"
                               % (path, _line_of(text, r"^\s*\[?\s*%s\b" % re.escape(key)),
                                  key))
    tables = doc.get("implementation", {})
    if not isinstance(tables, dict):
        raise ProjectError("%s:%d: `implementation` must be a table of "
                           "[implementation.ID] tables"
                           % (path, _line_of(text, r"implementation")))
    specs = []
    for name, table in tables.items():
        start = _table_line(text, name)
        if not isinstance(table, dict):
            raise ProjectError("%s:%d: implementation.%s must be a table"
                               % (path, start, name))
        for key, value in table.items():
            line = _line_of(text, r"^\s*(%s|\"%s\")\s*=" % (re.escape(key), re.escape(key)),
                            start)
            if key not in KEYS:
                raise ProjectError("%s:%d: unknown key %r in [implementation.%s] "
                                   "(keys: %s)" % (path, line, key, name, ", ".join(KEYS)))
            wanted = bool if key == "pure" else str
            if not isinstance(value, wanted):
                raise ProjectError("%s:%d: %s must be a %s" % (
                    path, line, key, "boolean" if wanted is bool else "string"))
        if "python" not in table:
            raise ProjectError("%s:%d: [implementation.%s] needs python = \"PATH\""
                               % (path, start, name))
        python = table["python"]
        if os.sep in python and not os.path.isabs(python):
            python = os.path.join(base, python)
        expectations = table.get("expectations")
        if expectations is not None:
            expectations = os.path.join(base, expectations)
        spec = Spec(python, loop=table.get("loop"), runner=table.get("runner"),
                    task_factory=table.get("task_factory"), pure=table.get("pure", False),
                    name=name, profile=table.get("profile"), expectations=expectations,
                    about=table.get("about"), where="%s:%d" % (path, start))
        check_spec(spec)
        specs.append(spec)
    return specs
