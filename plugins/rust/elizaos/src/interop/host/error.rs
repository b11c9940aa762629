//! Typed host-side errors (protocol.md section 7.2).
//!
//! Every error carries an [`ErrorContext`] naming the plugin, the method, the
//! action/provider/evaluator name when there is one, and the transport, so a
//! message read in a log says exactly which call failed and how.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

pub use crate::interop::wire::Transport;

/// Which call failed: plugin (manifest name, or the path/command before the
/// manifest is known), protocol method, target name and transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorContext {
    /// Plugin name from the manifest, or the path/command while loading.
    pub plugin: String,
    /// Protocol method (`invokeAction`, `getManifest`, ...), or `load`.
    pub method: String,
    /// Action/provider/evaluator name the call addressed, if any.
    pub target: Option<String>,
    /// Transport of the plugin object.
    pub transport: Transport,
}

impl ErrorContext {
    /// Builds a context.
    pub fn new(
        plugin: impl Into<String>,
        method: impl Into<String>,
        target: Option<&str>,
        transport: Transport,
    ) -> Self {
        ErrorContext {
            plugin: plugin.into(),
            method: method.into(),
            target: target.map(str::to_owned),
            transport,
        }
    }
}

impl ErrorContext {
    /// [`ErrorContext::new`], boxed as the error variants hold it (keeps
    /// `Result<_, InteropError>` small).
    pub fn boxed(
        plugin: impl Into<String>,
        method: impl Into<String>,
        target: Option<&str>,
        transport: Transport,
    ) -> Box<Self> {
        Box::new(Self::new(plugin, method, target, transport))
    }
}

impl fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.plugin, self.method)?;
        if let Some(target) = &self.target {
            // Debug formatting quotes and escapes the name.
            write!(f, "({target:?})")?;
        }
        write!(f, " over {}", self.transport)
    }
}

/// How a plugin process ended, as far as the host could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitState {
    /// Exited normally with this status code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
    /// The plugin object was already closed (by an earlier fault or by the host).
    Closed,
    /// Exit status unknown (e.g. a library-level failure).
    Unknown,
}

impl fmt::Display for ExitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitState::Code(c) => write!(f, "process exited with status {c}"),
            ExitState::Signal(s) => write!(f, "process was killed by signal {s}"),
            ExitState::Closed => f.write_str("plugin is closed"),
            ExitState::Unknown => f.write_str("process ended (status unknown)"),
        }
    }
}

/// Every failure of a host-side plugin call (protocol.md 7.2).
#[derive(Debug, Clone)]
pub enum InteropError {
    /// `PluginLoadError`: file missing, not a plugin, bad manifest, start
    /// time-out, toolchain missing.
    Load {
        /// Which load failed.
        context: Box<ErrorContext>,
        /// Human-readable cause.
        cause: String,
    },
    /// `PluginCallError`: the plugin answered with an error.
    Call {
        /// Which call failed.
        context: Box<ErrorContext>,
        /// JSON-RPC error code (section 4).
        code: i64,
        /// The plugin's message.
        message: String,
        /// The plugin's `data` member, if any.
        data: Option<Value>,
    },
    /// `PluginTimeoutError`: no answer within the time-out.
    Timeout {
        /// Which call failed.
        context: Box<ErrorContext>,
        /// The time-out that applied to this call.
        timeout: Duration,
        /// Set when this call was pending while another call timed out and
        /// the process was killed as wedged: describes that call.
        wedged_by: Option<String>,
    },
    /// `PluginCrashError`: the process exited, or the plugin is closed.
    Crash {
        /// Which call failed.
        context: Box<ErrorContext>,
        /// Exit code, signal, or "closed".
        exit: ExitState,
        /// Why the plugin was closed, when it was closed by an earlier fault.
        detail: Option<String>,
        /// Last bytes of the plugin's stderr (at most 64 KiB), lossily decoded.
        stderr_tail: String,
    },
    /// `PluginProtocolError`: garbage, unexpected id, oversize message,
    /// invalid envelope.
    Protocol {
        /// Which call failed.
        context: Box<ErrorContext>,
        /// What was wrong.
        reason: String,
        /// The offending bytes (first 200), lossily decoded.
        excerpt: String,
    },
    /// `InvalidPayloadError`: the host refused to send a value outside the
    /// JSON profile; nothing was sent.
    InvalidPayload {
        /// Which call was refused.
        context: Box<ErrorContext>,
        /// JSON-pointer-like path of the offending value (`params.memory.content`).
        path: String,
        /// What was wrong with it.
        reason: String,
    },
}

/// Maximum number of bytes of an offending message quoted in a protocol error.
pub const EXCERPT_BYTES: usize = 200;

/// First [`EXCERPT_BYTES`] bytes of `bytes`, lossily decoded.
pub fn excerpt(bytes: &[u8]) -> String {
    let cut = bytes.len().min(EXCERPT_BYTES);
    String::from_utf8_lossy(&bytes[..cut]).into_owned()
}

