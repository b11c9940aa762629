//! The Rust host against raw wire-level plugins (`tests/scripts/raw_plugin.py`, no SDK): the
//! seed's IPC dialect (protocol.md 12), must-ignore, the version and capability exchange, and
//! strict JSON receiving (lone surrogates, NaN, id type changes are protocol errors).

mod host_support;

use std::path::PathBuf;

use elizaos::interop::{InteropError, IpcPluginLoader, LoadedPlugin};
use host_support::*;
use serde_json::json;

fn script() -> String {
    repo_file("plugins/rust/elizaos/tests/scripts/raw_plugin.py")
        .display()
        .to_string()
}

fn load_with(mode: &str, log: Option<&PathBuf>) -> LoadedPlugin {
    let mut loader = IpcPluginLoader::new();
    if let Some(log) = log {
        loader = loader.env("RAW_PLUGIN_LOG", log);
    }
    loader
        .load_command(&[python(), script(), mode.to_string()])
        .unwrap_or_else(|e| panic!("raw plugin {mode}: load failed: {e}"))
}

fn log_file(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("raw-{name}.log"));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn the_seed_dialect_is_accepted_and_gets_no_shutdown() {
    let log = log_file("seed");
    let plugin = load_with("seed", Some(&log));
    assert_eq!(plugin.protocol_version(), 0);
    assert!(!plugin.has_capability("shutdown"));
    assert!(
        plugin.manifest()["examples"].is_array(),
        "unknown members kept"
    );
    let m = memory("hi");
    plugin
        .init(&json!({"k": 1}))
        .expect("init answers {success: true}");
    assert!(plugin
        .validate_action("act", &m, &empty())
        .expect("{valid: true}"));
    let unknown = plugin
        .invoke_action("nope", &m, &empty(), &empty())
        .expect_err("unknown name");
    assert!(
        matches!(&unknown, InteropError::Call { code: -32602, .. }),
        "any JSON-RPC error for an unknown name is a PluginCallError with its code: {unknown}"
    );
    assert_eq!(
        plugin
            .invoke_action("act", &m, &empty(), &empty())
            .expect("act"),
        json!({"success": true, "extra": "kept"})
    );
    let pid = plugin.pid().expect("pid");
    within("close", move || plugin.close());
    assert_reaped(pid);
    let seen = std::fs::read_to_string(&log).expect("log");
    assert!(
        seen.starts_with(
            "got getManifest {\"capabilities\": [\"runtime\"], \"protocolVersion\": 1}\n"
        ),
        "{seen}"
    );
    assert!(!seen.contains("got shutdown"), "{seen}");
}

#[test]
fn a_plugin_declaring_shutdown_gets_it() {
    let log = log_file("plain");
    let plugin = load_with("plain", Some(&log));
    assert_eq!(plugin.protocol_version(), 1);
    within("close", move || plugin.close());
    let seen = std::fs::read_to_string(&log).expect("log");
    assert!(seen.contains("got shutdown {}"), "{seen}");
}

fn protocol_error(mode: &str) -> (InteropError, InteropError) {
    let plugin = load_with(mode, None);
    let pid = plugin.pid().expect("pid");
    let what = mode.to_string();
    let (err, later) = within(mode, move || {
        let err = plugin
            .invoke_action("act", &memory("x"), &empty(), &empty())
            .expect_err(&what);
        let later = plugin
            .invoke_action("act", &memory("x"), &empty(), &empty())
            .expect_err("closed");
        (err, later)
    });
    assert_reaped(pid);
    (err, later)
}

#[test]
fn a_lone_surrogate_is_a_protocol_error() {
    let (err, later) = protocol_error("surrogate");
    assert!(
        matches!(&err, InteropError::Protocol { reason, .. } if reason.contains("not JSON")),
        "{err}"
    );
    assert_eq!(later.type_name(), "PluginCrashError", "{later}");
}

#[test]
fn nan_is_a_protocol_error() {
    let (err, _) = protocol_error("nan");
    assert!(
        matches!(&err, InteropError::Protocol { reason, .. } if reason.contains("not JSON")),
        "{err}"
    );
}

#[test]
fn invalid_utf8_is_a_protocol_error() {
    let (err, _) = protocol_error("bad-utf8");
    assert!(
        matches!(&err, InteropError::Protocol { reason, .. } if reason.contains("not UTF-8")),
        "{err}"
    );
}

#[test]
fn an_id_of_another_type_is_a_protocol_error() {
    for mode in ["string-id", "float-id"] {
        let (err, _) = protocol_error(mode);
        assert!(
            matches!(&err, InteropError::Protocol { reason, .. }
                if reason.contains("unexpected id") || reason.contains("id is invalid")),
            "{mode}: {err}"
        );
    }
}
