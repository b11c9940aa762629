"""The host driver interface (protocol.md section 8): what a test asks of any host.

:class:`HostDriver` is implemented by :class:`testkit._driver_python.PythonDriver` (in-process)
and :class:`testkit._driver_process.SubprocessDriver` (the TypeScript and Rust driver programs);
:mod:`testkit._drivers` gathers them and picks one per cell.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from testkit._toolchains import Toolchains

__all__ = [
    "DEFAULT_CALL_MS",
    "DEFAULT_LOAD_MS",
    "METHODS",
    "Call",
    "CallOutcome",
    "DriverError",
    "HostDriver",
    "PluginSpec",
    "World",
    "fixture_spec",
    "split_call",
]

#: Plugin methods a driver ``call`` may name (protocol.md section 3.3, without shutdown).
METHODS: tuple[str, ...] = (
    "getManifest",
    "init",
    "validateAction",
    "invokeAction",
    "getProvider",
    "validateEvaluator",
    "invokeEvaluator",
)
DEFAULT_CALL_MS = 30_000
DEFAULT_LOAD_MS = 10_000

#: A World (docs/schemas/runtime-world.schema.json): what a host builds its in-memory agent runtime
#: from (protocol.md 11.5). Drivers pass it as ``agentRuntime`` (section 8).
World = dict[str, Any]
#: One call of :meth:`HostDriver.call_many`: ``(method, params)``, or ``(method, params, world)``
#: to run that call with a fresh in-memory runtime built from ``world``.
Call = tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], World | None]


def split_call(call: Call) -> tuple[str, dict[str, Any], World | None]:
    """``(method, params, world or None)`` of a :data:`Call`."""
    if len(call) == 3:
        return call[0], call[1], call[2]
    return call[0], call[1], None


@dataclass(frozen=True)
class PluginSpec:
    """Which plugin to load and how: a path (fixture file, .so, .wasm) or an IPC argv."""

    transport: str
    language: str
    path: str | None = None
    command: tuple[str, ...] | None = None
    runtime: str | None = None

    def describe(self) -> str:
        """Short human description for error messages."""
        what = self.path if self.path is not None else " ".join(self.command or ())
        rt = f"@{self.runtime}" if self.runtime else ""
        return f"{self.language}{rt} plugin {what} over {self.transport}"


@dataclass(frozen=True)
class CallOutcome:
    """What one plugin call gave: a value, or a typed error (7.2 class name, code, message)."""

    ok: bool
    value: Any = None
    error_type: str | None = None
    code: int | None = None
    message: str = ""
    data: Any = None  # the error's ``data`` when the host exposes it (Python host; drivers if sent)

    def __str__(self) -> str:
        if self.ok:
            return f"ok {json.dumps(self.value, ensure_ascii=False)[:300]}"
        return f"{self.error_type} code={self.code}: {self.message[:500]}"


class DriverError(RuntimeError):
    """The host driver failed: load error, protocol violation, time-out, or the driver died."""

    def __init__(
        self,
        message: str,
        *,
        host: str,
        method: str,
        code: int | None = None,
        stderr_tail: str = "",
    ) -> None:
        self.host = host
        self.method = method
        self.code = code
        self.stderr_tail = stderr_tail
        text = f"{host} host driver: {method}: {message}"
        if stderr_tail.strip():
            text += f"\n--- driver stderr (tail) ---\n{stderr_tail[-4000:]}"
        super().__init__(text)


@runtime_checkable
class HostDriver(Protocol):
    """One host language, able to load plugins and call them (protocol.md section 8)."""

    host: str
    runtime: str

    @property
    def alive(self) -> bool:
        """False once the host can take no more calls (its driver process died, or it was closed)."""
        ...

    def load(
        self, spec: PluginSpec, timeout_ms: int | None = None, agent_runtime: World | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Load a plugin; returns (handle, manifest). Raises DriverError on load failure.

        With ``agent_runtime`` the host builds its ``InMemoryRuntime`` from that World, registers
        the plugin in it and passes it as ``runtime`` to every call on the handle (section 8)."""
        ...

    def call(
        self,
        handle: str,
        method: str,
        params: dict[str, Any],
        timeout_ms: int | None = None,
        agent_runtime: World | None = None,
    ) -> CallOutcome:
        """Call one plugin method through the host's public API; ``agent_runtime`` runs this call
        with a fresh in-memory runtime built from that World instead of the handle's."""
        ...

    def call_many(
        self,
        handle: str,
        calls: Sequence[Call],
        timeout_ms: int | None = None,
    ) -> list[CallOutcome]:
        """Issue several calls without waiting for each answer (pipelined); outcomes in order."""
        ...

    def bench(
        self, handle: str, method: str, params: dict[str, Any], iterations: int, warmup: int
    ) -> list[int]:
        """Nanoseconds per call, measured with the host's own monotonic clock."""
        ...

    def bench_pipe(self, command: Sequence[str], payload: str, iterations: int, warmup: int) -> list[int]:
        """Nanoseconds per line ping-pong with ``command`` (the IPC floor)."""
        ...

    def bench_noop(self, handle: str, iterations: int, warmup: int) -> list[int]:
        """Nanoseconds per no-op call into an in-process (ffi/wasm) plugin (the floor)."""
        ...

    def bench_json(self, params: dict[str, Any], result: Any, iterations: int, warmup: int) -> list[int]:
        """Nanoseconds of the JSON work this host does for one in-process (ffi/wasm) call of
        ``params`` answered with ``result``: encode every argument but the name (an empty
        object excepted) and decode the answer's envelope ``{"result": ...}`` (the ``json`` part
        of the ``noop+json`` floor)."""
        ...

    def bench_throughput(
        self,
        handle: str,
        method: str,
        params: dict[str, Any],
        in_flight: int,
        calls: int,
        warmup: int,
    ) -> int:
        """Nanoseconds the host took for ``calls`` calls with ``in_flight`` of them outstanding
        (each of ``in_flight`` workers issues its next call when its last one is answered),
        after ``warmup`` untimed calls made the same way; the host's own clock."""
        ...

    def unload(self, handle: str) -> None:
        """Close the plugin (its child process, if any, is reaped)."""
        ...

    def close(self) -> None:
        """Unload everything and stop the driver; idempotent."""
        ...


def fixture_spec(
    toolchains: Toolchains, fixture: str, language: str, transport: str, runtime: str | None = None
) -> PluginSpec:
    """PluginSpec of a fixture plugin; raises ToolchainError naming the build when it is missing."""
    path = toolchains.fixture_path(fixture, language, transport, runtime)
    if language == "rust" and transport == "ipc":
        return PluginSpec(transport="ipc", language="rust", command=(str(path),))
    return PluginSpec(
        transport=transport,
        language=language,
        path=str(path),
        runtime=runtime if language == "typescript" else None,
    )
