/**
 * The host side of the IPC transport (protocol.md section 3): a child process speaking
 * newline-delimited JSON-RPC on its stdin/stdout. Every fault of 3.5 becomes a typed error in
 * bounded time, and the child is always killed and reaped.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { LineSplitter, utf8Text } from "./lines.ts";
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  EncodeError,
  ErrorCode,
  checkJsonLong,
  quoteLongStrings,
  isObject,
  isValidId,
  jsonTypeOf,
  loneSurrogateIn,
  responseProblem,
  type ErrorObject,
  type Method,
  type RequestId,
} from "./protocol.ts";
import { RUNTIME_METHOD_PREFIX, answerRuntimeCall, type RuntimeAnswer } from "./runtime-dispatch.ts";
import {
  InvalidPayloadError,
  PluginCallError,
  PluginCrashError,
  PluginProtocolError,
  PluginTimeoutError,
  type InteropError,
} from "./errors.ts";
import { callContext, type CallOptions, type PluginConnection } from "./loaded-plugin.ts";
import type { JsonValue } from "./types.ts";

/** Bytes of stderr kept to quote in error messages. */
export const STDERR_TAIL_BYTES = 64 * 1024;
/** Default call time-out (ms). */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** Default grace period of close() (ms). */
export const DEFAULT_CLOSE_GRACE_MS = 2_000;

/** Children still alive, killed when the host process exits. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const c of liveChildren) {
        try {
          c.kill("SIGKILL");
        } catch {
          // already gone
        }
      }
    });
  }
  liveChildren.add(child);
}

/** Options of LinePipe. */
export interface LinePipeOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  maxMessageBytes?: number;
}

/** How a child process ended. */
export interface ExitInfo {
  exitCode: number | null;
  signal: string | null;
}

/**
 * A child process with line-framed stdin/stdout and a drained stderr whose last 64 KiB are kept.
 * The IPC client and the host driver's pipe benchmark share it.
 */
export class LinePipe {
  readonly child: ChildProcess;
  readonly argv: readonly string[];
  /** Resolves once the child has exited and been reaped. */
  readonly exited: Promise<ExitInfo>;
  /** Set when the child has exited. */
  exitInfo: ExitInfo | null = null;
  /** Rejected if the process could not be started (ENOENT, EACCES ...). */
  readonly spawned: Promise<void>;
  private stderrChunks: Buffer[] = [];
  private stderrSize = 0;
  private readonly splitter: LineSplitter;
  private lineHandler: (line: Buffer) => void = () => undefined;
  private oversizeHandler: (seen: number) => void = () => undefined;
  private stdoutClosed!: Promise<void>;

