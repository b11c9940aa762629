"""The plugin authoring API (Plugin, Action, Provider, Evaluator) as served by a real bridge."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import bridge_env, schema_errors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elizaos_interop import (
    Action,
    Evaluator,
    LoadedPlugin,
    Plugin,
    PluginCallError,
    Provider,
    load_ipc_plugin,
    load_python_plugin,
)

SDK_PLUGIN = """
import math
from elizaos_interop import Action, Evaluator, Plugin, Provider, RuntimeUnavailableError

seen = {}

async def setup(config, runtime):
    if config.get("explode"):
        raise ValueError("bad config")
    seen["init"] = dict(config)

def sync_action(runtime, memory, state, options):
    return {"success": True, "text": None, "values": {"init": seen.get("init")}, "data": None}

def truthy(runtime, memory, state):
    return "yes"

def nan_result(runtime, memory, state, options):
    return {"success": True, "values": {"x": math.nan}}

def not_a_dict(runtime, memory, state, options):
    return ["success"]

def missing_success(runtime, memory, state, options):
    return {"text": "no success member"}

async def setting(runtime, memory, state):
    # Without a runtime from the host, settings come from init's config; getSetting says so.
    try:
        await runtime.get_setting("k")
    except RuntimeUnavailableError as exc:
        refused = [str(exc), exc.code]
    return {"text": str(runtime.config.get("k")), "values": {"refused": refused}}

def bad_provider(runtime, memory, state):
    return {"text": 3}

plugin = Plugin(
    name="sdk-test",
    description="SDK behaviours",
    version="3.1.4",
    init=setup,
    actions=[
        Action(name="sync", handler=sync_action, similes=["SYNC"]),
        Action(name="truthy", handler=sync_action, validate=truthy),
        Action(name="nan", handler=nan_result),
        Action(name="list", handler=not_a_dict),
        Action(name="no-success", handler=missing_success),
    ],
    providers=[
        Provider(name="setting", get=setting, dynamic=True),
        Provider(name="bad", get=bad_provider),
    ],
    evaluators=[Evaluator(name="ev", handler=lambda r, m, s: None, always_run=True)],
)
"""

MEM = {"content": {"text": "hi"}}


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedPlugin]:
    path = tmp_path_factory.mktemp("sdk") / "sdk_plugin.py"
    path.write_text(SDK_PLUGIN)
    plugin = load_python_plugin(path)
    yield plugin
    plugin.close()


def test_manifest_from_the_dataclasses(sdk: LoadedPlugin) -> None:
    assert not schema_errors("manifest.schema.json", sdk.manifest)
    assert sdk.manifest["version"] == "3.1.4"
    assert sdk.manifest["language"] == "python"
    assert sdk.manifest["actions"][0] == {"name": "sync", "description": "", "similes": ["SYNC"]}
    assert sdk.manifest["providers"][0] == {"name": "setting", "dynamic": True}
    assert sdk.manifest["evaluators"] == [{"name": "ev", "description": "", "alwaysRun": True}]


def test_sync_handlers_init_and_canonical_results(sdk: LoadedPlugin) -> None:
    async def main() -> None:
        await sdk.init({"k": "v"})
        result = await sdk.invoke_action("sync", MEM)
        assert result.to_dict() == {"success": True, "values": {"init": {"k": "v"}}}
        assert "text" not in result
        assert result.text is None
        setting = await sdk.get_provider("setting", MEM)
        assert setting == {
            "text": "v",
            "values": {"refused": ["runtime.getSetting is not provided by the host", None]},
        }
        assert await sdk.invoke_evaluator("ev", MEM) is None
        assert await sdk.validate_evaluator("ev", MEM) is True

    asyncio.run(main())


@pytest.mark.parametrize(
    ("method", "name", "reason"),
    [
        ("validateAction", "truthy", "validate must return a boolean, received str"),
        ("invokeAction", "nan", "not JSON"),
        ("invokeAction", "list", "ActionResult must be an object, received array"),
        ("invokeAction", "no-success", "ActionResult.success is missing"),
        ("getProvider", "bad", "ProviderResult.text must be a string, received integer"),
    ],
)
def test_invalid_results_give_32003(sdk: LoadedPlugin, method: str, name: str, reason: str) -> None:
    with pytest.raises(PluginCallError) as err:
        sdk.transport.call_sync(method, {"name": name, "memory": MEM})
    assert err.value.code == -32003
    assert reason in err.value.data["reason"]
    assert err.value.data["name"] == name


def test_failing_init_gives_32000(sdk: LoadedPlugin) -> None:
    with pytest.raises(PluginCallError) as err:
        asyncio.run(sdk.init({"explode": True}))
    assert err.value.code == -32000
    assert err.value.message == "bad config"
    assert err.value.data == {"kind": "plugin", "name": "sdk-test", "exception": "ValueError"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad Name"}, "must be 1..214 characters"),
        ({"name": "ok", "version": "1"}, "is not SemVer"),
        (
            {"name": "ok", "actions": [Action(name="a", handler=print)] * 2},
            "duplicate action name 'a'",
        ),
        ({"name": "ok", "providers": (Provider(name="p", get=print),)}, "providers must be a list"),
        ({"name": "ok", "evaluators": [object()]}, "must be Evaluator objects"),
    ],
)
def test_plugin_construction_is_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Plugin(**kwargs)


def test_evaluator_defaults() -> None:
    evaluator = Evaluator(name="e", handler=print)
    assert evaluator.validate(None, {}, {}) is True
    assert evaluator.descriptor() == {"name": "e", "description": ""}


# -- JSON profile round trip through the real bridge -------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def echo_plugin() -> Iterator[LoadedPlugin]:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "conformance_plugin.py"
    plugin = load_ipc_plugin([sys.executable, str(fixture)], env=bridge_env())
    yield plugin
    plugin.close()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=JSON_VALUES, text=st.text())
def test_json_profile_round_trips_exactly(echo_plugin: LoadedPlugin, value: Any, text: str) -> None:
    memory = {"content": {"text": text}, "value": value}
    result = echo_plugin.transport.call_sync(
        "invokeAction", {"name": "echo", "memory": memory, "state": {"v": value}, "options": {}}
    )
    assert result["text"] == text
    assert result["data"] == {"memory": memory, "state": {"v": value}, "options": {}}
    assert repr(result["data"]["memory"]["value"]) == repr(value)  # -0.0 and int/float kept
