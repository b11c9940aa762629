"""Where certify finds the plugin, the toolchains and the hosts it loads it through."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from testkit._certify_model import HOSTS, Target, UnusableInput
from testkit._drivers import DriverError, HostDriver, PluginSpec, PythonDriver, SubprocessDriver
from testkit._resources import repo_root_or_none, ts_dir
from testkit._toolchains import Toolchains


def toolchains_anywhere() -> Toolchains:
    """Toolchains of the checkout, or (installed from a wheel) of the wheel's data and PATH."""
    if repo_root_or_none() is not None:
        return Toolchains.discover(repo_root_or_none())
    env = os.environ
    ts = ts_dir()

    def tool(var: str, name: str) -> Path:
        value = env.get(var)
        return Path(shutil.which(value) or value) if value else Path(shutil.which(name) or name)

    target = env.get("ELIZAOS_RUST_TARGET_DIR") or str(Path.home() / ".cache" / "elizaos-interop" / "target")
    import sys

    return Toolchains(
        repo_root=ts.parent,
        python=Path(sys.executable),
        node=tool("ELIZAOS_NODE", "node"),
        bun=tool("ELIZAOS_BUN", "bun"),
        ts_bridge=Path(env.get("ELIZAOS_TS_BRIDGE") or ts / "src" / "bridge-server.ts"),
        ts_host_driver=ts / "driver" / "host-driver.ts",
        rust_target_dir=Path(target),
    )


def resolve_target(path: str | None, ipc: str | None, toolchains: Toolchains) -> Target:
    """The Target of a PATH or ``--ipc`` command; UnusableInput for anything certify cannot load."""
    if (path is None) == (ipc is None):
        raise UnusableInput("certify needs exactly one of PATH or --ipc COMMAND")
    if ipc is not None:
        words = shlex.split(ipc)
        if not words:
            raise UnusableInput("--ipc needs a command line, received an empty string")
        if shutil.which(words[0]) is None and not Path(words[0]).is_file():
            raise UnusableInput(f"--ipc {ipc!r}: command not found: {words[0]}")
        spec = PluginSpec(transport="ipc", language="unknown", command=tuple(words))
        return Target(ipc, "ipc", "unknown", argv=tuple(words), spec=spec, cli=f"--ipc {shlex.quote(ipc)}")
    assert path is not None
    p = Path(path)
    cli = shlex.quote(path)
    if not p.exists():
        raise UnusableInput(f"{path}: no such file or directory")
    suffix = p.suffix.lower()
    resolved = str(p.resolve())
    if suffix == ".wasm":
        _preflight_wasm(p)
        return Target(
            path, "wasm", "rust", path=resolved, spec=PluginSpec("wasm", "rust", path=resolved), cli=cli
        )
    if suffix in (".so", ".dylib", ".dll"):
        _preflight_ffi(p)
        return Target(
            path, "ffi", "rust", path=resolved, spec=PluginSpec("ffi", "rust", path=resolved), cli=cli
        )
    script = _raw_script(p, toolchains)
    if script is not None:
        spec = PluginSpec("ipc", "unknown", command=script)
        return Target(path, "ipc", "unknown", argv=script, spec=spec, cli=cli)
    if suffix == ".py" or (p.is_dir() and (p / "__init__.py").is_file()):
        argv: tuple[str, ...] = (str(toolchains.python), "-m", "elizaos_interop.bridge_server", resolved)
        spec = PluginSpec("ipc", "python", path=resolved)
        return Target(path, "ipc", "python", argv=argv, path=resolved, spec=spec, cli=cli)
    if suffix in (".ts", ".js", ".mjs", ".mts", ".cjs") or (p.is_dir() and (p / "package.json").is_file()):
        runtime, binary = _ts_runtime(toolchains, path)
        argv = (str(binary), str(toolchains.ts_bridge), resolved)
        spec = PluginSpec("ipc", "typescript", path=resolved, runtime=runtime)
        return Target(path, "ipc", "typescript", argv=argv, path=resolved, spec=spec, cli=cli)
    raise UnusableInput(
        f"{path}: not a plugin certify can load; expected a .wasm module, a .so/.dylib library, a .py file "
        "or package directory, a .ts/.js file or npm package directory (with package.json), or --ipc COMMAND"
    )


def _ts_runtime(toolchains: Toolchains, path: str) -> tuple[str, Path]:
    """("node" | "bun", binary) that can run the TypeScript bridge; UnusableInput naming both."""
    why = _node_ok(toolchains.node)
    if not why:
        return "node", toolchains.node
    bun = toolchains.bun
    if shutil.which(str(bun)) is not None or bun.is_file():
        return "bun", bun
    raise UnusableInput(f"{path}: a TypeScript plugin needs Node >= 22 or Bun: {why}; Bun not found at {bun}")


def _raw_script(path: Path, toolchains: Toolchains) -> tuple[str, ...] | None:
    """argv serving ``path`` as a stand-alone IPC script (a plugin written from the seed's IPC
    section: it reads stdin itself and has no ``plugin`` object), or None for an SDK plugin."""
    if not path.is_file():
        return None
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if suffix == ".py" and "sys.stdin" in text and not re.search(r"^plugin\s*[:=]", text, re.MULTILINE):
        return (str(toolchains.python), str(path.resolve()))
    if (
        suffix in (".js", ".mjs", ".cjs", ".ts", ".mts")
        and "process.stdin" in text
        and not re.search(r"export\s+(const\s+plugin\b|default\b)", text)
    ):
        return (str(toolchains.node), str(path.resolve()))
    return None


