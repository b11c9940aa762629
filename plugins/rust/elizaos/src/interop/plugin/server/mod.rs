//! The IPC server of protocol.md section 3: newline-delimited JSON-RPC over stdin/stdout.
//!
//! Requests are answered one at a time, in order (allowed by 3.4). Every response is written in
//! one buffered write and flushed. A handler's runtime call (section 11) writes a `runtime.<name>`
//! request and reads on until its answer arrives, serving host requests that come meanwhile
//! (nested), so a host may call back into the plugin (11.4). `shutdown` answers `{}` and returns; stdin EOF returns. Bad lines
//! get -32700/-32600 and the server keeps serving; a line over the size limit is discarded and
//! answered with `{"id": null, "error": {"code": -32600, "message": "request exceeds N bytes"}}`.

use crate::interop::plugin::export::Bridge;
use crate::interop::plugin::Plugin;
use crate::interop::plugin::{error_from_answer, ChannelGuard, RuntimeChannel, RuntimeError};
use crate::interop::wire::Transport;
use crate::interop::wire::{
    codes, methods, request_from_value, write_json, BadRequest, RpcError, DEFAULT_MAX_MESSAGE_BYTES,
};
use serde_json::{Map, Value};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

mod lines;

pub use lines::{read_line_limited, LineRead};

/// Environment variable that overrides the request size limit (bytes) of [`serve`].
pub const MAX_MESSAGE_BYTES_ENV: &str = "ELIZAOS_MAX_MESSAGE_BYTES";

/// Server settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// Largest request line accepted, in bytes, excluding the line terminator.
    pub max_message_bytes: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

impl ServeOptions {
    /// Defaults, with `ELIZAOS_MAX_MESSAGE_BYTES` applied when it is set. An unparsable value is
    /// an error naming the variable and the value.
    pub fn from_env() -> Result<Self, String> {
        let mut options = ServeOptions::default();
        if let Ok(raw) = std::env::var(MAX_MESSAGE_BYTES_ENV) {
            options.max_message_bytes = raw
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    format!("{MAX_MESSAGE_BYTES_ENV} must be a positive integer, received {raw:?}")
                })?;
        }
        Ok(options)
    }
}

/// Why [`serve_on`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeEnd {
    /// A `shutdown` request was answered.
    Shutdown,
    /// stdin reached end of file.
    Eof,
}

/// Writes one response line (`{"id":..,"result":..}` or `{"id":..,"error":..}`, the key order of
/// section 3.2) in one `write_all`, serialised by the fast JSON writer into `line` (reused).
fn write_response<W: Write + ?Sized>(
    out: &mut W,
    line: &mut Vec<u8>,
    id: &Value,
    outcome: &Result<Value, RpcError>,
) -> io::Result<()> {
    line.clear();
    line.extend_from_slice(b"{\"id\":");
    write_json(line, id);
    match outcome {
        Ok(v) => {
            line.extend_from_slice(b",\"result\":");
            write_json(line, v);
        }
        Err(e) => {
            line.extend_from_slice(b",\"error\":");
            write_json(line, &e.to_value());
        }
    }
    line.extend_from_slice(b"}\n");
    out.write_all(line)?;
    out.flush()
}

/// A buffer kept between lines is at most this large; a larger one is released.
const KEPT_LINE_BYTES: usize = 1 << 20;

/// What the server needs of the bridge, without its plugin type.
trait Served {
    /// Answer one host request, taking its params.
    fn dispatch(&self, method: &str, params: Map<String, Value>) -> Result<Value, RpcError>;
    /// The config of the last `init`.
    fn config(&self) -> Value;
}

impl<P: Plugin> Served for Bridge<P> {
    fn dispatch(&self, method: &str, params: Map<String, Value>) -> Result<Value, RpcError> {
        Bridge::dispatch_owned(self, method, params)
    }

    fn config(&self) -> Value {
        Bridge::config(self)
    }
}

/// One call being served: its request id and its `params.runtime` snapshot.
struct Frame {
    call: Value,
    runtime: Option<Value>,
}

