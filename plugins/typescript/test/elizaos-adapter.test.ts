/**
 * The plugin-object reading of src/elizaos-adapter.ts in-process: where the manifest's name and
 * version come from, which plugins cannot make a manifest (and what the error says), and the
 * result shapes of elizaOS handlers, including the corners a pipe test does not reach.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { adaptActionResult, checkPluginActionResult, checkPluginEvaluatorResult, checkPluginProviderResult, manifestOf } from "../src/elizaos-adapter.ts";
import { InvalidResult } from "../src/protocol.ts";
import type { Plugin } from "../src/types.ts";
import { assertSchema } from "./helpers.ts";

const plugin = (members: Record<string, unknown>): Plugin => ({ name: "p", ...members }) as unknown as Plugin;

describe("manifestOf", () => {
  it("the package's name wins, the object's version wins over the package's, 0.0.0 without either", () => {
    assert.equal(manifestOf(plugin({}), { packageName: "@scope/pkg" }).name, "@scope/pkg");
    assert.equal(manifestOf(plugin({ version: "2.0.0" }), { packageVersion: "1.0.0" }).version, "2.0.0");
    assert.equal(manifestOf(plugin({}), { packageVersion: "1.0.0-rc.1" }).version, "1.0.0-rc.1");
    const m = manifestOf(plugin({}));
    assert.equal(m.version, "0.0.0");
    assertSchema("manifest.schema.json", m);
  });

  it("refuses what cannot make a valid manifest, naming the plugin and the member", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: "Not Valid" }, /plugin "Not Valid" has an invalid manifest: name must be an npm package name/],
      [{ version: "1.0" }, /version must be a SemVer string, received "1.0"/],
      [{ language: "Type Script" }, /language must match/],
      [{ actions: {} }, /actions must be an array, received object/],
      [{ actions: [{ name: "a" }, { name: "a" }] }, /duplicate action name "a"/],
      [{ providers: [{ name: "" }] }, /providers\[0\]\.name must be a non-empty string/],
      [{ evaluators: [null] }, /evaluators\[0\] must be an object, received null/],
    ];
    for (const [members, message] of cases) assert.throws(() => manifestOf(plugin(members)), message, JSON.stringify(members));
  });

  it("keeps plain data, drops code and values JSON cannot carry, checks the types of known members", () => {
    const m = manifestOf(
      plugin({
        config: { A: "x", B: undefined },
        schema: { table: new Map() },
        custom: { nested: [1, "two"] },
        bad: { n: Number.NaN },
        actions: [{ name: "a", description: 7, similes: "not an array", examples: [], handler: () => undefined, validate: () => true }],
        providers: [{ name: "p", position: "top", dynamic: true, get: () => ({}) }],
      }),
    ) as unknown as Record<string, unknown>;
    assert.deepEqual(JSON.parse(JSON.stringify(m["config"])), { A: "x" }); // an undefined member does not reach the wire
    assert.deepEqual(m["custom"], { nested: [1, "two"] });
    assert.equal("schema" in m, false);
    assert.equal("bad" in m, false);
    assert.deepEqual(m["actions"], [{ name: "a", description: "", examples: [] }]);
    assert.deepEqual(m["providers"], [{ name: "p", dynamic: true }]);
    assertSchema("manifest.schema.json", m);
  });
});

describe("elizaOS result shapes", () => {
  it("nothing returned is success; an Error in error becomes its message; other values are left to the check", () => {
    assert.deepEqual(adaptActionResult(undefined, []), { success: true });
    assert.deepEqual(adaptActionResult({ success: false, error: new RangeError("out of range") }, []), { success: false, error: "out of range" });
    assert.equal(adaptActionResult(false, []), false);
    assert.throws(() => checkPluginActionResult(adaptActionResult(false, [])), InvalidResult);
    const same = { success: true, text: "t" };
    assert.equal(adaptActionResult(same, []), same, "no copy when there is nothing to adapt");
  });

  it("callback contents: text joined unless the result has its own; callbacks added to data, never replacing it", () => {
    const cbs = [{ text: "a" }, { actions: ["X"] }, { text: "b" }];
    assert.deepEqual(adaptActionResult({ success: true, text: null }, cbs), { success: true, text: "a\nb", data: { callbacks: cbs } });
    assert.deepEqual(adaptActionResult({ success: true, data: { callbacks: "theirs" } }, cbs), { success: true, text: "a\nb", data: { callbacks: "theirs" } });
    // a mistyped data is left as it is, for the check to refuse
    const bad = adaptActionResult({ success: true, data: [1] }, cbs);
    assert.throws(() => checkPluginActionResult(bad), /ActionResult\.data must be an object, received array/);
  });

  it("checks: known members typed, known null members dropped, unknown members kept (null included), class instances copied", () => {
    assert.deepEqual(checkPluginActionResult({ success: true, text: null, extra: null, more: { a: 1 } }), { success: true, extra: null, more: { a: 1 } });
    class Result {
      success = true;
      text = "from a class";
    }
    const copied = checkPluginActionResult(new Result());
    assert.equal(Object.getPrototypeOf(copied), Object.prototype);
    assert.deepEqual(copied, { success: true, text: "from a class" });
    assert.throws(() => checkPluginActionResult({ sucess: true }), /received missing \(members: "sucess"\)/);
    assert.throws(() => checkPluginProviderResult({ text: 5 }), /ProviderResult\.text must be a string, received integer/);
    assert.deepEqual(checkPluginProviderResult({ values: {}, position: 3 }), { values: {}, position: 3 });
    assert.equal(checkPluginEvaluatorResult(undefined), null);
    assert.equal(checkPluginEvaluatorResult(null), null);
  });
});
