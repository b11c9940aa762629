//! [`RpcError`], the JSON-RPC error object of every transport (sections 3.2 and 4).

use super::vocabulary::{code_to_status, codes, json_type_name, Kind};
use serde_json::{Map, Value};
use std::fmt;

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
    /// type name ([`json_type_name`]) or [`RECEIVED_MISSING`](super::RECEIVED_MISSING).
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

pub(super) fn article(word: &str) -> &'static str {
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

/// The message of a panic payload when it is a string (`panic!("...")` gives `&str` or `String`):
/// both ends turn a caught panic into a -32000 error carrying it.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}
