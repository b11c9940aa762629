"""``interop-testkit call``: load one plugin through one host and print its manifest or one answer.

The plugin is loaded with the same host drivers the suite and ``certify`` use (protocol.md section
8): the Python host in-process, the TypeScript host (Node or Bun) and the Rust host as driver
processes. What is printed is what that host's public API gave: a value, or the typed error
(7.2 class name, JSON-RPC code, message) as the host raised it.

Exit codes: 0 the call answered with a value, 1 the plugin answered with an error (or crashed,
timed out), 2 the input is unusable (no such file, not a plugin, a transport the host lacks,
a missing toolchain, bad JSON in an option).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from testkit._drivers import METHODS, CallOutcome, DriverError, HostDriver, PluginSpec, World, open_driver
from testkit._toolchains import ToolchainError, Toolchains

__all__ = [
    "HOSTS",
    "CallRequest",
    "UnusableInput",
    "host_transports",
    "installed_ts_bridge",
    "node_too_old",
    "plugin_spec",
    "register",
    "run_call",
]

#: ``--host`` names: (driver language, TypeScript runtime).
HOSTS: dict[str, tuple[str, str | None]] = {
    "python": ("python", None),
    "node": ("typescript", "node"),
    "bun": ("typescript", "bun"),
    "rust": ("rust", None),
}
#: Transports each host language loads (protocol.md 7.1).
_TRANSPORTS: dict[str, tuple[str, ...]] = {
    "python": ("ipc", "ffi", "wasm"),
    "typescript": ("ipc", "wasm"),
    "rust": ("ipc", "ffi"),
}
_NAMED = ("validateAction", "invokeAction", "getProvider", "validateEvaluator", "invokeEvaluator")
_TS_SUFFIXES = (".ts", ".mts", ".js", ".mjs", ".cjs")
_LIB_SUFFIXES = (".so", ".dylib", ".dll")
#: The minimum Node that strips TypeScript types by default.
NODE_MIN = (22, 6)


class UnusableInput(Exception):
    """The input cannot be loaded or called at all (exit 2); the message says what to change."""


def host_transports(host: str) -> tuple[str, ...]:
    """Transports the ``--host`` loads."""
    return _TRANSPORTS[HOSTS[host][0]]


def node_too_old(node: Path | str) -> str | None:
    """The common Node sentence when ``node`` cannot run TypeScript (older than 22.6), else None.

    A binary that cannot be run at all is reported the same way, with its error as the version."""
    try:
        done = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
        version = done.stdout.strip() or done.stderr.strip() or f"(exit {done.returncode})"
    except (OSError, subprocess.TimeoutExpired) as exc:
        version = f"(cannot run: {exc})"
    match = re.match(r"v?(\d+)\.(\d+)", version)
    if match and (int(match.group(1)), int(match.group(2))) >= NODE_MIN:
        return None
    return (
        f"TypeScript plugins need Node >= 22.6 or Bun; found node {version} at {node}; "
        "set ELIZAOS_NODE or install node@22"
    )


def _version_of(argv: Sequence[str]) -> str:
    """First line a ``--version``-like command prints, or why it could not run."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({type(exc).__name__}: {exc})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else f"unknown (exit {done.returncode})"


