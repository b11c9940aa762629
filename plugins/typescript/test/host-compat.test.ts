/**
 * The TS host with plugins written from the protocol text alone (test/fixtures/raw-plugin.mjs, no
 * SDK): must-ignore and the seed's answer shapes (protocol.md 1, 3.3, 12), strict JSON receiving
 * (section 2, 3.5), the version and capability exchange (section 12) and runtime calls answered by
 * the host (section 11).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  InMemoryRuntime,
  LoadedPlugin,
  PluginCallError,
  PluginLoadError,
  PluginProtocolError,
  PluginTimeoutError,
  loadIpcPlugin,
  loadTsPlugin,
  type JsonObject,
  type JsonValue,
} from "../src/index.ts";
import { InvalidResult, checkActionResult, checkManifest, checkProviderResult, checkValidateAnswer } from "../src/protocol.ts";
import { CONFORMANCE_TS, RUNTIMES, TEST_DIR, assertGone, within } from "./helpers.ts";

const RAW = join(TEST_DIR, "fixtures/raw-plugin.mjs");
const mem = (text = "hi"): { content: { text: string } } => ({ content: { text } });
const load = (mode: "seed" | "runtime" | "full" | "unversioned", opts = {}): Promise<LoadedPlugin> => loadIpcPlugin([RUNTIMES.node, RAW, mode], { closeGraceMs: 5000, ...opts });

async function rejection<E extends Error>(p: Promise<unknown>, cls: new (...args: never[]) => E, what: string): Promise<E> {
  const err = await within(15000, what, p.then(
    (v) => {
      throw new Error(`${what}: expected ${cls.name}, resolved with ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  ));
  assert.ok(err instanceof cls, `${what}: expected ${cls.name}, got ${String(err)}`);
  return err;
}

/** Requests the raw plugin received, from its stderr log. */
function received(p: LoadedPlugin): { method: string; params: Record<string, unknown> }[] {
  return p
    .stderrTail()
    .split("\n")
    .filter((l) => l.startsWith("recv "))
    .map((l) => {
      const rest = l.slice(5);
      const sp = rest.indexOf(" ");
      return { method: rest.slice(0, sp), params: JSON.parse(rest.slice(sp + 1)) as Record<string, unknown> };
    });
}

