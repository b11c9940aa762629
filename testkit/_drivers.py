"""Host drivers: one interface over the three hosts (protocol.md section 8).

The Python host runs in-process through the public ``elizaos_interop`` API, on an event loop of its
own. The TypeScript and Rust hosts run as driver processes spoken to over stdio with the section 8
protocol; every request has a time-out, the driver's stderr is kept for error messages, and the
process is reaped on :meth:`HostDriver.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import itertools
import json
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from testkit._toolchains import Toolchains

__all__ = [
    "METHODS",
    "Call",
    "CallOutcome",
    "DriverError",
    "HostDriver",
    "PluginSpec",
    "PythonDriver",
    "SubprocessDriver",
    "World",
    "fixture_spec",
    "open_driver",
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
_STDERR_KEEP = 64 * 1024
_DEFAULT_CALL_MS = 30_000
_DEFAULT_LOAD_MS = 10_000

#: A World (docs/schemas/runtime-world.schema.json): what a host builds its in-memory agent runtime
#: from (protocol.md 11.5). Drivers pass it as ``agentRuntime`` (section 8).
World = dict[str, Any]
#: One call of :meth:`HostDriver.call_many`: ``(method, params)``, or ``(method, params, world)``
#: to run that call with a fresh in-memory runtime built from ``world``.
Call = tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], World | None]


def _split_call(call: Call) -> tuple[str, dict[str, Any], World | None]:
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


def open_driver(cell_host: str, runtime: str | None, toolchains: Toolchains) -> HostDriver:
    """Start the driver for a host language (python: in-process; else a driver process)."""
    if cell_host == "python":
        return PythonDriver(toolchains)
    argv = toolchains.driver_command(cell_host, runtime)
    return SubprocessDriver(argv, host=cell_host, env=toolchains.env(), cwd=toolchains.repo_root)


# ------------------------------------------------------------------------------------------
# Python host, in-process
# ------------------------------------------------------------------------------------------


def _outcome_from_exception(exc: BaseException) -> CallOutcome:
    code = getattr(exc, "code", None)
    return CallOutcome(
        ok=False,
        error_type=type(exc).__name__,
        code=code if isinstance(code, int) else None,
        message=str(exc),
        data=getattr(exc, "data", None),
    )


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def _plain(value: Any) -> Any:
    """Turn the API's read-only ``Result`` mappings into plain JSON values."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return _plain(to_dict())
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _accepts(func: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


class PythonDriver:
    """The Python host, in-process: the public ``elizaos_interop`` API on a private event loop."""

    host = "python"

    def __init__(self, toolchains: Toolchains) -> None:
        import platform

        import elizaos_interop

        self._api = elizaos_interop
        self._toolchains = toolchains
        toolchains.apply_env()
        self.runtime = f"{platform.python_implementation().lower()} {platform.python_version()}"
        self._loop = asyncio.new_event_loop()
        self._plugins: dict[str, Any] = {}
        self._specs: dict[str, PluginSpec] = {}
        self._runtimes: dict[str, Any] = {}  # handle -> InMemoryRuntime from load's World
        self._ids = itertools.count(1)
        self._closed = False

    # -- plumbing ------------------------------------------------------------------------------
    def run(self, awaitable: Awaitable[Any]) -> Any:
        """Run a coroutine on this driver's loop (for tests that use the API directly)."""
        return self._loop.run_until_complete(_maybe_await(awaitable))

    def plugin(self, handle: str) -> Any:
        """The public plugin object behind a handle (for tests that use the API directly)."""
        try:
            return self._plugins[handle]
        except KeyError:
            raise DriverError(f"unknown plugin handle {handle!r}", host="python", method="call") from None

    def _loader(self, spec: PluginSpec) -> Callable[..., Any]:
        api = self._api
        if spec.transport == "ipc":
            if spec.command is not None:
                return lambda **kw: api.load_ipc_plugin(list(spec.command or ()), **kw)
            if spec.language == "python":
                return lambda **kw: api.load_python_plugin(spec.path, **kw)
            if spec.language == "typescript":
                return lambda **kw: api.load_ts_plugin(spec.path, runtime=spec.runtime or "node", **kw)
        if spec.transport == "ffi" and spec.path is not None:
            return lambda **kw: api.load_rust_plugin(spec.path, **kw)
        if spec.transport == "wasm" and spec.path is not None:
            return lambda **kw: api.load_wasm_plugin(spec.path, **kw)
        raise DriverError(f"cannot load {spec.describe()}: no loader for it", host="python", method="load")

    def _loader_func(self, spec: PluginSpec) -> Callable[..., Any]:
        api = self._api
        if spec.transport == "ipc":
            if spec.command is not None:
                return api.load_ipc_plugin  # type: ignore[no-any-return]
            return api.load_python_plugin if spec.language == "python" else api.load_ts_plugin  # type: ignore[no-any-return]
        return api.load_rust_plugin if spec.transport == "ffi" else api.load_wasm_plugin  # type: ignore[no-any-return]

    def agent_runtime(self, handle: str) -> Any:
        """The in-memory runtime built at load from its World (None without one), so tests can
        read its ``calls``."""
        self.plugin(handle)
        return self._runtimes.get(handle)

    def in_memory_runtime(self, world: World, plugin: Any, method: str = "call") -> Any:
        """``elizaos_interop.InMemoryRuntime(world)`` with ``plugin`` registered in it (so its
        ``composeState`` runs the plugin's providers across the boundary, protocol.md 11.5)."""
        runtime_class = getattr(self._api, "InMemoryRuntime", None)  # looked up late: optional
        if runtime_class is None:
            raise DriverError(
                "cannot build an in-memory runtime: elizaos_interop has no InMemoryRuntime "
                "(protocol.md 11.5)",
                host="python",
                method=method,
            )
        try:
            runtime = runtime_class(world)
            register = getattr(runtime, "register_plugin", None) or getattr(runtime, "registerPlugin", None)
            if not callable(register):
                raise TypeError("InMemoryRuntime has neither register_plugin nor registerPlugin")
            self.run(_maybe_await(register(plugin)))
        except Exception as exc:
            raise DriverError(
                f"building InMemoryRuntime from the World {json.dumps(world)[:200]} failed: "
                f"{type(exc).__name__}: {exc}",
                host="python",
                method=method,
            ) from exc
        return runtime

    # -- HostDriver ----------------------------------------------------------------------------
    def load(
        self, spec: PluginSpec, timeout_ms: int | None = None, agent_runtime: World | None = None
    ) -> tuple[str, dict[str, Any]]:
        loader = self._loader(spec)
        kwargs: dict[str, Any] = {}
        if timeout_ms is not None and spec.transport == "ipc":
            func = self._loader_func(spec)
            if _accepts(func, "start_timeout"):
                kwargs["start_timeout"] = timeout_ms / 1000
        try:
            plugin = self.run(loader(**kwargs))
            manifest = plugin.manifest
            if callable(manifest):
                manifest = self.run(manifest())
        except Exception as exc:
            raise DriverError(
                f"loading {spec.describe()} failed: {type(exc).__name__}: {exc}",
                host="python",
                method="load",
            ) from exc
        runtime = None
        if agent_runtime is not None:
            try:
                runtime = self.in_memory_runtime(agent_runtime, plugin, "load")
            except DriverError:
                with contextlib.suppress(Exception):
                    close = getattr(plugin, "close", None)
                    if callable(close):
                        self.run(_maybe_await(close()))
                raise
        handle = f"py{next(self._ids)}"
        self._plugins[handle] = plugin
        self._specs[handle] = spec
        if runtime is not None:
            self._runtimes[handle] = runtime
        return handle, dict(manifest)

    def _runtime_for(self, handle: str, plugin: Any, agent_runtime: World | None) -> Any:
        """The runtime a call passes: a fresh one from the call's World, else the handle's."""
        if agent_runtime is not None:
            return self.in_memory_runtime(agent_runtime, plugin)
        return self._runtimes.get(handle)

    def _invocation(
        self,
        plugin: Any,
        method: str,
        params: dict[str, Any],
        timeout_ms: int | None,
        runtime: Any = None,
    ) -> Awaitable[Any]:
        if method == "getManifest":

            async def manifest() -> Any:
                value = plugin.manifest
                return await _maybe_await(value() if callable(value) else value)

            return manifest()
        names = {
            "init": "init",
            "validateAction": "validate_action",
            "invokeAction": "invoke_action",
            "getProvider": "get_provider",
            "validateEvaluator": "validate_evaluator",
            "invokeEvaluator": "invoke_evaluator",
        }
        if method not in names:
            raise DriverError(
                f"unknown method {method!r}; expected one of {METHODS}", host="python", method="call"
            )
        func = getattr(plugin, names[method])
        kwargs: dict[str, Any] = {}
        if timeout_ms is not None:
            kwargs["timeout"] = timeout_ms / 1000
        if method == "init":
            args: list[Any] = [params.get("config", {})]
        else:
            args = [params.get("name"), params.get("memory"), params.get("state", {})]
            if method == "invokeAction":
                args.append(params.get("options", {}))
            if runtime is not None:  # protocol.md 7.1: the runtime travels with the call
                kwargs["runtime"] = runtime
        if method == "init":
            # The typed API checks init's result is an object and returns None: report the
            # protocol's result, {}.
            async def init() -> Any:
                value = await _maybe_await(func(*args, **kwargs))
                return {} if value is None else value

            return init()
        return _maybe_await(func(*args, **kwargs))

    async def _outcome(self, awaitable: Awaitable[Any]) -> CallOutcome:
        try:
            return CallOutcome(ok=True, value=_plain(await awaitable))
        except Exception as exc:
            return _outcome_from_exception(exc)

    def call_raw(
        self, handle: str, method: str, params: dict[str, Any], timeout_ms: int | None = None
    ) -> CallOutcome:
        """Send ``params`` as they are through the plugin's transport, bypassing the typed API's
        argument checks (for invalid-params checks: the plugin must answer -32602 itself)."""
        transport = self.plugin(handle).transport
        timeout = None if timeout_ms is None else timeout_ms / 1000
        result: CallOutcome = self.run(self._outcome(transport.call(method, params, timeout)))
        return result

    def call(
        self,
        handle: str,
        method: str,
        params: dict[str, Any],
        timeout_ms: int | None = None,
        agent_runtime: World | None = None,
    ) -> CallOutcome:
        plugin = self.plugin(handle)
        runtime = self._runtime_for(handle, plugin, agent_runtime)
        try:
            invocation = self._invocation(plugin, method, params, timeout_ms, runtime)
        except DriverError:
            raise
        except Exception as exc:
            return _outcome_from_exception(exc)
        result: CallOutcome = self.run(self._outcome(invocation))
        return result

    def call_many(
        self,
        handle: str,
        calls: Sequence[Call],
        timeout_ms: int | None = None,
    ) -> list[CallOutcome]:
        plugin = self.plugin(handle)
        prepared = [
            (m, p, self._runtime_for(handle, plugin, world)) for m, p, world in map(_split_call, calls)
        ]

        async def one(method: str, params: dict[str, Any], runtime: Any) -> CallOutcome:
            try:
                invocation = self._invocation(plugin, method, params, timeout_ms, runtime)
            except DriverError:
                raise
            except Exception as exc:
                return _outcome_from_exception(exc)
            return await self._outcome(invocation)

        async def gather() -> list[CallOutcome]:
            return list(await asyncio.gather(*(one(m, p, rt) for m, p, rt in prepared)))

        result: list[CallOutcome] = self.run(gather())
        return result

    def bench(
        self, handle: str, method: str, params: dict[str, Any], iterations: int, warmup: int
    ) -> list[int]:
        plugin = self.plugin(handle)
        runtime = self._runtimes.get(handle)
        clock = time.perf_counter_ns

        async def loop() -> list[int]:
            for _ in range(warmup):
                await self._invocation(plugin, method, params, None, runtime)
            samples: list[int] = []
            for _ in range(iterations):
                start = clock()
                await self._invocation(plugin, method, params, None, runtime)
                samples.append(clock() - start)
            return samples

        result: list[int] = self.run(loop())
        return result

    def bench_pipe(self, command: Sequence[str], payload: str, iterations: int, warmup: int) -> list[int]:
        line = (payload + "\n").encode("utf-8")
        clock = time.perf_counter_ns

        async def loop() -> list[int]:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=max(len(line) * 2, 1 << 20),
            )
            assert proc.stdin is not None
            assert proc.stdout is not None
            samples: list[int] = []
            try:
                for i in range(warmup + iterations):
                    start = clock()
                    proc.stdin.write(line)
                    await proc.stdin.drain()
                    echoed = await proc.stdout.readline()
                    elapsed = clock() - start
                    if not echoed:
                        raise DriverError(
                            f"{list(command)} closed its stdout during the pipe floor",
                            host="python",
                            method="benchPipe",
                        )
                    if i >= warmup:
                        samples.append(elapsed)
            finally:
                proc.stdin.close()
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            return samples

        result: list[int] = self.run(loop())
        return result

    def bench_noop(self, handle: str, iterations: int, warmup: int) -> list[int]:
        plugin = self.plugin(handle)
        spec = self._specs[handle]
        # FfiTransport.noop is elizaos_free_string(NULL), WasmTransport.noop is dealloc(1, 0).
        candidate = getattr(getattr(plugin, "transport", None), "noop", None)
        noop = candidate if callable(candidate) else None
        if noop is None or spec.transport == "ipc":
            raise DriverError(
                f"no no-op floor for {spec.describe()}: only ffi and wasm transports have one "
                "(plugin.transport.noop())",
                host="python",
                method="benchNoop",
                code=-32602,
            )
        clock = time.perf_counter_ns
        for _ in range(warmup):
            noop()
        samples: list[int] = []
        for _ in range(iterations):
            start = clock()
            noop()
            samples.append(clock() - start)
        return samples

    def unload(self, handle: str) -> None:
        plugin = self._plugins.pop(handle, None)
        self._specs.pop(handle, None)
        self._runtimes.pop(handle, None)
        if plugin is not None:
            close = getattr(plugin, "close", None)
            if callable(close):
                self.run(_maybe_await(close()))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        errors: list[str] = []
        for handle in list(self._plugins):
            try:
                self.unload(handle)
            except Exception as exc:  # keep closing the others
                errors.append(f"{handle}: {exc}")
        with contextlib.suppress(Exception):
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()
        if errors:
            raise DriverError("closing plugins failed: " + "; ".join(errors), host="python", method="unload")


