"""`loopspec fuzz`: differential fuzzing of real event loops against the model.

Three parts:

* a generator of random *valid* case programs (`generate(seed, ...)`),
  reproducible from a seed: tasks, direct and nested awaits, `sleep(0)`,
  `suspend()`, timers, futures and done callbacks, `call_soon`/`call_later`/
  `call_at(time() + d, ...)`, a context variable with `copy_context().run`
  and `call_soon(..., context=)`, cancellation with and without messages,
  `gather` (with `return_exceptions`), `Lock`, `Event`, `Queue` (or a
  `LifoQueue` or `PriorityQueue`, and `shutdown()` in the finale), exceptions,
  an async generator, case classes (an awaitable whose `__await__` does bare
  `yield`s, an async context manager, an async iterator), `Barrier`
  episodes and `as_completed` over tasks created for it; where the
  implementation has sockets (the feature `io`), I/O episodes on a
  `socketpair()`: a reader callback, a writer callback, `sock_recv` in a
  task, `sock_sendall`, and a stream pair with `readline`/`read`/
  `readexactly`, each run to its end inside main while the other tasks go
  on, so that the poll's place among the ready callbacks is what differs.
  Programs are built as a small tree (`Program`, `Func`, `Stmt`) so that the
  shrinker can remove and simplify statements and functions;
* the two sides of a comparison: the model, run as
  `loopspec-model run --explain=json --profile P FILE` (the log events are
  the trace; the other events tell whether the program is fit for a
  comparison, see `ModelResult.unfit`), and the implementation, through its
  adapter (one `AdapterProcess` for the whole fuzz run);
* a shrinker (`Shrinker`): delta debugging over the statements of every
  block and over functions, plus unwrapping of compound statements and
  simplification of expressions (a timer becomes `sleep(0)`, a cancel loses
  its message, ...), keeping the program fit and the divergence present.

What makes a program fit for a comparison (checked on the model, under the
implementation's profile, for every program and every shrinking step):
it runs to the end (no hang, no step budget exhausted), at most one task is
still pending when main returns (asyncio.run cancels leftovers in set order),
every timer has its own deadline (all delays are multiples of 50 ms, so
distinct deadlines are at least 50 ms apart and real-clock loops order them
as the virtual clock does), and the virtual clock ends by MAX_VIRTUAL_TIME.
The generator is built so that most programs are fit by construction: only
main creates tasks; blocking waits (`ev.wait()`, `q.get()`, `await fut`, an
earlier task) happen in workers only, and main releases every resource in
its finale before it awaits the workers; lock sections hold no blocking
wait; main awaits every task but at most one.
"""

import concurrent.futures
import copy
import hashlib
import json
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from .modelserver import ModelServer
from . import impls as registry
from .adapter import STARTUP_TIMEOUT, AdapterFailure, AdapterProcess

MAX_VIRTUAL_TIME = 0.35     # seconds of (virtual) sleeping per program
TIMER_DELAYS = (0.05, 0.1, 0.15, 0.2, 0.25)
MODEL_TIMEOUT = 30          # seconds for one model run (it has its own step budget)
MAX_STEPS = 1000000         # the model's --max-steps per program (a few thousand suffice)
DEFAULT_TIMEOUT = 10.0      # seconds for one run on the implementation
DEFAULT_SHRINK_TESTS = 400  # runs of both sides per shrink at most
MAX_ATTEMPTS = 40           # generation attempts per program before giving up

# What the generator leaves out on some implementations, because a known
# difference would show in nearly every program and hide everything else:
# MicroPython's Task.cancel() takes no message (results/expectations), and
# its exception reprs differ (`Error('x',)`; also `CancelledError()` where
# CPython's gather gives `CancelledError('')`), so programs log str(e) and
# do not log lists that may hold exceptions there.
LIMITS = {"micropython": {"cancel_message": False, "reprs": False},
          # Python 3.9's Task drops a cancel() message once the coroutine
          # re-raises the CancelledError (results/expectations/pypy-3.9.txt).
          "pypy-3.9": {"cancel_message": False}}

OBJECTS = {"lock": ("Lock()", "Lock"), "ev": ("Event()", "Event"),
           "q": ("Queue()", "Queue"), "fut": ("Future()", "Future"),
           "sem": ("Semaphore(2)", "Semaphore"), "cond": ("Condition()", "Condition"),
           "mt": ("current_task()", "current_task")}


# -- the program tree ------------------------------------------------------------

class Stmt:
    """A statement: `clauses` is [(header line, body or None)]; a simple
    statement has one clause without a body.  `uses` and `defines` name the
    program's own names it reads and binds (functions, shared objects, task
    variables, loop and exception variables); `simpler` lists replacement
    statements the shrinker may try.  A `tasks` statement awaits a gather of
    the task variables in `names` (rendered from `template`, `{}` standing
    for the names), so that a removed task drops out of the list alone."""

    __slots__ = ("clauses", "uses", "defines", "simpler", "names", "template")

    def __init__(self, clauses, uses=(), defines=(), simpler=(), names=None,
                 template=None):
        if isinstance(clauses, str):
            clauses = [(clauses, None)]
        self.clauses = clauses
        self.uses = frozenset(uses)
        self.defines = frozenset(defines)
        self.simpler = list(simpler)
        self.names = names
        self.template = template

    @property
    def compound(self):
        return any(body is not None for _, body in self.clauses)

    def lines(self, indent, out):
        if self.names is not None:
            out.append(indent + self.template.replace("{}", ", ".join(self.names)))
            return
        for head, body in self.clauses:
            out.append(indent + head)
            if body is not None:
                render_block(body, indent + "    ", out)


def S(text, uses=(), defines=(), simpler=()):
    return Stmt(text, uses, defines, simpler)


def render_block(stmts, indent, out):
    if not stmts:
        out.append(indent + "pass")
        return
    for s in stmts:
        s.lines(indent, out)


class Func:
    """A top-level function."""

    __slots__ = ("name", "params", "body", "is_async", "role")

    def __init__(self, name, params, body, is_async=True, role="helper"):
        self.name = name
        self.params = list(params)
        self.body = body
        self.is_async = is_async
        self.role = role


class Program:
    """Functions (main last); the shared objects and the context variable are
    declared from what the statements use."""

    def __init__(self, funcs, ctors=None):
        self.funcs = funcs
        self.ctors = dict(ctors or {})   # object -> constructor other than OBJECTS's

    def func(self, name):
        for f in self.funcs:
            if f.name == name:
                return f
        return None

    def render(self):
        """The program text (the part of a case file between header and expect)."""
        self.normalize()
        used = set()
        for f in self.funcs:
            walk_uses(f.body, used)
        out = []
        if "cv" in used:
            out.append('cv = ContextVar("cv", default="c0")')
        objs = [o for o in OBJECTS if o in used]
        for o in objs:
            out.append("%s = None" % o)
        if out:
            out.append("")
        for f in self.funcs:
            if f.role == "class":
                out.append("class %s:" % f.name)
                render_block(f.body, "    ", out)
                out.append("")
                continue
            out.append("%sdef %s(%s):" % ("async " if f.is_async else "", f.name,
                                          ", ".join(f.params)))
            body_lines = []
            if f.name == "main" and objs:
                body_lines.append("    global " + ", ".join(objs))
                for o in objs:
                    body_lines.append("    %s = %s" % (o, self.ctors.get(o, OBJECTS[o][0])))
            render_block(f.body, "    ", body_lines)
            if f.name == "main" and objs and not f.body:
                body_lines.pop()  # the `pass` after the setup lines
            out.extend(body_lines)
            out.append("")
        return "\n".join(out)

    def normalize(self):
        """Drop what can no longer run: statements whose names are gone (to a
        fixpoint), functions main no longer reaches."""
        while True:
            names = {f.name for f in self.funcs}
            changed = False
            for f in self.funcs:
                defined = set(f.params) | set(OBJECTS) | {"cv"} | names
                walk_defines(f.body, defined)
                new, ch = prune(f.body, defined)
                if ch:
                    f.body = new
                    changed = True
            reach = {"main"}
            todo = ["main"]
            while todo:
                g = self.func(todo.pop())
                if g is None:
                    continue
                used = set()
                walk_uses(g.body, used)
                for n in used:
                    if n in names and n not in reach:
                        reach.add(n)
                        todo.append(n)
            kept = [f for f in self.funcs if f.name in reach]
            if len(kept) != len(self.funcs):
                self.funcs = kept
                changed = True
            if not changed:
                return self

    def size(self):
        """Statements in all (a measure for the shrinker's report)."""
        return sum(count_stmts(f.body) for f in self.funcs) + len(self.funcs)


def walk_uses(stmts, out):
    for s in stmts:
        out.update(s.uses)
        if s.names is not None:
            out.update(s.names)
        for _, body in s.clauses:
            if body is not None:
                walk_uses(body, out)


def walk_defines(stmts, out):
    for s in stmts:
        out.update(s.defines)
        for _, body in s.clauses:
            if body is not None:
                walk_defines(body, out)


def prune(stmts, defined):
    """(statements without those using undefined names, changed?)"""
    out, changed = [], False
    for s in stmts:
        if not s.uses <= defined:
            changed = True
            continue
        if s.names is not None:
            names = [n for n in s.names if n in defined]
            if names != s.names:
                changed = True
                if not names:
                    continue
                s = Stmt(s.clauses, s.uses, s.defines, s.simpler, names, s.template)
            out.append(s)
            continue
        if s.compound:
            clauses = []
            for head, body in s.clauses:
                if body is not None:
                    body, ch = prune(body, defined)
                    changed = changed or ch
                clauses.append((head, body))
            s = Stmt(clauses, s.uses, s.defines, s.simpler)
        out.append(s)
    return out, changed


def count_stmts(stmts):
    n = 0
    for s in stmts:
        n += 1
        for _, body in s.clauses:
            if body is not None:
                n += count_stmts(body)
    return n


# -- the generator -------------------------------------------------------------

class Features:
    """What the generator may use on one implementation."""

    def __init__(self, available=None, cancel_message=True, reprs=True):
        self.available = set(available) if available is not None else {"*"}
        self.cancel_message = cancel_message
        self.reprs = reprs

    def has(self, feature):
        return "*" in self.available or feature in self.available

    @classmethod
    def for_impl(cls, impl):
        return cls(impl.features, **LIMITS.get(impl.name, {}))


class _Ctx:
    def __init__(self, fn, role, callees, depth=0, loops=1, in_lock=False, in_try=False):
        self.fn = fn
        self.role = role          # main, helper, worker, callback
        self.callees = callees    # helpers it may await
        self.depth = depth
        self.loops = loops        # multiplicity of the enclosing loops
        self.in_lock = in_lock
        self.in_try = in_try

    def deeper(self, **kw):
        c = copy.copy(self)
        c.depth += 1
        for k, v in kw.items():
            setattr(c, k, v)
        return c


