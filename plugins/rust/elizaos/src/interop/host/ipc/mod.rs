//! IPC client: one plugin child process spoken to over newline-delimited
//! JSON-RPC (protocol.md section 3), usable from several threads at once.
//!
//! Design ("leader" reading, no dedicated stdout thread): a calling thread
//! writes its request, then, if nobody is reading stdout, becomes the reader
//! and reads lines (with `poll(2)` deadlines) until its own response arrives,
//! parking other threads' responses in the pending map and waking them via a
//! condition variable. A lone caller therefore never pays a cross-thread
//! wake-up, and pipelined callers share the one child with responses matched
//! by id in any order.

mod faults;
mod options;
mod probe;
mod runtime;

pub use options::IpcOptions;
pub use probe::PipeProbe;

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::error::{excerpt, ErrorContext, ExitState, InteropError, Transport};
use super::pipe::{
    fd_of, kill_and_reap, set_nonblocking, write_all_deadline, LineReader, ReadOutcome, StderrTail,
    WriteFailure,
};
use crate::interop::plugin::AgentRuntime;
use crate::interop::wire::{parse_line, response_from_value, write_json, RpcError};

/// The params of a request, as the host writes them into the request line: by the fast JSON
/// writer, byte for byte what `serde_json` writes (compact, members in order).
pub(crate) trait WireParams {
    /// Appends the params object's JSON text to `out`.
    fn write_params(&self, out: &mut Vec<u8>);
}

impl WireParams for Value {
    fn write_params(&self, out: &mut Vec<u8>) {
        write_json(out, self);
    }
}

/// The capabilities of section 12 a plugin declared in its manifest.
#[derive(Debug, Clone, Copy, Default)]
struct Capabilities {
    /// Answers runtime calls (section 11): the host sends `params.runtime`.
    runtime: bool,
    /// Answers `shutdown` (3.4).
    shutdown: bool,
}

/// Why every pending call failed at once; shared by all of them.
#[derive(Debug, Clone)]
enum Fault {
    /// A call timed out (id `trigger`); the process was killed as wedged.
    Timeout { trigger: u64, description: String },
    /// The process exited.
    Crash {
        exit: ExitState,
        stderr_tail: String,
    },
    /// The stdout stream broke the protocol; the process was killed.
    Protocol { reason: String, excerpt: String },
    /// The plugin was closed by the host.
    Closed,
}

impl Fault {
    /// One-line summary, used as the detail of later "plugin is closed" errors.
    fn summary(&self) -> String {
        match self {
            Fault::Timeout { description, .. } => format!("killed as wedged after {description}"),
            Fault::Crash { exit, .. } => exit.to_string(),
            Fault::Protocol { reason, .. } => format!("killed after a protocol error: {reason}"),
            Fault::Closed => "closed by the host".to_string(),
        }
    }
}

/// State of one request.
#[derive(Debug)]
enum Slot {
    Waiting,
    Answered(Result<Value, RpcError>),
    Failed(Fault),
}

#[derive(Debug)]
struct State {
    next_id: u64,
    pending: HashMap<u64, Slot>,
    /// A thread is currently reading stdout.
    leader: bool,
    /// Threads blocked on the condition variable.
    waiters: usize,
    /// Set once: every later call fails with "plugin is closed".
    closed: Option<Fault>,
    /// The runtime of each pending call that has one (section 11): the plugin's
    /// runtime requests name their call by id.
    runtimes: HashMap<u64, Arc<dyn AgentRuntime>>,
}

