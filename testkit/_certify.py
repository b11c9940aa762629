"""``interop-testkit certify``: a verdict on ONE plugin that its author can trust, both ways.

It never rejects a correct plugin (must-ignore, the seed's answer shapes, MUST vs SHOULD) and never
passes a broken one (every declared item is exercised with ordinary, edge-case and generated
inputs; a crash, a hang, NaN, a wrong id, garbage on stdout or an unknown-name answer to a declared
name each fail their own check). Every check has a stable id, a level and the protocol.md section
it enforces (:mod:`testkit._certify_checks`).

Flow: resolve the target; talk to it directly (IPC: :class:`RawChannel`, every byte inspected;
WASM/FFI: the Python host); read and check the manifest; run the corpus through every declared
action, provider and evaluator; probe the protocol conventions; load it through every selected host
and compare their answers; grade. Any plugin behaviour becomes FAIL lines, never a traceback;
unusable input raises :class:`UnusableInput` (exit status 2).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testkit import __version__
from testkit._certify_channel import Finding, HostChannel, RawChannel, Reply, cap, json_type
from testkit._certify_checks import CHECKS, check_spec
from testkit._certify_corpus import Input, build_corpus, memory_for, ordinary_inputs
from testkit._drivers import DriverError, HostDriver, PluginSpec, PythonDriver, SubprocessDriver
from testkit._jsonprofile import json_diff
from testkit._rawipc import RawIpcError
from testkit._resources import repo_root_or_none, schemas_dir, ts_dir
from testkit._schemas import SchemaSet
from testkit._toolchains import ToolchainError, Toolchains

__all__ = [
    "HOSTS",
    "Certification",
    "CertifyOptions",
    "CheckResult",
    "Target",
    "UnusableInput",
    "certify",
    "resolve_target",
]

#: Host names accepted by ``--hosts``.
HOSTS: tuple[str, ...] = ("python", "node", "bun", "rust")
KINDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("actions", "action", ("validateAction", "invokeAction")),
    ("providers", "provider", ("getProvider",)),
    ("evaluators", "evaluator", ("validateEvaluator", "invokeEvaluator")),
)
UNKNOWN_NAME = "certify-no-such-name"
_UNKNOWN_RE = re.compile(
    r"\b(unknown|no such|not found|not registered|does not exist)\b.{0,40}\b(action|provider|evaluator|name)"
    r"|\b(action|provider|evaluator)\b.{0,60}\b(unknown|not found|not registered|does not exist)\b",
    re.IGNORECASE,
)
_GAP_METHOD_RE = re.compile(r"runtime\.(\w+)")
_MAX_HANGS = 2
_MAX_CRASHES = 5


class UnusableInput(Exception):
    """The target cannot be certified at all (missing file, not a plugin, no manifest): exit 2."""


@dataclass(frozen=True)
class Target:
    """What is certified and how it is reached."""

    text: str
    transport: str
    language: str
    argv: tuple[str, ...] | None = None
    path: str | None = None
    spec: PluginSpec | None = None
    cli: str = ""


@dataclass
class CertifyOptions:
    """Everything a certify run can be told (the CLI flags)."""

    timeout_s: float = 10.0
    start_timeout_s: float = 10.0
    skip: Sequence[str] = ()
    only: Sequence[str] = ()
    hosts: Sequence[str] | None = None
    runtime_world: str | None = None
    fuzz_examples: int = 40
    seed: int = 0
    soak_s: float = 0.0
    item_budget_s: float = 5.0
    strict: bool = False
    expected_failures: Sequence[str] = ()


@dataclass
class FindingGroup:
    """Repeats of one problem, reported once with a count and the first example's evidence."""

    summary: str
    count: int
    first: Finding
    inputs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The certificate form."""
        return {
            "summary": self.summary,
            "count": self.count,
            "inputs": self.inputs[:20],
            "host": self.first.host or None,
            "request": self.first.request,
            "received": self.first.received,
            "stderr_tail": self.first.stderr,
        }


@dataclass
class CheckResult:
    """The outcome of one check."""

    id: str
    level: str
    section: str
    summary: str
    outcome: str = "pass"  # pass | fail | skip | xfail | xpass
    message: str = ""
    groups: list[FindingGroup] = field(default_factory=list)
    duration_s: float = 0.0
    repro: str = ""

    @property
    def failed(self) -> bool:
        """True for a failure that was not expected (or an expected failure that passed)."""
        return self.outcome in ("fail", "xpass")

    def to_json(self) -> dict[str, Any]:
        """The certificate form."""
        return {
            "id": self.id,
            "level": self.level,
            "section": self.section,
            "verdict": self.outcome,
            "message": self.message,
            "duration_s": round(self.duration_s, 3),
            "findings": [g.to_json() for g in self.groups],
            "reproduce": self.repro if self.outcome in ("fail", "xpass", "xfail") else "",
        }


@dataclass
class Certification:
    """A whole run: the plugin, the hosts, every check, and the verdict."""

    target: str
    transport: str
    strict: bool = False
    plugin: dict[str, Any] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: int = 0
    duration_s: float = 0.0
    soak: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no MUST check failed (no SHOULD either under ``--strict``) and no expected
        failure passed."""
        for check in self.checks:
            if check.outcome == "xpass":
                return False
            if check.outcome == "fail" and (
                check.level == "MUST" or (self.strict and check.level == "SHOULD")
            ):
                return False
        return bool(self.checks)

    def check(self, check_id: str) -> CheckResult:
        """The result of one check (KeyError when it was not run)."""
        for result in self.checks:
            if result.id == check_id:
                return result
        raise KeyError(check_id)

    def certificate(self) -> dict[str, Any]:
        """The certificate document (JSON)."""
        return {
            "certificate": "elizaos-interop plugin certification",
            "plugin": {
                "name": self.plugin.get("name"),
                "version": self.plugin.get("version"),
                "language": self.plugin.get("language"),
            },
            "target": self.target,
            "transport": self.transport,
            "hosts": self.hosts,
            "strict": self.strict,
            "verdict": "PASS" if self.passed else "FAIL",
            "calls": self.calls,
            "duration_s": round(self.duration_s, 2),
            "checks": [c.to_json() for c in self.checks],
            "soak": self.soak,
            "notes": self.notes,
            "testkit_version": __version__,
            "protocol": "docs/protocol.md",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }


