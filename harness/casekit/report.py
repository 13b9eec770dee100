"""What a run prints and writes: the matrix, the counts, JSON and JUnit."""

import datetime
import json
import os
import xml.etree.ElementTree as ET

from . import cases as caselib
from . import diff as tracediff
from .expectations import write_atomic

CELL = {"PASS": "ok", "FAIL": "FAIL", "UNSUPPORTED": "unsup", "TIMEOUT": "TIMEOUT",
        "CRASH": "CRASH", "ERROR": "ERROR", "FLAKY": "FLAKY"}
FORMAT_VERSION = 1


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def cell(result):
    """A matrix cell: the status, `!` when it differs from its expectation."""
    text = CELL.get(result["status"], result["status"])
    return text + "!" if result.get("unexpected") else text


def matrix(case_ids, impls, results, skipped=()):
    """Lines of the case x implementation matrix, with a legend."""
    by_pair = {(r["case"], r["impl"]): r for r in results}
    skipped = set(skipped)
    labels = [impl.label for impl in impls]
    widths = [max(len(l), 5) for l in labels]
    first = max([4] + [len(c) for c in case_ids])

    def row(head, cells):
        text = "  ".join(c.ljust(w) for c, w in zip(cells, widths))
        return ("%s  %s" % (head.ljust(first), text)).rstrip()

    out = [row("case", labels)]
    for case in case_ids:
        cells = []
        for impl in impls:
            r = by_pair.get((case, impl.name))
            if r is not None:
                cells.append(cell(r))
            elif (case, impl.name) in skipped:
                cells.append("-")
            else:
                cells.append("")
        out.append(row(case, cells))
    out.append("")
    renamed = [impl for impl in impls if impl.label != impl.name]
    if renamed:
        out.append("columns: " + ", ".join("%s = %s" % (impl.label, impl.name)
                                           for impl in renamed))
    out.append("cells: ok, FAIL, unsup(ported), TIMEOUT, CRASH, ERROR, FLAKY; "
               "-: the case's profiles exclude the implementation's; "
               "!: differs from the expectation file")
    return out


def counts(results, impl_id):
    c = {}
    for r in results:
        if r["impl"] == impl_id:
            c[r["status"]] = c.get(r["status"], 0) + 1
    return c


def impl_summary(impls, results, skipped=(), profiles=None):
    """One line per implementation: its pass count and the rest."""
    out = []
    width = max([len(impl.name) for impl in impls] + [4])
    for impl in impls:
        mine = [r for r in results if r["impl"] == impl.name]
        c = counts(mine, impl.name)
        n_skip = sum(1 for _, i in skipped if i == impl.name)
        failed = [r for r in mine if r["status"] not in ("PASS", "UNSUPPORTED")]
        known = sum(1 for r in failed if not r.get("unexpected"))
        parts = ["%d/%d passed" % (c.get("PASS", 0), len(mine))]
        if failed:
            detail = ", ".join("%d %s" % (c[s], s) for s in
                               ("FAIL", "TIMEOUT", "CRASH", "ERROR", "FLAKY") if c.get(s))
            parts.append("%s (%d known)" % (detail, known))
        if c.get("UNSUPPORTED"):
            parts.append("%d unsupported" % c["UNSUPPORTED"])
        if n_skip:
            parts.append("%d not for its profile" % n_skip)
        unexpected = sum(1 for r in mine if r.get("unexpected"))
        if unexpected:
            parts.append("%d UNEXPECTED" % unexpected)
        profile = (profiles or {}).get(impl.name, impl.profile)
        out.append("%s  %-14s %s" % (impl.name.ljust(width), profile, ", ".join(parts)))
    return out


def closing(results, skipped=()):
    """`N passed, N failed, N skipped`: skipped counts UNSUPPORTED results and
    cases whose profiles exclude the implementation."""
    passed = sum(1 for r in results if r["status"] == "PASS")
    unsupported = sum(1 for r in results if r["status"] == "UNSUPPORTED")
    failed = len(results) - passed - unsupported
    return "%d passed, %d failed, %d skipped" % (passed, failed, unsupported + len(skipped))