/// A live plugin child process.
#[derive(Debug)]
pub(crate) struct IpcConnection {
    label: String,
    name: OnceLock<String>,
    /// The manifest's capabilities (section 12), once known.
    capabilities: OnceLock<Capabilities>,
    options: IpcOptions,
    pid: u32,
    child: Mutex<Child>,
    /// Shared with the threads that answer runtime requests.
    stdin: Arc<Mutex<Option<ChildStdin>>>,
    reader: Mutex<LineReader>,
    /// Owns the fd the reader polls; kept open for the connection's life.
    _stdout: ChildStdout,
    state: Mutex<State>,
    wake: Condvar,
    stderr: StderrTail,
    stderr_thread: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn exit_state(status: Option<ExitStatus>) -> ExitState {
    match status {
        Some(s) => match (s.code(), s.signal()) {
            (Some(c), _) => ExitState::Code(c),
            (None, Some(sig)) => ExitState::Signal(sig),
            _ => ExitState::Unknown,
        },
        None => ExitState::Unknown,
    }
}

/// Outcome of one leader read pass.
enum Lead {
    /// Our own slot was resolved (by us or by a fault).
    Resolved,
    /// Our deadline passed without an answer.
    TimedOut,
}

impl IpcConnection {
    /// Spawns `argv` (no shell) with piped stdio. Does not talk to it yet.
    pub(crate) fn spawn(
        argv: &[OsString],
        options: IpcOptions,
        label: String,
    ) -> Result<Self, InteropError> {
        let load_err = |cause: String| InteropError::Load {
            context: ErrorContext::boxed(label.clone(), "load", None, Transport::Ipc),
            cause,
        };
        let Some((program, args)) = argv.split_first() else {
            return Err(load_err("the command is empty".into()));
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &options.current_dir {
            cmd.current_dir(dir);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| load_err(format!("cannot start {program:?}: {e}")))?;
        let pid = child.id();
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    kill_and_reap(&mut child);
                    return Err(load_err("the child's stdio pipes are missing".into()));
                }
            };
        if let Err(e) = set_nonblocking(fd_of(&stdin)) {
            kill_and_reap(&mut child);
            return Err(load_err(format!("cannot configure the stdin pipe: {e}")));
        }
        let (tail, handle) = match StderrTail::spawn(stderr, &pid.to_string()) {
            Ok(t) => t,
            Err(e) => {
                kill_and_reap(&mut child);
                return Err(load_err(format!(
                    "cannot start the stderr drain thread: {e}"
                )));
            }
        };
        let reader = LineReader::new(fd_of(&stdout), options.max_message_bytes);
        Ok(IpcConnection {
            label,
            name: OnceLock::new(),
            capabilities: OnceLock::new(),
            pid,
            child: Mutex::new(child),
            stdin: Arc::new(Mutex::new(Some(stdin))),
            reader: Mutex::new(reader),
            _stdout: stdout,
            state: Mutex::new(State {
                next_id: 1,
                pending: HashMap::new(),
                leader: false,
                waiters: 0,
                closed: None,
                runtimes: HashMap::new(),
            }),
            wake: Condvar::new(),
            stderr: tail,
            stderr_thread: Mutex::new(Some(handle)),
            options,
        })
    }

    /// The plugin's name for messages: the manifest name once known, else the path/command.
    pub(crate) fn display_name(&self) -> &str {
        self.name.get().map(String::as_str).unwrap_or(&self.label)
    }

    /// Records the manifest name, used in every later error message.
    pub(crate) fn set_name(&self, name: &str) {
        let _ = self.name.set(name.to_owned());
    }

