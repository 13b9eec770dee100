"""Cases as the reference model reads them: the model is the one gate and
the only parser of the case format.

`load(paths)` runs `loopspec-model ast CASE` on every case file and builds a
`Case` from its JSON: id, header, program text and its first line, the
expect blocks (unordered groups as `{"unordered": [...]}`), which block
applies to each profile, and the features the program uses (features.py).
A file the model rejects (exit 2, `path:line:col: error: ...`) becomes a
`Case` whose `error` is that message; the harness reports it once and never
sends it to an adapter.

Which expect block applies to a profile is the model's rule, not the
harness's: the `ast` JSON has

  "expect":     {LABEL: items}, LABEL `default` for `expect:`, else the
                block's profile names as written, normalized, joined by ", "
                ("asyncio-3.11, asyncio-3.12", or "eager");
  "expect_for": {PROFILE: LABEL} for every canonical profile the case
                applies to;
  header "profiles": the canonical profiles the case applies to.

Besides, the pure helpers on traces and files: `match`, `Group`, `case_id`,
`find_cases`, `render_expect`.
"""

import concurrent.futures
import json
import os
import shutil
import subprocess
import tempfile

from . import features, impls, profiles

DEFAULT_TIMEOUT = 10.0
AST_TIMEOUT = 60


class ModelMissing(Exception):
    """The model binary is not there (run `make model`)."""


class Case:
    """One case file, as the model parsed it (or rejected it)."""

    def __init__(self, path, explicit=False):
        self.path = path
        self.explicit = explicit  # named on the command line, not found in a directory
        self.id = case_id(path)
        self.error = None
        self.header = {}
        self.program = ""
        self.program_line = 1
        self.expect = {}
        self.expect_for = None  # {profile: label}; None from a model without it
        self.uses = []
        self.in_bench_dir = False
        self.draft = False  # no expect block yet (load(..., drafts=True))

    @property
    def rejected(self):
        """True when the model rejected the file."""
        return self.error is not None

    @property
    def title(self):
        return self.header.get("title") or ""

    @property
    def profiles(self):
        """The canonical profiles the case applies to, in the model's order."""
        if self.expect_for is not None:
            return [p for p in profiles.NAMES if p in self.expect_for]
        value = self.header.get("profiles")
        if not value:
            return list(profiles.NAMES)
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        named = set(profiles.normalize(p) for p in value if profiles.known(p))
        return [p for p in profiles.NAMES if p in named]

    def applies(self, profile):
        """True when the case applies to `profile` (a name or an alias)."""
        return profiles.known(profile) and profiles.normalize(profile) in self.profiles

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

    def label_for(self, profile):
        """The label of the expect block that applies to `profile`: `default`,
        a block's label, or None (the case does not apply, or has no block
        for it)."""
        if not profiles.known(profile):
            return None
        name = profiles.normalize(profile)
        if self.expect_for is not None:
            label = self.expect_for.get(name)
            return label if label in self.expect else None
        # A model without expect_for: the profile's own block, else the default.
        for label in self.expect:
            names = [n.strip() for n in label.split(",")]
            if name in names or any(profiles.known(n) and profiles.normalize(n) == name
                                    for n in names):
                return label
        return "default" if "default" in self.expect else None

    def expected(self, profile):
        """The expect items (JSON form) for `profile`, or None."""
        label = self.label_for(profile)
        return None if label is None else self.expect[label]

    def expect_block(self, profile):
        """The name of the block that applies: `expect[LABEL]` or `expect`."""
        label = self.label_for(profile)
        return "expect" if label in (None, "default") else "expect[%s]" % label

    def to_json(self):
        return {"case": self.id, "path": self.path, "error": self.error}


class Group(tuple):
    """An `unordered:` group: these lines come next, in any order."""


def as_items(expected):
    """Expect items as str and Group: JSON groups (`{"unordered": [...]}`)
    become Groups; str and Group items stay."""
    items = []
    for item in expected or []:
        if isinstance(item, dict):
            items.append(Group(str(x).strip() for x in item.get("unordered", [])))
        elif isinstance(item, Group):
            items.append(Group(str(x).strip() for x in item))
        else:
            items.append(str(item).strip())
    return items


