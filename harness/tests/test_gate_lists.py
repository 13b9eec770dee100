"""The adapters' own check (adapters/prelude.py, SECURITY.md) repeats the
model's gate: its lists must be the model's, name for name.  The model's
are in model/src/builtins.h (the methods) and model/src/gate.c."""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "harness", "adapters"))

import prelude  # noqa: E402


def c_list(text, start):
    """The string literals of the C list that begins at `start`."""
    body = text[text.index(start):]
    return set(re.findall(r'"([^"]+)"', body[:body.index("NULL}")]))


def source(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def test_the_adapters_attributes_are_the_models():
    header = source("model", "src", "builtins.h")
    methods = header[header.index("#define LS_METHODS(X)"):header.index("typedef enum ls_method")]
    documented = set(re.findall(r'X\(\w+, "([^"]+)"\)', methods))
    gate = source("model", "src", "gate.c")
    prelude_only = c_list(gate, "prelude_only[]")
    assert prelude.CASE_ATTRIBUTES == documented - prelude_only - {"__name__"}


def test_the_adapters_class_rules_are_the_models():
    gate = source("model", "src", "gate.c")
    assert prelude.CLASS_DUNDERS == c_list(gate, "class_dunders[]")
    assert set(prelude.DENIED_PREFIXES) == c_list(gate, "denied_prefixes[]")
    assert prelude.DENIED_NAMES == c_list(gate, "denied_names[]")
