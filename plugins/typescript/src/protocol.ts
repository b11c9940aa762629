/**
 * Wire-level definitions shared by the bridge (plugin side) and the host clients: error codes
 * (protocol.md section 4), method names (3.3), strict JSON encoding (section 2), and validation
 * of requests, params and results.
 */
import type { JsonObject, JsonValue, Manifest } from "./types.ts";

/** JSON-RPC error codes of protocol.md section 4. */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  HandlerFailed: -32000,
  UnknownName: -32001,
  NotSupported: -32002,
  InvalidResult: -32003,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Plugin methods of protocol.md 3.3. */
export const METHODS = [
  "getManifest",
  "init",
  "validateAction",
  "invokeAction",
  "getProvider",
  "validateEvaluator",
  "invokeEvaluator",
  "shutdown",
] as const;
export type Method = (typeof METHODS)[number];

/** Kinds of named plugin members. */
export type MemberKind = "action" | "provider" | "evaluator";

/** Default per-message size limit (16 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Largest integer id allowed in a request (2^53 - 1). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;
/** Nesting beyond this depth is refused by the encoder (it also catches cyclic values). */
export const MAX_ENCODE_DEPTH = 512;

/** A request id: integer in [0, 2^53-1] or non-empty string. */
export type RequestId = number | string;

/** The error member of a response. */
export interface ErrorObject {
  code: number;
  message: string;
  data?: JsonValue;
}

/**
 * An error with a JSON-RPC code, raised inside the bridge and turned into an error response.
 * Also used host-side to describe an error envelope before it becomes a PluginCallError.
 */
