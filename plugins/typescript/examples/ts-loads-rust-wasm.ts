/**
 * Seed snippet 1: TypeScript loading the Rust eliza-classic plugin over WASM.
 * Run: node examples/ts-loads-rust-wasm.ts [path/to/elizaos_plugin_eliza_classic.wasm]
 */
import { loadWasmPlugin } from "@elizaos/interop";

const runtime = {}; // elizaOS handlers take a runtime; it is not sent over the wire
const state = {};

// Load the compiled WASM module
const wasmPath =
  process.argv[2] ?? new URL("../../rust/target/wasm32-unknown-unknown/release/elizaos_plugin_eliza_classic.wasm", import.meta.url).pathname;
const plugin = await loadWasmPlugin(wasmPath);

console.log("Plugin:", plugin.name);
console.log(
  "Actions:",
  plugin.actions.map((a) => a.name),
);

// Use the action
const result = await plugin.actions[0]!.handler(
  runtime,
  { content: { text: "I am feeling sad" } },
  state,
  {},
);
console.log("Response:", result.text);
await plugin.close();