/// The server's state, shared by the main loop and by runtime calls made from handlers, which
/// read on (serving host requests nested) until their answer arrives (protocol.md 11.4).
struct Server<'a> {
    input: RefCell<&'a mut dyn BufRead>,
    output: RefCell<&'a mut dyn Write>,
    options: ServeOptions,
    bridge: &'a dyn Served,
    frames: RefCell<Vec<Frame>>,
    next_runtime_id: Cell<u64>,
    /// Runtime requests sent and not yet answered.
    waiting: RefCell<HashSet<String>>,
    /// Answers received for runtime requests, not yet taken by their waiter.
    answers: RefCell<HashMap<String, Result<Value, RpcError>>>,
    /// Set when the server must stop: `shutdown` answered, stdin EOF, or an I/O error.
    ended: Cell<Option<ServeEnd>>,
    /// The I/O error that ended the server, reported by [`serve_on`].
    failure: RefCell<Option<io::Error>>,
    /// The request line buffer, reused (taken while a line is handled, so a nested read gets a
    /// fresh one).
    line: Cell<Vec<u8>>,
    /// The response line buffer, reused the same way.
    out_line: Cell<Vec<u8>>,
}

/// Puts `buf` back into `slot` for the next line unless it grew too large to keep.
fn keep(slot: &Cell<Vec<u8>>, buf: Vec<u8>) {
    if buf.capacity() <= KEPT_LINE_BYTES {
        slot.set(buf);
    }
}

impl Server<'_> {
    fn write(&self, id: &Value, outcome: &Result<Value, RpcError>) {
        let mut line = self.out_line.take();
        let written = write_response(&mut **self.output.borrow_mut(), &mut line, id, outcome);
        keep(&self.out_line, line);
        if let Err(e) = written {
            self.fail(e);
        }
    }

    fn fail(&self, e: io::Error) {
        self.ended.set(Some(ServeEnd::Eof));
        self.failure.borrow_mut().get_or_insert(e);
    }

    /// Reads and handles one message. Returns once something was read (or the input ended).
    fn step(&self) {
        if self.ended.get().is_some() {
            return;
        }
        let mut line = self.line.take();
        let read = read_line_limited(
            &mut **self.input.borrow_mut(),
            &mut line,
            self.options.max_message_bytes,
        );
        match read {
            Err(e) => self.fail(e),
            Ok(LineRead::Eof) => self.ended.set(Some(ServeEnd::Eof)),
            Ok(LineRead::Oversize) => self.write(
                &Value::Null,
                &Err(RpcError::oversize(self.options.max_message_bytes)),
            ),
            Ok(LineRead::Line) => {
                if !line.iter().all(u8::is_ascii_whitespace) {
                    self.handle(&line);
                }
            }
        }
        keep(&self.line, line);
    }

    fn handle(&self, line: &[u8]) {
        let value = match parse_json_line(line) {
            Ok(v) => v,
            Err(bad) => return self.write(&bad.id, &Err(bad.error)),
        };
        if is_response(&value) {
            return self.answer_received(value);
        }
        let request = match request_from_value(value) {
            Ok(r) => r,
            Err(bad) => return self.write(&bad.id, &Err(bad.error)),
        };
        let runtime = match request.params.get("runtime") {
            Some(v @ Value::Object(_)) => Some(v.clone()),
            _ => None,
        };
        self.frames.borrow_mut().push(Frame {
            call: request.id.clone(),
            runtime,
        });
        let outcome = self.bridge.dispatch(&request.method, request.params);
        self.frames.borrow_mut().pop();
        self.write(&request.id, &outcome);
        if request.method == methods::SHUTDOWN {
            self.ended.set(Some(ServeEnd::Shutdown));
        }
    }

    /// A response from the host: the answer to one of our runtime requests.
    fn answer_received(&self, value: Value) {
        let Value::Object(mut obj) = value else {
            return;
        };
        let id = match obj.remove("id") {
            Some(Value::String(id)) if self.waiting.borrow().contains(&id) => id,
            other => {
                eprintln!(
                    "elizaos: ignoring a response for no pending runtime request (id {})",
                    other.unwrap_or(Value::Null)
                );
                return;
            }
        };
        let outcome = match (obj.remove("result"), obj.remove("error")) {
            (Some(result), None) => Ok(result),
            (None, Some(error)) => Err(RpcError::from_value(&error).unwrap_or_else(|reason| {
                RpcError::internal(format!("the host's error answer is malformed: {reason}"))
            })),
            _ => Err(RpcError::internal(
                "the host's answer has both or neither of \"result\" and \"error\"",
            )),
        };
        self.waiting.borrow_mut().remove(&id);
        self.answers.borrow_mut().insert(id, outcome);
    }

    /// Serve until `shutdown` or EOF.
    fn run(&self) -> ServeEnd {
        loop {
            if let Some(end) = self.ended.get() {
                return end;
            }
            self.step();
        }
    }
}

