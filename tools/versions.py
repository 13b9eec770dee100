"""How asyncio's orderings differ between CPython releases: results/VERSIONS.md.

Usage: versions.py [--conformance FILE] [--out FILE] [--plot-data FILE]
                   [--model PATH] [--cases DIR]

Reads one conformance run (`harness/loopspec run --impl all --json FILE`,
default results/conformance.json) and keeps the CPython references: the
implementations `cpython-X.Y[.Z][-eager]`, one per release and task
factory.  For every case it groups the releases by the trace they gave (two
passing runs that read the same expect block count as one trace, so an
`unordered:` group is no difference).  Then, release after release (lazy
tasks, then eager tasks), it lists the cases whose traces differ, with the
diff and the cause: the version switches of the model that the case's runs
depended on and that flip between the two releases
(`loopspec-model run --changes`), each naming the CPython change.

Writes FILE (default results/VERSIONS.md) and, with --plot-data, the
version matrix for plots/versions.gp (index 0 cells `x y class`, class 0
the oldest release's trace, 1 the next distinct one ..., 9 no result;
index 1 `y "case"`; index 2 `x "release"`).  Exit 0, or 2 when the
conformance file cannot be read.
"""

import argparse
import difflib
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODEL = os.path.join(ROOT, "model", "loopspec-model")
REFERENCE = re.compile(r"^cpython-(3\.\d+(?:\.\d+)?)(-eager)?$")
LETTERS = "ABCDEFGHI"
NO_RESULT = 9


