/**
 * `@elizaos/interop` as users get it from npm: `npm pack` (which builds dist/ with tsc), the tarball
 * installed into an empty directory, and a plain JavaScript consumer run there with Node 22 and with
 * Bun, loading the Python conformance fixture (IPC), the Rust eliza-classic plugin (WASM) and a
 * TypeScript plugin through the installed dist/bridge-server.js; a TypeScript consumer type-checks
 * against the installed declarations.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { PKG_DIR, PY_FIXTURES, PYTHON, RUNTIMES, RUNTIME_NAMES, rustWasm } from "./helpers.ts";

const run = promisify(execFile);
/** Any npm on PATH: the prepack script it runs finds this package's tsc and Node 22 in node_modules/.bin. */
const NPM = "npm";

const CONSUMER = `
import { loadPythonPlugin, loadTsPlugin, loadWasmPlugin, BRIDGE_SERVER_PATH, InMemoryRuntime } from "@elizaos/interop";
const [pyFixture, wasmPath, tsPlugin, runtimeExe] = process.argv.slice(2);
const out = { bridge: BRIDGE_SERVER_PATH };
const py = await loadPythonPlugin(pyFixture, { python: process.env.ELIZAOS_PYTHON });
out.pyEcho = (await py.actions[0].handler({}, { content: { text: "hi" } }, {}, {})).text;
const runtime = new InMemoryRuntime({ agentId: "a-1", settings: { K: "from the world" } });
const rt = await py.invokeAction("runtime", { content: {} }, {}, { calls: [{ method: "getSetting", args: ["K"] }] }, undefined, runtime);
out.pyRuntime = rt.data.results[0];
await py.close();
const wasm = await loadWasmPlugin(wasmPath);
out.eliza = (await wasm.actions[0].handler({}, { content: { text: "I am feeling sad" } }, {}, {})).text;
await wasm.close();
const ts = await loadTsPlugin(tsPlugin, { runtime: process.versions.bun ? "bun" : "node", executable: runtimeExe });
out.tsHello = (await ts.invokeAction("hello", { content: { text: "there" } })).text;
await ts.close();
console.log(JSON.stringify(out));
`;

const TS_PLUGIN = `
import type { Plugin } from "@elizaos/interop";
export const plugin: Plugin = {
  name: "consumer-plugin",
  description: "A plugin next to an installed @elizaos/interop",
  actions: [{ name: "hello", description: "Says hello", validate: async () => true, handler: async (_runtime, memory) => ({ success: true, text: "hello " + String(memory.content.text) }) }],
};
`;

const TS_CONSUMER = `
import { loadWasmPlugin, type LoadedPlugin, type ActionResult } from "@elizaos/interop";
import { ErrorCode, InMemoryRuntime, PluginCallError, RuntimeUnavailableError, type Memory, type Plugin, type World } from "@elizaos/interop";
const p: LoadedPlugin = await loadWasmPlugin("x.wasm");
const r: ActionResult = await p.invokeAction("a", { content: { text: "t" } });
const ok: boolean = r.success;
const world: World = { agentId: "a-1", settings: { K: "v" } };
const memory: Memory = { content: { text: "hi" } };
const plugin: Plugin = {
  name: "typed", description: "typed against the installed declarations",
  actions: [{ name: "a", description: "", validate: () => true, handler: async (runtime) => {
    try { return { success: true, text: String(await runtime.getSetting("K")) }; }
    catch (err) { if (err instanceof RuntimeUnavailableError) return { success: false }; throw err; }
  } }],
};
const unknownName = (err: unknown): boolean => err instanceof PluginCallError && err.code === ErrorCode.UnknownName;
await p.invokeAction("a", memory, {}, {}, undefined, new InMemoryRuntime(world)).catch(unknownName);
export { ok, plugin };
`;

/**
 * Runs under `node --test`, which runs the consumer on Node and on Bun alike. Under `bun test` the
 * suite is skipped: its hooks may not take the minutes `npm pack` needs on a loaded machine, and it
 * would only repeat the same checks.
 */
const suite = process.versions["bun"] === undefined ? describe : describe.skip;

suite("@elizaos/interop installed from its npm tarball", () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "interop-pkg-"));
    await run(NPM, ["pack", "--pack-destination", dir, "--no-audit", "--no-fund"], { cwd: PKG_DIR, timeout: 300_000 });
    const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
    assert.ok(tarball, `npm pack left no tarball in ${dir}`);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    await run(NPM, ["install", "--no-audit", "--no-fund", "--no-package-lock", join(dir, tarball)], { cwd: dir, timeout: 300_000 });
    writeFileSync(join(dir, "consumer.mjs"), CONSUMER);
    writeFileSync(join(dir, "plugin.ts"), TS_PLUGIN);
    writeFileSync(join(dir, "consumer.ts"), TS_CONSUMER);
  });
  after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("ships dist (JavaScript and declarations) and no sources", () => {
    const installed = join(dir, "node_modules/@elizaos/interop");
    for (const f of ["dist/index.js", "dist/index.d.ts", "dist/bridge-server.js", "dist/in-memory-runtime.d.ts", "package.json"]) assert.ok(existsSync(join(installed, f)), `missing ${f}`);
    assert.equal(existsSync(join(installed, "src")), false);
    assert.equal(existsSync(join(installed, "dist/.tsbuildinfo")), false, "the incremental build's state stays out of the package");
  });

  for (const runtime of RUNTIME_NAMES) {
    it(`a plain JavaScript consumer on ${runtime} loads Python (IPC), Rust (WASM) and TypeScript (IPC) plugins`, async () => {
      const args = [join(dir, "consumer.mjs"), join(PY_FIXTURES, "conformance_plugin.py"), rustWasm("elizaos_plugin_eliza_classic"), join(dir, "plugin.ts"), RUNTIMES[runtime]];
      const { stdout } = await run(RUNTIMES[runtime], args, { cwd: dir, timeout: 60_000, env: { ...process.env, ELIZAOS_PYTHON: PYTHON } });
      const out = JSON.parse(stdout.trim().split("\n").at(-1) as string) as Record<string, unknown>;
      assert.equal(out["bridge"], join(dir, "node_modules/@elizaos/interop/dist/bridge-server.js"));
      assert.equal(out["pyEcho"], "hi");
      assert.deepEqual(out["pyRuntime"], { ok: "from the world" });
      assert.equal(out["eliza"], "I am sorry to hear you are sad.");
      assert.equal(out["tsHello"], "hello there");
    });
  }

  it("a TypeScript consumer type-checks against the installed declarations", async () => {
    const tsc = join(PKG_DIR, "node_modules/.bin/tsc");
    const args = ["--noEmit", "--strict", "--target", "es2023", "--module", "nodenext", "--moduleResolution", "nodenext", "--typeRoots", join(PKG_DIR, "node_modules/@types"), "--types", "node", "consumer.ts"];
    await run(tsc, args, { cwd: dir, timeout: 120_000 }).catch((err: { stdout?: string; message: string }) => assert.fail(`tsc: ${err.stdout ?? err.message}`));
  });
});
