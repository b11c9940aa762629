/**
 * The plugin side of the IPC transport (protocol.md section 3): serves a TypeScript plugin over
 * newline-delimited JSON-RPC. Each request runs as its own task, so a slow handler does not hold
 * back the others and pipelined requests may be answered out of order.
 */
import { LineSplitter, utf8Text } from "./lines.ts";
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  EncodeError,
  ErrorCode,
  InvalidResult,
  ProtocolFault,
  checkBoolean,
  checkJsonLong,
  quoteLongStrings,
  isObject,
  parseInitParams,
  parseNamedParams,
  parseRequest,
  readId,
  type ErrorObject,
  type MemberKind,
  type NamedParams,
  type RequestId,
} from "./protocol.ts";
import {
  adaptActionResult,
  checkPluginActionResult,
  checkPluginEvaluatorResult,
  checkPluginProviderResult,
  manifestOf,
  type ElizaHandler,
  type HandlerCallback,
  type PluginOrigin,
} from "./elizaos-adapter.ts";
import { RuntimeChannel, createRuntimeProxy, createStderrLogger, readRuntimeContext, type RuntimeLogger, type RuntimeProxy, type RuntimeScope } from "./runtime-proxy.ts";
import type { Action, BridgeRuntime, Config, Evaluator, JsonObject, Memory, Plugin, Provider } from "./types.ts";

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

export {
  manifestOf,
  adaptActionResult,
  checkPluginActionResult,
  checkPluginProviderResult,
  checkPluginEvaluatorResult,
  PROTOCOL_VERSION,
  BRIDGE_CAPABILITIES,
  type PluginOrigin,
  type HandlerCallback,
} from "./elizaos-adapter.ts";

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

/** Runs an elizaOS action/evaluator handler with a callback whose contents are collected. */
function runEliza(handler: unknown, rt: RuntimeProxy, p: NamedParams, callbacks: JsonObject[]): unknown {
  const callback: HandlerCallback = (content) => {
    callbacks.push(content);
    return Promise.resolve([]);
  };
  return (handler as ElizaHandler)(rt, p.memory as unknown as Memory, p.state, p.options, callback, []);
}

/** An action handler's return value and callbacks as the checked ActionResult. */
function actionResult(value: unknown, callbacks: JsonObject[]): unknown {
  return checkPluginActionResult(adaptActionResult(value, callbacks));
}

/** An evaluator handler's return value and callbacks as the checked result (null when it gave neither). */
function evaluatorResult(value: unknown, callbacks: JsonObject[]): unknown {
  return checkPluginEvaluatorResult(value === undefined && callbacks.length === 0 ? null : adaptActionResult(value, callbacks));
}

/** What dispatch() answered, and which member it came from (for invalid-result messages). */
interface Dispatched {
  result: unknown;
  kind: MemberKind | null;
  name: string;
}

/**
 * One serve() session: reads request lines, runs each request as its own task, writes answers.
 * Its methods are the steps of a request: onLine (parse), handle (one task), dispatch (method),
 * callHandler (the plugin's code), respondResult/respondError (the answer line).
 */
class BridgeSession {
  private readonly plugin: Plugin;
  private readonly manifest: ReturnType<typeof manifestOf>;
  private readonly maxBytes: number;
  private readonly eofGraceMs: number;
  private readonly input: BridgeInput;
  private readonly output: BridgeOutput;
  private readonly actions: Map<string, Action>;
  private readonly providers: Map<string, Provider>;
  private readonly evaluators: Map<string, Evaluator>;
  private readonly channel: RuntimeChannel;
  private readonly scope: RuntimeScope;
  /** Calls without a `runtime` in their params share one proxy, whose forwarded methods fail at once. */
  private readonly noHost: RuntimeProxy;
  private readonly splitter: LineSplitter;

  private config: Config = {};
  private stopped = false;
  private ended = false;
  private inFlight = 0;
  private onIdle: (() => void) | null = null;
  private lastWrite: Promise<void> = Promise.resolve();
  /** The last init (or the implicit init({}) before the first call); requests wait for it. */
  private initDone: Promise<void> | null = null;
  private resolveEnd: (how: ServeEnd) => void = () => undefined;

  constructor(plugin: Plugin, options: ServeOptions) {
    this.plugin = plugin;
    this.manifest = manifestOf(plugin, options.origin);
    this.maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.eofGraceMs = options.eofGraceMs ?? 500;
    this.input = options.input;
    this.output = options.output;
    this.actions = byName<Action>(plugin.actions);
    this.providers = byName<Provider>(plugin.providers);
    this.evaluators = byName<Evaluator>(plugin.evaluators);
    this.channel = new RuntimeChannel(this.send, this.maxBytes);
    this.scope = {
      channel: this.channel,
      logger: options.logger ?? createStderrLogger(this.manifest.name),
      config: () => this.config,
      taskWorkers: new Map(),
      events: new Map(),
      components: { actions: plugin.actions ?? [], providers: plugin.providers ?? [], evaluators: plugin.evaluators ?? [] },
    };
    this.noHost = createRuntimeProxy(this.scope, null, null);
    this.splitter = new LineSplitter(this.maxBytes, { line: this.onLine, oversize: this.onOversize });
  }

