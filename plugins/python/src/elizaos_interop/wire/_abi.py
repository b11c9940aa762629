"""The envelope and in-process ABI encoding shared by the FFI and WASM hosts (protocol.md 5, 6).

The per-method argument layout (:class:`MethodSpec`), the eager params checks, the status codes
of section 5.3 and envelope decoding, so both in-process transports answer bad params and plugin
errors exactly as an IPC plugin would (same codes, same ``data`` members). :func:`unwrap_envelope`
serves the IPC host too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ._errors import InvalidPayloadError, PluginCallError, PluginProtocolError
from ._json import check_surrogates, decode_text, dumps
from ._protocol import (
    HANDLER_FAILED,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    UNKNOWN_NAME,
    json_type,
    method_label,
)

__all__ = [
    "RESULT_ENVELOPE",
    "RESULT_INIT",
    "RESULT_STATUS",
    "SPECS",
    "MethodSpec",
    "decode_envelope",
    "decode_value",
    "encode_args",
    "export_call",
    "method_spec",
    "reported_error",
    "status_error",
    "status_result",
    "unwrap_envelope",
]

RESULT_ENVELOPE: Final = "envelope"
"""The export returns an envelope (FFI ``char *``, WASM result buffer)."""
RESULT_STATUS: Final = "status"
"""The export returns a validate status: 1 -> ``true``, 0 -> ``false``, negative -> error."""
RESULT_INIT: Final = "init"
"""The export returns an init status: 0 -> ``{}``, negative -> error."""


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """How one method of protocol.md 3.3 maps onto the in-process ABIs (sections 5.1 and 6)."""

    method: str
    ffi_export: str
    wasm_export: str
    args: tuple[str, ...]
    """Params passed as arguments, in ABI order (``name`` is sent bare, the rest as JSON)."""
    result: str
    """:data:`RESULT_ENVELOPE`, :data:`RESULT_STATUS` or :data:`RESULT_INIT`."""
    kind: str | None
    """``"action"``, ``"provider"`` or ``"evaluator"`` for -32001/-32000 ``data``."""


SPECS: Final[dict[str, MethodSpec]] = {
    spec.method: spec
    for spec in (
        MethodSpec(
            "getManifest", "elizaos_get_manifest", "get_manifest", (), RESULT_ENVELOPE, None
        ),
        MethodSpec("init", "elizaos_init", "init", ("config",), RESULT_INIT, None),
        MethodSpec(
            "validateAction",
            "elizaos_validate_action",
            "wasm_validate_action",
            ("name", "memory", "state"),
            RESULT_STATUS,
            "action",
        ),
        MethodSpec(
            "invokeAction",
            "elizaos_invoke_action",
            "wasm_invoke_action",
            ("name", "memory", "state", "options"),
            RESULT_ENVELOPE,
            "action",
        ),
        MethodSpec(
            "getProvider",
            "elizaos_get_provider",
            "wasm_get_provider",
            ("name", "memory", "state"),
            RESULT_ENVELOPE,
            "provider",
        ),
        MethodSpec(
            "validateEvaluator",
            "elizaos_validate_evaluator",
            "wasm_validate_evaluator",
            ("name", "memory", "state"),
            RESULT_STATUS,
            "evaluator",
        ),
        MethodSpec(
            "invokeEvaluator",
            "elizaos_invoke_evaluator",
            "wasm_invoke_evaluator",
            ("name", "memory", "state"),
            RESULT_ENVELOPE,
            "evaluator",
        ),
    )
}

_REQUIRED_PARAMS: Final = frozenset({"name", "memory", "config"})
_EMPTY_OBJECT: Final = b"{}"

# status (protocol.md 5.3) -> (IPC code, meaning, codes a plugin's own error may use instead)
_STATUS_ERRORS: Final[dict[int, tuple[int, str, frozenset[int]]]] = {
    -1: (UNKNOWN_NAME, "unknown {kind} name", frozenset({UNKNOWN_NAME})),
    -2: (
        INVALID_PARAMS,
        "invalid input: bad UTF-8, bad JSON or wrong JSON type",
        frozenset({INVALID_PARAMS, PARSE_ERROR}),
    ),
    -3: (HANDLER_FAILED, "handler failed", frozenset({HANDLER_FAILED})),
    -4: (INTERNAL_ERROR, "internal error in the plugin", frozenset({INTERNAL_ERROR})),
}


def method_spec(method: str, *, label: str, transport: str) -> MethodSpec | None:
    """The :class:`MethodSpec` of ``method``; ``None`` for ``shutdown``; -32601 otherwise."""
    spec = SPECS.get(method)
    if spec is not None or method == "shutdown":
        return spec
    raise PluginCallError(
        METHOD_NOT_FOUND,
        f"method not found: {method!r} (expected one of {', '.join([*SPECS, 'shutdown'])})",
        {"method": method},
        plugin=label,
        method=method,
        transport=transport,
    )


def _param_error(param: str, expected: str, received: str, *at: Any) -> PluginCallError:
    """-32602 ``invalid params`` with ``data`` ``{"param", "expected", "received"}`` (3.3).

    ``at`` is ``(label, method, params, transport)``: where the call was going.
    """
    label, method, params, transport = at
    return PluginCallError(
        INVALID_PARAMS,
        f"invalid params: {param} is {received}, expected {expected}",
        {"param": param, "expected": expected, "received": received},
        plugin=label,
        method=method_label(method, params),
        transport=transport,
    )


def _payload_error(message: str, path: str, *at: Any) -> InvalidPayloadError:
    """An :class:`InvalidPayloadError` for a value that cannot be sent, at ``path``.

    ``at`` is ``(label, method, params, transport)``, as for :func:`_param_error`.
    """
    label, method, params, transport = at
    return InvalidPayloadError(
        message, path=path, plugin=label, method=method_label(method, params), transport=transport
    )


_NAME: Final = 0
_REQUIRED: Final = 1
_OPTIONAL: Final = 2
_PLANS: Final[dict[str, tuple[tuple[str, int], ...]]] = {
    spec.method: tuple(
        (param, _NAME if param == "name" else _REQUIRED if param in _REQUIRED_PARAMS else _OPTIONAL)
        for param in spec.args
    )
    for spec in SPECS.values()
}
"""Per method, each ABI argument and its role: the bare name, a required or an optional object."""


def encode_args(
    spec: MethodSpec,
    params: Any,
    *,
    label: str,
    transport: str,
    max_bytes: int,
    refuse_nul_in_name: bool,
) -> list[bytes]:
    """Check ``params`` as an IPC plugin would and encode each ABI argument as UTF-8 bytes.

    A missing or mistyped param raises -32602 with ``data`` ``{"param", "expected", "received"}``
    (protocol.md 3.3), exactly what the plugin would answer over IPC. A value outside the JSON
    profile, a name holding U+0000 on FFI (``refuse_nul_in_name``) or an argument over
    ``max_bytes`` raises :class:`InvalidPayloadError` before the plugin is touched.

    The hot path of every FFI and WASM call: a ``str`` name and plain ``dict`` objects are
    taken at once; anything else goes through :func:`_encode_other`, which words the error.
    """
    if type(params) is not dict:
        params = _params_object(spec, params, label, transport)
    out: list[bytes] = []
    for param, role in _PLANS[spec.method]:
        value = params.get(param)
        if role == _NAME:
            if not isinstance(value, str):
                _encode_other(param, role, value, (label, spec.method, params, transport))
            if refuse_nul_in_name and "\x00" in value:
                at = (label, spec.method, params, transport)
                raise _payload_error(
                    "a name cannot contain U+0000 over FFI (C strings end at NUL)", "$.name", *at
                )
            try:
                encoded = value.encode("utf-8")
            except UnicodeEncodeError:
                at = (label, spec.method, params, transport)
                raise _payload_error("string contains a lone surrogate", "$.name", *at) from None
        elif type(value) is dict:
            if value:
                try:
                    encoded = dumps(value)
                except (InvalidPayloadError, ValueError, TypeError, RecursionError) as exc:
                    at = (label, spec.method, params, transport)
                    raise _dump_error(param, exc, at) from None
            else:
                encoded = _EMPTY_OBJECT
        else:
            encoded = _encode_other(param, role, value, (label, spec.method, params, transport))
        if len(encoded) > max_bytes:
            message = f"argument of {len(encoded)} bytes exceeds the limit of {max_bytes} bytes"
            raise _payload_error(message, f"$.{param}", label, spec.method, params, transport)
        out.append(encoded)
    return out


def _params_object(spec: MethodSpec, params: Any, label: str, transport: str) -> dict[str, Any]:
    """``params`` as a dict: ``None`` is ``{}``, a dict subclass passes, anything else is -32602."""
    if params is None:
        return {}
    if isinstance(params, dict):
        return params
    received = json_type(params)
    raise PluginCallError(
        INVALID_PARAMS,
        f"invalid params: expected object, received {received}",
        {"param": "params", "expected": "object", "received": received},
        plugin=label,
        method=method_label(spec.method, params),
        transport=transport,
    )


def _dump_error(param: str, exc: Exception, at: tuple[Any, ...]) -> InvalidPayloadError:
    """:func:`dumps`' refusal of the argument ``param`` as an InvalidPayloadError at its path."""
    if isinstance(exc, InvalidPayloadError):
        message = exc.detail[: -len(f" at {exc.path}")]
        return _payload_error(message, f"$.{param}{exc.path[1:]}", *at)
    message = f"cannot encode as JSON ({type(exc).__name__}: {exc})"
    return _payload_error(message, f"$.{param}", *at)


