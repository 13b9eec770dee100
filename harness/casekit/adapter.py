"""Drive one adapter process over the JSON-lines protocol (ADAPTERS.md).

`AdapterProcess` starts the adapter, waits for its ready line, sends
requests and reads replies with a deadline.  On a hang it kills the process
(and its process group, so children such as the model go too); on a crash it
reports the exit status or signal and the tail of stderr; on a reply that is
not JSON, or that answers another request, it kills the process and reports
garbage.  In every case the next request starts a fresh process, so one bad
case never stops a run.
"""

import collections
import json
import os
import selectors
import signal
import subprocess
import threading
import time

STARTUP_TIMEOUT = 120.0

# Resource limits per adapter process (SECURITY.md), on by default; the
# commands' --max-memory, --max-trace-lines and --max-trace-bytes set them.
DEFAULT_MAX_MEMORY_MIB = 2048
DEFAULT_MAX_TRACE_LINES = 100000
DEFAULT_MAX_TRACE_BYTES = 8 * 1024 * 1024
OUTPUT_LIMIT = 65536   # characters of stdout and of stderr an adapter sends per reply


class Limits:
    """The limits of one adapter process.

    `memory_mib` caps the process's memory (RLIMIT_AS; RLIMIT_DATA for Node,
    whose WebAssembly reserves address space it never uses), inherited by
    its children; 0 means no cap.  `trace_lines` and `trace_bytes` bound
    one run's trace: each request carries them (`limits`, ADAPTERS.md) and
    the adapter stops the program past one, with an error naming it; the
    harness reads no reply line longer than `reply_bytes`, which a trace
    within the limits cannot reach, and kills an adapter that writes one.
    """

    def __init__(self, memory_mib=DEFAULT_MAX_MEMORY_MIB,
                 trace_lines=DEFAULT_MAX_TRACE_LINES, trace_bytes=DEFAULT_MAX_TRACE_BYTES):
        self.memory_mib = int(memory_mib)
        self.trace_lines = int(trace_lines)
        self.trace_bytes = int(trace_bytes)

    @property
    def reply_bytes(self):
        """The longest reply line read: the trace's bytes JSON-escaped (at
        most 6 per byte), 8 per line for quotes and commas, the program's
        clipped output, and 1 MiB for the rest."""
        return (6 * self.trace_bytes + 8 * self.trace_lines + 12 * OUTPUT_LIMIT
                + (1 << 20))

    def request_fields(self):
        """The request's `limits` object."""
        return {"max_trace_lines": self.trace_lines, "max_trace_bytes": self.trace_bytes,
                "max_memory_mib": self.memory_mib}

    def apply(self, pid, argv):
        """Cap the memory of the started process `pid` (Linux prlimit)."""
        if not self.memory_mib:
            return
        try:
            import resource
        except ImportError:  # not a POSIX system
            return
        node = os.path.basename(argv[0]).startswith("node")
        which = resource.RLIMIT_DATA if node else resource.RLIMIT_AS
        cap = self.memory_mib * 1024 * 1024
        try:
            resource.prlimit(pid, which, (cap, cap))
        except (OSError, ValueError, AttributeError):
            pass

    def __repr__(self):
        return "Limits(%d MiB, %d lines, %d bytes)" % (
            self.memory_mib, self.trace_lines, self.trace_bytes)


LIMITS = Limits()


def configure(memory_mib=None, trace_lines=None, trace_bytes=None):
    """Set the limits every AdapterProcess started from now on gets (the
    commands' --max-memory, --max-trace-lines, --max-trace-bytes)."""
    global LIMITS
    LIMITS = Limits(LIMITS.memory_mib if memory_mib is None else memory_mib,
                    LIMITS.trace_lines if trace_lines is None else trace_lines,
                    LIMITS.trace_bytes if trace_bytes is None else trace_bytes)
    return LIMITS


