"""The adapter protocol's requests (ADAPTERS.md), shared by every adapter
written in Python: CPython's and PyPy's (prelude.py), Pyodide's
(prelude.py, webloop_runner.py) and MicroPython's (micropython_prelude.py,
which the MicroPython adapter runs after this file in one namespace).
Plain Python that MicroPython runs too: json and nothing else.

Profiles: the harness knows the table (casekit/profiles.py) and sends
canonical names; an adapter only needs to know whether a profile is eager.
So any name of the profiles' shape is accepted here, `asyncio` or `eager`
with an optional version (`asyncio-3.11`, `eager-3.12`, `asyncio-3.11.7`),
and it is eager iff it starts with `eager`.
"""

import json


def _is_number(text):
    return len(text) > 0 and all(ch in "0123456789" for ch in text)


def valid_profile(profile):
    """True for `asyncio` or `eager`, optionally followed by `-3.N` or `-3.N.N`."""
    if not isinstance(profile, str):
        return False
    pieces = profile.split("-", 1)
    if pieces[0] not in ("asyncio", "eager"):
        return False
    if len(pieces) == 1:
        return True
    parts = pieces[1].split(".")
    return parts[0] == "3" and len(parts) in (2, 3) and all(_is_number(x) for x in parts)


def is_eager(profile):
    """True when the profile installs eager_task_factory."""
    return profile.startswith("eager")


class CaseError(Exception):
    """A case that cannot be run: reported as an `error` reply."""


def decode_request(text):
    """One request line as a dict, or a ValueError saying why it is not one."""
    request = json.loads(text)
    if not isinstance(request, dict):
        raise ValueError("a request is a JSON object")
    return request


def bad_request_line(exc):
    return json.dumps({"id": None, "error": "bad request: %s" % exc})


def request_program(request):
    """(program, line, profile, filename) of a program request, checked."""
    program = request.get("program")
    if not isinstance(program, str):
        raise CaseError("request has no program text")
    line = request.get("line", 1)
    if not isinstance(line, int) or line < 1:
        raise CaseError("line must be a positive integer")
    profile = request.get("profile", "asyncio")
    if not valid_profile(profile):
        raise CaseError("unknown profile %r (asyncio or eager, optionally with a "
                        "version: asyncio-3.12, eager-3.13, asyncio-3.11.7)" % (profile,))
    filename = "%s.case" % (request.get("case") or "<case>")
    return program, line, profile, filename


# Trace limits (ADAPTERS.md, "Limits"): a request's `limits` object may set
# them; the harness sends its --max-trace-lines and --max-trace-bytes.
MAX_TRACE_LINES = 100000
MAX_TRACE_BYTES = 8 * 1024 * 1024


def _positive(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def trace_limits(request):
    """(max lines, max bytes) of a request's trace, from its `limits`."""
    spec = request.get("limits")
    if not isinstance(spec, dict):
        spec = {}
    lines = spec.get("max_trace_lines", MAX_TRACE_LINES)
    size = spec.get("max_trace_bytes", MAX_TRACE_BYTES)
    if not _positive(lines):
        raise CaseError("limits.max_trace_lines must be a positive integer")
    if not _positive(size):
        raise CaseError("limits.max_trace_bytes must be a positive integer")
    return lines, size


def lines_limit_message(limit):
    return "trace limit of %d lines exceeded (--max-trace-lines)" % limit


def bytes_limit_message(limit):
    return "trace limit of %d bytes exceeded (--max-trace-bytes)" % limit
