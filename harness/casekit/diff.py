"""Expected and actual traces side by side, and how far apart their orders are.

The ordering distance is the Kendall tau distance over the lines both traces
share: each line is identified with its occurrence number (the second
`tick` is not the first), the lines present in both traces are kept, and
the distance is the number of pairs of them that the two traces put in
opposite orders (0: same order; n(n-1)/2: reversed).  Lines of an
`unordered:` group count in whichever order the actual trace has them.
"""

from . import cases as caselib

WIDTH = 48


def resolve(expected, actual):
    """The expected lines in order, each unordered group arranged as far as
    possible in the order the actual trace shows them; also the set of
    positions that belong to groups."""
    first_pos = {}
    for i, line in enumerate(actual):
        first_pos.setdefault(line, i)
    lines, grouped = [], set()
    for item in expected or []:
        if isinstance(item, dict):
            group = [str(x).strip() for x in item.get("unordered", [])]
            group.sort(key=lambda l: first_pos.get(l, len(actual)))
            for line in group:
                grouped.add(len(lines))
                lines.append(line)
        else:
            lines.append(str(item).strip())
    return lines, grouped


def _keys(lines):
    seen, keys = {}, []
    for line in lines:
        n = seen.get(line, 0)
        seen[line] = n + 1
        keys.append((line, n))
    return keys


def kendall(expected, actual):
    """(discordant pairs, shared lines, normalized distance 0..1, only expected,
    only actual) for JSON expect items and a trace."""
    actual = [str(a).strip() for a in actual]
    lines, _ = resolve(expected, actual)
    ek, ak = _keys(lines), _keys(actual)
    apos = {k: i for i, k in enumerate(ak)}
    shared = [k for k in ek if k in apos]
    order = [apos[k] for k in shared]
    n = len(order)
    discordant = sum(1 for i in range(n) for j in range(i + 1, n) if order[i] > order[j])
    pairs = n * (n - 1) // 2
    only_expected = len(ek) - n
    only_actual = len(ak) - n
    return discordant, n, (discordant / pairs if pairs else 0.0), only_expected, only_actual


def _cell(text, width):
    text = str(text)
    return text if len(text) <= width else text[:width - 1] + "~"


def side_by_side(expected, actual, left="expected", right="actual"):
    """Text lines: the two traces in columns, `*` on rows that differ,
    `~` beside lines of an unordered group."""
    actual = [str(a).strip() for a in actual]
    lines, grouped = resolve(expected, actual)
    width = min(WIDTH, max([len(left)] + [len(l) for l in lines] + [8]))
    out = ["       %s | %s" % (left.ljust(width), right)]
    for i in range(max(len(lines), len(actual))):
        e = lines[i] if i < len(lines) else ""
        a = actual[i] if i < len(actual) else ""
        mark = "*" if (i >= len(lines) or i >= len(actual) or e != a) else " "
        group = "~" if i in grouped else " "
        out.append(("  %s%3d %s%s | %s" % (mark, i + 1, group, _cell(e, width).ljust(width),
                                            _cell(a, 200))).rstrip())
    return out


def summary(expected, actual):
    """Lines: the first divergence and the ordering distance."""
    ok, why = caselib.match(expected, actual)
    discordant, n, norm, only_e, only_a = kendall(expected, actual)
    out = ["first divergence: %s" % (why if not ok else "none, the trace matches")]
    out.append("ordering distance: Kendall tau %d (%d of %d pairs of the %d shared lines "
               "in opposite order, normalized %.2f); %d expected line%s missing, "
               "%d extra line%s" % (discordant, discordant, n * (n - 1) // 2, n, norm,
                                    only_e, "" if only_e == 1 else "s",
                                    only_a, "" if only_a == 1 else "s"))
    return out


def two_traces(left, right, left_name, right_name):
    """Text lines: two traces in columns, `*` on rows that differ."""
    left = [str(a).strip() for a in left]
    right = [str(a).strip() for a in right]
    width = min(WIDTH, max([len(left_name)] + [len(l) for l in left] + [8]))
    out = ["       %s | %s" % (left_name.ljust(width), right_name)]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        mark = "*" if (i >= len(left) or i >= len(right) or a != b) else " "
        out.append(("  %s%3d  %s | %s" % (mark, i + 1, _cell(a, width).ljust(width),
                                          _cell(b, 200))).rstrip())
    return out


def first_divergence(left, right, left_name="left", right_name="right"):
    """Where two traces part, as one phrase, or None when they are the same."""
    for i in range(max(len(left), len(right))):
        if i >= len(left):
            return "line %d: %s has ended, %s has %r" % (i + 1, left_name, right_name,
                                                         right[i])
        if i >= len(right):
            return "line %d: %s has %r, %s has ended" % (i + 1, left_name, left[i],
                                                         right_name)
        if left[i] != right[i]:
            return "line %d: %s has %r, %s has %r" % (i + 1, left_name, left[i],
                                                      right_name, right[i])
    return None


def compare(left, right, left_name="left", right_name="right"):
    """Lines: the first divergence of two traces and their ordering distance."""
    left = [str(a).strip() for a in left]
    right = [str(a).strip() for a in right]
    where = first_divergence(left, right, left_name, right_name)
    out = ["first divergence: %s" % (where or "none, the traces are the same")]
    discordant, n, norm, only_l, only_r = kendall(left, right)
    out.append("ordering distance: Kendall tau %d (%d of %d pairs of the %d shared lines "
               "in opposite order, normalized %.2f); %d line%s only on the left, "
               "%d only on the right" % (discordant, discordant, n * (n - 1) // 2, n, norm,
                                         only_l, "" if only_l == 1 else "s", only_r))
    return out
