"""The adapter protocol's requests (ADAPTERS.md), shared by every adapter
written in Python: CPython's and PyPy's (prelude.py), Pyodide's
(prelude.py, webloop_runner.py) and MicroPython's (micropython_prelude.py,
which the MicroPython adapter runs after this file in one namespace).
Plain Python that MicroPython runs too: json and nothing else.
"""

import json

PROFILES = ("asyncio", "eager", "asyncio-3.11")


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
    if profile not in PROFILES:
        raise CaseError("unknown profile %r" % (profile,))
    filename = "%s.case" % (request.get("case") or "<case>")
    return program, line, profile, filename
