"""Strict JSON encoding for the wire (protocol.md section 2).

Refuses what the profile excludes (NaN, infinities, lone surrogates, non-string keys,
non-JSON types) with an :class:`InvalidPayloadError` naming the offending path, before a
single byte is written, so a bad payload never reaches or corrupts a plugin.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ._errors import InvalidPayloadError

__all__ = [
    "MAX_MESSAGE_BYTES",
    "SCAN",
    "check_payload",
    "check_surrogates",
    "decode",
    "decode_text",
    "dumps",
    "loads",
    "no_u_escape",
]

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Default limit on one message (IPC line, WASM or FFI string), in bytes."""

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)


def _encode_default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _make_encoder() -> Any:
    """The C encoder behind ``json.dumps``, built once instead of once per call.

    ``JSONEncoder.encode`` builds it anew on every call; building it once saves a few
    microseconds per message. Circular references are not tracked (``markers`` is None): they
    end in a ``RecursionError``, which :func:`dumps` reports like any other refusal.
    """
    if _c_make_encoder is None:  # a Python without the _json accelerator
        return None
    return _c_make_encoder(
        None,  # markers
        _encode_default,
        json.encoder.encode_basestring,  # ensure_ascii=False: UTF-8 text, not \u escapes
        None,  # indent
        ":",
        ",",
        False,  # sort_keys
        False,  # skipkeys
        False,  # allow_nan
    )


_C_ENCODER = _make_encoder()
_CONTAINERS = (dict, list, tuple)
_SCALARS = frozenset((str, int, float, bool, type(None)))
_encode_basestring: Any = json.encoder.encode_basestring
_LONG_STR = 512
"""Length from which an ASCII string is checked for escapes and quoted as it is when it has none."""
_ESCAPED = (*(chr(code) for code in range(0x20)), '"', "\\")
"""What JSON escapes (``encode_basestring`` escapes exactly these, with ensure_ascii off)."""


def _encode_str(text: str) -> str:
    """``encode_basestring`` for values holding long strings: one with nothing to escape is quoted.

    The C escaper walks a string one character at a time (~8 ns a character on a busy 2-core
    machine); 34 one-character searches are 34 ``memchr`` calls, several times faster, and most
    long strings on the wire (text, base64) have nothing to escape. Short and non-ASCII strings
    (where ``in`` is not a ``memchr``) go to the C escaper as before.
    """
    if len(text) >= _LONG_STR and text.isascii():
        for char in _ESCAPED:
            if char in text:
                return _encode_basestring(text)  # type: ignore[no-any-return]
        return '"' + text + '"'
    return _encode_basestring(text)  # type: ignore[no-any-return]


def _make_long_encoder() -> Any:
    """The C encoder with :func:`_encode_str` for strings (a Python call per string: only
    worth it when the value holds a long string, which :func:`_scan` tells)."""
    if _c_make_encoder is None:
        return None
    return _c_make_encoder(None, _encode_default, _encode_str, None, ":", ",", False, False, False)


_C_LONG_ENCODER = _make_long_encoder()


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


def _scan(value: Any) -> int:
    """0 when an object key in ``value`` is not a ``str`` (the C encoder coerces such keys), else
    1, or 2 when an object member is a string of at least ``_LONG_STR`` characters.

    Only containers are visited; a long array holding scalars only is recognised in C from
    the set of its members' types, so large flat payloads cost little on top of encoding.
    """
    found = 1
    if isinstance(value, dict):
        for key, member in value.items():
            if type(key) is not str and not isinstance(key, str):
                return 0
            if type(member) is str:
                if len(member) >= _LONG_STR:
                    found = 2
            elif isinstance(member, _CONTAINERS):
                sub = _scan(member)
                if sub != 1:
                    if not sub:
                        return 0
                    found = 2
        return found
    if len(value) > 8 and set(map(type, value)) <= _SCALARS:
        return 1
    for member in value:
        if isinstance(member, _CONTAINERS):
            sub = _scan(member)
            if sub != 1:
                if not sub:
                    return 0
                found = 2
    return found


