"""The pieces of the WASM host below the transport: one live instance and the time-out watchdog.

:class:`LiveInstance` holds an instance of the module with the ctypes objects the call path
passes as they are; :class:`Watchdog` bumps the engine's epoch when a call's deadline passes.
Both rely on private parts of wasmtime-py, listed in :data:`FAST_PATH_INTERNALS` and checked
at load (:func:`missing_internals`). See :mod:`elizaos_interop.host._wasm` for the design.
"""

from __future__ import annotations

import ctypes
import importlib
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import wasmtime

__all__ = [
    "FAST_PATH_INTERNALS",
    "INF",
    "Fault",
    "LiveInstance",
    "OutOfMemory",
    "Oversize",
    "Watchdog",
    "missing_internals",
    "monotonic",
    "stop_watchdog",
]

INF: Final = math.inf
monotonic: Final = time.monotonic

FAST_PATH_INTERNALS: Final[tuple[tuple[str, str], ...]] = (
    ("_bindings", "_wasmtime_func_call_unchecked"),
    ("_bindings", "_wasmtime_memory_data"),
    ("_bindings", "_wasmtime_memory_data_size"),
    ("_bindings", "wasm_trap_t"),
    ("_bindings", "wasmtime_error_t"),
    ("Store", "_context"),
    ("Trap", "_from_ptr"),
    ("WasmtimeError", "_from_ptr"),
)
"""The private parts of wasmtime-py the call path relies on (see the module docstring)."""


def missing_internals(wasmtime: Any) -> list[str]:
    """The dotted names of :data:`FAST_PATH_INTERNALS` this ``wasmtime`` module lacks.

    ``Memory._memory`` and ``Func._func`` are instance attributes: the transport checks them on
    the first instance's exports. Any missing one switches the transport to the public API.
    """
    bindings: Any = getattr(wasmtime, "_bindings", None)
    if bindings is None:
        try:
            bindings = importlib.import_module(f"{wasmtime.__name__}._bindings")
        except ImportError:
            bindings = None
    return [
        f"wasmtime.{owner}.{attr}"
        for owner, attr in FAST_PATH_INTERNALS
        if not hasattr(bindings if owner == "_bindings" else getattr(wasmtime, owner, None), attr)
    ]


class Fault(Exception):
    """A wasm call trapped or failed inside wasmtime (internal; mapped to a typed error)."""

    def __init__(
        self, message: str, *, interrupted: bool, detail: str = "", protocol: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.interrupted = interrupted
        self.detail = detail or message
        self.protocol = protocol
        """The plugin broke the ABI (a pointer outside its memory) rather than trapping."""


class Oversize(Exception):
    """A result buffer over ``max_message_bytes`` (internal; mapped to PluginProtocolError)."""

    def __init__(self, size: int, excerpt: bytes) -> None:
        super().__init__(size)
        self.size = size
        self.excerpt = excerpt


class OutOfMemory(Exception):
    """``alloc`` returned 0 (internal; mapped to -32603)."""


class Watchdog:
    """Turns a call's deadline into an epoch increment, which traps the running wasm code.

    The call path writes ``deadline`` when arming and ``deadline = inf`` when disarming, with
    no lock. A check-and-increment by the watchdog still never hits the next call: the
    watchdog sets ``firing`` *before* reading the deadline, and a disarm reads ``firing``
    *after* writing inf (a store/load pair on each side, ordered by the GIL). So either the
    watchdog reads inf or a later deadline and does not fire, or the disarm sees ``firing`` and
    waits on the lock for the check to end before the next call can arm. ``fired`` counts
    increments so the transport re-arms the store's epoch deadline after a near miss (the
    increment landed after the wasm code returned).
    """

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self.lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.deadline = INF
        self.fired = 0
        self.firing = False
        """True while the thread checks (and may act on) ``deadline``, under ``lock``."""
        self.awake = False
        """Mirrors ``_wake`` as a plain attribute (``Event.is_set`` is a Python-level call)."""

    def arm(self, timeout: float) -> None:
        """Start timing a call that must finish within ``timeout`` seconds."""
        self.deadline = time.monotonic() + timeout
        if not self.awake:
            self.awake = True
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="elizaos-wasm-watchdog", daemon=True
                )
                self._thread.start()

    def disarm(self) -> int:
        """Stop timing the current call; returns the number of increments so far."""
        self.deadline = INF
        if self.firing:
            self.settle()
        return self.fired

    def settle(self) -> None:
        """Wait for a check that may have read the deadline before it was disarmed."""
        with self.lock:
            pass

    def stop(self) -> None:
        """End the thread (idempotent)."""
        self._stopped = True
        self.awake = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        idle_since: float | None = None
        while True:
            self._wake.wait()
            if self._stopped:
                return
            with self.lock:
                self.firing = True  # before reading the deadline (see the class docstring)
                try:
                    deadline = self.deadline
                    now = time.monotonic()
                    if deadline <= now:
                        self._engine.increment_epoch()
                        self.fired += 1
                        self.deadline = deadline = INF
                finally:
                    self.firing = False
            if deadline != INF:
                idle_since = None
                time.sleep(min(deadline - now, 0.05))
                continue
            if idle_since is None:
                idle_since = now
            elif now - idle_since > 0.25:
                # No call for a while: block until the next arm(). An arm() that saw the
                # event still set just before this clear() has already written its deadline,
                # so re-check it instead of sleeping through that call.
                idle_since = None
                self.awake = False
                self._wake.clear()
                if self.deadline != INF:
                    self.awake = True
                    self._wake.set()
                continue
            time.sleep(0.05)


