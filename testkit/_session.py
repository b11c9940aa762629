"""Per-worker state of a conformance run: host drivers and loaded plugins, opened lazily, cached
(errors included, so one missing artifact fails every check of its cell quickly with the same
message), and all closed at the end of the session.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit._drivers import (
    CallOutcome,
    DriverError,
    HostDriver,
    PluginSpec,
    PythonDriver,
    World,
    fixture_spec,
    open_driver,
)
from testkit._matrix import Cell
from testkit._toolchains import ToolchainError, Toolchains

__all__ = ["CellError", "InteropSession", "LoadedRef", "child_processes", "reap_children"]

#: Time-out for loading a fixture plugin (start + manifest), generous for a busy 2-core machine.
LOAD_TIMEOUT_MS = 20_000


class CellError(RuntimeError):
    """A cell cannot run: its driver, runtime or artifact is missing, or loading failed."""


@dataclass(frozen=True)
class LoadedRef:
    """A plugin loaded in a host driver."""

    cell: Cell
    fixture: str
    driver: HostDriver
    handle: str
    manifest: dict[str, Any]
    spec: PluginSpec

    def call(
        self,
        method: str,
        params: dict[str, Any],
        timeout_ms: int | None = 20_000,
        agent_runtime: World | None = None,
    ) -> CallOutcome:
        """One call through the host's public API (``agent_runtime``: a World this call's fresh
        in-memory runtime is built from, protocol.md section 8)."""
        return self.driver.call(self.handle, method, params, timeout_ms, agent_runtime)

    def call_raw(self, method: str, params: dict[str, Any], timeout_ms: int | None = 20_000) -> CallOutcome:
        """Send params as they are (for invalid-params checks): the Python host bypasses its typed
        API's argument checks; the driver hosts forward ``params`` unchanged by protocol."""
        if isinstance(self.driver, PythonDriver):
            return self.driver.call_raw(self.handle, method, params, timeout_ms)
        return self.driver.call(self.handle, method, params, timeout_ms)


