"""Regenerate the explained examples in the docs from the model itself.

Usage: explain_docs.py [--check] [--model PATH] [FILE...]

Each block between a line `<!-- explain: CASE [PROFILE] -->` and the next
line `<!-- /explain -->` in the given Markdown files (default: README.md
and cases/README.md) is replaced by the output of
`loopspec-model run --explain [--profile PROFILE] CASE`, cut before the
shutdown steps of asyncio.run, in a code block, under the command line.
With --check nothing is written: the exit status is 1 if any block is
out of date (the test suite runs this), 0 otherwise; 2 on bad arguments.
"""
import os
import re
import subprocess
import sys
import tempfile

import cli

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BLOCK = re.compile(r"(<!-- explain: (\S+)(?: (\S+))? -->\n)(.*?)(<!-- /explain -->)", re.S)


def explained(model, case, profile):
    cmd = [model, "run", "--explain"] + (["--profile", profile] if profile else []) + [case]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr.strip()}")
    lines = []
    for line in proc.stdout.splitlines():
        if line.startswith("-- asyncio.run: shutdown"):
            lines.append("-- (then asyncio.run's shutdown steps, two more tasks)")
            break
        lines.append(line)
    shown = " ".join(["loopspec-model", "run", "--explain"] +
                     (["--profile", profile] if profile else []) + [case])
    return "```\n$ " + shown + "\n" + "\n".join(lines) + "\n```\n"


def render(text, model):
    def sub(m):
        return m.group(1) + explained(model, m.group(2), m.group(3)) + m.group(5)
    return BLOCK.sub(sub, text)


def main(argv):
    parsed = cli.parse(argv, __doc__, "explain_docs.py", values=("--model",),
                       flags=("--check",))
    if isinstance(parsed, int):
        return parsed
    opts, files = parsed
    check = opts.get("--check", False)
    model = opts.get("--model", os.path.join(ROOT, "model", "loopspec-model"))
    files = files or [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "cases", "README.md")]
    if not os.access(model, os.X_OK):
        print(f"explain_docs.py: no model at {model}: run `make model`", file=sys.stderr)
        return 2
    stale = []
    for path in files:
        with open(path) as f:
            text = f.read()
        try:
            new = render(text, model)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"explain_docs.py: {e}", file=sys.stderr)
            return 2
        if new == text:
            continue
        stale.append(path)
        if not check:
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
            with os.fdopen(fd, "w") as f:
                f.write(new)
            os.replace(tmp, path)
    if check and stale:
        print("out of date (run tools/explain_docs.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
