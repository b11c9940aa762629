/**
 * The host-side plugin object (protocol.md 7.1): the same shape whatever the transport, so user code
 * does not change when the transport does. It checks every result against the data model and hands
 * back the canonical form (null optional members dropped).
 */
import { InvalidPayloadError, PluginProtocolError, type Transport } from "./errors.ts";
import {
  InvalidResult,
  checkActionResult,
  checkEvaluatorResult,
  checkProviderResult,
  checkValidateAnswer,
  type Method,
} from "./protocol.ts";
import { runtimeContext } from "./runtime-dispatch.ts";
import type {
  ActionDescriptor,
  ActionResult,
  Config,
  EvaluatorDescriptor,
  EvaluatorResult,
  JsonValue,
  Manifest,
  Memory,
  ProviderDescriptor,
  ProviderResult,
  State,
  Options,
} from "./types.ts";

/** Per-call options. */
export interface CallOptions {
  /** Call time-out in ms (IPC only; default: the plugin's call time-out, 30 s). */
  timeoutMs?: number;
}

/**
 * What a transport provides to LoadedPlugin. `request` sends one method call and resolves with the
 * raw result value, or rejects with a typed error (errors.ts).
 */
export interface PluginConnection {
  readonly transport: Transport;
  /** Name used in error messages (the manifest name once known). */
  label: string;
  /** Process id of the plugin (IPC), undefined in-process. */
  readonly pid?: number | undefined;
  /** The last 64 KiB of the plugin's stderr (IPC). */
  stderrTail?(): string;
  /**
   * `runtime`, when given, is the object that answers the plugin's runtime requests made while this
   * call runs (protocol.md section 11); in-process transports accept it and ignore it (11.6).
   */
  request(method: Exclude<Method, "shutdown">, params: Record<string, unknown>, member: string | undefined, options?: CallOptions, runtime?: object): Promise<unknown>;
  /** Whether the transport answers runtime requests (IPC); in-process transports do not (11.6). */
  readonly answersRuntimeCalls: boolean;
  /** In-process transports answer synchronously (saves a promise per call on the hot path). */
  callSync?(method: Exclude<Method, "shutdown">, params: Record<string, unknown>, member: string | undefined): unknown;
  /** The transport's in-process no-op (the latency floor); throws where there is none. */
  noop(): void;
  close(): Promise<void>;
}

/**
 * The elizaOS runtime argument handlers take (an `IAgentRuntime`, an InMemoryRuntime, any object).
 * Over IPC the plugin's runtime calls made during that call are answered from it (protocol.md
 * section 11); `null`/`undefined` means "no runtime".
 */
export type AnyRuntime = unknown;

/** A loaded plugin's action. */
export interface LoadedAction extends ActionDescriptor {
  handler(runtime: AnyRuntime, memory: Memory, state?: State, options?: Options): Promise<ActionResult>;
  validate(runtime: AnyRuntime, memory: Memory, state?: State): Promise<boolean>;
}

/** A loaded plugin's provider. */
export interface LoadedProvider extends ProviderDescriptor {
  get(runtime: AnyRuntime, memory: Memory, state?: State): Promise<ProviderResult>;
}

/** A loaded plugin's evaluator. */
export interface LoadedEvaluator extends EvaluatorDescriptor {
  validate(runtime: AnyRuntime, memory: Memory, state?: State): Promise<boolean>;
  handler(runtime: AnyRuntime, memory: Memory, state?: State): Promise<EvaluatorResult>;
}

const identity = (v: unknown): JsonValue => v as JsonValue;
const CHECKS: Record<Exclude<Method, "shutdown">, (v: unknown) => JsonValue> = {
  getManifest: identity,
  init: identity,
  validateAction: checkValidateAnswer,
  validateEvaluator: checkValidateAnswer,
  invokeAction: checkActionResult,
  getProvider: checkProviderResult,
  invokeEvaluator: checkEvaluatorResult,
};

const killOnCollect = new FinalizationRegistry<PluginConnection>((conn) => {
  void conn.close().catch(() => undefined);
});

