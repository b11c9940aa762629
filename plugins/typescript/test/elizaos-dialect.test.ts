/**
 * Plugins as elizaOS ships them, served without an adapter (protocol.md sections 1, 3.3, 11, 12),
 * on Node and on Bun: scoped names, plain-data descriptor members, services/events/routes/models by
 * name, the version from package.json, handlers answering through `callback` or returning nothing
 * or an `Error`, extra result members, entry points of every kind (a file, a package directory, a
 * package name) in a `"type": "commonjs"` package made by `npm init -y`, and plugin code that leaves
 * rejections unhandled.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as nodeModuleNs from "node:module";
import { PKG_DIR, RUNTIME_NAMES, RawBridge, TEST_DIR, assertSchema, type Response } from "./helpers.ts";
import { elideTypeOnlyImports } from "../src/plugin-entry.ts";

type StripTypes = (code: string, options?: { mode?: "strip" | "transform" }) => string;
/** Node's type stripper (Node >= 22.13); Bun has none. */
const stripTypeScriptTypes = (nodeModuleNs as unknown as { stripTypeScriptTypes?: StripTypes }).stripTypeScriptTypes;

const ELIZA_STYLE = join(TEST_DIR, "fixtures/eliza-style-plugin.ts");
const mem = { content: { text: "yo" } };

