/**
 * Shared test helpers: paths, the JSON Schemas of docs/schemas compiled with Ajv (draft 2020-12),
 * a raw line-level bridge client independent of the package's own IPC client, and process checks.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import Ajv2020Module from "ajv/dist/2020.js";

export const TEST_DIR = dirname(fileURLToPath(import.meta.url));
export const PKG_DIR = resolve(TEST_DIR, "..");
export const REPO_DIR = resolve(PKG_DIR, "../..");
export const SCHEMA_DIR = join(REPO_DIR, "docs/schemas");
export const VECTORS_DIR = join(REPO_DIR, "docs/vectors");
export const BRIDGE = join(PKG_DIR, "src/bridge-server.ts");
export const CONFORMANCE_TS = join(PKG_DIR, "fixtures/conformance.ts");
export const ELIZA_TS = join(PKG_DIR, "fixtures/eliza-classic/plugin.ts");
export const PY_FIXTURES = join(REPO_DIR, "plugins/python/fixtures");
export const MISBEHAVING = join(PY_FIXTURES, "misbehaving");
/** Where the Rust wasm32 artifacts are (override with ELIZAOS_RUST_WASM_DIR). */
export const RUST_WASM_DIR = process.env["ELIZAOS_RUST_WASM_DIR"] ?? join(REPO_DIR, "plugins/rust/target/wasm32-unknown-unknown/release");
export const ABI_PROBE_WASM = join(TEST_DIR, "fixtures/abi-probe/abi-probe.wasm");
export const WASM_BUILD_HINT =
  "build it with: cd plugins/rust && RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc cargo build --release --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort --no-default-features --features wasm -p plugin-conformance -p plugin-eliza-classic --lib";

/** A Rust wasm artifact; a missing one fails the test with the build command. */
export function rustWasm(name: string): string {
  return requireFile(join(RUST_WASM_DIR, `${name}.wasm`), WASM_BUILD_HINT);
}

/** The shared JSON edge-case vectors (docs/vectors/json-edge-cases.json), generated cases expanded. */
export interface EdgeCase {
  name: string;
  value: unknown;
  /** Expected value through a JavaScript peer. */
  expectedViaJs: unknown;
}
export function edgeCases(): EdgeCase[] {
  const doc = JSON.parse(readFileSync(join(VECTORS_DIR, "json-edge-cases.json"), "utf8")) as {
    cases: { name: string; value?: unknown; via_js?: unknown; generate?: { repeat: string; length: number } }[];
  };
  return doc.cases.map((c) => {
    let value = c.value;
    if (c.generate) {
      const cps = [...c.generate.repeat];
      const out: string[] = [];
      for (let i = 0; i < c.generate.length; i++) out.push(cps[i % cps.length] as string);
      value = out.join("");
    }
    return { name: c.name, value, expectedViaJs: "via_js" in c ? c.via_js : value };
  });
}

/** JavaScript runtimes the tests run bridges on. */
export const RUNTIMES = {
  node: join(PKG_DIR, "node_modules/.bin/node"),
  bun: join(PKG_DIR, "node_modules/.bin/bun"),
} as const;
export type RuntimeName = keyof typeof RUNTIMES;
export const RUNTIME_NAMES: RuntimeName[] = ["node", "bun"];

/** Python interpreter with elizaos_interop importable. */
export const PYTHON = process.env["ELIZAOS_PYTHON"] ?? "python3";

/** Fails with a specific message when a file another part of the build produces is missing. */
export function requireFile(path: string, hint: string): string {
  assert.ok(existsSync(path), `missing ${path}: ${hint}`);
  return path;
}

// ---------------------------------------------------------------------------------------------
// JSON Schemas

type ValidateFn = ((data: unknown) => boolean) & { errors?: unknown };
interface AjvLike {
  addSchema(schema: object): unknown;
  getSchema(id: string): ValidateFn | undefined;
}
const Ajv2020 = (Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module;
const ajv = new (Ajv2020 as new (opts: object) => AjvLike)({ strict: false, allErrors: true });
function addSchemas(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) addSchemas(path);
    else if (entry.name.endsWith(".json")) ajv.addSchema(JSON.parse(readFileSync(path, "utf8")) as object);
  }
}
addSchemas(SCHEMA_DIR);
const BASE = "https://elizaos.ai/interop/schemas/";

/** Asserts that `value` is valid against docs/schemas/<file> (or a `#/$defs/...` fragment of it). */
export function assertSchema(file: string, value: unknown): void {
  const validate = ajv.getSchema(BASE + file);
  assert.ok(validate, `schema ${file} not found in ${SCHEMA_DIR}`);
  const ok = validate(value);
  assert.ok(ok, `not valid against ${file}: ${JSON.stringify(validate.errors)}\nvalue: ${JSON.stringify(value)?.slice(0, 500)}`);
}

