/**
 * The plugin object as the bridge reads it: our own `Plugin` or an `@elizaos/core` Plugin as
 * published, with no adapter written by the user. Builds the manifest (protocol.md section 1: plain-data
 * members kept, services/events/routes/models by name, the version exchange of section 12), and turns
 * what elizaOS handlers give back (callback contents, nothing, an `Error`) into results, whose known
 * members are checked and unknown members kept (must-ignore).
 */
import { InvalidResult, checkJson, isObject, jsonTypeOf, type MemberKind } from "./protocol.ts";
import type { RuntimeProxy } from "./runtime-proxy.ts";
import type { JsonObject, JsonValue, Manifest, Memory, Plugin } from "./types.ts";

/** Where a plugin was loaded from: supplies the manifest's name and version when the object lacks them. */
export interface PluginOrigin {
  /** The package's name, when the entry point was a package (directory or package name). */
  packageName?: string;
  /** The `version` of the nearest package.json of the entry file. */
  packageVersion?: string;
}

/** Protocol version our SDK speaks (protocol.md section 12). */
export const PROTOCOL_VERSION = 1;
/** Optional features this bridge implements (protocol.md section 12). */
export const BRIDGE_CAPABILITIES = ["runtime", "shutdown"] as const;

const NAME_RE = /^(?=.{1,214}$)(?:@[a-z0-9._~-]+\/)?[a-z0-9._~-]+$/;
const LANGUAGE_RE = /^[a-z][a-z0-9+-]*$/;
const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** Member types a descriptor's known members must have; anything else is carried if it is plain JSON. */
type MemberType = "string" | "boolean" | "number" | "string[]";
const ACTION_MEMBERS: Record<string, MemberType> = { name: "string", description: "string", similes: "string[]" };
const PROVIDER_MEMBERS: Record<string, MemberType> = { name: "string", description: "string", dynamic: "boolean", private: "boolean", position: "number" };
const EVALUATOR_MEMBERS: Record<string, MemberType> = { name: "string", description: "string", alwaysRun: "boolean", similes: "string[]" };
/** Plugin members that are not descriptor data: code, or reported separately. */
const PLUGIN_NON_DATA = new Set([
  "name", "description", "version", "language", "actions", "providers", "evaluators", "services", "events", "routes", "models",
  "init", "tests", "adapter", "schema", "componentTypes", "protocolVersion", "capabilities",
]);

function hasType(value: unknown, type: MemberType): boolean {
  if (type === "string[]") return Array.isArray(value) && value.every((s) => typeof s === "string");
  return typeof value === type;
}

/** True when `value` can be carried on the wire as it is (plain JSON, or has toJSON). */
function isPlainJson(value: unknown): boolean {
  try {
    checkJson(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The plain-data members of an elizaOS object (must-ignore, protocol.md section 1): known members of
 * the right type, and every other member that is JSON (`examples`, `config`, `priority`, ...).
 * Functions and values JSON cannot carry are left out.
 */
function dataMembers(source: object, known: Record<string, MemberType>, skip?: Set<string>): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(source)) {
    if (skip?.has(key)) continue;
    const value = (source as Record<string, unknown>)[key];
    if (value === undefined || value === null || typeof value === "function") continue;
    const type = known[key];
    if (type !== undefined ? hasType(value, type) : isPlainJson(value)) out[key] = value as JsonValue;
  }
  return out;
}

function names(list: unknown, nameOf: (item: Record<string, unknown>) => unknown): string[] {
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const item of list as unknown[]) {
    if ((typeof item !== "object" && typeof item !== "function") || item === null) continue;
    const name = nameOf(item as Record<string, unknown>);
    if (typeof name === "string" && name.length > 0) out.push(name);
  }
  return out;
}

/**
 * The names an elizaOS plugin object's non-data members report in the manifest (protocol.md
 * section 1): service types, event names, `"<METHOD> <path>"` of routes, model types.
 */
