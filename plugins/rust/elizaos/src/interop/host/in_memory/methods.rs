//! The table methods of 11.3, one function per group of tables. Each answers the methods of its
//! group and `None` for the others.

use serde_json::{json, Value};

use super::{
    arg, field_matches, find, has_tags, id_of, merge, str_arg, upsert, InMemoryRuntime, Tables,
    DEFAULT_CONVERSATION_LENGTH,
};
use crate::interop::plugin::RuntimeError;
use crate::interop::wire::json_type_name;

/// A group of table methods: `Ok(None)` for a method of another group.
pub(super) type TableMethods =
    fn(&mut Tables, &str, &[Value]) -> Result<Option<Value>, RuntimeError>;

/// Every group, in the order `dispatch` tries them.
pub(super) const GROUPS: [TableMethods; 9] = [
    InMemoryRuntime::settings_and_cache,
    InMemoryRuntime::rooms_and_participants,
    InMemoryRuntime::worlds_and_connections,
    InMemoryRuntime::entities,
    InMemoryRuntime::components,
    InMemoryRuntime::relationships,
    InMemoryRuntime::memory_reads,
    InMemoryRuntime::memory_writes,
    InMemoryRuntime::tasks_and_events,
];

/// The id of the object `item`, given a fresh one (`<prefix>-<n>`) when it has none.
fn ensure_id(t: &mut Tables, item: &mut Value, prefix: &str) -> String {
    if let Some(id) = id_of(item) {
        return id.to_owned();
    }
    let id = InMemoryRuntime::fresh_id(t, prefix);
    item["id"] = Value::String(id.clone());
    id
}

/// `createComponent`/`createRelationship`: the row is stored as given, an object with an id
/// (a fresh one when it has none).
fn insert_with_id(
    t: &mut Tables,
    table: fn(&mut Tables) -> &mut Vec<Value>,
    mut item: Value,
    prefix: &str,
) -> Value {
    if item.is_object() {
        ensure_id(t, &mut item, prefix);
    }
    table(t).push(item);
    Value::Bool(true)
}

/// The object argument of a `create*` method: anything else fails the call.
fn object_arg(method: &str, what: &str, value: Value) -> Result<Value, RuntimeError> {
    if value.is_object() {
        Ok(value)
    } else {
        Err(RuntimeError::failed(format!(
            "{method} needs a {what} object, received {}",
            json_type_name(&value)
        )))
    }
}

