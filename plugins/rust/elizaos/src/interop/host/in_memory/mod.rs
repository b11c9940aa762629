//! [`InMemoryRuntime`]: an agent runtime over in-memory tables (protocol.md 11.5), for tests and
//! for trying a plugin without an elizaOS agent. Built from a World
//! (`runtime-world.schema.json`), it implements every method of 11.3, records every call, fails
//! the methods the World lists in `fail` and lacks those in `omit`.

mod methods;

use std::collections::{HashMap, HashSet};

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use serde_json::{json, Map, Value};

use super::loaded::LoadedPlugin;
use crate::interop::plugin::{AgentRuntime, RuntimeError};
use crate::interop::wire::json_type_name;

/// The default of `getConversationLength` (elizaOS's `conversationLength`).
const DEFAULT_CONVERSATION_LENGTH: u64 = 32;

/// The tables behind an [`InMemoryRuntime`].
#[derive(Debug, Default)]
struct Tables {
    settings: Map<String, Value>,
    cache: Map<String, Value>,
    rooms: Vec<Value>,
    worlds: Vec<Value>,
    entities: Vec<Value>,
    /// Each memory with the table it lives in (`messages` for the World's own).
    memories: Vec<(String, Value)>,
    tasks: Vec<Value>,
    components: Vec<Value>,
    relationships: Vec<Value>,
    /// Room id -> participant entity ids, rooms and entities in join order.
    participants: Vec<(String, Vec<String>)>,
    /// (room id, entity id) -> user state (`FOLLOWED`, `MUTED`, ...).
    user_states: HashMap<(String, String), Value>,
    events: Vec<Value>,
    logs: Vec<Value>,
    calls: Vec<Value>,
    next_id: u64,
}

/// An in-memory elizaOS agent runtime (protocol.md 11.5). Cheap to share: wrap it in an `Arc` and
/// pass it as the runtime of plugin calls.
///
/// ```
/// use elizaos::interop::{AgentRuntime, InMemoryRuntime, RuntimeError};
/// use serde_json::json;
///
/// let world = json!({
///     "agentId": "agent-1",
///     "settings": {"GREETING": "hello"},
///     "omit": ["useModel"],
/// });
/// let runtime = InMemoryRuntime::new(&world).expect("a valid World");
/// assert_eq!(runtime.agent_id().as_deref(), Some("agent-1"));
/// assert_eq!(runtime.call("getSetting", vec![json!("GREETING")]), Ok(json!("hello")));
/// runtime.call("setCache", vec![json!("k"), json!([1, 2])]).unwrap();
/// assert_eq!(runtime.call("getCache", vec![json!("k")]), Ok(json!([1, 2])));
/// assert!(matches!(
///     runtime.call("useModel", vec![]),
///     Err(RuntimeError::NotProvided { .. })
/// ));
/// assert_eq!(runtime.calls().len(), 4);
/// ```
#[derive(Debug)]
pub struct InMemoryRuntime {
    agent_id: Option<String>,
    character: Option<Value>,
    models: Map<String, Value>,
    fail: HashMap<String, String>,
    omit: HashSet<String>,
    tables: Mutex<Tables>,
    plugins: Mutex<Vec<Arc<LoadedPlugin>>>,
    /// This runtime, when built by [`InMemoryRuntime::new_shared`]: `composeState` passes it to
    /// the providers it runs, so they may call the runtime in turn.
    me: Weak<InMemoryRuntime>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn objects(world: &Map<String, Value>, key: &str) -> Result<Vec<Value>, String> {
    match world.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if !item.get("id").is_some_and(Value::is_string) {
                    return Err(format!("world.{key}[{i}] needs a string \"id\""));
                }
            }
            Ok(items.clone())
        }
        Some(other) => Err(format!(
            "world.{key} must be an array, received {}",
            json_type_name(other)
        )),
    }
}

fn object(world: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, String> {
    match world.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(other) => Err(format!(
            "world.{key} must be an object, received {}",
            json_type_name(other)
        )),
    }
}

