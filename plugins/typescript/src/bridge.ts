/**
 * The plugin side of the IPC transport (protocol.md section 3): serves a TypeScript plugin over
 * newline-delimited JSON-RPC. Each request runs as its own task, so a slow handler does not hold
 * back the others and pipelined requests may be answered out of order.
 */
import { LineSplitter } from "./lines.ts";
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  EncodeError,
  ErrorCode,
  InvalidResult,
  ProtocolFault,
  checkBoolean,
  checkJson,
  isObject,
  jsonTypeOf,
  parseInitParams,
  parseNamedParams,
  parseRequest,
  readId,
  type ErrorObject,
  type MemberKind,
  type RequestId,
} from "./protocol.ts";
import { RuntimeChannel, createRuntimeProxy, createStderrLogger, readRuntimeContext, type RuntimeLogger, type RuntimeProxy, type RuntimeScope } from "./runtime-proxy.ts";
import type { Action, BridgeRuntime, Config, Evaluator, JsonObject, JsonValue, Manifest, Memory, Plugin, Provider } from "./types.ts";

/** Where the bridge reads requests from (a Readable such as process.stdin). */
export interface BridgeInput {
  on(event: "data", listener: (chunk: Buffer | string) => void): unknown;
  on(event: "end", listener: () => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  removeAllListeners(event?: string): unknown;
  pause(): unknown;
}

/** Where the bridge writes responses (a Writable such as process.stdout). */
export interface BridgeOutput {
  write(chunk: string, callback?: (err?: Error | null) => void): boolean;
}

/** Options of serve(). */
export interface ServeOptions {
  input: BridgeInput;
  output: BridgeOutput;
  /** Largest request line accepted and response line produced, in bytes (default 16 MiB). */
  maxMessageBytes?: number;
  /** How long to wait for in-flight requests after stdin EOF before giving up (default 500 ms). */
  eofGraceMs?: number;
  /** Where the plugin came from: the manifest's name and version when the plugin object lacks them. */
  origin?: PluginOrigin;
  /** The `runtime.logger` handlers get (default: lines on stderr). */
  logger?: RuntimeLogger;
}

/** How serve() ended. */
export type ServeEnd = "shutdown" | "eof";

/** Where a plugin was loaded from: supplies the manifest's name and version when the object lacks them. */
export interface PluginOrigin {
  /** The package's name, when the entry point was a package (directory or package name). */
  packageName?: string;
  /** The `version` of the nearest package.json of the entry file. */
  packageVersion?: string;
}

/** Protocol version our SDK speaks (protocol.md section 12). */
export const PROTOCOL_VERSION = 1;
/** Optional features this bridge implements (protocol.md section 12). */
export const BRIDGE_CAPABILITIES = ["runtime", "shutdown"] as const;

const NAME_RE = /^(?=.{1,214}$)(?:@[a-z0-9._~-]+\/)?[a-z0-9._~-]+$/;
const LANGUAGE_RE = /^[a-z][a-z0-9+-]*$/;
const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** Member types a descriptor's known members must have; anything else is carried if it is plain JSON. */
type MemberType = "string" | "boolean" | "number" | "string[]";
const ACTION_MEMBERS: Record<string, MemberType> = { name: "string", description: "string", similes: "string[]" };
const PROVIDER_MEMBERS: Record<string, MemberType> = { name: "string", description: "string", dynamic: "boolean", private: "boolean", position: "number" };
const EVALUATOR_MEMBERS: Record<string, MemberType> = { name: "string", description: "string", alwaysRun: "boolean", similes: "string[]" };
/** Plugin members that are not descriptor data: code, or reported separately. */
const PLUGIN_NON_DATA = new Set([
  "name", "description", "version", "language", "actions", "providers", "evaluators", "services", "events", "routes", "models",
  "init", "tests", "adapter", "schema", "componentTypes", "protocolVersion", "capabilities",
]);

function hasType(value: unknown, type: MemberType): boolean {
  if (type === "string[]") return Array.isArray(value) && value.every((s) => typeof s === "string");
  return typeof value === type;
}

/** True when `value` can be carried on the wire as it is (plain JSON, or has toJSON). */
function isPlainJson(value: unknown): boolean {
  try {
    checkJson(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The plain-data members of an elizaOS object (must-ignore, protocol.md section 1): known members of
 * the right type, and every other member that is JSON (`examples`, `config`, `priority`, ...).
 * Functions and values JSON cannot carry are left out.
 */
function dataMembers(source: object, known: Record<string, MemberType>, skip?: Set<string>): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(source)) {
    if (skip?.has(key)) continue;
    const value = (source as Record<string, unknown>)[key];
    if (value === undefined || value === null || typeof value === "function") continue;
    const type = known[key];
    if (type !== undefined ? hasType(value, type) : isPlainJson(value)) out[key] = value as JsonValue;
  }
  return out;
}

function names(list: unknown, nameOf: (item: Record<string, unknown>) => unknown): string[] {
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const item of list as unknown[]) {
    if ((typeof item !== "object" && typeof item !== "function") || item === null) continue;
    const name = nameOf(item as Record<string, unknown>);
    if (typeof name === "string" && name.length > 0) out.push(name);
  }
  return out;
}

/**
 * The names an elizaOS plugin object's non-data members report in the manifest (protocol.md
 * section 1): service types, event names, `"<METHOD> <path>"` of routes, model types.
 */
function capabilityNames(p: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  if (p["services"] !== undefined) out["services"] = names(p["services"], (s) => (typeof s["serviceType"] === "string" ? s["serviceType"] : s["name"]));
  if (isObject(p["events"])) out["events"] = Object.keys(p["events"]);
  if (p["routes"] !== undefined) {
    out["routes"] = names(p["routes"], (r) => (typeof r["path"] === "string" ? `${typeof r["type"] === "string" ? r["type"].toUpperCase() : "GET"} ${r["path"]}` : undefined));
  }
  if (isObject(p["models"])) out["models"] = Object.keys(p["models"]);
  return out;
}

function descriptors(list: unknown, kind: MemberKind, known: Record<string, MemberType>, describe: boolean): JsonObject[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new Error(`${kind}s must be an array, received ${jsonTypeOf(list)}`);
  const seen = new Set<string>();
  return (list as unknown[]).map((item, i) => {
    if (!isObject(item)) throw new Error(`${kind}s[${i}] must be an object, received ${jsonTypeOf(item)}`);
    const name = item["name"];
    if (typeof name !== "string" || name.length === 0) throw new Error(`${kind}s[${i}].name must be a non-empty string, received ${JSON.stringify(name) ?? "missing"}`);
    if (seen.has(name)) throw new Error(`duplicate ${kind} name ${JSON.stringify(name)}`);
    seen.add(name);
    const d = dataMembers(item, known);
    // elizaOS (and the seed's example) leave descriptions out; the manifest requires one for actions and evaluators
    if (describe && typeof d["description"] !== "string") d["description"] = "";
    return d;
  });
}

/**
 * Builds the manifest (protocol.md section 1) a plugin object describes, our own Plugin or an
 * `@elizaos/core` Plugin as published: descriptors carry their plain-data members (`examples`,
 * `similes`, ...), services/events/routes/models are reported by name, and the protocol version
 * and capabilities of this bridge are added. Throws on a plugin that cannot make a valid manifest.
 */
export function manifestOf(plugin: Plugin, origin: PluginOrigin = {}): Manifest {
  const p = plugin as unknown as Record<string, unknown>;
  const where = `plugin ${JSON.stringify(origin.packageName ?? p["name"])}`;
  try {
    const name = origin.packageName ?? p["name"];
    if (typeof name !== "string" || !NAME_RE.test(name)) throw new Error(`name must be an npm package name ([a-z0-9._~-], optionally @scope/), received ${JSON.stringify(name) ?? "missing"}`);
    const version = typeof p["version"] === "string" ? p["version"] : (origin.packageVersion ?? "0.0.0");
    if (!SEMVER_RE.test(version)) throw new Error(`version must be a SemVer string, received ${JSON.stringify(version)}`);
    const language = p["language"] ?? "typescript";
    if (typeof language !== "string" || !LANGUAGE_RE.test(language)) throw new Error(`language must match ^[a-z][a-z0-9+-]*$, received ${JSON.stringify(language)}`);
    const manifest: JsonObject = {
      ...dataMembers(p, {}, PLUGIN_NON_DATA),
      name,
      description: typeof p["description"] === "string" ? p["description"] : "",
      version,
      language,
      protocolVersion: PROTOCOL_VERSION,
      capabilities: [...BRIDGE_CAPABILITIES],
      actions: descriptors(p["actions"], "action", ACTION_MEMBERS, true),
      providers: descriptors(p["providers"], "provider", PROVIDER_MEMBERS, false),
      evaluators: descriptors(p["evaluators"], "evaluator", EVALUATOR_MEMBERS, true),
      ...capabilityNames(p),
    };
    return manifest as unknown as Manifest;
  } catch (err) {
    throw new Error(`${where} has an invalid manifest: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Results: known members are checked, unknown members are carried (must-ignore, protocol.md section 1).

const ACTION_RESULT_KEYS: Record<string, "boolean" | "string" | "object"> = { success: "boolean", text: "string", values: "object", data: "object", error: "string" };
const PROVIDER_RESULT_KEYS: Record<string, "string" | "object"> = { text: "string", values: "object", data: "object" };

/** Checks the known members of a result; drops known members that are null; keeps the rest. */
function checkResultMembers(value: unknown, what: string, keys: Record<string, string>): JsonObject {
  if (!isObject(value)) throw new InvalidResult(`${what} must be an object, received ${jsonTypeOf(value)}`);
  let copy = Object.getPrototypeOf(value) !== Object.prototype;
  for (const key in value) {
    const expected = keys[key];
    if (expected === undefined) continue;
    const v = value[key];
    if (v === null || v === undefined) {
      copy = true;
      continue;
    }
    if (expected === "object" ? !isObject(v) : typeof v !== expected) {
      throw new InvalidResult(`${what}.${key} must be ${expected === "object" ? "an object" : `a ${expected}`}, received ${jsonTypeOf(v)}`);
    }
  }
  if (!copy) return value as JsonObject;
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (v === undefined || (v === null && keys[key] !== undefined)) continue;
    out[key] = v as JsonValue;
  }
  return out;
}

/** Checks an ActionResult: `success` a boolean, known members typed, unknown members kept. */
export function checkPluginActionResult(value: unknown): JsonObject {
  const out = checkResultMembers(value, "ActionResult", ACTION_RESULT_KEYS);
  const success = out["success"];
  if (typeof success !== "boolean") {
    // name the members it does have, so a typo such as "sucess" is visible in the reason
    const members = success === undefined ? ` (members: ${Object.keys(out).map((k) => JSON.stringify(k)).join(", ") || "none"})` : "";
    throw new InvalidResult(`ActionResult.success must be a boolean, received ${jsonTypeOf(success)}${members}`);
  }
  return out;
}

/** Checks a ProviderResult: known members typed, unknown members kept. */
export function checkPluginProviderResult(value: unknown): JsonObject {
  return checkResultMembers(value, "ProviderResult", PROVIDER_RESULT_KEYS);
}

/** Checks an EvaluatorResult: `null` (or nothing returned) or an ActionResult. */
export function checkPluginEvaluatorResult(value: unknown): JsonObject | null {
  return value === undefined || value === null ? null : checkPluginActionResult(value);
}

/** elizaOS `HandlerCallback`: what a handler sends through it is collected for the result. */
export type HandlerCallback = (content: JsonObject) => Promise<unknown[]>;

/** An elizaOS handler: `handler(runtime, message, state, options, callback, responses)`. */
type ElizaHandler = (runtime: RuntimeProxy, memory: Memory, state: JsonObject, options: JsonObject, callback: HandlerCallback, responses: unknown[]) => unknown;

/**
 * Turns what an elizaOS action handler gave back into an ActionResult candidate: nothing returned
 * is success; an `Error` in `error` becomes its message; text sent through the callback becomes
 * `text` (joined with "\n") unless the result has its own, and the callback contents go to
 * `data.callbacks`.
 */
export function adaptActionResult(value: unknown, callbacks: readonly JsonObject[]): unknown {
  if (value === undefined) value = { success: true };
  if (!isObject(value)) return value;
  let out = value;
  if (out["error"] instanceof Error) out = { ...out, error: out["error"].message };
  if (callbacks.length > 0) {
    const texts = callbacks.map((c) => c["text"]).filter((t): t is string => typeof t === "string");
    if (out === value) out = { ...out };
    if ((out["text"] === undefined || out["text"] === null) && texts.length > 0) out["text"] = texts.join("\n");
    const data = out["data"];
    if (data === undefined || data === null) out["data"] = { callbacks: callbacks as JsonValue[] };
    else if (isObject(data) && !("callbacks" in data)) out["data"] = { ...data, callbacks: callbacks as JsonValue[] };
  }
  return out;
}

/** Type name of a thrown value: the Error's name, else its JS type (`throw "x"` gives "string"). */
function exceptionType(err: unknown): string {
  if (err instanceof Error) return err.name || err.constructor.name;
  if (err === null) return "null";
  return typeof err;
}

function exceptionMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return typeof err === "string" ? err : String(err);
  } catch {
    return "unprintable exception";
  }
}

function byName<T extends { name: string }>(list: T[] | undefined): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of list ?? []) map.set(item.name, item);
  return map;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Serves `plugin` over `input`/`output` until `shutdown` or input EOF. Resolves with how it ended,
 * after every response has been handed to `output`. It never writes anything but protocol lines.
 */
export function serve(plugin: Plugin, options: ServeOptions): Promise<ServeEnd> {
  const manifest = manifestOf(plugin, options.origin);
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const eofGraceMs = options.eofGraceMs ?? 500;
  const { input, output } = options;
  const actions = byName<Action>(plugin.actions);
  const providers = byName<Provider>(plugin.providers);
  const evaluators = byName<Evaluator>(plugin.evaluators);

  let config: Config = {};
  let stopped = false;
  let inFlight = 0;
  let onIdle: (() => void) | null = null;
  let lastWrite: Promise<void> = Promise.resolve();

  function send(line: string): void {
    lastWrite = new Promise<void>((resolve) => {
      output.write(line + "\n", () => resolve());
    });
  }

  const channel = new RuntimeChannel(send, maxBytes);
  const scope: RuntimeScope = {
    channel,
    logger: options.logger ?? createStderrLogger(manifest.name),
    config: () => config,
    taskWorkers: new Map(),
    events: new Map(),
  };
  // Calls without a `runtime` in their params share one proxy, whose forwarded methods fail at once.
  const noHost = createRuntimeProxy(scope, null, null);
  const runtime = noHost as unknown as BridgeRuntime;
  function runtimeFor(id: RequestId, params: Record<string, unknown>): RuntimeProxy {
    const context = params["runtime"];
    if (context === undefined) return noHost;
    const read = readRuntimeContext(context);
    return read === null ? noHost : createRuntimeProxy(scope, id, read);
  }

  // Requests wait for the last init (and the implicit init({}) before the first call) to finish.
  let initDone: Promise<void> | null = null;
  function runInit(newConfig: Config): Promise<void> {
    const previous = initDone ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(async () => {
      const before = config;
      config = newConfig;
      try {
        if (plugin.init) await plugin.init(newConfig, runtime);
      } catch (err) {
        config = before; // a refused config does not become the current one
        throw err;
      }
    });
    initDone = run;
    return run;
  }
  /** Waits for pending inits (calls proceed even when the last init failed). */
  function ensureInit(): Promise<void> {
    return (initDone ?? runInit({})).catch(() => undefined);
  }

  function respondError(id: RequestId | null, error: ErrorObject): void {
    send(JSON.stringify({ id, error }));
  }

  function respondResult(id: RequestId, method: string, result: unknown, kind: MemberKind | null, name: string): void {
    let line: string;
    try {
      checkJson(result, "$.result");
      line = JSON.stringify({ id, result });
    } catch (err) {
      const reason = err instanceof EncodeError ? `result is not JSON: ${err.message}` : `result cannot be serialised: ${exceptionMessage(err)}`;
      respondError(id, { code: ErrorCode.InvalidResult, message: `invalid result from ${kind ?? "plugin"} ${JSON.stringify(name)}: ${reason}`, data: { kind: kind ?? "plugin", name, reason } });
      return;
    }
    if (Buffer.byteLength(line) > maxBytes) {
      respondError(id, {
        code: ErrorCode.InternalError,
        message: `${method}: response of ${Buffer.byteLength(line)} bytes exceeds the bridge limit of ${maxBytes} bytes`,
      });
      return;
    }
    send(line);
  }

  async function callHandler<T>(kind: MemberKind, name: string, run: () => unknown, check: (v: unknown) => T): Promise<T> {
    let value: unknown;
    try {
      value = await run();
    } catch (err) {
      throw new ProtocolFault(ErrorCode.HandlerFailed, exceptionMessage(err), {
        kind,
        name,
        exception: exceptionType(err),
      });
    }
    try {
      return check(value);
    } catch (err) {
      const reason = err instanceof InvalidResult ? err.message : exceptionMessage(err);
      throw new ProtocolFault(ErrorCode.InvalidResult, `invalid result from ${kind} ${JSON.stringify(name)}: ${reason}`, { kind, name, reason });
    }
  }

  function lookup<T>(map: Map<string, T>, kind: MemberKind, name: string): T {
    const found = map.get(name);
    if (found === undefined) {
      throw new ProtocolFault(ErrorCode.UnknownName, `unknown ${kind} ${JSON.stringify(name)} in plugin ${manifest.name}`, { kind, name });
    }
    return found;
  }

  /** Runs an elizaOS action/evaluator handler with a callback whose contents are collected. */
  async function runEliza(handler: unknown, rt: RuntimeProxy, memory: Memory, state: JsonObject, opts: JsonObject, callbacks: JsonObject[]): Promise<unknown> {
    const callback: HandlerCallback = (content) => {
      callbacks.push(content);
      return Promise.resolve([]);
    };
    return (handler as ElizaHandler)(rt, memory, state, opts, callback, []);
  }

  async function dispatch(id: RequestId, method: string, params: Record<string, unknown>): Promise<{ result: unknown; kind: MemberKind | null; name: string }> {
    switch (method) {
      case "getManifest":
        return { result: manifest, kind: null, name: manifest.name };
      case "init": {
        const cfg = parseInitParams(params);
        try {
          await runInit(cfg);
        } catch (err) {
          throw new ProtocolFault(ErrorCode.HandlerFailed, exceptionMessage(err), {
            kind: "plugin",
            name: manifest.name,
            exception: exceptionType(err),
          });
        }
        return { result: {}, kind: null, name: manifest.name };
      }
      case "validateAction":
      case "invokeAction":
      case "getProvider":
      case "validateEvaluator":
      case "invokeEvaluator":
        break;
      default:
        throw new ProtocolFault(ErrorCode.MethodNotFound, `method not found: ${JSON.stringify(method)}`, { method });
    }
    const p = parseNamedParams(params);
    await ensureInit();
    const memory = p.memory as unknown as Memory;
    const rt = runtimeFor(id, params);
    const r = rt as unknown as BridgeRuntime;
    switch (method) {
      case "validateAction": {
        const a = lookup(actions, "action", p.name);
        return { result: await callHandler("action", p.name, () => a.validate(r, memory, p.state), checkBoolean), kind: "action", name: p.name };
      }
      case "invokeAction": {
        const a = lookup(actions, "action", p.name);
        const callbacks: JsonObject[] = [];
        const result = await callHandler(
          "action",
          p.name,
          () => runEliza(a.handler, rt, memory, p.state, p.options, callbacks),
          (v) => checkPluginActionResult(adaptActionResult(v, callbacks)),
        );
        return { result, kind: "action", name: p.name };
      }
      case "getProvider": {
        const pr = lookup(providers, "provider", p.name);
        return { result: await callHandler("provider", p.name, () => pr.get(r, memory, p.state), checkPluginProviderResult), kind: "provider", name: p.name };
      }
      case "validateEvaluator": {
        const e = lookup(evaluators, "evaluator", p.name);
        return { result: await callHandler("evaluator", p.name, () => e.validate(r, memory, p.state), checkBoolean), kind: "evaluator", name: p.name };
      }
      default: {
        const e = lookup(evaluators, "evaluator", p.name);
        const callbacks: JsonObject[] = [];
        const result = await callHandler(
          "evaluator",
          p.name,
          () => runEliza(e.handler, rt, memory, p.state, p.options, callbacks),
          (v) => checkPluginEvaluatorResult(v === undefined && callbacks.length === 0 ? null : adaptActionResult(v, callbacks)),
        );
        return { result, kind: "evaluator", name: p.name };
      }
    }
  }

  return new Promise<ServeEnd>((resolve) => {
    let ended = false;
    function finish(how: ServeEnd): void {
      if (ended) return;
      ended = true;
      input.removeAllListeners("data");
      input.pause();
      void lastWrite.then(() => resolve(how));
    }

    async function handle(id: RequestId, method: string, params: Record<string, unknown>): Promise<void> {
      inFlight++;
      try {
        const { result, kind, name } = await dispatch(id, method, params);
        if (!stopped) respondResult(id, method, result, kind, name);
      } catch (err) {
        if (stopped) return;
        if (err instanceof ProtocolFault) respondError(id, err.toErrorObject());
        else respondError(id, { code: ErrorCode.InternalError, message: `internal error in the bridge while serving ${method}: ${exceptionMessage(err)}` });
      } finally {
        inFlight--;
        if (inFlight === 0 && onIdle) onIdle();
      }
    }

    function onLine(bytes: Buffer): void {
      if (stopped) return;
      let text: string;
      let message: unknown;
      try {
        text = utf8.decode(bytes);
      } catch {
        respondError(null, { code: ErrorCode.ParseError, message: "parse error: line is not valid UTF-8" });
        return;
      }
      try {
        message = JSON.parse(text);
      } catch (err) {
        respondError(null, { code: ErrorCode.ParseError, message: `parse error: ${exceptionMessage(err)}` });
        return;
      }
      // A line without `method` that carries a result or an error answers one of our runtime requests.
      if (isObject(message) && !("method" in message) && ("result" in message || "error" in message)) {
        if (!channel.deliver(message["id"], message)) {
          process.stderr.write(`elizaos-interop bridge: ignored a response for no pending runtime request (id ${JSON.stringify(message["id"]) ?? "missing"})\n`);
        }
        return;
      }
      let request;
      try {
        request = parseRequest(message);
      } catch (err) {
        respondError(readId(message), (err as ProtocolFault).toErrorObject());
        return;
      }
      if (request.method === "shutdown") {
        stopped = true;
        channel.close("host closed");
        send(JSON.stringify({ id: request.id, result: {} }));
        finish("shutdown");
        return;
      }
      void handle(request.id, request.method, request.params);
    }

    const splitter = new LineSplitter(maxBytes, {
      line: onLine,
      oversize: () => {
        if (!stopped) respondError(null, { code: ErrorCode.InvalidRequest, message: `request exceeds ${maxBytes} bytes` });
      },
    });

    input.on("data", (chunk) => splitter.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk));
    const onEnd = (): void => {
      const rest = splitter.rest();
      if (rest !== null && rest.length > 0) onLine(rest);
      // Nobody will answer the runtime requests still pending: their handlers unwind now.
      channel.close("host closed");
      if (inFlight === 0) {
        finish("eof");
        return;
      }
      const timer = setTimeout(() => finish("eof"), eofGraceMs);
      onIdle = () => {
        clearTimeout(timer);
        finish("eof");
      };
    };
    input.on("end", onEnd);
    input.on("error", onEnd);
  });
}
