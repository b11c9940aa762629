//! The `plugin` room: the plugin author's side. The [`Plugin`] trait and its types, the runtime
//! proxy a handler calls (section 11), the WASM/FFI exports with `export_plugin!` and the IPC
//! server.

pub mod export;
mod runtime;
#[cfg(not(target_arch = "wasm32"))]
pub mod server;
mod types;

pub use runtime::{
    current_runtime, is_runtime_method, runtime_context, AgentRuntime, RuntimeError, RuntimeProxy,
    RUNTIME_METHODS,
};
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use runtime::{error_from_answer, ChannelGuard, RuntimeChannel};
pub use types::{
    memory_text, ActionDescriptor, ActionResult, EvaluatorDescriptor, Manifest, Plugin,
    PluginError, ProviderDescriptor, ProviderResult,
};
