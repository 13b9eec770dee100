"""loopspec's pytest plugin: every case a test item, run on your loop.

    pip install loopspec              # or: pip install /path/to/loopspec
    pytest -p loopspec.pytest_plugin --loopspec-loop mypkg:new_event_loop \
        [--loopspec-expectations loopspec-expectations.txt] [-k teardown]

Each case (the cases installed with the package, or --loopspec-cases PATH)
becomes one test item named by its case id (`await/inline-before-task`).
It runs on the loop that `MODULE:ATTR` returns, on the interpreter running
pytest, through the CPython adapter (one adapter process for the session,
restarted after a hang or a crash), and is checked against the expect block
of the profile that interpreter's version claims (`--loopspec-profile`
overrides).  A case that needs a feature the loop lacks is skipped.  The
cases listed in an expectation file (`CASE_ID STATUS reason` per line, as
`loopspec run --update-expectations` writes them) are strict expected
failures: a listed case that passes fails the session.

The cases are read through the reference model: `$LOOPSPEC_MODEL`, the
source tree's `model/loopspec-model` or `loopspec-model` on PATH.
"""

import os
import platform
import sys

import pytest

from .casekit import cases as caselib
from .casekit import expectations as expect
from .casekit import impls as registry
from .casekit import profiles
from .casekit import report
from .casekit import runner

_STATE = {}


def pytest_addoption(parser):
    group = parser.getgroup("loopspec", "loopspec conformance cases")
    group.addoption("--loopspec-loop", metavar="MODULE:ATTR",
                    help="run the loopspec cases on the loop MODULE.ATTR() returns")
    group.addoption("--loopspec-task-factory", metavar="MODULE:ATTR",
                    help="install this task factory on every loop")
    group.addoption("--loopspec-expectations", metavar="FILE",
                    help="cases known to fail (CASE_ID STATUS reason): strict xfail")
    group.addoption("--loopspec-cases", metavar="PATH", action="append", default=[],
                    help="case files or directories (default: the installed cases)")
    group.addoption("--loopspec-profile", metavar="PROFILE",
                    help="check against this profile instead of the one this "
                         "Python's version claims")


class CaseFailed(Exception):
    """A case that did not pass; str() is loopspec's description."""


class CaseItem(pytest.Item):
    def __init__(self, *, case, **kwargs):
        super().__init__(**kwargs)
        self.case = case

    def runtest(self):
        worker = _STATE["worker"]
        result = worker.run(self.case)
        if result["status"] == "UNSUPPORTED":
            pytest.skip(result.get("why") or "a feature the loop lacks")
        if result["status"] != "PASS":
            raise CaseFailed("\n".join(report.describe(result, full=True, output=True)))

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.case.path, None, "loopspec case %s" % self.case.id


def _worker(config):
    loop = config.getoption("loopspec_loop")
    factory = config.getoption("loopspec_task_factory")
    eager = factory == "asyncio:eager_task_factory"
    profile = config.getoption("loopspec_profile") or profiles.for_version(
        platform.python_version(), eager=eager) or profiles.for_version(
        platform.python_version())
    argv = [sys.executable, os.path.join(registry.ADAPTERS, "cpython_adapter.py"),
            "--loop", loop]
    if factory:
        argv += ["--task-factory", factory]
    impl = registry.Impl("pytest-loop", profile, argv, "the loop under test",
                         registry.feat.ALL, runs=profiles.NAMES)
    return runner.Worker(impl, profile)


def pytest_collection_modifyitems(session, config, items):
    if not config.getoption("loopspec_loop"):
        return
    paths = config.getoption("loopspec_cases") or [registry.CASES]
    try:
        loaded = caselib.load(paths)
    except caselib.ModelMissing as exc:
        raise pytest.UsageError("loopspec reads the cases through its model: %s (or "
                                "set LOOPSPEC_MODEL, or put loopspec-model on PATH)"
                                % exc)
    known = {}
    listed = config.getoption("loopspec_expectations")
    if listed:
        try:
            known = expect.read_file(listed)
        except (OSError, expect.ExpectationError) as exc:
            raise pytest.UsageError("--loopspec-expectations: %s" % exc)
    worker = _worker(config)
    _STATE["worker"] = worker
    for case in loaded:
        if case.rejected:
            continue
        if not case.applies(worker.profile):
            continue
        item = CaseItem.from_parent(session, name=case.id, nodeid=case.id, case=case)
        line = known.get(case.id)
        if line is not None:
            item.add_marker(pytest.mark.xfail(
                strict=True, reason="%s %s" % (line.status, line.reason)))
        items.append(item)


def pytest_unconfigure(config):
    worker = _STATE.pop("worker", None)
    if worker is not None:
        worker.close()
