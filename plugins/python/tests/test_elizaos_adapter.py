"""elizaOS-shaped plugin objects served as they are (the adapter), without the elizaos package.

A plugin module written the way elizaOS Python plugins are (objects with ``name``/``actions``/...,
handlers taking ``callback``, results as dicts, routes/events/models members) is served by the
real bridge; the adapter must not import ``elizaos`` for it.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import schema_errors
from test_bridge_runtime import Host

from elizaos_interop import serve
from elizaos_interop.plugin._elizaos_adapter import JsonView, adapt_plugin, pep440_to_semver

MEM = {"content": {"text": "hi"}}

PLUGIN = """
import sys
from types import SimpleNamespace as NS

class Route:
    def __init__(self, type, path):
        self.type, self.path = type, path

class Service:
    service_type = "weather"

inits = []

async def init(config, runtime):
    inits.append(config)

async def speak(runtime, message, state, options, callback, responses):
    await callback({"text": "first"})
    await callback(NS(text="second"))
    return {"success": True, "values": {"n": 1}}

async def quiet(runtime, message, state, options):
    return None

async def says(runtime, message, state, options, callback):
    await callback({"text": "said"})
    return {"success": True, "text": "kept"}

async def truthy(runtime, message, state):
    return 1

async def facts(runtime, message, state):
    return {"text": message["content"]["text"], "values": {"elizaos": "elizaos" in sys.modules,
            "inits": inits, "agent": runtime.agent_id}}

async def silent(runtime, message, state, options=None, callback=None, responses=None):
    return None