class Generator:
    """Random valid programs; `program()` builds one."""

    def __init__(self, rng, features=None, side=None, io=None):
        self.r = rng
        self.side = side or random.Random(0)
        # I/O episodes draw from a third stream: a program without one is
        # what the seed gave before they existed.
        self.f = features or Features()
        self.io = io or random.Random(0)
        self.use_io = self.f.has("io") and self.io.random() < 0.5
        self.io_pairs = 0
        self.io_funcs = set()
        self.labels = {}
        self.may_raise = {}     # helper -> may raise Error out of it
        self.gets = {}          # worker -> q.get() calls per run (with loop multiplicity)
        self.timers = 0         # timer statements so far
        self.delays = []        # delays left to hand out
        self.max_timers = self.r.choice((0, 1, 2, 2, 3, 4))
        self.big = self.r.random() < 0.25   # a larger program: more of everything
        self.use_cv = self.f.has("contextvars") and self.r.random() < 0.5
        self.objs = set()
        for o, (_, feature) in OBJECTS.items():
            if o != "mt" and self.f.has(feature) and self.r.random() < 0.45:
                self.objs.add(o)
        if "cond" in self.objs:
            if self.f.has("Event"):
                self.objs.add("ev")     # waiters wait for ev.is_set()
            else:
                self.objs.discard("cond")
        if self.f.has("current_task") and self.chance(0.15):
            self.objs.add("mt")     # main's task: workers and callbacks may cancel it
        self.callbacks = []     # (name, role) role: cb (tag) or dcb (future)
        self.tasks = []         # main's task variables: (var, kind)
        # A LIFO queue hands the items out the other way round; a priority
        # queue is left out (main puts ints and workers strings).
        self.ctors = {}
        if "q" in self.objs and self.f.has("LifoQueue") and self.chance(0.3):
            self.ctors["q"] = "LifoQueue()"
        # An async generator `ag`, always run to its end by `async for` (one
        # left suspended would be closed by asyncio.run's shutdown step,
        # or earlier by CPython's garbage collector: no fixed order).
        self.use_agen = self.f.has("async_generators") and self.side.random() < 0.3
        # Case classes: `Tick` (awaitable, its __await__ yields n times),
        # `Cm` (async context manager), `Cnt` (async iterator).
        side = self.side
        self.classes = set()
        if self.f.has("classes") and side.random() < 0.4:
            if self.f.has("custom_awaitables") and side.random() < 0.6:
                self.classes.add("Tick")
            if side.random() < 0.5:
                self.classes.add("Cm")
            if side.random() < 0.5:
                self.classes.add("Cnt")
        # Barrier episodes: a statement makes a Barrier and tasks of `bw`
        # that wait on it (all parties, or the statement's task too, or one
        # party short and then abort()/reset()), all awaited in the statement.
        self.use_barrier = self.f.has("Barrier") and self.f.has("gather") \
            and side.random() < 0.25
        self.bw_rounds = side.choice((1, 1, 2)) if self.use_barrier else 1
        # as_completed over tasks of `ac` created in the call (each suspends
        # at once, so none is done yet even eagerly: the set CPython makes of
        # them cannot order the reports) and at most one task made earlier.
        self.use_ascomp = self.f.has("as_completed") and side.random() < 0.25
        # A priority queue: every item a string then (the finale puts str(i)).
        if "q" in self.objs and "q" not in self.ctors and self.f.has("PriorityQueue") \
                and side.random() < 0.3:
            self.ctors["q"] = "PriorityQueue()"
        # q.shutdown() in the finale, after its puts: a worker's q.get() or
        # q.put_nowait() may raise QueueShutDown then (caught in the worker).
        self.q_shutdown = "q" in self.objs and self.f.has("Queue.shutdown") \
            and side.random() < 0.35
        self.barriers = 0

    # -- small helpers
    def label(self, ctx):
        n = self.labels.get(ctx.fn, 0) + 1
        self.labels[ctx.fn] = n
        return "%s %d" % (ctx.fn, n)

    def chance(self, p):
        return self.r.random() < p

    def pick(self, weighted):
        """One key of [(weight, key)] with weight > 0."""
        items = [(w, k) for w, k in weighted if w > 0]
        total = sum(w for w, _ in items)
        x = self.r.random() * total
        for w, k in items:
            x -= w
            if x <= 0:
                return k
        return items[-1][1]

    def exc(self):
        """How a handler logs its exception `e`."""
        return "repr(e)" if self.f.reprs else "str(e)"

    def delay(self, zero=0.0):
        """A delay not used yet in this program, if possible; "0" with
        probability `zero` (no timer then)."""
        if zero and self.chance(zero):
            return "0"
        if not self.delays:
            self.delays = list(TIMER_DELAYS)
            self.r.shuffle(self.delays)
        return "%g" % self.delays.pop()

    def can_timer(self, ctx):
        return self.timers + ctx.loops <= self.max_timers

    def log(self, ctx, *values, uses=()):
        text = 'log("%s"%s)' % (self.label(ctx), "".join(", " + v for v in values))
        return S(text, uses)

    # -- the program
    def program(self):
        r = self.r
        self.n_helpers = r.choice((0, 1, 1, 2, 2, 3)) + (1 if self.big else 0)
        self.n_workers = r.choice((0, 1, 1, 2, 2, 3)) + (1 if self.big else 0)
        funcs = []
        if self.f.has("call_soon") or self.f.has("call_later"):
            for k in range(r.choice((0, 1, 1, 2))):
                self.callbacks.append(("cb%d" % k, "cb"))
        if self.f.has(".add_done_callback") and self.f.has(".cancelled"):
            for k in range(r.choice((0, 0, 1, 1, 2))):
                self.callbacks.append(("dcb%d" % k, "dcb"))
        helpers = ["h%d" % k for k in range(self.n_helpers)]
        hfuncs = []
        for k in reversed(range(self.n_helpers)):
            hfuncs.insert(0, self.helper(helpers[k], helpers[k + 1:]))
        # A callback may start a task of a helper that schedules no callback
        # (else the two could keep each other going forever).
        calm = []
        cbs = {n for n, _ in self.callbacks}
        for f in reversed(hfuncs):
            used = set()
            walk_uses(f.body, used)
            if not used & cbs and not any(c not in calm for c in used if c in helpers):
                calm.append(f.name)
        for name, role in self.callbacks:
            funcs.append(self.callback(name, role, calm))
        funcs.extend(hfuncs)
        self.worker_dep = {}
        for k in range(self.n_workers):
            funcs.append(self.worker("w%d" % k, helpers))
        funcs.append(self.main(helpers, ["w%d" % k for k in range(self.n_workers)]))
        if self.use_agen:
            funcs.insert(0, self.agen())
        if self.use_barrier:
            funcs.insert(0, self.bw_func())
        if self.use_ascomp:
            funcs.insert(0, self.ac_func())
        for name in ("Cnt", "Cm", "Tick"):
            if name in self.classes:
                funcs.insert(0, getattr(self, "class_" + name.lower())())
        for name in sorted(self.io_funcs):
            funcs.insert(0, getattr(self, "io_" + name)())
        return Program(funcs, self.ctors).normalize()

    # -- I/O episodes (the io stream)
    def io_rd(self):
        """`def rd(tag, s)`: a reader callback; it removes itself at the end
        of the stream (else it would run in every iteration)."""
        ctx = _Ctx("rd", "callback", [])
        n = self.io.choice((1, 2, 100))
        return Func("rd", ["tag", "s"], [
            Stmt([("try:", [S("d = s.recv(%d)" % n, defines={"d"})]),
                  ("except BlockingIOError:", [S('d = "-"', defines={"d"})])]),
            self.log(ctx, "tag", "repr(d)", uses={"tag", "d"}),
            Stmt([('if d == "":', [S("remove_reader(s)", {"s"})])])],
            is_async=False, role="callback")

    def io_wr(self):
        """`def wr(tag, s)`: a writer callback that sends once and removes
        itself."""
        ctx = _Ctx("wr", "callback", [])
        return Func("wr", ["tag", "s"], [
            self.log(ctx, "tag", 's.send("w")', uses={"tag", "s"}),
            S("remove_writer(s)", {"s"})], is_async=False, role="callback")

    def io_steps(self):
        """What main does between two I/O steps: nothing, or yields."""
        return [S(self.io.choice(("await sleep(0)", "await suspend()")))
                for _ in range(self.io.choice((0, 0, 1, 1, 2, 3)))]

    def s_io(self, ctx):
        io = self.io
        label = self.label(ctx)
        k = self.io_pairs
        self.io_pairs += 1
        a, b = "sa%d" % k, "sb%d" % k
        body = [S("%s, %s = socketpair()" % (a, b), defines={a, b})]
        kind = io.choice(("reader", "reader", "recv", "recv", "sendall", "writer", "stream",
                          "stream"))
        texts = ["x", "yz", "line\\n", "1\\n2"]
        if kind == "reader":
            self.io_funcs.add("rd")
            sends = [S('%s.send("%s")' % (a, io.choice(texts)), {a})
                     for _ in range(io.choice((1, 1, 2, 3)))]
            at = io.randint(0, len(sends))   # sends before add_reader
            body += sends[:at]
            body.append(S('add_reader(%s, rd, "%s", %s)' % (b, label.replace(" ", ""), b),
                          {b, "rd"}))
            for s in sends[at:]:
                body += self.io_steps()
                body.append(s)
            body += self.io_steps()
            if io.random() < 0.6:
                body.append(S("%s.close()" % a, {a}))
                body += self.io_steps()
            body.append(self.log(ctx, "remove_reader(%s)" % b, uses={b}))
        elif kind == "writer":
            self.io_funcs.add("wr")
            body.append(S('add_writer(%s, wr, "%s", %s)' % (a, label.replace(" ", ""), a),
                          {a, "wr"}))
            body += self.io_steps()
            body.append(Stmt([("try:", [self.log(ctx, "repr(%s.recv(10))" % b, uses={b})]),
                              ("except BlockingIOError:", [self.log(ctx, '"nothing"')])]))
            body.append(self.log(ctx, "remove_writer(%s)" % a, uses={a}))
        elif kind == "recv":
            t = "st%d" % k
            body.append(S("%s = create_task(sock_recv(%s, %d))" % (t, b, io.choice((1, 3, 100))),
                          {b}, {t}))
            body += self.io_steps()
            body.append(S('%s.send("%s")' % (a, io.choice(texts)), {a}))
            body += self.io_steps()
            body.append(self.log(ctx, "repr(await %s)" % t, uses={t}))
        elif kind == "sendall":
            body.append(S('await sock_sendall(%s, "%s")' % (a, io.choice(texts)), {a}))
            body += self.io_steps()
            body.append(self.log(ctx, "repr(await sock_recv(%s, 100))" % b, uses={b}))
        else:
            ra, wa, rb, wb = "ra%d" % k, "wa%d" % k, "rb%d" % k, "wb%d" % k
            body.append(S("%s, %s = await open_stream(%s)" % (ra, wa, a), {a}, {ra, wa}))
            body.append(S("%s, %s = await open_stream(%s)" % (rb, wb, b), {b}, {rb, wb}))
            t = "st%d" % k
            pieces = [io.choice(("ab", "c\\n", "de\\nf")) for _ in range(io.choice((1, 2, 3)))]
            total = sum(len(p.replace("\\n", "n")) for p in pieces)
            how = io.choice(("readline()", "read(100)", "readexactly(%d)" % io.randint(1, total)))
            if how == "readline()" and not any("\\n" in p for p in pieces):
                pieces.append("c\\n")   # else readline() waits for the end of the stream
            body.append(S("%s = create_task(%s.%s)" % (t, rb, how), {rb}, {t}))
            for p in pieces:
                body += self.io_steps()
                body.append(S('%s.write("%s")' % (wa, p), {wa}))
                if io.random() < 0.4:
                    body.append(S("await %s.drain()" % wa, {wa}))
            body.append(self.log(ctx, "repr(await %s)" % t, uses={t}))
            body.append(S("%s.close()" % wa, {wa}))
            if io.random() < 0.5:
                body.append(S("await %s.wait_closed()" % wa, {wa}))
            body.append(self.log(ctx, "repr(await %s.read())" % rb, "%s.at_eof()" % rb,
                                 uses={rb}))
            body.append(S("%s.close()" % wb, {wb}))
            body.append(S("await %s.wait_closed()" % wb, {wb}))
            return Stmt([("if True:", body)])
        body.append(S("%s.close()" % a, {a}))
        body.append(S("%s.close()" % b, {b}))
        return Stmt([("if True:", body)])

    # -- case classes and the functions of later constructs (side stream)
    def side_step(self):
        """A suspension or nothing, drawn from the side stream."""
        return self.side.choice((S("await sleep(0)"), S("await suspend()"), None))

    def class_tick(self):
        ctx = _Ctx("Tick", "helper", [])
        body = [self.log(ctx, "self.tag")]
        body.append(Stmt([("for i in range(self.n):", [S("yield")])]))
        if self.side.random() < 0.5:
            body.append(self.log(ctx, "self.tag"))
        body.append(S("return self.tag"))
        return Func("Tick", [], [
            Stmt([("def __init__(self, tag, n):", [S("self.tag = tag"), S("self.n = n")])]),
            Stmt([("def __await__(self):", body)])], role="class")

    def class_cm(self):
        ctx = _Ctx("Cm", "helper", [])
        enter = [self.log(ctx, "self.tag")]
        step = self.side_step()
        if step is not None:
            enter.append(step)
        enter.append(S("return self.tag"))
        exit_ = [self.log(ctx, "self.tag", "et is None")]
        step = self.side_step()
        if step is not None:
            exit_.append(step)
        # A true result swallows the exception: an Error, never a cancellation.
        exit_.append(S(self.side.choice(("return False", "return None",
                                         "return isinstance(e, Error)"))))
        return Func("Cm", [], [
            Stmt([("def __init__(self, tag):", [S("self.tag = tag")])]),
            Stmt([("async def __aenter__(self):", enter)]),
            Stmt([("async def __aexit__(self, et, e, tb):", exit_)])], role="class")

    def class_cnt(self):
        body = []
        step = self.side_step()
        if step is not None:
            body.append(step)
        body += [Stmt([("if self.n == 0:", [S("raise StopAsyncIteration")])]),
                 S("self.n -= 1"), S("return self.tag + str(self.n)")]
        return Func("Cnt", [], [
            Stmt([("def __init__(self, tag, n):", [S("self.tag = tag"), S("self.n = n")])]),
            Stmt([("def __aiter__(self):", [S("return self")])]),
            Stmt([("async def __anext__(self):", body)])], role="class")

    def bw_func(self):
        """`async def bw(b, x, n)`: n sleeps, then one or two waits on the
        barrier, BrokenBarrierError caught."""
        ctx = _Ctx("bw", "helper", [])
        waits = [self.log(ctx, "x", "await b.wait()", uses={"x"})
                 for _ in range(self.bw_rounds)]
        body = [Stmt([("for i in range(n):", [self.side_step() or S("await sleep(0)")])],
                     defines={"i"}),
                self.log(ctx, "x"),
                Stmt([("try:", waits), ("except BrokenBarrierError:", [self.log(ctx, "x")])]),
                S("return x")]
        return Func("bw", ["b", "x", "n"], body, role="helper")

    def ac_func(self):
        """`async def ac(x, n, bad)`: suspends at once (so a task of it is
        never done when as_completed gets it), n more times, then returns x
        or raises Error(x)."""
        ctx = _Ctx("ac", "helper", [])
        body = [S("await sleep(0)"),
                Stmt([("for i in range(n):", [self.side_step() or S("await sleep(0)")])],
                     defines={"i"}),
                self.log(ctx, "x"),
                Stmt([("if bad:", [S("raise Error(x)")])]),
                S("return x")]
        return Func("ac", ["x", "n", "bad"], body, role="helper")

    def agen(self):
        """`async def ag(tag, n)`: yields n values, suspending between them."""
        ctx = _Ctx("ag", "helper", [])
        step = self.r.choice((S("await sleep(0)"), S("await suspend()"), None))
        body = [self.log(ctx, "tag", "i", uses={"tag", "i"})]
        if step is not None:
            body.append(step)
        body.append(S("yield i", {"i"}))
        return Func("ag", ["tag", "n"], [Stmt([("for i in range(n):", body)], defines={"i"})],
                    role="helper")

    def callback(self, name, role, helpers=()):
        ctx = _Ctx(name, "callback", [])
        body = []
        arg = "tag" if role == "cb" else "f"
        if role == "cb":
            values = ["tag"] + (["cv.get()"] if self.use_cv and self.chance(0.5) else [])
            body.append(self.log(ctx, *values, uses={"cv"} if "cv.get()" in values else ()))
        else:
            values = ["f.cancelled()"] + (["cv.get()"] if self.use_cv and self.chance(0.4) else [])
            body.append(self.log(ctx, *values, uses={"cv"} if "cv.get()" in values else ()))
        for _ in range(self.r.choice((0, 0, 1, 1, 2))):
            s = self.release(ctx)
            if s:
                body.append(s)
        if self.use_cv and self.chance(0.2):
            body.append(S('cv.set("%s")' % name, {"cv"}))
        if helpers and self.chance(0.15):
            h = self.r.choice(helpers)
            body.append(S("create_task(%s(%s))" % (h, arg if role == "cb" else '"%s"' % name),
                          {h}))
        if "mt" in self.objs and self.chance(0.3):
            body.append(self.cancel_main(ctx))
        if self.chance(0.08):
            body.append(S('raise Error("%s")' % name))
        return Func(name, [arg], body, is_async=False, role="callback")

    def release(self, ctx):
        """A statement that never blocks and lets a worker go on."""
        choices = []
        if "ev" in self.objs:
            choices.append((1, "ev"))
        if "q" in self.objs:
            choices.append((1, "q"))
        if "fut" in self.objs:
            choices.append((1, "fut"))
        if not choices:
            return None
        what = self.pick(choices)
        if what == "ev":
            return S("ev.set()", {"ev"})
        if what == "q":
            put = S('q.put_nowait("%s")' % self.label(ctx), {"q"})
            if self.q_shutdown:
                return Stmt([("try:", [put]), ("except QueueShutDown:", [self.log(ctx)])],
                            {"q"})
            return put
        if self.chance(0.25):
            return Stmt([("if not fut.done():",
                          [S('fut.set_exception(Error("%s"))' % self.label(ctx), {"fut"})])],
                        {"fut"})
        return Stmt([("if not fut.done():", [S('fut.set_result("%s")' % self.label(ctx),
                                                {"fut"})])], {"fut"})

    def helper(self, name, callees):
        ctx = _Ctx(name, "helper", callees)
        body = self.block(ctx, self.r.randint(1, 7 if self.big else 5))
        raises = False
        tail = self.r.random()
        if tail < 0.2:
            body.append(S('raise Error("%s " + x)' % name))
            raises = True
        elif tail < 0.6:
            body.append(S('return "%s " + x' % name))
        self.may_raise[name] = raises or self._raises(body)
        return Func(name, ["x"], body, role="helper")

    def _raises(self, stmts, guarded=False):
        """Whether Error may escape these statements (conservative)."""
        for s in stmts:
            head = s.clauses[0][0]
            if s.compound and head == "try:":
                catches = any(h.startswith("except Error") or h == "except:" or
                              h.startswith("except BaseException") or
                              h.startswith("except Exception")
                              for h, _ in s.clauses[1:])
                if self._raises(s.clauses[0][1], guarded or catches):
                    return True
                for h, b in s.clauses[1:]:
                    if b is not None and self._raises(b, guarded):
                        return True
                continue
            if s.compound:
                for _, b in s.clauses:
                    if b is not None and self._raises(b, guarded):
                        return True
                continue
            if guarded:
                continue
            if head.split()[0] == "raise":
                return True
            if any(self.may_raise.get(n) for n in s.uses):
                return True
        return False

    def worker(self, name, helpers):
        has_dep = self.chance(0.3)
        self.worker_dep[name] = has_dep
        ctx = _Ctx(name, "worker", helpers)
        self.gets[name] = 0
        body = self.block(ctx, self.r.randint(1, 7 if self.big else 5))
        if self.q_shutdown:
            used = set()
            walk_uses(body, used)
            if "q" in used:
                body = [Stmt([("try:", body), ("except QueueShutDown:", [self.log(ctx)])])]
        if has_dep and self.chance(0.7):
            body.insert(self.r.randint(0, len(body)), self.log(ctx, "await dep", uses={"dep"}))
        if self.chance(0.45):
            body = [self.cancel_guard(ctx, body)]
        if self.chance(0.3):
            body.append(S('return "%s " + x' % name))
        return Func(name, ["x", "dep"] if has_dep else ["x"], body, role="worker")

    def cancel_guard(self, ctx, body):
        handler = [self.log(ctx, "str(e)", uses={"e"}) if self.f.cancel_message
                   else self.log(ctx)]
        current = self.f.has("current_task") and self.f.has(".cancelling")
        if current and self.chance(0.3):
            handler.append(self.log(ctx, "current_task().cancelling()"))
        if self.chance(0.6):
            handler.append(S("raise"))
        else:
            if current and self.chance(0.3):
                handler.append(self.log(ctx, "current_task().uncancel()"))
            if self.chance(0.4):
                handler.append(S("await sleep(0)"))
        clauses = [("try:", body), ("except CancelledError as e:", handler)]
        if self.chance(0.4):
            clauses.append(("finally:", [self.log(ctx)]))
        return Stmt(clauses, defines={"e"})

    def block(self, ctx, n):
        out = []
        for _ in range(n):
            s = self.statement(ctx)
            if s is not None:
                out.append(s)
        return out

    def statement(self, ctx):
        """One statement for a helper or worker body (or main's free part)."""
        top = ctx.depth < 2
        menu = [
            (3, "log"), (2, "sleep0"), (1.5, "suspend"),
            (1.2 if self.can_timer(ctx) else 0, "timer"),
            (2.5 if ctx.callees and not ctx.in_lock else 0, "await"),
            (1 if ctx.callees and self.f.has("gather") and not ctx.in_lock else 0, "gather"),
            (1 if any(k == "cb" for _, k in self.callbacks) and self.f.has("call_soon") else 0,
             "call_soon"),
            (0.7 if any(k == "cb" for _, k in self.callbacks) and self.f.has("call_later")
             and self.can_timer(ctx) else 0, "call_later"),
            (1.2 if self.use_cv else 0, "cv"),
            (1.2 if top and not ctx.in_lock else 0, "try"),
            (0.5 if top and ctx.loops == 1 and not ctx.in_lock else 0, "for"),
            (0.4 if top else 0, "if"),
            (0.9 if top and "lock" in self.objs and not ctx.in_lock else 0, "lock"),
            (0.8 if self.objs - {"lock"} else 0, "release"),
            (0.4 if "fut" in self.objs and any(k == "dcb" for _, k in self.callbacks) else 0,
             "fut_cb"),
            (0.3 if ctx.role != "main" else 0, "raise_guarded"),
            (0.6 if ctx.callees and self.f.has("wait_for") and not ctx.in_lock
             and self.can_timer(ctx) else 0, "wait_for"),
            (0.5 if top and self.f.has("timeout") and not ctx.in_lock
             and self.can_timer(ctx) else 0, "timeout"),
            (0.6 if ctx.callees and self.f.has("shield") and not ctx.in_lock
             and ctx.role != "main" else 0, "shield"),
            (0.7 if ctx.callees and not ctx.in_lock else 0, "create_await"),
            (0.7 if top and "sem" in self.objs and not ctx.in_lock else 0, "sem"),
            (0.6 if "cond" in self.objs and not ctx.in_lock else 0, "notify"),
            (0.5 if top and ctx.callees and self.f.has("gather") and self.f.has(".cancelled")
             and not ctx.in_lock else 0, "gather_cancel"),
            (0.5 if any(k == "cb" for _, k in self.callbacks) and self.f.has("call_at")
             and self.f.has("time") and self.can_timer(ctx) else 0, "call_at"),
            (0.5 if any(k == "cb" for _, k in self.callbacks) and self.use_cv
             and self.f.has("copy_context") else 0, "ctx_run"),
            (0.4 if any(k == "cb" for _, k in self.callbacks) and self.use_cv
             and self.f.has("copy_context") and self.f.has("call_soon") else 0, "soon_ctx"),
            (0.8 if self.use_agen and top and not ctx.in_lock else 0, "agen_for"),
        ]
        # The constructs added since are chosen first, from the side stream,
        # so that a program that gets none of them is the one the seed gave.
        later = [
            (0.8 if "Tick" in self.classes else 0, "tick"),
            (0.6 if "Cm" in self.classes and top else 0, "cm"),
            (0.6 if "Cnt" in self.classes and top and ctx.loops == 1 else 0, "cnt"),
            (0.5 if self.use_barrier and top and not ctx.in_lock and ctx.loops == 1
             else 0, "barrier"),
            (0.5 if self.use_ascomp and top and not ctx.in_lock and ctx.loops == 1
             else 0, "ascomp"),
        ]
        later = [(w, k) for w, k in later if w > 0]
        if self.use_io and ctx.role == "main" and top and not ctx.in_lock and ctx.loops == 1 \
                and self.io.random() < 0.35:
            return self.s_io(ctx)
        if later and self.side.random() < 0.2:
            x = self.side.random() * sum(w for w, _ in later)
            for w, k in later:
                x -= w
                if x <= 0:
                    break
            return getattr(self, "s_" + k)(ctx)
        if ctx.role == "worker" and not ctx.in_lock:
            menu += [
                (3 if "ev" in self.objs else 0, "ev_wait"),
                (3 if "q" in self.objs else 0, "q_get"),
                (2.5 if "fut" in self.objs else 0, "fut_wait"),
                (1.2 if self.objs & {"ev", "q", "fut"} and self.f.has("wait_for")
                 and self.can_timer(ctx) else 0, "wait_for_block"),
                (0.8 if self.objs & {"ev", "q", "fut"} and self.f.has("timeout")
                 and self.can_timer(ctx) else 0, "timeout_block"),
                (0.6 if "mt" in self.objs else 0, "cancel_main"),
                (2 if "cond" in self.objs else 0, "cond_wait"),
            ]
        kind = self.pick(menu)
        return getattr(self, "s_" + kind)(ctx)

    # -- statements
    def s_log(self, ctx):
        values, uses = [], set()
        if ctx.role in ("helper", "worker") and self.chance(0.3):
            values.append("x")
        if self.use_cv and self.chance(0.25):
            values.append("cv.get()")
            uses.add("cv")
        return self.log(ctx, *values, uses=uses)

    def s_sleep0(self, ctx):
        return S("await sleep(0)")

    def s_suspend(self, ctx):
        return S("await suspend()")

    def s_timer(self, ctx):
        self.timers += ctx.loops
        d = self.delay()
        if self.chance(0.3):
            return S('log("%s", await sleep(%s, "%s"))' % (self.label(ctx), d, "r" + d),
                     simpler=[S("await sleep(0)")])
        return S("await sleep(%s)" % d, simpler=[S("await sleep(0)")])

    def call_arg(self, ctx):
        return '"%s"' % self.label(ctx).replace(" ", "")

    def s_await(self, ctx):
        callee = self.r.choice(ctx.callees)
        arg = self.call_arg(ctx)
        if self.chance(0.6):
            s = S('log("%s", await %s(%s))' % (self.label(ctx), callee, arg), {callee},
                  simpler=[S("await %s(%s)" % (callee, arg), {callee})])
        else:
            s = S("await %s(%s)" % (callee, arg), {callee})
        return self.guard_error(ctx, s, [callee])

    def guard_error(self, ctx, s, callees):
        """Wrap `s` in try/except Error in main when a callee may raise."""
        if ctx.role == "main" and any(self.may_raise.get(c) for c in callees):
            return Stmt([("try:", [s]), ("except Error as e:",
                                         [self.log(ctx, self.exc(), uses={"e"})])],
                        defines={"e"})
        return s

    def s_gather(self, ctx):
        k = self.r.choice((1, 2, 2, 3))
        callees = [self.r.choice(ctx.callees) for _ in range(k)]
        args = ", ".join("%s(%s)" % (c, self.call_arg(ctx)) for c in callees)
        rex = self.chance(0.5)
        text = "await gather(%s%s)" % (args, ", return_exceptions=True" if rex else "")
        if rex and not self.f.reprs:
            return S(text, set(callees))
        s = S('log("%s", %s)' % (self.label(ctx), text), set(callees),
              simpler=[S(text, set(callees))])
        if rex:
            return s
        return self.guard_error(ctx, s, callees)

    def s_call_soon(self, ctx):
        cb = self.r.choice([n for n, k in self.callbacks if k == "cb"])
        return S("call_soon(%s, %s)" % (cb, self.call_arg(ctx)), {cb})

    def s_call_later(self, ctx):
        self.timers += ctx.loops
        cb = self.r.choice([n for n, k in self.callbacks if k == "cb"])
        arg = self.call_arg(ctx)
        soon = [S("call_soon(%s, %s)" % (cb, arg), {cb})] if self.f.has("call_soon") else []
        return S("call_later(%s, %s, %s)" % (self.delay(), cb, arg), {cb}, simpler=soon)

    def s_call_at(self, ctx):
        self.timers += ctx.loops
        cb = self.r.choice([n for n, k in self.callbacks if k == "cb"])
        arg = self.call_arg(ctx)
        later = S("call_later(%s, %s, %s)" % (self.delay(), cb, arg), {cb})
        return S("call_at(time() + %s, %s, %s)" % (self.delay(), cb, arg), {cb},
                 simpler=[later])

    def s_ctx_run(self, ctx):
        # The callback runs now, in a copy of the current context: its
        # cv.set() stays in the copy. It may raise Error: caught here.
        cb = self.r.choice([n for n, k in self.callbacks if k == "cb"])
        run = S("copy_context().run(%s, %s)" % (cb, self.call_arg(ctx)), {cb})
        return Stmt([("try:", [run]), ("except Error as e:",
                                       [self.log(ctx, "str(e)", uses={"e"})])], defines={"e"})

    def s_soon_ctx(self, ctx):
        cb = self.r.choice([n for n, k in self.callbacks if k == "cb"])
        arg = self.call_arg(ctx)
        return S("call_soon(%s, %s, context=copy_context())" % (cb, arg), {cb},
                 simpler=[S("call_soon(%s, %s)" % (cb, arg), {cb})])

    def s_agen_for(self, ctx):
        label = self.label(ctx)
        n = self.r.choice((1, 2, 3))
        body = [self.log(ctx, "v", uses={"v"})]
        if self.chance(0.3):
            body.append(S("await sleep(0)"))
        return Stmt([('async for v in ag("%s", %d):' % (label.replace(" ", ""), n), body)],
                    uses={"ag"}, defines={"v"})

    def s_tick(self, ctx):
        label = self.label(ctx)
        text = 'Tick("%s", %d)' % (label.replace(" ", ""), self.side.choice((0, 1, 1, 2)))
        if self.f.has("ensure_future") and self.side.random() < 0.2:
            text = "ensure_future(%s)" % text
        if self.side.random() < 0.6:
            return S('log("%s", await %s)' % (label, text), {"Tick"},
                     simpler=[S("await %s" % text, {"Tick"})])
        return S("await %s" % text, {"Tick"})

    def s_cm(self, ctx):
        label = self.label(ctx)
        body = [self.log(ctx, "v", uses={"v"})] + self.block(ctx.deeper(),
                                                             self.side.choice((0, 1, 1, 2)))
        return Stmt([('async with Cm("%s") as v:' % label.replace(" ", ""), body)],
                    uses={"Cm"}, defines={"v"})

    def s_cnt(self, ctx):
        label = self.label(ctx)
        body = [self.log(ctx, "v", uses={"v"})]
        if self.side.random() < 0.3:
            body.append(S("await sleep(0)"))
        clauses = [('async for v in Cnt("%s", %d):' % (label.replace(" ", ""),
                                                       self.side.choice((0, 1, 2, 3))), body)]
        if self.side.random() < 0.3:
            clauses.append(("else:", [self.log(ctx)]))
        return Stmt(clauses, uses={"Cnt"}, defines={"v"})

    def s_barrier(self, ctx):
        side = self.side
        label = self.label(ctx).replace(" ", "")
        b = "b%d" % self.barriers
        self.barriers += 1
        k = side.choice((2, 2, 3))
        mode = side.choice(("all", "all", "self", "break"))
        ns = [side.randint(0, 2) for _ in range(k)]
        kids = ", ".join('bw(%s, "%s%s", %d)' % (b, label, "abc"[i], n)
                         for i, n in enumerate(ns))
        if mode == "all":
            return Stmt([("if True:", [
                S("%s = Barrier(%d)" % (b, k), defines={b}),
                S('log("%s", await gather(%s))' % (self.label(ctx), kids), {"bw", b})])])
        g = "g" + b
        body = [S("%s = Barrier(%d)" % (b, k + 1), defines={b}),
                S("%s = gather(%s)" % (g, kids), {"bw", b}, {g})]
        if mode == "self":
            for _ in range(self.bw_rounds):
                body.append(self.log(ctx, "await %s.wait()" % b, uses={b}))
        else:
            m = side.randint(1, 4)
            body += [S("await sleep(0)") for _ in range(m)]
            body.append(self.log(ctx, "%s.n_waiting" % b, uses={b}))
            how = "reset" if m >= max(ns) + 2 and side.random() < 0.4 else "abort"
            body.append(S("await %s.%s()" % (b, how), {b}))
            body.append(self.log(ctx, "%s.broken" % b, uses={b}))
        body.append(self.log(ctx, "await %s" % g, uses={g}))
        return Stmt([("if True:", body)])

    def s_ascomp(self, ctx):
        side = self.side
        label = self.label(ctx)
        tag = label.replace(" ", "")
        items, uses = [], {"ac"}
        for i in range(side.choice((1, 2, 2, 3))):
            items.append('create_task(ac("%s%s", %d, %s))' % (
                tag, "abc"[i], side.randint(0, 3), "True" if side.random() < 0.2 else "False"))
        free = [v for v, k, _ in self.tasks if k == "free"] if ctx.role == "main" else []
        handlers = [("except Error as e:", [self.log(ctx, "str(e)", uses={"e"})])]
        if free and side.random() < 0.4:
            t = side.choice(free)
            items.insert(side.randint(0, len(items)), t)
            uses.add(t)
            handlers = [("except Error as e:", [self.log(ctx, self.exc(), uses={"e"})]),
                        ("except CancelledError as e:", [self.log(ctx, self.exc(),
                                                                  uses={"e"})])]
        body = [Stmt([("try:", [self.log(ctx, "await f", uses={"f"})])] + handlers,
                     defines={"e"})]
        return Stmt([("for f in as_completed([%s]):" % ", ".join(items), body)],
                    uses=uses, defines={"f"})

    def s_cv(self, ctx):
        if self.chance(0.5):
            return S('cv.set("%s")' % self.label(ctx).replace(" ", ""), {"cv"})
        return self.log(ctx, "cv.get()", uses={"cv"})

    def s_try(self, ctx):
        inner = ctx.deeper(in_try=True)
        body = self.block(inner, self.r.randint(1, 3))
        form = self.r.random()
        if self.chance(0.5) and (form < 0.75 or ctx.role != "main"):
            body.append(S('raise Error("%s")' % self.label(ctx)))
        clauses = [("try:", body)]
        defines = set()
        if form < 0.75:
            defines.add("e")
            clauses.append(("except Error as e:", [self.log(ctx, "str(e)", uses={"e"})] +
                            self.block(ctx.deeper(), self.r.choice((0, 0, 1)))))
            if self.chance(0.3):
                clauses.append(("else:", [self.log(ctx)]))
        if form >= 0.75 or self.chance(0.4):
            clauses.append(("finally:", [self.log(ctx)] + self.block(ctx.deeper(),
                                                                     self.r.choice((0, 0, 1)))))
        return Stmt(clauses, defines=defines)

    def s_for(self, ctx):
        n = self.r.choice((2, 2, 3))
        inner = ctx.deeper(loops=ctx.loops * n)
        body = [self.log(ctx, "i", uses={"i"})] + self.block(inner, self.r.randint(1, 2))
        return Stmt([("for i in range(%d):" % n, body)], defines={"i"})

    def s_if(self, ctx):
        conds = []
        if ctx.role in ("helper", "worker"):
            conds.append(('x == "%s"' % self.label(ctx).replace(" ", ""), ()))
            conds.append(('len(x) > 3', ()))
        if self.use_cv:
            conds.append(('cv.get() == "c0"', {"cv"}))
        if "ev" in self.objs:
            conds.append(("ev.is_set()", {"ev"}))
        if "q" in self.objs:
            conds.append(("q.empty()", {"q"}))
        if not conds:
            conds.append(("True", ()))
        cond, uses = self.r.choice(conds)
        inner = ctx.deeper()
        clauses = [("if %s:" % cond, self.block(inner, self.r.randint(1, 2)))]
        if self.chance(0.5):
            clauses.append(("else:", self.block(inner, self.r.randint(1, 2))))
        return Stmt(clauses, uses)

    def s_lock(self, ctx):
        inner = ctx.deeper(in_lock=True)
        body = [self.log(ctx)] + self.block(inner, self.r.randint(0, 2))
        return Stmt([("async with lock:", body)], {"lock"})

    def s_release(self, ctx):
        s = self.release(ctx)
        if s is None:
            return self.s_log(ctx)
        if "ev" in s.uses and self.chance(0.3) and ctx.role == "main":
            return S("ev.clear()", {"ev"})
        return s

    def s_fut_cb(self, ctx):
        cb = self.r.choice([n for n, k in self.callbacks if k == "dcb"])
        return S("fut.add_done_callback(%s)" % cb, {"fut", cb})

    def s_raise_guarded(self, ctx):
        # a raise inside a try that catches it (the try adds the handler)
        body = [self.log(ctx), S('raise Error("%s")' % self.label(ctx))]
        return Stmt([("try:", body), ("except Error as e:", [self.log(ctx, self.exc(), uses={"e"})])],
                    defines={"e"})

    def s_wait_for(self, ctx):
        self.timers += ctx.loops
        callee = self.r.choice(ctx.callees)
        inner = S('log("%s", await wait_for(%s(%s), %s))' % (
            self.label(ctx), callee, self.call_arg(ctx), self.delay(zero=0.15)), {callee})
        s = Stmt([("try:", [inner]), ("except TimeoutError:", [self.log(ctx)])])
        return self.guard_error(ctx, s, [callee])

    def s_timeout(self, ctx):
        self.timers += ctx.loops
        inner = ctx.deeper()
        body = self.block(inner, self.r.randint(1, 3))
        clauses = [("try:", [Stmt([("async with timeout(%s):" % self.delay(zero=0.15),
                                     body)])]),
                   ("except TimeoutError:", [self.log(ctx)])]
        if ctx.role == "main":
            clauses.append(("except Error as e:", [self.log(ctx, self.exc(), uses={"e"})]))
            return Stmt(clauses, defines={"e"})
        return Stmt(clauses)

    def s_shield(self, ctx):
        callee = self.r.choice(ctx.callees)
        return S('log("%s", await shield(%s(%s)))' % (self.label(ctx), callee,
                                                       self.call_arg(ctx)), {callee})

    def s_create_await(self, ctx):
        callee = self.r.choice(ctx.callees)
        maker = "ensure_future" if self.f.has("ensure_future") and self.chance(0.3) \
            else "create_task"
        s = S('log("%s", await %s(%s(%s)))' % (self.label(ctx), maker, callee,
                                               self.call_arg(ctx)), {callee})
        return self.guard_error(ctx, s, [callee])

    def s_sem(self, ctx):
        inner = ctx.deeper(in_lock=True)
        body = [self.log(ctx)] + self.block(inner, self.r.randint(0, 2))
        return Stmt([("async with sem:", body)], {"sem"})

    def blocking(self, ctx):
        """(awaitable text, uses) of one blocking wait of a worker."""
        what = self.r.choice(sorted(self.objs & {"ev", "q", "fut"}))
        if what == "ev":
            return "ev.wait()", {"ev"}
        if what == "q":
            self.gets[ctx.fn] = self.gets.get(ctx.fn, 0) + ctx.loops
            return "q.get()", {"q"}
        return "fut", {"fut"}

    def s_wait_for_block(self, ctx):
        self.timers += ctx.loops
        text, uses = self.blocking(ctx)
        inner = S('log("%s", await wait_for(%s, %s))' % (self.label(ctx), text, self.delay()),
                  uses)
        return Stmt([("try:", [inner]), ("except TimeoutError:", [self.log(ctx)])])

    def s_timeout_block(self, ctx):
        self.timers += ctx.loops
        text, uses = self.blocking(ctx)
        body = [S('log("%s", await %s)' % (self.label(ctx), text), uses)]
        if self.chance(0.4):
            body.append(self.log(ctx))
        return Stmt([("try:", [Stmt([("async with timeout(%s):" % self.delay(), body)])]),
                     ("except TimeoutError:", [self.log(ctx)])])

    def s_gather_cancel(self, ctx):
        k = self.r.choice((1, 2, 2, 3))
        callees = [self.r.choice(ctx.callees) for _ in range(k)]
        args = ", ".join("%s(%s)" % (c, self.call_arg(ctx)) for c in callees)
        rex = ", return_exceptions=True" if self.chance(0.3) else ""
        body = [S("g = gather(%s%s)" % (args, rex), set(callees), {"g"})]
        for _ in range(self.r.choice((0, 1, 1, 2))):
            body.append(self.r.choice((S("await sleep(0)"), S("await suspend()"))))
        if self.f.cancel_message and self.chance(0.4):
            body.append(self.log(ctx, 'g.cancel("%s")' % self.label(ctx).replace(" ", ""),
                                 uses={"g"}))
        else:
            body.append(self.log(ctx, "g.cancel()", uses={"g"}))
        if self.chance(0.3):
            body.append(self.log(ctx, "g.cancelled()", uses={"g"}))
        body.append(self.log(ctx, "await g", uses={"g"}))
        clauses = [("try:", body), ("except CancelledError as e:",
                                    [self.log(ctx, self.exc(), uses={"e"})])]
        if ctx.role == "main":
            clauses.append(("except Error as e:", [self.log(ctx, self.exc(), uses={"e"})]))
        return Stmt(clauses, defines={"e"})

    def s_notify(self, ctx):
        body = [S("cond.notify_all()" if self.chance(0.5) else "cond.notify()", {"cond"})]
        if self.chance(0.3):
            body.insert(0, S("ev.set()", {"ev"}))
        if self.chance(0.3):
            body.append(self.log(ctx, "cond.locked()", uses={"cond"}))
        return Stmt([("async with cond:", body)], {"cond"})

    def s_cond_wait(self, ctx):
        body = [self.log(ctx, "await cond.wait_for(ev.is_set)", uses={"ev"})]
        if self.chance(0.3):
            body.append(self.r.choice((S("await sleep(0)"), self.log(ctx))))
        return Stmt([("async with cond:", body)], {"cond"})

    def s_cancel_main(self, ctx):
        return self.cancel_main(ctx)

    def s_ev_wait(self, ctx):
        if self.chance(0.5):
            return self.log(ctx, "await ev.wait()", uses={"ev"})
        return S("await ev.wait()", {"ev"})

    def s_q_get(self, ctx):
        self.gets[ctx.fn] = self.gets.get(ctx.fn, 0) + ctx.loops
        return self.log(ctx, "await q.get()", uses={"q"})

    def s_fut_wait(self, ctx):
        return self.log(ctx, "await fut", uses={"fut"})

    # -- main
    def main(self, helpers, workers):
        ctx = _Ctx("main", "main", helpers)
        body = []
        n_tasks = self.r.choice((0, 1, 1, 2, 2, 3, 3, 4)) if (helpers or workers) else 0
        if self.big and (helpers or workers):
            n_tasks += 2
        made = 0
        steps = self.r.randint(2, 7) + n_tasks + (4 if self.big else 0)
        for _ in range(steps):
            want_task = made < n_tasks and self.chance(max(0.35, (n_tasks - made) / 4.0))
            if want_task:
                s = self.create(ctx, helpers, workers)
                if s is not None:
                    body.append(s)
                    made += 1
                    continue
            s = self.main_statement(ctx)
            if s is not None:
                body.append(s)
        while made < n_tasks:
            s = self.create(ctx, helpers, workers)
            if s is None:
                break
            body.append(s)
            made += 1
        if "mt" in self.objs and body and self.chance(0.7):
            # Catch main's cancellation; the task variables stay outside the
            # try blocks (creating a task never raises it), so the finale can
            # always await them.
            wrapped, run = [], []
            for s in body + [None]:
                if s is not None and not s.defines & {v for v, _, _ in self.tasks}:
                    run.append(s)
                    continue
                if run:
                    handler = [self.log(ctx, self.exc(), uses={"e"})]
                    if self.f.has(".uncancel") and self.chance(0.4):
                        handler.append(self.log(ctx, "current_task().uncancel()"))
                    wrapped.append(Stmt([("try:", run), ("except CancelledError as e:",
                                                         handler)], defines={"e"}))
                    run = []
                if s is not None:
                    wrapped.append(s)
            body = wrapped
        body.extend(self.finale(ctx))
        return Func("main", [], body, role="main")

    def create(self, ctx, helpers, workers):
        options = []
        for w in workers:
            if not self.worker_dep.get(w) or self.tasks:
                options.append((2, ("worker", w)))
        for h in helpers:
            options.append((1, ("free", h)))
        if not options:
            return None
        kind, fn = self.pick(options)
        var = "t%d" % len(self.tasks)
        args = ['"%s"' % var]
        uses = {fn}
        if kind == "worker" and self.worker_dep.get(fn):
            dep = self.r.choice([v for v, _, _ in self.tasks])
            args.append(dep)
            uses.add(dep)
        self.tasks.append((var, kind, fn))
        return S("%s = create_task(%s(%s))" % (var, fn, ", ".join(args)), uses, {var})

    def main_statement(self, ctx):
        tasks = [v for v, _, _ in self.tasks]
        free = [v for v, k, _ in self.tasks if k == "free"]
        menu = [
            (4, "free"),
            (1.5 if tasks else 0, "cancel"),
            (0.8 if tasks else 0, "state"),
            (1 if free else 0, "await_free"),
            (0.6 if tasks and any(k == "dcb" for _, k in self.callbacks) else 0, "task_cb"),
            (0.4 if "fut" in self.objs else 0, "fut_cancel"),
            (0.4 if any(k == "cb" for _, k in self.callbacks) and self.f.has("call_later")
             and self.can_timer(ctx) else 0, "handle"),
            (0.5 if tasks and self.f.has("call_soon") else 0, "cancel_soon"),
            (0.5 if free and self.f.has("wait") else 0, "wait"),
            (0.5 if self.f.has("taskgroup") and self.quiet_helpers() else 0, "taskgroup"),
            (0.4 if free and self.f.has("shield") else 0, "shield_task"),
            (0.5 if self.objs & {"ev", "fut"} and self.f.has("call_soon") else 0,
             "soon_release"),
            (0.4 if self.f.has("taskgroup") and self.raising_helpers() else 0, "taskgroup_fails"),
        ]
        kind = self.pick(menu)
        if kind == "soon_release":
            what = self.r.choice(sorted(self.objs & {"ev", "fut"}))
            target = "ev.set" if what == "ev" else "fut.set_result, \"%s\"" % self.label(
                ctx).replace(" ", "")
            if self.f.has("call_later") and self.can_timer(ctx) and self.chance(0.4):
                self.timers += 1
                return S("call_later(%s, %s)" % (self.delay(), target), {what})
            return S("call_soon(%s)" % target, {what})
        if kind == "taskgroup_fails":
            body = [S("tg.create_task(%s(%s))" % (h, self.call_arg(ctx)), {h, "tg"})
                    for h in [self.r.choice(self.raising_helpers())]]
            if self.chance(0.6):
                h = self.r.choice(list(self.may_raise))
                body.insert(self.r.randint(0, 1), S("tg.create_task(%s(%s))" % (
                    h, self.call_arg(ctx)), {h, "tg"}))
            for _ in range(self.r.randint(0, 2)):
                body.append(self.r.choice((S("await sleep(0)"), S("await suspend()"),
                                           self.log(ctx))))
            handler = [self.log(ctx, "str(e)", uses={"e"}),
                       self.log(ctx, "e.exceptions", uses={"e"})]
            return Stmt([("try:", [Stmt([("async with TaskGroup() as tg:", body)],
                                        defines={"tg"})]),
                         ("except ExceptionGroup as e:", handler)], defines={"e"})
        if kind == "cancel_soon":
            t = self.r.choice(tasks)
            if self.f.cancel_message and self.chance(0.4):
                return S('call_soon(%s.cancel, "%s")' % (t, "m" + self.label(ctx).split()[-1]),
                         {t}, simpler=[S("call_soon(%s.cancel)" % t, {t})])
            return S("call_soon(%s.cancel)" % t, {t})
        if kind == "wait":
            picked = self.r.sample(free, min(len(free), self.r.choice((1, 2, 2))))
            how = self.r.choice(("", ", return_when=FIRST_COMPLETED",
                                 ", return_when=FIRST_EXCEPTION"))
            return Stmt([("if True:", [
                S("done, pending = await wait([%s]%s)" % (", ".join(picked), how),
                  set(picked), {"done", "pending"}),
                self.log(ctx, "len(done)", "len(pending)", uses={"done", "pending"})])])
        if kind == "taskgroup":
            quiet = self.quiet_helpers()
            body = []
            for _ in range(self.r.randint(1, 3)):
                if self.chance(0.6):
                    h = self.r.choice(quiet)
                    body.append(S("tg.create_task(%s(%s))" % (h, self.call_arg(ctx)), {h, "tg"}))
                else:
                    body.append(self.r.choice((S("await sleep(0)"), S("await suspend()"),
                                               self.log(ctx))))
            return Stmt([("async with TaskGroup() as tg:", body)], defines={"tg"})
        if kind == "shield_task":
            t = self.r.choice(free)
            inner = S('log("%s", await shield(%s))' % (self.label(ctx), t), {t})
            return Stmt([("try:", [inner]),
                         ("except Error as e:", [self.log(ctx, self.exc(), uses={"e"})]),
                         ("except CancelledError as e:", [self.log(ctx, self.exc(),
                                                                   uses={"e"})])],
                        defines={"e"})
        if kind == "free":
            return self.statement(ctx)
        if kind == "cancel":
            t = self.r.choice(tasks)
            return self.cancel(ctx, t)
        if kind == "state":
            t = self.r.choice(tasks)
            if self.f.has(".cancelling") and self.chance(0.3):
                return self.log(ctx, "%s.cancelling()" % t, uses={t})
            if self.f.has(".cancelled"):
                return self.log(ctx, "%s.done()" % t, "%s.cancelled()" % t, uses={t})
            return self.log(ctx, "%s.done()" % t, uses={t})
        if kind == "await_free":
            picked = self.r.sample(free, min(len(free), self.r.choice((1, 1, 2))))
            if self.f.has("gather") and self.chance(0.15):
                picked = picked + [picked[0]]    # the same task twice
            if len(picked) > 1 and self.f.has("gather"):
                text = "await gather(%s)" % ", ".join(picked)
            else:
                picked = picked[:1]
                text = "await %s" % picked[0]
            inner = S('log("%s", %s)' % (self.label(ctx), text), set(picked))
            clauses = [("try:", [inner]),
                       ("except Error as e:", [self.log(ctx, self.exc(), uses={"e"})]),
                       ("except CancelledError as e:", [self.log(ctx, self.exc(), uses={"e"})])]
            return Stmt(clauses, defines={"e"})
        if kind == "task_cb":
            t = self.r.choice(tasks)
            cb = self.r.choice([n for n, k in self.callbacks if k == "dcb"])
            if self.f.has(".remove_done_callback") and self.chance(0.2):
                return self.log(ctx, "%s.remove_done_callback(%s)" % (t, cb), uses={t, cb})
            return S("%s.add_done_callback(%s)" % (t, cb), {t, cb})
        if kind == "fut_cancel":
            if self.f.cancel_message and self.chance(0.4):
                return self.log(ctx, 'fut.cancel("%s")' % self.label(ctx).replace(" ", ""),
                                uses={"fut"})
            return self.log(ctx, "fut.cancel()", uses={"fut"})
        if kind == "handle":
            self.timers += 1
            cb = self.r.choice([n for n, k in self.callbacks if k == "cb"])
            var = "hd%d" % self.labels.get("hd", 0)
            self.labels["hd"] = self.labels.get("hd", 0) + 1
            return Stmt([("if True:", [
                S("%s = call_later(%s, %s, %s)" % (var, self.delay(), cb, self.call_arg(ctx)),
                  {cb}, {var}),
                S("await sleep(0)"),
                S("%s.cancel()" % var, {var}),
            ])], ())
        return None

    def cancel_main(self, ctx):
        if self.f.cancel_message and self.chance(0.5):
            return self.log(ctx, 'mt.cancel("%s")' % self.label(ctx).replace(" ", ""),
                            uses={"mt"})
        return self.log(ctx, "mt.cancel()", uses={"mt"})

    def raising_helpers(self):
        return [h for h, raises in self.may_raise.items() if raises]

    def quiet_helpers(self):
        """Helpers that never raise: a TaskGroup of them never aborts (an abort
        cancels the pending children in set order)."""
        return [h for h, raises in self.may_raise.items() if not raises]

    def cancel(self, ctx, t):
        label = self.label(ctx)
        if self.f.cancel_message and self.chance(0.5):
            text = 'log("%s", %s.cancel("%s"))' % (label, t, "m" + label.split()[-1])
            return S(text, {t}, simpler=[S('log("%s", %s.cancel())' % (label, t), {t})])
        return S('log("%s", %s.cancel())' % (label, t), {t})

    def finale(self, ctx):
        out = []
        releases = []
        if "ev" in self.objs:
            releases.append(S("ev.set()", {"ev"}))
        if "fut" in self.objs:
            releases.append(Stmt([("if not fut.done():", [S('fut.set_result("end")',
                                                            {"fut"})])], {"fut"}))
        gets = sum(self.gets.get(fn, 0) for _, kind, fn in self.tasks if kind == "worker")
        put = None
        if "q" in self.objs and gets:
            item = "str(i)" if self.ctors.get("q") == "PriorityQueue()" else "i"
            put = Stmt([("for i in range(%d):" % gets,
                         [S("q.put_nowait(%s)" % item, {"q", "i"})])], {"q"}, {"i"})
            releases.append(put)
        self.r.shuffle(releases)
        if self.q_shutdown:
            at = releases.index(put) + 1 if put is not None else \
                self.side.randint(0, len(releases))
            releases.insert(at, S("q.shutdown(immediate=True)" if self.side.random() < 0.4
                                  else "q.shutdown()", {"q"}))
        if "cond" in self.objs:     # after ev.set(): the waiters wait for ev.is_set()
            releases.append(Stmt([("async with cond:", [S("cond.notify_all()", {"cond"})])],
                                 {"cond"}))
        for s in releases:
            out.append(s)
            if self.chance(0.25):
                out.append(S("await sleep(0)"))
        tasks = [v for v, _, _ in self.tasks]
        if tasks and self.chance(0.3):
            out.append(self.cancel(ctx, self.r.choice(tasks)))
        awaited = list(tasks)
        if len(awaited) >= 1 and self.chance(0.25):
            awaited.remove(self.r.choice(awaited))   # one leftover for the teardown
        if awaited:
            if self.f.has("gather") and self.chance(0.5) and not self.f.reprs:
                out.append(Stmt("await gather({}, return_exceptions=True)",
                                names=list(awaited),
                                template="await gather({}, return_exceptions=True)"))
            elif self.f.has("gather") and self.chance(0.5) and self.f.reprs:
                out.append(Stmt('log("main rs", await gather({}, return_exceptions=True))',
                                names=list(awaited),
                                template='log("%s", await gather({}, return_exceptions=True))'
                                % self.label(ctx)))
            else:
                for t in awaited:
                    label = self.label(ctx)
                    out.append(Stmt([("try:", [S('log("%s", await %s)' % (label, t), {t})]),
                                     ("except Error as e:",
                                      [S('log("%s error", %s)' % (label, self.exc()), {"e"})]),
                                     ("except CancelledError as e:",
                                      [S('log("%s cancelled", %s)' % (label, self.exc()), {"e"})])],
                                    {t}, {"e"}))
        out.append(self.log(ctx))
        if self.chance(0.08):
            out.append(S('raise Error("main")'))
        return out


