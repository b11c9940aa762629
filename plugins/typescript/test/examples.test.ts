/**
 * The seed snippets as runnable examples (examples/*.ts), on Node and Bun, importing "@elizaos/interop".
 * The package's `interop-source` export condition resolves that import to src/, so the examples run
 * the sources under test; without it they run the built dist/ (test/package.test.ts covers that).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { PKG_DIR, RUNTIMES, RUNTIME_NAMES, rustWasm } from "./helpers.ts";

const run = promisify(execFile);
/** Node and Bun spell the export-condition flag alike. */
const SOURCE_CONDITION = "--conditions=interop-source";

for (const runtime of RUNTIME_NAMES) {
  describe(`examples on ${runtime}`, () => {
    it("snippet 1: TypeScript loads the Rust plugin over WASM", async () => {
      const { stdout } = await run(RUNTIMES[runtime], [SOURCE_CONDITION, join(PKG_DIR, "examples/ts-loads-rust-wasm.ts"), rustWasm("elizaos_plugin_eliza_classic")], { timeout: 30000 });
      assert.match(stdout, /Plugin: eliza-classic/);
      assert.match(stdout, /Actions: \[ ?['"]generate-response['"] ?\]/);
      assert.match(stdout, /Response: I am sorry to hear you are sad\./);
    });

    it("snippet 2: TypeScript loads the Python plugin over IPC", async () => {
      const { stdout } = await run(RUNTIMES[runtime], [SOURCE_CONDITION, join(PKG_DIR, "examples/ts-loads-python.ts")], { timeout: 30000 });
      assert.match(stdout, /Response: I am sorry to hear you are sad\./);
    });
  });
}