impl InteropError {
    /// The context (plugin, method, target, transport) of the failed call.
    pub fn context(&self) -> &ErrorContext {
        match self {
            InteropError::Load { context, .. }
            | InteropError::Call { context, .. }
            | InteropError::Timeout { context, .. }
            | InteropError::Crash { context, .. }
            | InteropError::Protocol { context, .. }
            | InteropError::InvalidPayload { context, .. } => context,
        }
    }

    /// Plugin name (or path/command when loading failed).
    pub fn plugin(&self) -> &str {
        &self.context().plugin
    }

    /// Protocol method of the failed call.
    pub fn method(&self) -> &str {
        &self.context().method
    }

    /// Transport of the failed call.
    pub fn transport(&self) -> Transport {
        self.context().transport
    }

    /// The error class name of protocol.md 7.2 (`PluginCallError`, ...), as
    /// reported by host drivers.
    pub fn type_name(&self) -> &'static str {
        match self {
            InteropError::Load { .. } => "PluginLoadError",
            InteropError::Call { .. } => "PluginCallError",
            InteropError::Timeout { .. } => "PluginTimeoutError",
            InteropError::Crash { .. } => "PluginCrashError",
            InteropError::Protocol { .. } => "PluginProtocolError",
            InteropError::InvalidPayload { .. } => "InvalidPayloadError",
        }
    }

    /// The message without its leading context (`plugin: method over transport`).
    pub fn detail(&self) -> String {
        let full = self.to_string();
        let prefix = format!("{} ", self.context());
        full.strip_prefix(&prefix)
            .map(str::to_owned)
            .unwrap_or(full)
    }

    /// The JSON-RPC code for a [`InteropError::Call`], else `None`.
    pub fn code(&self) -> Option<i64> {
        match self {
            InteropError::Call { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Appends the stderr tail to a message, on its own lines, when non-empty.
fn write_tail(f: &mut fmt::Formatter<'_>, tail: &str) -> fmt::Result {
    let trimmed = tail.trim_end();
    if trimmed.is_empty() {
        Ok(())
    } else {
        // Quote at most the last 2000 characters in the message; the full
        // tail stays available in the `stderr_tail` field.
        let chars: Vec<char> = trimmed.chars().collect();
        let start = chars.len().saturating_sub(2000);
        let shown: String = chars[start..].iter().collect();
        write!(f, "; stderr tail:\n{shown}")
    }
}

impl fmt::Display for InteropError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InteropError::Load { context, cause } => {
                write!(f, "{context} failed to load: {cause}")
            }
            InteropError::Call {
                context,
                code,
                message,
                data,
            } => {
                write!(f, "{context} failed with error {code}: {message}")?;
                if let Some(data) = data {
                    write!(f, " (data: {data})")?;
                }
                Ok(())
            }
            InteropError::Timeout {
                context,
                timeout,
                wedged_by,
            } => match wedged_by {
                None => write!(f, "{context} timed out after {} ms", timeout.as_millis()),
                Some(other) => write!(
                    f,
                    "{context} was abandoned: the plugin was killed as wedged after {other}"
                ),
            },
            InteropError::Crash {
                context,
                exit,
                detail,
                stderr_tail,
            } => {
                write!(f, "{context} failed: {exit}")?;
                if let Some(detail) = detail {
                    write!(f, " ({detail})")?;
                }
                write_tail(f, stderr_tail)
            }
            InteropError::Protocol {
                context,
                reason,
                excerpt,
            } => {
                write!(f, "{context} protocol error: {reason}")?;
                if !excerpt.is_empty() {
                    write!(f, "; offending bytes: {excerpt:?}")?;
                }
                Ok(())
            }
            InteropError::InvalidPayload {
                context,
                path,
                reason,
            } => write!(
                f,
                "{context} refused to send an invalid payload at {path}: {reason}"
            ),
        }
    }
}

impl std::error::Error for InteropError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_message_matches_the_spec_example() {
        let err = InteropError::Timeout {
            context: ErrorContext::boxed(
                "conformance-fixture",
                "invokeAction",
                Some("slow"),
                Transport::Ipc,
            ),
            timeout: Duration::from_millis(200),
            wedged_by: None,
        };
        assert_eq!(
            err.to_string(),
            "conformance-fixture: invokeAction(\"slow\") over ipc timed out after 200 ms"
        );
        assert_eq!(err.type_name(), "PluginTimeoutError");
        assert_eq!(err.code(), None);
    }

    #[test]
    fn call_error_carries_code_and_data() {
        let err = InteropError::Call {
            context: ErrorContext::boxed("p", "invokeAction", Some("x"), Transport::Ffi),
            code: -32001,
            message: "unknown action".into(),
            data: Some(serde_json::json!({"kind": "action", "name": "x"})),
        };
        assert_eq!(err.code(), Some(-32001));
        assert!(err
            .to_string()
            .starts_with("p: invokeAction(\"x\") over ffi failed with error -32001"));
    }

    #[test]
    fn excerpt_is_cut_to_200_bytes() {
        let long = vec![b'a'; 1000];
        assert_eq!(excerpt(&long).len(), EXCERPT_BYTES);
    }
}
