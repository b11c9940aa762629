/**
 * Data model of docs/protocol.md section 1, and the plugin-side shapes a TypeScript plugin exports
 * (compatible with the elizaOS `Plugin`/`Action`/`Provider`/`Evaluator` shapes).
 */

/** A JSON value inside the I-JSON profile of protocol.md section 2. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** A JSON object. */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Content of a memory; `text`, when present, is a string. Other members are carried untouched. */
export interface Content {
  text?: string;
  [key: string]: JsonValue | undefined;
}

/** The message a handler acts on (memory.schema.json). */
export interface Memory {
  content: Content;
  [key: string]: JsonValue | Content | undefined;
}

/** Composed state handed to handlers: any JSON object. */
export type State = JsonObject;
/** Per-call options of an action handler: any JSON object. */
export type Options = JsonObject;
/** Plugin configuration given to `init`: any JSON object. */
export type Config = JsonObject;

/** Result of an action handler (action-result.schema.json). */
export interface ActionResult {
  success: boolean;
  text?: string;
  values?: JsonObject;
  data?: JsonObject;
  error?: string;
}

/** Result of a provider (provider-result.schema.json). */
export interface ProviderResult {
  text?: string;
  values?: JsonObject;
  data?: JsonObject;
}

/** Result of an evaluator: an ActionResult, or null when it has nothing to say. */
export type EvaluatorResult = ActionResult | null;

/**
 * Manifest entry of an action. Members a receiver does not know (`examples`, ...) are kept
 * (must-ignore, protocol.md section 1), hence the index signature.
 */
export interface ActionDescriptor {
  name: string;
  description: string;
  similes?: string[];
  examples?: JsonValue;
  [extra: string]: unknown;
}

/** Manifest entry of a provider; unknown members are kept. */
export interface ProviderDescriptor {
  name: string;
  description?: string;
  dynamic?: boolean;
  private?: boolean;
  position?: number;
  [extra: string]: unknown;
}

/** Manifest entry of an evaluator; unknown members are kept. */
export interface EvaluatorDescriptor {
  name: string;
  description: string;
  alwaysRun?: boolean;
  similes?: string[];
  examples?: JsonValue;
  [extra: string]: unknown;
}

/** What a plugin offers (manifest.schema.json); unknown members are kept as received. */
export interface Manifest {
  name: string;
  description: string;
  version: string;
  language: string;
  actions: ActionDescriptor[];
  providers: ProviderDescriptor[];
  evaluators: EvaluatorDescriptor[];
  /** Protocol version the plugin speaks (section 12); absent means the seed dialect (0). */
  protocolVersion?: number;
  /** Optional features the plugin implements: "runtime" (section 11), "shutdown" (3.4). */
  capabilities?: string[];
  /** Names of an elizaOS plugin's services, events, routes and models (informational). */
  services?: string[];
  events?: string[];
  routes?: string[];
  models?: string[];
  [extra: string]: unknown;
}

/**
 * The runtime object handed to plugin handlers by the bridge. elizaOS handlers take a runtime as
 * their first argument; over the wire there is none, so the bridge passes this small stand-in.
 */
export interface BridgeRuntime {
  /** Transport the plugin is served over. */
  readonly transport: "ipc";
  /** The config of the last `init` call (`{}` before any). */
  readonly config: Config;
  /** Reads one member of the current config, `undefined` when absent. */
  getSetting(key: string): JsonValue | undefined;
}

/** Anything a handler may return synchronously or as a promise. */
export type Awaitable<T> = T | Promise<T>;

/** An action a TypeScript plugin exports. */
export interface Action {
  name: string;
  description: string;
  similes?: string[];
  validate(runtime: BridgeRuntime, memory: Memory, state: State): Awaitable<boolean>;
  handler(runtime: BridgeRuntime, memory: Memory, state: State, options: Options): Awaitable<ActionResult>;
}

/** A provider a TypeScript plugin exports. */
export interface Provider {
  name: string;
  description?: string;
  dynamic?: boolean;
  private?: boolean;
  get(runtime: BridgeRuntime, memory: Memory, state: State): Awaitable<ProviderResult>;
}

/** An evaluator a TypeScript plugin exports. A handler returning `undefined` means `null`. */
export interface Evaluator {
  name: string;
  description: string;
  alwaysRun?: boolean;
  similes?: string[];
  validate(runtime: BridgeRuntime, memory: Memory, state: State): Awaitable<boolean>;
  handler(runtime: BridgeRuntime, memory: Memory, state: State): Awaitable<EvaluatorResult | undefined>;
}

/** A TypeScript plugin as served by the bridge. */
export interface Plugin {
  name: string;
  description?: string;
  /** SemVer version; `"0.0.0"` when absent. */
  version?: string;
  /** `"typescript"` when absent. */
  language?: string;
  actions?: Action[];
  providers?: Provider[];
  evaluators?: Evaluator[];
  /** Called on every `init` request with the new config (the last config wins). */
  init?(config: Config, runtime: BridgeRuntime): Awaitable<void>;
}
