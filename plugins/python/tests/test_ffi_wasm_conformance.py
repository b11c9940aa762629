"""The Rust conformance fixture (protocol.md section 9) through both in-process transports.

Every behaviour of section 9 is exercised through the public loaders ``load_rust_plugin`` (C FFI,
cffi) and ``load_wasm_plugin`` (wasmtime), against the real artifacts built from
``plugins/rust``; the JSON edge cases come from the shared vectors in ``docs/vectors``. A missing
artifact fails the test with the command that builds it.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import result_errors, schema_errors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elizaos_interop import (
    InvalidPayloadError,
    LoadedPlugin,
    PluginCallError,
    PluginCrashError,
    PluginProtocolError,
    load_rust_plugin,
    load_wasm_plugin,
)

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO / "docs" / "vectors"
TRANSPORTS = ("ffi", "wasm")
BUILD = {
    "ffi": "cd plugins/rust/{crate} && cargo build --release --features ffi",
    "wasm": "plugins/rust/build-wasm.sh",
}
T = TypeVar("T")


def rust_target_dir() -> Path:
    """``$ELIZAOS_RUST_TARGET_DIR`` or ``plugins/rust/target``."""
    return Path(os.environ.get("ELIZAOS_RUST_TARGET_DIR", REPO / "plugins" / "rust" / "target"))


def artifact(transport: str, lib: str, crate: str) -> Path:
    """Path of a built plugin; fails (never skips) with the build command when it is missing."""
    base = rust_target_dir()
    if transport == "ffi":
        path = base / "release" / f"lib{lib}.so"
    else:
        path = base / "wasm32-unknown-unknown" / "release" / f"{lib}.wasm"
    if not path.is_file():
        pytest.fail(
            f"missing {transport} artifact {path}; build it with: "
            + BUILD[transport].format(crate=crate),
            pytrace=False,
        )
    return path


def conformance_path(transport: str) -> Path:
    return artifact(transport, "elizaos_plugin_conformance", "fixtures/conformance")


def load(transport: str, path: Path, **options: Any) -> LoadedPlugin:
    """Load through the public loader of ``transport``."""
    if transport == "ffi":
        return load_rust_plugin(path, **options)
    return load_wasm_plugin(path, **options)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def plugin(transport: str) -> Iterator[LoadedPlugin]:
    loaded = load(transport, conformance_path(transport))
    try:
        yield loaded
    finally:
        loaded.close()


def memory_with(value: Any, text: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"value": value}
    if text is not None:
        content["text"] = text
    return {"content": content}


def same_json(a: Any, b: Any) -> bool:
    """Section 2 equality: numbers by value (-0.0 only equals -0.0), member order ignored."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, float) and isinstance(b, float) and a == 0.0 and b == 0.0:
            return math.copysign(1.0, a) == math.copysign(1.0, b)
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


# -- manifest -----------------------------------------------------------------------------------


def test_manifest_is_the_shared_one(plugin: LoadedPlugin, transport: str) -> None:
    expected = json.loads((VECTORS / "conformance-manifest.json").read_text(encoding="utf-8"))
    expected["language"] = "rust"
    # Section 12: in-process transports carry no runtime calls and no shutdown (11.6, 3.4).
    assert plugin.protocol_version == 1
    assert plugin.capabilities == frozenset()
    exchange = ("protocolVersion", "capabilities")
    assert {k: v for k, v in plugin.manifest.items() if k not in exchange} == expected
    assert schema_errors("manifest.schema.json", plugin.manifest) == []
    assert plugin.transport.kind == transport
    assert plugin.transport.label == "conformance-fixture"


# -- echo: exact round trips ----------------------------------------------------------------------