def match(expected, trace):
    """Compare a trace with expect items (JSON form, or str and Group):
    (ok, first divergence or '')."""
    pos = 0
    for item in as_items(expected):
        if isinstance(item, Group):
            got = [t.strip() for t in trace[pos:pos + len(item)]]
            if sorted(got) != sorted(item):
                return False, "line %d: expected %s in any order, got %s" % (
                    pos + 1, list(item), got)
            pos += len(item)
            continue
        if pos >= len(trace):
            return False, "line %d: expected %r, the trace ended" % (pos + 1, item)
        if trace[pos].strip() != item:
            return False, "line %d: expected %r, got %r" % (pos + 1, item, trace[pos])
        pos += 1
    if pos < len(trace):
        return False, "line %d: unexpected %r after the expected end" % (
            pos + 1, trace[pos])
    return True, ""


def render_expect(items):
    """Expect items back as indented block lines (without the `expect:` line)."""
    out = []
    for item in as_items(items):
        if isinstance(item, Group):
            out.append("    unordered:")
            out.extend("        " + line for line in item)
        else:
            out.append("    " + item)
    return out


def case_id(path):
    """The id of a case file: its path below the last `cases` directory."""
    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
    stem = parts[:]
    stem[-1] = os.path.splitext(stem[-1])[0]
    if "cases" in parts[:-1]:
        last = len(parts) - 1 - parts[::-1].index("cases", 1)
        return "/".join(stem[last + 1:])
    return "/".join(stem[-2:])


def find_cases(paths):
    """Case files named by `paths` (files, or directories searched for *.case)."""
    return [path for path, _, _ in find(paths)]


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


def parse(path, model=impls.MODEL, explicit=False, draft=False):
    """One Case from `loopspec-model ast PATH`.

    With `draft`, a file the model rejects only because it has no expect
    block yet is read as if it ended with an empty `expect:` block: the Case
    has no expect blocks (`expected()` is None for every profile) and
    `draft` set."""
    case = _parse(path, model, explicit)
    if draft and case.rejected and "no expect block" in case.error:
        tmp = tempfile.mkdtemp(prefix="loopspec-draft-")
        try:
            copy = os.path.join(tmp, os.path.basename(path))
            with open(path, encoding="utf-8") as f:
                text = f.read()
            with open(copy, "w", encoding="utf-8") as f:
                f.write(text.rstrip("\n") + "\n\nexpect:\n")
            drafted = _parse(copy, model, explicit)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if not drafted.rejected:
            drafted.path, drafted.id = case.path, case.id
            drafted.expect = {}
            drafted.draft = True
            return drafted
    return case


def _parse(path, model, explicit):
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
        expect_for = data.get("expect_for")
        case.expect_for = dict(expect_for) if isinstance(expect_for, dict) else None
        case.uses = features.used_by_program(data.get("ast"))
    except (ValueError, KeyError, TypeError) as exc:
        case.error = "%s: error: unreadable output of `loopspec-model ast`: %s" % (path, exc)
    return case


def load(paths, model=impls.MODEL, include_bench=False, jobs=8, drafts=False):
    """Cases for `paths`, sorted by id; benchmarks only when named; with
    `drafts`, cases without expect blocks too (see parse).

    Benchmark cases (a `bench:` header, or a file below a `bench` directory
    of a directory given) are left out unless the file, or a directory inside
    the benchmarks, was named, or `include_bench` is set.  Raises
    ModelMissing and FileNotFoundError.
    """
    if not os.path.exists(model):
        raise ModelMissing("%s is missing: run `make model`" % model)
    found = find(paths)
    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        cases = list(pool.map(lambda f: parse(f[0], model, f[1], drafts), found))
    for case, (_, _, in_bench) in zip(cases, found):
        case.in_bench_dir = in_bench
    kept = [c for c in cases
            if include_bench or c.explicit or not (c.in_bench_dir or c.bench)]
    kept.sort(key=lambda c: c.id)
    return kept
