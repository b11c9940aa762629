/**
 * Host driver (protocol.md section 8): lets the conformance testkit drive the TypeScript host over
 * newline-delimited JSON-RPC on stdin/stdout. It uses only the package's public API, exactly as user
 * code does, and times calls inside the host with process.hrtime.bigint().
 *
 * Run: `node driver/host-driver.ts` (Node >= 22.6) or `bun driver/host-driver.ts`.
 */
import {
  InMemoryRuntime,
  InteropError,
  LinePipe,
  LoadedPlugin,
  PluginCallError,
  currentRuntime,
  loadIpcPlugin,
  loadPythonPlugin,
  loadTsPlugin,
  loadWasmPlugin,
  type IpcLoadOptions,
  type World,
  type JsonValue,
  type Method,
} from "../src/index.ts";

/** True for a non-null, non-array object. */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** JSON type name of a value, as in `received` of -32602 data ("missing" when absent, "integer" for whole numbers). */
function jsonTypeOf(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** A JSON-RPC error answered to the testkit. */
class DriverError extends Error {
  readonly code: number;
  readonly data: JsonValue | undefined;
  constructor(code: number, message: string, data?: JsonValue) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

type Params = Record<string, unknown>;

const plugins = new Map<string, LoadedPlugin>();
/** The in-memory runtime built from a handle's `load.agentRuntime` World (protocol.md section 8). */
const runtimes = new Map<string, InMemoryRuntime>();
let nextHandle = 1;

function param<T>(params: Params, name: string, expected: string, check: (v: unknown) => v is T): T {
  const v = params[name];
  if (!check(v)) throw new DriverError(-32602, `invalid params: ${name} must be ${expected}, received ${jsonTypeOf(v)}`, { param: name, expected, received: jsonTypeOf(v) });
  return v;
}
function optional<T>(params: Params, name: string, expected: string, check: (v: unknown) => v is T): T | undefined {
  return params[name] === undefined ? undefined : param(params, name, expected, check);
}
const isString = (v: unknown): v is string => typeof v === "string";
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isPositive = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 0;
const isArgv = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === "string");
const isParams = (v: unknown): v is Params => isObject(v);
const isEnv = (v: unknown): v is Record<string, string> => isObject(v) && Object.values(v).every((s) => typeof s === "string");
const isWorld = (v: unknown): v is World => isObject(v);

/** An InMemoryRuntime from a World param; a World the schema refuses is -32602 naming the member. */
function buildRuntime(world: World, param: string): InMemoryRuntime {
  try {
    return new InMemoryRuntime(world);
  } catch (err) {
    throw new DriverError(-32602, `invalid params: ${param}: ${(err as Error).message}`, { param, expected: "World (runtime-world.schema.json)", received: "object" });
  }
}

/** The runtime a call on this handle passes: a fresh one from the call's own World, else the handle's, else none. */
function runtimeFor(params: Params): InMemoryRuntime | undefined {
  const world = optional(params, "agentRuntime", "a World object (runtime-world.schema.json)", isWorld);
  if (world === undefined) return runtimes.get(params["plugin"] as string);
  const runtime = buildRuntime(world, "agentRuntime");
  const p = plugins.get(params["plugin"] as string);
  if (p !== undefined) void runtime.registerPlugin(p);
  return runtime;
}

function plugin(params: Params): LoadedPlugin {
  const handle = param(params, "plugin", "a string", isString);
  const p = plugins.get(handle);
  if (p === undefined) throw new DriverError(-32602, `unknown plugin handle ${JSON.stringify(handle)}`, { param: "plugin", expected: "a loaded plugin handle", received: "string" });
  return p;
}

const CALLABLE = new Set(["getManifest", "init", "validateAction", "invokeAction", "getProvider", "validateEvaluator", "invokeEvaluator"]);
function method(params: Params): Exclude<Method, "shutdown"> {
  const m = param(params, "method", "a method of protocol.md 3.3 other than shutdown", isString);
  if (!CALLABLE.has(m)) throw new DriverError(-32602, `invalid params: method ${JSON.stringify(m)} cannot be called through the driver`, { param: "method", expected: "method", received: "string" });
  return m as Exclude<Method, "shutdown">;
}

async function load(params: Params): Promise<JsonValue> {
  const transport = param(params, "transport", '"ipc" or "wasm"', isString);
  const language = optional(params, "language", "a string", isString);
  const path = optional(params, "path", "a string", isString);
  const command = optional(params, "command", "a non-empty array of strings", isArgv);
  const runtime = optional(params, "runtime", '"node" or "bun"', (v): v is "node" | "bun" => v === "node" || v === "bun");
  const timeoutMs = optional(params, "timeoutMs", "a positive integer", isPositive);
  const env = optional(params, "env", "an object of strings", isEnv);
  const world = optional(params, "agentRuntime", "a World object (runtime-world.schema.json)", isWorld);
  const loadRuntime = world === undefined ? undefined : buildRuntime(world, "agentRuntime");
  const opts: IpcLoadOptions = {};
  if (timeoutMs !== undefined) {
    opts.timeoutMs = timeoutMs;
    opts.startTimeoutMs = timeoutMs;
  }
  if (env !== undefined) opts.env = { ...process.env, ...env };
  let loaded: LoadedPlugin;
  try {
    if (transport === "wasm") {
      if (path === undefined) throw new DriverError(-32602, "invalid params: wasm needs path", { param: "path", expected: "string", received: "missing" });
      loaded = await loadWasmPlugin(path);
    } else if (transport === "ipc") {
      if (command !== undefined) loaded = await loadIpcPlugin(command, opts);
      else if (path === undefined) throw new DriverError(-32602, "invalid params: ipc needs path or command", { param: "path", expected: "string", received: "missing" });
      else if (language === "python") loaded = await loadPythonPlugin(path, opts);
      else if (language === "typescript") loaded = await loadTsPlugin(path, runtime === undefined ? opts : { ...opts, runtime });
      else throw new DriverError(-32602, `invalid params: ipc with a path needs language "python" or "typescript", received ${JSON.stringify(language)}`, { param: "language", expected: "string", received: jsonTypeOf(language) });
    } else {
      throw new DriverError(-32602, `invalid params: transport ${JSON.stringify(transport)} is not offered by the TypeScript host (ipc, wasm)`, { param: "transport", expected: '"ipc" or "wasm"', received: "string" });
    }
  } catch (err) {
    if (err instanceof DriverError) throw err;
    throw new DriverError(-32000, err instanceof Error ? err.message : String(err), { type: err instanceof Error ? err.name : typeof err });
  }
  const handle = `p${nextHandle++}`;
  plugins.set(handle, loaded);
  if (loadRuntime !== undefined) {
    await loadRuntime.registerPlugin(loaded);
    runtimes.set(handle, loadRuntime);
  }
  return { plugin: handle, manifest: loaded.manifest as unknown as JsonValue };
}

async function call(params: Params): Promise<JsonValue> {
  const p = plugin(params);
  const m = method(params);
  const callParams = optional(params, "params", "an object", isParams) ?? {};
  const timeoutMs = optional(params, "timeoutMs", "a positive integer", isPositive);
  const runtime = runtimeFor(params);
  try {
    const value = await p.call(m, callParams, timeoutMs === undefined ? undefined : { timeoutMs }, runtime);
    return { ok: true, value };
  } catch (err) {
    if (err instanceof InteropError) {
      const error: Record<string, JsonValue> = { type: err.name, code: err instanceof PluginCallError ? err.code : null, message: err.message };
      // The plugin's error data (kind, name, param, exception, reason), when it sent any.
      if (err instanceof PluginCallError && err.data !== undefined) error["data"] = err.data;
      return { ok: false, error };
    }
    throw err;
  }
}

async function timeLoop(iterations: number, warmup: number, once: () => Promise<unknown> | unknown): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await once();
  const samples: number[] = new Array<number>(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    await once();
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  return samples;
}

async function bench(params: Params): Promise<JsonValue> {
  const p = plugin(params);
  const m = method(params);
  const callParams = optional(params, "params", "an object", isParams) ?? {};
  const iterations = param(params, "iterations", "a non-negative integer", isCount);
  const warmup = optional(params, "warmup", "a non-negative integer", isCount) ?? 0;
  const runtime = runtimeFor(params);
  try {
    return { samplesNs: await timeLoop(iterations, warmup, () => p.call(m, callParams, undefined, runtime)) };
  } catch (err) {
    throw new DriverError(-32000, `bench failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Synchronous loop: the in-process floor must not pay for a promise per sample. */
function benchNoop(params: Params): JsonValue {
  const p = plugin(params);
  const iterations = param(params, "iterations", "a non-negative integer", isCount);
  const warmup = optional(params, "warmup", "a non-negative integer", isCount) ?? 0;
  if (p.transport === "ipc") {
    throw new DriverError(-32602, "invalid params: benchNoop needs a wasm or ffi plugin, this one is ipc", { param: "plugin", expected: "wasm or ffi plugin", received: "ipc" });
  }
  for (let i = 0; i < warmup; i++) p.noop();
  const samples: number[] = new Array<number>(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    p.noop();
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  return { samplesNs: samples };
}

/** True for `{}`. */
function isEmptyObject(value: unknown): boolean {
  return isObject(value) && Object.keys(value).length === 0;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The JSON work this host does for one WASM call of `params` answered with `result`, timed alone
 * (the `json` part of the `noop+json` floor, protocol.md section 10): JSON.stringify every argument
 * but the name and write it as UTF-8 into a buffer (the host's encodeInto into guest memory), then
 * decode the answer's envelope `{"result": ...}` from UTF-8 and JSON.parse it. An empty-object
 * argument is not encoded: a host can pass the constant `{}`, so the floor holds only work no host
 * can avoid. Synchronous, like benchNoop.
 */
function benchJson(params: Params): JsonValue {
  const callParams = param(params, "params", "an object", isParams);
  if (!("result" in params)) throw new DriverError(-32602, "invalid params: result is required (the call's answer)", { param: "result", expected: "a JSON value", received: "missing" });
  const iterations = param(params, "iterations", "a non-negative integer", isCount);
  const warmup = optional(params, "warmup", "a non-negative integer", isCount) ?? 0;
  const args = Object.entries(callParams).filter(([key, value]) => key !== "name" && !isEmptyObject(value)).map(([, value]) => value);
  const envelope = utf8Encoder.encode(JSON.stringify({ result: params["result"] }));
  // Room for the longest argument (at most 3 UTF-8 bytes per UTF-16 unit), allocated once as the
  // host's guest buffer is.
  const longest = args.reduce<number>((n, a) => Math.max(n, JSON.stringify(a).length), 0);
  const scratch = new Uint8Array(longest * 3 + 16);
  let sink = 0;
  const samples: number[] = new Array<number>(iterations);
  for (let i = 0; i < warmup + iterations; i++) {
    const t0 = process.hrtime.bigint();
    for (const arg of args) sink += utf8Encoder.encodeInto(JSON.stringify(arg), scratch).written;
    const decoded: unknown = JSON.parse(utf8Decoder.decode(envelope));
    const elapsed = Number(process.hrtime.bigint() - t0);
    if (decoded === undefined) sink++;
    if (i >= warmup) samples[i - warmup] = elapsed;
  }
  if (sink < 0) throw new Error("unreachable");
  return { samplesNs: samples };
}

/**
 * Calls per second with `inFlight` calls outstanding: `inFlight` workers share `calls` calls of the
 * method (each issues its next call when its last one is answered), timed from the first call to the
 * last answer, after `warmup` untimed calls made the same way.
 */
async function benchThroughput(params: Params): Promise<JsonValue> {
  const p = plugin(params);
  const m = method(params);
  const callParams = optional(params, "params", "an object", isParams) ?? {};
  const inFlight = param(params, "inFlight", "a positive integer", isPositive);
  const calls = param(params, "calls", "a positive integer", isPositive);
  const warmup = optional(params, "warmup", "a non-negative integer", isCount) ?? 0;
  const runtime = runtimeFor(params);
  const run = async (total: number): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        next++;
        await p.call(m, callParams, undefined, runtime);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(inFlight, total)) }, worker));
  };
  try {
    if (warmup > 0) await run(warmup);
    const t0 = process.hrtime.bigint();
    await run(calls);
    return { elapsedNs: Number(process.hrtime.bigint() - t0), calls, inFlight };
  } catch (err) {
    throw new DriverError(-32000, `benchThroughput failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function benchPipe(params: Params): Promise<JsonValue> {
  const command = param(params, "command", "a non-empty array of strings", isArgv);
  const payload = param(params, "payload", "a string", isString);
  const iterations = param(params, "iterations", "a non-negative integer", isCount);
  const warmup = optional(params, "warmup", "a non-negative integer", isCount) ?? 0;
  if (payload.includes("\n")) throw new DriverError(-32602, "invalid params: payload must not contain a newline", { param: "payload", expected: "string without newline", received: "string" });
  const pipe = new LinePipe(command);
  try {
    await pipe.spawned;
    const samples = await timeLoop(iterations, warmup, () => pipe.roundTrip(payload));
    return { samplesNs: samples };
  } catch (err) {
    throw new DriverError(-32000, `benchPipe ${JSON.stringify(command)} failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    pipe.endInput();
    if (!(await pipe.waitExit(1000))) await pipe.destroy();
  }
}

async function unload(params: Params): Promise<JsonValue> {
  const handle = param(params, "plugin", "a string", isString);
  const p = plugin(params);
  plugins.delete(handle);
  runtimes.delete(handle);
  await p.close();
  return {};
}

function hello(): JsonValue {
  const runtime = currentRuntime() === "bun" ? `bun ${process.versions["bun"] ?? "?"}` : `node ${process.versions.node}`;
  return { language: "typescript", runtime, transports: ["ipc", "wasm"] };
}

async function dispatch(m: string, params: Params): Promise<JsonValue> {
  switch (m) {
    case "hello":
      return hello();
    case "load":
      return load(params);
    case "call":
      return call(params);
    case "bench":
      return bench(params);
    case "benchNoop":
      return benchNoop(params);
    case "benchPipe":
      return benchPipe(params);
    case "benchJson":
      return benchJson(params);
    case "benchThroughput":
      return benchThroughput(params);
    case "unload":
      return unload(params);
    default:
      throw new DriverError(-32601, `method not found: ${JSON.stringify(m)}`, { method: m });
  }
}

function reply(message: object): void {
  process.stdout.write(JSON.stringify(message) + "\n");
}

async function handle(line: string): Promise<void> {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch (err) {
    reply({ id: null, error: { code: -32700, message: `parse error: ${(err as Error).message}` } });
    return;
  }
  if (!isObject(msg) || (typeof msg["id"] !== "number" && typeof msg["id"] !== "string") || typeof msg["method"] !== "string") {
    const id = isObject(msg) && (typeof msg["id"] === "number" || typeof msg["id"] === "string") ? msg["id"] : null;
    reply({ id, error: { code: -32600, message: "invalid request: expected {id, method, params?}" } });
    return;
  }
  const id = msg["id"];
  const params = msg["params"] ?? {};
  if (!isObject(params)) {
    reply({ id, error: { code: -32600, message: `invalid request: params must be an object, received ${jsonTypeOf(params)}` } });
    return;
  }
  try {
    reply({ id, result: await dispatch(msg["method"], params) });
  } catch (err) {
    if (err instanceof DriverError) {
      reply({ id, error: err.data === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, data: err.data } });
    } else {
      reply({ id, error: { code: -32603, message: `driver internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` } });
    }
  }
}

// `call` requests run concurrently (pipelined calls reach the plugin pipelined, as user code would
// send them); every other request waits for all earlier requests, calls included, so loads are
// done before the calls that use them and a benchmark never shares the host with another call.
let barrier: Promise<void> = Promise.resolve();
const calls = new Set<Promise<void>>();
function isCallLine(line: string): boolean {
  try {
    const msg: unknown = JSON.parse(line);
    return isObject(msg) && msg["method"] === "call";
  } catch {
    return false;
  }
}
/** Splits stdin on "\n" bytes only (Bun's readline also breaks lines at U+2028/U+2029). */
let partial: Buffer[] = [];
process.stdin.on("data", (chunk: Buffer) => {
  let start = 0;
  let nl: number;
  while ((nl = chunk.indexOf(10, start)) !== -1) {
    partial.push(chunk.subarray(start, nl));
    onLine(Buffer.concat(partial).toString("utf8").replace(/\r$/, ""));
    partial = [];
    start = nl + 1;
  }
  if (start < chunk.length) partial.push(Buffer.from(chunk.subarray(start)));
});

function onLine(line: string): void {
  if (line.trim() === "") return;
  if (isCallLine(line)) {
    const task = barrier.then(() => handle(line));
    calls.add(task);
    void task.finally(() => calls.delete(task));
  } else {
    const earlier = [barrier, ...calls];
    barrier = Promise.allSettled(earlier).then(() => handle(line));
  }
}

process.stdin.on("end", () => {
  void Promise.allSettled([barrier, ...calls]).then(async () => {
    await Promise.allSettled([...plugins.values()].map((p) => p.close()));
    plugins.clear();
    // No process.exit(): it drops replies that a slow reader has not yet taken from a full pipe.
    // With every plugin closed and stdin ended, the process exits once stdout has drained.
    process.exitCode = 0;
  });
});