impl InMemoryRuntime {
    /// Settings and the cache.
    fn settings_and_cache(
        t: &mut Tables,
        method: &str,
        args: &[Value],
    ) -> Result<Option<Value>, RuntimeError> {
        let a0 = || str_arg(args, 0);
        let value = match method {
            "getSetting" => a0()
                .and_then(|k| t.settings.get(k).cloned())
                .unwrap_or(Value::Null),
            "setSetting" => {
                if let Some(k) = a0() {
                    t.settings.insert(k.to_owned(), arg(args, 1));
                }
                Value::Null
            }
            "getCache" => a0()
                .and_then(|k| t.cache.get(k).cloned())
                .unwrap_or(Value::Null),
            "setCache" => {
                if let Some(k) = a0() {
                    t.cache.insert(k.to_owned(), arg(args, 1));
                }
                Value::Bool(true)
            }
            "deleteCache" => {
                if let Some(k) = a0() {
                    t.cache.remove(k);
                }
                Value::Bool(true)
            }
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    /// Rooms and their participants.
    fn rooms_and_participants(
        t: &mut Tables,
        method: &str,
        args: &[Value],
    ) -> Result<Option<Value>, RuntimeError> {
        let a0 = || str_arg(args, 0);
        let value = match method {
            "getRoom" => find(&t.rooms, a0()),
            "getRooms" => Value::Array(
                t.rooms
                    .iter()
                    .filter(|r| r.get("worldId").and_then(Value::as_str) == a0())
                    .cloned()
                    .collect(),
            ),
            "getRoomsForParticipant" | "getRoomsForParticipants" => {
                let wanted: Vec<&str> = match args.first() {
                    Some(Value::Array(ids)) => ids.iter().filter_map(Value::as_str).collect(),
                    Some(Value::String(id)) => vec![id.as_str()],
                    _ => Vec::new(),
                };
                let rooms: Vec<&String> = t
                    .participants
                    .iter()
                    .filter(|(_, members)| members.iter().any(|m| wanted.contains(&m.as_str())))
                    .map(|(room, _)| room)
                    .collect();
                json!(rooms)
            }
            "getParticipantsForRoom" => json!(Self::members(t, a0())),
            "getParticipantUserState" => match (str_arg(args, 0), str_arg(args, 1)) {
                (Some(r), Some(e)) => t
                    .user_states
                    .get(&(r.to_owned(), e.to_owned()))
                    .cloned()
                    .unwrap_or(Value::Null),
                _ => Value::Null,
            },
            "setParticipantUserState" => {
                if let (Some(r), Some(e)) = (str_arg(args, 0), str_arg(args, 1)) {
                    t.user_states
                        .insert((r.to_owned(), e.to_owned()), arg(args, 2));
                }
                Value::Null
            }
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    /// Worlds, and the connections that create rooms, worlds and entities.
    fn worlds_and_connections(
        t: &mut Tables,
        method: &str,
        args: &[Value],
    ) -> Result<Option<Value>, RuntimeError> {
        let a0 = || str_arg(args, 0);
        let value = match method {
            "getWorld" => find(&t.worlds, a0()),
            "updateWorld" => {
                upsert(&mut t.worlds, arg(args, 0));
                Value::Null
            }
            "ensureWorldExists" | "ensureRoomExists" => {
                let item = arg(args, 0);
                let table = if method == "ensureWorldExists" {
                    &mut t.worlds
                } else {
                    &mut t.rooms
                };
                if find(table, id_of(&item)).is_null() && id_of(&item).is_some() {
                    table.push(item);
                }
                Value::Null
            }
            "ensureConnection" => {
                Self::ensure_connection(t, &arg(args, 0));
                Value::Null
            }
            "ensureConnections" => {
                let world = arg(args, 3);
                if id_of(&world).is_some() && find(&t.worlds, id_of(&world)).is_null() {
                    t.worlds.push(world);
                }
                for room in args.get(1).and_then(Value::as_array).into_iter().flatten() {
                    if id_of(room).is_some() && find(&t.rooms, id_of(room)).is_null() {
                        t.rooms.push(room.clone());
                    }
                }
                let rooms: Vec<String> = args
                    .get(1)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|r| id_of(r).map(str::to_owned))
                    .collect();
                for entity in args.first().and_then(Value::as_array).into_iter().flatten() {
                    if let Some(id) = id_of(entity).map(str::to_owned) {
                        if find(&t.entities, Some(&id)).is_null() {
                            t.entities.push(entity.clone());
                        }
                        for room in &rooms {
                            Self::join(t, room, &id);
                        }
                    }
                }
                Value::Null
            }
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    /// Entities.
    fn entities(
        t: &mut Tables,
        method: &str,
        args: &[Value],
    ) -> Result<Option<Value>, RuntimeError> {
        let a0 = || str_arg(args, 0);
        let value = match method {
            "getEntityById" => find(&t.entities, a0()),
            "getEntitiesForRoom" => {
                let members = Self::members(t, a0()).to_vec();
                Value::Array(
                    members
                        .iter()
                        .map(|m| find(&t.entities, Some(m)))
                        .filter(|e| !e.is_null())
                        .collect(),
                )
            }
            "updateEntity" => {
                upsert(&mut t.entities, arg(args, 0));
                Value::Null
            }
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    /// Components.
    fn components(
        t: &mut Tables,
        method: &str,
        args: &[Value],
    ) -> Result<Option<Value>, RuntimeError> {
        let a0 = || str_arg(args, 0);
        let value = match method {
            "getComponent" | "getComponents" => {
                let single = method == "getComponent";
                let (world_at, source_at) = if single { (2, 3) } else { (1, 2) };
                let matches: Vec<Value> = t
                    .components
                    .iter()
                    .filter(|c| {
                        c.get("entityId").and_then(Value::as_str) == a0()
                            && (!single
                                || c.get("type").and_then(Value::as_str) == str_arg(args, 1))
                            && str_arg(args, world_at).map_or(true, |w| {
                                c.get("worldId").and_then(Value::as_str) == Some(w)
                            })
                            && str_arg(args, source_at).map_or(true, |s| {
                                c.get("sourceEntityId").and_then(Value::as_str) == Some(s)
                            })
                    })
                    .cloned()
                    .collect();
                if single {
                    matches.into_iter().next().unwrap_or(Value::Null)
                } else {
                    Value::Array(matches)
                }
            }
            "createComponent" => {
                insert_with_id(t, |t| &mut t.components, arg(args, 0), "component")
            }
            "updateComponent" => {
                upsert(&mut t.components, arg(args, 0));
                Value::Null
            }
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    /// Relationships.
    fn relationships(
        t: &mut Tables,
        method: &str,
        args: &[Value],
    ) -> Result<Option<Value>, RuntimeError> {
        let value = match method {
            "getRelationships" => {
                let params = arg(args, 0);
                let entity = params.get("entityId").and_then(Value::as_str);
                let tags = params.get("tags").cloned().unwrap_or(Value::Null);
                Value::Array(
                    t.relationships
                        .iter()
                        .filter(|r| {
                            let side = |k: &str| r.get(k).and_then(Value::as_str);
                            (entity.is_none()
                                || side("sourceEntityId") == entity
                                || side("targetEntityId") == entity)
                                && has_tags(r, &tags)
                        })
                        .cloned()
                        .collect(),
                )
            }
            "createRelationship" => {
                insert_with_id(t, |t| &mut t.relationships, arg(args, 0), "relationship")
            }
            "updateRelationship" => {
                upsert(&mut t.relationships, arg(args, 0));
                Value::Null
            }
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    /// Reading memories.
    fn memory_reads(
        t: &mut Tables,
        method: &str,
        args: &[Value],
    ) -> Result<Option<Value>, RuntimeError> {
        let a0 = || str_arg(args, 0);
        let value = match method {
            "getMemories" => Value::Array(Self::memories(t, &arg(args, 0), None)),
            "getMemoryById" => t
                .memories
                .iter()
                .map(|(_, m)| m)
                .find(|m| id_of(m).is_some() && id_of(m) == a0())
                .cloned()
                .unwrap_or(Value::Null),
            "getMemoriesByRoomIds" => {
                let params = arg(args, 0);
                let rooms = params
                    .get("roomIds")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                Value::Array(Self::memories(t, &params, Some(&rooms)))
            }
            "searchMemories" => {
                let params = arg(args, 0);
                // No embeddings here: a memory matches when its text contains the query
                // (case-insensitive).
                let query = params
                    .get("query")
                    .and_then(Value::as_str)
                    .map(str::to_lowercase);
                let mut all = params.clone();
                if let Some(p) = all.as_object_mut() {
                    p.remove("count");
                }
                let count = params.get("count").and_then(Value::as_u64);
                Value::Array(
                    Self::memories(t, &all, None)
                        .into_iter()
                        .filter(|m| {
                            query.as_ref().map_or(true, |q| {
                                m["content"]["text"]
                                    .as_str()
                                    .is_some_and(|s| s.to_lowercase().contains(q))
                            })
                        })
                        .take(
                            count.map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX)),
                        )
                        .collect(),
                )
            }
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    /// Writing memories, embeddings and logs.
    fn memory_writes(
        t: &mut Tables,
        method: &str,
        args: &[Value],
    ) -> Result<Option<Value>, RuntimeError> {
        let a0 = || str_arg(args, 0);
        let value = match method {
            "createMemory" => {
                let mut memory = object_arg(method, "memory", arg(args, 0))?;
                let table = str_arg(args, 1).unwrap_or("messages").to_owned();
                let id = ensure_id(t, &mut memory, "memory");
                if !memory.get("createdAt").is_some_and(Value::is_number) {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis());
                    memory["createdAt"] = json!(u64::try_from(now).unwrap_or(u64::MAX));
                }
                t.memories.push((table, memory));
                Value::String(id)
            }
            "updateMemory" => {
                let patch = arg(args, 0);
                let id = id_of(&patch).map(str::to_owned);
                let mut items: Vec<Value> = t.memories.iter().map(|(_, m)| m.clone()).collect();
                let found = merge(&mut items, id.as_deref(), &patch);
                for ((_, m), updated) in t.memories.iter_mut().zip(items) {
                    *m = updated;
                }
                Value::Bool(found)
            }
            "deleteMemory" => {
                t.memories
                    .retain(|(_, m)| id_of(m).is_none() || id_of(m) != a0());
                Value::Null
            }
            "getConversationLength" => t
                .settings
                .get("CONVERSATION_LENGTH")
                .cloned()
                .unwrap_or_else(|| json!(DEFAULT_CONVERSATION_LENGTH)),
            "queueEmbeddingGeneration" | "log" => {
                if method == "log" {
                    t.logs.push(arg(args, 0));
                }
                Value::Null
            }
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    /// Tasks and events.
    fn tasks_and_events(
        t: &mut Tables,
        method: &str,
        args: &[Value],
    ) -> Result<Option<Value>, RuntimeError> {
        let a0 = || str_arg(args, 0);
        let value = match method {
            "getTasks" => {
                let params = arg(args, 0);
                let tags = params.get("tags").cloned().unwrap_or(Value::Null);
                Value::Array(
                    t.tasks
                        .iter()
                        .filter(|task| {
                            field_matches(task, &params, "roomId")
                                && field_matches(task, &params, "entityId")
                                && has_tags(task, &tags)
                        })
                        .cloned()
                        .collect(),
                )
            }
            "getTask" => find(&t.tasks, a0()),
            "getTasksByName" => Value::Array(
                t.tasks
                    .iter()
                    .filter(|task| task.get("name").and_then(Value::as_str) == a0())
                    .cloned()
                    .collect(),
            ),
            "createTask" => {
                let mut task = object_arg(method, "task", arg(args, 0))?;
                let id = ensure_id(t, &mut task, "task");
                t.tasks.push(task);
                Value::String(id)
            }
            "updateTask" => {
                let id = a0().map(str::to_owned);
                merge(&mut t.tasks, id.as_deref(), &arg(args, 1));
                Value::Null
            }
            "deleteTask" => {
                t.tasks
                    .retain(|task| id_of(task).is_none() || id_of(task) != a0());
                Value::Null
            }
            "emitEvent" => {
                t.events
                    .push(json!({ "event": arg(args, 0), "params": arg(args, 1) }));
                Value::Null
            }
            _ => return Ok(None),
        };
        Ok(Some(value))
    }
}