fn id_of(value: &Value) -> Option<&str> {
    value.get("id").and_then(Value::as_str)
}

fn str_arg(args: &[Value], i: usize) -> Option<&str> {
    args.get(i).and_then(Value::as_str)
}

fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or(Value::Null)
}

fn find(items: &[Value], id: Option<&str>) -> Value {
    id.and_then(|id| items.iter().find(|item| id_of(item) == Some(id)))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Replace (by `id`) or append `item`.
fn upsert(items: &mut Vec<Value>, item: Value) {
    match items
        .iter_mut()
        .find(|x| id_of(x).is_some() && id_of(x) == id_of(&item))
    {
        Some(slot) => *slot = item,
        None => items.push(item),
    }
}

/// Merge the members of `patch` into the object with `id`; false when there is none.
fn merge(items: &mut [Value], id: Option<&str>, patch: &Value) -> bool {
    let Some(target) = id.and_then(|id| items.iter_mut().find(|x| id_of(x) == Some(id))) else {
        return false;
    };
    if let (Value::Object(t), Value::Object(p)) = (target, patch) {
        for (k, v) in p {
            t.insert(k.clone(), v.clone());
        }
    }
    true
}

fn has_tags(item: &Value, tags: &Value) -> bool {
    let Some(wanted) = tags.as_array() else {
        return true;
    };
    let have = item.get("tags").and_then(Value::as_array);
    wanted.iter().all(|t| have.is_some_and(|h| h.contains(t)))
}

fn field_matches(item: &Value, params: &Value, key: &str) -> bool {
    match params.get(key) {
        None | Some(Value::Null) => true,
        Some(want) => item.get(key) == Some(want),
    }
}

/// The `fail` and `omit` members of a World: methods that fail with a message, methods that are
/// not provided.
fn failures(w: &Map<String, Value>) -> Result<(HashMap<String, String>, HashSet<String>), String> {
    let fail = object(w, "fail")?
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(message) => Ok((k, message)),
            other => Err(format!(
                "world.fail.{k} must be a string, received {}",
                json_type_name(&other)
            )),
        })
        .collect::<Result<_, _>>()?;
    let omit = match w.get("omit") {
        None | Some(Value::Null) => HashSet::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "world.omit must be an array of strings".to_string())
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "world.omit must be an array, received {}",
                json_type_name(other)
            ))
        }
    };
    Ok((fail, omit))
}

