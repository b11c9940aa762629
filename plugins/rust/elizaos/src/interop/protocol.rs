//! Wire-level vocabulary shared by every transport (`docs/protocol.md` sections 3, 4 and 5.3):
//! error codes, WASM/FFI status codes, method names, the [`RpcError`] type, request parsing,
//! response/envelope serialisation and parameter validation.
//!
//! Both the plugin side (WASM/FFI exports, IPC server) and the host side use these helpers, so the
//! two ends agree on every code and every `data` member.

use serde_json::{Map, Value};
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

/// A JSON-RPC error object: `{"code", "message", "data"?}` (sections 3.2 and 4).
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// Error code (section 4).
    pub code: i64,
    /// Human-readable message.
    pub message: String,
    /// Structured detail; absent on the wire when `None`.
    pub data: Option<Value>,
}

impl RpcError {
    /// An error without `data`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// An error with `data`.
    pub fn with_data(code: i64, message: impl Into<String>, data: Value) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: Some(data),
        }
    }

    /// -32700: the text is not JSON or not UTF-8.
    pub fn parse_error(detail: impl fmt::Display) -> Self {
        RpcError::new(codes::PARSE_ERROR, format!("parse error: {detail}"))
    }

    /// -32600: the JSON value is not a valid request.
    pub fn invalid_request(detail: impl fmt::Display) -> Self {
        RpcError::new(codes::INVALID_REQUEST, format!("invalid request: {detail}"))
    }

    /// -32600: a message over the size limit (section 3.5, plugin side).
    pub fn oversize(limit: usize) -> Self {
        RpcError::new(
            codes::INVALID_REQUEST,
            format!("request exceeds {limit} bytes"),
        )
    }

    /// -32601: no such method.
    pub fn method_not_found(method: &str) -> Self {
        RpcError::with_data(
            codes::METHOD_NOT_FOUND,
            format!("method not found: {method:?}"),
            serde_json::json!({ "method": method }),
        )
    }

    /// -32602 with `data` `{"param", "expected", "received"}` (section 3.3). `received` is a JSON
    /// type name ([`json_type_name`]) or [`RECEIVED_MISSING`].
    pub fn invalid_param(param: &str, expected: &str, received: &str) -> Self {
        RpcError::with_data(
            codes::INVALID_PARAMS,
            format!(
                "invalid params: {param:?} must be {} {expected}, received {received}",
                article(expected)
            ),
            serde_json::json!({ "param": param, "expected": expected, "received": received }),
        )
    }

    /// -32602 without a specific param (e.g. a WASM/FFI argument that is not UTF-8).
    pub fn invalid_params(detail: impl fmt::Display) -> Self {
        RpcError::new(codes::INVALID_PARAMS, format!("invalid params: {detail}"))
    }

    /// -32603: a bug in the bridge or an allocation failure.
    pub fn internal(detail: impl fmt::Display) -> Self {
        RpcError::new(codes::INTERNAL_ERROR, format!("internal error: {detail}"))
    }

    /// -32000 with `data` `{"kind", "name", "exception"}`: a handler returned `Err` or panicked.
    pub fn handler_failed(
        kind: Kind,
        name: &str,
        exception: &str,
        message: impl Into<String>,
    ) -> Self {
        RpcError::with_data(
            codes::HANDLER_FAILED,
            message,
            serde_json::json!({ "kind": kind.as_str(), "name": name, "exception": exception }),
        )
    }

    /// -32001 with `data` `{"kind", "name"}`: no such action/provider/evaluator.
    pub fn unknown_name(kind: Kind, name: &str) -> Self {
        RpcError::with_data(
            codes::UNKNOWN_NAME,
            format!("unknown {kind} {name:?}"),
            serde_json::json!({ "kind": kind.as_str(), "name": name }),
        )
    }

    /// -32002: not supported by this plugin or transport.
    pub fn not_supported(message: impl Into<String>) -> Self {
        RpcError::new(codes::NOT_SUPPORTED, message)
    }

    /// -32003 "invalid result" with `data` `{"kind", "name", "reason"}`.
    pub fn invalid_result(kind: Kind, name: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        RpcError::with_data(
            codes::INVALID_RESULT,
            format!("invalid result from {kind} {name:?}: {reason}"),
            serde_json::json!({ "kind": kind.as_str(), "name": name, "reason": reason }),
        )
    }

    /// The WASM/FFI status for this error (section 5.3).
    pub fn status(&self) -> i32 {
        code_to_status(self.code)
    }

    /// The error object as JSON: `{"code", "message", "data"?}`.
    pub fn to_value(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("code".into(), Value::from(self.code));
        obj.insert("message".into(), Value::String(self.message.clone()));
        if let Some(data) = &self.data {
            obj.insert("data".into(), data.clone());
        }
        Value::Object(obj)
    }

    /// Read an error object. `data: null` is treated as absent (section 1).
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let obj = value.as_object().ok_or_else(|| {
            format!(
                "error must be an object, received {}",
                json_type_name(value)
            )
        })?;
        let code = match obj.get("code") {
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| format!("error.code must be an integer, received {n}"))?,
            Some(other) => {
                return Err(format!(
                    "error.code must be an integer, received {}",
                    json_type_name(other)
                ))
            }
            None => return Err("error.code is missing".into()),
        };
        let message = match obj.get("message") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(format!(
                    "error.message must be a string, received {}",
                    json_type_name(other)
                ))
            }
            None => return Err("error.message is missing".into()),
        };
        let data = match obj.get("data") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.clone()),
        };
        Ok(RpcError {
            code,
            message,
            data,
        })
    }
}

