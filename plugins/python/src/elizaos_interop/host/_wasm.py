"""Load a WASM plugin in-process with wasmtime over the raw ABI of protocol.md section 5.

This module loads the module and keeps its instance (:class:`WasmTransport`, the calls of the
Transport interface); the raw call path below it (wasm calls, copies in and out of linear memory,
traps) is :class:`~elizaos_interop.host._wasm_calls.WasmCallPath`, the instance and the watchdog
are in :mod:`elizaos_interop.host._wasm_instance`.

Fast path
---------
wasmtime-py's ``Func.__call__`` re-reads the function type and converts every value in Python
(~14 us per call) and its ``Memory.read``/``write`` build intermediate ctypes arrays. One plugin
call is six wasm calls (one ``alloc`` per argument, the export, one ``dealloc``), so this module
uses the C API that ships inside the wheel (``libwasmtime``), through the function pointers
``wasmtime._bindings`` already loaded:

* ``wasmtime_func_call_unchecked`` with one preallocated ``wasmtime_val_raw_t`` array. It skips
  the per-call type checks, which is sound because every export's signature is checked once,
  at load (:data:`WASM_EXPORTS`), and a module's exports cannot change afterwards.
* The linear memory's base address is read once per instance. That is sound because the engine
  is configured with ``memory_may_move = False`` and a 4 GiB ``memory_reservation``: a wasm32
  memory is then reserved at its maximum size up front and grows in place, so its base never
  moves. Its length only ever grows (wasm memories cannot shrink), so a cached length is a lower
  bound: every access is bounds-checked against it and the length is re-read from wasmtime
  when a check fails, i.e. after the memory grew during a call. Nothing is ever read or written
  outside ``[base, base + data_len)``.
* Arguments are copied in and results out through a ``memoryview`` over ``[base, base +
  data_len)``, rebuilt whenever the cached length is re-read (slice assignment and slicing cost
  ~80 ns where ``ctypes.memmove``/``ctypes.string_at`` cost ~350 ns).

These are private parts of wasmtime-py (:data:`FAST_PATH_INTERNALS`, plus ``Memory._memory``
and ``Func._func``). When one is missing (another wasmtime-py version), the transport lists it
in ``fast_path_missing`` and calls through the public API instead (``Func.__call__``,
``Memory.data_ptr``/``data_len``): slower, same behaviour.

Traps and time-outs
-------------------
A trap (panic, ``unreachable``, out-of-bounds access, memory exhaustion) becomes a
:class:`PluginCallError` -32000 carrying the panic message from ``elizaos_last_error`` when the
plugin exports it (else the trap message). The instance is then thrown away; the next call
instantiates the compiled module anew and replays the last successful ``init`` config
(protocol.md 5.4). Calls honour ``timeout`` (default 30 s) with wasmtime epochs: a watchdog
thread bumps the engine's epoch when the running call's deadline passes, the wasm code traps at
its next epoch check, and the call raises :class:`PluginTimeoutError`; the instance is replaced
the same way. Measured cost: ~0.1-0.2 us per call on the Python side (one ``monotonic()``, a
few attribute writes, no lock: see :class:`Watchdog`) and ~0.3-0.6 us of the plugin's own run
time for an echo call for the epoch checks compiled into its code; the watchdog thread sleeps
when no call is running.
"""

from __future__ import annotations

import ctypes
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Final

from ..wire._abi import (
    RESULT_ENVELOPE,
    RESULT_INIT,
    SPECS,
    MethodSpec,
    decode_envelope,
    encode_args,
    method_spec,
    status_error,
    status_result,
)
from ..wire._errors import (
    InteropError,
    PluginCallError,
    PluginCrashError,
    PluginLoadError,
    PluginProtocolError,
    PluginTimeoutError,
)
from ..wire._json import MAX_MESSAGE_BYTES, SCAN, no_u_escape
from ..wire._protocol import HANDLER_FAILED, INTERNAL_ERROR, method_label
from ._ffi import check_plugin_file
from ._wasm_calls import WasmCallPath
from ._wasm_exports import LAST_ERROR, LAST_ERROR_SIG, WASM_EXPORTS, module_problem
from ._wasm_instance import (
    FAST_PATH_INTERNALS,
    INF,
    Fault,
    LiveInstance,
    OutOfMemory,
    Oversize,
    Watchdog,
    missing_internals,
    monotonic,
    stop_watchdog,
)

