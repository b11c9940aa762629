/**
 * A test host's runtime: answers a plugin's runtime requests (protocol.md 11.2) from the tables of
 * a World (runtime-world.schema.json), with the semantics of protocol.md 11.5, so tests can act as
 * the host of a bridge without a database or a model.
 */
import type { RawBridge, RuntimeRequest } from "./helpers.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Row = { [key: string]: Json };

/** The contents of an in-memory runtime. */
export interface World {
  agentId?: string;
  character?: Row;
  settings?: Row;
  cache?: Row;
  rooms?: Row[];
  worlds?: Row[];
  entities?: Row[];
  memories?: Row[];
  tasks?: Row[];
  models?: Row;
  fail?: Record<string, string>;
  omit?: string[];
}

/** The answer to one runtime request. */
export type Answer = { result: Json } | { error: { code: number; message: string; data?: Json } };

const asRow = (v: Json | undefined): Row => (typeof v === "object" && v !== null && !Array.isArray(v) ? v : {});
const byId = (rows: Row[], id: Json | undefined): Json => rows.find((r) => r["id"] === id) ?? null;

/** A runtime over a World's tables; `calls` records every call in order. */
export class WorldTable {
  readonly calls: { method: string; args: Json[] }[] = [];
  private readonly w: Required<World>;
  private created = 0;

  constructor(world: World) {
    const copy = JSON.parse(JSON.stringify(world)) as World;
    this.w = {
      agentId: copy.agentId ?? "",
      character: copy.character ?? {},
      settings: copy.settings ?? {},
      cache: copy.cache ?? {},
      rooms: copy.rooms ?? [],
      worlds: copy.worlds ?? [],
      entities: copy.entities ?? [],
      memories: copy.memories ?? [],
      tasks: copy.tasks ?? [],
      models: copy.models ?? {},
      fail: copy.fail ?? {},
      omit: copy.omit ?? [],
    };
  }

  /** `params.runtime` for a call: the World's plain-data part (11.1). */
  context(): Row {
    return { agentId: this.w.agentId, character: this.w.character };
  }

  /** Answers `runtime.<method>(...args)`. */
  answer(method: string, args: Json[]): Answer {
    this.calls.push({ method, args });
    const failure = this.w.fail[method];
    if (failure !== undefined) return { error: { code: -32000, message: failure, data: { method, exception: "Error" } } };
    const impl = this.w.omit.includes(method) ? undefined : this.methods[method];
    if (impl === undefined) return { error: { code: -32601, message: `runtime.${method} is not provided by the host`, data: { method } } };
    try {
      return { result: impl(args) ?? null };
    } catch (err) {
      return { error: { code: -32000, message: (err as Error).message, data: { method, exception: "Error" } } };
    }
  }

  /**
   * Answers every runtime request `b` receives. With `providers`, `composeState(message)` runs
   * those providers of the plugin behind `b` (re-entering it, with this runtime), skipping the
   * ones that fail as elizaOS does, and merges their text (joined by "\n"), values and data.
   */
  serve(b: RawBridge, providers: readonly string[] = []): void {
    let composed = 0;
    b.onRequest = (req: RuntimeRequest) => {
      const method = req.method.replace(/^runtime\./, "");
      const args = req.params.args as Json[];
      if (method !== "composeState" || providers.length === 0 || this.w.fail[method] !== undefined || this.w.omit.includes(method)) {
        b.send({ id: req.id, ...this.answer(method, args) });
        return;
      }
      this.calls.push({ method, args });
      const round = ++composed;
      void Promise.all(
        providers.map((name) => b.call(`compose-${round}-${name}`, "getProvider", { name, memory: args[0] ?? {}, state: {}, runtime: this.context() })),
      ).then((answers) => {
        const texts: string[] = [];
        const values: Row = {};
        const data: Row = {};
        for (const a of answers) {
          if (a.error !== undefined) continue;
          const r = asRow(a.result as Json);
          if (typeof r["text"] === "string" && r["text"].length > 0) texts.push(r["text"]);
          Object.assign(values, asRow(r["values"]));
          Object.assign(data, asRow(r["data"]));
        }
        b.send({ id: req.id, result: { text: texts.join("\n"), values, data } });
      });
    };
  }

  /** A room's `participants` (entity ids), as the in-memory runtimes read them from the World. */
  private participants(room: Row): string[] {
    const list = room["participants"];
    return Array.isArray(list) ? list.filter((e): e is string => typeof e === "string") : [];
  }

