/**
 * The host half of runtime calls (protocol.md section 11): the call context a host adds to a
 * request's params (11.1), and the dispatcher that answers one plugin-to-host runtime request from
 * the runtime object the host's caller passed (11.2). The IPC client uses it for every runtime
 * request, and the in-memory runtime's vector test runs through it, so both see the same answers.
 */
import { ErrorCode, checkJson, isObject, type ErrorObject } from "./protocol.ts";
import { FORWARDED_RUNTIME_METHODS } from "./runtime-proxy.ts";
import type { JsonObject, JsonValue } from "./types.ts";

/** Prefix of runtime request methods on the wire (`runtime.getSetting`). */
export const RUNTIME_METHOD_PREFIX = "runtime.";

/** The answer to one runtime request: the response without its id. */
export type RuntimeAnswer = { result: JsonValue } | { error: ErrorObject };

/** The wire names a host answers: the forwarded methods of protocol.md 11.3. */
const ANSWERED: ReadonlySet<string> = new Set(FORWARDED_RUNTIME_METHODS);

/**
 * The method a runtime object offers under a wire name (without `runtime.`), or undefined. Only the
 * forwarded methods of protocol.md 11.3 are offered: an IPC plugin may be untrusted code, and an
 * agent runtime's other members (`stop`, `registerPlugin`, `constructor`, `toString` ...) must not
 * be reachable through the host.
 */
export function runtimeMethod(runtime: object, name: string): ((...args: unknown[]) => unknown) | undefined {
  if (!ANSWERED.has(name)) return undefined;
  const f: unknown = (runtime as Record<string, unknown>)[name];
  return typeof f === "function" ? (f as (...args: unknown[]) => unknown) : undefined;
}

/** Type name of a thrown value: the Error's name, else its constructor's or JS type's name. */
function exceptionType(err: unknown): string {
  if (err instanceof Error) return (err.name || err.constructor.name).toWellFormed();
  if (err === null) return "null";
  if (typeof err === "object") return (err as { constructor?: { name?: string } }).constructor?.name ?? "object";
  return typeof err;
}

/** The message of a thrown value, made well-formed so the answer stays I-JSON (section 2). */
function exceptionMessage(err: unknown): string {
  if (err instanceof Error) return err.message.toWellFormed();
  if (isObject(err) && typeof err["message"] === "string") return err["message"].toWellFormed();
  try {
    return String(err).toWellFormed();
  } catch {
    return exceptionType(err);
  }
}

/**
 * Calls `runtime[name](...args)` and answers per the table of protocol.md 11.2: -32601 when the
 * runtime lacks the method, -32000 with `{method, exception}` when it throws or rejects, -32603 when
 * its result is not JSON (NaN, a function, a cycle). `undefined` answers `null`. Never throws.
 */
export async function answerRuntimeCall(runtime: object, name: string, args: readonly unknown[]): Promise<RuntimeAnswer> {
  const f = runtimeMethod(runtime, name);
  if (f === undefined) {
    return { error: { code: ErrorCode.MethodNotFound, message: `runtime.${name} is not provided by the host`, data: { method: name } } };
  }
  let value: unknown;
  try {
    value = await f.apply(runtime, args as unknown[]);
  } catch (err) {
    return { error: { code: ErrorCode.HandlerFailed, message: exceptionMessage(err), data: { method: name, exception: exceptionType(err) } } };
  }
  if (value === undefined) return { result: null };
  try {
    checkJson(value, "$");
    // toJSON is honoured by checkJson and JSON.stringify alike; a round trip gives the plain value.
    const plain =
      typeof value !== "object" || value === null || Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype ? value : (JSON.parse(JSON.stringify(value)) as unknown);
    return { result: plain as JsonValue };
  } catch (err) {
    return {
      error: {
        code: ErrorCode.InternalError,
        message: `runtime.${name} returned a value that is not JSON: ${(err as Error).message}`,
        data: { method: name },
      },
    };
  }
}

/**
 * A JSON copy of a value with everything JSON cannot carry left out (functions, symbols,
 * `undefined`, BigInt, NaN/±Infinity, lone-surrogate strings, cycles, non-plain objects without
 * toJSON), or undefined when nothing of it is JSON. elizaOS characters may hold template functions.
 */
export function plainData(value: unknown, seen: Set<object> = new Set()): JsonValue | undefined {
  switch (typeof value) {
    case "string":
      return value.isWellFormed() ? value : undefined;
    case "number":
      return Number.isFinite(value) ? value : undefined;
    case "boolean":
      return value;
    case "object": {
      if (value === null) return null;
      if (seen.has(value) || seen.size >= 64) return undefined;
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === "function") return plainData((toJSON as () => unknown).call(value), seen);
      seen.add(value);
      try {
        if (Array.isArray(value)) {
          const out: JsonValue[] = [];
          for (const item of value) {
            const v = plainData(item, seen);
            out.push(v === undefined ? null : v); // as JSON.stringify does inside arrays
          }
          return out;
        }
        const proto: unknown = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) return undefined;
        const out: JsonObject = {};
        for (const key of Object.keys(value)) {
          if (!key.isWellFormed()) continue;
          const v = plainData((value as Record<string, unknown>)[key], seen);
          if (v !== undefined) out[key] = v;
        }
        return out;
      } finally {
        seen.delete(value);
      }
    }
    default:
      return undefined;
  }
}

/**
 * The call context of protocol.md 11.1: `{agentId, character}` read from a runtime object's
 * plain-data properties, members that are not JSON left out.
 */
export function runtimeContext(runtime: object): JsonObject {
  const r = runtime as { agentId?: unknown; character?: unknown };
  const out: JsonObject = {};
  const agentId = r.agentId;
  if (typeof agentId === "string" && agentId.isWellFormed()) out["agentId"] = agentId;
  const character = plainData(r.character);
  if (isObject(character)) out["character"] = character;
  return out;
}