describe("must-ignore and the seed's answer shapes (protocol.md 1, 3.3, 12)", () => {
  it("a seed-dialect plugin loads: manifest kept as received, descriptor extras on the objects, both answer shapes", async () => {
    const p = await load("seed");
    const pid = p.pid as number;
    try {
      assert.equal(p.name, "@elizaos/plugin-raw");
      assert.equal(p.protocolVersion, 0);
      assert.deepEqual(p.capabilities, []);
      assert.deepEqual(p.manifest["dependencies"], ["@elizaos/plugin-sql"]);
      assert.equal(p.manifest["priority"], 5);
      assert.deepEqual(p.manifest["config"], { API_KEY: null });
      // the host's half of the exchange reached the plugin as getManifest's params
      assert.deepEqual(p.manifest["receivedParams"], { protocolVersion: 1, capabilities: ["runtime"] });
      const echo = p.actions[0];
      assert.ok(echo);
      assert.deepEqual(echo.examples, [[{ name: "user", content: { text: "hi" } }]]);
      assert.deepEqual(echo.similes, ["ECHO"]);
      assert.equal(p.providers[0]?.["position"], -1);
      await p.init({ KEY: "v" }); // answers {"success": true}
      assert.equal(await echo.validate({}, mem()), true); // answers {"valid": true}
      assert.equal(await p.validateAction("runtime", mem()), false); // {"valid": false}
      // unknown result members are kept, null optional members dropped
      const r = await p.invokeAction("echo-params", mem());
      assert.equal(r.success, true);
      assert.equal((r as unknown as Record<string, unknown>)["extra"], "kept");
      assert.equal(Object.hasOwn(r, "text"), false);
      assert.deepEqual(await p.getProvider("p", mem()), { text: "provider text", values: { n: 1 }, position: 3 });
      // a seed plugin answers -32602 for an unknown name: PluginCallError with the code received
      const unknown = await rejection(p.invokeAction("missing", mem()), PluginCallError, "unknown action");
      assert.equal(unknown.code, -32602);
      assert.equal(unknown.errorMessage, "Unknown action: missing");
      const unknownProvider = await rejection(p.getProvider("missing", mem()), PluginCallError, "unknown provider");
      assert.equal(unknownProvider.code, -32602);
    } finally {
      await p.close();
    }
    await assertGone(pid);
    // no "shutdown" capability: close() went straight to stdin EOF
    const methods = received(p).map((r) => r.method);
    assert.ok(!methods.includes("shutdown"), `sent ${methods.join(", ")}`);
    assert.match(p.stderrTail(), /stdin closed/);
  });

  it("close() sends shutdown to a plugin that declared the capability", async () => {
    const p = await load("full");
    const pid = p.pid as number;
    assert.deepEqual(p.capabilities, ["runtime", "shutdown"]);
    await p.close();
    await assertGone(pid);
    assert.ok(received(p).some((r) => r.method === "shutdown"), p.stderrTail());
    assert.doesNotMatch(p.stderrTail(), /stdin closed/);
  });

  for (const mode of ["seed", "unversioned"] as const) {
    it(`a ${mode} plugin (no protocolVersion) is sent no call context, even when a runtime is given, and no shutdown`, async () => {
      const p = await load(mode);
      try {
        const r = await p.invokeAction("echo-params", mem(), {}, {}, undefined, { agentId: "a-1", character: { name: "Eliza" } });
        assert.deepEqual(Object.keys((r.data as { params: object }).params).sort(), ["memory", "name", "options", "state"]);
      } finally {
        await p.close();
      }
      assert.ok(!received(p).some((r) => r.method === "shutdown"));
    });
  }

  it("manifest checks: scoped names and unknown members pass, known members of the wrong type fail", () => {
    const base = { name: "@elizaos/plugin-sql", description: "d", version: "1.2.3", language: "typescript", actions: [], providers: [], evaluators: [] };
    assert.equal(checkManifest({ ...base, examples: [], owner: { x: 1 } }).name, "@elizaos/plugin-sql");
    checkManifest({ ...base, actions: [{ name: "a", description: "d", examples: [[]], suppressInitialMessage: true }] });
    const bad: [string, object, RegExp][] = [
      ["similes not strings", { ...base, actions: [{ name: "a", description: "d", similes: "A" }] }, /actions\[0\]\.similes must be an array of strings/],
      ["protocolVersion a string", { ...base, protocolVersion: "1" }, /manifest\.protocolVersion must be a non-negative integer/],
      ["capabilities not an array", { ...base, capabilities: "runtime" }, /manifest\.capabilities must be an array of strings/],
      ["services of objects", { ...base, services: [{}] }, /manifest\.services must be an array of strings/],
      ["provider position a string", { ...base, providers: [{ name: "p", position: "1" }] }, /providers\[0\]\.position must be a number/],
      ["uppercase name", { ...base, name: "Plugin" }, /manifest\.name must be an npm package name/],
      ["scope without name", { ...base, name: "@elizaos/" }, /manifest\.name/],
    ];
    for (const [what, m, reason] of bad) {
      assert.throws(() => checkManifest(m), (e: unknown) => e instanceof InvalidResult && reason.test(e.message), what);
    }
  });

  it("result checks keep unknown members and refuse known ones of the wrong type", () => {
    assert.deepEqual(checkActionResult({ success: true, extra: { a: [1] }, text: null }), { success: true, extra: { a: [1] } });
    assert.deepEqual(checkProviderResult({ text: "t", position: 1 }), { text: "t", position: 1 });
    assert.throws(() => checkActionResult({ sucess: true }), /ActionResult\.success must be a boolean/);
    assert.throws(() => checkActionResult({ success: "yes" }), /ActionResult\.success must be a boolean/);
    assert.equal(checkValidateAnswer(true), true);
    assert.equal(checkValidateAnswer({ valid: false, reason: "x" }), false);
    assert.throws(() => checkValidateAnswer({ valid: "yes" }), InvalidResult);
    assert.throws(() => checkValidateAnswer("true"), InvalidResult);
  });
});

