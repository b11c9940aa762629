//! [`TimedCalls`]: the calls of a [`LoadedPlugin`] with a per-call time-out and/or a runtime.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::checks::{check_depth, check_result, is_handler_method, target_of, within_depth};
use super::error::{ErrorContext, InteropError};
use super::ffi::FfiPlugin;
use super::ipc::WireParams;
use super::loaded::{Backend, LoadedPlugin};
use crate::interop::plugin::{runtime_context, AgentRuntime};
use crate::interop::wire::{methods, write_json, write_json_str};

/// `params` of the handler methods, serialised without copying the values.
struct HandlerParams<'a> {
    name: &'a str,
    memory: &'a Value,
    state: &'a Value,
    /// Absent (not `null`) when `None`.
    options: Option<&'a Value>,
    /// The call context of section 11.1, when the call passes a runtime; absent when `None`.
    runtime: Option<&'a Value>,
}

impl WireParams for HandlerParams<'_> {
    /// `{"name":..,"memory":..,"state":..[,"options":..][,"runtime":..]}`, in this order.
    fn write_params(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"name\":");
        write_json_str(out, self.name);
        out.extend_from_slice(b",\"memory\":");
        write_json(out, self.memory);
        out.extend_from_slice(b",\"state\":");
        write_json(out, self.state);
        if let Some(options) = self.options {
            out.extend_from_slice(b",\"options\":");
            write_json(out, options);
        }
        if let Some(runtime) = self.runtime {
            out.extend_from_slice(b",\"runtime\":");
            write_json(out, runtime);
        }
        out.push(b'}');
    }
}

/// `{"config":..}`: the params of `init`.
struct InitParams<'a> {
    config: &'a Value,
}

impl WireParams for InitParams<'_> {
    fn write_params(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"config\":");
        write_json(out, self.config);
        out.push(b'}');
    }
}

/// Calls on a [`LoadedPlugin`] with a per-call time-out; see
/// [`LoadedPlugin::with_timeout`].
#[derive(Debug, Clone, Copy)]
pub struct TimedCalls<'a> {
    pub(super) plugin: &'a LoadedPlugin,
    pub(super) timeout: Option<Duration>,
    pub(super) runtime: Option<&'a Arc<dyn AgentRuntime>>,
}

impl<'a> TimedCalls<'a> {
    /// The same calls with a per-call time-out of `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The same calls passing `runtime` (see [`LoadedPlugin::with_runtime`]).
    pub fn with_runtime(mut self, runtime: &'a Arc<dyn AgentRuntime>) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// The runtime to send with a handler call: only to a plugin that
    /// declared the `"runtime"` capability (section 12), only over IPC.
    fn runtime_for_call(&self) -> Option<&'a Arc<dyn AgentRuntime>> {
        let runtime = self.runtime?;
        match &self.plugin.backend {
            Backend::Ipc(conn) if conn.accepts_runtime() => Some(runtime),
            _ => None,
        }
    }
    fn context(&self, method: &str, target: Option<&str>) -> Box<ErrorContext> {
        ErrorContext::boxed(
            self.plugin.name.as_str(),
            method,
            target,
            self.plugin.transport(),
        )
    }

    /// Sends a typed request and checks the result.
    fn send<P: WireParams + ?Sized>(
        &self,
        method: &str,
        target: Option<&str>,
        params: &P,
        ffi: impl FnOnce(&FfiPlugin) -> Result<Value, InteropError>,
    ) -> Result<Value, InteropError> {
        let raw = match (&self.plugin.backend, self.runtime_for_call()) {
            (Backend::Ipc(conn), Some(runtime)) if is_handler_method(method) => {
                conn.call_with_runtime(method, target, params, self.timeout, runtime)?
            }
            (Backend::Ipc(conn), _) => conn.call(method, target, params, self.timeout)?,
            (Backend::Ffi(lib), _) => ffi(lib)?,
        };
        check_result(method, raw).map_err(|reason| InteropError::Protocol {
            context: self.context(method, target),
            reason: format!("invalid result: {reason}"),
            excerpt: String::new(),
        })
    }

