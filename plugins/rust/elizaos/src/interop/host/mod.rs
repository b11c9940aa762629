//! Host-side loaders (IPC, FFI).