fn article(word: &str) -> &'static str {
    match word.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u') => "an",
        _ => "a",
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for RpcError {}

/// A parsed IPC request (section 3.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The request id: an integer in [0, 2^53-1] or a non-empty string.
    pub id: Value,
    /// The method name.
    pub method: String,
    /// The params object (`{}` when omitted).
    pub params: Map<String, Value>,
}

/// A request that could not be parsed: the id to answer with (`null` if it could not be read)
/// and the error (-32700 or -32600).
#[derive(Debug, Clone, PartialEq)]
pub struct BadRequest {
    /// Id to echo, `Value::Null` when unreadable.
    pub id: Value,
    /// The error to answer with.
    pub error: RpcError,
}

/// Whether `id` is a valid request id: integer in [0, 2^53-1] or a non-empty string.
pub fn is_valid_id(id: &Value) -> bool {
    match id {
        Value::Number(n) => n.as_u64().is_some_and(|v| v <= MAX_SAFE_INTEGER),
        Value::String(s) => !s.is_empty(),
        _ => false,
    }
}

/// Parse one request line (without its terminator; a trailing `\r` is tolerated).
pub fn parse_request(line: &[u8]) -> Result<Request, BadRequest> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|e| BadRequest {
        id: Value::Null,
        error: RpcError::parse_error(format!("request is not UTF-8 ({e})")),
    })?;
    let value: Value = serde_json::from_str(text).map_err(|e| BadRequest {
        id: Value::Null,
        error: RpcError::parse_error(format!("request is not JSON ({e})")),
    })?;
    request_from_value(value)
}

/// Validate a JSON value as a request (section 3.2).
pub fn request_from_value(value: Value) -> Result<Request, BadRequest> {
    let Value::Object(mut obj) = value else {
        return Err(BadRequest {
            id: Value::Null,
            error: RpcError::invalid_request(format!(
                "request must be an object, received {}",
                json_type_name(&value)
            )),
        });
    };
    let id = match obj.remove("id") {
        None => {
            return Err(BadRequest {
                id: Value::Null,
                error: RpcError::invalid_request(
                    "\"id\" is missing (notifications are not supported)",
                ),
            })
        }
        Some(id) if is_valid_id(&id) => id,
        Some(id) => {
            return Err(BadRequest {
                id: Value::Null,
                error: RpcError::invalid_request(format!(
                    "\"id\" must be an integer in [0, 2^53-1] or a non-empty string, received {id}"
                )),
            })
        }
    };
    let method = match obj.remove("method") {
        Some(Value::String(m)) if !m.is_empty() => m,
        Some(other) => {
            return Err(BadRequest {
                id,
                error: RpcError::invalid_request(format!(
                    "\"method\" must be a non-empty string, received {}",
                    json_type_name(&other)
                )),
            })
        }
        None => {
            return Err(BadRequest {
                id,
                error: RpcError::invalid_request("\"method\" is missing"),
            })
        }
    };
    let params = match obj.remove("params") {
        None => Map::new(),
        Some(Value::Object(p)) => p,
        Some(other) => {
            return Err(BadRequest {
                id,
                error: RpcError::invalid_request(format!(
                    "\"params\" must be an object, received {}",
                    json_type_name(&other)
                )),
            })
        }
    };
    Ok(Request { id, method, params })
}

