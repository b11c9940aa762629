"""The PyPI ``elizaos`` bootstrap plugin served as it is by the bridge (a child process).

The calls and their outcomes are data (``plugins/python/published/expectations.json``, shared with
the testkit's elizaos matrix). Calls without a runtime are made on a raw pipe, the test playing the
host; calls marked ``world`` go through the Python host with an ``InMemoryRuntime`` built from the
World (``docs/vectors/runtime-world.json``), the plugin registered in it so that ``composeState``
re-enters the plugin. A few more tests play the host for runtime requests themselves.

Needs the pinned package: ``pip install -r plugins/python/published/requirements.txt``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import PYTHON_DIR, REPO, bridge_env, schema_errors
from test_bridge_runtime import Host

from elizaos_interop import InMemoryRuntime, LoadedPlugin, PluginCallError, load_ipc_plugin

pytest.importorskip(
    "elizaos.bootstrap",
    reason="the published elizaos package is not installed: "
    "pip install -r plugins/python/published/requirements.txt",
)

EXPECTATIONS: dict[str, Any] = json.loads(
    (PYTHON_DIR / "published" / "expectations.json").read_text(encoding="utf-8")
)
WORLD: dict[str, Any] = json.loads(
    (REPO / "docs" / "vectors" / "runtime-world.json").read_text(encoding="utf-8")
)["world"]
SNAPSHOT = {"agentId": WORLD["agentId"], "character": WORLD["character"]}
MEM = {
    "id": "00000000-0000-4000-8000-0000000000a1",
    "entityId": "user-1",
    "roomId": "room-1",
    "content": {"text": "hello there", "source": "test"},
    "createdAt": 1700000000000,
}


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[Host]:
    host = Host("elizaos.bootstrap", "--attr", "bootstrap_plugin")
    yield host
    host.finish()


SERVE = [sys.executable, "-m", "elizaos_interop.bridge_server"]


@pytest.fixture(scope="module")
def hosted() -> Iterator[LoadedPlugin]:
    plugin = load_ipc_plugin(
        [*SERVE, "elizaos.bootstrap", "--attr", "bootstrap_plugin"],
        env=bridge_env(),
    )
    yield plugin
    plugin.close()


def call_with_world(plugin: LoadedPlugin, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """A response-shaped outcome of one call made by the Python host with the World's runtime."""

    async def main() -> Any:
        runtime = InMemoryRuntime(WORLD)
        await runtime.register_plugin(plugin)
        name, memory, state = params["name"], params["memory"], params.get("state")
        if method == "invokeAction":
            return await plugin.invoke_action(
                name, memory, state, params.get("options"), runtime=runtime
            )
        if method == "getProvider":
            return await plugin.get_provider(name, memory, state, runtime=runtime)
        if method == "validateAction":
            return await plugin.validate_action(name, memory, state, runtime=runtime)
        raise AssertionError(f"no world call for {method} in this test")

    try:
        result = asyncio.run(main())
    except PluginCallError as exc:
        return {"error": {"code": exc.code, "message": exc.message}}
    return {"result": result.to_dict() if hasattr(result, "to_dict") else result}


def answer_from_world(host: Host, request: dict[str, Any]) -> None:
    """Answer one runtime request the way an in-memory runtime built from WORLD would."""
    method = request["method"].removeprefix("runtime.")
    args = request["params"]["args"]
    reply: dict[str, Any] = {"id": request["id"]}
    if method in WORLD["fail"]:
        reply["error"] = {
            "code": -32000,
            "message": WORLD["fail"][method],
            "data": {"method": method, "exception": "Error"},
        }
    elif method == "getRoom":
        reply["result"] = next((r for r in WORLD["rooms"] if r["id"] == args[0]), None)
    else:
        reply["error"] = {
            "code": -32601,
            "message": f"runtime.{method} is not provided by the host",
            "data": {"method": method},
        }
    host.send(reply)


