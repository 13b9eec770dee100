"""Run cases on implementations through their adapters; one result per pair.

One adapter process per implementation serves the whole run (or, with more
jobs than implementations, one per slice of the cases).  Each request gets
the case's timeout (its header's `timeout:`, default 10 s, times the
multiplier); a hang costs that case a TIMEOUT and the adapter a restart, a
crash costs it a CRASH, a garbled reply an ERROR, and the run goes on.

Statuses:
  PASS         the trace matches the expect block of the profile
  FAIL         the trace differs
  UNSUPPORTED  the case needs a feature the implementation lacks
  TIMEOUT      no reply within the case's timeout
  CRASH        the adapter died (exit status or signal in `error`)
  ERROR        an error reply, a garbled reply, an adapter that cannot
               start, or a case the model rejects
  FLAKY        the runs of `--repeat K` did not all agree: different
               statuses, or failing runs with different traces (runs that all
               pass may differ inside an `unordered:` group)
"""

import os
import queue
import threading
import time

from . import cases as caselib
from . import profiles
from .adapter import STARTUP_TIMEOUT, AdapterFailure, AdapterProcess

STATUSES = ("PASS", "FAIL", "UNSUPPORTED", "TIMEOUT", "CRASH", "ERROR", "FLAKY")
OUTPUT_LIMIT = 4000  # characters of a program's stdout/stderr kept per result


def has_feature(available, feature):
    """True when the feature list `available` (maybe with '*') has `feature`."""
    return "*" in available or feature in available


def _clip(text):
    if len(text) <= OUTPUT_LIMIT:
        return text
    return text[:OUTPUT_LIMIT] + "\n[... %d more characters]" % (len(text) - OUTPUT_LIMIT)


def result_for(case, impl, profile, status, **fields):
    """A result dict with the fixed keys first."""
    result = {"case": case.id, "impl": impl.name, "profile": profile,
              "status": status, "trace": fields.pop("trace", []),
              "expected": case.expected(profile) if not case.rejected else None,
              "duration_ms": fields.pop("duration_ms", 0)}
    result.update((k, v) for k, v in fields.items() if v not in (None, "", []))
    return result


def rejected_result(case, impl, profile):
    """The ERROR result of a case the model rejects."""
    return result_for(case, impl, profile, "ERROR", rejected=True,
                      error="rejected by the model: %s" % case.error)


def applies(case, profile):
    """True when the case applies to `profile` (its `profiles:` header)."""
    return case.rejected or case.applies(profile)


