/**
 * Typed errors of the host API (protocol.md 7.2). Every message names the plugin, the method and,
 * where known, the transport, e.g. `conformance-fixture: invokeAction("slow") over ipc timed out after 200 ms`.
 */
import type { JsonValue } from "./types.ts";

/** Transports a plugin can be loaded over. */
export type Transport = "ipc" | "wasm";

/** Where an error happened: plugin (name or path), method (with the member name) and transport. */
export interface ErrorContext {
  plugin: string;
  method: string;
  transport?: Transport | undefined;
}

function prefix(ctx: ErrorContext): string {
  return `${ctx.plugin}: ${ctx.method}${ctx.transport === undefined ? "" : ` over ${ctx.transport}`}`;
}

/** Base of every error raised by the host API. */
export class InteropError extends Error {
  readonly plugin: string;
  readonly method: string;
  readonly transport: Transport | undefined;
  /** The message without the plugin/method/transport prefix. */
  readonly detail: string;
  constructor(ctx: ErrorContext, detail: string, options?: { cause?: unknown }) {
    super(`${prefix(ctx)} ${detail}`, options);
    this.name = new.target.name;
    this.plugin = ctx.plugin;
    this.method = ctx.method;
    this.transport = ctx.transport;
    this.detail = detail;
  }
}

/** The plugin could not be loaded: file missing, not a plugin, bad manifest, start time-out, toolchain missing. */
export class PluginLoadError extends InteropError {}

/** The plugin answered with a JSON-RPC error (protocol.md section 4). */
export class PluginCallError extends InteropError {
  readonly code: number;
  /** The plugin's error message (the full `message` also carries the context). */
  readonly errorMessage: string;
  readonly data: JsonValue | undefined;
  constructor(ctx: ErrorContext, code: number, errorMessage: string, data?: JsonValue) {
    super(ctx, `failed with error ${code}: ${errorMessage}`);
    this.code = code;
    this.errorMessage = errorMessage;
    this.data = data;
  }
}

/** No answer within the time-out; the plugin process was killed. */
export class PluginTimeoutError extends InteropError {
  readonly timeoutMs: number;
  constructor(ctx: ErrorContext, timeoutMs: number, detail?: string) {
    super(ctx, detail ?? `timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** The plugin process exited, a WASM trap could not be recovered, or the plugin is closed. */
export class PluginCrashError extends InteropError {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderrTail: string;
  constructor(ctx: ErrorContext, detail: string, info: { exitCode?: number | null; signal?: string | null; stderrTail?: string } = {}) {
    const tail = info.stderrTail ?? "";
    super(ctx, tail.length > 0 ? `${detail}; stderr tail:\n${tail.slice(-2000)}` : detail);
    this.exitCode = info.exitCode ?? null;
    this.signal = info.signal ?? null;
    this.stderrTail = tail;
  }
}

/** The plugin broke the protocol: garbage, unexpected id, oversize message, invalid envelope. */
export class PluginProtocolError extends InteropError {
  /** The first 200 bytes of the offending message, as text. */
  readonly excerpt: string;
  constructor(ctx: ErrorContext, detail: string, excerpt = "") {
    super(ctx, excerpt.length > 0 ? `${detail} (received ${JSON.stringify(excerpt)})` : detail);
    this.excerpt = excerpt;
  }
}

/** The host refused to send a value outside the JSON profile (protocol.md section 2). */
export class InvalidPayloadError extends InteropError {
  /** JSONPath-like path of the offending value, e.g. `$.memory.content.n`. */
  readonly path: string;
  constructor(ctx: ErrorContext, path: string, detail: string) {
    super(ctx, `refused to send the payload: ${detail}`);
    this.path = path;
  }
}
