//! Exporting a [`Plugin`](crate::interop::Plugin): the transport-independent [`Bridge`] (param
//! validation, unknown names, panics, result checks), the C FFI glue ([`ffi`], protocol.md
//! section 6), the raw WASM ABI glue ([`wasm`], section 5), the WASM allocator and the
//! [`export_plugin!`](crate::export_plugin) macro that emits the `extern "C"` symbols in the
//! plugin crate according to its `ffi`/`wasm` features.

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
pub mod allocator;
mod bridge;
#[cfg(not(target_arch = "wasm32"))]
pub mod ffi;
mod macros;
mod panic;
#[cfg(test)]
mod tests;
pub mod wasm;

pub use crate::interop::wire::PROTOCOL_VERSION;
pub use bridge::{capabilities, current_transport, Bridge, GlobalBridge};
pub use panic::install_panic_hook;
