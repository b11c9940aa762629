//! The FFI loader against the real Rust conformance fixture library
//! (`libelizaos_plugin_conformance.so`): the section 6 ABI, status mapping,
//! envelopes, NUL handling, panics caught at the boundary, and calls from
//! several threads.

mod host_support;

use std::sync::Arc;
use std::thread;

use elizaos::interop::{FfiPluginLoader, InteropError, LoadedPlugin, Transport};
use host_support::*;
use serde_json::{json, Value};

fn load() -> LoadedPlugin {
    FfiPluginLoader::new()
        .load(conformance_so())
        .unwrap_or_else(|e| panic!("load failed: {e}"))
}

#[test]
fn every_fixture_behaviour_over_ffi() {
    let plugin = load();
    assert_eq!(plugin.transport(), Transport::Ffi);
    assert_eq!(plugin.name(), "conformance-fixture");
    assert_eq!(plugin.pid(), None);
    let m = json!({"content": {"text": "nul \u{0} inside, astral 𝄞"}, "n": 9007199254740991_u64});
    let s = json!({"s": [true, null, -0.5]});
    let o = json!({"o": "x"});
    assert_eq!(
        plugin.invoke_action("echo", &m, &s, &o).expect("echo"),
        json!({"success": true, "text": "nul \u{0} inside, astral 𝄞", "data": {"memory": m, "state": s, "options": o}})
    );
    assert!(plugin.validate_action("echo", &m, &s).expect("validate"));
    assert!(!plugin
        .validate_action("reject", &m, &s)
        .expect("validate reject"));
    errors_are_typed_and_the_library_keeps_serving(&plugin, &m, &s, &o);
    providers_evaluators_and_large_results(&plugin, &m, &s);
    plugin.call_noop().expect("noop");
}

/// Unknown names, failing, panicking and crashing handlers, invalid results.
fn errors_are_typed_and_the_library_keeps_serving(
    plugin: &LoadedPlugin,
    m: &Value,
    s: &Value,
    o: &Value,
) {
    let unknown = plugin.validate_action("nope", m, s).expect_err("unknown");
    assert_eq!(unknown.code(), Some(-32001), "{unknown}");
    assert!(
        unknown
            .to_string()
            .starts_with("conformance-fixture: validateAction(\"nope\") over ffi"),
        "{unknown}"
    );
    let unknown = plugin.invoke_action("nope", m, s, o).expect_err("unknown");
    assert!(
        matches!(&unknown, InteropError::Call { code: -32001, data: Some(d), .. } if d["kind"] == "action"),
        "{unknown}"
    );
    for name in ["fail", "panic"] {
        assert_eq!(
            plugin.invoke_action(name, m, s, o).expect_err(name).code(),
            Some(-32000)
        );
    }
    // Panics are caught at the boundary: the library keeps serving.
    assert!(plugin.invoke_action("echo", m, s, o).is_ok());
    assert_eq!(
        plugin
            .invoke_action("crash", m, s, o)
            .expect_err("crash")
            .code(),
        Some(-32002)
    );
    assert_eq!(
        plugin
            .invoke_action("invalid", m, s, o)
            .expect_err("invalid")
            .code(),
        Some(-32003)
    );
}

/// Providers (with the config of `init`), evaluators and a large result.
fn providers_evaluators_and_large_results(plugin: &LoadedPlugin, m: &Value, s: &Value) {
    assert_eq!(
        plugin.get_provider("static", m, s).expect("static"),
        json!({"text": "static provider", "values": {"answer": 42}})
    );
    plugin.init(&json!({"k": "v"})).expect("init");
    assert_eq!(
        plugin.get_provider("config", m, s).expect("config"),
        json!({"values": {"k": "v"}})
    );
    assert_eq!(
        plugin.invoke_evaluator("silent", m, s).expect("silent"),
        None
    );
    assert!(!plugin.validate_evaluator("reject", m, s).expect("reject"));
    assert_eq!(
        plugin
            .invoke_evaluator("fail", m, s)
            .expect_err("fail")
            .code(),
        Some(-32000)
    );
    let large = plugin
        .invoke_action("large", m, s, &json!({"size": 12}))
        .expect("large");
    assert_eq!(
        large,
        json!({"success": true, "text": "012345678901", "values": {"size": 12}})
    );
}

#[test]
fn nul_in_a_name_and_bad_params_are_refused_like_ipc() {
    let plugin = load();
    let err = plugin
        .invoke_action("ec\u{0}ho", &memory("x"), &empty(), &empty())
        .expect_err("nul name");
    match &err {
        InteropError::InvalidPayload { path, .. } => assert_eq!(path, "params.name"),
        other => panic!("expected InvalidPayload, got {other}"),
    }
    assert_eq!(err.type_name(), "InvalidPayloadError");
    let bad = plugin
        .call_method(
            "getProvider",
            &json!({"name": "static", "memory": {"content": {"text": 5}}}),
            None,
        )
        .expect_err("bad memory");
    assert!(
        matches!(&bad, InteropError::Call { code: -32602, data: Some(d), .. }
            if d == &json!({"param": "memory.content.text", "expected": "string", "received": "integer"})),
        "{bad}"
    );
    let unknown_method = plugin
        .call_method("frobnicate", &json!({}), None)
        .expect_err("method");
    assert_eq!(unknown_method.code(), Some(-32601));
    let small = FfiPluginLoader::new()
        .max_message_bytes(100)
        .load(conformance_so())
        .expect("load");
    let err = small
        .invoke_action("echo", &memory(&"y".repeat(200)), &empty(), &empty())
        .expect_err("oversize");
    assert!(
        matches!(&err, InteropError::InvalidPayload { path, .. } if path == "params.memory"),
        "{err}"
    );
}

#[test]
fn concurrent_calls_from_several_threads() {
    let plugin = Arc::new(load());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let plugin = Arc::clone(&plugin);
            thread::spawn(move || {
                for i in 0..500 {
                    let text = format!("{t}/{i}");
                    let r = plugin
                        .invoke_action("echo", &memory(&text), &empty(), &empty())
                        .expect("echo");
                    assert_eq!(r["text"], json!(text));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread panicked");
    }
}

#[test]
fn load_errors_name_the_problem() {
    let missing = FfiPluginLoader::new()
        .load("/nonexistent/libx.so")
        .expect_err("missing");
    assert_eq!(missing.type_name(), "PluginLoadError");
    assert!(missing.to_string().contains("not found"), "{missing}");
    // A real shared library that is not a plugin.
    let libc_path = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("libc.so.6 exists on this platform");
    let not_plugin = FfiPluginLoader::new()
        .load(libc_path)
        .expect_err("not a plugin");
    assert!(
        not_plugin
            .to_string()
            .contains("missing export elizaos_get_manifest"),
        "{not_plugin}"
    );
}
