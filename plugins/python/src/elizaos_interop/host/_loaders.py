"""Loaders (protocol.md 7.1): start or open a plugin, fetch its manifest, return a LoadedPlugin.

Loaders are plain blocking functions; the plugin's calls are ``async``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ..wire._errors import PluginLoadError
from ..wire._json import MAX_MESSAGE_BYTES
from ._ipc import DEFAULT_GRACE, DEFAULT_TIMEOUT, IpcTransport
from ._loaded_plugin import LoadedPlugin

__all__ = [
    "DEFAULT_START_TIMEOUT",
    "find_ts_bridge",
    "load_ipc_plugin",
    "load_python_plugin",
    "load_rust_plugin",
    "load_ts_plugin",
    "load_wasm_plugin",
]

DEFAULT_START_TIMEOUT = 10.0
"""Seconds the plugin has to answer ``getManifest`` after it is spawned (protocol.md 3.4)."""

_PACKAGE_SRC = str(Path(__file__).resolve().parents[2])
_INSTALLED_TS_BRIDGE = Path("node_modules/@elizaos/interop/dist/bridge-server.js")
"""The bridge of an installed ``@elizaos/interop`` npm package."""
_REPO_TS_BRIDGE = Path("plugins/typescript/src/bridge-server.ts")
"""The bridge in this repository's source tree."""


def load_ipc_plugin(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    grace: float = DEFAULT_GRACE,
) -> LoadedPlugin:
    """Spawn ``argv`` (no shell) as an IPC plugin and return it once its manifest is checked.

    ``timeout`` is the default per-call time-out, ``start_timeout`` bounds the ``getManifest``
    handshake; both in seconds. ``env`` replaces the child's environment when given.
    """
    args = [os.fspath(a) for a in argv]
    if not args:
        raise PluginLoadError("empty command", plugin="<empty>", transport="ipc")
    transport = IpcTransport(
        args,
        cwd=cwd,
        env=env,
        timeout=timeout,
        max_message_bytes=max_message_bytes,
        grace=grace,
    )
    return LoadedPlugin.from_transport(transport, timeout=start_timeout)


def load_python_plugin(
    path: str | os.PathLike[str],
    *,
    attr: str | None = None,
    python: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    grace: float = DEFAULT_GRACE,
) -> LoadedPlugin:
    """Serve a Python plugin (``.py`` file, package directory or module name) over IPC.

    Runs ``python -m elizaos_interop.bridge_server path``, where ``python`` is the argument,
    else ``$ELIZAOS_PYTHON``, else this interpreter. This package's own source directory is
    put first on the child's ``PYTHONPATH`` so host and bridge speak the same protocol version.
    ``attr`` names the module attribute holding the plugin (the bridge's ``--attr``; default
    ``plugin``, or the module's only plugin object).
    """
    target = os.fspath(path)
    candidate = Path(target)
    if candidate.exists():
        target = str(candidate.resolve())
    elif target.endswith(".py") or os.sep in target:
        raise PluginLoadError(
            f"no such file or directory: {target}", plugin=target, transport="ipc"
        )
    interpreter = python or os.environ.get("ELIZAOS_PYTHON") or sys.executable
    child_env = dict(os.environ if env is None else env)
    existing = child_env.get("PYTHONPATH")
    child_env["PYTHONPATH"] = _PACKAGE_SRC + (os.pathsep + existing if existing else "")
    argv = [interpreter, "-m", "elizaos_interop.bridge_server", target]
    if attr is not None:
        argv += ["--attr", attr]
    if max_message_bytes != MAX_MESSAGE_BYTES:
        argv += ["--max-message-bytes", str(max_message_bytes)]
    transport = IpcTransport(
        argv,
        cwd=cwd,
        env=child_env,
        timeout=timeout,
        max_message_bytes=max_message_bytes,
        grace=grace,
        label=target,
    )
    return LoadedPlugin.from_transport(transport, timeout=start_timeout)


def _search_upward(starts: Sequence[Path], candidate: Path) -> Path | None:
    """The first ``<directory>/<candidate>`` that is a file, walking up from each start."""
    for start in starts:
        for directory in (start, *start.parents):
            full = directory / candidate
            if full.is_file():
                return full
    return None


