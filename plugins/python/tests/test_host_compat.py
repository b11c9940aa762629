"""The host accepts the seed's dialect (protocol.md sections 1, 3.3 and 12).

Driven by ``raw_plugins/seed_plugin.py``, an IPC plugin written from the seed README alone:
unknown manifest, descriptor and result members are kept, ``{"valid": bool}`` and any ``init``
answer are accepted, any error for an unknown name is surfaced with its code, and known members
of the wrong type are still refused.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import conformance_manifest, pid_gone, schema_errors

from elizaos_interop import (
    LoadedPlugin,
    PluginCallError,
    PluginCrashError,
    PluginProtocolError,
    load_ipc_plugin,
)
from elizaos_interop.host._ipc import IpcTransport
from elizaos_interop.wire._manifest import check_manifest

RAW = Path(__file__).resolve().parent / "raw_plugins"
SEED = RAW / "seed_plugin.py"
MEM = {"content": {"text": "hi"}}


def pid_of(plugin: LoadedPlugin) -> int:
    transport = plugin.transport
    assert isinstance(transport, IpcTransport)
    return transport.pid


def requests_logged(log: Path) -> list[dict[str, Any]]:
    """Every request line the raw plugin received, decoded."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def seed(tmp_path: Path) -> Iterator[tuple[LoadedPlugin, Path]]:
    log = tmp_path / "requests.jsonl"
    plugin = load_ipc_plugin([sys.executable, str(SEED), str(log)])
    try:
        yield plugin, log
    finally:
        plugin.close()


def test_manifest_is_kept_as_received(seed: tuple[LoadedPlugin, Path]) -> None:
    plugin, _ = seed
    assert plugin.name == "@elizaos/plugin-seed"
    assert plugin.manifest["config"] == {"SEED_API_KEY": None}
    assert plugin.manifest["dependencies"] == ["@elizaos/plugin-sql"]
    assert plugin.manifest["priority"] == 5
    greet = plugin.actions[0]
    assert greet.descriptor["examples"] == [[{"name": "user", "content": {"text": "hi"}}]]
    assert greet.similes == ["HELLO"]
    assert plugin.providers[0].descriptor == {
        "name": "TIME",
        "description": "The time",
        "position": -1,
        "dynamic": True,
    }
    assert plugin.providers[0].dynamic is True
    assert plugin.evaluators[0].descriptor["examples"][0]["outcome"] == "o"
    assert plugin.protocol_version == 0
    assert plugin.capabilities == frozenset()


def test_seed_answer_shapes_are_accepted(seed: tuple[LoadedPlugin, Path]) -> None:
    plugin, _ = seed

    async def main() -> None:
        await plugin.init({"k": "v"})  # answered {"success": true}: accepted
        assert await plugin.actions[0].validate(None, MEM) is True
        assert await plugin.actions[1].validate(None, MEM) is False
        assert await plugin.validate_evaluator("REFLECT", MEM) is True
        greet = await plugin.actions[0].handler(None, MEM, {}, {})
        assert greet.text == "hello"
        assert greet == {
            "success": True,
            "text": "hello",
            "data": {"actions": ["GREET"]},
            "extra": None,
        }
        strange = await plugin.invoke_action("STRANGE", MEM)
        assert strange.to_dict() == {"success": True, "confidence": 0.9, "nested": {"a": [1]}}
        provided = await plugin.providers[0].get(None, MEM)
        assert provided.to_dict() == {
            "text": "noon",
            "values": {"hour": 12},
            "position": -1,
            "text2": None,
        }
        reflected = await plugin.evaluators[0].handler(None, MEM)
        assert reflected is not None
        assert reflected["score"] == 0.5

    asyncio.run(main())


