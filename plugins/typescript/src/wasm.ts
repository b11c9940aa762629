/**
 * WASM plugins (protocol.md section 5): a core module with no imports, instantiated with plain
 * `WebAssembly.instantiate(bytes, {})`. Arguments are written straight into linear memory with
 * TextEncoder.encodeInto; results come back as a length-prefixed JSON envelope that the host frees.
 */
import { readFile } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import { InvalidPayloadError, PluginCallError, PluginCrashError, PluginLoadError, PluginProtocolError } from "./errors.ts";
import { utf8Text } from "./lines.ts";
import { callContext, LoadedPlugin, type CallOptions, type PluginConnection } from "./loaded-plugin.ts";
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  EncodeError,
  ErrorCode,
  InvalidResult,
  checkJsonLong,
  checkManifest,
  loneSurrogateIn,
  errorObjectProblem,
  isObject,
  stringifyJson,
  utf8Length,
  type Method,
} from "./protocol.ts";
import type { JsonValue } from "./types.ts";

/** Options of loadWasmPlugin. */
export interface WasmOptions {
  /** Largest argument or result, in bytes (default 16 MiB). */
  maxMessageBytes?: number;
}

interface Exports {
  memory: WebAssembly.Memory;
  alloc(len: number): number;
  dealloc(ptr: number, len: number): void;
  get_manifest(): number;
  init(p: number, n: number): number;
  wasm_validate_action(...args: number[]): number;
  wasm_invoke_action(...args: number[]): number;
  wasm_get_provider(...args: number[]): number;
  wasm_validate_evaluator(...args: number[]): number;
  wasm_invoke_evaluator(...args: number[]): number;
  elizaos_last_error?: () => number;
}

const REQUIRED_EXPORTS = [
  "memory",
  "alloc",
  "dealloc",
  "get_manifest",
  "init",
  "wasm_validate_action",
  "wasm_invoke_action",
  "wasm_get_provider",
  "wasm_validate_evaluator",
  "wasm_invoke_evaluator",
] as const;

const STATUS_CODES: Record<number, number> = {
  [-1]: ErrorCode.UnknownName,
  [-2]: ErrorCode.InvalidParams,
  [-3]: ErrorCode.HandlerFailed,
  [-4]: ErrorCode.InternalError,
};

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A trap inside the module; the instance is thrown away. */
class Trap extends Error {}

/** The WASM transport: one instance of a compiled module, re-instantiated after a trap. */
export class WasmConnection implements PluginConnection {
  readonly transport = "wasm" as const;
  /** Runtime objects are accepted and not sent (protocol.md 11.6). */
  readonly answersRuntimeCalls = false;
  label: string;
  private readonly module: WebAssembly.Module;
  private readonly maxBytes: number;
  private ex!: Exports;
  private u8: Uint8Array | undefined;
  private broken = false;
  private closed = false;
  /** JSON text of the last successful init config, replayed after a re-instantiation. */
  private lastConfig: string | null = null;

  private constructor(module: WebAssembly.Module, instance: WebAssembly.Instance, label: string, maxBytes: number) {
    this.module = module;
    this.label = label;
    this.maxBytes = maxBytes;
    this.adopt(instance);
  }