def find_ts_bridge(plugin_path: str | os.PathLike[str] | None = None) -> Path:
    """Locate the TypeScript bridge server (protocol.md 7.1).

    In order: ``$ELIZAOS_TS_BRIDGE``; ``node_modules/@elizaos/interop/dist/bridge-server.js``
    of an installed npm package, found walking up from the plugin's directory, then from the
    working directory; this repository's ``plugins/typescript/src/bridge-server.ts``, found
    walking up from the plugin's directory, then from this package's directory.
    """
    label = os.fspath(plugin_path) if plugin_path else "typescript bridge"
    configured = os.environ.get("ELIZAOS_TS_BRIDGE")
    if configured:
        found = Path(configured)
        if not found.is_file():
            raise PluginLoadError(
                f"ELIZAOS_TS_BRIDGE={configured} is not a file", plugin=label, transport="ipc"
            )
        return found.resolve()
    plugin_dir = [Path(plugin_path).resolve().parent] if plugin_path is not None else []
    installed = _search_upward([*plugin_dir, Path.cwd().resolve()], _INSTALLED_TS_BRIDGE)
    if installed is not None:
        return installed
    in_repo = _search_upward([*plugin_dir, Path(__file__).resolve().parent], _REPO_TS_BRIDGE)
    if in_repo is not None:
        return in_repo
    raise PluginLoadError(
        f"cannot find the TypeScript bridge: set ELIZAOS_TS_BRIDGE, pass bridge=, or install "
        f"@elizaos/interop (npm); searched for {_INSTALLED_TS_BRIDGE} upward from "
        + ", ".join(str(s) for s in [*plugin_dir, Path.cwd()])
        + f", and for {_REPO_TS_BRIDGE} upward from "
        + ", ".join(str(s) for s in [*plugin_dir, Path(__file__).resolve().parent]),
        plugin=label,
        transport="ipc",
    )


def _beside(name: str, bridge: Path) -> str | None:
    """``node_modules/.bin/<name>`` in the nearest directory above the bridge that has it."""
    for directory in bridge.parents:
        local = directory / "node_modules" / ".bin" / name
        if local.exists():
            return str(local)
    return None


def _js_runtime(
    runtime: str, node: str | None, bun: str | None, bridge: Path, label: str
) -> tuple[str, str]:
    """The binary serving a TS plugin and the runtime it is (protocol.md 7.1): for ``node``, the
    option, ``$ELIZAOS_NODE``, ``node_modules/.bin/node`` beside the bridge, ``node`` on PATH if
    it is >= 22.6, else Bun found the same way; for ``bun``, the option, ``$ELIZAOS_BUN``, beside
    the bridge, ``bun`` on PATH. A chosen binary is used as given; ``--version`` is only asked of
    a ``node`` found on PATH."""
    bun_binary = bun or os.environ.get("ELIZAOS_BUN") or _beside("bun", bridge)
    if runtime == "bun":
        bun_binary = bun_binary or shutil.which("bun")
        if bun_binary is None:
            raise PluginLoadError(
                "runtime 'bun' needs Bun: no bun on PATH or in node_modules/.bin beside the "
                f"TS bridge {bridge}; set ELIZAOS_BUN or install bun",
                plugin=label,
                transport="ipc",
            )
        return bun_binary, "bun"
    chosen = node or os.environ.get("ELIZAOS_NODE") or _beside("node", bridge)
    if chosen:
        return chosen, "node"
    on_path = shutil.which("node")
    version = _node_version(on_path) if on_path else None
    if on_path and version is not None and version[1] >= _MIN_NODE:
        return on_path, "node"
    bun_binary = bun_binary or shutil.which("bun")
    if bun_binary is not None:
        return bun_binary, "bun"
    shown = version[0] if version is not None else "(none)"
    raise PluginLoadError(_node_sentence(shown, on_path or "node"), plugin=label, transport="ipc")


def load_ts_plugin(
    path: str | os.PathLike[str],
    runtime: str = "node",
    *,
    node: str | None = None,
    bun: str | None = None,
    bridge: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    grace: float = DEFAULT_GRACE,
) -> LoadedPlugin:
    """Serve a TypeScript plugin (a file, a package directory or an installed package name)
    through the TS bridge on Node (>= 22.6) or Bun."""
    if runtime not in ("node", "bun"):
        raise PluginLoadError(
            f"runtime must be 'node' or 'bun', got {runtime!r}",
            plugin=os.fspath(path),
            transport="ipc",
        )
    plugin_path = _ts_entry(path, cwd)
    if bridge is not None:
        bridge_path = Path(bridge)
        if not bridge_path.is_file():
            raise PluginLoadError(
                f"TypeScript bridge {os.fspath(bridge)} is not a file",
                plugin=str(plugin_path),
                transport="ipc",
            )
        bridge_path = bridge_path.resolve()
    else:
        bridge_path = find_ts_bridge(plugin_path)
    binary, runtime = _js_runtime(runtime, node, bun, bridge_path, str(plugin_path))
    argv = [binary, str(bridge_path), str(plugin_path)]
    if max_message_bytes != MAX_MESSAGE_BYTES:
        argv += ["--max-message-bytes", str(max_message_bytes)]
    transport = IpcTransport(
        argv,
        cwd=cwd,
        env=env,
        timeout=timeout,
        max_message_bytes=max_message_bytes,
        grace=grace,
        label=str(plugin_path),
    )
    try:
        return LoadedPlugin.from_transport(transport, timeout=start_timeout)
    except PluginLoadError as exc:
        sentence = node_too_old(binary) if runtime == "node" else None
        if sentence is None:
            raise
        raise PluginLoadError(
            f"{sentence} ({exc})", plugin=str(plugin_path), transport="ipc"
        ) from exc


