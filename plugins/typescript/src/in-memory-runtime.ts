/**
 * InMemoryRuntime (protocol.md 11.5): an elizaOS-shaped agent runtime over plain tables, built from
 * a World (docs/schemas/runtime-world.schema.json). Pass it as the `runtime` of a call and a plugin's
 * runtime requests are answered from it; it records every call, fails the methods named in `fail`
 * and lacks the methods named in `omit`. For tests and for trying a plugin without an agent.
 */
import { randomUUID } from "node:crypto";
import { isObject } from "./protocol.ts";
import type { JsonObject, JsonValue } from "./types.ts";

/** What an InMemoryRuntime is built from (runtime-world.schema.json). */
export interface World {
  agentId?: string;
  character?: JsonObject;
  settings?: JsonObject;
  cache?: JsonObject;
  rooms?: JsonObject[];
  worlds?: JsonObject[];
  entities?: JsonObject[];
  memories?: JsonObject[];
  tasks?: JsonObject[];
  /** Canned `useModel` answers by model type; `default` answers any other type. */
  models?: JsonObject;
  /** Methods that throw the given message. */
  fail?: Record<string, string>;
  /** Methods the runtime lacks (answered -32601 across the boundary). */
  omit?: string[];
  [extra: string]: unknown;
}

/** One recorded runtime call. */
export interface RuntimeCall {
  method: string;
  args: unknown[];
}

/** What composeState needs of a registered plugin: its providers (a LoadedPlugin or an elizaOS plugin). */
export interface ProviderSource {
  name?: string;
  providers?: readonly {
    name: string;
    dynamic?: boolean | undefined;
    private?: boolean | undefined;
    get(runtime: unknown, message: never, state: never): Promise<unknown> | unknown;
  }[];
}

const DEFAULT_TABLE = "messages";
const CONVERSATION_LENGTH = 32;

/** A deep copy of data, so callers never hold the runtime's own rows (values that cannot be cloned are kept as they are). */
function copy<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  try {
    return structuredClone(value);
  } catch {
    return value;
  }
}

