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


def test_diff_reasons_name_iteration_task_and_origin():
    import sys
    sys.path.insert(0, os.path.join(ROOT, "harness"))
    from casekit import explain
    model = os.path.join(ROOT, "model", "loopspec-model")
    case = os.path.join(ROOT, "cases", "seeds", "001-case1-await-runs-before-earlier-task.case")
    got = explain.for_lines(explain.reasons(model, case, "asyncio"), ["await", "create_task"])
    assert got[0].startswith("expected in iteration 1: Task-1 logs it at line 7")
    assert "in Task-2 step, scheduled in iteration 1 by Task-1 at line 11 (create_task)" in got[1]
    assert explain.for_lines([], ["x"]) == [None]