/// Serialise a request line (without the trailing newline).
pub fn request_line(id: &Value, method: &str, params: &Value) -> String {
    let mut obj = Map::new();
    obj.insert("id".into(), id.clone());
    obj.insert("method".into(), Value::String(method.into()));
    obj.insert("params".into(), params.clone());
    Value::Object(obj).to_string()
}

/// The response object `{"id", "result"}` or `{"id", "error"}`.
pub fn response_value(id: &Value, outcome: &Result<Value, RpcError>) -> Value {
    let mut obj = Map::new();
    obj.insert("id".into(), id.clone());
    match outcome {
        Ok(v) => obj.insert("result".into(), v.clone()),
        Err(e) => obj.insert("error".into(), e.to_value()),
    };
    Value::Object(obj)
}

/// Serialise a response line (without the trailing newline).
pub fn response_line(id: &Value, outcome: &Result<Value, RpcError>) -> String {
    response_value(id, outcome).to_string()
}

/// The envelope object `{"result"}` or `{"error"}` (section 5.2).
pub fn envelope_value(outcome: &Result<Value, RpcError>) -> Value {
    let mut obj = Map::new();
    match outcome {
        Ok(v) => obj.insert("result".into(), v.clone()),
        Err(e) => obj.insert("error".into(), e.to_value()),
    };
    Value::Object(obj)
}

/// Serialise an envelope (section 5.2).
pub fn envelope_json(outcome: &Result<Value, RpcError>) -> String {
    let mut out = Vec::new();
    write_envelope(&mut out, outcome);
    // serde_json writes UTF-8 only; the fallback is never taken.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Append the envelope of `outcome` to `out` (section 5.2), serialising the result in place: the
/// hot path of every in-process call, so the result is neither cloned nor wrapped in a map.
pub fn write_envelope(out: &mut Vec<u8>, outcome: &Result<Value, RpcError>) {
    match outcome {
        Ok(result) => {
            out.extend_from_slice(b"{\"result\":");
            write_json(out, result);
            out.push(b'}');
        }
        Err(e) => write_error_envelope(out, e),
    }
}

/// Append the `{"error": ...}` envelope of `error` to `out`.
pub fn write_error_envelope(out: &mut Vec<u8>, error: &RpcError) {
    out.extend_from_slice(b"{\"error\":");
    write_json(out, &error.to_value());
    out.push(b'}');
}

/// Append the `{"result": ...}` envelope of an already serialised JSON text.
pub fn write_result_envelope_raw(out: &mut Vec<u8>, result_json: &[u8]) {
    out.extend_from_slice(b"{\"result\":");
    out.extend_from_slice(result_json);
    out.push(b'}');
}

/// Serialise a `Value` into `out`, byte for byte as `serde_json::to_writer` does (compact, keys
/// in map order, the same escapes). Strings are scanned eight bytes at a time for characters that
/// need escaping, which serde_json does one byte at a time: string escaping was the largest single
/// cost of serialising a result. Numbers are written by serde_json itself.
pub fn write_json(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // Writing a Number to a Vec cannot fail.
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *out, n);
        }
        Value::String(s) => write_json_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(out, key);
                out.push(b':');
                write_json(out, item);
            }
            out.push(b'}');
        }
    }
}

/// Whether any of the eight bytes of `word` is a control character, `"` or `\\`.
#[inline]
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    // A byte below 0x20 (exact as a yes/no answer for thresholds up to 0x80).
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH != 0;
    control
        || has_zero(word ^ (ONES * u64::from(b'"')))
        || has_zero(word ^ (ONES * u64::from(b'\\')))
}

/// Write `s` as a JSON string with serde_json's escapes: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`,
/// `\t`, other control characters as `\u00xx` (lowercase hex), everything else as is.
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if !needs_escape(u64::from_le_bytes(word)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => &[],
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.extend_from_slice(escape);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Read a response/envelope body: exactly one of `result` and `error`.
fn outcome_from_object(obj: &mut Map<String, Value>) -> Result<Result<Value, RpcError>, String> {
    match (obj.remove("result"), obj.remove("error")) {
        (Some(r), None) => Ok(Ok(r)),
        (None, Some(e)) => Ok(Err(RpcError::from_value(&e)?)),
        (Some(_), Some(_)) => Err("both \"result\" and \"error\" are present".into()),
        (None, None) => Err("neither \"result\" nor \"error\" is present".into()),
    }
}

/// Parse an envelope text (WASM result buffer, FFI string). The outer `Err` says why the text is
/// not a valid envelope (a protocol error); the inner result is the plugin's answer.
pub fn parse_envelope(text: &str) -> Result<Result<Value, RpcError>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("envelope is not JSON ({e})"))?;
    let Value::Object(mut obj) = value else {
        return Err(format!(
            "envelope must be an object, received {}",
            json_type_name(&value)
        ));
    };
    let outcome = outcome_from_object(&mut obj)?;
    if let Some(extra) = obj.keys().next() {
        return Err(format!("envelope has an unexpected member {extra:?}"));
    }
    Ok(outcome)
}