/** Arguments as recorded: trailing `undefined` ones dropped, as on the wire (protocol.md 11.2). */
function trimmed(args: unknown[]): unknown[] {
  let n = args.length;
  while (n > 0 && args[n - 1] === undefined) n--;
  return args.slice(0, n);
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function obj(value: unknown): Record<string, unknown> {
  return isObject(value) ? value : {};
}

/** Throws TypeError naming the first member of a World that runtime-world.schema.json refuses. */
export function checkWorld(world: unknown): asserts world is World {
  const fail = (what: string, expected: string, got: unknown): never => {
    const type = got === null ? "null" : Array.isArray(got) ? "array" : typeof got;
    throw new TypeError(`World.${what} must be ${expected}, received ${type}`);
  };
  if (!isObject(world)) fail("(the World itself)", "an object", world);
  const w = world as Record<string, unknown>;
  if (w["agentId"] !== undefined && typeof w["agentId"] !== "string") fail("agentId", "a string", w["agentId"]);
  for (const key of ["character", "settings", "cache", "models"]) {
    if (w[key] !== undefined && !isObject(w[key])) fail(key, "an object", w[key]);
  }
  for (const key of ["rooms", "worlds", "entities", "memories", "tasks"]) {
    const rows = w[key];
    if (rows === undefined) continue;
    if (!Array.isArray(rows)) fail(key, "an array", rows);
    (rows as unknown[]).forEach((row, i) => {
      if (!isObject(row)) fail(`${key}[${i}]`, "an object", row);
      if (typeof (row as Record<string, unknown>)["id"] !== "string") fail(`${key}[${i}].id`, "a string", (row as Record<string, unknown>)["id"]);
    });
  }
  const failures = w["fail"];
  if (failures !== undefined) {
    if (!isObject(failures)) fail("fail", "an object", failures);
    for (const [k, v] of Object.entries(failures as object)) if (typeof v !== "string") fail(`fail.${k}`, "a string", v);
  }
  const omit = w["omit"];
  if (omit !== undefined && (!Array.isArray(omit) || !omit.every((m) => typeof m === "string"))) fail("omit", "an array of strings", omit);
}

interface StoredMemory {
  memory: JsonObject;
  table: string;
}

/**
 * An in-memory agent runtime. Every method of protocol.md 11.3 is here, over the World's tables:
 * lookups by `id` answer `null` when nothing matches; lists are copies.
 */
export class InMemoryRuntime {
  readonly agentId: string | undefined;
  readonly character: JsonObject;
  /** Every call made, in order, as `{method, args}` (methods in `omit` are never called). */
  readonly calls: RuntimeCall[] = [];
  private readonly settings: Map<string, JsonValue>;
  private readonly cache: Map<string, JsonValue>;
  private readonly rooms: JsonObject[];
  private readonly worlds: JsonObject[];
  private readonly entities: JsonObject[];
  /** Oldest first: the World's memories in the order given, then created ones. */
  private readonly memories: StoredMemory[];
  private readonly tasks: JsonObject[];
  private readonly components: JsonObject[] = [];
  private readonly relationships: JsonObject[] = [];
  private readonly participants = new Map<string, Set<string>>();
  private readonly userStates = new Map<string, JsonValue>();
  private readonly models: JsonObject;
  private readonly failures: Map<string, string>;
  private readonly plugins: ProviderSource[] = [];

  /** Builds the runtime; throws TypeError naming the member when `world` does not match runtime-world.schema.json. */
  constructor(world: World = {}) {
    checkWorld(world);
    this.agentId = world.agentId;
    this.character = copy(world.character ?? {});
    this.settings = new Map(Object.entries(copy(world.settings ?? {})));
    this.cache = new Map(Object.entries(copy(world.cache ?? {})));
    this.rooms = copy(world.rooms ?? []);
    this.worlds = copy(world.worlds ?? []);
    this.entities = copy(world.entities ?? []);
    this.memories = copy(world.memories ?? []).map((memory) => ({ memory, table: str(memory["tableName"]) ?? DEFAULT_TABLE }));
    this.tasks = copy(world.tasks ?? []);
    this.models = copy(world.models ?? {});
    this.failures = new Map(Object.entries(world.fail ?? {}));
    for (const room of this.rooms) {
      const ids = room["participants"];
      if (Array.isArray(ids)) for (const e of ids) if (typeof e === "string") this.addParticipant(str(room["id"]) ?? "", e);
    }
    // An omitted method is absent, as on a runtime that does not have it.
    for (const name of world.omit ?? []) Object.defineProperty(this, name, { value: undefined, enumerable: false, configurable: true, writable: true });
  }

  /** Makes a plugin's providers part of composeState (elizaOS `registerPlugin`). */
  registerPlugin(plugin: ProviderSource): Promise<void> {
    this.plugins.push(plugin);
    return Promise.resolve();
  }

  /** Records a call and throws the World's failure message for it, if any. */
  private enter(method: string, args: unknown[]): void {
    this.calls.push({ method, args: copy(trimmed(args)) });
    const failure = this.failures.get(method);
    if (failure !== undefined) throw new Error(failure);
  }

  private addParticipant(roomId: string, entityId: string): void {
    let set = this.participants.get(roomId);
    if (set === undefined) this.participants.set(roomId, (set = new Set()));
    set.add(entityId);
  }

  private byId(table: JsonObject[], id: unknown): JsonObject | undefined {
    return table.find((row) => row["id"] === id);
  }

  private upsert(table: JsonObject[], row: unknown, merge: boolean): boolean {
    if (!isObject(row)) return false;
    const i = table.findIndex((r) => r["id"] === row["id"]);
    if (i === -1) {
      if (merge) return false;
      table.push(copy(row as JsonObject));
      return true;
    }
    table[i] = merge ? { ...(table[i] as JsonObject), ...copy(row as JsonObject) } : copy(row as JsonObject);
    return true;
  }

  // settings -----------------------------------------------------------------------------------

  getSetting(key: string): JsonValue {
    this.enter("getSetting", [key]);
    return copy(this.settings.get(key) ?? null);
  }

  setSetting(key: string, value: JsonValue, secret?: boolean): void {
    this.enter("setSetting", [key, value, secret]);
    this.settings.set(key, copy(value));
  }

  // cache --------------------------------------------------------------------------------------

  getCache(key: string): JsonValue {
    this.enter("getCache", [key]);
    return copy(this.cache.get(key) ?? null);
  }

  setCache(key: string, value: JsonValue): boolean {
    this.enter("setCache", [key, value]);
    this.cache.set(key, copy(value));
    return true;
  }

  deleteCache(key: string): boolean {
    this.enter("deleteCache", [key]);
    this.cache.delete(key);
    return true;
  }

  // rooms and worlds ---------------------------------------------------------------------------

  getRoom(roomId: string): JsonObject | null {
    this.enter("getRoom", [roomId]);
    return copy(this.byId(this.rooms, roomId) ?? null);
  }

  getRooms(worldId: string): JsonObject[] {
    this.enter("getRooms", [worldId]);
    return copy(this.rooms.filter((r) => r["worldId"] === worldId));
  }

  getRoomsForParticipant(entityId: string): string[] {
    this.enter("getRoomsForParticipant", [entityId]);
    return [...this.participants].filter(([, set]) => set.has(entityId)).map(([room]) => room);
  }

  getRoomsForParticipants(entityIds: string[]): string[] {
    this.enter("getRoomsForParticipants", [entityIds]);
    const wanted = new Set(Array.isArray(entityIds) ? entityIds : []);
    return [...this.participants].filter(([, set]) => [...set].some((e) => wanted.has(e))).map(([room]) => room);
  }

  getParticipantsForRoom(roomId: string): string[] {
    this.enter("getParticipantsForRoom", [roomId]);
    return [...(this.participants.get(roomId) ?? [])];
  }

  getParticipantUserState(roomId: string, entityId: string): JsonValue {
    this.enter("getParticipantUserState", [roomId, entityId]);
    return copy(this.userStates.get(`${roomId}\u0000${entityId}`) ?? null);
  }

  setParticipantUserState(roomId: string, entityId: string, state: JsonValue): void {
    this.enter("setParticipantUserState", [roomId, entityId, state]);
    this.userStates.set(`${roomId}\u0000${entityId}`, copy(state));
  }

  getWorld(worldId: string): JsonObject | null {
    this.enter("getWorld", [worldId]);
    return copy(this.byId(this.worlds, worldId) ?? null);
  }

  updateWorld(world: JsonObject): void {
    this.enter("updateWorld", [world]);
    this.upsert(this.worlds, world, true);
  }

  ensureWorldExists(world: JsonObject): void {
    this.enter("ensureWorldExists", [world]);
    if (isObject(world) && this.byId(this.worlds, world["id"]) === undefined) this.worlds.push(copy(world));
  }

  ensureRoomExists(room: JsonObject): void {
    this.enter("ensureRoomExists", [room]);
    if (isObject(room) && this.byId(this.rooms, room["id"]) === undefined) this.rooms.push(copy(room));
  }

  /** elizaOS `ensureConnection({entityId, roomId, worldId?, name?, userName?, source?, ...})`. */
  ensureConnection(params: JsonObject): void {
    this.enter("ensureConnection", [params]);
    this.connect(obj(params));
  }

  private connect(p: Record<string, unknown>): void {
    const entityId = str(p["entityId"]);
    const roomId = str(p["roomId"]);
    const worldId = str(p["worldId"]);
    if (worldId !== undefined && this.byId(this.worlds, worldId) === undefined) this.worlds.push({ id: worldId });
    if (roomId !== undefined && this.byId(this.rooms, roomId) === undefined) {
      const room: JsonObject = { id: roomId };
      if (worldId !== undefined) room["worldId"] = worldId;
      if (typeof p["source"] === "string") room["source"] = p["source"];
      this.rooms.push(room);
    }
    if (entityId !== undefined && this.byId(this.entities, entityId) === undefined) {
      const names = [p["name"], p["userName"]].filter((n): n is string => typeof n === "string");
      this.entities.push({ id: entityId, names });
    }
    if (entityId !== undefined && roomId !== undefined) this.addParticipant(roomId, entityId);
  }

  ensureConnections(entities: JsonObject[], rooms: JsonObject[], source: string, world: JsonObject): void {
    this.enter("ensureConnections", [entities, rooms, source, world]);
    const w = obj(world);
    if (typeof w["id"] === "string" && this.byId(this.worlds, w["id"]) === undefined) this.worlds.push(copy(w as JsonObject));
    for (const room of Array.isArray(rooms) ? rooms : []) {
      if (isObject(room) && this.byId(this.rooms, room["id"]) === undefined) this.rooms.push(copy(room));
    }
    for (const entity of Array.isArray(entities) ? entities : []) {
      if (!isObject(entity)) continue;
      if (this.byId(this.entities, entity["id"]) === undefined) this.entities.push(copy(entity));
      for (const room of Array.isArray(rooms) ? rooms : []) {
        if (isObject(room) && typeof room["id"] === "string" && typeof entity["id"] === "string") this.addParticipant(room["id"], entity["id"]);
      }
    }
  }

  // entities -----------------------------------------------------------------------------------

  getEntityById(entityId: string): JsonObject | null {
    this.enter("getEntityById", [entityId]);
    return copy(this.byId(this.entities, entityId) ?? null);
  }

  getEntitiesForRoom(roomId: string, includeComponents?: boolean): JsonObject[] {
    this.enter("getEntitiesForRoom", [roomId, includeComponents]);
    const ids = this.participants.get(roomId) ?? new Set<string>();
    return copy(
      this.entities
        .filter((e) => typeof e["id"] === "string" && ids.has(e["id"]))
        .map((e) => (includeComponents === true ? { ...e, components: this.components.filter((c) => c["entityId"] === e["id"]) } : e)),
    );
  }

  updateEntity(entity: JsonObject): void {
    this.enter("updateEntity", [entity]);
    this.upsert(this.entities, entity, true);
  }

  private componentMatches(c: JsonObject, entityId: string, worldId?: string, sourceEntityId?: string): boolean {
    return c["entityId"] === entityId && (worldId === undefined || c["worldId"] === worldId) && (sourceEntityId === undefined || c["sourceEntityId"] === sourceEntityId);
  }

  getComponent(entityId: string, type: string, worldId?: string, sourceEntityId?: string): JsonObject | null {
    this.enter("getComponent", [entityId, type, worldId, sourceEntityId]);
    return copy(this.components.find((c) => c["type"] === type && this.componentMatches(c, entityId, worldId ?? undefined, sourceEntityId ?? undefined)) ?? null);
  }

  getComponents(entityId: string, worldId?: string, sourceEntityId?: string): JsonObject[] {
    this.enter("getComponents", [entityId, worldId, sourceEntityId]);
    return copy(this.components.filter((c) => this.componentMatches(c, entityId, worldId ?? undefined, sourceEntityId ?? undefined)));
  }

  createComponent(component: JsonObject): boolean {
    this.enter("createComponent", [component]);
    if (!isObject(component)) return false;
    this.components.push({ ...copy(component), id: str(component["id"]) ?? randomUUID() });
    return true;
  }

  updateComponent(component: JsonObject): void {
    this.enter("updateComponent", [component]);
    this.upsert(this.components, component, true);
  }

  /** elizaOS `getRelationships({entityId, tags?})`: relationships the entity is either end of, with every given tag. */
  getRelationships(params: JsonObject): JsonObject[] {
    this.enter("getRelationships", [params]);
    const p = obj(params);
    const tags = Array.isArray(p["tags"]) ? p["tags"] : [];
    return copy(
      this.relationships.filter((r) => {
        const ends = r["sourceEntityId"] === p["entityId"] || r["targetEntityId"] === p["entityId"];
        const have = Array.isArray(r["tags"]) ? r["tags"] : [];
        return ends && tags.every((t) => have.includes(t as JsonValue));
      }),
    );
  }

  createRelationship(params: JsonObject): boolean {
    this.enter("createRelationship", [params]);
    if (!isObject(params)) return false;
    this.relationships.push({ tags: [], metadata: {}, ...copy(params), id: str(params["id"]) ?? randomUUID() });
    return true;
  }

  updateRelationship(relationship: JsonObject): void {
    this.enter("updateRelationship", [relationship]);
    this.upsert(this.relationships, relationship, true);
  }

  // memories -----------------------------------------------------------------------------------

  /** Newest first (the reverse of creation order), filtered by roomId/entityId/tableName, cut to count. */
  private listMemories(filter: (m: StoredMemory) => boolean, count: unknown): JsonObject[] {
    const out: JsonObject[] = [];
    const limit = typeof count === "number" && count >= 0 ? count : Number.POSITIVE_INFINITY;
    for (let i = this.memories.length - 1; i >= 0 && out.length < limit; i--) {
      const m = this.memories[i] as StoredMemory;
      if (filter(m)) out.push(m.memory);
    }
    return copy(out);
  }

  /** elizaOS `getMemories({roomId?, entityId?, count?, tableName?})`, newest first. */
  getMemories(params: JsonObject): JsonObject[] {
    this.enter("getMemories", [params]);
    const p = obj(params);
    const table = str(p["tableName"]);
    return this.listMemories(
      (m) => (p["roomId"] === undefined || m.memory["roomId"] === p["roomId"]) && (p["entityId"] === undefined || m.memory["entityId"] === p["entityId"]) && (table === undefined || m.table === table),
      p["count"],
    );
  }

  getMemoryById(id: string): JsonObject | null {
    this.enter("getMemoryById", [id]);
    return copy(this.memories.find((m) => m.memory["id"] === id)?.memory ?? null);
  }

  /** elizaOS `getMemoriesByRoomIds({roomIds, tableName?, limit?})`, newest first. */
  getMemoriesByRoomIds(params: JsonObject): JsonObject[] {
    this.enter("getMemoriesByRoomIds", [params]);
    const p = obj(params);
    const rooms = new Set(Array.isArray(p["roomIds"]) ? p["roomIds"] : []);
    const table = str(p["tableName"]);
    return this.listMemories((m) => rooms.has(m.memory["roomId"] as JsonValue) && (table === undefined || m.table === table), p["limit"]);
  }

  /**
   * elizaOS `searchMemories({tableName, roomId?, query?, count?, ...})`. There are no embeddings
   * here: a memory matches when its `content.text` contains `query` (case-insensitive), newest first.
   */
  searchMemories(params: JsonObject): JsonObject[] {
    this.enter("searchMemories", [params]);
    const p = obj(params);
    const query = str(p["query"])?.toLowerCase();
    const table = str(p["tableName"]);
    return this.listMemories((m) => {
      if (p["roomId"] !== undefined && m.memory["roomId"] !== p["roomId"]) return false;
      if (table !== undefined && m.table !== table) return false;
      const text = str(obj(m.memory["content"])["text"]);
      return query === undefined || (text !== undefined && text.toLowerCase().includes(query));
    }, p["count"]);
  }

  /** Appends a memory (the newest) and returns its id (the memory's own, else a new UUID). */
  createMemory(memory: JsonObject, tableName: string, unique?: boolean): string {
    this.enter("createMemory", [memory, tableName, unique]);
    const m = copy(obj(memory)) as JsonObject;
    const id = str(m["id"]) ?? randomUUID();
    m["id"] = id;
    if (typeof m["createdAt"] !== "number") m["createdAt"] = Date.now();
    this.memories.push({ memory: m, table: typeof tableName === "string" ? tableName : DEFAULT_TABLE });
    return id;
  }

  updateMemory(memory: JsonObject): boolean {
    this.enter("updateMemory", [memory]);
    const found = this.memories.find((m) => m.memory["id"] === obj(memory)["id"]);
    if (found === undefined) return false;
    found.memory = { ...found.memory, ...copy(memory) };
    return true;
  }

  deleteMemory(memoryId: string): void {
    this.enter("deleteMemory", [memoryId]);
    const i = this.memories.findIndex((m) => m.memory["id"] === memoryId);
    if (i !== -1) this.memories.splice(i, 1);
  }

  /** elizaOS's default conversation length (32). */
  getConversationLength(): number {
    this.enter("getConversationLength", []);
    return CONVERSATION_LENGTH;
  }

  /** Recorded only: there is no embedding model here. */
  queueEmbeddingGeneration(memory: JsonObject, priority?: string): void {
    this.enter("queueEmbeddingGeneration", [memory, priority]);
  }

  // tasks --------------------------------------------------------------------------------------

  /** elizaOS `getTasks({roomId?, entityId?, tags?})`: tasks with every given tag. */
  getTasks(params: JsonObject): JsonObject[] {
    this.enter("getTasks", [params]);
    const p = obj(params);
    const tags = Array.isArray(p["tags"]) ? p["tags"] : [];
    return copy(
      this.tasks.filter((t) => {
        const have = Array.isArray(t["tags"]) ? t["tags"] : [];
        return (p["roomId"] === undefined || t["roomId"] === p["roomId"]) && (p["entityId"] === undefined || t["entityId"] === p["entityId"]) && tags.every((tag) => have.includes(tag as JsonValue));
      }),
    );
  }

  getTask(id: string): JsonObject | null {
    this.enter("getTask", [id]);
    return copy(this.byId(this.tasks, id) ?? null);
  }

  getTasksByName(name: string): JsonObject[] {
    this.enter("getTasksByName", [name]);
    return copy(this.tasks.filter((t) => t["name"] === name));
  }

  /** Adds a task and returns its id (the task's own, else a new UUID). */
  createTask(task: JsonObject): string {
    this.enter("createTask", [task]);
    const t = copy(obj(task)) as JsonObject;
    const id = str(t["id"]) ?? randomUUID();
    this.tasks.push({ ...t, id });
    return id;
  }

  updateTask(id: string, task: JsonObject): void {
    this.enter("updateTask", [id, task]);
    const i = this.tasks.findIndex((t) => t["id"] === id);
    if (i !== -1) this.tasks[i] = { ...(this.tasks[i] as JsonObject), ...copy(obj(task) as JsonObject), id };
  }

  deleteTask(id: string): void {
    this.enter("deleteTask", [id]);
    const i = this.tasks.findIndex((t) => t["id"] === id);
    if (i !== -1) this.tasks.splice(i, 1);
  }

  // models, state, events ----------------------------------------------------------------------

  /** The World's canned answer for the model type, else `models.default`; throws when there is none. */
  useModel(modelType: string, params: JsonValue): JsonValue {
    this.enter("useModel", [modelType, params]);
    const answer = Object.hasOwn(this.models, modelType) ? this.models[modelType] : this.models["default"];
    if (answer === undefined) throw new Error(`no canned model for ${String(modelType)}`);
    return copy(answer);
  }

  /**
   * Runs the providers of every registered plugin (elizaOS rules: without `onlyInclude`, every
   * provider that is neither private nor dynamic, plus those in `includeList`; with it, only those)
   * and merges their `text` (joined by `\n`), `values` and `data`; a provider that fails is left
   * out. A provider may be a plugin across
   * the boundary, so this is re-entrant: it calls back into plugins while their call is in flight.
   */
  async composeState(message: JsonObject, includeList?: string[] | null, onlyInclude?: boolean, skipCache?: boolean): Promise<JsonObject> {
    this.enter("composeState", [message, includeList, onlyInclude, skipCache]);
    const include = new Set(Array.isArray(includeList) ? includeList : []);
    const texts: string[] = [];
    const values: JsonObject = {};
    const data: JsonObject = {};
    for (const plugin of this.plugins) {
      for (const provider of plugin.providers ?? []) {
        const wanted = onlyInclude === true ? include.has(provider.name) : include.has(provider.name) || (provider.private !== true && provider.dynamic !== true);
        if (!wanted) continue;
        let result: Record<string, unknown>;
        try {
          result = obj(await provider.get(this, message as never, {} as never));
        } catch {
          continue; // as in elizaOS, a failing provider contributes nothing and the others still count
        }
        if (typeof result["text"] === "string" && result["text"] !== "") texts.push(result["text"]);
        Object.assign(values, obj(result["values"]));
        Object.assign(data, obj(result["data"]));
      }
    }
    return copy({ values, data, text: texts.join("\n") });
  }

  emitEvent(event: string | string[], params: JsonValue): void {
    this.enter("emitEvent", [event, params]);
  }

  log(params: JsonValue): void {
    this.enter("log", [params]);
  }
}
