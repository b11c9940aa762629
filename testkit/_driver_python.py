"""The Python host, in-process: the public ``elizaos_interop`` API on an event loop of its own."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from testkit._driver_api import METHODS, Call, CallOutcome, DriverError, PluginSpec, World, split_call
from testkit._toolchains import Toolchains

if TYPE_CHECKING:
    from elizaos_interop import InMemoryRuntime, LoadedPlugin

__all__ = ["PythonDriver"]


def _outcome_from_exception(exc: BaseException) -> CallOutcome:
    code = getattr(exc, "code", None)
    return CallOutcome(
        ok=False,
        error_type=type(exc).__name__,
        code=code if isinstance(code, int) else None,
        message=str(exc),
        data=getattr(exc, "data", None),
    )


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


#: Protocol method -> the LoadedPlugin method that calls it.
_API_NAMES: dict[str, str] = {
    "init": "init",
    "validateAction": "validate_action",
    "invokeAction": "invoke_action",
    "getProvider": "get_provider",
    "validateEvaluator": "validate_evaluator",
    "invokeEvaluator": "invoke_evaluator",
}


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
        self._plugins: dict[str, LoadedPlugin] = {}
        self._specs: dict[str, PluginSpec] = {}
        self._runtimes: dict[str, InMemoryRuntime] = {}  # handle -> the runtime from load's World
        self._ids = itertools.count(1)
        self._closed = False

    @property
    def alive(self) -> bool:
        """True until :meth:`close` (the in-process host cannot die on its own)."""
        return not self._closed

    # -- plumbing ------------------------------------------------------------------------------
    def run(self, awaitable: Awaitable[Any]) -> Any:
        """Run a coroutine on this driver's loop (for tests that use the API directly)."""
        return self._loop.run_until_complete(awaitable)

    def plugin(self, handle: str) -> LoadedPlugin:
        """The public plugin object behind a handle (for tests that use the API directly)."""
        try:
            return self._plugins[handle]
        except KeyError:
            raise DriverError(f"unknown plugin handle {handle!r}", host="python", method="call") from None

    def _load(self, spec: PluginSpec, start_timeout: float | None) -> LoadedPlugin:
        """Load through the public loader for ``spec`` (IPC loaders take ``start_timeout``)."""
        api = self._api
        ipc: dict[str, Any] = {} if start_timeout is None else {"start_timeout": start_timeout}
        plugin: LoadedPlugin
        if spec.transport == "ipc" and spec.command is not None:
            plugin = api.load_ipc_plugin(list(spec.command), **ipc)
        elif spec.transport == "ipc" and spec.language == "python" and spec.path is not None:
            plugin = api.load_python_plugin(spec.path, **ipc)
        elif spec.transport == "ipc" and spec.language == "typescript" and spec.path is not None:
            plugin = api.load_ts_plugin(spec.path, runtime=spec.runtime or "node", **ipc)
        elif spec.transport == "ffi" and spec.path is not None:
            plugin = api.load_rust_plugin(spec.path)
        elif spec.transport == "wasm" and spec.path is not None:
            plugin = api.load_wasm_plugin(spec.path)
        else:
            raise DriverError(
                f"cannot load {spec.describe()}: no loader for it", host="python", method="load"
            )
        return plugin

    def agent_runtime(self, handle: str) -> InMemoryRuntime | None:
        """The in-memory runtime built at load from its World (None without one), so tests can
        read its ``calls``."""
        self.plugin(handle)
        return self._runtimes.get(handle)

    def in_memory_runtime(self, world: World, plugin: LoadedPlugin, method: str = "call") -> InMemoryRuntime:
        """``elizaos_interop.InMemoryRuntime(world)`` with ``plugin`` registered in it (so its
        ``composeState`` runs the plugin's providers across the boundary, protocol.md 11.5)."""
        try:
            runtime = self._api.InMemoryRuntime(world)
            self.run(runtime.register_plugin(plugin))
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
        try:
            plugin = self._load(spec, None if timeout_ms is None else timeout_ms / 1000)
        except DriverError:
            raise
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
                    plugin.close()
                raise
        handle = f"py{next(self._ids)}"
        self._plugins[handle] = plugin
        self._specs[handle] = spec
        if runtime is not None:
            self._runtimes[handle] = runtime
        return handle, dict(plugin.manifest)

    def _runtime_for(
        self, handle: str, plugin: LoadedPlugin, agent_runtime: World | None
    ) -> InMemoryRuntime | None:
        """The runtime a call passes: a fresh one from the call's World, else the handle's."""
        if agent_runtime is not None:
            return self.in_memory_runtime(agent_runtime, plugin)
        return self._runtimes.get(handle)

    def _bound(
        self,
        plugin: Any,
        method: str,
        params: dict[str, Any],
        timeout_ms: int | None,
        runtime: Any = None,
    ) -> tuple[Callable[..., Awaitable[Any]], list[Any], dict[str, Any]]:
        """The API method for a protocol method and its arguments; DriverError for an unknown one."""
        if method not in _API_NAMES:
            raise DriverError(
                f"unknown method {method!r}; expected one of {METHODS}", host="python", method="call"
            )
        func = getattr(plugin, _API_NAMES[method])
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
        return func, args, kwargs

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
                return plugin.manifest

            return manifest()
        func, args, kwargs = self._bound(plugin, method, params, timeout_ms, runtime)
        if method == "init":
            # The typed API checks init's result is an object and returns None: report the
            # protocol's result, {}.
            async def init() -> Any:
                value = await func(*args, **kwargs)
                return {} if value is None else value

            return init()
        result: Awaitable[Any] = func(*args, **kwargs)
        return result

    async def _outcome(self, awaitable: Awaitable[Any]) -> CallOutcome:
        try:
            return CallOutcome(ok=True, value=_plain(await awaitable))
        except Exception as exc:
            return _outcome_from_exception(exc)

    async def _call_one(
        self,
        plugin: LoadedPlugin,
        method: str,
        params: dict[str, Any],
        timeout_ms: int | None,
        runtime: InMemoryRuntime | None,
    ) -> CallOutcome:
        """One call's outcome (the API's errors, even when raised before awaiting, are outcomes);
        a method the driver does not know raises DriverError."""
        try:
            invocation = self._invocation(plugin, method, params, timeout_ms, runtime)
        except DriverError:
            raise
        except Exception as exc:
            return _outcome_from_exception(exc)
        return await self._outcome(invocation)

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
        result: CallOutcome = self.run(self._call_one(plugin, method, params, timeout_ms, runtime))
        return result

    def call_many(
        self,
        handle: str,
        calls: Sequence[Call],
        timeout_ms: int | None = None,
    ) -> list[CallOutcome]:
        plugin = self.plugin(handle)
        prepared = [
            (m, p, self._runtime_for(handle, plugin, world)) for m, p, world in map(split_call, calls)
        ]

        async def gather() -> list[CallOutcome]:
            calls = (self._call_one(plugin, m, p, timeout_ms, rt) for m, p, rt in prepared)
            return list(await asyncio.gather(*calls))

        result: list[CallOutcome] = self.run(gather())
        return result

    def bench(
        self, handle: str, method: str, params: dict[str, Any], iterations: int, warmup: int
    ) -> list[int]:
        plugin = self.plugin(handle)
        runtime = self._runtimes.get(handle)
        clock = time.perf_counter_ns

        if method in _API_NAMES and method != "init":
            # The bound method and its arguments are built once, outside the timed loop: a sample
            # holds the API call alone, as a TS or Rust host's loop does.
            func, args, kwargs = self._bound(plugin, method, params, None, runtime)

            def invocation() -> Awaitable[Any]:
                result: Awaitable[Any] = func(*args, **kwargs)
                return result
        else:

            def invocation() -> Awaitable[Any]:
                return self._invocation(plugin, method, params, None, runtime)

        async def loop() -> list[int]:
            for _ in range(warmup):
                await invocation()
            samples: list[int] = []
            for _ in range(iterations):
                start = clock()
                await invocation()
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

    def bench_json(self, params: dict[str, Any], result: Any, iterations: int, warmup: int) -> list[int]:
        from testkit._latency_figures import json_cost_samples

        return json_cost_samples(params, result, iterations, warmup)

    def bench_throughput(
        self,
        handle: str,
        method: str,
        params: dict[str, Any],
        in_flight: int,
        calls: int,
        warmup: int,
    ) -> int:
        if in_flight < 1 or calls < 1 or warmup < 0:
            raise DriverError(
                f"expected in_flight >= 1, calls >= 1 and warmup >= 0, received in_flight={in_flight}, "
                f"calls={calls}, warmup={warmup}",
                host="python",
                method="benchThroughput",
                code=-32602,
            )
        plugin = self.plugin(handle)
        runtime = self._runtimes.get(handle)

        async def run(total: int) -> None:
            left = total

            async def worker() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    await self._invocation(plugin, method, params, None, runtime)

            await asyncio.gather(*(worker() for _ in range(max(1, min(in_flight, total)))))

        async def timed() -> int:
            if warmup:
                await run(warmup)
            start = time.perf_counter_ns()
            await run(calls)
            return time.perf_counter_ns() - start

        try:
            elapsed: int = self.run(timed())
        except Exception as exc:
            raise DriverError(
                f"a call failed: {type(exc).__name__}: {exc}", host="python", method="benchThroughput"
            ) from exc
        return elapsed

    def unload(self, handle: str) -> None:
        plugin = self._plugins.pop(handle, None)
        self._specs.pop(handle, None)
        self._runtimes.pop(handle, None)
        if plugin is not None:
            plugin.close()

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