impl RuntimeChannel for Server<'_> {
    fn config(&self) -> Value {
        self.bridge.config()
    }

    fn frame(&self) -> Option<(Value, Option<Value>)> {
        self.frames
            .borrow()
            .last()
            .map(|f| (f.call.clone(), f.runtime.clone()))
    }

    fn send(&self, call: &Value, method: &str, args: Vec<Value>) -> Result<String, RuntimeError> {
        if self.ended.get().is_some() {
            return Err(host_closed());
        }
        let n = self.next_runtime_id.get() + 1;
        self.next_runtime_id.set(n);
        let id = format!("rt-{n}");
        let request = serde_json::json!({
            "id": id,
            "method": format!("runtime.{method}"),
            "params": {"call": call, "args": args},
        });
        let mut out = self.output.borrow_mut();
        let written = serde_json::to_writer(&mut **out, &request)
            .map_err(io::Error::other)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        drop(out);
        match written {
            Ok(()) => {
                self.waiting.borrow_mut().insert(id.clone());
                Ok(id)
            }
            Err(e) => {
                self.fail(e);
                Err(host_closed())
            }
        }
    }

    fn wait(&self, id: &str, method: &str) -> Result<Value, RuntimeError> {
        loop {
            if let Some(outcome) = self.answers.borrow_mut().remove(id) {
                return outcome.map_err(|e| error_from_answer(method, e.code, e.message, e.data));
            }
            if self.ended.get().is_some() {
                self.waiting.borrow_mut().remove(id);
                return Err(host_closed());
            }
            self.step();
        }
    }
}

/// -32603 "host closed": the host went away while a runtime request was pending (11.4).
fn host_closed() -> RuntimeError {
    RuntimeError::Call {
        code: codes::INTERNAL_ERROR,
        message: "host closed".into(),
        data: None,
    }
}

/// A message without `method` and with `result` or `error` is a response (section 3.2): the
/// host's answer to a runtime request.
fn is_response(value: &Value) -> bool {
    value.as_object().is_some_and(|o| {
        !o.contains_key("method") && (o.contains_key("result") || o.contains_key("error"))
    })
}

/// Decode one line as JSON: -32700 when it is not UTF-8 or not JSON.
fn parse_json_line(line: &[u8]) -> Result<Value, BadRequest> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|e| BadRequest {
        id: Value::Null,
        error: RpcError::parse_error(format!("request is not UTF-8 ({e})")),
    })?;
    serde_json::from_str(text).map_err(|e| BadRequest {
        id: Value::Null,
        error: RpcError::parse_error(format!("request is not JSON ({e})")),
    })
}

/// Serve `plugin` over `input`/`output` until `shutdown` or EOF (the testable core of [`serve`]).
/// Handlers reach the host's runtime through [`current_runtime`](crate::interop::current_runtime)
/// while they run.
pub fn serve_on<P: Plugin, R: BufRead, W: Write>(
    plugin: P,
    input: &mut R,
    output: &mut W,
    options: ServeOptions,
) -> io::Result<ServeEnd> {
    let bridge = Bridge::new(plugin, Transport::Ipc);
    let server = Server {
        input: RefCell::new(input),
        output: RefCell::new(output),
        options,
        bridge: &bridge,
        frames: RefCell::new(Vec::new()),
        next_runtime_id: Cell::new(0),
        waiting: RefCell::new(HashSet::new()),
        answers: RefCell::new(HashMap::new()),
        ended: Cell::new(None),
        failure: RefCell::new(None),
        line: Cell::new(Vec::new()),
        out_line: Cell::new(Vec::new()),
    };
    let end = {
        let _active = ChannelGuard::enter(&server);
        server.run()
    };
    match server.failure.into_inner() {
        Some(e) => Err(e),
        None => Ok(end),
    }
}

