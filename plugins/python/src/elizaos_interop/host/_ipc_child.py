"""The IPC host's child process (stderr tail, reaping) and its pending requests.

:class:`ChildProcess` drains the plugin's stderr into a bounded tail and reaps the process when
the plugin object is forgotten; :class:`PendingCall` is one request waiting for its response.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
from typing import Any

from ..wire._errors import InteropError
from ..wire._protocol import item_label

__all__ = ["STDERR_TAIL_BYTES", "ChildProcess", "PendingCall"]

STDERR_TAIL_BYTES = 64 * 1024
"""How much of the plugin's stderr is kept for error messages."""


class ChildProcess:
    """The child process and its stderr tail; kept apart from the transport for the finaliser."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.lock = threading.Lock()
        self.tail = bytearray()
        self.thread = threading.Thread(
            target=self._drain, name=f"elizaos-ipc-stderr-{proc.pid}", daemon=True
        )
        self.thread.start()

    def _drain(self) -> None:
        stream = self.proc.stderr
        if stream is None:
            return
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.tail += chunk
                if len(self.tail) > STDERR_TAIL_BYTES:
                    del self.tail[: len(self.tail) - STDERR_TAIL_BYTES]

    def stderr_tail(self, wait: float = 0.0) -> str:
        """The last 64 KiB of stderr, waiting up to ``wait`` s for the drain to reach EOF."""
        if wait > 0:
            self.thread.join(wait)
        with self.lock:
            return self.tail.decode("utf-8", "replace")

    def exit_description(self) -> tuple[str, int | None, int | None]:
        """How the child ended: (description, exit code, signal number)."""
        code = self.proc.returncode
        if code is None:
            return "is still running", None, None
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = "unknown"
            return f"was killed by signal {-code} ({name})", None, -code
        return f"exited with status {code}", code, None

    def kill(self) -> None:
        """SIGKILL the child (if still running) and reap it. Never raises."""
        with contextlib.suppress(OSError):
            if self.proc.poll() is None:
                self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait()
        self.close_pipes()

    def close_pipes(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    @staticmethod
    def finalize(child: ChildProcess) -> None:
        """Finaliser/atexit hook: a plugin object that was never closed still reaps its child."""
        with contextlib.suppress(OSError):
            if child.proc.stdin is not None:
                child.proc.stdin.close()
        try:
            child.proc.wait(0.2)
        except subprocess.TimeoutExpired:
            child.kill()
        child.close_pipes()


class PendingCall:
    """One pending request."""

    __slots__ = (
        "deadline",
        "error",
        "future",
        "method",
        "name",
        "result",
        "runtime",
        "seconds",
        "settled",
    )

    def __init__(self, method: str, name: Any, future: asyncio.Future[Any] | None) -> None:
        self.runtime: Any = None
        """The runtime object the caller passed (section 11); None: runtime calls fail."""
        self.deadline = 0.0
        self.seconds = 0.0
        self.method = method
        self.name = name
        self.future = future
        self.settled = False
        self.result: Any = None
        self.error: InteropError | None = None

    @property
    def label(self) -> str:
        return item_label(self.method, self.name)

    def resolve(self, value: Any) -> None:
        self.settled = True
        self.result = value
        fut = self.future
        if fut is not None and not fut.done():
            # try/except, not contextlib.suppress: this runs once per call, on the hot path.
            try:  # noqa: SIM105
                fut.set_result(value)
            except RuntimeError:  # its loop may be closed
                pass

    def fail(self, error: InteropError) -> None:
        self.settled = True
        self.error = error
        fut = self.future
        if fut is not None and not fut.done():
            try:  # noqa: SIM105
                fut.set_exception(error)
            except RuntimeError:  # its loop may be closed
                pass
