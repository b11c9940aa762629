/**
 * The plugin side of protocol.md section 11: the `runtime` a handler receives over IPC. Its methods
 * are forwarded to the host as JSON-RPC requests on the plugin's stdout (`{"id": "rt-<n>", "method":
 * "runtime.<name>", "params": {"call", "args"}}`) and resolve with the host's answer, which the
 * bridge's line reader hands back through RuntimeChannel.deliver().
 */
import { inspect } from "node:util";
import { EncodeError, ErrorCode, MAX_ENCODE_DEPTH, isObject, jsonTypeOf, type RequestId } from "./protocol.ts";
import type { Config, JsonObject, JsonValue } from "./types.ts";

/** Methods forwarded to the host (protocol.md 11.3), by their wire name without `runtime.`. */
export const FORWARDED_RUNTIME_METHODS = [
  "getSetting",
  "setSetting",
  "getCache",
  "setCache",
  "deleteCache",
  "getRoom",
  "getRooms",
  "getRoomsForParticipant",
  "getRoomsForParticipants",
  "getParticipantsForRoom",
  "getParticipantUserState",
  "setParticipantUserState",
  "getWorld",
  "updateWorld",
  "ensureWorldExists",
  "ensureRoomExists",
  "ensureConnection",
  "ensureConnections",
  "getEntityById",
  "getEntitiesForRoom",
  "updateEntity",
  "getComponent",
  "getComponents",
  "createComponent",
  "updateComponent",
  "getRelationships",
  "createRelationship",
  "updateRelationship",
  "getMemories",
  "getMemoryById",
  "getMemoriesByRoomIds",
  "searchMemories",
  "createMemory",
  "updateMemory",
  "deleteMemory",
  "getConversationLength",
  "queueEmbeddingGeneration",
  "getTasks",
  "getTask",
  "getTasksByName",
  "createTask",
  "updateTask",
  "deleteTask",
  "useModel",
  "composeState",
  "emitEvent",
  "log",
] as const;
/** A forwarded method name. */
export type ForwardedRuntimeMethod = (typeof FORWARDED_RUNTIME_METHODS)[number];

/** Members answered on the plugin side, never forwarded (protocol.md 11.3). */
export const LOCAL_RUNTIME_METHODS = ["getService", "getAllServices", "registerTaskWorker", "getTaskWorker", "registerEvent", "getModel"] as const;

/**
 * A runtime method the host does not provide: the call carried no `runtime` (code null, refused
 * locally, nothing written), or the host answered -32601.
 */
export class RuntimeUnavailableError extends Error {
  /** The JSON-RPC code of the host's answer, or null when the proxy refused locally. */
  readonly code: number | null;
  readonly data: JsonValue | undefined;
  /** The elizaOS method name, e.g. `getRoom`. */
  readonly method: string;
  constructor(method: string, code: number | null = null, message?: string, data?: JsonValue) {
    super(message ?? `runtime.${method} is not provided by the host`);
    this.name = "RuntimeUnavailableError";
    this.method = method;
    this.code = code;
    this.data = data;
  }
}

/** The host answered a runtime request with an error (or went away: -32603 "host closed"). */
export class RuntimeCallError extends Error {
  /** The JSON-RPC code of the host's answer. */
  readonly code: number;
  readonly data: JsonValue | undefined;
  /** The elizaOS method name, e.g. `getRoom`. */
  readonly method: string;
  constructor(method: string, code: number, message: string, data?: JsonValue) {
    super(message);
    this.name = "RuntimeCallError";
    this.method = method;
    this.code = code;
    this.data = data;
  }
}

/**
 * Converts one argument the way JSON.stringify would (toJSON, then the own enumerable members of
 * any object, so a class instance or a Promise becomes a plain object; undefined, functions and
 * symbols are left out of objects and become null in arrays), but refuses what JSON cannot carry
 * exactly (protocol.md section 2): NaN/±Infinity, BigInt, lone surrogates, cycles.
 */