function capabilityNames(p: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  if (p["services"] !== undefined) out["services"] = names(p["services"], (s) => (typeof s["serviceType"] === "string" ? s["serviceType"] : s["name"]));
  if (isObject(p["events"])) out["events"] = Object.keys(p["events"]);
  if (p["routes"] !== undefined) {
    out["routes"] = names(p["routes"], (r) => (typeof r["path"] === "string" ? `${typeof r["type"] === "string" ? r["type"].toUpperCase() : "GET"} ${r["path"]}` : undefined));
  }
  if (isObject(p["models"])) out["models"] = Object.keys(p["models"]);
  return out;
}

function descriptors(list: unknown, kind: MemberKind, known: Record<string, MemberType>, describe: boolean): JsonObject[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new Error(`${kind}s must be an array, received ${jsonTypeOf(list)}`);
  const seen = new Set<string>();
  return (list as unknown[]).map((item, i) => {
    if (!isObject(item)) throw new Error(`${kind}s[${i}] must be an object, received ${jsonTypeOf(item)}`);
    const name = item["name"];
    if (typeof name !== "string" || name.length === 0) throw new Error(`${kind}s[${i}].name must be a non-empty string, received ${JSON.stringify(name) ?? "missing"}`);
    if (seen.has(name)) throw new Error(`duplicate ${kind} name ${JSON.stringify(name)}`);
    seen.add(name);
    const d = dataMembers(item, known);
    // elizaOS (and the seed's example) leave descriptions out; the manifest requires one for actions and evaluators
    if (describe && typeof d["description"] !== "string") d["description"] = "";
    return d;
  });
}

/**
 * Builds the manifest (protocol.md section 1) a plugin object describes, our own Plugin or an
 * `@elizaos/core` Plugin as published: descriptors carry their plain-data members (`examples`,
 * `similes`, ...), services/events/routes/models are reported by name, and the protocol version
 * and capabilities of this bridge are added. Throws on a plugin that cannot make a valid manifest.
 */