def generate(seed, index=0, attempt=0, features=None):
    """Program number `index` of the fuzz run with `seed` (the `attempt`-th
    try when earlier ones were unfit)."""
    rng = random.Random("loopspec-fuzz/%s/%d/%d" % (seed, index, attempt))
    # Constructs added later draw from a stream of their own, so that a
    # program without them is the one the seed always gave.
    side = random.Random("loopspec-fuzz-side/%s/%d/%d" % (seed, index, attempt))
    io = random.Random("loopspec-fuzz-io/%s/%d/%d" % (seed, index, attempt))
    return Generator(rng, features, side, io).program()


# -- case files ------------------------------------------------------------------

HEADER = "---\ntitle: %s\nsource: %s\nprofiles: %s\n---\n"


def case_text(program_text, profile, title="loopspec fuzz program",
              source="loopspec fuzz", comment=(), expect=()):
    """A whole case file: header, comment lines, program, expect block."""
    head = HEADER % (title, source, profile)
    body = "".join(("# %s" % c).rstrip() + "\n" if c else "#\n" for c in comment)
    if comment:
        body += "\n"
    text = head + body + program_text.rstrip("\n") + "\n\nexpect:\n"
    text += "".join("    %s\n" % line.strip() for line in expect)
    return text


def program_line(text):
    """1-based line of the case file where the program part starts."""
    lines = text.split("\n")
    marks = [i for i, line in enumerate(lines) if line.strip() == "---"][:2]
    return marks[1] + 2


