/**
 * Finding and importing a plugin's entry module for the bridge server: a file, a package directory,
 * or a package name resolved from the working directory, whatever the package's "type"; and the
 * name/version the manifest takes from the package when the plugin object has none.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import * as nodeModule from "node:module";
import type { PluginOrigin } from "./bridge.ts";

/** A resolved entry point. */
export interface PluginEntry {
  /** Absolute path of the module to import. */
  file: string;
  /** Name (when the entry was a package) and version (nearest package.json) for the manifest. */
  origin: PluginOrigin;
}

type PackageJson = Record<string, unknown>;

function readPackageJson(path: string): PackageJson | null {
  try {
    const value: unknown = JSON.parse(readFileSync(path, "utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as PackageJson) : null;
  } catch {
    return null;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Export conditions the bridge's runtime honours, in the package's own order of preference. */
const CONDITIONS = new Set(["import", "node", "default", ...(process.versions["bun"] === undefined ? [] : ["bun"])]);

/** Resolves an `exports` target (string, condition object, or array of fallbacks) to a relative path. */
function exportTarget(target: unknown): string | null {
  if (typeof target === "string") return target;
  if (Array.isArray(target)) {
    for (const t of target as unknown[]) {
      const found = exportTarget(t);
      if (found !== null) return found;
    }
    return null;
  }
  if (typeof target === "object" && target !== null) {
    for (const [key, value] of Object.entries(target as Record<string, unknown>)) {
      if (key === "." || CONDITIONS.has(key)) {
        const found = exportTarget(value);
        if (found !== null) return found;
      }
    }
  }
  return null;
}

/** The main module of a package directory: `exports["."]`, else `module`/`main`, else an `index` file. */
function packageMain(dir: string, pkg: PackageJson | null): string {
  const candidates: string[] = [];
  if (pkg !== null) {
    const exp = pkg["exports"];
    if (exp !== undefined) {
      const dot = typeof exp === "object" && exp !== null && !Array.isArray(exp) && "." in exp ? (exp as Record<string, unknown>)["."] : exp;
      const target = exportTarget(dot);
      if (target !== null) candidates.push(target);
    }
    for (const key of ["module", "main"]) if (typeof pkg[key] === "string") candidates.push(pkg[key]);
  }
  candidates.push("index.ts", "index.mts", "index.js", "index.mjs", "src/index.ts");
  for (const c of candidates) {
    for (const path of [resolve(dir, c), resolve(dir, `${c}.js`), resolve(dir, c, "index.js")]) if (isFile(path)) return path;
  }
  throw new Error(`package ${dir} has no entry module (tried ${candidates.join(", ")})`);
}

/** The `version` of the nearest package.json above `file` (the first package.json found). */
export function nearestPackageVersion(file: string): string | undefined {
  let dir = dirname(file);
  for (;;) {
    const path = join(dir, "package.json");
    if (existsSync(path)) {
      const version = readPackageJson(path)?.["version"];
      return typeof version === "string" ? version : undefined;
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

const PACKAGE_NAME_RE = /^(?:@[^/\s]+\/)?[^/.\s][^/\s]*$/;

function fromPackageDir(dir: string): PluginEntry {
  const pkg = readPackageJson(join(dir, "package.json"));
  const file = packageMain(dir, pkg);
  const origin: PluginOrigin = {};
  if (typeof pkg?.["name"] === "string") origin.packageName = pkg["name"];
  const version = nearestPackageVersion(file);
  if (version !== undefined) origin.packageVersion = version;
  return { file, origin };
}

/**
 * Resolves what the bridge was given: an existing file, a package directory, or a package name
 * found in a `node_modules` from `cwd` upwards. Throws a message naming what was tried.
 */
export function resolveEntry(spec: string, cwd: string): PluginEntry {
  const path = resolve(cwd, spec);
  if (isFile(path)) {
    const version = nearestPackageVersion(path);
    return { file: path, origin: version === undefined ? {} : { packageVersion: version } };
  }
  if (existsSync(path)) return fromPackageDir(path);
  if (PACKAGE_NAME_RE.test(spec)) {
    let dir = cwd;
    for (;;) {
      const candidate = join(dir, "node_modules", ...spec.split("/"));
      if (existsSync(join(candidate, "package.json"))) return fromPackageDir(candidate);
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
    throw new Error(`plugin module not found: ${path}, and no package ${JSON.stringify(spec)} in a node_modules from ${cwd} upwards`);
  }
  throw new Error(`plugin module not found: ${path}`);
}

/** `import`/`export` statements at the start of a line: the source is an ES module. */
const ESM_SYNTAX = /^[ \t]*(?:import[ \t]*[\w*{"'$]|export[ \t]+(?:\{|\*|default|const|let|var|function|async|class|type|interface|enum|declare|abstract))/m;

/** `import Default, { a, b as c } from "x";` (not `import type`, not `import * as ns`). */
const IMPORT_DECL = /^([ \t]*)import[ \t]+(?!type[ \t{])((?:[\w$]+[ \t]*,?[ \t]*)?(?:\{[^}]*\})?)[ \t]*from[ \t]*(["'][^"'\n]+["'])[ \t]*;?/gm;
/** Any import declaration, to leave them out when looking for value uses of a binding. */
const ANY_IMPORT = /^[ \t]*import\b[^;'"]*?(?:from[ \t]*)?["'][^"'\n]+["'][ \t]*;?/gm;

type StripTypes = (code: string, options?: { mode?: "strip" | "transform" }) => string;

/**
 * TypeScript's import elision, for sources Node runs by stripping types (which keeps every import):
 * a binding that the code never uses as a value is removed from its import, and an import left
 * with no bindings goes away, as `tsc` and Bun do. So `import { Plugin, Action } from "@elizaos/core"`
 * used only in type positions, as the seed's example plugin is written, loads on Node, with or
 * without @elizaos/core installed. A binding named anywhere in the code (even in a string or a
 * comment) is kept, so a value import is never dropped.
 */
export function elideTypeOnlyImports(source: string, stripTypes: StripTypes): string {
  if (!IMPORT_DECL.test(source)) return source;
  IMPORT_DECL.lastIndex = 0;
  let code: string;
  try {
    code = stripTypes(source, { mode: "strip" }).replace(ANY_IMPORT, "");
  } catch {
    return source; // not valid TypeScript: let Node report it
  }
  const used = (name: string): boolean => new RegExp(`(?<![\\w$])${name.replace(/\$/g, "\\$")}(?![\\w$])`).test(code);
  return source.replace(IMPORT_DECL, (decl: string, indent: string, clause: string, from: string) => {
    const brace = clause.indexOf("{");
    const defaultName = (brace === -1 ? clause : clause.slice(0, brace)).replace(/[\s,]/g, "");
    const named = brace === -1 ? [] : clause.slice(brace + 1, clause.lastIndexOf("}")).split(",").map((s) => s.trim()).filter((s) => s.length > 0);
    const keptNamed = named.filter((spec) => {
      if (/^type\s/.test(spec)) return false;
      const local = spec.split(/\s+as\s+/).pop() as string;
      return used(local);
    });
    const keepDefault = defaultName.length > 0 && used(defaultName);
    if (keepDefault === (defaultName.length > 0) && keptNamed.length === named.length) return decl;
    const newlines = "\n".repeat(decl.split("\n").length - 1);
    if (!keepDefault && keptNamed.length === 0) return newlines;
    const parts = [...(keepDefault ? [defaultName] : []), ...(keptNamed.length > 0 ? [`{ ${keptNamed.join(", ")} }`] : [])];
    return `${indent}import ${parts.join(", ")} from ${from};${newlines}`;
  });
}

type LoadResult = { format?: string | null | undefined; source?: string | ArrayBuffer | ArrayBufferView | null | undefined; shortCircuit?: boolean };
type RegisterHooks = (hooks: { load(url: string, context: { format?: string | null | undefined }, nextLoad: (url: string, context?: object) => LoadResult): LoadResult }) => unknown;

/** This package's sources: written for Node already, they are left alone. */
const OWN_DIR = dirname(fileURLToPath(import.meta.url)) + sep;

/**
 * Node only: makes the user's own code (outside node_modules) load as `tsc` and Bun would load it.
 * (1) Files that Node would load as CommonJS because their package says `"type": "commonjs"` (what
 * `npm init -y` writes), but that are written with `import`/`export`, are loaded as ES modules
 * (TypeScript: `module-typescript`). (2) In TypeScript sources, imports used only as types are
 * elided (elideTypeOnlyImports). Bun does both by itself and needs no hook.
 */
export function forceEsmForCommonJsSources(): void {
  if (process.versions["bun"] !== undefined) return;
  const mod = nodeModule as unknown as { registerHooks?: RegisterHooks; stripTypeScriptTypes?: StripTypes };
  const registerHooks = mod.registerHooks;
  if (typeof registerHooks !== "function") return; // Node < 22.15: such a package needs "type": "module"
  const strip = mod.stripTypeScriptTypes;
  // stripTypeScriptTypes warns that it is experimental; that warning is not the plugin's business
  const stripTypes: StripTypes | undefined =
    typeof strip !== "function"
      ? undefined
      : (code, options) => {
          const emitWarning = process.emitWarning;
          process.emitWarning = (() => undefined) as typeof process.emitWarning;
          try {
            return strip(code, options);
          } finally {
            process.emitWarning = emitWarning;
          }
        };
  const nodeModules = `${sep}node_modules${sep}`;
  registerHooks({
    load(url, context, nextLoad) {
      const result = nextLoad(url, context);
      const format = result.format;
      const typescript = format === "module-typescript" || format === "commonjs-typescript";
      if ((!typescript && format !== "commonjs") || !url.startsWith("file:")) return result;
      const file = fileURLToPath(url);
      // .cjs/.cts say CommonJS whatever they contain; dependencies and this package's src are left alone
      if (file.includes(nodeModules) || file.startsWith(OWN_DIR) || /\.c[jt]s$/.test(file)) return result;
      let source = result.source == null ? readFileSync(file, "utf8") : typeof result.source === "string" ? result.source : Buffer.from(result.source as Uint8Array).toString("utf8");
      if (format !== "module-typescript" && !ESM_SYNTAX.test(source)) return result;
      if (typescript && stripTypes !== undefined) source = elideTypeOnlyImports(source, stripTypes);
      return { format: typescript ? "module-typescript" : "module", source, shortCircuit: true };
    },
  });
}
