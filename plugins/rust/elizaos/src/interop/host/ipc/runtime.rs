//! Requests from the plugin (section 11.2): checked, then answered from the runtime of the call
//! they name, on threads of their own so the reader keeps reading (11.4).

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::{lock, IpcConnection};
use crate::interop::host::pipe::{fd_of, write_all_deadline};
use crate::interop::plugin::{is_runtime_method, AgentRuntime, RuntimeError};
use crate::interop::wire::{
    codes, is_valid_id, json_type_name, panic_message, response_line, RpcError,
};

impl IpcConnection {
    /// A request from the plugin (section 11.2): checks it, then answers it
    /// from the runtime of the call it names on a thread of its own, so the
    /// reader keeps reading while the runtime runs (11.4; the runtime may call
    /// back into this plugin). `Err` is a protocol fault: a request without a
    /// usable id cannot be answered.
    pub(super) fn runtime_request(&self, value: Value) -> Result<(), String> {
        let Value::Object(mut request) = value else {
            return Err("a request from the plugin is not an object".into());
        };
        let id = match request.remove("id") {
            Some(id) if is_valid_id(&id) => id,
            other => {
                return Err(format!(
                    "a request from the plugin has no valid id (received {})",
                    other.map_or_else(|| "none".to_string(), |v| v.to_string())
                ))
            }
        };
        let method = request
            .remove("method")
            .and_then(|m| m.as_str().map(str::to_owned))
            .unwrap_or_default();
        let params = request.remove("params").unwrap_or(Value::Null);
        let job = match method.strip_prefix("runtime.") {
            None => Err(RpcError::with_data(
                codes::METHOD_NOT_FOUND,
                format!("method not found: {method:?} (a plugin may only call runtime.<method>)"),
                serde_json::json!({ "method": method }),
            )),
            // A name outside 11.3 is refused as if the runtime lacked it (a plugin may be
            // untrusted code; `AgentRuntime::call` is only asked for the table's names).
            Some(name) if !is_runtime_method(name) => Err(RpcError::with_data(
                codes::METHOD_NOT_FOUND,
                format!("runtime.{name} is not provided by the host"),
                serde_json::json!({ "method": name }),
            )),
            Some(name) => self.runtime_job(name, &params),
        };
        let stdin = Arc::clone(&self.stdin);
        let deadline = Instant::now() + self.options.call_timeout;
        let limit = self.options.max_message_bytes;
        let name = method
            .strip_prefix("runtime.")
            .unwrap_or(&method)
            .to_owned();
        let spawned = std::thread::Builder::new()
            .name(format!("elizaos-runtime-{}", self.pid))
            .spawn(move || {
                let outcome = match job {
                    Ok((runtime, args)) => run_runtime_method(runtime.as_ref(), &name, args),
                    Err(e) => Err(e),
                };
                let mut line = response_line(&id, &outcome).into_bytes();
                if line.len() > limit {
                    let err = RpcError::with_data(
                        codes::INTERNAL_ERROR,
                        format!(
                            "runtime.{name} returned a value that is not JSON: {} bytes exceed the message limit of {limit} bytes",
                            line.len()
                        ),
                        serde_json::json!({ "method": name }),
                    );
                    line = response_line(&id, &Err(err)).into_bytes();
                }
                line.push(b'\n');
                let stdin = lock(&stdin);
                if let Some(pipe) = stdin.as_ref() {
                    // A plugin that is gone or wedged is the caller's time-out to report.
                    let _ = write_all_deadline(fd_of(pipe), &line, Some(deadline));
                }
            });
        spawned
            .map(|_| ())
            .map_err(|e| format!("cannot start a thread for a runtime request: {e}"))
    }

    /// The runtime and arguments of a runtime request, or the error to answer (11.2).
    #[allow(clippy::type_complexity)]
    pub(super) fn runtime_job(
        &self,
        name: &str,
        params: &Value,
    ) -> Result<(Arc<dyn AgentRuntime>, Vec<Value>), RpcError> {
        let call = params.get("call");
        let runtime = call
            .and_then(Value::as_u64)
            .and_then(|c| lock(&self.state).runtimes.get(&c).cloned());
        let Some(runtime) = runtime else {
            let shown = call.map_or_else(|| "(none)".to_string(), Value::to_string);
            return Err(RpcError::with_data(
                codes::INVALID_PARAMS,
                format!("runtime call for unknown call {shown}"),
                serde_json::json!({ "param": "call" }),
            ));
        };
        match params.get("args") {
            Some(Value::Array(args)) => Ok((runtime, args.clone())),
            other => {
                let received = other.map_or("missing", json_type_name);
                Err(RpcError::with_data(
                    codes::INVALID_PARAMS,
                    format!("invalid params: \"args\" of runtime.{name} must be an array, received {received}"),
                    serde_json::json!({ "param": "args", "expected": "array", "received": received }),
                ))
            }
        }
    }
}

/// Calls one runtime method and turns its outcome into the answer of 11.2.
/// A panicking runtime is a failed method (-32000), never a dead reader.
fn run_runtime_method(
    runtime: &dyn AgentRuntime,
    method: &str,
    args: Vec<Value>,
) -> Result<Value, RpcError> {
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.call(method, args)));
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(RuntimeError::NotProvided { .. })) => Err(RpcError::with_data(
            codes::METHOD_NOT_FOUND,
            format!("runtime.{method} is not provided by the host"),
            serde_json::json!({ "method": method }),
        )),
        Ok(Err(RuntimeError::Call {
            code,
            message,
            data,
        })) => {
            let data = data.or_else(|| {
                (code == codes::HANDLER_FAILED)
                    .then(|| serde_json::json!({ "method": method, "exception": "RuntimeError" }))
            });
            Err(RpcError {
                code,
                message,
                data,
            })
        }
        Err(payload) => {
            let message = panic_message(payload.as_ref())
                .unwrap_or_else(|| format!("runtime.{method} panicked"));
            Err(RpcError::with_data(
                codes::HANDLER_FAILED,
                message,
                serde_json::json!({ "method": method, "exception": "panic" }),
            ))
        }
    }
}
