"""Features: what a case needs from an implementation, and what one has.

A case needs two kinds of features:

* the ones its header lists under `requires:` (`contextvars`, `taskgroup`,
  `timeout`, `eager`, `io`);
* the ones its program uses, found in the model's AST: every asyncio builtin
  of the case language beyond the core (`call_soon`, `Future`, `wait_for`,
  ...) is a feature named like the builtin, and every future or task method
  beyond `done()` and `cancel()` is a feature named `.method`
  (`.add_done_callback`, `.uncancel`, ...).  `ContextVar`, `TaskGroup` and
  `timeout` map to the header names `contextvars`, `taskgroup`, `timeout`.

The core that every implementation must have, and that is therefore no
feature: `log`, `create_task`, `sleep`, `suspend`, the exception types
(`Error`, `CancelledError`, `TimeoutError`, ...), Python's builtins, and the
methods `done()` and `cancel()`.

An implementation lists the features it has (in the registry, and in its
adapter's ready line); a case that needs one it lacks is UNSUPPORTED there,
not FAIL.
"""

# The features a case header may name.
HEADER = ("contextvars", "taskgroup", "timeout", "eager", "io")

# Builtin name -> feature.  Names not listed here are core or local.
BUILTINS = {
    "call_soon": "call_soon",
    "call_later": "call_later",
    "Future": "Future",
    "ensure_future": "ensure_future",
    "gather": "gather",
    "wait": "wait",
    "FIRST_COMPLETED": "wait",
    "FIRST_EXCEPTION": "wait",
    "ALL_COMPLETED": "wait",
    "wait_for": "wait_for",
    "shield": "shield",
    "timeout": "timeout",
    "TaskGroup": "taskgroup",
    "Lock": "Lock",
    "Event": "Event",
    "Condition": "Condition",
    "Semaphore": "Semaphore",
    "BoundedSemaphore": "Semaphore",
    "Queue": "Queue",
    "QueueFull": "Queue",
    "QueueEmpty": "Queue",
    "InvalidStateError": "InvalidStateError",
    "current_task": "current_task",
    "ContextVar": "contextvars",
    "copy_context": "copy_context",
    "call_at": "call_at",
    "time": "time",
    "timeout_at": "timeout",
    "all_tasks": "all_tasks",
    "as_completed": "as_completed",
    "Barrier": "Barrier",
    "BrokenBarrierError": "Barrier",
    "LifoQueue": "LifoQueue",
    "PriorityQueue": "PriorityQueue",
    "QueueShutDown": "Queue.shutdown",
    "anext": "anext",
    "aiter": "anext",
    # I/O: sockets, readiness callbacks, socket awaits, streams and their
    # exceptions, where the loop polls real sockets (not in Pyodide)
    "socketpair": "io",
    "add_reader": "io",
    "add_writer": "io",
    "remove_reader": "io",
    "remove_writer": "io",
    "sock_recv": "io",
    "sock_sendall": "io",
    "open_stream": "io",
    "BlockingIOError": "io",
    "ConnectionError": "io",
    "BrokenPipeError": "io",
    "ConnectionResetError": "io",
    "EOFError": "io",
    "IncompleteReadError": "io",
}

# The language's own constructs that are features (found by
# _construct_features): `class` statements (with async with and async for
# on their objects), custom awaitables (a class's __await__), and async
# generators (yield in async def, asend/athrow/aclose).
CONSTRUCTS = ("classes", "custom_awaitables", "async_generators")

# Methods and keyword arguments that are features of their own, named
# after what has them (Queue.shutdown is 3.13's; eager_start 3.14's).
METHOD_FEATURES = {"shutdown": "Queue.shutdown", "asend": "async_generators",
                   "athrow": "async_generators", "aclose": "async_generators"}
KEYWORD_FEATURES = {"eager_start": "eager_start"}

# Future and task methods that are features (`done` and `cancel` are core).
# `get`, `set`, `reset` also belong to ContextVar, Event and Queue: the
# builtin that makes those objects already names the feature.
METHODS = (
    "result", "exception", "cancelled", "add_done_callback",
    "remove_done_callback", "set_result", "set_exception", "cancelling",
    "uncancel", "get_name", "set_name",
)