def test_any_error_for_an_unknown_name_keeps_its_code(seed: tuple[LoadedPlugin, Path]) -> None:
    plugin, _ = seed
    with pytest.raises(PluginCallError) as info:
        asyncio.run(plugin.invoke_action("NOPE", MEM))
    assert info.value.code == -32602
    assert info.value.message == "Unknown: NOPE"
    assert info.value.method == 'invokeAction("NOPE")'
    assert info.value.transport == "ipc"
    with pytest.raises(PluginCallError) as provider_info:
        asyncio.run(plugin.get_provider("NOPE", MEM))
    assert provider_info.value.code == -32602


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("TYPO", "success is missing"),
        ("BAD_SUCCESS", "success is string, expected boolean"),
        ("BAD_TEXT", "text is integer, expected string"),
        ("BAD_VALUES", "values is array, expected object"),
        ("NOT_OBJECT", "expected object, got array"),
    ],
)
def test_known_members_of_the_wrong_type_are_refused(
    seed: tuple[LoadedPlugin, Path], name: str, reason: str
) -> None:
    plugin, _ = seed
    with pytest.raises(PluginProtocolError) as info:
        asyncio.run(plugin.invoke_action(name, MEM))
    assert info.value.detail.startswith(f"invalid result: {reason} (received b'")
    assert info.value.method == f'invokeAction("{name}")'
    assert info.value.plugin == "@elizaos/plugin-seed"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("BAD_TEXT", "text is integer, expected string"),
        ("BAD_VALUES", "values is array, expected object"),
        ("TYPO", "expected object, got string"),
    ],
)
def test_provider_results_check_known_members(
    seed: tuple[LoadedPlugin, Path], name: str, reason: str
) -> None:
    plugin, _ = seed
    with pytest.raises(PluginProtocolError) as info:
        asyncio.run(plugin.get_provider(name, MEM))
    assert info.value.detail.startswith(f"invalid result: {reason} (received b'")


@pytest.mark.parametrize(("name", "received"), [("TYPO", "string"), ("BAD_SUCCESS", "object")])
def test_validate_answers_other_than_the_two_shapes_are_refused(
    seed: tuple[LoadedPlugin, Path], name: str, received: str
) -> None:
    plugin, _ = seed
    with pytest.raises(PluginProtocolError) as info:
        asyncio.run(plugin.validate_action(name, MEM))
    assert info.value.detail.startswith(
        f'invalid result: expected boolean or {{"valid": boolean}}, got {received}'
    )


# -- check_manifest against the schema -------------------------------------------------------


def test_unknown_members_and_scoped_names_are_valid() -> None:
    good = conformance_manifest()
    accepted: list[dict[str, Any]] = [
        {**good, "name": "@elizaos/plugin-bootstrap"},
        {**good, "name": "plugin~tilde"},
        {**good, "examples": [], "config": {"K": 1}, "dependencies": ["x"], "priority": 1},
        {**good, "protocolVersion": 1, "capabilities": ["runtime", "shutdown", "future"]},
        {**good, "services": ["task"], "events": ["MESSAGE_RECEIVED"], "routes": ["GET /x"]},
        {**good, "models": ["TEXT_SMALL"]},
        {**good, "actions": [{"name": "a", "description": "d", "examples": [[{"x": 1}]]}]},
        {**good, "providers": [{"name": "p", "position": 3, "anything": {"deep": [1]}}]},
        {**good, "evaluators": [{"name": "e", "description": "d", "examples": "free form"}]},
    ]
    for manifest in accepted:
        assert check_manifest(manifest) == [], manifest
        assert schema_errors("manifest.schema.json", manifest) == [], manifest


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"name": "@Scope/x"}, "is not an npm package name"),
        ({"name": "@scope/"}, "is not an npm package name"),
        ({"name": "a" * 215}, "is not an npm package name"),
        ({"protocolVersion": "1"}, "protocolVersion is string '1', expected a non-negative"),
        ({"protocolVersion": -1}, "protocolVersion is integer -1, expected a non-negative"),
        ({"protocolVersion": True}, "protocolVersion is boolean True"),
        ({"capabilities": ["runtime", 1]}, "capabilities is array, expected array of strings"),
        ({"services": "task"}, "services is string, expected array of strings"),
        (
            {"actions": [{"name": "a", "description": "d", "similes": "A"}]},
            "actions[0].similes is string, expected array of strings",
        ),
        ({"providers": [{"name": "p", "dynamic": "yes"}]}, "providers[0].dynamic is string"),
        ({"actions": [{"name": "a", "description": 3}]}, "actions[0].description is integer"),
    ],
)
def test_known_manifest_members_of_the_wrong_type(change: dict[str, Any], problem: str) -> None:
    manifest = {**conformance_manifest(), **change}
    problems = check_manifest(manifest)
    assert any(problem in p for p in problems), problems
    assert schema_errors("manifest.schema.json", manifest), manifest