  constructor(argv: readonly string[], options: LinePipeOptions = {}) {
    if (argv.length === 0 || typeof argv[0] !== "string" || argv[0].length === 0) throw new TypeError("LinePipe: argv must name a program");
    this.argv = argv;
    const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.splitter = new LineSplitter(maxBytes, { line: (l) => this.lineHandler(l), oversize: (n) => this.oversizeHandler(n) });
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ["pipe", "pipe", "pipe"],
      shell: false,
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    this.child = child;
    trackChild(child);
    this.spawned = new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", (err) => reject(err));
    });
    this.spawned.catch(() => undefined);
    child.stdin?.on("error", () => undefined); // EPIPE after the child died: reported through exit
    this.stdoutClosed = new Promise<void>((resolve) => {
      child.stdout?.on("end", resolve);
      child.stdout?.on("close", resolve);
      child.stdout?.on("error", () => resolve());
    });
    child.stdout?.on("data", (chunk: Buffer) => this.splitter.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => this.keepStderr(chunk));
    child.stderr?.on("error", () => undefined);
    this.exited = new Promise<ExitInfo>((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (done) return;
        done = true;
        liveChildren.delete(child);
        const info = { exitCode: code, signal: signal };
        // Give stdout a moment to deliver what the child wrote before it died.
        const flushed = Promise.race([this.stdoutClosed, new Promise((r) => setTimeout(r, 200))]);
        void flushed.then(() => {
          this.exitInfo = info;
          resolve(info);
        });
      };
      child.once("exit", finish);
      child.once("error", () => {
        // spawn failure: no exit event follows
        if (child.pid === undefined) finish(null, null);
      });
    });
  }

  /** Process id (undefined if spawning failed). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  private referenced = true;
  /**
   * Whether the child keeps the host's event loop alive. An idle plugin does not, so a script that
   * forgets close() still ends (the exit hook then kills the child); a call in flight does.
   */
  setReferenced(on: boolean): void {
    if (on === this.referenced) return;
    this.referenced = on;
    // The stdio streams are net.Sockets (ref/unref) in Node; look the methods up rather than assume.
    type Refable = { ref?: () => unknown; unref?: () => unknown };
    const handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as unknown as (Refable | null)[];
    for (const h of handles) {
      if (h === null) continue;
      const f = on ? h.ref : h.unref;
      if (typeof f === "function") f.call(h);
    }
  }

  /** Installs the receivers of stdout lines and oversize notices. */
  onLines(line: (bytes: Buffer) => void, oversize: (seen: number) => void): void {
    this.lineHandler = line;
    this.oversizeHandler = oversize;
  }

  /** Writes one line (the `\n` is added). */
  writeLine(line: string): void {
    this.child.stdin?.write(line + "\n");
  }

  /** Closes the child's stdin (EOF). */
  endInput(): void {
    this.child.stdin?.end();
  }

  /** The last 64 KiB of the child's stderr, as text. */
  stderrTail(): string {
    const all = Buffer.concat(this.stderrChunks, this.stderrSize);
    return all.subarray(Math.max(0, all.length - STDERR_TAIL_BYTES)).toString("utf8");
  }

  /** Sends a signal if the child is still running. */
  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.exitInfo === null && this.child.exitCode === null && this.child.signalCode === null) {
      try {
        this.child.kill(signal);
      } catch {
        // already gone
      }
    }
  }

  /** Waits for the exit, up to `ms`; true if it exited. */
  async waitExit(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.exited.then(() => true), new Promise<boolean>((res) => (timer = setTimeout(() => res(false), ms)))]);
    clearTimeout(timer);
    return r;
  }

  /** Kills the child and waits until it is reaped. */
  async destroy(): Promise<ExitInfo> {
    this.kill("SIGKILL");
    this.child.stdin?.destroy();
    return this.exited;
  }

  /** One ping-pong: writes a line and resolves with the next line read (used for the pipe floor). */
  roundTrip(line: string): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.onLines(
        (bytes) => resolve(Buffer.from(bytes)),
        (seen) => reject(new Error(`line of at least ${seen} bytes exceeds the limit`)),
      );
      this.writeLine(line);
    });
  }

  private keepStderr(chunk: Buffer): void {
    this.stderrChunks.push(chunk);
    this.stderrSize += chunk.length;
    if (this.stderrSize > 2 * STDERR_TAIL_BYTES) {
      const all = Buffer.concat(this.stderrChunks, this.stderrSize);
      const tail = Buffer.from(all.subarray(all.length - STDERR_TAIL_BYTES));
      this.stderrChunks = [tail];
      this.stderrSize = tail.length;
    }
  }
}

/** Options of an IPC plugin connection. */
export interface IpcOptions extends LinePipeOptions {
  /** Default per-call time-out in ms (30 s). */
  timeoutMs?: number;
  /** Grace period of close() in ms (2 s): for the exit after shutdown, and between SIGTERM and SIGKILL. */
  closeGraceMs?: number;
}

interface Pending {
  method: string;
  member: string | undefined;
  resolve(value: unknown): void;
  reject(err: InteropError): void;
  /** performance.now() deadline, Infinity without a time-out. */
  deadline: number;
  timeoutMs: number;
  /** The object answering this call's runtime requests (protocol.md section 11), if any. */
  runtime: object | undefined;
}