describe("strict JSON receiving (protocol.md 2, 3.5)", () => {
  const cases: [string, RegExp][] = [
    ["surrogate", /not I-JSON: string contains a lone surrogate at \$\.result\.text/],
    ["bad-utf8", /not valid UTF-8/],
    ["nan", /not JSON/],
    ["string-id", /unexpected id "\d+"/],
    ["no-id-request", /invalid request from the plugin: id must be/],
  ];
  for (const [action, reason] of cases) {
    it(`${action}: PluginProtocolError, the plugin is killed`, async () => {
      const p = await load("runtime");
      const pid = p.pid as number;
      const e = await rejection(p.invokeAction(action, mem(), {}, {}, undefined, {}), PluginProtocolError, action);
      assert.match(e.message, reason);
      await assertGone(pid);
      await p.close();
    });
  }

  it("a well-formed surrogate pair passes the scan", async () => {
    const p = await load("seed");
    try {
      assert.equal((await p.invokeAction("pair", mem())).text, "😀");
    } finally {
      await p.close();
    }
  });
});

describe("runtime calls answered by the host (protocol.md section 11)", () => {
  const calls = (list: object[], parallel = false): JsonObject => ({ calls: list as JsonValue[], parallel });
  const results = (r: { data?: Record<string, unknown> }): unknown[] => (r.data as { results: unknown[] }).results;

  it("the call context joins the params only when a runtime is given; without one nothing extra is sent", async () => {
    const p = await load("runtime");
    try {
      assert.equal(p.protocolVersion, 1);
      assert.deepEqual(p.capabilities, ["runtime"]);
      const runtime = { agentId: "agent-1", character: { name: "Eliza", templates: { t: () => "x" }, n: Number.NaN, bio: ["b"] }, getSetting: () => "v" };
      const withRt = await p.invokeAction("echo-params", mem(), {}, {}, undefined, runtime);
      assert.deepEqual((withRt.data as { params: { runtime: unknown } }).params.runtime, { agentId: "agent-1", character: { name: "Eliza", templates: {}, bio: ["b"] } });
      const without = await p.invokeAction("echo-params", mem());
      assert.equal(Object.hasOwn((without.data as { params: object }).params, "runtime"), false);
      const nullRt = await p.invokeAction("echo-params", mem(), {}, {}, undefined, null);
      assert.equal(Object.hasOwn((nullRt.data as { params: object }).params, "runtime"), false);
      // the seed-style handler passes its runtime argument
      const viaHandler = await p.actions[0]?.handler({ agentId: "agent-2" }, mem(), {}, {});
      assert.deepEqual((viaHandler?.data as { params: { runtime: unknown } }).params.runtime, { agentId: "agent-2" });
    } finally {
      await p.close();
    }
  });

  it("answers per the 11.2 table: result, -32601, -32000, -32603, -32602", async () => {
    const p = await load("runtime");
    try {
      class Boom extends Error {
        override name = "Boom";
      }
      let registered = 0;
      const cyclic: Record<string, unknown> = {};
      cyclic["self"] = cyclic;
      const runtime = {
        agentId: "agent-1",
        getSetting: (key: string) => (key === "K" ? "value" : null),
        getRoom: async (id: string) => ({ id, name: "General", when: new Date(0) }),
        log: () => undefined,
        useModel: () => {
          throw new Boom("model down");
        },
        getCache: () => Promise.reject(new TypeError("cache gone")),
        getTasks: () => Number.NaN,
        getMemories: () => () => 1,
        getEntityById: () => cyclic,
        registerPlugin: () => {
          registered++;
        },
        getWorld: () => {
          throw new Error("bad \ud800 text");
        },
      };
      const r = await p.invokeAction(
        "runtime",
        mem(),
        {},
        calls([
          { method: "runtime.getSetting", args: ["K"] },
          { method: "runtime.getRoom", args: ["r-1"] },
          { method: "runtime.log", args: [{ x: 1 }] },
          { method: "runtime.searchMemories", args: [{}] },
          { method: "runtime.useModel", args: ["TEXT_SMALL", {}] },
          { method: "runtime.getCache", args: ["k"] },
          { method: "runtime.getTasks", args: [{}] },
          { method: "runtime.getMemories", args: [{}] },
          { method: "runtime.getEntityById", args: ["e"] },
          { method: "runtime.toString", args: [] },
          { method: "runtime.registerPlugin", args: [{}] },
          { method: "getSetting", args: ["K"] },
          { method: "runtime.getSetting", call: 999999, args: ["K"] },
          { method: "runtime.getSetting", params: { call: "x", args: [] } },
          { method: "runtime.getSetting", params: { args: "K" } },
          { method: "runtime.getWorld", args: ["w"] },
        ]),
        undefined,
        runtime,
      );
      const got = results(r) as Record<string, { code?: number; message?: string; data?: unknown }>[];
      assert.deepEqual(got[0], { ok: "value" });
      assert.deepEqual(got[1], { ok: { id: "r-1", name: "General", when: "1970-01-01T00:00:00.000Z" } });
      assert.deepEqual(got[2], { ok: null });
      assert.deepEqual(got[3], { error: { code: -32601, message: "runtime.searchMemories is not provided by the host", data: { method: "searchMemories" } } });
      assert.deepEqual(got[4], { error: { code: -32000, message: "model down", data: { method: "useModel", exception: "Boom" } } });
      assert.deepEqual(got[5], { error: { code: -32000, message: "cache gone", data: { method: "getCache", exception: "TypeError" } } });
      for (const [i, m] of [[6, "getTasks"], [7, "getMemories"], [8, "getEntityById"]] as const) {
        const e = got[i]?.["error"] as { code: number; message: string; data: unknown };
        assert.equal(e.code, -32603, m);
        assert.match(e.message, new RegExp(`^runtime\\.${m} returned a value that is not JSON: `));
        assert.deepEqual(e.data, { method: m });
      }
      assert.equal((got[9]?.["error"] as { code: number }).code, -32601, "inherited toString is not offered");
      assert.equal((got[10]?.["error"] as { code: number }).code, -32601, "a member outside 11.3 is not offered, though the runtime has it");
      assert.equal(registered, 0);
      assert.equal((got[11]?.["error"] as { code: number }).code, -32601, "a method outside runtime.*");
      assert.deepEqual(got[12], { error: { code: -32602, message: "runtime call for unknown call 999999", data: { param: "call" } } });
      assert.deepEqual(got[13], { error: { code: -32602, message: 'runtime call for unknown call "x"', data: { param: "call" } } });
      assert.deepEqual((got[14]?.["error"] as { data: unknown }).data, { param: "call" });
      // a message with a lone surrogate still travels as I-JSON (the host got the plugin's answer back intact)
      assert.deepEqual(got[15], { error: { code: -32000, message: "bad \ufffd text", data: { method: "getWorld", exception: "Error" } } });
      // the plugin keeps serving and the host did not record a fault
      assert.equal(await p.validateAction("echo-params", mem()), true);
    } finally {
      await p.close();
    }
  });

  it("args that are not an array are -32602 naming args", async () => {
    const p = await load("runtime");
    try {
      const r = await p.invokeAction("runtime", mem(), {}, calls([{ method: "runtime.getSetting", args: "K" }]), undefined, { getSetting: () => "v" });
      assert.deepEqual(results(r)[0], { error: { code: -32602, message: "invalid params: args must be an array, received string", data: { param: "args", expected: "array", received: "string" } } });
    } finally {
      await p.close();
    }
  });

  it("runtime methods run without blocking the reader: parallel requests, and a runtime method calling the same plugin", async () => {
    const p = await load("runtime");
    try {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((r) => (release = r));
      const runtime = {
        getCache: async () => {
          await gate;
          return "released";
        },
        setCache: () => {
          release();
          return "opened";
        },
        // re-entrant: answering this request needs another call into the same plugin
        composeState: async () => (await p.getProvider("p", mem(), {}, undefined, runtime)).text,
      };
      const r = await within(
        10000,
        "parallel runtime calls",
        p.invokeAction("runtime", mem(), {}, calls([{ method: "runtime.getCache", args: ["k"] }, { method: "runtime.setCache", args: ["k", 1] }, { method: "runtime.composeState", args: [{}] }], true), undefined, runtime),
      );
      assert.deepEqual(results(r), [{ ok: "released" }, { ok: "opened" }, { ok: "provider text" }]);
    } finally {
      await p.close();
    }
  });

  it("the call time-out covers the runtime calls", async () => {
    const p = await load("runtime");
    const pid = p.pid as number;
    const runtime = { getTask: () => new Promise(() => undefined) };
    const e = await rejection(p.invokeAction("runtime", mem(), {}, calls([{ method: "runtime.getTask", args: ["t"] }]), { timeoutMs: 300 }, runtime), PluginTimeoutError, "timeout");
    assert.equal(e.timeoutMs, 300);
    await assertGone(pid);
    await p.close();
  });

  it("a call without a runtime has none to answer from: -32602", async () => {
    const p = await load("runtime");
    try {
      const r = await p.invokeAction("runtime", mem(), {}, calls([{ method: "runtime.getSetting", args: ["K"] }]));
      const err = (results(r)[0] as { error: { code: number; message: string; data: unknown } }).error;
      assert.equal(err.code, -32602);
      assert.match(err.message, /^runtime call for unknown call \d+$/);
      assert.deepEqual(err.data, { param: "call" });
    } finally {
      await p.close();
    }
  });

  it("an InMemoryRuntime answers a plugin's runtime calls", async () => {
    const p = await load("runtime");
    try {
      const runtime = new InMemoryRuntime({ agentId: "a-9", settings: { K: "from world" }, omit: ["getRoom"] });
      const r = await p.invokeAction("runtime", mem(), {}, calls([{ method: "runtime.getSetting", args: ["K"] }, { method: "runtime.getRoom", args: ["r"] }]), undefined, runtime);
      assert.deepEqual(results(r)[0], { ok: "from world" });
      assert.equal((results(r)[1] as { error: { code: number } }).error.code, -32601);
      assert.deepEqual(runtime.calls, [{ method: "getSetting", args: ["K"] }]);
    } finally {
      await p.close();
    }
  });

  it("a plugin load failure for a known member of the wrong type is PluginLoadError", async () => {
    const e = await rejection(
      loadIpcPlugin([RUNTIMES.node, "-e", 'process.stdin.once("data",d=>{const id=JSON.parse(d).id;process.stdout.write(JSON.stringify({id,result:{name:"x",description:"d",version:"1.0.0",language:"typescript",actions:[{name:"a",description:"d",similes:"A"}],providers:[],evaluators:[]}})+"\\n")})']),
      PluginLoadError,
      "bad similes",
    );
    assert.match(e.message, /similes must be an array of strings/);
  });
});