# -- strict JSON on the receiving side (sections 2 and 3.5) -----------------------------------


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("nan", "received a line that is not JSON"),
        ("infinity", "received a line that is not JSON"),
        ("minus-infinity", "received a line that is not JSON"),
        ("surrogate", "received a line that is not JSON"),
        ("utf8", "received a line that is not JSON"),
        ("string-id", "unexpected id '2'"),  # getManifest was request 1
        ("float-id", "unexpected id 2.0"),
    ],
)
def test_lines_outside_the_json_profile_are_protocol_faults(mode: str, reason: str) -> None:
    plugin = load_ipc_plugin([sys.executable, str(RAW / "bad_json_plugin.py"), mode])
    pid = pid_of(plugin)
    try:
        with pytest.raises(PluginProtocolError) as info:
            asyncio.run(plugin.invoke_action("go", MEM))
        assert info.value.detail.startswith(reason)
        assert info.value.method == 'invokeAction("go")'
        assert info.value.transport == "ipc"
        assert pid_gone(pid)  # killed: the stream is in an unknown state
        with pytest.raises(PluginCrashError, match="plugin is closed"):
            asyncio.run(plugin.invoke_action("go", MEM))
    finally:
        plugin.close()


def test_an_escaped_surrogate_pair_is_text() -> None:
    with load_ipc_plugin([sys.executable, str(RAW / "bad_json_plugin.py"), "pair"]) as plugin:
        assert asyncio.run(plugin.invoke_action("go", MEM)).text == "\U0001f600"


# -- version and capability exchange (section 12) ----------------------------------------------


def test_get_manifest_carries_the_hosts_half_of_the_exchange(
    seed: tuple[LoadedPlugin, Path],
) -> None:
    _, log = seed
    first = requests_logged(log)[0]
    assert first["method"] == "getManifest"
    assert first["params"] == {"protocolVersion": 1, "capabilities": ["runtime"]}


def test_a_seed_plugin_is_closed_by_eof_without_shutdown(tmp_path: Path) -> None:
    """No ``shutdown`` for a plugin without the capability: with a grace of ten minutes, a
    close that waited for an answer that never comes would not return within the test's run."""
    log = tmp_path / "requests.jsonl"
    plugin = load_ipc_plugin([sys.executable, str(SEED), str(log)], grace=600)
    pid = pid_of(plugin)
    asyncio.run(plugin.invoke_action("GREET", MEM))
    plugin.close()
    assert pid_gone(pid, within=0)
    assert [r["method"] for r in requests_logged(log)] == ["getManifest", "invokeAction"]
    transport = plugin.transport
    assert isinstance(transport, IpcTransport)
    assert transport.returncode == 0  # it saw EOF and exited by itself


def test_a_plugin_declaring_shutdown_is_sent_shutdown(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    plugin = load_ipc_plugin([sys.executable, str(SEED), str(log), "shutdown,future"], grace=600)
    assert plugin.protocol_version == 1
    assert plugin.capabilities == frozenset({"shutdown", "future"})
    plugin.close()
    assert [r["method"] for r in requests_logged(log)] == ["getManifest", "shutdown"]
    transport = plugin.transport
    assert isinstance(transport, IpcTransport)
    assert transport.returncode == 0


def test_capabilities_without_a_protocol_version_are_the_seed_dialect(tmp_path: Path) -> None:
    transport = IpcTransport([sys.executable, str(SEED), str(tmp_path / "log")])
    try:
        transport.set_peer(0, frozenset({"shutdown"}))
        assert transport.peer_shutdown is False
        transport.set_peer(1, frozenset({"shutdown"}))
        assert transport.peer_shutdown is True
    finally:
        transport.close()