def program_part(text):
    lines = text.split("\n")
    start = program_line(text) - 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("expect"))
    return "\n".join(lines[start:end]).rstrip("\n") + "\n"


# -- the model side --------------------------------------------------------------

NEW_TASK_RE = re.compile(r'"new_task":"([^"]+)"')
FINISHED_RE = re.compile(r'"finished":"([^"]+)"')


class ModelResult:
    """One model run: `status` ok | malformed | hang | error; the trace; what
    the explanation says about leftovers, timers and the virtual clock."""

    def __init__(self, status, trace=(), message="", leftovers=0, deadlines=(),
                 end_time=0.0, unfinished=()):
        self.unfinished = list(unfinished)
        self.status = status
        self.trace = list(trace)
        self.message = message
        self.leftovers = leftovers
        self.deadlines = list(deadlines)
        self.end_time = end_time

    def unfit(self):
        """Why the program cannot be compared with a real loop, or ''."""
        if self.status != "ok":
            return "%s: %s" % (self.status, self.message.strip().split("\n")[-1][:200])
        if self.leftovers > 1:
            return "%d tasks pending at teardown" % self.leftovers
        if self.unfinished:
            # Created during the teardown and still pending when asyncio.run
            # returns: CPython closes its coroutine when the task is freed
            # (its finally blocks run then), which depends on the garbage
            # collector.
            return "%s pending after asyncio.run" % ", ".join(self.unfinished)
        seen = set()
        for at in self.deadlines:
            key = round(at * 1000)
            if key in seen:
                return "two timers due at t=%g" % at
            seen.add(key)
        if self.end_time > MAX_VIRTUAL_TIME + 1e-9:
            return "sleeps %gs" % self.end_time
        return ""


