//! The eliza-classic plugin served over IPC (protocol.md section 3).
//! On wasm32 (built when the crate is compiled with default features for WASM) there is no process
//! to serve, so the binary is empty: no `main`, no code.
#![cfg_attr(target_arch = "wasm32", no_main)]

#[cfg(not(target_arch = "wasm32"))]
use std::process::ExitCode;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> ExitCode {
    elizaos::interop::server::serve(elizaos_plugin_eliza_classic::ElizaClassic::new())
}
