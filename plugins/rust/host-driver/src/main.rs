//! `elizaos-host-driver`: the Rust host driven by the conformance testkit
//! (protocol.md section 8). It speaks newline-delimited JSON-RPC on its
//! stdin/stdout and uses only the public `elizaos::interop` loader API, as
//! user code does. stdout carries protocol only; nothing else is printed.

use std::collections::HashMap;
use std::hint::black_box;
use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use elizaos::interop::{
    AgentRuntime, FfiPluginLoader, InMemoryRuntime, InteropError, IpcPluginLoader, LoadedPlugin,
    PipeProbe, PythonPluginLoader, RpcError, TsRuntime, TypeScriptPluginLoader,
};
use serde_json::{json, Map, Value};

/// JSON-RPC error answered to the testkit.
type DriverResult = Result<Value, RpcError>;

const INVALID_PARAMS: i64 = -32602;
const LOAD_FAILED: i64 = -32000;

fn invalid(message: impl Into<String>) -> RpcError {
    RpcError::new(INVALID_PARAMS, message)
}

/// Reads a required string param.
fn str_param<'a>(params: &'a Map<String, Value>, key: &str) -> Result<&'a str, RpcError> {
    params
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("params.{key} must be a string")))
}

/// Reads an optional non-negative integer param.
fn uint_param(params: &Map<String, Value>, key: &str) -> Result<Option<u64>, RpcError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| invalid(format!("params.{key} must be a non-negative integer"))),
    }
}

/// Reads an array-of-strings param.
fn argv_param(params: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, RpcError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| invalid(format!("params.{key} must be an array of strings"))),
        Some(_) => Err(invalid(format!(
            "params.{key} must be a non-empty array of strings"
        ))),
    }
}

/// A loaded plugin and the in-memory runtime its calls get (`load.agentRuntime`), if any.
struct Handle {
    /// Dropped before the plugin: it holds the plugin for `composeState`.
    runtime: Option<Arc<InMemoryRuntime>>,
    plugin: Arc<LoadedPlugin>,
}

/// A `call` ready to run on a thread of its own, so pipelined calls are answered as they
/// complete (protocol.md section 8).
struct PreparedCall {
    plugin: Arc<LoadedPlugin>,
    method: String,
    params: Value,
    timeout: Option<Duration>,
    runtime: Option<Arc<dyn AgentRuntime>>,
}

impl PreparedCall {
    /// The `call` result: `{"ok": true, "value"}` or `{"ok": false, "error"}`.
    fn run(self) -> Value {
        let outcome = self.plugin.call_method_with_runtime(
            &self.method,
            &self.params,
            self.timeout,
            self.runtime.as_ref(),
        );
        match outcome {
            Ok(value) => json!({ "ok": true, "value": value }),
            Err(err) => json!({ "ok": false, "error": error_json(&err) }),
        }
    }
}

/// The driver's state: loaded plugins by handle.
struct Driver {
    plugins: HashMap<String, Handle>,
    next_handle: u64,
}

/// An `InMemoryRuntime` built from `params.agentRuntime` (a World, protocol.md 11.5) with
/// `plugin` registered in it, or `None` when the param is absent.
fn world_runtime(
    params: &Map<String, Value>,
    plugin: &Arc<LoadedPlugin>,
) -> Result<Option<Arc<InMemoryRuntime>>, RpcError> {
    match params.get("agentRuntime") {
        None | Some(Value::Null) => Ok(None),
        Some(world) => {
            let runtime = InMemoryRuntime::new_shared(world)
                .map_err(|e| invalid(format!("params.agentRuntime is not a valid World: {e}")))?;
            runtime.register_plugin(Arc::clone(plugin));
            Ok(Some(runtime))
        }
    }
}

impl Driver {
    fn handle_of(&self, params: &Map<String, Value>) -> Result<&Handle, RpcError> {
        let handle = str_param(params, "plugin")?;
        self.plugins
            .get(handle)
            .ok_or_else(|| invalid(format!("unknown plugin handle {handle:?}")))
    }

    fn plugin(&self, params: &Map<String, Value>) -> Result<&LoadedPlugin, RpcError> {
        Ok(&self.handle_of(params)?.plugin)
    }

    fn hello(&self) -> DriverResult {
        Ok(json!({
            "language": "rust",
            "runtime": env!("ELIZAOS_DRIVER_RUSTC"),
            "transports": ["ipc", "ffi"],
        }))
    }

