/**
 * InMemoryRuntime (protocol.md 11.5): the shared vectors docs/vectors/runtime-world.json answered
 * through the host's runtime dispatcher (the code that answers a plugin's runtime requests), the
 * `calls` record, and composeState running registered plugins' providers across the boundary,
 * re-entrantly, through the conformance fixture's `runtime` action: TypeScript on Node and Bun,
 * Python, and Rust (whose server answers in order and serves nested requests while it waits).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FORWARDED_RUNTIME_METHODS, InMemoryRuntime, answerRuntimeCall, loadIpcPlugin, loadPythonPlugin, loadTsPlugin, type JsonObject, type LoadedPlugin, type World } from "../src/index.ts";
import { CONFORMANCE_TS, PY_FIXTURES, PYTHON, REPO_DIR, RUNTIMES, RUNTIME_NAMES, VECTORS_DIR, requireFile } from "./helpers.ts";

/** The Rust conformance fixture's IPC server (`ELIZAOS_RUST_TARGET_DIR` overrides the target directory). */
const RUST_CONFORMANCE_IPC = join(process.env["ELIZAOS_RUST_TARGET_DIR"] ?? join(REPO_DIR, "plugins/rust/target"), "release/conformance-ipc");

interface Vectors {
  world: World;
  cases: { method: string; args: unknown[]; expect: { ok: unknown } | { error: { code: number; message: string } } }[];
}
const vectors = JSON.parse(readFileSync(join(VECTORS_DIR, "runtime-world.json"), "utf8")) as Vectors;

describe("InMemoryRuntime", () => {
  it("answers the shared vectors of docs/vectors/runtime-world.json through the host's dispatcher", async () => {
    const runtime = new InMemoryRuntime(vectors.world);
    assert.equal(runtime.agentId, vectors.world.agentId);
    assert.deepEqual(runtime.character, vectors.world.character);
    for (const [i, c] of vectors.cases.entries()) {
      const answer = await answerRuntimeCall(runtime, c.method, c.args);
      const got = "result" in answer ? { ok: answer.result } : { error: { code: answer.error.code, message: answer.error.message } };
      assert.deepEqual(got, c.expect, `case ${i}: ${c.method}(${JSON.stringify(c.args)})`);
    }
    // every call is recorded in order, except the omitted method, which is never called
    const called = vectors.cases.filter((c) => !(vectors.world.omit ?? []).includes(c.method));
    assert.deepEqual(runtime.calls, called.map((c) => ({ method: c.method, args: c.args })));
  });

  it("implements every forwarded method of protocol.md 11.3", () => {
    const runtime = new InMemoryRuntime();
    const missing = FORWARDED_RUNTIME_METHODS.filter((m) => typeof (runtime as unknown as Record<string, unknown>)[m] !== "function");
    assert.deepEqual(missing, []);
  });

  it("createMemory returns the new id and getMemories lists it first; tasks, cache, settings and connections", async () => {
    const runtime = new InMemoryRuntime({ ...vectors.world, omit: [], fail: {} });
    const id = runtime.createMemory({ roomId: "room-1", content: { text: "third" } }, "messages");
    assert.equal(typeof id, "string");
    const [first] = runtime.getMemories({ roomId: "room-1" });
    assert.equal(first?.["id"], id);
    assert.equal(runtime.getMemories({ roomId: "room-1", tableName: "facts" }).length, 0);
    assert.deepEqual(runtime.getMemoryById(id)?.["content"], { text: "third" });
    assert.deepEqual(runtime.searchMemories({ tableName: "messages", query: "SEC" }).map((m) => m["id"]), ["m-2"]);
    const taskId = runtime.createTask({ name: "later", tags: ["queue", "x"] });
    assert.deepEqual(runtime.getTasks({ tags: ["queue"] }).map((t) => t["id"]), ["t-1", taskId]);
    runtime.deleteTask("t-1");
    assert.deepEqual(runtime.getTasksByName("follow-up"), []);
    runtime.setSetting("NEW", "v");
    assert.equal(runtime.getSetting("NEW"), "v");
    runtime.ensureConnection({ entityId: "user-2", roomId: "room-2", worldId: "world-2", name: "Bob" });
    assert.deepEqual(runtime.getRoomsForParticipant("user-2"), ["room-2"]);
    assert.deepEqual(runtime.getEntitiesForRoom("room-2"), [{ id: "user-2", names: ["Bob"] }]);
    assert.deepEqual(runtime.getWorld("world-2") === null, false);
    // rows handed out are copies: changing them does not change the runtime
    (runtime.getRoom("room-1") as JsonObject)["name"] = "changed";
    assert.equal(runtime.getRoom("room-1")?.["name"], "General");
    assert.equal(runtime.useModel("TEXT_LARGE", {}), "<response><text>canned large reply</text></response>");
    assert.throws(() => new InMemoryRuntime(vectors.world).getWorld("world-1"), /database offline/);
  });

  it("a World the schema refuses is a TypeError naming the member", () => {
    assert.throws(() => new InMemoryRuntime({ rooms: {} as never }), /World\.rooms must be an array, received object/);
    assert.throws(() => new InMemoryRuntime({ memories: [{ content: {} }] }), /World\.memories\[0\]\.id must be a string, received undefined/);
    assert.throws(() => new InMemoryRuntime({ fail: { getRoom: 1 as never } }), /World\.fail\.getRoom must be a string/);
    assert.throws(() => new InMemoryRuntime({ omit: "useModel" as never }), /World\.omit must be an array of strings/);
    assert.throws(() => new InMemoryRuntime({ agentId: 7 as never }), /World\.agentId must be a string, received number/);
  });

  it("models.default answers any model type without its own canned answer", () => {
    const runtime = new InMemoryRuntime({ models: { default: { any: true } } });
    assert.deepEqual(runtime.useModel("OBJECT_SMALL", {}), { any: true });
  });

  it("composeState merges the providers of registered in-process plugins (private and dynamic ones only when included)", async () => {
    const runtime = new InMemoryRuntime();
    await runtime.registerPlugin({
      providers: [
        { name: "a", get: () => ({ text: "A", values: { a: 1 }, data: { a: true } }) },
        { name: "b", get: async () => ({ text: "B", values: { b: 2 } }) },
        { name: "hidden", private: true, get: () => ({ text: "H" }) },
        { name: "broken", get: () => Promise.reject(new Error("provider down")) },
      ],
    });
    assert.deepEqual(await runtime.composeState({ content: { text: "x" } }), { values: { a: 1, b: 2 }, data: { a: true }, text: "A\nB" });
    assert.deepEqual(await runtime.composeState({ content: {} }, ["hidden"], true), { values: {}, data: {}, text: "H" });
  });
});