def _preflight_ffi(path: Path) -> None:
    import ctypes

    try:
        lib = ctypes.CDLL(str(path.resolve()))
    except OSError as exc:
        raise UnusableInput(
            f"{path}: cannot load this shared library ({exc}); is it built for this machine's architecture?"
        ) from exc
    missing = [name for name in ("elizaos_get_manifest", "elizaos_free_string") if not hasattr(lib, name)]
    if missing:
        raise UnusableInput(f"{path}: not an FFI plugin: the library does not export {', '.join(missing)}")


def _preflight_wasm(path: Path) -> None:
    try:
        import wasmtime
    except ImportError as exc:
        raise UnusableInput(f"{path}: certifying a WASM module needs wasmtime: pip install wasmtime") from exc
    try:
        module = wasmtime.Module.from_file(wasmtime.Engine(), str(path))
    except Exception as exc:
        raise UnusableInput(f"{path}: not a WebAssembly module wasmtime can compile: {exc}") from exc
    exports = {e.name for e in module.exports}
    missing = [n for n in ("memory", "alloc", "dealloc", "get_manifest") if n not in exports]
    if missing:
        raise UnusableInput(
            f"{path}: not a WASM plugin: it does not export {', '.join(missing)} (protocol.md 5.1); "
            f"exports: {sorted(exports)[:12]}"
        )


def _node_ok(node: Path) -> str:
    """'' when ``node`` runs TypeScript (Node >= 22), else why not."""
    try:
        out = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {node}: {exc}"
    match = re.match(r"v(\d+)", out.stdout.strip())
    if not match or int(match.group(1)) < 22:
        found = out.stdout.strip() or "not Node"
        return f"{node} is {found}; the TypeScript host needs Node >= 22 (set ELIZAOS_NODE)"
    return ""


def rust_host_driver(toolchains: Toolchains, build: bool = False) -> tuple[Path | None, str]:
    """(path, where it came from) of the Rust host driver, or (None, why not)."""
    env = os.environ.get("ELIZAOS_HOST_DRIVER")
    if env:
        found = shutil.which(env) or env
        if Path(found).is_file():
            return Path(found), "ELIZAOS_HOST_DRIVER"
        return None, f"ELIZAOS_HOST_DRIVER={env} does not exist"
    on_path = shutil.which("elizaos-host-driver")
    if on_path:
        return Path(on_path), "PATH"
    built = toolchains.rust_host_driver
    if built.is_file() and os.access(built, os.X_OK):
        return built, "the checkout's build"
    argv = _rust_build_command()
    if argv is not None:
        if not build:
            return None, f"not built; name rust in --hosts to build it, or run: {shlex.join(argv)}"
        print(f"building the Rust host driver: {shlex.join(argv)}", flush=True)
        cargo_env = {**os.environ, "CARGO_TARGET_DIR": str(toolchains.rust_target_dir)}
        done = subprocess.run(argv, env=cargo_env, check=False, capture_output=True, text=True)
        if done.returncode == 0 and built.is_file():
            return built, f"built now with {shlex.join(argv)}"
        return None, f"the build failed ({shlex.join(argv)}): {done.stderr.strip()[-500:]}"
    return None, "not found: set ELIZAOS_HOST_DRIVER or put elizaos-host-driver on PATH"


def _rust_build_command() -> list[str] | None:
    """The cargo command that builds the Rust host driver in a checkout (the same single build as
    ``nox -s build_rust_ipc``, so the FFI libraries keep their exports), or None."""
    root = repo_root_or_none()
    cargo = shutil.which("cargo")
    manifest = root / "plugins" / "rust" / "Cargo.toml" if root is not None else None
    if cargo is None or manifest is None or not manifest.is_file():
        return None
    features = ",".join(
        f"{crate}/{feature}"
        for crate in ("plugin-conformance", "plugin-eliza-classic")
        for feature in ("ffi", "ipc")
    )
    head = [cargo, "build", "--release", "--locked", "--workspace", "--lib", "--bins", "--examples"]
    return [*head, "--manifest-path", str(manifest), "--features", features]


def open_host(host: str, toolchains: Toolchains, build: bool = False) -> tuple[HostDriver | None, str]:
    """(driver, description) for a host name, or (None, why it is unavailable)."""
    env = toolchains.env()
    if host == "python":
        try:
            return PythonDriver(toolchains), "python host in-process"
        except Exception as exc:
            return None, f"the Python host is unavailable: {type(exc).__name__}: {exc}"
    if host in ("node", "bun"):
        binary = toolchains.ts_runtime(host)
        if host == "node":
            why = _node_ok(binary)
            if why:
                return None, why
        elif shutil.which(str(binary)) is None and not binary.is_file():
            return None, f"bun not found at {binary} (set ELIZAOS_BUN)"
        if not toolchains.ts_host_driver.is_file():
            return None, f"the TypeScript host driver is missing at {toolchains.ts_host_driver}"
        argv = [str(binary), str(toolchains.ts_host_driver)]
        try:
            return SubprocessDriver(argv, host=host, env=env, cwd=toolchains.repo_root), f"{host}: {binary}"
        except DriverError as exc:
            return None, str(exc).splitlines()[0]
    if host == "rust":
        path, where = rust_host_driver(toolchains, build)
        if path is None:
            return None, f"the Rust host driver is {where}"
        try:
            return SubprocessDriver([str(path)], host="rust", env=env, cwd=toolchains.repo_root), (
                f"rust: {path} (from {where})"
            )
        except DriverError as exc:
            return None, str(exc).splitlines()[0]
    raise UnusableInput(f"unknown host {host!r}; expected one of {', '.join(HOSTS)}")
