"""Typed errors (protocol.md sections 3.3 and 4), and the plugin keeps serving after each."""

from __future__ import annotations

from typing import Any

import pytest

from testkit._matrix import Cell
from testkit._session import LoadedRef
from testkit.suite._helpers import echo_expected, expect_error, expect_value, memory


def _still_serving(plugin: LoadedRef, cell: Cell, after: str) -> None:
    m = memory(f"after {after}")
    out = plugin.call("invokeAction", {"name": "echo", "memory": m, "state": {}, "options": {}})
    expect_value(out, echo_expected(m, {}, {}), f"invokeAction(echo) right after {after}", cell)


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
def test_unknown_name(conformance: LoadedRef, interop_cell: Cell, method: str, kind: str) -> None:
    out = conformance.call(method, {"name": "no-such-" + kind, "memory": memory("x"), "state": {}})
    expect_error(out, f"{method}(no-such-{kind})", code=-32001, error_type="PluginCallError")
    _check_data(
        out.data, interop_cell, f"{method}(no-such-{kind})", {"kind": kind, "name": "no-such-" + kind}
    )


def _check_data(data: Any, cell: Cell, what: str, expected: dict[str, Any]) -> None:
    """The error's documented ``data`` members (protocol.md 3.3). The Python host always exposes
    ``data``; the section 8 driver protocol carries no ``data``, so driver hosts are checked only
    when they send it anyway."""
    if data is None and cell.host != "python":
        return
    assert isinstance(data, dict), (
        f"{what}: error data should be an object with {sorted(expected)}, got {data!r}"
    )
    for key, value in expected.items():
        assert data.get(key) == value, (
            f"{what}: error data {key!r} should be {value!r}, got {data.get(key)!r}"
        )


@pytest.mark.parametrize(
    ("method", "params", "param"),
    [
        ("invokeAction", {"memory": memory("x"), "state": {}, "options": {}}, "name"),
        ("invokeAction", {"name": "echo", "memory": "not an object"}, "memory"),
        ("invokeAction", {"name": "echo"}, "memory"),
        ("invokeAction", {"name": 7, "memory": memory("x")}, "name"),
        ("validateAction", {"name": "echo", "memory": [1, 2]}, "memory"),
        ("getProvider", {"memory": memory("x")}, "name"),
        ("invokeEvaluator", {"name": "echo", "memory": None}, "memory"),
        ("init", {"config": "nope"}, "config"),
    ],
    ids=[
        "invokeAction-missing-name",
        "invokeAction-memory-string",
        "invokeAction-missing-memory",
        "invokeAction-name-number",
        "validateAction-memory-array",
        "getProvider-missing-name",
        "invokeEvaluator-memory-null",
        "init-config-string",
    ],
)
def test_invalid_params(
    conformance: LoadedRef, interop_cell: Cell, method: str, params: dict[str, Any], param: str
) -> None:
    """The plugin answers -32602. The Python host sends the params as they are (bypassing its typed
    API's checks), so the plugin's own validation is tested for every plugin and transport there;
    a driver host whose public API refuses the call before sending gives InvalidPayloadError,
    which is the documented in-process behaviour (protocol.md section 2) and also accepted."""
    out = conformance.call_raw(method, params)
    what = f"{method} with a bad {param!r}"
    if interop_cell.host != "python" and out.error_type == "InvalidPayloadError":
        assert param in out.message, f"{what}: InvalidPayloadError should name {param!r}: {out.message}"
    else:
        expect_error(out, what, code=-32602, error_type="PluginCallError")
        _check_data(out.data, interop_cell, what, {"param": param})
    _still_serving(conformance, interop_cell, f"invalid params to {method}")


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("invokeAction", "fail"),
        ("invokeAction", "panic"),
        ("getProvider", "fail"),
        ("invokeEvaluator", "fail"),
    ],
    ids=["action-fail", "action-panic", "provider-fail", "evaluator-fail"],
)
def test_handler_failure(conformance: LoadedRef, interop_cell: Cell, method: str, name: str) -> None:
    params: dict[str, Any] = {"name": name, "memory": memory("boom"), "state": {}}
    if method == "invokeAction":
        params["options"] = {}
    out = conformance.call(method, params)
    expect_error(out, f"{method}({name})", code=-32000, error_type="PluginCallError")
    expected = "fixture panic" if name == "panic" else "fixture failure"
    assert expected in out.message, f"{method}({name}): message {out.message!r} should quote {expected!r}"
    kind = {"invokeAction": "action", "getProvider": "provider", "invokeEvaluator": "evaluator"}[method]
    _check_data(out.data, interop_cell, f"{method}({name})", {"kind": kind, "name": name})
    if isinstance(out.data, dict):
        assert isinstance(out.data.get("exception"), str), (
            f"{method}({name}): data.exception missing: {out.data}"
        )
    _still_serving(conformance, interop_cell, f"{method}({name})")


def test_invalid_result(conformance: LoadedRef, interop_cell: Cell) -> None:
    out = conformance.call(
        "invokeAction", {"name": "invalid", "memory": memory("x"), "state": {}, "options": {}}
    )
    expect_error(out, "invokeAction(invalid)", code=-32003, error_type="PluginCallError")
    _check_data(out.data, interop_cell, "invokeAction(invalid)", {"kind": "action", "name": "invalid"})
    if isinstance(out.data, dict):
        assert isinstance(out.data.get("reason"), str), (
            f"invokeAction(invalid): data.reason missing: {out.data}"
        )
    _still_serving(conformance, interop_cell, "an invalid result")


@pytest.mark.interop_check("error-wording")
@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("invokeAction", "no-such-action"),
        ("getProvider", "no-such-provider"),
        ("invokeAction", "fail"),
        ("getProvider", "fail"),
    ],
    ids=["unknown-action", "unknown-provider", "action-fail", "provider-fail"],
)
def test_error_message_names_the_call(
    conformance: LoadedRef, interop_cell: Cell, method: str, name: str
) -> None:
    """Every typed error's message names the plugin, the method, the item and the transport
    (protocol.md 7.2), e.g. ``conformance-fixture: invokeAction("fail") over ipc: ...``."""
    params: dict[str, Any] = {"name": name, "memory": memory("wording"), "state": {}}
    out = conformance.call(method, params)
    expect_error(out, f"{method}({name})", error_type="PluginCallError")
    missing = [
        what
        for what, text in (
            ("the plugin's name", "conformance-fixture"),
            ("the method", method),
            ("the item's name", name),
            ("the transport", interop_cell.transport),
        )
        if text not in out.message
    ]
    assert not missing, (
        f"{interop_cell.id}: {method}({name}): the error message should name {', '.join(missing)} "
        f"(protocol.md 7.2); received {out.message[:400]!r}"
    )
