//! IPC requests (section 3.2): parsing and serialising request lines.

use super::{json_type_name, RpcError, MAX_SAFE_INTEGER};
use serde_json::{Map, Value};

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
