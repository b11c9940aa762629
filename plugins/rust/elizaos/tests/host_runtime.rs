//! Runtime calls (protocol.md section 11) from the Rust host: `InMemoryRuntime` against the
//! shared vectors (`docs/vectors/runtime-world.json`), the Rust conformance fixture's `runtime`
//! action over IPC (forwarded calls, parallel calls, re-entrant `composeState`), and the host's
//! answers to malformed runtime requests from a raw wire-level plugin.

mod host_support;

use std::sync::Arc;

use elizaos::interop::{
    AgentRuntime, InMemoryRuntime, IpcPluginLoader, LoadedPlugin, RuntimeError,
};
use host_support::*;
use serde_json::{json, Value};

fn vectors() -> Value {
    let path = repo_file("docs/vectors/runtime-world.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read the vectors"))
        .expect("the vectors are JSON")
}

/// An outcome in the vectors' form: `{"ok": v}` or `{"error": {"code", "message"}}`.
fn outcome(result: Result<Value, RuntimeError>) -> Value {
    match result {
        Ok(v) => json!({ "ok": v }),
        Err(e) => {
            let code = e.code().unwrap_or(-32601);
            json!({ "error": { "code": code, "message": e.to_string() } })
        }
    }
}

fn world_runtime() -> Arc<InMemoryRuntime> {
    Arc::new(InMemoryRuntime::new(&vectors()["world"]).expect("the vectors' World"))
}

#[test]
fn in_memory_runtime_passes_the_shared_vectors() {
    let v = vectors();
    let runtime = world_runtime();
    let cases = v["cases"].as_array().expect("cases");
    for case in cases {
        let method = case["method"].as_str().expect("method");
        let args = case["args"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            outcome(runtime.call(method, args)),
            case["expect"],
            "{method} {}",
            case["args"]
        );
    }
    assert_eq!(runtime.calls().len(), cases.len(), "every call is recorded");
    assert_eq!(
        runtime.calls()[0],
        json!({"method": "getSetting", "args": ["GREETING"]})
    );
    assert_eq!(
        runtime.agent_id().as_deref(),
        Some("00000000-0000-4000-8000-000000000001")
    );
    assert_eq!(
        runtime.character().map(|c| c["name"].clone()),
        Some(json!("Eliza"))
    );
}

#[test]
fn created_memories_and_tasks_come_back() {
    let mut world = vectors()["world"].clone();
    world["omit"] = json!([]);
    let runtime = InMemoryRuntime::new(&world).expect("World");
    let id = runtime
        .call(
            "createMemory",
            vec![
                json!({"roomId": "room-1", "content": {"text": "third"}}),
                json!("messages"),
            ],
        )
        .expect("createMemory");
    let newest = runtime
        .call("getMemories", vec![json!({"roomId": "room-1"})])
        .expect("getMemories");
    assert_eq!(newest[0]["id"], id, "the new memory is listed first");
    assert_eq!(newest.as_array().map(Vec::len), Some(3));
    let task = runtime
        .call("createTask", vec![json!({"name": "t", "tags": ["x"]})])
        .expect("createTask");
    assert_eq!(
        runtime
            .call("getTask", vec![task.clone()])
            .expect("getTask")["name"],
        json!("t")
    );
    runtime
        .call("deleteTask", vec![task.clone()])
        .expect("deleteTask");
    assert_eq!(runtime.call("getTask", vec![task]), Ok(Value::Null));
    runtime
        .call(
            "ensureConnection",
            vec![json!({"entityId": "user-2", "roomId": "room-1", "name": "Bo"})],
        )
        .expect("ensureConnection");
    assert_eq!(
        runtime.call("getParticipantsForRoom", vec![json!("room-1")]),
        Ok(json!(["user-2"]))
    );
    assert_eq!(
        runtime.call("getEntitiesForRoom", vec![json!("room-1")]),
        Ok(json!([{"id": "user-2", "names": ["Bo"]}]))
    );
    assert_eq!(
        runtime.call("searchMemories", vec![json!({"query": "SEC"})]),
        Ok(
            json!([{"id": "m-2", "roomId": "room-1", "entityId": "user-1", "createdAt": 2, "content": {"text": "second"}}])
        )
    );
    assert!(matches!(
        runtime.call("getService", vec![]),
        Err(RuntimeError::NotProvided { .. })
    ));
    assert!(InMemoryRuntime::new(&json!({"rooms": [{"name": "no id"}]}))
        .expect_err("a room without id")
        .contains("world.rooms[0]"));
}

fn fixture() -> Arc<LoadedPlugin> {
    let plugin = IpcPluginLoader::new()
        .load_command(&[conformance_ipc()])
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    assert!(plugin.has_capability("runtime"));
    Arc::new(plugin)
}