export class ProtocolFault extends Error {
  readonly code: number;
  readonly data: JsonValue | undefined;
  constructor(code: number, message: string, data?: JsonValue) {
    super(message);
    this.name = "ProtocolFault";
    this.code = code;
    this.data = data;
  }
  /** The `error` member of a response. */
  toErrorObject(): ErrorObject {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

/** JSON type name of a value, as used in `received` of -32602 data ("missing" when absent). */
export function jsonTypeOf(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  const t = typeof value;
  if (t === "number") return Number.isInteger(value) ? "integer" : "number";
  if (t === "bigint") return "bigint";
  return t;
}

/** True for a non-null, non-array object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A value outside the JSON profile, with the path of the offending member. */
export class EncodeError extends Error {
  readonly path: string;
  constructor(path: string, problem: string) {
    super(`${problem} at ${path}`);
    this.name = "EncodeError";
    this.path = path;
  }
}

function pathKey(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** A problem found by the walk; the path is collected while unwinding, so the happy path builds no strings. */
interface Problem {
  segments: (string | number)[];
  message: string;
}

function problem(message: string): Problem {
  return { segments: [], message };
}

/** Strings of at least this many characters seen by the last findProblem walk (see checkJsonLong). */
let longStrings = 0;

function findProblem(value: unknown, depth: number): Problem | null {
  switch (typeof value) {
    case "string":
      if (value.length >= LONG_STRING) longStrings++;
      return value.isWellFormed() ? null : problem("string contains a lone surrogate");
    case "number":
      return Number.isFinite(value) ? null : problem(`number ${String(value)} is not JSON`);
    case "boolean":
      return null;
    case "bigint":
      return problem("BigInt is not JSON (send big integers as strings)");
    case "object": {
      if (value === null) return null;
      if (depth >= MAX_ENCODE_DEPTH) return problem(`nesting deeper than ${MAX_ENCODE_DEPTH} (or a cycle)`);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          const t = typeof item;
          let found: Problem | null;
          if (t === "undefined" || t === "function" || t === "symbol") found = problem(`${t} in an array is not JSON`);
          else found = findProblem(item, depth + 1);
          if (found !== null) {
            found.segments.push(i);
            return found;
          }
        }
        return null;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        const toJSON = (value as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === "function") return findProblem((toJSON as () => unknown).call(value), depth + 1);
        const ctor = (value as { constructor?: { name?: string } }).constructor?.name ?? "unknown";
        return problem(`${ctor} object is not plain JSON`);
      }
      const obj = value as Record<string, unknown>;
      for (const key in obj) {
        const item = obj[key];
        const t = typeof item;
        if (t === "undefined" || t === "function" || t === "symbol") continue;
        const found = key.isWellFormed() ? findProblem(item, depth + 1) : problem("member name contains a lone surrogate");
        if (found !== null) {
          found.segments.push(key);
          return found;
        }
      }
      return null;
    }
    case "undefined":
      return problem("undefined is not JSON");
    default:
      return problem(`${typeof value} is not JSON`);
  }
}

/**
 * Walks a value and throws EncodeError (with the path) for anything JSON cannot carry exactly:
 * NaN/±Infinity, BigInt, lone surrogates (in strings and member names), undefined/functions/symbols
 * in arrays, non-plain objects (Map, Set, class instances without toJSON), nesting past MAX_ENCODE_DEPTH.
 * `undefined` members of objects are omitted, as JSON.stringify does.
 */
export function checkJson(value: unknown, path = "$"): void {
  const found = findProblem(value, 0);
  if (found === null) return;
  let where = path;
  for (let i = found.segments.length - 1; i >= 0; i--) where = pathKey(where, found.segments[i] as string | number);
  throw new EncodeError(where, found.message);
}

/**
 * Strings this long or longer are quoted by quoteLong instead of JSON.stringify. Node 22's V8
 * stringifies ~3 ns per character (30 us for a 10 KiB text, measured on the benchmark machine);
 * two native substring searches and JSON.rawJSON's parse of the quoted text take ~5 us.
 */
export const LONG_STRING = 512;

/**
 * JSON.rawJSON where quoting through it pays: on V8 (Node). Bun's JSC stringifies a 10 KiB text in
 * ~1.5 us, faster than the rawJSON route (~5 us), so there the fast path is off.
 */
const rawJSON = "Bun" in globalThis ? undefined : (JSON as { rawJSON?: (text: string) => unknown }).rawJSON;
/** Whether this engine takes the long-string fast path (tests). */
export const LONG_STRING_FAST_PATH = rawJSON !== undefined;

/**
 * checkJson, and whether the value holds a string of LONG_STRING characters or more, for which
 * stringifyJson's fast path pays. Throws EncodeError like checkJson.
 */
export function checkJsonLong(value: unknown, path = "$"): boolean {
  longStrings = 0;
  checkJson(value, path);
  return longStrings > 0 && rawJSON !== undefined;
}

/**
 * JSON.stringify(value) for a value checkJson accepted; `long` is checkJsonLong's answer. The text
 * is the same either way: only long strings take the fast path (quoteLong).
 */
export function stringifyJson(value: unknown, long: boolean): string {
  return JSON.stringify(long ? quoteLongStrings(value) : value);
}

/**
 * A long well-formed string as a JSON.rawJSON of its quoted text, byte for byte what JSON.stringify
 * writes: without `"` and `\` the only characters JSON.stringify escapes are U+0000-U+001F (lone
 * surrogates were refused by checkJson), and rawJSON refuses exactly those inside a JSON string. With
 * any of them the string is returned as it is, for JSON.stringify to escape.
 */
function quoteLong(s: string): unknown {
  if (rawJSON === undefined || s.includes('"') || s.includes("\\")) return s;
  try {
    return rawJSON(`"${s}"`);
  } catch {
    return s;
  }
}

/**
 * The value with its long strings replaced by quoteLong's raw JSON; plain objects and arrays on the
 * way to one are copied (shallowly), everything else is shared. Objects with a prototype (toJSON)
 * are left to JSON.stringify. Only called on values checkJson accepted (no cycles, bounded depth).
 */
export function quoteLongStrings(value: unknown): unknown {
  if (typeof value === "string") return value.length >= LONG_STRING ? quoteLong(value) : value;
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const r = quoteLongStrings(v);
      if (r !== v) (out ??= value.slice())[i] = r;
    }
    return out ?? value;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const obj = value as Record<string, unknown>;
  let out: Record<string, unknown> | null = null;
  for (const key in obj) {
    const v = obj[key];
    const r = quoteLongStrings(v);
    if (r === v) continue;
    out ??= { ...obj };
    // defineProperty: a parsed "__proto__" member is an own property, and assigning it would not be.
    Object.defineProperty(out, key, { value: r, enumerable: true, writable: true, configurable: true });
  }
  return out ?? value;
}