def _edge_cases() -> list[dict[str, Any]]:
    data = json.loads((VECTORS / "json-edge-cases.json").read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = data["cases"]
    return cases


def _case_value(case: dict[str, Any]) -> Any:
    if "generate" in case:
        gen = case["generate"]
        text = gen["repeat"] * (gen["length"] // len(gen["repeat"]) + 1)
        return text[: gen["length"]]
    return case["value"]


EDGE_CASES = _edge_cases()


@pytest.mark.parametrize("case", EDGE_CASES, ids=[c["name"] for c in EDGE_CASES])
def test_echo_round_trips_edge_case(plugin: LoadedPlugin, case: dict[str, Any]) -> None:
    value = _case_value(case)
    expected = case.get("via_rust", value)
    text = value if isinstance(value, str) else None
    memory = memory_with(value, text)
    state = {"s": value}
    options = {"o": [value]}
    result = run(plugin.invoke_action("echo", memory, state, options))
    assert result["success"] is True
    data = result["data"]
    assert same_json(data["memory"]["content"]["value"], expected), case["name"]
    assert same_json(data["state"]["s"], expected)
    assert same_json(data["options"]["o"], [expected])
    if text is not None:
        assert result["text"] == text
        assert data["memory"]["content"]["text"] == text
    else:
        assert "text" not in result
    assert result_errors("invokeAction", result.to_dict()) == []


@pytest.mark.parametrize(
    "value", [8.235655725646734e-165, 2.2250738585072011e-308, 1.2345678901234567e-300]
)
def test_echo_round_trips_hard_floats(plugin: LoadedPlugin, value: float) -> None:
    """Doubles whose shortest text needs a correctly rounded parser (section 2: every finite
    double round-trips exactly). serde_json needs its ``float_roundtrip`` feature for these."""
    result = run(plugin.invoke_action("echo", memory_with(value)))
    assert result["data"]["memory"]["content"]["value"] == value


def test_echo_keeps_unknown_memory_members(plugin: LoadedPlugin) -> None:
    memory = {"id": "m-1", "roomId": "r", "content": {"text": "hi", "extra": {"x": [1, 2]}}}
    result = run(plugin.invoke_action("echo", memory))
    assert result["data"] == {"memory": memory, "state": {}, "options": {}}
    assert result["text"] == "hi"


def test_echo_without_text_has_no_text(plugin: LoadedPlugin) -> None:
    result = run(plugin.invoke_action("echo", {"content": {"other": 42}}))
    assert "text" not in result
    assert result["data"]["memory"] == {"content": {"other": 42}}


def test_non_string_text_is_refused_by_the_plugin(plugin: LoadedPlugin) -> None:
    """memory.schema.json: ``content.text``, if present, is a string."""
    with pytest.raises(PluginCallError) as info:
        run(plugin.invoke_action("echo", {"content": {"text": 42}}))
    assert info.value.code == -32602


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_echo_round_trip_property(kind: str) -> None:
    """Any value of the JSON profile comes back equal (section 2), through both transports."""
    loaded = load(kind, conformance_path(kind))
    try:

        @settings(
            max_examples=300,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(value=JSON_VALUES, text=st.text())
        def check(value: Any, text: str) -> None:
            memory = {"content": {"text": text, "value": value}}
            result = run(loaded.invoke_action("echo", memory, {"v": value}, {"v": value}))
            assert result["text"] == text
            assert same_json(result["data"]["memory"], memory)
            assert same_json(result["data"]["state"], {"v": value})
            assert same_json(result["data"]["options"], {"v": value})

        check()
    finally:
        loaded.close()


# -- actions ---------------------------------------------------------------------------------------


def test_validate_actions(plugin: LoadedPlugin) -> None:
    memory = {"content": {"text": "x"}}
    for name in ("echo", "fail", "panic", "slow", "large", "crash", "invalid"):
        assert run(plugin.validate_action(name, memory)) is True, name
    assert run(plugin.validate_action("reject", memory)) is False


def test_reject(plugin: LoadedPlugin) -> None:
    result = run(plugin.invoke_action("reject", {"content": {}}))
    assert result == {"success": False, "error": "rejected"}


def test_fail_is_32000_and_the_plugin_keeps_serving(plugin: LoadedPlugin, transport: str) -> None:
    with pytest.raises(PluginCallError) as info:
        run(plugin.invoke_action("fail", {"content": {}}))
    err = info.value
    assert err.code == -32000
    assert err.message == "fixture failure"
    assert err.data["kind"] == "action"
    assert err.data["name"] == "fail"
    assert "conformance-fixture" in str(err)
    assert 'invokeAction("fail")' in str(err)
    assert f"over {transport}" in str(err)
    assert run(plugin.invoke_action("reject", {"content": {}}))["success"] is False


def test_panic_is_32000_and_the_next_call_works(plugin: LoadedPlugin) -> None:
    for _ in range(3):
        with pytest.raises(PluginCallError) as info:
            run(plugin.invoke_action("panic", {"content": {"text": "p"}}))
        assert info.value.code == -32000
        assert "fixture panic" in info.value.message
        assert info.value.data["kind"] == "action"
        assert info.value.data["name"] == "panic"
        result = run(plugin.invoke_action("echo", {"content": {"text": "after"}}))
        assert result["text"] == "after"


def test_crash(plugin: LoadedPlugin, transport: str) -> None:
    """WASM: ``unreachable`` is a trap, recovered; FFI: -32002 (a crash would kill the host)."""
    with pytest.raises(PluginCallError) as info:
        run(plugin.invoke_action("crash", {"content": {}}))
    if transport == "ffi":
        assert info.value.code == -32002
    else:
        assert info.value.code == -32000
        assert "unreachable" in info.value.message
    assert run(plugin.invoke_action("echo", {"content": {"text": "alive"}}))["text"] == "alive"


def test_invalid_result_is_32003(plugin: LoadedPlugin) -> None:
    with pytest.raises(PluginCallError) as info:
        run(plugin.invoke_action("invalid", {"content": {}}))
    assert info.value.code == -32003
    assert info.value.data["kind"] == "action"
    assert info.value.data["name"] == "invalid"
    assert isinstance(info.value.data["reason"], str)


def test_slow(plugin: LoadedPlugin, transport: str) -> None:
    """FFI sleeps; wasm32-unknown-unknown has no clock, so the fixture answers -32002 there."""
    if transport == "ffi":
        result = run(plugin.invoke_action("slow", {"content": {}}, None, {"delayMs": 5}))
        assert result == {"success": True, "text": "slept 5"}
    else:
        with pytest.raises(PluginCallError) as info:
            run(plugin.invoke_action("slow", {"content": {}}, None, {"delayMs": 5}))
        assert info.value.code == -32002


def _large_text(n: int) -> str:
    return ("0123456789" * (n // 10 + 1))[:n]


def test_large_default_is_1_mib(plugin: LoadedPlugin) -> None:
    result = run(plugin.invoke_action("large", {"content": {}}))
    assert result["values"] == {"size": 1048576}
    assert result["text"] == _large_text(1048576)


def test_large_16_mb(plugin: LoadedPlugin, transport: str) -> None:
    """A result just under the 16 MiB message limit; WASM memory grows to hold it."""
    size = 16_000_000
    before = plugin.transport.memory_size() if transport == "wasm" else 0  # type: ignore[attr-defined]
    result = run(plugin.invoke_action("large", {"content": {}}, None, {"size": size}))
    assert result["values"] == {"size": size}
    assert len(result["text"]) == size
    assert result["text"] == _large_text(size)
    if transport == "wasm":
        assert plugin.transport.memory_size() > max(before, size)  # type: ignore[attr-defined]
    assert run(plugin.invoke_action("echo", {"content": {"text": "ok"}}))["text"] == "ok"


def test_large_echo_7_mib_in_and_14_mib_out(plugin: LoadedPlugin) -> None:
    text = "\U0001f600" * (7 * 1024 * 1024 // 4)
    result = run(plugin.invoke_action("echo", {"content": {"text": text}}))
    assert result["text"] == text
    assert result["data"]["memory"]["content"]["text"] == text


def test_result_over_the_message_limit_is_a_protocol_error(plugin: LoadedPlugin) -> None:
    with pytest.raises(PluginProtocolError, match="exceeds the limit of 16777216 bytes"):
        run(plugin.invoke_action("large", {"content": {}}, None, {"size": 17_000_000}))
    assert run(plugin.invoke_action("echo", {"content": {"text": "ok"}}))["text"] == "ok"


def test_argument_over_the_message_limit_is_refused(transport: str) -> None:
    loaded = load(transport, conformance_path(transport), max_message_bytes=4000)
    try:
        with pytest.raises(InvalidPayloadError) as info:
            run(loaded.invoke_action("echo", {"content": {"text": "x" * 4000}}))
        assert info.value.path == "$.memory"
        assert "exceeds the limit of 4000 bytes" in str(info.value)
        assert run(loaded.invoke_action("echo", {"content": {"text": "ok"}}))["text"] == "ok"
    finally:
        loaded.close()


# -- providers -----------------------------------------------------------------------------------


def test_providers(plugin: LoadedPlugin) -> None:
    memory = {"content": {"text": "hi"}}
    assert run(plugin.get_provider("static", memory)) == {
        "text": "static provider",
        "values": {"answer": 42},
    }
    echoed = run(plugin.get_provider("echo", memory, {"k": 1}))
    assert echoed == {"text": "hi", "data": {"memory": memory, "state": {"k": 1}}}
    assert run(plugin.get_provider("config", memory)) == {"values": {}}
    with pytest.raises(PluginCallError) as info:
        run(plugin.get_provider("fail", memory))
    assert info.value.code == -32000
    assert info.value.data["kind"] == "provider"


def test_config_provider_sees_the_last_init(plugin: LoadedPlugin) -> None:
    memory: dict[str, Any] = {"content": {}}
    run(plugin.init({"apiKey": "a", "n": 1}))
    assert run(plugin.get_provider("config", memory)) == {"values": {"apiKey": "a", "n": 1}}
    run(plugin.init({"second": [True, None]}))
    assert run(plugin.get_provider("config", memory)) == {"values": {"second": [True, None]}}


def test_init_config_survives_a_panic(plugin: LoadedPlugin) -> None:
    """WASM replays the last init on the new instance; FFI state is untouched by a caught panic."""
    run(plugin.init({"kept": "yes"}))
    with pytest.raises(PluginCallError):
        run(plugin.invoke_action("panic", {"content": {}}))
    assert run(plugin.get_provider("config", {"content": {}})) == {"values": {"kept": "yes"}}


# -- evaluators -----------------------------------------------------------------------------------


def test_evaluators(plugin: LoadedPlugin) -> None:
    memory = {"content": {"text": "e"}}
    for name in ("echo", "silent", "fail"):
        assert run(plugin.validate_evaluator(name, memory)) is True
    assert run(plugin.validate_evaluator("reject", memory)) is False
    result = run(plugin.invoke_evaluator("echo", memory, {"s": 2}))
    assert result == {"success": True, "data": {"memory": memory, "state": {"s": 2}}}
    assert run(plugin.invoke_evaluator("silent", memory)) is None
    assert run(plugin.invoke_evaluator("reject", memory)) == {"success": False}
    with pytest.raises(PluginCallError) as info:
        run(plugin.invoke_evaluator("fail", memory))
    assert info.value.code == -32000
    assert info.value.data["kind"] == "evaluator"


# -- unknown names, bad params, closed plugins -------------------------------------------------


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("validateAction", "action"),
        ("invokeAction", "action"),
        ("getProvider", "provider"),
        ("validateEvaluator", "evaluator"),
        ("invokeEvaluator", "evaluator"),
    ],
)
def test_unknown_name_is_32001(plugin: LoadedPlugin, method: str, kind: str) -> None:
    with pytest.raises(PluginCallError) as info:
        plugin.transport.call_sync(method, {"name": "no-such", "memory": {"content": {}}})
    assert info.value.code == -32001
    assert info.value.data == {"kind": kind, "name": "no-such"}


def test_missing_and_mistyped_params_are_32602(plugin: LoadedPlugin) -> None:
    t = plugin.transport
    with pytest.raises(PluginCallError) as info:
        t.call_sync("invokeAction", {"name": "echo"})
    assert info.value.code == -32602
    assert info.value.data == {"param": "memory", "expected": "object", "received": "missing"}
    with pytest.raises(PluginCallError) as info:
        t.call_sync("validateAction", {"name": 7, "memory": {"content": {}}})
    assert info.value.data == {"param": "name", "expected": "string", "received": "integer"}
    with pytest.raises(PluginCallError) as info:
        t.call_sync("getProvider", {"name": "static", "memory": {"content": {}}, "state": []})
    assert info.value.data == {"param": "state", "expected": "object", "received": "array"}
    with pytest.raises(PluginCallError) as info:
        t.call_sync("init", {})
    assert info.value.data == {"param": "config", "expected": "object", "received": "missing"}


def test_memory_without_content_is_refused_by_the_plugin(plugin: LoadedPlugin) -> None:
    with pytest.raises(PluginCallError) as info:
        plugin.transport.call_sync("invokeAction", {"name": "echo", "memory": {"id": 1}})
    assert info.value.code == -32602
    with pytest.raises(PluginCallError) as info:
        plugin.transport.call_sync("validateAction", {"name": "echo", "memory": {"id": 1}})
    assert info.value.code == -32602


def test_unknown_method_is_32601(plugin: LoadedPlugin) -> None:
    with pytest.raises(PluginCallError) as info:
        plugin.transport.call_sync("invokeActionz", {})
    assert info.value.code == -32601


def test_values_outside_the_profile_are_refused_before_sending(plugin: LoadedPlugin) -> None:
    with pytest.raises(InvalidPayloadError) as info:
        run(plugin.invoke_action("echo", {"content": {"text": "a\ud800b"}}))
    assert info.value.path == "$.memory.content.text"
    with pytest.raises(InvalidPayloadError) as info:
        run(plugin.invoke_action("echo", {"content": {}}, {"x": [1.0, math.nan]}))
    assert info.value.path == "$.state.x[1]"
    with pytest.raises(InvalidPayloadError) as info:
        run(plugin.invoke_action("echo\ud800", {"content": {}}))
    assert info.value.path == "$.name"
    assert run(plugin.invoke_action("echo", {"content": {"text": "ok"}}))["text"] == "ok"


def test_nul_in_name(plugin: LoadedPlugin, transport: str) -> None:
    """FFI cannot carry U+0000 in a C-string name; WASM passes (ptr, len): an unknown name."""
    if transport == "ffi":
        with pytest.raises(InvalidPayloadError) as info:
            run(plugin.invoke_action("echo\x00", {"content": {}}))
        assert info.value.path == "$.name"
        assert "U+0000" in str(info.value)
    else:
        with pytest.raises(PluginCallError) as call_info:
            run(plugin.invoke_action("echo\x00", {"content": {}}))
        assert call_info.value.code == -32001
        assert call_info.value.data == {"kind": "action", "name": "echo\x00"}


def test_shutdown_then_close(plugin: LoadedPlugin) -> None:
    assert plugin.transport.call_sync("shutdown", {}) == {}
    plugin.close()
    plugin.close()
    with pytest.raises(PluginCrashError, match="plugin is closed"):
        run(plugin.invoke_action("echo", {"content": {}}))


def test_async_and_sync_calls_agree(plugin: LoadedPlugin) -> None:
    params = {"name": "echo", "memory": {"content": {"text": "s"}}, "state": {}, "options": {}}
    sync = plugin.transport.call_sync("invokeAction", params)
    asynchronous = run(plugin.transport.call("invokeAction", params))
    assert sync == asynchronous


def test_handles_match_the_manifest(plugin: LoadedPlugin) -> None:
    action = next(a for a in plugin.actions if a.name == "echo")
    result = run(action.handler(None, {"content": {"text": "h"}}, {}, {}))
    assert result.text == "h"
    provider = next(p for p in plugin.providers if p.name == "static")
    assert run(provider.get(None, {"content": {}})).values == {"answer": 42}
    evaluator = next(e for e in plugin.evaluators if e.name == "silent")
    assert run(evaluator.handler(None, {"content": {}})) is None
