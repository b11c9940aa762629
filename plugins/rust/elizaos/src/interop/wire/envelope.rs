//! Responses and envelopes (sections 3.2 and 5.2): building, writing and parsing them.

use super::{is_valid_id, json_type_name, write_json, RpcError};
use serde_json::{Map, Value};

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
