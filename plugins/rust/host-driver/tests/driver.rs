//! The driver binary spoken to exactly as the testkit does: JSON lines on
//! its stdin/stdout, every method of protocol.md section 8, real plugins.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

struct Driver {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Driver {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_elizaos-host-driver"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the driver");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Driver {
            child,
            stdin,
            stdout,
            next_id: 0,
        }
    }

    /// Sends one request and returns the whole response object.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let line = json!({"id": self.next_id, "method": method, "params": params}).to_string();
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .expect("write");
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("read");
        let response: Value =
            serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer:?}"));
        assert_eq!(response["id"], json!(self.next_id));
        response
    }

    fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }
}

fn artifact(file: &str, build: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join(file))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| panic!("missing {file}: build it with `cd plugins/rust && {build}`"))
}

fn samples(result: &Value, n: usize) {
    let samples = result["samplesNs"].as_array().expect("samplesNs");
    assert_eq!(samples.len(), n);
    assert!(
        samples.iter().all(|s| s.as_u64().is_some_and(|v| v > 0)),
        "{result}"
    );
}

#[test]
fn every_driver_method_and_clean_exit_on_eof() {
    let ipc = artifact(
        "conformance-ipc",
        "cargo build --release -p plugin-conformance",
    );
    let so = artifact(
        "libelizaos_plugin_conformance.so",
        "cargo build --release -p plugin-conformance",
    );
    let mut d = Driver::start();
    let hello = d.result("hello", json!({}));
    assert_eq!(hello["language"], "rust");
    assert!(
        hello["runtime"]
            .as_str()
            .is_some_and(|r| r.starts_with("rustc ")),
        "{hello}"
    );
    assert_eq!(hello["transports"], json!(["ipc", "ffi"]));

    let m = json!({"content": {"text": "hi"}});
    ipc_plugin_calls(&mut d, &ipc, &m);
    ffi_plugin_calls(&mut d, &so, &m);
    errors_name_the_problem(&mut d);
    // A second IPC plugin left loaded: EOF must close it and exit 0.
    d.result("load", json!({"transport": "ipc", "command": [ipc]}));
    d.stdin.take();
    let status = d.child.wait().expect("wait");
    assert!(status.success(), "{status}");
}

/// An IPC plugin: load, calls, bench, time-out, unload.
fn ipc_plugin_calls(d: &mut Driver, ipc: &Path, m: &Value) {
    let loaded = d.result(
        "load",
        json!({"transport": "ipc", "command": [ipc], "timeoutMs": 5000}),
    );
    let p1 = loaded["plugin"].as_str().expect("handle").to_string();
    assert_eq!(loaded["manifest"]["name"], "conformance-fixture");
    let ok = d.result(
        "call",
        json!({"plugin": p1, "method": "invokeAction", "params": {"name": "echo", "memory": m}}),
    );
    assert_eq!(
        ok,
        json!({"ok": true, "value": {"success": true, "text": "hi", "data": {"memory": m, "state": {}, "options": {}}}})
    );
    let unknown = d.result(
        "call",
        json!({"plugin": p1, "method": "getProvider", "params": {"name": "nope", "memory": m}}),
    );
    assert_eq!(unknown["ok"], false);
    assert_eq!(unknown["error"]["type"], "PluginCallError");
    assert_eq!(unknown["error"]["code"], -32001);
    samples(&d.result("bench", json!({"plugin": p1, "method": "validateAction", "params": {"name": "echo", "memory": m}, "iterations": 20, "warmup": 5})), 20);
    let noop_ipc = d.request(
        "benchNoop",
        json!({"plugin": p1, "iterations": 1, "warmup": 0}),
    );
    assert_eq!(noop_ipc["error"]["code"], -32602, "{noop_ipc}");
    let slow = d.result("call", json!({"plugin": p1, "method": "invokeAction", "params": {"name": "slow", "memory": m, "options": {"delayMs": 3000}}, "timeoutMs": 100}));
    assert_eq!(slow["error"]["type"], "PluginTimeoutError", "{slow}");
    assert_eq!(slow["error"]["code"], Value::Null);
    assert_eq!(d.result("unload", json!({"plugin": p1})), json!({}));
    let gone = d.request(
        "call",
        json!({"plugin": p1, "method": "getManifest", "params": {}}),
    );
    assert_eq!(gone["error"]["code"], -32602, "{gone}");
}

