"""InMemoryRuntime (protocol.md 11.5) against the shared vectors, directly and through plugins."""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFORMANCE, REPO, schema_errors

from elizaos_interop import (
    InMemoryRuntime,
    LoadedPlugin,
    load_ipc_plugin,
    load_python_plugin,
    load_ts_plugin,
)
from elizaos_interop.plugin._runtime_proxy import FORWARDED_METHODS, snake_case

VECTORS: dict[str, Any] = json.loads(
    (REPO / "docs" / "vectors" / "runtime-world.json").read_text(encoding="utf-8")
)
RAW = Path(__file__).resolve().parent / "raw_plugins"
MEM = {"content": {"text": "hi"}}


def test_the_vector_world_is_valid() -> None:
    assert schema_errors("runtime-world.schema.json", VECTORS["world"]) == []


def test_vectors_directly() -> None:
    """Called directly, a ``fail`` method raises RuntimeError(message) and an omitted method is
    absent (AttributeError), where through a plugin they are -32000 and -32601."""
    runtime = InMemoryRuntime(VECTORS["world"])

    async def main() -> None:
        for case in VECTORS["cases"]:
            method, args, expect = case["method"], case["args"], case["expect"]
            if "ok" in expect:
                assert await getattr(runtime, method)(*args) == expect["ok"], case
            elif expect["error"]["code"] == -32000:
                with pytest.raises(RuntimeError) as info:
                    await getattr(runtime, method)(*args)
                assert str(info.value) == expect["error"]["message"], case
            else:
                assert expect["error"]["code"] == -32601
                with pytest.raises(AttributeError):
                    getattr(runtime, method)
                assert not hasattr(runtime, method)

    asyncio.run(main())
    recorded = [c["method"] for c in runtime.calls]
    assert recorded == [
        c["method"] for c in VECTORS["cases"] if c["expect"].get("error", {}).get("code") != -32601
    ]
    assert runtime.calls[0] == {"method": "getSetting", "args": ["GREETING"]}


def test_vectors_through_a_plugin() -> None:
    """The same cases, in order, on one runtime, answered across the pipe (11.2 codes)."""
    runtime = InMemoryRuntime(VECTORS["world"])
    options = {"calls": [{"method": c["method"], "args": c["args"]} for c in VECTORS["cases"]]}
    with load_ipc_plugin([sys.executable, str(RAW / "runtime_plugin.py")]) as plugin:
        result = asyncio.run(plugin.invoke_action("CALL", MEM, options=options, runtime=runtime))
    assert result.values == {"agentId": VECTORS["world"]["agentId"]}
    assert result["data"]["runtime"] == {
        "agentId": VECTORS["world"]["agentId"],
        "character": VECTORS["world"]["character"],
    }
    got = result["data"]["results"]
    assert len(got) == len(VECTORS["cases"])
    for case, answer in zip(VECTORS["cases"], got, strict=True):
        if "ok" in case["expect"]:
            assert answer == case["expect"], case
        else:
            error = answer["error"]
            assert (error["code"], error["message"]) == (
                case["expect"]["error"]["code"],
                case["expect"]["error"]["message"],
            ), case


def test_snake_case_aliases_and_the_calls_record() -> None:
    runtime = InMemoryRuntime({"settings": {"K": 1}, "omit": ["getRoom"]})

    async def main() -> None:
        assert await runtime.get_setting("K") == 1
        await runtime.set_setting("K", 2)
        await runtime.setSetting("K", 3, None)
        assert await runtime.getSetting("K") == 3
        assert runtime.agent_id is None

    asyncio.run(main())
    assert runtime.calls == [
        {"method": "getSetting", "args": ["K"]},
        {"method": "setSetting", "args": ["K", 2]},  # an omitted trailing argument is dropped
        {"method": "setSetting", "args": ["K", 3, None]},  # an explicit None (null) is kept
        {"method": "getSetting", "args": ["K"]},
    ]
    for name in ("getRoom", "get_room"):
        with pytest.raises(AttributeError, match="omits 'getRoom'"):
            getattr(runtime, name)
    assert hasattr(InMemoryRuntime({}), "get_room")  # omission is per runtime


def test_every_method_of_11_3_in_both_spellings() -> None:
    runtime = InMemoryRuntime({})
    for name in FORWARDED_METHODS:
        camel = getattr(runtime, name)
        assert inspect.iscoroutinefunction(camel), name
        assert getattr(runtime, snake_case(name)) == camel, name


