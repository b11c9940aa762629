"""Load a native (Rust) plugin in-process over the C FFI ABI of protocol.md section 6.

The library is opened with cffi in ABI mode (``ffi.dlopen``): no compiler is needed at run time.
Every ``char *`` the plugin returns is the plain JSON value the seed describes (the Manifest, the
ActionResult, ...; no envelope). It is copied into Python bytes and then released with the
plugin's own ``elizaos_free_string`` exactly once, in a ``finally`` block, so neither an
exception nor bad JSON can leak or double-free it. A failure is a NULL string or a negative
status; the error object then comes from the optional ``elizaos_last_error`` export, or is
built from the status, the function and the name when the library has none (a seed-ABI
library). ``elizaos_abi_version`` is optional too: both ABIs load.

This module also holds the pieces shared with the WASM loader (:mod:`._wasm`): the per-method
argument layout, the eager params checks, the status-code mapping of section 5.3 and envelope
decoding (WASM results stay envelopes, section 5.2). Both in-process transports therefore
answer bad params and plugin errors exactly as an IPC plugin would (same codes, same ``data``
members).

In-process calls cannot be interrupted from Python: :class:`FfiTransport` ignores ``timeout``
(protocol.md promises time-outs for IPC only; a native call runs to completion on the calling
thread).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..wire._errors import (
    InvalidPayloadError,
    PluginCallError,
    PluginCrashError,
    PluginLoadError,
    PluginProtocolError,
)
from ..wire._json import MAX_MESSAGE_BYTES, SCAN, check_surrogates, decode, dumps, loads
from ._transport import unwrap_envelope

if TYPE_CHECKING:
    from ._loaded_plugin import LoadedPlugin

__all__ = [
    "FFI_CDEF",
    "FFI_EXPORTS",
    "FFI_OPTIONAL_EXPORTS",
    "FfiTransport",
    "MethodSpec",
    "decode_envelope",
    "decode_value",
    "encode_args",
    "export_call",
    "load_rust_plugin",
    "method_label",
    "method_spec",
    "reported_error",
    "status_error",
]

# --------------------------------------------------------------------------------------------
# Shared by the FFI and WASM transports
# --------------------------------------------------------------------------------------------

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


_SPECS: Final[dict[str, MethodSpec]] = {
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
    -1: (-32001, "unknown {kind} name", frozenset({-32001})),
    -2: (
        -32602,
        "invalid input: bad UTF-8, bad JSON or wrong JSON type",
        frozenset({-32602, -32700}),
    ),
    -3: (-32000, "handler failed", frozenset({-32000})),
    -4: (-32603, "internal error in the plugin", frozenset({-32603})),
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def method_label(method: str, params: Any) -> str:
    """``invokeAction("echo")`` when the call names an item, else the bare method name."""
    if isinstance(params, dict):
        name = params.get("name")
        if isinstance(name, str):
            return f'{method}("{name}")'
    return method


def method_spec(method: str, *, label: str, transport: str) -> MethodSpec | None:
    """The :class:`MethodSpec` of ``method``; ``None`` for ``shutdown``; -32601 otherwise."""
    spec = _SPECS.get(method)
    if spec is not None or method == "shutdown":
        return spec
    raise PluginCallError(
        -32601,
        f"method not found: {method!r} (expected one of {', '.join([*_SPECS, 'shutdown'])})",
        {"method": method},
        plugin=label,
        method=method,
        transport=transport,
    )


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
    """
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise PluginCallError(
            -32602,
            f"invalid params: expected object, received {_json_type(params)}",
            {"param": "params", "expected": "object", "received": _json_type(params)},
            plugin=label,
            method=method_label(spec.method, params),
            transport=transport,
        )
    out: list[bytes] = []
    for param in spec.args:
        value = params.get(param)
        if value is None:
            if param in _REQUIRED_PARAMS:
                received = "null" if param in params else "missing"
                expected = "string" if param == "name" else "object"
                raise PluginCallError(
                    -32602,
                    f"invalid params: {param} is {received}, expected {expected}",
                    {"param": param, "expected": expected, "received": received},
                    plugin=label,
                    method=method_label(spec.method, params),
                    transport=transport,
                )
            out.append(_EMPTY_OBJECT)
            continue
        if param == "name":
            if not isinstance(value, str):
                raise PluginCallError(
                    -32602,
                    f"invalid params: name is {_json_type(value)}, expected string",
                    {"param": "name", "expected": "string", "received": _json_type(value)},
                    plugin=label,
                    method=method_label(spec.method, params),
                    transport=transport,
                )
            if refuse_nul_in_name and "\x00" in value:
                raise InvalidPayloadError(
                    "a name cannot contain U+0000 over FFI (C strings end at NUL)",
                    path="$.name",
                    plugin=label,
                    method=method_label(spec.method, params),
                    transport=transport,
                )
            try:
                encoded = value.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidPayloadError(
                    "string contains a lone surrogate",
                    path="$.name",
                    plugin=label,
                    method=method_label(spec.method, params),
                    transport=transport,
                ) from None
        elif type(value) is dict and not value:
            encoded = _EMPTY_OBJECT
        else:
            if not isinstance(value, dict):
                raise PluginCallError(
                    -32602,
                    f"invalid params: {param} is {_json_type(value)}, expected object",
                    {"param": param, "expected": "object", "received": _json_type(value)},
                    plugin=label,
                    method=method_label(spec.method, params),
                    transport=transport,
                )
            try:
                encoded = dumps(value)
            except InvalidPayloadError as exc:
                message = exc.detail[: -len(f" at {exc.path}")]
                raise InvalidPayloadError(
                    message,
                    path=f"$.{param}{exc.path[1:]}",
                    plugin=label,
                    method=method_label(spec.method, params),
                    transport=transport,
                ) from None
            except (ValueError, TypeError, RecursionError) as exc:
                raise InvalidPayloadError(
                    f"cannot encode as JSON ({type(exc).__name__}: {exc})",
                    path=f"$.{param}",
                    plugin=label,
                    method=method_label(spec.method, params),
                    transport=transport,
                ) from None
        if len(encoded) > max_bytes:
            raise InvalidPayloadError(
                f"argument of {len(encoded)} bytes exceeds the limit of {max_bytes} bytes",
                path=f"$.{param}",
                plugin=label,
                method=method_label(spec.method, params),
                transport=transport,
            )
        out.append(encoded)
    return out


