//! [`IpcOptions`]: the settings of an IPC plugin process.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::interop::wire::DEFAULT_MAX_MESSAGE_BYTES;

/// Settings of an IPC plugin process. Every loader exposes them as builder methods.
#[derive(Debug, Clone)]
pub struct IpcOptions {
    /// Time allowed for the first `getManifest` answer (default 10 s).
    pub start_timeout: Duration,
    /// Default per-call time-out (default 30 s); calls may override it.
    pub call_timeout: Duration,
    /// How long `close`/`Drop` waits after `shutdown` and after SIGTERM (default 2 s).
    pub grace_period: Duration,
    /// Largest message sent or accepted, in bytes (default 16 MiB).
    pub max_message_bytes: usize,
    /// Extra environment variables for the child.
    pub env: Vec<(OsString, OsString)>,
    /// Working directory of the child (default: the host's).
    pub current_dir: Option<PathBuf>,
}

impl Default for IpcOptions {
    fn default() -> Self {
        IpcOptions {
            start_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(30),
            grace_period: Duration::from_secs(2),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            env: Vec::new(),
            current_dir: None,
        }
    }
}