def dumps(value: Any) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON, refusing anything outside the profile.

    Non-finite floats, non-JSON types and lone surrogates make the encoder fail; a dict key
    that is not a ``str`` (which ``json`` would silently turn into one) is caught by a walk
    over the containers first. Either way :func:`check_payload` then names the offending path.
    """
    try:
        if isinstance(value, _CONTAINERS):
            found = _scan(value)
            if not found:
                raise TypeError("non-str key")
            if _C_ENCODER:
                encoder = _C_LONG_ENCODER if found == 2 else _C_ENCODER
                return "".join(encoder(value, 0)).encode("utf-8")
        if _C_ENCODER:
            return "".join(_C_ENCODER(value, 0)).encode("utf-8")
        return _ENCODER.encode(value).encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError):
        try:
            check_payload(value)  # raises with the exact path
        except RecursionError:
            raise InvalidPayloadError(
                "nesting too deep (or a circular reference)", path="$"
            ) from None
        raise


def _refuse_constant(name: str) -> Any:
    """``parse_constant`` hook: ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON."""
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or infinities)")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
SCAN: Any = getattr(_DECODER, "scan_once")  # noqa: B009 (untyped attribute)
"""The strict decoder's C scanner: ``SCAN(text, 0) -> (value, end)``, StopIteration if empty."""
decode: Any = _DECODER.decode
"""The strict decoder's ``decode`` (whitespace allowed around the value, errors worded)."""
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False, allow_nan=True)
_C_SURROGATE_ENCODER: Any = (
    _c_make_encoder(
        None,  # markers: a decoded value has no cycles
        _encode_default,
        json.encoder.encode_basestring,  # lone surrogates stay in the text, to fail encode()
        None,
        ":",
        ",",
        False,
        False,
        True,  # allow_nan: 1e400 decodes to inf; it is not what this check is about
    )
    if _c_make_encoder is not None
    else None
)


def no_u_escape(text: str) -> bool:
    """True when ``text`` has no ``\\u`` escape, so it cannot hold a lone surrogate escape.

    A one-character search is a ``memchr`` (about 0.2 µs for 20 KB) where a two-character one
    walks the text at about 1 ns a character: most answers have no backslash at all, so the
    longer search runs only for those that do.
    """
    return "\\" not in text or "\\u" not in text


def check_surrogates(text: str, value: Any) -> None:
    """Raise ``ValueError`` if ``value``, decoded from ``text``, holds a lone surrogate.

    Strict UTF-8 decoding already refuses encoded surrogates, so only a ``\\uD800``-style
    escape can produce one: the text is searched for such an escape first (a substring test
    on the common path), and only then is the value re-encoded to find an unpaired one.
    """
    if not no_u_escape(text) and _SURROGATE_ESCAPE.search(text) is not None:
        try:
            if _C_SURROGATE_ENCODER is not None:
                "".join(_C_SURROGATE_ENCODER(value, 0)).encode("utf-8")
            else:
                _SURROGATE_ENCODER.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("string contains a lone surrogate escape (not Unicode text)") from None


def loads(data: bytes | str) -> Any:
    """Decode strict UTF-8 JSON (raises ``ValueError`` on anything outside the profile).

    Invalid UTF-8, ``NaN``/``Infinity``/``-Infinity`` and lone surrogate escapes (``"\\ud800"``)
    are refused, as section 2 requires of what a peer sends. Calls the decoder's C scanner
    directly for a text that is exactly one JSON value (the common case on the wire); anything
    else (surrounding whitespace, extra data, errors) goes through the decoder, which gives the
    usual messages.
    """
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    value = decode_text(text)
    check_surrogates(text, value)
    return value


def decode_text(text: str) -> Any:
    """Decode one JSON text with the strict decoder (``NaN``/``Infinity`` refused).

    Calls the C scanner directly when ``text`` is exactly one value (the common case on the
    wire); anything else (surrounding whitespace, extra data, errors) goes through the decoder,
    which gives the usual messages. Lone surrogate escapes are not checked (see :func:`loads`).
    """
    try:
        value, end = SCAN(text, 0)
    except StopIteration:
        return decode(text)
    if end != len(text):
        return decode(text)
    return value
