#!/usr/bin/env node
/**
 * Serve loopspec cases on CPython 3.14 running in Pyodide under Node.
 *
 * Same JSON-lines protocol as cpython_adapter.py (see ADAPTERS.md): one
 * request per line on stdin, one reply per line on stdout, a ready line
 * first.  The Pyodide runtime loads once per process; each case then runs on
 * a fresh VirtualClockLoop (virtual_loop.py), a BaseEventLoop whose I/O poll
 * only advances a virtual clock, because SelectorEventLoop cannot open its
 * self-pipe here.  The Python side (builtins, case runner, protocol) is the
 * shared prelude.py, so both adapters behave the same.
 *
 * With --webloop the cases run on Pyodide's own WebLoop instead: asyncio on
 * Node's event loop, each case's main() a task there that the adapter awaits
 * (webloop_runner.py).
 *
 * Usage: node pyodide_adapter.mjs [--eager] [--webloop]
 *   --eager    install asyncio.eager_task_factory on every loop
 *   --webloop  run on Pyodide's WebLoop, not on the virtual-clock loop
 *
 * Works offline: the pyodide npm package ships the wasm runtime and stdlib.
 */

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const HERE = dirname(fileURLToPath(import.meta.url));
const PY_DIR = "/loopspec";
const PY_FILES = ["protocol.py", "prelude.py", "virtual_loop.py", "webloop_runner.py"];

/** Parse the command line; exits with status 2 on an unknown option. */
function parseArgs(argv) {
  const opts = { eager: false, webloop: false };
  for (const arg of argv) {
    if (arg === "--eager") opts.eager = true;
    else if (arg === "--webloop") opts.webloop = true;
    else if (arg === "-h" || arg === "--help") {
      process.stderr.write("usage: node pyodide_adapter.mjs [--eager] [--webloop]\n");
      process.exit(0);
    } else {
      process.stderr.write(`pyodide_adapter: unknown option ${arg}\n`);
      process.exit(2);
    }
  }
  return opts;
}

/** The version of the pyodide npm package in use. */
function pyodidePackageVersion() {
  const require = createRequire(import.meta.url);
  try {
    return require("pyodide/package.json").version;
  } catch {
    return "unknown";
  }
}

/** The pyodide package's loader; exits with a hint when it is not installed. */
async function importLoader() {
  try {
    return (await import("pyodide")).loadPyodide;
  } catch (err) {
    process.stderr.write("pyodide_adapter: cannot load the pyodide package " +
      `(${err.code ?? err.message}): run \`npm ci\` in the harness directory\n`);
    process.exit(1);
  }
}

/** Load Pyodide with its output sent to stderr, never to the channel. */
async function startPython() {
  const loadPyodide = await importLoader();
  const toStderr = (text) => process.stderr.write(text + "\n");
  const py = await loadPyodide({ stdout: toStderr, stderr: toStderr });
  py.setStdin({ stdin: () => null });
  py.FS.mkdirTree(PY_DIR);
  for (const name of PY_FILES) {
    py.FS.writeFile(`${PY_DIR}/${name}`, readFileSync(join(HERE, name), "utf8"));
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
    runtime: `pyodide ${pyodidePackageVersion()}`,
    node: process.version,
    profile: opts.eager ? "eager" : "asyncio",
  }));
  py.runPython(`
import sys
sys.path.insert(0, "${PY_DIR}")
import asyncio
import prelude

_c_task = getattr(asyncio.tasks, "_CTask", None)
_extra = dict(EXTRA)
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
  const py = await startPython();
  const server = buildServer(py, opts);
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