/// A parsed IPC response (host side).
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The echoed id (`Value::Null` for errors about unreadable lines).
    pub id: Value,
    /// The result or the error.
    pub outcome: Result<Value, RpcError>,
}

/// Parse one response line (host side). `Err` says why the line is not a valid response.
pub fn parse_response(line: &[u8]) -> Result<Response, String> {
    response_from_value(parse_line(line)?)
}

/// Decode one line (without its terminator; a trailing `\r` is tolerated) as strict JSON: not
/// UTF-8, not JSON (NaN, infinities, lone surrogate escapes) is `Err` with the reason.
pub fn parse_line(line: &[u8]) -> Result<Value, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|e| format!("response is not UTF-8 ({e})"))?;
    serde_json::from_str(text).map_err(|e| format!("response is not JSON ({e})"))
}

/// Validate a JSON value as a response (section 3.2).
pub fn response_from_value(value: Value) -> Result<Response, String> {
    let Value::Object(mut obj) = value else {
        return Err(format!(
            "response must be an object, received {}",
            json_type_name(&value)
        ));
    };
    let id = match obj.remove("id") {
        Some(id) if id.is_null() || is_valid_id(&id) => id,
        Some(id) => return Err(format!("response id is invalid: {id}")),
        None => return Err("response has no \"id\"".into()),
    };
    let outcome = outcome_from_object(&mut obj)?;
    Ok(Response { id, outcome })
}

/// Validated arguments of `validateAction`, `invokeAction`, `getProvider`, `validateEvaluator`,
/// `invokeEvaluator` (section 3.3). `state`/`options` default to `{}`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallArgs {
    /// The action/provider/evaluator name.
    pub name: String,
    /// The Memory (an object with an object `content`).
    pub memory: Value,
    /// The State (an object).
    pub state: Value,
    /// The Options (an object); `{}` for methods without options.
    pub options: Value,
}

/// Check a Memory value (section 1): an object with required object `content` whose `text`, if
/// present and not null, is a string. `param` is the name used in error data (`"memory"`).
pub fn validate_memory(param: &str, memory: &Value) -> Result<(), RpcError> {
    let Value::Object(obj) = memory else {
        return Err(RpcError::invalid_param(
            param,
            "object",
            json_type_name(memory),
        ));
    };
    match obj.get("content") {
        Some(Value::Object(content)) => match content.get("text") {
            None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
            Some(other) => Err(RpcError::invalid_param(
                &format!("{param}.content.text"),
                "string",
                json_type_name(other),
            )),
        },
        Some(other) => Err(RpcError::invalid_param(
            &format!("{param}.content"),
            "object",
            json_type_name(other),
        )),
        None => Err(RpcError::invalid_param(
            &format!("{param}.content"),
            "object",
            RECEIVED_MISSING,
        )),
    }
}

/// Check already decoded call arguments and take ownership of them, with the same checks, order
/// and error `data` as [`parse_call_args`] on a params object holding them (`options` is `Some`
/// for `invokeAction`). Used by the WASM/FFI exports, whose arguments arrive one by one, so that
/// no params map is built and no value is cloned.
pub fn call_args_from_parts(
    name: String,
    memory: Value,
    state: Value,
    options: Option<Value>,
) -> Result<CallArgs, RpcError> {
    validate_memory("memory", &memory)?;
    let state = owned_optional_object("state", state)?;
    let options = match options {
        Some(o) => owned_optional_object("options", o)?,
        None => Value::Object(Map::new()),
    };
    Ok(CallArgs {
        name,
        memory,
        state,
        options,
    })
}

/// An optional object argument by value: `null` gives `{}`, an object is kept as it is.
fn owned_optional_object(param: &str, value: Value) -> Result<Value, RpcError> {
    match value {
        Value::Null => Ok(Value::Object(Map::new())),
        v @ Value::Object(_) => Ok(v),
        other => Err(RpcError::invalid_param(
            param,
            "object",
            json_type_name(&other),
        )),
    }
}