  private readonly methods: Record<string, (args: Json[]) => Json | undefined> = {
    getSetting: ([key]) => this.w.settings[String(key)] ?? null,
    setSetting: ([key, value]) => {
      this.w.settings[String(key)] = value ?? null;
      return null;
    },
    getCache: ([key]) => this.w.cache[String(key)] ?? null,
    setCache: ([key, value]) => {
      this.w.cache[String(key)] = value ?? null;
      return true;
    },
    deleteCache: ([key]) => {
      delete this.w.cache[String(key)];
      return true;
    },
    getRoom: ([id]) => byId(this.w.rooms, id),
    getRooms: ([worldId]) => this.w.rooms.filter((r) => r["worldId"] === worldId),
    getRoomsForParticipant: ([entityId]) => this.w.rooms.filter((r) => this.participants(r).includes(String(entityId))).map((r) => r["id"] ?? null),
    getRoomsForParticipants: ([entityIds]) => {
      const wanted = Array.isArray(entityIds) ? entityIds.map(String) : [];
      return this.w.rooms.filter((r) => this.participants(r).some((e) => wanted.includes(e))).map((r) => r["id"] ?? null);
    },
    getParticipantsForRoom: ([roomId]) => this.participants(asRow(byId(this.w.rooms, roomId))),
    getParticipantUserState: () => null,
    setParticipantUserState: () => null,
    getWorld: ([id]) => byId(this.w.worlds, id),
    updateWorld: () => null,
    ensureWorldExists: () => null,
    ensureRoomExists: () => null,
    ensureConnection: () => null,
    ensureConnections: () => null,
    getEntityById: ([id]) => byId(this.w.entities, id),
    getEntitiesForRoom: ([roomId]) => {
      const ids = this.participants(asRow(byId(this.w.rooms, roomId)));
      return this.w.entities.filter((e) => ids.includes(String(e["id"])));
    },
    updateEntity: () => null,
    getComponent: () => null,
    getComponents: () => [],
    createComponent: () => true,
    updateComponent: () => null,
    getRelationships: () => [],
    createRelationship: () => true,
    updateRelationship: () => null,
    getMemories: ([params]) => {
      const p = asRow(params);
      const rows = this.w.memories
        .filter((m) => p["roomId"] === undefined || m["roomId"] === p["roomId"])
        .sort((a, b) => Number(b["createdAt"] ?? 0) - Number(a["createdAt"] ?? 0));
      return typeof p["count"] === "number" ? rows.slice(0, p["count"]) : rows;
    },
    getMemoryById: ([id]) => byId(this.w.memories, id),
    getMemoriesByRoomIds: ([params]) => {
      const ids = asRow(params)["roomIds"];
      return this.w.memories.filter((m) => Array.isArray(ids) && ids.includes(m["roomId"] ?? null));
    },
    searchMemories: () => [],
    createMemory: ([memory]) => {
      const id = `created-${++this.created}`;
      this.w.memories.push({ ...asRow(memory), id, createdAt: Date.now() });
      return id;
    },
    updateMemory: () => true,
    deleteMemory: () => null,
    getConversationLength: () => 32,
    queueEmbeddingGeneration: () => null,
    getTasks: ([params]) => {
      const p = asRow(params);
      const tags = Array.isArray(p["tags"]) ? p["tags"] : [];
      return this.w.tasks.filter(
        (t) => (p["roomId"] === undefined || t["roomId"] === p["roomId"]) && tags.every((tag) => Array.isArray(t["tags"]) && t["tags"].includes(tag)),
      );
    },
    getTask: ([id]) => byId(this.w.tasks, id),
    getTasksByName: ([name]) => this.w.tasks.filter((t) => t["name"] === name),
    createTask: ([task]) => {
      const id = `task-${++this.created}`;
      this.w.tasks.push({ ...asRow(task), id });
      return id;
    },
    updateTask: () => null,
    deleteTask: () => null,
    useModel: ([type]) => {
      const canned = this.w.models[String(type)] ?? this.w.models["default"];
      if (canned === undefined) throw new Error(`no canned model for ${String(type)}`);
      return canned;
    },
    composeState: () => ({ text: "", values: {}, data: {} }),
    emitEvent: () => null,
    log: () => null,
  };
}