/// An FFI plugin: load, the no-op bench, an unsupported action; and the pipe bench.
fn ffi_plugin_calls(d: &mut Driver, so: &Path, m: &Value) {
    let ffi = d.result("load", json!({"transport": "ffi", "path": so}));
    let p2 = ffi["plugin"].as_str().expect("handle").to_string();
    samples(
        &d.result(
            "benchNoop",
            json!({"plugin": p2, "iterations": 50, "warmup": 5}),
        ),
        50,
    );
    let crash = d.result(
        "call",
        json!({"plugin": p2, "method": "invokeAction", "params": {"name": "crash", "memory": m}}),
    );
    assert_eq!(crash["error"]["code"], -32002, "{crash}");
    samples(
        &d.result(
            "benchPipe",
            json!({"command": ["cat"], "payload": "x".repeat(100), "iterations": 30, "warmup": 3}),
        ),
        30,
    );
}

/// A command that cannot start, and an unknown driver method.
fn errors_name_the_problem(d: &mut Driver) {
    let failed = d.request(
        "load",
        json!({"transport": "ipc", "command": ["/nonexistent/plugin"]}),
    );
    assert_eq!(failed["error"]["code"], -32000);
    assert!(
        failed["error"]["message"]
            .as_str()
            .is_some_and(|s| s.contains("cannot start")),
        "{failed}"
    );
    let bad = d.request("nosuch", json!({}));
    assert_eq!(bad["error"]["code"], -32601);
}

#[test]
fn agent_runtime_worlds_answer_the_plugins_runtime_calls() {
    let ipc = artifact(
        "conformance-ipc",
        "cargo build --release -p plugin-conformance",
    );
    let mut d = Driver::start();
    let world = json!({"agentId": "agent-7", "settings": {"K": "at load"}, "omit": ["getRoom"]});
    let loaded = d.result(
        "load",
        json!({"transport": "ipc", "command": [ipc], "agentRuntime": world}),
    );
    let p = loaded["plugin"].as_str().expect("handle").to_string();
    let m = json!({"content": {"text": "hi"}});
    let calls = json!([
        {"method": "getSetting", "args": ["K"]},
        {"method": "getRoom", "args": ["r"]},
        {"method": "composeState", "args": [m]},
    ]);
    let r = d.result(
        "call",
        json!({"plugin": p, "method": "invokeAction", "params": {"name": "runtime", "memory": m, "options": {"calls": calls}}}),
    );
    assert_eq!(r["ok"], true, "{r}");
    let results = &r["value"]["data"]["results"];
    assert_eq!(results[0], json!({"ok": "at load"}));
    assert_eq!(results[1]["error"]["code"], -32601);
    assert_eq!(
        results[2]["ok"]["values"]["answer"], 42,
        "composeState ran the plugin's providers: {r}"
    );
    assert_eq!(r["value"]["values"]["agentId"], "agent-7");
    // A call's own World replaces the one given at load.
    let r = d.result(
        "call",
        json!({"plugin": p, "method": "invokeAction", "agentRuntime": {"settings": {"K": "per call"}},
               "params": {"name": "runtime", "memory": m, "options": {"calls": [{"method": "getSetting", "args": ["K"]}]}}}),
    );
    assert_eq!(
        r["value"]["data"]["results"],
        json!([{"ok": "per call"}]),
        "{r}"
    );
    assert_eq!(r["value"]["values"]["agentId"], Value::Null);
    // Errors carry the plugin's data.
    let unknown = d.result(
        "call",
        json!({"plugin": p, "method": "getProvider", "params": {"name": "nope", "memory": m}}),
    );
    assert_eq!(
        unknown["error"]["data"],
        json!({"kind": "provider", "name": "nope"})
    );
    assert_eq!(d.result("unload", json!({"plugin": p})), json!({}));
    d.stdin.take();
    assert!(d.child.wait().expect("wait").success());
}

