"""The host's side: loaders, the loaded plugin object, one module per transport (IPC, FFI,
WASM), the dispatcher answering a plugin's runtime calls and InMemoryRuntime.

Modules here are private; the public API is :mod:`elizaos_interop`.
"""