# Every feature, in a stable order: what a complete CPython 3.14 has.
ALL = tuple(HEADER) + tuple(sorted(
    (set(BUILTINS.values()) | set(METHOD_FEATURES.values()) | set(KEYWORD_FEATURES.values())
     | set(CONSTRUCTS)) - set(HEADER))) + tuple("." + m for m in METHODS)


# Features newer than CPython 3.11, with the first version that has them.
SINCE = {"Queue.shutdown": (3, 13), "eager_start": (3, 14), "anext": (3, 10)}


def for_python(version, *missing):
    """ALL minus the features CPython `version` ("3.12.7") does not have
    yet, minus `missing` (for registry entries)."""
    have = tuple(int(x) for x in str(version).split(".")[:2])
    return tuple(f for f in without(*missing) if SINCE.get(f, (0, 0)) <= have)


def without(*missing):
    """ALL minus the named features (for registry entries)."""
    unknown = [m for m in missing if m not in ALL]
    if unknown:
        raise ValueError("unknown features: %s" % ", ".join(unknown))
    return tuple(f for f in ALL if f not in missing)


def _defined_names(node, out):
    """Names the program binds: functions, parameters, assignment targets."""
    if isinstance(node, list):
        for item in node:
            _defined_names(item, out)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("kind")
    if kind in ("def", "param") and isinstance(node.get("name"), str):
        out.add(node["name"])
    if kind == "except" and isinstance(node.get("name"), str):
        out.add(node["name"])
    if kind == "global":
        _target_names(node.get("names"), out)
    if kind in ("assign", "augassign", "for", "listcomp"):
        _target_names(node.get("target"), out)
    for value in node.values():
        if isinstance(value, (dict, list)):
            _defined_names(value, out)


def _target_names(node, out):
    if isinstance(node, list):
        for item in node:
            _target_names(item, out)
    elif isinstance(node, dict):
        if node.get("kind") == "name":
            out.add(node.get("name"))
        elif node.get("kind") in ("tuple", "list"):
            _target_names(node.get("items"), out)


def _used(node, names, methods, keywords=None):
    if isinstance(node, list):
        for item in node:
            _used(item, names, methods, keywords)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("kind")
    if kind == "name":
        names.add(node.get("name"))
    elif kind == "attr":
        methods.add(node.get("name"))
    elif kind == "kwarg" and keywords is not None:
        keywords.add(node.get("name"))
    for value in node.values():
        if isinstance(value, (dict, list)):
            _used(value, names, methods, keywords)


def _construct_features(node, out, in_async=False):
    if isinstance(node, list):
        for item in node:
            _construct_features(item, out, in_async)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("kind")
    if kind == "class":
        out.add("classes")
        for member in node.get("body") or ():
            if isinstance(member, dict) and member.get("kind") == "def" and member.get("name") == "__await__":
                out.add("custom_awaitables")
    if kind == "def":
        in_async = bool(node.get("async"))
    if kind == "yield" and in_async:
        out.add("async_generators")
    for value in node.values():
        if isinstance(value, (dict, list)):
            _construct_features(value, out, in_async)


def used_by_program(ast):
    """The features the program (the model's AST) uses, sorted as in ALL."""
    defined, names, methods, keywords = set(), set(), set(), set()
    _construct_features(ast, defined)
    constructs, defined = defined, set()
    _defined_names(ast, defined)
    _used(ast, names, methods, keywords)
    found = {BUILTINS[n] for n in names - defined if n in BUILTINS} | constructs
    found.update("." + m for m in methods if m in METHODS)
    found.update(METHOD_FEATURES[m] for m in methods if m in METHOD_FEATURES)
    found.update(KEYWORD_FEATURES[k] for k in keywords if k in KEYWORD_FEATURES)
    return order(found)


def header_requires(value):
    """The `requires:` header value (a string, a list or None) as a list."""
    if not value:
        return []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return [str(v).strip() for v in value if str(v).strip()]


def order(features):
    """Features sorted as in ALL, unknown ones last and alphabetically."""
    rank = {f: i for i, f in enumerate(ALL)}
    return sorted(set(features), key=lambda f: (rank.get(f, len(ALL)), f))
