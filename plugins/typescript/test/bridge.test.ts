/**
 * The bridge server against every row of protocol.md 3.3 and section 4, on Node and on Bun, at the
 * byte level (its own framing, not the package's client). Responses are validated by the JSON Schemas.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { CONFORMANCE_TS, RUNTIME_NAMES, RawBridge, TEST_DIR, assertResult, assertSchema, conformanceManifest, isAlive, within, type Response } from "./helpers.ts";

const mem = (text?: string): object => ({ content: text === undefined ? {} : { text } });

function ok(r: Response, method: string): unknown {
  assert.equal(r.error, undefined, `unexpected error: ${JSON.stringify(r.error)}`);
  assertSchema("response.schema.json", r);
  assertResult(method, r.result);
  return r.result;
}
function err(r: Response, code: number): { code: number; message: string; data?: unknown } {
  assert.ok(r.error, `expected error ${code}, got ${JSON.stringify(r)}`);
  assertSchema("response.schema.json", r);
  assert.equal(r.error.code, code, `expected code ${code}: ${JSON.stringify(r.error)}`);
  return r.error;
}

for (const runtime of RUNTIME_NAMES) {
  describe(`bridge on ${runtime}: conformance fixture`, () => {
    let b: RawBridge;
    let n = 0;
    const call = (method: string, params?: object): Promise<Response> => b.call(++n, method, params);
    before(() => {
      b = new RawBridge(runtime, CONFORMANCE_TS);
    });
    after(async () => {
      await b.kill();
    });

    it("getManifest is the shared conformance manifest", async () => {
      const m = ok(await call("getManifest", {}), "getManifest") as Record<string, unknown>;
      assertSchema("manifest.schema.json", m);
      const { protocolVersion, capabilities, ...shared } = m;
      assert.deepEqual(shared, conformanceManifest("typescript"));
      assert.equal(protocolVersion, 1);
      assert.deepEqual(capabilities, ["runtime", "shutdown"]);
      // the host's half of the version exchange (section 12) and unknown members are ignored
      assert.deepEqual(ok(await call("getManifest", { protocolVersion: 1, capabilities: ["runtime"], future: { x: 1 } }), "getManifest"), m);
      // params may be omitted for methods without params
      assert.deepEqual(ok(await call("getManifest"), "getManifest"), m);
    });

    it("init returns {} and the config provider sees the last config", async () => {
      assert.deepEqual(ok(await call("getProvider", { name: "config", memory: mem() }), "getProvider"), { values: {} });
      assert.deepEqual(ok(await call("init", { config: { a: 1 } }), "init"), {});
      assert.deepEqual(ok(await call("init", { config: { b: [true, null] } }), "init"), {});
      assert.deepEqual(ok(await call("getProvider", { name: "config", memory: mem() }), "getProvider"), { values: { b: [true, null] } });
    });

    it("validateAction: true for echo, false for reject", async () => {
      assert.equal(ok(await call("validateAction", { name: "echo", memory: mem("x"), state: {} }), "validateAction"), true);
      assert.equal(ok(await call("validateAction", { name: "reject", memory: mem() }), "validateAction"), false);
    });

    it("invokeAction echo returns memory, state and options untouched", async () => {
      const memory = { content: { text: "héllo 😀", extra: [1, { a: null }] }, id: "m1", roomId: 7 };
      const r = ok(await call("invokeAction", { name: "echo", memory, state: { s: 1 }, options: { o: "x" } }), "invokeAction");
      assert.deepEqual(r, { success: true, text: "héllo 😀", data: { memory, state: { s: 1 }, options: { o: "x" } } });
      // without text, text is absent (not null); omitted state/options are {}
      const r2 = ok(await call("invokeAction", { name: "echo", memory: mem() }), "invokeAction");
      assert.deepEqual(r2, { success: true, data: { memory: mem(), state: {}, options: {} } });
      // null optional members mean absent: text null, state null, options null
      const nulls = { content: { text: null } };
      const r3 = ok(await call("invokeAction", { name: "echo", memory: nulls, state: null, options: null }), "invokeAction");
      assert.deepEqual(r3, { success: true, data: { memory: nulls, state: {}, options: {} } });
    });

    it("invokeAction reject, slow, large", async () => {
      assert.deepEqual(ok(await call("invokeAction", { name: "reject", memory: mem() }), "invokeAction"), { success: false, error: "rejected" });
      assert.deepEqual(ok(await call("invokeAction", { name: "slow", memory: mem(), options: { delayMs: 5 } }), "invokeAction"), { success: true, text: "slept 5" });
      const large = ok(await call("invokeAction", { name: "large", memory: mem(), options: { size: 25 } }), "invokeAction");
      assert.deepEqual(large, { success: true, text: "0123456789012345678901234", values: { size: 25 } });
      const big = ok(await call("invokeAction", { name: "large", memory: mem() }), "invokeAction") as { text: string; values: { size: number } };
      assert.equal(big.text.length, 1048576);
      assert.equal(big.values.size, 1048576);
      assert.equal(big.text.slice(-6), "012345");
    });

    it("fail and panic are -32000 with kind, name and exception; the plugin keeps serving", async () => {
      const f = err(await call("invokeAction", { name: "fail", memory: mem() }), -32000);
      assert.equal(f.message, "fixture failure");
      assert.deepEqual(f.data, { kind: "action", name: "fail", exception: "Error" });
      const p = err(await call("invokeAction", { name: "panic", memory: mem() }), -32000);
      assert.equal(p.message, "fixture panic");
      assert.deepEqual(p.data, { kind: "action", name: "panic", exception: "string" });
      const pf = err(await call("getProvider", { name: "fail", memory: mem() }), -32000);
      assert.deepEqual(pf.data, { kind: "provider", name: "fail", exception: "Error" });
      const ef = err(await call("invokeEvaluator", { name: "fail", memory: mem() }), -32000);
      assert.deepEqual(ef.data, { kind: "evaluator", name: "fail", exception: "Error" });
      assert.equal(ok(await call("validateAction", { name: "echo", memory: mem() }), "validateAction"), true);
    });

    it("invalid is -32003 with kind, name and reason", async () => {
      const e = err(await call("invokeAction", { name: "invalid", memory: mem() }), -32003);
      const data = e.data as { kind: string; name: string; reason: string };
      assert.equal(data.kind, "action");
      assert.equal(data.name, "invalid");
      assert.match(data.reason, /sucess/);
    });

    it("providers static and echo", async () => {
      assert.deepEqual(ok(await call("getProvider", { name: "static", memory: mem() }), "getProvider"), { text: "static provider", values: { answer: 42 } });
      assert.deepEqual(ok(await call("getProvider", { name: "echo", memory: mem("t"), state: { k: 1 } }), "getProvider"), {
        text: "t",
        data: { memory: mem("t"), state: { k: 1 } },
      });
    });

    it("evaluators echo, silent, reject", async () => {
      assert.equal(ok(await call("validateEvaluator", { name: "echo", memory: mem() }), "validateEvaluator"), true);
      assert.equal(ok(await call("validateEvaluator", { name: "reject", memory: mem() }), "validateEvaluator"), false);
      assert.deepEqual(ok(await call("invokeEvaluator", { name: "echo", memory: mem("e") }), "invokeEvaluator"), { success: true, data: { memory: mem("e"), state: {} } });
      assert.equal(ok(await call("invokeEvaluator", { name: "silent", memory: mem() }), "invokeEvaluator"), null);
      assert.deepEqual(ok(await call("invokeEvaluator", { name: "reject", memory: mem() }), "invokeEvaluator"), { success: false });
    });

    it("unknown names are -32001 with kind and name", async () => {
      for (const [method, kind] of [
        ["validateAction", "action"],
        ["invokeAction", "action"],
        ["getProvider", "provider"],
        ["validateEvaluator", "evaluator"],
        ["invokeEvaluator", "evaluator"],
      ] as const) {
        const e = err(await call(method, { name: "nope", memory: mem() }), -32001);
        assert.deepEqual(e.data, { kind, name: "nope" });
      }
    });

    it("missing or mistyped params are -32602 with param, expected, received", async () => {
      const cases: [string, object, object][] = [
        ["invokeAction", { memory: mem() }, { param: "name", expected: "string", received: "missing" }],
        ["invokeAction", { name: 5, memory: mem() }, { param: "name", expected: "string", received: "integer" }],
        ["validateAction", { name: "echo" }, { param: "memory", expected: "object", received: "missing" }],
        ["getProvider", { name: "echo", memory: [] }, { param: "memory", expected: "object", received: "array" }],
        ["invokeEvaluator", { name: "echo", memory: {} }, { param: "memory.content", expected: "object", received: "missing" }],
        ["validateEvaluator", { name: "echo", memory: { content: { text: 1.5 } } }, { param: "memory.content.text", expected: "string", received: "number" }],
        ["invokeAction", { name: "echo", memory: mem(), state: "s" }, { param: "state", expected: "object", received: "string" }],
        ["invokeAction", { name: "echo", memory: mem(), options: [1] }, { param: "options", expected: "object", received: "array" }],
        ["init", {}, { param: "config", expected: "object", received: "missing" }],
        ["init", { config: null }, { param: "config", expected: "object", received: "null" }],
      ];
      for (const [method, params, data] of cases) {
        const e = err(await call(method, params), -32602);
        assert.deepEqual(e.data, data, `${method} ${JSON.stringify(params)}`);
      }
    });

    it("unknown method is -32601", async () => {
      const e = err(await call("frobnicate", {}), -32601);
      assert.match(e.message, /frobnicate/);
    });

    it("garbage lines get -32700/-32600 with id null (or the readable id), and the bridge keeps serving", async () => {
      const before = b.responses.length;
      b.write("this is not json\n");
      b.write(Buffer.from([0xff, 0xfe, 0x7b, 0x7d, 0x0a])); // not UTF-8
      b.write("[1,2]\n");
      b.write('{"method":"getManifest"}\n'); // notification: no id
      b.write('{"id":-1,"method":"getManifest"}\n');
      b.write('{"id":1.5,"method":"getManifest"}\n');
      b.write('{"id":"","method":"getManifest"}\n');
      b.write('{"id":"s1"}\n');
      b.write('{"id":"s2","method":"getManifest","params":[]}\n');
      b.write('{"id":"s3","method":7}\n');
      const rs = (await b.waitCount(before + 10)).slice(before);
      for (const r of rs) assertSchema("response.schema.json", r);
      const byCode = rs.map((r) => [r.id, r.error?.code]);
      assert.deepEqual(byCode.slice(0, 2), [
        [null, -32700],
        [null, -32700],
      ]);
      assert.deepEqual(
        byCode.slice(2).sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
        [
          [null, -32600],
          [null, -32600],
          [null, -32600],
          [null, -32600],
          [null, -32600],
          ["s1", -32600],
          ["s2", -32600],
          ["s3", -32600],
        ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
      );
      // "jsonrpc" is ignored, string ids are echoed, \r\n is tolerated
      b.write('{"jsonrpc":"2.0","id":"str-id","method":"validateAction","params":{"name":"echo","memory":{"content":{}}}}\r\n');
      assert.equal((await b.waitId("str-id")).result, true);
    });

    it("pipelined requests are answered out of order when a handler is slow", async () => {
      const start = b.responses.length;
      b.send({ id: "slow", method: "invokeAction", params: { name: "slow", memory: mem(), options: { delayMs: 1000 } } });
      b.send({ id: "fast", method: "invokeAction", params: { name: "echo", memory: mem("quick") } });
      await b.waitId("slow", 15000);
      const order = b.responses.slice(start).map((r) => r.id);
      assert.deepEqual(order, ["fast", "slow"]);
    });

    it("shutdown answers {} and exits 0", async () => {
      const r = await call("shutdown", {});
      assert.deepEqual(r.result, {});
      const exit = await within(5000, "bridge exit after shutdown", b.exit);
      assert.deepEqual(exit, { code: 0, signal: null });
    });
  });

  describe(`bridge on ${runtime}: framing, stdout discipline and lifecycle`, () => {
    it("an oversize line is discarded and answered with -32600, then serving continues", async () => {
      const b = new RawBridge(runtime, CONFORMANCE_TS, ["--max-message-bytes", "200"]);
      try {
        b.send({ id: 1, method: "invokeAction", params: { name: "echo", memory: mem("x".repeat(500)) } });
        b.send({ id: 2, method: "validateAction", params: { name: "echo", memory: mem() } });
        const [first, second] = await b.waitCount(2);
        assert.deepEqual(first?.id, null);
        assert.equal(first?.error?.code, -32600);
        assert.equal(first?.error?.message, "request exceeds 200 bytes");
        assert.deepEqual(second, { id: 2, result: true });
      } finally {
        await b.kill();
      }
    });

    it("stdin EOF exits 0", async () => {
      const b = new RawBridge(runtime, CONFORMANCE_TS);
      b.send({ id: 1, method: "getManifest" });
      await b.waitId(1);
      b.child.stdin?.end();
      assert.deepEqual(await within(5000, "bridge exit after EOF", b.exit), { code: 0, signal: null });
      assert.equal(isAlive(b.pid), false);
    });

    it("stdin EOF with a request in flight still exits 0", async () => {
      const b = new RawBridge(runtime, CONFORMANCE_TS);
      b.send({ id: 1, method: "invokeAction", params: { name: "slow", memory: mem(), options: { delayMs: 60000 } } });
      b.child.stdin?.end();
      assert.deepEqual(await within(5000, "bridge exit after EOF", b.exit), { code: 0, signal: null });
    });

    it("crash exits 70 without answering", async () => {
      const b = new RawBridge(runtime, CONFORMANCE_TS);
      b.send({ id: 1, method: "invokeAction", params: { name: "crash", memory: mem() } });
      assert.deepEqual(await within(5000, "bridge exit after crash", b.exit), { code: 70, signal: null });
      assert.equal(b.responses.length, 0);
    });

    it("stdout carries protocol only: console output and direct writes go to stderr", async () => {
      const b = new RawBridge(runtime, join(TEST_DIR, "fixtures/noisy-plugin.ts"));
      try {
        const m = (await b.call(1, "getManifest")).result as { name: string; version: string; language: string; description: string };
        assertSchema("manifest.schema.json", m);
        assert.deepEqual([m.name, m.version, m.language, m.description], ["noisy", "0.1.0", "typescript", ""]);
        assert.deepEqual((await b.call(2, "invokeAction", { name: "talk", memory: mem() })).result, { success: true, text: "said it" });
        b.child.stdin?.end();
        await within(5000, "exit", b.exit);
        for (const line of b.lines) assertSchema("response.schema.json", JSON.parse(line));
        assert.equal(b.lines.length, 2);
        for (const what of ["console.log at import", "console.info", "console.debug", "console.warn", "process.stdout.write at import", "console.log in handler", "direct write in handler"]) {
          assert.ok(b.stderr.includes(what), `stderr lacks ${what}: ${b.stderr}`);
        }
      } finally {
        await b.kill();
      }
    });

    it("default export, init hook failure, void evaluator, non-boolean validate, non-JSON result", async () => {
      const b = new RawBridge(runtime, join(TEST_DIR, "fixtures/default-export-plugin.ts"));
      try {
        const m = (await b.call(1, "getManifest")).result as { name: string };
        assert.equal(m.name, "default-export");
        assertSchema("manifest.schema.json", m);
        // calls before init behave as if init({}) had been called
        assert.deepEqual((await b.call(2, "getProvider", { name: "seen", memory: mem() })).result, { values: { seen: {} } });
        const bad = err(await b.call(3, "init", { config: { explode: true } }), -32000);
        assert.equal(bad.message, "init refused the config");
        assert.deepEqual(bad.data, { kind: "plugin", name: "default-export", exception: "RangeError" });
        assert.equal((await b.call(4, "invokeEvaluator", { name: "void", memory: mem() })).result, null);
        const nb = err(await b.call(5, "validateEvaluator", { name: "yes", memory: mem() }), -32003);
        assert.deepEqual(Object.keys(nb.data as object).sort(), ["kind", "name", "reason"]);
        const nan = err(await b.call(6, "invokeAction", { name: "nan", memory: mem() }), -32003);
        assert.match((nan.data as { reason: string }).reason, /NaN/);
      } finally {
        await b.kill();
      }
    });

    it("a failed implicit init is written to stderr and the call is served, once (protocol.md 3.3)", async () => {
      const b = new RawBridge(runtime, join(TEST_DIR, "fixtures/refusing-init-plugin.ts"));
      try {
        for (const id of [1, 2]) {
          const r = await b.call(id, "getProvider", { name: "attempts", memory: mem() });
          assert.deepEqual(r.result, { values: { attempts: 1 } }, JSON.stringify(r));
        }
        assert.match(b.stderr, /implicit init\(\{\}\) before the first call failed: TypeError: no config is good enough/);
      } finally {
        await b.kill();
      }
    });

    it("a module without a plugin export fails to start with a clear message", async () => {
      const b = new RawBridge(runtime, join(TEST_DIR, "helpers.ts"));
      const exit = await within(10000, "exit", b.exit);
      assert.notEqual(exit.code, 0);
      assert.match(b.stderr, /exports no plugin/);
      assert.equal(b.lines.length, 0);
    });
  });
}
