//! The agent runtime a handler calls (protocol.md section 11): the [`AgentRuntime`] trait, shared
//! by both sides, and [`RuntimeError`].
//!
//! Host side: the caller of a plugin method passes an `Arc<dyn AgentRuntime>`; over IPC the host
//! answers the plugin's `runtime.<method>` requests by calling [`AgentRuntime::call`] with the wire
//! name (11.3). Plugin side: a handler reaches the host's runtime through
//! [`current_runtime`], a proxy implementing the same trait.

use serde_json::{Map, Value};
use std::fmt;

use crate::interop::wire::codes;

/// The runtime methods forwarded across the boundary (protocol.md 11.3), by wire name.
pub const RUNTIME_METHODS: [&str; 47] = [
    "getSetting",
    "setSetting",
    "getCache",
    "setCache",
    "deleteCache",
    "getRoom",
    "getRooms",
    "getRoomsForParticipant",
    "getRoomsForParticipants",
    "getParticipantsForRoom",
    "getParticipantUserState",
    "setParticipantUserState",
    "getWorld",
    "updateWorld",
    "ensureWorldExists",
    "ensureRoomExists",
    "ensureConnection",
    "ensureConnections",
    "getEntityById",
    "getEntitiesForRoom",
    "updateEntity",
    "getComponent",
    "getComponents",
    "createComponent",
    "updateComponent",
    "getRelationships",
    "createRelationship",
    "updateRelationship",
    "getMemories",
    "getMemoryById",
    "getMemoriesByRoomIds",
    "searchMemories",
    "createMemory",
    "updateMemory",
    "deleteMemory",
    "getConversationLength",
    "queueEmbeddingGeneration",
    "getTasks",
    "getTask",
    "getTasksByName",
    "createTask",
    "updateTask",
    "deleteTask",
    "useModel",
    "composeState",
    "emitEvent",
    "log",
];

/// Whether `method` is a runtime method of protocol.md 11.3 (wire name).
pub fn is_runtime_method(method: &str) -> bool {
    RUNTIME_METHODS.contains(&method)
}

/// Why a runtime call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum RuntimeError {
    /// The runtime does not provide `method`: the plugin's proxy has no host (the call carried
    /// no runtime, or the transport forwards none), or the host answered -32601.
    NotProvided {
        /// The wire name (`getRoom`).
        method: String,
        /// Whether the host said so (-32601), rather than the proxy refusing locally.
        from_host: bool,
    },
    /// The call failed with a JSON-RPC error: the runtime method threw (-32000), the host
    /// refused the request (-32602), the host went away (-32603 "host closed"), ...
    Call {
        /// JSON-RPC code (protocol.md 11.2).
        code: i64,
        /// Human-readable message.
        message: String,
        /// The error's `data`, if any.
        data: Option<Value>,
    },
}

impl RuntimeError {
    /// The runtime does not provide `method` (refused locally, without a host).
    pub fn not_provided(method: &str) -> Self {
        RuntimeError::NotProvided {
            method: method.to_owned(),
            from_host: false,
        }
    }

    /// The runtime method failed (-32000), e.g. a database error.
    pub fn failed(message: impl Into<String>) -> Self {
        RuntimeError::Call {
            code: codes::HANDLER_FAILED,
            message: message.into(),
            data: None,
        }
    }

    /// The JSON-RPC code: -32601 for [`RuntimeError::NotProvided`] from the host, `None` when the
    /// proxy refused locally.
    pub fn code(&self) -> Option<i64> {
        match self {
            RuntimeError::NotProvided { from_host, .. } => {
                from_host.then_some(codes::METHOD_NOT_FOUND)
            }
            RuntimeError::Call { code, .. } => Some(*code),
        }
    }

    /// The message (the Display text).
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::NotProvided { method, .. } => {
                write!(f, "runtime.{method} is not provided by the host")
            }
            RuntimeError::Call { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for RuntimeError {}

/// An elizaOS agent runtime, as a handler sees it (protocol.md section 11).
///
/// Implementors answer [`AgentRuntime::call`] for the wire names of 11.3 they support and return
/// [`RuntimeError::NotProvided`] for the others. Hosts call it from a thread of their own (never
/// the one reading the plugin's answers), so an implementation may call back into the plugin.
///
/// ```
/// use elizaos::interop::{AgentRuntime, RuntimeError};
/// use serde_json::{json, Value};
///
/// /// A runtime that knows one setting.
/// struct Settings;
///
/// impl AgentRuntime for Settings {
///     fn call(&self, method: &str, args: Vec<Value>) -> Result<Value, RuntimeError> {
///         match (method, args.first().and_then(Value::as_str)) {
///             ("getSetting", Some("GREETING")) => Ok(json!("hello")),
///             ("getSetting", _) => Ok(Value::Null),
///             _ => Err(RuntimeError::not_provided(method)),
///         }
///     }
///
///     fn agent_id(&self) -> Option<String> {
///         Some("agent-1".into())
///     }
/// }
///
/// let runtime = Settings;
/// assert_eq!(runtime.call("getSetting", vec![json!("GREETING")]), Ok(json!("hello")));
/// let err = runtime.call("useModel", vec![]).unwrap_err();
/// assert_eq!(err.to_string(), "runtime.useModel is not provided by the host");
/// ```
pub trait AgentRuntime: Send + Sync {
    /// Call the runtime method `method` (wire name, e.g. `getSetting`) with positional `args`.
    fn call(&self, method: &str, args: Vec<Value>) -> Result<Value, RuntimeError>;

    /// The agent's id (`runtime.agentId`), if it has one.
    fn agent_id(&self) -> Option<String> {
        None
    }

    /// The agent's character (`runtime.character`), if it has one.
    fn character(&self) -> Option<Value> {
        None
    }
}

impl fmt::Debug for dyn AgentRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentRuntime")
            .field("agent_id", &self.agent_id())
            .finish_non_exhaustive()
    }
}