def _ts_entry(path: str | os.PathLike[str], cwd: str | os.PathLike[str] | None) -> Path:
    """The resolved entry the TS bridge serves (protocol.md 7.1): a file, a package directory (with
    a ``package.json``), or a package name found in a ``node_modules`` from ``cwd`` upwards."""
    given = Path(path)
    if given.is_file() or (given.is_dir() and (given / "package.json").is_file()):
        return given.resolve()
    name = os.fspath(path)
    if _NPM_NAME.fullmatch(name) and not given.exists():
        start = Path(cwd if cwd is not None else os.getcwd()).resolve()
        for folder in (start, *start.parents):
            candidate = folder / "node_modules" / name
            if (candidate / "package.json").is_file():
                return candidate
        raise PluginLoadError(
            f"no such file, and no package {name!r} in a node_modules folder from {start} upwards",
            plugin=name,
            transport="ipc",
        )
    what = "a directory without a package.json" if given.is_dir() else "no such file"
    raise PluginLoadError(f"{what}: {name}", plugin=name, transport="ipc")


_NPM_NAME = re.compile(r"(?:@[a-z0-9._~-]+/)?[a-z0-9][a-z0-9._~-]*")
"""An npm package name, scoped or not (``@elizaos/plugin-bootstrap``)."""

_MIN_NODE = (22, 6)
"""The oldest Node that runs ``.ts`` files by type stripping."""


def _node_version(binary: str) -> tuple[str, tuple[int, int]] | None:
    """``binary --version`` and its (major, minor), or None when it cannot be asked or does not
    answer like Node."""
    try:
        done = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    match = re.match(r"v(\d+)\.(\d+)\.", version)
    if match is None:
        return None
    return version, (int(match.group(1)), int(match.group(2)))


def _node_sentence(version: str, binary: str) -> str:
    return (
        f"TypeScript plugins need Node >= 22.6 or Bun; found node {version} at {binary}; "
        "set ELIZAOS_NODE or install node@22"
    )


def node_too_old(binary: str) -> str | None:
    """The sentence every host gives when the Node that would run a TypeScript plugin is too
    old or missing, else None (a Node >= 22.6, Bun, or a binary that cannot be asked). Runs
    ``binary --version``, so it is only called after a load failed."""
    if shutil.which(binary) is None and not Path(binary).exists():
        return _node_sentence("(none)", binary)
    version = _node_version(binary)
    if version is None or version[1] >= _MIN_NODE:
        return None
    return _node_sentence(version[0], binary)


def load_rust_plugin(
    path: str | os.PathLike[str], *, max_message_bytes: int = MAX_MESSAGE_BYTES
) -> LoadedPlugin:
    """Load a native plugin library (``.so``) over the C FFI (needs ``elizaos-interop[ffi]``).

    Imported on first use, so ``import elizaos_interop`` stays light; a missing cffi is reported
    by the transport as a PluginLoadError naming the extra.
    """
    from ._ffi import load_rust_plugin as load

    return load(path, max_message_bytes=max_message_bytes)


WASM_DEFAULT_TIMEOUT = 30.0
"""Default per-call time-out of a WASM plugin, in seconds (``_wasm.DEFAULT_TIMEOUT``)."""
WASM_MEMORY_LIMIT = 1 << 30
"""Default cap on a WASM plugin's linear memory, in bytes (``_wasm.DEFAULT_MEMORY_LIMIT``)."""


def load_wasm_plugin(
    path: str | os.PathLike[str],
    *,
    default_timeout: float | None = WASM_DEFAULT_TIMEOUT,
    memory_limit: int = WASM_MEMORY_LIMIT,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    interruptible: bool = True,
) -> LoadedPlugin:
    """Load a WASM plugin module with wasmtime (needs ``elizaos-interop[wasm]``).

    Imported on first use; a missing wasmtime is reported by the transport as a PluginLoadError
    naming the extra. Options: see :class:`~elizaos_interop.host._wasm.WasmTransport`.
    """
    from ._wasm import load_wasm_plugin as load

    return load(
        path,
        default_timeout=default_timeout,
        memory_limit=memory_limit,
        max_message_bytes=max_message_bytes,
        interruptible=interruptible,
    )
