/**
 * The package's public API is the list of names src/index.ts exports by hand: no `export *`, the
 * wire helpers stay internal, and every name the READMEs, docs and examples import from
 * "@elizaos/interop" is there.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import * as api from "../src/index.ts";
import * as protocol from "../src/protocol.ts";
import * as runtimeProxy from "../src/runtime-proxy.ts";
import { PKG_DIR, REPO_DIR } from "./helpers.ts";

const VALUES = [
  // wire vocabulary
  "ErrorCode", "METHODS", "DEFAULT_MAX_MESSAGE_BYTES",
  // plugin side
  "serve", "manifestOf", "PROTOCOL_VERSION", "BRIDGE_CAPABILITIES",
  "RuntimeUnavailableError", "RuntimeCallError", "FORWARDED_RUNTIME_METHODS", "LOCAL_RUNTIME_METHODS",
  // host side
  "InteropError", "PluginLoadError", "PluginCallError", "PluginTimeoutError", "PluginCrashError", "PluginProtocolError", "InvalidPayloadError",
  "loadIpcPlugin", "loadPythonPlugin", "loadTsPlugin", "loadWasmPlugin", "currentRuntime", "BRIDGE_SERVER_PATH",
  "DEFAULT_START_TIMEOUT_MS", "DEFAULT_CALL_TIMEOUT_MS", "DEFAULT_CLOSE_GRACE_MS", "STDERR_TAIL_BYTES",
  "LoadedPlugin", "LinePipe", "InMemoryRuntime", "answerRuntimeCall", "runtimeContext",
].sort();

const TYPES = [
  "JsonValue", "JsonObject", "Content", "Memory", "State", "Options", "Config", "ActionResult", "ProviderResult", "EvaluatorResult",
  "ActionDescriptor", "ProviderDescriptor", "EvaluatorDescriptor", "Manifest", "BridgeRuntime", "Awaitable", "Action", "Provider", "Evaluator", "Plugin",
  "Method", "ErrorObject",
  "ServeOptions", "ServeEnd", "BridgeInput", "BridgeOutput", "PluginOrigin", "HandlerCallback", "RuntimeProxy", "RuntimeLogger", "ForwardedRuntimeMethod",
  "Transport", "ErrorContext", "IpcLoadOptions", "PythonLoadOptions", "TsLoadOptions", "TsRuntime", "WasmOptions", "IpcOptions", "LinePipeOptions", "ExitInfo",
  "CallOptions", "LoadedAction", "LoadedProvider", "LoadedEvaluator", "AnyRuntime", "World", "RuntimeCall", "ProviderSource", "RuntimeAnswer",
].sort();

/** The names src/index.ts exports, read from its syntax: values and type-only names apart, `export *` reported. */
function indexExports(): { values: string[]; types: string[]; star: string[] } {
  const file = join(PKG_DIR, "src/index.ts");
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const values: string[] = [];
  const types: string[] = [];
  const star: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isExportDeclaration(statement)) continue;
    const from = statement.moduleSpecifier?.getText(source) ?? "";
    const clause = statement.exportClause;
    if (clause === undefined || !ts.isNamedExports(clause)) {
      star.push(from);
      continue;
    }
    for (const element of clause.elements) (statement.isTypeOnly || element.isTypeOnly ? types : values).push(element.name.text);
  }
  return { values: values.sort(), types: types.sort(), star };
}

/** Names imported from "@elizaos/interop" in a text (TypeScript code or Markdown holding it). */
function importedNames(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+["']@elizaos\/interop["']/g)) {
    for (const part of (m[1] as string).split(",")) {
      const name = part.trim().replace(/^type\s+/, "").split(/\s+as\s+/)[0];
      if (name) names.push(name);
    }
  }
  return names;
}

describe("public API of @elizaos/interop", () => {
  it("src/index.ts lists every export by name (no export *)", () => {
    const { values, types, star } = indexExports();
    assert.deepEqual(star, [], "export * would make every helper of a module public");
    assert.deepEqual(values, VALUES);
    assert.deepEqual(types, TYPES);
  });

  it("the module's runtime exports are exactly the value names", () => {
    assert.deepEqual(Object.keys(api).sort(), VALUES);
  });

  it("the wire helpers and the bridge's runtime machinery stay internal", () => {
    const internal = [...Object.keys(protocol), ...Object.keys(runtimeProxy)].filter((n) => !VALUES.includes(n));
    for (const name of ["encodeJson", "checkJson", "parseRequest", "checkManifest", "checkActionResult", "isObject", "jsonTypeOf", "RuntimeChannel", "createRuntimeProxy"]) {
      assert.ok(internal.includes(name), `${name} is expected among the internal helpers`);
    }
    for (const name of internal) assert.equal(name in api, false, `${name} is exported`);
  });

  it("every name the READMEs, docs and examples import from @elizaos/interop is exported", () => {
    const files = [
      join(REPO_DIR, "README.md"),
      join(PKG_DIR, "README.md"),
      ...readdirSync(join(REPO_DIR, "docs")).filter((f) => f.endsWith(".md")).map((f) => join(REPO_DIR, "docs", f)),
      ...readdirSync(join(PKG_DIR, "examples")).filter((f) => f.endsWith(".ts")).map((f) => join(PKG_DIR, "examples", f)),
    ];
    const exported = new Set([...VALUES, ...TYPES]);
    let seen = 0;
    for (const file of files) {
      for (const name of importedNames(readFileSync(file, "utf8"))) {
        seen++;
        assert.ok(exported.has(name), `${file} imports ${name}, which @elizaos/interop does not export`);
      }
    }
    assert.ok(seen >= 5, `only ${seen} imported names found: the pattern no longer matches the docs`);
  });

  it("the import scanner reads named, type-only and renamed imports", () => {
    const text = 'import { loadWasmPlugin, type Memory as M } from "@elizaos/interop";\nimport type { Plugin } from \'@elizaos/interop\';\nimport { x } from "other";';
    assert.deepEqual(importedNames(text), ["loadWasmPlugin", "Memory", "Plugin"]);
  });
});