  /** Compiles and instantiates a module, checking its imports and exports. */
  static async create(bytes: Uint8Array, label: string, options: WasmOptions = {}): Promise<WasmConnection> {
    const ctx = { plugin: label, method: "load", transport: "wasm" as const };
    let module: WebAssembly.Module;
    try {
      module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    } catch (err) {
      throw new PluginLoadError(ctx, `is not a valid WebAssembly module: ${(err as Error).message}`, { cause: err });
    }
    const imports = WebAssembly.Module.imports(module);
    if (imports.length > 0) {
      const list = imports.map((i) => `${i.module}.${i.name}`).join(", ");
      throw new PluginLoadError(ctx, `module has imports (${list}); the ABI requires a module without imports (build for wasm32-unknown-unknown without wasm-bindgen)`);
    }
    const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
    const missing = REQUIRED_EXPORTS.filter((n) => !names.has(n));
    if (missing.length > 0) throw new PluginLoadError(ctx, `module does not export ${missing.join(", ")} (protocol.md 5.1)`);
    let instance: WebAssembly.Instance;
    try {
      instance = await WebAssembly.instantiate(module, {});
    } catch (err) {
      throw new PluginLoadError(ctx, `cannot instantiate the module: ${(err as Error).message}`, { cause: err });
    }
    return new WasmConnection(module, instance, label, options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  }

  private adopt(instance: WebAssembly.Instance): void {
    this.ex = instance.exports as unknown as Exports;
    this.u8 = undefined;
    this.broken = false;
  }

  /**
   * The bytes of linear memory, re-read from memory.buffer when a grow has detached the old buffer.
   * A detached view has length 0, which is cheaper to test than calling the memory.buffer getter.
   */
  private bytes(): Uint8Array {
    const u = this.u8;
    if (u !== undefined && u.length !== 0) return u;
    const fresh = new Uint8Array(this.ex.memory.buffer);
    this.u8 = fresh;
    return fresh;
  }

  /** Reads the little-endian u32 length of a result buffer. */
  private lengthAt(u: Uint8Array, p: number): number {
    return ((u[p] as number) | ((u[p + 1] as number) << 8) | ((u[p + 2] as number) << 16) | ((u[p + 3] as number) << 24)) >>> 0;
  }

  /** A fresh instance after a trap, with the last init config replayed. */
  private revive(method: string, member: string | undefined): void {
    try {
      this.adopt(new WebAssembly.Instance(this.module, {}));
      if (this.lastConfig !== null) {
        const n = utf8Length(this.lastConfig);
        const status = this.ex.init(this.put(this.lastConfig, n), n);
        if (status !== 0) throw new Error(`replaying init returned status ${status}`);
      }
    } catch (err) {
      this.broken = true;
      throw new PluginCrashError(callContext(this.label, method, member, "wasm"), `could not re-instantiate the module after a trap: ${(err as Error).message}`);
    }
  }

  /** Allocates `len` bytes and writes one argument there; returns its pointer (the callee frees it). */
  private put(text: string, len: number): number {
    const p = this.ex.alloc(len);
    if (p === 0) throw new Trap("alloc returned 0 (out of memory)");
    const u = this.bytes();
    if (len === text.length && len <= 32) {
      // Short ASCII (names, "{}"): a byte loop beats creating a view for encodeInto.
      for (let i = 0; i < len; i++) u[p + i] = text.charCodeAt(i);
    } else if (len > 0) {
      encoder.encodeInto(text, u.subarray(p, p + len));
    }
    return p;
  }

  private encodeArg(value: unknown, path: string, method: string, member: string | undefined): string {
    if (isEmptyPlainObject(value)) return "{}";
    let long: boolean;
    try {
      long = checkJsonLong(value, path);
    } catch (err) {
      if (err instanceof EncodeError) throw new InvalidPayloadError(callContext(this.label, method, member, "wasm"), err.path, err.message);
      throw err;
    }
    const text = value === undefined ? "null" : stringifyJson(value, long);
    if (text.length > this.maxBytes / 3 && utf8Length(text) > this.maxBytes) {
      throw new InvalidPayloadError(callContext(this.label, method, member, "wasm"), path, `argument of ${utf8Length(text)} bytes exceeds limit ${this.maxBytes}`);
    }
    return text;
  }

  /** Reads, frees and parses a result buffer. */
  private take(p: number, method: string, member: string | undefined): unknown {
    const ctx = (): ReturnType<typeof callContext> => callContext(this.label, method, member, "wasm");
    if (p === 0) throw new PluginCallError(ctx(), ErrorCode.InternalError, "the plugin could not allocate its result (null result pointer)");
    const u = this.bytes();
    if (p + 4 > u.length) throw new PluginProtocolError(ctx(), `result pointer ${p} is outside linear memory`);
    const n = this.lengthAt(u, p);
    if (p + 4 + n > u.length) throw new PluginProtocolError(ctx(), `result of ${n} bytes at ${p} runs past the end of linear memory`);
    let text: string;
    try {
      text = utf8Text(u.subarray(p + 4, p + 4 + n));
    } catch {
      this.ex.dealloc(p, 4 + n);
      throw new PluginProtocolError(ctx(), "result buffer is not valid UTF-8");
    }
    this.ex.dealloc(p, 4 + n);
    if (n > this.maxBytes) throw new PluginProtocolError(ctx(), `message of at least ${n} bytes exceeds limit ${this.maxBytes}`, text.slice(0, 200));
    let env: unknown;
    try {
      env = JSON.parse(text);
    } catch {
      throw new PluginProtocolError(ctx(), "result buffer is not JSON", text.slice(0, 200));
    }
    const surrogate = loneSurrogateIn(text, env);
    if (surrogate !== null) throw new PluginProtocolError(ctx(), `result buffer is not I-JSON: ${surrogate}`, text.slice(0, 200));
    return this.openEnvelope(env, text, ctx);
  }

  private openEnvelope(env: unknown, text: string, ctx: () => ReturnType<typeof callContext>): unknown {
    if (isObject(env)) {
      const only = soleKey(env);
      if (only === "result") return env["result"];
      if (only === "error") {
        const problem = errorObjectProblem(env["error"]);
        if (problem === null) {
          const e = env["error"] as { code: number; message: string; data?: JsonValue };
          throw new PluginCallError(ctx(), e.code, e.message, e.data);
        }
        throw new PluginProtocolError(ctx(), `invalid envelope: ${problem}`, text.slice(0, 200));
      }
    }
    throw new PluginProtocolError(ctx(), "invalid envelope: expected {\"result\": ...} or {\"error\": {...}}", text.slice(0, 200));
  }

  /** The error of the last failed status or panic, from elizaos_last_error, if the module exports it. */
  private lastError(): { code?: number; message: string; data?: JsonValue } | null {
    const f = this.ex.elizaos_last_error;
    if (f === undefined) return null;
    try {
      const p = f();
      if (p === 0) return null;
      const u = this.bytes();
      const n = this.lengthAt(u, p);
      const text = decoder.decode(u.subarray(p + 4, p + 4 + n));
      this.ex.dealloc(p, 4 + n);
      const env: unknown = JSON.parse(text);
      if (isObject(env) && isObject(env["error"])) {
        const e = env["error"];
        const out: { code?: number; message: string; data?: JsonValue } = { message: typeof e["message"] === "string" ? e["message"] : text };
        if (typeof e["code"] === "number") out.code = e["code"];
        if (e["data"] !== undefined) out.data = e["data"] as JsonValue;
        return out;
      }
      return { message: text };
    } catch {
      return null;
    }
  }

  private statusResult(status: number, method: string, member: string | undefined): unknown {
    if (status === 1) return method === "init" ? {} : true;
    if (status === 0) return method === "init" ? {} : false;
    const ctx = callContext(this.label, method, member, "wasm");
    const mapped = STATUS_CODES[status];
    if (mapped === undefined) throw new PluginProtocolError(ctx, `unknown status ${status} (protocol.md 5.3)`);
    const last = this.lastError();
    const code = last?.code !== undefined && (mapped !== ErrorCode.InvalidParams || last.code === ErrorCode.ParseError) ? last.code : mapped;
    const message = last?.message ?? `status ${status}`;
    const data = last?.data ?? (status === -1 && member !== undefined ? { kind: kindOf(method), name: member } : undefined);
    throw new PluginCallError(ctx, code, message, data);
  }

  request(method: Exclude<Method, "shutdown">, params: Record<string, unknown>, member: string | undefined, _options?: CallOptions, _runtime?: object): Promise<unknown> {
    // Time-outs do not apply: a WASM call runs to completion on this thread.
    try {
      return Promise.resolve(this.callSync(method, params, member));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** One synchronous call through the ABI. Throws typed errors. */
  callSync(method: Exclude<Method, "shutdown">, params: Record<string, unknown>, member: string | undefined): unknown {
    if (this.closed) throw new PluginCrashError(callContext(this.label, method, member, "wasm"), "plugin is closed");
    if (this.broken) this.revive(method, member);
    if (method === "getManifest") return this.guard(method, member, () => this.take(this.ex.get_manifest(), method, member));
    if (method === "init") {
      const cfg = this.encodeArg(params["config"], "$.config", method, member);
      return this.guard(method, member, () => {
        const n = utf8Length(cfg);
        const out = this.statusResult(this.ex.init(this.put(cfg, n), n), method, member);
        this.lastConfig = cfg;
        return out;
      });
    }
    // Encode everything before touching the instance, so a refused payload leaves it untouched.
    const name = params["name"];
    if (typeof name !== "string") {
      throw new InvalidPayloadError(callContext(this.label, method, member, "wasm"), "$.name", `name must be a string, received ${typeof name}`);
    }
    if (!name.isWellFormed()) throw new InvalidPayloadError(callContext(this.label, method, member, "wasm"), "$.name", "string contains a lone surrogate at $.name");
    const a1 = this.encodeArg(params["memory"], "$.memory", method, member);
    const a2 = this.encodeArg(params["state"] ?? {}, "$.state", method, member);
    const a3 = method === "invokeAction" ? this.encodeArg(params["options"] ?? {}, "$.options", method, member) : "";
    const n0 = utf8Length(name);
    const n1 = utf8Length(a1);
    const n2 = utf8Length(a2);
    const ex = this.ex;
    try {
      const p0 = this.put(name, n0);
      const p1 = this.put(a1, n1);
      const p2 = this.put(a2, n2);
      switch (method) {
        case "invokeAction": {
          const n3 = utf8Length(a3);
          return this.take(ex.wasm_invoke_action(p0, n0, p1, n1, p2, n2, this.put(a3, n3), n3), method, member);
        }
        case "validateAction":
          return this.statusResult(ex.wasm_validate_action(p0, n0, p1, n1, p2, n2), method, member);
        case "validateEvaluator":
          return this.statusResult(ex.wasm_validate_evaluator(p0, n0, p1, n1, p2, n2), method, member);
        case "getProvider":
          return this.take(ex.wasm_get_provider(p0, n0, p1, n1, p2, n2), method, member);
        case "invokeEvaluator":
          return this.take(ex.wasm_invoke_evaluator(p0, n0, p1, n1, p2, n2), method, member);
        default:
          throw new PluginCallError(callContext(this.label, method, member, "wasm"), ErrorCode.MethodNotFound, `method not found: ${JSON.stringify(method)}`);
      }
    } catch (err) {
      throw this.trapped(err, method, member);
    }
  }

  /** Runs the rarely used calls (getManifest, init) with the same trap handling as the hot path. */
  private guard(method: string, member: string | undefined, run: () => unknown): unknown {
    try {
      return run();
    } catch (err) {
      throw this.trapped(err, method, member);
    }
  }

  /**
   * Maps an error thrown while the instance ran: a trap (or an allocation failure) marks the
   * instance broken and becomes a -32000 PluginCallError; anything else passes through.
   */
  private trapped(err: unknown, method: string, member: string | undefined): unknown {
    if (err instanceof WebAssembly.RuntimeError || err instanceof Trap || err instanceof RangeError) {
      // The instance's heap may be inconsistent: read the panic message, then throw it away.
      const last = this.lastErrorAfterTrap();
      this.broken = true;
      return new PluginCallError(callContext(this.label, method, member, "wasm"), ErrorCode.HandlerFailed, last ?? `trap: ${(err as Error).message}`, {
        ...(member === undefined ? {} : { kind: kindOf(method), name: member }),
        exception: "trap",
      });
    }
    return err;
  }

  private lastErrorAfterTrap(): string | null {
    try {
      return this.lastError()?.message ?? null;
    } catch {
      return null;
    }
  }

  noop(): void {
    this.ex.dealloc(1, 0);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** The only own member name of a parsed object, or undefined when it has none or several. */
function soleKey(obj: Record<string, unknown>): string | undefined {
  let only: string | undefined;
  for (const key in obj) {
    if (only !== undefined) return undefined;
    only = key;
  }
  return only;
}

/** True for `{}` (the usual state and options), which needs neither a walk nor JSON.stringify. */
function isEmptyPlainObject(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const _ in value) return false;
  return true;
}

function kindOf(method: string): string {
  if (method.endsWith("Action")) return "action";
  if (method.endsWith("Evaluator")) return "evaluator";
  return "provider";
}

/** Loads a WASM plugin (protocol.md section 5) from a `.wasm` file or its bytes. */
export async function loadWasmPlugin(source: string | Uint8Array, options: WasmOptions = {}): Promise<LoadedPlugin> {
  const label = typeof source === "string" ? source : "<wasm bytes>";
  let bytes: Uint8Array;
  if (typeof source === "string") {
    try {
      bytes = await readFile(resolvePath(source));
    } catch (err) {
      throw new PluginLoadError({ plugin: label, method: "load", transport: "wasm" }, `cannot read the module: ${(err as Error).message}`, { cause: err });
    }
  } else bytes = source;
  const conn = await WasmConnection.create(bytes, label, options);
  let raw: unknown;
  try {
    raw = await conn.request("getManifest", {}, undefined);
  } catch (err) {
    throw new PluginLoadError({ plugin: label, method: "getManifest", transport: "wasm" }, `failed: ${(err as Error).message}`, { cause: err });
  }
  try {
    return new LoadedPlugin(checkManifest(raw), conn);
  } catch (err) {
    if (err instanceof InvalidResult) throw new PluginLoadError({ plugin: label, method: "getManifest", transport: "wasm" }, `returned an invalid manifest: ${err.message}`);
    throw err;
  }
}