#[test]
fn pipelined_calls_are_answered_as_they_complete_and_other_requests_wait_for_them() {
    let ipc = artifact(
        "conformance-ipc",
        "cargo build --release -p plugin-conformance",
    );
    // The first call waits on a FIFO that the test opens only after the second call's answer:
    // the order is fixed by the protocol, whatever the machine's load.
    let gate = std::env::temp_dir().join(format!("elizaos-driver-gate-{}", std::process::id()));
    let _ = std::fs::remove_file(&gate);
    let made = Command::new("mkfifo")
        .arg(&gate)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo {}", gate.display());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/gate_plugin.py");
    let mut d = Driver::start();
    let gated = d.result(
        "load",
        json!({"transport": "ipc", "command": ["python3", script]}),
    );
    let g = gated["plugin"].as_str().expect("handle").to_string();
    let loaded = d.result("load", json!({"transport": "ipc", "command": [ipc]}));
    let p = loaded["plugin"].as_str().expect("handle").to_string();
    let m = json!({"content": {"text": "hi"}});
    let stdin = d.stdin.as_mut().expect("stdin open");
    let requests = [
        json!({"id": 101, "method": "call", "params": {"plugin": g, "method": "invokeAction",
            "params": {"name": "wait", "memory": m, "options": {"gate": gate}}}}),
        json!({"id": 102, "method": "call", "params": {"plugin": p, "method": "invokeAction",
            "params": {"name": "echo", "memory": m}}}),
        json!({"id": 103, "method": "hello", "params": {}}),
    ];
    for r in &requests {
        writeln!(stdin, "{r}").expect("write");
    }
    stdin.flush().expect("flush");
    let mut next_id = || {
        let mut answer = String::new();
        d.stdout.read_line(&mut answer).expect("read");
        let response: Value = serde_json::from_str(&answer).expect("JSON");
        response["id"].clone()
    };
    // 101 cannot answer before the gate opens, and `hello` waits for both calls: the echo is first.
    let first = next_id();
    // Opening the FIFO for writing blocks until the plugin opens it for reading (call 101).
    let mut opened = std::fs::OpenOptions::new()
        .write(true)
        .open(&gate)
        .expect("open the gate");
    writeln!(opened, "go").expect("open the gate");
    drop(opened);
    let rest = [next_id(), next_id()];
    let _ = std::fs::remove_file(&gate);
    assert_eq!(first, json!(102));
    assert_eq!(rest, [json!(101), json!(103)]);
    d.stdin.take();
    assert!(d.child.wait().expect("wait").success());
}

/// Times a fixed number of calls; `benchJson` answers one sample per iteration and refuses
/// requests without params or result, `benchThroughput` the time of all calls in flight.
#[test]
fn bench_json_and_throughput() {
    let ipc = artifact(
        "conformance-ipc",
        "cargo build --release -p plugin-conformance",
    );
    let mut d = Driver::start();
    // A line longer than a pipe holds: cat echoes while it is still being written.
    samples(
        &d.result(
            "benchPipe",
            json!({"command": ["cat"], "payload": "y".repeat(1 << 20), "iterations": 5, "warmup": 1}),
        ),
        5,
    );
    let m = json!({"content": {"text": "x".repeat(1000)}});
    let params = json!({"name": "echo", "memory": m, "state": {}, "options": {}});
    let answer = json!({"success": true, "text": "x".repeat(1000), "data": {"memory": m}});
    samples(
        &d.result(
            "benchJson",
            json!({"params": params, "result": answer, "iterations": 40, "warmup": 4}),
        ),
        40,
    );
    let no_result = d.request("benchJson", json!({"params": params, "iterations": 1}));
    assert_eq!(no_result["error"]["code"], -32602, "{no_result}");
    let no_params = d.request(
        "benchJson",
        json!({"params": [], "result": 1, "iterations": 1}),
    );
    assert_eq!(no_params["error"]["code"], -32602, "{no_params}");

    let loaded = d.result("load", json!({"transport": "ipc", "command": [ipc]}));
    let p = loaded["plugin"].as_str().expect("handle").to_string();
    for in_flight in [1, 8, 64] {
        let timed = d.result(
            "benchThroughput",
            json!({"plugin": p, "method": "invokeAction", "params": params,
                   "inFlight": in_flight, "calls": 200, "warmup": 16}),
        );
        assert_eq!(timed["calls"], 200, "{timed}");
        assert_eq!(timed["inFlight"], in_flight, "{timed}");
        assert!(
            timed["elapsedNs"].as_u64().is_some_and(|ns| ns > 0),
            "{timed}"
        );
    }
    let zero = d.request(
        "benchThroughput",
        json!({"plugin": p, "method": "invokeAction", "params": params, "inFlight": 0, "calls": 1}),
    );
    assert_eq!(zero["error"]["code"], -32602, "{zero}");
    let failing = d.request(
        "benchThroughput",
        json!({"plugin": p, "method": "getProvider", "params": {"name": "nope", "memory": m},
               "inFlight": 4, "calls": 20}),
    );
    assert_eq!(failing["error"]["code"], -32000, "{failing}");
    d.stdin.take();
    let status = d.child.wait().expect("wait");
    assert!(status.success(), "{status}");
}
