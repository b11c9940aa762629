//! Schema checks of values on the wire: call arguments (section 3.3) and results (section 1).

use super::error::{article, RpcError};
use super::vocabulary::{json_type_name, RECEIVED_MISSING};
use serde_json::{Map, Value};

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

/// An optional object param, borrowed: absent or `null` gives `None` (meaning `{}`).
fn optional_object<'a>(
    params: &'a Map<String, Value>,
    param: &str,
) -> Result<Option<&'a Value>, RpcError> {
    match params.get(param) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(other) => Err(RpcError::invalid_param(
            param,
            "object",
            json_type_name(other),
        )),
    }
}

/// Borrowed, validated arguments of a handler method: [`CallArgs`] without the copies.
/// `state`/`options` are `None` where the value is `{}` (absent or `null`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallArgsRef<'a> {
    /// The action/provider/evaluator name.
    pub name: &'a str,
    /// The Memory (an object with an object `content`).
    pub memory: &'a Value,
    /// The State, `None` for `{}`.
    pub state: Option<&'a Value>,
    /// The Options, `None` for `{}` (always for methods without options).
    pub options: Option<&'a Value>,
}

/// Validate the params of a handler method without copying them: the checks, their order and
/// the error `data` of [`parse_call_args`], which is this plus the copies.
pub fn borrow_call_args(
    params: &Map<String, Value>,
    with_options: bool,
) -> Result<CallArgsRef<'_>, RpcError> {
    let name = match params.get("name") {
        Some(Value::String(s)) => s.as_str(),
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
            m
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
        None
    };
    Ok(CallArgsRef {
        name,
        memory,
        state,
        options,
    })
}

/// Validate the params of a handler method (everything but `getManifest`, `init`, `shutdown`).
/// `with_options` is true for `invokeAction`.
pub fn parse_call_args(
    params: &Map<String, Value>,
    with_options: bool,
) -> Result<CallArgs, RpcError> {
    let args = borrow_call_args(params, with_options)?;
    let owned = |v: Option<&Value>| v.cloned().unwrap_or_else(|| Value::Object(Map::new()));
    Ok(CallArgs {
        name: args.name.to_owned(),
        memory: args.memory.clone(),
        state: owned(args.state),
        options: owned(args.options),
    })
}

/// [`parse_call_args`] taking the values out of `params` instead of copying them (the IPC
/// server owns the request it answers).
pub fn take_call_args(
    params: &mut Map<String, Value>,
    with_options: bool,
) -> Result<CallArgs, RpcError> {
    borrow_call_args(params, with_options)?;
    let mut take = |key: &str| match params.remove(key) {
        Some(v @ Value::Object(_)) => v,
        _ => Value::Object(Map::new()),
    };
    let memory = take("memory");
    let state = take("state");
    let options = if with_options {
        take("options")
    } else {
        Value::Object(Map::new())
    };
    let name = match params.remove("name") {
        Some(Value::String(s)) => s,
        _ => String::new(),
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
