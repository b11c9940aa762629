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
  parseInitParams,
  parseNamedParams,
  parseRequest,
  readId,
  type ErrorObject,
  type MemberKind,
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
  function runEliza(handler: unknown, rt: RuntimeProxy, memory: Memory, state: JsonObject, opts: JsonObject, callbacks: JsonObject[]): unknown {
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
