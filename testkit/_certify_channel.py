"""How ``certify`` talks to the plugin under test.

:class:`RawChannel` speaks protocol.md section 3 to an IPC plugin byte by byte, one request at a
time, and inspects every stdout line it reads (UTF-8, JSON, NaN, envelope, ids, runtime requests):
what a host would hide or turn into a generic error becomes a finding with the exact bytes. A crash
or a hang ends that process; the next call starts a fresh one.

:class:`HostChannel` calls through a host driver (testkit/_drivers.py): the Python host for WASM and
FFI plugins, and every host in the cross-host phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from elizaos_interop import json_type

from testkit._drivers import CallOutcome, DriverError, HostDriver
from testkit._rawipc import RawIpc, RawIpcError

__all__ = ["Finding", "HostChannel", "RawChannel", "Reply"]

_CAP = 16_000  # evidence kept in the certificate; the terminal shows ~140 characters


def cap(text: str, limit: int = _CAP) -> str:
    """``text`` cut to ``limit`` characters with a marker saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


@dataclass
class Finding:
    """One observed problem: which check, a summary that groups repeats, and the evidence."""

    check: str
    summary: str
    request: str = ""
    received: str = ""
    stderr: str = ""
    input: str = ""
    host: str = ""


@dataclass
class Reply:
    """What one request gave: ``result``, ``error`` (code may be None for a malformed error),
    ``crash`` (the plugin exited), ``hang`` (no answer in time) or ``host`` (the host or driver
    failed in a way that says nothing about the plugin's answer)."""

    kind: str
    value: Any = None
    code: int | None = None
    message: str = ""
    data: Any = None
    detail: str = ""
    received: str = ""
    stderr: str = ""
    error_type: str = ""

    def describe(self) -> str:
        """A one-line description of the reply for reports."""
        if self.kind == "result":
            return cap("result " + json.dumps(self.value, ensure_ascii=False, default=str), 300)
        if self.kind == "error":
            data = "" if self.data is None else " data " + json.dumps(self.data, default=str)
            return cap(f"error {self.code}: {self.message}{data}", 300)
        return cap(f"{self.kind}: {self.detail}", 300)


Sink = Callable[[Finding], None]


def _lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    return False


def _is_int_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: protocol.md 2: one message is at most 16 MiB by default.
MAX_LINE = 16 * 1024 * 1024
#: What the reader hands on in place of a stdout line longer than MAX_LINE.
OVERSIZE = b"\x00certify: oversize line\n"


