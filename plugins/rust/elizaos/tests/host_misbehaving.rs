//! Every host-side fault of protocol.md 3.5, produced by the real Python
//! misbehaving fixtures (`plugins/python/fixtures/misbehaving/`): each gives
//! its typed error, the call returns (hang guard), the child is reaped, and
//! the host survives.

mod host_support;

use std::time::Duration;

use elizaos::interop::{ExitState, InteropError, IpcPluginLoader, LoadedPlugin};
use host_support::*;
use serde_json::json;

fn load(fixture: &str, loader: IpcPluginLoader) -> Result<LoadedPlugin, InteropError> {
    let script = repo_file(&format!("plugins/python/fixtures/misbehaving/{fixture}"));
    loader.load_command(&[python(), script.display().to_string()])
}

fn loaded(fixture: &str) -> LoadedPlugin {
    load(fixture, IpcPluginLoader::new()).unwrap_or_else(|e| panic!("{fixture}: load failed: {e}"))
}

#[test]
fn garbage_line_is_a_protocol_error_and_kills_the_child() {
    let plugin = loaded("garbage.py");
    let pid = plugin.pid().expect("pid");
    let (err, later) = within("garbage", move || {
        let err = plugin
            .invoke_action("echo", &memory("x"), &empty(), &empty())
            .expect_err("garbage");
        let later = plugin
            .get_provider("static", &memory("x"), &empty())
            .expect_err("closed");
        (err, later)
    });
    match &err {
        InteropError::Protocol {
            excerpt, reason, ..
        } => {
            assert!(excerpt.starts_with("this is not json {"), "{excerpt:?}");
            assert!(reason.contains("not JSON"), "{reason}");
        }
        other => panic!("expected a protocol error, got {other}"),
    }
    assert_eq!(err.type_name(), "PluginProtocolError");
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
    assert_reaped(pid);
}

#[test]
fn wrong_id_is_a_protocol_error() {
    let plugin = loaded("wrong_id.py");
    let pid = plugin.pid().expect("pid");
    let err = within("wrong id", move || {
        plugin
            .invoke_action("echo", &memory("x"), &empty(), &empty())
            .expect_err("wrong id")
    });
    assert!(
        matches!(&err, InteropError::Protocol { reason, .. } if reason.contains("unexpected id")),
        "{err}"
    );
    assert_reaped(pid);
}

#[test]
fn hang_times_out_and_every_pending_call_fails() {
    let plugin = std::sync::Arc::new(loaded("hang.py"));
    let pid = plugin.pid().expect("pid");
    // One call that would wait long, one that times out quickly: both fail with timeouts. The
    // long call's thread says when it is ready, so the short call starts after it (no sleep); the
    // long call is then written within the short call's 300 ms.
    let (ready, long_is_ready) = std::sync::mpsc::channel();
    let long = {
        let plugin = plugin.clone();
        std::thread::spawn(move || {
            let calls = plugin.with_timeout(Duration::from_secs(15));
            ready.send(()).expect("the test waits for this");
            calls.invoke_action("echo", &memory("long"), &empty(), &empty())
        })
    };
    long_is_ready
        .recv()
        .expect("the long call's thread started");
    let short = {
        let plugin = plugin.clone();
        within("hang", move || {
            plugin
                .with_timeout(Duration::from_millis(300))
                .invoke_action("echo", &memory("short"), &empty(), &empty())
        })
    };
    let long = within("pending call", move || long.join().expect("thread"));
    let short = short.expect_err("short must time out");
    assert!(
        matches!(
            short,
            InteropError::Timeout {
                wedged_by: None,
                ..
            }
        ),
        "{short}"
    );
    assert!(
        short.to_string().ends_with("timed out after 300 ms"),
        "{short}"
    );
    let long = long.expect_err("long must fail too");
    assert!(
        matches!(
            &long,
            InteropError::Timeout {
                wedged_by: Some(_),
                ..
            }
        ),
        "{long}"
    );
    assert_reaped(pid);
}

#[test]
fn crash_on_input_reports_status_and_stderr() {
    let plugin = loaded("crash_on_input.py");
    let pid = plugin.pid().expect("pid");
    let err = within("crash", move || {
        assert!(plugin
            .invoke_action("echo", &memory("plain"), &empty(), &empty())
            .is_ok());
        plugin
            .invoke_action("echo", &memory("astral 😀"), &empty(), &empty())
            .expect_err("crash")
    });
    match &err {
        InteropError::Crash {
            exit, stderr_tail, ..
        } => {
            assert_eq!(*exit, ExitState::Code(70));
            assert!(stderr_tail.contains("outside the BMP"), "{stderr_tail:?}");
        }
        other => panic!("expected a crash, got {other}"),
    }
    assert!(err.to_string().contains("status 70"), "{err}");
    assert_reaped(pid);
}

#[test]
fn stderr_flood_never_blocks_and_the_tail_is_bounded() {
    let plugin = loaded("stderr_flood.py");
    let pid = plugin.pid().expect("pid");
    within("stderr flood", move || {
        for i in 0..5 {
            let r = plugin
                .invoke_action("echo", &memory(&format!("n{i}")), &empty(), &empty())
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r["text"], json!(format!("n{i}")));
        }
    });
    assert_reaped(pid);
}

#[test]
fn slow_start_is_a_load_error_after_the_start_timeout() {
    let err = within("slow start", || {
        load(
            "slow_start.py",
            IpcPluginLoader::new().start_timeout(Duration::from_millis(500)),
        )
        .expect_err("start time-out")
    });
    assert_eq!(err.type_name(), "PluginLoadError");
    assert!(
        err.to_string().contains("start time-out of 500 ms"),
        "{err}"
    );
    assert_eq!(
        children_matching("slow_start.py"),
        Vec::<u32>::new(),
        "child left behind"
    );
}

#[test]
fn bad_manifest_is_a_load_error() {
    let err = load("bad_manifest.py", IpcPluginLoader::new()).expect_err("bad manifest");
    assert_eq!(err.type_name(), "PluginLoadError");
    let text = err.to_string();
    assert!(
        text.contains("invalid manifest") && text.contains("version"),
        "{text}"
    );
    assert_eq!(
        children_matching("bad_manifest.py"),
        Vec::<u32>::new(),
        "child left behind"
    );
}

#[test]
fn close_escalates_to_sigkill_when_shutdown_and_sigterm_are_ignored() {
    // A plugin that answers getManifest, then ignores shutdown, stdin EOF and SIGTERM.
    let dir = repo_file("plugins/python/fixtures/misbehaving");
    let code = "import json, signal, sys, time\n\
        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
        from _raw import manifest\n\
        line = sys.stdin.readline()\n\
        req = json.loads(line)\n\
        sys.stdout.write(json.dumps({'id': req['id'], 'result': manifest()}) + '\\n')\n\
        sys.stdout.flush()\n\
        while True:\n    time.sleep(1)\n";
    let plugin = IpcPluginLoader::new()
        .grace_period(Duration::from_millis(200))
        .current_dir(&dir)
        .env("PYTHONPATH", &dir)
        .load_command(&[python(), "-c".into(), code.to_string()])
        .unwrap_or_else(|e| panic!("{e}"));
    let pid = plugin.pid().expect("pid");
    within("close", move || drop(plugin));
    assert_reaped(pid);
}