class Worker:
    """Runs a list of cases on one implementation with one adapter process."""

    def __init__(self, impl, profile, repeat=1, multiplier=1.0,
                 startup_timeout=STARTUP_TIMEOUT):
        self.impl = impl
        self.profile = profiles.normalize(profile)
        self.repeat = max(1, repeat)
        self.multiplier = multiplier
        self.adapter = AdapterProcess(impl.name, impl.argv, startup_timeout)
        problem = impl.unavailable()
        if problem:
            self.adapter.broken = "%s is not available: %s" % (impl.name, problem)

    def features(self, ready):
        """The features to check cases against: the ready line's, else the registry's."""
        listed = ready.get("features") if isinstance(ready, dict) else None
        if isinstance(listed, list):
            return listed
        return list(self.impl.features)

    def run(self, case):
        """The result of one case (never raises AdapterFailure)."""
        if case.rejected:
            return rejected_result(case, self.impl, self.profile)
        try:
            ready = self.adapter.ensure_ready()
        except AdapterFailure as exc:
            return result_for(case, self.impl, self.profile, "ERROR", error=str(exc))
        available = self.features(ready)
        missing = [f for f in case.needs if not has_feature(available, f)]
        if missing:
            return result_for(case, self.impl, self.profile, "UNSUPPORTED",
                              missing=missing,
                              why="%s lacks %s" % (self.impl.name, ", ".join(missing)))
        if case.expected(self.profile) is None:
            return result_for(case, self.impl, self.profile, "ERROR",
                              error="the case has no expect block for %s" % self.profile)
        runs = []
        for _ in range(self.repeat):
            runs.append(self.attempt(case))
            if runs[-1]["status"] == "TIMEOUT":
                break  # a hang would cost the whole timeout again
        return combine(runs)

    def attempt(self, case):
        """One run of one case."""
        timeout = case.timeout * self.multiplier
        started = time.monotonic()
        try:
            reply = self.adapter.request(case.id, case.program, case.program_line,
                                         self.profile, timeout,
                                         path=os.path.abspath(case.path))
        except AdapterFailure as exc:
            ms = round((time.monotonic() - started) * 1000, 1)
            if exc.kind == "timeout":
                return result_for(case, self.impl, self.profile, "TIMEOUT", duration_ms=ms,
                                  error="no reply within %gs; the adapter was killed "
                                  "and restarted" % timeout)
            status = "CRASH" if exc.kind == "crash" else "ERROR"
            return result_for(case, self.impl, self.profile, status, duration_ms=ms,
                              error=_clip(str(exc)))
        ms = round((time.monotonic() - started) * 1000, 1)
        extra = {"stdout": _clip(reply.get("stdout") or ""),
                 "stderr": _clip(reply.get("stderr") or "")}
        if "error" in reply:
            return result_for(case, self.impl, self.profile, "ERROR", duration_ms=ms,
                              error=_clip(str(reply["error"])), **extra)
        trace = [str(line) for line in reply.get("trace", [])]
        ok, why = caselib.match(case.expected(self.profile), trace)
        if ok:
            return result_for(case, self.impl, self.profile, "PASS", trace=trace,
                              duration_ms=ms, **extra)
        return result_for(case, self.impl, self.profile, "FAIL", trace=trace,
                          duration_ms=ms, why="%s: %s" % (case.expect_block(self.profile), why),
                          **extra)

    def close(self):
        self.adapter.close()


def combine(runs):
    """One result from the runs of --repeat: FLAKY when they disagree."""
    first = runs[0]
    if len(runs) == 1:
        return first
    outcomes = []
    for r in runs:
        key = (r["status"], tuple(r.get("trace") or ()))
        if key not in outcomes:
            outcomes.append(key)
    mean = round(sum(r["duration_ms"] for r in runs) / len(runs), 1)
    if len({status for status, _ in outcomes}) == 1 and (
            len(outcomes) == 1 or first["status"] == "PASS"):
        result = dict(first)
        result["duration_ms"] = mean
        result["runs"] = len(runs)
        if len(outcomes) > 1:
            result["traces"] = [list(trace) for _, trace in outcomes]
        return result
    result = dict(first)
    result["status"] = "FLAKY"
    result["duration_ms"] = mean
    result["runs"] = len(runs)
    counts = {}
    for r in runs:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    result["why"] = "%d runs, %d different outcomes (%s)" % (
        len(runs), len(outcomes), ", ".join("%s x%d" % kv for kv in counts.items()))
    result["traces"] = [list(key[1]) for key in outcomes]
    result["statuses"] = [r["status"] for r in runs]
    errors = []
    for r in runs:
        if r.get("error") and r["error"] not in errors:
            errors.append(r["error"])
    result.pop("error", None)
    if errors:
        result["errors"] = errors[:5]
    return result