    fn load(&mut self, params: &Map<String, Value>) -> DriverResult {
        let transport = str_param(params, "transport")?;
        let timeout = uint_param(params, "timeoutMs")?.map(Duration::from_millis);
        let env: Vec<(String, String)> = match params.get("env") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect::<Option<_>>()
                .ok_or_else(|| invalid("params.env values must be strings"))?,
            Some(_) => return Err(invalid("params.env must be an object")),
        };
        let path = params.get("path").and_then(Value::as_str);
        let command = argv_param(params, "command")?;
        let loaded = match transport {
            "ipc" => {
                macro_rules! configure {
                    ($loader:expr) => {{
                        let mut loader = $loader;
                        if let Some(t) = timeout {
                            loader = loader.call_timeout(t).start_timeout(t);
                        }
                        for (k, v) in &env {
                            loader = loader.env(k, v);
                        }
                        loader
                    }};
                }
                if let Some(argv) = &command {
                    configure!(IpcPluginLoader::new()).load_command(argv)
                } else {
                    let path = path
                        .ok_or_else(|| invalid("ipc load needs params.path or params.command"))?;
                    match params.get("language").and_then(Value::as_str) {
                        Some("python") => configure!(PythonPluginLoader::new()).load(path),
                        Some("typescript") => {
                            let runtime: TsRuntime = match params.get("runtime").and_then(Value::as_str) {
                                None => TsRuntime::Node,
                                Some(r) => r.parse().map_err(invalid)?,
                            };
                            configure!(TypeScriptPluginLoader::new().runtime(runtime)).load(path)
                        }
                        other => {
                            return Err(invalid(format!(
                                "ipc load with a path needs language \"python\" or \"typescript\", received {other:?}"
                            )))
                        }
                    }
                }
            }
            "ffi" => {
                let path = path.ok_or_else(|| invalid("ffi load needs params.path"))?;
                FfiPluginLoader::new().load(path)
            }
            "wasm" => {
                return Err(invalid(
                    "the Rust host has no WASM loader (protocol.md 7.1)",
                ))
            }
            other => return Err(invalid(format!("unknown transport {other:?}"))),
        };
        let plugin = Arc::new(loaded.map_err(|e| RpcError::new(LOAD_FAILED, e.to_string()))?);
        let runtime = world_runtime(params, &plugin)?;
        self.next_handle += 1;
        let handle = format!("p{}", self.next_handle);
        let manifest = plugin.manifest().clone();
        self.plugins
            .insert(handle.clone(), Handle { runtime, plugin });
        Ok(json!({ "plugin": handle, "manifest": manifest }))
    }

    /// Reads a `call`'s params and picks its runtime, on the reading thread; the call itself
    /// runs apart (see [`PreparedCall::run`]).
    fn prepare_call(&self, params: &Map<String, Value>) -> Result<PreparedCall, RpcError> {
        let handle = self.handle_of(params)?;
        let method = str_param(params, "method")?.to_owned();
        let call_params = params.get("params").cloned().unwrap_or_else(|| json!({}));
        let timeout = uint_param(params, "timeoutMs")?.map(Duration::from_millis);
        // A call's own World wins over the one given at load (protocol.md section 8).
        let runtime: Option<Arc<dyn AgentRuntime>> = match world_runtime(params, &handle.plugin)? {
            Some(fresh) => Some(fresh),
            None => handle
                .runtime
                .clone()
                .map(|r| -> Arc<dyn AgentRuntime> { r }),
        };
        Ok(PreparedCall {
            plugin: Arc::clone(&handle.plugin),
            method,
            params: call_params,
            timeout,
            runtime,
        })
    }

    fn bench(&self, params: &Map<String, Value>) -> DriverResult {
        let plugin = self.plugin(params)?;
        let method = str_param(params, "method")?;
        let call_params = params.get("params").cloned().unwrap_or_else(|| json!({}));
        let (iterations, warmup) = counts(params)?;
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..warmup + iterations {
            let start = Instant::now();
            let outcome = plugin.call_method(method, &call_params, None);
            let elapsed = start.elapsed();
            if let Err(err) = outcome {
                return Err(RpcError::new(
                    LOAD_FAILED,
                    format!("bench call failed: {err}"),
                ));
            }
            if i >= warmup {
                samples.push(nanos(elapsed));
            }
        }
        Ok(json!({ "samplesNs": samples }))
    }

    fn bench_noop(&self, params: &Map<String, Value>) -> DriverResult {
        let plugin = self.plugin(params)?;
        let (iterations, warmup) = counts(params)?;
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..warmup + iterations {
            let start = Instant::now();
            let outcome = plugin.call_noop();
            let elapsed = start.elapsed();
            if let Err(err) = outcome {
                return Err(invalid(err.to_string()));
            }
            if i >= warmup {
                samples.push(nanos(elapsed));
            }
        }
        Ok(json!({ "samplesNs": samples }))
    }

    fn bench_pipe(&self, params: &Map<String, Value>) -> DriverResult {
        let argv =
            argv_param(params, "command")?.ok_or_else(|| invalid("params.command is required"))?;
        let payload = str_param(params, "payload")?;
        if payload.contains('\n') {
            return Err(invalid("params.payload must not contain a newline"));
        }
        let (iterations, warmup) = counts(params)?;
        let mut line = payload.as_bytes().to_vec();
        line.push(b'\n');
        if line.len() > PipeProbe::MAX_LINE_BYTES {
            let samples = bench_long_pipe(&argv, line, iterations, warmup)?;
            return Ok(json!({ "samplesNs": samples }));
        }
        let mut probe = PipeProbe::spawn(&argv)
            .map_err(|e| RpcError::new(LOAD_FAILED, format!("cannot start {argv:?}: {e}")))?;
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..warmup + iterations {
            let start = Instant::now();
            let outcome = probe.round_trip(&line, Duration::from_secs(10));
            let elapsed = start.elapsed();
            match outcome {
                Ok(echo) if echo.len() + 1 == line.len() => {}
                Ok(echo) => {
                    return Err(RpcError::new(
                        LOAD_FAILED,
                        format!(
                            "{argv:?} answered {} bytes, expected {}",
                            echo.len(),
                            line.len() - 1
                        ),
                    ))
                }
                Err(e) => {
                    return Err(RpcError::new(
                        LOAD_FAILED,
                        format!("pipe round trip failed: {e}"),
                    ))
                }
            }
            if i >= warmup {
                samples.push(nanos(elapsed));
            }
        }
        probe.close();
        Ok(json!({ "samplesNs": samples }))
    }

    /// The JSON work this host does for one FFI call of `params` answered with `result`, timed
    /// alone (the `json` part of the `noop+json` floor, protocol.md section 10): encode every
    /// argument but the name to JSON text, as `FfiPlugin::json_arg` does, and decode the answer's
    /// envelope `{"result": ...}`, as `take_value` does. An empty-object argument is not encoded:
    /// a host can pass the constant `{}`, so the floor holds only work no host can avoid.
    fn bench_json(&self, params: &Map<String, Value>) -> DriverResult {
        let call_params = params
            .get("params")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("params.params must be an object"))?;
        let result = params
            .get("result")
            .ok_or_else(|| invalid("params.result is required (the call's answer)"))?;
        let (iterations, warmup) = counts(params)?;
        let args: Vec<&Value> = call_params
            .iter()
            .filter(|(key, value)| *key != "name" && !is_empty_object(value))
            .map(|(_, value)| value)
            .collect();
        let envelope = serde_json::to_string(&json!({ "result": result }))
            .map_err(|e| invalid(format!("params.result cannot be encoded: {e}")))?;
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..warmup + iterations {
            let start = Instant::now();
            for arg in &args {
                black_box(
                    serde_json::to_string(black_box(*arg))
                        .map(String::into_bytes)
                        .ok(),
                );
            }
            black_box(serde_json::from_str::<Value>(black_box(&envelope)).ok());
            let elapsed = start.elapsed();
            if i >= warmup {
                samples.push(nanos(elapsed));
            }
        }
        Ok(json!({ "samplesNs": samples }))
    }

    /// Calls per second with `inFlight` calls outstanding: `inFlight` threads share `calls`
    /// calls of `method` (each thread issues its next call when its last one is answered), timed
    /// from the moment all threads are ready until the last answer, after `warmup` untimed calls
    /// made the same way.
    fn bench_throughput(&self, params: &Map<String, Value>) -> DriverResult {
        let plugin = Arc::clone(&self.handle_of(params)?.plugin);
        let method = str_param(params, "method")?;
        let call_params = params.get("params").cloned().unwrap_or_else(|| json!({}));
        let in_flight = uint_param(params, "inFlight")?
            .filter(|n| *n >= 1)
            .ok_or_else(|| invalid("params.inFlight must be a positive integer"))?
            as usize;
        let calls = uint_param(params, "calls")?
            .filter(|n| *n >= 1)
            .ok_or_else(|| invalid("params.calls must be a positive integer"))?
            as usize;
        let warmup = uint_param(params, "warmup")?.unwrap_or(0) as usize;
        if warmup > 0 {
            calls_in_flight(&plugin, method, &call_params, in_flight, warmup)?;
        }
        let elapsed = calls_in_flight(&plugin, method, &call_params, in_flight, calls)?;
        Ok(json!({ "elapsedNs": nanos(elapsed), "calls": calls, "inFlight": in_flight }))
    }

    fn unload(&mut self, params: &Map<String, Value>) -> DriverResult {
        let handle = str_param(params, "plugin")?;
        let Handle { runtime, plugin } = self
            .plugins
            .remove(handle)
            .ok_or_else(|| invalid(format!("unknown plugin handle {handle:?}")))?;
        // The runtime holds the plugin: drop it first, so the plugin closes here.
        drop(runtime);
        match Arc::try_unwrap(plugin) {
            Ok(plugin) => plugin.close(),
            Err(shared) => drop(shared),
        }
        Ok(json!({}))
    }

    fn handle(&mut self, method: &str, params: &Map<String, Value>) -> DriverResult {
        match method {
            "hello" => self.hello(),
            "load" => self.load(params),
            "call" => self.prepare_call(params).map(PreparedCall::run),
            "bench" => self.bench(params),
            "unload" => self.unload(params),
            "benchPipe" => self.bench_pipe(params),
            "benchNoop" => self.bench_noop(params),
            "benchJson" => self.bench_json(params),
            "benchThroughput" => self.bench_throughput(params),
            other => Err(RpcError::method_not_found(other)),
        }
    }
}

