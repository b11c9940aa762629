//! Rust loading a TypeScript plugin over IPC (the interop README's snippet 5).
//!
//! ```text
//! cargo run --example rust_loads_typescript [-- path/to/plugin.ts]
//! ```
//! Defaults to the repository's eliza-classic TypeScript plugin and prints
//! its reply to "I am feeling sad". Node >= 22 comes from `$ELIZAOS_NODE`,
//! else the checkout's `plugins/typescript/node_modules/.bin/node`, else `node`.

use std::path::{Path, PathBuf};

use elizaos::interop::TypeScriptPluginLoader;
use serde_json::json;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

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
        .unwrap_or_else(|| repo_root().join("plugins/typescript/fixtures/eliza-classic/plugin.ts"));

    let mut loader = TypeScriptPluginLoader::new();
    let checkout_node = repo_root().join("plugins/typescript/node_modules/.bin/node");
    if std::env::var_os("ELIZAOS_NODE").is_none() && checkout_node.exists() {
        loader = loader.runtime_binary(checkout_node);
    }
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
