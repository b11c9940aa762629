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

This module starts the child and holds the public API (:class:`IpcTransport`); reading, writing,
runtime requests, faults and the event loop plumbing are its base,
:class:`~elizaos_interop.host._ipc_channel.IpcChannel`.
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
from collections.abc import Sequence
from typing import Any

from ..wire._errors import (
    InvalidPayloadError,
    PluginLoadError,
)
from ..wire._json import MAX_MESSAGE_BYTES, dumps
from ..wire._protocol import (
    item_label,
)
from ._ipc_channel import READ_CHUNK, IpcChannel
from ._ipc_child import ChildProcess, PendingCall

__all__ = ["DEFAULT_GRACE", "DEFAULT_TIMEOUT", "IpcTransport"]

DEFAULT_TIMEOUT = 30.0
"""Per-call time-out in seconds (protocol.md 3.5)."""
DEFAULT_GRACE = 2.0
"""Seconds ``close()`` waits after ``shutdown`` and again after SIGTERM (protocol.md 3.4)."""


_METHOD_JSON: dict[str, bytes] = {}
"""Encoded method names (a handful of distinct strings, encoded once each)."""


class IpcTransport(IpcChannel):
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
        self._pending = {}
        self._abandoned = set()
        self._next_id = 1
        self._rbuf = bytearray()
        self._wbuf = collections.deque()
        self._loop = None
        self._writer_loop = None
        self._dead = None
        self._closed = False
        self._timer = None
        self._timer_when = 0.0
        self._poller: select.poll | None = None
        """Kept across call_sync calls (stdout registered once)."""
        self._runtime_tasks = set()
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
                    if not os.read(self._out_fd, READ_CHUNK):
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
