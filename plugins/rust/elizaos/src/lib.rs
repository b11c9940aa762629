//! elizaOS: the cross-language plugin interop runtime for Rust.
//!
//! See [`interop`] and the normative `docs/protocol.md` at the repository root.

#![deny(missing_docs)]

pub mod interop;
