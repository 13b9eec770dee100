"""Benchmarks and timer latency through the adapters (`loopspec bench`, `latency`).

Benchmarks.  A benchmark case has the header `bench: N`, the operations one
run of its program performs.  Each implementation gets one adapter process
for all the cases; each case is sent as a request with `"bench": true`, and
the adapter times the run itself, with its implementation's monotonic clock,
around the run of the program only (ADAPTERS.md): the reply's `elapsed_ns`.
The first run is a warm-up (PyPy's JIT, the caches, the allocator) and is
not counted; the next K give ns per operation as median, min and max.  Every
run's trace must match the case's expect block, so a run that skipped the
work cannot count.  A case the implementation cannot run (a missing feature,
a profile the case excludes, a timeout, an error, a wrong trace) is skipped
with a note saying why.

With a time budget (`max_seconds`), a case whose warm-up shows that K runs
would exceed the budget gets fewer runs (at least one); the entry's `runs`
says how many counted.

One implementation at a time (the default), the runs go in rounds: round 0
warms up every case on every implementation, round r times each case once
on each implementation, in the same order, before round r + 1 starts.  Every
adapter stays up for the whole run, and a slow drift of the machine (another
process, the CPU's clock) falls on every implementation alike instead of
on whichever ran during it; the ratios within one run are then the figures
to trust.  With `jobs` > 1, implementations run side by side, each through
all its runs, and each is timed beside a different neighbour.

Timer latency.  A latency request asks the adapter to measure, on a fresh
loop of its kind, how late `await sleep(d)` wakes for each delay d:
elapsed time minus d, in microseconds, for `samples` sleeps each.  Only
loops that sleep in real time are asked (the registry's `real_time`).
"""

import os
import queue
import threading
import time

from . import cases as caselib
from .adapter import STARTUP_TIMEOUT, AdapterFailure, AdapterProcess
from .runner import applies, has_feature

DEFAULT_REPEAT = 5
DEFAULT_DELAYS_MS = (0, 0.1, 0.5, 1, 2, 5)
DEFAULT_SAMPLES = 100


def median(values):
    """The median of a non-empty list of numbers."""
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def stats(values):
    """{"median", "min", "max"} of a non-empty list, rounded to 0.01."""
    return {"median": round(median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2)}


