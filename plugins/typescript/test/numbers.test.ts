/**
 * JavaScript's number model (protocol.md section 2, README "Number model"): what a TypeScript peer
 * does to numbers on the wire, and what the host refuses to send.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { InvalidPayloadError, LoadedPlugin, loadTsPlugin, loadWasmPlugin } from "../src/index.ts";
import { checkJson, encodeJson, EncodeError } from "../src/protocol.ts";
import { ABI_PROBE_WASM, CONFORMANCE_TS, RUNTIMES, RUNTIME_NAMES, RawBridge, edgeCases } from "./helpers.ts";

describe("strict encoding refuses values outside the JSON profile, naming the path", () => {
  const refused: [string, unknown, string][] = [
    ["NaN", { a: Number.NaN }, "$.a"],
    ["Infinity", { a: [0, Number.POSITIVE_INFINITY] }, "$.a[1]"],
    ["-Infinity", { "odd key": Number.NEGATIVE_INFINITY }, '$["odd key"]'],
    ["BigInt", { n: 2n ** 64n }, "$.n"],
    ["lone high surrogate", { s: "x\ud83d" }, "$.s"],
    ["lone low surrogate in a key", { ["k\ude00"]: 1 }, '$["k\\ude00"]'],
    ["undefined in an array", { a: [undefined] }, "$.a[0]"],
    ["function in an array", { a: [() => 1] }, "$.a[0]"],
    ["Map", { m: new Map([[1, 2]]) }, "$.m"],
    ["class instance", { c: new (class Point { x = 1 })() }, "$.c"],
  ];
  for (const [what, value, path] of refused) {
    it(what, () => {
      assert.throws(() => checkJson(value), (e: unknown) => e instanceof EncodeError && e.path === path);
    });
  }

  it("a cycle is refused instead of overflowing the stack", () => {
    const a: Record<string, unknown> = {};
    a["self"] = a;
    assert.throws(() => checkJson(a), (e: unknown) => e instanceof EncodeError && /nesting deeper/.test(e.message));
  });

  it("undefined object members are omitted and toJSON is honoured, as JSON.stringify does", () => {
    assert.equal(encodeJson({ a: undefined, b: 1, d: new Date(0) }), '{"b":1,"d":"1970-01-01T00:00:00.000Z"}');
  });

  it("astral characters, NUL and paired surrogates are fine", () => {
    assert.equal(encodeJson({ s: "\u0000😀\ud834\udd1e" }), '{"s":"\\u0000😀𝄞"}');
  });

  it("-0 is sent as 0, 1.0 as 1, and integers past 2^53 as the nearest double", () => {
    assert.equal(encodeJson({ z: -0, one: 1.0, big: 2 ** 53 + 2, beyond: 9007199254740993 }), '{"z":0,"one":1,"big":9007199254740994,"beyond":9007199254740992}');
  });
});

for (const runtime of RUNTIME_NAMES) {
  describe(`a TypeScript plugin on ${runtime} rounds numbers like JavaScript`, () => {
    it("integers past 2^53, -0.0 and 1.0 on the wire", async () => {
      const b = new RawBridge(runtime, CONFORMANCE_TS);
      try {
        b.write(
          '{"id":1,"method":"invokeAction","params":{"name":"echo","memory":{"content":{"a":9007199254740993,"b":-0.0,"c":1.0,"d":18446744073709551617,"e":5e-324,"f":1e21,"g":-9007199254740991}}}}\n',
        );
        await b.waitId(1);
        const line = b.lines.find((l) => l.startsWith('{"id":1,')) as string;
        const content = /"content":(\{[^}]*\})/.exec(line)?.[1];
        assert.equal(content, '{"a":9007199254740992,"b":0,"c":1,"d":18446744073709552000,"e":5e-324,"f":1e+21,"g":-9007199254740991}');
      } finally {
        await b.kill();
      }
    });
  });
}

describe("host side: refused payloads never reach the plugin", () => {
  let ipc: LoadedPlugin;
  let wasm: LoadedPlugin;
  before(async () => {
    ipc = await loadTsPlugin(CONFORMANCE_TS, { executable: RUNTIMES.node });
    wasm = await loadWasmPlugin(ABI_PROBE_WASM);
  });
  after(async () => {
    await ipc.close();
    await wasm.close();
  });

  for (const transport of ["ipc", "wasm"] as const) {
    it(`over ${transport}: NaN, Infinity, BigInt, lone surrogates and undefined-in-array are InvalidPayloadError`, async () => {
      const p = transport === "ipc" ? ipc : wasm;
      const name = transport === "ipc" ? "echo" : "ok";
      const bad: [object, string][] = [
        [{ content: { n: Number.NaN } }, "$.memory.content.n"],
        [{ content: { n: Number.POSITIVE_INFINITY } }, "$.memory.content.n"],
        [{ content: { n: 1n } }, "$.memory.content.n"],
        [{ content: { text: "\udfff" } }, "$.memory.content.text"],
        [{ content: { list: [undefined] } }, "$.memory.content.list[0]"],
      ];
      for (const [memory, path] of bad) {
        const err = await p.invokeAction(name, memory as never).then(
          () => assert.fail(`sent ${path}`),
          (e: unknown) => e,
        );
        assert.ok(err instanceof InvalidPayloadError, String(err));
        assert.equal(err.path, path);
        assert.equal(err.transport, transport);
        assert.match(err.message, new RegExp(`^${p.name}: invokeAction\\("${name}"\\) over ${transport} refused`));
      }
      assert.equal((await p.invokeAction(name, { content: { text: "ok" } })).success, true);
    });
  }

  it("the shared JSON edge cases round-trip through a TypeScript plugin with the JavaScript expectations", async () => {
    for (const c of edgeCases()) {
      const r = await ipc.invokeAction("echo", { content: { value: c.value } } as never);
      const back = (r.data as { memory: { content: { value: unknown } } }).memory.content.value;
      assert.deepEqual(back, c.expectedViaJs, c.name);
      if (typeof back === "number" && Object.is(c.expectedViaJs, 0)) assert.ok(Object.is(back, 0), `${c.name}: -0 must come back as 0`);
    }
  });
});