/** Asserts that a result is valid for its method (results.schema.json). */
export function assertResult(method: string, value: unknown): void {
  assertSchema(`results.schema.json#/$defs/${method}`, value);
}

/**
 * A received manifest without the plugin's half of the version exchange (`protocolVersion`,
 * `capabilities`, protocol.md section 12), which the shared vector leaves out.
 */
export function withoutExchange(manifest: unknown): unknown {
  const { protocolVersion: _v, capabilities: _c, ...rest } = manifest as Record<string, unknown>;
  return rest;
}

/** The shared conformance manifest with `language` set. */
export function conformanceManifest(language: string): unknown {
  const m = JSON.parse(readFileSync(join(VECTORS_DIR, "conformance-manifest.json"), "utf8")) as Record<string, unknown>;
  return { ...m, language };
}

// ---------------------------------------------------------------------------------------------
// Processes

/** True while a process with this pid exists (signal 0 probe). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone (reaped), failing after `ms`. */
export async function assertGone(pid: number, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > until) assert.fail(`process ${pid} is still alive after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Rejects if `p` does not settle within `ms` (a bound on hangs, not a timing assertion). */
export async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A parsed response line. */
export interface Response {
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** A request line the plugin sent to the host (runtime-request.schema.json). */
export interface RuntimeRequest {
  id: string;
  method: string;
  params: { call: unknown; args: unknown[] };
}

/**
 * A bridge process driven at the byte level with its own framing, so the bridge is tested
 * independently of the package's IPC client.
 */
export class RawBridge {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly responses: Response[] = [];
  /** Requests the plugin sent to the host (protocol.md section 11), in arrival order. */
  readonly requests: RuntimeRequest[] = [];
  /** Called for each request the plugin sends; a test acting as the host answers with send(). */
  onRequest: ((request: RuntimeRequest) => void) | null = null;
  stderr = "";
  readonly exit: Promise<{ code: number | null; signal: string | null }>;
  private buf = "";
  private waiters: (() => void)[] = [];

  constructor(runtime: RuntimeName, plugin: string, extraArgs: string[] = [], options: { cwd?: string } = {}) {
    this.child = spawn(RUNTIMES[runtime], [BRIDGE, plugin, ...extraArgs], { stdio: ["pipe", "pipe", "pipe"], ...options });
    this.child.stdout?.setEncoding("utf8");
    this.child.stdout?.on("data", (s: string) => {
      this.buf += s;
      let nl: number;
      while ((nl = this.buf.indexOf("\n")) !== -1) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.lines.push(line);
        const message = JSON.parse(line) as Response | RuntimeRequest;
        if ("method" in message) {
          this.requests.push(message);
          this.onRequest?.(message);
        } else this.responses.push(message);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr?.setEncoding("utf8");
    this.child.stderr?.on("data", (s: string) => {
      this.stderr += s;
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stdin?.on("error", () => undefined);
    this.exit = new Promise((res) => this.child.once("exit", (code, signal) => res({ code, signal })));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** Writes raw bytes. */
  write(data: string | Buffer): void {
    this.child.stdin?.write(data);
  }

  /** Writes one request object as a line. */
  send(request: object): void {
    this.write(JSON.stringify(request) + "\n");
  }

  /** Waits for `n` responses in total. */
  async waitCount(n: number, ms = 10000): Promise<Response[]> {
    await within(ms, `${n} responses (got ${this.responses.length}; stderr: ${this.stderr.slice(-500)})`, (async () => {
      while (this.responses.length < n) await new Promise<void>((r) => this.waiters.push(r));
    })());
    return this.responses;
  }

  /** Waits until `check()` holds, re-checking whenever the bridge writes to stdout or stderr. */
  async waitFor(what: string, check: () => boolean, ms = 10000): Promise<void> {
    await within(ms, `${what} (stderr: ${this.stderr.slice(-500)})`, (async () => {
      while (!check()) await new Promise<void>((r) => this.waiters.push(r));
    })());
  }

  /** Waits for the response with this id. */
  async waitId(id: unknown, ms = 10000): Promise<Response> {
    await within(ms, `response ${JSON.stringify(id)} (stderr: ${this.stderr.slice(-500)})`, (async () => {
      while (!this.responses.some((r) => r.id === id)) await new Promise<void>((r) => this.waiters.push(r));
    })());
    return this.responses.find((r) => r.id === id) as Response;
  }

  /** Sends a request and waits for its response. */
  async call(id: number | string, method: string, params?: object): Promise<Response> {
    this.send(params === undefined ? { id, method } : { id, method, params });
    return this.waitId(id);
  }

  /** Kills the process (if still running) and waits for it. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exit;
  }
}
