/**
 * IPC bridge server: `<node|bun> bridge-server.ts ./my-plugin.ts [--max-message-bytes N]` loads the
 * module (named export `plugin`, else the default export) and serves it on stdin/stdout
 * (protocol.md section 3). stdout carries protocol only: console output and direct writes to
 * process.stdout are redirected to stderr before the user module is imported.
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { existsSync } from "node:fs";
import { inspect } from "node:util";
import { serve } from "./bridge.ts";
import type { Plugin } from "./types.ts";

// 1. Keep the real stdout for protocol lines, then send everything else to stderr.
const protocolWrite = process.stdout.write.bind(process.stdout) as (chunk: string, cb?: (err?: Error | null) => void) => boolean;
const toStderr = (...args: unknown[]): void => {
  const text = args.map((a) => (typeof a === "string" ? a : inspect(a))).join(" ");
  process.stderr.write(text + "\n");
};
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;
console.warn = toStderr;
console.trace = toStderr;
console.dir = (item: unknown): void => toStderr(item);
console.table = (item: unknown): void => toStderr(item);
process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
// The host closed its end of stdout (EPIPE): nobody is listening any more, so stop quietly.
process.stdout.on("error", () => process.exit(0));

function die(message: string): never {
  process.stderr.write(`elizaos-interop bridge: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): { path: string; maxMessageBytes?: number } {
  let path: string | undefined;
  let maxMessageBytes: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--max-message-bytes") {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n <= 0) die(`--max-message-bytes expects a positive integer, received ${JSON.stringify(argv[i])}`);
      maxMessageBytes = n;
    } else if (path === undefined) path = arg;
    else die(`unexpected argument ${JSON.stringify(arg)}`);
  }
  if (path === undefined) die("usage: bridge-server.ts <plugin-module.ts> [--max-message-bytes N]");
  return maxMessageBytes === undefined ? { path } : { path, maxMessageBytes };
}

const args = parseArgs(process.argv.slice(2));
const fullPath = resolve(args.path);
if (!existsSync(fullPath)) die(`plugin module not found: ${fullPath}`);

// 2. Import the user module only now.
type PluginModule = { plugin?: unknown; default?: unknown };
let mod: PluginModule;
try {
  mod = (await import(pathToFileURL(fullPath).href)) as PluginModule;
} catch (err) {
  die(`cannot import ${fullPath}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
}
const plugin = mod.plugin ?? mod.default;
if (typeof plugin !== "object" || plugin === null || typeof (plugin as { name?: unknown }).name !== "string") {
  die(`${fullPath} exports no plugin: expected a named export "plugin" or a default export with a string "name"`);
}

try {
  await serve(plugin as Plugin, {
    input: process.stdin,
    output: { write: protocolWrite },
    ...(args.maxMessageBytes === undefined ? {} : { maxMessageBytes: args.maxMessageBytes }),
  });
} catch (err) {
  die(err instanceof Error ? err.message : String(err));
}
process.exit(0);
