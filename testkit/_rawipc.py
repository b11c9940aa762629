"""A raw IPC client: speaks protocol.md section 3 to a plugin process byte by byte.

The hosts' loaders never send malformed lines, unknown methods or bursts of pipelined requests on
purpose; plugin-level checks and ``certify`` need exactly that. Every read has a time-out, stderr
is drained continuously (last 64 KiB kept), and :meth:`RawIpc.close` always reaps the child
(:class:`testkit._child.Child`).
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from testkit._child import Child

__all__ = ["RawIpc", "RawIpcError"]


class RawIpcError(RuntimeError):
    """The plugin did not answer in time, closed its stdout, or wrote something that is not JSON."""


class RawIpc:
    """One plugin child process with raw access to its stdin/stdout lines."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        label: str | None = None,
    ) -> None:
        self.argv = list(argv)
        self.label = label or " ".join(self.argv)
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._next_id = 0
        try:
            self._child = Child(self.argv, env=env, cwd=cwd, name="raw-ipc")
        except OSError as exc:
            raise RawIpcError(f"{self.label}: cannot start {self.argv}: {exc}") from exc
        self.proc = self._child.proc
        self._child.read_stdout(self._pump_stdout)

    def _pump_stdout(self) -> None:
        for line in self._child.stdout_lines():
            self._lines.put(line)
        self._lines.put(None)

    def stderr_tail(self, limit: int = 2000) -> str:
        """The end of what the plugin wrote to stderr."""
        return self._child.stderr_tail(limit)

    def next_id(self) -> int:
        """A fresh request id (increasing integers from 1)."""
        self._next_id += 1
        return self._next_id

    def send_line(self, line: bytes) -> None:
        """Write one raw line (a newline is appended when missing)."""
        if not line.endswith(b"\n"):
            line += b"\n"
        try:
            self._child.write(line)
        except OSError as exc:
            raise RawIpcError(f"{self.label}: cannot write to the plugin's stdin: {exc}") from exc

    def send(self, method: str, params: Any = None, msg_id: Any = "auto") -> Any:
        """Send one request; returns its id (``msg_id=None`` omits the id member)."""
        message: dict[str, Any] = {"method": method}
        if msg_id == "auto":
            msg_id = self.next_id()
        if msg_id is not None:
            message["id"] = msg_id
        if params is not None:
            message["params"] = params
        self.send_line(json.dumps(message, ensure_ascii=False).encode("utf-8"))
        return msg_id

    def read_line(self, timeout: float) -> bytes:
        """The next stdout line; RawIpcError on time-out or EOF."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RawIpcError(
                f"{self.label}: no answer within {timeout:g} s; stderr tail: {self.stderr_tail(500)!r}"
            ) from None
        if line is None:
            self._lines.put(None)
            code = self.proc.poll()
            if code is not None:
                self._child.drain_stderr(0.5)
            raise RawIpcError(
                f"{self.label}: the plugin closed its stdout (exit status {code}); "
                f"stderr tail: {self.stderr_tail(500)!r}"
            )
        return line

    def read_response(self, timeout: float) -> dict[str, Any]:
        """The next stdout line parsed as a JSON object; RawIpcError otherwise."""
        line = self.read_line(timeout)
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise RawIpcError(f"{self.label}: stdout line is not JSON: {line[:200]!r}") from exc
        if not isinstance(value, dict):
            raise RawIpcError(f"{self.label}: stdout line is not a JSON object: {line[:200]!r}")
        return value

    def request(self, method: str, params: Any = None, timeout: float = 10.0) -> dict[str, Any]:
        """Send one request and read one response (no other request may be in flight)."""
        msg_id = self.send(method, params)
        response = self.read_response(timeout)
        if response.get("id") != msg_id:
            raise RawIpcError(
                f"{self.label}: expected the response to id {msg_id}, got {str(response)[:200]}"
            )
        return response

    def wait_exit(self, timeout: float) -> int | None:
        """Exit status once the process exited within ``timeout``, else None."""
        return self._child.wait(timeout)

    def close_stdin(self) -> None:
        """Close the plugin's stdin (EOF)."""
        self._child.close_stdin()

    def kill(self) -> None:
        """SIGKILL the plugin now (close still reaps it)."""
        self._child.kill()

    def close(self, grace: float = 2.0) -> None:
        """EOF, then SIGTERM, then SIGKILL; always reaps the child and joins the pump threads."""
        self._child.reap(grace, grace)

    def __enter__(self) -> RawIpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for(predicate: Any, timeout: float, step: float = 0.02) -> bool:
    """Poll ``predicate()`` until true or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