/** A plugin loaded over any transport. */
export class LoadedPlugin {
  readonly manifest: Manifest;
  readonly name: string;
  readonly description: string;
  readonly version: string;
  readonly language: string;
  readonly transport: Transport;
  readonly actions: LoadedAction[];
  readonly providers: LoadedProvider[];
  readonly evaluators: LoadedEvaluator[];
  /** The plugin's protocol version (section 12); 0 for a seed-dialect plugin without one. */
  readonly protocolVersion: number;
  /** Capabilities the plugin declared (`"runtime"`, `"shutdown"`, ...). */
  readonly capabilities: readonly string[];
  private readonly conn: PluginConnection;
  /** True when runtime objects are forwarded: the transport answers runtime calls and the plugin (protocolVersion >= 1) declared "runtime". */
  private readonly forwardsRuntime: boolean;

  constructor(manifest: Manifest, conn: PluginConnection) {
    this.manifest = manifest;
    this.name = manifest.name;
    this.description = manifest.description;
    this.version = manifest.version;
    this.language = manifest.language;
    this.transport = conn.transport;
    this.protocolVersion = typeof manifest.protocolVersion === "number" ? manifest.protocolVersion : 0;
    this.capabilities = Array.isArray(manifest.capabilities) ? manifest.capabilities : [];
    this.conn = conn;
    // A manifest without protocolVersion is the seed's dialect (version 0): no runtime params (section 12).
    this.forwardsRuntime = conn.answersRuntimeCalls && this.protocolVersion >= 1 && this.capabilities.includes("runtime");
    conn.label = manifest.name;
    // Each object keeps its descriptor's members, known or not (examples, ...), then the callables.
    this.actions = manifest.actions.map((d) => ({
      ...d,
      handler: (runtime: AnyRuntime, memory: Memory, state?: State, options?: Options) => this.invokeAction(d.name, memory, state, options, undefined, runtime),
      validate: (runtime: AnyRuntime, memory: Memory, state?: State) => this.validateAction(d.name, memory, state, undefined, runtime),
    }));
    this.providers = manifest.providers.map((d) => ({
      ...d,
      get: (runtime: AnyRuntime, memory: Memory, state?: State) => this.getProvider(d.name, memory, state, undefined, runtime),
    }));
    this.evaluators = manifest.evaluators.map((d) => ({
      ...d,
      validate: (runtime: AnyRuntime, memory: Memory, state?: State) => this.validateEvaluator(d.name, memory, state, undefined, runtime),
      handler: (runtime: AnyRuntime, memory: Memory, state?: State) => this.invokeEvaluator(d.name, memory, state, undefined, runtime),
    }));
    killOnCollect.register(this, conn, this);
  }

  /** Sends `init` with a config (the last one wins). Any answer is accepted (the seed's `{"success": true}` too). */
  async init(config: Config = {}, options?: CallOptions): Promise<void> {
    await this.send("init", { config }, undefined, options, identity, undefined);
  }

  /**
   * Asks whether an action should run for this memory. `runtime` (optional, last) answers the
   * plugin's runtime calls during this call (protocol.md section 11); so for every method below.
   */
  validateAction(name: string, memory: Memory, state?: State, options?: CallOptions, runtime?: AnyRuntime): Promise<boolean> {
    return this.send("validateAction", { name, memory, state: state ?? {} }, name, options, checkValidateAnswer, runtime);
  }

  /** Runs an action. */
  invokeAction(name: string, memory: Memory, state?: State, actionOptions?: Options, options?: CallOptions, runtime?: AnyRuntime): Promise<ActionResult> {
    return this.send("invokeAction", { name, memory, state: state ?? {}, options: actionOptions ?? {} }, name, options, checkActionResult as unknown as (v: unknown) => ActionResult, runtime);
  }

  /** Reads a provider. */
  getProvider(name: string, memory: Memory, state?: State, options?: CallOptions, runtime?: AnyRuntime): Promise<ProviderResult> {
    return this.send("getProvider", { name, memory, state: state ?? {} }, name, options, checkProviderResult as unknown as (v: unknown) => ProviderResult, runtime);
  }