/** An IPC connection to a plugin process (protocol.md section 3, host side). */
export class IpcConnection implements PluginConnection {
  readonly transport = "ipc" as const;
  /** Runtime requests from the plugin are answered (protocol.md section 11). */
  readonly answersRuntimeCalls = true;
  /**
   * Whether close() sends `shutdown`: only to a plugin that declared the "shutdown" capability
   * (protocol.md 3.4, section 12); set by the loader once the manifest is read.
   */
  sendsShutdown = false;
  label: string;
  readonly pipe: LinePipe;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly defaultTimeoutMs: number;
  private readonly closeGraceMs: number;
  private readonly maxBytes: number;
  /** Set once the connection is unusable; later calls fail with PluginCrashError. */
  private closedReason: string | null = null;
  private closing: Promise<void> | null = null;
  /**
   * One timer for all pending calls, armed for the earliest deadline. Arming a timer per call
   * costs more than the pipe round trip itself in Node, so answered calls just leave it be.
   */
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepAt = Number.POSITIVE_INFINITY;

  constructor(argv: readonly string[], label: string, options: IpcOptions = {}) {
    this.label = label;
    this.defaultTimeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.closeGraceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
    this.maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.pipe = new LinePipe(argv, options);
    this.pipe.onLines(
      (line) => this.onLine(line),
      (seen) => this.protocolFault(`message of at least ${seen} bytes exceeds limit ${this.maxBytes}`, ""),
    );
    this.pipe.spawned.catch((err: unknown) => {
      this.failAll((p) => new PluginCrashError(this.ctx(p.method, p.member), `could not start ${JSON.stringify(this.pipe.argv[0])}: ${(err as Error).message}`));
    });
    void this.pipe.exited.then((info) => this.onExit(info));
  }

  /** Process id of the plugin. */
  get pid(): number | undefined {
    return this.pipe.pid;
  }

  request(method: Exclude<Method, "shutdown">, params: Record<string, unknown>, member: string | undefined, options?: CallOptions, runtime?: object): Promise<unknown> {
    return this.send(method, params, member, options?.timeoutMs ?? this.defaultTimeoutMs, runtime);
  }

  stderrTail(): string {
    return this.pipe.stderrTail();
  }

  noop(): void {
    throw new TypeError(`${this.label}: the ipc transport has no in-process no-op`);
  }

  private ctx(method: string, member: string | undefined): { plugin: string; method: string; transport: "ipc" } {
    return callContext(this.label, method, member, "ipc") as { plugin: string; method: string; transport: "ipc" };
  }

  private send(method: Method, params: Record<string, unknown>, member: string | undefined, timeoutMs: number, runtime: object | undefined): Promise<unknown> {
    if (this.closedReason !== null) {
      return Promise.reject(new PluginCrashError(this.ctx(method, member), this.closedReason, { ...this.exitFields(), stderrTail: this.pipe.stderrTail() }));
    }
    const id = this.nextId++;
    let line: string;
    try {
      const long = checkJsonLong(params, "$");
      line = JSON.stringify({ id, method, params: long ? quoteLongStrings(params) : params });
    } catch (err) {
      if (err instanceof EncodeError) return Promise.reject(new InvalidPayloadError(this.ctx(method, member), err.path, err.message));
      return Promise.reject(new InvalidPayloadError(this.ctx(method, member), "$", (err as Error).message));
    }
    const size = line.length <= this.maxBytes / 3 ? line.length : Buffer.byteLength(line);
    if (size > this.maxBytes) {
      return Promise.reject(new InvalidPayloadError(this.ctx(method, member), "$", `request of ${size} bytes exceeds limit ${this.maxBytes}`));
    }
    return new Promise<unknown>((resolve, reject) => {
      const timed = timeoutMs > 0 && Number.isFinite(timeoutMs);
      const deadline = timed ? performance.now() + timeoutMs : Number.POSITIVE_INFINITY;
      this.pending.set(id, { method, member, resolve, reject, deadline, timeoutMs, runtime });
      this.pipe.setReferenced(true);
      if (deadline < this.sweepAt) this.armSweep(deadline);
      this.pipe.writeLine(line);
    });
  }

  private armSweep(at: number): void {
    clearTimeout(this.sweepTimer);
    this.sweepAt = at;
    this.sweepTimer = setTimeout(() => this.sweep(), Math.max(0, Math.ceil(at - performance.now())));
    this.sweepTimer.unref(); // pending calls keep the process alive through the child's pipes
  }

