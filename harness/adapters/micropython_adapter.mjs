#!/usr/bin/env node
/**
 * Serve loopspec cases on MicroPython's asyncio (WebAssembly) under Node.
 *
 * Same JSON-lines protocol as the other adapters (see ADAPTERS.md): a ready
 * line, then one reply line per request line.  The runtime is the npm
 * package @micropython/micropython-webassembly-pyscript (pinned in
 * package.json), loaded once per process with loadMicroPython().  Its asyncio
 * runs on Node's event loop: its task loop is a JavaScript timer callback.
 * Each request runs through micropython_prelude.py's answer(), awaited with
 * runPythonAsync; that prelude says what this asyncio has and what the
 * builtins become here.
 *
 * Usage: node micropython_adapter.mjs [--profile P]
 *   --profile P   the profile this implementation claims, reported in the
 *                 ready line (MicroPython follows no CPython release: the
 *                 registry says which profile it is checked against;
 *                 default asyncio)
 */

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE = "@micropython/micropython-webassembly-pyscript";

let claimedProfile = "asyncio";
{
  const args = process.argv.slice(2);
  while (args.length) {
    const arg = args.shift();
    if (arg === "-h" || arg === "--help") {
      process.stderr.write("usage: node micropython_adapter.mjs [--profile P]\n");
      process.exit(0);
    } else if (arg === "--profile" && args.length) {
      claimedProfile = args.shift();
    } else if (arg.startsWith("--profile=")) {
      claimedProfile = arg.slice("--profile=".length);
    } else {
      process.stderr.write(`micropython_adapter: unknown option ${arg}\n`);
      process.exit(2);
    }
  }
  // The shape protocol.py accepts: asyncio or eager, maybe with a version.
  if (!/^(asyncio|eager)(-3\.\d+(\.\d+)?)?$/.test(claimedProfile)) {
    process.stderr.write(`micropython_adapter: --profile ${claimedProfile} is not a profile\n`);
    process.exit(2);
  }
}

// An exception thrown in a timer callback (MicroPython's task loop runs in
// one) cannot be answered: say what it was in one line, then exit, so the
// harness reports a CRASH with this message instead of a minified stack.
process.on("uncaughtException", (err) => {
  const lines = String(err?.message ?? err).split("\n").filter((l) => l.trim());
  const text = lines.slice(-6).map((l) => l.slice(0, 300)).join("\n");
  process.stderr.write(`micropython_adapter: uncaught error in MicroPython's ` +
    `task loop: ${err?.name ?? "Error"}:\n${text}\n`);
  process.exit(70);
});

/** What the program printed while the current case ran (at most
 * OUTPUT_LIMIT characters of each). */
const captured = { stdout: "", stderr: "" };
const OUTPUT_LIMIT = 65536;
function capture(stream, text) {
  if (captured[stream].length < OUTPUT_LIMIT) {
    captured[stream] += (text + "\n").slice(0, OUTPUT_LIMIT - captured[stream].length);
  }
}

/** The package's loader; exits with a hint when it is not installed. */
async function importLoader() {
  try {
    return (await import(PACKAGE)).loadMicroPython;
  } catch (err) {
    process.stderr.write(`micropython_adapter: cannot load ${PACKAGE} ` +
      `(${err.code ?? err.message}): run \`npm ci\` in the harness directory\n`);
    process.exit(1);
  }
}

/** Write one line to the channel. */
function send(text) {
  process.stdout.write(text + "\n");
}

async function main() {
  const loadMicroPython = await importLoader();
  const mp = await loadMicroPython({
    stdout: (text) => capture("stdout", text),
    stderr: (text) => capture("stderr", text),
  });
  // protocol.py first: the prelude uses its names from the same namespace.
  mp.runPython(readFileSync(join(HERE, "protocol.py"), "utf8"));
  mp.globals.set("CLAIMED_PROFILE", claimedProfile);
  mp.runPython(readFileSync(join(HERE, "micropython_prelude.py"), "utf8"));
  mp.runPython("_ready = json.dumps(ready())");
  send(mp.globals.get("_ready"));
  captured.stdout = captured.stderr = "";

  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let reply;
    try {
      mp.globals.set("_line", line);
      await mp.runPythonAsync("_reply = await answer(_line)");
      reply = JSON.parse(mp.globals.get("_reply"));
    } catch (err) {
      let id = null;
      let kase = null;
      try {
        ({ id = null, case: kase = null } = JSON.parse(line));
      } catch {
        // keep nulls
      }
      reply = { id, case: kase, error: `adapter: ${err.message ?? err}` };
    }
    if (captured.stdout) reply.stdout = captured.stdout;
    if (captured.stderr) reply.stderr = captured.stderr;
    captured.stdout = captured.stderr = "";
    send(JSON.stringify(reply));
  }
  // End of input: leftover asyncio timers must not keep Node alive.
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`micropython_adapter: ${err.stack ?? err}\n`);
  process.exit(1);
});
