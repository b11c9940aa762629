//! eliza-classic over its transports: the IPC binary as a real child process and the C FFI exports
//! called directly. Replies must equal the shared transcript (`docs/vectors/eliza-transcript.json`).

use elizaos_plugin_eliza_classic::{
    elizaos_free_string, elizaos_get_provider, elizaos_invoke_action,
};
use serde_json::{json, Value};
use std::ffi::{CStr, CString};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const TRANSCRIPT: &str = include_str!("../../../../docs/vectors/eliza-transcript.json");

/// `(inputs, replies)` of the `doctor` session (one long conversation).
fn doctor_session() -> (Vec<String>, Vec<String>) {
    let doc: Value = serde_json::from_str(TRANSCRIPT).expect("transcript is JSON");
    let sessions = doc["sessions"].as_array().expect("sessions");
    let session = sessions
        .iter()
        .find(|s| s["name"] == json!("doctor"))
        .expect("doctor session");
    let exchanges = session["exchanges"].as_array().expect("exchanges");
    let field = |k: &str| {
        exchanges
            .iter()
            .map(|e| e[k].as_str().expect("string").to_string())
            .collect()
    };
    (field("input"), field("reply"))
}

fn greeting() -> String {
    let doc: Value = serde_json::from_str(TRANSCRIPT).expect("transcript is JSON");
    doc["greeting"].as_str().expect("greeting").to_string()
}

#[test]
fn ipc_binary_replays_the_doctor_session() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eliza-classic-ipc"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn eliza-classic-ipc");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut ask = |id: usize, method: &str, params: Value| -> Value {
        writeln!(
            stdin,
            "{}",
            json!({"id": id, "method": method, "params": params})
        )
        .expect("write");
        stdin.flush().expect("flush");
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read");
        let r: Value = serde_json::from_str(&line).expect("response is JSON");
        assert_eq!(r["id"], json!(id));
        r
    };
    let manifest = ask(1, "getManifest", json!({}));
    assert_eq!(manifest["result"]["name"], json!("eliza-classic"));
    assert_eq!(manifest["result"]["language"], json!("rust"));
    assert_eq!(manifest["result"]["evaluators"], json!([]));
    assert_eq!(
        ask(
            2,
            "getProvider",
            json!({"name": "eliza-greeting", "memory": {"content": {}}})
        ),
        json!({"id": 2, "result": {"text": greeting()}})
    );
    let validate = json!({"name": "generate-response", "memory": {"content": {}}});
    assert_eq!(ask(3, "validateAction", validate)["result"], json!(true));
    let (inputs, replies) = doctor_session();
    for (i, (input, reply)) in inputs.iter().zip(&replies).enumerate() {
        let params = json!({"name": "generate-response", "memory": {"content": {"text": input}}});
        let r = ask(10 + i, "invokeAction", params);
        assert_eq!(
            r["result"],
            json!({"success": true, "text": reply}),
            "exchange {i}: {input:?}"
        );
    }
    let r = ask(
        9999,
        "invokeAction",
        json!({"name": "nope", "memory": {"content": {}}}),
    );
    assert_eq!(r["error"]["code"], json!(-32001));
    assert_eq!(ask(10000, "shutdown", json!({}))["result"], json!({}));
    drop(stdin);
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn take(p: *mut std::os::raw::c_char) -> Value {
    assert!(!p.is_null());
    // SAFETY: a live string returned by the library.
    let v =
        serde_json::from_slice(unsafe { CStr::from_ptr(p) }.to_bytes()).expect("result is JSON");
    // SAFETY: freed once.
    unsafe { elizaos_free_string(p) };
    v
}

#[test]
fn ffi_exports_replay_the_doctor_session() {
    let (n, m, s) = (c("eliza-greeting"), c(r#"{"content":{}}"#), c("{}"));
    // SAFETY: valid NUL-terminated strings.
    let g = take(unsafe { elizaos_get_provider(n.as_ptr(), m.as_ptr(), s.as_ptr()) });
    assert_eq!(
        g,
        json!({"text": greeting()}),
        "FFI returns the plain value"
    );
    let (inputs, replies) = doctor_session();
    let name = c("generate-response");
    for (input, reply) in inputs.iter().zip(&replies) {
        let memory = c(&json!({"content": {"text": input}}).to_string());
        // SAFETY: valid NUL-terminated strings.
        let r = take(unsafe {
            elizaos_invoke_action(name.as_ptr(), memory.as_ptr(), s.as_ptr(), s.as_ptr())
        });
        assert_eq!(r, json!({"success": true, "text": reply}), "{input:?}");
    }
}