# ------------------------------------------------------------------------------------------
# TypeScript and Rust hosts, as driver processes
# ------------------------------------------------------------------------------------------


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
        self._stderr = bytearray()
        self._dead: str | None = None
        self._closed = False
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=cwd,
                bufsize=0,
            )
        except OSError as exc:
            raise DriverError(f"cannot start {self.argv}: {exc}", host=host, method="start") from exc
        self._stdout_thread = threading.Thread(
            target=self._read_stdout, daemon=True, name=f"{host}-driver-stdout"
        )
        self._stderr_thread = threading.Thread(
            target=self._read_stderr, daemon=True, name=f"{host}-driver-stderr"
        )
        self._stdout_thread.start()
        self._stderr_thread.start()
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
        with self._lock:
            return self._stderr.decode("utf-8", "replace")

    # -- reader threads ------------------------------------------------------------------------
    def _read_stderr(self) -> None:
        stream = self._proc.stderr
        assert stream is not None
        while True:
            chunk = stream.read(4096)
            if not chunk:
                return
            with self._lock:
                self._stderr += chunk
                if len(self._stderr) > _STDERR_KEEP:
                    del self._stderr[: len(self._stderr) - _STDERR_KEEP]

    def _fail_all(self, reason: str) -> None:
        with self._lock:
            if self._dead is None:
                self._dead = reason
            pending = list(self._pending.values())
            self._pending.clear()
        for slot in pending:
            slot.event.set()

    def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        # Buffered: readline on the unbuffered pipe (bufsize=0) reads one byte per syscall,
        # about a second per MiB of answer.
        stream = io.BufferedReader(self._proc.stdout, 1 << 16)  # type: ignore[type-var]
        for raw in iter(stream.readline, b""):
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
                    stderr_tail=self._stderr.decode("utf-8", "replace"),
                )
            self._pending[msg_id] = slot
        line = json.dumps(
            {"id": msg_id, "method": method, "params": params}, ensure_ascii=False, allow_nan=False
        )
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            with self._write_lock:
                stdin.write(line.encode("utf-8") + b"\n")
                stdin.flush()
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
            result = self.request("load", params, timeout_s=(timeout_ms or _DEFAULT_LOAD_MS) / 1000 + 30)
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
            timeout_s=(timeout_ms or _DEFAULT_CALL_MS) / 1000 + 30,
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
            for m, p, world in map(_split_call, calls)
        ]
        results = self.request_many(requests, timeout_s=(timeout_ms or _DEFAULT_CALL_MS) / 1000 + 30)
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

    def unload(self, handle: str) -> None:
        self.request("unload", {"plugin": handle}, timeout_s=30)

    def _kill(self, reason: str) -> None:
        self._fail_all(reason)
        with contextlib.suppress(OSError):
            self._proc.kill()

    def close(self) -> None:
        """Close stdin (the driver unloads everything and exits), then terminate/kill; always reap."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._stdout_thread.join(timeout=5)
        self._stderr_thread.join(timeout=5)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._fail_all("driver is closed")

    def __enter__(self) -> SubprocessDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