if TYPE_CHECKING:
    from ._loaded_plugin import LoadedPlugin

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_TIMEOUT",
    "FAST_PATH_INTERNALS",
    "WASM_EXPORTS",
    "WasmTransport",
    "load_wasm_plugin",
    "missing_internals",
]

DEFAULT_TIMEOUT: Final = 30.0
"""Default call time-out in seconds (the IPC default of protocol.md 3.5)."""

DEFAULT_MEMORY_LIMIT: Final = 1 << 30
"""Default cap on one instance's linear memory (1 GiB); growth past it fails inside the plugin."""

_WASM_MAGIC: Final = b"\x00asm"


class WasmTransport(WasmCallPath):
    """One WASM plugin: a compiled module and (at most) one live instance of it.

    ``timeout`` (seconds; ``None`` = ``default_timeout``) is enforced with wasmtime epochs; with
    ``default_timeout=None`` only calls that pass a ``timeout`` are timed (and no watchdog
    thread runs until one does). ``interruptible=False`` compiles the module without epoch
    checks (7-16% less plugin-side time, measured) and then ignores every time-out, as the FFI
    transport does. ``memory_limit`` caps the instance's linear memory in bytes. Calls are
    serialised with a lock.
    """

    kind: str = "wasm"
    calls_in_place: bool = True
    """``call`` only runs ``call_sync`` on the caller's thread (see the Transport interface)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        default_timeout: float | None = DEFAULT_TIMEOUT,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        interruptible: bool = True,
    ) -> None:
        self.path = check_plugin_file(path, transport="wasm", what="a WebAssembly module (.wasm)")
        self.label: str = str(path)
        self.default_timeout = default_timeout
        self.interruptible = interruptible
        self.memory_limit = memory_limit
        self.max_message_bytes = max_message_bytes
        self.instantiations = 0
        """How many instances were created (1 + one per recovered trap or time-out)."""
        data = self.path.read_bytes()
        if data[:4] != _WASM_MAGIC:
            raise self._load_error(
                f"{self.path} is not a WebAssembly module: expected it to start with "
                f"{_WASM_MAGIC!r}, received {data[:4]!r}"
            )
        try:
            import wasmtime
        except ImportError as exc:
            if isinstance(exc, ModuleNotFoundError) and exc.name == "wasmtime":
                raise self._load_error(
                    "wasmtime is not installed (pip install 'elizaos-interop[wasm]')"
                ) from exc
            raise self._load_error(f"wasmtime is installed but cannot be imported: {exc}") from exc
        self._wasmtime = wasmtime
        config = wasmtime.Config()
        config.epoch_interruption = interruptible
        # Linear memory never moves (see the module docstring): the fast path relies on it.
        config.memory_may_move = False
        config.memory_reservation = 1 << 32
        self._engine = wasmtime.Engine(config)
        try:
            self._module = wasmtime.Module(self._engine, data)
        except wasmtime.WasmtimeError as exc:
            raise self._load_error(f"{self.path} is not a valid WebAssembly module: {exc}") from exc
        problem = module_problem(self._module, self._wasmtime)
        if problem:
            raise self._load_error(f"{self.path} {problem}")
        self._has_last_error = LAST_ERROR in {exp.name for exp in self._module.exports}
        self.fast_path_missing: list[str] = []
        """The wasmtime internals found missing; non-empty means the public-API call path."""
        self._use_call_path(missing_internals(wasmtime))
        # 8 wasmtime_val_raw_t of 16 bytes each; an i32 lives in the low 4 bytes of its slot
        # (little-endian), so value i is self._vals[4 * i].
        self._vals = (ctypes.c_uint32 * 32)()
        self._vals_ptr = self._pointer(ctypes.addressof(self._vals))
        self._trap = ctypes.c_void_p()
        self._trap_ptr = self._pointer(ctypes.addressof(self._trap))
        # The same memory as memoryviews for the hot path: an item read or write costs ~10-20 ns
        # less than indexing the ctypes array or reading ``c_void_p.value``.
        self._slots = memoryview(self._vals).cast("B").cast("I")
        self._trapped = memoryview(self._trap).cast("B").cast("P")
        self._lock = threading.Lock()
        self._closed = False
        self._config: bytes | None = None
        # Its thread starts on the first call that has a time-out.
        self._watchdog = Watchdog(self._engine)
        self._finalizer = weakref.finalize(self, stop_watchdog, self._watchdog)
        try:
            self._live = self._instantiate()
        except Fault as exc:
            self._finalizer()
            raise self._load_error(f"instantiation trapped: {exc.message}") from None
        except wasmtime.WasmtimeError as exc:
            self._finalizer()
            raise self._load_error(f"instantiation failed: {exc}") from exc

    # -- load-time checks -------------------------------------------------------------------

    def _load_error(self, message: str) -> PluginLoadError:
        return PluginLoadError(message, plugin=self.label, method="load", transport="wasm")

    # -- instances --------------------------------------------------------------------------

    def _instantiate(self) -> LiveInstance:
        wasmtime = self._wasmtime
        store = wasmtime.Store(self._engine)
        store.set_limits(memory_size=self.memory_limit)
        if self.interruptible:
            store.set_epoch_deadline(1)
        fired = self._watchdog.fired
        try:
            instance = wasmtime.Instance(store, self._module, [])
        except wasmtime.Trap as exc:
            raise Fault(f"wasm trap: {exc.message}", interrupted=False) from None
        exports = instance.exports(store)
        memory = exports["memory"]
        assert isinstance(memory, wasmtime.Memory)
        if not self.fast_path_missing:
            probe = exports["alloc"]
            lacking = [
                f"wasmtime.{type(owner).__name__}.{attr}"
                for owner, attr in ((memory, "_memory"), (probe, "_func"))
                if not hasattr(owner, attr)
            ]
            if lacking:
                self._use_call_path(lacking)
        funcs: dict[str, tuple[Any, Any, Any]] = {}
        names = [*WASM_EXPORTS, LAST_ERROR] if self._has_last_error else list(WASM_EXPORTS)
        for name in names:
            func = exports[name]
            assert isinstance(func, wasmtime.Func)
            params, results = WASM_EXPORTS.get(name, LAST_ERROR_SIG)
            slots = self._size(max(len(params), len(results)))
            if self.fast_path_missing:
                funcs[name] = (func, (func, len(params), store), slots)
            else:
                funcs[name] = (func, self._pointer(ctypes.addressof(func._func)), slots)
        self.instantiations += 1
        public = bool(self.fast_path_missing)
        return LiveInstance(store, instance, memory, funcs, fired, self._pointer, public=public)

    def _ensure_live(self, method: str) -> LiveInstance:
        """The live instance, re-created (and the last init config replayed) after a fault."""
        live = self._live
        if live is not None:
            return live
        try:
            live = self._instantiate()
        except (Fault, self._wasmtime.WasmtimeError) as exc:
            raise PluginCrashError(
                f"the instance could not be re-created after a trap: {exc}",
                plugin=self.label,
                method=method,
                transport="wasm",
            ) from None
        self._live = live
        if self._config is not None:
            try:
                status = self._invoke(live, "init", [self._config])
            except (Fault, OutOfMemory) as exc:
                self._live = None
                raise PluginCrashError(
                    f"the instance could not be recovered: replaying init failed: {exc}",
                    plugin=self.label,
                    method=method,
                    transport="wasm",
                ) from None
            if status != 0:
                self._live = None
                raise PluginCrashError(
                    f"the instance could not be recovered: replaying init returned status "
                    f"{status - (1 << 32) if status >= 1 << 31 else status}",
                    plugin=self.label,
                    method=method,
                    transport="wasm",
                )
        return live

    # -- Transport interface ----------------------------------------------------------------

    async def call(self, method: str, params: dict[str, Any], timeout: float | None = None) -> Any:
        """Run the call on the event loop's thread; ``timeout`` is enforced with epochs."""
        return self.call_sync(method, params, timeout)

    # The hot path, kept in one function on purpose: Watchdog.arm/disarm and decode_envelope's
    # common case are inlined. Measured with time.process_time over 100k calls: the inlined
    # decode costs ~1.19 us where calling decode_envelope costs ~1.36 us (min of 8 rounds).
    def call_sync(self, method: str, params: dict[str, Any], timeout: float | None = None) -> Any:
        """Call ``method`` through the WASM ABI and return its result value."""
        spec = SPECS.get(method)
        if spec is None:  # raises -32601 for an unknown method
            spec = method_spec(method, label=self.label, transport="wasm")
        if spec is None:  # shutdown: nothing to stop in-process; close() frees the instance
            with self._lock:
                self._check_open(method)
            return {}
        args = encode_args(
            spec,
            params,
            label=self.label,
            transport="wasm",
            max_bytes=self.max_message_bytes,
            refuse_nul_in_name=False,
        )
        if timeout is None:
            timeout = self.default_timeout
        if not self.interruptible:
            timeout = None
        with self._lock:
            if self._closed:
                self._check_open(method)
            watchdog: Watchdog | None = None
            if timeout is not None:
                # Watchdog.arm inlined (hot path): write the deadline, wake the thread if idle.
                watchdog = self._watchdog
                watchdog.deadline = monotonic() + timeout
                if not watchdog.awake:
                    watchdog.arm(timeout)
            live = self._live
            try:
                if live is None:
                    live = self._ensure_live(method)
                result = self._invoke(live, spec.wasm_export, args)
                if spec.result == RESULT_ENVELOPE:
                    raw = self._read_buffer(live, result) if result != 0 else None
                    reported = None
                elif result != 0 and result != 1:
                    raw = None
                    reported = self._last_error(live)
                else:
                    raw = reported = None
            except Fault as fault:
                raise self._fault_error(fault, spec, params, timeout) from None
            except Oversize as exc:
                raise PluginProtocolError(
                    f"result of {exc.size} bytes exceeds the limit of "
                    f"{self.max_message_bytes} bytes",
                    excerpt=exc.excerpt,
                    plugin=self.label,
                    method=method_label(method, params),
                    transport="wasm",
                ) from None
            except OutOfMemory as exc:
                raise PluginCallError(
                    INTERNAL_ERROR,
                    str(exc),
                    plugin=self.label,
                    method=method_label(method, params),
                    transport="wasm",
                ) from None
            finally:
                if watchdog is not None:
                    # Watchdog.disarm inlined (hot path)
                    watchdog.deadline = INF
                    if watchdog.firing:
                        watchdog.settle()
                    fired = watchdog.fired
                    current = self._live
                    if current is not None and fired != current.fired_seen:
                        # The epoch moved after the wasm code returned: re-arm the deadline.
                        current.fired_seen = fired
                        current.store.set_epoch_deadline(1)
            if spec.result == RESULT_INIT and result == 0:
                self._config = args[0]
        if spec.result == RESULT_ENVELOPE:
            if raw is None:
                raise PluginCallError(
                    INTERNAL_ERROR,
                    "the plugin returned a null result buffer (allocation failure)",
                    plugin=self.label,
                    method=method_label(method, params),
                    transport="wasm",
                )
            # decode_envelope's common case inlined (~0.2 us of call overhead): ``raw`` is
            # within max_message_bytes already (_read_buffer), so a text that is exactly one
            # ``{"result": ...}`` object is the answer; anything else, errors included, goes
            # through decode_envelope, which raises the typed error.
            try:
                text = raw.decode("utf-8")
                envelope, end = SCAN(text, 0)
            except (ValueError, RecursionError, StopIteration):
                pass
            else:
                if (
                    end == len(text)
                    and type(envelope) is dict
                    and len(envelope) == 1
                    and "result" in envelope
                    and no_u_escape(text)  # escapes: the surrogate check in decode_envelope
                ):
                    return envelope["result"]
            return decode_envelope(
                raw,
                label=self.label,
                method=method,
                params=params,
                transport="wasm",
                max_bytes=self.max_message_bytes,
            )
        if result == 0 or result == 1:
            return status_result(result, spec, params, label=self.label, transport="wasm")
        status = result - (1 << 32) if result >= 1 << 31 else result
        raise status_error(
            status, spec, params, label=self.label, transport="wasm", reported=reported
        )

    def _fault_error(
        self, fault: Fault, spec: MethodSpec, params: Any, timeout: float | None
    ) -> InteropError:
        """Map a trap to its typed error and throw the instance away (protocol.md 5.4)."""
        live = self._live
        where = method_label(spec.method, params)
        self._live = None
        if fault.interrupted:
            return PluginTimeoutError(
                (timeout or 0.0) * 1000.0, plugin=self.label, method=where, transport="wasm"
            )
        if fault.protocol:
            return PluginProtocolError(
                fault.message, plugin=self.label, method=where, transport="wasm"
            )
        reported = self._last_error(live) if live is not None else None
        message = fault.message
        data: Any = None
        error = reported.get("error") if isinstance(reported, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            message = error["message"]
            data = error.get("data")
        if data is None and spec.kind is not None:
            name = params.get("name") if isinstance(params, dict) else None
            data = {"kind": spec.kind, "name": name, "exception": "trap"}
        if isinstance(data, dict) and "trap" not in data:
            data = {**data, "trap": fault.detail}
        return PluginCallError(
            HANDLER_FAILED, message, data, plugin=self.label, method=where, transport="wasm"
        )

    def noop(self) -> None:
        """``dealloc(1, 0)``: the in-process no-op floor of protocol.md section 10."""
        with self._lock:
            self._check_open("dealloc")
            live = self._live if self._live is not None else self._ensure_live("dealloc")
            vals = self._vals
            vals[0] = 1
            vals[4] = 0
            try:
                self._raw(live, "dealloc")
            except Fault as fault:
                self._live = None
                raise PluginCallError(
                    HANDLER_FAILED,
                    fault.message,
                    plugin=self.label,
                    method="dealloc",
                    transport="wasm",
                ) from None

    def memory_size(self) -> int:
        """Current size in bytes of the live instance's linear memory (0 if none is live)."""
        with self._lock:
            live = self._live
            if live is None:
                return 0
            return int(live.memory.data_len(live.store))

    def close(self) -> None:
        """Drop the instance, stop the watchdog (idempotent, never raises)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._live = None
        self._finalizer()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<WasmTransport {self.label!r} ({self.path}) {state}>"

    def _check_open(self, method: str) -> None:
        if self._closed:
            raise PluginCrashError(
                "plugin is closed", plugin=self.label, method=method, transport="wasm"
            )


def load_wasm_plugin(
    path: str | os.PathLike[str],
    *,
    default_timeout: float | None = DEFAULT_TIMEOUT,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    interruptible: bool = True,
) -> LoadedPlugin:
    """Load a WASM plugin module in-process with wasmtime (protocol.md section 5).

    Raises :class:`PluginLoadError` naming the problem: file missing, not a wasm module, imports
    present, missing exports or wrong signatures (all listed), or an invalid manifest.
    """
    from ._loaded_plugin import LoadedPlugin

    return LoadedPlugin.from_transport(
        WasmTransport(
            path,
            default_timeout=default_timeout,
            memory_limit=memory_limit,
            max_message_bytes=max_message_bytes,
            interruptible=interruptible,
        )
    )
