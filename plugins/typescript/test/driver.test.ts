/**
 * The host driver (protocol.md section 8) on Node and Bun, driven over stdio like the testkit does.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { ABI_PROBE_WASM, CONFORMANCE_TS, PKG_DIR, PY_FIXTURES, RUNTIMES, RUNTIME_NAMES, assertGone, conformanceManifest, withoutExchange, within, type RuntimeName } from "./helpers.ts";

class Driver {
  readonly child: ChildProcess;
  private buf = "";
  private readonly waiting = new Map<number, (r: { result?: unknown; error?: { code: number; message: string } }) => void>();
  private next = 1;
  readonly exit: Promise<number | null>;
  stderr = "";

  constructor(runtime: RuntimeName) {
    this.child = spawn(RUNTIMES[runtime], [join(PKG_DIR, "driver/host-driver.ts")], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout?.setEncoding("utf8");
    this.child.stdout?.on("data", (s: string) => {
      this.buf += s;
      let nl: number;
      while ((nl = this.buf.indexOf("\n")) !== -1) {
        const msg = JSON.parse(this.buf.slice(0, nl)) as { id: number; result?: unknown; error?: { code: number; message: string } };
        this.buf = this.buf.slice(nl + 1);
        this.waiting.get(msg.id)?.(msg);
      }
    });
    this.child.stderr?.setEncoding("utf8");
    this.child.stderr?.on("data", (s: string) => (this.stderr += s));
    this.exit = new Promise((r) => this.child.once("exit", (code) => r(code)));
  }

  request(method: string, params: object = {}): Promise<{ result?: unknown; error?: { code: number; message: string } }> {
    const id = this.next++;
    const p = new Promise<{ result?: unknown; error?: { code: number; message: string } }>((r) => this.waiting.set(id, r));
    this.child.stdin?.write(JSON.stringify({ id, method, params }) + "\n");
    return within(30000, `driver ${method} (stderr: ${this.stderr.slice(-300)})`, p);
  }

  async result(method: string, params: object = {}): Promise<Record<string, unknown>> {
    const r = await this.request(method, params);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    return r.result as Record<string, unknown>;
  }
}

function assertSamples(r: Record<string, unknown>, n: number): void {
  const samples = r["samplesNs"] as number[];
  assert.equal(samples.length, n);
  for (const s of samples) assert.ok(Number.isInteger(s) && s > 0, `sample ${s}`);
}

for (const runtime of RUNTIME_NAMES) {
  describe(`host driver on ${runtime}`, () => {
    let d: Driver;
    before(() => {
      d = new Driver(runtime);
    });
    after(async () => {
      d.child.stdin?.end();
      await within(10000, "driver exit", d.exit);
    });

    it("hello names the runtime and transports", async () => {
      const h = await d.result("hello");
      assert.equal(h["language"], "typescript");
      assert.match(h["runtime"] as string, runtime === "node" ? /^node 22\./ : /^bun 1\./);
      assert.deepEqual(h["transports"], ["ipc", "wasm"]);
    });

    it("load, call, bench and unload a TypeScript plugin over IPC", async () => {
      const loaded = await d.result("load", { transport: "ipc", language: "typescript", path: CONFORMANCE_TS, runtime });
      assert.deepEqual(withoutExchange(loaded["manifest"]), conformanceManifest("typescript"));
      const plugin = loaded["plugin"] as string;
      assert.deepEqual(await d.result("call", { plugin, method: "invokeAction", params: { name: "echo", memory: { content: { text: "x" } } } }), {
        ok: true,
        value: { success: true, text: "x", data: { memory: { content: { text: "x" } }, state: {}, options: {} } },
      });
      const failed = await d.result("call", { plugin, method: "invokeAction", params: { name: "fail", memory: { content: {} } } });
      assert.equal(failed["ok"], false);
      assert.deepEqual({ ...(failed["error"] as object), message: "" }, { type: "PluginCallError", code: -32000, message: "", data: { kind: "action", name: "fail", exception: "Error" } });
      const bad = await d.result("call", { plugin, method: "getProvider", params: { name: "static" } });
      assert.equal((bad["error"] as { code: number }).code, -32602);
      const timeout = await d.result("call", { plugin, method: "invokeAction", params: { name: "slow", memory: { content: {} }, options: { delayMs: 5000 } }, timeoutMs: 100 });
      assert.equal((timeout["error"] as { type: string }).type, "PluginTimeoutError");
      assert.equal((timeout["error"] as { code: null }).code, null);
      const after = await d.result("call", { plugin, method: "getManifest", params: {} });
      assert.equal((after["error"] as { type: string }).type, "PluginCrashError");
      assert.deepEqual(await d.result("unload", { plugin }), {});
      const p2 = (await d.result("load", { transport: "ipc", language: "typescript", path: CONFORMANCE_TS, runtime }))["plugin"] as string;
      assertSamples(await d.result("bench", { plugin: p2, method: "validateAction", params: { name: "echo", memory: { content: {} } }, iterations: 20, warmup: 5 }), 20);
      const noop = await d.request("benchNoop", { plugin: p2, iterations: 5 });
      assert.equal(noop.error?.code, -32602);
    });

    it("agentRuntime: load's World answers every call on the handle, a call's own World replaces it, none means no runtime", async () => {
      const world = { agentId: "agent-7", settings: { GREETING: "from load" }, omit: ["getRoom"] };
      const loaded = await d.result("load", { transport: "ipc", language: "typescript", path: CONFORMANCE_TS, runtime, agentRuntime: world });
      const plugin = loaded["plugin"] as string;
      const runtimeCall = (extra: object = {}): Promise<Record<string, unknown>> =>
        d.result("call", {
          plugin,
          method: "invokeAction",
          params: { name: "runtime", memory: { content: {} }, options: { calls: [{ method: "getSetting", args: ["GREETING"] }, { method: "getRoom", args: ["r"] }] } },
          ...extra,
        });
      const viaLoad = (await runtimeCall())["value"] as { values: unknown; data: { results: unknown[] } };
      assert.deepEqual(viaLoad.values, { agentId: "agent-7" });
      assert.deepEqual(viaLoad.data.results[0], { ok: "from load" });
      assert.equal((viaLoad.data.results[1] as { error: { code: number } }).error.code, -32601);
      const viaCall = (await runtimeCall({ agentRuntime: { agentId: "agent-8", settings: { GREETING: "from call" } } }))["value"] as { values: unknown; data: { results: unknown[] } };
      assert.deepEqual(viaCall.values, { agentId: "agent-8" });
      assert.deepEqual(viaCall.data.results[0], { ok: "from call" });
      const bad = await d.request("call", { plugin, method: "getManifest", params: {}, agentRuntime: [] });
      assert.equal(bad.error?.code, -32602);
      const badWorld = await d.request("call", { plugin, method: "getManifest", params: {}, agentRuntime: { rooms: [{ name: "no id" }] } });
      assert.equal(badWorld.error?.code, -32602);
      assert.match(badWorld.error?.message ?? "", /World\.rooms\[0\]\.id must be a string/);
      await d.result("unload", { plugin });
      const bare = (await d.result("load", { transport: "ipc", language: "typescript", path: CONFORMANCE_TS, runtime }))["plugin"] as string;
      const none = (await d.result("call", { plugin: bare, method: "invokeAction", params: { name: "runtime", memory: { content: {} }, options: { calls: [{ method: "getSetting", args: ["GREETING"] }] } } }))["value"] as {
        values: unknown;
        data: { results: { error: { message: string } }[] };
      };
      assert.deepEqual(none.values, { agentId: null });
      assert.match(none.data.results[0]?.error.message ?? "", /runtime\.getSetting is not provided by the host/);
      await d.result("unload", { plugin: bare });
    });

    it("loads Python plugins and any IPC command", async () => {
      const py = await d.result("load", { transport: "ipc", language: "python", path: join(PY_FIXTURES, "conformance_plugin.py") });
      assert.deepEqual(withoutExchange(py["manifest"]), conformanceManifest("python"));
      const cmd = await d.result("load", { transport: "ipc", command: [RUNTIMES[runtime], join(PKG_DIR, "src/bridge-server.ts"), CONFORMANCE_TS], timeoutMs: 10000 });
      assert.equal((cmd["manifest"] as { name: string }).name, "conformance-fixture");
      await d.result("unload", { plugin: py["plugin"] as string });
      await d.result("unload", { plugin: cmd["plugin"] as string });
    });

    it("pipelined calls reach the plugin pipelined: a slow call does not hold back the others", async () => {
      const plugin = (await d.result("load", { transport: "ipc", language: "typescript", path: CONFORMANCE_TS, runtime }))["plugin"] as string;
      const order: string[] = [];
      const slow = d.request("call", { plugin, method: "invokeAction", params: { name: "slow", memory: { content: {} }, options: { delayMs: 1000 } } }).then((r) => (order.push("slow"), r));
      const fast = Array.from({ length: 8 }, (_, i) =>
        d.request("call", { plugin, method: "invokeAction", params: { name: "echo", memory: { content: { text: `m${i}` } } } }).then((r) => (order.push("fast"), r)),
      );
      const results = await Promise.all(fast);
      results.forEach((r, i) => assert.equal(((r.result as { value: { text: string } }).value).text, `m${i}`));
      assert.deepEqual(((await slow).result as { value: unknown }).value, { success: true, text: "slept 1000" });
      assert.equal(order.at(-1), "slow");
      await d.result("unload", { plugin });
    });

    it("WASM: call, bench and the no-op floor", async () => {
      const w = await d.result("load", { transport: "wasm", path: ABI_PROBE_WASM });
      const plugin = w["plugin"] as string;
      assert.deepEqual(await d.result("call", { plugin, method: "invokeAction", params: { name: "ok", memory: { content: {} } } }), { ok: true, value: { success: true, text: "ok" } });
      assertSamples(await d.result("bench", { plugin, method: "invokeAction", params: { name: "ok", memory: { content: { text: "x".repeat(70) } } }, iterations: 100, warmup: 10 }), 100);
      assertSamples(await d.result("benchNoop", { plugin, iterations: 100, warmup: 10 }), 100);
      await d.result("unload", { plugin });
    });

    it("lines are split on \\n only: U+2028 and U+2029 inside strings are data", async () => {
      const w = (await d.result("load", { transport: "wasm", path: ABI_PROBE_WASM }))["plugin"] as string;
      const r = await d.result("call", { plugin: w, method: "validateAction", params: { name: "ok", memory: { content: { text: "a\u2028b\u2029c" } } } });
      assert.deepEqual(r, { ok: true, value: true });
      await d.result("unload", { plugin: w });
    });

    it("benchJson: one sample per iteration of the host's JSON work; params and result are required", async () => {
      const memory = { content: { text: "x".repeat(1000) } };
      const params = { name: "echo", memory, state: {}, options: {} };
      const result = { success: true, text: "x".repeat(1000), data: { memory, state: {}, options: {} } };
      assertSamples(await d.result("benchJson", { params, result, iterations: 40, warmup: 4 }), 40);
      assert.equal((await d.request("benchJson", { params, iterations: 1 })).error?.code, -32602);
      assert.equal((await d.request("benchJson", { params: [], result: 1, iterations: 1 })).error?.code, -32602);
    });

    it("benchThroughput: calls with 1, 8 and 64 in flight, timed by the host; a failing call fails it", async () => {
      const plugin = (await d.result("load", { transport: "ipc", language: "typescript", path: CONFORMANCE_TS, runtime }))["plugin"] as string;
      const params = { name: "echo", memory: { content: { text: "x".repeat(50) } } };
      for (const inFlight of [1, 8, 64]) {
        const r = await d.result("benchThroughput", { plugin, method: "invokeAction", params, inFlight, calls: 200, warmup: 16 });
        assert.equal(r["calls"], 200);
        assert.equal(r["inFlight"], inFlight);
        assert.ok(Number.isInteger(r["elapsedNs"]) && (r["elapsedNs"] as number) > 0, JSON.stringify(r));
      }
      assert.equal((await d.request("benchThroughput", { plugin, method: "invokeAction", params, inFlight: 0, calls: 1 })).error?.code, -32602);
      const failing = await d.request("benchThroughput", { plugin, method: "getProvider", params: { name: "nope", memory: { content: {} } }, inFlight: 4, calls: 20 });
      assert.equal(failing.error?.code, -32000);
      await d.result("unload", { plugin });
    });

    it("benchPipe against cat", async () => {
      assertSamples(await d.result("benchPipe", { command: ["cat"], payload: "x".repeat(100), iterations: 50, warmup: 5 }), 50);
    });

    it("load failures and bad requests are JSON-RPC errors", async () => {
      const missing = await d.request("load", { transport: "wasm", path: "/nonexistent.wasm" });
      assert.equal(missing.error?.code, -32000);
      assert.match(missing.error?.message ?? "", /cannot read/);
      const ffi = await d.request("load", { transport: "ffi", path: "/x.so" });
      assert.equal(ffi.error?.code, -32602);
      assert.equal((await d.request("nope")).error?.code, -32601);
      assert.equal((await d.request("call", { plugin: "p999", method: "getManifest" })).error?.code, -32602);
    });

    it("stdin EOF still delivers every pending reply in full to a slow reader", async () => {
      // The request and EOF arrive together, and the reader takes nothing for 2 s: the reply
      // (far over one 64 KiB pipe buffer) must still arrive whole before the driver exits.
      const driver = `'${RUNTIMES[runtime]}' '${join(PKG_DIR, "driver/host-driver.ts")}'`;
      const child = spawn("sh", ["-c", `${driver} | (sleep 2; cat)`], { stdio: ["pipe", "pipe", "inherit"] });
      const chunks: Buffer[] = [];
      child.stdout?.on("data", (c: Buffer) => chunks.push(c));
      const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      const request = { id: 1, method: "benchPipe", params: { command: ["cat"], payload: "x", iterations: 20000, warmup: 0 } };
      child.stdin?.end(JSON.stringify(request) + "\n");
      assert.equal(await within(60000, "driver exit", closed), 0);
      const out = Buffer.concat(chunks).toString("utf8");
      assert.ok(out.length > 65536, `reply is only ${out.length} bytes`);
      const reply = JSON.parse(out.trim()) as { id: number; result: { samplesNs: number[] } };
      assert.equal(reply.id, 1);
      assert.equal(reply.result.samplesNs.length, 20000);
    });

    it("stdin EOF closes every plugin, reaps them and exits 0", async () => {
      const d2 = new Driver(runtime);
      const loaded = await d2.result("load", { transport: "ipc", language: "typescript", path: CONFORMANCE_TS, runtime });
      const probe = await d2.result("call", { plugin: loaded["plugin"] as string, method: "validateAction", params: { name: "echo", memory: { content: {} } } });
      assert.equal(probe["value"], true);
      d2.child.stdin?.end();
      assert.equal(await within(10000, "driver exit", d2.exit), 0);
      await assertGone(d2.child.pid as number);
    });
  });
}