class InteropSession:
    """Drivers and plugins of one pytest session (one per xdist worker)."""

    def __init__(self, toolchains: Toolchains) -> None:
        self.toolchains = toolchains
        self._drivers: dict[tuple[str, str | None], HostDriver | BaseException] = {}
        self._plugins: dict[tuple[str, str], LoadedRef | BaseException] = {}

    def driver(self, cell: Cell) -> HostDriver:
        """The (cached) host driver of a cell; raises CellError naming what is missing."""
        key = (cell.host, cell.host_runtime)
        current = self._drivers.get(key)
        if current is not None and not isinstance(current, BaseException) and not current.alive:
            # The driver died during an earlier check (which failed and said so): start a new one so
            # one broken call does not fail every later check of the cell.
            for pkey, ref in list(self._plugins.items()):
                if isinstance(ref, LoadedRef) and ref.driver is current:
                    del self._plugins[pkey]
            with contextlib.suppress(Exception):
                current.close()
            del self._drivers[key]
        if key not in self._drivers:
            try:
                self._drivers[key] = open_driver(cell.host, cell.host_runtime, self.toolchains)
            except (ToolchainError, DriverError, ImportError, OSError) as exc:
                self._drivers[key] = CellError(f"{cell.id}: cannot start the {cell.host} host: {exc}")
        value = self._drivers[key]
        if isinstance(value, BaseException):
            raise value
        return value

    def spec(self, cell: Cell, fixture: str) -> PluginSpec:
        """PluginSpec of a fixture for a cell (a third-party cell's own plugin whatever ``fixture``
        says); raises CellError when the artifact is missing."""
        try:
            if cell.third_party is not None:
                from testkit._thirdparty import plugin_spec

                return plugin_spec(cell, self.toolchains)
            return fixture_spec(self.toolchains, fixture, cell.plugin, cell.transport, cell.plugin_runtime)
        except ToolchainError as exc:
            raise CellError(f"{cell.id}: {exc}") from exc

    def load_new(
        self, cell: Cell, fixture: str = "conformance", agent_runtime: World | None = None
    ) -> LoadedRef:
        """A fresh, uncached instance (for checks that kill or wedge their plugin); with
        ``agent_runtime`` every call passes the in-memory runtime built from that World."""
        driver = self.driver(cell)
        spec = self.spec(cell, fixture)
        try:
            handle, manifest = driver.load(spec, timeout_ms=LOAD_TIMEOUT_MS, agent_runtime=agent_runtime)
        except DriverError as exc:
            raise CellError(f"{cell.id}: {exc}") from exc
        return LoadedRef(cell, fixture, driver, handle, manifest, spec)

    def plugin(self, cell: Cell, fixture: str = "conformance") -> LoadedRef:
        """The shared (cached) instance of a fixture plugin in a cell."""
        key = (cell.id, fixture)
        with contextlib.suppress(CellError):  # a missing driver is cached below as this plugin's error
            self.driver(cell)  # restarts a driver that died, dropping the plugins it held
        if key not in self._plugins:
            try:
                self._plugins[key] = self.load_new(cell, fixture)
            except CellError as exc:
                self._plugins[key] = exc
        value = self._plugins[key]
        if isinstance(value, BaseException):
            raise value
        return value

    def forget(self, cell: Cell, fixture: str = "conformance") -> None:
        """Drop a cached plugin (after a check broke it); it is unloaded."""
        value = self._plugins.pop((cell.id, fixture), None)
        if isinstance(value, LoadedRef):
            with contextlib.suppress(Exception):
                value.driver.unload(value.handle)

    @contextlib.contextmanager
    def fresh(
        self, cell: Cell, fixture: str = "conformance", agent_runtime: World | None = None
    ) -> Iterator[LoadedRef]:
        """Load a private instance, unload it afterwards whatever happened to it."""
        ref = self.load_new(cell, fixture, agent_runtime)
        try:
            yield ref
        finally:
            with contextlib.suppress(Exception):
                ref.driver.unload(ref.handle)

    def close(self) -> list[str]:
        """Unload every plugin and close every driver; returns the problems seen (never raises)."""
        problems: list[str] = []
        for key, value in list(self._plugins.items()):
            if isinstance(value, LoadedRef):
                if not value.driver.alive:
                    continue  # the driver died during a check, which reported it; close() reaps it
                try:
                    value.driver.unload(value.handle)
                except Exception as exc:
                    problems.append(f"unloading {key[1]} in {key[0]}: {exc}")
        self._plugins.clear()
        for dkey, driver in list(self._drivers.items()):
            if not isinstance(driver, BaseException):
                try:
                    driver.close()
                except Exception as exc:
                    problems.append(f"closing the {dkey[0]} host driver: {exc}")
        self._drivers.clear()
        return problems


def child_processes(pid: int | None = None) -> list[tuple[int, str, str]]:
    """Direct children of ``pid`` (default: this process) as (pid, state, command line), from /proc."""
    parent = os.getpid() if pid is None else pid
    found: list[tuple[int, str, str]] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
            # pid (comm) state ppid ...: comm may contain spaces and parentheses
            rest = stat[stat.rindex(")") + 2 :].split()
            state, ppid = rest[0], int(rest[1])
            if ppid != parent:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except (OSError, ValueError, IndexError):
            continue
        found.append((int(entry.name), state, cmdline or stat[stat.index("(") : stat.rindex(")") + 1]))
    return sorted(found)


def reap_children(children: list[tuple[int, str, str]], grace_s: float = 2.0) -> None:
    """Kill and reap leftover children (after reporting them), so none outlives the session."""
    for pid, _state, _cmd in children:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + grace_s
    pending = {pid for pid, _s, _c in children}
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pending.discard(pid)
                continue
            if done:
                pending.discard(pid)
        if pending:
            time.sleep(0.02)
