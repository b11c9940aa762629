/**
 * The IPC client: TypeScript plugins on Node and Bun (TS->TS), the Python plugin, and every fault
 * of protocol.md 3.5 using the Python misbehaving fixtures: a typed error in bounded time, and the
 * child always reaped.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  InvalidPayloadError,
  LoadedPlugin,
  PluginCallError,
  PluginCrashError,
  PluginLoadError,
  PluginProtocolError,
  PluginTimeoutError,
  BRIDGE_SERVER_PATH,
  loadIpcPlugin,
  loadPythonPlugin,
  loadTsPlugin,
} from "../src/index.ts";
import { CONFORMANCE_TS, TEST_DIR, MISBEHAVING, PY_FIXTURES, PYTHON, RUNTIMES, RUNTIME_NAMES, assertGone, assertSchema, conformanceManifest, withoutExchange, requireFile, within } from "./helpers.ts";

const mem = (text?: string): { content: { text?: string } } => ({ content: text === undefined ? {} : { text } });

async function rejectsWith<E extends Error>(p: Promise<unknown>, cls: new (...args: never[]) => E, what: string): Promise<E> {
  const err = await within(15000, what, p.then(
    (v) => {
      throw new Error(`${what}: expected ${cls.name}, resolved with ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  ));
  assert.ok(err instanceof cls, `${what}: expected ${cls.name}, got ${String(err)}`);
  return err;
}

function pidOf(p: LoadedPlugin): number {
  assert.equal(typeof p.pid, "number");
  return p.pid as number;
}

const misbehaving = (name: string): string => requireFile(join(MISBEHAVING, `${name}.py`), "the Python misbehaving fixtures live in plugins/python/fixtures/misbehaving");

for (const runtime of RUNTIME_NAMES) {
  describe(`TS host -> TS plugin over IPC on ${runtime}`, () => {
    let plugin: LoadedPlugin;
    before(async () => {
      plugin = await loadTsPlugin(CONFORMANCE_TS, { runtime, executable: RUNTIMES[runtime] });
    });
    after(async () => {
      await plugin.close();
    });

    it("exposes the manifest and the seed's plugin shape", () => {
      assertSchema("manifest.schema.json", plugin.manifest);
      assert.deepEqual(withoutExchange(plugin.manifest), conformanceManifest("typescript"));
      assert.equal(plugin.protocolVersion, 1);
      assert.ok(plugin.capabilities.includes("runtime"));
      assert.equal(plugin.name, "conformance-fixture");
      assert.equal(plugin.version, "1.0.0");
      assert.equal(plugin.language, "typescript");
      assert.equal(plugin.transport, "ipc");
      assert.deepEqual(plugin.actions.map((a) => a.name), ["echo", "reject", "fail", "panic", "slow", "large", "crash", "invalid", "runtime"]);
      assert.deepEqual(plugin.providers.map((p) => p.name), ["static", "echo", "config", "fail", "inits"]);
      assert.deepEqual(plugin.evaluators.map((e) => e.name), ["echo", "silent", "reject", "fail"]);
    });

    it("actions, providers and evaluators through the seed-style handlers", async () => {
      const runtimeArg = {};
      const echo = plugin.actions[0];
      assert.ok(echo);
      assert.equal(await echo.validate(runtimeArg, mem("x"), {}), true);
      assert.deepEqual(await echo.handler(runtimeArg, mem("I am feeling sad"), { s: 1 }, { o: 2 }), {
        success: true,
        text: "I am feeling sad",
        data: { memory: mem("I am feeling sad"), state: { s: 1 }, options: { o: 2 } },
      });
      assert.deepEqual(await plugin.providers[0]?.get(runtimeArg, mem()), { text: "static provider", values: { answer: 42 } });
      assert.equal(await plugin.evaluators[1]?.validate(runtimeArg, mem()), true);
      assert.equal(await plugin.evaluators[1]?.handler(runtimeArg, mem()), null);
      assert.deepEqual(await plugin.invokeEvaluator("reject", mem()), { success: false });
      assert.equal(await plugin.validateEvaluator("reject", mem()), false);
      assert.equal(await plugin.validateAction("reject", mem()), false);
      await plugin.init({ k: "v" });
      assert.deepEqual(await plugin.getProvider("config", mem()), { values: { k: "v" } });
    });

    it("plugin errors are PluginCallError with code, message and data; the plugin keeps serving", async () => {
      const fail = await rejectsWith(plugin.invokeAction("fail", mem()), PluginCallError, "fail");
      assert.equal(fail.code, -32000);
      assert.equal(fail.errorMessage, "fixture failure");
      assert.deepEqual(fail.data, { kind: "action", name: "fail", exception: "Error" });
      assert.match(fail.message, /^conformance-fixture: invokeAction\("fail"\) over ipc /);
      const unknown = await rejectsWith(plugin.getProvider("missing", mem()), PluginCallError, "unknown");
      assert.equal(unknown.code, -32001);
      assert.deepEqual(unknown.data, { kind: "provider", name: "missing" });
      const invalid = await rejectsWith(plugin.invokeAction("invalid", mem()), PluginCallError, "invalid");
      assert.equal(invalid.code, -32003);
      const badParams = await rejectsWith(plugin.call("invokeAction", { name: "echo" }), PluginCallError, "bad params");
      assert.equal(badParams.code, -32602);
      assert.deepEqual(badParams.data, { param: "memory", expected: "object", received: "missing" });
      assert.equal(await plugin.validateAction("echo", mem()), true);
    });

    it("pipelined calls are matched by id whatever the answer order", async () => {
      const slow = plugin.invokeAction("slow", mem(), {}, { delayMs: 1000 });
      const fast = Array.from({ length: 20 }, (_, i) => plugin.invokeAction("echo", mem(`m${i}`)));
      const order: string[] = [];
      void slow.then(() => order.push("slow"));
      const results = await Promise.all(fast.map((p) => p.then((r) => (order.push("fast"), r))));
      results.forEach((r, i) => assert.equal(r.text, `m${i}`));
      assert.deepEqual(await slow, { success: true, text: "slept 1000" });
      assert.equal(order.at(-1), "slow");
    });

    it("an unencodable payload is InvalidPayloadError naming the path, and the plugin is untouched", async () => {
      const e = await rejectsWith(plugin.invokeAction("echo", { content: { text: "ok", deep: [1, { n: Number.POSITIVE_INFINITY }] } } as never), InvalidPayloadError, "infinity");
      assert.equal(e.path, "$.memory.content.deep[1].n");
      assert.equal((await plugin.invokeAction("echo", mem("still here"))).text, "still here");
    });
  });

  describe(`IPC faults with a TS plugin on ${runtime}`, () => {
    it("a call time-out kills the plugin: PluginTimeoutError for it and the other pending calls, then PluginCrashError", async () => {
      const p = await loadTsPlugin(CONFORMANCE_TS, { runtime, executable: RUNTIMES[runtime] });
      const pid = pidOf(p);
      try {
        const other = p.invokeAction("slow", mem(), {}, { delayMs: 60000 });
        const t = await rejectsWith(p.invokeAction("slow", mem(), {}, { delayMs: 60000 }, { timeoutMs: 200 }), PluginTimeoutError, "timeout");
        assert.equal(t.timeoutMs, 200);
        assert.match(t.message, /^conformance-fixture: invokeAction\("slow"\) over ipc timed out after 200 ms$/);
        await rejectsWith(other, PluginTimeoutError, "other pending call");
        await assertGone(pid);
        const later = await rejectsWith(p.validateAction("echo", mem()), PluginCrashError, "later call");
        assert.match(later.message, /closed/);
      } finally {
        await p.close();
      }
    });

    it("the crash action: PluginCrashError with exit code 70, child reaped", async () => {
      const p = await loadTsPlugin(CONFORMANCE_TS, { runtime, executable: RUNTIMES[runtime] });
      const pid = pidOf(p);
      const c = await rejectsWith(p.invokeAction("crash", mem()), PluginCrashError, "crash");
      assert.equal(c.exitCode, 70);
      assert.match(c.message, /exit code 70/);
      await assertGone(pid);
      await rejectsWith(p.invokeAction("echo", mem()), PluginCrashError, "after crash");
      await p.close();
    });

    it("close() shuts down and reaps; it is idempotent; later calls are PluginCrashError", async () => {
      const p = await loadTsPlugin(CONFORMANCE_TS, { runtime, executable: RUNTIMES[runtime] });
      const pid = pidOf(p);
      await p.close();
      await p.close();
      await assertGone(pid, 1000);
      const e = await rejectsWith(p.getProvider("static", mem()), PluginCrashError, "after close");
      assert.match(e.message, /plugin is closed/);
    });

    it("a host that forgets close() still exits, and its exit hook kills the child", async () => {
      const { execFile } = await import("node:child_process");
      const out = await within(30000, "forget-close script", new Promise<string>((resolve, reject) => {
        execFile(RUNTIMES[runtime], [join(TEST_DIR, "fixtures/forget-close.ts"), CONFORMANCE_TS], (err, stdout) => (err ? reject(err) : resolve(stdout)));
      }));
      const [pid, text] = out.trim().split("\n");
      assert.equal(text, "still referenced while in flight");
      await assertGone(Number(pid));
    });

    it("a response line over the host limit is PluginProtocolError and the child is killed", async () => {
      const exe = RUNTIMES[runtime];
      const p = await loadIpcPlugin([exe, BRIDGE_SERVER_PATH, CONFORMANCE_TS], { maxMessageBytes: 4096 });
      const pid = pidOf(p);
      const e = await rejectsWith(p.invokeAction("large", mem(), {}, { size: 10000 }), PluginProtocolError, "oversize");
      assert.match(e.message, /exceeds limit 4096/);
      await assertGone(pid);
      await p.close();
    });

    it("a request over the limit is InvalidPayloadError before anything is written", async () => {
      const p = await loadTsPlugin(CONFORMANCE_TS, { runtime, executable: RUNTIMES[runtime], maxMessageBytes: 2048 });
      try {
        const e = await rejectsWith(p.invokeAction("echo", mem("x".repeat(5000))), InvalidPayloadError, "oversize request");
        assert.match(e.message, /exceeds limit 2048/);
        assert.equal((await p.invokeAction("echo", mem("small"))).text, "small");
      } finally {
        await p.close();
      }
    });
  });
}

describe("TS host -> Python plugin over IPC", () => {
  it("loads the Python conformance fixture and calls it", async () => {
    const p = await loadPythonPlugin(join(PY_FIXTURES, "conformance_plugin.py"), { python: PYTHON });
    const pid = pidOf(p);
    try {
      assert.deepEqual(withoutExchange(p.manifest), conformanceManifest("python"));
      assert.deepEqual(await p.actions[0]?.handler({}, mem("hi"), {}, {}), { success: true, text: "hi", data: { memory: mem("hi"), state: {}, options: {} } });
      const panic = await rejectsWith(p.invokeAction("panic", mem()), PluginCallError, "python panic");
      assert.equal(panic.code, -32000);
      assert.equal((panic.data as { exception: string }).exception, "KeyError");
    } finally {
      await p.close();
    }
    await assertGone(pid, 1000);
  });

  it("a missing Python plugin file is PluginLoadError", async () => {
    const e = await rejectsWith(loadPythonPlugin("/nonexistent/plugin.py"), PluginLoadError, "missing");
    assert.match(e.message, /not found/);
  });

  it("a missing interpreter is PluginLoadError naming it", async () => {
    const e = await rejectsWith(loadPythonPlugin(join(PY_FIXTURES, "conformance_plugin.py"), { python: "/nonexistent/python3" }), PluginLoadError, "no python");
    assert.match(e.message, /nonexistent\/python3/);
  });
});

describe("IPC faults with the Python misbehaving fixtures", () => {
  const load = (name: string, opts = {}): Promise<LoadedPlugin> => loadIpcPlugin([PYTHON, misbehaving(name)], opts);

  it("garbage on stdout: PluginProtocolError quoting the bytes, child killed, later calls fail", async () => {
    const p = await load("garbage");
    const pid = pidOf(p);
    const e = await rejectsWith(p.invokeAction("echo", mem()), PluginProtocolError, "garbage");
    assert.equal(e.excerpt, "this is not json {");
    assert.match(e.message, /not JSON/);
    await assertGone(pid);
    await rejectsWith(p.validateAction("echo", mem()), PluginCrashError, "after garbage");
    await p.close();
  });

  it("a response with an unexpected id: PluginProtocolError for every pending call", async () => {
    const p = await load("wrong_id");
    const pid = pidOf(p);
    // The fixture answers in order: the first answer carries a wrong id while the second call is pending.
    const first = p.invokeAction("echo", mem("1"));
    const second = p.invokeAction("echo", mem("2"));
    const e = await rejectsWith(first, PluginProtocolError, "wrong id");
    assert.match(e.message, /unexpected id/);
    await rejectsWith(second, PluginProtocolError, "other pending");
    await assertGone(pid);
    await p.close();
  });

  it("a hang: PluginTimeoutError after the call time-out, child killed", async () => {
    const p = await load("hang");
    const pid = pidOf(p);
    assert.equal(await p.validateAction("echo", mem()), true);
    const e = await rejectsWith(p.invokeAction("echo", mem(), {}, {}, { timeoutMs: 300 }), PluginTimeoutError, "hang");
    assert.equal(e.timeoutMs, 300);
    await assertGone(pid);
    await p.close();
  });

  it("a crash on input: PluginCrashError with the exit code and the stderr tail", async () => {
    const p = await load("crash_on_input");
    const pid = pidOf(p);
    assert.equal((await p.invokeAction("echo", mem("plain"))).text, "plain");
    const e = await rejectsWith(p.invokeAction("echo", mem("sad 😀")), PluginCrashError, "crash on input");
    assert.equal(e.exitCode, 70);
    assert.match(e.stderrTail, /outside the BMP/);
    await assertGone(pid);
    await p.close();
  });

  it("a stderr flood never blocks the plugin; only the last 64 KiB are kept", async () => {
    const p = await load("stderr_flood");
    const pid = pidOf(p);
    try {
      for (let i = 0; i < 5; i++) assert.equal((await p.invokeAction("echo", mem(`n${i}`))).text, `n${i}`);
      const tail = p.stderrTail();
      assert.ok(tail.length > 0 && Buffer.byteLength(tail) <= 64 * 1024, `stderr tail of ${Buffer.byteLength(tail)} bytes`);
      assert.match(tail, /stderr flood/);
    } finally {
      await p.close();
    }
    await assertGone(pid);
  });

  it("a slow start: PluginLoadError after the start time-out, child reaped", async () => {
    const e = await rejectsWith(load("slow_start", { startTimeoutMs: 300 }), PluginLoadError, "slow start");
    assert.match(e.message, /timed out after 300 ms/);
    const cause = e.cause as PluginTimeoutError;
    assert.ok(cause instanceof PluginTimeoutError);
  });

  it("a bad manifest: PluginLoadError naming the problem", async () => {
    const e = await rejectsWith(load("bad_manifest"), PluginLoadError, "bad manifest");
    assert.match(e.message, /invalid manifest/);
  });

  it("a command that does not exist: PluginLoadError", async () => {
    const e = await rejectsWith(loadIpcPlugin(["/nonexistent/plugin-binary"]), PluginLoadError, "no binary");
    assert.match(e.message, /ENOENT/);
  });
});
