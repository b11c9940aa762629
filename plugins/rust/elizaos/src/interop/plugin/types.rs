//! The plugin side: the [`Plugin`] trait a Rust plugin implements, its manifest and result types,
//! and [`PluginError`]. `export_plugin!` (in [`crate::interop::plugin::export`]) turns an implementation into
//! WASM exports or C FFI exports; [`crate::interop::server`] serves it over IPC.

use crate::interop::wire::{codes, RpcError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// A plugin's manifest (protocol.md section 1, `manifest.schema.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// npm-style name, 1..214 characters of `[a-z0-9._-]`.
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// SemVer 2.0 version.
    pub version: String,
    /// Implementation language (`"rust"` for plugins built with this SDK).
    pub language: String,
    /// Actions, unique by name.
    #[serde(default)]
    pub actions: Vec<ActionDescriptor>,
    /// Providers, unique by name.
    #[serde(default)]
    pub providers: Vec<ProviderDescriptor>,
    /// Evaluators, unique by name.
    #[serde(default)]
    pub evaluators: Vec<EvaluatorDescriptor>,
}

/// An action in a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionDescriptor {
    /// Non-empty name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Alternative names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similes: Option<Vec<String>>,
}

/// A provider in a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderDescriptor {
    /// Non-empty name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the provider is dynamic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<bool>,
    /// Whether the provider is private.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<bool>,
}

/// An evaluator in a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluatorDescriptor {
    /// Non-empty name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Whether the evaluator runs on every message.
    #[serde(default, rename = "alwaysRun", skip_serializing_if = "Option::is_none")]
    pub always_run: Option<bool>,
    /// Alternative names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similes: Option<Vec<String>>,
}

impl ActionDescriptor {
    /// A descriptor with a name and description.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        ActionDescriptor {
            name: name.into(),
            description: description.into(),
            similes: None,
        }
    }
}

impl ProviderDescriptor {
    /// A descriptor with a name and description.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        ProviderDescriptor {
            name: name.into(),
            description: Some(description.into()),
            dynamic: None,
            private: None,
        }
    }
}

impl EvaluatorDescriptor {
    /// A descriptor with a name and description.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        EvaluatorDescriptor {
            name: name.into(),
            description: description.into(),
            always_run: None,
            similes: None,
        }
    }
}

/// The result of an action or evaluator (`action-result.schema.json`). Absent optionals are
/// omitted on the wire.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionResult {
    /// Whether the action succeeded.
    pub success: bool,
    /// Reply text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Values to merge into state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Map<String, Value>>,
    /// Arbitrary structured data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
    /// Error description when `success` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ActionResult {
    /// `{"success": true}`.
    pub fn success() -> Self {
        ActionResult {
            success: true,
            ..Default::default()
        }
    }

    /// `{"success": false}`.
    pub fn failure() -> Self {
        ActionResult {
            success: false,
            ..Default::default()
        }
    }

    /// Set `text`.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Set `values`.
    pub fn with_values(mut self, values: Map<String, Value>) -> Self {
        self.values = Some(values);
        self
    }

    /// Set `data`.
    pub fn with_data(mut self, data: Map<String, Value>) -> Self {
        self.data = Some(data);
        self
    }

    /// Set `error`.
    pub fn with_error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }
}

/// The result of a provider (`provider-result.schema.json`). Absent optionals are omitted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderResult {
    /// Text to add to the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Values to merge into state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Map<String, Value>>,
    /// Arbitrary structured data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
}

impl ProviderResult {
    /// An empty result `{}`.
    pub fn new() -> Self {
        ProviderResult::default()
    }

    /// Set `text`.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Set `values`.
    pub fn with_values(mut self, values: Map<String, Value>) -> Self {
        self.values = Some(values);
        self
    }

    /// Set `data`.
    pub fn with_data(mut self, data: Map<String, Value>) -> Self {
        self.data = Some(data);
        self
    }
}

/// An error returned by a plugin handler. By default it is a handler failure (-32000) whose
/// `data.exception` is [`PluginError::exception`]; [`PluginError::with_code`] and the named
/// constructors give other codes (-32002 not supported, -32602 invalid params, -32099..-32004).
#[derive(Debug, Clone, PartialEq)]
pub struct PluginError {
    /// Error code sent to the host.
    pub code: i64,
    /// Human-readable message.
    pub message: String,
    /// Type name reported as `data.exception` for -32000 errors.
    pub exception: String,
    /// Extra `data` for codes other than -32000 (for -32000 the SDK builds `{kind, name, exception}`).
    pub data: Option<Value>,
}

