"""coverage: which ordering-relevant asyncio APIs the cases exercise.

Usage: coverage.py [--check] [--write] [--readme FILE] [CASES_DIR]

Reads every *.case below CASES_DIR (default: the repository's cases/; the
benchmarks under bench/ are left out), takes its program (the lines between
the header and the first expect block), blanks its comments and the text of
its string literals (f-string fields are kept), and looks for each API of
the contract that affects ordering with the pattern shown in the table's
"matched by" column. A few rows look at more than the program: the eager
task factory counts the cases with an `expect[eager]:` block or under
eager/, and the `asyncio.run` teardown the cases under teardown/ or with an
`uncaught` line in an expect block. Methods are matched by name: Future
methods also count when called on a task (a Task is a Future); `cancel`
is told apart by the name it is called on (bound by `= Future()` for
Future.cancel, by `create_task`, `ensure_future`, `tg.create_task` or
`current_task()` for Task.cancel).

Prints the coverage table (Markdown, one row per API) on standard output.

Options:
  --check        exit 1 if some API has no case, naming it on stderr
  --write        replace the body of the "## Coverage" section of the
                 README (default: CASES_DIR/README.md) with the table
  --readme FILE  the README that --write rewrites
  -h, --help     this text

Exit status: 0, or 1 when --check finds an API without a case, 2 on bad
usage or a cases directory that cannot be read.
"""
import argparse
import os
import re
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

EXPECT_RE = re.compile(r"^expect(\[([^\]]*)\])?\s*:\s*$")
NOT_ATTR = r"(?<![\w.])"      # a plain call: not a method, not a longer name


def _call(name):
    return re.compile(NOT_ATTR + re.escape(name) + r"\(")


def _method(name):
    return re.compile(r"\." + re.escape(name) + r"\b")


class Case:
    """One case file: its id, header, program text (cleaned) and expect blocks."""

    def __init__(self, cid, text):
        self.id = cid
        self.area = cid.split("/")[0]
        lines = text.splitlines()
        self.header = {}
        i = 1
        if lines and lines[0].strip() == "---":
            while i < len(lines) and lines[i].strip() != "---":
                key, _, value = lines[i].partition(":")
                self.header[key.strip()] = value.strip()
                i += 1
            i += 1
        program, self.blocks, block = [], {}, None
        for line in lines[i:]:
            m = EXPECT_RE.match(line)
            if m:
                block = self.blocks.setdefault(m.group(2) or "", [])
            elif block is None:
                program.append(line)
            elif line.strip():
                block.append(line.strip())
        self.program = strip_literals("\n".join(program))
        self.async_defs = set(re.findall(r"\basync\s+def\s+(\w+)", self.program))
        self.futures = set(re.findall(r"\b(\w+)\s*=\s*Future\(\)", self.program))
        self.tasks = set(re.findall(
            r"\b(\w+)\s*=\s*(?:\w+\.)?(?:create_task|ensure_future)\(|"
            r"\b(\w+)\s*=\s*current_task\(\)", self.program))
        self.tasks = {a or b for a, b in self.tasks}


def strip_literals(src):
    """Blanks comments and the text of string literals; keeps f-string fields.

    O(n) in the program size. The case language has no triple quotes and no
    prefixes other than f, so one pass over the characters is enough.
    """
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c == "#":
            while i < n and src[i] != "\n":
                i += 1
            continue
        if c in "'\"":
            fstring = i > 0 and src[i - 1] in "fF" and (i < 2 or not (src[i - 2].isalnum() or src[i - 2] == "_"))
            quote, i = c, i + 1
            out.append(quote)
            while i < n and src[i] != quote and src[i] != "\n":
                if src[i] == "\\":
                    i += 2
                    continue
                if fstring and src[i] == "{":
                    if src[i + 1:i + 2] == "{":
                        i += 2
                        continue
                    depth, j = 1, i + 1
                    while j < n and depth and src[j] != "\n":
                        depth += {"{": 1, "}": -1}.get(src[j], 0)
                        j += 1
                    out.append(" " + src[i + 1:j - 1] + " ")
                    i = j
                    continue
                i += 1
            out.append(quote)
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _awaits_coroutine(case):
    return any(name in case.async_defs for name in re.findall(r"\bawait\s+(\w+)\(", case.program))


def _cancel_on(names_of):
    def match(case):
        names = names_of(case)
        return any(n in names for n in re.findall(r"\b(\w+)\.cancel\b", case.program))
    return match


def _task_cancel(case):
    return _cancel_on(lambda c: c.tasks)(case) or "current_task().cancel" in case.program


def _regex(rx):
    return lambda case: rx.search(case.program) is not None


