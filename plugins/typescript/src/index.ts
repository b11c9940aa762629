/**
 * @elizaos/interop: load elizaOS plugins written in any language from TypeScript
 * (Rust via WASM, Python and TypeScript via IPC), and serve TypeScript plugins to any host.
 * The wire format and ABIs are specified in docs/protocol.md.
 */
// Plugin side.
export * from "./types.ts";
export * from "./protocol.ts";
export { serve } from "./bridge.ts";
// Host side.
export * from "./errors.ts";
export * from "./loaded-plugin.ts";
export * from "./loaders.ts";
export * from "./wasm.ts";
