"""Crashes, slow handlers, large payloads and pipelined calls (protocol.md sections 3.5, 5.4, 9)."""

from __future__ import annotations

import time

import pytest

from testkit._matrix import Cell
from testkit._session import CellError, InteropSession, LoadedRef
from testkit.suite._helpers import echo_expected, expect_error, expect_ok, expect_value, memory

MIB = 1 << 20


def _fresh(session: InteropSession, cell: Cell) -> LoadedRef:
    try:
        return session.load_new(cell)
    except CellError as exc:
        pytest.fail(str(exc), pytrace=False)


def _echo_works(plugin: LoadedRef, cell: Cell, what: str) -> None:
    m = memory(what)
    out = plugin.call("invokeAction", {"name": "echo", "memory": m, "state": {}, "options": {}})
    expect_value(out, echo_expected(m, {}, {}), f"invokeAction(echo) {what}", cell)


def test_crash(interop_session: InteropSession, interop_cell: Cell) -> None:
    """IPC: PluginCrashError, the host survives, a fresh load works. WASM: the trap is recovered.
    FFI: -32002 (a real crash would take the host down)."""
    plugin = _fresh(interop_session, interop_cell)
    try:
        out = plugin.call(
            "invokeAction", {"name": "crash", "memory": memory("x"), "state": {}, "options": {}}
        )
        if interop_cell.transport == "ipc":
            expect_error(out, "invokeAction(crash) over ipc", error_type="PluginCrashError")
            assert "70" in out.message, f"the crash error should name exit status 70: {out.message!r}"
            later = plugin.call("getProvider", {"name": "static", "memory": memory("x")})
            expect_error(later, "a call on the crashed plugin", error_type="PluginCrashError")
        elif interop_cell.transport == "wasm":
            expect_error(
                out, "invokeAction(crash) over wasm (trap)", code=-32000, error_type="PluginCallError"
            )
            _echo_works(plugin, interop_cell, "after a trap (re-instantiated)")
        else:
            expect_error(out, "invokeAction(crash) over ffi", code=-32002, error_type="PluginCallError")
            _echo_works(plugin, interop_cell, "after crash was refused")
    finally:
        interop_session_unload(plugin)
    again = _fresh(interop_session, interop_cell)
    try:
        _echo_works(again, interop_cell, "in a fresh instance loaded after the crash")
    finally:
        interop_session_unload(again)


def interop_session_unload(plugin: LoadedRef) -> None:
    """Unload, ignoring a plugin that is already gone."""
    try:
        plugin.driver.unload(plugin.handle)
    except Exception as exc:  # the unload of a crashed plugin may report the crash again
        if "unknown plugin" in str(exc):
            raise


def test_slow_with_timeout(interop_session: InteropSession, interop_cell: Cell) -> None:
    """IPC: a short per-call time-out gives PluginTimeoutError without waiting for the handler;
    WASM: ``slow`` is -32002 (no sleeping in a sandbox without imports); FFI: a real sleep."""
    if interop_cell.transport == "ffi":
        plugin = _fresh(interop_session, interop_cell)
        try:
            out = plugin.call(
                "invokeAction", {"name": "slow", "memory": memory("z"), "options": {"delayMs": 50}}
            )
            expect_value(
                out, {"success": True, "text": "slept 50"}, "invokeAction(slow, 50 ms) over ffi", interop_cell
            )
        finally:
            interop_session_unload(plugin)
        return
    if interop_cell.transport == "wasm":
        plugin = _fresh(interop_session, interop_cell)
        try:
            out = plugin.call(
                "invokeAction", {"name": "slow", "memory": memory("z"), "options": {"delayMs": 50}}
            )
            expect_error(out, "invokeAction(slow) over wasm", code=-32002, error_type="PluginCallError")
            _echo_works(plugin, interop_cell, "after slow was refused")
        finally:
            interop_session_unload(plugin)
        return
    plugin = _fresh(interop_session, interop_cell)
    try:
        delay_ms = 60_000
        start = time.monotonic()
        out = plugin.call(
            "invokeAction",
            {"name": "slow", "memory": memory("z"), "options": {"delayMs": delay_ms}},
            timeout_ms=300,
        )
        elapsed = time.monotonic() - start
        expect_error(out, "invokeAction(slow) with a 300 ms time-out", error_type="PluginTimeoutError")
        # Robustness bound, not a performance figure: the host must not wait for the handler.
        assert elapsed < delay_ms / 2000, (
            f"the time-out fired after {elapsed:.1f} s: the host waited for the {delay_ms} ms handler"
        )
        later = plugin.call("getProvider", {"name": "static", "memory": memory("x")})
        expect_error(later, "a call after the time-out killed the plugin", error_type="PluginCrashError")
    finally:
        interop_session_unload(plugin)
    again = _fresh(interop_session, interop_cell)
    try:
        _echo_works(again, interop_cell, "in a fresh instance after a time-out")
    finally:
        interop_session_unload(again)


