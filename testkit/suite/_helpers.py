"""Shared helpers of the conformance suite: outcome assertions, payload builders, expectations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from testkit._drivers import CallOutcome
from testkit._jsonprofile import expected_roundtrip, json_diff
from testkit._matrix import Cell
from testkit._toolchains import find_repo_root

__all__ = [
    "REPO",
    "echo_expected",
    "expect_error",
    "expect_ok",
    "expect_value",
    "memory",
    "peers",
    "shared_manifest",
]

REPO = find_repo_root(Path(__file__).resolve().parent)
#: Per-call time-out used by the suite: bounded, and generous for a busy 2-core machine.
CALL_MS = 20_000


def peers(cell: Cell) -> set[str]:
    """Languages a payload passes through in a cell: the testkit (Python), the host, the plugin."""
    return {"python", cell.host, cell.plugin}


def memory(text: str | None = None, **content: Any) -> dict[str, Any]:
    """A Memory with ``content.text`` (when given) and other content members."""
    body: dict[str, Any] = dict(content)
    if text is not None:
        body["text"] = text
    return {"content": body}


def expect_ok(outcome: CallOutcome, what: str) -> Any:
    """The value of a successful call, or a failure naming the call and the error received."""
    if not outcome.ok:
        pytest.fail(f"{what}: expected a result, received {outcome}", pytrace=False)
    return outcome.value


def expect_value(outcome: CallOutcome, expected: Any, what: str, cell: Cell | None = None) -> None:
    """The call succeeded with ``expected`` (after the section 2 round trip through the cell's peers)."""
    value = expect_ok(outcome, what)
    if cell is not None:
        expected = expected_roundtrip(expected, peers(cell))
    diff = json_diff(expected, value)
    if diff is not None:
        shown = json.dumps(value, ensure_ascii=False)[:500]
        pytest.fail(
            f"{what}: result differs from the expected value at {diff}; received {shown}", pytrace=False
        )


def expect_error(
    outcome: CallOutcome, what: str, *, code: int | None = None, error_type: str | None = None
) -> None:
    """The call failed with the given JSON-RPC code and/or typed error class."""
    if outcome.ok:
        pytest.fail(
            f"{what}: expected {error_type or 'an error'}"
            f"{f' with code {code}' if code is not None else ''}, received the result "
            f"{json.dumps(outcome.value, ensure_ascii=False)[:300]}",
            pytrace=False,
        )
    problems = []
    if error_type is not None and outcome.error_type != error_type:
        problems.append(f"error type {outcome.error_type}, expected {error_type}")
    if code is not None and outcome.code != code:
        problems.append(f"code {outcome.code}, expected {code}")
    if problems:
        pytest.fail(f"{what}: {'; '.join(problems)} (message: {outcome.message[:800]})", pytrace=False)


def shared_manifest(language: str) -> dict[str, Any]:
    """docs/vectors/conformance-manifest.json with ``language`` set."""
    manifest: dict[str, Any] = json.loads(
        (REPO / "docs" / "vectors" / "conformance-manifest.json").read_text(encoding="utf-8")
    )
    manifest["language"] = language
    return manifest


def echo_expected(m: dict[str, Any], s: dict[str, Any], o: dict[str, Any]) -> dict[str, Any]:
    """The conformance fixture's ``echo`` action result (protocol.md section 9)."""
    result: dict[str, Any] = {"success": True}
    text = m.get("content", {}).get("text")
    if isinstance(text, str):
        result["text"] = text
    result["data"] = {"memory": m, "state": s, "options": o}
    return result
