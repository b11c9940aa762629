"""eliza-classic: the shared transcript replayed through every cell gives exactly its replies."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from testkit._matrix import Cell
from testkit._session import CellError, InteropSession
from testkit.suite._helpers import REPO, expect_ok, expect_value, memory

TRANSCRIPT: dict[str, Any] = json.loads(
    (REPO / "docs" / "vectors" / "eliza-transcript.json").read_text("utf-8")
)
SESSIONS: list[dict[str, Any]] = TRANSCRIPT["sessions"]


@pytest.mark.parametrize("session", SESSIONS, ids=[s["name"] for s in SESSIONS])
def test_eliza_transcript(
    interop_session: InteropSession, interop_cell: Cell, session: dict[str, Any]
) -> None:
    """Each transcript session is one fresh plugin instance fed the inputs in order."""
    try:
        plugin = interop_session.load_new(interop_cell, "eliza-classic")
    except CellError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        assert plugin.manifest["name"] == "eliza-classic", plugin.manifest["name"]
        greeting = plugin.call("getProvider", {"name": "eliza-greeting", "memory": memory(""), "state": {}})
        expect_value(greeting, {"text": TRANSCRIPT["greeting"]}, "getProvider(eliza-greeting)", interop_cell)
        for i, exchange in enumerate(session["exchanges"]):
            m = memory(exchange["input"])
            valid = plugin.call("validateAction", {"name": "generate-response", "memory": m, "state": {}})
            expect_value(valid, True, f"validateAction(generate-response) turn {i}", interop_cell)
            out = plugin.call(
                "invokeAction", {"name": "generate-response", "memory": m, "state": {}, "options": {}}
            )
            value = expect_ok(out, f"{session['name']} turn {i}")
            assert value == {"success": True, "text": exchange["reply"]}, (
                f"{interop_cell.id}: transcript {session['name']} turn {i}: input {exchange['input']!r}: "
                f"expected reply {exchange['reply']!r}, received {value!r}"
            )
    finally:
        with contextlib.suppress(Exception):  # a broken plugin was already reported above
            plugin.driver.unload(plugin.handle)
