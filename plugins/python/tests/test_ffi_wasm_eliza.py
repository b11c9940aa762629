"""The Rust eliza-classic plugin through both in-process transports against the shared transcript.

Each session of ``docs/vectors/eliza-transcript.json`` starts from a fresh engine: over WASM a
new load is a new instance; over FFI ``close()`` unloads the library (``dlclose``), so the next
load starts from fresh static state.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from elizaos_interop import LoadedPlugin, load_rust_plugin, load_wasm_plugin

REPO = Path(__file__).resolve().parents[3]
TRANSCRIPT = json.loads((REPO / "docs/vectors/eliza-transcript.json").read_text(encoding="utf-8"))
SESSIONS: list[dict[str, Any]] = TRANSCRIPT["sessions"]


def load_eliza(transport: str) -> LoadedPlugin:
    base = Path(os.environ.get("ELIZAOS_RUST_TARGET_DIR", REPO / "plugins" / "rust" / "target"))
    if transport == "ffi":
        path = base / "release" / "libelizaos_plugin_eliza_classic.so"
        build = "cd plugins/rust/plugin-eliza-classic && cargo build --release --features ffi"
    else:
        path = base / "wasm32-unknown-unknown" / "release" / "elizaos_plugin_eliza_classic.wasm"
        build = "plugins/rust/build-wasm.sh"
    if not path.is_file():
        pytest.fail(f"missing {transport} artifact {path}; build it with: {build}", pytrace=False)
    if transport == "ffi":
        return load_rust_plugin(path)
    return load_wasm_plugin(path)


@pytest.mark.parametrize("transport", ["ffi", "wasm"])
def test_manifest_and_greeting(transport: str) -> None:
    with load_eliza(transport) as plugin:
        assert plugin.name == "eliza-classic"
        assert plugin.language == "rust"
        assert [a.name for a in plugin.actions] == ["generate-response"]
        assert [p.name for p in plugin.providers] == ["eliza-greeting"]
        assert plugin.evaluators == []
        greeting = asyncio.run(plugin.get_provider("eliza-greeting", {"content": {}}))
        assert greeting == {"text": TRANSCRIPT["greeting"]}
        memory = {"content": {"text": "hello"}}
        assert asyncio.run(plugin.validate_action("generate-response", memory)) is True


@pytest.mark.parametrize("transport", ["ffi", "wasm"])
@pytest.mark.parametrize("session", SESSIONS, ids=[s["name"] for s in SESSIONS])
def test_transcript(transport: str, session: dict[str, Any]) -> None:
    async def replay(plugin: LoadedPlugin) -> None:
        for step, exchange in enumerate(session["exchanges"]):
            memory = {"content": {"text": exchange["input"]}}
            result = await plugin.invoke_action("generate-response", memory)
            assert result["success"] is True
            assert result["text"] == exchange["reply"], f"step {step}: {exchange['input']!r}"

    with load_eliza(transport) as plugin:
        asyncio.run(replay(plugin))
