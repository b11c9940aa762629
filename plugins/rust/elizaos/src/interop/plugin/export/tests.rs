//! Unit tests of the bridge and its FFI/WASM glue.

use super::bridge::{decode_call, decode_json, validate_status, Bridge, GlobalBridge};
use crate::interop::plugin::{ActionDescriptor, ActionResult, ProviderDescriptor};
use crate::interop::plugin::{Manifest, Plugin, PluginError};
use crate::interop::wire::{codes, CallArgs, Kind, RpcError, Transport};
use serde_json::json;
use serde_json::{Map, Value};
use std::panic::catch_unwind;

/// A plugin exercising every outcome a handler can have.
#[derive(Default)]
struct Probe {
    inits: std::sync::Mutex<Vec<Value>>,
    /// Every init fails (the implicit one too); `attempts` counts them.
    refuse_every_init: bool,
    attempts: std::sync::atomic::AtomicUsize,
}

impl Plugin for Probe {
    fn manifest(&self) -> Manifest {
        Manifest {
            name: "probe".into(),
            description: "test".into(),
            version: "0.0.0".into(),
            language: "rust".into(),
            actions: ["ok", "boom", "panic", "raw-bad", "unsupported", "inits"]
                .iter()
                .map(|n| ActionDescriptor::new(*n, "a"))
                .collect(),
            providers: vec![ProviderDescriptor::new("p", "p")],
            evaluators: vec![],
        }
    }

    fn init(&self, config: &Value) -> Result<(), PluginError> {
        self.attempts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if config.get("fail").is_some() || self.refuse_every_init {
            return Err(PluginError::new("bad config").with_exception("ConfigError"));
        }
        self.inits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(config.clone());
        Ok(())
    }

    fn validate_action(&self, name: &str, _m: &Value, _s: &Value) -> Result<bool, PluginError> {
        match name {
            "boom" => Err(PluginError::new("validate failed")),
            "panic" => panic!("validate panic"),
            _ => Ok(true),
        }
    }

    fn invoke_action(
        &self,
        name: &str,
        _m: &Value,
        _s: &Value,
        _o: &Value,
    ) -> Result<ActionResult, PluginError> {
        match name {
            "ok" => Ok(ActionResult::success()),
            "boom" => Err(PluginError::new("boom").with_exception("Boom")),
            "panic" => panic!("handler panic {}", 7),
            "unsupported" => Err(PluginError::not_supported("nope")),
            "inits" => Ok(ActionResult::success()
                .with_text(self.inits.lock().map(|i| i.len()).unwrap_or(0).to_string())),
            _ => Err(PluginError::new("unexpected")),
        }
    }

    fn invoke_action_json(
        &self,
        name: &str,
        m: &Value,
        s: &Value,
        o: &Value,
    ) -> Result<Value, PluginError> {
        if name == "raw-bad" {
            return Ok(json!([1]));
        }
        serde_json::to_value(self.invoke_action(name, m, s, o)?)
            .map_err(|e| PluginError::new(e.to_string()))
    }
}

fn args(name: &str) -> CallArgs {
    CallArgs {
        name: name.into(),
        memory: json!({"content": {}}),
        state: json!({}),
        options: json!({}),
    }
}

fn code(r: Result<Value, RpcError>) -> i64 {
    r.err().map_or(0, |e| e.code)
}

#[test]
fn first_call_initialises_with_an_empty_config_once() {
    let b = Bridge::new(Probe::default(), Transport::Ffi);
    assert_eq!(
        b.invoke(Kind::Action, &args("inits")).ok(),
        Some(json!({"success": true, "text": "1"}))
    );
    assert_eq!(
        b.invoke(Kind::Action, &args("inits")).ok(),
        Some(json!({"success": true, "text": "1"}))
    );
    assert_eq!(*b.plugin().inits.lock().unwrap(), vec![json!({})]);
    assert!(b.init(&json!({"a": 1})).is_ok());
    assert_eq!(
        b.plugin().inits.lock().unwrap().last(),
        Some(&json!({"a": 1}))
    );
    let e = b.init(&json!({"fail": true})).err();
    assert_eq!(
        e.map(|e| (e.code, e.data)),
        Some((
            -32000,
            Some(json!({"exception": "ConfigError", "kind": "plugin", "name": "probe"}))
        ))
    );
    assert_eq!(
        b.config(),
        json!({"a": 1}),
        "a failed init keeps the last config"
    );
}

#[test]
fn a_failed_first_init_is_the_init_no_implicit_one_follows() {
    let b = Bridge::new(Probe::default(), Transport::Ffi);
    assert!(b.init(&json!({"fail": true})).is_err());
    assert_eq!(
        b.invoke(Kind::Action, &args("inits")).ok(),
        Some(json!({"success": true, "text": "0"}))
    );
    assert_eq!(b.config(), json!({}));
}

#[test]
fn a_failed_implicit_init_is_logged_and_the_call_served_once() {
    let b = Bridge::new(
        Probe {
            refuse_every_init: true,
            ..Probe::default()
        },
        Transport::Ffi,
    );
    for _ in 0..2 {
        assert_eq!(
            b.invoke(Kind::Action, &args("inits")).ok(),
            Some(json!({"success": true, "text": "0"})),
            "the call is served with the config {{}} (protocol.md 3.3)"
        );
    }
    assert_eq!(
        b.plugin()
            .attempts
            .load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the implicit init runs once, failed or not"
    );
    assert_eq!(b.config(), json!({}));
}

