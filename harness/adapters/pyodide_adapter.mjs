#!/usr/bin/env node
/**
 * Serve loopspec cases on CPython running in Pyodide under Node.
 *
 * Same JSON-lines protocol as cpython_adapter.py (see ADAPTERS.md): one
 * request per line on stdin, one reply per line on stdout, a ready line
 * first.  The Pyodide runtime loads once per process; each case then runs on
 * a fresh VirtualClockLoop (virtual_loop.py), a BaseEventLoop whose I/O poll
 * only advances a virtual clock, because SelectorEventLoop cannot open its
 * self-pipe here.  The Python side (builtins, case runner, protocol) is the
 * shared prelude.py, so both adapters behave the same.
 *
 * Each Pyodide release ships one CPython: `--package NAME` picks the npm
 * package (an alias pinned in package.json: `pyodide` is CPython 3.14,
 * `pyodide-3.12` is 3.12, ...), and `--python X.Y.Z` makes the adapter
 * refuse to start unless that runtime's CPython is exactly X.Y.Z, so an
 * implementation id never runs on the wrong interpreter.  The ready line
 * reports the CPython version (`python`) and the profile that version
 * claims (casekit/profiles.py, copied into the runtime).
 *
 * With --webloop the cases run on Pyodide's own WebLoop instead: asyncio on
 * Node's event loop, each case's main() a task there that the adapter awaits
 * (webloop_runner.py).
 *
 * Usage: node pyodide_adapter.mjs [--package NAME] [--python X.Y.Z] [--eager] [--webloop]
 *   --package NAME   the npm package to load (default: pyodide)
 *   --python X.Y.Z   refuse to start unless the runtime's CPython is X.Y.Z
 *   --eager          install asyncio.eager_task_factory on every loop (3.12+)
 *   --webloop        run on Pyodide's WebLoop, not on the virtual-clock loop
 *
 * Works offline: the pyodide npm packages ship the wasm runtime and stdlib.
 * Exit status: 0 at end of input, 1 the package cannot be loaded, 2 bad
 * usage, 3 the runtime's CPython is not the --python version.
 */

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const HERE = dirname(fileURLToPath(import.meta.url));
const PY_DIR = "/loopspec";
// Python files copied into the runtime: the adapters' own, and the profile
// table (casekit/profiles.py), which has no other casekit dependency.
const PY_FILES = {
  "protocol.py": join(HERE, "protocol.py"),
  "prelude.py": join(HERE, "prelude.py"),
  "virtual_loop.py": join(HERE, "virtual_loop.py"),
  "webloop_runner.py": join(HERE, "webloop_runner.py"),
  "profiles.py": join(HERE, "..", "casekit", "profiles.py"),
};
const USAGE = "usage: node pyodide_adapter.mjs [--package NAME] [--python X.Y.Z] " +
  "[--eager] [--webloop]\n";

function usageError(message) {
  process.stderr.write(`pyodide_adapter: ${message}\n${USAGE}`);
  process.exit(2);
}

/** Parse the command line; exits with status 2 on bad usage. */
function parseArgs(argv) {
  const opts = { eager: false, webloop: false, package: "pyodide", python: null };
  const args = [...argv];
  while (args.length) {
    let arg = args.shift();
    let value = null;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg === "--package" || arg === "--python") {
      if (value === null) {
        if (!args.length) usageError(`${arg} needs a value`);
        value = args.shift();
      }
      if (!value) usageError(`${arg} needs a value`);
      opts[arg.slice(2)] = value;
    } else if (value !== null) {
      usageError(`${arg} takes no value`);
    } else if (arg === "--eager") opts.eager = true;
    else if (arg === "--webloop") opts.webloop = true;
    else if (arg === "-h" || arg === "--help") {
      process.stderr.write(USAGE);
      process.exit(0);
    } else {
      usageError(`unknown option ${arg}`);
    }
  }
  return opts;
}

/** The version of the npm package `name` (an alias's own package.json). */
function packageVersion(name) {
  const require = createRequire(import.meta.url);
  try {
    return require(`${name}/package.json`).version;
  } catch {
    try {
      const path = join(HERE, "..", "node_modules", ...name.split("/"), "package.json");
      return JSON.parse(readFileSync(path, "utf8")).version;
    } catch {
      return "unknown";
    }
  }
}

