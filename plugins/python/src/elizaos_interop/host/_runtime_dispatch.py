"""The host's side of runtime calls (protocol.md section 11): snapshots and the dispatcher.

When a caller passes a runtime object to a plugin call, the host sends a plain-data snapshot of
it with the call (:func:`runtime_snapshot`, 11.1) and answers the plugin's runtime requests by
calling that object (:func:`answer_runtime_call`, 11.2): the camelCase method first, then its
snake_case spelling, awaiting the result if it is awaitable. Only the forwarded methods of 11.3
can be called: a plugin is untrusted code, and the runtime object's other members (private
helpers, dunder methods) are not part of the protocol.
"""

from __future__ import annotations

import enum
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

from ..plugin._runtime_proxy import FORWARDED_METHODS, snake_case, to_json_data
from ..wire._errors import InvalidPayloadError
from ..wire._json import dumps
from ..wire._protocol import (
    HANDLER_FAILED,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    MAX_ID,
    METHOD_NOT_FOUND,
    RUNTIME_PREFIX,
    json_type,
)

__all__ = [
    "answer_runtime_call",
    "check_runtime_request",
    "error_line",
    "find_runtime_method",
    "runtime_snapshot",
]


_SNAPSHOT_MEMBERS: tuple[tuple[str, str], ...] = (
    ("agentId", "agent_id"),
    ("character", "character"),
)
"""The plain-data members of the call context (11.1): wire name, Python spelling."""

_DROP = object()
"""Marks a value that is not JSON (left out of a snapshot)."""


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON data with every member that is not JSON left out (or ``_DROP``)."""
    kind = type(value)
    if value is None or kind is bool or kind is int:
        return value
    if kind is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            return _DROP
        return value
    if kind is float:
        return value if math.isfinite(value) else _DROP
    if depth > 64:
        return _DROP
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, member in value.items():
            if isinstance(key, str):
                plain = _plain(member, depth + 1)
                if plain is not _DROP:
                    out[key] = plain
        return out
    if isinstance(value, list | tuple):
        items = (_plain(member, depth + 1) for member in value)
        return [item for item in items if item is not _DROP]
    if isinstance(value, enum.Enum):
        return _plain(value.value, depth + 1)
    for scalar in (int, float, str):  # subclasses of the JSON scalars
        if isinstance(value, scalar):
            return _plain(scalar(value), depth)
    try:
        converted = to_json_data(value)
    except Exception:  # a model whose dump fails is simply not data
        return _DROP
    if converted is value:
        return _DROP
    return _plain(converted, depth + 1)


def runtime_snapshot(runtime: Any) -> dict[str, Any]:
    """The call context of 11.1: ``{"agentId"?, "character"?}`` read from ``runtime``.

    Members are read as dict keys from a mapping, else as attributes (``agentId`` then
    ``agent_id``). Values that are not JSON are left out, recursively (a callable in the
    character, a NaN); pydantic models, dataclasses and the like become plain data.
    """
    snapshot: dict[str, Any] = {}
    for wire, python in _SNAPSHOT_MEMBERS:
        if isinstance(runtime, Mapping):
            value = runtime.get(wire, runtime.get(python))
        else:
            value = getattr(runtime, wire, None)
            if value is None and python != wire:
                value = getattr(runtime, python, None)
        if value is None or (callable(value) and not isinstance(value, Mapping)):
            continue
        try:  # the common case, plain data already: checked by the C encoder, not walked
            dumps(value)
        except (InvalidPayloadError, ValueError, TypeError, RecursionError):
            value = _plain(value)
            if value is _DROP:
                continue
        snapshot[wire] = value
    return snapshot


def find_runtime_method(runtime: Any, name: str) -> Any:
    """The bound method for wire name ``name`` (camelCase, then snake_case), or ``None``.

    Only the forwarded methods of 11.3 are looked up; any other name answers ``None``.
    """
    if name not in FORWARDED_METHODS:
        return None
    method = getattr(runtime, name, None)
    if not callable(method):
        method = getattr(runtime, snake_case(name), None)
    return method if callable(method) else None


def error_line(req_id: Any, code: int, message: str, data: Any = None) -> bytes:
    """One JSON-RPC error response line (``id`` ``null`` when ``req_id`` is ``None``)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return b'{"id":%s,"error":%s}\n' % (dumps(req_id), dumps(error))