function toWire(value: unknown, path: string, depth: number): JsonValue {
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed()) throw new EncodeError(path, "string contains a lone surrogate");
      return value;
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new EncodeError(path, `number ${String(value)} is not JSON`);
      return value;
    case "bigint":
      throw new EncodeError(path, "BigInt is not JSON (send big integers as strings)");
    case "object": {
      if (value === null) return null;
      if (depth >= MAX_ENCODE_DEPTH) throw new EncodeError(path, `nesting deeper than ${MAX_ENCODE_DEPTH} (or a cycle)`);
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === "function") return toWire((toJSON as () => unknown).call(value), path, depth + 1);
      if (Array.isArray(value)) {
        return value.map((item: unknown, i) => {
          const t = typeof item;
          return item === undefined || t === "function" || t === "symbol" ? null : toWire(item, `${path}[${i}]`, depth + 1);
        });
      }
      const out: JsonObject = {};
      for (const key of Object.keys(value)) {
        const item = (value as Record<string, unknown>)[key];
        const t = typeof item;
        if (item === undefined || t === "function" || t === "symbol") continue;
        if (!key.isWellFormed()) throw new EncodeError(path, "member name contains a lone surrogate");
        out[key] = toWire(item, `${path}.${key}`, depth + 1);
      }
      return out;
    }
    default:
      throw new EncodeError(path, `${typeof value} is not JSON`);
  }
}

interface Pending {
  method: string;
  resolve(value: JsonValue): void;
  reject(err: Error): void;
}

/**
 * The plugin's end of the plugin-to-host direction: numbers runtime requests `rt-<n>`, writes them,
 * and settles them from the host's responses. One per bridge.
 */
export class RuntimeChannel {
  private readonly write: (line: string) => void;
  private readonly maxBytes: number;
  private readonly pending = new Map<string, Pending>();
  private next = 0;
  private closedReason: string | null = null;

  /** `write` sends one line (without `\n`); `maxMessageBytes` bounds each request line. */
  constructor(write: (line: string) => void, maxMessageBytes: number) {
    this.write = write;
    this.maxBytes = maxMessageBytes;
  }

  /** Runtime requests waiting for an answer. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Sends `runtime.<method>` for the host call `call` with positional `args` (trailing undefined
   * dropped, others undefined become null) and resolves with the host's result.
   */
  request(call: RequestId, method: string, args: readonly unknown[]): Promise<JsonValue> {
    if (this.closedReason !== null) {
      return Promise.reject(new RuntimeCallError(method, ErrorCode.InternalError, `runtime.${method}: ${this.closedReason}`));
    }
    let end = args.length;
    while (end > 0 && args[end - 1] === undefined) end--;
    const id = `rt-${++this.next}`;
    let line: string;
    try {
      const wireArgs: JsonValue[] = new Array<JsonValue>(end);
      for (let i = 0; i < end; i++) wireArgs[i] = args[i] === undefined ? null : toWire(args[i], `runtime.${method} args[${i}]`, 0);
      line = JSON.stringify({ id, method: `runtime.${method}`, params: { call, args: wireArgs } });
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const size = Buffer.byteLength(line);
    if (size > this.maxBytes) {
      return Promise.reject(new RangeError(`runtime.${method}: request of ${size} bytes exceeds the message limit of ${this.maxBytes} bytes`));
    }
    return new Promise<JsonValue>((resolve, reject) => {
      this.pending.set(id, { method, resolve, reject });
      this.write(line);
    });
  }

  /**
   * Settles the pending request a response line answers. Returns false when `id` names no pending
   * request (the caller reports it).
   */
  deliver(id: unknown, message: Record<string, unknown>): boolean {
    if (typeof id !== "string") return false;
    const p = this.pending.get(id);
    if (p === undefined) return false;
    this.pending.delete(id);
    const error = message["error"];
    if ("error" in message) {
      if (isObject(error) && typeof error["code"] === "number" && typeof error["message"] === "string") {
        const code = error["code"];
        const data = error["data"] as JsonValue | undefined;
        if (code === ErrorCode.MethodNotFound) p.reject(new RuntimeUnavailableError(p.method, code, error["message"], data));
        else p.reject(new RuntimeCallError(p.method, code, error["message"], data));
      } else {
        p.reject(new RuntimeCallError(p.method, ErrorCode.InternalError, `runtime.${p.method}: the host answered with a malformed error (${jsonTypeOf(error)})`));
      }
    } else if ("result" in message) {
      p.resolve(message["result"] as JsonValue);
    } else {
      p.reject(new RuntimeCallError(p.method, ErrorCode.InternalError, `runtime.${p.method}: the host's answer has neither result nor error`));
    }
    return true;
  }

  /** The host went away: every pending and later request fails with -32603 `reason`. */
  close(reason = "host closed"): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(new RuntimeCallError(p.method, ErrorCode.InternalError, reason));
  }
}

