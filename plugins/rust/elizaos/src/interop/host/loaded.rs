//! [`LoadedPlugin`]: the plugin object every loader returns. The same methods
//! work over IPC and FFI, so user code does not change with the transport.
//! Payloads are checked against the JSON profile before anything is sent, and
//! results are checked and put in canonical form (null optional members
//! removed) before user code sees them.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::error::{excerpt, ErrorContext, InteropError, Transport};
use super::ffi::FfiPlugin;
use super::ipc::IpcConnection;
use crate::interop::plugin::{runtime_context, AgentRuntime};
use crate::interop::wire::{json_type_name, methods};

/// Deepest params nesting the host sends (the params object counts as 1).
/// protocol.md section 2 guarantees 64; deeper payloads MAY be refused. The
/// bound leaves room for the levels a response adds around echoed values, so
/// an echo never exceeds serde_json's parse limit of 128.
pub const MAX_PAYLOAD_DEPTH: usize = 120;

/// The protocol version this host speaks (section 12).
pub const HOST_PROTOCOL_VERSION: u64 = 1;

/// The transport-specific half of a plugin object.
#[derive(Debug)]
pub(crate) enum Backend {
    Ipc(Box<IpcConnection>),
    Ffi(FfiPlugin),
}

/// A loaded plugin, whatever its language and transport. `&self` methods may
/// be called from several threads at once (IPC requests are pipelined over
/// the one child; FFI calls go straight to the library, which serialises them).
/// Dropping it closes the plugin: IPC sends `shutdown`, waits, kills if
/// needed and always reaps the child; FFI unloads the library.
#[derive(Debug)]
pub struct LoadedPlugin {
    backend: Backend,
    manifest: Value,
    name: String,
}

/// An action, provider or evaluator of a loaded plugin: its name and
/// description, and the full descriptor as the plugin sent it (unknown
/// members such as `examples` included, section 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    /// The name the plugin is called with.
    pub name: String,
    /// The description, when the descriptor has one.
    pub description: Option<String>,
    /// The descriptor object as received.
    pub descriptor: Value,
}

/// `params` of the handler methods, serialised without copying the values.
#[derive(Serialize)]
struct HandlerParams<'a> {
    name: &'a str,
    memory: &'a Value,
    state: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<&'a Value>,
    /// The call context of section 11.1, when the call passes a runtime.
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime: Option<&'a Value>,
}

