/**
 * Runtime calls (protocol.md section 11) through the real bridge over a pipe, on Node and on Bun:
 * the test acts as the host, answering the plugin's `runtime.<method>` requests itself. Then the
 * runtime proxy and its channel in-process, for what a pipe cannot show (undefined arguments).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CONFORMANCE_TS, RUNTIME_NAMES, RawBridge, assertSchema, within, type RuntimeRequest } from "./helpers.ts";
import { RuntimeCallError, RuntimeChannel, RuntimeUnavailableError, createRuntimeProxy, createStderrLogger, type RuntimeScope } from "../src/runtime-proxy.ts";

const mem = { content: { text: "hi" } };
const CONTEXT = { agentId: "00000000-0000-0000-0000-00000000a9e7", character: { name: "Eliza", bio: ["test"] } };

interface ActionAnswer {
  success: boolean;
  values: { agentId: string | null };
  data: { results: ({ ok: unknown } | { error: { code: number | null; message: string } })[] };
}

/** invokeAction params of the fixture's `runtime` action; `runtime` null leaves params.runtime out. */
function runtimeAction(calls: object[], extra: object = {}, runtime: object | null = CONTEXT): object {
  return { name: "runtime", memory: mem, options: { calls, ...extra }, ...(runtime === null ? {} : { runtime }) };
}

/** Answers every runtime request from a small table, as a host's runtime object would. */
function tableHost(b: RawBridge, table: Record<string, (args: unknown[]) => unknown>): void {
  b.onRequest = (req: RuntimeRequest) => {
    assertSchema("runtime-request.schema.json", req);
    const name = req.method.replace(/^runtime\./, "");
    const fn = table[name];
    if (fn === undefined) {
      b.send({ id: req.id, error: { code: -32601, message: `runtime.${name} is not provided by the host`, data: { method: name } } });
      return;
    }
    try {
      b.send({ id: req.id, result: fn(req.params.args) ?? null });
    } catch (err) {
      b.send({ id: req.id, error: { code: -32000, message: (err as Error).message, data: { method: name, exception: "Error" } } });
    }
  };
}

