"""loopspec report: check every case on the reference model, every profile.

Usage: report.py [--model PATH] [--json FILE] [CASES_DIR]

Runs `loopspec-model check --all-profiles` over the cases directory
(default: cases/), prints the failures with their diffs, then a pass table
with one row per area (the first directory below cases/) and one column per
profile, and the closing line `N passed, N failed`. With --json, also writes
the per-run results to FILE (atomically). Exit status 0 iff every run
passed; 2 on bad arguments or a model that cannot be run.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import cli

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_check(model, cases):
    """Runs the model; returns (results, failure text)."""
    proc = subprocess.run([model, "check", "--all-profiles", cases],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{model} check exited {proc.returncode}: {proc.stderr.strip()}")
    results, failures, current = [], [], None
    for line in proc.stdout.splitlines():
        m = re.match(r"^(PASS|FAIL) (\S+) \[(\S+)\]$", line)
        if m:
            status, case, profile = m.groups()
            results.append({"case": case, "profile": profile, "status": status})
            current = failures if status == "FAIL" else None
            if current is not None:
                current.append(line)
            continue
        m = re.match(r"^FAIL (\S+): (.*)$", line)
        if m:   # a case the model rejects as malformed
            results.append({"case": m.group(1), "profile": "-", "status": "MALFORMED",
                            "error": m.group(2)})
            failures.append(line)
            current = None
            continue
        if current is not None and not re.match(r"^\d+ passed, \d+ failed$", line):
            current.append(line)
    return results, "\n".join(failures)


def profiles_of(results):
    """The profiles the model ran, in the order `check --all-profiles` runs
    them (the model's table: loopspec-model profiles)."""
    return list(dict.fromkeys(r["profile"] for r in results if r["profile"] != "-"))


def table(results):
    areas = sorted({r["case"].split("/")[0] for r in results})
    profiles = profiles_of(results)
    rows = [["area"] + profiles]
    for area in areas:
        row = [area]
        for p in profiles:
            rs = [r for r in results if r["case"].split("/")[0] == area and r["profile"] == p]
            ok = sum(r["status"] == "PASS" for r in rs)
            row.append(f"{ok}/{len(rs)}" if rs else "-")
        rows.append(row)
    total = ["total"]
    for p in profiles:
        rs = [r for r in results if r["profile"] == p]
        total.append(f"{sum(r['status'] == 'PASS' for r in rs)}/{len(rs)}")
    rows.append(total)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[j]) if j == 0 else c.rjust(widths[j])
                               for j, c in enumerate(r)))
        if i == 0 or i == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_atomic(path, text):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    parsed = cli.parse(argv, __doc__, "report.py", values=("--model", "--json"))
    if isinstance(parsed, int):
        return parsed
    opts, rest = parsed
    model = opts.get("--model", os.path.join(ROOT, "model", "loopspec-model"))
    json_out = opts.get("--json")
    cases = rest[-1] if rest else os.path.join(ROOT, "cases")
    if not os.access(model, os.X_OK):
        print(f"report.py: no model at {model}: run `make model`", file=sys.stderr)
        return 2
    if not os.path.isdir(cases):
        print(f"report.py: {cases}: not a directory", file=sys.stderr)
        return 2
    try:
        results, failures = run_check(model, cases)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"report.py: {e}", file=sys.stderr)
        return 2
    if failures:
        print(failures)
        print()
    print("Reference model, every case under every profile it applies to:\n")
    print(table(results))
    passed = sum(r["status"] == "PASS" for r in results)
    failed = len(results) - passed
    if json_out:
        write_atomic(json_out, json.dumps({"results": results}, indent=1) + "\n")
    print(f"\n{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