async def answer_runtime_call(
    runtime: Any, name: str, args: list[Any], req_id: Any, max_bytes: int
) -> bytes:
    """Call ``runtime.<name>(*args)`` and return the response line of 11.2 (never raises).

    -32601 when the runtime lacks the method, -32000 with ``{"method", "exception"}`` when it
    raises (or its awaitable does), -32603 when its result is not JSON (after converting
    models and dataclasses as :func:`to_json_data` does) or exceeds ``max_bytes``.
    """
    method = find_runtime_method(runtime, name)
    if method is None:
        return error_line(
            req_id,
            METHOD_NOT_FOUND,
            f"runtime.{name} is not provided by the host",
            {"method": name},
        )
    try:
        result = method(*args)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:
        return error_line(
            req_id,
            HANDLER_FAILED,
            str(exc) or type(exc).__name__,
            {"method": name, "exception": type(exc).__name__},
        )
    try:
        body = dumps(result)
    except InvalidPayloadError:
        try:
            body = dumps(to_json_data(result))
        except (InvalidPayloadError, Exception) as exc:
            why = exc.detail if isinstance(exc, InvalidPayloadError) else f"{exc}"
            return error_line(
                req_id,
                INTERNAL_ERROR,
                f"runtime.{name} returned a value that is not JSON: {why}",
                {"method": name},
            )
    line = b'{"id":%s,"result":%s}\n' % (dumps(req_id), body)
    if len(line) - 1 > max_bytes:
        return error_line(
            req_id,
            INTERNAL_ERROR,
            f"runtime.{name} returned {len(body)} bytes of JSON, over the message limit of "
            f"{max_bytes} bytes",
            {"method": name},
        )
    return line


def check_runtime_request(
    message: dict[str, Any], is_call: Callable[[Any], bool]
) -> tuple[Any, str, Any, list[Any]] | bytes:
    """Check a plugin's ``runtime.<method>`` request (protocol.md 11.2).

    Returns ``(id, name, call, args)``, or the error line that answers a malformed request or
    one for no call in flight (``is_call(call)`` false): -32600, -32601 or -32602.
    """
    req_id = message.get("id")
    if not (
        (type(req_id) is int and 0 <= req_id <= MAX_ID) or (type(req_id) is str and req_id != "")
    ):
        return error_line(
            None,
            INVALID_REQUEST,
            f"invalid request: id is {json_type(req_id) if 'id' in message else 'missing'}"
            ", expected a non-empty string or an integer",
        )
    method = message["method"]
    params = message.get("params", {})
    if type(method) is not str or not isinstance(params, dict):
        what = "method" if type(method) is not str else "params"
        expected = "string" if what == "method" else "object"
        received = json_type(method if what == "method" else params)
        return error_line(
            req_id,
            INVALID_REQUEST,
            f"invalid request: {what} is {received}, expected {expected}",
        )
    if not method.startswith(RUNTIME_PREFIX):
        return error_line(
            req_id,
            METHOD_NOT_FOUND,
            f"method not found: {method!r} (a plugin may only send runtime.<method>)",
            {"method": method},
        )
    name = method[len(RUNTIME_PREFIX) :]
    call_id = params.get("call")
    if not is_call(call_id):
        return error_line(
            req_id,
            INVALID_PARAMS,
            f"runtime call for unknown call {dumps(call_id).decode()}"
            if "call" in params
            else "runtime call without params.call",
            {"param": "call"},
        )
    args = params.get("args")
    if type(args) is not list:
        received = json_type(args) if "args" in params else "missing"
        return error_line(
            req_id,
            INVALID_PARAMS,
            f"invalid params: args is {received}, expected array",
            {"param": "args", "expected": "array", "received": received},
        )
    return req_id, name, call_id, args
