"""Python loading a Rust plugin over FFI: the interop README's snippet 3.

    python python_loads_rust.py [path/to/libelizaos_plugin_eliza_classic.so]

The seed's top-level ``await`` runs inside ``asyncio.run``; nothing else changed but the
import name (``elizaos_interop``). Defaults to the workspace's release build.
"""

import asyncio
import sys
from pathlib import Path

from elizaos_interop import load_rust_plugin

DEFAULT = (
    Path(__file__).resolve().parents[2] / "rust/target/release/libelizaos_plugin_eliza_classic.so"
)
runtime = None  # elizaOS handlers take a runtime; it is not sent to the plugin
state: dict[str, object] = {}


async def main(path: str) -> None:
    # Load the shared library
    plugin = load_rust_plugin(path)

    print(f"Plugin: {plugin.name}")
    print(f"Actions: {[a.name for a in plugin.actions]}")

    # Use the action
    result = await plugin.actions[0].handler(
        runtime, {"content": {"text": "I am feeling sad"}}, state, {}
    )
    print(f"Response: {result.text}")
    plugin.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else str(DEFAULT)))
