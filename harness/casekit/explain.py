"""The model's reason for where each expected line sits in a trace.

`reasons(model, case_path, profile)` runs `loopspec-model run
--explain=json` and returns, for each logged line in order, one sentence:
the iteration it is expected in, the task and line that log it, the handle
that ran, and who scheduled that handle, when and why. `loopspec diff`
prints it beside each line that diverges.
"""
import json
import subprocess


def _origin(o):
    why = o.get("why", "")
    if why == "asyncio.run":
        return "scheduled by asyncio.run"
    if o.get("line") == 0 and why.endswith(" finishing"):
        return "scheduled in iteration %s when %s finished" % (o.get("iteration"), why[:-len(" finishing")])
    if o.get("line") == 0 and why.endswith(" completing"):
        return "scheduled in iteration %s when %s completed" % (o.get("iteration"), why[:-len(" completing")])
    who = o.get("task") or "the loop"
    at = " at line %s" % o["line"] if o.get("line") else ""
    return "scheduled in iteration %s by %s%s (%s)" % (o.get("iteration"), who, at, why)


def sentence(event):
    """One sentence for a log event of the model's JSON explanation."""
    where = "expected in iteration %s" % event.get("iteration")
    who = event.get("task") or "a callback"
    at = " at line %s" % event["line"] if event.get("line") else ""
    ran = event.get("handle")
    text = "%s: %s logs it%s" % (where, who, at)
    if ran:
        text += ", in %s, %s" % (ran, _origin(event.get("origin") or {}))
    return text


def reasons(model, case_path, profile, timeout=60):
    """(text, sentence) for each line the model logs, in order; [] if the
    model cannot explain the case."""
    try:
        proc = subprocess.run([model, "run", "--explain=json", "--profile", profile, case_path],
                              capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if proc.returncode != 0:
        return []
    out = []
    for line in proc.stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "log":
            out.append((event.get("text", ""), sentence(event)))
    return out


def for_lines(explained, lines):
    """Matches expected lines (in their resolved order) to the model's log
    events: the k-th occurrence of a text gets the k-th explanation of it."""
    seen, out = {}, []
    for text in lines:
        k = seen.get(text, 0)
        seen[text] = k + 1
        hits = [s for t, s in explained if t.strip() == text.strip()]
        out.append(hits[k] if k < len(hits) else None)
    return out
