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

type LoadResult = { format?: string | null | undefined; source?: string | ArrayBuffer | ArrayBufferView | null | undefined; shortCircuit?: boolean };
type RegisterHooks = (hooks: { load(url: string, context: { format?: string | null | undefined }, nextLoad: (url: string, context?: object) => LoadResult): LoadResult }) => unknown;

/**
 * Node only: files of the user's own code (outside node_modules) that Node would load as CommonJS
 * because their package says `"type": "commonjs"` (what `npm init -y` writes), but that are written
 * with `import`/`export`, are loaded as ES modules (TypeScript: `module-typescript`). Bun loads
 * such files as they are and needs no hook.
 */
export function forceEsmForCommonJsSources(): void {
  if (process.versions["bun"] !== undefined) return;
  const registerHooks = (nodeModule as unknown as { registerHooks?: RegisterHooks }).registerHooks;
  if (typeof registerHooks !== "function") return; // Node < 22.15: such a package needs "type": "module"
  const nodeModules = `${sep}node_modules${sep}`;
  registerHooks({
    load(url, context, nextLoad) {
      const result = nextLoad(url, context);
      const format = result.format;
      if ((format !== "commonjs" && format !== "commonjs-typescript") || !url.startsWith("file:")) return result;
      const file = fileURLToPath(url);
      if (file.includes(nodeModules)) return result;
      const source = result.source == null ? readFileSync(file, "utf8") : typeof result.source === "string" ? result.source : Buffer.from(result.source as Uint8Array).toString("utf8");
      if (!ESM_SYNTAX.test(source)) return result;
      return { format: format === "commonjs" ? "module" : "module-typescript", source, shortCircuit: true };
    },
  });
}