    /// Records the capabilities the manifest declares (section 12).
    pub(crate) fn set_capabilities(&self, manifest: &Value) {
        let declared = |c: &str| {
            manifest["capabilities"]
                .as_array()
                .is_some_and(|caps| caps.iter().any(|x| x == c))
        };
        let _ = self.capabilities.set(Capabilities {
            runtime: declared("runtime"),
            shutdown: declared("shutdown"),
        });
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities.get().copied().unwrap_or_default()
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    fn context(&self, method: &str, target: Option<&str>) -> Box<ErrorContext> {
        ErrorContext::boxed(self.display_name(), method, target, Transport::Ipc)
    }

    /// The stderr tail, waiting briefly for the drain to reach EOF.
    fn tail(&self, wait: Duration) -> String {
        self.stderr.text(wait)
    }

    fn closed_error(&self, method: &str, target: Option<&str>, fault: &Fault) -> InteropError {
        InteropError::Crash {
            context: self.context(method, target),
            exit: ExitState::Closed,
            detail: Some(fault.summary()),
            stderr_tail: self.tail(Duration::ZERO),
        }
    }

    /// Sends one request and waits for its answer. `params` must already be
    /// checked against the JSON profile; only the size limit is checked here.
    pub(crate) fn call<P: WireParams + ?Sized>(
        &self,
        method: &str,
        target: Option<&str>,
        params: &P,
        timeout: Option<Duration>,
    ) -> Result<Value, InteropError> {
        self.call_inner(method, target, params, timeout, true, None)
    }

    /// [`IpcConnection::call`] for a call whose handler may call `runtime`
    /// (section 11): the plugin's runtime requests naming this call are
    /// answered from it until the call ends. `params` carry the runtime context.
    pub(crate) fn call_with_runtime<P: WireParams + ?Sized>(
        &self,
        method: &str,
        target: Option<&str>,
        params: &P,
        timeout: Option<Duration>,
        runtime: &Arc<dyn AgentRuntime>,
    ) -> Result<Value, InteropError> {
        self.call_inner(method, target, params, timeout, true, Some(runtime))
    }

    /// Whether the plugin declared the `"runtime"` capability (section 12).
    pub(crate) fn accepts_runtime(&self) -> bool {
        self.capabilities().runtime
    }

    /// [`IpcConnection::call`]; `wedge` says whether a time-out kills the
    /// process (every user call) or only fails this call (`shutdown` in
    /// `close`, which then escalates with signals on its own schedule).
    fn call_inner<P: WireParams + ?Sized>(
        &self,
        method: &str,
        target: Option<&str>,
        params: &P,
        timeout: Option<Duration>,
        wedge: bool,
        runtime: Option<&Arc<dyn AgentRuntime>>,
    ) -> Result<Value, InteropError> {
        let timeout = timeout.unwrap_or(self.options.call_timeout);
        let id = {
            let mut st = lock(&self.state);
            if let Some(fault) = &st.closed {
                let fault = fault.clone();
                drop(st);
                return Err(self.closed_error(method, target, &fault));
            }
            let id = st.next_id;
            st.next_id += 1;
            st.pending.insert(id, Slot::Waiting);
            if let Some(runtime) = runtime {
                st.runtimes.insert(id, Arc::clone(runtime));
            }
            id
        };
        let line = match self.encode(id, method, params) {
            Ok(line) => line,
            Err(reason) => {
                let mut st = lock(&self.state);
                st.pending.remove(&id);
                st.runtimes.remove(&id);
                drop(st);
                return Err(InteropError::InvalidPayload {
                    context: self.context(method, target),
                    path: "params".into(),
                    reason,
                });
            }
        };
        let deadline = Instant::now() + timeout;
        let describe = || match target {
            Some(t) => format!("{method}({t:?}) timed out after {} ms", timeout.as_millis()),
            None => format!("{method} timed out after {} ms", timeout.as_millis()),
        };
        // Write the whole line under the stdin lock so concurrent requests never interleave.
        let written = {
            let stdin = lock(&self.stdin);
            match stdin.as_ref() {
                Some(pipe) => write_all_deadline(fd_of(pipe), &line, Some(deadline)),
                None => Err(WriteFailure::Io(std::io::Error::from(
                    std::io::ErrorKind::BrokenPipe,
                ))),
            }
        };
        match written {
            Ok(()) => {}
            Err(WriteFailure::TimedOut) => {
                self.timed_out(id, &describe, wedge);
            }
            Err(WriteFailure::Io(_)) => self.child_gone(),
        }
        drop(line);
        let outcome = self.wait_for(id, deadline, &describe, wedge);
        if runtime.is_some() {
            // Later runtime requests for this call get -32602 (11.4).
            lock(&self.state).runtimes.remove(&id);
        }
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(InteropError::Call {
                context: self.context(method, target),
                code: err.code,
                message: err.message,
                data: err.data,
            }),
            Err(fault) => Err(self.fault_error(id, method, target, timeout, fault)),
        }
    }

    /// Serialises a request line, refusing it if it exceeds the size limit.
    fn encode<P: WireParams + ?Sized>(
        &self,
        id: u64,
        method: &str,
        params: &P,
    ) -> Result<Vec<u8>, String> {
        let mut line = Vec::with_capacity(128);
        let _ = write!(line, "{{\"id\":{id},\"method\":");
        serde_json::to_writer(&mut line, method)
            .map_err(|e| format!("cannot encode the method: {e}"))?;
        line.extend_from_slice(b",\"params\":");
        params.write_params(&mut line);
        line.push(b'}');
        let limit = self.options.max_message_bytes;
        if line.len() > limit {
            return Err(format!(
                "the request is {} bytes, over the limit of {limit} bytes (maxMessageBytes)",
                line.len()
            ));
        }
        line.push(b'\n');
        Ok(line)
    }