_decode_json: Any = decode
_scan_json: Any = SCAN
"""The strict decoder of :mod:`._json` (``NaN``/``Infinity`` refused); shared with ``_wasm``."""


def decode_envelope(
    raw: bytes, *, label: str, method: str, params: Any, transport: str, max_bytes: int
) -> Any:
    """Decode an envelope (protocol.md 5.2) and return its ``result`` or raise its error.

    The common case (``{"result": ...}``) is checked inline; anything else goes through
    :func:`~elizaos_interop.host._transport.unwrap_envelope`, which raises the typed error.
    """
    if len(raw) > max_bytes:
        raise PluginProtocolError(
            f"result of at least {len(raw)} bytes exceeds the limit of {max_bytes} bytes",
            excerpt=raw,
            plugin=label,
            method=method_label(method, params),
            transport=transport,
        )
    try:
        text = raw.decode("utf-8")
        try:
            # The C scanner alone skips the decoder's two whitespace matches (~0.4 us for a
            # small envelope); anything but exactly one JSON value goes through the decoder,
            # which accepts surrounding whitespace and words the errors.
            envelope, end = _scan_json(text, 0)
            if end != len(text):
                envelope = _decode_json(text)
        except StopIteration:
            envelope = _decode_json(text)
        check_surrogates(text, envelope)
    except (ValueError, RecursionError) as exc:
        raise PluginProtocolError(
            f"result is not UTF-8 JSON ({exc})",
            excerpt=raw,
            plugin=label,
            method=method_label(method, params),
            transport=transport,
        ) from None
    if type(envelope) is dict and len(envelope) == 1 and "result" in envelope:
        return envelope["result"]
    return unwrap_envelope(
        envelope, label=label, method=method_label(method, params), transport=transport
    )


