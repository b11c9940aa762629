"""Writing answers and runtime requests on stdout: the bridge's output layer (protocol.md 3).

A line the pipe does not take at once is queued and written as the pipe drains, so the loop
never blocks on a slow reader; a closed stdout ends the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from ..wire._errors import InvalidPayloadError
from ..wire._json import dumps
from ..wire._protocol import INTERNAL_ERROR
from ._bridge_state import ServerState
from ._replies import Encoded, RpcError

__all__ = ["Writer"]


class Writer(ServerState):
    """Answers (results, errors) and the queue of what stdout has not taken yet."""

    def _send_result(self, req_id: int | str, result: Any) -> None:
        if type(result) is Encoded:
            id_text = b"%d" % req_id if type(req_id) is int else dumps(req_id)
            self._write(b"".join((b'{"id":', id_text, b',"result":', result.data, b"}\n")))
            return
        try:
            data = dumps({"id": req_id, "result": result})
        except InvalidPayloadError as exc:  # the handler checks make this unreachable in practice
            self._send_error(req_id, RpcError(INTERNAL_ERROR, f"internal error: {exc.detail}"))
            return
        self._write(data + b"\n")

    def _send_error(self, req_id: int | str | None, err: RpcError) -> None:
        try:
            data = dumps({"id": req_id, "error": err.to_json()})
        except InvalidPayloadError:
            data = dumps({"id": req_id, "error": {"code": err.code, "message": err.message}})
        self._write(data + b"\n")

    def _write(self, data: bytes) -> None:
        """Write one newline-terminated message, queueing what the pipe does not take now."""
        if self.broken:
            return
        if self.out:
            self.out.append(memoryview(data))
            return
        try:
            n = os.write(self.out_fd, data)
        except BlockingIOError:
            n = 0
        except OSError:
            self._broken()
            return
        if n < len(data):
            self.out.append(memoryview(data)[n:])
            self.loop.add_writer(self.out_fd, self._on_writable)

    def _on_writable(self) -> None:
        while self.out:
            chunk = self.out[0]
            try:
                n = os.write(self.out_fd, chunk)
            except BlockingIOError:
                return
            except OSError:
                self._broken()
                return
            if n < len(chunk):
                self.out[0] = chunk[n:]
                return
            self.out.popleft()
        self.loop.remove_writer(self.out_fd)
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def _broken(self) -> None:
        """The host closed our stdout: nothing more can be said, so stop."""
        self.broken = True
        self._host_gone()
        if self.out:
            self.out.clear()
            self.loop.remove_writer(self.out_fd)
        self.stop_reading()
        if not self.done.done():
            self.done.set_result("eof")

    async def flush(self, timeout: float | None) -> None:
        if not self.out:
            return
        self.drained = self.loop.create_future()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drained, timeout)

    def close(self) -> None:
        self.stop_reading()
        if self.out:
            self.out.clear()
            self.loop.remove_writer(self.out_fd)
        for fd, blocking in zip((self.in_fd, self.out_fd), self.blocking, strict=True):
            with contextlib.suppress(OSError):
                os.set_blocking(fd, blocking)
