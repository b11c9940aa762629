/**
 * The WASM loader (protocol.md section 5) against the Rust conformance fixture built for
 * wasm32-unknown-unknown, and against a hand-written ABI probe module for the host-side edge cases
 * (memory growth, a trap without elizaos_last_error, bad modules).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { InvalidPayloadError, LoadedPlugin, PluginCallError, PluginCrashError, PluginLoadError, loadWasmPlugin } from "../src/index.ts";
import { ABI_PROBE_WASM, assertResult, assertSchema, conformanceManifest, withoutExchange, edgeCases, rustWasm } from "./helpers.ts";

const mem = (text?: string): { content: { text?: string } } => ({ content: text === undefined ? {} : { text } });

async function callError(p: Promise<unknown>, code: number): Promise<PluginCallError> {
  const err = await p.then(
    (v) => assert.fail(`expected error ${code}, got ${JSON.stringify(v)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof PluginCallError, `expected PluginCallError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.equal(err.transport, "wasm");
  return err;
}

describe("WASM: Rust conformance fixture", () => {
  let p: LoadedPlugin;
  before(async () => {
    p = await loadWasmPlugin(rustWasm("elizaos_plugin_conformance"));
  });
  after(async () => {
    await p.close();
  });

  it("manifest is the shared one with language rust", () => {
    assertSchema("manifest.schema.json", p.manifest);
    assert.deepEqual(withoutExchange(p.manifest), conformanceManifest("rust"));
    assert.equal(p.transport, "wasm");
    assert.equal(p.pid, undefined);
  });

  it("actions", async () => {
    const echo = await p.actions[0]?.handler({}, mem("I am feeling sad"), { s: [1] }, { o: true });
    assertResult("invokeAction", echo);
    assert.deepEqual(echo, { success: true, text: "I am feeling sad", data: { memory: mem("I am feeling sad"), state: { s: [1] }, options: { o: true } } });
    assert.deepEqual(await p.invokeAction("echo", mem()), { success: true, data: { memory: mem(), state: {}, options: {} } });
    assert.equal(await p.validateAction("echo", mem()), true);
    assert.equal(await p.validateAction("reject", mem()), false);
    assert.deepEqual(await p.invokeAction("reject", mem()), { success: false, error: "rejected" });
    // wasm32-unknown-unknown has no clock without imports: the Rust fixture answers slow with -32002.
    await callError(p.invokeAction("slow", mem(), {}, { delayMs: 1 }), -32002);
    const fail = await callError(p.invokeAction("fail", mem()), -32000);
    assert.equal(fail.errorMessage, "fixture failure");
    const invalid = await callError(p.invokeAction("invalid", mem()), -32003);
    assert.deepEqual(Object.keys(invalid.data as object).sort(), ["kind", "name", "reason"]);
  });

  it("a panic is -32000 with the panic message; the instance is replaced and init replayed", async () => {
    await p.init({ replay: "me" });
    assert.deepEqual(await p.getProvider("config", mem()), { values: { replay: "me" } });
    const panic = await callError(p.invokeAction("panic", mem()), -32000);
    assert.match(panic.errorMessage, /fixture panic/);
    assert.deepEqual(await p.getProvider("config", mem()), { values: { replay: "me" } });
    const crash = await callError(p.invokeAction("crash", mem()), -32000);
    assert.match(crash.errorMessage, /unreachable|trap/i);
    assert.deepEqual(await p.getProvider("config", mem()), { values: { replay: "me" } });
    await p.init({});
  });

  it("providers and evaluators", async () => {
    assert.deepEqual(await p.providers[0]?.get({}, mem()), { text: "static provider", values: { answer: 42 } });
    assert.deepEqual(await p.getProvider("echo", mem("e"), { k: 1 }), { text: "e", data: { memory: mem("e"), state: { k: 1 } } });
    await callError(p.getProvider("fail", mem()), -32000);
    assert.equal(await p.validateEvaluator("echo", mem()), true);
    assert.equal(await p.validateEvaluator("reject", mem()), false);
    assert.deepEqual(await p.invokeEvaluator("echo", mem("x")), { success: true, data: { memory: mem("x"), state: {} } });
    assert.equal(await p.invokeEvaluator("silent", mem()), null);
    assert.deepEqual(await p.invokeEvaluator("reject", mem()), { success: false });
    await callError(p.invokeEvaluator("fail", mem()), -32000);
  });

  it("unknown names are -32001 from statuses and envelopes alike", async () => {
    for (const [call, kind] of [
      [() => p.validateAction("nope", mem()), "action"],
      [() => p.invokeAction("nope", mem()), "action"],
      [() => p.getProvider("nope", mem()), "provider"],
      [() => p.validateEvaluator("nope", mem()), "evaluator"],
      [() => p.invokeEvaluator("nope", mem()), "evaluator"],
    ] as const) {
      const e = await callError(call(), -32001);
      assert.deepEqual(e.data, { kind, name: "nope" });
    }
  });

  it("invalid params are -32602 from statuses and envelopes alike", async () => {
    const a = await callError(p.call("invokeAction", { name: "echo", memory: { content: 5 } }), -32602);
    assert.equal((a.data as { param: string }).param, "memory.content");
    await callError(p.call("validateAction", { name: "echo", memory: [] }), -32602);
    await callError(p.call("getProvider", { name: "echo", memory: { content: {} }, state: 3 }), -32602);
  });

  it("payloads outside the JSON profile are refused before the instance is touched", async () => {
    const cases: [() => Promise<unknown>, string][] = [
      [() => p.invokeAction("echo", { content: { x: Number.NaN } } as never), "$.memory.content.x"],
      [() => p.invokeAction("echo", mem("a\ud800b")), "$.memory.content.text"],
      [() => p.invokeAction("echo", mem(), { big: 10n } as never), "$.state.big"],
      [() => p.invokeAction("echo", mem(), {}, { list: [1, undefined] } as never), "$.options.list[1]"],
      [() => p.invokeAction("e\udc00", mem()), "$.name"],
      [() => p.call("invokeAction", { name: 5, memory: mem() }), "$.name"],
    ];
    for (const [call, path] of cases) {
      const err = await call().then(
        () => assert.fail(`expected InvalidPayloadError at ${path}`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof InvalidPayloadError, String(err));
      assert.equal(err.path, path);
    }
    assert.equal((await p.invokeAction("echo", mem("fine"))).text, "fine");
  });

  it("large results and arguments cross a memory grow (detached buffers are re-read)", async () => {
    const big = await p.invokeAction("large", mem());
    assert.equal(big.text?.length, 1048576);
    assert.deepEqual(big.values, { size: 1048576 });
    const text = "ü😀".repeat(300000);
    const echoed = await p.invokeAction("echo", mem(text));
    assert.equal(echoed.text, text);
  });

  it("the shared JSON edge cases round-trip (JavaScript number model applied)", async () => {
    for (const c of edgeCases()) {
      const memory = { content: { value: c.value, ...(typeof c.value === "string" ? { text: c.value } : {}) } } as never;
      const r = await p.invokeAction("echo", memory);
      const back = (r.data as { memory: { content: { value: unknown; text?: unknown } } }).memory.content;
      assert.deepEqual(back.value, c.expectedViaJs, c.name);
      if (typeof c.value === "string") assert.equal(back.text, c.value, c.name);
    }
  });

  it("the no-op floor is callable and close() makes later calls PluginCrashError", async () => {
    const q = await loadWasmPlugin(rustWasm("elizaos_plugin_conformance"));
    q.noop();
    await q.close();
    await assert.rejects(q.validateAction("echo", mem()), PluginCrashError);
  });
});

describe("WASM: hand-written ABI probe", () => {
  it("loads, answers, and survives memory growth on arguments", async () => {
    const p = await loadWasmPlugin(ABI_PROBE_WASM);
    assert.equal(p.name, "abi-probe");
    assert.equal(p.language, "wat");
    assert.deepEqual(await p.invokeAction("ok", mem()), { success: true, text: "ok" });
    // 3 MiB of memory forces alloc to grow linear memory, detaching the buffer the host holds
    for (let i = 0; i < 3; i++) assert.deepEqual(await p.invokeAction("ok", mem("x".repeat(3 << 20))), { success: true, text: "ok" });
    assert.equal(await p.validateAction("ok", mem()), true);
    assert.equal(await p.validateEvaluator("silent", mem()), false);
    assert.equal(await p.invokeEvaluator("silent", mem()), null);
    assert.deepEqual(await p.getProvider("empty", mem()), {});
    await p.init({ a: 1 });
    await p.close();
  });

  it("a trap without elizaos_last_error is -32000 with the trap message, then a fresh instance serves", async () => {
    const p = await loadWasmPlugin(ABI_PROBE_WASM);
    const e = await callError(p.invokeAction("trap", mem()), -32000);
    assert.match(e.errorMessage, /^trap: /);
    assert.deepEqual(e.data, { kind: "action", name: "trap", exception: "trap" });
    assert.deepEqual(await p.invokeAction("ok", mem()), { success: true, text: "ok" });
    await p.close();
  });

  it("bad modules are PluginLoadError", async () => {
    const bytes = readFileSync(ABI_PROBE_WASM);
    await assert.rejects(loadWasmPlugin("/nonexistent/x.wasm"), (e: unknown) => e instanceof PluginLoadError && /cannot read/.test(e.message));
    await assert.rejects(loadWasmPlugin(new Uint8Array([1, 2, 3, 4])), (e: unknown) => e instanceof PluginLoadError && /not a valid WebAssembly module/.test(e.message));
    // the empty module: valid, but exports nothing
    await assert.rejects(loadWasmPlugin(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])), (e: unknown) => e instanceof PluginLoadError && /does not export memory, alloc/.test(e.message));
    // a module importing a function: (module (import "env" "f" (func)))
    const withImport = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 2, 9, 1, 3, 0x65, 0x6e, 0x76, 1, 0x66, 0, 0]);
    await assert.rejects(loadWasmPlugin(withImport), (e: unknown) => e instanceof PluginLoadError && /has imports \(env\.f\)/.test(e.message));
    assert.ok(bytes.length > 0);
  });
});
