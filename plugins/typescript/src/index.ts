/**
 * @elizaos/interop: load elizaOS plugins written in any language from TypeScript
 * (Rust via WASM, Python and TypeScript via IPC), and serve TypeScript plugins to any host.
 * The wire format and ABIs are specified in docs/protocol.md.
 *
 * This file is the package's whole public API, every name listed by hand (test/public-api.test.ts
 * pins the list). The wire helpers (JSON profile, request parsing, result checks), the transports'
 * connection classes and the bridge's runtime channel stay internal: import them from their module
 * inside this repository.
 */

// Data model (protocol.md section 1) and the shapes a TypeScript plugin exports.
export type {
  JsonValue,
  JsonObject,
  Content,
  Memory,
  State,
  Options,
  Config,
  ActionResult,
  ProviderResult,
  EvaluatorResult,
  ActionDescriptor,
  ProviderDescriptor,
  EvaluatorDescriptor,
  Manifest,
  BridgeRuntime,
  Awaitable,
  Action,
  Provider,
  Evaluator,
  Plugin,
} from "./types.ts";

// Wire vocabulary by name: error codes (section 4), method names (3.3), the message size limit.
export { ErrorCode, METHODS, DEFAULT_MAX_MESSAGE_BYTES, type Method, type ErrorObject } from "./protocol.ts";

// Plugin side: serving a plugin over IPC (section 3) and the manifest it sends.
export { serve, type ServeOptions, type ServeEnd, type BridgeInput, type BridgeOutput } from "./bridge.ts";
export { manifestOf, PROTOCOL_VERSION, BRIDGE_CAPABILITIES, type PluginOrigin, type HandlerCallback } from "./elizaos-adapter.ts";

// Plugin side: the runtime a handler gets (section 11) and its errors.
export {
  RuntimeUnavailableError,
  RuntimeCallError,
  FORWARDED_RUNTIME_METHODS,
  LOCAL_RUNTIME_METHODS,
  type RuntimeProxy,
  type RuntimeLogger,
  type ForwardedRuntimeMethod,
} from "./runtime-proxy.ts";

// Host side: typed errors (section 7.2).
export {
  InteropError,
  PluginLoadError,
  PluginCallError,
  PluginTimeoutError,
  PluginCrashError,
  PluginProtocolError,
  InvalidPayloadError,
  type Transport,
  type ErrorContext,
} from "./errors.ts";

// Host side: loaders (section 7.1) and the plugin object they return.
export {
  loadIpcPlugin,
  loadPythonPlugin,
  loadTsPlugin,
  currentRuntime,
  BRIDGE_SERVER_PATH,
  DEFAULT_START_TIMEOUT_MS,
  type IpcLoadOptions,
  type PythonLoadOptions,
  type TsLoadOptions,
  type TsRuntime,
} from "./loaders.ts";
export { loadWasmPlugin, type WasmOptions } from "./wasm.ts";
export { LoadedPlugin, type CallOptions, type LoadedAction, type LoadedProvider, type LoadedEvaluator, type AnyRuntime } from "./loaded-plugin.ts";
// LinePipe: the IPC client's child process with line framing; the host driver measures the pipe floor with it (section 10).
export { LinePipe, STDERR_TAIL_BYTES, DEFAULT_CALL_TIMEOUT_MS, DEFAULT_CLOSE_GRACE_MS, type LinePipeOptions, type IpcOptions, type ExitInfo } from "./ipc.ts";

// Host side: answering a plugin's runtime calls (section 11).
export { InMemoryRuntime, type World, type RuntimeCall, type ProviderSource } from "./in-memory-runtime.ts";
export { answerRuntimeCall, runtimeContext, type RuntimeAnswer } from "./runtime-dispatch.ts";