_servers = threading.local()


def model_server(model):
    """This thread's `loopspec-model serve` for `model` (casekit/modelserver.py)."""
    servers = getattr(_servers, "by_model", None)
    if servers is None:
        servers = _servers.by_model = {}
    if model not in servers:
        servers[model] = ModelServer(model)
    return servers[model]


def run_model(path, profile, model=registry.MODEL):
    """ModelResult of the model's run of `path`, asked of a model server
    with the fitness summary (serve's "fitness": the tasks asyncio.run
    cancelled after main, the tasks still pending after it, every timer's
    deadline, the clock at the end): the trace, and whether the program is
    fit for a comparison."""
    request = {"id": 0, "path": os.path.abspath(path), "profile": profile,
               "fitness": True, "max_steps": MAX_STEPS}
    reply = None
    for attempt in range(60):
        try:
            reply = model_server(model).ask(request)
            break
        except (OSError, RuntimeError) as exc:
            # `make model` may be replacing the binary right now: wait for it.
            if attempt == 59:
                raise RuntimeError("cannot run the model %s: %s" % (model, exc))
            _servers.by_model = {}
            time.sleep(0.5)
    status = 0 if "trace" in reply else reply.get("exit", 1)
    err = reply.get("error", "")
    if status == 2:
        return ModelResult("malformed", message=err)
    if status == 3:
        return ModelResult("hang", [], err)
    if status != 0:
        return ModelResult("error", [], err or "exit status %d" % status)
    fit = reply.get("fitness") or {}
    return ModelResult("ok", [str(t) for t in reply["trace"]],
                       leftovers=int(fit.get("leftovers", 0)),
                       deadlines=[float(d) for d in fit.get("deadlines", [])],
                       end_time=float(fit.get("end_time", 0.0)),
                       unfinished=[str(t) for t in fit.get("unfinished", [])])