def _encode_other(param: str, role: int, value: Any, at: tuple[Any, ...]) -> bytes:
    """The argument ``param`` when it is not a ``str`` name or a plain ``dict``: ``{}`` for a
    missing optional object, the encoding of a dict subclass, else the -32602 of 3.3 (a name
    always raises here)."""
    params = at[2]
    if value is None:
        if role != _OPTIONAL:
            received = "null" if param in params else "missing"
            expected = "string" if role == _NAME else "object"
            raise _param_error(param, expected, received, *at)
        return _EMPTY_OBJECT
    if role == _NAME:
        raise _param_error("name", "string", json_type(value), *at)
    if not isinstance(value, dict):
        raise _param_error(param, "object", json_type(value), *at)
    try:
        return dumps(value)
    except (InvalidPayloadError, ValueError, TypeError, RecursionError) as exc:
        raise _dump_error(param, exc, at) from None


def decode_envelope(
    raw: bytes, *, label: str, method: str, params: Any, transport: str, max_bytes: int
) -> Any:
    """Decode an envelope (protocol.md 5.2) and return its ``result`` or raise its error.

    Decoded as :func:`decode_value` does; a ``{"result": ...}`` answer is returned at once,
    anything else goes through :func:`unwrap_envelope`, which raises the typed error.
    """
    envelope = decode_value(
        raw, label=label, method=method, params=params, transport=transport, max_bytes=max_bytes
    )
    if type(envelope) is dict and len(envelope) == 1 and "result" in envelope:
        return envelope["result"]
    return unwrap_envelope(
        envelope, label=label, method=method_label(method, params), transport=transport
    )


