"""Every method of the conformance fixture answers as protocol.md section 9 says, in every cell."""

from __future__ import annotations

from typing import Any

import pytest

from testkit._jsonprofile import json_diff
from testkit._matrix import Cell
from testkit._schemas import SchemaSet
from testkit._session import CellError, InteropSession, LoadedRef
from testkit.suite._helpers import (
    CALL_MS,
    echo_expected,
    expect_ok,
    expect_value,
    memory,
    shared_manifest,
)

STATE = {"recentMessages": ["a", "b"], "n": 3, "nested": {"ok": True, "none": None}}
OPTIONS = {"flag": False, "list": [1, 2.5, "x"], "obj": {}}


@pytest.mark.interop_check("manifest-schema")
def test_manifest(conformance: LoadedRef, interop_cell: Cell, schema_set: SchemaSet) -> None:
    problems = schema_set.validate("manifest.schema.json", conformance.manifest)
    assert not problems, f"{interop_cell.id}: manifest invalid against manifest.schema.json: {problems}"
    # The version exchange's members (section 12) depend on the transport; test_runtime checks them.
    received = {k: v for k, v in conformance.manifest.items() if k not in ("protocolVersion", "capabilities")}
    diff = json_diff(shared_manifest(interop_cell.plugin), received)
    assert diff is None, (
        f"{interop_cell.id}: manifest differs from docs/vectors/conformance-manifest.json at {diff}"
    )
    again = expect_ok(conformance.call("getManifest", {}), "getManifest")
    assert json_diff(conformance.manifest, again) is None, "getManifest after load gives another manifest"


@pytest.mark.interop_check("init-config-provider")
def test_init_then_config_provider(interop_session: InteropSession, interop_cell: Cell) -> None:
    try:
        ctx = interop_session.fresh(interop_cell)
        plugin = ctx.__enter__()
    except CellError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        m = memory("cfg")
        expect_value(
            plugin.call("getProvider", {"name": "config", "memory": m}),
            {"values": {}},
            "getProvider(config) before init",
            interop_cell,
        )
        config = {"apiKey": "k\u00e9y", "limit": 5, "nested": {"a": [1, 2]}}
        expect_value(plugin.call("init", {"config": config}), {}, "init", interop_cell)
        expect_value(
            plugin.call("getProvider", {"name": "config", "memory": m, "state": {}}),
            {"values": config},
            "getProvider(config) after init",
            interop_cell,
        )
        expect_value(plugin.call("init", {"config": {"second": True}}), {}, "init again", interop_cell)
        expect_value(
            plugin.call("getProvider", {"name": "config", "memory": m, "state": {}}),
            {"values": {"second": True}},
            "getProvider(config) after a second init (last wins)",
            interop_cell,
        )
    finally:
        ctx.__exit__(None, None, None)


@pytest.mark.parametrize(("name", "expected"), [("echo", True), ("reject", False), ("slow", True)])
def test_validate_action(conformance: LoadedRef, interop_cell: Cell, name: str, expected: bool) -> None:
    out = conformance.call("validateAction", {"name": name, "memory": memory("v"), "state": STATE})
    expect_value(out, expected, f"validateAction({name})", interop_cell)


@pytest.mark.parametrize("text", ["hello", None], ids=["with-text", "without-text"])
def test_invoke_action_echo(conformance: LoadedRef, interop_cell: Cell, text: str | None) -> None:
    m = memory(text, extra={"k": [1, None, "z"]}) | {"id": "m-1", "roomId": "r"}
    out = conformance.call("invokeAction", {"name": "echo", "memory": m, "state": STATE, "options": OPTIONS})
    expect_value(out, echo_expected(m, STATE, OPTIONS), "invokeAction(echo)", interop_cell)


def test_invoke_action_echo_defaults(conformance: LoadedRef, interop_cell: Cell) -> None:
    """state and options omitted are treated as {} (section 3.3)."""
    m = memory("defaults")
    out = conformance.call("invokeAction", {"name": "echo", "memory": m})
    expect_value(out, echo_expected(m, {}, {}), "invokeAction(echo) without state/options", interop_cell)


def test_invoke_action_reject(conformance: LoadedRef, interop_cell: Cell) -> None:
    out = conformance.call(
        "invokeAction", {"name": "reject", "memory": memory("r"), "state": {}, "options": {}}
    )
    expect_value(out, {"success": False, "error": "rejected"}, "invokeAction(reject)", interop_cell)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("static", {"text": "static provider", "values": {"answer": 42}}),
        ("echo", {"text": "p", "data": {"memory": memory("p"), "state": STATE}}),
    ],
)
def test_get_provider(
    conformance: LoadedRef, interop_cell: Cell, name: str, expected: dict[str, Any]
) -> None:
    out = conformance.call("getProvider", {"name": name, "memory": memory("p"), "state": STATE})
    expect_value(out, expected, f"getProvider({name})", interop_cell)


def test_get_provider_echo_without_text(conformance: LoadedRef, interop_cell: Cell) -> None:
    m = {"content": {"other": 5}}
    out = conformance.call("getProvider", {"name": "echo", "memory": m, "state": {}})
    expect_value(
        out, {"data": {"memory": m, "state": {}}}, "getProvider(echo) without content.text", interop_cell
    )


@pytest.mark.parametrize(("name", "expected"), [("echo", True), ("silent", True), ("reject", False)])
def test_validate_evaluator(conformance: LoadedRef, interop_cell: Cell, name: str, expected: bool) -> None:
    out = conformance.call("validateEvaluator", {"name": name, "memory": memory("e"), "state": STATE})
    expect_value(out, expected, f"validateEvaluator({name})", interop_cell)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("echo", {"success": True, "data": {"memory": memory("e"), "state": STATE}}),
        ("silent", None),
        ("reject", {"success": False}),
    ],
)
def test_invoke_evaluator(conformance: LoadedRef, interop_cell: Cell, name: str, expected: Any) -> None:
    out = conformance.call("invokeEvaluator", {"name": name, "memory": memory("e"), "state": STATE})
    expect_value(out, expected, f"invokeEvaluator({name})", interop_cell)


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("invokeAction", {"name": "echo", "memory": memory("s"), "state": STATE, "options": OPTIONS}),
        ("invokeAction", {"name": "reject", "memory": memory("s")}),
        ("getProvider", {"name": "static", "memory": memory("s")}),
        ("invokeEvaluator", {"name": "silent", "memory": memory("s")}),
        ("invokeEvaluator", {"name": "echo", "memory": memory("s")}),
        ("getManifest", {}),
    ],
    ids=["echo", "reject", "static", "silent", "evaluator-echo", "manifest"],
)
def test_results_match_schemas(
    conformance: LoadedRef, interop_cell: Cell, schema_set: SchemaSet, method: str, params: dict[str, Any]
) -> None:
    value = expect_ok(conformance.call(method, params, CALL_MS), method)
    problems = schema_set.validate_result(method, value)
    assert not problems, f"{interop_cell.id}: {method} result invalid against its schema: {problems}"
