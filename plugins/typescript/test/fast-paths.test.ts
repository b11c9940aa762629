/**
 * Fast paths of the hot call path, proved exact on their edge cases: the encoder's long-string path
 * (protocol.ts quoteLong) writes byte for byte what JSON.stringify writes, and a refused value is
 * still refused; the decoder's ASCII path (lines.ts utf8Text) reads what a fatal TextDecoder reads,
 * and still refuses invalid UTF-8.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LineSplitter, utf8Text } from "../src/lines.ts";
import { EncodeError, LONG_STRING, LONG_STRING_FAST_PATH, checkJsonLong, encodeJson, quoteLongStrings, stringifyJson } from "../src/protocol.ts";

const BASE = "The quick brown fox jumps over the lazy dog. ".repeat(Math.ceil((LONG_STRING + 64) / 45));

/** A long string with `inserted` placed at the start, the middle and the end. */
function longWith(inserted: string): string[] {
  const mid = BASE.length >> 1;
  return [inserted + BASE, BASE.slice(0, mid) + inserted + BASE.slice(mid), BASE + inserted];
}

const INSERTS: [string, string][] = [
  ["nothing", ""],
  ["a quote", '"'],
  ["a backslash", "\\"],
  ["a backslash before a quote", '\\"'],
  ["an escaped-looking sequence", "\\n\\u0041"],
  ["a newline", "\n"],
  ["NUL", "\u0000"],
  ["U+001F", "\u001f"],
  ["DEL", "\u007f"],
  ["Latin-1", "é\u00a0ÿ"],
  ["U+2028 and U+2029", "\u2028\u2029"],
  ["an astral character", "😀"],
  ["CJK", "漢字"],
  ["U+FEFF", "\ufeff"],
];

describe("long strings encode exactly as JSON.stringify does", () => {
  for (const [what, inserted] of INSERTS) {
    it(`with ${what}`, () => {
      for (const s of longWith(inserted)) {
        const value = { id: 1, result: { text: s, data: { memory: { content: { text: s } } }, list: [s, "short", s] } };
        assert.equal(encodeJson(value), JSON.stringify(value));
        assert.equal(encodeJson(s), JSON.stringify(s));
      }
    });
  }

  it("takes the fast path on Node", { skip: "Bun" in globalThis }, () => {
    assert.equal(LONG_STRING_FAST_PATH, true);
  });

  it("at the length threshold and one below", () => {
    for (const n of [LONG_STRING - 1, LONG_STRING, LONG_STRING + 1]) {
      const s = "x".repeat(n - 1) + "\n";
      assert.equal(encodeJson({ s }), JSON.stringify({ s }));
      assert.equal(checkJsonLong({ s }), LONG_STRING_FAST_PATH && n >= LONG_STRING);
    }
  });

  it("leaves the value untouched and copies only the containers on the way to a long string", { skip: !LONG_STRING_FAST_PATH && "no fast path on this engine" }, () => {
    const shared = { small: "a", n: [1, 2] };
    const value = { shared, deep: { text: BASE } };
    const out = quoteLongStrings(value) as Record<string, unknown>;
    assert.notEqual(out, value);
    assert.equal(out["shared"], shared);
    assert.equal(value.deep.text, BASE);
    assert.equal(JSON.stringify(out), JSON.stringify(value));
  });

  it("keeps a parsed __proto__ member an own member", () => {
    const value = JSON.parse(`{"__proto__": ${JSON.stringify(BASE)}, "a": 1}`) as unknown;
    assert.equal(encodeJson(value), JSON.stringify(value));
    assert.ok(encodeJson(value).startsWith('{"__proto__":"The quick'));
  });

  it("honours toJSON and drops undefined members as JSON.stringify does", () => {
    const when = new Date(0);
    const value = { when, gone: undefined, text: BASE, nested: { toJSON: () => ({ t: BASE }) } };
    assert.equal(encodeJson(value), JSON.stringify(value));
  });

  it("still refuses a long string with a lone surrogate, naming the path", () => {
    assert.throws(() => encodeJson({ a: [BASE + "\ud800"] }), (err: unknown) => err instanceof EncodeError && err.path === "$.a[0]");
  });

  it("the flag of checkJsonLong belongs to the last check only", () => {
    assert.equal(checkJsonLong({ s: BASE }), LONG_STRING_FAST_PATH);
    assert.equal(checkJsonLong({ s: "short" }), false);
    assert.equal(stringifyJson({ s: "short" }, false), '{"s":"short"}');
  });
});

describe("utf8Text decodes exactly as a fatal TextDecoder does", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true });
  const long = BASE.repeat(4);

  const texts: [string, string][] = [
    ["short ASCII", "abc"],
    ["long ASCII", long],
    ["long ASCII with DEL and NUL", `\u0000${long}\u007f`],
    ["long text with one Latin-1 letter at the end", `${long}é`],
    ["long text with one at the start", `é${long}`],
    ["long text with an astral character", `${long}😀${long}`],
    ["long CJK", "漢字".repeat(300)],
  ];
  for (const [what, text] of texts) {
    it(`reads ${what}`, () => {
      const bytes = Buffer.from(text, "utf8");
      assert.equal(utf8Text(bytes), fatal.decode(bytes));
      assert.equal(utf8Text(bytes), text);
    });
  }

  it("reads a view into a larger buffer (a WASM memory) from its own offset", () => {
    const memory = new Uint8Array(4096);
    const bytes = Buffer.from(`${long}`, "utf8");
    memory.fill(0xff);
    memory.set(bytes, 100);
    assert.equal(utf8Text(memory.subarray(100, 100 + bytes.length)), long);
  });

  const invalid: [string, number[]][] = [
    ["a lone continuation byte", [0x80]],
    ["a truncated two-byte sequence", [0xc3]],
    ["an encoded surrogate", [0xed, 0xa0, 0x80]],
    ["an overlong slash", [0xc0, 0xaf]],
    ["0xFF", [0xff]],
  ];
  for (const [what, bad] of invalid) {
    it(`refuses ${what}, in a short and in a long line`, () => {
      for (const prefix of ["", long]) {
        const bytes = Buffer.concat([Buffer.from(prefix), Buffer.from(bad), Buffer.from(prefix)]);
        assert.throws(() => utf8Text(bytes), TypeError);
      }
    });
  }

  it("reads a line split mid-character across chunks", () => {
    const line = `${long}é😀漢${long}`;
    const bytes = Buffer.from(`${line}\n`, "utf8");
    for (const cut of [long.length + 1, long.length + 4, long.length + 6, long.length + 8]) {
      const lines: string[] = [];
      const splitter = new LineSplitter(1 << 20, { line: (b) => lines.push(utf8Text(b)), oversize: () => assert.fail("oversize") });
      splitter.push(bytes.subarray(0, cut));
      splitter.push(bytes.subarray(cut));
      assert.deepEqual(lines, [line]);
    }
  });
});
