/**
 * `@elizaos/plugin-bootstrap` 1.7.2 as published on npm (with `@elizaos/core` 1.7.2), served by the
 * bridge by package name with no adapter, on Node and on Bun. The calls and their expected outcomes
 * are data (published/plugin-bootstrap-calls.json), shared with the testkit's elizaos matrix: without
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

type Outcome = { ok: unknown } | { error: { code: number; message?: string; exception: string } };
interface CallSpec {
  method: string;
  name: string;
  needs: "nothing" | "runtime" | "model" | "unsupported";
  withoutRuntime: Outcome;
  withRuntime: Outcome;
}
interface CallsDoc {
  package: string;
  manifest: Record<string, unknown> & { actions: string[]; providers: string[]; evaluators: string[] };
  memory: object;
  state: object;
  world: World;
  calls: CallSpec[];
}
const DOC = JSON.parse(readFileSync(join(PUBLISHED, "plugin-bootstrap-calls.json"), "utf8")) as CallsDoc;

/** True when `actual` matches the pattern: objects by their pattern's members, recursively; the rest by equality. */
function matches(actual: unknown, pattern: unknown): boolean {
  if (typeof pattern === "object" && pattern !== null && !Array.isArray(pattern)) {
    if (typeof actual !== "object" || actual === null || Array.isArray(actual)) return false;
    return Object.entries(pattern).every(([k, v]) => k in actual && matches((actual as Record<string, unknown>)[k], v));
  }
  try {
    assert.deepStrictEqual(actual, pattern);
    return true;
  } catch {
    return false;
  }
}

function check(call: CallSpec, r: Response, expected: Outcome, b: RawBridge): void {
  const what = `${call.method}(${call.name}): ${JSON.stringify(r).slice(0, 600)}\nstderr: ${b.stderr.slice(-400)}`;
  if ("ok" in expected) {
    assert.equal(r.error, undefined, what);
    assert.ok(matches(r.result, expected.ok), `expected a result matching ${JSON.stringify(expected.ok)}; ${what}`);
  } else {
    assert.ok(r.error, what);
    assert.equal(r.error.code, expected.error.code, what);
    if (expected.error.message !== undefined) assert.equal(r.error.message, expected.error.message, what);
    assert.equal((r.error.data as { exception?: string } | undefined)?.exception, expected.error.exception, what);
  }
}

function params(call: CallSpec): Record<string, unknown> {
  return { name: call.name, memory: DOC.memory, state: DOC.state, options: {} };
}

for (const runtime of RUNTIME_NAMES) {
  describe(`${DOC.package} on ${runtime}, served as published`, () => {
    let b: RawBridge;
    before(() => {
      b = new RawBridge(runtime, DOC.package, [], { cwd: PUBLISHED });
    });
    after(async () => {
      await b.kill();
    });

    it("manifest: the package's name and version, services and events by name, descriptors with their examples", async () => {
      const r = await b.call("manifest", "getManifest", { protocolVersion: 1, capabilities: ["runtime"] });
      const m = r.result as Record<string, unknown>;
      assert.ok(m, `no manifest: ${JSON.stringify(r)}; stderr: ${b.stderr.slice(-1000)}`);
      assertSchema("manifest.schema.json", m);
      for (const key of ["name", "version", "language", "protocolVersion", "capabilities", "services", "events"]) {
        assert.deepEqual(m[key], DOC.manifest[key], key);
      }
      for (const kind of ["actions", "providers", "evaluators"] as const) {
        assert.deepEqual((m[kind] as { name: string }[]).map((d) => d.name), DOC.manifest[kind], kind);
      }
      const reply = (m["actions"] as Record<string, unknown>[]).find((a) => a["name"] === "REPLY") as Record<string, unknown>;
      assert.ok(Array.isArray(reply["similes"]) && Array.isArray(reply["examples"]) && (reply["examples"] as unknown[]).length > 0);
      const reflection = (m["evaluators"] as Record<string, unknown>[])[0] as Record<string, unknown>;
      assert.ok(Array.isArray(reflection["examples"]));
    });

    it("without a runtime: calls that need none succeed, the others fail with the named error or as the plugin handles it", async () => {
      let n = 0;
      for (const call of DOC.calls) check(call, await b.call(++n, call.method, params(call)), call.withoutRuntime, b);
      assert.equal(b.requests.length, 0, "no runtime request is sent for a call without a runtime");
      const failing = DOC.calls.filter((c) => "error" in c.withoutRuntime && (c.needs === "runtime" || c.needs === "model"));
      assert.ok(failing.length >= 15, "most runtime-needing calls fail with an error without a runtime");
    });
  });

  describe(`${DOC.package} on ${runtime}, with the test as the host answering from a World`, () => {
    let b: RawBridge;
    let table: WorldTable;
    before(() => {
      b = new RawBridge(runtime, DOC.package, [], { cwd: PUBLISHED });
      table = new WorldTable(DOC.world);
      table.serve(b);
    });
    after(async () => {
      await b.kill();
    });

    it("every call that needs only the runtime (and canned models) succeeds", async () => {
      let n = 0;
      for (const call of DOC.calls) check(call, await b.call(++n, call.method, { ...params(call), runtime: table.context() }), call.withRuntime, b);
      const used = new Set(table.calls.map((c) => c.method));
      for (const m of ["getRoom", "getWorld", "getTasks", "getMemories", "useModel", "composeState", "getCache", "createMemory"]) assert.ok(used.has(m), `${m} was called`);
      for (const req of b.requests) assertSchema("runtime-request.schema.json", req);
    });
  });
}