#[test]
fn panics_errors_and_invalid_results_map_to_codes_and_the_bridge_keeps_serving() {
    let b = Bridge::new(Probe::default(), Transport::Ffi);
    for _ in 0..3 {
        let e = b.invoke(Kind::Action, &args("panic")).err();
        assert_eq!(
            e,
            Some(RpcError::handler_failed(
                Kind::Action,
                "panic",
                "panic",
                "handler panic 7"
            ))
        );
        assert_eq!(
            b.invoke(Kind::Action, &args("ok")).ok(),
            Some(json!({"success": true}))
        );
    }
    let e = b.validate(Kind::Action, &args("panic")).err();
    assert_eq!(e.map(|e| (e.code, e.status())), Some((-32000, -3)));
    let e = b.validate(Kind::Action, &args("boom")).err();
    assert_eq!(
        e.map(|e| e.data),
        Some(Some(
            json!({"kind": "action", "name": "boom", "exception": "PluginError"})
        ))
    );
    let e = b.invoke(Kind::Action, &args("boom")).err();
    assert_eq!(
        e.map(|e| e.data),
        Some(Some(
            json!({"kind": "action", "name": "boom", "exception": "Boom"})
        ))
    );
    assert_eq!(code(b.invoke(Kind::Action, &args("raw-bad"))), -32003);
    let e = b.invoke(Kind::Action, &args("unsupported")).err();
    assert_eq!(e, Some(RpcError::not_supported("nope")));
    assert_eq!(code(b.invoke(Kind::Action, &args("missing"))), -32001);
    assert_eq!(code(b.invoke(Kind::Evaluator, &args("ok"))), -32001);
    // providers default to -32002 when the plugin does not implement them
    assert_eq!(code(b.invoke(Kind::Provider, &args("p"))), -32002);
}

#[test]
fn dispatch_routes_methods_and_rejects_unknown_ones() {
    let b = Bridge::new(Probe::default(), Transport::Ipc);
    let params = |v: Value| v.as_object().cloned().unwrap_or_default();
    assert_eq!(
        b.dispatch("getManifest", &Map::new())
            .ok()
            .map(|m| m["name"].clone()),
        Some(json!("probe"))
    );
    assert_eq!(
        b.dispatch("init", &params(json!({"config": {}}))).ok(),
        Some(json!({}))
    );
    let call = params(json!({"name": "ok", "memory": {"content": {}}}));
    assert_eq!(b.dispatch("validateAction", &call).ok(), Some(json!(true)));
    assert_eq!(
        b.dispatch("invokeAction", &call).ok(),
        Some(json!({"success": true}))
    );
    assert_eq!(code(b.dispatch("getprovider", &call)), -32601);
    assert_eq!(
        code(b.dispatch("invokeAction", &params(json!({"name": "ok"})))),
        -32602
    );
    assert_eq!(b.dispatch("shutdown", &Map::new()).ok(), Some(json!({})));
}

#[test]
fn a_poisoned_global_bridge_keeps_working() {
    static G: GlobalBridge<Probe> = GlobalBridge::new(Probe::default);
    let poisoned = catch_unwind(|| G.with(Transport::Ffi, |_| panic!("poison the lock")));
    assert!(poisoned.is_err());
    let after = G.with(Transport::Ffi, |b| b.invoke(Kind::Action, &args("ok")));
    assert_eq!(after.ok(), Some(json!({"success": true})));
}

#[test]
fn validate_statuses_follow_section_5_3() {
    assert_eq!(validate_status(Ok(true)).0, 1);
    assert_eq!(validate_status(Ok(false)).0, 0);
    assert_eq!(
        validate_status(Err(RpcError::unknown_name(Kind::Action, "x"))).0,
        -1
    );
    assert_eq!(validate_status(Err(RpcError::parse_error("x"))).0, -2);
    assert_eq!(
        validate_status(Err(RpcError::invalid_param("memory", "object", "array"))).0,
        -2
    );
    assert_eq!(
        validate_status(Err(RpcError::new(codes::HANDLER_FAILED, "x"))).0,
        -3
    );
    assert_eq!(validate_status(Err(RpcError::internal("x"))).0, -4);
}

#[test]
fn the_empty_object_shortcut_decodes_like_the_parser() {
    for text in ["{}", "{ }", " {}", "{}\n", "{\"a\":{}}"] {
        assert_eq!(
            decode_json("state", text.as_bytes()).ok(),
            serde_json::from_str::<Value>(text).ok(),
            "{text:?}"
        );
    }
    assert_eq!(
        decode_json("state", b"{}").ok(),
        Some(Value::Object(Map::new()))
    );
}

#[test]
fn bad_arguments_are_decoded_into_the_documented_errors() {
    assert_eq!(
        decode_call(b"\xff", b"{}", b"{}", None)
            .err()
            .map(|e| e.code),
        Some(-32602)
    );
    assert_eq!(
        decode_call(b"x", b"\xc3", b"{}", None)
            .err()
            .map(|e| e.code),
        Some(-32602)
    );
    assert_eq!(
        decode_call(b"x", b"{", b"{}", None).err().map(|e| e.code),
        Some(-32700)
    );
    assert_eq!(
        decode_call(b"x", b"{\"content\":{}}", b"1", None)
            .err()
            .map(|e| e.code),
        Some(-32602)
    );
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let e = decode_call(b"x", b"{\"content\":{}}", b"{}", Some(deep.as_bytes())).err();
    assert_eq!(
        e.map(|e| e.code),
        Some(-32700),
        "nesting past serde_json's limit is refused, not a crash"
    );
}
