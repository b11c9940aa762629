//! `export_plugin!` and the WASM/FFI export glue.
