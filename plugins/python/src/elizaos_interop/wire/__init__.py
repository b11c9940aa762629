"""The protocol vocabulary (docs/protocol.md): error classes, the JSON profile, method names,
error codes by name and the envelope/ABI encoding shared by the FFI and WASM hosts.

Modules here are private; the public API is :mod:`elizaos_interop`.
"""