    /// Waits for the answer to `id`, reading stdout itself when nobody else does.
    fn wait_for(
        &self,
        id: u64,
        deadline: Instant,
        describe: &dyn Fn() -> String,
        wedge: bool,
    ) -> Result<Result<Value, RpcError>, Fault> {
        let mut st = lock(&self.state);
        loop {
            match st.pending.get(&id) {
                Some(Slot::Waiting) => {}
                Some(_) => {
                    return match st.pending.remove(&id) {
                        Some(Slot::Answered(outcome)) => Ok(outcome),
                        Some(Slot::Failed(fault)) => Err(fault),
                        _ => Err(Fault::Closed),
                    };
                }
                None => return Err(st.closed.clone().unwrap_or(Fault::Closed)),
            }
            if !st.leader {
                st.leader = true;
                drop(st);
                let lead = self.lead(id, deadline);
                st = lock(&self.state);
                st.leader = false;
                if st.waiters > 0 {
                    self.wake.notify_all();
                }
                if let Lead::TimedOut = lead {
                    if matches!(st.pending.get(&id), Some(Slot::Waiting)) {
                        drop(st);
                        self.timed_out(id, describe, wedge);
                        st = lock(&self.state);
                    }
                }
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                drop(st);
                self.timed_out(id, describe, wedge);
                st = lock(&self.state);
                continue;
            }
            st.waiters += 1;
            st = self
                .wake
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            st.waiters -= 1;
        }
    }

    /// Reads stdout until the slot of `id` is resolved or `deadline` passes.
    fn lead(&self, id: u64, deadline: Instant) -> Lead {
        let mut reader = lock(&self.reader);
        loop {
            {
                let st = lock(&self.state);
                if !matches!(st.pending.get(&id), Some(Slot::Waiting)) {
                    return Lead::Resolved;
                }
            }
            let outcome = reader.read_line(Some(deadline));
            match outcome {
                Ok(ReadOutcome::Line(line)) => {
                    if self.dispatch(id, &line) {
                        return Lead::Resolved;
                    }
                }
                Ok(ReadOutcome::TimedOut) => {
                    if Instant::now() >= deadline {
                        return Lead::TimedOut;
                    }
                }
                Ok(ReadOutcome::Eof(_fragment)) => {
                    // An unterminated fragment before EOF is not reported: the exit is the cause.
                    drop(reader);
                    self.child_gone();
                    return Lead::Resolved;
                }
                Ok(ReadOutcome::TooLong { seen, head }) => {
                    drop(reader);
                    self.fail_all(Fault::Protocol {
                        reason: format!(
                            "message of at least {seen} bytes exceeds limit {}",
                            self.options.max_message_bytes
                        ),
                        excerpt: excerpt(&head),
                    });
                    return Lead::Resolved;
                }
                Err(e) => {
                    drop(reader);
                    self.fail_all(Fault::Protocol {
                        reason: format!("cannot read the plugin's stdout: {e}"),
                        excerpt: String::new(),
                    });
                    return Lead::Resolved;
                }
            }
        }
    }

    /// Handles one response line. Returns true when it resolved `own` (or a
    /// fault resolved everything).
    fn dispatch(&self, own: u64, line: &[u8]) -> bool {
        let parsed = parse_line(line).and_then(|value| {
            if value.get("method").is_some() {
                self.runtime_request(value).map(|()| None)
            } else {
                response_from_value(value).map(Some)
            }
        });
        let response = match parsed {
            Ok(Some(r)) => r,
            // A runtime request, handed to a thread of its own.
            Ok(None) => return false,
            Err(reason) => {
                self.fail_all(Fault::Protocol {
                    reason,
                    excerpt: excerpt(line),
                });
                return true;
            }
        };
        let id = match response.id.as_u64() {
            Some(id) => id,
            None => {
                let reason = if response.id.is_null() {
                    match &response.outcome {
                        Err(e) => {
                            format!("the plugin rejected a request it could not identify: {e}")
                        }
                        Ok(_) => "a result with a null id".to_string(),
                    }
                } else {
                    format!("unexpected id {}", response.id)
                };
                self.fail_all(Fault::Protocol {
                    reason,
                    excerpt: excerpt(line),
                });
                return true;
            }
        };
        let mut st = lock(&self.state);
        match st.pending.get_mut(&id) {
            Some(slot @ Slot::Waiting) => {
                *slot = Slot::Answered(response.outcome);
                if id != own && st.waiters > 0 {
                    self.wake.notify_all();
                }
                id == own
            }
            _ => {
                drop(st);
                self.fail_all(Fault::Protocol {
                    reason: format!("unexpected id {id}: no request with this id is pending"),
                    excerpt: excerpt(line),
                });
                true
            }
        }
    }
}

impl Drop for IpcConnection {
    fn drop(&mut self) {
        self.close();
    }
}