def describe(result, full=True, output=False):
    """Lines explaining one non-passing result: for a FAIL the two traces
    side by side (`full`) or the first divergence; with `output`, what the
    program wrote to stdout and stderr."""
    head = "%s on %s [%s]: %s" % (result["case"], result["impl"], result["profile"],
                                  result["status"])
    exp = result.get("expectation")
    if result.get("unexpected"):
        if exp:
            head += " (expected %s: %s)" % (exp["status"], exp["reason"])
        elif result["status"] == "PASS":
            head += " (unexpected)"
        else:
            head += " (not in the expectation file)"
    elif exp:
        head += " (known: %s)" % exp["reason"]
    out = [head]
    if result.get("error"):
        out.append("    " + " ".join(str(result["error"]).split())[:500])
    if result["status"] == "FLAKY":
        out.append("    " + result.get("why", ""))
        for k, trace in enumerate(result.get("traces") or []):
            ok = "" if result.get("expected") is None else (
                " (matches)" if _matches(result["expected"], trace) else " (differs)")
            out.append("    trace %d%s: %s" % (k + 1, ok, " | ".join(trace) or "(none)"))
        for error in result.get("errors") or []:
            out.append("    error: " + " ".join(str(error).split())[:300])
    elif result["status"] == "FAIL" and result.get("expected") is not None:
        if full:
            out.extend("  " + l for l in tracediff.side_by_side(
                result["expected"], result.get("trace", []), "expected", result["impl"]))
            out.extend("    " + l for l in tracediff.summary(result["expected"],
                                                            result.get("trace", [])))
        elif result.get("why"):
            out.append("    " + result["why"])
    elif result["status"] == "UNSUPPORTED" and result.get("why"):
        out.append("    " + result["why"])
    if output:
        for key in ("stdout", "stderr"):
            if result.get(key):
                out.append("    %s:" % key)
                out.extend("      | " + l for l in result[key].rstrip("\n").split("\n"))
    return out


def _matches(expected, trace):
    return caselib.match(expected, trace)[0]


# -- files -------------------------------------------------------------------------

def results_document(results, rejected=(), skipped=(), impls_info=None, **meta):
    """The JSON results document."""
    doc = {"loopspec": FORMAT_VERSION}
    doc.update(meta)
    doc["impls"] = impls_info or {}
    doc["rejected"] = list(rejected)
    doc["skipped"] = [{"case": c, "impl": i} for c, i in sorted(skipped)]
    doc["results"] = list(results)
    return doc


def scrub(text):
    """`text` without this machine's paths: the repository's own files
    relative to it, the home directory as `~` (an adapter's traceback
    names the files it ran)."""
    from .impls import ROOT
    text = text.replace(os.path.join(ROOT, ""), "")
    home = os.path.expanduser("~")
    if home not in ("", "/"):
        text = text.replace(os.path.join(home, ""), "~/")
    return text


def write_json(path, doc):
    """Write the results document atomically, without this machine's paths."""
    write_atomic(path, scrub(json.dumps(doc, indent=1, sort_keys=False) + "\n"))


def junit(results, impls_order=None):
    """The JUnit XML text: one testsuite per implementation."""
    suites = ET.Element("testsuites", name="loopspec")
    impl_ids = impls_order or sorted({r["impl"] for r in results})
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for impl in impl_ids:
        mine = [r for r in results if r["impl"] == impl]
        if not mine:
            continue
        suite = ET.SubElement(suites, "testsuite", name="loopspec.%s" % impl)
        c = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        seconds = 0.0
        for r in mine:
            c["tests"] += 1
            seconds += r.get("duration_ms", 0) / 1000.0
            case = ET.SubElement(suite, "testcase", classname="loopspec.%s" % impl,
                                 name=r["case"], time="%.3f" % (r.get("duration_ms", 0) / 1000.0))
            text = "\n".join(describe(r, full=True, output=True))
            exp = r.get("expectation")
            if r["status"] == "PASS" and not r.get("unexpected"):
                continue
            if r.get("unexpected"):
                if r["status"] == "PASS":
                    el = ET.SubElement(case, "failure", type="UNEXPECTED-PASS", message=(
                        "passes, but results/expectations/%s.txt expects %s (%s): remove the line"
                        % (impl, exp["status"], exp["reason"]) if exp else "unexpected pass"))
                    c["failures"] += 1
                elif r["status"] in ("FAIL", "FLAKY"):
                    el = ET.SubElement(case, "failure", type=r["status"],
                                       message=r.get("why") or r["status"])
                    c["failures"] += 1
                else:
                    el = ET.SubElement(case, "error", type=r["status"],
                                       message=(r.get("error") or r["status"])[:500])
                    c["errors"] += 1
                el.text = text
            else:
                message = ("unsupported: %s" % r.get("why", "") if r["status"] == "UNSUPPORTED"
                           else "known %s: %s" % (r["status"], exp["reason"] if exp else ""))
                ET.SubElement(case, "skipped", message=message)
                out = ET.SubElement(case, "system-out")
                out.text = text
                c["skipped"] += 1
        for k, v in c.items():
            suite.set(k, str(v))
            total[k] += v
        suite.set("time", "%.3f" % seconds)
    for k, v in total.items():
        suites.set(k, str(v))
    ET.indent(suites) if hasattr(ET, "indent") else None
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_junit(path, results, impls_order=None):
    write_atomic(path, scrub(junit(results, impls_order)))