/// The call context of protocol.md 11.1 for `runtime`: `{"agentId"?, "character"?}`.
pub fn runtime_context(runtime: &dyn AgentRuntime) -> Value {
    let mut context = Map::new();
    if let Some(id) = runtime.agent_id() {
        context.insert("agentId".into(), Value::String(id));
    }
    if let Some(character) = runtime.character() {
        context.insert("character".into(), character);
    }
    Value::Object(context)
}

/// The plugin side's link to the host while a request is served (the IPC server): the innermost
/// call's id and runtime context, and the runtime requests themselves.
pub(crate) trait RuntimeChannel {
    /// The call being served on this thread: its request id and its `params.runtime`, if any.
    fn frame(&self) -> Option<(Value, Option<Value>)>;
    /// The config of the plugin's last `init` (`{}` before any).
    fn config(&self) -> Value;
    /// Send `runtime.<method>` for call `call`; returns the request id.
    fn send(&self, call: &Value, method: &str, args: Vec<Value>) -> Result<String, RuntimeError>;
    /// Wait for the answer to request `id`, serving host requests meanwhile (11.4).
    fn wait(&self, id: &str, method: &str) -> Result<Value, RuntimeError>;
}

type ChannelPtr = *const (dyn RuntimeChannel + 'static);

thread_local! {
    /// The channel of the server serving this thread, while it serves. A raw pointer needs no
    /// destructor, so no thread-local destructor is ever registered (see `export`).
    static CHANNEL: std::cell::Cell<Option<ChannelPtr>> = const { std::cell::Cell::new(None) };
}

/// Makes `channel` the current thread's runtime channel until the guard is dropped (the IPC
/// server's; there is none on wasm32).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) struct ChannelGuard {
    previous: Option<ChannelPtr>,
}

