//! Rust loading a Python plugin over IPC (the interop README's snippet 6).
//!
//! ```text
//! cargo run --example rust_loads_python [-- path/to/plugin.py-or-package-dir]
//! ```
//! Defaults to the repository's eliza-classic Python plugin package and
//! prints its reply to "I am feeling sad". The interpreter is
//! `$ELIZAOS_PYTHON`, else `python3`.

use std::path::{Path, PathBuf};

use elizaos::interop::PythonPluginLoader;
use serde_json::json;

/// Prints a failure in Display form (plugin, method, transport and cause), never as Debug.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../plugins/python/fixtures/eliza_classic")
        });

    let loader = PythonPluginLoader::new();
    let plugin = loader.load(&path)?;
    println!(
        "Plugin: {} ({} {})",
        plugin.name(),
        plugin.language(),
        plugin.version()
    );
    println!("Actions: {:?}", plugin.action_names());

    let memory = json!({ "content": { "text": "I am feeling sad" } });
    let state = json!({});
    let options = json!({});

    // Invoke action via IPC
    let result = plugin.invoke_action("generate-response", &memory, &state, &options)?;
    println!(
        "Response: {}",
        result["text"].as_str().unwrap_or("<no text>")
    );
    Ok(())
}