def test_memories_tasks_and_entities() -> None:
    runtime = InMemoryRuntime(VECTORS["world"])

    async def main() -> None:
        new_id = await runtime.create_memory(
            {"roomId": "room-1", "content": {"text": "third"}}, "messages"
        )
        assert isinstance(new_id, str)
        newest = await runtime.getMemories({"roomId": "room-1"})
        assert [m["id"] for m in newest] == [new_id, "m-2", "m-1"]
        newest[0]["content"]["text"] = "changed by the caller"
        stored = await runtime.getMemoryById(new_id)
        assert stored is not None
        assert stored["content"]["text"] == "third"
        await runtime.deleteMemory("m-1")
        assert [m["id"] for m in await runtime.getMemories({"roomId": "room-1"})] == [
            new_id,
            "m-2",
        ]
        task_id = await runtime.createTask({"name": "t", "tags": ["a", "b"]})
        assert [t["id"] for t in await runtime.getTasks({"tags": ["a"]})] == [task_id]
        await runtime.ensureConnection(
            {"entityId": "user-2", "roomId": "room-2", "worldId": "world-2", "name": "Bo"}
        )
        assert await runtime.getRoom("room-2") == {"id": "room-2", "worldId": "world-2"}
        assert await runtime.getParticipantsForRoom("room-2") == ["user-2"]
        assert await runtime.getEntityById("user-2") == {"id": "user-2", "names": ["Bo"]}
        assert await runtime.useModel("TEXT_LARGE", {}) == VECTORS["world"]["models"]["TEXT_LARGE"]
        assert await runtime.getConversationLength() == 32

    asyncio.run(main())


class Providers:
    """A plugin-like object with in-process providers (elizaOS plugins have this shape)."""

    def __init__(self) -> None:
        self.name = "local"
        self.providers = [
            {"name": "A", "get": self.first},
            {"name": "B", "get": self.boom},
            {"name": "HIDDEN", "dynamic": True, "get": self.first},
        ]

    async def first(self, runtime: Any, message: Any, state: Any) -> dict[str, Any]:
        return {"text": "from A", "values": {"a": 1}, "data": {"d": [1]}}

    def boom(self, runtime: Any, message: Any, state: Any) -> Any:
        raise ValueError("provider failed")


def test_compose_state_runs_providers_and_leaves_failures_out() -> None:
    runtime = InMemoryRuntime({})

    async def main() -> None:
        await runtime.registerPlugin(Providers())
        assert await runtime.composeState(MEM) == {
            "values": {"a": 1},
            "data": {"d": [1]},
            "text": "from A",
        }
        both = await runtime.compose_state(MEM, ["HIDDEN"])
        assert both["text"] == "from A\nfrom A"
        only = await runtime.composeState(MEM, ["B"], True)
        assert only == {"values": {}, "data": {}, "text": ""}

    asyncio.run(main())


def test_compose_state_across_the_boundary_is_re_entrant() -> None:
    """composeState, called by the plugin, runs that same plugin's provider while it waits."""
    runtime = InMemoryRuntime({"agentId": "a-1"})
    with load_ipc_plugin([sys.executable, str(RAW / "runtime_plugin.py")]) as plugin:
        asyncio.run(runtime.register_plugin(plugin))
        options = {"calls": [{"method": "composeState", "args": [MEM]}]}
        result = asyncio.run(plugin.invoke_action("CALL", MEM, options=options, runtime=runtime))
    assert result["data"]["results"] == [
        {"ok": {"values": {"calls": 1}, "data": {}, "text": "state from the plugin"}}
    ]


def test_the_conformance_fixture_through_the_python_bridge() -> None:
    """The fixture's runtime action, the real bridge, and composeState over its own providers
    (its failing provider is left out)."""
    runtime = InMemoryRuntime(VECTORS["world"])
    plugin: LoadedPlugin
    with load_python_plugin(CONFORMANCE) as plugin:
        asyncio.run(runtime.registerPlugin(plugin))
        options = {
            "calls": [
                {"method": "getSetting", "args": ["GREETING"]},
                {"method": "composeState", "args": [MEM]},
                {"method": "searchMemories", "args": [{}]},
            ]
        }
        result = asyncio.run(plugin.actions[0].handler(runtime, MEM, {}, {}))
        assert result.success is True
        runtime_action = next(a for a in plugin.actions if a.name == "runtime")
        result = asyncio.run(runtime_action.handler(runtime, MEM, {}, options))
    first, composed, omitted = result["data"]["results"]
    assert first == {"ok": "hello"}
    state = composed["ok"]
    assert state["values"] == {"answer": 42}  # static (+ echo/config, which add no values)
    assert "static provider" in state["text"].split("\n")
    assert omitted["error"]["code"] == -32601


@pytest.mark.parametrize("js_runtime", ["node", "bun"])
def test_vectors_through_the_typescript_bridge(js_runtime: str) -> None:
    """The TS conformance fixture's runtime action calls this host's InMemoryRuntime: every
    vector, then a composeState that runs the TS plugin's own providers re-entrantly."""
    runtime = InMemoryRuntime(VECTORS["world"])
    fixture = REPO / "plugins" / "typescript" / "fixtures" / "conformance.ts"
    message = {"content": {"text": "x"}}
    options = {
        "calls": [{"method": c["method"], "args": c["args"]} for c in VECTORS["cases"]]
        + [{"method": "composeState", "args": [message]}]
    }
    with load_ts_plugin(fixture, js_runtime) as plugin:
        assert "runtime" in plugin.capabilities
        asyncio.run(runtime.register_plugin(plugin))
        result = asyncio.run(
            plugin.invoke_action("runtime", message, options=options, runtime=runtime)
        )
    *answers, composed = result["data"]["results"]
    assert answers == [case["expect"] for case in VECTORS["cases"]]
    assert composed["ok"]["values"] == {"answer": 42}
    assert composed["ok"]["text"].split("\n") == ["static provider", "x"]
    assert result.values == {"agentId": VECTORS["world"]["agentId"]}
