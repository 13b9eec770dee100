"""Results files name no path of the machine they were made on."""
import json
import os

from testlib import HARNESS  # noqa: F401  (puts the harness on sys.path)

from casekit import impls
from casekit.report import scrub, write_json


def test_scrub_makes_repository_paths_relative_and_home_a_tilde():
    home = os.path.expanduser("~")
    text = "File \"%s\", line 3; %s" % (
        os.path.join(impls.ROOT, "harness", "adapters", "prelude.py"),
        os.path.join(home, ".pyenv", "versions", "3.11.7", "lib", "x.py"))
    out = scrub(text)
    assert impls.ROOT not in out
    assert 'File "harness/adapters/prelude.py", line 3' in out
    if home not in ("", "/") and not impls.ROOT.startswith(home):
        assert "~/.pyenv/versions/3.11.7/lib/x.py" in out


def test_write_json_scrubs(tmp_path):
    path = tmp_path / "r.json"
    write_json(str(path), {"why": os.path.join(impls.ROOT, "harness", "loopspec")})
    assert json.loads(path.read_text()) == {"why": "harness/loopspec"}
