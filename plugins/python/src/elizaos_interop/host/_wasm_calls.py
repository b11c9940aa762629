"""The raw call path of the WASM host: wasm calls, copies in and out of linear memory, traps.

:class:`WasmCallPath` is the base of :class:`~elizaos_interop.host._wasm.WasmTransport`: it
owns the preallocated ``wasmtime_val_raw_t`` array, the call function (the C API's
``wasmtime_func_call_unchecked`` through cffi or ctypes, or wasmtime-py's public API when an
internal is missing) and the copies of arguments and results through a ``memoryview`` over
linear memory. The design and why it is sound are in :mod:`elizaos_interop.host._wasm`.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable
from typing import Any, Final

from ..wire._json import loads
from ._wasm_exports import LAST_ERROR
from ._wasm_instance import Fault, LiveInstance, OutOfMemory, Oversize

__all__ = ["WasmCallPath"]

_read_u32: Final = struct.Struct("<I").unpack_from


class WasmCallPath:
    """The wasm calls and memory copies of one transport (see the module docstring).

    The subclass sets ``_wasmtime``, ``_has_last_error``, ``max_message_bytes`` and ``_live``
    and calls :meth:`_use_call_path` before its first instance.
    """

    _wasmtime: Any
    _has_last_error: bool
    max_message_bytes: int
    _live: LiveInstance | None
    _vals: Any
    _vals_ptr: Any
    _trap: ctypes.c_void_p
    _trap_ptr: Any
    _slots: memoryview
    """``_vals`` as unsigned 32-bit items (the hot path reads and writes values through it)."""
    _trapped: memoryview
    """``_trap`` as one pointer-sized item: non-zero after a trap."""
    fast_path_missing: list[str]

    def _use_call_path(self, missing: list[str]) -> None:
        """Set up the raw C API call path, or the public-API one when ``missing`` is not empty.

        ``missing`` names the wasmtime-py internals the raw path needs and this wasmtime lacks
        (:func:`missing_internals`); it is kept in :attr:`fast_path_missing`.
        """
        self.fast_path_missing = missing
        self._call_raw: Any
        self._pointer: Callable[[int], Any]
        self._size: Callable[[int], Any]
        self._error_address: Callable[[Any], int]
        self._data_size: Any
        if missing:
            self._call_raw = self._public_call
            self._pointer = _identity
            self._size = int
            self._error_address = int
            self._data_size = None
            self._fault: BaseException | None = None
            return
        from wasmtime import _bindings

        # wasmtime_func_call_unchecked(context, func, args_and_results, len, trap_out) -> error.
        # Called through cffi when it is installed (~60 ns less per call than ctypes, six calls
        # per plugin call), else through ctypes declared without argtypes and always given
        # ctypes objects, which ctypes passes as they are (~100 ns less per call than
        # converting Python ints through argtypes). Either way every argument is built once.
        call_address = (
            ctypes.cast(_bindings._wasmtime_func_call_unchecked, ctypes.c_void_p).value or 0
        )
        try:
            import cffi
        except ImportError:
            self._call_raw = ctypes.CFUNCTYPE(ctypes.c_void_p)(call_address)
            self._pointer = ctypes.c_void_p
            self._size = ctypes.c_size_t
            self._error_address = int
        else:
            ffi = cffi.FFI()
            self._cffi = ffi
            self._call_raw = ffi.cast(
                "void *(*)(void *, void *, void *, size_t, void *)", call_address
            )
            self._pointer = lambda address: ffi.cast("void *", address)
            self._size = int
            self._error_address = lambda err: int(ffi.cast("uintptr_t", err))
        self._data_size = _bindings._wasmtime_memory_data_size

    # -- the raw call path ------------------------------------------------------------------

    def _raw(self, live: LiveInstance, export: str) -> None:
        """Call ``export`` with the values already in ``self._vals``; results land there too."""
        _, func, slots = live.funcs[export]
        err = self._call_raw(live.ctx, func, self._vals_ptr, slots, self._trap_ptr)
        if err or self._trap.value:
            self._raise_fault(err)

    def _public_call(self, ctx: Any, func: Any, vals: Any, slots: int, trap: Any) -> int:
        """``wasmtime_func_call_unchecked`` through wasmtime-py's public ``Func.__call__``.

        Same contract as the raw call: i32 arguments in ``self._vals[4 * i]``, the result in
        ``self._vals[0]``; returns 0, or 1 with the exception kept for :meth:`_raise_fault`.
        """
        fn, nparams, store = func
        values = self._vals
        args = [
            values[4 * i] - (1 << 32) if values[4 * i] >= 1 << 31 else values[4 * i]
            for i in range(nparams)
        ]
        try:
            result = fn(store, *args)
        except (self._wasmtime.Trap, self._wasmtime.WasmtimeError) as exc:
            self._fault = exc
            return 1
        if isinstance(result, int):
            values[0] = result & 0xFFFFFFFF
        return 0

    def _raise_fault(self, err: Any) -> None:
        """Raise the :class:`Fault` for a failed call (``err``: the returned error pointer)."""
        wasmtime = self._wasmtime
        interrupted = False
        if self.fast_path_missing:
            fault, self._fault = self._fault, None
            if isinstance(fault, wasmtime.Trap):
                interrupted = fault.trap_code == wasmtime.TrapCode.INTERRUPT
                full = fault.message
            else:
                full = str(fault)
            raise _fault_from_text(full, interrupted)
        from wasmtime import _bindings

        if self._trap.value is not None:
            trap = wasmtime.Trap._from_ptr(
                ctypes.cast(self._trap.value, ctypes.POINTER(_bindings.wasm_trap_t))
            )
            self._trap.value = None
            interrupted = trap.trap_code == wasmtime.TrapCode.INTERRUPT
            full = trap.message
        else:
            error = wasmtime.WasmtimeError._from_ptr(
                ctypes.cast(
                    self._error_address(err) if err else 0,
                    ctypes.POINTER(_bindings.wasmtime_error_t),
                )
            )
            full = str(error)
        raise _fault_from_text(full, interrupted)

    def _mem_check(self, live: LiveInstance, ptr: int, size: int) -> None:
        """Ensure ``[ptr, ptr + size)`` lies inside linear memory (re-reading its length)."""
        if ptr + size > live.mem_len:
            if self._data_size is None:  # the public-API path
                live.set_len(live.memory.data_len(live.store))
            else:
                live.set_len(self._data_size(live.store._context(), live.mem_ref))
            if ptr + size > live.mem_len:
                raise Fault(
                    f"the plugin handed out [{ptr}, {ptr + size}), outside its linear memory "
                    f"of {live.mem_len} bytes",
                    interrupted=False,
                    protocol=True,
                )

    def _invoke(self, live: LiveInstance, export: str, args: list[bytes]) -> int:
        """``alloc`` + copy each argument, call ``export``, return its raw u32 result.

        This is the hot path (~1.7 us of Python around ~4.7 us of wasm calls before it was
        flattened): ``_raw`` is inlined, attributes are read once, and no per-call list is
        built. ``alloc`` may grow memory, so each
        pointer is bounds-checked against the (re-read if needed) length before the copy; the
        base address is stable (memory_may_move is off), so an argument is copied right after
        its ``alloc`` and later growth leaves it in place.
        """
        vals = self._slots
        call = self._call_raw
        ctx = live.ctx
        vals_ptr = self._vals_ptr
        trap_ptr = self._trap_ptr
        trap = self._trapped
        alloc, alloc_slots = live.alloc
        view = live.view
        mem_len = live.mem_len
        # Value i of the export lives in vals[4 * i]; alloc uses value 0 only, so argument k's
        # (ptr, len) go straight to values 2k and 2k + 1, except the first pointer, which each
        # alloc overwrites and is written last.
        slot = 0
        first = 0
        for arg in args:
            size = len(arg)
            vals[0] = size
            err = call(ctx, alloc, vals_ptr, alloc_slots, trap_ptr)
            if err or trap[0]:
                self._raise_fault(err)
            ptr = vals[0]
            if not ptr:
                self._give_back(live, first, slot)
                raise OutOfMemory(f"alloc({size}) returned 0 (out of memory)")
            end = ptr + size
            if end > mem_len:
                self._mem_check(live, ptr, size)
                view = live.view
                mem_len = live.mem_len
            view[ptr:end] = arg
            if slot:
                vals[slot] = ptr
            else:
                first = ptr
            vals[slot + 4] = size
            slot += 8
        vals[0] = first
        func, slots = live.exports[export]
        err = call(ctx, func, vals_ptr, slots, trap_ptr)
        if err or trap[0]:
            self._raise_fault(err)
        result: int = vals[0]
        return result

    def _give_back(self, live: LiveInstance, first: int, slots: int) -> None:
        """``dealloc`` the arguments :meth:`_invoke` allocated before an ``alloc`` failed.

        They were not passed yet, so they are still the host's to free.
        """
        vals = self._vals
        blocks = [(first if k == 0 else vals[k], vals[k + 4]) for k in range(0, slots, 8)]
        for ptr, size in blocks:
            vals[0] = ptr
            vals[4] = size
            self._raw(live, "dealloc")

    def _read_buffer(self, live: LiveInstance, ptr: int) -> bytes:
        """Copy a result buffer out (LE u32 length + bytes) and ``dealloc`` it exactly once."""
        start = ptr + 4
        if start > live.mem_len:
            self._mem_check(live, ptr, 4)
        view = live.view
        size: int = _read_u32(view, ptr)[0]
        end = start + size
        if end > live.mem_len:
            self._mem_check(live, ptr, 4 + size)
            view = live.view
        oversize = size > self.max_message_bytes
        raw = view[start : start + 200 if oversize else end].tobytes()
        vals = self._slots
        vals[0] = ptr
        vals[4] = 4 + size
        dealloc, slots = live.dealloc
        err = self._call_raw(live.ctx, dealloc, self._vals_ptr, slots, self._trap_ptr)
        if err or self._trapped[0]:
            self._raise_fault(err)
        if oversize:
            raise Oversize(size, raw)
        return raw

    def _last_error(self, live: LiveInstance) -> Any:
        """The decoded ``elizaos_last_error`` envelope, or None (absent, 0, trap, garbage)."""
        if not self._has_last_error:
            return None
        try:
            self._raw(live, LAST_ERROR)
            ptr = self._vals[0]
            if ptr == 0:
                return None
            return loads(self._read_buffer(live, ptr))
        except Fault:
            if self._live is live:
                self._live = None  # it trapped: its heap may be inconsistent (5.4)
            return None
        except (Oversize, ValueError, RecursionError):
            return None


def _identity(value: Any) -> Any:
    return value


def _fault_from_text(full: str, interrupted: bool) -> Fault:
    """The :class:`Fault` for wasmtime's text of a trap or error.

    The text is "error while executing at wasm backtrace: ... Caused by: <why>"; the last line
    is the reason, the rest is kept for ``data.trap``.
    """
    lines = [line.strip() for line in full.strip().splitlines() if line.strip()]
    reason = lines[-1] if lines else "unknown wasm fault"
    if not reason.startswith("wasm trap"):
        reason = f"wasm trap: {reason}"
    return Fault(reason, interrupted=interrupted, detail=full)
