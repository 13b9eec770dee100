"""The profiles: one per CPython release the model follows, as data.

A profile is the scheduling semantics of one CPython release, with lazy
tasks (`asyncio-3.N`) or with `eager_task_factory` (`eager-3.N`).  A
version line's profile follows the release observed for it (`asyncio-3.12`
is CPython 3.12.7); a patch release that orders differently from its line's
observed release has a profile named with its full version
(`asyncio-3.11.3`, `asyncio-3.11.7`).  `asyncio` and `eager` are aliases of
the 3.14 profiles on command lines.

This module is the one place of the harness that knows them: canonical
names, aliases, `normalize(name)`, `is_eager(name)` and `for_version(...)`,
the profile a CPython of a given version claims.  The table is the model's
(`loopspec-model profiles --json`); it is kept here as data so that the
harness can check `--profile` before the model is built, and a harness test
checks that the two agree.

Standard library only, and no other casekit module: the CPython adapter
imports it too (Python 3.9+, PyPy included), and the Pyodide adapter copies
it into its runtime.
"""


class Profile:
    """One profile: `name`, `version` (the CPython release it follows, e.g.
    "3.12.7"), `eager`, `aliases`."""

    def __init__(self, name, version, eager, aliases=()):
        self.name = name
        self.version = version
        self.eager = eager
        self.aliases = tuple(aliases)

    @property
    def line(self):
        """The version line, (3, 12)."""
        return version_tuple(self.version)[:2]

    @property
    def patch_level(self):
        """True for a profile named with a full version (asyncio-3.11.3): it
        applies from its release on, within its line."""
        return self.name.count(".") == 2

    def to_json(self):
        return {"name": self.name, "version": self.version, "eager": self.eager,
                "aliases": list(self.aliases)}

    def __repr__(self):
        return "Profile(%r)" % self.name


# The model's table, in its order (`loopspec-model profiles --json`,
# `check --all-profiles`).
TABLE = (
    Profile("asyncio-3.11", "3.11.2", False),
    Profile("asyncio-3.11.3", "3.11.3", False),
    Profile("asyncio-3.11.7", "3.11.7", False),
    Profile("asyncio-3.12", "3.12.7", False),
    Profile("eager-3.12", "3.12.7", True),
    Profile("asyncio-3.13", "3.13.2", False),
    Profile("eager-3.13", "3.13.2", True),
    Profile("asyncio-3.14", "3.14.2", False, ("asyncio",)),
    Profile("eager-3.14", "3.14.2", True, ("eager",)),
    Profile("asyncio-3.15", "3.15.0", False),
    Profile("eager-3.15", "3.15.0", True),
)

BY_NAME = dict((p.name, p) for p in TABLE)
ALIASES = dict((alias, p.name) for p in TABLE for alias in p.aliases)

# Every canonical name, in the model's order.
NAMES = tuple(p.name for p in TABLE)


class UnknownProfile(ValueError):
    """A name that is neither a profile nor an alias of one."""


def version_tuple(text):
    """(3, 15, 0) from "3.15.0rc1", "3.11" or "3.12.7+"; ValueError if none."""
    parts = []
    for piece in str(text).strip().split(".")[:3]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):
            break  # "0rc1": the suffix ends the version
    if len(parts) < 2:
        raise ValueError("not a Python version: %r" % (text,))
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def known(name):
    """True for a canonical name or an alias."""
    return name in BY_NAME or name in ALIASES


def normalize(name):
    """The canonical name of a profile or alias ('asyncio' -> 'asyncio-3.14');
    raise UnknownProfile."""
    if name in BY_NAME:
        return name
    if name in ALIASES:
        return ALIASES[name]
    raise UnknownProfile("unknown profile %r (profiles: %s; aliases: %s)"
                         % (name, ", ".join(NAMES), ", ".join(
                             "%s = %s" % kv for kv in sorted(ALIASES.items()))))


def get(name):
    """The Profile for a name or alias; raise UnknownProfile."""
    return BY_NAME[normalize(name)]


def is_eager(name):
    """True when the profile (or alias) installs eager_task_factory."""
    return get(name).eager


def version_of(name):
    """The CPython release a profile follows, "3.12.7"."""
    return get(name).version


def for_version(version, eager=False):
    """The profile a CPython of exactly `version` ("3.11.7", "3.15.0rc1")
    claims, with lazy tasks or `eager`; None when no profile of that kind
    covers the version (eager tasks before 3.12).

    Within a version line, a patch-level profile (asyncio-3.11.3) applies
    from its release on and the line's own profile to the releases before
    it; a version older than every line gets the oldest line's profile, one
    newer than every line the newest."""
    wanted = version_tuple(version)
    kind = [p for p in TABLE if p.eager == bool(eager)]
    if not kind:
        return None
    lines = sorted(set(p.line for p in kind))
    line = lines[0]
    for candidate in lines:
        if candidate <= wanted[:2]:
            line = candidate
    if eager and wanted[:2] < lines[0]:
        return None  # no eager_task_factory before the oldest eager line
    in_line = [p for p in kind if p.line == line]
    base = [p for p in in_line if not p.patch_level]
    chosen = base[0] if base else in_line[0]
    if line == wanted[:2]:
        for p in sorted((p for p in in_line if p.patch_level),
                        key=lambda p: version_tuple(p.version)):
            if version_tuple(p.version) <= wanted:
                chosen = p
    return chosen.name


def table_json():
    """The table as `loopspec-model profiles --json` prints its profiles."""
    return [p.to_json() for p in TABLE]


def parse_list(text):
    """Comma-separated profile names as canonical names; raise UnknownProfile."""
    out = []
    for name in str(text).split(","):
        name = name.strip()
        if name:
            canonical = normalize(name)
            if canonical not in out:
                out.append(canonical)
    return out