impl PluginError {
    /// A handler failure (-32000) with the given message; `exception` is `"PluginError"`.
    pub fn new(message: impl Into<String>) -> Self {
        PluginError {
            code: codes::HANDLER_FAILED,
            message: message.into(),
            exception: "PluginError".into(),
            data: None,
        }
    }

    /// Change the type name reported as `data.exception`.
    pub fn with_exception(mut self, exception: impl Into<String>) -> Self {
        self.exception = exception.into();
        self
    }

    /// An error with an explicit code (e.g. a plugin-reserved code in -32099..-32004).
    pub fn with_code(code: i64, message: impl Into<String>) -> Self {
        PluginError {
            code,
            ..PluginError::new(message)
        }
    }

    /// -32002: this behaviour is not supported by the plugin or the transport it runs over.
    pub fn not_supported(message: impl Into<String>) -> Self {
        PluginError::with_code(codes::NOT_SUPPORTED, message)
    }

    /// -32602 with `data` `{"param", "expected", "received"}`, for a bad member of the options etc.
    pub fn invalid_param(param: &str, expected: &str, received: &str) -> Self {
        PluginError::from(RpcError::invalid_param(param, expected, received))
    }
}

impl From<RpcError> for PluginError {
    fn from(e: RpcError) -> Self {
        PluginError {
            code: e.code,
            message: e.message,
            exception: "RpcError".into(),
            data: e.data,
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for PluginError {}

/// Insert `value` under `key` when present (absent optionals are omitted on the wire, section 1).
fn put<T: Into<Value>>(obj: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        obj.insert(key.to_string(), v.into());
    }
}

impl From<ActionResult> for Value {
    /// The wire value, equal to what `serde_json::to_value` gives, built by moving the members
    /// instead of serialising them (a result's `data` can be large).
    fn from(r: ActionResult) -> Value {
        let mut obj = Map::new();
        obj.insert("success".to_string(), Value::Bool(r.success));
        put(&mut obj, "text", r.text);
        put(&mut obj, "values", r.values);
        put(&mut obj, "data", r.data);
        put(&mut obj, "error", r.error);
        Value::Object(obj)
    }
}

impl From<ProviderResult> for Value {
    /// The wire value, equal to what `serde_json::to_value` gives, built by moving the members.
    fn from(r: ProviderResult) -> Value {
        let mut obj = Map::new();
        put(&mut obj, "text", r.text);
        put(&mut obj, "values", r.values);
        put(&mut obj, "data", r.data);
        Value::Object(obj)
    }
}

/// A plugin implemented in Rust.
///
/// Handlers take `&self`: while a handler waits for its runtime (protocol.md 11.4) the host may
/// call back into the same plugin (elizaOS `composeState` runs its providers), so a plugin keeps
/// mutable state behind a `Mutex` or atomics, never borrowed across a runtime call. A handler
/// reaches the host's runtime with [`current_runtime`](crate::interop::current_runtime).
///
/// The SDK serialises every call (one at a time, behind a mutex for FFI), checks `name` against
/// the manifest before calling a handler (unknown names are -32001), validates params (-32602),
/// turns `Err` and panics into -32000, and validates the wire result (-32003).
/// Calls made before `init` behave as if `init({})` had been called.
///
/// Typed handlers return [`ActionResult`]/[`ProviderResult`]. The `*_json` methods are the raw
/// entry points the SDK actually calls; they default to serialising the typed handlers, and a
/// plugin overrides them only to return a JSON value of its own making.
pub trait Plugin {
    /// The manifest. Called once per bridge and cached.
    fn manifest(&self) -> Manifest;

    /// Configure the plugin. May be called more than once; the last config wins.
    fn init(&self, config: &Value) -> Result<(), PluginError> {
        let _ = config;
        Ok(())
    }

    /// Whether an action applies to `memory`. Defaults to `true`.
    fn validate_action(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<bool, PluginError> {
        let _ = (name, memory, state);
        Ok(true)
    }

    /// Run an action.
    fn invoke_action(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
        options: &Value,
    ) -> Result<ActionResult, PluginError>;

    /// Run a provider. Defaults to -32002 (a plugin with providers overrides it).
    fn get_provider(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<ProviderResult, PluginError> {
        let _ = (memory, state);
        Err(PluginError::not_supported(format!(
            "provider {name:?} is not implemented"
        )))
    }

    /// Whether an evaluator applies to `memory`. Defaults to `true`.
    fn validate_evaluator(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<bool, PluginError> {
        let _ = (name, memory, state);
        Ok(true)
    }

    /// Run an evaluator; `None` means it had nothing to say (`null` on the wire). Defaults to -32002.
    fn invoke_evaluator(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<Option<ActionResult>, PluginError> {
        let _ = (memory, state);
        Err(PluginError::not_supported(format!(
            "evaluator {name:?} is not implemented"
        )))
    }

    /// Raw form of [`Plugin::invoke_action`]: the JSON the SDK validates and sends.
    fn invoke_action_json(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
        options: &Value,
    ) -> Result<Value, PluginError> {
        self.invoke_action(name, memory, state, options)
            .map(Value::from)
    }

    /// Raw form of [`Plugin::get_provider`].
    fn get_provider_json(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<Value, PluginError> {
        self.get_provider(name, memory, state).map(Value::from)
    }

    /// Raw form of [`Plugin::invoke_evaluator`].
    fn invoke_evaluator_json(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<Value, PluginError> {
        Ok(self
            .invoke_evaluator(name, memory, state)?
            .map_or(Value::Null, Value::from))
    }
}

/// `m.content.text` when it is a string (protocol.md section 9's `text(m)`).
pub fn memory_text(memory: &Value) -> Option<&str> {
    memory
        .get("content")
        .and_then(|c| c.get("text"))
        .and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_omit_absent_optionals() {
        let r = ActionResult::success();
        assert_eq!(
            serde_json::to_value(&r).ok(),
            Some(json!({"success": true}))
        );
        let r = ActionResult::failure().with_error("x").with_text("t");
        assert_eq!(
            serde_json::to_value(&r).ok(),
            Some(json!({"success": false, "text": "t", "error": "x"}))
        );
        assert_eq!(
            serde_json::to_value(ProviderResult::new()).ok(),
            Some(json!({}))
        );
        let mut values = Map::new();
        values.insert("answer".into(), json!(42));
        let p = ProviderResult::new().with_text("s").with_values(values);
        assert_eq!(
            serde_json::to_value(&p).ok(),
            Some(json!({"text": "s", "values": {"answer": 42}}))
        );
    }

    #[test]
    fn wire_values_equal_serde_serialisation() {
        let mut map = Map::new();
        map.insert("k".into(), json!([1, {"a": null}]));
        let actions = [
            ActionResult::success(),
            ActionResult::failure().with_error("e"),
            ActionResult::success()
                .with_text("t")
                .with_values(map.clone())
                .with_data(map.clone()),
        ];
        for r in actions {
            assert_eq!(serde_json::to_value(&r).ok(), Some(Value::from(r)));
        }
        let providers = [
            ProviderResult::new(),
            ProviderResult::new().with_text("t").with_data(map.clone()),
            ProviderResult::new().with_values(map),
        ];
        for r in providers {
            assert_eq!(serde_json::to_value(&r).ok(), Some(Value::from(r)));
        }
    }

    #[test]
    fn manifest_serialises_in_wire_spelling() {
        let m = Manifest {
            name: "p".into(),
            description: "d".into(),
            version: "1.0.0".into(),
            language: "rust".into(),
            actions: vec![ActionDescriptor::new("a", "A")],
            providers: vec![ProviderDescriptor::new("p", "P")],
            evaluators: vec![EvaluatorDescriptor {
                always_run: Some(true),
                ..EvaluatorDescriptor::new("e", "E")
            }],
        };
        let v = serde_json::to_value(&m).unwrap_or_default();
        assert_eq!(
            v["evaluators"][0],
            json!({"name": "e", "description": "E", "alwaysRun": true})
        );
        assert_eq!(v["actions"][0], json!({"name": "a", "description": "A"}));
    }

    #[test]
    fn memory_text_reads_only_strings() {
        assert_eq!(memory_text(&json!({"content": {"text": "hi"}})), Some("hi"));
        assert_eq!(memory_text(&json!({"content": {"text": 1}})), None);
        assert_eq!(memory_text(&json!({"content": {}})), None);
    }
}
