"""The profile table (casekit/profiles.py) and the registry's claims.

Run with `/usr/bin/python3 -m pytest harness/tests`.
"""

import json
import os
import subprocess

import pytest

from testlib import HARNESS, PYTHON  # noqa: E402

from casekit import impls, profiles  # noqa: E402

ADAPTERS = os.path.join(HARNESS, "adapters")


def model_profiles():
    """The model's `profiles --json` list, or None (no model, or an older one)."""
    if not os.path.exists(impls.MODEL):
        return None
    proc = subprocess.run([impls.MODEL, "profiles", "--json"], capture_output=True,
                          text=True, timeout=60)
    if proc.returncode != 0:
        return None
    doc = json.loads(proc.stdout)
    return doc["profiles"] if isinstance(doc, dict) else doc


def test_table_is_the_models():
    listed = model_profiles()
    if listed is None:
        pytest.skip("no model with `loopspec-model profiles --json`: run `make model`")
    assert listed == profiles.table_json()


def test_names_aliases_and_normalize():
    assert profiles.NAMES == (
        "asyncio-3.11", "asyncio-3.11.3", "asyncio-3.11.7", "asyncio-3.12", "eager-3.12",
        "asyncio-3.13", "eager-3.13", "asyncio-3.14", "eager-3.14", "asyncio-3.15",
        "eager-3.15")
    assert profiles.normalize("asyncio") == "asyncio-3.14"
    assert profiles.normalize("eager") == "eager-3.14"
    for name in profiles.NAMES:
        assert profiles.normalize(name) == name and profiles.known(name)
    for bad in ("trio", "asyncio-3.10", "eager-3.11", "", "Asyncio"):
        assert not profiles.known(bad)
        with pytest.raises(profiles.UnknownProfile):
            profiles.normalize(bad)
    assert profiles.parse_list("asyncio, eager-3.12,asyncio-3.14") == [
        "asyncio-3.14", "eager-3.12"]


def test_is_eager_and_versions():
    assert profiles.is_eager("eager") and profiles.is_eager("eager-3.12")
    assert not profiles.is_eager("asyncio") and not profiles.is_eager("asyncio-3.11.7")
    assert profiles.version_of("asyncio-3.12") == "3.12.7"
    assert profiles.version_of("asyncio") == "3.14.2"


@pytest.mark.parametrize("version, lazy, eager", [
    ("3.9.16", "asyncio-3.11", None),        # PyPy 3.9: older than every line
    ("3.11.0", "asyncio-3.11", None),
    ("3.11.2", "asyncio-3.11", None),
    ("3.11.3", "asyncio-3.11.3", None),
    ("3.11.6", "asyncio-3.11.3", None),
    ("3.11.7", "asyncio-3.11.7", None),
    ("3.11.11", "asyncio-3.11.7", None),
    ("3.12.0", "asyncio-3.12", "eager-3.12"),
    ("3.12.7", "asyncio-3.12", "eager-3.12"),
    ("3.13.2", "asyncio-3.13", "eager-3.13"),
    ("3.14.2", "asyncio-3.14", "eager-3.14"),
    ("3.15.0rc1", "asyncio-3.15", "eager-3.15"),
    ("3.16.1", "asyncio-3.15", "eager-3.15"),  # newer than every line: the newest
])
def test_for_version(version, lazy, eager):
    assert profiles.for_version(version) == lazy
    assert profiles.for_version(version, eager=True) == eager


def test_the_adapters_accept_any_profile_of_the_shape():
    import sys
    sys.path.insert(0, ADAPTERS)
    try:
        import protocol
    finally:
        sys.path.remove(ADAPTERS)
    for name in profiles.NAMES + ("asyncio", "eager", "eager-3.99", "asyncio-3.16.4"):
        assert protocol.valid_profile(name), name
        assert protocol.is_eager(name) == name.startswith("eager")
    for bad in ("trio", "asyncio-", "asyncio-4.1", "eager-3", "eager-3.x", "asyncio-3.1.2.3",
                None, 3):
        assert not protocol.valid_profile(bad), bad


# -- the registry's claims --------------------------------------------------------------

