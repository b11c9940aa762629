"""The IPC client: one plugin child process spoken to over newline-delimited JSON-RPC.

Design (protocol.md 3, measured against a ``cat`` pipe floor):

* ``subprocess.Popen`` with stdin/stdout switched to non-blocking mode. During ``async`` calls the
  child's stdout is driven by the *running* event loop through ``loop.add_reader`` (no thread hop
  per call); a call from another loop moves the reader there. Blocking calls (the manifest
  handshake, :meth:`IpcTransport.call_sync`) ``poll`` the same descriptors.
* stderr is drained by a daemon thread that keeps the last 64 KiB, quoted in crash errors.
* Lines with a ``method`` member are the plugin's runtime requests (section 11): each is
  answered from the runtime object its call was given, in a task of its own, so the reader keeps
  reading while it runs (and the runtime may call the plugin again).
* What the plugin sends is decoded strictly (section 2): ``NaN``, lone surrogate escapes and
  invalid UTF-8 are garbage, and an id of another JSON type than the request's matches nothing.
* Every fault of protocol.md 3.5 becomes its typed error in bounded time, and the child is
  killed and reaped. ``close()``, a ``weakref`` finaliser and ``atexit`` make sure no child
  outlives its plugin object or the interpreter.

A transport is meant to be used from one thread at a time.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import select
import shlex
import subprocess
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from ..wire._errors import (
    InteropError,
    InvalidPayloadError,
    PluginCallError,
    PluginCrashError,
    PluginLoadError,
    PluginProtocolError,
    PluginTimeoutError,
)
from ..wire._json import MAX_MESSAGE_BYTES, dumps, loads
from ..wire._protocol import (
    item_label,
)
from ._ipc_child import ChildProcess, PendingCall
from ._runtime_dispatch import answer_runtime_call, check_runtime_request

__all__ = ["DEFAULT_GRACE", "DEFAULT_TIMEOUT", "IpcTransport"]

DEFAULT_TIMEOUT = 30.0
"""Per-call time-out in seconds (protocol.md 3.5)."""
DEFAULT_GRACE = 2.0
"""Seconds ``close()`` waits after ``shutdown`` and again after SIGTERM (protocol.md 3.4)."""
_READ_CHUNK = 1 << 16
_EXIT_WAIT = 1.0
"""After stdout EOF, how long to wait for the child to exit before killing it."""


_METHOD_JSON: dict[str, bytes] = {}
"""Encoded method names (a handful of distinct strings, encoded once each)."""


class IpcTransport:
    """A plugin child process (protocol.md section 3); implements the Transport interface."""

    kind = "ipc"
    answers_runtime_calls = True
    """This transport answers a plugin's runtime requests from the caller's runtime (11)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        grace: float = DEFAULT_GRACE,
        label: str | None = None,
    ) -> None:
        argv = [os.fspath(a) for a in argv]
        if not argv:
            raise PluginLoadError("empty command", plugin=label or "<empty>", transport="ipc")
        self.label = label or shlex.join(argv)
        self.argv = argv
        self.timeout = timeout
        self.max_message_bytes = max_message_bytes
        self.grace = grace
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                cwd=cwd,
                env=env,
            )
        except OSError as exc:
            raise PluginLoadError(
                f"cannot start {argv[0]!r}: {exc.strerror or exc}",
                plugin=self.label,
                transport="ipc",
            ) from exc
        assert proc.stdin is not None
        assert proc.stdout is not None
        self.pid = proc.pid
        self._child = ChildProcess(proc)
        self._finalizer = weakref.finalize(self, ChildProcess.finalize, self._child)
        self._in_fd = proc.stdin.fileno()
        self._out_fd = proc.stdout.fileno()
        os.set_blocking(self._in_fd, False)
        os.set_blocking(self._out_fd, False)
        self._pending: dict[int, PendingCall] = {}
        self._abandoned: set[int] = set()
        self._next_id = 1
        self._rbuf = bytearray()
        self._wbuf: collections.deque[memoryview] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer_loop: asyncio.AbstractEventLoop | None = None
        self._dead: Callable[[str], InteropError] | None = None
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0
        self._poller: select.poll | None = None
        """Kept across call_sync calls (stdout registered once)."""
        self._runtime_tasks: set[asyncio.Task[None]] = set()
        """Runtime methods running for the plugin (11.4), kept referenced until done."""
        self.peer_shutdown = False
        """Whether the plugin declared the ``"shutdown"`` capability (section 12); set by
        :meth:`set_peer` once the manifest is known. Without it ``close()`` sends no
        ``shutdown`` (a seed plugin would never answer it) and goes straight to EOF."""

    # -- public API -------------------------------------------------------------------------

    @property
    def returncode(self) -> int | None:
        """The child's exit status once reaped (negative: killed by that signal)."""
        return self._child.proc.returncode

    def stderr_tail(self) -> str:
        """The last 64 KiB the child wrote to stderr."""
        return self._child.stderr_tail()

    def set_peer(self, protocol_version: int, capabilities: frozenset[str]) -> None:
        """Record the plugin's half of the version exchange (protocol.md section 12).

        A plugin speaking protocol version 1 or later that declares ``"shutdown"`` is sent
        ``shutdown`` by :meth:`close`; any other plugin is closed by closing its stdin.
        """
        self.peer_shutdown = protocol_version >= 1 and "shutdown" in capabilities

    async def call(
        self,
        method: str,
        params: dict[str, Any],
        timeout: float | None = None,
        *,
        runtime: Any = None,
    ) -> Any:
        """Send one request and await its result (any event loop, any number in flight).

        ``runtime`` answers the plugin's runtime requests made for this call (section 11);
        the caller adds the ``params.runtime`` snapshot. The time-out covers those requests.
        """
        name = params.get("name")
        if self._dead is not None:
            raise self._dead(item_label(method, name))
        req_id = self._next_id
        data = self._encode(req_id, method, params, name)
        self._next_id = req_id + 1
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._attach(loop)
        fut: asyncio.Future[Any] = loop.create_future()
        call = PendingCall(method, name, fut)
        if runtime is not None:
            call.runtime = runtime
        seconds = self.timeout if timeout is None else timeout
        call.seconds = seconds
        call.deadline = deadline = time.monotonic() + seconds
        self._pending[req_id] = call
        # One timer for all calls, armed for the earliest deadline (not one timer per call).
        if self._timer is None or deadline < self._timer_when:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_at(deadline, self._check_deadlines)
            self._timer_when = deadline
        # _write inlined (the per-call hot path); keep the two in step.
        if self._wbuf:
            self._wbuf.append(memoryview(data))
            flushed = self._flush_writes()
        else:
            try:
                written = os.write(self._in_fd, data)
            except BlockingIOError:
                written = 0
            except OSError:  # EPIPE: the child is gone; its exit explains why
                written = len(data)
                self._on_eof()
            flushed = written == len(data)
            if not flushed:
                self._wbuf.append(memoryview(data)[written:])
        if not flushed and self._dead is None and self._writer_loop is not loop:
            self._detach_writer()
            loop.add_writer(self._in_fd, self._on_writable)
            self._writer_loop = loop
        try:
            return await fut
        except asyncio.CancelledError:
            if self._pending.pop(req_id, None) is not None:
                self._abandoned.add(req_id)
            raise

    def call_sync(self, method: str, params: dict[str, Any], timeout: float | None = None) -> Any:
        """Send one request and block until its result (polls the pipes directly)."""
        name = params.get("name")
        if self._dead is not None:
            raise self._dead(item_label(method, name))
        req_id = self._next_id
        data = self._encode(req_id, method, params, name)
        self._next_id = req_id + 1
        call = PendingCall(method, name, None)
        self._pending[req_id] = call
        if self._wbuf:
            self._wbuf.append(memoryview(data))
        else:  # the common case: the pipe takes the whole request now
            try:
                written = os.write(self._in_fd, data)
            except BlockingIOError:
                written = 0
            except OSError:  # EPIPE: the child is gone; its exit explains why
                written = len(data)
                self._on_eof()
            if written < len(data):
                self._wbuf.append(memoryview(data)[written:])
        seconds = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + seconds
        poller = self._poller
        if poller is None:
            poller = self._poller = select.poll()
            poller.register(self._out_fd, select.POLLIN)
        writing = False
        try:
            while not call.settled:
                if self._wbuf and not self._flush_writes() and not writing:
                    poller.register(self._in_fd, select.POLLOUT)
                    writing = True
                elif writing and not self._wbuf:
                    poller.unregister(self._in_fd)
                    writing = False
                if call.settled:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._on_timeout(req_id, seconds)
                    break
                events = poller.poll(remaining * 1000)
                for fd, _ in events:
                    if fd == self._out_fd:
                        self._on_readable()
                    if call.settled:
                        break
        finally:
            if writing:
                with contextlib.suppress(KeyError, ValueError):
                    poller.unregister(self._in_fd)
        if call.error is not None:
            raise call.error
        return call.result

    def close(self) -> None:
        """Shut the plugin down and reap it; idempotent (protocol.md 3.4).

        ``shutdown`` (only to a plugin that declared it) or stdin EOF, then up to the grace
        period for the child to exit, then SIGTERM, another grace period, SIGKILL.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self._detach()
            proc = self._child.proc
            if self._dead is None and proc.poll() is None:
                self._stop_politely()
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(self.grace)
            self._child.kill()
        except Exception:  # close never raises; make sure the child is gone regardless
            self._child.kill()
        finally:
            if self._dead is None:
                self._set_dead(lambda label: self._closed_error(label))
            self._fail_pending(self._dead or self._closed_error)
            self._finalizer.detach()
            self._child.thread.join(0.5)

    # -- encoding and writing ---------------------------------------------------------------

    def _encode(self, req_id: int, method: str, params: dict[str, Any], name: Any) -> bytes:
        try:
            body = dumps(params)
        except InvalidPayloadError as exc:
            message = exc.detail.removesuffix(f" at {exc.path}")
            raise InvalidPayloadError(
                message,
                path=exc.path.replace("$", "params", 1),
                plugin=self.label,
                method=item_label(method, name),
                transport="ipc",
            ) from None
        method_json = _METHOD_JSON.get(method)
        if method_json is None:
            method_json = dumps(method)
            if len(_METHOD_JSON) < 64:
                _METHOD_JSON[method] = method_json
        data = b'{"id":%d,"method":%s,"params":%s}\n' % (req_id, method_json, body)
        if len(data) - 1 > self.max_message_bytes:
            raise InvalidPayloadError(
                f"request of {len(data) - 1} bytes exceeds the message limit of "
                f"{self.max_message_bytes} bytes",
                path="params",
                plugin=self.label,
                method=item_label(method, name),
                transport="ipc",
            )
        return data

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
                chunk = os.read(self._out_fd, _READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._on_eof()
                return
            self._feed(chunk)
            if len(chunk) < _READ_CHUNK:
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

    def _stop_politely(self) -> None:
        """Ask the child to exit and wait up to the grace period for it.

        A plugin that declared ``"shutdown"`` is sent ``shutdown`` first and stdin is closed
        afterwards; any other plugin gets stdin EOF at once (3.4). stdout is drained while
        waiting, so a child writing its last answers is never blocked on a full pipe.
        """
        proc = self._child.proc
        deadline = time.monotonic() + self.grace
        if self.peer_shutdown:
            shutdown_id, self._next_id = self._next_id, self._next_id + 1
            self._wbuf.append(
                memoryview(b'{"id":%d,"method":"shutdown","params":{}}\n' % shutdown_id)
            )
        else:
            self._wbuf.clear()
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
        while proc.poll() is None and time.monotonic() < deadline:
            if self._wbuf:
                try:
                    self._flush_writes_raw()
                except OSError:
                    self._wbuf.clear()
            ready, _, _ = select.select([self._out_fd], [], [], 0.02)
            if ready:
                try:
                    if not os.read(self._out_fd, _READ_CHUNK):
                        with contextlib.suppress(subprocess.TimeoutExpired):
                            proc.wait(max(0.0, deadline - time.monotonic()))
                        break
                except BlockingIOError:
                    pass
                except OSError:
                    break
        self._wbuf.clear()
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()

    def _flush_writes_raw(self) -> None:
        while self._wbuf:
            chunk = self._wbuf[0]
            try:
                n = os.write(self._in_fd, chunk)
            except BlockingIOError:
                return
            if n < len(chunk):
                self._wbuf[0] = chunk[n:]
                return
            self._wbuf.popleft()

    def __repr__(self) -> str:
        return f"<IpcTransport {self.label!r} pid={self.pid}>"
