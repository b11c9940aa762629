"""Same input, same output from every host (protocol.md section 2): each cell runs a fixed probe
set; the pytest plugin compares the outputs of every cell of the same plugin at the end of the run
("cross-host-consistency" in the report) and fails the run on any difference."""

from __future__ import annotations

from typing import Any

import pytest

from testkit._drivers import CallOutcome
from testkit._matrix import Cell
from testkit._session import LoadedRef
from testkit.suite._helpers import echo_expected, expect_value, memory

PROBE_MEMORY = memory("probe \u00e9\U0001f600 \u0000 e\u0301", id="m", n=[1, 2.5, None, True])
PROBES: list[tuple[str, dict[str, Any]]] = [
    ("validateAction", {"name": "echo", "memory": PROBE_MEMORY, "state": {}}),
    ("validateAction", {"name": "reject", "memory": PROBE_MEMORY, "state": {}}),
    (
        "invokeAction",
        {"name": "echo", "memory": PROBE_MEMORY, "state": {"s": {"t": []}}, "options": {"o": 1}},
    ),
    ("invokeAction", {"name": "reject", "memory": PROBE_MEMORY, "state": {}, "options": {}}),
    ("invokeAction", {"name": "large", "memory": PROBE_MEMORY, "state": {}, "options": {"size": 37}}),
    ("invokeAction", {"name": "fail", "memory": PROBE_MEMORY, "state": {}, "options": {}}),
    ("invokeAction", {"name": "nope", "memory": PROBE_MEMORY, "state": {}, "options": {}}),
    ("invokeAction", {"name": "invalid", "memory": PROBE_MEMORY, "state": {}, "options": {}}),
    ("getProvider", {"name": "static", "memory": PROBE_MEMORY, "state": {}}),
    ("getProvider", {"name": "echo", "memory": PROBE_MEMORY, "state": {"k": "v"}}),
    ("validateEvaluator", {"name": "reject", "memory": PROBE_MEMORY, "state": {}}),
    ("invokeEvaluator", {"name": "echo", "memory": PROBE_MEMORY, "state": {}}),
    ("invokeEvaluator", {"name": "silent", "memory": PROBE_MEMORY, "state": {}}),
    ("invokeEvaluator", {"name": "reject", "memory": PROBE_MEMORY, "state": {}}),
]


def _summary(out: CallOutcome) -> dict[str, Any]:
    if out.ok:
        return {"ok": True, "value": out.value}
    return {"ok": False, "type": out.error_type, "code": out.code}


@pytest.mark.interop_check("consistency-probes")
def test_consistency_probes(
    conformance: LoadedRef, interop_cell: Cell, request: pytest.FixtureRequest
) -> None:
    results = [_summary(conformance.call(method, params)) for method, params in PROBES]
    request.node.user_properties.append(
        ("interop_outputs", {"plugin": interop_cell.plugin, "fixture": "conformance", "results": results})
    )
    # Each cell is also held to the specification, so one wrong cell is named even when alone.
    echo_params = PROBES[2][1]
    expect_value(
        conformance.call("invokeAction", echo_params),
        echo_expected(echo_params["memory"], echo_params["state"], echo_params["options"]),
        "probe invokeAction(echo)",
        interop_cell,
    )
    assert results[5] == {"ok": False, "type": "PluginCallError", "code": -32000}, results[5]
    assert results[6] == {"ok": False, "type": "PluginCallError", "code": -32001}, results[6]
    assert results[7] == {"ok": False, "type": "PluginCallError", "code": -32003}, results[7]
