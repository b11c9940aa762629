//! The IPC client against the real Rust conformance fixture process
//! (`conformance-ipc`): every fixture behaviour of protocol.md section 9, the
//! faults of 3.5 it can produce, pipelining from several threads, payload
//! refusal, and reaping.

mod host_support;

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use elizaos::interop::{ExitState, InteropError, IpcPluginLoader, LoadedPlugin, Transport};
use host_support::*;
use serde_json::{json, Value};

fn load() -> LoadedPlugin {
    IpcPluginLoader::new()
        .load_command(&[conformance_ipc()])
        .unwrap_or_else(|e| panic!("load failed: {e}"))
}

#[test]
fn manifest_and_every_fixture_behaviour() {
    let plugin = load();
    assert_eq!(plugin.name(), "conformance-fixture");
    assert_eq!(plugin.language(), "rust");
    assert_eq!(plugin.version(), "1.0.0");
    assert_eq!(plugin.transport(), Transport::Ipc);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file("docs/vectors/conformance-manifest.json"))
            .unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    assert_eq!(
        plugin.action_names().len(),
        expected["actions"].as_array().map_or(0, Vec::len)
    );

    let m = json!({"content": {"text": "héllo \u{0} 𝄞"}, "extra": [1, 2.5, null]});
    let s = json!({"k": {"deep": true}});
    let o = json!({"opt": 1});
    actions_answer_as_the_fixture_says(&plugin, &m, &s, &o);
    errors_are_typed_and_the_plugin_keeps_serving(&plugin, &m, &s, &o);
    providers_and_evaluators_answer(&plugin, &m, &s);
    large_results_and_missing_params(&plugin, &m, &s);
    let pid = plugin.pid().expect("ipc pid");
    drop(plugin);
    assert_reaped(pid);
}

/// Actions: echo, validate and reject.
fn actions_answer_as_the_fixture_says(plugin: &LoadedPlugin, m: &Value, s: &Value, o: &Value) {
    let echo = plugin.invoke_action("echo", m, s, o).expect("echo");
    assert_eq!(
        echo,
        json!({"success": true, "text": "héllo \u{0} 𝄞", "data": {"memory": m, "state": s, "options": o}})
    );
    assert!(plugin.validate_action("echo", m, s).expect("validate echo"));
    assert!(!plugin
        .validate_action("reject", m, s)
        .expect("validate reject"));
    assert_eq!(
        plugin.invoke_action("reject", m, s, o).expect("reject"),
        json!({"success": false, "error": "rejected"})
    );
}

/// Unknown names, failing and panicking handlers, invalid results.
fn errors_are_typed_and_the_plugin_keeps_serving(
    plugin: &LoadedPlugin,
    m: &Value,
    s: &Value,
    o: &Value,
) {
    let unknown = plugin
        .invoke_action("nope", m, s, o)
        .expect_err("unknown action");
    match &unknown {
        InteropError::Call { code, data, .. } => {
            assert_eq!(*code, -32001);
            assert_eq!(
                data.as_ref(),
                Some(&json!({"kind": "action", "name": "nope"}))
            );
        }
        other => panic!("expected a call error, got {other}"),
    }
    assert!(
        unknown
            .to_string()
            .starts_with("conformance-fixture: invokeAction(\"nope\") over ipc"),
        "{unknown}"
    );

    for name in ["fail", "panic"] {
        let err = plugin.invoke_action(name, m, s, o).expect_err(name);
        assert_eq!(err.code(), Some(-32000), "{err}");
    }
    // The plugin keeps serving after handler failures.
    assert!(plugin.invoke_action("echo", m, s, o).is_ok());
    let invalid = plugin
        .invoke_action("invalid", m, s, o)
        .expect_err("invalid");
    assert_eq!(invalid.code(), Some(-32003), "{invalid}");
}

/// Providers (with the config of `init`) and evaluators.
fn providers_and_evaluators_answer(plugin: &LoadedPlugin, m: &Value, s: &Value) {
    assert_eq!(
        plugin.get_provider("static", m, s).expect("static"),
        json!({"text": "static provider", "values": {"answer": 42}})
    );
    assert_eq!(
        plugin.get_provider("config", m, s).expect("config"),
        json!({"values": {}})
    );
    plugin.init(&json!({"a": [1, 2]})).expect("init");
    assert_eq!(
        plugin.get_provider("config", m, s).expect("config"),
        json!({"values": {"a": [1, 2]}})
    );
    assert_eq!(
        plugin.get_provider("fail", m, s).expect_err("fail").code(),
        Some(-32000)
    );

    assert!(plugin.validate_evaluator("echo", m, s).expect("v echo"));
    assert!(!plugin.validate_evaluator("reject", m, s).expect("v reject"));
    assert_eq!(
        plugin.invoke_evaluator("silent", m, s).expect("silent"),
        None
    );
    assert_eq!(
        plugin.invoke_evaluator("echo", m, s).expect("echo"),
        Some(json!({"success": true, "data": {"memory": m, "state": s}}))
    );
}

