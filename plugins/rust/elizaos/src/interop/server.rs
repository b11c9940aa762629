//! NDJSON JSON-RPC server over stdin/stdout for IPC plugins.