#[cfg(not(target_arch = "wasm32"))]
impl ChannelGuard {
    /// Install `channel`; the caller keeps it alive and in place until the guard drops.
    pub(crate) fn enter(channel: &dyn RuntimeChannel) -> ChannelGuard {
        // SAFETY: only the lifetime bound changes; the pointer is used only while the guard
        // lives, and the guard lives within the borrow of `channel` (it is dropped before the
        // function that created both returns).
        let ptr: ChannelPtr = unsafe {
            std::mem::transmute::<*const dyn RuntimeChannel, ChannelPtr>(
                channel as *const dyn RuntimeChannel,
            )
        };
        ChannelGuard {
            previous: CHANNEL.with(|c| c.replace(Some(ptr))),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Drop for ChannelGuard {
    fn drop(&mut self) {
        CHANNEL.with(|c| c.set(self.previous));
    }
}

fn with_channel<R>(f: impl FnOnce(&dyn RuntimeChannel) -> R) -> Option<R> {
    let ptr = CHANNEL.with(std::cell::Cell::get)?;
    // SAFETY: set by a live `ChannelGuard` on this thread, whose channel outlives it.
    Some(f(unsafe { &*ptr }))
}

/// The handler's view of the host's runtime (protocol.md 11.1): a proxy forwarding each method of
/// 11.3 to the host as a runtime request (IPC), reading `agentId` and `character` from the call's
/// snapshot. Without a runtime in the call (the host's caller passed none, an older host, or an
/// in-process transport) every method fails at once with [`RuntimeError::NotProvided`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeProxy {
    /// The id of the host request being served, when there is a host to ask.
    call: Option<Value>,
    /// The call's `params.runtime` snapshot.
    context: Option<Value>,
    /// The config of the plugin's last `init` (11.1: the SDK's own `config` member).
    config: Option<Value>,
}

/// The runtime of the call this thread is serving (inside a handler), or a proxy without a host.
/// Call it, and the proxy's methods, from the handler's own thread: the IPC server serves one
/// request at a time on that thread, and another thread's proxy has no host.
pub fn current_runtime() -> RuntimeProxy {
    let found = with_channel(|c| (c.frame(), c.config()));
    let config = found.as_ref().map(|(_, config)| config.clone());
    match found {
        Some((Some((call, Some(context))), _)) => RuntimeProxy {
            call: Some(call),
            context: Some(context),
            config,
        },
        _ => RuntimeProxy {
            config,
            ..RuntimeProxy::default()
        },
    }
}

/// What the plugin side answers itself (11.3: what they return cannot cross a process boundary).
fn local_answer(method: &str) -> Option<Value> {
    match method {
        "getService" | "getModel" => Some(Value::Null),
        "getAllServices" => Some(Value::Object(Map::new())),
        _ => None,
    }
}

impl RuntimeProxy {
    /// Whether the call carried a runtime, i.e. runtime methods reach a host.
    pub fn is_available(&self) -> bool {
        self.call.is_some()
    }

    /// The config of the plugin's last `init` (`{}` before any, and outside the IPC server).
    pub fn config(&self) -> Value {
        self.config
            .clone()
            .unwrap_or_else(|| Value::Object(Map::new()))
    }

    /// The call's runtime snapshot (`{"agentId"?, "character"?}`), if any.
    pub fn context(&self) -> Option<&Value> {
        self.context.as_ref()
    }

    /// Calls every `(method, args)` at once (all requests are sent before the first answer is
    /// awaited) and returns the outcomes in order.
    pub fn call_all(&self, calls: Vec<(String, Vec<Value>)>) -> Vec<Result<Value, RuntimeError>> {
        let sent: Vec<(String, Result<String, RuntimeError>)> = calls
            .into_iter()
            .map(|(method, args)| {
                let id = self.send(&method, args);
                (method, id)
            })
            .collect();
        sent.into_iter()
            .map(|(method, id)| match id? {
                id if id.is_empty() => {
                    local_answer(&method).ok_or_else(|| RuntimeError::not_provided(&method))
                }
                id => with_channel(|c| c.wait(&id, &method))
                    .unwrap_or_else(|| Err(RuntimeError::not_provided(&method))),
            })
            .collect()
    }

    /// Sends one request; an empty id means "answered locally".
    fn send(&self, method: &str, args: Vec<Value>) -> Result<String, RuntimeError> {
        if local_answer(method).is_some() {
            return Ok(String::new());
        }
        // Only the methods of 11.3 are ever forwarded.
        let Some(call) = self.call.as_ref().filter(|_| is_runtime_method(method)) else {
            return Err(RuntimeError::not_provided(method));
        };
        with_channel(|c| c.send(call, method, args))
            .unwrap_or_else(|| Err(RuntimeError::not_provided(method)))
    }
}

impl AgentRuntime for RuntimeProxy {
    fn call(&self, method: &str, args: Vec<Value>) -> Result<Value, RuntimeError> {
        self.call_all(vec![(method.to_owned(), args)])
            .pop()
            .unwrap_or_else(|| Err(RuntimeError::not_provided(method)))
    }

    fn agent_id(&self) -> Option<String> {
        self.context
            .as_ref()?
            .get("agentId")?
            .as_str()
            .map(str::to_owned)
    }

    fn character(&self) -> Option<Value> {
        self.context.as_ref()?.get("character").cloned()
    }
}

/// The error a proxy raises for a runtime request's error answer (11.2): -32601 is
/// [`RuntimeError::NotProvided`], anything else [`RuntimeError::Call`].
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn error_from_answer(
    method: &str,
    code: i64,
    message: String,
    data: Option<Value>,
) -> RuntimeError {
    if code == codes::METHOD_NOT_FOUND {
        RuntimeError::NotProvided {
            method: method.to_owned(),
            from_host: true,
        }
    } else {
        RuntimeError::Call {
            code,
            message,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_the_spec_says() {
        let e = RuntimeError::not_provided("getRoom");
        assert_eq!(e.to_string(), "runtime.getRoom is not provided by the host");
        assert_eq!(e.code(), None);
        let e = RuntimeError::NotProvided {
            method: "getRoom".into(),
            from_host: true,
        };
        assert_eq!(e.code(), Some(-32601));
        let e = RuntimeError::failed("database offline");
        assert_eq!(
            (e.code(), e.to_string()),
            (Some(-32000), "database offline".into())
        );
    }

    #[test]
    fn a_proxy_without_a_host_refuses_at_once() {
        let rt = current_runtime();
        assert!(!rt.is_available());
        assert_eq!(
            rt.call("getSetting", vec![Value::from("K")]),
            Err(RuntimeError::not_provided("getSetting"))
        );
        assert_eq!(rt.call("getService", vec![]), Ok(Value::Null));
        let hosted = RuntimeProxy {
            call: Some(Value::from(1)),
            context: Some(Value::Object(Map::new())),
            config: None,
        };
        assert_eq!(
            hosted.call("constructor", vec![]),
            Err(RuntimeError::not_provided("constructor")),
            "a name outside 11.3 is refused locally, never sent"
        );
        assert_eq!(rt.agent_id(), None);
    }

    #[test]
    fn the_method_table_has_the_47_methods_of_11_3() {
        let unique: std::collections::HashSet<_> = RUNTIME_METHODS.iter().collect();
        assert_eq!(unique.len(), 47);
        assert!(is_runtime_method("useModel"));
        assert!(!is_runtime_method("getService"));
        assert!(!is_runtime_method(""));
    }
}