/// A 1 MiB result, and missing params answered with -32602.
fn large_results_and_missing_params(plugin: &LoadedPlugin, m: &Value, s: &Value) {
    let large = plugin
        .invoke_action("large", m, s, &empty())
        .expect("large");
    assert_eq!(large["values"]["size"], json!(1_048_576));
    assert_eq!(large["text"].as_str().map(str::len), Some(1_048_576));
    assert!(large["text"]
        .as_str()
        .is_some_and(|t| t.starts_with("0123456789012")));

    // Missing params are answered by the plugin with -32602 and the documented data.
    let bad = plugin
        .call_method("invokeAction", &json!({"name": "echo"}), None)
        .expect_err("missing memory");
    match bad {
        InteropError::Call {
            code: -32602, data, ..
        } => {
            assert_eq!(
                data,
                Some(json!({"param": "memory", "expected": "object", "received": "missing"}))
            )
        }
        other => panic!("expected -32602, got {other}"),
    }
}

#[test]
fn timeout_kills_the_wedged_process_and_later_calls_say_closed() {
    let plugin = load();
    let pid = plugin.pid().expect("pid");
    let err = within("slow call", move || {
        let err = plugin
            .with_timeout(Duration::from_millis(200))
            .invoke_action("slow", &memory("x"), &empty(), &json!({"delayMs": 5000}))
            .expect_err("must time out");
        let later = plugin
            .get_provider("static", &memory("x"), &empty())
            .expect_err("closed");
        (err, later)
    });
    let (err, later) = err;
    assert!(
        matches!(
            err,
            InteropError::Timeout {
                wedged_by: None,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "conformance-fixture: invokeAction(\"slow\") over ipc timed out after 200 ms"
    );
    assert!(
        matches!(
            later,
            InteropError::Crash {
                exit: ExitState::Closed,
                ..
            }
        ),
        "{later}"
    );
    assert!(later.to_string().contains("plugin is closed"), "{later}");
    assert_reaped(pid);
}

#[test]
fn crash_reports_exit_status_and_is_reaped() {
    let plugin = load();
    let pid = plugin.pid().expect("pid");
    let err = within("crash call", move || {
        let err = plugin
            .invoke_action("crash", &memory("x"), &empty(), &empty())
            .expect_err("crash");
        let later = plugin
            .invoke_action("echo", &memory("x"), &empty(), &empty())
            .expect_err("closed");
        (err, later)
    });
    assert!(
        matches!(
            err.0,
            InteropError::Crash {
                exit: ExitState::Code(70),
                ..
            }
        ),
        "{}",
        err.0
    );
    assert_eq!(err.0.type_name(), "PluginCrashError");
    assert!(
        matches!(
            err.1,
            InteropError::Crash {
                exit: ExitState::Closed,
                ..
            }
        ),
        "{}",
        err.1
    );
    assert_reaped(pid);
}

#[test]
fn pipelined_calls_from_several_threads_share_one_child() {
    let plugin = Arc::new(load());
    let pid = plugin.pid().expect("pid");
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let plugin = Arc::clone(&plugin);
            thread::spawn(move || {
                for i in 0..200 {
                    let text = format!("thread {t} call {i}");
                    let r = plugin
                        .invoke_action("echo", &memory(&text), &json!({"t": t}), &json!({"i": i}))
                        .unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(r["text"], json!(text));
                    assert_eq!(r["data"]["state"]["t"], json!(t));
                    assert_eq!(r["data"]["options"]["i"], json!(i));
                }
            })
        })
        .collect();
    within("pipelined threads", move || {
        for t in threads {
            t.join().expect("thread panicked");
        }
    });
    assert_eq!(plugin.pid(), Some(pid));
    let plugin = Arc::try_unwrap(plugin).expect("sole owner");
    drop(plugin);
    assert_reaped(pid);
}

