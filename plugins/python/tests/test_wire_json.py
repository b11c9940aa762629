"""wire/_json.py's ``dumps``: the long-string path gives the same bytes as ``json.dumps``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elizaos_interop.wire._errors import InvalidPayloadError
from elizaos_interop.wire._json import dumps


def reference(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


LONG = 600  # above the length from which a string is checked for escapes


@pytest.mark.parametrize(
    "text",
    [
        "a" * LONG,
        "a" * LONG + '"',
        "\\" + "a" * LONG,
        "a" * (LONG // 2) + "\n" + "a" * (LONG // 2),
        "\x00" + "a" * LONG,
        "\x1f" + "a" * LONG,
        "\x7f" * LONG,
        "é" * LONG,
        "😀" * LONG,
        "a" * LONG + "\u2028",
    ],
)
def test_a_long_string_encodes_as_json_dumps_does(text: str) -> None:
    value = {"text": text, "data": {"memory": {"content": {"text": text}}}, "list": [text]}
    assert dumps(value) == reference(value)


def test_a_non_str_key_beside_a_long_string_is_refused_with_its_path() -> None:
    with pytest.raises(InvalidPayloadError, match=r"object key 1 is int.*\$\.data"):
        dumps({"text": "a" * LONG, "data": {1: "one"}})


def test_a_long_string_with_a_lone_surrogate_is_refused_with_its_path() -> None:
    with pytest.raises(InvalidPayloadError, match=r"lone surrogate.*\$\.data\.text"):
        dumps({"data": {"text": "a" * LONG + "\ud800"}})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.text(alphabet=st.characters(max_codepoint=127), min_size=LONG, max_size=LONG + 40)
    | st.builds(lambda s: "a" * LONG + s, st.text(max_size=3)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_dumps_matches_json_dumps(value: Any) -> None:
    try:
        expected = reference(value)
    except UnicodeEncodeError:  # a lone surrogate from st.text(): refused by both
        with pytest.raises(InvalidPayloadError):
            dumps(value)
        return
    assert dumps(value) == expected
