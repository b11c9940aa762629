"""Host drivers: one interface over the three hosts (protocol.md section 8).

The Python host runs in-process through the public ``elizaos_interop`` API
(:mod:`testkit._driver_python`). The TypeScript and Rust hosts run as driver processes spoken to
over stdio with the section 8 protocol (:mod:`testkit._driver_process`); the interface and its
value types are in :mod:`testkit._driver_api`.
"""

from __future__ import annotations

from testkit._driver_api import (
    METHODS,
    Call,
    CallOutcome,
    DriverError,
    HostDriver,
    PluginSpec,
    World,
    fixture_spec,
)
from testkit._driver_process import SubprocessDriver
from testkit._driver_python import PythonDriver
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


def open_driver(cell_host: str, runtime: str | None, toolchains: Toolchains) -> HostDriver:
    """Start the driver for a host language (python: in-process; else a driver process)."""
    if cell_host == "python":
        return PythonDriver(toolchains)
    argv = toolchains.driver_command(cell_host, runtime)
    return SubprocessDriver(argv, host=cell_host, env=toolchains.env(), cwd=toolchains.repo_root)
