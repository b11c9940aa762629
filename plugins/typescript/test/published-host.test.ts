/**
 * `@elizaos/plugin-bootstrap` 1.7.2 as published, loaded through the TS host's public API
 * (loadTsPlugin on the installed package directory) on Node and Bun, and called as user code would:
 * without a runtime, and with an InMemoryRuntime built from the World of published/expectations.json
 * (fresh per call, the plugin registered so composeState runs its providers across the boundary).
 * The calls and expected outcomes are the shared data the bridge test and the elizaos matrix use.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InMemoryRuntime, PluginCallError, loadTsPlugin, type LoadedPlugin, type Method, type World } from "../src/index.ts";
import { PKG_DIR, RUNTIMES, RUNTIME_NAMES, assertSchema, requireFile } from "./helpers.ts";

const PUBLISHED = join(PKG_DIR, "published");
const PACKAGE_DIR = requireFile(join(PUBLISHED, "node_modules/@elizaos/plugin-bootstrap"), "install the pinned published packages with: cd plugins/typescript/published && npm ci");

interface ExpectedCall {
  id: string;
  method: Exclude<Method, "shutdown">;
  params: Record<string, unknown>;
  world: boolean;
  expect: { value: unknown } | { subset: unknown } | { ok: true } | { error: { type?: string; code?: number; message?: string; exception?: string } };
}
interface Expectations {
  manifest: Record<string, unknown>;
  world: World;
  calls: ExpectedCall[];
}
const DOC = JSON.parse(readFileSync(join(PUBLISHED, "expectations.json"), "utf8")) as Expectations;

/** Where `actual` departs from `pattern`: objects by the pattern's members, arrays by length and order, the rest by equality. */
function departure(pattern: unknown, actual: unknown, path = "$"): string | null {
  if (Array.isArray(pattern)) {
    if (!Array.isArray(actual) || actual.length !== pattern.length) return `${path}: expected an array of ${pattern.length}`;
    for (let i = 0; i < pattern.length; i++) {
      const d = departure(pattern[i], actual[i], `${path}[${i}]`);
      if (d !== null) return d;
    }
    return null;
  }
  if (typeof pattern === "object" && pattern !== null) {
    if (typeof actual !== "object" || actual === null || Array.isArray(actual)) return `${path}: expected an object`;
    for (const [k, v] of Object.entries(pattern)) {
      const d = departure(v, (actual as Record<string, unknown>)[k], `${path}.${k}`);
      if (d !== null) return d;
    }
    return null;
  }
  return pattern === actual ? null : `${path}: expected ${JSON.stringify(pattern)}, received ${JSON.stringify(actual)}`;
}

async function check(plugin: LoadedPlugin, call: ExpectedCall, runtime: InMemoryRuntime | undefined): Promise<void> {
  let value: unknown;
  let error: unknown;
  try {
    value = await plugin.call(call.method, call.params, { timeoutMs: 30000 }, runtime);
  } catch (err) {
    error = err;
  }
  const what = `${call.id}: ${error === undefined ? JSON.stringify(value)?.slice(0, 400) : String(error)}\nstderr: ${plugin.stderrTail().slice(-400)}`;
  const expect = call.expect;
  if ("error" in expect) {
    assert.ok(error instanceof PluginCallError, what);
    if (expect.error.type !== undefined) assert.equal(error.name, expect.error.type, what);
    if (expect.error.code !== undefined) assert.equal(error.code, expect.error.code, what);
    if (expect.error.message !== undefined) assert.ok(error.errorMessage.includes(expect.error.message), what);
    if (expect.error.exception !== undefined) assert.equal((error.data as { exception?: string } | undefined)?.exception, expect.error.exception, what);
    return;
  }
  assert.equal(error, undefined, what);
  if ("value" in expect) assert.deepEqual(value, expect.value, what);
  if ("subset" in expect) assert.equal(departure(expect.subset, value), null, what);
}

for (const runtime of RUNTIME_NAMES) {
  describe(`TS host -> published @elizaos/plugin-bootstrap on ${runtime}`, () => {
    let plugin: LoadedPlugin;
    before(async () => {
      plugin = await loadTsPlugin(PACKAGE_DIR, { runtime, executable: RUNTIMES[runtime], cwd: PUBLISHED, startTimeoutMs: 60000 });
    });
    after(async () => {
      await plugin.close();
    });

    it("the manifest as published, with the descriptors' examples on the host's objects", () => {
      assertSchema("manifest.schema.json", plugin.manifest);
      assert.equal(departure(DOC.manifest, plugin.manifest), null);
      assert.deepEqual(plugin.capabilities, ["runtime", "shutdown"]);
      const reply = plugin.actions.find((a) => a.name === "REPLY");
      assert.ok(Array.isArray(reply?.examples) && reply.examples.length > 0, "REPLY keeps its examples");
      assert.ok(Array.isArray(plugin.evaluators[0]?.examples), "the evaluator keeps its examples");
    });

    it("without a runtime: the expected outcomes", async () => {
      for (const call of DOC.calls.filter((c) => !c.world)) await check(plugin, call, undefined);
    });

    it("with an InMemoryRuntime from the World, fresh per call: the expected outcomes, runtime calls answered by the host", async () => {
      const used = new Set<string>();
      for (const call of DOC.calls.filter((c) => c.world)) {
        const rt = new InMemoryRuntime(DOC.world);
        await rt.registerPlugin(plugin);
        await check(plugin, call, rt);
        for (const c of rt.calls) used.add(c.method);
      }
      for (const m of ["getRoom", "getWorld", "getTasks", "getMemories", "useModel", "composeState", "getCache", "createMemory"]) assert.ok(used.has(m), `${m} was called`);
    });
  });
}