  /** Asks whether an evaluator should run. */
  validateEvaluator(name: string, memory: Memory, state?: State, options?: CallOptions, runtime?: AnyRuntime): Promise<boolean> {
    return this.send("validateEvaluator", { name, memory, state: state ?? {} }, name, options, checkValidateAnswer, runtime);
  }

  /** Runs an evaluator; `null` when it has nothing to say. */
  invokeEvaluator(name: string, memory: Memory, state?: State, options?: CallOptions, runtime?: AnyRuntime): Promise<EvaluatorResult> {
    return this.send("invokeEvaluator", { name, memory, state: state ?? {} }, name, options, checkEvaluatorResult as unknown as (v: unknown) => EvaluatorResult, runtime);
  }

  /**
   * One call: synchronous for in-process transports (one settled promise), else through the pipe.
   * With a runtime object and a plugin that declared "runtime", the call context joins the params
   * and the connection answers the plugin's runtime requests from that object; without one, nothing
   * extra is done.
   */
  private send<T>(
    method: Exclude<Method, "shutdown">,
    params: Record<string, unknown>,
    member: string | undefined,
    options: CallOptions | undefined,
    check: (v: unknown) => T,
    runtime: AnyRuntime,
  ): Promise<T> {
    const conn = this.conn;
    if (conn.callSync !== undefined) {
      try {
        return Promise.resolve(this.checked(method, member, check, conn.callSync(method, params, member)));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    if (runtime !== undefined && runtime !== null && this.forwardsRuntime && typeof runtime === "object" && method !== "init" && method !== "getManifest") {
      const withContext = { ...params, runtime: runtimeContext(runtime) };
      return conn.request(method, withContext, member, options, runtime).then((raw) => this.checked(method, member, check, raw));
    }
    return conn.request(method, params, member, options).then((raw) => this.checked(method, member, check, raw));
  }

  /**
   * Sends any method of protocol.md 3.3 (except shutdown) with raw params, and checks the result like
   * the typed methods do. Bad params reach the plugin as they are (used by conformance tests and the
   * host driver); WASM refuses a non-string `name` with InvalidPayloadError. `runtime` as above.
   */
  call(method: Exclude<Method, "shutdown">, params: Record<string, unknown>, options?: CallOptions, runtime?: AnyRuntime): Promise<JsonValue> {
    const member = typeof params["name"] === "string" ? params["name"] : undefined;
    return this.send(method, params, member, options, CHECKS[method], runtime);
  }

  /** Process id of an IPC plugin's child (undefined for in-process transports). */
  get pid(): number | undefined {
    return this.conn.pid;
  }

  /** The last 64 KiB the plugin wrote to stderr (IPC; "" in-process). */
  stderrTail(): string {
    return this.conn.stderrTail?.() ?? "";
  }

  /** The transport's in-process no-op, the latency floor (WASM: `dealloc(1, 0)`); throws for IPC. */
  noop(): void {
    this.conn.noop();
  }

  /** Shuts the plugin down (IPC: shutdown, then terminate and reap the child). Idempotent. */
  async close(): Promise<void> {
    killOnCollect.unregister(this);
    await this.conn.close();
  }

  /** Makes `await using plugin = await loadX(...)` close the plugin. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private checked<T>(method: string, member: string | undefined, check: (v: unknown) => T, raw: unknown): T {
    try {
      return check(raw);
    } catch (err) {
      if (!(err instanceof InvalidResult)) throw err;
      const where = member === undefined ? method : `${method}(${JSON.stringify(member)})`;
      throw new PluginProtocolError({ plugin: this.name, method: where, transport: this.transport }, `invalid result: ${err.message}`, JSON.stringify(raw)?.slice(0, 200) ?? "");
    }
  }
}

/** Builds the error context of a call. */
export function callContext(label: string, method: string, member: string | undefined, transport: Transport): { plugin: string; method: string; transport: Transport } {
  return { plugin: label, method: member === undefined ? method : `${method}(${JSON.stringify(member)})`, transport };
}

/** Re-exported for loaders: turns an EncodeError path into an InvalidPayloadError. */
export function payloadError(label: string, method: string, member: string | undefined, transport: Transport, path: string, detail: string): InvalidPayloadError {
  return new InvalidPayloadError(callContext(label, method, member, transport), path, detail);
}