/** The package's loader; exits with a hint when it is not installed. */
async function importLoader(name) {
  try {
    return (await import(name)).loadPyodide;
  } catch (err) {
    process.stderr.write(`pyodide_adapter: cannot load the npm package ${name} ` +
      `(${err.code ?? err.message}): run \`npm ci\` in the harness directory\n`);
    process.exit(1);
  }
}

/** Load Pyodide with its output sent to stderr, never to the channel; exit 3
 * when its CPython is not the one asked for. */
async function startPython(opts) {
  const loadPyodide = await importLoader(opts.package);
  const toStderr = (text) => process.stderr.write(text + "\n");
  const py = await loadPyodide({ stdout: toStderr, stderr: toStderr });
  const python = py.runPython("import sys; sys.version.split()[0]");
  if (opts.python !== null && python !== opts.python) {
    process.stderr.write(`pyodide_adapter: the npm package ${opts.package} ` +
      `(pyodide ${packageVersion(opts.package)}) runs CPython ${python}, not ` +
      `${opts.python} (--python ${opts.python}): refusing to start\n`);
    process.exit(3);
  }
  py.setStdin({ stdin: () => null });
  py.FS.mkdirTree(PY_DIR);
  for (const [name, path] of Object.entries(PY_FILES)) {
    py.FS.writeFile(`${PY_DIR}/${name}`, readFileSync(path, "utf8"));
  }
  return py;
}

/** Build the prelude's Server inside Pyodide; returns the Python object. */
function buildServer(py, opts) {
  const ns = py.globals.get("dict")();
  ns.set("EAGER", opts.eager);
  ns.set("WEBLOOP", opts.webloop);
  ns.set("EXTRA", py.toPy({
    loop: opts.webloop ? "webloop" : "virtual",
    runtime: `pyodide ${packageVersion(opts.package)}`,
    package: opts.package,
    node: process.version,
  }));
  py.runPython(`
import sys
sys.path.insert(0, "${PY_DIR}")
import asyncio
import prelude
import profiles

_python = sys.version.split()[0]
_profile = profiles.for_version(_python, eager=EAGER)
if _profile is None:
    raise SystemExit("--eager: CPython %s has no eager_task_factory (3.12+)" % _python)

_c_task = getattr(asyncio.tasks, "_CTask", None)
_extra = dict(EXTRA)
_extra["profile"] = _profile
_extra["tasks"] = "c" if _c_task is not None and asyncio.Task is _c_task else "python"
_version = "%d.%d.%d" % sys.implementation.version[:3]
if WEBLOOP:
    import webloop_runner
    server = webloop_runner.WebLoopServer(
        sys.implementation.name, _version, eager=EAGER, extra=_extra)
else:
    # Pyodide may have marked its WebLoop as running; Runner.run refuses then.
    asyncio.events._set_running_loop(None)
    import virtual_loop
    server = prelude.Server(
        sys.implementation.name, _version,
        virtual_loop.VirtualClockLoop, eager=EAGER, extra=_extra, real_time=False)
`, { globals: ns });
  return ns.get("server");
}

/** Write one line to the channel (stdout is synchronous for pipes and files). */
function send(text) {
  process.stdout.write(text + "\n");
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const py = await startPython(opts);
  let server;
  try {
    server = buildServer(py, opts);
  } catch (err) {
    const lines = String(err?.message ?? err).trim().split("\n");
    process.stderr.write(`pyodide_adapter: cannot start: ${lines[lines.length - 1]}\n`);
    process.exit(2);
  }
  const json = py.pyimport("json");
  send(json.dumps(server.ready()));
  const handleLine = opts.webloop ? null : server.handle_line;
  const answer = opts.webloop ? server.answer : null;

  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let reply;
    try {
      if (answer) {
        const task = answer(line);
        try {
          reply = await task;
        } finally {
          task.destroy();
        }
      } else {
        reply = handleLine(line);
      }
    } catch (err) {
      let id = null;
      let kase = null;
      try {
        ({ id = null, case: kase = null } = JSON.parse(line));
      } catch {
        // keep nulls
      }
      reply = JSON.stringify({ id, case: kase, error: `adapter: ${err.message ?? err}` });
    }
    send(reply);
  }
  // End of input: leftover WebLoop timers must not keep Node alive.
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`pyodide_adapter: ${err.stack ?? err}\n`);
  process.exit(1);
});
