"""One child process with piped stdio: spawned, its stderr drained, and always reaped.

The host drivers (:mod:`testkit._drivers`) and the raw IPC client (:mod:`testkit._rawipc`) both
run a process that speaks on stdin/stdout and logs on stderr. :class:`Child` is what they share:
a thread reads stderr continuously (a child blocked on a full stderr pipe would look hung) and
keeps its last bytes for error messages; :meth:`Child.reap` closes stdin, then terminates, then
kills, and always waits for the process and joins the reader threads.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

__all__ = ["STDERR_KEEP", "Child"]

#: Bytes of a child's stderr kept for error messages.
STDERR_KEEP = 64 * 1024


class Child:
    """A child process with stdin, stdout and stderr piped (unbuffered); raises OSError when it
    cannot be started."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        name: str = "child",
        keep: int = STDERR_KEEP,
    ) -> None:
        self.name = name
        self._keep = keep
        self._stderr = bytearray()
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            bufsize=0,
        )
        self._threads = [threading.Thread(target=self._drain_stderr, daemon=True, name=f"{name}-stderr")]
        self._threads[0].start()

    @property
    def pid(self) -> int:
        """Process id of the child."""
        return self.proc.pid

    def read_stdout(self, target: Callable[[], None]) -> None:
        """Run ``target`` (which reads ``proc.stdout`` until EOF) on a thread that reap joins."""
        thread = threading.Thread(target=target, daemon=True, name=f"{self.name}-stdout")
        self._threads.append(thread)
        thread.start()

    def stdout_lines(self) -> Iterator[bytes]:
        """The child's stdout lines (with their newline) until EOF, read through a buffer: readline
        on the unbuffered pipe would read one byte per syscall, about a second per MiB."""
        stream = self.proc.stdout
        assert stream is not None
        reader = io.BufferedReader(stream, 1 << 16)  # type: ignore[type-var]
        return iter(reader.readline, b"")

    def _drain_stderr(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        while chunk := stream.read(4096):
            with self._lock:
                self._stderr += chunk
                if len(self._stderr) > self._keep:
                    del self._stderr[: len(self._stderr) - self._keep]

    def drain_stderr(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for stderr to reach EOF (after the child exited: so an error
        message built now holds the child's last words)."""
        self._threads[0].join(timeout)

    def stderr_tail(self, limit: int | None = None) -> str:
        """The last ``limit`` bytes (default: all kept) the child wrote to stderr, decoded."""
        with self._lock:
            tail = self._stderr if limit is None else self._stderr[-limit:]
            return tail.decode("utf-8", "replace")

    def write(self, data: bytes) -> None:
        """Write to the child's stdin and flush; OSError when the pipe is closed."""
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(data)
        stdin.flush()

    def close_stdin(self) -> None:
        """Close the child's stdin (EOF); a pipe already gone is fine."""
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()

    def wait(self, timeout: float) -> int | None:
        """Exit status once the child exited within ``timeout`` seconds, else None."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGKILL the child now (reap still has to be called)."""
        with contextlib.suppress(OSError):
            self.proc.kill()

    def reap(self, eof_grace: float, term_grace: float) -> None:
        """EOF, then SIGTERM after ``eof_grace`` s, then SIGKILL after ``term_grace`` s; always
        waits for the child, joins the reader threads and closes the pipes."""
        self.close_stdin()
        if self.wait(eof_grace) is None:
            with contextlib.suppress(OSError):
                self.proc.terminate()
            if self.wait(term_grace) is None:
                self.kill()
                self.proc.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
