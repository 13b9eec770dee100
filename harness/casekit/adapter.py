"""Drive one adapter process over the JSON-lines protocol (ADAPTERS.md).

`AdapterProcess` starts the adapter, waits for its ready line, sends
requests and reads replies with a deadline.  On a hang it kills the process;
on a crash it reports the exit status and the tail of stderr.  Either way
the next request starts a fresh process, so one bad case never stops a run.
"""

import collections
import json
import os
import selectors
import subprocess
import threading
import time

STARTUP_TIMEOUT = 120.0


class AdapterFailure(Exception):
    """A request got no reply: `kind` is 'timeout', 'crash' or 'unavailable'."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class AdapterProcess:
    """One adapter process, restarted on demand."""

    def __init__(self, name, argv, startup_timeout=STARTUP_TIMEOUT):
        self.name = name
        self.argv = list(argv)
        self.startup_timeout = startup_timeout
        self.proc = None
        self.ready = None
        self.broken = None  # why the adapter cannot start, once it failed to
        self.starts = 0
        self._buf = b""
        self._stderr = collections.deque(maxlen=40)
        self._sel = None
        self._next_id = 0

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
                stderr=subprocess.PIPE, bufsize=0)
        except OSError as exc:
            self.broken = "cannot start %s: %s" % (self.argv[0], exc)
            return
        self.starts += 1
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        threading.Thread(target=self._drain_stderr, args=(self.proc,),
                         daemon=True).start()

    def _drain_stderr(self, proc):
        """Keep the last lines of stderr so a crash can be explained."""
        for line in proc.stderr:
            self._stderr.append(line.decode("utf-8", "replace").rstrip("\n"))

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
        except (AdapterFailure, ValueError) as exc:
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
            proc.kill()
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
    def send(self, case, program, line, profile):
        """Send one request; return its id.  Raise AdapterFailure."""
        self.ensure_ready()
        self._next_id += 1
        request = {"id": self._next_id, "case": case, "program": program,
                   "line": line, "profile": profile}
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
            self.proc.stdin.flush()
        except OSError:
            raise self._crashed()
        return self._next_id

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
            self.kill()
            raise AdapterFailure("crash", "adapter wrote a line that is not "
                                 "JSON: %r" % line[:200])
        if reply.get("id") != request_id:
            self.kill()
            raise AdapterFailure("crash", "reply id %r, expected %r"
                                 % (reply.get("id"), request_id))
        return reply

    def request(self, case, program, line, profile, timeout):
        """Send one request and wait for its reply."""
        request_id = self.send(case, program, line, profile)
        return self.receive(request_id, time.monotonic() + timeout)

    def _readline(self, deadline):
        """One line from stdout by `deadline`; raise AdapterFailure."""
        while b"\n" not in self._buf:
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
        message = "adapter exited with status %s" % status
        if tail:
            message += ": " + tail
        return AdapterFailure("crash", message)