def parse_args(argv):
    p = argparse.ArgumentParser(prog="versions.py",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conformance", default=os.path.join(ROOT, "results", "conformance.json"))
    p.add_argument("--out", default=os.path.join(ROOT, "results", "VERSIONS.md"))
    p.add_argument("--plot-data", help="write the version matrix for plots/versions.gp")
    p.add_argument("--model", default=MODEL)
    p.add_argument("--cases", default=os.path.join(ROOT, "cases"))
    return p.parse_args(argv)


def version_key(text):
    return tuple(int(x) for x in text.split("."))


class Column:
    """One reference implementation: a CPython release with a task factory."""

    def __init__(self, impl, profile, release, eager):
        self.impl, self.profile, self.release, self.eager = impl, profile, release, eager

    @property
    def label(self):
        return self.release + (" eager" if self.eager else "")


def releases(model):
    """{profile: the CPython release it follows} from `loopspec-model profiles --json`."""
    try:
        proc = subprocess.run([model, "profiles", "--json"], capture_output=True,
                              text=True, timeout=60)
        return {p["name"]: p["version"] for p in json.loads(proc.stdout)["profiles"]}
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return {}


def columns(conf, known=None):
    """The reference implementations of the run, lazy then eager, oldest first.

    Each adapter refuses to start on another release than its id says, so
    the profile it claims names its release (`known`: profile -> release)."""
    found = {}
    for r in conf.get("results", []):
        m = REFERENCE.match(r["impl"])
        if not m or r["impl"] in found:
            continue
        release = (known or {}).get(r["profile"]) or m.group(1)
        found[r["impl"]] = Column(r["impl"], r["profile"], release, bool(m.group(2)))
    return sorted(found.values(), key=lambda c: (c.eager, version_key(c.release)))


def trace_key(result):
    """What makes two results the same trace: a passed block, or the lines."""
    if result is None or result["status"] in ("UNSUPPORTED", "ERROR", "CRASH", "TIMEOUT"):
        return None
    if result["status"] == "PASS":
        return ("block", json.dumps(result.get("expected")))
    return ("trace", tuple(result.get("trace") or []))


def lines_of(result):
    return [str(x) for x in (result.get("trace") or [])]


def changes_of(model, path, profile):
    """{change name: (has it, since, why)} for one model run (`run --changes`)."""
    try:
        proc = subprocess.run([model, "run", "--changes", "--profile", profile, path],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    out = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"^change: (\S+) (\S+) (has it|not yet): (.*)$", line)
        if m:
            out[m.group(1)] = (m.group(3) == "has it", m.group(2), m.group(4))
    return out


def causes(model, path, older, newer):
    """The version switches this case's runs depended on that flip between
    the two columns: first present in a release after `older`'s and up to
    `newer`'s."""
    if not path or not os.path.exists(model):
        return []
    seen = changes_of(model, path, older.profile)
    seen.update(changes_of(model, path, newer.profile))
    lo, hi = version_key(older.release), version_key(newer.release)
    return [(name, since, why) for name, (_, since, why) in sorted(seen.items())
            if lo < version_key(since) <= hi]


def case_path(cases_dir, case_id):
    path = os.path.join(cases_dir, case_id + ".case")
    return path if os.path.exists(path) else None


def analyse(conf, model=MODEL, cases_dir=None, with_causes=True):
    """(columns, classes, boundaries) of a conformance run.

    classes: {case: [class index or None per column]}; boundaries: a list of
    (older column, newer column, [(case, diff lines, causes)]); the causes
    (two model runs per difference) only `with_causes`.
    """
    cases_dir = cases_dir or os.path.join(ROOT, "cases")
    cols = columns(conf, releases(model))
    by = {(r["case"], r["impl"]): r for r in conf.get("results", [])}
    case_ids = sorted({r["case"] for r in conf.get("results", [])})
    classes = {}
    for case in case_ids:
        keys, row = [], []
        for col in cols:
            key = trace_key(by.get((case, col.impl)))
            if key is None:
                row.append(None)
                continue
            if key not in keys:
                keys.append(key)
            row.append(keys.index(key))
        classes[case] = row
    boundaries = []
    for chain in ([c for c in cols if not c.eager], [c for c in cols if c.eager]):
        for older, newer in zip(chain, chain[1:]):
            i, j = cols.index(older), cols.index(newer)
            differ = []
            for case in case_ids:
                a, b = classes[case][i], classes[case][j]
                if a is None or b is None or a == b:
                    continue
                ra, rb = by[(case, older.impl)], by[(case, newer.impl)]
                diff = list(difflib.unified_diff(lines_of(ra), lines_of(rb), older.label,
                                                 newer.label, lineterm="", n=2))
                path = case_path(cases_dir, case) if with_causes else None
                differ.append((case, diff, causes(model, path, older, newer)))
            boundaries.append((older, newer, differ))
    return cols, classes, boundaries


def varying(cols, classes):
    """The cases whose trace differs between releases of one task factory
    (a lazy release against an eager one is no version difference)."""
    out = []
    for case in sorted(classes):
        for eager in (False, True):
            seen = {x for c, x in zip(cols, classes[case]) if c.eager == eager and x is not None}
            if len(seen) > 1:
                out.append(case)
                break
    return out


def source_of(cases_dir, case_id):
    path = case_path(cases_dir, case_id)
    if not path:
        return ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("source:"):
                return line.split(":", 1)[1].strip()
    return ""


def render(conf, cols, classes, boundaries, cases_dir):
    out = ["# How asyncio's orderings differ between CPython releases", ""]
    out.append("Generated by `tools/versions.py` from one conformance run (%s, `%s`): "
               "every case on every CPython reference, each a real interpreter "
               "of the release named." % (conf.get("started", "?"),
                                          "harness/loopspec run --impl all"))
    out.append("")
    out.append("| reference | CPython | tasks | profile |")
    out.append("|---|---|---|---|")
    for c in cols:
        out.append("| `%s` | %s | %s | `%s` |" % (c.impl, c.release,
                                                   "eager" if c.eager else "lazy", c.profile))
    out.append("")
    out.append("## Release after release")
    out.append("")
    out.append("| from | to | cases whose trace differs | the CPython changes behind them |")
    out.append("|---|---|---|---|")
    for older, newer, differ in boundaries:
        names = sorted({name for _, _, cs in differ for name, _, _ in cs})
        out.append("| %s | %s | %d | %s |" % (older.label, newer.label, len(differ),
                                              ", ".join("`%s`" % n for n in names) or "-"))
    out.append("")
    for older, newer, differ in boundaries:
        if not differ:
            continue
        out.append("### %s to %s" % (older.label, newer.label))
        out.append("")
        for case, diff, cs in differ:
            out.append("`%s`" % case)
            out.append("")
            if cs:
                for name, since, why in cs:
                    out.append("- `%s` (from %s): %s" % (name, since, why))
            else:
                out.append("- no version switch of the model flips here; the case cites: %s"
                           % (source_of(cases_dir, case) or "nothing"))
            out.append("")
            out.append("```diff")
            out.extend(diff[2:] if len(diff) > 2 else diff)
            out.append("```")
            out.append("")
    out.append("## The version matrix")
    out.append("")
    differ = varying(cols, classes)
    out.append("%d of %d cases give the same trace on every release (lazy tasks, and "
               "eager tasks); the %d others, each release's trace by letter (A the first "
               "distinct trace from the left, `-` no result: unsupported or not run):" % (
                   len(classes) - len(differ), len(classes), len(differ)))
    out.append("")
    out.append("| case | " + " | ".join(c.label for c in cols) + " |")
    out.append("|---|" + "---|" * len(cols))
    for case in differ:
        cells = ["-" if x is None else LETTERS[min(x, len(LETTERS) - 1)] for x in classes[case]]
        out.append("| `%s` | %s |" % (case, " | ".join(cells)))
    out.append("")
    return "\n".join(out)


def quote(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def plot_data(cols, classes):
    """versions.dat for plots/versions.gp; returns (text, rows, columns)."""
    differ = varying(cols, classes)
    n = len(differ)
    cells, ylab, xlab = ["# x y class"], ["# y case"], ["# x release"]
    for k, case in enumerate(differ):
        y = n - 1 - k
        for x, cls in enumerate(classes[case]):
            cells.append("%d %d %d" % (x, y, NO_RESULT if cls is None else min(cls, 8)))
        ylab.append("%d %s" % (y, quote(case)))
    for x, c in enumerate(cols):
        xlab.append("%d %s" % (x, quote(c.label)))
    text = "\n".join(cells) + "\n\n\n" + "\n".join(ylab) + "\n\n\n" + "\n".join(xlab) + "\n"
    return text, n, len(cols)


def main(argv):
    args = parse_args(argv)
    try:
        with open(args.conformance, encoding="utf-8") as f:
            conf = json.load(f)
    except (OSError, ValueError) as exc:
        sys.stderr.write("versions.py: cannot read %s: %s\n" % (args.conformance, exc))
        return 2
    cols, classes, boundaries = analyse(conf, args.model, args.cases)
    if not cols:
        sys.stderr.write("versions.py: %s has no CPython reference results\n" % args.conformance)
        return 2
    text = render(conf, cols, classes, boundaries, args.cases)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.out)
    if args.plot_data:
        data, rows, ncols = plot_data(cols, classes)
        with open(args.plot_data, "w", encoding="utf-8") as f:
            f.write(data)
        print("versions: %d cases differ between releases (%s: %d rows, %d columns)"
              % (rows, args.plot_data, rows, ncols))
    print("versions: %s, %d boundaries, %d case differences" % (
        args.out, len(boundaries), sum(len(d) for _, _, d in boundaries)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