/** elizaOS-style logger: every level writes one line to stderr, never to stdout. */
export interface RuntimeLogger {
  trace(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  log(...args: unknown[]): void;
  success(...args: unknown[]): void;
  progress(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  fatal(...args: unknown[]): void;
  clear(): void;
  /** A logger whose lines carry the given bindings too (pino's `child`). */
  child(bindings?: unknown): RuntimeLogger;
}

const LOG_LEVELS = ["trace", "debug", "info", "log", "success", "progress", "warn", "error", "fatal"] as const;

function formatLogArg(arg: unknown): string {
  return typeof arg === "string" ? arg : inspect(arg, { depth: 4, breakLength: Infinity });
}

/** A logger writing `[<prefix>] <level> <args>` lines to stderr. */
export function createStderrLogger(prefix: string): RuntimeLogger {
  const logger = { clear: (): void => undefined } as RuntimeLogger;
  for (const level of LOG_LEVELS) {
    logger[level] = (...args: unknown[]): void => {
      process.stderr.write(`[${prefix}] ${level} ${args.map(formatLogArg).join(" ")}\n`);
    };
  }
  logger.child = (bindings?: unknown): RuntimeLogger => createStderrLogger(bindings === undefined ? prefix : `${prefix} ${formatLogArg(bindings)}`);
  return logger;
}

/** The plain-data part of the host runtime sent with a call (runtime-context.schema.json). */
export interface RuntimeContext {
  agentId?: string;
  character?: JsonObject;
}

/** The runtime a handler receives over IPC (protocol.md 11.1). */
export type RuntimeProxy = {
  /** `agentId` of the host's runtime snapshot (`undefined` without one). */
  readonly agentId: string | undefined;
  /** `character` of the host's runtime snapshot (`undefined` without one). */
  readonly character: JsonObject | undefined;
  /** Writes to the plugin's stderr. */
  readonly logger: RuntimeLogger;
  /** Transport the plugin is served over. */
  readonly transport: "ipc";
  /** The config of the last `init` call (`{}` before any). */
  readonly config: Config;
  /** Answers null: a service object cannot cross the process boundary. */
  getService(name: string): null;
  /** Answers an empty map. */
  getAllServices(): Map<string, unknown>;
  /** Plugin-local registry of task workers. */
  registerTaskWorker(worker: { name: string }): void;
  getTaskWorker(name: string): unknown;
  /** Plugin-local registry of event handlers. */
  registerEvent(event: string, handler: unknown): void;
  /** Answers undefined: model handlers live in the host. */
  getModel(modelType: string): undefined;
  /** The served plugin's own actions (protocol.md 11.3: components of the host's other plugins do not cross). */
  readonly actions: readonly unknown[];
  /** The served plugin's own providers. */
  readonly providers: readonly unknown[];
  /** The served plugin's own evaluators. */
  readonly evaluators: readonly unknown[];
} & { [K in ForwardedRuntimeMethod]: (...args: unknown[]) => Promise<JsonValue> };

/** State shared by every proxy of one bridge: config, local registries, logger, channel. */
export interface RuntimeScope {
  readonly channel: RuntimeChannel | null;
  readonly logger: RuntimeLogger;
  config(): Config;
  readonly taskWorkers: Map<string, unknown>;
  readonly events: Map<string, unknown[]>;
  /** The served plugin's own components, as the plugin object lists them (absent: none). */
  readonly components?: RuntimeComponents;
}

/** The served plugin's own actions, providers and evaluators, read by `runtime.actions` etc. */
export interface RuntimeComponents {
  readonly actions: readonly unknown[];
  readonly providers: readonly unknown[];
  readonly evaluators: readonly unknown[];
}

const NO_COMPONENTS: readonly unknown[] = Object.freeze([]);

const SCOPE = Symbol("runtime scope");
const CALL = Symbol("runtime call");
const CONTEXT = Symbol("runtime context");

interface ProxyFields {
  [SCOPE]: RuntimeScope;
  [CALL]: RequestId | null;
  [CONTEXT]: RuntimeContext | null;
}

/** Prototype of every proxy: the forwarded methods are defined once here, not per call. */
const proto: Record<string | symbol, unknown> = Object.create(null) as Record<string | symbol, unknown>;
for (const method of FORWARDED_RUNTIME_METHODS) {
  Object.defineProperty(proto, method, {
    enumerable: true,
    value: function forward(this: ProxyFields, ...args: unknown[]): Promise<JsonValue> {
      const channel = this[SCOPE].channel;
      const call = this[CALL];
      if (channel === null || call === null || this[CONTEXT] === null) return Promise.reject(new RuntimeUnavailableError(method));
      return channel.request(call, method, args);
    },
  });
}
Object.defineProperties(proto, {
  agentId: {
    enumerable: true,
    get(this: ProxyFields): string | undefined {
      return this[CONTEXT]?.agentId;
    },
  },
  character: {
    enumerable: true,
    get(this: ProxyFields): JsonObject | undefined {
      return this[CONTEXT]?.character;
    },
  },
  logger: {
    enumerable: true,
    get(this: ProxyFields): RuntimeLogger {
      return this[SCOPE].logger;
    },
  },
  transport: { enumerable: true, value: "ipc" },
  config: {
    enumerable: true,
    get(this: ProxyFields): Config {
      return this[SCOPE].config();
    },
  },
  getService: { value: (): null => null },
  getAllServices: { value: (): Map<string, unknown> => new Map() },
  registerTaskWorker: {
    value(this: ProxyFields, worker: { name: string }): void {
      this[SCOPE].taskWorkers.set(worker.name, worker);
    },
  },
  getTaskWorker: {
    value(this: ProxyFields, name: string): unknown {
      return this[SCOPE].taskWorkers.get(name);
    },
  },
  registerEvent: {
    value(this: ProxyFields, event: string, handler: unknown): void {
      const list = this[SCOPE].events.get(event);
      if (list === undefined) this[SCOPE].events.set(event, [handler]);
      else list.push(handler);
    },
  },
  getModel: { value: (): undefined => undefined },
  actions: {
    enumerable: true,
    get(this: ProxyFields): readonly unknown[] {
      return this[SCOPE].components?.actions ?? NO_COMPONENTS;
    },
  },
  providers: {
    enumerable: true,
    get(this: ProxyFields): readonly unknown[] {
      return this[SCOPE].components?.providers ?? NO_COMPONENTS;
    },
  },
  evaluators: {
    enumerable: true,
    get(this: ProxyFields): readonly unknown[] {
      return this[SCOPE].components?.evaluators ?? NO_COMPONENTS;
    },
  },
});

/**
 * Makes the runtime for one call. `call` is the host request's id and `context` the call's
 * `params.runtime`; with `context` null every forwarded method rejects at once with
 * RuntimeUnavailableError and writes nothing.
 */
export function createRuntimeProxy(scope: RuntimeScope, call: RequestId | null, context: RuntimeContext | null): RuntimeProxy {
  const proxy = Object.create(proto) as ProxyFields;
  proxy[SCOPE] = scope;
  proxy[CALL] = call;
  proxy[CONTEXT] = context;
  return proxy as unknown as RuntimeProxy;
}

/**
 * Reads a call's `params.runtime` (protocol.md 11.1): null when absent or not an object; members
 * of the wrong type are left out (must-ignore).
 */
export function readRuntimeContext(value: unknown): RuntimeContext | null {
  if (!isObject(value)) return null;
  const context: RuntimeContext = {};
  const agentId = value["agentId"];
  if (typeof agentId === "string") context.agentId = agentId;
  const character = value["character"];
  if (isObject(character)) context.character = character as JsonObject;
  return context;
}