/// Checks that a manifest follows manifest.schema.json and the section 1
/// rules; returns every problem found.
pub fn manifest_problems(manifest: &Value) -> Vec<String> {
    let Some(obj) = manifest.as_object() else {
        return vec![format!(
            "manifest is {}, expected object",
            json_type_name(manifest)
        )];
    };
    // Must-ignore (section 1): unknown members are kept, only known members are checked.
    let mut problems = Vec::new();
    // How a received member reads in a message: its JSON text, or "missing".
    let shown = |key: &str| {
        obj.get(key)
            .map_or_else(|| "missing".to_string(), Value::to_string)
    };
    match obj.get("name").and_then(Value::as_str) {
        Some(n) if is_plugin_name(n) => {}
        _ => problems.push(format!(
            "name {} is not an npm package name (1..214 characters of [a-z0-9._~-], optionally @scope/)",
            shown("name")
        )),
    }
    if !obj.get("description").is_some_and(Value::is_string) {
        problems.push("description is missing or not a string".into());
    }
    match obj.get("version").and_then(Value::as_str) {
        Some(v) if is_semver(v) => {}
        _ => problems.push(format!(
            "version {} is not a SemVer 2.0 string",
            shown("version")
        )),
    }
    match obj.get("language").and_then(Value::as_str) {
        Some(l) if is_language(l) => {}
        _ => problems.push(format!(
            "language {} does not match ^[a-z][a-z0-9+-]*$",
            shown("language")
        )),
    }
    match obj.get("protocolVersion") {
        None => {}
        Some(v) if v.as_u64().is_some() => {}
        Some(v) => problems.push(format!(
            "protocolVersion has the wrong type ({}), expected a non-negative integer",
            json_type_name(v)
        )),
    }
    for list in ["capabilities", "services", "events", "routes", "models"] {
        match obj.get(list) {
            None => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            Some(v) => problems.push(format!(
                "{list} has the wrong type ({}), expected an array of strings",
                json_type_name(v)
            )),
        }
    }
    let kinds: [(&str, &[&str]); 3] = [
        ("actions", &["name", "description"]),
        ("providers", &["name"]),
        ("evaluators", &["name", "description"]),
    ];
    for (kind, required) in kinds {
        let Some(items) = obj.get(kind).and_then(Value::as_array) else {
            problems.push(format!("{kind} is missing or not an array"));
            continue;
        };
        let mut seen = std::collections::HashSet::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("{kind}[{i}]");
            let Some(d) = item.as_object() else {
                problems.push(format!("{at} is {}, expected object", json_type_name(item)));
                continue;
            };
            for req in required {
                if !d.contains_key(*req) {
                    problems.push(format!("{at}.{req} is missing"));
                }
            }
            for (key, value) in d {
                let ok = match key.as_str() {
                    "name" | "description" => value.is_string(),
                    "dynamic" | "private" | "alwaysRun" => value.is_boolean(),
                    "similes" => value
                        .as_array()
                        .is_some_and(|a| a.iter().all(Value::is_string)),
                    "position" => value.is_number(),
                    _ => true,
                };
                if !ok {
                    problems.push(format!(
                        "{at}.{key} has the wrong type ({})",
                        json_type_name(value)
                    ));
                }
            }
            if let Some(n) = d.get("name").and_then(Value::as_str) {
                if n.is_empty() {
                    problems.push(format!("{at}.name is empty"));
                } else if !seen.insert(n) {
                    problems.push(format!("{at}.name {n:?} is not unique"));
                }
            }
        }
    }
    problems
}

/// An npm package name (section 1): 1..214 characters of `[a-z0-9._~-]`, optionally scoped as
/// `@scope/name`.
pub(crate) fn is_plugin_name(n: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._~-".contains(&b))
    };
    let bare = match n.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('/') {
            Some((scope, name)) => part(scope) && part(name),
            None => false,
        },
        None => part(n),
    };
    (1..=214).contains(&n.len()) && bare
}

fn is_language(l: &str) -> bool {
    let mut bytes = l.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'+' || b == b'-')
}

/// SemVer 2.0: `MAJOR.MINOR.PATCH[-pre][+build]`, no leading zeros in numbers.
fn is_semver(v: &str) -> bool {
    let (rest, build) = match v.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let ident =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.map_or(true, |p| {
            p.split('.')
                .all(|id| ident(id) && (!id.bytes().all(|b| b.is_ascii_digit()) || numeric(id)))
        })
        && build.map_or(true, |b| b.split('.').all(ident))
}

