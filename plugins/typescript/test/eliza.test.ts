/**
 * The eliza-classic plugin glue (fixtures/eliza-classic/plugin.ts) served over IPC on Node and Bun,
 * and the same conversation through the Python and Rust (WASM) ports: same input, same output.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadPythonPlugin, loadTsPlugin, loadWasmPlugin, type LoadedPlugin } from "../src/index.ts";
import { ELIZA_TS, PY_FIXTURES, PYTHON, RUNTIMES, RUNTIME_NAMES, VECTORS_DIR, assertSchema, rustWasm } from "./helpers.ts";

interface Transcript {
  greeting: string;
  sessions: { name: string; exchanges: { input: string; reply: string }[] }[];
}
const transcript = JSON.parse(readFileSync(join(VECTORS_DIR, "eliza-transcript.json"), "utf8")) as Transcript;

async function checkPlugin(p: LoadedPlugin, language: string): Promise<void> {
  assertSchema("manifest.schema.json", p.manifest);
  assert.equal(p.name, "eliza-classic");
  assert.equal(p.language, language);
  assert.equal(p.version, "1.0.0");
  assert.deepEqual(p.actions.map((a) => a.name), ["generate-response"]);
  assert.deepEqual(p.providers.map((x) => x.name), ["eliza-greeting"]);
  assert.deepEqual(p.evaluators, []);
  assert.deepEqual(await p.providers[0]?.get({}, { content: {} }), { text: transcript.greeting });
  // The seed's demo, on a fresh instance.
  const seed = transcript.sessions.find((s) => s.name === "seed-demo")?.exchanges[0];
  assert.ok(seed);
  assert.equal(await p.actions[0]?.validate({}, { content: { text: seed.input } }), true);
  assert.deepEqual(await p.actions[0]?.handler({}, { content: { text: seed.input } }, {}, {}), { success: true, text: seed.reply });
}

for (const runtime of RUNTIME_NAMES) {
  describe(`eliza-classic (TypeScript) over IPC on ${runtime}`, () => {
    it("manifest, greeting provider and the seed reply", async () => {
      const p = await loadTsPlugin(ELIZA_TS, { runtime, executable: RUNTIMES[runtime] });
      try {
        await checkPlugin(p, "typescript");
        // absent text is answered like empty input
        const empty = await p.invokeAction("generate-response", { content: {} });
        assert.equal(empty.success, true);
        assert.equal(typeof empty.text, "string");
      } finally {
        await p.close();
      }
    });

    it("every shared transcript session, one plugin instance per session", async () => {
      for (const session of transcript.sessions) {
        const p = await loadTsPlugin(ELIZA_TS, { runtime, executable: RUNTIMES[runtime] });
        try {
          for (const { input, reply } of session.exchanges) {
            assert.equal((await p.invokeAction("generate-response", { content: { text: input } })).text, reply, `${session.name}: ${JSON.stringify(input)}`);
          }
        } finally {
          await p.close();
        }
      }
    });
  });
}

describe("eliza-classic through the other ports answers the same", () => {
  it("Python over IPC", async () => {
    const p = await loadPythonPlugin(join(PY_FIXTURES, "eliza_classic"), { python: PYTHON });
    try {
      await checkPlugin(p, "python");
    } finally {
      await p.close();
    }
  });

  it("Rust over WASM", async () => {
    const p = await loadWasmPlugin(rustWasm("elizaos_plugin_eliza_classic"));
    try {
      await checkPlugin(p, "rust");
    } finally {
      await p.close();
    }
  });
});
