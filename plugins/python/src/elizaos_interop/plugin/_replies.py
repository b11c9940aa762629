"""What the bridge answers: encoded results, JSON-RPC errors and the checks of a handler's result.

A handler's value is checked against its schema (ActionResult, ProviderResult, a validate
boolean) and encoded once; what cannot be sent becomes -32003 "invalid result", an exception
-32000 naming the exception type (protocol.md 3.3).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..wire._errors import InvalidPayloadError
from ..wire._json import dumps
from ..wire._protocol import (
    HANDLER_FAILED,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    INVALID_RESULT,
    json_type,
)

__all__ = [
    "ACTION_RESULT",
    "EMPTY",
    "FALSE",
    "NULL",
    "PROVIDER_RESULT",
    "TRUE",
    "TYPE_NAMES",
    "Encoded",
    "Pending",
    "RpcError",
    "check_bool",
    "check_result",
    "exception_message",
    "handler_failed",
    "init_done",
    "internal_error",
    "invalid_param",
    "invalid_request",
    "invalid_result",
]


class Encoded:
    """A result already checked and encoded (so it is serialised once, not twice)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


TRUE = Encoded(b"true")
FALSE = Encoded(b"false")
NULL = Encoded(b"null")
EMPTY = Encoded(b"{}")


class Pending:
    """A handler's awaitable, and how to turn its value into the method's result."""

    __slots__ = ("awaitable", "finish", "kind", "name")

    def __init__(
        self, kind: str, name: str, awaitable: Awaitable[Any], finish: Callable[[Any], Encoded]
    ) -> None:
        self.kind = kind
        self.name = name
        self.awaitable = awaitable
        self.finish = finish


class RpcError(Exception):
    """A JSON-RPC error to send back (code, message, data)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


def invalid_request(problem: str) -> RpcError:
    """-32600 ``invalid request: <problem>`` (protocol.md 3.2)."""
    return RpcError(INVALID_REQUEST, f"invalid request: {problem}")


def invalid_param(param: str, expected: str, received: str) -> RpcError:
    article = "an" if expected[0] in "aeiou" else "a"
    return RpcError(
        INVALID_PARAMS,
        f"invalid params: {param} must be {article} {expected}, received {received}",
        {"param": param, "expected": expected, "received": received},
    )


def exception_message(exc: BaseException) -> str:
    """The exception's own message (``KeyError("x")`` gives ``x``, not ``'x'``)."""
    if len(exc.args) == 1 and isinstance(exc.args[0], str):
        return exc.args[0]
    return str(exc) or type(exc).__name__


def internal_error(exc: BaseException) -> RpcError:
    return RpcError(
        INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exception_message(exc)}"
    )


def check_result(
    kind: str, name: str, value: Any, members: dict[str, type], what: str, max_bytes: int
) -> Encoded:
    """Check a handler result against its schema and return its canonical form, encoded."""
    if not isinstance(value, dict):
        raise invalid_result(kind, name, f"{what} must be an object, received {json_type(value)}")
    # The value itself is the canonical form unless a known member is null (or it is a dict
    # subclass). Unknown members are passed through untouched (must-ignore, protocol.md 1).
    out: dict[str, Any] = value
    if type(value) is not dict:
        out = dict(value)
    for key, member in value.items():
        expected = members.get(key)
        if expected is None:
            continue
        if member is None:
            if out is value:
                out = dict(value)
            del out[key]
            continue
        if not isinstance(member, expected):
            raise invalid_result(
                kind,
                name,
                f"{what}.{key} must be {TYPE_NAMES[expected]}, received {json_type(member)}",
            )
    if "success" in members and "success" not in out:
        others = ", ".join(repr(k) for k in out) or "none"
        raise invalid_result(kind, name, f"{what}.success is missing (members: {others})")
    try:
        encoded = dumps(out)
    except InvalidPayloadError as exc:
        raise invalid_result(kind, name, f"{what} is not JSON: {exc.detail}") from exc
    if len(encoded) > max_bytes - 64:
        raise invalid_result(
            kind,
            name,
            f"{what} of {len(encoded)} bytes exceeds the message limit of {max_bytes} bytes",
        )
    return Encoded(encoded)


def handler_failed(kind: str, name: str, exc: BaseException) -> RpcError:
    """-32000 for a plugin function that raised, naming what raised and the exception type."""
    data: dict[str, Any] = {"kind": kind, "name": name, "exception": type(exc).__name__}
    return RpcError(HANDLER_FAILED, exception_message(exc), data)


def init_done(value: Any) -> Encoded:
    return EMPTY


def invalid_result(kind: str, name: str, reason: str) -> RpcError:
    return RpcError(
        INVALID_RESULT,
        f"invalid result from {kind} {name}: {reason}",
        {"kind": kind, "name": name, "reason": reason},
    )


def check_bool(kind: str, name: str, value: Any) -> Encoded:
    if value is True:
        return TRUE
    if value is False:
        return FALSE
    raise invalid_result(kind, name, f"validate must return a boolean, received {json_type(value)}")


ACTION_RESULT: dict[str, type] = {
    "success": bool,
    "text": str,
    "values": dict,
    "data": dict,
    "error": str,
}
PROVIDER_RESULT: dict[str, type] = {"text": str, "values": dict, "data": dict}
TYPE_NAMES: dict[type, str] = {bool: "a boolean", str: "a string", dict: "an object"}