PYODIDE = {
    "cpython-3.11.3": ("pyodide-3.11", "3.11.3", "asyncio-3.11.3"),
    "cpython-3.12": ("pyodide-3.12", "3.12.7", "asyncio-3.12"),
    "cpython-3.12-eager": ("pyodide-3.12", "3.12.7", "eager-3.12"),
    "cpython-3.13": ("pyodide-3.13", "3.13.2", "asyncio-3.13"),
    "cpython-3.13-eager": ("pyodide-3.13", "3.13.2", "eager-3.13"),
    "cpython-3.14": ("pyodide", "3.14.2", "asyncio-3.14"),
    "cpython-3.14-eager": ("pyodide", "3.14.2", "eager-3.14"),
    "cpython-3.15": ("pyodide-3.15", "3.15.0rc1", "asyncio-3.15"),
    "cpython-3.15-eager": ("pyodide-3.15", "3.15.0rc1", "eager-3.15"),
    "pyodide-webloop": ("pyodide", "3.14.2", "asyncio-3.14"),
}


def test_registry_profiles():
    known = impls.registry()
    claims = {
        "model": "asyncio-3.14", "cpython-3.11": "asyncio-3.11",
        "cpython-3.11-pure": "asyncio-3.11", "uvloop": "asyncio-3.11",
        "pypy-3.9": "asyncio-3.11", "cpython-3.11-virtual": "asyncio-3.11",
        "cpython-3.11.7": "asyncio-3.11.7", "cpython-3.11.7-pure": "asyncio-3.11.7",
        "micropython": "asyncio-3.14", "gbulb": "asyncio-3.11"}
    claims.update((name, "asyncio-3.11") for name, *_ in impls.VENV_LOOPS)
    claims.update((name, claim) for name, (_, _, claim) in PYODIDE.items())
    assert {name: impl.profile for name, impl in known.items()} == claims
    assert known["model"].runs == profiles.NAMES
    assert known["cpython-3.12"].runs == ("asyncio-3.12", "eager-3.12")
    assert known["cpython-3.11.3"].runs == ("asyncio-3.11.3",)
    assert known["cpython-3.15-eager"].runs == ("eager-3.15",)
    for name in impls.DEFAULT_IMPLS:
        assert name in known and name.startswith("cpython-")
    assert [known[n].profile for n in impls.DEFAULT_IMPLS] == list(profiles.NAMES)


def test_registry_pins_each_interpreter():
    known = impls.registry()
    for name, (package, python, _) in PYODIDE.items():
        argv = known[name].argv
        assert argv[1].endswith("pyodide_adapter.mjs")
        assert argv[argv.index("--package") + 1] == package
        assert argv[argv.index("--python") + 1] == python
        assert known[name].python == python
        assert ("--eager" in argv) == name.endswith("-eager")
        eager = profiles.for_version(python, eager=True) and name != "pyodide-webloop"
        assert ("eager" in known[name].features) == bool(eager), name
    for name in ("cpython-3.11", "cpython-3.11-pure", "uvloop", "cpython-3.11-virtual"):
        argv = known[name].argv
        assert argv[0] == PYTHON and argv[argv.index("--python") + 1] == "3.11.2"
    for name in ("cpython-3.11.7", "cpython-3.11.7-pure"):
        argv = known[name].argv
        assert argv[argv.index("--python") + 1] == "3.11.7"
    assert ("--pure" in known["cpython-3.11.7-pure"].argv
            and "--pure" not in known["cpython-3.11.7"].argv)


def test_pyenv_python_is_found_and_optional(tmp_path, monkeypatch):
    fake = tmp_path / "versions" / "3.11.7" / "bin" / "python3"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\necho 3.11.6\n")
    fake.chmod(0o755)
    monkeypatch.delenv("LOOPSPEC_PYTHON_3_11_7", raising=False)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    assert impls.find_python("3.11.7") == str(fake)
    entry = impls.registry()["cpython-3.11.7"]
    assert entry.argv[0] == str(fake)
    # the wrong version there: unavailable, and says why
    assert "is Python 3.11.6, not 3.11.7" in entry.unavailable()
    # nowhere: unavailable with a note on how to install it, left out of `all`
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert impls.find_python("3.11.7") is None
    entry = impls.registry()["cpython-3.11.7"]
    assert "pyenv install 3.11.7" in entry.unavailable()
    assert "cpython-3.11.7" in impls.conformance_ids()
    # an explicit interpreter wins
    monkeypatch.setenv("LOOPSPEC_PYTHON_3_11_7", "/opt/py/bin/python3")
    assert impls.find_python("3.11.7") == "/opt/py/bin/python3"
