"""Runtime calls: the runtime travels with the call (protocol.md section 11), through the conformance
fixture's ``runtime`` action (section 9). Over IPC the plugin's runtime calls reach the host and are
answered from the in-memory runtime built from a World (11.5); WASM and FFI answer -32002 (11.6)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from testkit._drivers import CallOutcome
from testkit._matrix import Cell
from testkit._session import CellError, InteropSession, LoadedRef
from testkit.suite._helpers import REPO, expect_error, expect_ok, memory

#: The shared in-memory runtime vectors' World (docs/vectors/runtime-world.json), plus one setting
#: per concurrent call of the 100-call check.
VECTORS: dict[str, Any] = json.loads((REPO / "docs" / "vectors" / "runtime-world.json").read_text("utf-8"))
WORLD: dict[str, Any] = VECTORS["world"] | {
    "settings": VECTORS["world"]["settings"] | {f"K{i}": f"value {i}" for i in range(100)}
}
CONCURRENT = 100


def _runtime_call(calls: list[Any], parallel: bool = False) -> dict[str, Any]:
    options: dict[str, Any] = {"calls": calls}
    if parallel:
        options["parallel"] = True
    return {"name": "runtime", "memory": memory("runtime"), "state": {}, "options": options}


def _results(outcome: CallOutcome, what: str, agent_id: str | None) -> list[Any]:
    """``data.results`` of a ``runtime`` action result, after checking its shape and agentId."""
    value = expect_ok(outcome, what)
    assert isinstance(value, dict), f"{what}: expected an ActionResult, received {value!r}"
    assert value.get("success") is True, f"{what}: expected success, received {value}"
    assert value.get("values") == {"agentId": agent_id}, (
        f"{what}: values should be {{'agentId': {agent_id!r}}} (runtime.agentId from the call context), "
        f"received {value.get('values')}"
    )
    results = (value.get("data") or {}).get("results")
    assert isinstance(results, list), f"{what}: data.results should be a list, received {value.get('data')}"
    return results


def _check(results: list[Any], expected: list[Any], what: str) -> None:
    assert results == expected, (
        f"{what}: runtime call results differ;\n  expected {json.dumps(expected)[:800]}"
        f"\n  received {json.dumps(results)[:800]}"
    )


def _load(session: InteropSession, cell: Cell, world: dict[str, Any] | None) -> LoadedRef:
    try:
        return session.load_new(cell, "conformance", world)
    except CellError as exc:
        pytest.fail(str(exc), pytrace=False)


def _unload(ref: LoadedRef) -> None:
    ref.driver.unload(ref.handle)


def _in_process(out: CallOutcome, cell: Cell, what: str) -> None:
    """WASM and FFI: the ``runtime`` action is -32002 (runtime calls are not built there, 11.6)."""
    expect_error(out, f"{what} over {cell.transport}", code=-32002, error_type="PluginCallError")


@pytest.mark.interop_check("runtime-callbacks")
def test_callbacks_answered_from_the_world(interop_session: InteropSession, interop_cell: Cell) -> None:
    """getSetting, getCache and useModel are answered by the host's runtime (the World given at load)."""
    ref = _load(interop_session, interop_cell, WORLD)
    try:
        calls = [
            {"method": "getSetting", "args": ["GREETING"]},
            {"method": "getCache", "args": ["seen"]},
            {"method": "useModel", "args": ["TEXT_SMALL", {"prompt": "hi"}]},
            {"method": "getRoom", "args": ["room-1"]},
            {"method": "getSetting", "args": ["MISSING"]},
        ]
        out = ref.call("invokeAction", _runtime_call(calls))
        if interop_cell.transport != "ipc":
            _in_process(out, interop_cell, "invokeAction(runtime)")
            return
        results = _results(out, "invokeAction(runtime) with a World", WORLD["agentId"])
        _check(
            results,
            [
                {"ok": "hello"},
                {"ok": ["a"]},
                {"ok": "canned small reply"},
                {"ok": {"id": "room-1", "name": "General", "worldId": "world-1"}},
                {"ok": None},
            ],
            "getSetting/getCache/useModel/getRoom",
        )
    finally:
        _unload(ref)


