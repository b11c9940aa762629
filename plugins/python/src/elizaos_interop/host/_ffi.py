"""Load a native (Rust) plugin in-process over the C FFI ABI of protocol.md section 6.

The library is opened with cffi in ABI mode (``ffi.dlopen``): no compiler is needed at run time.
Every ``char *`` the plugin returns is the plain JSON value the seed describes (the Manifest, the
ActionResult, ...; no envelope). It is copied into Python bytes and then released with the
plugin's own ``elizaos_free_string`` exactly once, in a ``finally`` block, so neither an
exception nor bad JSON can leak or double-free it. A failure is a NULL string or a negative
status; the error object then comes from the optional ``elizaos_last_error`` export, or is
built from the status, the function and the name when the library has none (a seed-ABI
library). ``elizaos_abi_version`` is optional too: both ABIs load.

The pieces shared with the WASM loader (the per-method argument layout, the eager params
checks, the status codes of section 5.3, envelope decoding) live in the wire room
(:mod:`elizaos_interop.wire._abi`).

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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..wire._abi import (
    RESULT_ENVELOPE,
    SPECS,
    MethodSpec,
    decode_value,
    encode_args,
    export_call,
    method_spec,
    reported_error,
    status_error,
    status_result,
)
from ..wire._errors import (
    PluginCallError,
    PluginCrashError,
    PluginLoadError,
)
from ..wire._json import MAX_MESSAGE_BYTES, SCAN, loads, no_u_escape
from ..wire._protocol import HANDLER_FAILED, method_label

if TYPE_CHECKING:
    from ._loaded_plugin import LoadedPlugin

__all__ = [
    "FFI_CDEF",
    "FFI_EXPORTS",
    "FFI_OPTIONAL_EXPORTS",
    "FfiTransport",
    "check_plugin_file",
    "load_rust_plugin",
]


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


_ELF_MACHINES: Final = {
    0x03: "x86",
    0x08: "mips",
    0x14: "powerpc",
    0x15: "powerpc64",
    0x16: "s390x",
    0x28: "arm",
    0x3E: "x86_64",
    0xB7: "aarch64",
    0xF3: "riscv64",
    0x102: "loongarch64",
}
"""ELF ``e_machine`` values and the architecture names ``platform.machine()`` gives for them."""
_MACHINE_ALIASES: Final = {"amd64": "x86_64", "arm64": "aarch64", "i386": "x86", "i686": "x86"}


def architecture_mismatch(path: Path) -> str | None:
    """Why a library that failed to load cannot load here when it is an ELF file built for
    another machine, else None (not ELF, unreadable, or this machine's architecture)."""
    import platform

    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
    except OSError:
        return None
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    machine = int.from_bytes(header[18:20], "big" if header[5] == 2 else "little")
    built = _ELF_MACHINES.get(machine, f"ELF machine {machine:#x}")
    here = platform.machine().lower()
    here = _MACHINE_ALIASES.get(here, here)
    if built == here:
        return None
    return (
        f"it is built for {built} and this host is {here} (architecture mismatch): "
        "build it for this machine"
    )


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
    calls_in_place: bool = True
    """``call`` only runs ``call_sync`` on the caller's thread (see the Transport interface)."""

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
            mismatch = architecture_mismatch(self.path)
            raise PluginLoadError(
                f"cannot load {self.path} as a shared library: {exc}"
                + (f"; {mismatch}" if mismatch else ""),
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
        # cffi's C ``string`` without the Python-level FFI.string wrapper around it (~0.1 us
        # per call); the public method where this cffi has no ``_backend``.
        backend = getattr(ffi, "_backend", None)
        self._string: Callable[..., Any] = getattr(backend, "string", None) or ffi.string
        self._free: Callable[[Any], None] = self._lib.elizaos_free_string
        self._fns: dict[str, Callable[..., Any]] = {
            spec.method: getattr(lib, spec.ffi_export) for spec in SPECS.values()
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
        spec = SPECS.get(method)
        if spec is None:  # raises -32601 for an unknown method
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
                value, end = SCAN(text, 0)
            except (ValueError, RecursionError, StopIteration):
                pass
            else:
                if end == len(text) and len(raw) <= self.max_message_bytes and no_u_escape(text):
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
            HANDLER_FAILED,
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
