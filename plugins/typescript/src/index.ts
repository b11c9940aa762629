/**
 * @elizaos/interop: load elizaOS plugins written in any language from TypeScript
 * (Rust via WASM, Python and TypeScript via IPC), and serve TypeScript plugins to any host.
 * The wire format and ABIs are specified in docs/protocol.md.
 */
// Plugin side.
export * from "./types.ts";
export * from "./protocol.ts";
export { serve, manifestOf, type ServeOptions, type ServeEnd, type BridgeInput, type BridgeOutput } from "./bridge.ts";
export { PROTOCOL_VERSION, BRIDGE_CAPABILITIES, adaptActionResult, type PluginOrigin, type HandlerCallback } from "./bridge.ts";
export {
  RuntimeUnavailableError,
  RuntimeCallError,
  RuntimeChannel,
  createRuntimeProxy,
  createStderrLogger,
  readRuntimeContext,
  FORWARDED_RUNTIME_METHODS,
  LOCAL_RUNTIME_METHODS,
  type RuntimeProxy,
  type RuntimeLogger,
  type RuntimeContext,
  type RuntimeScope,
  type ForwardedRuntimeMethod,
} from "./runtime-proxy.ts";
// Host side.
export * from "./errors.ts";
export { LoadedPlugin, type CallOptions, type PluginConnection, type LoadedAction, type LoadedProvider, type LoadedEvaluator, type AnyRuntime } from "./loaded-plugin.ts";
export { LinePipe, IpcConnection, STDERR_TAIL_BYTES, DEFAULT_CALL_TIMEOUT_MS, DEFAULT_CLOSE_GRACE_MS, type LinePipeOptions, type IpcOptions, type ExitInfo } from "./ipc.ts";
export * from "./loaders.ts";
export { loadWasmPlugin, WasmConnection, type WasmOptions } from "./wasm.ts";
export { InMemoryRuntime, checkWorld, type World, type RuntimeCall, type ProviderSource } from "./in-memory-runtime.ts";
export { answerRuntimeCall, runtimeContext, runtimeMethod, plainData, RUNTIME_METHOD_PREFIX, type RuntimeAnswer } from "./runtime-dispatch.ts";