/**
 * Serialises a value under the strict profile: checkJson, then JSON.stringify. Throws EncodeError
 * for values outside the profile, never produces a byte that does not round-trip.
 */
export function encodeJson(value: unknown, path = "$"): string {
  return stringifyJson(value, checkJsonLong(value, path));
}

/** `\u` followed by a surrogate's first hex digits (`\uD800`-`\uDFFF`, any case). */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/**
 * Describes a lone surrogate in a value parsed from JSON `text` (`JSON.parse` accepts `"\ud800"`,
 * which is not I-JSON, protocol.md section 2), or null. Text from a fatal UTF-8 decoder holds no raw
 * surrogates, so only escapes can make one: the value is walked only when the text has a surrogate
 * escape, which keeps the common path to one native substring search.
 */
export function loneSurrogateIn(text: string, value: unknown): string | null {
  if (!text.includes("\\u") || !SURROGATE_ESCAPE.test(text)) return null;
  try {
    checkJson(value, "$");
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** UTF-8 length of a string, without encoding it. */
export function utf8Length(text: string): number {
  // Fast path: ASCII and short strings are common on the wire.
  const n = text.length;
  if (n < 64) {
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x80) bytes += 1;
      else if (c < 0x800) bytes += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          bytes += 4;
          i++;
        } else bytes += 3;
      } else bytes += 3;
    }
    return bytes;
  }
  return Buffer.byteLength(text, "utf8");
}

// ---------------------------------------------------------------------------------------------
// Requests and params (plugin side)

/** A request that passed framing validation. */
export interface ParsedRequest {
  id: RequestId;
  method: string;
  params: Record<string, unknown>;
}

/** Reads the id of a parsed line if it is a valid id, else null. */
export function readId(message: unknown): RequestId | null {
  if (!isObject(message)) return null;
  const id = message["id"];
  return isValidId(id) ? id : null;
}

/** True for an integer in [0, 2^53-1] or a non-empty string. */
export function isValidId(id: unknown): id is RequestId {
  if (typeof id === "string") return id.length > 0;
  return typeof id === "number" && Number.isInteger(id) && id >= 0 && id <= MAX_ID;
}

/**
 * Validates a parsed request line (protocol.md 3.2). Throws ProtocolFault -32600 on a value that is
 * not a valid request; `params` omitted becomes `{}`.
 */
export function parseRequest(message: unknown): ParsedRequest {
  if (!isObject(message)) {
    throw new ProtocolFault(ErrorCode.InvalidRequest, `invalid request: expected a JSON object, received ${jsonTypeOf(message)}`);
  }
  const id = message["id"];
  if (id === undefined) {
    throw new ProtocolFault(ErrorCode.InvalidRequest, "invalid request: id is missing (notifications are not used)");
  }
  if (!isValidId(id)) {
    throw new ProtocolFault(
      ErrorCode.InvalidRequest,
      `invalid request: id must be an integer in [0, 2^53-1] or a non-empty string, received ${jsonTypeOf(id)} ${JSON.stringify(id) ?? ""}`,
    );
  }
  const method = message["method"];
  if (typeof method !== "string" || method.length === 0) {
    throw new ProtocolFault(ErrorCode.InvalidRequest, `invalid request: method must be a non-empty string, received ${jsonTypeOf(method)}`);
  }
  const params = message["params"];
  if (params !== undefined && !isObject(params)) {
    throw new ProtocolFault(ErrorCode.InvalidRequest, `invalid request: params must be an object, received ${jsonTypeOf(params)}`);
  }
  return { id, method, params: params ?? {} };
}