def percentile(values, q):
    """The q-th percentile (0..100) of a non-empty list, by linear interpolation."""
    v = sorted(values)
    if len(v) == 1:
        return float(v[0])
    pos = (len(v) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def summary(values):
    """min, p5, p25, median, p75, p95, p99, max and mean of a list (rounded)."""
    out = {"n": len(values)}
    if not values:
        return out
    for name, q in (("min", 0), ("p5", 5), ("p25", 25), ("median", 50), ("p75", 75),
                    ("p95", 95), ("p99", 99), ("max", 100)):
        out[name] = round(percentile(values, q), 1)
    out["mean"] = round(sum(values) / len(values), 1)
    return out


class Skip(Exception):
    """A case that cannot be benchmarked on an implementation; str() says why."""


class BenchRun:
    """Benchmark cases x implementations.

    `progress(text)` is called (from worker threads, under a lock) before
    each run.  `jobs` implementations run at once (default 1: benchmarks on
    a busy machine measure the machine).
    """

    def __init__(self, cases, impls, repeat=DEFAULT_REPEAT, multiplier=1.0,
                 startup_timeout=STARTUP_TIMEOUT, max_seconds=None, jobs=1,
                 progress=None):
        self.cases = [c for c in cases if c.bench > 0]
        self.impls = impls
        self.repeat = max(1, repeat)
        self.multiplier = multiplier
        self.startup_timeout = startup_timeout
        self.max_seconds = max_seconds
        self.jobs = max(1, jobs)
        self.progress = progress
        self.entries = []
        self.skipped = []   # {"case", "impl", "why"}
        self.ready = {}     # impl id -> ready line
        self._lock = threading.Lock()
        self._adapters = []
        self._aborted = False

    def _say(self, text):
        if self.progress is not None:
            with self._lock:
                self.progress(text)

    def execute(self):
        """Run everything; returns (entries, skipped) sorted by case, then impl."""
        if self.jobs == 1:
            self._rounds()
            return self._sorted()
        work = queue.Queue()
        for impl in self.impls:
            work.put(impl)
        threads = [threading.Thread(target=self._worker, args=(work,), daemon=True)
                   for _ in range(min(self.jobs, len(self.impls)))]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
        except KeyboardInterrupt:
            self.abort()
            raise
        return self._sorted()

    def _sorted(self):
        order = {impl.name: k for k, impl in enumerate(self.impls)}
        key = lambda e: (e["case"], order.get(e["impl"], 0))  # noqa: E731
        self.entries.sort(key=key)
        self.skipped.sort(key=key)
        return self.entries, self.skipped

    def abort(self):
        """Kill every adapter now."""
        self._aborted = True
        with self._lock:
            adapters = list(self._adapters)
        for adapter in adapters:
            adapter.kill()

    def _worker(self, work):
        while not self._aborted:
            try:
                impl = work.get_nowait()
            except queue.Empty:
                return
            self.run_impl(impl)

    def _rounds(self):
        """Interleaved rounds, every adapter up for the whole run."""
        adapters = {}
        for impl in self.impls:
            adapter = AdapterProcess(impl.name, impl.argv, self.startup_timeout)
            problem = impl.unavailable()
            if problem:
                adapter.broken = "%s is not available: %s" % (impl.name, problem)
            adapters[impl.name] = adapter
            with self._lock:
                self._adapters.append(adapter)
        plan = {}    # (case id, impl name) -> [profile, runs wanted, times] while in play
        try:
            for rnd in range(self.repeat + 1):
                for case in self.cases:
                    for impl in self.impls:
                        if self._aborted:
                            return
                        key = (case.id, impl.name)
                        adapter = adapters[impl.name]
                        try:
                            if rnd == 0:
                                profile = self.check(adapter, impl, case)
                                self._say("%s %s warm-up" % (impl.name, case.id))
                                elapsed = self.once(adapter, impl, case, profile)
                                runs = self.repeat
                                if self.max_seconds:
                                    fit = int(self.max_seconds / max(elapsed / 1e9, 1e-9))
                                    runs = max(1, min(runs, fit))
                                plan[key] = [profile, runs, []]
                                continue
                            if key not in plan or rnd > plan[key][1]:
                                continue
                            profile, runs, times = plan[key]
                            self._say("%s %s run %d/%d" % (impl.name, case.id, rnd, runs))
                            times.append(self.once(adapter, impl, case, profile) / case.bench)
                        except Skip as exc:
                            plan.pop(key, None)
                            self._skip(case, impl, str(exc))
            for case in self.cases:
                for impl in self.impls:
                    entry = plan.get((case.id, impl.name))
                    if entry and entry[2]:
                        self.entries.append({"case": case.id, "impl": impl.name,
                                             "ns_per_op": stats(entry[2]),
                                             "runs": len(entry[2])})
        finally:
            for name, adapter in adapters.items():
                if adapter.ready is not None:
                    self.ready.setdefault(name, adapter.ready)
                adapter.close()

    def _skip(self, case, impl, why):
        with self._lock:
            self.skipped.append({"case": case.id, "impl": impl.name, "why": why})

    def run_impl(self, impl):
        """Every case on one implementation, with one adapter process."""
        adapter = AdapterProcess(impl.name, impl.argv, self.startup_timeout)
        problem = impl.unavailable()
        if problem:
            adapter.broken = "%s is not available: %s" % (impl.name, problem)
        with self._lock:
            self._adapters.append(adapter)
        try:
            for case in self.cases:
                if self._aborted:
                    return
                try:
                    entry = self.run_case(adapter, impl, case)
                except Skip as exc:
                    self._skip(case, impl, str(exc))
                    continue
                with self._lock:
                    self.entries.append(entry)
        finally:
            if adapter.ready is not None:
                with self._lock:
                    self.ready.setdefault(impl.name, adapter.ready)
            adapter.close()

    def check(self, adapter, impl, case):
        """The profile to time `case` under on `impl`; raises Skip."""
        profile = impl.profile
        if case.rejected:
            raise Skip("rejected by the model: %s" % case.error)
        if not applies(case, profile):
            raise Skip("the case's profiles (%s) exclude %s"
                       % (" ".join(case.profiles), profile))
        try:
            ready = adapter.ensure_ready()
        except AdapterFailure as exc:
            raise Skip(str(exc))
        listed = ready.get("features")
        available = listed if isinstance(listed, list) else list(impl.features)
        missing = [f for f in case.needs if not has_feature(available, f)]
        if missing:
            raise Skip("%s lacks %s" % (impl.name, ", ".join(missing)))
        if case.expected(profile) is None:
            raise Skip("the case has no expect block for %s" % profile)
        return profile

    def run_case(self, adapter, impl, case):
        """The entry of one case on one implementation, all its runs in a
        row (side by side with other implementations); raises Skip."""
        profile = self.check(adapter, impl, case)
        times = []
        runs = self.repeat
        k = 0
        while k <= runs:  # run 0 is the warm-up
            if self._aborted:
                raise Skip("interrupted")
            self._say("%s %s %s" % (impl.name, case.id,
                                    "warm-up" if k == 0 else "run %d/%d" % (k, runs)))
            elapsed = self.once(adapter, impl, case, profile)
            if k == 0:
                if self.max_seconds:
                    fit = int(self.max_seconds / max(elapsed / 1e9, 1e-9))
                    runs = max(1, min(runs, fit))
            else:
                times.append(elapsed / case.bench)
            k += 1
        return {"case": case.id, "impl": impl.name, "ns_per_op": stats(times),
                "runs": len(times)}

    def once(self, adapter, impl, case, profile):
        """One timed run: its elapsed_ns; raises Skip."""
        timeout = case.timeout * self.multiplier
        try:
            reply = adapter.request(case.id, case.program, case.program_line, profile,
                                    timeout, path=os.path.abspath(case.path), bench=True)
        except AdapterFailure as exc:
            if exc.kind == "timeout":
                raise Skip("no reply within %gs (the case's timeout)" % timeout)
            raise Skip(str(exc))
        if "error" in reply:
            raise Skip("error: %s" % reply["error"])
        trace = [str(line) for line in reply.get("trace", [])]
        ok, why = caselib.match(case.expected(profile), trace)
        if not ok:
            raise Skip("wrong trace, the work was not done as the expect block says: %s"
                       % why)
        elapsed = reply.get("elapsed_ns")
        if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or elapsed <= 0:
            raise Skip("the adapter does not time bench requests (no elapsed_ns)")
        return float(elapsed)


# The I/O latency rows of a latency reply: after a peer's send, until a
# reader callback runs, and until a task blocked in sock_recv resumes.
IO_LATENCY = ("reader", "sock_recv")


class LatencyRun:
    """Timer latency of implementations, one after the other."""

    def __init__(self, impls, delays_ms=DEFAULT_DELAYS_MS, samples=DEFAULT_SAMPLES,
                 startup_timeout=STARTUP_TIMEOUT, progress=None):
        self.impls = impls
        self.delays_ms = list(delays_ms)
        self.samples = samples
        self.startup_timeout = startup_timeout
        self.progress = progress
        self.entries = []
        self.io_entries = []    # how long after a send the I/O phase acts
        self.skipped = []
        self.ready = {}
        self.current = None

    def timeout(self):
        """Seconds a latency request may take: the sleeps and the I/O
        round trips, plus slack."""
        return 60.0 + self.samples * (sum(self.delays_ms) / 1000.0 * 4 + 0.01)

    def execute(self):
        for impl in self.impls:
            if self.progress is not None:
                self.progress("%s latency" % impl.name)
            self.run_impl(impl)
        return self.entries, self.skipped

    def abort(self):
        if self.current is not None:
            self.current.kill()

    def run_impl(self, impl):
        if not impl.real_time:
            self.skipped.append({"impl": impl.name, "why": "its loop runs on a virtual "
                                 "clock: sleep() takes no real time"})
            return
        adapter = AdapterProcess(impl.name, impl.argv, self.startup_timeout)
        problem = impl.unavailable()
        if problem:
            adapter.broken = "%s is not available: %s" % (impl.name, problem)
        self.current = adapter
        try:
            request_id = adapter.send_latency({"delays_ms": self.delays_ms,
                                               "samples": self.samples})
            reply = adapter.receive(request_id, time.monotonic() + self.timeout())
            self.ready[impl.name] = adapter.ready
        except AdapterFailure as exc:
            self.skipped.append({"impl": impl.name, "why": str(exc)})
            return
        finally:
            adapter.close()
            self.current = None
        if "error" in reply:
            self.skipped.append({"impl": impl.name, "why": "error: %s" % reply["error"]})
            return
        data = reply.get("latency")
        try:
            rows = data["late_us"]
            delays = data.get("delays_ms", self.delays_ms)
            if len(rows) != len(delays):
                raise ValueError("%d rows for %d delays" % (len(rows), len(delays)))
            for d, row in zip(delays, rows):
                values = [float(x) for x in row]
                self.entries.append({"impl": impl.name, "delay_ms": d,
                                     "clock": data.get("clock"),
                                     "late_us": summary(values), "samples": values})
        except (TypeError, KeyError, ValueError) as exc:
            self.skipped.append({"impl": impl.name,
                                 "why": "unreadable latency reply: %s" % exc})
            return
        self.read_io(impl, data.get("io"), data.get("clock"))

    def read_io(self, impl, io, clock):
        """The reply's I/O rows (adapters with sockets send them): one entry
        per measurement, or a note of what the loop could not do."""
        if io is None:
            return
        if not isinstance(io, dict):
            self.skipped.append({"impl": impl.name, "why": "unreadable I/O latency reply"})
            return
        for what in IO_LATENCY:
            row = io.get(what)
            problem = io.get(what + "_error") or io.get("error")
            if isinstance(row, list) and row:
                try:
                    values = [float(x) for x in row]
                except (TypeError, ValueError):
                    problem = "unreadable values"
                else:
                    self.io_entries.append({"impl": impl.name, "what": what, "clock": clock,
                                            "after_send_us": summary(values),
                                            "samples": values})
                    continue
            if problem:
                self.skipped.append({"impl": impl.name, "why": "%s: %s" % (what, problem)})