def decode_value(
    raw: bytes, *, label: str, method: str, params: Any, transport: str, max_bytes: int
) -> Any:
    """Decode a plain JSON value returned over FFI or WASM, strictly (section 2).

    Too large, not UTF-8, not JSON, ``NaN``/``Infinity`` or a lone surrogate escape is a
    :class:`PluginProtocolError` quoting the bytes.
    """
    problem = None
    if len(raw) > max_bytes:
        problem = f"result of at least {len(raw)} bytes exceeds the limit of {max_bytes} bytes"
    else:
        try:
            text = raw.decode("utf-8")
            value = decode_text(text)
            check_surrogates(text, value)
        except (ValueError, RecursionError) as exc:
            problem = f"result is not UTF-8 JSON ({exc})"
    if problem is not None:
        raise PluginProtocolError(
            problem,
            excerpt=raw,
            plugin=label,
            method=method_label(method, params),
            transport=transport,
        )
    return value


def export_call(spec: MethodSpec, params: Any, transport: str) -> str:
    """The export and its name argument as a C-like call: ``elizaos_invoke_action("greet")``."""
    export = spec.ffi_export if transport == "ffi" else spec.wasm_export
    name = params.get("name") if isinstance(params, dict) else None
    return f'{export}("{name}")' if isinstance(name, str) else f"{export}()"


