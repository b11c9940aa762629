/**
 * The WASM host with modules written by hand from the ABI text (variants of the ABI probe,
 * test/fixtures/abi-probe/abi-probe.wat.in, assembled with wasmtime's wat2wasm): the manifest and
 * results kept as received (protocol.md section 1), a runtime accepted and not sent (11.6), and
 * strict JSON receiving (section 2): lone surrogates, invalid UTF-8 and NaN are PluginProtocolError.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InMemoryRuntime, PluginProtocolError, loadWasmPlugin } from "../src/index.ts";
import { PYTHON, TEST_DIR } from "./helpers.ts";

const TEMPLATE = readFileSync(join(TEST_DIR, "fixtures/abi-probe/abi-probe.wat.in"), "utf8");

/** A WAT data string holding a little-endian u32 length and the bytes. */
function blob(bytes: Uint8Array): string {
  const all = new Uint8Array(4 + bytes.length);
  new DataView(all.buffer).setUint32(0, bytes.length, true);
  all.set(bytes, 4);
  return [...all].map((b) => `\\${b.toString(16).padStart(2, "0")}`).join("");
}
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

const MANIFEST = {
  name: "@elizaos/plugin-probe",
  description: "Hand-written module",
  version: "0.1.0",
  language: "wat",
  protocolVersion: 1,
  capabilities: ["runtime"],
  dependencies: ["@elizaos/plugin-sql"],
  actions: [{ name: "ok", description: "Constant result", examples: [[{ name: "u", content: { text: "hi" } }]] }],
  providers: [{ name: "empty", position: 2 }],
  evaluators: [],
};

/** Assembles a probe whose invokeAction answers `action` (at most 124 bytes). */
function probe(action: Uint8Array): Uint8Array {
  assert.ok(action.length <= 124, "the action envelope must fit its data slot");
  const src = TEMPLATE.replace("@MANIFEST@", blob(text(JSON.stringify({ result: MANIFEST }))))
    .replace("@ACTION@", blob(action))
    .replace("@PROVIDER@", blob(text('{"result":{}}')))
    .replace("@EVALUATOR@", blob(text('{"result":null}')));
  return execFileSync(PYTHON, ["-c", "import sys, wasmtime; sys.stdout.buffer.write(wasmtime.wat2wasm(sys.stdin.read()))"], { input: src, maxBuffer: 1 << 20 });
}

const mem = { content: { text: "hi" } };

describe("WASM host: must-ignore and strict JSON receiving", () => {
  it("keeps the manifest, descriptor extras and unknown result members; accepts a runtime and sends nothing for it", async () => {
    const p = await loadWasmPlugin(probe(text('{"result":{"success":true,"text":"ok","extra":{"kept":true}}}')));
    try {
      assert.equal(p.name, "@elizaos/plugin-probe");
      assert.deepEqual(p.manifest["dependencies"], ["@elizaos/plugin-sql"]);
      assert.deepEqual(p.actions[0]?.examples, [[{ name: "u", content: { text: "hi" } }]]);
      assert.equal(p.providers[0]?.["position"], 2);
      assert.deepEqual(p.capabilities, ["runtime"]);
      const runtime = new InMemoryRuntime({ agentId: "a" });
      const r = await p.actions[0]?.handler(runtime, mem, {}, {});
      assert.deepEqual(r, { success: true, text: "ok", extra: { kept: true } });
      assert.deepEqual(runtime.calls, []);
    } finally {
      await p.close();
    }
  });

  const bad: [string, Uint8Array, RegExp][] = [
    ["a lone surrogate", text('{"result":{"success":true,"text":"a\\udc00"}}'), /not I-JSON: string contains a lone surrogate at \$\.result\.text/],
    ["invalid UTF-8", new Uint8Array([...text('{"result":{"success":true,"text":"'), 0xc3, 0x28, ...text('"}}')]), /not valid UTF-8/],
    ["NaN", text('{"result":{"success":true,"values":{"x":NaN}}}'), /not JSON/],
  ];
  for (const [what, envelope, reason] of bad) {
    it(`${what} in a result buffer is PluginProtocolError, and the plugin keeps serving`, async () => {
      const p = await loadWasmPlugin(probe(envelope));
      try {
        await assert.rejects(p.invokeAction("ok", mem), (e: unknown) => e instanceof PluginProtocolError && reason.test(e.message));
        assert.equal(await p.validateAction("ok", mem), true);
      } finally {
        await p.close();
      }
    });
  }
});
