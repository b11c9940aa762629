"""The public API of ``elizaos_interop`` is its ``__all__`` (README: modules are private): pinned
here so a name is added or removed on purpose, and each name is importable and documented."""

from __future__ import annotations

import elizaos_interop
from elizaos_interop import json_type

PUBLIC = {
    "Action",
    "Evaluator",
    "InMemoryRuntime",
    "InteropError",
    "InvalidPayloadError",
    "IpcTransport",
    "LoadedPlugin",
    "Plugin",
    "PluginCallError",
    "PluginCrashError",
    "PluginLoadError",
    "PluginProtocolError",
    "PluginRuntime",
    "PluginTimeoutError",
    "Provider",
    "Result",
    "RuntimeCallError",
    "RuntimeProxy",
    "RuntimeUnavailableError",
    "Transport",
    "json_type",
    "load_ipc_plugin",
    "load_python_plugin",
    "load_rust_plugin",
    "load_ts_plugin",
    "load_wasm_plugin",
    "run_plugin",
    "serve",
}


def test_all_is_the_pinned_public_api() -> None:
    assert set(elizaos_interop.__all__) == PUBLIC
    assert len(elizaos_interop.__all__) == len(PUBLIC), "a name is listed twice in __all__"
    undocumented = [n for n in PUBLIC if not (getattr(elizaos_interop, n).__doc__ or "").strip()]
    assert not undocumented, f"public names without a docstring: {undocumented}"


def test_json_type_spells_data_received() -> None:
    """protocol.md 3.3's ``data.received`` names, one per JSON type; other values: their type."""
    cases = [
        (None, "null"),
        (True, "boolean"),
        (3, "integer"),
        (2.5, "number"),
        ("s", "string"),
        ([1], "array"),
        ((1,), "array"),
        ({}, "object"),
        (b"x", "bytes"),
    ]
    assert [json_type(v) for v, _ in cases] == [t for _, t in cases]
