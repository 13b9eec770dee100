"""Cases as the reference model reads them: the model is the one gate.

`load(paths)` runs `loopspec-model ast CASE` on every case file and builds a
`Case` from its JSON: id, header, program text and its first line, the
expect block of every profile (unordered groups as `{"unordered": [...]}`),
and the features the program uses (features.py).  A file the model rejects
(exit 2, `path:line:col: error: ...`) becomes a `Case` whose `error` is that
message; the harness reports it once and never sends it to an adapter.
"""

import concurrent.futures
import json
import os
import subprocess

from . import casefile, features, impls

DEFAULT_TIMEOUT = 10.0
AST_TIMEOUT = 60


class ModelMissing(Exception):
    """The model binary is not there (run `make model`)."""


class Case:
    """One case file, as the model parsed it (or rejected it)."""

    def __init__(self, path, explicit=False):
        self.path = path
        self.explicit = explicit  # named on the command line, not found in a directory
        self.id = casefile.case_id(path)
        self.error = None
        self.header = {}
        self.program = ""
        self.program_line = 1
        self.expect = {}
        self.uses = []
        self.in_bench_dir = False

    @property
    def rejected(self):
        """True when the model rejected the file."""
        return self.error is not None

    @property
    def title(self):
        return self.header.get("title") or ""

    @property
    def profiles(self):
        """The profiles the case applies to."""
        value = self.header.get("profiles")
        if not value:
            return list(impls.PROFILES)
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        return list(value)

    @property
    def requires(self):
        """The header's `requires:` features."""
        return features.header_requires(self.header.get("requires"))

    @property
    def needs(self):
        """Every feature the case needs: its header's and its program's."""
        return features.order(self.requires + self.uses)

    @property
    def timeout(self):
        """The header's real-time limit in seconds (default 10)."""
        try:
            value = float(self.header.get("timeout") or 0)
        except (TypeError, ValueError):
            value = 0
        return value if value > 0 else DEFAULT_TIMEOUT

    @property
    def bench(self):
        """The header's `bench:` operation count, 0 for a conformance case."""
        try:
            return int(self.header.get("bench") or 0)
        except (TypeError, ValueError):
            return 0

    def expected(self, profile):
        """The expect items (JSON form) for `profile`, or None."""
        if profile in self.expect:
            return self.expect[profile]
        return self.expect.get("default")

    def expect_block(self, profile):
        """The name of the block that applies: `expect[P]` or `expect`."""
        return "expect[%s]" % profile if profile in self.expect else "expect"

    def to_json(self):
        return {"case": self.id, "path": self.path, "error": self.error}


def as_items(expected):
    """JSON expect items as casefile items (str and casefile.Group)."""
    items = []
    for item in expected or []:
        if isinstance(item, dict):
            items.append(casefile.Group(str(x).strip() for x in item.get("unordered", [])))
        else:
            items.append(str(item).strip())
    return items


def match(expected, trace):
    """Compare a trace with JSON expect items: (ok, first divergence or '')."""
    return casefile.match(as_items(expected), trace)


def flat(expected):
    """The expected lines in order, groups flattened (for display)."""
    out = []
    for item in expected or []:
        if isinstance(item, dict):
            out.extend(item.get("unordered", []))
        else:
            out.append(item)
    return out


def find(paths):
    """Case files under `paths`: [(path, explicit, in_bench_dir)].

    A file named on the command line is explicit, and so is every file
    below a named directory that is itself a `bench` directory or inside
    one.  Other files found below a directory are marked `in_bench_dir` when
    a `bench` directory lies between that directory and them (benchmarks run
    only when named).  Raises FileNotFoundError for a path that does not
    exist.
    """
    found, seen = [], set()
    for path in paths:
        if os.path.isdir(path):
            named_bench = "bench" in os.path.abspath(path).split(os.sep)
            for root, dirs, files in os.walk(path):
                dirs.sort()
                rel = os.path.relpath(root, path)
                in_bench = "bench" in rel.split(os.sep)
                for name in sorted(files):
                    if name.endswith(".case"):
                        full = os.path.join(root, name)
                        key = os.path.realpath(full)
                        if key not in seen:
                            seen.add(key)
                            found.append((full, named_bench, in_bench))
        elif os.path.exists(path):
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                found.append((path, True, False))
        else:
            raise FileNotFoundError(path)
    return found


def parse(path, model=impls.MODEL, explicit=False):
    """One Case from `loopspec-model ast PATH`."""
    case = Case(path, explicit)
    try:
        proc = subprocess.run([model, "ast", path], capture_output=True,
                              timeout=AST_TIMEOUT)
    except OSError as exc:
        raise ModelMissing("cannot run the model %s: %s (run `make model`)" % (model, exc))
    except subprocess.TimeoutExpired:
        case.error = "%s: error: the model took more than %ds to parse it" % (path, AST_TIMEOUT)
        return case
    stderr = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        lines = [l for l in stderr.splitlines() if ": error: " in l]
        case.error = (lines[0] if lines else stderr) or (
            "%s: error: the model exited with status %d" % (path, proc.returncode))
        return case
    try:
        data = json.loads(proc.stdout.decode("utf-8"))
        case.id = data.get("case") or case.id
        case.header = data.get("header") or {}
        case.program = data["program"]
        case.program_line = int(data.get("program_line") or 1)
        case.expect = data.get("expect") or {}
        case.uses = features.used_by_program(data.get("ast"))
    except (ValueError, KeyError, TypeError) as exc:
        case.error = "%s: error: unreadable output of `loopspec-model ast`: %s" % (path, exc)
    return case


def load(paths, model=impls.MODEL, include_bench=False, jobs=8):
    """Cases for `paths`, sorted by id; benchmarks only when named.

    Benchmark cases (a `bench:` header, or a file below a `bench` directory
    of a directory given) are left out unless the file, or a directory inside
    the benchmarks, was named, or `include_bench` is set.  Raises
    ModelMissing and FileNotFoundError.
    """
    if not os.path.exists(model):
        raise ModelMissing("%s is missing: run `make model`" % model)
    found = find(paths)
    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        cases = list(pool.map(lambda f: parse(f[0], model, f[1]), found))
    for case, (_, _, in_bench) in zip(cases, found):
        case.in_bench_dir = in_bench
    kept = [c for c in cases
            if include_bench or c.explicit or not (c.in_bench_dir or c.bench)]
    kept.sort(key=lambda c: c.id)
    return kept
