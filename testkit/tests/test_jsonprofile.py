"""expected_roundtrip and section 2 equality, and the shared edge-case vector file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from testkit._jsonprofile import (
    MAX_SAFE_INT,
    ProfileError,
    depth,
    expected_roundtrip,
    json_diff,
    json_equal,
    load_edge_cases,
)
from testkit._strategies import json_values, memories, wide_ints
from testkit._toolchains import find_repo_root

ROOT = find_repo_root(Path(__file__).parent)
VECTORS = ROOT / "docs" / "vectors" / "json-edge-cases.json"
ALL = {"python", "typescript", "rust"}


@pytest.mark.parametrize(
    ("value", "peers", "expected"),
    [
        (MAX_SAFE_INT, ALL, MAX_SAFE_INT),
        (-MAX_SAFE_INT, ALL, -MAX_SAFE_INT),
        (2**53, {"typescript"}, 2**53),
        (2**53 + 1, {"typescript"}, 2**53),
        (2**53 + 1, {"python", "rust"}, 2**53 + 1),
        (2**63, {"typescript"}, 9223372036854776000),
        (2**64 - 1, {"rust"}, 2**64 - 1),
        (2**64 - 1, {"typescript"}, 18446744073709552000),
        (2**64 + 1, {"rust"}, float(2**64)),
        (-(2**63) - 1, {"rust"}, float(-(2**63))),
        (2**70, {"python"}, 2**70),
        (-0.0, {"typescript"}, 0),
        (1.0, {"typescript"}, 1),
        (1e21, {"typescript"}, 1e21),
        (0.1, ALL, 0.1),
        (5e-324, ALL, 5e-324),
        ("a\u0000\U0001f600e\u0301", ALL, "a\u0000\U0001f600e\u0301"),
        ({"k": [1.5, {"z": -0.0}]}, {"typescript", "python"}, {"k": [1.5, {"z": 0}]}),
    ],
)
def test_expected_roundtrip(value: Any, peers: set[str], expected: Any) -> None:
    got = expected_roundtrip(value, peers)
    assert type(got) is type(expected), (got, expected)
    assert got == expected
    if isinstance(expected, float):
        assert math.copysign(1.0, got) == math.copysign(1.0, expected)


def test_negative_zero_kept_without_javascript() -> None:
    got = expected_roundtrip(-0.0, {"python", "rust"})
    assert isinstance(got, float)
    assert math.copysign(1.0, got) == -1.0


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "\ud800", {"\udfff": 1}, [1, math.nan]])
def test_values_senders_must_refuse(value: Any) -> None:
    with pytest.raises(ProfileError):
        expected_roundtrip(value, {"python"})


def test_unknown_peer() -> None:
    with pytest.raises(ValueError, match="unknown peer"):
        expected_roundtrip(1, {"java"})


def test_json_diff_rules() -> None:
    assert json_equal({"a": 1, "b": [1.0]}, {"b": [1], "a": 1.0})
    assert json_diff(True, 1) is not None
    assert json_diff(0, False) is not None
    assert json_diff(-0.0, 0.0) is not None
    assert json_diff(-0.0, 0) is not None
    assert json_diff(18446744073709552000, float(2**64)) is None  # JS digits of 2**64
    assert json_diff(2**63 + 1, float(2**63)) is not None  # merely rounds: a precision loss
    assert "only in first" in (json_diff({"a": 1}, {}) or "")
    assert "array lengths" in (json_diff([1], [1, 2]) or "")
    assert json_diff("x" * 500, "y" * 500) is not None
    assert json_diff(None, None) is None


@settings(max_examples=200, deadline=None)
@given(value=json_values(20))
def test_roundtrip_is_identity_for_python_within_profile(value: Any) -> None:
    assert json_equal(expected_roundtrip(value, {"python"}), json.loads(json.dumps(value)))
    assert json_equal(expected_roundtrip(value, {"python", "rust"}), value)


@settings(max_examples=200, deadline=None)
@given(value=json_values(20))
def test_roundtrip_is_idempotent_through_javascript(value: Any) -> None:
    once = expected_roundtrip(value, ALL)
    assert json_equal(expected_roundtrip(once, ALL), once)
    assert json_equal(once, value) or _has_js_sensitive_number(value)


def _has_js_sensitive_number(value: Any) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return False
    if isinstance(value, float):
        return (value == 0 and math.copysign(1.0, value) < 0) or value.is_integer()
    if isinstance(value, int):
        return abs(value) > MAX_SAFE_INT
    items = value.values() if isinstance(value, dict) else value
    return any(_has_js_sensitive_number(v) for v in items)


@settings(max_examples=100, deadline=None)
@given(value=wide_ints())
def test_wide_ints_through_javascript_are_doubles(value: int) -> None:
    got = expected_roundtrip(value, {"typescript"})
    assert float(got) == float(value)


@settings(max_examples=50, deadline=None)
@given(m=memories())
def test_memories_fit_the_depth_limit(m: dict[str, Any]) -> None:
    # params(1) > memory(2) > content(3) > value: 64 levels at most
    assert depth({"memory": m}) <= 64


def test_vector_file_agrees_with_expected_roundtrip() -> None:
    cases = load_edge_cases(VECTORS)
    names = {c["name"] for c in cases}
    assert len(names) == len(cases), "case names must be unique"
    for case in cases:
        value = case["value"]
        js = case.get("via_js", value)
        rust = case.get("via_rust", value)
        assert json_diff(expected_roundtrip(value, {"typescript"}), js) is None, case["name"]
        assert json_diff(expected_roundtrip(value, {"rust"}), rust) is None, case["name"]
        assert json_diff(expected_roundtrip(value, {"python"}), value) is None, case["name"]


def test_vector_file_covers_the_required_edge_cases() -> None:
    cases = {c["name"]: c for c in load_edge_cases(VECTORS)}
    values = [c["value"] for c in cases.values()]
    assert any(isinstance(v, str) and "\u0000" in v for v in values)
    assert any(isinstance(v, str) and any(ord(ch) > 0xFFFF for ch in v) for v in values)
    assert any(isinstance(v, str) and "\u0301" in v for v in values)
    assert any(isinstance(v, str) and "\u05e9" in v for v in values)
    assert max(depth(v) for v in values) == 61
    for n in (MAX_SAFE_INT, -MAX_SAFE_INT, 2**53, -(2**53)):
        assert n in values
    floats = [v for v in values if isinstance(v, float)]
    for f in (5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 0.1, 1.0, 1e21):
        assert f in floats
    assert any(math.copysign(1.0, f) < 0 and f == 0 for f in floats)
    assert len(cases["large-string-1mib"]["value"]) == 1 << 20
    assert {} in values
    assert [] in values
    assert any(isinstance(v, dict) and "\U0001f600" in v for v in values)
