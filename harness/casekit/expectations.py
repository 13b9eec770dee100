"""Expectation files: the cases an implementation is known not to pass.

`results/expectations/<impl>.txt` holds one line per known divergence:

    CASE_ID STATUS reason, one line of free text

STATUS is one of the run statuses (FAIL, TIMEOUT, CRASH, ERROR, FLAKY,
UNSUPPORTED), or several joined by `|` for a case that is known to vary
(`PASS|FAIL`; such a line also accepts FLAKY, what `--repeat` reports for a
case that varies).  Blank lines and lines starting with `#` are comments.

A result is as expected when its status is the one its line names, or, for
a case without a line, when it is PASS or UNSUPPORTED.  Anything else,
including a PASS where a line expects a failure, makes `loopspec run` exit
non-zero, so the files stay true.
"""

import os
import tempfile

from . import profiles
from .runner import STATUSES

HEADER = """\
# Known divergences of {impl} (profile {profile}) from the loopspec cases.
# One line per case: CASE_ID STATUS reason.  `harness/loopspec run` fails on
# any result that differs from its line (an unexpected pass included), and
# on any failure without one.  `--update-expectations` rewrites this file.
"""


class ExpectationError(Exception):
    """A malformed expectation file; str() is `path:line: message`."""


class Expectation:
    """One line: `case`, allowed `statuses`, `reason`."""

    def __init__(self, case, statuses, reason, where=""):
        self.case = case
        self.statuses = tuple(statuses)
        self.reason = reason
        self.where = where

    @property
    def status(self):
        return "|".join(self.statuses)

    def line(self):
        return ("%s %s %s" % (self.case, self.status, self.reason)).rstrip()


def path_for(directory, impl):
    return os.path.join(directory, "%s.txt" % impl)


def read(directory, impl):
    """{case id: Expectation} from `<directory>/<impl>.txt` ({} if absent)."""
    path = path_for(directory, impl)
    if not os.path.exists(path):
        return {}
    return read_file(path)


def read_file(path):
    """{case id: Expectation} from one expectation file; raise ExpectationError."""
    found = {}
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            where = "%s:%d" % (path, number)
            if len(parts) < 2:
                raise ExpectationError("%s: expected 'CASE_ID STATUS reason', got %r"
                                       % (where, line))
            statuses = parts[1].split("|")
            bad = [s for s in statuses if s not in STATUSES]
            if bad:
                raise ExpectationError("%s: unknown status %r (statuses: %s)"
                                       % (where, bad[0], ", ".join(STATUSES)))
            if parts[0] in found:
                raise ExpectationError("%s: %s is listed twice (first at %s)"
                                       % (where, parts[0], found[parts[0]].where))
            found[parts[0]] = Expectation(parts[0], statuses,
                                          parts[2] if len(parts) > 2 else "", where)
    return found


def judge(result, expectation):
    """True when `result` is what `expectation` (or its absence) says."""
    if expectation is None:
        return result["status"] in ("PASS", "UNSUPPORTED")
    if result["status"] == "FLAKY" and len(expectation.statuses) > 1:
        return True
    return result["status"] in expectation.statuses


def annotate(results, directory, claimed=None, dirs=None):
    """Mark each result with `expectation` and `unexpected`; return the
    number of unexpected results.  `directory` None means no files: every
    result other than PASS and UNSUPPORTED is unexpected.  `claimed` maps
    implementation ids to the profile they claim: the files record that
    profile, so a result run under another one (`--profile`) is judged
    without them.  `dirs` maps implementation ids to a directory of their
    own (a project file's `expectations`), used instead of `directory`."""
    cache = {}
    unexpected = 0
    for result in results:
        impl = result["impl"]
        own = (dirs or {}).get(impl) or directory
        if own is not None and impl not in cache:
            cache[impl] = read(own, impl)
        expectation = cache.get(impl, {}).get(result["case"])
        if claimed and claimed.get(impl) is not None and \
                _canonical(claimed[impl]) != _canonical(result.get("profile")):
            expectation = None
        result.pop("expectation", None)
        if expectation is not None:
            result["expectation"] = {"status": expectation.status,
                                     "reason": expectation.reason}
        result["unexpected"] = not judge(result, expectation)
        unexpected += result["unexpected"]
    return unexpected


def _canonical(profile):
    """A profile's canonical name; an unknown name as it is (merged results
    may come from another version of the harness)."""
    return profiles.normalize(profile) if isinstance(profile, str) and \
        profiles.known(profile) else profile


def default_reason(result):
    """A one-line reason for a new line, from what the result shows."""
    text = result.get("why") or result.get("error") or result["status"]
    text = " ".join(str(text).split())
    return text[:200]


def update(directory, impl, profile, results):
    """Rewrite `<directory>/<impl>.txt` from this run's results of `impl`.

    A line that still holds is kept as it is (its reason too).  Otherwise a
    case that ran gets a new line if its status is not PASS or UNSUPPORTED,
    and loses its line if it is.  Cases that did not run keep their lines.
    Returns the path written.
    """
    existing = read(directory, impl)
    lines = dict(existing)
    for result in results:
        if result["impl"] != impl:
            continue
        case = result["case"]
        old = existing.get(case)
        if old is not None and judge(result, old):
            continue  # the line still holds (PASS|FAIL lines survive a pass)
        if result["status"] in ("PASS", "UNSUPPORTED"):
            lines.pop(case, None)
        else:
            lines[case] = Expectation(case, [result["status"]], default_reason(result))
    os.makedirs(directory, exist_ok=True)
    body = HEADER.format(impl=impl, profile=profile)
    body += "".join(lines[c].line() + "\n" for c in sorted(lines))
    path = path_for(directory, impl)
    write_atomic(path, body)
    return path


def write_atomic(path, text):
    """Write `text` to `path` so that readers see the old or the new file whole."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