export function manifestOf(plugin: Plugin, origin: PluginOrigin = {}): Manifest {
  const p = plugin as unknown as Record<string, unknown>;
  const where = `plugin ${JSON.stringify(origin.packageName ?? p["name"])}`;
  try {
    const name = origin.packageName ?? p["name"];
    if (typeof name !== "string" || !NAME_RE.test(name)) throw new Error(`name must be an npm package name ([a-z0-9._~-], optionally @scope/), received ${JSON.stringify(name) ?? "missing"}`);
    const version = typeof p["version"] === "string" ? p["version"] : (origin.packageVersion ?? "0.0.0");
    if (!SEMVER_RE.test(version)) throw new Error(`version must be a SemVer string, received ${JSON.stringify(version)}`);
    const language = p["language"] ?? "typescript";
    if (typeof language !== "string" || !LANGUAGE_RE.test(language)) throw new Error(`language must match ^[a-z][a-z0-9+-]*$, received ${JSON.stringify(language)}`);
    const manifest: JsonObject = {
      ...dataMembers(p, {}, PLUGIN_NON_DATA),
      name,
      description: typeof p["description"] === "string" ? p["description"] : "",
      version,
      language,
      protocolVersion: PROTOCOL_VERSION,
      capabilities: [...BRIDGE_CAPABILITIES],
      actions: descriptors(p["actions"], "action", ACTION_MEMBERS, true),
      providers: descriptors(p["providers"], "provider", PROVIDER_MEMBERS, false),
      evaluators: descriptors(p["evaluators"], "evaluator", EVALUATOR_MEMBERS, true),
      ...capabilityNames(p),
    };
    return manifest as unknown as Manifest;
  } catch (err) {
    throw new Error(`${where} has an invalid manifest: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Results: known members are checked, unknown members are carried (must-ignore, protocol.md section 1).

const ACTION_RESULT_KEYS: Record<string, "boolean" | "string" | "object"> = { success: "boolean", text: "string", values: "object", data: "object", error: "string" };
const PROVIDER_RESULT_KEYS: Record<string, "string" | "object"> = { text: "string", values: "object", data: "object" };

/** Checks the known members of a result; drops known members that are null; keeps the rest. */
function checkResultMembers(value: unknown, what: string, keys: Record<string, string>): JsonObject {
  if (!isObject(value)) throw new InvalidResult(`${what} must be an object, received ${jsonTypeOf(value)}`);
  let copy = Object.getPrototypeOf(value) !== Object.prototype;
  for (const key in value) {
    const expected = keys[key];
    if (expected === undefined) continue;
    const v = value[key];
    if (v === null || v === undefined) {
      copy = true;
      continue;
    }
    if (expected === "object" ? !isObject(v) : typeof v !== expected) {
      throw new InvalidResult(`${what}.${key} must be ${expected === "object" ? "an object" : `a ${expected}`}, received ${jsonTypeOf(v)}`);
    }
  }
  if (!copy) return value as JsonObject;
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (v === undefined || (v === null && keys[key] !== undefined)) continue;
    out[key] = v as JsonValue;
  }
  return out;
}

/** Checks an ActionResult: `success` a boolean, known members typed, unknown members kept. */
export function checkPluginActionResult(value: unknown): JsonObject {
  const out = checkResultMembers(value, "ActionResult", ACTION_RESULT_KEYS);
  const success = out["success"];
  if (typeof success !== "boolean") {
    // name the members it does have, so a typo such as "sucess" is visible in the reason
    const members = success === undefined ? ` (members: ${Object.keys(out).map((k) => JSON.stringify(k)).join(", ") || "none"})` : "";
    throw new InvalidResult(`ActionResult.success must be a boolean, received ${jsonTypeOf(success)}${members}`);
  }
  return out;
}

/** Checks a ProviderResult: known members typed, unknown members kept. */
export function checkPluginProviderResult(value: unknown): JsonObject {
  return checkResultMembers(value, "ProviderResult", PROVIDER_RESULT_KEYS);
}

/** Checks an EvaluatorResult: `null` (or nothing returned) or an ActionResult. */
export function checkPluginEvaluatorResult(value: unknown): JsonObject | null {
  return value === undefined || value === null ? null : checkPluginActionResult(value);
}

/** elizaOS `HandlerCallback`: what a handler sends through it is collected for the result. */
export type HandlerCallback = (content: JsonObject) => Promise<unknown[]>;

/** An elizaOS handler: `handler(runtime, message, state, options, callback, responses)`. */
export type ElizaHandler = (runtime: RuntimeProxy, memory: Memory, state: JsonObject, options: JsonObject, callback: HandlerCallback, responses: unknown[]) => unknown;

/**
 * Turns what an elizaOS action handler gave back into an ActionResult candidate: nothing returned
 * is success; an `Error` in `error` becomes its message; text sent through the callback becomes
 * `text` (joined with "\n") unless the result has its own, and the callback contents go to
 * `data.callbacks`.
 */
export function adaptActionResult(value: unknown, callbacks: readonly JsonObject[]): unknown {
  if (value === undefined) value = { success: true };
  if (!isObject(value)) return value;
  let out = value;
  if (out["error"] instanceof Error) out = { ...out, error: out["error"].message };
  if (callbacks.length > 0) {
    const texts = callbacks.map((c) => c["text"]).filter((t): t is string => typeof t === "string");
    if (out === value) out = { ...out };
    if ((out["text"] === undefined || out["text"] === null) && texts.length > 0) out["text"] = texts.join("\n");
    const data = out["data"];
    if (data === undefined || data === null) out["data"] = { callbacks: callbacks as JsonValue[] };
    else if (isObject(data) && !("callbacks" in data)) out["data"] = { ...data, callbacks: callbacks as JsonValue[] };
  }
  return out;
}
