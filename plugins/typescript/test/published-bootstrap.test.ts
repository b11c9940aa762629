/**
 * `@elizaos/plugin-bootstrap` 1.7.2 as published on npm (with `@elizaos/core` 1.7.2), served by the
 * bridge by package name with no adapter, on Node and on Bun. The calls and their expected outcomes
 * are data (published/expectations.json, the testkit's expectation format), shared with its elizaos matrix: without
 * a runtime, and with the test acting as the host, answering runtime requests from a World's tables.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PKG_DIR, RUNTIME_NAMES, RawBridge, assertSchema, requireFile, type Response } from "./helpers.ts";
import { WorldTable, type World } from "./world-table.ts";

const PUBLISHED = join(PKG_DIR, "published");
requireFile(join(PUBLISHED, "node_modules/@elizaos/plugin-bootstrap/package.json"), "install the pinned published packages with: cd plugins/typescript/published && npm ci");

/** One call of the expectation file (format: testkit/README.md). */
interface ExpectedCall {
  id: string;
  method: string;
  params: Record<string, unknown>;
  world: boolean;
  needs: "nothing" | "runtime" | "model" | "unsupported";
  expect: { value: unknown } | { subset: unknown } | { ok: true } | { error: { type?: string; code?: number; message?: string; exception?: string } };
}
interface Expectations {
  manifest: Record<string, unknown> & { actions: { name: string }[]; providers: { name: string }[]; evaluators: { name: string }[] };
  world: World;
  calls: ExpectedCall[];
}
const DOC = JSON.parse(readFileSync(join(PUBLISHED, "expectations.json"), "utf8")) as Expectations;
const PACKAGE = DOC.manifest["name"] as string;

/** Where `actual` departs from `pattern`, or null: objects by the pattern's members, arrays by length and order, the rest by equality. */
function mismatch(pattern: unknown, actual: unknown, path = "$"): string | null {
  if (typeof pattern === "object" && pattern !== null) {
    if (Array.isArray(pattern)) {
      if (!Array.isArray(actual) || actual.length !== pattern.length) return `${path}: expected an array of ${pattern.length}`;
      for (let i = 0; i < pattern.length; i++) {
        const m = mismatch(pattern[i], actual[i], `${path}[${i}]`);
        if (m !== null) return m;
      }
      return null;
    }
    if (typeof actual !== "object" || actual === null || Array.isArray(actual)) return `${path}: expected an object`;
    for (const [k, v] of Object.entries(pattern)) {
      if (!(k in actual)) return `${path}.${k}: missing`;
      const m = mismatch(v, (actual as Record<string, unknown>)[k], `${path}.${k}`);
      if (m !== null) return m;
    }
    return null;
  }
  return Object.is(pattern, actual) || pattern === actual ? null : `${path}: expected ${JSON.stringify(pattern)}`;
}

function check(call: ExpectedCall, r: Response, b: RawBridge): void {
  const what = `${call.id}: ${JSON.stringify(r).slice(0, 600)}\nstderr: ${b.stderr.slice(-400)}`;
  const expect = call.expect;
  if ("error" in expect) {
    assert.ok(r.error, what);
    if (expect.error.code !== undefined) assert.equal(r.error.code, expect.error.code, what);
    if (expect.error.message !== undefined) assert.ok(r.error.message.includes(expect.error.message), what);
    if (expect.error.exception !== undefined) assert.equal((r.error.data as { exception?: string } | undefined)?.exception, expect.error.exception, what);
    return;
  }
  assert.equal(r.error, undefined, what);
  const problem = "value" in expect ? mismatch(expect.value, r.result) : "subset" in expect ? mismatch(expect.subset, r.result) : null;
  assert.equal(problem, null, what);
  if ("value" in expect) assert.deepEqual(r.result, expect.value, what);
}

for (const runtime of RUNTIME_NAMES) {
  describe(`${PACKAGE} on ${runtime}, served as published`, () => {
    let b: RawBridge;
    before(() => {
      b = new RawBridge(runtime, PACKAGE, [], { cwd: PUBLISHED });
    });
    after(async () => {
      await b.kill();
    });

    it("manifest: the package's name and version, services and events by name, descriptors with their examples", async () => {
      const r = await b.call("manifest", "getManifest", { protocolVersion: 1, capabilities: ["runtime"] });
      const m = r.result as Record<string, unknown>;
      assert.ok(m, `no manifest: ${JSON.stringify(r)}; stderr: ${b.stderr.slice(-1000)}`);
      assertSchema("manifest.schema.json", m);
      assert.equal(mismatch(DOC.manifest, m), null);
      const reply = (m["actions"] as Record<string, unknown>[]).find((a) => a["name"] === "REPLY") as Record<string, unknown>;
      assert.ok(Array.isArray(reply["similes"]) && Array.isArray(reply["examples"]) && (reply["examples"] as unknown[]).length > 0);
      const reflection = (m["evaluators"] as Record<string, unknown>[])[0] as Record<string, unknown>;
      assert.ok(Array.isArray(reflection["examples"]));
    });

    it("without a runtime: calls that need none succeed, the others fail with the named error or as the plugin handles it", async () => {
      const calls = DOC.calls.filter((c) => !c.world);
      for (const call of calls) check(call, await b.call(call.id, call.method, call.params), b);
      assert.equal(b.requests.length, 0, "no runtime request is sent for a call without a runtime");
      const named = calls.filter((c) => "error" in c.expect && c.expect.error.message?.endsWith("is not provided by the host"));
      assert.ok(named.length >= 15, "most runtime-needing calls fail with the named error without a runtime");
    });

    it("with the test as the host answering from a fresh World per call: the runtime-only calls succeed", async () => {
      const used = new Set<string>();
      const providers = DOC.manifest.providers.map((p) => p.name);
      for (const call of DOC.calls.filter((c) => c.world)) {
        const table = new WorldTable(DOC.world);
        table.serve(b, providers);
        check(call, await b.call(call.id, call.method, { ...call.params, runtime: table.context() }), b);
        for (const c of table.calls) used.add(c.method);
      }
      for (const m of ["getRoom", "getWorld", "getTasks", "getMemories", "useModel", "composeState", "getCache", "createMemory"]) assert.ok(used.has(m), `${m} was called`);
      for (const req of b.requests) assertSchema("runtime-request.schema.json", req);
    });
  });
}
