//! Load plugins written in any language, and export Rust plugins to any host.
//!
//! Plugin side: [`Plugin`] trait, [`export_plugin!`](crate::export_plugin) (WASM raw ABI, C FFI),
//! [`server::serve`] (IPC). Host side: [`PythonPluginLoader`], [`TypeScriptPluginLoader`],
//! [`IpcPluginLoader`], [`FfiPluginLoader`]. Wire format and ABIs: `docs/protocol.md`.
//!
//! The code lives in three private rooms, as in the Python and TypeScript runtimes: `wire` (the
//! protocol vocabulary), `plugin` (the plugin author's side) and `host` (the loaders). Every public
//! item is re-exported here by name, so each has exactly one path: `elizaos::interop::Name`, or
//! `elizaos::interop::{codes, status, methods, export, server}::Name` for the namespaces.

#[cfg(not(target_arch = "wasm32"))]
mod host;
mod plugin;
mod wire;

#[cfg(not(target_arch = "wasm32"))]
pub use host::{
    excerpt, manifest_problems, Descriptor, ErrorContext, ExitState, FfiPluginLoader,
    InMemoryRuntime, InteropError, IpcOptions, IpcPluginLoader, LoadedPlugin, PipeProbe,
    PythonPluginLoader, TimedCalls, TsRuntime, TypeScriptPluginLoader, EXCERPT_BYTES,
    HOST_PROTOCOL_VERSION, MAX_PAYLOAD_DEPTH, STDERR_TAIL_BYTES,
};
pub use plugin::export;
#[cfg(not(target_arch = "wasm32"))]
pub use plugin::server;
pub use plugin::{
    current_runtime, is_runtime_method, memory_text, runtime_context, ActionDescriptor,
    ActionResult, AgentRuntime, EvaluatorDescriptor, Manifest, Plugin, PluginError,
    ProviderDescriptor, ProviderResult, RuntimeError, RuntimeProxy, RUNTIME_METHODS,
};
pub use wire::{
    borrow_call_args, call_args_from_parts, check_action_result, check_evaluator_result,
    check_provider_result, code_to_status, codes, envelope_json, envelope_value, is_valid_id,
    json_type_name, methods, parse_call_args, parse_envelope, parse_init_config, parse_line,
    parse_request, parse_response, request_from_value, request_line, response_from_value,
    response_line, response_value, status, status_to_code, take_call_args, validate_memory,
    write_envelope, write_error_envelope, write_json, write_result_envelope_raw, BadRequest,
    CallArgs, CallArgsRef, Kind, Request, Response, RpcError, Transport, DEFAULT_MAX_MESSAGE_BYTES,
    MAX_SAFE_INTEGER, RECEIVED_MISSING,
};