def test_slow_within_timeout(conformance: LoadedRef, interop_cell: Cell) -> None:
    """A slow call that finishes within its time-out succeeds (IPC and FFI)."""
    out = conformance.call(
        "invokeAction", {"name": "slow", "memory": memory("z"), "options": {"delayMs": 20}}
    )
    if interop_cell.transport == "wasm":
        expect_error(out, "invokeAction(slow) over wasm", code=-32002)
    else:
        expect_value(out, {"success": True, "text": "slept 20"}, "invokeAction(slow, 20 ms)", interop_cell)


def test_large_result(conformance: LoadedRef, interop_cell: Cell) -> None:
    out = conformance.call(
        "invokeAction", {"name": "large", "memory": memory("x"), "state": {}, "options": {}}
    )
    value = expect_ok(out, "invokeAction(large)")
    expected_text = ("0123456789" * (MIB // 10 + 1))[:MIB]
    assert value.get("values") == {"size": MIB}, (
        f"values should be {{'size': {MIB}}}, got {value.get('values')}"
    )
    text = value.get("text")
    assert isinstance(text, str), f"text should be a string, got {type(text).__name__}"
    assert len(text) == MIB, f"text should be {MIB} characters, got {len(text)}"
    assert text == expected_text, "the 1 MiB text differs from '0123456789' repeated"
    assert value.get("success") is True


def test_large_payload_roundtrip(conformance: LoadedRef, interop_cell: Cell) -> None:
    """1 MiB of text sent in and echoed back exactly (twice: content.text and the result text)."""
    big = ("\u00e9a\U0001f600" * (MIB // 3 + 1))[:MIB]
    m = memory(big)
    out = conformance.call("invokeAction", {"name": "echo", "memory": m, "state": {}, "options": {}})
    expect_value(out, echo_expected(m, {}, {}), "invokeAction(echo) with 1 MiB of text", interop_cell)


def test_pipelined_calls(conformance: LoadedRef, interop_cell: Cell) -> None:
    """Several calls in flight at once (asyncio.gather in Python, pipelined driver requests);
    each answer belongs to its own request. The slow ones (IPC/FFI) come first, so a host that
    matched answers by arrival order would mix them up."""
    calls: list[tuple[str, dict[str, object]]] = []
    for i in range(16):
        if i % 4 == 0 and interop_cell.transport != "wasm":
            calls.append(
                ("invokeAction", {"name": "slow", "memory": memory(f"s{i}"), "options": {"delayMs": 30}})
            )
        else:
            calls.append(
                (
                    "invokeAction",
                    {"name": "echo", "memory": memory(f"m{i}"), "state": {"i": i}, "options": {}},
                )
            )
    outcomes = conformance.driver.call_many(conformance.handle, calls, timeout_ms=20_000)
    assert len(outcomes) == len(calls)
    for i, ((_method, params), out) in enumerate(zip(calls, outcomes, strict=True)):
        if params["name"] == "slow":
            expect_value(
                out, {"success": True, "text": "slept 30"}, f"pipelined call {i} (slow)", interop_cell
            )
        else:
            m = params["memory"]
            assert isinstance(m, dict)
            expect_value(out, echo_expected(m, {"i": i}, {}), f"pipelined call {i} (echo)", interop_cell)