def plugin_spec(
    path: str | None,
    ipc: str | None,
    *,
    language: str | None = None,
    plugin_runtime: str = "node",
    attr: str | None = None,
    python: Path | None = None,
) -> PluginSpec:
    """The PluginSpec of a PATH (``.py``/package dir/module, ``.ts``, ``.so``, ``.wasm``, an
    executable IPC server) or an ``--ipc`` command line. Existence is left to the host, so its
    own message about a missing file is what the user sees; only what no host could try is
    refused here."""
    if (path is None) == (ipc is None):
        raise UnusableInput("give exactly one of PLUGIN (a path) or --ipc 'COMMAND LINE'")
    if ipc is not None:
        words = shlex.split(ipc)
        if not words:
            raise UnusableInput("--ipc needs a command line, e.g. --ipc 'python3 my_plugin.py'")
        if os.sep in words[0] and Path(words[0]).exists():  # hosts start it from their own cwd
            words[0] = str(Path(words[0]).absolute())  # not resolve(): a venv's python is a symlink
        return PluginSpec("ipc", language or "unknown", command=tuple(words))
    assert path is not None
    p = Path(path)
    suffix = p.suffix.lower()
    exists = p.exists()
    full = str(p.resolve()) if exists else path
    if language is None:
        if suffix == ".wasm" or suffix in _LIB_SUFFIXES:
            language = "rust"
        elif suffix == ".py" or (p.is_dir() and (p / "__init__.py").is_file()):
            language = "python"
        elif suffix in _TS_SUFFIXES or (p.is_dir() and (p / "package.json").is_file()):
            language = "typescript"
        elif path.startswith("@"):
            language = "typescript"  # a scoped npm package name
        elif p.is_file() and os.access(p, os.X_OK):
            return PluginSpec("ipc", "unknown", command=(str(p.absolute()),))  # an IPC server binary
        elif exists:
            raise UnusableInput(
                f"{path}: cannot tell which language this plugin is in; expected a .py file or "
                "package directory, a .ts/.js file or npm package directory, a .so/.dylib "
                "library, a .wasm module or an executable IPC server; or pass --language"
            )
        else:
            raise UnusableInput(
                f"{path}: no such file or directory (and no known plugin suffix: "
                ".py, .ts, .js, .so, .wasm); check the path, or pass --language for a module name"
            )
    if attr is not None:
        if language != "python":
            raise UnusableInput(f"--attr names a Python module attribute; {path} is a {language} plugin")
        interpreter = str(python or sys.executable)
        return PluginSpec(
            "ipc",
            "python",
            command=(interpreter, "-m", "elizaos_interop.bridge_server", full, "--attr", attr),
        )
    if language == "rust":
        if suffix == ".wasm":
            return PluginSpec("wasm", "rust", path=full)
        if suffix in _LIB_SUFFIXES:
            return PluginSpec("ffi", "rust", path=full)
        return PluginSpec("ipc", "rust", command=(full,))
    if language == "typescript":
        return PluginSpec("ipc", "typescript", path=full, runtime=plugin_runtime)
    if language == "python":
        return PluginSpec("ipc", "python", path=full)
    raise UnusableInput(f"--language {language!r}: expected python, typescript or rust")


@dataclass
class CallRequest:
    """One ``call``: which plugin, through which host, and what to ask it."""

    spec: PluginSpec
    host: str = "python"
    method: str | None = None  # None: print the manifest
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    config: dict[str, Any] | None = None  # init's config, sent before the method
    world: World | None = None
    timeout_ms: int = 30_000


