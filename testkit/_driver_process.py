"""The TypeScript and Rust hosts, as driver processes spoken to with protocol.md section 8.

Every request has a time-out, the driver's stderr is kept for error messages, and the process is
reaped on :meth:`SubprocessDriver.close` (:class:`testkit._child.Child`).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from testkit._child import Child
from testkit._driver_api import (
    DEFAULT_CALL_MS,
    DEFAULT_LOAD_MS,
    Call,
    CallOutcome,
    DriverError,
    PluginSpec,
    World,
    split_call,
)

__all__ = ["SubprocessDriver"]


class _Pending:
    __slots__ = ("event", "response")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.response: dict[str, Any] | None = None


class SubprocessDriver:
    """A host driver process spoken to with protocol.md section 8 over its stdin/stdout."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        host: str,
        env: dict[str, str] | None = None,
        cwd: Path | str | None = None,
        hello_timeout_s: float = 30.0,
    ) -> None:
        self.host = host
        self.argv = list(argv)
        self.runtime = "unknown"
        self.transports: list[str] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._dead: str | None = None
        self._closed = False
        try:
            self._child = Child(self.argv, env=env, cwd=cwd, name=f"{host}-driver")
        except OSError as exc:
            raise DriverError(f"cannot start {self.argv}: {exc}", host=host, method="start") from exc
        self._proc = self._child.proc
        self._child.read_stdout(self._read_stdout)
        try:
            hello = self.request("hello", {}, timeout_s=hello_timeout_s)
            self.runtime = str(hello.get("runtime", "unknown"))
            self.transports = list(hello.get("transports", []))
        except BaseException:
            self.close()
            raise

    @property
    def alive(self) -> bool:
        """False once the driver died, broke the protocol, timed out or was closed."""
        with self._lock:
            return self._dead is None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        """Process id of the driver."""
        return self._proc.pid

    def stderr_tail(self) -> str:
        """The last 64 KiB the driver wrote to stderr."""
        return self._child.stderr_tail()

    # -- reader thread ---------------------------------------------------------------------------
    def _fail_all(self, reason: str) -> None:
        with self._lock:
            if self._dead is None:
                self._dead = reason
            pending = list(self._pending.values())
            self._pending.clear()
        for slot in pending:
            slot.event.set()

    def _read_stdout(self) -> None:
        for raw in self._child.stdout_lines():
            try:
                message = json.loads(raw)
            except ValueError:
                self._fail_all(f"driver wrote a line that is not JSON: {raw[:200]!r}")
                return
            msg_id = message.get("id") if isinstance(message, dict) else None
            with self._lock:
                slot = self._pending.pop(msg_id, None) if isinstance(msg_id, int) else None
            if slot is None:
                if msg_id is None and isinstance(message, dict) and "error" in message:
                    self._fail_all(f"driver could not read a request (answered with id null): {raw[:300]!r}")
                else:
                    self._fail_all(f"driver sent a response with an unexpected id: {raw[:200]!r}")
                return
            slot.response = message
            slot.event.set()
        code = self._proc.wait()
        self._child.drain_stderr(1.0)
        self._fail_all(f"driver exited with status {code}")

    # -- requests --------------------------------------------------------------------------------
    def _send(self, method: str, params: dict[str, Any]) -> tuple[int, _Pending]:
        msg_id = next(self._ids)
        slot = _Pending()
        with self._lock:
            if self._dead is not None:
                raise DriverError(
                    self._dead,
                    host=self.host,
                    method=method,
                    stderr_tail=self._child.stderr_tail(),
                )
            self._pending[msg_id] = slot
        line = json.dumps(
            {"id": msg_id, "method": method, "params": params}, ensure_ascii=False, allow_nan=False
        )
        try:
            with self._write_lock:
                self._child.write(line.encode("utf-8") + b"\n")
        except OSError as exc:
            with self._lock:
                self._pending.pop(msg_id, None)
            raise DriverError(
                f"cannot write to the driver: {exc}",
                host=self.host,
                method=method,
                stderr_tail=self.stderr_tail(),
            ) from exc
        return msg_id, slot

    def _wait(self, method: str, msg_id: int, slot: _Pending, deadline: float) -> Any:
        if not slot.event.wait(max(0.0, deadline - time.monotonic())):
            with self._lock:
                self._pending.pop(msg_id, None)
            self._kill(f"driver did not answer {method} (id {msg_id}) in time")
            raise DriverError(
                "no answer within the time-out; the driver was stopped",
                host=self.host,
                method=method,
                stderr_tail=self.stderr_tail(),
            )
        response = slot.response
        if response is None:
            raise DriverError(
                self._dead or "driver is gone", host=self.host, method=method, stderr_tail=self.stderr_tail()
            )
        if "error" in response:
            error = response["error"] if isinstance(response["error"], dict) else {}
            raise DriverError(
                str(error.get("message", response["error"])),
                host=self.host,
                method=method,
                code=error.get("code") if isinstance(error.get("code"), int) else None,
                stderr_tail=self.stderr_tail(),
            )
        if "result" not in response:
            raise DriverError(
                f"response without result or error: {response!r:.200}",
                host=self.host,
                method=method,
                stderr_tail=self.stderr_tail(),
            )
        return response["result"]

    def request(self, method: str, params: dict[str, Any], timeout_s: float) -> Any:
        """Send one driver request and wait for its result (raises DriverError)."""
        msg_id, slot = self._send(method, params)
        return self._wait(method, msg_id, slot, time.monotonic() + timeout_s)

    def request_many(self, requests: Sequence[tuple[str, dict[str, Any]]], timeout_s: float) -> list[Any]:
        """Send several requests at once (pipelined) and wait for all; results in order."""
        sent = [(method, *self._send(method, params)) for method, params in requests]
        deadline = time.monotonic() + timeout_s
        return [self._wait(method, msg_id, slot, deadline) for method, msg_id, slot in sent]

    # -- HostDriver ------------------------------------------------------------------------------
    def load(
        self, spec: PluginSpec, timeout_ms: int | None = None, agent_runtime: World | None = None
    ) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"transport": spec.transport, "language": spec.language}
        if spec.path is not None:
            params["path"] = spec.path
        if spec.command is not None:
            params["command"] = list(spec.command)
        if spec.runtime is not None:
            params["runtime"] = spec.runtime
        if timeout_ms is not None:
            params["timeoutMs"] = timeout_ms
        if agent_runtime is not None:
            params["agentRuntime"] = agent_runtime
        try:
            result = self.request("load", params, timeout_s=(timeout_ms or DEFAULT_LOAD_MS) / 1000 + 30)
        except DriverError as exc:
            raise DriverError(
                f"loading {spec.describe()} failed: {exc}", host=self.host, method="load", code=exc.code
            ) from exc
        return str(result["plugin"]), dict(result["manifest"])

    @staticmethod
    def _to_outcome(result: Any) -> CallOutcome:
        if not isinstance(result, dict) or "ok" not in result:
            return CallOutcome(
                ok=False, error_type="DriverError", message=f"malformed call result {result!r:.200}"
            )
        if result["ok"]:
            return CallOutcome(ok=True, value=result.get("value"))
        error = result.get("error") or {}
        code = error.get("code")
        return CallOutcome(
            ok=False,
            error_type=str(error.get("type")),
            code=code if isinstance(code, int) else None,
            message=str(error.get("message", "")),
            data=error.get("data"),
        )

    def _call_params(
        self,
        handle: str,
        method: str,
        params: dict[str, Any],
        timeout_ms: int | None,
        agent_runtime: World | None = None,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"plugin": handle, "method": method, "params": params}
        if timeout_ms is not None:
            request["timeoutMs"] = timeout_ms
        if agent_runtime is not None:
            request["agentRuntime"] = agent_runtime
        return request

    def call(
        self,
        handle: str,
        method: str,
        params: dict[str, Any],
        timeout_ms: int | None = None,
        agent_runtime: World | None = None,
    ) -> CallOutcome:
        result = self.request(
            "call",
            self._call_params(handle, method, params, timeout_ms, agent_runtime),
            timeout_s=(timeout_ms or DEFAULT_CALL_MS) / 1000 + 30,
        )
        return self._to_outcome(result)

    def call_many(
        self,
        handle: str,
        calls: Sequence[Call],
        timeout_ms: int | None = None,
    ) -> list[CallOutcome]:
        requests = [
            ("call", self._call_params(handle, m, p, timeout_ms, world))
            for m, p, world in map(split_call, calls)
        ]
        results = self.request_many(requests, timeout_s=(timeout_ms or DEFAULT_CALL_MS) / 1000 + 30)
        return [self._to_outcome(r) for r in results]

    def bench(
        self, handle: str, method: str, params: dict[str, Any], iterations: int, warmup: int
    ) -> list[int]:
        result = self.request(
            "bench",
            {
                "plugin": handle,
                "method": method,
                "params": params,
                "iterations": iterations,
                "warmup": warmup,
            },
            timeout_s=600,
        )
        return [int(x) for x in result["samplesNs"]]

    def bench_pipe(self, command: Sequence[str], payload: str, iterations: int, warmup: int) -> list[int]:
        result = self.request(
            "benchPipe",
            {"command": list(command), "payload": payload, "iterations": iterations, "warmup": warmup},
            timeout_s=600,
        )
        return [int(x) for x in result["samplesNs"]]

    def bench_noop(self, handle: str, iterations: int, warmup: int) -> list[int]:
        result = self.request(
            "benchNoop", {"plugin": handle, "iterations": iterations, "warmup": warmup}, timeout_s=600
        )
        return [int(x) for x in result["samplesNs"]]

    def bench_json(self, params: dict[str, Any], result: Any, iterations: int, warmup: int) -> list[int]:
        answer = self.request(
            "benchJson",
            {"params": params, "result": result, "iterations": iterations, "warmup": warmup},
            timeout_s=600,
        )
        return [int(x) for x in answer["samplesNs"]]

    def bench_throughput(
        self,
        handle: str,
        method: str,
        params: dict[str, Any],
        in_flight: int,
        calls: int,
        warmup: int,
    ) -> int:
        answer = self.request(
            "benchThroughput",
            {
                "plugin": handle,
                "method": method,
                "params": params,
                "inFlight": in_flight,
                "calls": calls,
                "warmup": warmup,
            },
            timeout_s=600,
        )
        return int(answer["elapsedNs"])

    def unload(self, handle: str) -> None:
        self.request("unload", {"plugin": handle}, timeout_s=30)

    def _kill(self, reason: str) -> None:
        self._fail_all(reason)
        self._child.kill()

    def close(self) -> None:
        """Close stdin (the driver unloads everything and exits), then terminate/kill; always reap."""
        if self._closed:
            return
        self._closed = True
        self._child.reap(eof_grace=10, term_grace=3)
        self._fail_all("driver is closed")

    def __enter__(self) -> SubprocessDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