/// Take an optional object param: absent or `null` gives `{}`.
fn optional_object(params: &Map<String, Value>, param: &str) -> Result<Value, RpcError> {
    match params.get(param) {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(other) => Err(RpcError::invalid_param(
            param,
            "object",
            json_type_name(other),
        )),
    }
}

/// Validate the params of a handler method (everything but `getManifest`, `init`, `shutdown`).
/// `with_options` is true for `invokeAction`.
pub fn parse_call_args(
    params: &Map<String, Value>,
    with_options: bool,
) -> Result<CallArgs, RpcError> {
    let name = match params.get("name") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(RpcError::invalid_param(
                "name",
                "string",
                json_type_name(other),
            ))
        }
        None => return Err(RpcError::invalid_param("name", "string", RECEIVED_MISSING)),
    };
    let memory = match params.get("memory") {
        Some(m) => {
            validate_memory("memory", m)?;
            m.clone()
        }
        None => {
            return Err(RpcError::invalid_param(
                "memory",
                "object",
                RECEIVED_MISSING,
            ))
        }
    };
    let state = optional_object(params, "state")?;
    let options = if with_options {
        optional_object(params, "options")?
    } else {
        Value::Object(Map::new())
    };
    Ok(CallArgs {
        name,
        memory,
        state,
        options,
    })
}

/// Validate the params of `init`: `config` is a required object.
pub fn parse_init_config(params: &Map<String, Value>) -> Result<Value, RpcError> {
    match params.get("config") {
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(other) => Err(RpcError::invalid_param(
            "config",
            "object",
            json_type_name(other),
        )),
        None => Err(RpcError::invalid_param(
            "config",
            "object",
            RECEIVED_MISSING,
        )),
    }
}

/// Check and canonicalise an ActionResult (`action-result.schema.json`): an object with a boolean
/// `success`, optional string `text`/`error` and object `values`/`data`, nothing else. Optional
/// members that are `null` are removed (section 1). `Err` is the reason, for -32003 `data.reason`.
pub fn check_action_result(value: Value) -> Result<Value, String> {
    let Value::Object(mut obj) = value else {
        return Err(format!(
            "an ActionResult must be an object, received {}",
            json_type_name(&value)
        ));
    };
    match obj.get("success") {
        Some(Value::Bool(_)) => {}
        Some(other) => {
            return Err(format!(
                "\"success\" must be a boolean, received {}",
                json_type_name(other)
            ))
        }
        None => return Err("\"success\" is missing".into()),
    }
    check_optionals(
        &mut obj,
        &[
            ("text", "string"),
            ("error", "string"),
            ("values", "object"),
            ("data", "object"),
        ],
        &["success"],
    )?;
    Ok(Value::Object(obj))
}

/// Check and canonicalise a ProviderResult (`provider-result.schema.json`): an object with optional
/// string `text` and object `values`/`data`, nothing else; `null` optionals are removed.
pub fn check_provider_result(value: Value) -> Result<Value, String> {
    let Value::Object(mut obj) = value else {
        return Err(format!(
            "a ProviderResult must be an object, received {}",
            json_type_name(&value)
        ));
    };
    check_optionals(
        &mut obj,
        &[("text", "string"), ("values", "object"), ("data", "object")],
        &[],
    )?;
    Ok(Value::Object(obj))
}

/// Check and canonicalise an EvaluatorResult: `null` or an ActionResult.
pub fn check_evaluator_result(value: Value) -> Result<Value, String> {
    if value.is_null() {
        return Ok(value);
    }
    check_action_result(value)
}

