//! The protocol's names: error codes, WASM/FFI statuses, method names, limits, member kinds,
//! JSON type names and transports (protocol.md sections 2, 3.3, 4 and 5.3).

use serde_json::Value;
use std::fmt;

/// JSON-RPC and elizaOS error codes (protocol.md section 4).
pub mod codes {
    /// Not JSON / not UTF-8.
    pub const PARSE_ERROR: i64 = -32700;
    /// Not an object, `id`/`method` missing or mistyped, oversize.
    pub const INVALID_REQUEST: i64 = -32600;
    /// Method not found.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Invalid params.
    pub const INVALID_PARAMS: i64 = -32602;
    /// Internal error (bug in the bridge, allocation failure).
    pub const INTERNAL_ERROR: i64 = -32603;
    /// Handler failed (returned `Err` or panicked).
    pub const HANDLER_FAILED: i64 = -32000;
    /// Unknown action/provider/evaluator name.
    pub const UNKNOWN_NAME: i64 = -32001;
    /// Not supported by this plugin/transport.
    pub const NOT_SUPPORTED: i64 = -32002;
    /// Handler returned an invalid result.
    pub const INVALID_RESULT: i64 = -32003;
    /// Lowest code reserved for plugin authors (inclusive).
    pub const PLUGIN_RESERVED_MIN: i64 = -32099;
    /// Highest code reserved for plugin authors (inclusive).
    pub const PLUGIN_RESERVED_MAX: i64 = -32004;
}

/// WASM/FFI integer status codes (protocol.md section 5.3).
pub mod status {
    /// `validate_*`: valid.
    pub const VALID: i32 = 1;
    /// `validate_*`: not valid.
    pub const NOT_VALID: i32 = 0;
    /// `init`: success.
    pub const OK: i32 = 0;
    /// Unknown name (-32001).
    pub const UNKNOWN_NAME: i32 = -1;
    /// Invalid input: bad UTF-8, bad JSON, wrong JSON type (-32602 / -32700).
    pub const INVALID_INPUT: i32 = -2;
    /// Handler failed or panicked (-32000).
    pub const HANDLER_FAILED: i32 = -3;
    /// Internal error (-32603).
    pub const INTERNAL: i32 = -4;
}

/// Method names of protocol.md section 3.3.
pub mod methods {
    /// `getManifest` `{}` -> Manifest.
    pub const GET_MANIFEST: &str = "getManifest";
    /// `init` `{"config"}` -> `{}`.
    pub const INIT: &str = "init";
    /// `validateAction` `{"name","memory","state"}` -> bool.
    pub const VALIDATE_ACTION: &str = "validateAction";
    /// `invokeAction` `{"name","memory","state","options"}` -> ActionResult.
    pub const INVOKE_ACTION: &str = "invokeAction";
    /// `getProvider` `{"name","memory","state"}` -> ProviderResult.
    pub const GET_PROVIDER: &str = "getProvider";
    /// `validateEvaluator` `{"name","memory","state"}` -> bool.
    pub const VALIDATE_EVALUATOR: &str = "validateEvaluator";
    /// `invokeEvaluator` `{"name","memory","state"}` -> ActionResult or null.
    pub const INVOKE_EVALUATOR: &str = "invokeEvaluator";
    /// `shutdown` `{}` -> `{}`, then the plugin exits 0.
    pub const SHUTDOWN: &str = "shutdown";
    /// Every method, in table order.
    pub const ALL: [&str; 8] = [
        GET_MANIFEST,
        INIT,
        VALIDATE_ACTION,
        INVOKE_ACTION,
        GET_PROVIDER,
        VALIDATE_EVALUATOR,
        INVOKE_EVALUATOR,
        SHUTDOWN,
    ];
}

/// Default maximum size of one message (IPC line, WASM or FFI string): 16 MiB (section 2).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// The protocol version both ends speak (protocol.md section 12): the SDK's manifests declare it,
/// the host offers it with `getManifest`.
pub const PROTOCOL_VERSION: u64 = 1;

/// Largest integer id a request may carry (2^53 - 1).
pub const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;

/// Map a negative WASM/FFI status to its IPC error code (section 5.3). Non-negative statuses are
/// not errors and give `None`; an undocumented negative status is an internal error.
pub fn status_to_code(status: i32) -> Option<i64> {
    match status {
        s if s >= 0 => None,
        status::UNKNOWN_NAME => Some(codes::UNKNOWN_NAME),
        status::INVALID_INPUT => Some(codes::INVALID_PARAMS),
        status::HANDLER_FAILED => Some(codes::HANDLER_FAILED),
        _ => Some(codes::INTERNAL_ERROR),
    }
}

/// Map an error code to the WASM/FFI status that carries it (section 5.3). Codes with no status of
/// their own (-32002, -32003, plugin-reserved codes) travel as -3 "handler failed"; the exact code
/// is available from `elizaos_last_error`.
pub fn code_to_status(code: i64) -> i32 {
    match code {
        codes::UNKNOWN_NAME => status::UNKNOWN_NAME,
        codes::PARSE_ERROR | codes::INVALID_PARAMS | codes::INVALID_REQUEST => {
            status::INVALID_INPUT
        }
        codes::INTERNAL_ERROR | codes::METHOD_NOT_FOUND => status::INTERNAL,
        _ => status::HANDLER_FAILED,
    }
}

/// The kind of a named plugin member, as used in error `data` (`"action"`, `"provider"`, `"evaluator"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An action.
    Action,
    /// A provider.
    Provider,
    /// An evaluator.
    Evaluator,
}

impl Kind {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Action => "action",
            Kind::Provider => "provider",
            Kind::Evaluator => "evaluator",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON type name of a value, as reported in `data.received`: `null`, `boolean`, `integer`,
/// `number`, `string`, `array` or `object` (JSON Schema's type names; integers are reported as
/// `integer`, other numbers as `number`).
pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `data.received` for a member that is absent.
pub const RECEIVED_MISSING: &str = "missing";

/// A transport of protocol.md: the one a plugin object speaks (host side) or the one a bridge
/// serves (plugin side, see `current_transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Child process, newline-delimited JSON-RPC over stdin/stdout (section 3).
    Ipc,
    /// Shared library through the C ABI (section 6).
    Ffi,
    /// Raw WASM ABI (section 5).
    Wasm,
}

impl Transport {
    /// The transport's wire name: `"ipc"`, `"ffi"` or `"wasm"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Ipc => "ipc",
            Transport::Ffi => "ffi",
            Transport::Wasm => "wasm",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