class AdapterFailure(Exception):
    """A request got no usable reply.

    `kind` is 'timeout' (no reply in time), 'crash' (the adapter died),
    'garbage' (a reply that is not a JSON object or answers another request),
    'limit' (a reply line over the limit: the adapter was killed) or
    'unavailable' (the adapter cannot start).
    """

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class AdapterProcess:
    """One adapter process, restarted on demand."""

    def __init__(self, name, argv, startup_timeout=STARTUP_TIMEOUT, limits=None):
        self.name = name
        self.argv = list(argv)
        self.startup_timeout = startup_timeout
        self.limits = limits or LIMITS
        self.proc = None
        self.ready = None
        self.broken = None  # why the adapter cannot start, once it failed to
        self.starts = 0
        self._buf = b""
        self._stderr = collections.deque(maxlen=40)
        self._sel = None
        self._next_id = 0
        self._pending_case = None

    # -- process life -------------------------------------------------
    def start(self):
        """Launch the process (without waiting for its ready line)."""
        if self.proc is not None or self.broken:
            return
        self._buf = b""
        self._stderr.clear()
        self.ready = None
        try:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, bufsize=0, start_new_session=True)
        except OSError as exc:
            self.broken = "cannot start %s: %s" % (self.argv[0], exc)
            return
        self.limits.apply(self.proc.pid, self.argv)
        self.starts += 1
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        threading.Thread(target=self._drain_stderr, args=(self.proc,),
                         daemon=True).start()

    def _drain_stderr(self, proc):
        """Keep the last lines of stderr so a crash can be explained."""
        while True:
            line = proc.stderr.readline(65536)  # bounded: no line held whole
            if not line:
                break
            text = line.decode("utf-8", "replace").rstrip("\n")
            if len(text) > 400:  # e.g. a line of minified JavaScript
                text = text[:400] + " [...]"
            self._stderr.append(text)

    def ensure_ready(self):
        """Start if needed and wait for the ready line; raise AdapterFailure."""
        if self.broken:
            raise AdapterFailure("unavailable", self.broken)
        self.start()
        if self.broken:
            raise AdapterFailure("unavailable", self.broken)
        if self.ready is not None:
            return self.ready
        try:
            line = self._readline(time.monotonic() + self.startup_timeout)
            ready = json.loads(line)
            if not isinstance(ready, dict) or ready.get("ready") is not True:
                raise ValueError("not a ready line: %r" % line[:200])
        except AdapterFailure as exc:
            self.kill()
            if exc.kind == "timeout":
                exc = "no ready line within %gs" % self.startup_timeout
            self.broken = "adapter did not start: %s" % exc
            raise AdapterFailure("unavailable", self.broken)
        except ValueError as exc:
            self.kill()
            self.broken = "adapter did not start: %s" % exc
            raise AdapterFailure("unavailable", self.broken)
        self.ready = ready
        return ready

    def kill(self):
        """Stop the process now."""
        proc, self.proc = self.proc, None
        self.ready = None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
        else:
            try:  # children left behind by a dead adapter
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if self._sel is not None:
            self._sel.close()
            self._sel = None

    def close(self):
        """Close stdin so the adapter exits; kill it if it lingers."""
        proc = self.proc
        if proc is None:
            return
        try:
            proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def stderr_tail(self, lines=8):
        """The last lines the adapter wrote to stderr."""
        return "\n".join(list(self._stderr)[-lines:])

    # -- requests -----------------------------------------------------
    def send(self, case, program, line, profile, **extra):
        """Send one request; return its id.  Raise AdapterFailure.

        `extra` fields (e.g. `path`, the case file) go into the request too.
        """
        self.ensure_ready()
        self._next_id += 1
        request = {"id": self._next_id, "case": case, "program": program,
                   "line": line, "profile": profile,
                   "limits": self.limits.request_fields()}
        request.update(extra)
        return self._write(request, case)

    def send_latency(self, spec):
        """Send a latency request (ADAPTERS.md, "Timer latency"); return its id."""
        self.ensure_ready()
        self._next_id += 1
        return self._write({"id": self._next_id, "latency": spec}, None)

    def _write(self, request, case):
        """Write one request line; its id. A dead adapter is a crash."""
        self._pending_case = case
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
            self.proc.stdin.flush()
        except OSError:
            raise self._crashed()
        return request["id"]

    def receive(self, request_id, deadline):
        """The reply to `request_id` by `deadline` (time.monotonic())."""
        try:
            line = self._readline(deadline)
        except AdapterFailure as exc:
            if exc.kind == "timeout":
                self.kill()
            raise
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            self.kill()
            raise AdapterFailure("garbage", "adapter wrote a line that is not "
                                 "a JSON object: %r" % line[:200])
        if reply.get("id") != request_id:
            self.kill()
            raise AdapterFailure("garbage", "reply id %r, expected %r"
                                 % (reply.get("id"), request_id))
        case = self._pending_case
        if case is not None and "case" in reply and reply["case"] != case:
            self.kill()
            raise AdapterFailure("garbage", "reply for case %r, expected %r"
                                 % (reply["case"], case))
        wanted = ("trace", "error") if case is not None else ("latency", "error")
        if not any(key in reply for key in wanted):
            self.kill()
            raise AdapterFailure("garbage", "reply has neither %s nor error: %r"
                                 % (wanted[0], line[:200]))
        if "trace" in reply and not (isinstance(reply["trace"], list) and all(
                isinstance(t, str) for t in reply["trace"])):
            self.kill()
            raise AdapterFailure("garbage", "trace is not a list of strings: %r"
                                 % line[:200])
        return reply

    def request(self, case, program, line, profile, timeout, **extra):
        """Send one request and wait for its reply."""
        request_id = self.send(case, program, line, profile, **extra)
        return self.receive(request_id, time.monotonic() + timeout)

    def _readline(self, deadline):
        """One line from stdout by `deadline`; raise AdapterFailure.

        A line longer than the limits allow kills the adapter (no more of
        it is read or kept): AdapterFailure('limit')."""
        limit = self.limits.reply_bytes
        while b"\n" not in self._buf:
            if len(self._buf) > limit:
                self._buf = b""
                self.kill()
                raise AdapterFailure(
                    "limit", "reply longer than %d bytes: the trace is over the limit "
                    "(--max-trace-bytes %d, --max-trace-lines %d); the adapter was killed "
                    "and restarted" % (limit, self.limits.trace_bytes, self.limits.trace_lines))
            if self.proc is None or self._sel is None:
                raise AdapterFailure("crash", "the adapter was stopped")
            remaining = max(0.0, deadline - time.monotonic())
            events = self._sel.select(remaining)
            if not events:
                raise AdapterFailure("timeout", "no reply in time")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise self._crashed()
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode("utf-8", "replace")

    def _crashed(self):
        """Reap a dead adapter; the AdapterFailure that reports it."""
        proc = self.proc
        try:
            status = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            status = None
        time.sleep(0.05)  # let the stderr thread catch the last lines
        tail = self.stderr_tail()
        self.kill()
        if status is not None and status < 0:
            try:
                name = signal.Signals(-status).name
            except ValueError:
                name = "signal %d" % -status
            message = "adapter killed by signal %d (%s)" % (-status, name)
        else:
            message = "adapter exited with status %s" % status
        if tail:
            message += ": " + tail
        return AdapterFailure("crash", message)