@dataclass
class CallReport:
    """What a ``call`` did: the header facts, the manifest and the outcome."""

    host: str
    host_runtime: str
    driver: str
    transport: str
    plugin: str
    plugin_runtime: str
    manifest: dict[str, Any]
    method: str | None
    outcome: CallOutcome | None
    call_name: str | None = None

    def header(self) -> list[str]:
        """The lines that say who loaded what, how, with which runtimes."""
        name = self.manifest.get("name", "?")
        version = self.manifest.get("version", "?")
        lines = [
            f"# host: {self.host} ({self.host_runtime}) via {self.driver}",
            f"# plugin: {self.plugin}; served by {self.plugin_runtime}",
            f"# manifest: {name} {version} ({self.manifest.get('language', '?')}), "
            f"protocolVersion {self.manifest.get('protocolVersion', 0)}, capabilities "
            f"{', '.join(self.manifest.get('capabilities') or []) or 'none'}",
        ]
        if self.method is not None:
            lines.append(f"# call: {self.method} {self.call_name or ''}".rstrip())
        return lines

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document."""
        doc: dict[str, Any] = {
            "host": self.host,
            "hostRuntime": self.host_runtime,
            "driver": self.driver,
            "transport": self.transport,
            "plugin": self.plugin,
            "pluginRuntime": self.plugin_runtime,
            "manifest": self.manifest,
            "method": self.method,
        }
        if self.outcome is not None:
            doc["ok"] = self.outcome.ok
            if self.outcome.ok:
                doc["value"] = self.outcome.value
            else:
                doc["error"] = {
                    "type": self.outcome.error_type,
                    "code": self.outcome.code,
                    "message": self.outcome.message,
                    "data": self.outcome.data,
                }
        return doc


def _toolchains() -> Toolchains:
    """The checkout's toolchains; ``ELIZAOS_PYTHON`` from the environment picks the Python that
    serves Python plugins (the testkit's own interpreter otherwise)."""
    from testkit._certify_target import toolchains_anywhere

    toolchains = toolchains_anywhere()
    chosen = os.environ.get("ELIZAOS_PYTHON")
    if chosen:
        found = shutil.which(chosen) if os.sep not in chosen else chosen
        toolchains = dataclasses.replace(toolchains, python=Path(found or chosen))
    return toolchains


def installed_ts_bridge(plugin_path: str) -> Path | None:
    """The bridge server of an ``@elizaos/interop`` installed beside a TypeScript plugin
    (``node_modules/@elizaos/interop/dist/bridge-server.js`` in its directory or above), which
    the hosts use by default (protocol.md 7.1): the plugin's own imports of the package then
    share the bridge's module instances (``instanceof RuntimeUnavailableError`` holds)."""
    start = Path(plugin_path).resolve()
    for directory in (start.parent, *start.parent.parents):
        candidate = directory / "node_modules" / "@elizaos" / "interop" / "dist" / "bridge-server.js"
        if candidate.is_file():
            return candidate
    return None


def _plugin_runtime(spec: PluginSpec, toolchains: Toolchains) -> str:
    """Which runtime serves the plugin, with its version (or the transport for in-process ones)."""
    if spec.transport != "ipc":
        return f"the host process ({spec.transport}, in-process)"
    if spec.language == "typescript":
        binary = toolchains.ts_runtime(spec.runtime)
        version = _version_of([str(binary), "--version"])
        return f"{spec.runtime or 'node'} {version} ({binary}) with the bridge {toolchains.ts_bridge}"
    if spec.language == "python":
        python = toolchains.python
        return f"python {_version_of([str(python), '--version']).removeprefix('Python ')} ({python})"
    return f"the command {' '.join(spec.command or ())}"


def _check_runtimes(request: CallRequest, toolchains: Toolchains) -> None:
    """Refuse a Node that cannot run the TypeScript host driver before starting it (a Node that
    serves a TypeScript plugin is the loading host's to judge, and to explain)."""
    if request.host == "node":
        message = node_too_old(toolchains.node)
        if message is not None:
            raise UnusableInput(message)


def run_call(request: CallRequest, toolchains: Toolchains | None = None) -> CallReport:
    """Load the plugin through the host, call it once (or not: manifest only), close everything.

    Raises UnusableInput for what cannot be loaded; a plugin's error answer is in the outcome."""
    if request.host not in HOSTS:
        raise UnusableInput(f"--host {request.host!r}: expected one of {', '.join(HOSTS)}")
    toolchains = toolchains or _toolchains()
    spec = request.spec
    if spec.transport not in host_transports(request.host):
        others = [h for h in HOSTS if spec.transport in host_transports(h)]
        raise UnusableInput(
            f"the {request.host} host does not load {spec.transport} plugins (it loads "
            f"{', '.join(host_transports(request.host))}); use --host {' or '.join(others)}, "
            "or serve the plugin over IPC"
        )
    if request.method is not None and request.method not in METHODS:
        raise UnusableInput(f"unknown method {request.method!r}; expected one of {', '.join(METHODS)}")
    _check_runtimes(request, toolchains)
    if spec.language == "typescript" and spec.path is not None and not os.environ.get("ELIZAOS_TS_BRIDGE"):
        bridge = installed_ts_bridge(spec.path)
        if bridge is not None:
            toolchains = dataclasses.replace(toolchains, ts_bridge=bridge)
    language, runtime = HOSTS[request.host]
    try:
        driver: HostDriver = open_driver(language, runtime, toolchains)
    except ToolchainError as exc:
        raise UnusableInput(str(exc)) from exc
    except DriverError as exc:
        raise UnusableInput(f"cannot start the {request.host} host: {exc}") from exc
    try:
        driver_desc = (
            "elizaos_interop in-process"
            if language == "python"
            else " ".join(getattr(driver, "argv", []) or ["?"])
        )
        try:
            handle, manifest = driver.load(spec, request.timeout_ms, request.world)
        except DriverError as exc:
            raise UnusableInput(str(exc)) from exc
        report = CallReport(
            host=request.host,
            host_runtime=driver.runtime,
            driver=driver_desc,
            transport=spec.transport,
            plugin=spec.describe(),
            plugin_runtime=_plugin_runtime(spec, toolchains),
            manifest=manifest,
            method=request.method,
            outcome=None,
            call_name=request.params.get("name"),
        )
        try:
            if request.config is not None and request.method != "init":
                outcome = driver.call(handle, "init", {"config": request.config}, request.timeout_ms)
                if not outcome.ok:
                    report.method, report.call_name = "init", None
                    report.outcome = outcome
                    return report
            if request.method is not None:
                report.outcome = driver.call(handle, request.method, request.params, request.timeout_ms)
        except DriverError as exc:
            report.outcome = CallOutcome(ok=False, error_type="DriverError", code=exc.code, message=str(exc))
        return report
    finally:
        try:
            driver.close()
        except DriverError as exc:
            print(f"interop-testkit call: warning: {exc}", file=sys.stderr)


# -- the command --------------------------------------------------------------------------------


def _json_arg(option: str, text: str) -> Any:
    """A JSON option value, or ``@FILE`` to read it from a file."""
    source = f"{option} {text!r}"
    if text.startswith("@"):
        source = f"{option} file {text[1:]}"
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UnusableInput(f"{source}: cannot read it: {exc}") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UnusableInput(
            f"{source}: not JSON ({exc}); quote it for the shell, e.g. {option} "
            '\'{"content": {"text": "hi"}}\''
        ) from exc


def _world(spec: str) -> World:
    """A World from ``FILE.json`` or ``FILE.json#member`` (a top-level member holding it)."""
    file, _, member = spec.partition("#")
    try:
        doc = json.loads(Path(file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UnusableInput(f"--runtime {spec}: cannot read {file}: {exc}") from exc
    except ValueError as exc:
        raise UnusableInput(f"--runtime {spec}: {file} is not JSON: {exc}") from exc
    if member:
        if not isinstance(doc, dict) or member not in doc:
            raise UnusableInput(f"--runtime {spec}: {file} has no top-level member {member!r}")
        doc = doc[member]
    if not isinstance(doc, dict):
        raise UnusableInput(
            f"--runtime {spec}: a World is a JSON object (docs/schemas/runtime-world.schema.json), "
            f"found {type(doc).__name__}"
        )
    return doc


def _object(option: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UnusableInput(f"{option}: expected a JSON object, found {json.dumps(value)[:80]}")
    return value


def request_from_args(args: argparse.Namespace) -> CallRequest:
    """The CallRequest of the parsed ``call`` arguments."""
    if args.ipc is not None and args.plugin is not None:  # `call --ipc CMD METHOD NAME`
        args.plugin, args.method, args.name = None, args.plugin, args.method
    toolchains_python = os.environ.get("ELIZAOS_PYTHON")
    plugin_runtime = args.plugin_runtime or ("bun" if args.host == "bun" else "node")
    spec = plugin_spec(
        args.plugin,
        args.ipc,
        language=args.language,
        plugin_runtime=plugin_runtime,
        attr=args.attr,
        python=Path(toolchains_python) if toolchains_python else None,
    )
    method = args.method
    params: dict[str, Any] = {}
    if method is not None:
        if method not in METHODS:
            raise UnusableInput(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
        if method in _NAMED:
            if args.name is None:
                raise UnusableInput(
                    f"{method} needs the name of the item, e.g. `call PLUGIN {method} NAME`; "
                    "run without a method to see the manifest's names"
                )
            params["name"] = args.name
            memory: Any = {"content": {"text": args.text if args.text is not None else ""}}
            if args.memory is not None:
                memory = _object("--memory", _json_arg("--memory", args.memory))
            params["memory"] = memory
            params["state"] = (
                _object("--state", _json_arg("--state", args.state)) if args.state is not None else {}
            )
            if method == "invokeAction":
                params["options"] = (
                    _object("--options", _json_arg("--options", args.options))
                    if args.options is not None
                    else {}
                )
        elif method == "init":
            params["config"] = (
                _object("--config", _json_arg("--config", args.config)) if args.config is not None else {}
            )
        elif args.name is not None:
            raise UnusableInput(f"{method} takes no NAME; received {args.name!r}")
    config = None
    if args.config is not None and method != "init":
        config = _object("--config", _json_arg("--config", args.config))
    world = _world(args.runtime) if args.runtime is not None else None
    return CallRequest(
        spec=spec,
        host=args.host,
        method=method,
        params=params,
        config=config,
        world=world,
        timeout_ms=int(args.timeout * 1000),
    )


def _print(report: CallReport, as_json: bool, out: TextIO) -> None:
    if as_json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False), file=out)
        return
    for line in report.header():
        print(line, file=out)
    outcome = report.outcome
    if outcome is None:
        print(json.dumps(report.manifest, indent=2, ensure_ascii=False), file=out)
    elif outcome.ok:
        print(json.dumps(outcome.value, indent=2, ensure_ascii=False), file=out)
    else:
        code = "none" if outcome.code is None else str(outcome.code)
        print(f"error: {outcome.error_type} (code {code}): {outcome.message}", file=out)
        if outcome.data is not None:
            print(f"data: {json.dumps(outcome.data, ensure_ascii=False)}", file=out)


def cmd_call(args: argparse.Namespace) -> int:
    """The ``call`` subcommand."""
    try:
        report = run_call(request_from_args(args))
    except (UnusableInput, ToolchainError) as exc:
        print(f"interop-testkit call: error: {exc}", file=sys.stderr, flush=True)
        return 2
    _print(report, args.json, sys.stdout)
    if report.outcome is not None and not report.outcome.ok:
        return 1
    return 0


def register(sub: Any) -> None:
    """Add the ``call`` subcommand to the ``interop-testkit`` subparsers."""
    p = sub.add_parser(
        "call",
        help="load a plugin through one host and print its manifest or one call's result",
        description="Load PLUGIN through --host (the testkit's host drivers) and print its manifest, "
        "or the result of METHOD NAME. Exit 0 ok, 1 the plugin answered with an error, 2 unusable "
        "input. Example: interop-testkit call greet.py invokeAction greet --text hello --host rust",
    )
    p.add_argument(
        "plugin",
        nargs="?",
        help=".py file, package dir or module; .ts/.js file or npm package dir; .so; .wasm; "
        "an executable IPC server",
    )
    p.add_argument("method", nargs="?", help=f"one of {', '.join(METHODS)} (default: the manifest)")
    p.add_argument("name", nargs="?", help="the action, provider or evaluator name")
    p.add_argument("--ipc", metavar="CMD", help="an IPC plugin command line, e.g. 'python3 my_plugin.py'")
    p.add_argument("--host", choices=tuple(HOSTS), default="python", help="the host that loads it")
    p.add_argument(
        "--plugin-runtime",
        metavar="RUNTIME",
        help="node or bun: what serves a TypeScript plugin (default: bun under --host bun, else node)",
    )
    p.add_argument("--language", choices=("python", "typescript", "rust"), help="the plugin's language")
    p.add_argument("--attr", metavar="NAME", help="the Python module attribute holding the plugin")
    p.add_argument("--text", help='memory = {"content": {"text": TEXT}}')
    p.add_argument("--memory", metavar="JSON", help="the Memory object (JSON, or @FILE)")
    p.add_argument("--state", metavar="JSON", help="the State object (JSON, or @FILE)")
    p.add_argument("--options", metavar="JSON", help="invokeAction's options (JSON, or @FILE)")
    p.add_argument("--config", metavar="JSON", help="init's config; sent by init before METHOD")
    p.add_argument(
        "--runtime",
        metavar="WORLD.json",
        help="an in-memory agent runtime built from this World (protocol.md 11.5); FILE#member "
        "picks a top-level member",
    )
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="load and call time-out")
    p.add_argument("--json", action="store_true", help="one JSON document: header facts and outcome")
    p.set_defaults(func=cmd_call)
