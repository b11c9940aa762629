/**
 * Loaders of protocol.md 7.1 for IPC plugins: any command, Python plugins (through
 * `python3 -m elizaos_interop.bridge_server`) and TypeScript plugins (through this package's
 * bridge-server.ts on Node or Bun).
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { delimiter, dirname, join, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { InteropError, PluginLoadError } from "./errors.ts";
import { IpcConnection, type IpcOptions } from "./ipc.ts";
import { LoadedPlugin } from "./loaded-plugin.ts";
import { InvalidResult, checkManifest } from "./protocol.ts";

/**
 * The host's half of the version and capability exchange (protocol.md section 12), sent as the
 * params of the first getManifest: this host answers runtime calls (section 11).
 */
export const HOST_EXCHANGE: Readonly<{ protocolVersion: number; capabilities: readonly string[] }> = Object.freeze({
  protocolVersion: 1,
  capabilities: Object.freeze(["runtime"]),
});

/** Default start time-out (ms): the first getManifest must be answered within it. */
export const DEFAULT_START_TIMEOUT_MS = 10_000;

/** Options of the IPC loaders. */
export interface IpcLoadOptions extends IpcOptions {
  /** Time-out of the first getManifest (default 10 s). */
  startTimeoutMs?: number;
  /** Name used in error messages until the manifest is known (default: the command or path). */
  label?: string;
}

/** JavaScript runtimes that can run the TypeScript bridge. */
export type TsRuntime = "node" | "bun";

/** Options of loadTsPlugin. */
export interface TsLoadOptions extends IpcLoadOptions {
  /** Runtime for the bridge (default "node"). */
  runtime?: TsRuntime;
  /** Runtime binary, used as given (default: found in the order of protocol.md 7.1, see {@link findTsRuntime}). */
  executable?: string;
  /** Bun binary serving a runtime "node" plugin when no Node >= 22.6 is found (default `$ELIZAOS_BUN`, beside the bridge, `bun` on PATH). */
  bun?: string;
  /** Bridge script (default `$ELIZAOS_TS_BRIDGE`, else this package's src/bridge-server.ts). */
  bridge?: string;
}

/** Options of loadPythonPlugin. */
export interface PythonLoadOptions extends IpcLoadOptions {
  /** Python interpreter with elizaos_interop importable (default `$ELIZAOS_PYTHON`, else `python3`). */
  python?: string;
  /** The module attribute holding the plugin (the bridge's `--attr`; default `plugin`, or the module's only plugin object). */
  attr?: string;
}

/** The JavaScript runtime executing this code. */
export function currentRuntime(): TsRuntime {
  return process.versions["bun"] !== undefined ? "bun" : "node";
}

function envValue(options: IpcLoadOptions, key: string): string | undefined {
  const v = options.env?.[key] ?? process.env[key];
  return v === undefined || v === "" ? undefined : v;
}

/** Spawns any IPC plugin command (no shell) and reads its manifest. */
export async function loadIpcPlugin(argv: readonly string[], options: IpcLoadOptions = {}): Promise<LoadedPlugin> {
  const label = options.label ?? argv.join(" ");
  if (argv.length === 0 || argv[0] === "") {
    throw new PluginLoadError({ plugin: "<empty command>", method: "load", transport: "ipc" }, "needs a non-empty argv");
  }
  const conn = new IpcConnection(argv, label, options);
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  let raw: unknown;
  try {
    raw = await conn.request("getManifest", HOST_EXCHANGE, undefined, { timeoutMs });
  } catch (err) {
    await conn.close();
    let detail = err instanceof InteropError ? err.detail : (err as Error).message;
    if (detail.includes("ERR_UNKNOWN_FILE_EXTENSION")) detail += `\n(hint: ${argv[0]} cannot run TypeScript: TypeScript plugins need Node >= 22.6 or Bun; set ELIZAOS_NODE or install node@22)`;
    if (detail.includes("No module named 'elizaos_interop'")) detail += `\n(hint: ${argv[0]} has no elizaos_interop: pip install elizaos-interop into it, or set ELIZAOS_PYTHON to a Python that has it)`;
    if (detail.includes("ENOENT")) detail += ` (hint: is ${JSON.stringify(argv[0])} installed? set ELIZAOS_PYTHON / ELIZAOS_NODE / ELIZAOS_BUN or pass the executable)`;
    throw new PluginLoadError({ plugin: label, method: "getManifest", transport: "ipc" }, `failed while starting the plugin: ${detail}`, { cause: err });
  }
  try {
    const loaded = new LoadedPlugin(checkManifest(raw), conn);
    // A seed-dialect plugin (no protocolVersion) gets no shutdown, whatever it lists (section 12).
    conn.sendsShutdown = loaded.protocolVersion >= 1 && loaded.capabilities.includes("shutdown");
    return loaded;
  } catch (err) {
    await conn.close();
    if (err instanceof InvalidResult) throw new PluginLoadError({ plugin: label, method: "getManifest", transport: "ipc" }, `returned an invalid manifest: ${err.message}`);
    throw err;
  }
}