for (const runtime of RUNTIME_NAMES) {
  describe(`runtime calls on ${runtime}`, () => {
    it("forwards each call with the host request's id and its arguments, and resolves with the answer", async () => {
      const b = new RawBridge(runtime, CONFORMANCE_TS);
      try {
        tableHost(b, {
          getRoom: ([id]) => ({ id, name: "general" }),
          getSetting: ([key]) => (key === "MODE" ? "test" : null),
          setCache: () => true,
          log: () => undefined,
        });
        const r = await b.call(41, "invokeAction", runtimeAction([
          { method: "getRoom", args: ["room-1"] },
          { method: "getSetting", args: ["MODE"] },
          { method: "setCache", args: ["k", { nested: [1, null, "é😀"] }] },
          { method: "log", args: [] },
        ]));
        assert.equal(r.error, undefined, JSON.stringify(r.error));
        const answer = r.result as ActionAnswer;
        assert.deepEqual(answer, {
          success: true,
          values: { agentId: CONTEXT.agentId },
          data: { results: [{ ok: { id: "room-1", name: "general" } }, { ok: "test" }, { ok: true }, { ok: null }] },
        });
        assert.deepEqual(
          b.requests.map((q) => [q.method, q.params.call, q.params.args]),
          [
            ["runtime.getRoom", 41, ["room-1"]],
            ["runtime.getSetting", 41, ["MODE"]],
            ["runtime.setCache", 41, ["k", { nested: [1, null, "é😀"] }]],
            ["runtime.log", 41, []],
          ],
        );
        assert.equal(new Set(b.requests.map((q) => q.id)).size, 4, "runtime request ids are unique");
      } finally {
        await b.kill();
      }
    });

    it("an error answer rejects inside the handler: -32000 as RuntimeCallError, -32601 as RuntimeUnavailableError", async () => {
      const b = new RawBridge(runtime, CONFORMANCE_TS);
      try {
        tableHost(b, {
          getRoom: () => {
            throw new Error("database offline");
          },
        });
        const r = await b.call(1, "invokeAction", runtimeAction([{ method: "getRoom", args: ["x"] }, { method: "useModel", args: ["TEXT_SMALL", { prompt: "p" }] }]));
        assert.deepEqual((r.result as ActionAnswer).data.results, [
          { error: { code: -32000, message: "database offline" } },
          { error: { code: -32601, message: "runtime.useModel is not provided by the host" } },
        ]);
      } finally {
        await b.kill();
      }
    });

    it("a name that is not a runtime method is refused by the proxy itself, and nothing is written", async () => {
      const b = new RawBridge(runtime, CONFORMANCE_TS);
      try {
        tableHost(b, {});
        const r = await b.call(1, "invokeAction", runtimeAction([{ method: "frobnicate", args: [] }, { method: "then", args: [] }]));
        assert.deepEqual((r.result as ActionAnswer).data.results, [
          { error: { code: null, message: "runtime.frobnicate is not provided by the host" } },
          { error: { code: null, message: "runtime.then is not provided by the host" } },
        ]);
        assert.equal(b.requests.length, 0);
      } finally {
        await b.kill();
      }
    });

    it("without params.runtime every method fails at once with the named error and nothing is written", async () => {
      const b = new RawBridge(runtime, CONFORMANCE_TS);
      try {
        const methods = ["getSetting", "getRoom", "useModel", "getTasks", "composeState", "createMemory"];
        const r = await b.call(1, "invokeAction", runtimeAction(methods.map((method) => ({ method, args: ["a"] })), {}, null));
        const answer = r.result as ActionAnswer;
        assert.equal(answer.values.agentId, null);
        assert.deepEqual(
          answer.data.results,
          methods.map((m) => ({ error: { code: null, message: `runtime.${m} is not provided by the host` } })),
        );
        assert.equal(b.requests.length, 0);
        assert.equal(b.lines.length, 1, "only the response was written");
      } finally {
        await b.kill();
      }
    });

    it("parallel calls are all in flight at once and each resolves with its own answer", async () => {
      const b = new RawBridge(runtime, CONFORMANCE_TS);
      try {
        b.send({ id: 7, method: "invokeAction", params: runtimeAction(["a", "b", "c"].map((k) => ({ method: "getCache", args: [k] })), { parallel: true }) });
        await b.waitFor("three runtime requests", () => b.requests.length === 3);
        // answer in reverse order: each answer goes to its own request
        for (const req of [...b.requests].reverse()) b.send({ id: req.id, result: `value of ${String(req.params.args[0])}` });
        const r = await b.waitId(7);
        assert.deepEqual((r.result as ActionAnswer).data.results, [{ ok: "value of a" }, { ok: "value of b" }, { ok: "value of c" }]);
      } finally {
        await b.kill();
      }
    });

    it("re-entrancy: while a runtime request is pending, the bridge serves the host's other requests", async () => {
      const b = new RawBridge(runtime, CONFORMANCE_TS);
      try {
        b.send({ id: 1, method: "invokeAction", params: runtimeAction([{ method: "composeState", args: [mem] }]) });
        await b.waitFor("the composeState request", () => b.requests.length === 1);
        const pending = b.requests[0] as RuntimeRequest;
        assert.equal(pending.method, "runtime.composeState");
        // the host's composeState runs a provider of the same plugin before answering
        const inner = await b.call(2, "getProvider", { name: "static", memory: mem });
        assert.deepEqual(inner.result, { text: "static provider", values: { answer: 42 } });
        const nested = await b.call(3, "invokeAction", { name: "echo", memory: mem });
        assert.equal((nested.result as { text: string }).text, "hi");
        assert.equal(b.responses.some((r) => r.id === 1), false, "the waiting call is not answered yet");
        b.send({ id: pending.id, result: { values: { composed: true }, text: "static provider" } });
        const outer = await b.waitId(1);
        assert.deepEqual((outer.result as ActionAnswer).data.results, [{ ok: { values: { composed: true }, text: "static provider" } }]);
        assert.deepEqual(b.responses.map((r) => r.id), [2, 3, 1]);
      } finally {
        await b.kill();
      }
    });

    it("a response for no pending runtime request is ignored, and serving goes on", async () => {
      const b = new RawBridge(runtime, CONFORMANCE_TS);
      try {
        b.send({ id: "rt-999", result: 1 });
        b.send({ id: "rt-998", error: { code: -32602, message: "runtime call for unknown call 3", data: { param: "call" } } });
        const r = await b.call(1, "validateAction", { name: "echo", memory: mem });
        assert.equal(r.result, true);
        assert.equal(b.responses.length, 1);
        await b.waitFor("stderr note", () => b.stderr.includes("no pending runtime request"));
      } finally {
        await b.kill();
      }
    });

    it("stdin EOF while waiting: the pending call fails with -32603 host closed, the handler unwinds, exit 0", async () => {
      const b = new RawBridge(runtime, CONFORMANCE_TS);
      try {
        b.send({ id: 5, method: "invokeAction", params: runtimeAction([{ method: "getRoom", args: ["r"] }, { method: "getWorld", args: ["w"] }]) });
        await b.waitFor("the getRoom request", () => b.requests.length === 1);
        b.child.stdin?.end();
        assert.deepEqual(await within(5000, "bridge exit after EOF", b.exit), { code: 0, signal: null });
        const r = b.responses.find((x) => x.id === 5);
        assert.ok(r, `the unwound call's response was delivered; lines: ${JSON.stringify(b.lines)}`);
        assert.deepEqual((r.result as ActionAnswer).data.results, [
          { error: { code: -32603, message: "host closed" } },
          { error: { code: -32603, message: "runtime.getWorld: host closed" } },
        ]);
        assert.equal(b.requests.length, 1, "nothing is sent after EOF");
      } finally {
        await b.kill();
      }
    });
  });
}

