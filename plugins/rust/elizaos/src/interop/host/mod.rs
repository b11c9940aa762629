//! Host-side loaders (protocol.md section 7): load a plugin written in any
//! language and call it through one plugin object, [`LoadedPlugin`], whatever
//! the transport.
//!
//! - [`PythonPluginLoader`], [`TypeScriptPluginLoader`], [`IpcPluginLoader`]:
//!   a child process speaking newline-delimited JSON-RPC (section 3).
//! - [`FfiPluginLoader`]: a shared library through the C ABI (section 6).
//!
//! - [`InMemoryRuntime`]: an agent runtime over in-memory tables (section 11.5)
//!   to pass with calls whose handlers call their runtime.
//!
//! Every failure is an [`InteropError`] naming the plugin, method and transport.

mod checks;
mod error;
mod ffi;
mod in_memory;
mod ipc;
mod loaded;
mod loaders;
mod pipe;
mod timed;

pub use checks::{manifest_problems, MAX_PAYLOAD_DEPTH};
pub use error::{excerpt, ErrorContext, ExitState, InteropError, EXCERPT_BYTES};
pub use ffi::FfiPluginLoader;
pub use in_memory::InMemoryRuntime;
pub use ipc::{IpcOptions, PipeProbe};
pub use loaded::{Descriptor, LoadedPlugin, HOST_PROTOCOL_VERSION};
pub use loaders::{IpcPluginLoader, PythonPluginLoader, TsRuntime, TypeScriptPluginLoader};
pub use pipe::STDERR_TAIL_BYTES;
pub use timed::TimedCalls;