#[test]
fn oversize_and_too_deep_payloads_are_refused_before_sending() {
    let plugin = IpcPluginLoader::new()
        .max_message_bytes(4096)
        .load_command(&[conformance_ipc()])
        .expect("load");
    let big = memory(&"x".repeat(5000));
    let err = plugin
        .invoke_action("echo", &big, &empty(), &empty())
        .expect_err("oversize");
    match &err {
        InteropError::InvalidPayload { path, reason, .. } => {
            assert_eq!(path, "params");
            assert!(reason.contains("4096"), "{reason}");
        }
        other => panic!("expected InvalidPayload, got {other}"),
    }
    let mut deep = json!(0);
    for _ in 0..130 {
        deep = json!([deep]);
    }
    let err = plugin
        .invoke_action(
            "echo",
            &json!({"content": {}, "deep": deep}),
            &empty(),
            &empty(),
        )
        .expect_err("too deep");
    assert!(
        matches!(&err, InteropError::InvalidPayload { path, .. } if path.starts_with("params.memory.deep[0]")),
        "{err}"
    );
    // The plugin was untouched and keeps serving.
    assert!(plugin
        .invoke_action("echo", &memory("ok"), &empty(), &empty())
        .is_ok());
    // Depth 64 (params = 1) round-trips.
    let mut nested = json!("leaf");
    for _ in 0..61 {
        nested = json!({"n": nested});
    }
    let m = json!({"content": {"text": "d"}, "n": nested});
    let r = plugin
        .invoke_action("echo", &m, &empty(), &empty())
        .expect("depth 64");
    assert_eq!(r["data"]["memory"], m);
}

#[test]
fn oversize_response_is_a_protocol_error() {
    let plugin = IpcPluginLoader::new()
        .max_message_bytes(64 * 1024)
        .load_command(&[conformance_ipc()])
        .expect("load");
    let pid = plugin.pid().expect("pid");
    let err = within("large call", move || {
        plugin
            .invoke_action("large", &memory("x"), &empty(), &json!({"size": 200_000}))
            .expect_err("oversize response")
    });
    match &err {
        InteropError::Protocol { reason, .. } => {
            assert!(reason.contains("exceeds limit 65536"), "{reason}")
        }
        other => panic!("expected a protocol error, got {other}"),
    }
    assert_reaped(pid);
}

#[test]
fn load_errors_are_typed_and_specific() {
    let missing = IpcPluginLoader::new()
        .load_command(&["/nonexistent/plugin-binary"])
        .expect_err("missing binary");
    assert_eq!(missing.type_name(), "PluginLoadError");
    assert!(missing.to_string().contains("cannot start"), "{missing}");
    let empty_cmd = IpcPluginLoader::new()
        .load_command::<&str>(&[])
        .expect_err("empty");
    assert!(empty_cmd.to_string().contains("empty"), "{empty_cmd}");
    // A process that exits at once: the load error quotes its status and stderr.
    let exits = IpcPluginLoader::new()
        .load_command(&["sh", "-c", "echo 'no plugin here' >&2; exit 3"])
        .expect_err("exits");
    let text = exits.to_string();
    assert!(
        text.contains("status 3") && text.contains("no plugin here"),
        "{text}"
    );
}

#[test]
fn close_is_explicit_and_reaps() {
    let plugin = load();
    let pid = plugin.pid().expect("pid");
    plugin.close();
    assert_reaped(pid);
}

#[test]
fn pipe_probe_echoes_a_line_and_refuses_one_longer_than_a_pipe_holds_at_once() {
    use elizaos::interop::PipeProbe;
    use std::time::Instant;
    let mut probe = PipeProbe::spawn(&["cat".to_string()]).expect("cat starts");
    let line = b"ping\n";
    assert_eq!(
        probe
            .round_trip(line, Duration::from_secs(5))
            .expect("echo"),
        b"ping".to_vec()
    );
    let mut long = vec![b'x'; PipeProbe::MAX_LINE_BYTES + 1];
    long.push(b'\n');
    let started = Instant::now();
    let err = probe
        .round_trip(&long, Duration::from_secs(10))
        .expect_err("a line over MAX_LINE_BYTES is refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("MAX_LINE_BYTES"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once, not after the time-out"
    );
    // The probe still works after the refusal (nothing was written).
    assert_eq!(
        probe
            .round_trip(line, Duration::from_secs(5))
            .expect("echo"),
        b"ping".to_vec()
    );
    probe.close();
}
