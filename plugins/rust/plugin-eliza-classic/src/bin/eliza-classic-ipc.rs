//! The eliza-classic plugin served over IPC (protocol.md section 3).

use std::process::ExitCode;

fn main() -> ExitCode {
    elizaos::interop::server::serve(elizaos_plugin_eliza_classic::ElizaClassic::new())
}
