"""``runtime.actions``/``providers``/``evaluators`` on the plugin side (protocol.md 11.3): the
served plugin's own components, so elizaOS providers that list or validate the agent's actions
work across the process boundary."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import bridge_env

from elizaos_interop import load_python_plugin

PLUGIN = """
import inspect

from elizaos_interop import Action, Evaluator, Plugin, Provider


async def valid_when_hello(runtime, memory, state):
    return memory["content"].get("text") == "hello"


async def applies(action, runtime, memory, state):
    answer = action.validate(runtime, memory, state)
    return await answer if inspect.isawaitable(answer) else answer


async def listing(runtime, memory, state):
    valid = [a.name for a in runtime.actions if await applies(a, runtime, memory, state)]
    return {
        "text": ",".join(valid),
        "values": {
            "actions": [a.name for a in runtime.actions],
            "providers": [p.name for p in runtime.providers],
            "evaluators": [e.name for e in runtime.evaluators],
        },
    }


async def ok(runtime, memory, state, options=None):
    return {"success": True}


plugin = Plugin(
    name="lister",
    actions=[
        Action(name="greet", description="Greets", handler=ok, validate=valid_when_hello),
        Action(name="shout", description="Shouts", handler=ok),
    ],
    providers=[Provider(name="listing", get=listing)],
    evaluators=[Evaluator(name="judge", description="Judges", handler=ok)],
)
"""


def test_the_plugin_sees_its_own_components(tmp_path: Path) -> None:
    source = tmp_path / "lister.py"
    source.write_text(PLUGIN, encoding="utf-8")
    with load_python_plugin(source, env=bridge_env()) as plugin:
        hello = asyncio.run(plugin.get_provider("listing", {"content": {"text": "hello"}}))
        other = asyncio.run(plugin.get_provider("listing", {"content": {"text": "bye"}}))
    assert hello["values"] == {
        "actions": ["greet", "shout"],
        "providers": ["listing"],
        "evaluators": ["judge"],
    }
    assert hello["text"] == "greet,shout"  # validate ran in the plugin, with the proxy runtime
    assert other["text"] == "shout"
