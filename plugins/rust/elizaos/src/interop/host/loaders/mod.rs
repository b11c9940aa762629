//! IPC loaders (protocol.md section 7.1): any command, Python plugins through
//! `elizaos_interop.bridge_server`, TypeScript plugins through the
//! `@elizaos/interop` bridge on Node or Bun.
//!
//! One module per loader family: [`IpcPluginLoader`] (any command) here, with the builder
//! settings and helpers they share; `python` and `typescript` beside it.

use std::env;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{ErrorContext, InteropError, Transport};
use super::ipc::{IpcConnection, IpcOptions};
use super::loaded::{Backend, LoadedPlugin};

/// Builder methods shared by every IPC loader.
macro_rules! ipc_settings {
    () => {
        /// Time allowed for the first `getManifest` answer (default 10 s).
        pub fn start_timeout(mut self, timeout: Duration) -> Self {
            self.options.start_timeout = timeout;
            self
        }

        /// Default per-call time-out (default 30 s).
        pub fn call_timeout(mut self, timeout: Duration) -> Self {
            self.options.call_timeout = timeout;
            self
        }

        /// Grace period of `close`/`Drop` after `shutdown` and after SIGTERM (default 2 s).
        pub fn grace_period(mut self, grace: Duration) -> Self {
            self.options.grace_period = grace;
            self
        }

        /// Largest message sent or accepted, in bytes (default 16 MiB).
        pub fn max_message_bytes(mut self, bytes: usize) -> Self {
            self.options.max_message_bytes = bytes;
            self
        }

        /// Sets an environment variable for the plugin process.
        pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
            self.options
                .env
                .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
            self
        }

        /// Working directory of the plugin process.
        pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
            self.options.current_dir = Some(dir.as_ref().to_owned());
            self
        }

        /// Replaces every IPC setting at once.
        pub fn options(mut self, options: IpcOptions) -> Self {
            self.options = options;
            self
        }
    };
}

mod python;
mod typescript;

pub use python::PythonPluginLoader;
pub use typescript::{TsRuntime, TypeScriptPluginLoader};

fn load_error(label: &str, cause: String) -> InteropError {
    InteropError::Load {
        context: ErrorContext::boxed(label, "load", None, Transport::Ipc),
        cause,
    }
}

/// Spawns `argv` and completes the load with `getManifest` under the start time-out.
fn start(
    argv: Vec<OsString>,
    options: IpcOptions,
    label: String,
) -> Result<LoadedPlugin, InteropError> {
    let start_timeout = options.start_timeout;
    let conn = IpcConnection::spawn(&argv, options, label.clone())?;
    LoadedPlugin::from_backend(Backend::Ipc(Box::new(conn)), &label, Some(start_timeout))
}

/// Loads any plugin that speaks the IPC protocol, given its command line.
///
/// ```
/// use elizaos::interop::{IpcPluginLoader, Transport};
/// use serde_json::json;
///
/// # fn main() -> Result<(), elizaos::interop::InteropError> {
/// // A plugin written against the wire alone (protocol.md section 3), in the seed's dialect.
/// let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/raw_plugin.py");
/// let plugin = IpcPluginLoader::new().load_command(&["python3", script, "seed"])?;
/// assert_eq!(plugin.transport(), Transport::Ipc);
/// let memory = json!({"content": {"text": "hi"}});
/// let result = plugin.invoke_action("act", &memory, &json!({}), &json!({}))?;
/// assert_eq!(result["success"], true);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct IpcPluginLoader {
    options: IpcOptions,
}

impl IpcPluginLoader {
    /// A loader with the default settings.
    pub fn new() -> Self {
        Self::default()
    }

    ipc_settings!();

    /// Spawns `argv` (no shell) and loads the plugin it serves.
    pub fn load_command<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<LoadedPlugin, InteropError> {
        let argv: Vec<OsString> = argv.iter().map(|a| a.as_ref().to_owned()).collect();
        let label = argv
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        start(argv, self.options.clone(), label)
    }
}

/// Looks upward from each start directory for the first relative path that exists.
fn search_upward(starts: &[PathBuf], candidates: &[&str]) -> Option<PathBuf> {
    for start in starts {
        for dir in start.ancestors() {
            for candidate in candidates {
                let path = dir.join(candidate);
                if path.is_file() {
                    return Some(path);
                }
            }
        }
    }
    None
}

/// Directories to search from: the plugin's own directory, then the current one.
fn search_roots(plugin: &Path) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    let cwd = env::current_dir().ok();
    let absolute = if plugin.is_absolute() {
        Some(plugin.to_path_buf())
    } else {
        cwd.as_ref().map(|c| c.join(plugin))
    };
    if let Some(abs) = absolute {
        let dir = if abs.is_dir() {
            abs
        } else {
            abs.parent().map(Path::to_path_buf).unwrap_or(abs)
        };
        roots.push(dir);
    }
    roots.extend(cwd);
    roots
}

/// `$name` when set and non-empty, else `default`.
fn env_or(name: &str, default: &str) -> OsString {
    env::var_os(name)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.into())
}