@pytest.mark.interop_check("runtime-errors")
def test_failing_and_missing_runtime_methods(interop_session: InteropSession, interop_cell: Cell) -> None:
    """A runtime method that raises answers -32000 with its message; one the host's runtime lacks
    answers -32601 ``runtime.X is not provided by the host`` (11.2); the handler sees both."""
    ref = _load(interop_session, interop_cell, WORLD)
    try:
        calls = [
            {"method": "getWorld", "args": ["world-1"]},
            {"method": "searchMemories", "args": [{"roomId": "room-1"}]},
            {"method": "getSetting", "args": ["GREETING"]},
        ]
        out = ref.call("invokeAction", _runtime_call(calls))
        if interop_cell.transport != "ipc":
            _in_process(out, interop_cell, "invokeAction(runtime)")
            return
        results = _results(out, "invokeAction(runtime) with failing methods", WORLD["agentId"])
        _check(
            results,
            [
                {"error": {"code": -32000, "message": "database offline"}},
                {
                    "error": {
                        "code": -32601,
                        "message": "runtime.searchMemories is not provided by the host",
                    }
                },
                {"ok": "hello"},
            ],
            "World fail/omit",
        )
    finally:
        _unload(ref)


@pytest.mark.interop_check("runtime-absent")
def test_no_runtime_passed(conformance: LoadedRef, interop_cell: Cell) -> None:
    """Without a runtime from the host's caller, the plugin's runtime calls fail at once inside
    the handler with the named error, and nothing is sent to the host (code null: refused locally)."""
    calls = [
        {"method": "getSetting", "args": ["GREETING"]},
        {"method": "useModel", "args": ["TEXT_SMALL", {}]},
    ]
    out = conformance.call("invokeAction", _runtime_call(calls))
    if interop_cell.transport != "ipc":
        _in_process(out, interop_cell, "invokeAction(runtime)")
        return
    results = _results(out, "invokeAction(runtime) without a runtime", None)
    _check(
        results,
        [
            {"error": {"code": None, "message": "runtime.getSetting is not provided by the host"}},
            {"error": {"code": None, "message": "runtime.useModel is not provided by the host"}},
        ],
        "no runtime",
    )


@pytest.mark.interop_check("runtime-concurrent")
def test_callback_during_other_calls(interop_session: InteropSession, interop_cell: Cell) -> None:
    """Calls in flight together, each with its own runtime: every callback is answered from the
    runtime of the call that made it (``params.call``), while the other calls proceed."""
    ref = _load(interop_session, interop_cell, None)
    try:
        world_a = {"agentId": "agent-a", "settings": {"WHO": "a"}, "models": {"TEXT_SMALL": "model a"}}
        world_b = {"agentId": "agent-b", "settings": {"WHO": "b"}, "models": {"TEXT_SMALL": "model b"}}
        ask = [{"method": "getSetting", "args": ["WHO"]}, {"method": "useModel", "args": ["TEXT_SMALL", {}]}]
        slow: dict[str, Any] = {"name": "slow", "memory": memory("s"), "options": {"delayMs": 30}}
        outcomes = ref.driver.call_many(
            ref.handle,
            [
                ("invokeAction", _runtime_call(ask), world_a),
                ("invokeAction", slow),
                ("invokeAction", _runtime_call(ask, parallel=True), world_b),
                ("invokeAction", _runtime_call(ask), world_a),
            ],
            timeout_ms=20_000,
        )
        if interop_cell.transport != "ipc":
            for i in (0, 2, 3):
                _in_process(outcomes[i], interop_cell, f"concurrent call {i}")
            return
        for i, (world, who) in {0: (world_a, "a"), 2: (world_b, "b"), 3: (world_a, "a")}.items():
            results = _results(outcomes[i], f"concurrent call {i}", str(world["agentId"]))
            _check(results, [{"ok": who}, {"ok": f"model {who}"}], f"concurrent call {i} (World {who})")
        assert expect_ok(outcomes[1], "the slow call between them") == {"success": True, "text": "slept 30"}
    finally:
        _unload(ref)


