"""What the harness's tests share: paths, the interpreter, the model gate,
and the extension-less scripts imported as modules."""

import importlib.machinery
import importlib.util
import os
import sys

import pytest

HARNESS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKES = os.path.join(HARNESS, "tests", "fakes")
PYTHON = "/usr/bin/python3"

if HARNESS not in sys.path:
    sys.path.insert(0, HARNESS)

from casekit import impls  # noqa: E402

needs_model = pytest.mark.skipif(not os.path.exists(impls.MODEL),
                                 reason="the model is not built: run `make model`")


def load_script(name, module_name):
    """Import the extension-less script harness/`name` as `module_name`."""
    path = os.path.join(HARNESS, name)
    loader = importlib.machinery.SourceFileLoader(module_name, path)
    spec = importlib.util.spec_from_loader(module_name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def write(root, case_id, text):
    """Write a case file as `root`/cases/`case_id`.case; its path."""
    path = root / "cases" / (case_id + ".case")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)
