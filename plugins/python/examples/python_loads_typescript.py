"""Python loading a TypeScript plugin over IPC: the interop README's snippet 4.

    python python_loads_typescript.py [path/to/plugin.ts] [node|bun]

Runs the TypeScript bridge server under ``$ELIZAOS_NODE`` (Node >= 22) or ``$ELIZAOS_BUN``.
Defaults to the repository's TypeScript eliza-classic plugin.
"""

import asyncio
import sys
from pathlib import Path

from elizaos_interop import load_ts_plugin

DEFAULT = Path(__file__).resolve().parents[2] / "typescript/fixtures/eliza-classic/plugin.ts"
runtime = None  # elizaOS handlers take a runtime; it is not sent to the plugin
state: dict[str, object] = {}
memory = {"content": {"text": "I am feeling sad"}}


async def main(path: str, ts_runtime: str) -> None:
    # Load TypeScript plugin via subprocess
    plugin = load_ts_plugin(path, runtime=ts_runtime)
    print(f"Plugin: {plugin.name}")

    # Use normally - IPC is transparent
    result = await plugin.actions[0].handler(runtime, memory, state, {})
    print(f"Response: {result.text}")
    plugin.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0] if args else str(DEFAULT), args[1] if len(args) > 1 else "node"))