/// Make fd 1 an alias of stderr and return a handle on the original stdout, so that `println!`
/// in plugin code cannot corrupt the protocol stream (section 3.1: stdout carries protocol only).
#[cfg(unix)]
fn protocol_stdout() -> io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain descriptor calls on fds 1 and 2, which the process owns.
    let fd = unsafe { libc::dup(1) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::dup2(2, 1) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor owned by nobody else.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// Serve `plugin` over stdin/stdout (section 3) and return the process exit code: 0 after
/// `shutdown` or stdin EOF (also when the host closed our stdout), 1 on an I/O or setup error
/// (reported on stderr). Typical use: `fn main() -> ExitCode { serve(MyPlugin::new()) }`.
pub fn serve<P: Plugin>(plugin: P) -> ExitCode {
    let options = match ServeOptions::from_env() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("elizaos: {e}");
            return ExitCode::from(1);
        }
    };
    #[cfg(unix)]
    let out = match protocol_stdout() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("elizaos: cannot set up the protocol stdout: {e}");
            return ExitCode::from(1);
        }
    };
    #[cfg(not(unix))]
    let out = io::stdout();
    let mut output = BufWriter::with_capacity(64 * 1024, out);
    let mut input = BufReader::with_capacity(64 * 1024, io::stdin().lock());
    match serve_on(plugin, &mut input, &mut output, options) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("elizaos: IPC server stopped: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::plugin::{current_runtime, AgentRuntime};
    use crate::interop::plugin::{ActionDescriptor, ActionResult, Manifest, PluginError};
    use serde_json::json;
    use std::io::Cursor;

    /// Answers `config` with what its runtime proxy sees.
    struct ProxyProbe;

    impl Plugin for ProxyProbe {
        fn manifest(&self) -> Manifest {
            Manifest {
                name: "probe".into(),
                description: "d".into(),
                version: "1.0.0".into(),
                language: "rust".into(),
                actions: vec![ActionDescriptor::new("config", "d")],
                providers: vec![],
                evaluators: vec![],
            }
        }

        fn invoke_action(
            &self,
            _name: &str,
            _memory: &Value,
            _state: &Value,
            _options: &Value,
        ) -> Result<ActionResult, PluginError> {
            let rt = current_runtime();
            let mut values = Map::new();
            values.insert("config".into(), rt.config());
            values.insert("agentId".into(), json!(rt.agent_id()));
            Ok(ActionResult::success().with_values(values))
        }
    }

    #[test]
    fn the_proxy_sees_the_last_init_config_and_the_call_context() {
        let input = [
            json!({"id": 1, "method": "invokeAction", "params": {"name": "config", "memory": {"content": {}}}}),
            json!({"id": 2, "method": "init", "params": {"config": {"k": 1}}}),
            json!({"id": 3, "method": "invokeAction", "params": {"name": "config", "memory": {"content": {}}, "runtime": {"agentId": "a"}}}),
        ]
        .iter()
        .map(|v| format!("{v}\n"))
        .collect::<String>();
        let mut output = Vec::new();
        let end = serve_on(
            ProxyProbe,
            &mut Cursor::new(input.into_bytes()),
            &mut output,
            ServeOptions::default(),
        );
        assert_eq!(end.ok(), Some(ServeEnd::Eof));
        let lines: Vec<Value> = output
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap_or(Value::Null))
            .collect();
        assert_eq!(
            lines[0]["result"]["values"],
            json!({"config": {}, "agentId": null})
        );
        assert_eq!(
            lines[2]["result"]["values"],
            json!({"config": {"k": 1}, "agentId": "a"})
        );
        assert_eq!(
            current_runtime().config(),
            json!({}),
            "no server outside serve_on"
        );
    }

    fn lines(input: &[u8], limit: usize) -> Vec<(LineRead, Vec<u8>)> {
        let mut r = BufReader::with_capacity(4, Cursor::new(input.to_vec()));
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            let got = read_line_limited(&mut r, &mut buf, limit);
            let got = match got {
                Ok(g) => g,
                Err(e) => panic!("read failed: {e}"),
            };
            out.push((got, buf.clone()));
            if got == LineRead::Eof {
                return out;
            }
        }
    }

    #[test]
    fn limited_reader_splits_discards_and_tolerates_cr() {
        let got = lines(b"abc\n0123456789\nxy\r\nlast", 5);
        assert_eq!(
            got,
            vec![
                (LineRead::Line, b"abc".to_vec()),
                (LineRead::Oversize, vec![]),
                (LineRead::Line, b"xy\r".to_vec()),
                (LineRead::Line, b"last".to_vec()),
                (LineRead::Eof, vec![]),
            ]
        );
        // Exactly at the limit is accepted, with or without \r.
        assert_eq!(
            lines(b"12345\n12345\r\n", 5)[..2],
            [
                (LineRead::Line, b"12345".to_vec()),
                (LineRead::Line, b"12345\r".to_vec())
            ]
        );
        assert_eq!(lines(b"123456", 5)[0].0, LineRead::Oversize);
        assert_eq!(lines(b"123456\r\n", 5)[0].0, LineRead::Oversize);
        assert_eq!(lines(b"\r\r\r\r\r\r\r\n", 5)[0].0, LineRead::Oversize);
    }
}
