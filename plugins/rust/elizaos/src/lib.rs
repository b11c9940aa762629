//! elizaOS: the cross-language plugin interop runtime for Rust.
//!
//! See [`interop`] and the normative `docs/protocol.md` at the repository root.

pub mod interop;