# (API, how it is matched, predicate). The order is the table's.
APIS = [
    ("`await` of a coroutine", "`await f(...)` with `f` an `async def` of the case", _awaits_coroutine),
    ("bare `yield`", "`suspend()`", _regex(_call("suspend"))),
    ("`asyncio.create_task`", "`create_task(`", _regex(_call("create_task"))),
    ("`asyncio.ensure_future`", "`ensure_future(`", _regex(_call("ensure_future"))),
    ("`asyncio.sleep`", "`sleep(`", _regex(_call("sleep"))),
    ("`asyncio.gather`", "`gather(`", _regex(_call("gather"))),
    ("`asyncio.wait`", "`wait(`", _regex(_call("wait"))),
    ("`asyncio.wait_for`", "`wait_for(`", _regex(_call("wait_for"))),
    ("`asyncio.shield`", "`shield(`", _regex(_call("shield"))),
    ("`asyncio.timeout`", "`timeout(`", _regex(_call("timeout"))),
    ("`asyncio.TaskGroup`", "`TaskGroup(`", _regex(_call("TaskGroup"))),
    ("`asyncio.Lock`", "`Lock(`", _regex(_call("Lock"))),
    ("`asyncio.Event`", "`Event(`", _regex(_call("Event"))),
    ("`asyncio.Condition`", "`Condition(`", _regex(_call("Condition"))),
    ("`asyncio.Semaphore`", "`Semaphore(`", _regex(_call("Semaphore"))),
    ("`asyncio.BoundedSemaphore`", "`BoundedSemaphore(`", _regex(_call("BoundedSemaphore"))),
    ("`asyncio.Queue`", "`Queue(`", _regex(_call("Queue"))),
    ("`asyncio.Future` (`loop.create_future`)", "`Future(`", _regex(_call("Future"))),
    ("`Future.result`", "`.result`", _regex(_method("result"))),
    ("`Future.exception`", "`.exception`", _regex(_method("exception"))),
    ("`Future.done`", "`.done`", _regex(_method("done"))),
    ("`Future.cancelled`", "`.cancelled`", _regex(_method("cancelled"))),
    ("`Future.cancel`", "`NAME.cancel` with `NAME = Future()`", _cancel_on(lambda c: c.futures)),
    ("`Future.add_done_callback`", "`.add_done_callback`", _regex(_method("add_done_callback"))),
    ("`Future.remove_done_callback`", "`.remove_done_callback`", _regex(_method("remove_done_callback"))),
    ("`Future.set_result`", "`.set_result`", _regex(_method("set_result"))),
    ("`Future.set_exception`", "`.set_exception`", _regex(_method("set_exception"))),
    ("`Task.cancel`", "`NAME.cancel` with `NAME` a task, or `current_task().cancel`", _task_cancel),
    ("`Task.cancelling`", "`.cancelling`", _regex(_method("cancelling"))),
    ("`Task.uncancel`", "`.uncancel`", _regex(_method("uncancel"))),
    ("`loop.call_soon`", "`call_soon(`", _regex(_call("call_soon"))),
    ("`loop.call_later`", "`call_later(`", _regex(_call("call_later"))),
    ("`contextvars.ContextVar`", "`ContextVar(`", _regex(_call("ContextVar"))),
    ("`loop.call_at`", "`call_at(`", _regex(_call("call_at"))),
    ("`loop.time`", "`time(`", _regex(_call("time"))),
    ("`asyncio.timeout_at`", "`timeout_at(`", _regex(_call("timeout_at"))),
    ("`asyncio.as_completed`", "`as_completed(`", _regex(_call("as_completed"))),
    ("`asyncio.Barrier`", "`Barrier(`", _regex(_call("Barrier"))),
    ("`asyncio.LifoQueue`", "`LifoQueue(`", _regex(_call("LifoQueue"))),
    ("`asyncio.PriorityQueue`", "`PriorityQueue(`", _regex(_call("PriorityQueue"))),
    ("`Queue.shutdown`", "`.shutdown`", _regex(_method("shutdown"))),
    ("`contextvars.copy_context`, `Context.run`", "`copy_context(`", _regex(_call("copy_context"))),
    ("`context=` of `create_task` and the loop's `call_*`", "`context=`", _regex(re.compile(r"\bcontext="))),
    ("`create_task(eager_start=)`", "`eager_start=`", _regex(re.compile(r"\beager_start="))),
    ("`asyncio.all_tasks`", "`all_tasks(`", _regex(_call("all_tasks"))),
    ("`Task.set_name`", "`.set_name`", _regex(_method("set_name"))),
    ("`asyncio.eager_task_factory`", "an `expect[eager]:` block, or under `eager/`",
     lambda c: any(name.strip().startswith("eager") for label in c.blocks
                   for name in str(label).split(",")) or c.area == "eager"),
    ("`asyncio.run` teardown", "under `teardown/`, or an `uncaught` line expected",
     lambda c: c.area == "teardown" or any(line.startswith("uncaught ") for b in c.blocks.values() for line in b)),
    ("`class` statements", "`class NAME`", _regex(re.compile(r"^class\s+\w+", re.M))),
    ("`__await__` (custom awaitables)", "`def __await__`", _regex(re.compile(r"\bdef\s+__await__\b"))),
    ("`__aenter__`/`__aexit__` (async with)", "`def __aenter__`", _regex(re.compile(r"\bdef\s+__aenter__\b"))),
    ("`__aiter__`/`__anext__` (async for)", "`def __anext__`", _regex(re.compile(r"\bdef\s+__anext__\b"))),
    ("async generators", "`yield` in the program, under `asyncgen/`",
     lambda c: c.area == "asyncgen" and re.search(r"\byield\b", c.program) is not None),
    ("`async for` and async comprehensions", "`async for`", _regex(re.compile(r"\basync\s+for\b"))),
    ("`anext`", "`anext(`", _regex(_call("anext"))),
    ("`agen.asend`", "`.asend`", _regex(_method("asend"))),
    ("`agen.athrow`", "`.athrow`", _regex(_method("athrow"))),
    ("`agen.aclose`", "`.aclose`", _regex(_method("aclose"))),
    ("`loop.shutdown_asyncgens` in `asyncio.run`", "under `asyncgen/`, a generator kept in `keep`",
     lambda c: c.area == "asyncgen" and "keep.append" in c.program),
    # the I/O phase (the feature `io`)
    ("`socket.socketpair`", "`socketpair(`", _regex(_call("socketpair"))),
    ("`loop.add_reader`, `loop.remove_reader`", "`add_reader(`", _regex(_call("add_reader"))),
    ("`loop.add_writer`, `loop.remove_writer`", "`add_writer(`", _regex(_call("add_writer"))),
    ("`loop.sock_recv`", "`sock_recv(`", _regex(_call("sock_recv"))),
    ("`loop.sock_sendall`", "`sock_sendall(`", _regex(_call("sock_sendall"))),
    ("`asyncio.open_connection(sock=)`", "`open_stream(`", _regex(_call("open_stream"))),
    ("`StreamReader.readline`", "`.readline`", _regex(_method("readline"))),
    ("`StreamReader.read`", "`.read(`", _regex(_method("read"))),
    ("`StreamReader.readexactly`", "`.readexactly`", _regex(_method("readexactly"))),
    ("`StreamWriter.drain`", "`.drain`", _regex(_method("drain"))),
    ("`StreamWriter.wait_closed`", "`.wait_closed`", _regex(_method("wait_closed"))),
]


