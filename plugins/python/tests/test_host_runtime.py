"""Runtime calls over IPC, host side (protocol.md section 11).

Driven by ``raw_plugins/runtime_plugin.py``, a plugin without the SDK that sends runtime
requests on stdout and reads the answers on stdin, and by the Python conformance fixture's
``runtime`` action through the real bridge (section 9).
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFORMANCE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elizaos_interop import (
    InMemoryRuntime,
    LoadedPlugin,
    PluginCrashError,
    PluginTimeoutError,
    load_ipc_plugin,
    load_python_plugin,
)
from elizaos_interop.host._ipc import IpcTransport
from elizaos_interop.host._runtime_dispatch import runtime_snapshot

RAW = Path(__file__).resolve().parent / "raw_plugins"
MEM = {"content": {"text": "hi"}}
AGENT = "00000000-0000-4000-8000-000000000001"


class Character:
    """A character object with attributes, as a Python agent runtime may hold one."""

    def __init__(self) -> None:
        self.name = "Eliza"


class AgentRuntime:
    """A host runtime written the way user code writes one: some methods async, some sync,
    camelCase and snake_case spellings, attributes instead of dict keys."""

    def __init__(self, plugin: LoadedPlugin | None = None) -> None:
        self.agentId = AGENT
        self.character = {"name": "Eliza", "bio": ["test"], "hook": print, "score": math.nan}
        self.plugin = plugin
        self.settings = {"GREETING": "hello"}
        self.seen: list[tuple[str, tuple[Any, ...]]] = []
        self.release = asyncio.Event()

    async def getSetting(self, key: str) -> Any:  # the elizaOS (camelCase) spelling
        self.seen.append(("getSetting", (key,)))
        return self.settings.get(key)

    def get_room(self, room_id: str) -> dict[str, Any]:
        self.seen.append(("get_room", (room_id,)))
        return {"id": room_id, "name": "General"}

    async def get_cache(self, key: str) -> Any:
        await asyncio.sleep(0.05 if key == "slow" else 0)
        return key

    def get_world(self, world_id: str) -> Any:
        raise LookupError(f"no world {world_id}")

    def get_entity_by_id(self, entity_id: str) -> Any:
        return {"id": entity_id, "score": math.inf}

    def get_task(self, task_id: str) -> Any:
        return object()

    async def compose_state(self, message: dict[str, Any]) -> dict[str, Any]:
        """Re-entrant: runs the plugin's provider while the plugin waits for this answer."""
        assert self.plugin is not None
        provided = await self.plugin.get_provider("STATE", message, runtime=self)
        return {"text": provided.text, "values": provided.values}

    async def get_tasks_by_name(self, name: str) -> list[Any]:
        """Makes the plugin exit while its call waits for this answer."""
        assert self.plugin is not None
        await self.plugin.invoke_action("EXIT", MEM, runtime=self)
        return []

    async def use_model(self, model_type: str, params: dict[str, Any]) -> str:
        await self.release.wait()  # never released in the time-out test
        return "reply"

    def close(self) -> None:
        """Not a runtime method of 11.3: a plugin cannot call it."""
        raise AssertionError("a plugin called close()")


@pytest.fixture
def raw() -> Iterator[LoadedPlugin]:
    plugin = load_ipc_plugin([sys.executable, str(RAW / "runtime_plugin.py")])
    try:
        yield plugin
    finally:
        plugin.close()


def calls(*pairs: tuple[str, list[Any]], parallel: bool = False) -> dict[str, Any]:
    return {"calls": [{"method": m, "args": a} for m, a in pairs], "parallel": parallel}


