/**
 * IPC bridge server: `<node|bun> bridge-server.ts <entry> [--max-message-bytes N]` loads a plugin
 * module (named export `plugin`, else the default export) and serves it on stdin/stdout
 * (protocol.md section 3). `<entry>` is a module file (`.ts`, `.mts`, `.js`, ...), a package
 * directory, or a package name resolvable from the working directory (`@elizaos/plugin-bootstrap`).
 * stdout carries protocol only: console output and direct writes to process.stdout are redirected
 * to stderr before the user module is imported.
 */
import { pathToFileURL } from "node:url";
import { inspect } from "node:util";
import { serve } from "./bridge.ts";
import { forceEsmForCommonJsSources, resolveEntry, type PluginEntry } from "./plugin-entry.ts";
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

// 2. A stray rejected promise or a throw from a timer in plugin code is logged, and serving goes on
// (without these listeners Node ends the process; each request already has its own error path).
process.on("unhandledRejection", (reason) => {
  process.stderr.write(`elizaos-interop bridge: unhandled promise rejection in plugin code (still serving): ${describe(reason)}\n`);
});
process.on("uncaughtException", (err) => {
  process.stderr.write(`elizaos-interop bridge: uncaught exception in plugin code (still serving): ${describe(err)}\n`);
});

function describe(value: unknown): string {
  if (value instanceof Error) return value.stack ?? `${value.name}: ${value.message}`;
  return typeof value === "string" ? value : inspect(value);
}

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
  if (path === undefined) die("usage: bridge-server.ts <plugin module | package directory | package name> [--max-message-bytes N]");
  return maxMessageBytes === undefined ? { path } : { path, maxMessageBytes };
}

const args = parseArgs(process.argv.slice(2));
let entry: PluginEntry;
try {
  entry = resolveEntry(args.path, process.cwd());
} catch (err) {
  die((err as Error).message);
}

// 3. Import the user module only now, as ESM even inside a "type": "commonjs" package (Node).
forceEsmForCommonJsSources();
type PluginModule = { plugin?: unknown; default?: unknown };
let mod: PluginModule;
try {
  mod = (await import(pathToFileURL(entry.file).href)) as PluginModule;
} catch (err) {
  die(`cannot import ${entry.file}: ${describe(err)}`);
}
const isPlugin = (v: unknown): boolean => typeof v === "object" && v !== null && typeof (v as { name?: unknown }).name === "string";
// A CommonJS module imported as ESM puts module.exports on `default`; its `plugin`/`default` members count too.
const exported = mod.default as PluginModule | undefined;
const plugin = [mod.plugin, mod.default, exported?.plugin, exported?.default].find(isPlugin);
if (plugin === undefined) {
  die(`${entry.file} exports no plugin: expected a named export "plugin" or a default export with a string "name"`);
}

try {
  await serve(plugin as Plugin, {
    input: process.stdin,
    output: { write: protocolWrite },
    origin: entry.origin,
    ...(args.maxMessageBytes === undefined ? {} : { maxMessageBytes: args.maxMessageBytes }),
  });
} catch (err) {
  die(err instanceof Error ? err.message : String(err));
}
process.exit(0);
