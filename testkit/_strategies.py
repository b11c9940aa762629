"""Hypothesis strategies for payloads inside (and just beyond) the JSON profile of protocol.md 2."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from testkit._jsonprofile import MAX_SAFE_INT

__all__ = ["EDGE_STRINGS", "deep", "json_objects", "json_values", "memories", "profile_strings", "wide_ints"]

#: Strings that have broken JSON stacks before: NUL, astral, combining, RTL, separators, escapes.
EDGE_STRINGS: tuple[str, ...] = (
    "",
    "\u0000",
    "a\u0000b",
    "\U0001f600",
    "\U0010ffff",
    "e\u0301",
    "\u0915\u094d\u0937",
    "\u05e9\u05dc\u05d5\u05dd",
    "\u202eabc",
    "\u2028\u2029",
    "\ufeff",
    '"\\/\b\f\n\r\t',
    "\x7f\x1f",
)

_chars = st.characters(exclude_categories=["Cs"])  # every Unicode scalar value


def profile_strings(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any string of Unicode scalar values, biased towards the edge strings."""
    return st.one_of(st.sampled_from(EDGE_STRINGS), st.text(_chars, max_size=max_size))


def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT),
        st.sampled_from([0, -1, MAX_SAFE_INT, -MAX_SAFE_INT, 2**31, -(2**31) - 1, 2**32]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 0.1, -0.0, 1.0, 1e21]),
        profile_strings(),
    )


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value inside the profile (exact round trip everywhere, modulo per-peer rules)."""
    return st.recursive(
        _scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(profile_strings(12), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def json_objects(max_leaves: int = 12) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object (State, Options, values)."""
    return st.dictionaries(profile_strings(12), json_values(max_leaves), max_size=5)


def deep(max_depth: int = 61) -> st.SearchStrategy[Any]:
    """Arrays/objects nested 1..``max_depth`` levels (61 at memory.content.value = params depth 64)."""

    def build(args: tuple[int, bool]) -> Any:
        levels, use_objects = args
        value: Any = {} if use_objects else []
        for _ in range(levels - 1):
            value = {"d": value} if use_objects else [value]
        return value

    return st.tuples(st.integers(min_value=1, max_value=max_depth), st.booleans()).map(build)


def memories() -> st.SearchStrategy[dict[str, Any]]:
    """A Memory: ``content`` with an optional text and arbitrary members, plus other members."""
    content = st.fixed_dictionaries(
        {},
        optional={
            "text": profile_strings(200),
            "value": st.one_of(json_values(), deep()),
            "source": profile_strings(10),
        },
    )
    return st.builds(
        lambda c, extra: {**extra, "content": c},
        content,
        st.dictionaries(profile_strings(8).filter(lambda k: k != "content"), json_values(6), max_size=3),
    )


def wide_ints() -> st.SearchStrategy[int]:
    """Integers beyond +-(2**53-1), up to a little past 64 bits: documented per-peer behaviour."""
    return st.one_of(
        st.integers(min_value=MAX_SAFE_INT + 1, max_value=2**65),
        st.integers(min_value=-(2**64), max_value=-MAX_SAFE_INT - 1),
        st.sampled_from([2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64 + 1]),
    )
