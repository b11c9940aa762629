//! Shared helpers of the host tests: locating real plugin artifacts (a
//! missing one fails the test with the command that builds it), a hang guard,
//! and the "child was reaped" check.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

/// Upper bound for any single test step: generous, only detects hangs.
pub const HANG_GUARD: Duration = Duration::from_secs(20);

/// The repository root (`plugins/rust/elizaos` is three levels below it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(3)
        .expect("CARGO_MANIFEST_DIR has three ancestors")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("plugins/rust/target"))
}

/// The newest of `target/{release,debug}/<file>`, or a panic naming the build command.
pub fn artifact(file: &str, build: &str) -> PathBuf {
    let found = ["release", "debug"]
        .iter()
        .map(|profile| target_dir().join(profile).join(file))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    found.unwrap_or_else(|| {
        panic!(
            "missing test artifact {file} under {}: build it with `cd plugins/rust && {build}`",
            target_dir().display()
        )
    })
}

/// The Rust conformance fixture's IPC server binary.
pub fn conformance_ipc() -> PathBuf {
    artifact(
        "conformance-ipc",
        "cargo build --release -p plugin-conformance --features ipc --bin conformance-ipc",
    )
}

/// The Rust conformance fixture's shared library.
pub fn conformance_so() -> PathBuf {
    artifact(
        "libelizaos_plugin_conformance.so",
        "cargo build --release -p plugin-conformance --features ffi --lib",
    )
}

/// A file of the repository that must exist.
pub fn repo_file(rel: &str) -> PathBuf {
    let path = repo_root().join(rel);
    assert!(path.exists(), "missing test fixture {}", path.display());
    path
}

/// The Python interpreter for plugin processes.
pub fn python() -> String {
    std::env::var("ELIZAOS_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Runs `f` on another thread and fails the test if it does not return in time.
pub fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG_GUARD)
        .unwrap_or_else(|_| panic!("{what} did not return within {HANG_GUARD:?}: the host hung"))
}

/// Asserts that our child `pid` has been reaped (waitpid says it is not our child any more).
pub fn assert_reaped(pid: u32) {
    let mut status = 0;
    // SAFETY: plain waitpid on a pid; WNOHANG never blocks.
    let rc = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
    let err = std::io::Error::last_os_error();
    assert!(
        rc == -1 && err.raw_os_error() == Some(libc::ECHILD),
        "child {pid} was not reaped by the host (waitpid returned {rc}: {})",
        if rc == 0 {
            "still running"
        } else {
            "left as a zombie"
        }
    );
}

/// A Memory with `text`.
pub fn memory(text: &str) -> Value {
    json!({ "content": { "text": text } })
}

/// `{}`.
pub fn empty() -> Value {
    json!({})
}

/// Our live (or zombie) child processes whose command line contains `needle`.
pub fn children_matching(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised command: state, ppid, ...
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if ppid == Some(me) && String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(pid);
        }
    }
    found
}