  /** Fails the first overdue call (which kills the plugin and fails the rest), or re-arms. */
  private sweep(): void {
    this.sweepTimer = undefined;
    this.sweepAt = Number.POSITIVE_INFINITY;
    if (this.closedReason !== null) return;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [id, entry] of this.pending) {
      if (entry.deadline <= now) {
        this.onTimeout(id, entry.timeoutMs);
        return;
      }
      if (entry.deadline < next) next = entry.deadline;
    }
    if (next !== Number.POSITIVE_INFINITY) this.armSweep(next);
  }

  private onLine(bytes: Buffer): void {
    const excerpt = (): string => bytes.subarray(0, 200).toString("utf8");
    let message: unknown;
    let text: string;
    try {
      text = utf8Text(bytes);
    } catch {
      this.protocolFault("stdout line is not valid UTF-8", excerpt());
      return;
    }
    try {
      message = JSON.parse(text);
    } catch {
      this.protocolFault("stdout line is not JSON", excerpt());
      return;
    }
    const surrogate = loneSurrogateIn(text, message);
    if (surrogate !== null) {
      this.protocolFault(`stdout line is not I-JSON: ${surrogate}`, excerpt());
      return;
    }
    if (isObject(message) && "method" in message) {
      this.onRuntimeRequest(message, excerpt);
      return;
    }
    const problem = responseProblem(message);
    if (problem !== null) {
      this.protocolFault(`invalid response: ${problem}`, excerpt());
      return;
    }
    const msg = message as { id: unknown; result?: unknown; error?: { code: number; message: string; data?: JsonValue } };
    // Host ids are integers: a string id ("1" for 1) matches nothing.
    const entry = typeof msg.id === "number" ? this.pending.get(msg.id) : undefined;
    if (entry === undefined) {
      if (msg.id === null && msg.error !== undefined) {
        this.protocolFault(`plugin could not read a request: error ${msg.error.code}: ${msg.error.message}`, excerpt());
      } else {
        this.protocolFault(`unexpected id ${JSON.stringify(msg.id)}`, excerpt());
      }
      return;
    }
    this.pending.delete(msg.id as number);
    if (this.pending.size === 0) this.pipe.setReferenced(false);
    if (msg.error !== undefined) {
      const e = msg.error;
      entry.reject(new PluginCallError(this.ctx(entry.method, entry.member), e.code, e.message, e.data));
    } else {
      entry.resolve(msg.result);
    }
  }

  /**
   * A request from the plugin (protocol.md 11.2): finds the call in flight named by `params.call`,
   * calls that call's runtime object without blocking this reader (the runtime method may call the
   * same plugin), and answers on the plugin's stdin. A request without a readable id or method is
   * garbage (the stream state is unknown): PluginProtocolError, as for any invalid line.
   */
  private onRuntimeRequest(message: Record<string, unknown>, excerpt: () => string): void {
    const id = message["id"];
    const method = message["method"];
    if (!isValidId(id)) {
      this.protocolFault(`invalid request from the plugin: id must be an integer or a non-empty string, received ${jsonTypeOf(id)}`, excerpt());
      return;
    }
    if (typeof method !== "string") {
      this.protocolFault(`invalid request from the plugin: method must be a string, received ${jsonTypeOf(method)}`, excerpt());
      return;
    }
    const params = message["params"] ?? {};
    if (!isObject(params)) {
      this.answer(id, { error: { code: ErrorCode.InvalidRequest, message: `invalid request: params must be an object, received ${jsonTypeOf(params)}` } });
      return;
    }
    if (!method.startsWith(RUNTIME_METHOD_PREFIX)) {
      this.answer(id, { error: { code: ErrorCode.MethodNotFound, message: `method not found: ${JSON.stringify(method)} (a host answers only runtime.* requests)`, data: { method } } });
      return;
    }
    const call = params["call"];
    const entry = typeof call === "number" ? this.pending.get(call) : undefined;
    if (entry?.runtime === undefined) {
      this.answer(id, { error: { code: ErrorCode.InvalidParams, message: `runtime call for unknown call ${JSON.stringify(call) ?? "(missing)"}`, data: { param: "call" } } });
      return;
    }
    const args = params["args"];
    if (!Array.isArray(args)) {
      const received = jsonTypeOf(args);
      this.answer(id, {
        error: { code: ErrorCode.InvalidParams, message: `invalid params: args must be an array, received ${received}`, data: { param: "args", expected: "array", received } },
      });
      return;
    }
    void answerRuntimeCall(entry.runtime, method.slice(RUNTIME_METHOD_PREFIX.length), args).then((answer) => this.answer(id, answer));
  }

  /** Writes the response to a runtime request, unless the plugin is gone; an oversize result becomes -32603. */
  private answer(id: RequestId, answer: RuntimeAnswer): void {
    if (this.closedReason !== null || this.pipe.exitInfo !== null) return;
    let line = JSON.stringify("result" in answer ? { id, result: answer.result } : { id, error: answer.error });
    const size = line.length <= this.maxBytes / 3 ? line.length : Buffer.byteLength(line);
    if (size > this.maxBytes) {
      const error: ErrorObject = { code: ErrorCode.InternalError, message: `runtime answer of ${size} bytes exceeds limit ${this.maxBytes}` };
      line = JSON.stringify({ id, error });
    }
    this.pipe.writeLine(line);
  }

  /** Garbage on stdout: every pending call fails, the child is killed (the stream state is unknown). */
  private protocolFault(detail: string, excerpt: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = `plugin is closed after a protocol error: ${detail}`;
    this.failAll((p) => new PluginProtocolError(this.ctx(p.method, p.member), detail, excerpt));
    void this.pipe.destroy();
  }

  private onTimeout(id: number, timeoutMs: number): void {
    const entry = this.pending.get(id);
    if (entry === undefined || this.closedReason !== null) return;
    this.closedReason = `plugin is closed: it was killed after ${entry.method} timed out after ${timeoutMs} ms`;
    this.pending.delete(id);
    entry.reject(new PluginTimeoutError(this.ctx(entry.method, entry.member), timeoutMs));
    this.failAll(
      (p) =>
        new PluginTimeoutError(
          this.ctx(p.method, p.member),
          timeoutMs,
          `was abandoned: the plugin was killed after ${entry.method}${entry.member === undefined ? "" : `(${JSON.stringify(entry.member)})`} timed out after ${timeoutMs} ms`,
        ),
    );
    void this.pipe.destroy();
  }

  private exitFields(): { exitCode: number | null; signal: string | null } {
    const info = this.pipe.exitInfo;
    return { exitCode: info?.exitCode ?? null, signal: info?.signal ?? null };
  }

  private onExit(info: ExitInfo): void {
    const how = info.signal !== null ? `signal ${info.signal}` : `exit code ${String(info.exitCode)}`;
    if (this.closedReason === null) this.closedReason = `plugin process exited (${how})`;
    const reason = `plugin process exited (${how})`;
    this.failAll((p) => new PluginCrashError(this.ctx(p.method, p.member), reason, { ...info, stderrTail: this.pipe.stderrTail() }));
  }

  private failAll(make: (p: Pending) => InteropError): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.sweepAt = Number.POSITIVE_INFINITY;
    for (const p of entries) p.reject(make(p));
  }

  /**
   * Shuts the plugin down: `shutdown` to a plugin that declared the capability, else stdin EOF at
   * once; wait up to the grace period for the exit, close stdin, SIGTERM, SIGKILL after another
   * grace period; always reaps the child. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const grace = this.closeGraceMs;
    if (this.closedReason === null) {
      this.closedReason = "plugin is closed";
      if (this.sendsShutdown) {
        const id = this.nextId++;
        try {
          this.pipe.writeLine(JSON.stringify({ id, method: "shutdown", params: {} }));
        } catch {
          // stdin already gone; the exit is handled below
        }
      } else {
        // A plugin without the "shutdown" capability (the seed's dialect) stops on stdin EOF.
        this.pipe.endInput();
      }
    }
    if (!(await this.pipe.waitExit(grace))) {
      this.pipe.endInput();
      this.pipe.kill("SIGTERM");
      if (!(await this.pipe.waitExit(grace))) this.pipe.kill("SIGKILL");
    }
    await this.pipe.exited;
    this.failAll((p) => new PluginCrashError(this.ctx(p.method, p.member), "plugin is closed", { ...this.exitFields(), stderrTail: this.pipe.stderrTail() }));
  }
}
