//! [`LoadedPlugin`]: the plugin object every loader returns. The same methods
//! work over IPC and FFI, so user code does not change with the transport.
//! Payloads are checked against the JSON profile before anything is sent, and
//! results are checked and put in canonical form (null optional members
//! removed) before user code sees them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::checks::{manifest_problems, toolchain_hint};
use super::error::{excerpt, ErrorContext, InteropError, Transport};
use super::ffi::FfiPlugin;
use super::ipc::IpcConnection;
use super::timed::TimedCalls;
use crate::interop::plugin::AgentRuntime;
use crate::interop::wire::methods;

/// The protocol version this host speaks (section 12), the one the SDK speaks.
pub const HOST_PROTOCOL_VERSION: u64 = crate::interop::wire::PROTOCOL_VERSION;

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
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use elizaos::interop::{AgentRuntime, InMemoryRuntime, IpcPluginLoader};
/// use serde_json::json;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A wire-level plugin whose `act` sends the runtime calls listed in `options.calls`.
/// let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/raw_plugin.py");
/// let plugin = IpcPluginLoader::new().load_command(&["python3", script, "runtime"])?;
/// assert_eq!(plugin.action_names(), ["act"]);
/// assert!(plugin.has_capability("runtime"));
///
/// // The plugin's runtime calls are answered from the runtime passed with the call.
/// let world = InMemoryRuntime::new_shared(&json!({"settings": {"GREETING": "hello"}}))?;
/// let runtime: Arc<dyn AgentRuntime> = world.clone();
/// let memory = json!({"content": {"text": "hi"}});
/// let options = json!({"calls": [{"method": "getSetting", "args": ["GREETING"]}]});
/// let result = plugin
///     .with_timeout(Duration::from_secs(10))
///     .with_runtime(&runtime)
///     .invoke_action("act", &memory, &json!({}), &options)?;
/// assert_eq!(result["data"]["answers"][0]["result"], "hello");
/// assert_eq!(world.calls()[0]["method"], "getSetting");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct LoadedPlugin {
    pub(super) backend: Backend,
    manifest: Value,
    pub(super) name: String,
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