impl InMemoryRuntime {
    /// A runtime holding the tables of `world` (`runtime-world.schema.json`). A World whose
    /// members have the wrong type is an error naming the member.
    pub fn new(world: &Value) -> Result<Self, String> {
        let Some(w) = world.as_object() else {
            return Err(format!(
                "a World must be an object, received {}",
                json_type_name(world)
            ));
        };
        let agent_id = match w.get("agentId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(format!(
                    "world.agentId must be a string, received {}",
                    json_type_name(other)
                ))
            }
        };
        let character = match w.get("character") {
            None | Some(Value::Null) => None,
            Some(c @ Value::Object(_)) => Some(c.clone()),
            Some(other) => {
                return Err(format!(
                    "world.character must be an object, received {}",
                    json_type_name(other)
                ))
            }
        };
        let (fail, omit) = failures(w)?;
        let tables = Self::tables(w)?;
        Ok(InMemoryRuntime {
            agent_id,
            character,
            models: object(w, "models")?,
            fail,
            omit,
            tables: Mutex::new(tables),
            plugins: Mutex::new(Vec::new()),
            me: Weak::new(),
        })
    }

    /// The tables of a World, a room's `participants` joined to it.
    fn tables(w: &Map<String, Value>) -> Result<Tables, String> {
        let mut tables = Tables {
            settings: object(w, "settings")?,
            cache: object(w, "cache")?,
            rooms: objects(w, "rooms")?,
            worlds: objects(w, "worlds")?,
            entities: objects(w, "entities")?,
            memories: objects(w, "memories")?
                .into_iter()
                .map(|m| ("messages".to_string(), m))
                .collect(),
            tasks: objects(w, "tasks")?,
            ..Tables::default()
        };
        // A room's `participants` (entity ids) are its members from the start.
        let joins: Vec<(String, String)> = tables
            .rooms
            .iter()
            .flat_map(|room| {
                let id = id_of(room).unwrap_or_default().to_owned();
                room.get("participants")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(move |entity| (id.clone(), entity.to_owned()))
            })
            .collect();
        for (room, entity) in joins {
            Self::join(&mut tables, &room, &entity);
        }
        Ok(tables)
    }

    /// [`InMemoryRuntime::new`], shared: `composeState` then passes this runtime to the
    /// providers it runs (as elizaOS does), so a provider across the boundary may call it too.
    pub fn new_shared(world: &Value) -> Result<Arc<Self>, String> {
        let built = Self::new(world)?;
        Ok(Arc::new_cyclic(|me| InMemoryRuntime {
            me: me.clone(),
            ..built
        }))
    }

    /// Registers a loaded plugin: `composeState` runs its providers.
    pub fn register_plugin(&self, plugin: Arc<LoadedPlugin>) {
        lock(&self.plugins).push(plugin);
    }

    /// Every call made so far, in order, as `{"method", "args"}`.
    pub fn calls(&self) -> Vec<Value> {
        lock(&self.tables).calls.clone()
    }

    /// The events emitted with `emitEvent`, as `{"event", "params"}`.
    pub fn events(&self) -> Vec<Value> {
        lock(&self.tables).events.clone()
    }

    fn fresh_id(tables: &mut Tables, prefix: &str) -> String {
        tables.next_id += 1;
        format!("{prefix}-{}", tables.next_id)
    }

    fn join(tables: &mut Tables, room: &str, entity: &str) {
        let at = match tables.participants.iter().position(|(r, _)| r == room) {
            Some(at) => at,
            None => {
                tables.participants.push((room.to_owned(), Vec::new()));
                tables.participants.len() - 1
            }
        };
        let members = &mut tables.participants[at].1;
        if !members.iter().any(|m| m == entity) {
            members.push(entity.to_owned());
        }
    }

    fn members<'t>(tables: &'t Tables, room: Option<&str>) -> &'t [String] {
        room.and_then(|r| tables.participants.iter().find(|(id, _)| id == r))
            .map_or(&[], |(_, members)| members.as_slice())
    }

    fn ensure_connection(tables: &mut Tables, params: &Value) {
        let entity = params.get("entityId").and_then(Value::as_str);
        let room = params.get("roomId").and_then(Value::as_str);
        let world = params.get("worldId").and_then(Value::as_str);
        if let Some(world) = world {
            if find(&tables.worlds, Some(world)).is_null() {
                tables.worlds.push(json!({ "id": world }));
            }
        }
        if let Some(room_id) = room {
            if find(&tables.rooms, Some(room_id)).is_null() {
                let mut r = json!({ "id": room_id });
                for key in ["worldId", "source", "type", "channelId", "serverId"] {
                    if let Some(v) = params.get(key) {
                        r[key] = v.clone();
                    }
                }
                tables.rooms.push(r);
            }
        }
        if let Some(entity_id) = entity {
            if find(&tables.entities, Some(entity_id)).is_null() {
                let names: Vec<Value> = ["name", "userName"]
                    .iter()
                    .filter_map(|k| params.get(*k).filter(|v| v.is_string()).cloned())
                    .collect();
                tables
                    .entities
                    .push(json!({ "id": entity_id, "names": names }));
            }
            if let Some(room_id) = room {
                Self::join(tables, room_id, entity_id);
            }
        }
    }

    fn memories(tables: &Tables, params: &Value, rooms: Option<&[Value]>) -> Vec<Value> {
        let table = params.get("tableName").and_then(Value::as_str);
        let mut found: Vec<(usize, &Value)> = tables
            .memories
            .iter()
            .enumerate()
            .filter(|(_, (t, m))| {
                table.map_or(true, |want| want == t)
                    && field_matches(m, params, "roomId")
                    && field_matches(m, params, "entityId")
                    && field_matches(m, params, "agentId")
                    && rooms.map_or(true, |r| m.get("roomId").is_some_and(|id| r.contains(id)))
            })
            .map(|(i, (_, m))| (i, m))
            .collect();
        // Newest first: the reverse of insertion order (the World's memories are the oldest).
        found.sort_by(|(ia, _), (ib, _)| ib.cmp(ia));
        let count = params
            .get("count")
            .or_else(|| params.get("limit"))
            .and_then(Value::as_u64)
            .map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
        found
            .into_iter()
            .take(count)
            .map(|(_, m)| m.clone())
            .collect()
    }

    fn compose_state(&self, message: &Value, args: &[Value]) -> Result<Value, RuntimeError> {
        let include: Option<Vec<&str>> = args
            .get(1)
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect());
        let only = args.get(2).and_then(Value::as_bool).unwrap_or(false);
        let plugins = lock(&self.plugins).clone();
        let mut texts = Vec::new();
        let mut values = Map::new();
        let mut data = Map::new();
        let state = json!({});
        let runtime: Option<Arc<dyn AgentRuntime>> =
            self.me.upgrade().map(|me| -> Arc<dyn AgentRuntime> { me });
        for plugin in &plugins {
            for provider in plugin.providers() {
                let name = provider.name.as_str();
                let named = include.as_ref().is_some_and(|i| i.contains(&name));
                // elizaOS: with onlyInclude, only the named providers; without, every provider
                // that is neither private nor dynamic, plus the named ones.
                let hidden = provider.descriptor["private"] == Value::Bool(true)
                    || provider.descriptor["dynamic"] == Value::Bool(true);
                if !(named || (!only && !hidden)) {
                    continue;
                }
                // A failing provider is left out, as elizaOS's composeState does.
                let outcome = match &runtime {
                    Some(rt) => plugin.get_provider_with_runtime(name, message, &state, rt),
                    None => plugin.get_provider(name, message, &state),
                };
                let Ok(result) = outcome else {
                    continue;
                };
                if let Some(text) = result.get("text").and_then(Value::as_str) {
                    if !text.is_empty() {
                        texts.push(text.to_owned());
                    }
                }
                for (target, key) in [(&mut values, "values"), (&mut data, "data")] {
                    if let Some(Value::Object(members)) = result.get(key) {
                        for (k, v) in members {
                            target.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
        Ok(json!({ "text": texts.join("\n"), "values": values, "data": data }))
    }

    /// One method of 11.3 over the tables.
    fn dispatch(&self, method: &str, args: &[Value]) -> Result<Value, RuntimeError> {
        if method == "useModel" {
            let kind = str_arg(args, 0).unwrap_or("");
            return self
                .models
                .get(kind)
                .or_else(|| self.models.get("default"))
                .cloned()
                .ok_or_else(|| RuntimeError::failed(format!("no canned model for {kind}")));
        }
        if method == "composeState" {
            return self.compose_state(&arg(args, 0), args);
        }
        let mut guard = lock(&self.tables);
        for group in methods::GROUPS {
            if let Some(value) = group(&mut guard, method, args)? {
                return Ok(value);
            }
        }
        Err(RuntimeError::not_provided(method))
    }
}

impl AgentRuntime for InMemoryRuntime {
    fn call(&self, method: &str, args: Vec<Value>) -> Result<Value, RuntimeError> {
        lock(&self.tables)
            .calls
            .push(json!({ "method": method, "args": args }));
        if self.omit.contains(method) {
            return Err(RuntimeError::not_provided(method));
        }
        if let Some(message) = self.fail.get(method) {
            return Err(RuntimeError::failed(message.clone()));
        }
        self.dispatch(method, &args)
    }

    fn agent_id(&self) -> Option<String> {
        self.agent_id.clone()
    }

    fn character(&self) -> Option<Value> {
        self.character.clone()
    }
}