const mem = { content: { text: "hi" } };
type FixtureLoad = [string, () => Promise<LoadedPlugin>];
const fixtures: FixtureLoad[] = [
  ...RUNTIME_NAMES.map((rt): FixtureLoad => [`TS fixture on ${rt}`, () => loadTsPlugin(CONFORMANCE_TS, { runtime: rt, executable: RUNTIMES[rt] })]),
  ["Python fixture", () => loadPythonPlugin(join(PY_FIXTURES, "conformance_plugin.py"), { python: PYTHON })],
  ["Rust fixture (IPC binary)", () => loadIpcPlugin([requireFile(RUST_CONFORMANCE_IPC, "build it with: python3 -m nox -s build_rust_ipc")])],
];
for (const [what, load] of fixtures) {
  describe(`runtime calls end to end: ${what} (protocol.md section 11)`, () => {
    it("the fixture's runtime action reads the World and composeState calls back into the same plugin", async () => {
      const plugin = await load();
      try {
        const runtime = new InMemoryRuntime(vectors.world);
        await runtime.registerPlugin(plugin);
        const calls = [
          { method: "getSetting", args: ["GREETING"] },
          { method: "getRoom", args: ["room-1"] },
          { method: "useModel", args: ["IMAGE", {}] },
          { method: "searchMemories", args: [{}] },
          { method: "composeState", args: [{ content: { text: "x" } }] },
        ];
        const r = await plugin.invokeAction("runtime", mem, {}, { calls }, { timeoutMs: 20000 }, runtime);
        assert.equal(r.success, true);
        assert.deepEqual(r.values, { agentId: vectors.world.agentId });
        const results = (r.data as { results: Record<string, unknown>[] }).results;
        assert.deepEqual(results[0], { ok: "hello" });
        assert.deepEqual(results[1], { ok: { id: "room-1", name: "General", worldId: "world-1" } });
        assert.deepEqual(results[2], { error: { code: -32000, message: "no canned model for IMAGE" } });
        assert.deepEqual(results[3], { error: { code: -32601, message: "runtime.searchMemories is not provided by the host" } });
        assert.ok("ok" in (results[4] as object), JSON.stringify(results[4]));
        const state = (results[4] as { ok: { text: string; values: Record<string, unknown> } }).ok;
        // the fixture's public providers ran re-entrantly while its own runtime action was waiting
        assert.match(state.text, /static provider/);
        assert.equal(state.values["answer"], 42);
        assert.ok(runtime.calls.some((c) => c.method === "composeState"));
        // without a runtime the same calls fail inside the handler with the named error
        const bare = await plugin.invokeAction("runtime", mem, {}, { calls: [{ method: "getSetting", args: ["GREETING"] }] });
        const err = (bare.data as { results: { error: { code: number | null; message: string } }[] }).results[0]?.error;
        assert.match(err?.message ?? "", /runtime\.getSetting is not provided by the host/);
        assert.deepEqual(bare.values, { agentId: null });
      } finally {
        await plugin.close();
      }
    });
  });
}