class LiveInstance:
    """One instance of the module, with the ctypes objects the fast path passes as they are."""

    __slots__ = (
        "alloc",
        "ctx",
        "dealloc",
        "exports",
        "fired_seen",
        "funcs",
        "instance",
        "mem_base",
        "mem_len",
        "mem_ref",
        "memory",
        "store",
        "view",
    )

    def __init__(
        self,
        store: wasmtime.Store,
        instance: wasmtime.Instance,
        memory: wasmtime.Memory,
        funcs: dict[str, tuple[Any, Any, Any]],
        fired_seen: int,
        pointer: Callable[[int], Any],
        *,
        public: bool = False,
    ) -> None:
        self.store = store
        self.instance = instance
        self.memory = memory
        # export name -> (Func kept alive: it owns the wasmtime_func_t the pointer refers to,
        # pointer to that wasmtime_func_t, number of value slots = max(params, results))
        self.funcs = funcs
        # The same without the Func, for the hot path: name -> (pointer, slots).
        self.exports = {name: (ptr, slots) for name, (_, ptr, slots) in funcs.items()}
        self.alloc = self.exports["alloc"]
        self.dealloc = self.exports["dealloc"]
        if public:  # the public-API path: no context, the base from Memory.data_ptr
            self.ctx = None
            self.mem_ref = None
            self.mem_base: int = ctypes.cast(memory.data_ptr(store), ctypes.c_void_p).value or 0
        else:
            from wasmtime import _bindings

            self.ctx = pointer(ctypes.cast(store._context(), ctypes.c_void_p).value or 0)
            self.mem_ref = ctypes.byref(memory._memory)
            # Fixed for the instance's lifetime: memory_may_move is off (see the module docstring).
            self.mem_base = (
                ctypes.cast(
                    _bindings._wasmtime_memory_data(store._context(), self.mem_ref), ctypes.c_void_p
                ).value
                or 0
            )
        # A lower bound of the current length (memories only grow); re-read when too small.
        self.mem_len: int = 0
        self.view = memoryview(b"")
        self.set_len(memory.data_len(store))
        self.fired_seen = fired_seen

    def set_len(self, length: int) -> None:
        """Record the memory's current length and view ``[base, base + length)`` as bytes."""
        self.mem_len = length
        self.view = memoryview((ctypes.c_ubyte * length).from_address(self.mem_base)).cast("B")


def stop_watchdog(watchdog: Watchdog) -> None:
    watchdog.stop()