def produce(seed, index, features, profile, model, work):
    """A fit program for `index`: ((index, attempt, program, text,
    ModelResult, unfit, path), seconds spent in the model, [(index, attempt,
    message)] of programs the model rejected). Attempt `None` after
    MAX_ATTEMPTS unfit programs. Runs in a worker process (or any thread)."""
    unfit, model_s, malformed = 0, 0.0, []
    for attempt in range(MAX_ATTEMPTS):
        prog = generate(seed, index, attempt, features)
        program_text = prog.render()
        text = case_text(program_text, profile, source="loopspec fuzz --seed %s" % seed)
        path = os.path.join(work, "p%d.case" % index)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        started = time.monotonic()
        mr = run_model(path, profile, model)
        model_s += time.monotonic() - started
        if mr.status == "malformed":
            malformed.append((index, attempt, mr.message.strip()))
            shutil.copy(path, os.path.join(work, "malformed-%d-%d.case" % (index, attempt)))
            unfit += 1
            continue
        if mr.unfit():
            unfit += 1
            continue
        return (index, attempt, prog, text, mr, unfit, path), model_s, malformed
    return (index, None, None, None, None, unfit, None), model_s, malformed


def producers(jobs):
    """The pool that runs produce(): worker processes where the system can fork
    (each with its own model server), else threads."""
    if jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
        return concurrent.futures.ProcessPoolExecutor(
            jobs, mp_context=multiprocessing.get_context("fork"))
    return concurrent.futures.ThreadPoolExecutor(jobs)