#[test]
fn the_fixture_forwards_every_vector_call_to_the_host_runtime() {
    let v = vectors();
    let plugin = fixture();
    let concrete = world_runtime();
    let runtime: Arc<dyn AgentRuntime> = concrete.clone();
    let cases = v["cases"].as_array().expect("cases");
    let calls: Vec<Value> = cases
        .iter()
        .map(|c| json!({"method": c["method"], "args": c["args"]}))
        .collect();
    let expected: Vec<Value> = cases.iter().map(|c| c["expect"].clone()).collect();
    let p = Arc::clone(&plugin);
    let result = within("runtime action", move || {
        p.invoke_action_with_runtime(
            "runtime",
            &memory("x"),
            &empty(),
            &json!({"calls": calls}),
            &runtime,
        )
    })
    .unwrap_or_else(|e| panic!("runtime action: {e}"));
    assert_eq!(result["data"]["results"], json!(expected));
    assert_eq!(
        result["values"]["agentId"],
        json!("00000000-0000-4000-8000-000000000001")
    );
    assert_eq!(concrete.calls().len(), cases.len());
    // Without a runtime, the proxy refuses at once and nothing reaches the host.
    let alone = plugin
        .invoke_action(
            "runtime",
            &memory("x"),
            &empty(),
            &json!({"calls": [{"method": "getSetting", "args": ["GREETING"]}]}),
        )
        .expect("runtime action without a runtime");
    assert_eq!(
        alone["data"]["results"],
        json!([{"error": {"code": null, "message": "runtime.getSetting is not provided by the host"}}])
    );
    assert_eq!(concrete.calls().len(), cases.len());
}

#[test]
fn compose_state_calls_back_into_the_same_plugin_and_parallel_calls_work() {
    let plugin = fixture();
    let concrete = world_runtime();
    concrete.register_plugin(Arc::clone(&plugin));
    let runtime: Arc<dyn AgentRuntime> = concrete.clone();
    let p = Arc::clone(&plugin);
    let result = within("re-entrant composeState", move || {
        p.invoke_action_with_runtime(
            "runtime",
            &memory("x"),
            &empty(),
            &json!({"parallel": true, "calls": [
                {"method": "composeState", "args": [{"content": {"text": "hello"}}]},
                {"method": "getSetting", "args": ["COUNT"]},
            ]}),
            &runtime,
        )
    })
    .unwrap_or_else(|e| panic!("runtime action: {e}"));
    let state = &result["data"]["results"][0]["ok"];
    assert_eq!(state["values"]["answer"], json!(42), "{result}");
    assert!(
        state["text"]
            .as_str()
            .is_some_and(|t| t.contains("static provider") && t.contains("hello")),
        "{state}"
    );
    assert_eq!(result["data"]["results"][1], json!({"ok": 3}));
    drop(concrete);
    // The runtime holds the plugin; once both are gone the child is reaped.
    let pid = plugin.pid().expect("pid");
    drop(plugin);
    assert_reaped(pid);
}

#[test]
fn malformed_runtime_requests_get_the_errors_of_11_2() {
    let script = repo_file("plugins/rust/elizaos/tests/scripts/raw_plugin.py");
    let plugin = IpcPluginLoader::new()
        .load_command(&[python(), script.display().to_string(), "runtime".into()])
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    let plugin = Arc::new(plugin);
    let shared = InMemoryRuntime::new_shared(&vectors()["world"]).expect("World");
    shared.register_plugin(Arc::clone(&plugin));
    let runtime: Arc<dyn AgentRuntime> = shared;
    let calls = json!([
        {"method": "getSetting", "args": ["GREETING"]},
        {"method": "composeState", "args": [{"content": {"text": "x"}}]},
        {"method": "getSetting", "args": ["GREETING"], "call": 999},
        {"method": "getSetting", "rawArgs": "GREETING"},
        {"method": "searchMemories", "args": [{}]},
        {"method": "getWorld", "args": ["world-1"]},
        {"method": "getSetting", "args": ["GREETING"], "call": 1},
        {"method": "constructor", "args": []},
    ]);
    let result = within("raw runtime requests", move || {
        let context = plugin
            .get_provider_with_runtime("echo-runtime", &memory("x"), &empty(), &runtime)
            .expect("provider");
        let answers = plugin
            .invoke_action_with_runtime(
                "act",
                &memory("x"),
                &empty(),
                &json!({"calls": calls}),
                &runtime,
            )
            .expect("act");
        (context, answers)
    });
    assert_eq!(
        result.0["data"]["runtime"],
        json!({"agentId": "00000000-0000-4000-8000-000000000001", "character": {"name": "Eliza", "bio": ["A test agent"]}})
    );
    let answers = &result.1["data"]["answers"];
    assert_eq!(answers[0], json!({"id": "rt-1", "result": "hello"}));
    // composeState ran the plugin's provider with the runtime (re-entrant, 11.4).
    assert_eq!(
        answers[1]["result"]["data"]["runtime"]["agentId"],
        json!("00000000-0000-4000-8000-000000000001"),
        "{answers}"
    );
    let answers = &answers.as_array().expect("answers")[1..];
    assert_eq!(
        answers[1]["error"],
        json!({"code": -32602, "message": "runtime call for unknown call 999", "data": {"param": "call"}})
    );
    assert_eq!(
        answers[2]["error"]["data"],
        json!({"param": "args", "expected": "array", "received": "string"})
    );
    assert_eq!(
        answers[3]["error"],
        json!({"code": -32601, "message": "runtime.searchMemories is not provided by the host", "data": {"method": "searchMemories"}})
    );
    assert_eq!(
        answers[4]["error"],
        json!({"code": -32000, "message": "database offline", "data": {"method": "getWorld", "exception": "RuntimeError"}})
    );
    // Call 1 (getManifest) was answered long ago (11.4).
    assert_eq!(
        answers[5]["error"]["message"],
        json!("runtime call for unknown call 1")
    );
    // A name outside 11.3 is refused without asking the runtime.
    assert_eq!(
        answers[6]["error"],
        json!({"code": -32601, "message": "runtime.constructor is not provided by the host", "data": {"method": "constructor"}})
    );
}