def load_cases(cases_dir):
    cases = []
    for dirpath, dirnames, filenames in os.walk(cases_dir):
        dirnames.sort()
        rel = os.path.relpath(dirpath, cases_dir)
        if rel.split(os.sep)[0] == "bench":
            continue
        for name in sorted(filenames):
            if name.endswith(".case"):
                path = os.path.join(dirpath, name)
                cid = os.path.relpath(path, cases_dir)[:-len(".case")].replace(os.sep, "/")
                with open(path, encoding="utf-8") as f:
                    cases.append(Case(cid, f.read()))
    return sorted(cases, key=lambda c: c.id)


def coverage(cases):
    """[(api, matched by, [case ids])] in table order."""
    return [(api, how, [c.id for c in cases if pred(c)]) for api, how, pred in APIS]


def render(rows, ncases):
    intro = (f"Generated by `tools/coverage.py --write` from the {ncases} cases outside "
             "`bench/`; run it again after adding cases. The \"matched by\" column is "
             "what the script looks for in each program (comments and string literals "
             "left out); `tools/coverage.py --help` says how methods are told apart. "
             "`tools/coverage.py --check` fails when an API has no case.")
    out = textwrap.wrap(intro, 76) + ["",
           "| API | matched by | cases | case ids |",
           "|---|---|---|---|"]
    for api, how, ids in rows:
        out.append(f"| {api} | {how} | {len(ids)} | " + ", ".join(f"`{i}`" for i in ids) + " |")
    return "\n".join(out) + "\n"


def write_section(readme, body):
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## Coverage[ \t]*\n", text, re.M)
    if not m:
        raise ValueError(f"{readme}: no '## Coverage' section")
    nxt = re.search(r"^## ", text[m.end():], re.M)
    end = m.end() + nxt.start() if nxt else len(text)
    new = text[:m.end()] + "\n" + body + ("\n" if nxt else "") + text[end:]
    tmp = readme + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, readme)


def main(argv):
    parser = argparse.ArgumentParser(prog="coverage.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     add_help=False, usage=argparse.SUPPRESS)
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--readme")
    parser.add_argument("cases_dir", nargs="?", default=os.path.join(ROOT, "cases"))
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if args.help:
        sys.stdout.write(__doc__)
        return 0
    if not os.path.isdir(args.cases_dir):
        print(f"coverage.py: {args.cases_dir}: not a directory", file=sys.stderr)
        return 2
    try:
        cases = load_cases(args.cases_dir)
    except OSError as e:
        print(f"coverage.py: {e}", file=sys.stderr)
        return 2
    rows = coverage(cases)
    body = render(rows, len(cases))
    sys.stdout.write(body)
    if args.write:
        readme = args.readme or os.path.join(args.cases_dir, "README.md")
        try:
            write_section(readme, body)
        except (OSError, ValueError) as e:
            print(f"coverage.py: {e}", file=sys.stderr)
            return 2
    missing = [api for api, _, ids in rows if not ids]
    if args.check and missing:
        for api in missing:
            print(f"coverage.py: no case covers {api}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