@pytest.mark.interop_check("runtime-many")
def test_hundred_concurrent_callbacks(interop_session: InteropSession, interop_cell: Cell) -> None:
    """100 calls at once, each calling back for its own setting: every answer reaches its call."""
    ref = _load(interop_session, interop_cell, WORLD)
    try:
        calls = [
            ("invokeAction", _runtime_call([{"method": "getSetting", "args": [f"K{i}"]}]))
            for i in range(CONCURRENT)
        ]
        outcomes = ref.driver.call_many(ref.handle, calls, timeout_ms=60_000)
        if interop_cell.transport != "ipc":
            _in_process(outcomes[0], interop_cell, "invokeAction(runtime)")
            return
        wrong = []
        for i, out in enumerate(outcomes):
            results = _results(out, f"concurrent call {i}", WORLD["agentId"])
            if results != [{"ok": f"value {i}"}]:
                wrong.append((i, results))
        assert not wrong, f"{len(wrong)} of {CONCURRENT} calls got another call's answer: {wrong[:5]}"
    finally:
        _unload(ref)


@pytest.mark.interop_check("runtime-reentrant")
def test_compose_state_reenters_the_plugin(interop_session: InteropSession, interop_cell: Cell) -> None:
    """``composeState`` on the host runs the plugin's own providers across the same pipe while the
    handler waits for the answer (11.4 re-entrancy; 11.5 composeState)."""
    ref = _load(interop_session, interop_cell, WORLD)
    try:
        m = memory("compose")
        calls = [{"method": "composeState", "args": [m, ["static", "config"], True]}]
        out = ref.call("invokeAction", _runtime_call(calls))
        if interop_cell.transport != "ipc":
            _in_process(out, interop_cell, "invokeAction(runtime)")
            return
        results = _results(out, "invokeAction(runtime) calling composeState", WORLD["agentId"])
        assert len(results) == 1, f"one composeState call, received {results}"
        assert "ok" in results[0], f"composeState failed: {results}"
        state = results[0]["ok"]
        assert isinstance(state, dict), f"composeState should give {{text, values, data}}, received {state!r}"
        assert "static provider" in str(state.get("text")), (
            f"composeState's text should hold the plugin's static provider text: {state}"
        )
        assert (state.get("values") or {}).get("answer") == 42, (
            f"composeState's values should hold the static provider's values: {state}"
        )
    finally:
        _unload(ref)


@pytest.mark.interop_check("must-ignore-manifest")
def test_version_exchange_members_kept(conformance: LoadedRef, interop_cell: Cell) -> None:
    """The version exchange's members reach the host's manifest (must-ignore: kept as received),
    and the ``runtime`` action is listed (section 9)."""
    manifest = conformance.manifest
    names = [a.get("name") for a in manifest.get("actions", [])]
    assert "runtime" in names, f"{interop_cell.id}: the fixture's manifest lacks the runtime action: {names}"
    assert manifest.get("protocolVersion") == 1, (
        f"{interop_cell.id}: the manifest should carry protocolVersion 1 as the plugin sent it, "
        f"received {manifest.get('protocolVersion')!r}"
    )
    capabilities = manifest.get("capabilities")
    expected = {"runtime", "shutdown"} if interop_cell.transport == "ipc" else set()
    assert isinstance(capabilities, list), f"{interop_cell.id}: capabilities {capabilities!r}"
    assert expected <= set(capabilities), (
        f"{interop_cell.id}: capabilities should list {sorted(expected)}, received {capabilities!r}"
    )
    if interop_cell.transport != "ipc":
        assert "runtime" not in capabilities, (
            f"{interop_cell.id}: no runtime calls over {interop_cell.transport} (11.6): {capabilities}"
        )