fn counts(params: &Map<String, Value>) -> Result<(usize, usize), RpcError> {
    let iterations = uint_param(params, "iterations")?
        .ok_or_else(|| invalid("params.iterations is required"))?;
    let warmup = uint_param(params, "warmup")?.unwrap_or(0);
    Ok((iterations as usize, warmup as usize))
}

/// The pipe ping-pong for a line longer than a pipe holds: `cat` echoes the start of the line
/// while its end is still being written, so a writer thread writes while this thread reads
/// (write-then-read would deadlock with both pipes full). One handoff per sample.
fn bench_long_pipe(
    argv: &[String],
    line: Vec<u8>,
    iterations: usize,
    warmup: usize,
) -> Result<Vec<u64>, RpcError> {
    use std::process::{Command, Stdio};
    let failed = |what: String| RpcError::new(LOAD_FAILED, what);
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| invalid("params.command is empty"))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| failed(format!("cannot start {argv:?}: {e}")))?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(failed(format!("{argv:?} has no stdin or stdout")));
    };
    let expected = line.len();
    let (go, turns) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || -> io::Result<()> {
        for () in turns {
            stdin.write_all(&line)?;
            stdin.flush()?;
        }
        Ok(()) // stdin dropped: cat sees EOF and exits
    });
    let mut reader = io::BufReader::with_capacity(expected.max(1 << 16), stdout);
    let mut echo = Vec::with_capacity(expected);
    let mut samples = Vec::with_capacity(iterations);
    let mut outcome = Ok(());
    for i in 0..warmup + iterations {
        echo.clear();
        let start = Instant::now();
        if go.send(()).is_err() {
            outcome = Err(failed(format!("the writer to {argv:?} stopped")));
            break;
        }
        let read = reader.read_until(b'\n', &mut echo);
        let elapsed = start.elapsed();
        match read {
            Ok(_) if echo.len() == expected => {}
            Ok(_) => {
                outcome = Err(failed(format!(
                    "{argv:?} answered {} bytes, expected {expected}",
                    echo.len()
                )));
                break;
            }
            Err(e) => {
                outcome = Err(failed(format!("pipe round trip failed: {e}")));
                break;
            }
        }
        if i >= warmup {
            samples.push(nanos(elapsed));
        }
    }
    drop(go);
    if outcome.is_err() {
        let _ = child.kill();
    }
    let written = writer.join();
    let _ = child.wait();
    outcome?;
    match written {
        Ok(Ok(())) => Ok(samples),
        Ok(Err(e)) => Err(failed(format!("writing to {argv:?} failed: {e}"))),
        Err(_) => Err(failed(format!("the writer to {argv:?} panicked"))),
    }
}