class Run:
    """A whole run: cases x implementations, with progress reports.

    `progress(done, total, impl, case_id)` is called from worker threads
    after each result (under a lock).
    """

    def __init__(self, cases, impls, profile=None, repeat=1, multiplier=1.0,
                 jobs=1, startup_timeout=STARTUP_TIMEOUT, progress=None):
        self.cases = cases
        self.impls = impls
        self.profile_override = profiles.normalize(profile) if profile else None
        self.repeat = repeat
        self.multiplier = multiplier
        self.jobs = max(1, jobs)
        self.startup_timeout = startup_timeout
        self.progress = progress
        self.results = []
        self.skipped = []   # (case id, impl id): the case's profiles exclude the impl's
        self.ready = {}     # impl id -> ready line (or {"error": ...})
        self._lock = threading.Lock()
        self._done = 0
        self._workers = []
        self._aborted = False
        self.total = 0

    def profile_of(self, impl):
        return self.profile_override or impl.profile

    def plan(self):
        """Work items: (impl, [cases]) lists, slow starters first."""
        per_impl = max(1, self.jobs // max(1, len(self.impls)))
        items = []
        for impl in self.impls:
            profile = self.profile_of(impl)
            todo = []
            for case in self.cases:
                if applies(case, profile):
                    todo.append(case)
                else:
                    self.skipped.append((case.id, impl.name))
            self.total += len(todo)
            if not todo:
                continue
            chunks = min(per_impl, max(1, len(todo) // 10))
            size = -(-len(todo) // chunks)
            for k in range(chunks):
                part = todo[k * size:(k + 1) * size]
                if part:
                    items.append((impl, part))
        items.sort(key=lambda item: not item[0].slow_start)
        return items

    def execute(self):
        """Run everything; returns the results sorted by case, then impl."""
        items = self.plan()
        work = queue.Queue()
        for item in items:
            work.put(item)
        threads = [threading.Thread(target=self._worker, args=(work,), daemon=True)
                   for _ in range(min(self.jobs, len(items)))]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)  # wake up for KeyboardInterrupt
        except KeyboardInterrupt:
            self.abort()
            raise
        order = {impl.name: k for k, impl in enumerate(self.impls)}
        self.results.sort(key=lambda r: (r["case"], order.get(r["impl"], 0)))
        return self.results

    def abort(self):
        """Kill every adapter now (the adapters run in process groups of their
        own, so an interrupt on the terminal does not reach them)."""
        self._aborted = True
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.adapter.kill()

    def feature_mismatches(self):
        """Lines for implementations whose ready line differs from their
        registry entry: other features, another claimed profile or Python."""
        out = []
        for impl in self.impls:
            ready = self.ready.get(impl.name) or {}
            claimed = ready.get("profile")
            if isinstance(claimed, str) and profiles.known(claimed) and \
                    profiles.normalize(claimed) != impl.profile:
                out.append("%s: its ready line claims profile %s, its registry entry %s"
                           % (impl.name, claimed, impl.profile))
            python = ready.get("python")
            if impl.python and python and python != impl.python:
                out.append("%s: its ready line reports Python %s, its registry entry %s"
                           % (impl.name, python, impl.python))
            listed = ready.get("features")
            if not isinstance(listed, list) or "*" in listed:
                continue
            extra = sorted(set(listed) - set(impl.features))
            missing = sorted(set(impl.features) - set(listed))
            if extra or missing:
                parts = (["also has " + ", ".join(extra)] if extra else []) + (
                    ["lacks " + ", ".join(missing)] if missing else [])
                out.append("%s: its ready line differs from its registry entry: it %s "
                           "(the ready line counts)" % (impl.name, "; it ".join(parts)))
        return out

    def _worker(self, work):
        while not self._aborted:
            try:
                impl, todo = work.get_nowait()
            except queue.Empty:
                return
            worker = Worker(impl, self.profile_of(impl), self.repeat, self.multiplier,
                            self.startup_timeout)
            with self._lock:
                self._workers.append(worker)
            try:
                for case in todo:
                    if self._aborted:
                        return
                    try:
                        result = worker.run(case)
                    except Exception:
                        if self._aborted:  # the adapter was killed under us
                            return
                        raise
                    with self._lock:
                        if worker.adapter.ready and impl.name not in self.ready:
                            self.ready[impl.name] = worker.adapter.ready
                        elif worker.adapter.broken and impl.name not in self.ready:
                            self.ready[impl.name] = {"error": worker.adapter.broken}
                        self.results.append(result)
                        self._done += 1
                        if self.progress:
                            self.progress(self._done, self.total, impl.name, case.id)
            finally:
                worker.close()
