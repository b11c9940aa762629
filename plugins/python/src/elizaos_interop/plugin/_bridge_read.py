"""Reading requests from stdin: non-blocking reads and line framing (protocol.md 3.1).

Lines are split on ``\n`` (a trailing ``\r`` is dropped); a line longer than the message limit
is answered -32600 and skipped without being kept in memory; stdin EOF ends the session.
"""

from __future__ import annotations

import os

from ..wire._protocol import INVALID_REQUEST
from ._bridge_dispatch import Dispatch
from ._replies import RpcError

__all__ = ["Reader"]

_READ_CHUNK = 1 << 16


class Reader(Dispatch):
    """The reader of stdin: registers with the loop and hands each line to the dispatcher."""

    def start(self) -> None:
        # Non-blocking while serving; close() restores the modes (a terminal shares them).
        self.blocking = (os.get_blocking(self.in_fd), os.get_blocking(self.out_fd))
        os.set_blocking(self.in_fd, False)
        os.set_blocking(self.out_fd, False)
        self.loop.add_reader(self.in_fd, self._on_readable)
        self.reading = True

    def _on_readable(self) -> None:
        try:
            data = os.read(self.in_fd, _READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.stop_reading()
            self._host_gone()
            if not self.done.done():
                self.done.set_result("eof")
            return
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        start = 0
        while self.reading:
            nl = data.find(b"\n", start)
            if nl < 0:
                if not self.discarding:
                    self.buf += data[start:]
                    if len(self.buf) > self.max:
                        self.buf.clear()
                        self.discarding = True
                return
            end = nl
            if self.discarding:
                self.discarding = False
                start = nl + 1
                self._reply_oversize()
                continue
            if self.buf:
                self.buf += data[start:end]
                line = bytes(self.buf)
                self.buf.clear()
            else:
                line = data[start:end]
            start = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.max:
                self._reply_oversize()
                continue
            self._on_line(line)
            if start == len(data):  # the usual case: the chunk ended with this line
                return

    def _reply_oversize(self) -> None:
        self._send_error(None, RpcError(INVALID_REQUEST, f"request exceeds {self.max} bytes"))