# -- targets and toolchains ---------------------------------------------------------------------


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


# -- the certifier --------------------------------------------------------------------------------


def _is_gap(reply: Reply) -> str:
    """The runtime method a handler error says the host lacks ('?' if unnamed), '*' when a runtime
    call failed on the host's side (RuntimeCallError), or '' for the plugin's own failure."""
    message = reply.message or ""
    data = reply.data if isinstance(reply.data, dict) else {}
    exception = str(data.get("exception", ""))
    low = message.lower()
    gap = (
        "is not provided by the host" in message
        or exception == "RuntimeUnavailableError"
        or ("is not a function" in message and "runtime" in low)
        or (
            ("has no attribute" in message or exception in ("AttributeError", "TypeError"))
            and "runtime" in low
        )
        or ("cannot read properties of undefined" in low and "runtime" in low)
    )
    if exception == "RuntimeCallError" and not gap:
        return "*"  # the host's runtime answered the plugin's runtime call with an error
    if not gap:
        return ""
    match = _GAP_METHOD_RE.search(message)
    return match.group(1) if match else "?"


def _normalise(reply: Reply, method: str) -> Any:
    """A reply as a comparable JSON value (protocol.md 2: -0.0 and 0, null optional members)."""
    if reply.kind != "result":
        return {"<outcome>": reply.kind, "code": reply.code}
    value = reply.value
    if method.startswith("validate") and isinstance(value, dict) and isinstance(value.get("valid"), bool):
        return value["valid"]

    def walk(v: Any) -> Any:
        if isinstance(v, float) and v == 0:
            return 0
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if v is not None}
    return walk(value)