def reported_error(reported: Any) -> dict[str, Any] | None:
    """The error object of an ``elizaos_last_error`` answer, if it is a valid one.

    WASM hands out an envelope ``{"error": {...}}`` (5.1), FFI the bare object (section 6);
    either way the object needs an integer ``code`` and a string ``message``.
    """
    if not isinstance(reported, dict):
        return None
    error = reported.get("error", reported) if "code" not in reported else reported
    if (
        isinstance(error, dict)
        and type(error.get("code")) is int
        and isinstance(error.get("message"), str)
    ):
        return error
    return None


def status_error(
    status: int,
    spec: MethodSpec,
    params: dict[str, Any],
    *,
    label: str,
    transport: str,
    reported: Any = None,
) -> PluginCallError | PluginProtocolError:
    """The error for a non-success status of protocol.md 5.3.

    ``reported`` is the decoded ``elizaos_last_error`` answer when the plugin exports one (a
    WASM envelope or the bare FFI error object); its message and ``data`` are used, and its
    code when it is one the status allows (-2 may be -32602 or -32700). Otherwise the message
    names the export, the item and the status (``elizaos_validate_action("greet") returned -3
    (handler failed)``) and ``data`` matches what an IPC plugin would send.
    """
    where = method_label(spec.method, params)
    mapped = _STATUS_ERRORS.get(status)
    if mapped is None:
        expected = "0 or a negative status" if spec.result == RESULT_INIT else "1, 0 or -1..-4"
        return PluginProtocolError(
            f"{export_call(spec, params, transport)} returned the invalid status {status} "
            f"(expected {expected})",
            plugin=label,
            method=where,
            transport=transport,
        )
    code, meaning, allowed = mapped
    name = params.get("name") if isinstance(params, dict) else None
    message = (
        f"{export_call(spec, params, transport)} returned {status} "
        f"({meaning.format(kind=spec.kind or 'item')})"
    )
    data: Any = None
    if spec.kind is not None and status in (-1, -3):
        data = {"kind": spec.kind, "name": name}
    error = reported_error(reported)
    if error is not None:
        if error["message"]:
            message = error["message"]
        if "data" in error:
            data = error["data"]
        if error["code"] in allowed:
            code = error["code"]
    return PluginCallError(code, message, data, plugin=label, method=where, transport=transport)


def status_result(
    status: int, spec: MethodSpec, params: dict[str, Any], *, label: str, transport: str
) -> Any:
    """Map a non-negative status to its IPC result value (``true``/``false``/``{}``)."""
    if spec.result == RESULT_STATUS:
        if status == 1:
            return True
        if status == 0:
            return False
    elif status == 0:
        return {}
    raise status_error(status, spec, params, label=label, transport=transport)


def unwrap_envelope(envelope: Any, *, label: str, method: str, transport: str) -> Any:
    """Return the ``result`` of a decoded envelope (protocol.md 5.2) or raise its error.

    ``{"result": v}`` gives ``v``; ``{"error": {"code", "message", "data"?}}`` raises
    :class:`PluginCallError`; anything else raises :class:`PluginProtocolError` quoting it.
    Shared by the IPC client (for the response minus ``id``) and the FFI/WASM loaders.
    """
    if isinstance(envelope, dict):
        has_result = "result" in envelope
        has_error = "error" in envelope
        if has_result and not has_error:
            return envelope["result"]
        if has_error and not has_result:
            error = envelope["error"]
            if (
                isinstance(error, dict)
                and isinstance(error.get("code"), int)
                and not isinstance(error.get("code"), bool)
                and isinstance(error.get("message"), str)
            ):
                return _raise_call_error(error, label=label, method=method, transport=transport)
    try:
        excerpt = dumps(envelope)[:200]
    except Exception:
        excerpt = repr(envelope).encode("utf-8", "replace")[:200]
    raise PluginProtocolError(
        'invalid envelope: expected {"result": ...} or {"error": {"code": int, "message": str}}',
        excerpt=excerpt,
        plugin=label,
        method=method,
        transport=transport,
    )


def _raise_call_error(error: dict[str, Any], *, label: str, method: str, transport: str) -> Any:
    raise PluginCallError(
        error["code"],
        error["message"],
        error.get("data"),
        plugin=label,
        method=method,
        transport=transport,
    )