# -- the implementation side -----------------------------------------------------

class ImplRunner:
    """Runs programs on one implementation through one adapter process."""

    def __init__(self, impl, profile, timeout=DEFAULT_TIMEOUT,
                 startup_timeout=STARTUP_TIMEOUT):
        self.impl = impl
        self.profile = profile
        self.timeout = timeout
        self.adapter = AdapterProcess(impl.name, impl.argv, startup_timeout)
        self.runs = 0

    def start(self):
        """Wait for the ready line; raise AdapterFailure."""
        return self.adapter.ensure_ready()

    def run(self, case_id, text, path):
        """(status, trace, error): status PASS-able 'ok', or TIMEOUT, CRASH, ERROR."""
        self.runs += 1
        try:
            reply = self.adapter.request(case_id, program_part(text), program_line(text),
                                         self.profile, self.timeout,
                                         path=os.path.abspath(path))
        except AdapterFailure as exc:
            status = {"timeout": "TIMEOUT", "crash": "CRASH"}.get(exc.kind, "ERROR")
            return status, [], str(exc)
        if "error" in reply:
            return "ERROR", [], str(reply["error"])
        return "ok", [str(t) for t in reply.get("trace", [])], ""

    def close(self):
        self.adapter.close()


def same(expected, actual):
    return [e.strip() for e in expected] == [a.strip() for a in actual]


def first_divergence(expected, actual):
    for i in range(max(len(expected), len(actual))):
        e = expected[i].strip() if i < len(expected) else None
        a = actual[i].strip() if i < len(actual) else None
        if e != a:
            return i, e, a
    return None


LABEL_RE = re.compile(r"\b(?:main|h\d+|w\d+|cb\d+|dcb\d+|ag|bw|ac|Tick|Cm|Cnt) \d+"
                      r"(?: error| cancelled)?")
SHRINK_PER_SIGNATURE = 2


def normalize_line(line):
    """A trace line without its label and the texts inside quotes."""
    line = re.sub(r"'[^']*'|\"[^\"]*\"", "''", line)
    line = LABEL_RE.sub("L", line)
    line = re.sub(r"\b(?:m|main|h|w|t|cb|dcb)\d+\b", "W", line)
    return re.sub(r"\d+", "0", line)


def signature(kind, expected, actual, error=""):
    """What identifies a divergence's mechanism well enough to skip shrinking
    its repeats, or None (always shrink): the kind and the normalized error
    for TIMEOUT, CRASH and ERROR; for a trace difference whose first
    diverging lines differ in more than labels (a value such as a repr), the
    two lines normalized.  Differences in order alone are always shrunk."""
    if kind != "FAIL":
        first = (error or "").strip().split("\n")[0]
        return (kind, normalize_line(re.sub(r"\S+\.case:\d+(:\d+)?", "CASE", first)))
    div = first_divergence(expected, actual)
    if not div or div[1] is None or div[2] is None:
        return None
    e, a = normalize_line(div[1]), normalize_line(div[2])
    if e == a:
        return None
    return ("FAIL", e, a)


# -- the shrinker ----------------------------------------------------------------