/// True for `{}`.
fn is_empty_object(value: &Value) -> bool {
    value.as_object().is_some_and(Map::is_empty)
}

/// Runs `calls` calls of `method` on `threads` threads (at most `calls`), each issuing its next
/// call when its last one is answered; the time from all threads ready to the last answer.
fn calls_in_flight(
    plugin: &LoadedPlugin,
    method: &str,
    params: &Value,
    threads: usize,
    calls: usize,
) -> Result<Duration, RpcError> {
    let threads = threads.min(calls).max(1);
    let next = AtomicUsize::new(0);
    let ready = Barrier::new(threads + 1);
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let start = std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                ready.wait();
                while next.fetch_add(1, Ordering::Relaxed) < calls {
                    if let Err(err) = plugin.call_method(method, params, None) {
                        let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
                        slot.get_or_insert_with(|| err.to_string());
                        // Stop every thread: the measurement is void.
                        next.store(calls, Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
        ready.wait();
        Instant::now()
    });
    let elapsed = start.elapsed();
    match failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(err) => Err(RpcError::new(
            LOAD_FAILED,
            format!("benchThroughput call failed: {err}"),
        )),
        None => Ok(elapsed),
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The `error` member of a failed `call` (section 8), with the plugin's `data` when it sent one.
fn error_json(err: &InteropError) -> Value {
    let mut error =
        json!({ "type": err.type_name(), "code": err.code(), "message": err.to_string() });
    if let InteropError::Call {
        data: Some(data), ..
    } = err
    {
        error["data"] = data.clone();
    }
    error
}

/// Writes one response line and flushes it; false when stdout is gone.
fn write_line(out: &Mutex<BufWriter<io::Stdout>>, line: &str) -> bool {
    let mut out = out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
}

/// Waits for every call in flight (other driver requests wait for all before them).
fn settle(in_flight: &mut Vec<JoinHandle<()>>) {
    for call in in_flight.drain(..) {
        let _ = call.join();
    }
}

fn main() -> ExitCode {
    let mut driver = Driver {
        plugins: HashMap::new(),
        next_handle: 0,
    };
    let out = Arc::new(Mutex::new(BufWriter::new(io::stdout())));
    let mut in_flight: Vec<JoinHandle<()>> = Vec::new();
    let mut line = Vec::new();
    let mut input = io::stdin().lock();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("elizaos-host-driver: cannot read stdin: {e}");
                break;
            }
        }
        let trimmed = line.strip_suffix(b"\n").unwrap_or(&line);
        if trimmed.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let response = match elizaos::interop::parse_request(trimmed) {
            Ok(request) if request.method == "call" => {
                match driver.prepare_call(&request.params) {
                    Ok(call) => {
                        // Pipelined calls are answered as they complete.
                        let out = Arc::clone(&out);
                        let id = request.id;
                        in_flight.retain(|t| !t.is_finished());
                        in_flight.push(std::thread::spawn(move || {
                            let value = call.run();
                            write_line(&out, &elizaos::interop::response_line(&id, &Ok(value)));
                        }));
                        continue;
                    }
                    Err(e) => elizaos::interop::response_line(&request.id, &Err(e)),
                }
            }
            Ok(request) => {
                settle(&mut in_flight);
                let outcome = driver.handle(&request.method, &request.params);
                elizaos::interop::response_line(&request.id, &outcome)
            }
            Err(bad) => elizaos::interop::response_line(&bad.id, &Err(bad.error)),
        };
        if !write_line(&out, &response) {
            break;
        }
    }
    // Stdin EOF: finish the calls in flight, close every plugin (children reaped) and exit 0;
    // runtimes first, as they hold their plugins.
    settle(&mut in_flight);
    for handle in driver.plugins.values_mut() {
        handle.runtime = None;
    }
    driver.plugins.clear();
    ExitCode::SUCCESS
}