/// Refuses a value the JSON profile does not carry (section 2): nesting
/// deeper than [`MAX_PAYLOAD_DEPTH`]. (Rust strings cannot hold lone
/// surrogates, and `serde_json::Value` cannot hold NaN or infinities.)
fn check_depth(value: &Value, path: &mut String, depth: usize) -> Result<(), (String, String)> {
    if depth > MAX_PAYLOAD_DEPTH {
        return Err((
            path.clone(),
            format!(
                "nesting deeper than {MAX_PAYLOAD_DEPTH} levels (the params object counts as 1)"
            ),
        ));
    }
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_depth(item, path, depth + 1)?;
                path.truncate(len);
            }
        }
        Value::Object(members) => {
            for (key, item) in members {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                check_depth(item, path, depth + 1)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// A hint for the usual toolchain mistakes, recognised in a bridge's stderr.
fn toolchain_hint(stderr: &str) -> Option<&'static str> {
    // A Node too old for TypeScript is diagnosed by the TypeScript loader,
    // which names the version and the binary.
    if stderr.contains("No module named 'elizaos_interop'")
        || stderr.contains("No module named elizaos_interop")
    {
        Some("the interpreter cannot import elizaos_interop; install it or set ELIZAOS_PYTHON")
    } else {
        None
    }
}

/// The part of a result a method returns, after shape checks.
enum Expect {
    Bool,
    ActionResult,
    ProviderResult,
    EvaluatorResult,
    Any,
}

fn expectation(method: &str) -> Expect {
    match method {
        methods::VALIDATE_ACTION | methods::VALIDATE_EVALUATOR => Expect::Bool,
        // Any value: our SDKs answer `{}`, the seed's `{"success": true}` (section 3.3).
        methods::INIT | methods::SHUTDOWN => Expect::Any,
        methods::INVOKE_ACTION => Expect::ActionResult,
        methods::GET_PROVIDER => Expect::ProviderResult,
        methods::INVOKE_EVALUATOR => Expect::EvaluatorResult,
        _ => Expect::Any,
    }
}

/// Checks a result object's known members and removes null optional
/// members (section 1: absent, never null, in the canonical form). Unknown
/// members are ignored and kept (must-ignore).
fn canonical_result(value: Value, action: bool) -> Result<Value, String> {
    let Value::Object(mut obj) = value else {
        return Err(format!(
            "expected an object, received {}",
            json_type_name(&value)
        ));
    };
    if action && !obj.get("success").is_some_and(Value::is_boolean) {
        return Err("\"success\" must be a boolean".into());
    }
    let mut nulls = false;
    for (key, member) in &obj {
        let ok = match key.as_str() {
            "success" if action => true,
            "text" => member.is_string() || member.is_null(),
            "error" if action => member.is_string() || member.is_null(),
            "values" | "data" => member.is_object() || member.is_null(),
            _ => true,
        };
        if !ok {
            return Err(format!(
                "{key:?} has the wrong type ({})",
                json_type_name(member)
            ));
        }
        nulls |= member.is_null();
    }
    if nulls {
        obj.retain(|_, member| !member.is_null());
    }
    Ok(Value::Object(obj))
}

fn check_result(method: &str, value: Value) -> Result<Value, String> {
    match expectation(method) {
        Expect::Bool if value.is_boolean() => Ok(value),
        // The seed's plugins answer `{"valid": bool}` (section 12).
        Expect::Bool => match value.get("valid") {
            Some(Value::Bool(valid)) => Ok(Value::Bool(*valid)),
            _ => Err(format!(
                "expected a boolean or {{\"valid\": boolean}}, received {}",
                json_type_name(&value)
            )),
        },
        Expect::ActionResult => canonical_result(value, true),
        Expect::ProviderResult => canonical_result(value, false),
        Expect::EvaluatorResult if value.is_null() => Ok(value),
        Expect::EvaluatorResult => canonical_result(value, true),
        Expect::Any => Ok(value),
    }
}

/// The four call methods that may carry a runtime (section 3.3).
fn is_handler_method(method: &str) -> bool {
    matches!(
        method,
        methods::VALIDATE_ACTION
            | methods::INVOKE_ACTION
            | methods::GET_PROVIDER
            | methods::VALIDATE_EVALUATOR
            | methods::INVOKE_EVALUATOR
    )
}

/// Name of the target a handler method addresses, when `params.name` is a string.
fn target_of(params: &Value) -> Option<&str> {
    params.get("name").and_then(Value::as_str)
}

impl LoadedPlugin {
    /// Wraps a backend after fetching and checking its manifest. On failure
    /// the backend is closed (child reaped) and a load error returned.
    pub(crate) fn from_backend(
        backend: Backend,
        label: &str,
        timeout: Option<Duration>,
    ) -> Result<Self, InteropError> {
        let transport = match &backend {
            Backend::Ipc(_) => Transport::Ipc,
            Backend::Ffi(_) => Transport::Ffi,
        };
        let load_error = |cause: String| InteropError::Load {
            context: ErrorContext::boxed(label, methods::GET_MANIFEST, None, transport),
            cause,
        };
        let fetched = match &backend {
            // The host's half of the version exchange (section 12).
            Backend::Ipc(conn) => conn.call(
                methods::GET_MANIFEST,
                None,
                &serde_json::json!({
                    "protocolVersion": HOST_PROTOCOL_VERSION,
                    "capabilities": ["runtime"],
                }),
                timeout,
            ),
            Backend::Ffi(lib) => lib.get_manifest(),
        };
        let manifest = match fetched {
            Ok(m) => m,
            Err(InteropError::Timeout { timeout, .. }) => {
                return Err(load_error(format!(
                    "no answer to getManifest within the start time-out of {} ms",
                    timeout.as_millis()
                )))
            }
            Err(InteropError::Crash {
                exit, stderr_tail, ..
            }) => {
                let mut cause = format!("{exit} before answering getManifest");
                let tail = stderr_tail.trim_end();
                if !tail.is_empty() {
                    cause.push_str(&format!("; stderr tail:\n{tail}"));
                }
                if let Some(hint) = toolchain_hint(tail) {
                    cause.push_str(&format!("\nhint: {hint}"));
                }
                return Err(load_error(cause));
            }
            Err(e) => return Err(load_error(e.detail())),
        };
        let problems = manifest_problems(&manifest);
        if !problems.is_empty() {
            return Err(load_error(format!(
                "invalid manifest: {}; received {}",
                problems.join("; "),
                excerpt(manifest.to_string().as_bytes())
            )));
        }
        let name = manifest["name"].as_str().unwrap_or_default().to_owned();
        match &backend {
            Backend::Ipc(conn) => {
                conn.set_name(&name);
                conn.set_capabilities(&manifest);
            }
            Backend::Ffi(lib) => lib.set_name(&name),
        }
        Ok(LoadedPlugin {
            backend,
            manifest,
            name,
        })
    }

    /// The manifest as received (unknown members kept), checked at load time.
    pub fn manifest(&self) -> &Value {
        &self.manifest
    }

    /// The plugin's name (`manifest.name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `manifest.description`.
    pub fn description(&self) -> &str {
        self.manifest["description"].as_str().unwrap_or_default()
    }

    /// `manifest.version`.
    pub fn version(&self) -> &str {
        self.manifest["version"].as_str().unwrap_or_default()
    }

    /// `manifest.language`.
    pub fn language(&self) -> &str {
        self.manifest["language"].as_str().unwrap_or_default()
    }

    fn names(&self, kind: &str) -> Vec<&str> {
        self.manifest[kind]
            .as_array()
            .map(|items| items.iter().filter_map(|d| d["name"].as_str()).collect())
            .unwrap_or_default()
    }

    fn descriptors(&self, kind: &str) -> Vec<Descriptor> {
        self.manifest[kind]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|d| Descriptor {
                        name: d["name"].as_str().unwrap_or_default().to_owned(),
                        description: d["description"].as_str().map(str::to_owned),
                        descriptor: d.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The plugin's actions, in manifest order, with their full descriptors.
    pub fn actions(&self) -> Vec<Descriptor> {
        self.descriptors("actions")
    }

    /// The plugin's providers, in manifest order, with their full descriptors.
    pub fn providers(&self) -> Vec<Descriptor> {
        self.descriptors("providers")
    }

    /// The plugin's evaluators, in manifest order, with their full descriptors.
    pub fn evaluators(&self) -> Vec<Descriptor> {
        self.descriptors("evaluators")
    }

    /// Names of the plugin's actions, in manifest order.
    pub fn action_names(&self) -> Vec<&str> {
        self.names("actions")
    }

    /// Names of the plugin's providers, in manifest order.
    pub fn provider_names(&self) -> Vec<&str> {
        self.names("providers")
    }

    /// Names of the plugin's evaluators, in manifest order.
    pub fn evaluator_names(&self) -> Vec<&str> {
        self.names("evaluators")
    }

    /// `manifest.protocolVersion`: 0 for a plugin of the seed's dialect, which declares none.
    pub fn protocol_version(&self) -> u64 {
        self.manifest["protocolVersion"].as_u64().unwrap_or(0)
    }

    /// Whether the manifest declares `capability` (`"runtime"`, `"shutdown"`, section 12).
    pub fn has_capability(&self, capability: &str) -> bool {
        self.manifest["capabilities"]
            .as_array()
            .is_some_and(|caps| caps.iter().any(|c| c == capability))
    }

    /// The transport this plugin object speaks.
    pub fn transport(&self) -> Transport {
        match &self.backend {
            Backend::Ipc(_) => Transport::Ipc,
            Backend::Ffi(_) => Transport::Ffi,
        }
    }

    /// The child's process id (IPC only).
    pub fn pid(&self) -> Option<u32> {
        match &self.backend {
            Backend::Ipc(conn) => Some(conn.pid()),
            Backend::Ffi(_) => None,
        }
    }

    /// The FFI library's `elizaos_abi_version()` (0 when it does not export it: the seed's ABI);
    /// `None` for other transports.
    pub fn ffi_abi_version(&self) -> Option<i32> {
        match &self.backend {
            Backend::Ffi(lib) => Some(lib.abi_version()),
            Backend::Ipc(_) => None,
        }
    }

    /// A view whose calls use `timeout` instead of the loader's default
    /// (IPC; FFI calls run in-process and cannot be timed out).
    pub fn with_timeout(&self, timeout: Duration) -> TimedCalls<'_> {
        TimedCalls {
            plugin: self,
            timeout: Some(timeout),
            runtime: None,
        }
    }

    fn calls(&self) -> TimedCalls<'_> {
        TimedCalls {
            plugin: self,
            timeout: None,
            runtime: None,
        }
    }

    /// `init(config)`: the last config wins.
    pub fn init(&self, config: &Value) -> Result<(), InteropError> {
        self.calls().init(config)
    }

    /// `validateAction`.
    pub fn validate_action(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<bool, InteropError> {
        self.calls().validate_action(name, memory, state)
    }

    /// `invokeAction`: the ActionResult in canonical form.
    pub fn invoke_action(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
        options: &Value,
    ) -> Result<Value, InteropError> {
        self.calls().invoke_action(name, memory, state, options)
    }

    /// `getProvider`: the ProviderResult in canonical form.
    pub fn get_provider(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<Value, InteropError> {
        self.calls().get_provider(name, memory, state)
    }

    /// `validateEvaluator`.
    pub fn validate_evaluator(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<bool, InteropError> {
        self.calls().validate_evaluator(name, memory, state)
    }

    /// `invokeEvaluator`: `None` when the evaluator had nothing to say.
    pub fn invoke_evaluator(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<Option<Value>, InteropError> {
        self.calls().invoke_evaluator(name, memory, state)
    }

    /// Calls any method of protocol.md 3.3 (except `shutdown`) with raw
    /// params, as host drivers do. The result is checked and canonical.
    pub fn call_method(
        &self,
        method: &str,
        params: &Value,
        timeout: Option<Duration>,
    ) -> Result<Value, InteropError> {
        TimedCalls {
            plugin: self,
            timeout,
            runtime: None,
        }
        .call_method(method, params)
    }

    /// [`LoadedPlugin::call_method`] with the runtime the plugin's handler
    /// may call (section 11); `None` passes no runtime.
    pub fn call_method_with_runtime(
        &self,
        method: &str,
        params: &Value,
        timeout: Option<Duration>,
        runtime: Option<&Arc<dyn AgentRuntime>>,
    ) -> Result<Value, InteropError> {
        TimedCalls {
            plugin: self,
            timeout,
            runtime,
        }
        .call_method(method, params)
    }

    /// A view whose calls pass `runtime` to the plugin (section 11): over IPC
    /// the handler's runtime calls are answered from it; over FFI it is
    /// accepted and not sent (11.6).
    pub fn with_runtime<'a>(&'a self, runtime: &'a Arc<dyn AgentRuntime>) -> TimedCalls<'a> {
        TimedCalls {
            plugin: self,
            timeout: None,
            runtime: Some(runtime),
        }
    }

    /// `validateAction` with a runtime (see [`LoadedPlugin::with_runtime`]).
    pub fn validate_action_with_runtime(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
        runtime: &Arc<dyn AgentRuntime>,
    ) -> Result<bool, InteropError> {
        self.with_runtime(runtime)
            .validate_action(name, memory, state)
    }

    /// `invokeAction` with a runtime (see [`LoadedPlugin::with_runtime`]).
    pub fn invoke_action_with_runtime(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
        options: &Value,
        runtime: &Arc<dyn AgentRuntime>,
    ) -> Result<Value, InteropError> {
        self.with_runtime(runtime)
            .invoke_action(name, memory, state, options)
    }

    /// `getProvider` with a runtime (see [`LoadedPlugin::with_runtime`]).
    pub fn get_provider_with_runtime(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
        runtime: &Arc<dyn AgentRuntime>,
    ) -> Result<Value, InteropError> {
        self.with_runtime(runtime).get_provider(name, memory, state)
    }

    /// `validateEvaluator` with a runtime (see [`LoadedPlugin::with_runtime`]).
    pub fn validate_evaluator_with_runtime(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
        runtime: &Arc<dyn AgentRuntime>,
    ) -> Result<bool, InteropError> {
        self.with_runtime(runtime)
            .validate_evaluator(name, memory, state)
    }

    /// `invokeEvaluator` with a runtime (see [`LoadedPlugin::with_runtime`]).
    pub fn invoke_evaluator_with_runtime(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
        runtime: &Arc<dyn AgentRuntime>,
    ) -> Result<Option<Value>, InteropError> {
        self.with_runtime(runtime)
            .invoke_evaluator(name, memory, state)
    }

    /// One no-op round trip through the transport's cheapest call, the
    /// in-process latency floor: FFI calls `elizaos_free_string(NULL)`. IPC
    /// has no no-op and returns a -32602 call error.
    pub fn call_noop(&self) -> Result<(), InteropError> {
        match &self.backend {
            Backend::Ffi(lib) => {
                lib.noop();
                Ok(())
            }
            Backend::Ipc(conn) => Err(InteropError::Call {
                context: ErrorContext::boxed(conn.display_name(), "noop", None, Transport::Ipc),
                code: crate::interop::wire::codes::INVALID_PARAMS,
                message: "an ipc plugin has no in-process no-op call".into(),
                data: None,
            }),
        }
    }

    /// Closes the plugin now (the same as dropping it).
    pub fn close(self) {
        drop(self);
    }
}

/// Calls on a [`LoadedPlugin`] with a per-call time-out; see
/// [`LoadedPlugin::with_timeout`].
#[derive(Debug, Clone, Copy)]
pub struct TimedCalls<'a> {
    plugin: &'a LoadedPlugin,
    timeout: Option<Duration>,
    runtime: Option<&'a Arc<dyn AgentRuntime>>,
}

impl<'a> TimedCalls<'a> {
    /// The same calls with a per-call time-out of `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The same calls passing `runtime` (see [`LoadedPlugin::with_runtime`]).
    pub fn with_runtime(mut self, runtime: &'a Arc<dyn AgentRuntime>) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// The runtime to send with a handler call: only to a plugin that
    /// declared the `"runtime"` capability (section 12), only over IPC.
    fn runtime_for_call(&self) -> Option<&'a Arc<dyn AgentRuntime>> {
        let runtime = self.runtime?;
        match &self.plugin.backend {
            Backend::Ipc(conn) if conn.accepts_runtime() => Some(runtime),
            _ => None,
        }
    }
    fn context(&self, method: &str, target: Option<&str>) -> Box<ErrorContext> {
        ErrorContext::boxed(
            self.plugin.name.as_str(),
            method,
            target,
            self.plugin.transport(),
        )
    }

    /// Sends a typed request and checks the result.
    fn send<P: Serialize + ?Sized>(
        &self,
        method: &str,
        target: Option<&str>,
        params: &P,
        ffi: impl FnOnce(&FfiPlugin) -> Result<Value, InteropError>,
    ) -> Result<Value, InteropError> {
        let raw = match (&self.plugin.backend, self.runtime_for_call()) {
            (Backend::Ipc(conn), Some(runtime)) if is_handler_method(method) => {
                conn.call_with_runtime(method, target, params, self.timeout, runtime)?
            }
            (Backend::Ipc(conn), _) => conn.call(method, target, params, self.timeout)?,
            (Backend::Ffi(lib), _) => ffi(lib)?,
        };
        check_result(method, raw).map_err(|reason| InteropError::Protocol {
            context: self.context(method, target),
            reason: format!("invalid result: {reason}"),
            excerpt: String::new(),
        })
    }

    fn checked(
        &self,
        method: &str,
        target: Option<&str>,
        parts: &[(&str, &Value)],
    ) -> Result<(), InteropError> {
        for (param, value) in parts {
            let mut path = format!("params.{param}");
            check_depth(value, &mut path, 2).map_err(|(path, reason)| {
                InteropError::InvalidPayload {
                    context: self.context(method, target),
                    path,
                    reason,
                }
            })?;
        }
        Ok(())
    }

    fn handler(
        &self,
        method: &str,
        name: &str,
        memory: &Value,
        state: &Value,
        options: Option<&Value>,
    ) -> Result<Value, InteropError> {
        let empty = Value::Object(Map::new());
        self.checked(
            method,
            Some(name),
            &[
                ("memory", memory),
                ("state", state),
                ("options", options.unwrap_or(&empty)),
            ],
        )?;
        let context = self
            .runtime_for_call()
            .map(|rt| runtime_context(rt.as_ref()));
        let params = HandlerParams {
            name,
            memory,
            state,
            options,
            runtime: context.as_ref(),
        };
        self.send(method, Some(name), &params, |lib| {
            lib.call_handler(method, name, memory, state, options)
        })
    }

    /// `init(config)`.
    pub fn init(&self, config: &Value) -> Result<(), InteropError> {
        self.checked(methods::INIT, None, &[("config", config)])?;
        #[derive(Serialize)]
        struct InitParams<'a> {
            config: &'a Value,
        }
        let params = InitParams { config };
        self.send(methods::INIT, None, &params, |lib| lib.call_init(config))?;
        Ok(())
    }

    /// `validateAction`.
    pub fn validate_action(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<bool, InteropError> {
        Ok(self
            .handler(methods::VALIDATE_ACTION, name, memory, state, None)?
            .as_bool()
            .unwrap_or(false))
    }

    /// `invokeAction`.
    pub fn invoke_action(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
        options: &Value,
    ) -> Result<Value, InteropError> {
        self.handler(methods::INVOKE_ACTION, name, memory, state, Some(options))
    }

    /// `getProvider`.
    pub fn get_provider(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<Value, InteropError> {
        self.handler(methods::GET_PROVIDER, name, memory, state, None)
    }

    /// `validateEvaluator`.
    pub fn validate_evaluator(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<bool, InteropError> {
        Ok(self
            .handler(methods::VALIDATE_EVALUATOR, name, memory, state, None)?
            .as_bool()
            .unwrap_or(false))
    }

    /// `invokeEvaluator`.
    pub fn invoke_evaluator(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<Option<Value>, InteropError> {
        let v = self.handler(methods::INVOKE_EVALUATOR, name, memory, state, None)?;
        Ok((!v.is_null()).then_some(v))
    }

    /// Any method with raw params (see [`LoadedPlugin::call_method`]).
    pub fn call_method(&self, method: &str, params: &Value) -> Result<Value, InteropError> {
        let target = target_of(params);
        if method == methods::SHUTDOWN {
            return Err(InteropError::InvalidPayload {
                context: self.context(method, target),
                path: "method".into(),
                reason: "shutdown is sent by close/drop, not by callers".into(),
            });
        }
        let mut path = "params".to_string();
        check_depth(params, &mut path, 1).map_err(|(path, reason)| {
            InteropError::InvalidPayload {
                context: self.context(method, target),
                path,
                reason,
            }
        })?;
        match self.runtime_for_call() {
            Some(rt) if is_handler_method(method) && params.is_object() => {
                let mut with_context = params.clone();
                with_context["runtime"] = runtime_context(rt.as_ref());
                self.send(method, target, &with_context, |lib| {
                    lib.call(method, params)
                })
            }
            _ => self.send(method, target, params, |lib| lib.call(method, params)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn semver_accepts_and_rejects() {
        for ok in [
            "1.0.0",
            "0.1.2-alpha.1+build.5",
            "10.20.30",
            "1.0.0-0.3.7",
            "1.0.0-x-y-z.--",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in ["1.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "a.b.c", ""] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    #[test]
    fn manifest_problems_are_listed() {
        let good = json!({"name": "x", "description": "", "version": "1.0.0", "language": "rust",
            "actions": [{"name": "a", "description": "d"}], "providers": [{"name": "p"}], "evaluators": []});
        assert!(manifest_problems(&good).is_empty());
        let seed = json!({"name": "@elizaos/plugin-bootstrap", "description": "", "version": "1.7.2",
            "language": "typescript", "priority": 1, "config": {}, "dependencies": ["x"],
            "actions": [{"name": "a", "description": "d", "examples": [[{"name": "u"}]]}],
            "providers": [{"name": "p", "position": 2}], "evaluators": [], "protocolVersion": 1,
            "capabilities": ["runtime"], "services": ["s"]});
        assert!(
            manifest_problems(&seed).is_empty(),
            "{:?}",
            manifest_problems(&seed)
        );
        let bad = json!({"name": "X", "version": "1", "language": "rust", "actions": [{"name": "a"}, {"name": "a", "description": "", "x": 1}],
            "providers": [{"name": "p", "position": "top"}], "evaluators": [], "extra": 1, "capabilities": "runtime"});
        let problems = manifest_problems(&bad);
        assert!(
            !problems
                .iter()
                .any(|p| p.contains("extra") || p.contains("\"x\"")),
            "unknown members are ignored: {problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("capabilities has the wrong type")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("position has the wrong type")),
            "{problems:?}"
        );
        for name in ["@scope/x", "a~b", "x"] {
            assert!(is_plugin_name(name), "{name}");
        }
        for name in ["@scope", "@/x", "@a/b/c", "X", ""] {
            assert!(!is_plugin_name(name), "{name}");
        }
        assert!(
            problems
                .iter()
                .any(|p| p.contains("actions[0].description is missing")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("not unique")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("description is missing")),
            "{problems:?}"
        );
    }

    #[test]
    fn results_are_canonical_and_checked() {
        assert_eq!(
            check_result(
                methods::INVOKE_ACTION,
                json!({"success": true, "text": null, "data": {"a": null}})
            ),
            Ok(json!({"success": true, "data": {"a": null}}))
        );
        assert!(check_result(methods::INVOKE_ACTION, json!({"sucess": true})).is_err());
        assert_eq!(
            check_result(
                methods::INVOKE_ACTION,
                json!({"success": true, "extra": [1]})
            ),
            Ok(json!({"success": true, "extra": [1]})),
            "unknown members are kept"
        );
        assert_eq!(
            check_result(methods::VALIDATE_ACTION, json!({"valid": false})),
            Ok(json!(false))
        );
        assert!(check_result(methods::VALIDATE_ACTION, json!({"valid": 1})).is_err());
        assert_eq!(
            check_result(methods::INIT, json!({"success": true})),
            Ok(json!({"success": true}))
        );
        assert_eq!(check_result(methods::INIT, json!(null)), Ok(json!(null)));
        assert!(check_result(methods::INVOKE_ACTION, json!({"success": true, "text": 1})).is_err());
        assert!(check_result(methods::GET_PROVIDER, json!({"text": 1})).is_err());
        assert_eq!(
            check_result(methods::INVOKE_EVALUATOR, Value::Null),
            Ok(Value::Null)
        );
        assert!(check_result(methods::VALIDATE_ACTION, json!(1)).is_err());
    }

    #[test]
    fn depth_limit_reports_the_path() {
        let mut deep = json!(1);
        for _ in 0..MAX_PAYLOAD_DEPTH {
            deep = json!({ "k": deep });
        }
        let mut path = "params.memory".to_string();
        let err = check_depth(&deep, &mut path, 2).err();
        assert!(err.is_some_and(|(p, _)| p.starts_with("params.memory.k.k")));
        let mut path = "params".to_string();
        assert!(check_depth(&json!({"a": [[1]]}), &mut path, 1).is_ok());
    }
}