def decode_value(
    raw: bytes, *, label: str, method: str, params: Any, transport: str, max_bytes: int
) -> Any:
    """Decode a plain JSON value returned over FFI (section 6), strictly (section 2).

    Too large, not UTF-8, not JSON, ``NaN``/``Infinity`` or a lone surrogate escape is a
    :class:`PluginProtocolError` quoting the bytes.
    """
    if len(raw) > max_bytes:
        raise PluginProtocolError(
            f"result of at least {len(raw)} bytes exceeds the limit of {max_bytes} bytes",
            excerpt=raw,
            plugin=label,
            method=method_label(method, params),
            transport=transport,
        )
    try:
        text = raw.decode("utf-8")
        value = _decode_json(text)
        check_surrogates(text, value)
    except (ValueError, RecursionError) as exc:
        raise PluginProtocolError(
            f"result is not UTF-8 JSON ({exc})",
            excerpt=raw,
            plugin=label,
            method=method_label(method, params),
            transport=transport,
        ) from None
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


def check_plugin_file(path: str | os.PathLike[str], *, transport: str, what: str) -> Path:
    """Resolve ``path`` and fail with :class:`PluginLoadError` if it is not a readable file."""
    resolved = Path(path).expanduser().resolve()
    if not resolved.exists():
        raise PluginLoadError(
            f"file not found: {resolved} (expected {what})",
            plugin=str(path),
            method="load",
            transport=transport,
        )
    if not resolved.is_file():
        raise PluginLoadError(
            f"{resolved} is not a regular file (expected {what})",
            plugin=str(path),
            method="load",
            transport=transport,
        )
    return resolved


# --------------------------------------------------------------------------------------------
# FFI transport
# --------------------------------------------------------------------------------------------

FFI_CDEF: Final = """
char *elizaos_get_manifest(void);
int   elizaos_init(const char *config_json);
int   elizaos_validate_action(const char *name, const char *memory_json, const char *state_json);
char *elizaos_invoke_action(const char *name, const char *memory_json, const char *state_json,
                            const char *options_json);
char *elizaos_get_provider(const char *name, const char *memory_json, const char *state_json);
int   elizaos_validate_evaluator(const char *name, const char *memory_json,
                                 const char *state_json);
char *elizaos_invoke_evaluator(const char *name, const char *memory_json, const char *state_json);
void  elizaos_free_string(char *ptr);
char *elizaos_last_error(void);
int   elizaos_abi_version(void);
"""
"""The C declarations of protocol.md section 6, verbatim (the last two are optional)."""

FFI_EXPORTS: Final[tuple[str, ...]] = (
    "elizaos_get_manifest",
    "elizaos_init",
    "elizaos_validate_action",
    "elizaos_invoke_action",
    "elizaos_get_provider",
    "elizaos_validate_evaluator",
    "elizaos_invoke_evaluator",
    "elizaos_free_string",
)
"""Every symbol a native plugin must export."""

FFI_OPTIONAL_EXPORTS: Final[tuple[str, ...]] = ("elizaos_last_error", "elizaos_abi_version")
"""Symbols a native plugin may export: the error object and the ABI version (section 6)."""

_ELF_MAGIC: Final = b"\x7fELF"