/** Throws the -32602 fault of protocol.md 3.3 for one param. */
export function invalidParam(param: string, expected: string, received: unknown): never {
  const got = jsonTypeOf(received);
  throw new ProtocolFault(ErrorCode.InvalidParams, `invalid params: ${param} must be ${expected === "object" ? "an" : "a"} ${expected}, received ${got}`, {
    param,
    expected,
    received: got,
  });
}

/** Params of validateAction/getProvider/validateEvaluator/invokeEvaluator (and invokeAction's options). */
export interface NamedParams {
  name: string;
  memory: JsonObject;
  state: JsonObject;
  options: JsonObject;
}

function optionalObject(params: Record<string, unknown>, key: string): JsonObject {
  const v = params[key];
  if (v === undefined || v === null) return {};
  if (!isObject(v)) invalidParam(key, "object", v);
  return v as JsonObject;
}

/** Validates `{name, memory, state?, options?}` params; throws -32602 with the documented data. */
export function parseNamedParams(params: Record<string, unknown>): NamedParams {
  const name = params["name"];
  if (typeof name !== "string") invalidParam("name", "string", name);
  const memory = params["memory"];
  if (!isObject(memory)) invalidParam("memory", "object", memory);
  const content = memory["content"];
  if (!isObject(content)) invalidParam("memory.content", "object", content);
  const text = content["text"];
  // null means absent (protocol.md section 1), as in the Python and Rust runtimes
  if (text !== undefined && text !== null && typeof text !== "string") invalidParam("memory.content.text", "string", text);
  return { name, memory: memory as JsonObject, state: optionalObject(params, "state"), options: optionalObject(params, "options") };
}

/** Validates `init` params and returns the config. */
export function parseInitParams(params: Record<string, unknown>): JsonObject {
  const config = params["config"];
  if (!isObject(config)) invalidParam("config", "object", config);
  return config as JsonObject;
}

// ---------------------------------------------------------------------------------------------
// Results (both sides)

const ACTION_RESULT_KEYS: Record<string, "boolean" | "string" | "object"> = {
  success: "boolean",
  text: "string",
  values: "object",
  data: "object",
  error: "string",
};
const PROVIDER_RESULT_KEYS: Record<string, "string" | "object"> = { text: "string", values: "object", data: "object" };

function checkMembers(value: unknown, what: string, keys: Record<string, string>): Record<string, JsonValue> {
  if (!isObject(value)) return fail(`${what} must be an object, received ${jsonTypeOf(value)}`);
  // Common case: every known member valid and none null, so the value already is its canonical form
  // and needs no copy. Unknown members are ignored and kept (must-ignore, protocol.md section 1).
  let clean = true;
  for (const key in value) {
    const expected = keys[key];
    if (expected === undefined) continue;
    const v = value[key];
    if (v === null || v === undefined || (expected === "object" ? !isObject(v) : typeof v !== expected)) {
      clean = false;
      break;
    }
  }
  if (clean && Object.getPrototypeOf(value) === Object.prototype) return value as Record<string, JsonValue>;
  const out: Record<string, JsonValue> = {};
  for (const key of Object.keys(value)) {
    const expected = keys[key];
    const v = value[key];
    if (expected === undefined) {
      if (v !== undefined) out[key] = v as JsonValue; // unknown member: kept untouched
      continue;
    }
    if (v === null || v === undefined) continue; // null means absent; the canonical form omits it
    const ok = expected === "object" ? isObject(v) : typeof v === expected;
    if (!ok) return fail(`${what}.${key} must be ${expected === "object" ? "an object" : `a ${expected}`}, received ${jsonTypeOf(v)}`);
    out[key] = v as JsonValue;
  }
  return out;
}

