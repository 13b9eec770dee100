"""One `loopspec-model serve` process, asked one request at a time.

The model adapter and the fuzzer run many cases on the model; a process
per case costs 3 to 7 ms, a request to a running server about 0.1 ms plus
the run.  The server answers the adapter protocol's requests (ADAPTERS.md,
`loopspec-model serve --help`); a request that kills it (out of memory)
gets an error reply, and the next one a new server.  Not thread-safe: one
server per thread.
"""

import json
import subprocess


class ModelServer:
    """A `loopspec-model serve` child, started on first use and after it dies."""

    def __init__(self, model, options=()):
        self.argv = [model, "serve"] + list(options)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        ready = self.proc.stdout.readline()
        if not ready.startswith(b"{"):
            err = self.proc.stderr.read().decode("utf-8", "replace").strip()
            self.proc.wait()
            self.proc = None
            raise RuntimeError("loopspec-model serve did not start: %s" % (err or "no ready line"))

    def ask(self, request):
        """The model's reply (a dict) to one request (a dict); raises
        RuntimeError when the server cannot start, OSError when it cannot run."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except OSError:
            line = b""
        if not line:
            status = self.proc.wait()
            err = self.proc.stderr.read().decode("utf-8", "replace").strip()
            self.proc = None
            return {"id": request.get("id"), "case": request.get("case"), "exit": 3,
                    "error": err or "the model exited with status %d" % status}
        return json.loads(line)

    def close(self):
        """Ends the server (end of input)."""
        if self.proc is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
            self.proc = None