class FfiTransport:
    """One native plugin library opened with cffi (protocol.md section 6).

    Calls are serialised with a lock (the ABI says exports are thread-safe, but one lock keeps
    the free-after-read discipline simple, and ``elizaos_last_error`` is read under the same
    lock as the failed call). ``timeout`` is accepted for the
    :class:`~elizaos_interop.host._transport.Transport` interface and ignored: a native call cannot
    be interrupted. ``close`` unloads the library (``dlclose``); the dynamic loader keeps it
    mapped while another transport opened the same file.

    ``abi_version`` is what ``elizaos_abi_version()`` answered, 0 for a library without it (the
    seed's ABI); ``has_last_error`` says whether ``elizaos_last_error`` is exported.
    """

    kind: str = "ffi"

    def __init__(
        self, path: str | os.PathLike[str], *, max_message_bytes: int = MAX_MESSAGE_BYTES
    ) -> None:
        self.path = check_plugin_file(path, transport="ffi", what="a shared library (.so)")
        self.label: str = str(path)
        self.max_message_bytes = max_message_bytes
        if sys.platform.startswith("linux"):
            with self.path.open("rb") as fh:
                magic = fh.read(4)
            if magic != _ELF_MAGIC:
                raise PluginLoadError(
                    f"{self.path} is not a shared library: expected an ELF file "
                    f"(starting {_ELF_MAGIC!r}), received {magic!r}",
                    plugin=self.label,
                    method="load",
                    transport="ffi",
                )
        try:
            import cffi
        except ImportError as exc:
            raise PluginLoadError(
                "cffi is not installed (pip install 'elizaos-interop[ffi]')",
                plugin=self.label,
                method="load",
                transport="ffi",
            ) from exc
        ffi = cffi.FFI()
        ffi.cdef(FFI_CDEF)
        try:
            lib: Any = ffi.dlopen(str(self.path))
        except OSError as exc:
            raise PluginLoadError(
                f"cannot load {self.path} as a shared library: {exc}",
                plugin=self.label,
                method="load",
                transport="ffi",
            ) from exc
        missing = []
        for name in FFI_EXPORTS:
            try:
                getattr(lib, name)
            except AttributeError:
                missing.append(name)
        if missing:
            ffi.dlclose(lib)
            raise PluginLoadError(
                f"{self.path} is not an elizaOS FFI plugin: missing exports "
                f"{', '.join(missing)} (protocol.md section 6 requires {', '.join(FFI_EXPORTS)})",
                plugin=self.label,
                method="load",
                transport="ffi",
            )
        self._ffi = ffi
        self._lib: Any = lib
        self._null = ffi.NULL
        self._string: Callable[..., Any] = ffi.string
        self._free: Callable[[Any], None] = self._lib.elizaos_free_string
        self._fns: dict[str, Callable[..., Any]] = {
            spec.method: getattr(lib, spec.ffi_export) for spec in _SPECS.values()
        }
        self._last_error_fn: Callable[[], Any] | None = getattr(lib, "elizaos_last_error", None)
        self.has_last_error = self._last_error_fn is not None
        abi_version: Callable[[], int] | None = getattr(lib, "elizaos_abi_version", None)
        self.abi_version: int = int(abi_version()) if abi_version is not None else 0
        self._lock = threading.Lock()
        self._closed = False

    # -- Transport interface ----------------------------------------------------------------

    async def call(self, method: str, params: dict[str, Any], timeout: float | None = None) -> Any:
        """Run the call on the event loop's thread (it is in-process and not interruptible)."""
        return self.call_sync(method, params, timeout)

    def call_sync(self, method: str, params: dict[str, Any], timeout: float | None = None) -> Any:
        """Call ``method`` through the C ABI and return its result value (``timeout`` ignored)."""
        spec = method_spec(method, label=self.label, transport="ffi")
        if spec is None:  # shutdown: nothing to stop in-process; close() unloads
            self._check_open(method)
            return {}
        args = encode_args(
            spec,
            params,
            label=self.label,
            transport="ffi",
            max_bytes=self.max_message_bytes,
            refuse_nul_in_name=True,
        )
        fn = self._fns[method]
        if spec.result == RESULT_ENVELOPE:
            with self._lock:
                if self._closed:
                    self._check_open(method)
                ptr = fn(*args)
                if ptr:
                    try:
                        # Read at most one byte past the limit: an oversize answer is
                        # refused without copying all of it.
                        raw = self._string(ptr, self.max_message_bytes + 1)
                    finally:
                        self._free(ptr)
                else:
                    raise self._null_error(spec, params)
            # The common case inline: exactly one JSON value, within the limit, without
            # escapes (so no lone surrogate); anything else goes through decode_value.
            try:
                text = raw.decode("utf-8")
                value, end = _scan_json(text, 0)
            except (ValueError, RecursionError, StopIteration):
                pass
            else:
                if end == len(text) and len(raw) <= self.max_message_bytes and "\\u" not in text:
                    return value
            return decode_value(
                raw,
                label=self.label,
                method=method,
                params=params,
                transport="ffi",
                max_bytes=self.max_message_bytes,
            )
        with self._lock:
            if self._closed:
                self._check_open(method)
            status = fn(*args)
            reported = None if status == 0 or status == 1 else self._last_error()
        if status == 0 or status == 1:
            return status_result(status, spec, params, label=self.label, transport="ffi")
        raise status_error(
            status, spec, params, label=self.label, transport="ffi", reported=reported
        )

    def noop(self) -> None:
        """``elizaos_free_string(NULL)``: the no-op floor of protocol.md section 10."""
        if self._closed:
            self._check_open("elizaos_free_string")
        self._free(self._null)

    def close(self) -> None:
        """Unload the library (idempotent, never raises)."""
        with self._lock:
            if self._closed:
                return
            # Every call checks _closed under this lock before calling through a pointer, so
            # no call can reach the library after dlclose.
            self._closed = True
            # close() never raises: if dlclose fails the library just stays mapped.
            with contextlib.suppress(Exception):
                self._ffi.dlclose(self._lib)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<FfiTransport {self.label!r} ({self.path}) abi {self.abi_version} {state}>"

    # -- helpers ----------------------------------------------------------------------------

    def _check_open(self, method: str) -> None:
        if self._closed:
            raise PluginCrashError(
                "plugin is closed", plugin=self.label, method=method, transport="ffi"
            )

    def _last_error(self) -> dict[str, Any] | None:
        """The error object from ``elizaos_last_error()`` (called under the lock), or None.

        None when the library does not export it, answers NULL, or answers something that is
        not a JSON ``{"code": int, "message": str}`` object: the caller then builds the error
        from what it knows.
        """
        fn = self._last_error_fn
        if fn is None:
            return None
        ptr = fn()
        if not ptr:
            return None
        try:
            raw = self._string(ptr, self.max_message_bytes + 1)
        finally:
            self._free(ptr)
        try:
            return reported_error(loads(raw))
        except (ValueError, RecursionError):
            return None

    def _null_error(self, spec: MethodSpec, params: dict[str, Any]) -> PluginCallError:
        """The error for a NULL string: ``elizaos_last_error``'s, else -32000 naming the call."""
        error = self._last_error()
        where = method_label(spec.method, params)
        if error is not None:
            return PluginCallError(
                error["code"],
                error["message"],
                error.get("data"),
                plugin=self.label,
                method=where,
                transport="ffi",
            )
        data: Any = None
        if spec.kind is not None:
            data = {"kind": spec.kind, "name": params.get("name")}
        return PluginCallError(
            -32000,
            f"{export_call(spec, params, 'ffi')} returned NULL",
            data,
            plugin=self.label,
            method=where,
            transport="ffi",
        )


def load_rust_plugin(
    path: str | os.PathLike[str], *, max_message_bytes: int = MAX_MESSAGE_BYTES
) -> LoadedPlugin:
    """Load a native plugin library (``.so``) in-process over the C FFI ABI (protocol.md 6).

    Raises :class:`PluginLoadError` naming the problem: file missing, not a shared library,
    missing exports (listed), or a manifest that is missing or invalid. C signatures cannot be
    checked from a shared library; the exports are called as section 6 declares them.
    """
    from ._loaded_plugin import LoadedPlugin

    return LoadedPlugin.from_transport(FfiTransport(path, max_message_bytes=max_message_bytes))
