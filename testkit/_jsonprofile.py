"""The JSON profile of protocol.md section 2, as code: what a value becomes after a round trip.

:func:`expected_roundtrip` says what a value sent through a chain of peers (languages) comes back
as; :func:`json_equal` is the equality the spec judges by (numbers by value, member order ignored,
but ``true`` is not ``1`` and ``-0.0`` is not ``0``). Both are used by the conformance suite, the
fuzzers, certify's probes and the shared vector file ``docs/vectors/json-edge-cases.json``.
"""

from __future__ import annotations

import decimal
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_SAFE_INT",
    "ProfileError",
    "depth",
    "expected_roundtrip",
    "json_diff",
    "json_equal",
    "load_edge_cases",
]

MAX_SAFE_INT = 2**53 - 1
MAX_DEPTH = 64
_I64_MIN = -(2**63)
_U64_MAX = 2**64 - 1
_PEERS = frozenset({"python", "typescript", "rust"})


class ProfileError(ValueError):
    """The value is outside the JSON profile in a way senders must refuse (NaN, lone surrogate)."""


def depth(value: Any) -> int:
    """Nesting depth: 0 for scalars, 1 for a flat array/object, +1 per level."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def _js_number(value: float) -> int | float:
    """A double as a JavaScript peer prints it and Python parses it back."""
    if value == 0:
        return 0  # JSON.stringify(-0) is "0"
    if value.is_integer() and abs(value) < 1e21:
        # JS prints integral doubles below 1e21 as their shortest round-trip digits padded with
        # zeros (2**63 -> "9223372036854776000"), which parses back as that exact integer.
        return int(decimal.Decimal(repr(value)))
    return value


def _has_lone_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def expected_roundtrip(value: Any, peers: Iterable[str]) -> Any:
    """What ``value`` comes back as after travelling through every peer language in ``peers``.

    Encodes protocol.md section 2: inside the profile every value is unchanged. Beyond it:
    integers past 2**53-1 through a JavaScript peer become the nearest double; through a Rust peer
    integers outside [-2**63, 2**64-1] become the nearest double; Python keeps any integer.
    ``-0.0`` through JavaScript becomes ``0``; integral floats below 1e21 through JavaScript
    come back as integers. NaN, infinities and lone surrogates raise :class:`ProfileError`
    (senders must refuse them). Member order is not modelled (it is not significant).
    """
    peer_set = frozenset(peers)
    unknown = peer_set - _PEERS
    if unknown:
        raise ValueError(f"unknown peer languages {sorted(unknown)}; expected a subset of {sorted(_PEERS)}")
    js = "typescript" in peer_set
    rust = "rust" in peer_set

    def walk(v: Any, path: str) -> Any:
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, int):
            if js and abs(v) > MAX_SAFE_INT:
                return _js_number(float(v))
            if rust and not _I64_MIN <= v <= _U64_MAX:
                as_double = float(v)
                return _js_number(as_double) if js else as_double
            return v
        if isinstance(v, float):
            if not math.isfinite(v):
                raise ProfileError(f"{v!r} at {path} is not JSON; senders must refuse it")
            return _js_number(v) if js else v
        if isinstance(v, str):
            if _has_lone_surrogate(v):
                raise ProfileError(f"lone surrogate in the string at {path}; senders must refuse it")
            return v
        if isinstance(v, list):
            return [walk(item, f"{path}[{i}]") for i, item in enumerate(v)]
        if isinstance(v, dict):
            out: dict[str, Any] = {}
            for key, item in v.items():
                if not isinstance(key, str):
                    raise ProfileError(f"non-string member name {key!r} at {path}")
                if _has_lone_surrogate(key):
                    raise ProfileError(f"lone surrogate in a member name at {path}")
                out[key] = walk(item, f"{path}.{key}")
            return out
        raise ProfileError(f"{type(v).__name__} at {path} is not a JSON value")

    return walk(value, "$")


def _same_number(a: int | float, b: int | float) -> bool:
    """Equal by value. An integer equals a float when it is that double's exact value or the
    digits a JavaScript peer prints for it (2**64 prints as 18446744073709552000); an integer
    that merely rounds to the double does not (that would hide a precision loss)."""
    if _is_neg_zero(a) != _is_neg_zero(b):
        return False
    if isinstance(a, float) and isinstance(b, int):
        a, b = b, a
    if isinstance(a, int) and isinstance(b, float):
        if not math.isfinite(b) or not b.is_integer():
            return False
        return a == int(b) or a == int(decimal.Decimal(repr(b)))
    return a == b


def _is_neg_zero(v: Any) -> bool:
    return isinstance(v, float) and v == 0 and math.copysign(1.0, v) < 0


def json_diff(a: Any, b: Any, path: str = "$") -> str | None:
    """The first difference between two JSON values under section 2 equality, or None.

    Numbers compare by value (``1`` equals ``1.0``) except that ``-0.0`` only equals ``-0.0``;
    booleans are not numbers; object member order is ignored.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        if type(a) is type(b) and a == b:
            return None
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, int | float) and isinstance(b, int | float):
        if _same_number(a, b):
            return None
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            missing = sorted(set(a) - set(b))
            extra = sorted(set(b) - set(a))
            return f"{path}: members differ (only in first: {missing[:5]}, only in second: {extra[:5]})"
        for key in a:
            diff = json_diff(a[key], b[key], f"{path}.{key}")
            if diff:
                return diff
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: array lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            diff = json_diff(x, y, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if type(a) is type(b) and a == b:
        return None
    ra, rb = repr(a), repr(b)
    if len(ra) > 120 or len(rb) > 120:
        return f"{path}: {type(a).__name__} of length {_len(a)} != {type(b).__name__} of length {_len(b)}"
    return f"{path}: {ra} != {rb}"


def _len(v: Any) -> int:
    try:
        return len(v)
    except TypeError:
        return -1


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values under protocol.md section 2 (see :func:`json_diff`)."""
    return json_diff(a, b) is None


def load_edge_cases(path: Path) -> list[dict[str, Any]]:
    """The cases of ``docs/vectors/json-edge-cases.json``, each with its ``value`` materialised
    (``generate`` entries expanded) and ``via_js``/``via_rust`` kept when present."""
    data = json.loads(path.read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = []
    for raw in data["cases"]:
        case = dict(raw)
        if "generate" in case:
            gen = case["generate"]
            unit = str(gen["repeat"])
            length = int(gen["length"])
            case["value"] = (unit * (length // len(unit) + 1))[:length]
        cases.append(case)
    return cases


def expected_for_case(case: dict[str, Any], peers: Iterable[str]) -> Any:
    """The expected round-trip value of a vector-file case through ``peers``; the file's
    ``via_js``/``via_rust`` entries are checked against :func:`expected_roundtrip`'s by the unit tests."""
    return expected_roundtrip(case["value"], peers)
