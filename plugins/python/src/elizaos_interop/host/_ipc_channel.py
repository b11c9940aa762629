"""The IPC client's channel: reading and writing the child's pipes, matching answers to calls,
answering the plugin's runtime requests, faults, and the event loop's reader and timer.

:class:`IpcChannel` is the base of :class:`~elizaos_interop.host._ipc.IpcTransport`, which adds
the public API (starting the child, ``call``, ``call_sync``, ``close``); the design is in
:mod:`elizaos_interop.host._ipc`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from typing import Any, Final

from ..wire._errors import (
    InteropError,
    PluginCallError,
    PluginCrashError,
    PluginProtocolError,
    PluginTimeoutError,
)
from ..wire._json import loads
from ._ipc_child import ChildProcess, PendingCall
from ._runtime_dispatch import answer_runtime_call, check_runtime_request

__all__ = ["READ_CHUNK", "IpcChannel"]

READ_CHUNK: Final = 1 << 16
"""Bytes asked of one ``os.read`` of the child's stdout."""
_EXIT_WAIT: Final = 1.0
"""After stdout EOF, how long to wait for the child to exit before killing it."""


class IpcChannel:
    """The pipes of one plugin child and the calls in flight on them (see the module docstring).

    The subclass opens the child and sets every attribute declared here.
    """

    label: str
    max_message_bytes: int
    _child: ChildProcess
    _in_fd: int
    _out_fd: int
    _pending: dict[int, PendingCall]
    _abandoned: set[int]
    _rbuf: bytearray
    _wbuf: collections.deque[memoryview]
    _loop: asyncio.AbstractEventLoop | None
    _writer_loop: asyncio.AbstractEventLoop | None
    _dead: Callable[[str], InteropError] | None
    _closed: bool
    _timer: asyncio.TimerHandle | None
    _timer_when: float
    _runtime_tasks: set[asyncio.Task[None]]

    # -- writing ----------------------------------------------------------------------------

    def _flush_writes(self) -> bool:
        """Write queued bytes without blocking; True when the queue is empty."""
        wbuf = self._wbuf
        while wbuf:
            chunk = wbuf[0]
            try:
                n = os.write(self._in_fd, chunk)
            except BlockingIOError:
                return False
            except OSError:  # EPIPE: the child is gone; its exit explains why
                wbuf.clear()
                self._on_eof()
                return True
            if n < len(chunk):
                wbuf[0] = chunk[n:]
                return False
            wbuf.popleft()
        return True

    def _on_writable(self) -> None:
        if self._flush_writes():
            self._detach_writer()

    # -- reading ----------------------------------------------------------------------------

    def _on_readable(self) -> None:
        while self._dead is None:
            try:
                chunk = os.read(self._out_fd, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._on_eof()
                return
            self._feed(chunk)
            if len(chunk) < READ_CHUNK:
                return

    def _feed(self, chunk: bytes) -> None:
        start = 0
        limit = self.max_message_bytes
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                self._rbuf += chunk[start:]
                if len(self._rbuf) > limit:
                    self._protocol_fault(
                        f"message of at least {len(self._rbuf)} bytes exceeds limit {limit}",
                        bytes(self._rbuf[:200]),
                    )
                return
            if self._rbuf:
                self._rbuf += chunk[start:nl]
                line = bytes(self._rbuf)
                self._rbuf.clear()
            else:
                line = chunk[start:nl]
            start = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > limit:
                self._protocol_fault(
                    f"message of at least {len(line)} bytes exceeds limit {limit}", line[:200]
                )
                return
            self._on_line(line)
            if self._dead is not None or start == len(chunk):
                return

    def _on_line(self, line: bytes) -> None:
        try:
            message = loads(line)
        except (ValueError, RecursionError):
            self._protocol_fault("received a line that is not JSON", line)
            return
        if not isinstance(message, dict):
            self._protocol_fault("received JSON that is not an object", line)
            return
        if "method" in message:  # a request from the plugin: a runtime call (3.2, 11.2)
            self._on_plugin_request(message)
            return
        raw_id = message.get("id")
        req_id = raw_id if type(raw_id) is int else -1
        call = self._pending.pop(req_id, None)
        if call is None:
            if req_id in self._abandoned:
                self._abandoned.discard(req_id)
                return
            if raw_id is None and isinstance(message.get("error"), dict):
                self._protocol_fault("the plugin could not read a request", line)
            else:
                self._protocol_fault(f"unexpected id {raw_id!r}", line)
            return
        if "result" in message:
            if "error" in message:
                self._pending[req_id] = call
                self._protocol_fault("response has both result and error", line)
                return
            call.resolve(message["result"])
            return
        error = message.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        if (
            not isinstance(error, dict)
            or type(code) is not int
            or not isinstance(error.get("message"), str)
        ):
            self._pending[req_id] = call
            self._protocol_fault("response has neither a result nor a valid error", line)
            return
        call.fail(
            PluginCallError(
                code,
                error["message"],
                error.get("data"),
                plugin=self.label,
                method=call.label,
                transport="ipc",
            )
        )

    # -- runtime calls (section 11) -----------------------------------------------------------

    def _on_plugin_request(self, message: dict[str, Any]) -> None:
        """Answer a plugin-to-host request, running the runtime method as its own task.

        Malformed requests and requests for no call in flight are answered at once with the
        errors of 11.2; the reader never waits for a runtime method (11.4), so the method may
        call this plugin again.
        """
        checked = check_runtime_request(message, self._runtime_target)
        if isinstance(checked, bytes):
            self._write(checked)
            return
        req_id, name, call_id, args = checked
        call = self._pending[call_id]
        assert call.future is not None  # _runtime_target checked it
        task = call.future.get_loop().create_task(
            self._run_runtime_call(req_id, call.runtime, name, args)
        )
        self._runtime_tasks.add(task)
        task.add_done_callback(self._runtime_tasks.discard)

    def _runtime_target(self, call_id: Any) -> bool:
        """Whether ``call_id`` is a call in flight that carries a runtime (section 11.2)."""
        call = self._pending.get(call_id) if type(call_id) is int else None
        return call is not None and call.runtime is not None and call.future is not None

    async def _run_runtime_call(
        self, req_id: Any, runtime: Any, name: str, args: list[Any]
    ) -> None:
        line = await answer_runtime_call(runtime, name, args, req_id, self.max_message_bytes)
        self._write(line)

    def _write(self, data: bytes) -> None:
        """Queue ``data`` for the plugin's stdin without blocking (nothing once it is dead)."""
        if self._dead is not None or self._closed:
            return
        if self._wbuf:
            self._wbuf.append(memoryview(data))
            flushed = self._flush_writes()
        else:
            try:
                written = os.write(self._in_fd, data)
            except BlockingIOError:
                written = 0
            except OSError:  # EPIPE: the child is gone; its exit explains why
                self._on_eof()
                return
            flushed = written == len(data)
            if not flushed:
                self._wbuf.append(memoryview(data)[written:])
        loop = self._loop
        if (
            not flushed
            and self._dead is None
            and loop is not None
            and self._writer_loop is not loop
        ):
            self._detach_writer()
            loop.add_writer(self._in_fd, self._on_writable)
            self._writer_loop = loop

    def _cancel_runtime_tasks(self) -> None:
        """The calls they serve are over: stop the runtime methods still running."""
        tasks, self._runtime_tasks = self._runtime_tasks, set()
        for task in tasks:
            if not task.get_loop().is_closed():
                task.cancel()

    # -- faults -----------------------------------------------------------------------------

    def _closed_error(self, label: str) -> InteropError:
        return PluginCrashError(
            "plugin is closed", plugin=self.label, method=label, transport="ipc"
        )

    def _set_dead(self, factory: Callable[[str], InteropError]) -> None:
        if self._dead is None:
            self._dead = factory

    def _fail_pending(self, factory: Callable[[str], InteropError]) -> None:
        pending, self._pending = self._pending, {}
        self._abandoned.clear()
        if self._runtime_tasks:
            self._cancel_runtime_tasks()
        for call in pending.values():
            call.fail(factory(call.label))

    def _protocol_fault(self, reason: str, excerpt: bytes) -> None:
        """Garbage, unexpected id or oversize line: fail everything and kill the child."""
        self._detach()
        self._child.kill()

        def factory(label: str) -> InteropError:
            return PluginProtocolError(
                reason, excerpt=excerpt, plugin=self.label, method=label, transport="ipc"
            )

        self._fail_pending(factory)
        self._set_dead(lambda label: self._after_fault(label, f"protocol error: {reason}"))

    def _after_fault(self, label: str, why: str) -> InteropError:
        return PluginCrashError(
            f"plugin is closed (after {why})", plugin=self.label, method=label, transport="ipc"
        )

    def _check_deadlines(self) -> None:
        """The shared timer fired: time out an expired call, or re-arm for the next deadline."""
        self._timer = None
        loop = self._loop
        if self._dead is not None or loop is None:
            return
        now = time.monotonic()
        earliest: float | None = None
        for req_id, call in list(self._pending.items()):
            if call.future is None or call.future.get_loop() is not loop:
                continue
            if call.deadline <= now:
                self._on_timeout(req_id, call.seconds)
                return
            if earliest is None or call.deadline < earliest:
                earliest = call.deadline
        if earliest is not None:
            self._timer = loop.call_at(earliest, self._check_deadlines)
            self._timer_when = earliest

    def _on_timeout(self, req_id: int, seconds: float) -> None:
        """A call got no answer in time: the child is wedged, so kill it."""
        if req_id not in self._pending or self._dead is not None:
            return
        self._detach()
        self._child.kill()

        def factory(label: str) -> InteropError:
            return PluginTimeoutError(
                seconds * 1000, plugin=self.label, method=label, transport="ipc"
            )

        call = self._pending.pop(req_id)
        call.fail(factory(call.label))
        self._fail_pending(factory)
        self._set_dead(
            lambda label: self._after_fault(
                label, f"{call.label} timed out after {seconds * 1000:g} ms"
            )
        )

    def _on_eof(self) -> None:
        """stdout closed: the child exited (or is about to). Report how, with its stderr."""
        if self._dead is not None:
            return
        self._detach()
        proc = self._child.proc
        try:
            proc.wait(_EXIT_WAIT)
        except subprocess.TimeoutExpired:
            self._child.kill()
        self._child.close_pipes()
        how, code, sig = self._child.exit_description()
        tail = self._child.stderr_tail(wait=0.5)

        def factory(label: str) -> InteropError:
            return PluginCrashError(
                f"plugin process {how}",
                exit_code=code,
                signal=sig,
                stderr_tail=tail,
                plugin=self.label,
                method=label,
                transport="ipc",
            )

        self._set_dead(factory)
        self._fail_pending(factory)

    # -- event loop plumbing ----------------------------------------------------------------

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        old = self._loop
        if old is not None:
            if old.is_closed():
                # Calls left pending by a finished loop can no longer be awaited.
                for req_id, call in list(self._pending.items()):
                    if call.future is not None and call.future.get_loop() is old:
                        del self._pending[req_id]
                        self._abandoned.add(req_id)
            else:
                with contextlib.suppress(Exception):
                    old.remove_reader(self._out_fd)
                if self._timer is not None:
                    self._timer.cancel()
        self._timer = None
        self._loop = None
        loop.add_reader(self._out_fd, self._on_readable)
        self._loop = loop

    def _detach_writer(self) -> None:
        wl = self._writer_loop
        self._writer_loop = None
        if wl is not None and not wl.is_closed():
            with contextlib.suppress(Exception):
                wl.remove_writer(self._in_fd)

    def _detach(self) -> None:
        loop = self._loop
        self._loop = None
        if self._timer is not None:
            if loop is not None and not loop.is_closed():
                self._timer.cancel()
            self._timer = None
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(Exception):
                loop.remove_reader(self._out_fd)
        self._detach_writer()
