"""testkit._child: the stderr tail is drained and bounded, reap always ends the process."""

from __future__ import annotations

import sys
import time

import pytest

from testkit._child import Child


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_stderr_tail_keeps_the_last_bytes() -> None:
    child = Child(_python("import sys; sys.stderr.write('a' * 5000 + 'END'); sys.stderr.flush()"), keep=1000)
    try:
        assert child.wait(20) == 0
    finally:
        child.reap(eof_grace=1, term_grace=1)
    assert child.stderr_tail() == "a" * 997 + "END"
    assert child.stderr_tail(5) == "aaEND"


def test_stdout_reader_runs_until_eof_and_write_reaches_stdin() -> None:
    lines: list[bytes] = []
    child = Child(_python("import sys; sys.stdout.write(sys.stdin.readline().upper() + 'x' * 100000)"))

    def read() -> None:
        lines.extend(child.stdout_lines())

    child.read_stdout(read)
    child.write(b"hello\n")
    child.reap(eof_grace=20, term_grace=1)
    assert lines == [b"HELLO\n", b"x" * 100000]
    assert child.proc.returncode == 0


def test_reap_escalates_to_sigkill() -> None:
    ignoring = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print(1, flush=True); time.sleep(60)"
    )
    child = Child(_python(ignoring))
    assert child.proc.stdout is not None
    assert child.proc.stdout.readline() == b"1\n"  # the SIGTERM handler is in place
    started = time.monotonic()
    child.reap(eof_grace=0.2, term_grace=0.2)
    assert child.proc.returncode == -9
    assert time.monotonic() - started < 10


def test_a_missing_program_is_oserror() -> None:
    with pytest.raises(FileNotFoundError):
        Child(["/nonexistent/program"])


def test_drain_stderr_waits_for_the_last_words_of_an_exited_child() -> None:
    child = Child(_python("import sys, time; time.sleep(0.2); sys.stderr.write('last words')"))
    try:
        assert child.wait(20) == 0
        child.drain_stderr(5)
        assert child.stderr_tail() == "last words"
    finally:
        child.reap(eof_grace=1, term_grace=1)
