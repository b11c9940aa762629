"""Strict JSON encoding for the wire (protocol.md section 2).

Refuses what the profile excludes (NaN, infinities, lone surrogates, non-string keys,
non-JSON types) with an :class:`InvalidPayloadError` naming the offending path, before a
single byte is written, so a bad payload never reaches or corrupts a plugin.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ._errors import InvalidPayloadError

__all__ = ["MAX_MESSAGE_BYTES", "check_payload", "dumps", "loads"]

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Default limit on one message (IPC line, WASM or FFI string), in bytes."""

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_payload(value: Any, path: str = "$", depth: int = 0) -> None:
    """Raise :class:`InvalidPayloadError` if ``value`` is outside the JSON profile."""
    if depth > 10_000:
        raise InvalidPayloadError("nesting too deep", path=path)
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidPayloadError(f"non-finite float {value!r} is not JSON", path=path)
        return
    if isinstance(value, str):
        if _has_lone_surrogate(value):
            raise InvalidPayloadError("string contains a lone surrogate", path=path)
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_payload(item, f"{path}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidPayloadError(
                    f"object key {key!r} is {type(key).__name__}, expected str", path=path
                )
            if _has_lone_surrogate(key):
                raise InvalidPayloadError("object key contains a lone surrogate", path=path)
            check_payload(item, f"{path}.{key}", depth + 1)
        return
    raise InvalidPayloadError(
        f"{type(value).__name__} is not a JSON type (expected dict, list, str, int, float, "
        "bool or None)",
        path=path,
    )


def dumps(value: Any) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON, refusing anything outside the profile."""
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError):
        check_payload(value)  # raises with the exact path
        raise


def loads(data: bytes | str) -> Any:
    """Decode UTF-8 JSON (raises ``ValueError`` on bad input)."""
    return json.loads(data)