def results(result: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = result["data"]["results"]
    return found


def test_the_plugin_declares_the_capability(raw: LoadedPlugin) -> None:
    assert raw.protocol_version == 1
    assert "runtime" in raw.capabilities


def test_runtime_methods_are_answered_from_the_callers_runtime(raw: LoadedPlugin) -> None:
    runtime = AgentRuntime()
    options = calls(("getSetting", ["GREETING"]), ("getRoom", ["room-1"]), ("getSetting", ["X"]))

    async def main() -> Any:
        return await raw.actions[0].handler(runtime, MEM, {}, options)

    result = asyncio.run(main())
    assert results(result) == [
        {"ok": "hello"},
        {"ok": {"id": "room-1", "name": "General"}},
        {"ok": None},
    ]
    assert runtime.seen == [
        ("getSetting", ("GREETING",)),
        ("get_room", ("room-1",)),
        ("getSetting", ("X",)),
    ]
    # The call context: plain data only (the callable and the NaN are left out).
    assert result["data"]["runtime"] == {
        "agentId": AGENT,
        "character": {"name": "Eliza", "bio": ["test"]},
    }
    assert result.values == {"agentId": AGENT}


def test_the_errors_of_11_2(raw: LoadedPlugin) -> None:
    options = calls(
        ("getWorld", ["w-1"]),
        ("searchMemories", [{}]),
        ("getEntityById", ["e"]),
        ("getTask", ["t"]),
        ("close", []),
        ("getSetting", ["GREETING"]),
    )
    result = asyncio.run(raw.invoke_action("CALL", MEM, options=options, runtime=AgentRuntime()))
    assert results(result) == [
        {
            "error": {
                "code": -32000,
                "message": "no world w-1",
                "data": {"method": "getWorld", "exception": "LookupError"},
            }
        },
        {
            "error": {
                "code": -32601,
                "message": "runtime.searchMemories is not provided by the host",
                "data": {"method": "searchMemories"},
            }
        },
        {
            "error": {
                "code": -32603,
                "message": "runtime.getEntityById returned a value that is not JSON: "
                "non-finite float inf is not JSON at $.score",
                "data": {"method": "getEntityById"},
            }
        },
        {
            "error": {
                "code": -32603,
                "message": "runtime.getTask returned a value that is not JSON: object is not "
                "a JSON type (expected dict, list, str, int, float, bool or None) at $",
                "data": {"method": "getTask"},
            }
        },
        {
            "error": {
                "code": -32601,
                "message": "runtime.close is not provided by the host",
                "data": {"method": "close"},
            }
        },
        {"ok": "hello"},  # the plugin keeps being served after each error
    ]


def test_without_a_runtime_nothing_is_sent_and_runtime_calls_fail(raw: LoadedPlugin) -> None:
    options = calls(("getSetting", ["GREETING"]))
    result = asyncio.run(raw.invoke_action("CALL", MEM, options=options))
    assert result["data"]["runtime"] is None
    (only,) = results(result)
    assert only["error"]["code"] == -32602
    assert only["error"]["data"] == {"param": "call"}
    assert only["error"]["message"].startswith("runtime call for unknown call ")


def test_parallel_runtime_calls_answer_as_they_complete(raw: LoadedPlugin) -> None:
    options = calls(
        ("getCache", ["slow"]), ("getCache", ["fast"]), ("getSetting", ["GREETING"]), parallel=True
    )
    result = asyncio.run(raw.invoke_action("CALL", MEM, options=options, runtime=AgentRuntime()))
    assert results(result) == [{"ok": "slow"}, {"ok": "fast"}, {"ok": "hello"}]


def test_many_calls_each_with_its_own_runtime(raw: LoadedPlugin) -> None:
    async def main() -> list[Any]:
        runtimes = [AgentRuntime() for _ in range(20)]
        for i, rt in enumerate(runtimes):
            rt.settings["GREETING"] = f"hello {i}"
        options = calls(("getSetting", ["GREETING"]))
        return await asyncio.gather(
            *(raw.invoke_action("CALL", MEM, options=options, runtime=rt) for rt in runtimes)
        )

    answers = asyncio.run(main())
    assert [results(a)[0]["ok"] for a in answers] == [f"hello {i}" for i in range(20)]


def test_a_runtime_method_may_call_the_same_plugin_again(raw: LoadedPlugin) -> None:
    runtime = AgentRuntime(raw)
    options = calls(("composeState", [MEM]), ("composeState", [MEM]))
    result = asyncio.run(raw.invoke_action("CALL", MEM, options=options, runtime=runtime))
    assert results(result) == [
        {"ok": {"text": "state from the plugin", "values": {"calls": 1}}},
        {"ok": {"text": "state from the plugin", "values": {"calls": 1}}},
    ]


def test_malformed_runtime_requests_are_answered_not_fatal(raw: LoadedPlugin) -> None:
    requests: list[dict[str, Any]] = [
        {"id": "rt-a", "method": "runtime.getSetting", "params": {"call": 1}},
        {"id": "rt-b", "method": "runtime.getSetting", "params": {"call": 1, "args": "KEY"}},
        {"id": "rt-c", "method": "runtime.getSetting", "params": {"call": 999, "args": []}},
        {"id": "rt-d", "method": "runtime.getSetting", "params": {"call": "2", "args": []}},
        {"id": "rt-e", "method": "getManifest", "params": {}},
        {"method": "runtime.getSetting", "params": {"call": 1, "args": []}},
        {"id": "rt-f", "method": "runtime.getSetting", "params": []},
    ]
    result = asyncio.run(
        raw.invoke_action("RAW", MEM, options={"requests": requests}, runtime=AgentRuntime())
    )
    answers = results(result)
    assert [a["id"] for a in answers] == ["rt-a", "rt-b", "rt-c", "rt-d", "rt-e", None, "rt-f"]
    errors = [a["error"] for a in answers]
    # The RAW call is request 2 (getManifest was 1), so call 1 has no runtime: -32602 first.
    assert errors[0]["code"] == -32602
    assert errors[1]["code"] == -32602
    assert errors[2] == {
        "code": -32602,
        "message": "runtime call for unknown call 999",
        "data": {"param": "call"},
    }
    assert errors[3]["message"] == 'runtime call for unknown call "2"'
    assert errors[4]["code"] == -32601
    assert errors[5]["code"] == -32600
    assert errors[6]["code"] == -32600
    # The plugin is still served.
    assert asyncio.run(raw.validate_action("CALL", MEM)) is True


def test_bad_args_for_a_call_in_flight(raw: LoadedPlugin) -> None:
    requests: list[dict[str, Any]] = [
        {"id": "rt-a", "method": "runtime.getSetting", "params": {"call": 2}},
        {"id": "rt-b", "method": "runtime.getSetting", "params": {"call": 2, "args": "KEY"}},
        {"id": "rt-c", "method": "runtime.getSetting", "params": {"call": 2, "args": ["GREETING"]}},
    ]
    result = asyncio.run(
        raw.invoke_action("RAW", MEM, options={"requests": requests}, runtime=AgentRuntime())
    )
    first, second, third = results(result)
    assert first["error"] == {
        "code": -32602,
        "message": "invalid params: args is missing, expected array",
        "data": {"param": "args", "expected": "array", "received": "missing"},
    }
    assert second["error"]["data"] == {"param": "args", "expected": "array", "received": "string"}
    assert third == {"id": "rt-c", "result": "hello"}


def test_the_call_time_out_covers_runtime_calls(raw: LoadedPlugin) -> None:
    runtime = AgentRuntime()
    transport = raw.transport
    assert isinstance(transport, IpcTransport)

    async def main() -> None:
        with pytest.raises(PluginTimeoutError):
            await raw.invoke_action(
                "CALL",
                MEM,
                options=calls(("useModel", ["TEXT_SMALL", {}])),
                runtime=runtime,
                timeout=0.3,
            )
        # The runtime method that was still running is cancelled, not left behind.
        await asyncio.sleep(0)
        assert transport._runtime_tasks == set()

    asyncio.run(main())
    with pytest.raises(PluginCrashError, match="plugin is closed"):
        asyncio.run(raw.validate_action("CALL", MEM))


def test_a_crash_while_a_runtime_method_runs_fails_both_calls(raw: LoadedPlugin) -> None:
    runtime = AgentRuntime(raw)
    transport = raw.transport
    assert isinstance(transport, IpcTransport)

    async def main() -> None:
        with pytest.raises(PluginCrashError, match="exited with status 3") as info:
            await raw.invoke_action(
                "CALL", MEM, options=calls(("getTasksByName", ["x"])), runtime=runtime
            )
        assert info.value.method == 'invokeAction("CALL")'
        await asyncio.sleep(0)
        assert transport._runtime_tasks == set()

    asyncio.run(main())
    assert transport.returncode == 3


def test_a_seed_plugin_is_sent_no_runtime(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    with load_ipc_plugin([sys.executable, str(RAW / "seed_plugin.py"), str(log)]) as plugin:
        asyncio.run(plugin.invoke_action("GREET", MEM, runtime=AgentRuntime()))
        asyncio.run(plugin.actions[0].validate(AgentRuntime(), MEM))
    sent = [line for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(sent) == 3
    assert all('"runtime"' not in line for line in sent[1:])


def test_snapshot_reads_mappings_and_attributes() -> None:
    class Snake:
        agent_id = "a-1"
        character = Character()

    assert runtime_snapshot({"agentId": "x", "character": {"name": "E", "f": len}}) == {
        "agentId": "x",
        "character": {"name": "E"},
    }
    assert runtime_snapshot(Snake()) == {"agentId": "a-1"}  # an opaque object is not data
    assert runtime_snapshot(object()) == {}


# -- through the real Python bridge (the conformance fixture's runtime action, section 9) -------


def test_conformance_fixture_runtime_action_over_the_python_bridge() -> None:
    runtime = AgentRuntime()
    with load_python_plugin(CONFORMANCE) as plugin:
        assert "runtime" in plugin.capabilities
        options = calls(("getSetting", ["GREETING"]), ("getWorld", ["w"]), ("getRooms", ["w"]))
        result = asyncio.run(plugin.invoke_action("runtime", MEM, options=options, runtime=runtime))
        assert result.values == {"agentId": AGENT}
        assert results(result) == [
            {"ok": "hello"},
            {"error": {"code": -32000, "message": "no world w"}},
            {"error": {"code": -32601, "message": "runtime.getRooms is not provided by the host"}},
        ]
        without = asyncio.run(plugin.invoke_action("runtime", MEM, options=options))
        assert without.values == {"agentId": None}
        assert [r["error"]["code"] for r in results(without)] == [None, None, None]


def test_a_published_elizaos_agent_runtime_answers(raw: LoadedPlugin) -> None:
    """The PyPI ``elizaos`` AgentRuntime as the host's runtime: its snake_case, partly
    synchronous methods answer, and its protobuf character is sent as plain data."""
    elizaos = pytest.importorskip(
        "elizaos",
        reason="the published elizaos package is not installed: "
        "pip install -r plugins/python/published/requirements.txt",
    )
    runtime = elizaos.AgentRuntime(character=elizaos.Character(name="Eliza", bio=["A test agent"]))
    options = calls(("getSetting", ["GREETING"]), ("getConversationLength", []))
    result = asyncio.run(raw.invoke_action("CALL", MEM, options=options, runtime=runtime))
    assert results(result) == [{"ok": None}, {"ok": 32}]
    assert result["data"]["runtime"] == {
        "agentId": str(runtime.agent_id),
        "character": {"name": "Eliza", "bio": ["A test agent"]},
    }


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


def test_runtime_arguments_and_answers_round_trip_property(raw: LoadedPlugin) -> None:
    """Any value of the JSON profile crosses both ways unchanged (section 2): as a runtime call's
    argument (plugin to host) and as its answer (host to plugin)."""
    runtime = InMemoryRuntime({})

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(value=JSON_VALUES)
    def check(value: Any) -> None:
        options = calls(("setCache", ["k", value]), ("getCache", ["k"]))
        result = asyncio.run(raw.invoke_action("CALL", MEM, options=options, runtime=runtime))
        assert results(result) == [{"ok": True}, {"ok": value}]
        assert runtime.calls[-2] == {"method": "setCache", "args": ["k", value]}
        assert repr(results(result)[1]["ok"]) == repr(value)  # int stays int, -0.0 stays -0.0

    check()