def call(
    host: Host, method: str, params: dict[str, Any], *, world: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """(the response, the runtime methods the plugin called) for one host request."""
    host.next_id += 1
    req_id = host.next_id
    if world:
        params = {**params, "runtime": SNAPSHOT}
    host.send({"id": req_id, "method": method, "params": params})
    asked: list[str] = []
    while True:
        message = host.recv_any()
        if "method" not in message:
            assert message["id"] == req_id, message
            assert not schema_errors("response.schema.json", message), message
            return message, asked
        assert world, f"a runtime request although the call carried no runtime: {message}"
        assert not schema_errors("runtime-request.schema.json", message), message
        assert message["params"]["call"] == req_id
        asked.append(message["method"])
        answer_from_world(host, message)


def subset_problems(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where ``actual`` lacks what ``expected`` has (objects: members; arrays: same length)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, received {actual!r:.80}"]
        out: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{path}.{key}: missing")
            else:
                out += subset_problems(value, actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, received {actual!r:.80}"]
        return [
            p
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for p in subset_problems(e, a, f"{path}[{i}]")
        ]
    return [] if expected == actual else [f"{path}: expected {expected!r}, received {actual!r}"]


def test_manifest_is_served_as_the_expectations_say(bootstrap: Host) -> None:
    response, _ = call(
        bootstrap, "getManifest", {"protocolVersion": 1, "capabilities": ["runtime"]}
    )
    manifest = response["result"]
    assert not schema_errors("manifest.schema.json", manifest)
    assert not subset_problems(EXPECTATIONS["manifest"], manifest)
    assert manifest["version"] == "2.0.0-alpha.5"  # PEP 440 2.0.0a5 from the distribution
    reply = next(a for a in manifest["actions"] if a["name"] == "REPLY")
    assert reply["examples"][0][0] == {"name": "{{name1}}", "content": {"text": "Hello there!"}}
    recent = next(p for p in manifest["providers"] if p["name"] == "RECENT_MESSAGES")
    assert recent["position"] == 100


@pytest.mark.parametrize("case", EXPECTATIONS["calls"], ids=lambda c: c["id"])
def test_each_call_has_its_expected_outcome(
    bootstrap: Host, hosted: LoadedPlugin, case: dict[str, Any]
) -> None:
    params = {**case["params"], "memory": case["params"].get("memory", MEM)}
    if case.get("world", False):
        response = call_with_world(hosted, case["method"], params)
    else:
        response, _ = call(bootstrap, case["method"], params)
    expect = case["expect"]
    if "error" in expect:
        assert "error" in response, response
        error = response["error"]
        if "code" in expect["error"]:
            assert error["code"] == expect["error"]["code"], error
        assert expect["error"].get("message", "") in error["message"], error
        return
    assert "result" in response, response
    if "value" in expect:
        assert response["result"] == expect["value"]
    elif "subset" in expect:
        assert not subset_problems(expect["subset"], response["result"])


def test_the_module_alone_names_the_plugin_when_it_has_just_one() -> None:
    host = Host("elizaos.bootstrap")  # no --attr: bootstrap_plugin is its only plugin object
    try:
        response, _ = call(host, "getManifest", {})
        assert response["result"]["name"] == "bootstrap"
    finally:
        host.finish()


def test_struct_numbers_that_were_integers_stay_integers(bootstrap: Host) -> None:
    current, _ = call(bootstrap, "getProvider", {"name": "CURRENT_TIME", "memory": MEM})
    values = current["result"]["values"]
    assert type(values["unixTimestamp"]) is int
    assert isinstance(values["currentTime"], str)
    time_result, _ = call(bootstrap, "getProvider", {"name": "TIME", "memory": MEM})
    assert type(time_result["result"]["data"]["timestamp"]) is int


def test_without_a_runtime_nothing_is_asked_of_the_host(bootstrap: Host) -> None:
    response, asked = call(bootstrap, "getProvider", {"name": "WORLD", "memory": MEM})
    assert asked == []
    assert response["error"]["message"] == "runtime.getRoom is not provided by the host"
    assert response["error"]["data"]["exception"] == "RuntimeUnavailableError"


def test_runtime_results_reach_the_handler_as_attribute_readable_objects(bootstrap: Host) -> None:
    # WORLD reads room.world_id from getRoom's plain JSON answer, then calls get_world.
    response, asked = call(bootstrap, "getProvider", {"name": "WORLD", "memory": MEM}, world=True)
    assert asked == ["runtime.getRoom", "runtime.getWorld"]
    assert response["error"]["message"] == "database offline"
    assert response["error"]["data"]["exception"] == "RuntimeCallError"


def test_memory_ints_reach_runtime_calls_as_integers(bootstrap: Host) -> None:
    # REPLY's first runtime call is compose_state(message): the protobuf Memory goes back to JSON.
    bootstrap.next_id += 1
    req_id = bootstrap.next_id
    bootstrap.send(
        {
            "id": req_id,
            "method": "invokeAction",
            "params": {"name": "REPLY", "memory": MEM, "runtime": SNAPSHOT},
        }
    )
    request = bootstrap.runtime_request()
    assert request["method"] == "runtime.composeState"
    message = request["params"]["args"][0]
    assert message["createdAt"] == MEM["createdAt"]
    assert type(message["createdAt"]) is int
    assert message["content"] == MEM["content"]
    bootstrap.send({"id": request["id"], "error": {"code": -32000, "message": "no state today"}})
    response = bootstrap.recv_any()
    assert response["id"] == req_id
    assert response["error"]["message"] == "no state today"
