//! Load plugins written in any language, and export Rust plugins to any host.
//!
//! Plugin side: [`Plugin`] trait, `export_plugin!` (WASM raw ABI, C FFI, IPC server).
//! Host side: [`PythonPluginLoader`], [`TypeScriptPluginLoader`], [`IpcPluginLoader`],
//! [`FfiPluginLoader`]. Wire format and ABIs: `docs/protocol.md`.

pub mod export;
#[cfg(not(target_arch = "wasm32"))]
pub mod host;
pub mod plugin;
pub mod protocol;
pub mod runtime;
#[cfg(not(target_arch = "wasm32"))]
pub mod server;

#[cfg(not(target_arch = "wasm32"))]
pub use host::*;
pub use plugin::*;
pub use protocol::*;
pub use runtime::{
    current_runtime, is_runtime_method, runtime_context, AgentRuntime, RuntimeError, RuntimeProxy,
    RUNTIME_METHODS,
};