function errorOf(r: Response, code: number): { code: number; message: string; data?: unknown } {
  assert.ok(r.error, `expected error ${code}, got ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code, JSON.stringify(r.error));
  return r.error;
}

/** A package as `npm init -y` makes it ("type": "commonjs", main "index.js"), holding an ESM TypeScript plugin. */
function makeCommonJsPackage(): { root: string; pkgDir: string } {
  const root = mkdtempSync(join(tmpdir(), "interop-cjs-"));
  const pkgDir = join(root, "eliza-cjs-pkg");
  mkdirSync(pkgDir);
  execFileSync("npm", ["init", "-y"], { cwd: pkgDir, stdio: "ignore" });
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { type?: string; version?: string; name?: string };
  assert.equal(pkg.type, "commonjs", "npm init -y writes a commonjs package");
  writeFileSync(join(pkgDir, "helper.ts"), "export function greet(name: string): string {\n  return `hello ${name}`;\n}\n");
  writeFileSync(
    join(pkgDir, "index.ts"),
    [
      'import { greet } from "./helper.ts";',
      "type Message = { content: { text?: string } };",
      "export const plugin = {",
      '  name: "eliza-cjs-pkg",',
      '  actions: [{ name: "GREET", validate: async () => true, handler: async (_r: unknown, m: Message) => ({ success: true, text: greet(m.content.text ?? "") }) }],',
      "};",
      "export default plugin;",
      "",
    ].join("\n"),
  );
  // the same plugin as .mts, and as plain JavaScript with ESM syntax in the commonjs package
  writeFileSync(join(pkgDir, "plugin.mts"), readFileSync(join(pkgDir, "index.ts"), "utf8"));
  writeFileSync(
    join(pkgDir, "plain.js"),
    'import { plugin as base } from "./plugin.mts";\nexport const plugin = { ...base, name: "plain-js" };\n',
  );
  // and as CommonJS, module.exports = { plugin }
  writeFileSync(
    join(pkgDir, "plugin.cjs"),
    'module.exports = { plugin: { name: "cjs-module", actions: [{ name: "GREET", validate: async () => true, handler: async (_r, m) => ({ success: true, text: "hello " + m.content.text }) }] } };\n',
  );
  // reachable by name from `root`, as an installed dependency would be
  mkdirSync(join(root, "node_modules"));
  symlinkSync(pkgDir, join(root, "node_modules", "eliza-cjs-pkg"));
  return { root, pkgDir };
}

/**
 * The seed README's TypeScript plugin, verbatim (fixtures/seed-ts-plugin/index.ts without its header):
 * it imports types from @elizaos/core without `import type`.
 */
const SEED_TS_PLUGIN = readFileSync(join(PKG_DIR, "fixtures/seed-ts-plugin/index.ts"), "utf8").replace(/^[\s\S]*?(?=\/\/ my-plugin\/index\.ts)/, "");

describe("import elision for sources Node strips (Node only: Bun elides by itself)", { skip: stripTypeScriptTypes === undefined ? "this runtime has no module.stripTypeScriptTypes" : false }, () => {
  const strip: StripTypes = (code, options) => (stripTypeScriptTypes as StripTypes)(code, options);

  it("drops an import whose bindings are used only as types, keeps value imports and their lines", () => {
    const out = elideTypeOnlyImports(SEED_TS_PLUGIN, strip);
    assert.ok(!out.includes("@elizaos/core"), out);
    assert.equal(out.split("\n").length, SEED_TS_PLUGIN.split("\n").length, "line numbers are kept");
  });

  it("keeps the bindings used as values, in the same import", () => {
    const src = 'import Def, { type T, A, B as Bee, C } from "x";\nimport { D } from "y";\nconst v: T & C = Bee(A);\nexport { v };\n';
    assert.equal(elideTypeOnlyImports(src, strip), 'import { A, B as Bee } from "x";\n\nconst v: T & C = Bee(A);\nexport { v };\n');
    const multi = 'import {\n  Plugin,\n  logger,\n} from "@elizaos/core";\nlogger.info("x");\nexport const p: Plugin = { name: "p" };\n';
    assert.equal(elideTypeOnlyImports(multi, strip), 'import { logger } from "@elizaos/core";\n\n\n\nlogger.info("x");\nexport const p: Plugin = { name: "p" };\n');
  });

  it("leaves sources without droppable imports untouched", () => {
    for (const src of ['import type { P } from "x";\nexport const a = 1;\n', 'import * as ns from "x";\nexport const a = 1;\n', 'import { f } from "x";\nf();\n', "export const a = 1;\n"]) {
      assert.equal(elideTypeOnlyImports(src, strip), src);
    }
  });
});

for (const runtime of RUNTIME_NAMES) {
  it(`the seed README's TypeScript plugin fixture (fixtures/seed-ts-plugin) loads on ${runtime}`, async () => {
    const b = new RawBridge(runtime, join(PKG_DIR, "fixtures/seed-ts-plugin/index.ts"));
    try {
      const m = (await b.call(1, "getManifest")).result as Record<string, unknown> | undefined;
      assert.ok(m, `no manifest; stderr: ${b.stderr}`);
      assert.deepEqual([m["name"], m["version"]], ["my-ts-plugin", "0.0.0"]); // its package.json has no version
      assert.deepEqual((await b.call(2, "invokeAction", { name: "my-action", memory: { content: {} } })).result, { success: true, text: "Hello from TypeScript!" });
    } finally {
      await b.kill();
    }
  });

  it(`the seed README's TypeScript plugin, verbatim, loads on ${runtime} without @elizaos/core installed`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "interop-seed-"));
    try {
      mkdirSync(join(dir, "my-plugin"));
      writeFileSync(join(dir, "my-plugin/index.ts"), SEED_TS_PLUGIN);
      const b = new RawBridge(runtime, "./my-plugin/index.ts", [], { cwd: dir });
      try {
        const m = (await b.call(1, "getManifest")).result as Record<string, unknown> | undefined;
        assert.ok(m, `no manifest; stderr: ${b.stderr}`);
        assertSchema("manifest.schema.json", m);
        assert.deepEqual([m["name"], m["version"], m["description"]], ["my-ts-plugin", "0.0.0", ""]);
        assert.deepEqual(m["actions"], [{ name: "my-action", description: "" }]);
        assert.deepEqual((await b.call(2, "invokeAction", { name: "my-action", memory: { content: { text: "hi" } } })).result, { success: true, text: "Hello from TypeScript!" });
        assert.ok(!b.stderr.includes("ExperimentalWarning"), b.stderr);
      } finally {
        await b.kill();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe(`elizaOS-shaped plugin on ${runtime}`, () => {
    let b: RawBridge;
    let n = 0;
    const call = (method: string, params?: object): Promise<Response> => b.call(++n, method, params);
    before(() => {
      b = new RawBridge(runtime, ELIZA_STYLE);
    });
    after(async () => {
      await b.kill();
    });

    it("manifest: scoped name, version from package.json, plain-data members kept, non-data members by name", async () => {
      const m = (await call("getManifest", { protocolVersion: 1, capabilities: ["runtime"] })).result as Record<string, unknown>;
      assertSchema("manifest.schema.json", m);
      assert.equal(m["name"], "@scope/eliza-style");
      assert.equal(m["version"], "3.4.5"); // test/fixtures/package.json: the plugin object has none
      assert.equal(m["protocolVersion"], 1);
      assert.deepEqual(m["capabilities"], ["runtime", "shutdown"]);
      assert.deepEqual(m["config"], { GREETING: "hello", RETRIES: 3 });
      assert.deepEqual(m["dependencies"], ["@elizaos/plugin-sql"]);
      assert.equal(m["priority"], 5);
      assert.deepEqual(m["services"], ["greeter", "NamelessService"]);
      assert.deepEqual(m["events"], ["MESSAGE_RECEIVED", "WORLD_JOINED"]);
      assert.deepEqual(m["routes"], ["GET /status", "POST /hook"]);
      assert.deepEqual(m["models"], ["TEXT_SMALL"]);
      const actions = m["actions"] as Record<string, unknown>[];
      const first = actions[0] as Record<string, unknown>;
      assert.deepEqual(Object.keys(first).sort(), ["description", "examples", "name", "similes"]);
      assert.deepEqual(first["similes"], ["CALLBACK_ONLY_ALIAS"]);
      assert.equal((first["examples"] as unknown[][])[0]?.length, 2);
      assert.deepEqual(actions.find((a) => a["name"] === "BARE"), { name: "BARE", description: "" });
      const providers = m["providers"] as Record<string, unknown>[];
      assert.deepEqual(providers[0], { name: "POSITIONED", description: "has a position", position: 7, dynamic: true });
      assert.deepEqual(providers[1], { name: "RUNTIME_INFO" });
      const evaluator = (m["evaluators"] as Record<string, unknown>[])[0] as Record<string, unknown>;
      assert.deepEqual(evaluator["examples"], [{ prompt: "p", messages: [], outcome: "o" }]);
      assert.equal(evaluator["alwaysRun"], true);
    });

    it("text sent through the callback becomes the result's text, the contents stay in data.callbacks", async () => {
      assert.deepEqual((await call("invokeAction", { name: "CALLBACK_ONLY", memory: mem })).result, {
        success: true,
        text: "first: yo\nsecond",
        data: { callbacks: [{ text: "first: yo", actions: ["REPLY"] }, { text: "second" }] },
      });
      // the result's own text wins
      assert.deepEqual((await call("invokeAction", { name: "CALLBACK_AND_TEXT", memory: mem })).result, {
        success: true,
        text: "own text",
        data: { kept: 1, callbacks: [{ text: "from callback" }] },
      });
    });

    it("a handler that returns nothing succeeds; an Error in error becomes its message; responses is an array", async () => {
      assert.deepEqual((await call("invokeAction", { name: "VOID", memory: mem })).result, { success: true });
      assert.deepEqual((await call("invokeAction", { name: "ERROR_OBJECT", memory: mem })).result, { success: false, error: "went wrong" });
      assert.deepEqual((await call("invokeAction", { name: "RESPONSES", memory: mem })).result, { success: true, values: { responses: 0 } });
    });

    it("unknown result members pass through; a missing or mistyped success is still -32003; a throw is -32000", async () => {
      const r = (await call("invokeAction", { name: "EXTRA_MEMBERS", memory: mem })).result;
      assert.deepEqual(r, { success: true, values: { a: 1 }, continueChain: false, meta: { n: null } });
      assertSchema("action-result.schema.json", r);
      const missing = errorOf(await call("invokeAction", { name: "NO_SUCCESS", memory: mem }), -32003);
      assert.match((missing.data as { reason: string }).reason, /success must be a boolean, received missing/);
      const wrong = errorOf(await call("invokeAction", { name: "WRONG_SUCCESS", memory: mem }), -32003);
      assert.match((wrong.data as { reason: string }).reason, /received string/);
      const thrown = errorOf(await call("invokeAction", { name: "THROWS", memory: mem }), -32000);
      assert.deepEqual(thrown.data, { kind: "action", name: "THROWS", exception: "TypeError" });
    });

    it("providers keep extra members and read the call's runtime snapshot", async () => {
      assert.deepEqual((await call("getProvider", { name: "POSITIONED", memory: mem })).result, { text: "p", values: { v: 1 }, extra: "kept" });
      assert.deepEqual((await call("getProvider", { name: "RUNTIME_INFO", memory: mem })).result, { values: { agentId: null, character: null } });
      const withRuntime = await call("getProvider", { name: "RUNTIME_INFO", memory: mem, runtime: { agentId: "agent-1", character: { name: "Eliza" }, future: 1 } });
      assert.deepEqual(withRuntime.result, { values: { agentId: "agent-1", character: "Eliza" } });
    });

    it("evaluators: callback text makes a result, nothing returned is null", async () => {
      assert.deepEqual((await call("invokeEvaluator", { name: "CALLBACK_EVAL", memory: mem })).result, {
        success: true,
        text: "evaluated",
        data: { callbacks: [{ text: "evaluated" }] },
      });
      assert.equal((await call("invokeEvaluator", { name: "QUIET_EVAL", memory: mem })).result, null);
    });

    it("runtime.logger writes every level to stderr, never to stdout", async () => {
      assert.deepEqual((await call("invokeAction", { name: "LOGS", memory: mem })).result, { success: true });
      await b.waitFor("logger lines on stderr", () => b.stderr.includes("logger line fatal"));
      for (const level of ["trace", "debug", "info", "log", "success", "warn", "error", "fatal"]) assert.ok(b.stderr.includes(`logger line ${level}`), level);
      for (const line of b.lines) assert.ok(!line.includes("logger line"));
    });

    it("a stray rejection and a throw from a timer are logged, and the bridge keeps serving", async () => {
      assert.deepEqual((await call("invokeAction", { name: "STRAY", memory: mem })).result, { success: true, text: "left a mess" });
      await b.waitFor("both reported on stderr", () => b.stderr.includes("stray rejection") && b.stderr.includes("timer throw"));
      assert.deepEqual((await call("invokeAction", { name: "VOID", memory: mem })).result, { success: true });
      assert.equal(b.child.exitCode, null);
    });
  });

  describe(`entry points on ${runtime}: a "type": "commonjs" package from npm init -y`, () => {
    let pkg: { root: string; pkgDir: string };
    before(() => {
      pkg = makeCommonJsPackage();
    });
    after(() => {
      rmSync(pkg.root, { recursive: true, force: true });
    });

    for (const [what, entry, cwd, name] of [
      ["the .ts file", "eliza-cjs-pkg/index.ts", "root", "eliza-cjs-pkg"],
      ["an .mts file", "eliza-cjs-pkg/plugin.mts", "root", "eliza-cjs-pkg"],
      ["a .js file", "eliza-cjs-pkg/plain.js", "root", "plain-js"],
      ["a CommonJS .cjs file", "eliza-cjs-pkg/plugin.cjs", "root", "cjs-module"],
      ["the package directory", "eliza-cjs-pkg", "root", "eliza-cjs-pkg"],
      ["the package name, from a node_modules", "eliza-cjs-pkg", "nested", "eliza-cjs-pkg"],
    ] as const) {
      it(`loads ${what}, with ESM syntax, and takes the version from package.json`, async () => {
        let dir = pkg.root;
        if (cwd === "nested") {
          dir = join(pkg.root, "work");
          mkdirSync(dir, { recursive: true });
        }
        const b = new RawBridge(runtime, entry, [], { cwd: dir });
        try {
          const m = (await b.call(1, "getManifest")).result as Record<string, unknown> | undefined;
          assert.ok(m, `no manifest; stderr: ${b.stderr}`);
          assertSchema("manifest.schema.json", m);
          assert.equal(m["name"], name);
          assert.equal(m["version"], "1.0.0");
          assert.deepEqual((await b.call(2, "invokeAction", { name: "GREET", memory: { content: { text: "you" } } })).result, { success: true, text: "hello you" });
        } finally {
          await b.kill();
        }
      });
    }

    it("an entry that is neither a file, a directory nor an installed package fails with the places it looked", async () => {
      const b = new RawBridge(runtime, "@nobody/not-installed", [], { cwd: pkg.root });
      const exit = await b.exit;
      assert.equal(exit.code, 2);
      assert.match(b.stderr, /no package "@nobody\/not-installed" in a node_modules/);
    });
  });
}