fn check_optionals(
    obj: &mut Map<String, Value>,
    optionals: &[(&str, &str)],
    required: &[&str],
) -> Result<(), String> {
    // One pass over the members: the first unknown member (in key order) wins over a mistyped
    // one; among mistyped members the first in `optionals` order is reported.
    let mut mistyped: Option<usize> = None;
    let mut has_null = false;
    for (key, value) in obj.iter() {
        if required.contains(&key.as_str()) {
            continue;
        }
        let Some(index) = optionals.iter().position(|(name, _)| name == key) else {
            return Err(format!("unknown member {key:?}"));
        };
        let ok = match value {
            Value::Null => {
                has_null = true;
                true
            }
            Value::String(_) => optionals[index].1 == "string",
            Value::Object(_) => optionals[index].1 == "object",
            _ => false,
        };
        if !ok && !matches!(mistyped, Some(m) if m < index) {
            mistyped = Some(index);
        }
    }
    if let Some(index) = mistyped {
        let (name, expected) = optionals[index];
        let received = obj.get(name).map_or(RECEIVED_MISSING, json_type_name);
        return Err(format!(
            "{name:?} must be {} {expected}, received {received}",
            article(expected)
        ));
    }
    if has_null {
        obj.retain(|_, v| !v.is_null());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_and_code_mapping_round_trips() {
        assert_eq!(status_to_code(1), None);
        assert_eq!(status_to_code(0), None);
        assert_eq!(status_to_code(-1), Some(codes::UNKNOWN_NAME));
        assert_eq!(status_to_code(-2), Some(codes::INVALID_PARAMS));
        assert_eq!(status_to_code(-3), Some(codes::HANDLER_FAILED));
        assert_eq!(status_to_code(-4), Some(codes::INTERNAL_ERROR));
        assert_eq!(status_to_code(-9), Some(codes::INTERNAL_ERROR));
        for s in [-1, -2, -3, -4] {
            let code = status_to_code(s).unwrap_or(0);
            assert_eq!(code_to_status(code), s);
        }
        assert_eq!(code_to_status(codes::PARSE_ERROR), status::INVALID_INPUT);
        assert_eq!(code_to_status(codes::NOT_SUPPORTED), status::HANDLER_FAILED);
    }

    #[test]
    fn request_parsing_covers_each_error_row() {
        let ok = parse_request(br#"{"id":1,"method":"getManifest"}"#).map_err(|e| e.error);
        assert_eq!(
            ok,
            Ok(Request {
                id: json!(1),
                method: "getManifest".into(),
                params: Map::new()
            })
        );
        let crlf = parse_request(b"{\"id\":\"a\",\"method\":\"m\",\"params\":{}}\r").map(|r| r.id);
        assert_eq!(crlf, Ok(json!("a")));
        let cases: [(&[u8], Value, i64); 9] = [
            (b"not json", Value::Null, codes::PARSE_ERROR),
            (b"\xff\xfe", Value::Null, codes::PARSE_ERROR),
            (b"[1]", Value::Null, codes::INVALID_REQUEST),
            (br#"{"method":"x"}"#, Value::Null, codes::INVALID_REQUEST),
            (
                br#"{"id":-1,"method":"x"}"#,
                Value::Null,
                codes::INVALID_REQUEST,
            ),
            (
                br#"{"id":"","method":"x"}"#,
                Value::Null,
                codes::INVALID_REQUEST,
            ),
            (
                br#"{"id":9007199254740992,"method":"x"}"#,
                Value::Null,
                codes::INVALID_REQUEST,
            ),
            (br#"{"id":3,"method":5}"#, json!(3), codes::INVALID_REQUEST),
            (
                br#"{"id":4,"method":"x","params":[]}"#,
                json!(4),
                codes::INVALID_REQUEST,
            ),
        ];
        for (line, id, code) in cases {
            let err = parse_request(line).err();
            assert_eq!(
                err.as_ref().map(|e| (&e.id, e.error.code)),
                Some((&id, code)),
                "{line:?}"
            );
        }
    }

    #[test]
    fn envelope_round_trips_and_omits_absent_data() {
        let ok = envelope_json(&Ok(json!({"a": 1})));
        assert_eq!(ok, r#"{"result":{"a":1}}"#);
        let err = RpcError::new(codes::INTERNAL_ERROR, "boom");
        assert_eq!(
            envelope_json(&Err(err.clone())),
            r#"{"error":{"code":-32603,"message":"boom"}}"#
        );
        assert_eq!(
            parse_envelope(&envelope_json(&Err(err.clone()))),
            Ok(Err(err))
        );
        let with_null = parse_envelope(r#"{"error":{"code":-32000,"message":"m","data":null}}"#);
        assert_eq!(with_null, Ok(Err(RpcError::new(-32000, "m"))));
        assert!(parse_envelope(r#"{"result":1,"error":{"code":1,"message":""}}"#).is_err());
        assert!(parse_envelope(r#"{}"#).is_err());
        assert!(parse_envelope(r#"{"result":1,"x":2}"#).is_err());
        assert!(parse_envelope(r#"{"error":{"code":"x","message":""}}"#).is_err());
    }

    #[test]
    fn response_lines_parse() {
        let line = response_line(&json!(7), &Ok(json!(true)));
        assert_eq!(
            parse_response(line.as_bytes()),
            Ok(Response {
                id: json!(7),
                outcome: Ok(json!(true))
            })
        );
        let line = response_line(&Value::Null, &Err(RpcError::parse_error("x")));
        let parsed = parse_response(line.as_bytes()).map(|r| r.outcome.map_err(|e| e.code));
        assert_eq!(parsed, Ok(Err(codes::PARSE_ERROR)));
        assert!(parse_response(b"{\"id\":1}").is_err());
        assert!(parse_response(b"{\"id\":true,\"result\":1}").is_err());
    }

    #[test]
    fn call_args_validation_reports_param_expected_received() {
        let p = |v: Value| v.as_object().cloned().unwrap_or_default();
        let data = |r: Result<CallArgs, RpcError>| r.err().and_then(|e| e.data);
        let args = parse_call_args(&p(json!({"name": "echo", "memory": {"content": {}}})), true);
        assert_eq!(
            args,
            Ok(CallArgs {
                name: "echo".into(),
                memory: json!({"content": {}}),
                state: json!({}),
                options: json!({})
            })
        );
        assert_eq!(
            data(parse_call_args(
                &p(json!({"memory": {"content": {}}})),
                false
            )),
            Some(json!({"param": "name", "expected": "string", "received": "missing"}))
        );
        assert_eq!(
            data(parse_call_args(
                &p(json!({"name": 1, "memory": {"content": {}}})),
                false
            )),
            Some(json!({"param": "name", "expected": "string", "received": "integer"}))
        );
        assert_eq!(
            data(parse_call_args(&p(json!({"name": "x"})), false)),
            Some(json!({"param": "memory", "expected": "object", "received": "missing"}))
        );
        assert_eq!(
            data(parse_call_args(
                &p(json!({"name": "x", "memory": []})),
                false
            )),
            Some(json!({"param": "memory", "expected": "object", "received": "array"}))
        );
        assert_eq!(
            data(parse_call_args(
                &p(json!({"name": "x", "memory": {}})),
                false
            )),
            Some(json!({"param": "memory.content", "expected": "object", "received": "missing"}))
        );
        assert_eq!(
            data(parse_call_args(
                &p(json!({"name": "x", "memory": {"content": {"text": 1.5}}})),
                false
            )),
            Some(
                json!({"param": "memory.content.text", "expected": "string", "received": "number"})
            )
        );
        assert_eq!(
            data(parse_call_args(
                &p(json!({"name": "x", "memory": {"content": {}}, "state": "s"})),
                false
            )),
            Some(json!({"param": "state", "expected": "object", "received": "string"}))
        );
        assert_eq!(
            data(parse_call_args(
                &p(json!({"name": "x", "memory": {"content": {}}, "options": 1})),
                true
            )),
            Some(json!({"param": "options", "expected": "object", "received": "integer"}))
        );
        assert_eq!(
            parse_init_config(&p(json!({}))).err().and_then(|e| e.data),
            Some(json!({"param": "config", "expected": "object", "received": "missing"}))
        );
    }

    #[test]
    fn call_args_from_parts_agree_with_params_parsing() {
        let memories = [
            json!({"content": {"text": "hi"}, "x": [1, 2.5]}),
            json!({"content": {"text": null}}),
            json!({"content": {"text": 1}}),
            json!({"content": []}),
            json!({}),
            json!([]),
            json!(null),
        ];
        let others = [
            json!({"a": 1}),
            json!(null),
            json!("s"),
            json!(3),
            json!([]),
        ];
        for memory in &memories {
            for state in &others {
                for options in [
                    None,
                    Some(json!({"o": true})),
                    Some(json!(1)),
                    Some(json!(null)),
                ] {
                    let mut params = Map::new();
                    params.insert("name".into(), json!("n"));
                    params.insert("memory".into(), memory.clone());
                    params.insert("state".into(), state.clone());
                    if let Some(o) = &options {
                        params.insert("options".into(), o.clone());
                    }
                    let expected = parse_call_args(&params, options.is_some());
                    let got = call_args_from_parts(
                        "n".into(),
                        memory.clone(),
                        state.clone(),
                        options.clone(),
                    );
                    assert_eq!(got, expected, "{memory} {state} {options:?}");
                }
            }
        }
    }

    /// A small deterministic generator of JSON values for the writer test: strings mixing every
    /// escape class, ASCII runs longer than the eight-byte scan and non-ASCII text, nested values.
    struct Gen(u64);

    impl Gen {
        const PIECES: [&'static str; 18] = [
            "\"",
            "\\",
            "\u{0}",
            "\u{1f}",
            "\u{7f}",
            "\n",
            "\r",
            "\t",
            "\u{8}",
            "\u{c}",
            "/",
            "abcdefgh",
            "x",
            "é",
            "\u{2028}",
            "😀",
            "0123456789abcdef",
            " ",
        ];

        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn string(&mut self) -> String {
            (0..self.next(12))
                .map(|_| Self::PIECES[self.next(Self::PIECES.len() as u64) as usize])
                .collect()
        }

        fn value(&mut self, depth: u32) -> Value {
            match self.next(if depth > 3 { 6 } else { 8 }) {
                0 => Value::Null,
                1 => Value::Bool(self.next(2) == 0),
                2 => json!(self.next(1 << 40) as i64 - (1 << 39)),
                3 => json!(f64::from_bits(self.next(u64::MAX)).clamp(-1e300, 1e300)),
                4 => json!(u64::MAX - self.next(10)),
                5 => Value::String(self.string()),
                6 => Value::Array((0..self.next(4)).map(|_| self.value(depth + 1)).collect()),
                _ => Value::Object(
                    (0..self.next(4))
                        .map(|_| (self.string(), self.value(depth + 1)))
                        .collect(),
                ),
            }
        }
    }

    #[test]
    fn json_writer_matches_serde_json_byte_for_byte() {
        let mut gen = Gen(0x2545_f491_4f6c_dd1d);
        for _ in 0..5000 {
            let v = gen.value(0);
            let mut out = Vec::new();
            write_json(&mut out, &v);
            assert_eq!(
                String::from_utf8(out).ok(),
                serde_json::to_string(&v).ok(),
                "{v:?}"
            );
        }
        for b in 0u8..0x80 {
            let s = format!("abcdefg{}hijklmnop", char::from(b));
            let mut out = Vec::new();
            write_json_str(&mut out, &s);
            assert_eq!(String::from_utf8(out).ok(), serde_json::to_string(&s).ok());
        }
    }

    #[test]
    fn envelopes_written_in_place_equal_the_value_form() {
        let outcomes = [
            Ok(json!({"success": true, "text": "a\u{0}\u{2028}\"", "data": {"f": 0.1, "n": -0.0}})),
            Ok(Value::Null),
            Err(RpcError::unknown_name(Kind::Action, "x")),
            Err(RpcError::new(codes::INTERNAL_ERROR, "m")),
        ];
        for outcome in outcomes {
            let mut out = Vec::new();
            write_envelope(&mut out, &outcome);
            assert_eq!(out, envelope_value(&outcome).to_string().into_bytes());
            assert_eq!(parse_envelope(&envelope_json(&outcome)), Ok(outcome));
        }
        let mut raw = Vec::new();
        write_result_envelope_raw(&mut raw, br#"{"a":[1]}"#);
        assert_eq!(raw, br#"{"result":{"a":[1]}}"#);
    }

    #[test]
    fn result_checks_canonicalise_and_reject() {
        assert_eq!(
            check_action_result(json!({"success": true, "text": null})),
            Ok(json!({"success": true}))
        );
        assert_eq!(
            check_action_result(json!({"sucess": true})),
            Err("\"success\" is missing".to_string())
        );
        assert_eq!(
            check_action_result(json!({"success": true, "sucess": true})),
            Err("unknown member \"sucess\"".to_string())
        );
        assert!(check_action_result(json!({"success": 1})).is_err());
        assert_eq!(
            check_action_result(json!({"success": true, "values": [], "text": 1, "zz": 0})),
            Err("unknown member \"zz\"".to_string())
        );
        assert_eq!(
            check_action_result(json!({"success": true, "values": [], "text": 1})),
            Err("\"text\" must be a string, received integer".to_string())
        );
        assert_eq!(
            check_action_result(json!({"success": false, "data": 2, "error": null})),
            Err("\"data\" must be an object, received integer".to_string())
        );
        assert_eq!(
            check_action_result(
                json!({"success": false, "data": null, "error": "e", "values": {}})
            ),
            Ok(json!({"success": false, "error": "e", "values": {}}))
        );
        assert!(check_action_result(json!({"success": true, "values": []})).is_err());
        assert!(check_action_result(json!("x")).is_err());
        assert_eq!(
            check_provider_result(json!({"data": null, "text": "t"})),
            Ok(json!({"text": "t"}))
        );
        assert!(check_provider_result(json!({"success": true})).is_err());
        assert_eq!(check_evaluator_result(Value::Null), Ok(Value::Null));
        assert!(check_evaluator_result(json!({})).is_err());
    }
}