  /** Listens on the input; resolves with how the session ended, after the last write. */
  run(): Promise<ServeEnd> {
    return new Promise<ServeEnd>((resolve) => {
      this.resolveEnd = resolve;
      this.input.on("data", (chunk) => this.splitter.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk));
      this.input.on("end", this.onEnd);
      this.input.on("error", this.onEnd);
    });
  }

  // -- output ------------------------------------------------------------------------------
  private readonly send = (line: string): void => {
    this.lastWrite = new Promise<void>((resolve) => {
      this.output.write(line + "\n", () => resolve());
    });
  };

  private respondError(id: RequestId | null, error: ErrorObject): void {
    this.send(JSON.stringify({ id, error }));
  }

  private respondResult(id: RequestId, method: string, { result, kind, name }: Dispatched): void {
    let line: string;
    try {
      const long = checkJsonLong(result, "$.result");
      line = JSON.stringify({ id, result: long ? quoteLongStrings(result) : result });
    } catch (err) {
      const reason = err instanceof EncodeError ? `result is not JSON: ${err.message}` : `result cannot be serialised: ${exceptionMessage(err)}`;
      this.respondError(id, { code: ErrorCode.InvalidResult, message: `invalid result from ${kind ?? "plugin"} ${JSON.stringify(name)}: ${reason}`, data: { kind: kind ?? "plugin", name, reason } });
      return;
    }
    if (Buffer.byteLength(line) > this.maxBytes) {
      this.respondError(id, {
        code: ErrorCode.InternalError,
        message: `${method}: response of ${Buffer.byteLength(line)} bytes exceeds the bridge limit of ${this.maxBytes} bytes`,
      });
      return;
    }
    this.send(line);
  }

  // -- input -------------------------------------------------------------------------------
  private readonly onLine = (bytes: Buffer): void => {
    if (this.stopped) return;
    let text: string;
    let message: unknown;
    try {
      text = utf8Text(bytes);
    } catch {
      this.respondError(null, { code: ErrorCode.ParseError, message: "parse error: line is not valid UTF-8" });
      return;
    }
    try {
      message = JSON.parse(text);
    } catch (err) {
      this.respondError(null, { code: ErrorCode.ParseError, message: `parse error: ${exceptionMessage(err)}` });
      return;
    }
    // A line without `method` that carries a result or an error answers one of our runtime requests.
    if (isObject(message) && !("method" in message) && ("result" in message || "error" in message)) {
      if (!this.channel.deliver(message["id"], message)) {
        process.stderr.write(`elizaos-interop bridge: ignored a response for no pending runtime request (id ${JSON.stringify(message["id"]) ?? "missing"})\n`);
      }
      return;
    }
    let request;
    try {
      request = parseRequest(message);
    } catch (err) {
      this.respondError(readId(message), (err as ProtocolFault).toErrorObject());
      return;
    }
    if (request.method === "shutdown") {
      this.stopped = true;
      this.channel.close("host closed");
      this.send(JSON.stringify({ id: request.id, result: {} }));
      this.finish("shutdown");
      return;
    }
    void this.handle(request.id, request.method, request.params);
  };

  private readonly onOversize = (): void => {
    if (!this.stopped) this.respondError(null, { code: ErrorCode.InvalidRequest, message: `request exceeds ${this.maxBytes} bytes` });
  };

  private readonly onEnd = (): void => {
    const rest = this.splitter.rest();
    if (rest !== null && rest.length > 0) this.onLine(rest);
    // Nobody will answer the runtime requests still pending: their handlers unwind now.
    this.channel.close("host closed");
    if (this.inFlight === 0) {
      this.finish("eof");
      return;
    }
    const timer = setTimeout(() => this.finish("eof"), this.eofGraceMs);
    this.onIdle = () => {
      clearTimeout(timer);
      this.finish("eof");
    };
  };

  private finish(how: ServeEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.input.removeAllListeners("data");
    this.input.pause();
    void this.lastWrite.then(() => this.resolveEnd(how));
  }

  // -- one request ---------------------------------------------------------------------------
  private async handle(id: RequestId, method: string, params: Record<string, unknown>): Promise<void> {
    this.inFlight++;
    try {
      const answer = await this.dispatch(id, method, params);
      if (!this.stopped) this.respondResult(id, method, answer);
    } catch (err) {
      if (this.stopped) return;
      if (err instanceof ProtocolFault) this.respondError(id, err.toErrorObject());
      else this.respondError(id, { code: ErrorCode.InternalError, message: `internal error in the bridge while serving ${method}: ${exceptionMessage(err)}` });
    } finally {
      this.inFlight--;
      if (this.inFlight === 0 && this.onIdle) this.onIdle();
    }
  }

  /** The answer to one request; throws a ProtocolFault (synchronously or not) for an error answer. */
  private dispatch(id: RequestId, method: string, params: Record<string, unknown>): Promise<Dispatched> | Dispatched {
    switch (method) {
      case "getManifest":
        return { result: this.manifest, kind: null, name: this.manifest.name };
      case "init":
        return this.init(parseInitParams(params));
      case "validateAction":
      case "invokeAction":
      case "getProvider":
      case "validateEvaluator":
      case "invokeEvaluator":
        return this.dispatchMember(id, method, params);
      default:
        throw new ProtocolFault(ErrorCode.MethodNotFound, `method not found: ${JSON.stringify(method)}`, { method });
    }
  }

  /** The five methods that name an action, provider or evaluator. */
  private async dispatchMember(id: RequestId, method: string, params: Record<string, unknown>): Promise<Dispatched> {
    const p = parseNamedParams(params);
    await this.ensureInit();
    const memory = p.memory as unknown as Memory;
    const rt = this.runtimeFor(id, params);
    const r = rt as unknown as BridgeRuntime;
    switch (method) {
      case "validateAction": {
        const a = this.lookup(this.actions, "action", p.name);
        return { result: await this.callHandler("action", p.name, () => a.validate(r, memory, p.state), checkBoolean), kind: "action", name: p.name };
      }
      case "invokeAction": {
        const a = this.lookup(this.actions, "action", p.name);
        return { result: await this.invokeEliza("action", p, a.handler, rt, actionResult), kind: "action", name: p.name };
      }
      case "getProvider": {
        const pr = this.lookup(this.providers, "provider", p.name);
        return { result: await this.callHandler("provider", p.name, () => pr.get(r, memory, p.state), checkPluginProviderResult), kind: "provider", name: p.name };
      }
      case "validateEvaluator": {
        const e = this.lookup(this.evaluators, "evaluator", p.name);
        return { result: await this.callHandler("evaluator", p.name, () => e.validate(r, memory, p.state), checkBoolean), kind: "evaluator", name: p.name };
      }
      default: {
        const e = this.lookup(this.evaluators, "evaluator", p.name);
        return { result: await this.invokeEliza("evaluator", p, e.handler, rt, evaluatorResult), kind: "evaluator", name: p.name };
      }
    }
  }

  private runtimeFor(id: RequestId, params: Record<string, unknown>): RuntimeProxy {
    const context = params["runtime"];
    if (context === undefined) return this.noHost;
    const read = readRuntimeContext(context);
    return read === null ? this.noHost : createRuntimeProxy(this.scope, id, read);
  }

  private lookup<T>(map: Map<string, T>, kind: MemberKind, name: string): T {
    const found = map.get(name);
    if (found === undefined) {
      throw new ProtocolFault(ErrorCode.UnknownName, `unknown ${kind} ${JSON.stringify(name)} in plugin ${this.manifest.name}`, { kind, name });
    }
    return found;
  }

  /** Runs an elizaOS-style handler (invokeAction, invokeEvaluator): callbacks are collected into the result. */
  private invokeEliza(
    kind: MemberKind,
    p: NamedParams,
    handler: unknown,
    rt: RuntimeProxy,
    check: (value: unknown, callbacks: JsonObject[]) => unknown,
  ): Promise<unknown> {
    const callbacks: JsonObject[] = [];
    return this.callHandler(
      kind,
      p.name,
      () => runEliza(handler, rt, p, callbacks),
      (v) => check(v, callbacks),
    );
  }

  private async callHandler<T>(kind: MemberKind, name: string, run: () => unknown, check: (v: unknown) => T): Promise<T> {
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

  // -- init ----------------------------------------------------------------------------------
  /** The `init` method: runs after earlier inits; a failure is the plugin's (-32000). */
  private async init(newConfig: Config): Promise<Dispatched> {
    try {
      await this.runInit(newConfig);
      return { result: {}, kind: null, name: this.manifest.name };
    } catch (err) {
      throw new ProtocolFault(ErrorCode.HandlerFailed, exceptionMessage(err), {
        kind: "plugin",
        name: this.manifest.name,
        exception: exceptionType(err),
      });
    }
  }

  private runInit(newConfig: Config): Promise<void> {
    const previous = this.initDone ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(async () => {
      const before = this.config;
      this.config = newConfig;
      try {
        if (this.plugin.init) await this.plugin.init(newConfig, this.noHost as unknown as BridgeRuntime);
      } catch (err) {
        this.config = before; // a refused config does not become the current one
        throw err;
      }
    });
    this.initDone = run;
    return run;
  }

  /**
   * Waits for pending inits (calls proceed even when the last init failed). The first call with no
   * init before it runs the implicit init({}); its failure is logged on stderr, as nobody asked for it
   * (protocol.md 3.3), and the call is served.
   */
  private ensureInit(): Promise<void> {
    if (this.initDone !== null) return this.initDone.catch(() => undefined);
    return this.runInit({}).catch((err: unknown) => {
      const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      this.scope.logger.error(`implicit init({}) before the first call failed: ${why}`);
    });
  }
}

/**
 * Serves `plugin` over `input`/`output` until `shutdown` or input EOF. Resolves with how it ended,
 * after every response has been handed to `output`. It never writes anything but protocol lines.
 */
export function serve(plugin: Plugin, options: ServeOptions): Promise<ServeEnd> {
  return new BridgeSession(plugin, options).run();
}