class _BufferedRawIpc(RawIpc):
    """RawIpc whose stdout lines are bounded: a line over MAX_LINE is read and dropped, and
    OVERSIZE is handed on in its place (a stdout-json finding)."""

    def _pump_stdout(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        reader = io.BufferedReader(stream, 1 << 16)  # type: ignore[type-var]
        while line := reader.readline(MAX_LINE + 1):
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                while (rest := reader.readline(1 << 20)) and not rest.endswith(b"\n"):
                    pass  # the rest of an oversize line is read and dropped
                line = OVERSIZE
            self._lines.put(line)
        self._lines.put(None)


class RawChannel:
    """One IPC plugin, spoken to directly; every line it writes is inspected."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        timeout_s: float,
        sink: Sink,
        runtime: Any = None,
        runtime_context: dict[str, Any] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.timeout = timeout_s
        self.sink = sink
        self.runtime = runtime
        self.runtime_context = runtime_context
        self.raw: RawIpc | None = None
        self.starts = 0
        self.last_id = 0
        self.answered: set[int] = set()
        self.current: tuple[int, str, str] | None = None  # (id, request text, input label)
        self.runtime_seen: list[dict[str, Any]] = []
        self.with_runtime: set[Any] = set()  # ids of requests whose params carried a runtime
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- process --------------------------------------------------------------------------
    def ensure(self) -> RawIpc:
        """The running plugin process (a fresh one after a crash, a hang or close)."""
        if self.raw is None:
            self.raw = _BufferedRawIpc(self.argv, env=self.env)
            self.starts += 1
            self.answered.clear()
        return self.raw

    def stderr_tail(self, limit: int = 4000) -> str:
        """The end of the current (or last) process's stderr."""
        return self.raw.stderr_tail(limit) if self.raw is not None else ""

    def kill(self) -> None:
        """Stop the current process at once (after a hang) and reap it."""
        raw, self.raw = self.raw, None
        if raw is not None:
            raw.kill()
            raw.close()

    def close(self, grace_s: float = 3.0) -> tuple[int | None, float]:
        """Close stdin, read what is left (duplicates are still findings), reap; (exit code, seconds)."""
        raw, self.raw = self.raw, None
        if raw is None:
            return None, 0.0
        started = time.monotonic()
        raw.close_stdin()
        deadline = started + grace_s
        while time.monotonic() < deadline:
            try:
                line = raw.read_line(max(0.01, deadline - time.monotonic()))
            except RawIpcError:
                break
            message = self._inspect(line, raw)
            if isinstance(message, dict) and "method" not in message:
                self._stray(message, raw)
        code = raw.wait_exit(max(0.0, deadline - time.monotonic()))
        elapsed = time.monotonic() - started
        raw.close()
        return code, elapsed

    # -- requests -------------------------------------------------------------------------
    def send(self, method: str, params: Any, *, label: str = "", msg_id: Any = None) -> int:
        """Write one request; returns its id."""
        raw = self.ensure()
        self.last_id += 1
        rid = self.last_id if msg_id is None else msg_id
        message: dict[str, Any] = {"id": rid, "method": method}
        if params is not None:
            message["params"] = params
        text = json.dumps(message, ensure_ascii=False)
        self.current = (rid, text, label)
        if isinstance(params, dict) and "runtime" in params:
            self.with_runtime.add(rid)
        raw.send_line(text.encode("utf-8", "surrogatepass"))
        return rid

    def call(self, method: str, params: Any, *, label: str = "", timeout_s: float | None = None) -> Reply:
        """Send one request and wait for its answer (sequential: nothing else is in flight)."""
        try:
            msg_id = self.send(method, params, label=label)
        except RawIpcError as exc:
            stderr = self.stderr_tail()
            self.kill()
            return Reply("crash", detail=str(exc), stderr=stderr)
        return self.wait(msg_id, timeout_s if timeout_s is not None else self.timeout)

    def wait(self, msg_id: int, timeout_s: float) -> Reply:
        """Read lines until the answer to ``msg_id`` arrives, the plugin exits, or time runs out."""
        raw = self.ensure()
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stderr = self.stderr_tail()
                self.kill()
                return Reply("hang", detail=f"no answer within {timeout_s:g} s", stderr=stderr)
            try:
                line = raw.read_line(remaining)
            except RawIpcError as exc:
                if raw.proc.poll() is None and "no answer" in str(exc):
                    continue  # the deadline check above reports the hang
                time.sleep(0.05)
                code = raw.proc.poll()
                stderr = self.stderr_tail()
                self.kill()
                return Reply(
                    "crash",
                    detail=f"the plugin exited (status {code}) without answering",
                    stderr=stderr,
                )
            message = self._inspect(line, raw)
            if not isinstance(message, dict):
                continue
            if "method" in message:
                self._runtime_request(message, raw)
                continue
            rid = message.get("id")
            if _is_int_id(rid) and rid == msg_id:
                self.answered.add(msg_id)
                return self._reply(message, line)
            if _is_int_id(rid) and rid in self.answered:
                self._finding(
                    "response-ids",
                    "a second answer to a request that was already answered",
                    received=line,
                    raw=raw,
                )
                continue
            if "id" not in message:
                desc = "no id"
            elif _is_int_id(rid):
                desc = "another integer id"
            else:
                desc = f"a {json_type(rid)} id"
            self._finding(
                "response-ids",
                f"an answer carries {desc} instead of the request's integer id",
                received=line,
                raw=raw,
            )
            self.answered.add(msg_id)
            return self._reply(message, line)

    # -- inspection -----------------------------------------------------------------------
    def _finding(self, check: str, summary: str, *, received: bytes | str, raw: RawIpc) -> None:
        text = received.decode("utf-8", "replace") if isinstance(received, bytes) else received
        request, label = ("", "")
        if self.current is not None:
            request, label = self.current[1], self.current[2]
        self.sink(
            Finding(
                check,
                summary,
                request=cap(request),
                received=cap(text.rstrip("\n")),
                stderr=raw.stderr_tail(4000),
                input=label,
            )
        )

    def _inspect(self, line: bytes, raw: RawIpc) -> Any:
        """Parse one stdout line, recording every framing problem; None when nothing usable."""
        if line == OVERSIZE:
            self._finding(
                "stdout-json",
                f"a stdout line longer than {MAX_LINE} bytes (the message size limit, protocol.md 2)",
                received="(dropped)",
                raw=raw,
            )
            return None
        body = line[:-1] if line.endswith(b"\n") else line
        if body.endswith(b"\r"):
            body = body[:-1]
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._finding(
                "stdout-json", f"a stdout line is not valid UTF-8 ({exc.reason})", received=line, raw=raw
            )
            text = body.decode("utf-8", "replace")
        if not text.strip():
            self._finding("stdout-json", "an empty line on stdout", received=line, raw=raw)
            return None
        bad_constants: list[str] = []

        def constant(name: str) -> float:
            bad_constants.append(name)
            return math.nan

        try:
            value = json.loads(text, parse_constant=constant)
        except ValueError:
            self._finding(
                "stdout-json",
                "a stdout line is not JSON (print/console.log output belongs on stderr)",
                received=line,
                raw=raw,
            )
            return None
        if bad_constants:
            self._finding(
                "json-profile",
                f"{'/'.join(sorted(set(bad_constants)))} is not JSON (senders refuse it, protocol.md 2)",
                received=line,
                raw=raw,
            )
        if _lone_surrogate(value):
            self._finding("json-profile", "a lone surrogate escape in a string", received=line, raw=raw)
        if not isinstance(value, dict):
            self._finding(
                "stdout-json",
                f"a stdout line is a JSON {json_type(value)}, not an object",
                received=line,
                raw=raw,
            )
            return None
        if "method" not in value:
            problem = envelope_problem(value)
            if problem:
                self._finding("response-envelope", problem, received=line, raw=raw)
        return value

    def _stray(self, message: dict[str, Any], raw: RawIpc) -> None:
        rid = message.get("id")
        if _is_int_id(rid) and rid in self.answered:
            self._finding(
                "response-ids",
                "a second answer to a request that was already answered",
                received=json.dumps(message)[:_CAP],
                raw=raw,
            )
        else:
            self._finding(
                "response-ids",
                f"an answer with an id that no pending request has ({json.dumps(rid)})",
                received=json.dumps(message)[:_CAP],
                raw=raw,
            )

    def _reply(self, message: dict[str, Any], line: bytes) -> Reply:
        received = cap(line.decode("utf-8", "replace").rstrip("\n"))
        if "error" in message:
            error = message["error"]
            if isinstance(error, dict):
                code = error.get("code")
                return Reply(
                    "error",
                    code=code if _is_int_id(code) else None,
                    message=str(error.get("message", "")),
                    data=error.get("data"),
                    received=received,
                    stderr=self.stderr_tail(),
                )
            return Reply("error", message=str(error), received=received, stderr=self.stderr_tail())
        if "result" in message:
            return Reply("result", value=message["result"], received=received)
        return Reply("error", message="a response without result or error", received=received)

    # -- runtime requests (protocol.md 11) ---------------------------------------------------
    def _runtime_request(self, message: dict[str, Any], raw: RawIpc) -> None:
        self.runtime_seen.append(message)
        method = str(message.get("method"))
        rid = message.get("id")
        carries_runtime = self.current is not None and self.current[0] in self.with_runtime
        params = message.get("params")
        call = params.get("call") if isinstance(params, dict) else None
        late = (
            isinstance(call, int)
            and not isinstance(call, bool)
            and 0 < call <= self.last_id
            and self.current is not None
            and call != self.current[0]
        )
        if late:  # judged against the call it names, which has been answered already
            carries_runtime = call in self.with_runtime
        if not carries_runtime:
            self._finding(
                "runtime-requests",
                f"sent {method} during a call whose params carry no runtime",
                received=json.dumps(message)[:_CAP],
                raw=raw,
            )
        args = params.get("args") if isinstance(params, dict) else None
        text = json.dumps(message, default=str)[:_CAP]
        if not (isinstance(rid, str) and rid.startswith("rt-")):
            self._finding(
                "runtime-calls",
                f'a runtime request id is a {json_type(rid)}, not "rt-<n>"',
                received=text,
                raw=raw,
            )
        if self.current is not None and call != self.current[0] and not late:
            self._finding(
                "runtime-calls",
                "params.call of a runtime request is not the id of a request the host sent",
                received=text,
                raw=raw,
            )
        if not isinstance(args, list):
            self._finding(
                "runtime-calls",
                f"params.args of a runtime request is {json_type(args)}, not an array",
                received=text,
                raw=raw,
            )
        answer = self._runtime_answer(rid, method, call, args, late=late, carries_runtime=carries_runtime)
        with contextlib.suppress(RawIpcError):
            raw.send_line(
                json.dumps(answer, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")
            )

    def _runtime_answer(
        self, rid: Any, method: str, call: Any, args: Any, *, late: bool, carries_runtime: bool
    ) -> dict[str, Any]:
        """The host's answer to a runtime request: an error for a late one, one whose call carries
        no runtime or whose args are not an array; else what the runtime returned."""
        name = method.removeprefix("runtime.")
        if late:  # a handler still running after its call was answered (protocol.md 11.4)
            return {
                "id": rid,
                "error": {
                    "code": -32602,
                    "message": f"runtime call for unknown call {call}",
                    "data": {"param": "call"},
                },
            }
        if not carries_runtime or self.runtime is None:
            return {
                "id": rid,
                "error": {
                    "code": -32601,
                    "message": f"{method} is not provided by the host",
                    "data": {"method": name},
                },
            }
        if not isinstance(args, list):
            return {
                "id": rid,
                "error": {
                    "code": -32602,
                    "message": "runtime request params.args must be an array",
                    "data": {"param": "args", "expected": "array", "received": json_type(args)},
                },
            }
        return self._run_runtime(rid, name, args)

    def _run_runtime(self, rid: Any, name: str, args: list[Any]) -> dict[str, Any]:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        func = getattr(self.runtime, name, None) or getattr(self.runtime, snake, None)
        if not callable(func):
            return {
                "id": rid,
                "error": {
                    "code": -32601,
                    "message": f"runtime.{name} is not provided by the host",
                    "data": {"method": name},
                },
            }
        try:
            value = func(*args)
            if inspect.isawaitable(value):
                if self._loop is None:
                    self._loop = asyncio.new_event_loop()
                value = self._loop.run_until_complete(_awaited(value))
            json.dumps(value, allow_nan=False)
        except Exception as exc:
            return {
                "id": rid,
                "error": {
                    "code": -32000,
                    "message": str(exc),
                    "data": {"method": name, "exception": type(exc).__name__},
                },
            }
        return {"id": rid, "result": value}


async def _awaited(value: Any) -> Any:
    return await value


def envelope_problem(message: dict[str, Any]) -> str:
    """What is wrong with a response object's envelope (protocol.md 3.2), or ''."""
    if "id" not in message:
        return 'a response without an "id" member'
    has_result, has_error = "result" in message, "error" in message
    if has_result and has_error:
        return 'a response with both "result" and "error"'
    if not has_result and not has_error:
        return 'a response with neither "result" nor "error"'
    if has_error:
        error = message["error"]
        if not isinstance(error, dict):
            return f"an error that is a JSON {json_type(error)}, not an error object"
        if not _is_int_id(error.get("code")):
            return f"an error object whose code is {json_type(error.get('code'))}, not an integer"
        if not isinstance(error.get("message"), str):
            return f"an error object whose message is {json_type(error.get('message'))}, not a string"
    return ""


@dataclass
class HostChannel:
    """Calls through one host driver (the Python host in-process, or a driver process)."""

    driver: HostDriver
    handle: str
    timeout_s: float
    raw_params: bool = True
    stats: dict[str, int] = field(default_factory=dict)

    def call(self, method: str, params: Any, *, label: str = "", timeout_s: float | None = None) -> Reply:
        """One call; transport-level (params as they are) on the Python host when possible."""
        timeout_ms = int((timeout_s or self.timeout_s) * 1000)
        try:
            call_raw = getattr(self.driver, "call_raw", None)
            if self.raw_params and callable(call_raw):
                outcome = call_raw(self.handle, method, params, timeout_ms)
            else:
                outcome = self.driver.call(self.handle, method, params, timeout_ms)
        except DriverError as exc:
            return Reply("host", detail=str(exc), error_type="DriverError")
        return reply_from_outcome(outcome)

    def call_many(self, calls: Sequence[tuple[str, dict[str, Any]]]) -> list[Reply]:
        """Pipelined calls through the host's public API; replies in order."""
        try:
            outcomes = self.driver.call_many(self.handle, calls, int(self.timeout_s * 1000))
        except DriverError as exc:
            return [Reply("host", detail=str(exc), error_type="DriverError") for _ in calls]
        return [reply_from_outcome(o) for o in outcomes]


def reply_from_outcome(outcome: CallOutcome) -> Reply:
    """A driver's CallOutcome as a Reply (typed host errors mapped to crash/hang/host)."""
    if outcome.ok:
        return Reply("result", value=outcome.value)
    kind = {
        "PluginCallError": "error",
        "PluginTimeoutError": "hang",
        "PluginCrashError": "crash",
    }.get(outcome.error_type or "", "host")
    return Reply(
        kind,
        code=outcome.code,
        message=outcome.message,
        data=outcome.data,
        detail=f"{outcome.error_type}: {outcome.message}",
        error_type=outcome.error_type or "",
    )
