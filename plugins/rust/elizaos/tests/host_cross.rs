//! The Rust host loading plugins written in other languages through the
//! public loaders: the Python conformance fixture via `PythonPluginLoader`
//! (whose bridge answers out of order), and the TypeScript conformance
//! fixture via `TypeScriptPluginLoader` on Node and on Bun.

mod host_support;

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use elizaos::interop::{
    InteropError, LoadedPlugin, PythonPluginLoader, TsRuntime, TypeScriptPluginLoader,
};
use host_support::*;
use serde_json::{json, Value};

fn python_fixture() -> LoadedPlugin {
    PythonPluginLoader::new()
        .python(python())
        .load(repo_file("plugins/python/fixtures/conformance_plugin.py"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn ts_fixture(runtime: TsRuntime) -> LoadedPlugin {
    let binary = repo_file(&format!("plugins/typescript/node_modules/.bin/{runtime}"));
    TypeScriptPluginLoader::new()
        .runtime(runtime)
        .runtime_binary(binary)
        .load(repo_file("plugins/typescript/fixtures/conformance.ts"))
        .unwrap_or_else(|e| panic!("{runtime}: {e}"))
}

/// The behaviours every language's fixture shares (protocol.md section 9).
fn check_fixture(plugin: &LoadedPlugin, language: &str) {
    assert_eq!(plugin.name(), "conformance-fixture");
    assert_eq!(plugin.language(), language);
    let m = json!({"content": {"text": "e\u{301} 𝄞 \u{0}"}, "big": 9007199254740991_i64, "f": 0.1});
    let s = json!({"nested": {"a": [1, {"b": null}]}});
    let o = json!({"x": "y"});
    assert_eq!(
        plugin.invoke_action("echo", &m, &s, &o).expect("echo"),
        json!({"success": true, "text": "e\u{301} 𝄞 \u{0}", "data": {"memory": m, "state": s, "options": o}})
    );
    assert_eq!(
        plugin
            .invoke_action("nope", &m, &s, &o)
            .expect_err("unknown")
            .code(),
        Some(-32001)
    );
    for name in ["fail", "panic"] {
        let err = plugin.invoke_action(name, &m, &s, &o).expect_err(name);
        assert_eq!(err.code(), Some(-32000), "{language} {name}: {err}");
    }
    assert_eq!(
        plugin
            .invoke_action("invalid", &m, &s, &o)
            .expect_err("invalid")
            .code(),
        Some(-32003)
    );
    assert_eq!(
        plugin.invoke_evaluator("silent", &m, &s).expect("silent"),
        None
    );
    assert_eq!(
        plugin.get_provider("static", &m, &s).expect("static"),
        json!({"text": "static provider", "values": {"answer": 42}})
    );
    plugin.init(&json!({"lang": language})).expect("init");
    assert_eq!(
        plugin.get_provider("config", &m, &s).expect("config"),
        json!({"values": {"lang": language}})
    );
}

#[test]
fn python_plugin_over_ipc() {
    let plugin = python_fixture();
    check_fixture(&plugin, "python");
    let pid = plugin.pid().expect("pid");
    drop(plugin);
    assert_reaped(pid);
}

/// A runtime whose every call says it has arrived, then waits until the test opens the gate.
struct GatedRuntime {
    arrived: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
    gate: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl elizaos::interop::AgentRuntime for GatedRuntime {
    fn call(
        &self,
        _method: &str,
        _args: Vec<Value>,
    ) -> Result<Value, elizaos::interop::RuntimeError> {
        let arrived = self
            .arrived
            .lock()
            .map_err(|_| elizaos::interop::RuntimeError::failed("arrival poisoned"))?;
        arrived
            .send(())
            .map_err(|_| elizaos::interop::RuntimeError::failed("nobody waits"))?;
        let gate = self
            .gate
            .lock()
            .map_err(|_| elizaos::interop::RuntimeError::failed("gate poisoned"))?;
        gate.recv()
            .map_err(|_| elizaos::interop::RuntimeError::failed("gate dropped"))?;
        Ok(json!("opened"))
    }
}

#[test]
fn out_of_order_answers_reach_the_right_threads() {
    use elizaos::interop::AgentRuntime;
    let plugin = Arc::new(python_fixture());
    // The held call is inside its handler, waiting on a runtime call, before the quick calls
    // start, and the test answers that runtime call only after every quick call has returned:
    // the bridge must answer the quick ones first, out of order (protocol-level ordering, no
    // sleep).
    let (open, gate) = std::sync::mpsc::channel();
    let (arrived, arrival) = std::sync::mpsc::channel();
    let runtime: Arc<dyn AgentRuntime> = Arc::new(GatedRuntime {
        arrived: std::sync::Mutex::new(arrived),
        gate: std::sync::Mutex::new(gate),
    });
    let held = {
        let plugin = Arc::clone(&plugin);
        thread::spawn(move || {
            let calls = json!([{"method": "getSetting", "args": ["K"]}]);
            plugin.invoke_action_with_runtime(
                "runtime",
                &memory("held"),
                &empty(),
                &json!({ "calls": calls }),
                &runtime,
            )
        })
    };
    within("the held call's runtime call", move || arrival.recv())
        .expect("the held call reaches its runtime");
    let quick: Vec<_> = (0..3)
        .map(|t| {
            let plugin = Arc::clone(&plugin);
            thread::spawn(move || {
                for i in 0..20 {
                    let text = format!("{t}-{i}");
                    let r = plugin
                        .invoke_action("echo", &memory(&text), &empty(), &empty())
                        .expect("echo");
                    assert_eq!(r["text"], json!(text));
                }
            })
        })
        .collect();
    within("out-of-order calls", move || {
        for q in quick {
            q.join().expect("quick thread");
        }
        assert!(
            !held.is_finished(),
            "the held call cannot finish before the gate opens"
        );
        open.send(()).expect("the held call's runtime waits");
        let held = held.join().expect("held thread").expect("held call");
        assert_eq!(held["data"]["results"], json!([{"ok": "opened"}]), "{held}");
    });
}

#[test]
fn python_timeout_is_typed_and_reaped() {
    let plugin = python_fixture();
    let pid = plugin.pid().expect("pid");
    let err = within("python slow", move || {
        plugin
            .with_timeout(Duration::from_millis(300))
            .invoke_action("slow", &memory("s"), &empty(), &json!({"delayMs": 10_000}))
            .expect_err("timeout")
    });
    assert!(matches!(err, InteropError::Timeout { .. }), "{err}");
    assert_reaped(pid);
}

#[test]
fn python_loader_reports_a_missing_plugin() {
    let err = PythonPluginLoader::new()
        .load("/nonexistent/plugin.py")
        .expect_err("missing");
    assert_eq!(err.type_name(), "PluginLoadError");
    assert!(err.to_string().contains("plugin not found"), "{err}");
    let err = PythonPluginLoader::new()
        .python("/nonexistent/python3")
        .load(repo_file("plugins/python/fixtures/conformance_plugin.py"))
        .expect_err("missing interpreter");
    assert!(err.to_string().contains("cannot start"), "{err}");
}

#[test]
fn typescript_plugin_on_node() {
    let plugin = ts_fixture(TsRuntime::Node);
    check_fixture(&plugin, "typescript");
    let pid = plugin.pid().expect("pid");
    drop(plugin);
    assert_reaped(pid);
}

#[test]
fn typescript_plugin_on_bun() {
    let plugin = ts_fixture(TsRuntime::Bun);
    check_fixture(&plugin, "typescript");
    let crash = plugin
        .invoke_action("crash", &memory("x"), &empty(), &empty())
        .expect_err("crash");
    assert!(
        matches!(
            crash,
            InteropError::Crash {
                exit: elizaos::interop::ExitState::Code(70),
                ..
            }
        ),
        "{crash}"
    );
    let pid = plugin.pid().expect("pid");
    drop(plugin);
    assert_reaped(pid);
}

#[test]
fn typescript_loader_reports_a_missing_plugin() {
    let err = TypeScriptPluginLoader::new()
        .load("/nonexistent/plugin.ts")
        .expect_err("missing");
    assert!(err.to_string().contains("plugin not found"), "{err}");
    let value: Value = json!(TsRuntime::Bun.as_str());
    assert_eq!(value, json!("bun"));
    assert!("deno".parse::<TsRuntime>().is_err());
}

#[test]
fn a_node_too_old_for_typescript_is_named_with_its_version_and_path() {
    use std::os::unix::fs::PermissionsExt;
    let fake = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("node-20");
    std::fs::write(
        &fake,
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo v20.19.0; exit 0; fi\necho \"node: ERR_UNKNOWN_FILE_EXTENSION $1\" >&2\nexit 1\n",
    )
    .expect("write the fake node");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let err = TypeScriptPluginLoader::new()
        .runtime_binary(&fake)
        .bridge(repo_file("plugins/typescript/src/bridge-server.ts"))
        .load(repo_file("plugins/typescript/fixtures/conformance.ts"))
        .expect_err("node 20 cannot run the bridge");
    assert_eq!(err.type_name(), "PluginLoadError");
    let expected = format!(
        "hint: TypeScript plugins need Node >= 22.6 or Bun; found node v20.19.0 at {}; set ELIZAOS_NODE or install node@22",
        fake.display()
    );
    assert!(err.to_string().contains(&expected), "{err}");
}

/// The Python and TypeScript fixtures' `runtime` action through the Rust host: forwarded calls
/// answered by an `InMemoryRuntime`, and a re-entrant `composeState` running the same plugin's
/// providers while its action waits (protocol.md 11.4).
#[test]
fn runtime_calls_from_python_and_typescript_plugins() {
    use elizaos::interop::{AgentRuntime, InMemoryRuntime};
    for (language, plugin) in [
        ("python", python_fixture()),
        ("typescript", ts_fixture(TsRuntime::Node)),
    ] {
        assert!(plugin.has_capability("runtime"), "{language}");
        let plugin = Arc::new(plugin);
        let world = InMemoryRuntime::new(&json!({"agentId": "a-9", "settings": {"K": "v"}}))
            .expect("World");
        world.register_plugin(Arc::clone(&plugin));
        let runtime: Arc<dyn AgentRuntime> = Arc::new(world);
        let calls = json!([
            {"method": "getSetting", "args": ["K"]},
            {"method": "composeState", "args": [{"content": {"text": "hi"}}]},
        ]);
        let p = Arc::clone(&plugin);
        let result = within(language, move || {
            p.invoke_action_with_runtime(
                "runtime",
                &memory("x"),
                &empty(),
                &json!({ "calls": calls }),
                &runtime,
            )
        })
        .unwrap_or_else(|e| panic!("{language}: {e}"));
        let results = &result["data"]["results"];
        assert_eq!(results[0], json!({"ok": "v"}), "{language}: {result}");
        assert_eq!(
            results[1]["ok"]["values"]["answer"],
            json!(42),
            "{language}: {result}"
        );
        assert_eq!(result["values"]["agentId"], json!("a-9"), "{language}");
    }
}