class Shrinker:
    """Delta debugging over a Program, keeping `test(program)` true.

    `test` returns True when the candidate is fit and still diverges.  Passes,
    repeated until none makes progress (or the test budget runs out):
    remove functions; remove statements of each block (ddmin: halves, then
    quarters, ... down to single statements); replace a compound statement by
    one of its bodies (a try by its body, or its body and its finally); try
    each statement's simpler forms."""

    def __init__(self, test, budget=DEFAULT_SHRINK_TESTS):
        self.test = test
        self.budget = budget
        self.tests = 0
        self.cache = {}

    def check(self, prog):
        prog = copy.deepcopy(prog).normalize()
        text = prog.render()
        if text in self.cache:
            return self.cache[text], prog
        if self.tests >= self.budget:
            return False, prog
        self.tests += 1
        ok = bool(self.test(prog, text))
        self.cache[text] = ok
        return ok, prog

    def shrink(self, prog):
        best = copy.deepcopy(prog).normalize()
        self.cache[best.render()] = True
        progress = True
        while progress and self.tests < self.budget:
            progress = False
            for name in [f.name for f in best.funcs if f.name != "main"]:
                cand = copy.deepcopy(best)
                cand.funcs = [f for f in cand.funcs if f.name != name]
                ok, cand = self.check(cand)
                if ok:
                    best, progress = cand, True
            best, p = self.blocks(best)
            progress = progress or p
            best, p = self.replacements(best)
            progress = progress or p
        return best

    # Blocks are addressed by paths: (function index, (stmt, clause), (stmt, clause), ...).
    @staticmethod
    def block_paths(prog):
        out = []

        def visit(stmts, path):
            out.append(path)
            for i, s in enumerate(stmts):
                for j, (_, body) in enumerate(s.clauses):
                    if body is not None:
                        visit(body, path + ((i, j),))

        for k, f in enumerate(prog.funcs):
            visit(f.body, (k,))
        return out

    @staticmethod
    def get_block(prog, path):
        if path[0] >= len(prog.funcs):
            return None
        stmts = prog.funcs[path[0]].body
        for i, j in path[1:]:
            if i >= len(stmts) or j >= len(stmts[i].clauses):
                return None
            stmts = stmts[i].clauses[j][1]
            if stmts is None:
                return None
        return stmts

    @staticmethod
    def with_block(prog, path, new):
        prog = copy.deepcopy(prog)
        if len(path) == 1:
            prog.funcs[path[0]].body = new
            return prog
        stmts = prog.funcs[path[0]].body
        for i, j in path[1:-1]:
            stmts = stmts[i].clauses[j][1]
        i, j = path[-1]
        s = stmts[i]
        clauses = list(s.clauses)
        clauses[j] = (clauses[j][0], new)
        stmts[i] = Stmt(clauses, s.uses, s.defines, s.simpler, s.names, s.template)
        return prog

    def sweep(self, best, reduce):
        """Applies `reduce(best, path, block)` (a smaller program or None) to
        each non-empty block, starting over after each success, until a
        whole sweep changes nothing or the test budget is spent."""
        progress = False
        restart = True
        while restart and self.tests < self.budget:
            restart = False
            for path in self.block_paths(best):
                block = self.get_block(best, path)
                if not block:
                    continue
                new = reduce(best, path, block)
                if new is not None:
                    best, progress, restart = new, True, True
                    break
        return best, progress

    def blocks(self, best):
        return self.sweep(best, self.ddmin)

    def ddmin(self, best, path, block):
        """A smaller program (statements of the block at `path` removed) or None."""
        changed = None
        n = 2 if len(block) > 1 else 1
        while block and self.tests < self.budget:
            size = max(1, -(-len(block) // n))
            removed = False
            for start in range(0, len(block), size):
                rest = block[:start] + block[start + size:]
                ok, cand = self.check(self.with_block(best, path, rest))
                if ok:
                    best, changed, removed = cand, cand, True
                    block = self.get_block(best, path) or []
                    n = max(n - 1, 2) if len(block) > 1 else 1
                    break
            if removed:
                continue
            if size == 1:
                break
            n = min(len(block), n * 2)
        return changed

    def replacements(self, best):
        return self.sweep(best, self.replace_one)

    def replace_one(self, best, path, block):
        """The program with one statement of the block replaced by a simpler
        alternative, or None."""
        for i, s in enumerate(block):
            for alt in self.alternatives(s):
                new_block = block[:i] + alt + block[i + 1:]
                ok, cand = self.check(self.with_block(best, path, new_block))
                if ok:
                    return cand
        return None

    @staticmethod
    def alternatives(s):
        """Replacement statement lists for `s`, simplest first."""
        alts = []
        if s.compound:
            bodies = [b for _, b in s.clauses if b is not None]
            for b in bodies:
                if b:
                    alts.append(list(b))
            if s.clauses[0][0] == "try:" and s.clauses[-1][0] == "finally:":
                alts.append(list(s.clauses[0][1]) + list(s.clauses[-1][1]))
        for simpler in s.simpler:
            alts.append([simpler])
        if s.names is not None and len(s.names) > 1:
            for k in range(len(s.names)):
                alts.append([Stmt(s.clauses, s.uses, s.defines, s.simpler,
                                  s.names[:k] + s.names[k + 1:], s.template)])
        return alts


# -- the fuzz run ----------------------------------------------------------------

class Fuzz:
    """One `loopspec fuzz` run."""

    def __init__(self, impl, seed, count, out_dir, timeout=DEFAULT_TIMEOUT,
                 shrink_tests=DEFAULT_SHRINK_TESTS, jobs=None, progress=None,
                 note=None, startup_timeout=STARTUP_TIMEOUT, model=registry.MODEL):
        self.impl = impl
        self.profile = impl.profile
        self.seed = seed
        self.count = count
        self.out_dir = out_dir
        self.timeout = timeout
        self.shrink_tests = shrink_tests
        self.jobs = jobs or max(2, os.cpu_count() or 1)
        self.progress = progress or (lambda text: None)
        self.note = note or (lambda text: None)
        self.startup_timeout = startup_timeout
        self.model = model
        self.features = Features.for_impl(impl)
        self.work = tempfile.mkdtemp(prefix="loopspec-fuzz-")
        self.divergences = []
        self.flaky = []
        self.programs = 0
        self.unfit = 0          # generated programs the model found unfit (regenerated)
        self.malformed = []     # generator bugs: programs the model rejected
        self.gave_up = 0
        self.shrunk = {}        # shrunk program text -> case path
        self.signatures = {}    # signature() -> case paths shrunk for it
        self.stats = {"model_s": 0.0, "impl_s": 0.0, "shrink_s": 0.0}
        self._lock = threading.Lock()

    # -- producing fit programs (in worker processes: generating a program is
    # Python, and threads would share one core through the interpreter lock)
    def produce(self, index):
        """(index, attempt, program, text, ModelResult, unfit, path) of a fit
        program, or (index, None, ...) after MAX_ATTEMPTS unfit ones."""
        out = produce(self.seed, index, self.features, self.profile, self.model, self.work)
        return self.merge(out)

    def merge(self, out):
        """Records what a producer measured and found; its result."""
        result, model_s, malformed = out
        with self._lock:
            self.stats["model_s"] += model_s
            self.malformed.extend(malformed)
        return result

    def execute(self):
        """Run the fuzz loop; returns the JSON document."""
        runner = ImplRunner(self.impl, self.profile, self.timeout, self.startup_timeout)
        started = time.monotonic()
        try:
            try:
                runner.start()
            except AdapterFailure as exc:
                raise RuntimeError(str(exc))
            self.ready_s = time.monotonic() - started
            self.started = time.monotonic()
            with producers(self.jobs) as pool:
                def submit(i):
                    return pool.submit(produce, self.seed, i, self.features, self.profile,
                                       self.model, self.work)
                window = []
                nxt = 0
                while nxt < self.count and len(window) < 2 * self.jobs + 2:
                    window.append(submit(nxt))
                    nxt += 1
                while window:
                    fut = window.pop(0)
                    if nxt < self.count:
                        window.append(submit(nxt))
                        nxt += 1
                    self.consume(runner, *self.merge(fut.result()))
            self.elapsed = time.monotonic() - self.started
        finally:
            runner.close()
            shutil.rmtree(self.work, ignore_errors=True)
        return self.document()

    def consume(self, runner, index, attempt, prog, text, mr, unfit, path):
        self.unfit += unfit
        if attempt is None:
            self.gave_up += 1
            return
        self.programs += 1
        started = time.monotonic()
        status, trace, error = runner.run("fuzz/%d" % index, text, path)
        self.stats["impl_s"] += time.monotonic() - started
        if status == "ok" and same(mr.trace, trace):
            os.unlink(path)
            self.report_progress()
            return
        # Confirm: a divergence must show again on a second run.
        status2, trace2, error2 = runner.run("fuzz/%d" % index, text, path)
        if (status2, list(trace2)) != (status, list(trace)) and not (
                status == status2 and status != "ok"):
            self.flaky.append({"program": index, "attempt": attempt,
                               "expected": mr.trace, "actual": [trace, trace2],
                               "status": [status, status2]})
            self.note("program %d (seed %s): the implementation answered differently "
                      "on a second run; not shrunk" % (index, self.seed))
            os.unlink(path)
            return
        self.divergence(runner, index, attempt, prog, text, mr, status, trace, error)
        os.unlink(path)
        self.report_progress()

    def report_progress(self):
        elapsed = time.monotonic() - self.started
        self.progress("[%d/%d %.0fs %.1f/s] %s: %d divergence%s" % (
            self.programs, self.count, elapsed, self.programs / max(elapsed, 1e-6),
            self.impl.name, len(self.divergences), "" if len(self.divergences) == 1 else "s"))

    def kind_of(self, status, mtrace, trace):
        return "FAIL" if status == "ok" else status

    def divergence(self, runner, index, attempt, prog, text, mr, status, trace, error):
        kind = self.kind_of(status, mr.trace, trace)
        sig = signature(kind, mr.trace, trace, error)
        if sig is not None and len(self.signatures.get(sig, ())) >= SHRINK_PER_SIGNATURE:
            entry = {"expected": mr.trace, "actual": trace, "status": kind,
                     "program": index, "attempt": attempt, "seed": self.seed,
                     "impl": self.impl.name, "profile": self.profile,
                     "case": self.signatures[sig][0], "duplicate": True, "shrunk": False}
            if error:
                entry["error"] = error
            self.divergences.append(entry)
            return
        shrink_path = os.path.join(self.work, "shrink-%d.case" % index)
        last = {}

        def test(cand, program_text):
            ctext = case_text(program_text, self.profile)
            with open(shrink_path, "w", encoding="utf-8") as f:
                f.write(ctext)
            cmr = run_model(shrink_path, self.profile, self.model)
            if cmr.unfit():
                return False
            st, tr, err = runner.run("fuzz/%d-shrink" % index, ctext, shrink_path)
            if st == "ok" and same(cmr.trace, tr):
                return False
            if self.kind_of(st, cmr.trace, tr) != kind:
                return False
            last[program_text] = (cmr.trace, st, tr, err)
            return True

        self.progress("shrinking program %d (%s)..." % (index, kind))
        started = time.monotonic()
        # A hang costs the whole timeout and a crash a restart of the adapter
        # per test: fewer tests for those.
        budget = {"TIMEOUT": 30, "CRASH": 120}.get(kind, self.shrink_tests)
        shrinker = Shrinker(test, min(budget, self.shrink_tests))
        small = shrinker.shrink(prog)
        self.stats["shrink_s"] += time.monotonic() - started
        program_text = small.render()
        if program_text in last:
            expected, st, actual, err = last[program_text]
        else:
            expected, st, actual, err = mr.trace, status, trace, error
        entry = {"expected": expected, "actual": actual, "status": kind,
                 "program": index, "attempt": attempt, "seed": self.seed,
                 "impl": self.impl.name, "profile": self.profile,
                 "shrink_tests": shrinker.tests,
                 "statements": [prog.size(), small.size()]}
        if err:
            entry["error"] = err
        if program_text in self.shrunk:
            entry["case"] = self.shrunk[program_text]
            entry["duplicate"] = True
        else:
            entry["case"] = self.write_case(index, program_text, expected, actual, st, err)
            self.shrunk[program_text] = entry["case"]
        if sig is not None:
            self.signatures.setdefault(sig, []).append(entry["case"])
        self.divergences.append(entry)

    def write_case(self, index, program_text, expected, actual, status, error):
        os.makedirs(self.out_dir, exist_ok=True)
        digest = hashlib.sha1(program_text.encode()).hexdigest()[:8]
        name = "%s-seed%s-%d-%s.case" % (self.impl.name, re.sub(r"[^A-Za-z0-9_-]", "_",
                                                                  str(self.seed)),
                                          index, digest)
        path = os.path.join(self.out_dir, name)
        div = first_divergence(expected, actual)
        if status != "ok":
            title = "fuzz: %s gives %s where the model runs to the end" % (
                self.impl.name, status)
        elif div:
            title = "fuzz: %s diverges from the model at trace line %d" % (
                self.impl.name, div[0] + 1)
        else:
            title = "fuzz: %s diverges from the model" % self.impl.name
        comment = ["shrunk from program %d of `loopspec fuzz --impl %s --seed %s`"
                   % (index, self.impl.name, self.seed),
                   "profile %s; the expect block is the model's trace" % self.profile, ""]
        width = max([len("model")] + [len(e) for e in expected])
        comment.append("%s | %s" % ("model".ljust(width), self.impl.name))
        for i in range(max(len(expected), len(actual))):
            e = expected[i] if i < len(expected) else ""
            a = actual[i] if i < len(actual) else ""
            mark = " " if (i < len(expected) and i < len(actual) and e.strip() == a.strip()) \
                else "*"
            comment.append(("%s | %s %s" % (e.ljust(width), a, mark)).rstrip())
        if status != "ok":
            comment.append("%s: %s" % (status, (error or "").split("\n")[0][:300]))
        text = case_text(program_text, self.profile, title=title,
                         source="loopspec fuzz --seed %s" % self.seed,
                         comment=comment, expect=expected)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        # Inside the repository: relative to its root (results/fuzz/...).
        root = os.path.dirname(registry.HARNESS)
        full = os.path.abspath(path)
        if full.startswith(root + os.sep):
            return os.path.relpath(full, root)
        return full

    def document(self):
        return {"programs": self.programs,
                "divergences": self.divergences,
                "impl": self.impl.name, "profile": self.profile, "seed": self.seed,
                "count": self.count, "unfit_regenerated": self.unfit,
                "gave_up": self.gave_up, "flaky": self.flaky,
                "malformed": [{"program": i, "attempt": a, "error": m}
                              for i, a, m in self.malformed],
                "seconds": round(getattr(self, "elapsed", 0.0), 2),
                "programs_per_second": round(self.programs / max(getattr(self, "elapsed", 0.0),
                                                                 1e-6), 1),
                "shrink_seconds": round(self.stats["shrink_s"], 2),
                # Time per program on each side, shrinking left out: the
                # implementation's (one request to its adapter) and the
                # model's (generation excluded; it runs in --jobs threads,
                # ahead of the implementation).
                "impl_ms_per_program": round(1000 * self.stats["impl_s"]
                                             / max(self.programs, 1), 2),
                "model_ms_per_program": round(1000 * self.stats["model_s"]
                                              / max(self.programs + self.unfit, 1), 2)}


def write_json(path, doc):
    """Write `doc` atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".fuzz-", suffix=".json", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main_stub():  # pragma: no cover - `harness/loopspec fuzz` is the entry point
    sys.stderr.write("run `harness/loopspec fuzz --impl ID`\n")
    return 2


# -- the command line (`harness/loopspec fuzz`) ----------------------------------

USAGE = """\
fuzz   differential fuzzing: generates random valid case programs (tasks,
       direct and nested awaits, sleep(0), suspend(), timers 50 ms apart,
       futures and done callbacks, call_soon/call_later, a context variable,
       cancellation with and without messages, gather, Lock, Event, Queue,
       exceptions), each fit for a comparison on the model (it finishes,
       leaves at most one task to the teardown, gives every timer its own
       deadline, sleeps at most 0.35 s); runs each on the model under the
       implementation's profile and on the implementation (one adapter
       process); shrinks every divergence (a different trace, or TIMEOUT,
       CRASH, ERROR) by delta debugging over statements and functions and
       writes the minimal program as a case file under --out, with both
       traces in a comment and the model's trace as its expect block.
       `--impl model` compares the model with itself (generator and model
       throughput).  Exit 1 when a divergence was found.
  --impl ID                one implementation (required)
  --count N                programs to run (default 100)
  --seed S                 the run's seed (default: a random one, printed);
                           the same seed and implementation give the same
                           programs
  --json FILE              write {"programs": N, "divergences": [{"case",
                           "expected", "actual", ...}], ...} (atomically)
  --out DIR                where shrunk cases go (default results/fuzz)
  --timeout S              seconds per program on the implementation (10)
  --shrink-tests N         runs of both sides per shrink at most (400)
  --jobs N                 threads generating and running the model (CPUs)
  --max-memory MIB, --max-trace-lines N, --max-trace-bytes N
                           the adapters' limits, as for run (SECURITY.md)

"""


def add_parser(sub):
    """The `fuzz` subcommand's options."""
    p = sub.add_parser("fuzz")
    p.add_argument("--impl", default="")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--seed")
    p.add_argument("--json")
    p.add_argument("--out")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    p.add_argument("--shrink-tests", type=int, default=DEFAULT_SHRINK_TESTS)
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--startup-timeout", type=float, default=None)
    return p


def command(args, select_impls, usage_error, say, note, ticker, root):
    """Run `loopspec fuzz`; returns the exit status (UsageError for 2)."""
    if "," in args.impl or args.impl == "all":
        raise usage_error("fuzz runs one implementation: --impl ID")
    for name, value in (("--count", args.count), ("--shrink-tests", args.shrink_tests),
                        ("--jobs", args.jobs)):
        if value is not None and value < (0 if name == "--shrink-tests" else 1):
            raise usage_error("%s needs a positive integer" % name)
    for name, value in (("--timeout", args.timeout), ("--startup-timeout",
                                                       args.startup_timeout)):
        if value is not None and value <= 0:
            raise usage_error("%s needs a positive number" % name)
    impls, _ = select_impls([args.impl])
    impl = impls[0]
    if not os.path.exists(registry.MODEL):
        raise usage_error("%s is missing: run `make model`" % registry.MODEL)
    seed = args.seed
    if seed is None:
        seed = str(random.SystemRandom().randrange(10 ** 6))
    elif not re.match(r"^[A-Za-z0-9_.-]{1,64}$", seed):
        raise usage_error("--seed takes letters, digits, '.', '_' and '-' (got %r)" % seed)
    out = args.out or os.path.join(root, "results", "fuzz")
    note("fuzz: %d programs on %s [%s], seed %s" % (args.count, impl.name, impl.profile, seed))
    fz = Fuzz(impl, seed, args.count, out, timeout=args.timeout,
              shrink_tests=args.shrink_tests, jobs=args.jobs, progress=ticker,
              note=note, startup_timeout=args.startup_timeout or STARTUP_TIMEOUT)
    interrupted = False
    try:
        doc = fz.execute()
    except RuntimeError as exc:
        ticker.clear()
        note("%s: %s" % (impl.name, exc))
        return 1
    except KeyboardInterrupt:
        interrupted = True
        fz.elapsed = time.monotonic() - getattr(fz, "started", time.monotonic())
        doc = fz.document()
        doc["interrupted"] = True
    ticker.clear()
    for line in summary(doc, fz):
        say(line)
    if args.json:
        write_json(args.json, doc)
    if interrupted:
        return 130
    return 1 if doc["divergences"] else 0


def summary(doc, fz=None):
    """The closing lines of a fuzz run."""
    out = []
    for d in doc["divergences"]:
        div = first_divergence(d["expected"], d["actual"])
        where = ""
        if d["status"] == "FAIL" and div:
            where = ": line %d, model %r, %s %r" % (div[0] + 1, div[1], d["impl"], div[2])
        elif d.get("error"):
            where = ": " + d["error"].split("\n")[0][:160]
        if d.get("shrunk") is False:
            continue
        out.append("%s %s%s%s" % (d["status"], d["case"],
                                  " (same as above)" if d.get("duplicate") else "", where))
    repeats = sum(1 for d in doc["divergences"] if d.get("shrunk") is False)
    if repeats:
        out.append("%d more divergences repeat a mechanism shrunk twice already (not shrunk)"
                   % repeats)
    if doc["malformed"]:
        out.append("generator bug: %d programs rejected by the model, e.g. %s"
                   % (len(doc["malformed"]), doc["malformed"][0]["error"].split("\n")[0]))
    if doc["flaky"]:
        out.append("%d programs answered differently on a second run (not shrunk): %s"
                   % (len(doc["flaky"]), ", ".join(str(f["program"]) for f in doc["flaky"])))
    distinct = len({d["case"] for d in doc["divergences"]})
    out.append("%d programs on %s [%s], seed %s: %d divergence%s (%d distinct shrunk cases); "
               "%.1f programs/s (%.1fs, %.1fs shrinking; %.1f ms per program on %s, "
               "%.1f ms per model run); %d unfit programs regenerated"
               % (doc["programs"], doc["impl"], doc["profile"], doc["seed"],
                  len(doc["divergences"]), "" if len(doc["divergences"]) == 1 else "s",
                  distinct, doc["programs_per_second"], doc["seconds"],
                  doc["shrink_seconds"], doc.get("impl_ms_per_program", 0), doc["impl"],
                  doc.get("model_ms_per_program", 0), doc["unfit_regenerated"]))
    return out