describe("runtime proxy in-process", () => {
  function scope(lines: string[]): RuntimeScope {
    return {
      channel: new RuntimeChannel((line) => lines.push(line), 1 << 20),
      logger: createStderrLogger("test"),
      config: () => ({ k: 1 }),
      taskWorkers: new Map(),
      events: new Map(),
    };
  }

  it("drops trailing undefined arguments, sends other undefined ones as null", async () => {
    const lines: string[] = [];
    const s = scope(lines);
    const proxy = createRuntimeProxy(s, 9, { agentId: "a" });
    const pending = proxy.getComponent("e", undefined, "w", undefined, undefined);
    const sent = JSON.parse(lines[0] as string) as RuntimeRequest;
    assert.deepEqual(sent, { id: "rt-1", method: "runtime.getComponent", params: { call: 9, args: ["e", null, "w"] } });
    assert.equal(s.channel?.deliver("rt-1", { id: "rt-1", result: { id: "c" } }), true);
    assert.deepEqual(await pending, { id: "c" });
  });

  it("plain data, local members, and nothing else: then is undefined, so a proxy is never a thenable", async () => {
    const s = scope([]);
    const proxy = createRuntimeProxy(s, 1, { agentId: "a", character: { name: "Eliza" } });
    assert.equal(proxy.agentId, "a");
    assert.deepEqual(proxy.character, { name: "Eliza" });
    assert.deepEqual(proxy.config, { k: 1 });
    assert.equal(proxy.getService("x"), null);
    assert.equal(proxy.getAllServices().size, 0);
    assert.equal(proxy.getModel("TEXT_SMALL"), undefined);
    proxy.registerTaskWorker({ name: "w" });
    assert.deepEqual(proxy.getTaskWorker("w"), { name: "w" });
    const bag = proxy as unknown as Record<string, unknown>;
    for (const absent of ["then", "databaseAdapter", "adapter", "fetch"]) assert.equal(bag[absent], undefined, absent);
    // awaiting the proxy gives the proxy itself (it is not a thenable)
    assert.equal(await Promise.resolve(proxy), proxy);
  });

  it("without a context: RuntimeUnavailableError at once, nothing written", async () => {
    const lines: string[] = [];
    const proxy = createRuntimeProxy(scope(lines), null, null);
    await assert.rejects(proxy.getRoom("r"), (err: unknown) => {
      assert.ok(err instanceof RuntimeUnavailableError);
      assert.equal(err.message, "runtime.getRoom is not provided by the host");
      assert.equal(err.code, null);
      return true;
    });
    assert.equal(proxy.agentId, undefined);
    assert.equal(lines.length, 0);
  });

  it("error answers carry code and data; close rejects pending and later requests with -32603", async () => {
    const lines: string[] = [];
    const s = scope(lines);
    const proxy = createRuntimeProxy(s, 2, {});
    const failing = proxy.getTasks({ tags: ["x"] });
    s.channel?.deliver("rt-1", { id: "rt-1", error: { code: -32000, message: "boom", data: { method: "getTasks", exception: "Error" } } });
    await assert.rejects(failing, (err: unknown) => err instanceof RuntimeCallError && err.code === -32000 && (err.data as { exception: string }).exception === "Error");
    const waiting = proxy.getTask("t");
    s.channel?.close();
    await assert.rejects(waiting, (err: unknown) => err instanceof RuntimeCallError && err.code === -32603 && err.message === "host closed");
    await assert.rejects(proxy.getTask("u"), (err: unknown) => err instanceof RuntimeCallError && err.code === -32603);
    assert.equal(lines.length, 2);
  });

  it("arguments JSON cannot carry are refused locally, with the path", async () => {
    const lines: string[] = [];
    const proxy = createRuntimeProxy(scope(lines), 3, {});
    await assert.rejects(proxy.setCache("k", { a: [Number.NaN] }), /NaN.*args\[1\]\.a\[0\]/);
    await assert.rejects(proxy.setCache("k", "\ud800"), /lone surrogate/);
    const cycle: Record<string, unknown> = {};
    cycle["self"] = cycle;
    await assert.rejects(proxy.setCache("k", cycle), /cycle/);
    assert.equal(lines.length, 0);
  });

  it("arguments that are not plain data are converted as JSON.stringify would", () => {
    const lines: string[] = [];
    const proxy = createRuntimeProxy(scope(lines), 4, {});
    class Point {
      x = 1;
      y = 2;
      norm(): number {
        return 0;
      }
    }
    // a Promise passed where a number belongs (elizaOS calls getConversationLength() without await)
    void proxy.getMemories({ roomId: "r", count: Promise.resolve(5), when: new Date(0), p: new Point(), f: () => 1, list: [undefined, () => 1, 2] });
    const sent = JSON.parse(lines[0] as string) as RuntimeRequest;
    assert.deepEqual(sent.params.args, [{ roomId: "r", count: {}, when: "1970-01-01T00:00:00.000Z", p: { x: 1, y: 2 }, list: [null, null, 2] }]);
  });
});