/** Why a result is invalid (the `reason` of -32003). */
export class InvalidResult extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "InvalidResult";
  }
}
function fail(reason: string): never {
  throw new InvalidResult(reason);
}

/** Checks and canonicalises an ActionResult (null members dropped). Throws InvalidResult. */
export function checkActionResult(value: unknown): JsonObject {
  const out = checkMembers(value, "ActionResult", ACTION_RESULT_KEYS);
  if (typeof out["success"] !== "boolean") fail(`ActionResult.success must be a boolean, received ${jsonTypeOf(out["success"])}`);
  return out;
}

/** Checks and canonicalises a ProviderResult. Throws InvalidResult. */
export function checkProviderResult(value: unknown): JsonObject {
  return checkMembers(value, "ProviderResult", PROVIDER_RESULT_KEYS);
}

/** Checks an EvaluatorResult (`null` or an ActionResult). Throws InvalidResult. */
export function checkEvaluatorResult(value: unknown): JsonObject | null {
  return value === null ? null : checkActionResult(value);
}

/** Checks a validate result. Throws InvalidResult. */
export function checkBoolean(value: unknown): boolean {
  if (typeof value !== "boolean") fail(`validate must return a boolean, received ${jsonTypeOf(value)}`);
  return value;
}

/**
 * Checks a validate answer received from a plugin (host side, protocol.md 3.3): a boolean, or the
 * seed's `{"valid": boolean}` (other members ignored). Throws InvalidResult.
 */
export function checkValidateAnswer(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (isObject(value)) {
    const valid = value["valid"];
    if (typeof valid === "boolean") return valid;
    fail(`validate answer {"valid": ...} must carry a boolean, received ${jsonTypeOf(valid)}`);
  }
  return fail(`validate must answer a boolean or {"valid": boolean}, received ${jsonTypeOf(value)}`);
}

/** npm package name, optionally scoped (`@elizaos/plugin-sql`), 1..214 characters (protocol.md section 1). */
const NAME_RE = /^(?=.{1,214}$)(?:@[a-z0-9._~-]+\/)?[a-z0-9._~-]+$/;
const LANGUAGE_RE = /^[a-z][a-z0-9+-]*$/;
const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** Types of the known members a receiver consumes; anything else is ignored and kept. */
type MemberType = "string" | "boolean" | "number" | "integer" | "string[]";
function hasType(v: unknown, expected: MemberType): boolean {
  switch (expected) {
    case "string[]":
      return Array.isArray(v) && v.every((s) => typeof s === "string");
    case "integer":
      return typeof v === "number" && Number.isInteger(v) && v >= 0;
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    default:
      return typeof v === expected;
  }
}
const TYPE_NAMES: Record<MemberType, string> = {
  string: "a string",
  boolean: "a boolean",
  number: "a number",
  integer: "a non-negative integer",
  "string[]": "an array of strings",
};
function checkKnown(obj: Record<string, unknown>, where: string, keys: Record<string, MemberType>): void {
  for (const key in keys) {
    const v = obj[key];
    if (v === undefined || v === null) continue; // null means absent (protocol.md section 1)
    const expected = keys[key] as MemberType;
    if (!hasType(v, expected)) fail(`${where}.${key} must be ${TYPE_NAMES[expected]}, received ${jsonTypeOf(v)}`);
  }
}

const ACTION_KEYS: Record<string, MemberType> = { name: "string", description: "string", similes: "string[]" };
const PROVIDER_KEYS: Record<string, MemberType> = { name: "string", description: "string", dynamic: "boolean", private: "boolean", position: "number" };
const EVALUATOR_KEYS: Record<string, MemberType> = { name: "string", description: "string", alwaysRun: "boolean", similes: "string[]" };
const MANIFEST_KEYS: Record<string, MemberType> = {
  protocolVersion: "integer",
  capabilities: "string[]",
  services: "string[]",
  events: "string[]",
  routes: "string[]",
  models: "string[]",
};