/** Loads a Python plugin (file, package directory or module name) through `python -m elizaos_interop.bridge_server`. */
export async function loadPythonPlugin(path: string, options: PythonLoadOptions = {}): Promise<LoadedPlugin> {
  const python = options.python ?? envValue(options, "ELIZAOS_PYTHON") ?? "python3";
  const looksLikePath = path.includes("/") || path.endsWith(".py");
  if (looksLikePath && !existsSync(path)) {
    throw new PluginLoadError({ plugin: path, method: "load", transport: "ipc" }, `Python plugin not found: ${resolvePath(path)}`);
  }
  const target = looksLikePath ? resolvePath(path) : path;
  const attr = options.attr === undefined ? [] : ["--attr", options.attr];
  return loadIpcPlugin([python, "-m", "elizaos_interop.bridge_server", target, ...attr], { ...options, label: options.label ?? path });
}

/**
 * Path of the bridge server script shipped with this package: `src/bridge-server.ts` when this
 * module runs from source, `dist/bridge-server.js` when it runs from the built package (an npm
 * install: `node_modules/@elizaos/interop/dist/bridge-server.js`).
 */
export const BRIDGE_SERVER_PATH: string = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "./bridge-server.ts" : "./bridge-server.js", import.meta.url));

/** Oldest Node that runs `.ts` files by type stripping. */
const MIN_NODE: readonly [number, number] = [22, 6];

/**
 * The sentence every host gives when the Node that would run a TypeScript plugin is too old or
 * missing, or null when it is recent enough, is Bun, or cannot be asked. Runs `<executable> --version`, so it is
 * only called after a load has failed.
 */
export function nodeTooOldHint(executable: string): string | null {
  let version: string;
  try {
    version = execFileSync(executable, ["--version"], { encoding: "utf8", timeout: 5000, stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch (err) {
    return (err as { code?: unknown }).code === "ENOENT" ? nodeTooOldSentence("(none)", executable) : null;
  }
  const m = /^v(\d+)\.(\d+)\./.exec(version);
  if (m === null) return null; // Bun prints "1.x.y": it runs TypeScript
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])) return null;
  return nodeTooOldSentence(version, executable);
}

/** "TypeScript plugins need Node >= 22.6 or Bun; found node <version> at <path>; set ELIZAOS_NODE or install node@22". */
export function nodeTooOldSentence(version: string, path: string): string {
  return `TypeScript plugins need Node >= 22.6 or Bun; found node ${version} at ${path}; set ELIZAOS_NODE or install node@22`;
}

