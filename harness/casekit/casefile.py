"""Split a case file into header, program and expect blocks; match traces.

This is the harness's simple reading of the case format: the header lies
between the first two `---` lines, the program runs until the first line
that starts with `expect`, and the rest is expect blocks.  The reference
model does the full validation; this module only needs enough to run the
program on real loops and compare what they print.
"""

import os
import re

EXPECT_RE = re.compile(r"^expect(?:\[([A-Za-z0-9_.-]+)\])?:\s*$")


class CaseFormatError(Exception):
    """A case file this module cannot split; str() is `path:line: message`."""

    def __init__(self, path, line, message):
        super().__init__("%s:%d: error: %s" % (path, line, message))


class Group(tuple):
    """An `unordered:` group: these lines come next, in any order."""


class Case:
    """One case file, split.

    Attributes: `path`, `id` (path below `cases/` without `.case`), `header`
    (dict), `program` (text), `program_line` (1-based line where the program
    starts), `expects` (profile or None -> list of str and Group items).
    """

    def __init__(self, path, case_id, header, program, program_line, expects):
        self.path = path
        self.id = case_id
        self.header = header
        self.program = program
        self.program_line = program_line
        self.expects = expects

    @property
    def title(self):
        """The header's title, or ''."""
        return self.header.get("title", "")

    @property
    def timeout(self):
        """The header's `timeout:` in seconds, or None."""
        value = self.header.get("timeout")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    @property
    def profiles(self):
        """The profiles the case applies to, or None for all."""
        value = self.header.get("profiles")
        return value.split() if value else None

    @property
    def requires(self):
        """Features the implementation must have."""
        value = self.header.get("requires", "")
        return [f.strip() for f in value.split(",") if f.strip()]

    def expected(self, profile):
        """The expect items for `profile`, or None if the case has none."""
        if profile in self.expects:
            return self.expects[profile]
        return self.expects.get(None)


def case_id(path):
    """The id of a case file: its path below the last `cases` directory."""
    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
    stem = parts[:]
    stem[-1] = os.path.splitext(stem[-1])[0]
    if "cases" in parts[:-1]:
        last = len(parts) - 1 - parts[::-1].index("cases", 1)
        return "/".join(stem[last + 1:])
    return "/".join(stem[-2:])


def parse_case(path, text=None):
    """Read and split the case file at `path`; raise CaseFormatError."""
    if text is None:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    lines = text.split("\n")
    marks = [i for i, line in enumerate(lines) if line.strip() == "---"][:2]
    if len(marks) < 2:
        raise CaseFormatError(path, 1, "no header: expected two '---' lines")
    start, end = marks
    header = {}
    for i in range(start + 1, end):
        if not lines[i].strip():
            continue
        key, sep, value = lines[i].partition(":")
        if not sep:
            raise CaseFormatError(path, i + 1, "header line is not 'key: value'")
        header[key.strip()] = value.strip()
    first_expect = next((i for i in range(end + 1, len(lines))
                         if lines[i].startswith("expect")), len(lines))
    program = "\n".join(lines[end + 1:first_expect]).rstrip("\n") + "\n"
    expects = parse_expects(path, lines, first_expect)
    return Case(path, case_id(path), header, program, end + 2, expects)


def parse_expects(path, lines, first):
    """Parse the expect blocks from line index `first` on."""
    expects = {}
    current = None
    group = None  # [indent, lines] of the open unordered group

    def close_group():
        if group is not None:
            current.append(Group(group[1]))

    for i in range(first, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        if not line[0].isspace():
            m = EXPECT_RE.match(line)
            if not m:
                raise CaseFormatError(path, i + 1, "expected 'expect:' or "
                                      "'expect[PROFILE]:', got %r" % line)
            close_group()
            group = None
            profile = m.group(1)
            if profile in expects:
                raise CaseFormatError(path, i + 1, "duplicate %s" % line.strip())
            current = expects[profile] = []
            continue
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        if group is not None and indent > group[0]:
            group[1].append(body)
            continue
        close_group()
        group = None
        if body == "unordered:":
            group = [indent, []]
        else:
            current.append(body)
    if current is not None:
        close_group()
    return expects


def match(items, trace):
    """Compare a trace with expect items; return (ok, reason or '')."""
    pos = 0
    for item in items:
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
    for item in items:
        if isinstance(item, Group):
            out.append("    unordered:")
            out.extend("        " + line for line in item)
        else:
            out.append("    " + item)
    return out


def find_cases(paths):
    """Case files named by `paths` (files, or directories searched for *.case)."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                found.extend(os.path.join(root, f) for f in sorted(files)
                             if f.endswith(".case"))
        else:
            found.append(path)
    return found
