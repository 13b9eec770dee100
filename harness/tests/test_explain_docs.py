"""The explained examples in the docs are the model's own output."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_explained_examples_are_current():
    proc = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "explain_docs.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_explanation_logs_are_the_trace():
    case = os.path.join(ROOT, "cases", "seeds", "001-case2-sleep-yields-to-task.case")
    model = os.path.join(ROOT, "model", "loopspec-model")
    trace = subprocess.run([model, "run", case], capture_output=True, text=True, timeout=60).stdout.split("\n")[:-1]
    import json
    events = [json.loads(l) for l in subprocess.run([model, "run", "--explain=json", case], capture_output=True,
                                                    text=True, timeout=60).stdout.splitlines()]
    assert [e["text"] for e in events if e["event"] == "log"] == trace
    assert {"iteration", "handle", "resume", "suspend", "schedule", "log"} <= {e["event"] for e in events}
