/**
 * Seed snippet 2: TypeScript loading the Python eliza-classic plugin over IPC.
 * Run: node examples/ts-loads-python.ts [path/to/python_plugin]  (needs `pip install -e plugins/python`)
 */
import { loadPythonPlugin } from "@elizaos/interop";

const runtime = {};
const state = {};
const memory = { content: { text: "I am feeling sad" } };

// Load Python plugin via subprocess
const pluginPath = process.argv[2] ?? new URL("../../python/fixtures/eliza_classic/", import.meta.url).pathname;
const plugin = await loadPythonPlugin(pluginPath);

// Use normally - IPC is transparent
const result = await plugin.actions[0]!.handler(runtime, memory, state, {});
console.log("Plugin:", plugin.name);
console.log("Response:", result.text);
await plugin.close();