function checkDescriptors(list: unknown, kind: MemberKind, keys: Record<string, MemberType>, required: string[]): void {
  if (!Array.isArray(list)) fail(`manifest.${kind}s must be an array, received ${jsonTypeOf(list)}`);
  const seen = new Set<string>();
  list.forEach((d: unknown, i) => {
    const where = `manifest.${kind}s[${i}]`;
    if (!isObject(d)) fail(`${where} must be an object, received ${jsonTypeOf(d)}`);
    // Unknown members (examples, ...) are ignored and kept (must-ignore, protocol.md section 1).
    checkKnown(d, where, keys);
    for (const key of required) if (d[key] === undefined || d[key] === null) fail(`${where}.${key} is missing`);
    const name = d["name"] as string;
    if (name.length === 0) fail(`${where}.name must not be empty`);
    if (seen.has(name)) fail(`duplicate ${kind} name ${JSON.stringify(name)}`);
    seen.add(name);
  });
}

/**
 * Checks a Manifest against manifest.schema.json's rules. Unknown members of the manifest and of its
 * descriptors are ignored and kept; known members of the wrong type are errors. Throws InvalidResult.
 */
export function checkManifest(value: unknown): Manifest {
  if (!isObject(value)) fail(`manifest must be an object, received ${jsonTypeOf(value)}`);
  const { name, description, version, language } = value;
  if (typeof name !== "string" || !NAME_RE.test(name)) fail(`manifest.name must be an npm package name (optionally @scope/name, 1..214 characters of [a-z0-9._~-]), received ${JSON.stringify(name) ?? "missing"}`);
  if (typeof description !== "string") fail(`manifest.description must be a string, received ${jsonTypeOf(description)}`);
  if (typeof version !== "string" || !SEMVER_RE.test(version)) fail(`manifest.version must be a SemVer string, received ${JSON.stringify(version) ?? "missing"}`);
  if (typeof language !== "string" || !LANGUAGE_RE.test(language)) fail(`manifest.language must match ^[a-z][a-z0-9+-]*$, received ${JSON.stringify(language) ?? "missing"}`);
  checkKnown(value, "manifest", MANIFEST_KEYS);
  checkDescriptors(value["actions"], "action", ACTION_KEYS, ["name", "description"]);
  checkDescriptors(value["providers"], "provider", PROVIDER_KEYS, ["name"]);
  checkDescriptors(value["evaluators"], "evaluator", EVALUATOR_KEYS, ["name", "description"]);
  return value as unknown as Manifest;
}

/**
 * Validates a parsed response line (protocol.md 3.2) host-side. Returns a description of the
 * problem, or null when it is a valid response.
 */
export function responseProblem(message: unknown): string | null {
  if (!isObject(message)) return `response is not a JSON object (received ${jsonTypeOf(message)})`;
  if (!("id" in message)) return "response has no id";
  const id = message["id"];
  if (id !== null && !isValidId(id)) return `response id is not a valid id (received ${jsonTypeOf(id)})`;
  const hasResult = "result" in message;
  const hasError = "error" in message;
  if (hasResult === hasError) return "response must have exactly one of result and error";
  if (hasError) return errorObjectProblem(message["error"]);
  return null;
}

/** Returns a description of what is wrong with an error object, or null. */
export function errorObjectProblem(error: unknown): string | null {
  if (!isObject(error)) return `error is not an object (received ${jsonTypeOf(error)})`;
  if (typeof error["code"] !== "number" || !Number.isInteger(error["code"])) return "error.code is not an integer";
  if (typeof error["message"] !== "string") return "error.message is not a string";
  return null; // other members are ignored (must-ignore)
}
