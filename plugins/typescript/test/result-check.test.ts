/**
 * Result checks (protocol.md sections 1 and 3.3): a valid result is handed back in canonical form
 * (null optional members dropped, unknown members kept), and an invalid one is refused with the reason, whichever of the
 * check's two paths (no-copy for clean results, copying when a member is null) it takes.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InvalidResult, checkActionResult, checkProviderResult } from "../src/protocol.ts";

describe("ActionResult/ProviderResult checks", () => {
  it("a clean result comes back unchanged", () => {
    const raw = JSON.parse('{"success":true,"text":"hi","values":{"a":1},"data":{"b":[null]}}') as unknown;
    assert.deepEqual(checkActionResult(raw), { success: true, text: "hi", values: { a: 1 }, data: { b: [null] } });
  });

  it("null optional members are dropped from the canonical form", () => {
    const raw = JSON.parse('{"success":false,"text":null,"error":"boom","data":null}') as unknown;
    const out = checkActionResult(raw);
    assert.deepEqual(out, { success: false, error: "boom" });
    assert.equal(Object.hasOwn(out, "text"), false);
    assert.deepEqual(checkProviderResult(JSON.parse('{"text":null,"values":{}}') as unknown), { values: {} });
  });

  const refused: [string, string, RegExp][] = [
    ["a typo of success (success is then missing)", '{"sucess":true}', /ActionResult\.success must be a boolean, received missing/],
    ["a mistyped member", '{"success":true,"text":3}', /ActionResult\.text must be a string, received integer/],
    ["an array where an object belongs", '{"success":true,"data":[]}', /ActionResult\.data must be an object, received array/],
    ["success missing", '{"text":"x"}', /ActionResult\.success must be a boolean/],
    ["success null", '{"success":null}', /ActionResult\.success must be a boolean/],
    ["not an object", "[1]", /ActionResult must be an object, received array/],
  ];
  for (const [what, text, reason] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(() => checkActionResult(JSON.parse(text) as unknown), (e: unknown) => e instanceof InvalidResult && reason.test(e.message));
    });
  }

  it("unknown members are kept on both paths (must-ignore)", () => {
    const clean = JSON.parse('{"success":true,"extra":[1]}') as unknown;
    assert.equal(checkActionResult(clean), clean);
    assert.deepEqual(checkActionResult(JSON.parse('{"success":true,"extra":[1],"text":null}') as unknown), { success: true, extra: [1] });
  });

  it("a non-plain object is copied into a plain canonical object", () => {
    const raw = Object.assign(Object.create(null) as Record<string, unknown>, { success: true });
    const out = checkActionResult(raw);
    assert.deepEqual({ ...out }, { success: true });
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
  });
});