plugin = NS(
    name="@acme/Weather Plugin",
    description="weather, elizaOS style",
    init=init,
    actions=[
        NS(name="SPEAK", description="speaks twice", handler=speak, validate=truthy,
           similes=["TALK"], examples=[[{"name": "u", "content": {"text": "x"}}]], priority=2),
        NS(name="QUIET", description="returns nothing", handler=quiet, validate=None),
        NS(name="SAYS", description="callback and text", handler=says, validate=truthy),
    ],
    providers=[dict(name="FACTS", description="facts", get=facts, dynamic=True, position=3)],
    evaluators=[NS(name="SILENT", description="nothing to say", handler=silent, validate=truthy,
                   always_run=True)],
    services=[Service],
    events={"MESSAGE_RECEIVED": [print]},
    routes=[Route("GET", "/weather")],
    models={"TEXT_SMALL": print},
    config={"UNITS": "metric"},
)
"""


@pytest.fixture(scope="module")
def weather(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    path: Path = tmp_path_factory.mktemp("weather") / "weather_plugin.py"
    path.write_text(PLUGIN)
    host = Host(path)
    yield host
    host.finish()


def request(host: Host, method: str, params: dict[str, Any]) -> dict[str, Any]:
    host.next_id += 1
    host.send({"id": host.next_id, "method": method, "params": params})
    return host.response(host.next_id)


def test_manifest_of_an_elizaos_shaped_object(weather: Host) -> None:
    manifest = request(weather, "getManifest", {})["result"]
    assert not schema_errors("manifest.schema.json", manifest)
    assert manifest["name"] == "@acme/weather-plugin"
    assert manifest["version"] == "0.0.0"  # no version and no distribution: the default
    assert manifest["services"] == ["weather"]
    assert manifest["events"] == ["MESSAGE_RECEIVED"]
    assert manifest["routes"] == ["GET /weather"]
    assert manifest["models"] == ["TEXT_SMALL"]
    assert manifest["config"] == {"UNITS": "metric"}
    speak = manifest["actions"][0]
    assert speak == {
        "name": "SPEAK",
        "description": "speaks twice",
        "similes": ["TALK"],
        "examples": [[{"name": "u", "content": {"text": "x"}}]],
        "priority": 2,
    }
    assert manifest["providers"] == [
        {"name": "FACTS", "description": "facts", "dynamic": True, "position": 3}
    ]
    assert manifest["evaluators"][0]["alwaysRun"] is True


def test_callback_text_none_results_and_validate(weather: Host) -> None:
    speak = request(weather, "invokeAction", {"name": "SPEAK", "memory": MEM})["result"]
    assert speak == {"success": True, "values": {"n": 1}, "text": "first\nsecond"}
    says = request(weather, "invokeAction", {"name": "SAYS", "memory": MEM})["result"]
    assert says == {"success": True, "text": "kept"}  # the handler's own text wins
    assert request(weather, "invokeAction", {"name": "QUIET", "memory": MEM})["result"] == {
        "success": True
    }
    assert request(weather, "validateAction", {"name": "SPEAK", "memory": MEM})["result"] is True
    assert request(weather, "validateAction", {"name": "QUIET", "memory": MEM})["result"] is True
    assert request(weather, "invokeEvaluator", {"name": "SILENT", "memory": MEM})["result"] is None


def test_plain_data_handlers_without_importing_elizaos(weather: Host) -> None:
    facts = request(
        weather,
        "getProvider",
        {"name": "FACTS", "memory": MEM, "runtime": {"agentId": "a-1"}},
    )["result"]
    assert facts["text"] == "hi"
    assert facts["values"]["elizaos"] is False
    assert facts["values"]["inits"] == [{}]  # the implicit init({}) ran before the first call
    assert facts["values"]["agent"] == "a-1"


@pytest.mark.parametrize(
    ("pep440", "semver"),
    [
        ("2.0.0a5", "2.0.0-alpha.5"),
        ("1.2", "1.2.0"),
        ("1.0.0rc1", "1.0.0-rc.1"),
        ("3.1.4b2", "3.1.4-beta.2"),
        ("1.0.0.post2", "1.0.0+post.2"),
        ("1.0.0.dev3", "1.0.0-dev.3"),
        ("1.2.3-beta.1", "1.2.3-beta.1"),
        ("not a version", None),
    ],
)
def test_pep440_versions_become_semver(pep440: str, semver: str | None) -> None:
    assert pep440_to_semver(pep440) == semver


def test_json_view_reads_members_as_attributes() -> None:
    view = JsonView({"worldId": "w", "messageExamples": [{"name": "a"}], "bio": ["x"]})
    assert view.world_id == view.worldId == "w"
    assert view.message_examples[0].name == "a"
    assert isinstance(view.bio, list)
    assert view.style is None  # absent, like an unset optional field
    assert not hasattr(view, "model_dump")  # duck typing sees a mapping
    assert view == {"worldId": "w", "messageExamples": [{"name": "a"}], "bio": ["x"]}


def test_objects_that_are_not_plugins_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="is not an elizaOS plugin object"):
        adapt_plugin(object())


def test_serve_takes_an_elizaos_shaped_object_in_process() -> None:
    async def hello(runtime: Any, message: Any, state: Any, options: Any, callback: Any) -> Any:
        await callback({"text": "hello, " + message["content"]["text"]})

    plugin = SimpleNamespace(
        name="inline",
        description="an object, not an elizaos_interop.Plugin",
        actions=[SimpleNamespace(name="HELLO", description="greets", handler=hello)],
    )

    async def main() -> list[dict[str, Any]]:
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        request = {"id": 1, "method": "invokeAction", "params": {"name": "HELLO", "memory": MEM}}
        os.write(to_w, json.dumps(request).encode() + b"\n")
        os.close(to_w)
        assert await serve(plugin, input_fd=to_r, output_fd=from_w) == "eof"
        os.close(from_w)
        out = b""
        while chunk := os.read(from_r, 1 << 16):
            out += chunk
        for fd in (to_r, from_r):
            os.close(fd)
        return [json.loads(line) for line in out.splitlines()]

    assert asyncio.run(main()) == [{"id": 1, "result": {"success": True, "text": "hello, hi"}}]
    with pytest.raises(TypeError, match="got int"):
        asyncio.run(serve(3))