    fn checked(
        &self,
        method: &str,
        target: Option<&str>,
        parts: &[(&str, &Value)],
    ) -> Result<(), InteropError> {
        for (param, value) in parts {
            // The path string is built only for a value that is too deep.
            if within_depth(value, 2) {
                continue;
            }
            check_depth(value, &format!("params.{param}"), 2).map_err(|(path, reason)| {
                InteropError::InvalidPayload {
                    context: self.context(method, target),
                    path,
                    reason,
                }
            })?;
        }
        Ok(())
    }

    fn handler(
        &self,
        method: &str,
        name: &str,
        memory: &Value,
        state: &Value,
        options: Option<&Value>,
    ) -> Result<Value, InteropError> {
        let empty = Value::Object(Map::new());
        self.checked(
            method,
            Some(name),
            &[
                ("memory", memory),
                ("state", state),
                ("options", options.unwrap_or(&empty)),
            ],
        )?;
        let context = self
            .runtime_for_call()
            .map(|rt| runtime_context(rt.as_ref()));
        let params = HandlerParams {
            name,
            memory,
            state,
            options,
            runtime: context.as_ref(),
        };
        self.send(method, Some(name), &params, |lib| {
            lib.call_handler(method, name, memory, state, options)
        })
    }

    /// `init(config)`.
    pub fn init(&self, config: &Value) -> Result<(), InteropError> {
        self.checked(methods::INIT, None, &[("config", config)])?;
        let params = InitParams { config };
        self.send(methods::INIT, None, &params, |lib| lib.call_init(config))?;
        Ok(())
    }

    /// `validateAction`.
    pub fn validate_action(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<bool, InteropError> {
        Ok(self
            .handler(methods::VALIDATE_ACTION, name, memory, state, None)?
            .as_bool()
            .unwrap_or(false))
    }

    /// `invokeAction`.
    pub fn invoke_action(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
        options: &Value,
    ) -> Result<Value, InteropError> {
        self.handler(methods::INVOKE_ACTION, name, memory, state, Some(options))
    }

    /// `getProvider`.
    pub fn get_provider(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<Value, InteropError> {
        self.handler(methods::GET_PROVIDER, name, memory, state, None)
    }

    /// `validateEvaluator`.
    pub fn validate_evaluator(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<bool, InteropError> {
        Ok(self
            .handler(methods::VALIDATE_EVALUATOR, name, memory, state, None)?
            .as_bool()
            .unwrap_or(false))
    }

    /// `invokeEvaluator`.
    pub fn invoke_evaluator(
        &self,
        name: &str,
        memory: &Value,
        state: &Value,
    ) -> Result<Option<Value>, InteropError> {
        let v = self.handler(methods::INVOKE_EVALUATOR, name, memory, state, None)?;
        Ok((!v.is_null()).then_some(v))
    }

    /// Any method with raw params (see [`LoadedPlugin::call_method`]).
    pub fn call_method(&self, method: &str, params: &Value) -> Result<Value, InteropError> {
        let target = target_of(params);
        if method == methods::SHUTDOWN {
            return Err(InteropError::InvalidPayload {
                context: self.context(method, target),
                path: "method".into(),
                reason: "shutdown is sent by close/drop, not by callers".into(),
            });
        }
        check_depth(params, "params", 1).map_err(|(path, reason)| {
            InteropError::InvalidPayload {
                context: self.context(method, target),
                path,
                reason,
            }
        })?;
        match self.runtime_for_call() {
            Some(rt) if is_handler_method(method) && params.is_object() => {
                let mut with_context = params.clone();
                with_context["runtime"] = runtime_context(rt.as_ref());
                self.send(method, target, &with_context, |lib| {
                    lib.call(method, params)
                })
            }
            _ => self.send(method, target, params, |lib| lib.call(method, params)),
        }
    }
}