/** `node_modules/.bin/<name>` in the nearest directory above the bridge that has it. */
function besideBridge(name: TsRuntime, bridge: string): string | undefined {
  let dir = dirname(resolvePath(bridge));
  for (;;) {
    const local = join(dir, "node_modules", ".bin", name);
    if (existsSync(local)) return local;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The executable `name` on `PATH`, or undefined. */
function onPath(name: string, options: IpcLoadOptions): string | undefined {
  for (const dir of (envValue(options, "PATH") ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      if (statSync(candidate).isFile()) {
        accessSync(candidate, constants.X_OK);
        return candidate;
      }
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `<executable> --version` when it answers like Node ("v22.6.0"), else null. */
function nodeVersion(executable: string): { text: string; major: number; minor: number } | null {
  let text: string;
  try {
    text = execFileSync(executable, ["--version"], { encoding: "utf8", timeout: 5000, stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
  const m = /^v(\d+)\.(\d+)\./.exec(text);
  return m === null ? null : { text, major: Number(m[1]), minor: Number(m[2]) };
}

/**
 * The binary serving a TypeScript plugin and the runtime it is (protocol.md 7.1). Runtime "node":
 * the `executable` option, `$ELIZAOS_NODE`, `node_modules/.bin/node` beside the bridge, `node` on
 * PATH if it is >= 22.6, else Bun found as for runtime "bun", else the common sentence. Runtime
 * "bun": the option (`executable`, then `bun`), `$ELIZAOS_BUN`, beside the bridge, `bun` on PATH.
 * A chosen binary is used as given; only a `node` found on PATH is asked its version.
 */
export function findTsRuntime(runtime: TsRuntime, bridge: string, options: TsLoadOptions = {}): { executable: string; runtime: TsRuntime } {
  const label = options.label ?? "TypeScript plugin";
  const findBun = (): string | undefined => options.bun ?? envValue(options, "ELIZAOS_BUN") ?? besideBridge("bun", bridge) ?? onPath("bun", options);
  if (runtime === "bun") {
    const bun = options.executable ?? findBun();
    if (bun === undefined) {
      throw new PluginLoadError({ plugin: label, method: "load", transport: "ipc" }, `runtime "bun" needs Bun: no bun on PATH or in node_modules/.bin beside the TS bridge ${bridge}; set ELIZAOS_BUN or install bun`);
    }
    return { executable: bun, runtime: "bun" };
  }
  const chosen = options.executable ?? envValue(options, "ELIZAOS_NODE") ?? besideBridge("node", bridge);
  if (chosen !== undefined) return { executable: chosen, runtime: "node" };
  const node = onPath("node", options);
  const version = node === undefined ? null : nodeVersion(node);
  if (node !== undefined && version !== null && (version.major > MIN_NODE[0] || (version.major === MIN_NODE[0] && version.minor >= MIN_NODE[1]))) {
    return { executable: node, runtime: "node" };
  }
  const bun = findBun();
  if (bun !== undefined) return { executable: bun, runtime: "bun" };
  throw new PluginLoadError({ plugin: label, method: "load", transport: "ipc" }, nodeTooOldSentence(version?.text ?? "(none)", node ?? "node"));
}

/** Loads a TypeScript plugin module through the bridge server on Node or Bun. */
export async function loadTsPlugin(path: string, options: TsLoadOptions = {}): Promise<LoadedPlugin> {
  const runtime = options.runtime ?? "node";
  if (runtime !== "node" && runtime !== "bun") {
    throw new PluginLoadError({ plugin: path, method: "load", transport: "ipc" }, `unknown runtime ${JSON.stringify(runtime)}, expected "node" or "bun"`);
  }
  if (!existsSync(path)) throw new PluginLoadError({ plugin: path, method: "load", transport: "ipc" }, `TypeScript plugin not found: ${resolvePath(path)}`);
  const bridge = options.bridge ?? envValue(options, "ELIZAOS_TS_BRIDGE") ?? BRIDGE_SERVER_PATH;
  const found = findTsRuntime(runtime, bridge, { ...options, label: options.label ?? path });
  const executable = found.executable;
  const argv = [executable, bridge, resolvePath(path)];
  if (options.maxMessageBytes !== undefined) argv.push("--max-message-bytes", String(options.maxMessageBytes));
  try {
    return await loadIpcPlugin(argv, { ...options, label: options.label ?? path });
  } catch (err) {
    const hint = found.runtime === "node" && err instanceof PluginLoadError ? nodeTooOldHint(executable) : null;
    if (hint === null) throw err;
    throw new PluginLoadError({ plugin: options.label ?? path, method: "load", transport: "ipc" }, `${hint} (${(err as PluginLoadError).detail})`, { cause: err });
  }
}