describe("Node too old or missing for a TypeScript plugin", () => {
  it("the load error is the sentence every host gives, with the version and path found", async () => {
    // A stand-in for an old Node: answers --version like Node 20 and cannot run .ts files.
    const dir = mkdtempSync(join(tmpdir(), "old-node-"));
    const exe = join(dir, "node");
    writeFileSync(exe, '#!/bin/sh\nif [ "$1" = --version ]; then echo v20.19.0; exit 0; fi\necho "TypeError [ERR_UNKNOWN_FILE_EXTENSION]: Unknown file extension .ts" >&2\nexit 1\n');
    chmodSync(exe, 0o755);
    const e = await rejection(loadTsPlugin(CONFORMANCE_TS, { executable: exe }), PluginLoadError, "old node");
    assert.ok(e.message.includes(`TypeScript plugins need Node >= 22.6 or Bun; found node v20.19.0 at ${exe}; set ELIZAOS_NODE or install node@22`), e.message);
    const missing = await rejection(loadTsPlugin(CONFORMANCE_TS, { executable: "/nonexistent/node" }), PluginLoadError, "no node");
    assert.ok(missing.message.includes("TypeScript plugins need Node >= 22.6 or Bun; found node (none) at /nonexistent/node; set ELIZAOS_NODE or install node@22"), missing.message);
  });
});
