//! A C library written from the seed README's FFI section alone (`tests/seed/seed_plugin.c`,
//! compiled here with `cc`) loads in the Rust host: plain JSON returns, no `elizaos_last_error`,
//! no `elizaos_abi_version`, elizaOS manifest members the protocol does not define (must-ignore),
//! a scoped name, and NULL / negative statuses turned into errors the host builds itself.

use std::path::{Path, PathBuf};
use std::process::Command;

use elizaos::interop::{FfiPluginLoader, InteropError, LoadedPlugin};
use serde_json::json;

/// Compiles the seed-text plugin into this test's temporary directory.
fn seed_library() -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed/seed_plugin.c");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("libseed_plugin.so");
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(&source)
        .status()
        .expect("a C compiler (`cc`) is needed to build the seed-text plugin");
    assert!(status.success(), "cc failed on {}", source.display());
    out
}

fn load() -> LoadedPlugin {
    FfiPluginLoader::new()
        .load(seed_library())
        .unwrap_or_else(|e| panic!("the seed-text library must load: {e}"))
}

#[test]
fn a_library_written_from_the_seed_loads_and_answers() {
    let plugin = load();
    assert_eq!(plugin.name(), "@seed/plugin-greeter");
    assert_eq!(plugin.language(), "c");
    assert_eq!(
        plugin.ffi_abi_version(),
        Some(0),
        "no elizaos_abi_version: the seed's ABI"
    );
    // The manifest is kept as received, unknown members included.
    assert_eq!(plugin.manifest()["priority"], json!(5));
    assert_eq!(
        plugin.manifest()["dependencies"],
        json!(["@elizaos/plugin-sql"])
    );
    let actions = plugin.actions();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].name, "greet");
    assert_eq!(actions[0].description.as_deref(), Some("Say hello"));
    assert_eq!(
        actions[0].descriptor["examples"][0][0]["content"]["text"],
        json!("hi")
    );
    assert_eq!(plugin.providers()[0].descriptor["position"], json!(3));

    let memory = json!({"content": {"text": "hi"}});
    let state = json!({});
    plugin.init(&json!({"GREETING": "hi"})).expect("init");
    assert!(plugin
        .validate_action("greet", &memory, &state)
        .expect("validate"));
    let result = plugin
        .invoke_action("greet", &memory, &state, &json!({}))
        .expect("greet");
    assert_eq!(
        result,
        json!({"success": true, "text": "Hello from C!", "extra": {"kept": true}})
    );
    assert_eq!(
        plugin
            .get_provider("clock", &memory, &state)
            .expect("clock"),
        json!({"text": "It is noon.", "values": {"hour": 12}})
    );
}

#[test]
fn null_and_negative_statuses_without_last_error_get_built_errors() {
    let plugin = load();
    let memory = json!({"content": {"text": "hi"}});
    let state = json!({});
    let err = plugin
        .invoke_action("nope", &memory, &state, &json!({}))
        .expect_err("NULL");
    match &err {
        InteropError::Call { code, message, .. } => {
            assert_eq!(*code, -32000);
            assert_eq!(message, "elizaos_invoke_action(\"nope\") returned NULL");
        }
        other => panic!("expected a PluginCallError, got {other}"),
    }
    assert!(
        err.to_string().starts_with(
            "@seed/plugin-greeter: invokeAction(\"nope\") over ffi failed with error -32000"
        ),
        "{err}"
    );
    let err = plugin
        .validate_action("nope", &memory, &state)
        .expect_err("status -1");
    match &err {
        InteropError::Call {
            code,
            message,
            data,
            ..
        } => {
            assert_eq!(*code, -32001);
            assert_eq!(
                message,
                "elizaos_validate_action(\"nope\") returned status -1 (unknown name)"
            );
            assert_eq!(data, &Some(json!({"kind": "action", "name": "nope"})));
        }
        other => panic!("expected a PluginCallError, got {other}"),
    }
    let err = plugin
        .invoke_evaluator("any", &memory, &state)
        .expect_err("NULL evaluator");
    assert_eq!(err.code(), Some(-32000), "{err}");
    // The library keeps serving after every failure.
    assert!(plugin
        .validate_action("greet", &memory, &state)
        .expect("validate"));
}
