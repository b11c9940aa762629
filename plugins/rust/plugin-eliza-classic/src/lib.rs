//! The classic ELIZA plugin (protocol.md section 9, docs/eliza.md section 8): action
//! `generate-response` answers `memory.content.text` with the ELIZA engine, provider
//! `eliza-greeting` gives the DOCTOR script's opening line. One plugin instance is one
//! conversation. Exported over WASM (`wasm`), C FFI (`ffi`) and IPC (`ipc`, binary `eliza-classic-ipc`).

pub mod engine;

use elizaos::interop::{
    memory_text, ActionDescriptor, ActionResult, Manifest, Plugin, PluginError, ProviderDescriptor,
    ProviderResult,
};
use engine::Eliza;
use serde_json::Value;
use std::sync::Mutex;

/// The eliza-classic plugin: one ELIZA conversation.
#[derive(Debug, Default)]
pub struct ElizaClassic {
    conversation: Mutex<Eliza>,
}

impl ElizaClassic {
    /// A plugin with a fresh conversation.
    pub fn new() -> Self {
        ElizaClassic {
            conversation: Mutex::new(Eliza::new()),
        }
    }
}

impl Plugin for ElizaClassic {
    fn manifest(&self) -> Manifest {
        Manifest {
            name: "eliza-classic".into(),
            description: "Classic ELIZA pattern-matching psychotherapist (Weizenbaum, 1966)".into(),
            version: "1.0.0".into(),
            language: "rust".into(),
            actions: vec![ActionDescriptor {
                similes: Some(vec!["ELIZA".into(), "ELIZA_RESPONSE".into()]),
                ..ActionDescriptor::new("generate-response", "Reply to the message text as ELIZA")
            }],
            providers: vec![ProviderDescriptor::new(
                "eliza-greeting",
                "ELIZA's opening line",
            )],
            evaluators: vec![],
        }
    }

    fn invoke_action(
        &self,
        name: &str,
        memory: &Value,
        _state: &Value,
        _options: &Value,
    ) -> Result<ActionResult, PluginError> {
        match name {
            "generate-response" => {
                let reply = self
                    .conversation
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .respond(memory_text(memory).unwrap_or(""));
                Ok(ActionResult::success().with_text(reply))
            }
            other => Err(PluginError::new(format!(
                "eliza-classic has no action {other:?}"
            ))),
        }
    }

    fn get_provider(
        &self,
        name: &str,
        _memory: &Value,
        _state: &Value,
    ) -> Result<ProviderResult, PluginError> {
        match name {
            "eliza-greeting" => Ok(ProviderResult::new().with_text(Eliza::greeting())),
            other => Err(PluginError::new(format!(
                "eliza-classic has no provider {other:?}"
            ))),
        }
    }
}

elizaos::export_plugin!(ElizaClassic, ElizaClassic::new);
