"""Where the toolchains, host drivers and fixture artifacts live, and how to build the missing ones.

Nothing here builds anything: the noxfile does. A missing piece is reported as a
:class:`ToolchainError` naming the thing, the place looked at, and the command that builds it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from testkit._matrix import Cell

__all__ = [
    "FIXTURES",
    "Requirement",
    "ToolchainError",
    "Toolchains",
    "find_repo_root",
]

#: Fixture plugins every language ships (protocol.md section 9).
FIXTURES: tuple[str, ...] = ("conformance", "eliza-classic")

BUILD_RUST = "nox -s build_rust_ffi build_rust_ipc (one cargo build of every native artifact)"
BUILD_WASM = "nox -s build_rust_wasm (runs plugins/rust/build-wasm.sh)"
BUILD_NPM = "nox -s build_typescript (npm ci --prefix plugins/typescript)"
BUILD_PY = "pip install -e 'plugins/python[all]' (nox -s tests and conformance do it)"

_RUST_CRATE = {"conformance": "elizaos_plugin_conformance", "eliza-classic": "elizaos_plugin_eliza_classic"}
_RUST_IPC_BIN = {"conformance": "conformance-ipc", "eliza-classic": "eliza-classic-ipc"}
_PY_FIXTURE = {
    "conformance": "plugins/python/fixtures/conformance_plugin.py",
    "eliza-classic": "plugins/python/fixtures/eliza_classic",
}
_TS_FIXTURE = {
    "conformance": "plugins/typescript/fixtures/conformance.ts",
    "eliza-classic": "plugins/typescript/fixtures/eliza-classic/plugin.ts",
}


class ToolchainError(RuntimeError):
    """A toolchain, driver or artifact a cell needs is missing; says what, where, and how to build."""


@dataclass(frozen=True)
class Requirement:
    """One thing a cell needs, where it is expected, and whether it is present now."""

    what: str
    path: str
    present: bool
    build: str

    def error(self) -> ToolchainError:
        """The error raised when this requirement is not met."""
        return ToolchainError(f"{self.what} is missing: expected at {self.path}; build it with: {self.build}")


def find_repo_root(start: Path | None = None) -> Path:
    """The repository root: the first parent of ``start`` (default: cwd, then this file) with
    ``docs/protocol.md`` and ``matrices/``."""
    candidates = [start or Path.cwd(), Path(__file__).resolve().parent]
    for base in candidates:
        for directory in (base.resolve(), *base.resolve().parents):
            if (directory / "docs" / "protocol.md").is_file() and (directory / "matrices").is_dir():
                return directory
    raise ToolchainError(
        f"cannot find the repository root (a directory with docs/protocol.md and matrices/) "
        f"above {candidates[0]} or {candidates[1]}"
    )


def _from_env_or(env: Mapping[str, str], name: str, default: Path) -> Path:
    value = env.get(name)
    if value:
        found = shutil.which(value) if os.sep not in value else value
        return Path(found or value)
    return default


@dataclass(frozen=True)
class Toolchains:
    """Paths of everything the testkit runs, discovered from the repo layout and ``ELIZAOS_*`` env."""

    repo_root: Path
    python: Path
    node: Path
    bun: Path
    ts_bridge: Path
    ts_host_driver: Path
    rust_target_dir: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def discover(cls, repo_root: Path | None = None, env: Mapping[str, str] | None = None) -> Toolchains:
        """Find every toolchain; missing ones are reported later, when a cell needs them."""
        env = os.environ if env is None else env
        root = (repo_root or find_repo_root()).resolve()
        bin_dir = root / "plugins" / "typescript" / "node_modules" / ".bin"
        target = env.get("ELIZAOS_RUST_TARGET_DIR") or str(root / "plugins" / "rust" / "target")
        return cls(
            repo_root=root,
            python=Path(sys.executable),
            node=_from_env_or(env, "ELIZAOS_NODE", bin_dir / "node"),
            bun=_from_env_or(env, "ELIZAOS_BUN", bin_dir / "bun"),
            ts_bridge=_from_env_or(
                env, "ELIZAOS_TS_BRIDGE", root / "plugins" / "typescript" / "src" / "bridge-server.ts"
            ),
            ts_host_driver=root / "plugins" / "typescript" / "driver" / "host-driver.ts",
            rust_target_dir=Path(target).resolve(),
        )

    # -- environment -----------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """The environment for every driver and loader: os.environ plus the ``ELIZAOS_*`` paths."""
        env = dict(os.environ)
        env.update(
            {
                "ELIZAOS_PYTHON": str(self.python),
                "ELIZAOS_NODE": str(self.node),
                "ELIZAOS_BUN": str(self.bun),
                "ELIZAOS_TS_BRIDGE": str(self.ts_bridge),
                "ELIZAOS_RUST_TARGET_DIR": str(self.rust_target_dir),
            }
        )
        env.update(self.extra_env)
        return env

    def apply_env(self) -> None:
        """Export the ``ELIZAOS_*`` variables into this process (for the in-process Python host)."""
        for key, value in self.env().items():
            if key.startswith("ELIZAOS_"):
                os.environ[key] = value

    # -- runtimes and drivers ----------------------------------------------------------------
    def ts_runtime(self, runtime: str | None) -> Path:
        """The Node or Bun binary for a TypeScript runtime name."""
        return self.bun if runtime == "bun" else self.node

    def runtime_requirement(self, runtime: str | None) -> Requirement:
        """Node 22 / Bun binary as a requirement."""
        name = runtime or "node"
        path = self.ts_runtime(name)
        what = "Bun" if name == "bun" else "Node 22"
        return Requirement(what, str(path), _executable(path), BUILD_NPM)

    @property
    def rust_host_driver(self) -> Path:
        """The Rust host driver binary."""
        return self.rust_target_dir / "release" / _exe("elizaos-host-driver")

    def driver_requirements(self, host: str, runtime: str | None) -> list[Requirement]:
        """What starting the host driver for ``host`` needs."""
        if host == "python":
            try:
                import elizaos_interop  # noqa: F401
            except ImportError:
                return [Requirement("the Python runtime elizaos_interop", "importable", False, BUILD_PY)]
            return [Requirement("the Python runtime elizaos_interop", "importable", True, BUILD_PY)]
        if host == "typescript":
            return [
                self.runtime_requirement(runtime),
                Requirement(
                    "the TypeScript host driver",
                    str(self.ts_host_driver),
                    self.ts_host_driver.is_file(),
                    "it is source: plugins/typescript/driver/host-driver.ts",
                ),
            ]
        if host == "rust":
            return [
                Requirement(
                    "the Rust host driver",
                    str(self.rust_host_driver),
                    _executable(self.rust_host_driver),
                    BUILD_RUST,
                )
            ]
        raise ValueError(f"unknown host language {host!r}; expected python, typescript or rust")

    def driver_command(self, host: str, runtime: str | None) -> list[str]:
        """argv that starts the host driver for ``host``; raises ToolchainError when missing."""
        for req in self.driver_requirements(host, runtime):
            if not req.present:
                raise req.error()
        if host == "typescript":
            return [str(self.ts_runtime(runtime)), str(self.ts_host_driver)]
        if host == "rust":
            return [str(self.rust_host_driver)]
        raise ValueError(f"host {host!r} has no driver process (the Python host runs in-process)")

    # -- fixture artifacts -------------------------------------------------------------------
    def fixture_requirements(
        self, fixture: str, language: str, transport: str, runtime: str | None
    ) -> list[Requirement]:
        """What loading fixture plugin ``fixture`` in ``language`` over ``transport`` needs."""
        if fixture not in FIXTURES:
            raise ValueError(f"unknown fixture {fixture!r}; expected one of {FIXTURES}")
        reqs: list[Requirement] = []
        if language == "rust":
            crate = _RUST_CRATE[fixture]
            if transport == "ffi":
                path = self.rust_target_dir / "release" / _dylib(crate)
                reqs.append(
                    Requirement(f"the Rust {fixture} FFI library", str(path), path.is_file(), BUILD_RUST)
                )
            elif transport == "wasm":
                path = self.rust_target_dir / "wasm32-unknown-unknown" / "release" / f"{crate}.wasm"
                reqs.append(
                    Requirement(
                        f"the Rust {fixture} WASM module",
                        str(path),
                        path.is_file(),
                        BUILD_WASM.replace("<crate>", crate.replace("_", "-")),
                    )
                )
            elif transport == "ipc":
                path = self.rust_target_dir / "release" / _exe(_RUST_IPC_BIN[fixture])
                reqs.append(
                    Requirement(f"the Rust {fixture} IPC server", str(path), _executable(path), BUILD_RUST)
                )
        elif language == "python":
            path = self.repo_root / _PY_FIXTURE[fixture]
            reqs.append(
                Requirement(
                    f"the Python {fixture} fixture",
                    str(path),
                    path.exists(),
                    "it is source: " + _PY_FIXTURE[fixture],
                )
            )
        elif language == "typescript":
            path = self.repo_root / _TS_FIXTURE[fixture]
            reqs.append(
                Requirement(
                    f"the TypeScript {fixture} fixture",
                    str(path),
                    path.is_file(),
                    "it is source: " + _TS_FIXTURE[fixture],
                )
            )
            reqs.append(self.runtime_requirement(runtime))
            reqs.append(
                Requirement(
                    "the TypeScript bridge server",
                    str(self.ts_bridge),
                    self.ts_bridge.is_file(),
                    "it is source: plugins/typescript/src/bridge-server.ts",
                )
            )
        else:
            raise ValueError(f"unknown plugin language {language!r}")
        return reqs

    def fixture_path(self, fixture: str, language: str, transport: str, runtime: str | None = None) -> Path:
        """Path of a fixture artifact (library, module, binary or source); raises when missing."""
        reqs = self.fixture_requirements(fixture, language, transport, runtime)
        for req in reqs:
            if not req.present:
                raise req.error()
        return Path(reqs[0].path)

    def ipc_command(self, fixture: str, language: str, runtime: str | None = None) -> list[str]:
        """argv serving a fixture plugin over IPC (what the loaders spawn), for raw plugin-level checks."""
        path = self.fixture_path(fixture, language, "ipc", runtime)
        if language == "python":
            return [str(self.python), "-m", "elizaos_interop.bridge_server", str(path)]
        if language == "typescript":
            return [str(self.ts_runtime(runtime)), str(self.ts_bridge), str(path)]
        return [str(path)]

    def cell_requirements(self, cell: Cell, fixture: str = "conformance") -> list[Requirement]:
        """Everything ``cell`` needs to run ``fixture``: host driver, runtimes, artifacts (a
        third-party cell: what its own plugin needs, whatever ``fixture`` says)."""
        if cell.third_party is not None:
            from testkit._thirdparty import requirements

            return self.driver_requirements(cell.host, cell.host_runtime) + requirements(cell, self)
        return self.driver_requirements(cell.host, cell.host_runtime) + self.fixture_requirements(
            fixture, cell.plugin, cell.transport, cell.plugin_runtime
        )


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _exe(name: str) -> str:
    return name + (".exe" if sys.platform == "win32" else "")


def _dylib(crate: str) -> str:
    if sys.platform == "darwin":
        return f"lib{crate}.dylib"
    if sys.platform == "win32":
        return f"{crate}.dll"
    return f"lib{crate}.so"