class _Certifier:
    def __init__(
        self, target: Target, options: CertifyOptions, toolchains: Toolchains, echo: Callable[[str], None]
    ) -> None:
        self.target = target
        self.options = options
        self.toolchains = toolchains
        self.echo = echo
        self.schemas = SchemaSet(schemas_dir())
        self.findings: list[Finding] = []
        self.seen_findings: set[tuple[str, str]] = set()
        self.unstable: set[int] = set()  # call indices whose answers differ between two loads
        self.ran: set[str] = set()
        self.skipped: dict[str, str] = {}
        self.notes_by_check: dict[str, str] = {}
        self.durations: dict[str, float] = {}
        self.calls_by_check: dict[str, int] = {}
        self.result = Certification(target=target.text, transport=target.transport, strict=options.strict)
        self.manifest: Any = None
        self.items: dict[str, list[str]] = {}
        self.capabilities: list[str] = []
        self.world: dict[str, Any] | None = None
        self.runtime_obj: Any = None
        self.channel: RawChannel | HostChannel | None = None
        self.py_driver: PythonDriver | None = None
        self.calls = 0
        if options.runtime_world:
            try:
                world = json.loads(Path(options.runtime_world).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise UnusableInput(f"--runtime {options.runtime_world}: cannot read a World: {exc}") from exc
            if isinstance(world, dict) and isinstance(world.get("world"), dict) and "agentId" not in world:
                world = world["world"]  # a vector file (docs/vectors/runtime-world.json) wraps its World
            if not isinstance(world, dict):
                raise UnusableInput(
                    f"--runtime {options.runtime_world}: a World is a JSON object, got {json_type(world)}"
                )
            self.world = world

    # -- plumbing -----------------------------------------------------------------------------
    def wanted(self, *check_ids: str) -> bool:
        """True when one of the checks is selected (``--only``) and so its phase must run."""
        return not self.options.only or any(c in self.options.only for c in check_ids)

    def add(self, finding: Finding) -> None:
        """Record a finding; repeats keep only their input label (the first one keeps the evidence,
        which is what the report shows), so a plugin failing every call cannot exhaust memory."""
        key = (finding.check, finding.summary)
        if key in self.seen_findings:
            finding = Finding(finding.check, finding.summary, input=finding.input, host=finding.host)
        self.seen_findings.add(key)
        self.findings.append(finding)

    def finding(self, check: str, summary: str, **evidence: str) -> None:
        self.add(Finding(check, summary, **evidence))

    def phase(self, checks: Sequence[str], func: Callable[[], None], always: bool = False) -> None:
        """Run one phase; whatever it raises becomes a finding of its checks, never a traceback."""
        if not always and not self.wanted(*checks):
            return
        started = time.monotonic()
        calls_before = self.calls
        try:
            func()
        except UnusableInput:
            raise
        except Exception as exc:
            tb = traceback.format_exc(limit=3)
            for check in checks:
                self.finding(
                    check,
                    f"the check could not complete: {type(exc).__name__}: {exc}",
                    received=cap(tb, 1500),
                    stderr=self._stderr(),
                )
        finally:
            elapsed = time.monotonic() - started
            for check in checks:
                self.ran.add(check)
                self.durations[check] = self.durations.get(check, 0.0) + elapsed
                self.calls_by_check[check] = self.calls_by_check.get(check, 0) + self.calls - calls_before

    def _stderr(self) -> str:
        return self.channel.stderr_tail() if isinstance(self.channel, RawChannel) else ""

    def call(self, method: str, params: Any, label: str = "", timeout_s: float | None = None) -> Reply:
        assert self.channel is not None
        self.calls += 1
        return self.channel.call(method, params, label=label, timeout_s=timeout_s)

    def request_text(self, method: str, params: Any) -> str:
        return cap(json.dumps({"method": method, "params": params}, ensure_ascii=False, default=str))

    def runtime_context(self) -> dict[str, Any] | None:
        if self.world is None or "runtime" not in self.capabilities:
            return None
        context: dict[str, Any] = {}
        for key in ("agentId", "character"):
            if key in self.world:
                context[key] = self.world[key]
        return context

    # -- run ----------------------------------------------------------------------------------
    def run(self) -> Certification:
        started = time.monotonic()
        try:
            self.open_primary()
            self.phase(("manifest",), self.check_manifest, always=True)
            self.phase(("capabilities",), self.check_capabilities)
            self.phase(("no-crash", "no-hang"), self.init_plugin, always=True)
            corpus_checks = (
                "declared-actions",
                "declared-providers",
                "declared-evaluators",
                "no-crash",
                "no-hang",
                "stdout-json",
                "json-profile",
                "response-envelope",
                "response-ids",
                "runtime-requests",
                "runtime-calls",
                "validate-boolean",
                "unusual-inputs",
                "runtime-gap",
            )
            self.phase(corpus_checks, self.run_corpus)
            if self.options.soak_s > 0:
                self.phase(("no-crash", "no-hang"), self.soak)
            self.phase(("unknown-name-error",), self.check_unknown_names)
            if isinstance(self.channel, RawChannel):
                self.phase(("invalid-params-error",), self.check_invalid_params)
                self.phase(("unknown-method",), self.check_unknown_method)
                self.phase(("parse-error",), self.check_parse_error)
                self.phase(("pipelining",), self.check_pipelining)
                self.phase(("shutdown",), self.check_shutdown)
                self.phase(("eof-exit",), self.check_eof)
            else:
                for check in (
                    "invalid-params-error",
                    "unknown-method",
                    "parse-error",
                    "pipelining",
                    "shutdown",
                    "eof-exit",
                    "stdout-json",
                    "response-ids",
                    "runtime-requests",
                ):
                    self.skipped.setdefault(
                        check, f"IPC only; this plugin is loaded over {self.target.transport}"
                    )
            self.phase(("host-load", "differential"), self.run_hosts)
        finally:
            self.close_primary()
        self.result.calls = self.calls
        self.grade()
        self.result.duration_s = time.monotonic() - started
        return self.result

    # -- primary channel ------------------------------------------------------------------------
    def open_primary(self) -> None:
        if self.target.transport == "ipc":
            assert self.target.argv is not None
            if self.world is not None:
                self.runtime_obj = self._python_runtime(self.world)
            self.channel = RawChannel(
                self.target.argv,
                env=self.toolchains.env(),
                timeout_s=self.options.timeout_s,
                sink=self.add,
                runtime=self.runtime_obj,
            )
            try:
                self.channel.ensure()
            except RawIpcError as exc:
                raise UnusableInput(str(exc)) from exc
            return
        self.toolchains.apply_env()
        self.py_driver = PythonDriver(self.toolchains)
        assert self.target.spec is not None
        try:
            handle, manifest = self.py_driver.load(self.target.spec, int(self.options.start_timeout_s * 1000))
        except DriverError as exc:
            message = str(exc)
            if "manifest" in message.lower():
                self.manifest_load_error = message
                self.channel = None
                return
            raise UnusableInput(f"{self.target.text}: the Python host cannot load it: {message}") from exc
        self.manifest = manifest
        self.channel = HostChannel(self.py_driver, handle, self.options.timeout_s)

    def _python_runtime(self, world: dict[str, Any]) -> Any:
        try:
            import elizaos_interop
        except ImportError:
            return None
        runtime_class = getattr(elizaos_interop, "InMemoryRuntime", None)
        if runtime_class is None:
            self.result.notes.append(
                "elizaos_interop has no InMemoryRuntime: the direct IPC session answers runtime requests "
                "with -32601; the hosts phase passes the World through the drivers"
            )
            return None
        return runtime_class(world)

    def close_primary(self) -> None:
        if isinstance(self.channel, RawChannel):
            with contextlib.suppress(Exception):
                self.channel.close()
        if self.py_driver is not None:
            with contextlib.suppress(Exception):
                self.py_driver.close()

    # -- manifest -------------------------------------------------------------------------------
    def check_manifest(self) -> None:
        if self.channel is None:  # the Python host refused the manifest of an in-process plugin
            self.finding(
                "manifest", "the host refused the manifest", received=getattr(self, "manifest_load_error", "")
            )
            self.manifest = {}
        elif isinstance(self.channel, RawChannel):
            reply = self.call("getManifest", {}, "getManifest", timeout_s=self.options.start_timeout_s)
            if reply.kind in ("crash", "hang"):
                what = (
                    f"nothing on stdout within the start time-out ({self.options.start_timeout_s:g} s)"
                    if reply.kind == "hang"
                    else reply.detail
                )
                raise UnusableInput(
                    f"{self.target.text}: no manifest: {what}; is it an IPC plugin?\n"
                    f"--- plugin stderr (tail) ---\n{reply.stderr[-1500:]}"
                )
            if reply.kind != "result":
                self.finding(
                    "manifest",
                    "getManifest answered an error",
                    request=self.request_text("getManifest", {}),
                    received=reply.received or reply.describe(),
                    stderr=reply.stderr,
                )
                self.manifest = {}
            else:
                self.manifest = reply.value
        manifest = self.manifest
        if isinstance(manifest, dict):
            self.result.plugin = {
                k: manifest.get(k) for k in ("name", "version", "language") if k in manifest
            }
        problems = self.schemas.validate("manifest.schema.json", manifest) if self.channel is not None else []
        for problem in problems:
            self.finding(
                "manifest",
                problem.split(":", 1)[0] + ": " + problem.split(":", 1)[-1].strip(),
                received=cap(json.dumps(manifest, default=str)),
            )
        for plural, _kind, _methods in KINDS:
            items = manifest.get(plural) if isinstance(manifest, dict) else None
            names: list[str] = []
            if isinstance(items, list):
                for item in items:
                    name = item.get("name") if isinstance(item, dict) else None
                    if isinstance(name, str) and name:
                        if name in names:
                            self.finding(
                                "manifest", f"{plural} declares {name!r} twice (names are unique per kind)"
                            )
                        names.append(name)
            self.items[plural] = names
        caps = manifest.get("capabilities") if isinstance(manifest, dict) else None
        self.capabilities = [c for c in caps if isinstance(c, str)] if isinstance(caps, list) else []

    def check_capabilities(self) -> None:
        manifest = self.manifest if isinstance(self.manifest, dict) else {}
        if "protocolVersion" not in manifest and "capabilities" not in manifest:
            self.notes_by_check["capabilities"] = "seed dialect (no protocolVersion): nothing declared"
            return
        known = {"runtime", "shutdown"}
        unknown = [c for c in self.capabilities if c not in known]
        declared = ", ".join(self.capabilities) or "none"
        self.notes_by_check["capabilities"] = (
            f"protocolVersion {manifest.get('protocolVersion')!r}, capabilities: {declared}"
            + (f" (not defined by protocol.md 12: {unknown})" if unknown else "")
        )

    def init_plugin(self) -> None:
        if self.channel is None:
            return
        reply = self.call("init", {"config": {}}, "init({})")
        if reply.kind == "crash":
            self.finding(
                "no-crash",
                "exited on init({})",
                request=self.request_text("init", {"config": {}}),
                received=reply.detail,
                stderr=reply.stderr,
                input="init",
            )
        elif reply.kind == "hang":
            self.finding(
                "no-hang",
                "init({}) was not answered",
                request=self.request_text("init", {"config": {}}),
                received=reply.detail,
                stderr=reply.stderr,
                input="init",
            )

    # -- corpus ---------------------------------------------------------------------------------
    def run_corpus(self) -> None:
        if self.channel is None:
            return
        corpus = build_corpus(self.manifest, self.options.fuzz_examples, self.options.seed, self.world)
        counts = [sum(i.kind == kind for i in corpus) for kind in ("ordinary", "edge", "fuzz")]
        self.result.notes.append(
            f"corpus: {counts[0]} ordinary, {counts[1]} edge-case, {counts[2]} generated inputs "
            f"(--seed {self.options.seed})"
        )
        runtime_context = self.runtime_context() if isinstance(self.channel, RawChannel) else None
        for plural, kind, methods in KINDS:
            check = f"declared-{plural}"
            skipped = [n for n in self.items.get(plural, []) if n in self.options.skip]
            names = [n for n in self.items.get(plural, []) if n not in self.options.skip]
            called = 0
            for name in names:
                for method in methods:
                    called += self.exercise(check, kind, name, method, corpus, runtime_context)
            note = f"{len(names)} declared, {called} calls"
            if skipped:
                note += f"; not called (--skip): {', '.join(skipped)}"
            if not names and not skipped:
                note = f"no {plural} declared"
            self.notes_by_check[check] = note

    def exercise(
        self,
        check: str,
        kind: str,
        name: str,
        method: str,
        corpus: Sequence[Input],
        runtime: dict[str, Any] | None,
    ) -> int:
        """Every input through one item's method; returns the number of calls."""
        hangs = crashes = calls = 0
        ordinary_ok = ordinary_total = 0
        errors: dict[Any, int] = {}
        first_error: dict[str, str] = {}
        gaps = 0
        started = time.monotonic()
        for index, inp in enumerate(corpus):
            budget = self.options.item_budget_s
            if not inp.ordinary and budget > 0 and time.monotonic() - started > budget:
                self.result.notes.append(
                    f"{method}({name!r}): {len(corpus) - index} unusual inputs not sent after "
                    f"{budget:g} s (--item-budget)"
                )
                break
            if hangs >= _MAX_HANGS or crashes >= _MAX_CRASHES:
                reason = "time-outs" if hangs >= _MAX_HANGS else "crashes"
                self.result.notes.append(
                    f"{method}({name!r}): stopped after {hangs or crashes} {reason}; "
                    "the remaining inputs were not sent"
                )
                break
            params = inp.params(method, name)
            if runtime is not None:
                params["runtime"] = runtime
            label = f"{method}({name!r}) with {inp.label}"
            reply = self.call(method, params, label)
            calls += 1
            evidence = {
                "request": self.request_text(method, params),
                "received": reply.received or reply.describe(),
                "stderr": reply.stderr,
                "input": label,
            }
            if inp.ordinary:
                ordinary_total += 1
            if reply.kind == "crash":
                crashes += 1
                self.finding("no-crash", f"the plugin exited while answering {method}", **evidence)
                continue
            if reply.kind == "hang":
                hangs += 1
                self.finding(
                    "no-hang", f"{method} was not answered within {self.options.timeout_s:g} s", **evidence
                )
                continue
            if reply.kind == "host":
                self.finding(
                    "response-envelope", f"the host could not read the answer: {reply.detail}", **evidence
                )
                continue
            if reply.kind == "error":
                if not errors:
                    first_error = evidence
                errors[reply.code] = errors.get(reply.code, 0) + 1
                self.judge_error(check, kind, name, method, inp, reply, evidence)
                if _is_gap(reply):
                    gaps += 1
                continue
            if self.judge_result(check, method, reply, evidence) and inp.ordinary:
                ordinary_ok += 1
        if calls and ordinary_total and not ordinary_ok and errors:
            codes = ", ".join(f"{code} x{n}" for code, n in errors.items())
            if set(errors) != {-32002}:
                hint = "a World that answers them" if self.world is not None else "--runtime WORLD.json"
                why = (
                    f"; {gaps} of them failed on the runtime's side (see runtime-gap; certify with {hint})"
                    if gaps
                    else ""
                )
                self.finding(
                    check,
                    f"{method}({name!r}) never answered an ordinary input with a result "
                    f"(errors: {codes}){why}",
                    request=first_error.get("request", ""),
                    received=first_error.get("received", ""),
                    stderr=first_error.get("stderr", ""),
                    input=f"{method}({name!r})",
                )
        return calls

    def judge_error(
        self,
        check: str,
        kind: str,
        name: str,
        method: str,
        inp: Input,
        reply: Reply,
        evidence: dict[str, str],
    ) -> None:
        gap = _is_gap(reply)
        if gap == "*":
            self.finding(
                "runtime-gap",
                "a handler failed because the host's runtime answered a runtime call with an error",
                **evidence,
            )
            return
        if gap:
            what = "a runtime method" if gap == "?" else f"runtime.{gap}"
            self.finding("runtime-gap", f"a handler needs {what}, which the host did not provide", **evidence)
            return
        code = reply.code
        message = reply.message or ""
        # A handler's own failure (-32000) may say "not found" about anything; an unknown-name
        # answer in another code names the item.
        said_unknown = code not in (None, -32000) and name in message and _UNKNOWN_RE.search(message)
        if code == -32001 or said_unknown:
            self.finding(
                check,
                f"{method} answers its own declared {kind} name {name!r} as unknown ({code})",
                **evidence,
            )
        elif code == -32601:
            self.finding(
                check, f"{method} is answered 'method not found' although {kind}s are declared", **evidence
            )
        elif code is None:
            pass  # a malformed error object: response-envelope already has it
        elif inp.ordinary and code == -32003:
            self.finding(
                check,
                f"{method} answers an ordinary input with -32003 (the handler's result is invalid)",
                **evidence,
            )
        elif inp.ordinary and code in (-32600, -32602, -32700):
            self.finding(
                check, f"{method} rejects well-formed params of an ordinary input with {code}", **evidence
            )
        elif not inp.ordinary and code not in (-32000, -32002, -32602, -32700):
            self.finding("unusual-inputs", f"{method} answers {inp.kind} inputs with {code}", **evidence)

    def judge_result(self, check: str, method: str, reply: Reply, evidence: dict[str, str]) -> bool:
        value = reply.value
        if method.startswith("validate"):
            if isinstance(value, bool):
                return True
            if isinstance(value, dict) and isinstance(value.get("valid"), bool):
                self.finding(
                    "validate-boolean", f'{method} answers {{"valid": bool}}, not a bare boolean', **evidence
                )
                return True
            self.finding(check, f"{method} answers a JSON {json_type(value)}, expected a boolean", **evidence)
            return False
        problems = self.schemas.validate_result(method, value)
        if problems:
            self.finding(check, f"{method} result does not fit its schema: {problems[0]}", **evidence)
            return False
        return True

    def soak(self) -> None:
        """Ordinary inputs round and round for ``--soak`` seconds; RSS sampled once a second."""
        ordinary = ordinary_inputs(self.manifest, self.world)
        deadline = time.monotonic() + self.options.soak_s
        samples: list[list[float]] = []
        calls = lost = 0
        started = time.monotonic()
        next_sample = started
        targets = [
            (f"declared-{plural}", kind, name, method)
            for plural, kind, methods in KINDS
            for name in self.items.get(plural, [])
            if name not in self.options.skip
            for method in methods
        ]
        if not targets:
            return
        i = 0
        while time.monotonic() < deadline:
            _check, _kind, name, method = targets[i % len(targets)]
            inp = ordinary[i % len(ordinary)]
            reply = self.call(method, inp.params(method, name), f"soak {method}({name!r})")
            calls += 1
            i += 1
            if reply.kind in ("crash", "hang"):
                lost += 1
                self.finding(
                    "no-crash" if reply.kind == "crash" else "no-hang",
                    f"a request was lost during the soak ({reply.kind})",
                    request=self.request_text(method, inp.params(method, name)),
                    received=reply.detail,
                    stderr=reply.stderr,
                    input=f"soak {method}({name!r})",
                )
            if time.monotonic() >= next_sample:
                rss = self._rss_kb()
                if rss is not None:
                    samples.append([round(time.monotonic() - started, 1), rss])
                next_sample += 1.0
        self.result.soak = {"seconds": self.options.soak_s, "calls": calls, "lost": lost, "rss_kb": samples}
        if samples:
            self.result.notes.append(
                f"soak: {calls} calls in {self.options.soak_s:g} s, {lost} lost, RSS {samples[0][1]:.0f} -> "
                f"{samples[-1][1]:.0f} KiB"
            )

    def _rss_kb(self) -> float | None:
        if isinstance(self.channel, RawChannel) and self.channel.raw is not None:
            try:
                status = Path(f"/proc/{self.channel.raw.proc.pid}/status").read_text()
            except OSError:
                return None
            match = re.search(r"VmRSS:\s+(\d+)", status)
            return float(match.group(1)) if match else None
        return None

    # -- protocol probes --------------------------------------------------------------------------
    def check_unknown_names(self) -> None:
        if self.channel is None:
            return
        for _plural, kind, methods in KINDS:
            for method in methods:
                params = {"name": UNKNOWN_NAME, "memory": memory_for("Hello", "unknown"), "state": {}}
                if method == "invokeAction":
                    params["options"] = {}
                reply = self.call(method, params, f"{method}(unknown name)")
                evidence = {
                    "request": self.request_text(method, params),
                    "received": reply.received or reply.describe(),
                    "stderr": reply.stderr,
                    "input": f"{method}(unknown name)",
                }
                if reply.kind == "crash":
                    self.finding("no-crash", f"the plugin exited on {method} of an unknown name", **evidence)
                elif reply.kind == "hang":
                    self.finding("no-hang", f"{method} of an unknown name was not answered", **evidence)
                elif reply.kind == "result":
                    self.finding(
                        "unknown-name-error",
                        f"{method} of an unknown name answers a result, not an error",
                        **evidence,
                    )
                elif reply.code != -32001:
                    self.finding(
                        "unknown-name-error",
                        f"{method} of an unknown name answers {reply.code}, expected -32001 "
                        "(hosts accept any error)",
                        **evidence,
                    )
                elif not (
                    isinstance(reply.data, dict)
                    and reply.data.get("kind") == kind
                    and reply.data.get("name") == UNKNOWN_NAME
                ):
                    self.finding(
                        "unknown-name-error",
                        f'-32001 without data {{"kind": "{kind}", "name": <name>}} on {method}',
                        **evidence,
                    )

    def _first_name(self) -> tuple[str, str]:
        for plural, _kind, methods in KINDS:
            names = [n for n in self.items.get(plural, []) if n not in self.options.skip]
            if names:
                return methods[-1], names[0]
        return "invokeAction", UNKNOWN_NAME

    def check_invalid_params(self) -> None:
        method, name = self._first_name()
        memory = memory_for("Hello", "invalid-params")
        cases: list[tuple[str, str, dict[str, Any]]] = [
            ("name", "missing", {"memory": memory, "state": {}, "options": {}}),
            ("name", "integer", {"name": 5, "memory": memory, "state": {}, "options": {}}),
            ("memory", "string", {"name": name, "memory": "not an object", "state": {}, "options": {}}),
            ("memory", "missing", {"name": name, "state": {}, "options": {}}),
        ]
        for param, received, params in cases:
            reply = self.call(method, params, f"{method} with {param} {received}")
            evidence = {
                "request": self.request_text(method, params),
                "received": reply.received or reply.describe(),
                "stderr": reply.stderr,
                "input": f"{param} {received}",
            }
            if reply.kind == "crash":
                self.finding("no-crash", f"the plugin exited on {method} with {param} {received}", **evidence)
            elif reply.kind == "hang":
                self.finding("no-hang", f"{method} with {param} {received} was not answered", **evidence)
            elif reply.kind == "result":
                self.finding(
                    "invalid-params-error",
                    f"{param} {received} is answered with a result, expected -32602",
                    **evidence,
                )
            elif reply.code != -32602:
                self.finding(
                    "invalid-params-error",
                    f"{param} {received} is answered {reply.code}, expected -32602",
                    **evidence,
                )
            elif not (isinstance(reply.data, dict) and reply.data.get("param") == param):
                self.finding(
                    "invalid-params-error",
                    f'-32602 without data {{"param": "{param}", "expected", "received"}}',
                    **evidence,
                )

    def check_unknown_method(self) -> None:
        reply = self.call("certifyNoSuchMethod", {}, "certifyNoSuchMethod")
        evidence = {
            "request": self.request_text("certifyNoSuchMethod", {}),
            "received": reply.received or reply.describe(),
            "stderr": reply.stderr,
        }
        if reply.kind == "crash":
            self.finding("no-crash", "the plugin exited on an unknown method", **evidence)
        elif reply.kind == "hang":
            self.finding("no-hang", "an unknown method was not answered", **evidence)
        elif reply.code != -32601:
            self.finding(
                "unknown-method",
                f"an unknown method is answered {reply.describe()}, expected -32601",
                **evidence,
            )

    def check_parse_error(self) -> None:
        channel = self.channel
        assert isinstance(channel, RawChannel)
        raw = channel.ensure()
        bad = b'{"id": 1, "method": '
        channel.current = (0, bad.decode(), "a line that is not JSON")
        raw.send_line(bad)
        evidence = {"request": bad.decode(), "input": "a line that is not JSON"}
        try:
            line = raw.read_line(min(self.options.timeout_s, 3.0))  # SHOULD: no long wait
        except RawIpcError as exc:
            code = raw.proc.poll()
            stderr = channel.stderr_tail()
            if code is not None:
                channel.kill()
                self.finding(
                    "parse-error",
                    f"the plugin exited (status {code}) on a line that is not JSON",
                    received=str(exc),
                    stderr=stderr,
                    **evidence,
                )
            else:
                self.finding(
                    "parse-error",
                    "a line that is not JSON got no answer (expected -32700 with id null)",
                    received=str(exc),
                    stderr=stderr,
                    **evidence,
                )
                channel.kill()
            return
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        error = message.get("error") if isinstance(message, dict) else None
        if not (
            isinstance(message, dict)
            and message.get("id", "x") is None
            and isinstance(error, dict)
            and error.get("code") == -32700
        ):
            self.finding(
                "parse-error",
                'expected {"id": null, "error": {"code": -32700, ...}}',
                received=cap(line.decode("utf-8", "replace")),
                stderr=channel.stderr_tail(),
                **evidence,
            )
        after = self.call("getManifest", {}, "getManifest after a bad line")
        if after.kind != "result":
            self.finding(
                "parse-error",
                "the plugin stopped serving after a bad line",
                received=after.describe(),
                stderr=after.stderr,
                **evidence,
            )

    def check_pipelining(self) -> None:
        channel = self.channel
        assert isinstance(channel, RawChannel)
        targets = [
            (methods[-1], name)
            for plural, _kind, methods in KINDS
            for name in self.items.get(plural, [])
            if name not in self.options.skip
        ] or [("getManifest", "")]
        raw = channel.ensure()
        sent: dict[int, tuple[str, str, str]] = {}
        lines: list[bytes] = []
        for i in range(20):
            method, name = targets[i % len(targets)]
            channel.last_id += 1
            msg_id = channel.last_id
            text = f"pipelined request {msg_id}"
            params: dict[str, Any] = {}
            if method != "getManifest":
                params = Input("pipelined", "ordinary", memory_for(text, text), {}, {}).params(method, name)
            sent[msg_id] = (method, name, text)
            lines.append(
                json.dumps({"id": msg_id, "method": method, "params": params}, ensure_ascii=False).encode()
            )
        channel.current = (min(sent), b"\n".join(lines)[:600].decode(), "20 pipelined requests")
        self.calls += len(lines)
        raw.send_line(b"\n".join(lines))
        answered: set[int] = set()
        strays = 0
        deadline = time.monotonic() + self.options.timeout_s + 2.0
        while len(answered) + strays < len(sent) and time.monotonic() < deadline:
            try:
                line = raw.read_line(max(0.01, deadline - time.monotonic()))
            except RawIpcError:
                break
            message = channel._inspect(line, raw)
            if not isinstance(message, dict) or "method" in message:
                continue
            rid = message.get("id")
            received = cap(line.decode("utf-8", "replace"))
            if not isinstance(rid, int) or isinstance(rid, bool) or rid not in sent:
                strays += 1
                self.finding(
                    "response-ids",
                    f"an answer to pipelined requests carries a {json_type(rid)} id that was not sent",
                    received=received,
                    stderr=channel.stderr_tail(),
                    input="20 pipelined requests",
                )
                continue
            if rid in answered:
                self.finding(
                    "response-ids",
                    "a second answer to a pipelined request",
                    received=received,
                    input="20 pipelined requests",
                )
                continue
            answered.add(rid)
            channel.answered.add(rid)
            method, name, text = sent[rid]
            if "result" in message:
                body = json.dumps(message["result"], ensure_ascii=False)
                others = [k for k, v in sent.items() if k != rid and v[2] + '"' in body]
                if others:
                    self.finding(
                        "pipelining",
                        f"the answer to id {rid} quotes request(s) {others[:5]}: answers crossed",
                        received=cap(body),
                        input="20 pipelined requests",
                    )
        missing = sorted(set(sent) - answered)
        if len(missing) > strays:
            stderr = channel.stderr_tail()
            self.finding(
                "pipelining",
                f"{len(missing)} of 20 pipelined requests got no answer "
                f"(ids {missing[:8]}{'...' if len(missing) > 8 else ''})",
                request=channel.current[1] if channel.current else "",
                stderr=stderr,
                input="20 pipelined requests",
            )
            channel.kill()

    def check_shutdown(self) -> None:
        assert isinstance(self.channel, RawChannel)
        self.channel.close()  # a fresh process: the previous one is not disturbed
        reply = self.call("shutdown", {}, "shutdown")
        evidence = {
            "request": self.request_text("shutdown", {}),
            "received": reply.received or reply.describe(),
            "stderr": reply.stderr,
        }
        if reply.kind != "result" or reply.value != {}:
            declared = "shutdown" in self.capabilities
            self.finding(
                "shutdown",
                f"shutdown is answered {reply.describe()}"
                + (
                    ""
                    if declared
                    else " (the plugin does not declare the shutdown capability; hosts then close stdin)"
                ),
                **evidence,
            )
            if declared:
                self.finding(
                    "capabilities", "declares the shutdown capability but shutdown does not work", **evidence
                )
            self.channel.kill()
            return
        raw = self.channel.raw
        code = raw.wait_exit(2.0) if raw is not None else None
        if code != 0:
            self.finding(
                "shutdown",
                f"after answering shutdown the plugin did not exit 0 within 2 s (status {code})",
                **evidence,
            )
        self.channel.kill()

    def check_eof(self) -> None:
        assert isinstance(self.channel, RawChannel)
        reply = self.call("getManifest", {}, "getManifest")
        if reply.kind != "result":
            self.finding("eof-exit", f"getManifest before EOF: {reply.describe()}", stderr=reply.stderr)
            self.channel.kill()
            return
        code, elapsed = self.channel.close(grace_s=3.0)
        if code != 0:
            self.finding(
                "eof-exit",
                f"on stdin EOF the plugin did not exit 0 within 3 s (status {code}, {elapsed:.1f} s)",
                request="(stdin closed)",
            )

    # -- hosts --------------------------------------------------------------------------------------
    def selected_hosts(self) -> tuple[list[str], bool]:
        if self.options.hosts:
            return list(self.options.hosts), True
        return list(HOSTS), False

    def run_hosts(self) -> None:
        hosts, explicit = self.selected_hosts()
        if self.target.spec is None:
            return
        spec = self.target.spec
        calls: list[tuple[str, dict[str, Any]]] = []
        labels: list[str] = []
        inputs = ordinary_inputs(self.manifest, self.world)
        for plural, _kind, methods in KINDS:
            for name in self.items.get(plural, []):
                if name in self.options.skip:
                    continue
                for method in methods:
                    for inp in inputs:
                        calls.append((method, inp.params(method, name)))
                        labels.append(f"{method}({name!r}) with {inp.label}")
        outcomes: dict[str, list[Reply]] = {}
        for host in hosts:
            info: dict[str, Any] = {"status": "not run"}
            self.result.hosts[host] = info
            host_started = time.monotonic()
            driver, description = open_host(host, self.toolchains, build=explicit)
            info["driver"] = description
            if driver is None:
                info["status"] = "unavailable"
                if explicit:
                    raise UnusableInput(f"--hosts {host}: {description}")
                self.result.notes.append(f"host {host} not used: {description}")
                continue
            try:
                transports = getattr(driver, "transports", None) or ["ipc", "wasm", "ffi"]
                if spec.transport not in transports:
                    info["status"] = f"no {spec.transport} loader"
                    self.result.notes.append(
                        f"host {host} has no {spec.transport} loader (it offers {', '.join(transports)})"
                    )
                    continue
                info["runtime"] = driver.runtime
                host_spec = spec
                if host == "bun" and spec.language == "typescript":
                    host_spec = PluginSpec(
                        spec.transport, spec.language, path=spec.path, command=spec.command, runtime="bun"
                    )
                try:
                    handle, _manifest = driver.load(
                        host_spec, int(self.options.start_timeout_s * 1000), agent_runtime=self.world
                    )
                except DriverError as exc:
                    info["status"] = "load failed"
                    self.finding(
                        "host-load",
                        f"the {host} host refuses the plugin",
                        received=cap(str(exc), 1500),
                        host=host,
                    )
                    continue
                info["status"] = "loaded"
                channel = HostChannel(driver, handle, self.options.timeout_s, raw_params=False)
                replies = self._batch(channel, calls)
                self.judge_host_replies(host, calls, labels, replies)
                outcomes[host] = replies
                info["calls"] = len(calls)
                with contextlib.suppress(DriverError):
                    driver.unload(handle)
                if not self.unstable and len(hosts) > 1:
                    # The same calls on a fresh load of the same host: what differs is the plugin's
                    # own nondeterminism (clocks, randomness), not a host disagreement.
                    try:
                        handle, _manifest = driver.load(
                            host_spec, int(self.options.start_timeout_s * 1000), agent_runtime=self.world
                        )
                    except DriverError:
                        continue
                    again = self._batch(
                        HostChannel(driver, handle, self.options.timeout_s, raw_params=False), calls
                    )
                    self.unstable = {
                        i
                        for i, (method, _params) in enumerate(calls)
                        if json_diff(_normalise(replies[i], method), _normalise(again[i], method)) is not None
                    } or {-1}
                    with contextlib.suppress(DriverError):
                        driver.unload(handle)
            finally:
                with contextlib.suppress(Exception):
                    driver.close()
                info["duration_s"] = round(time.monotonic() - host_started, 2)
        self.compare_hosts(outcomes, calls, labels)

    def judge_host_replies(
        self, host: str, calls: list[tuple[str, dict[str, Any]]], labels: list[str], replies: list[Reply]
    ) -> None:
        """Ordinary inputs through a host: a crash, a hang or an unknown-name answer there is the
        plugin's (a host sends the version exchange and, with --runtime, runtime params: a plugin
        that trips over members it does not know breaks must-ignore)."""
        framing = {"stdout-json", "json-profile", "response-envelope", "response-ids", "pipelining"}
        broken = sorted({f.check for f in self.findings if f.check in framing})
        # After a crash, a time-out or a protocol error the host closes the plugin, and a plugin
        # that already broke the framing trips the host's own checks: what follows is consequence.
        stopped = bool(broken)
        lost = 0
        for (method, params), label, reply in zip(calls, labels, replies, strict=True):
            if reply.kind in ("crash", "hang", "host"):
                if stopped:
                    lost += 1
                    continue
                stopped = True
            kind = next(k for _p, k, methods in KINDS if method in methods)
            check = f"declared-{kind}s"
            evidence = {
                "request": self.request_text(method, params),
                "received": reply.describe(),
                "input": label,
                "host": host,
            }
            if reply.kind == "crash":
                self.finding(
                    "no-crash",
                    f"the plugin exited while answering {method} through the {host} host",
                    **evidence,
                )
            elif reply.kind == "hang":
                self.finding(
                    "no-hang", f"{method} through the {host} host was not answered in time", **evidence
                )
            elif reply.kind == "error" and reply.code in (-32001, -32601):
                self.finding(
                    check,
                    f"{method} through the {host} host answers its own declared name with {reply.code}",
                    **evidence,
                )
            elif reply.kind == "error" and reply.code == -32003:
                self.finding(
                    check,
                    f"the {host} host finds the {method} result of an ordinary input invalid (-32003)",
                    **evidence,
                )
        if lost:
            cause = f"it broke {', '.join(broken)}" if broken else "of the first failure"
            self.result.notes.append(f"{host} host: {lost} calls failed because {cause}; not counted again")

    def _batch(self, channel: HostChannel, calls: list[tuple[str, dict[str, Any]]]) -> list[Reply]:
        replies: list[Reply] = []
        for start in range(0, len(calls), 64):
            replies += channel.call_many(calls[start : start + 64])
        self.calls += len(calls)
        return replies

    def compare_hosts(
        self, outcomes: dict[str, list[Reply]], calls: list[tuple[str, dict[str, Any]]], labels: list[str]
    ) -> None:
        hosts = list(outcomes)
        if len(hosts) < 2:
            self.notes_by_check["differential"] = f"{len(hosts)} host(s) answered: nothing to compare"
            return
        reference = hosts[0]
        unstable = self.unstable - {-1}
        for other in hosts[1:]:
            for i, (method, params) in enumerate(calls):
                if i in unstable:
                    continue
                a = _normalise(outcomes[reference][i], method)
                b = _normalise(outcomes[other][i], method)
                diff = json_diff(a, b)
                if diff is None:
                    continue
                path = diff.split(":", 1)[0]
                self.finding(
                    "differential",
                    f"{reference} and {other} disagree at {path}",
                    request=self.request_text(method, params),
                    received=cap(
                        f"{reference}: {outcomes[reference][i].describe()}\n"
                        f"{other}: {outcomes[other][i].describe()}",
                        1200,
                    ),
                    input=labels[i],
                    host=f"{reference}/{other}",
                )
        self.notes_by_check["differential"] = (
            f"{len(calls) - len(unstable)} calls compared across {', '.join(hosts)}"
            + (
                f"; {len(unstable)} not compared: they differ between two fresh loads on {reference} "
                "(clocks, randomness)"
                if unstable
                else ""
            )
        )

    # -- grading --------------------------------------------------------------------------------------
    def grade(self) -> None:
        expected = set(self.options.expected_failures)
        repro_base = f"interop-testkit certify {self.target.cli}"
        if self.options.hosts:
            repro_base += f" --hosts {','.join(self.options.hosts)}"
        if self.options.runtime_world:
            repro_base += f" --runtime {shlex.quote(self.options.runtime_world)}"
        for s in self.options.skip:
            repro_base += f" --skip {shlex.quote(s)}"
        for spec in CHECKS:
            if self.options.only and spec.id not in self.options.only:
                continue
            result = CheckResult(spec.id, spec.level, spec.section, spec.summary)
            result.duration_s = self.durations.get(spec.id, 0.0)
            result.repro = f"{repro_base} --only {spec.id}"
            mine = [f for f in self.findings if f.check == spec.id]
            groups: dict[str, FindingGroup] = {}
            for finding in mine:
                group = groups.get(finding.summary)
                if group is None:
                    groups[finding.summary] = FindingGroup(
                        finding.summary, 1, finding, [finding.input] if finding.input else []
                    )
                else:
                    group.count += 1
                    if finding.input and finding.input not in group.inputs:
                        group.inputs.append(finding.input)
            result.groups = list(groups.values())
            if result.groups:
                result.outcome = "fail"
                first = result.groups[0]
                more = f" (+{len(result.groups) - 1} other problem(s))" if len(result.groups) > 1 else ""
                result.message = f"{first.summary}" + (f" (x{first.count})" if first.count > 1 else "") + more
            elif spec.id in self.skipped:
                result.outcome = "skip"
                result.message = self.skipped[spec.id]
            elif spec.id not in self.ran:
                result.outcome = "skip"
                result.message = "not run"
            else:
                calls = self.calls_by_check.get(spec.id, 0)
                result.message = self.notes_by_check.get(spec.id, "") or (
                    f"{calls} call{'s' if calls != 1 else ''}" if calls else ""
                )
            if spec.id in expected:
                if result.outcome == "fail":
                    result.outcome = "xfail"
                elif result.outcome == "pass":
                    result.outcome = "xpass"
                    result.message = "listed as an expected failure but passed: remove it from the list"
            self.result.checks.append(result)


def certify(
    path: str | None,
    ipc: str | None,
    options: CertifyOptions | None = None,
    *,
    toolchains: Toolchains | None = None,
    echo: Callable[[str], None] = print,
) -> Certification:
    """Certify one plugin; raises UnusableInput for input that cannot be certified at all."""
    opts = options or CertifyOptions()
    tc = toolchains or toolchains_anywhere()
    tc.apply_env()
    target = resolve_target(path, ipc, tc)
    for check_id in opts.only:
        try:
            check_spec(check_id)
        except KeyError as exc:
            raise UnusableInput(str(exc).strip("'\"")) from exc
    for host in opts.hosts or ():
        if host not in HOSTS:
            raise UnusableInput(
                f"--hosts: unknown host {host!r}; expected a comma-separated subset of {','.join(HOSTS)}"
            )
    try:
        return _Certifier(target, opts, tc, echo).run()
    except ToolchainError as exc:
        raise UnusableInput(str(exc)) from exc
