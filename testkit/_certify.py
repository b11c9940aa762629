"""``interop-testkit certify``: the plugin-level checks against ONE plugin, through the Python host.

A plugin author points it at a ``.wasm``, a ``.so``, a ``.py`` file or package directory, a
``.ts``/``.js`` file, or any IPC command line. Each named check gives PASS or FAIL with a message;
a certificate JSON records them with the plugin's identity and an overall verdict.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import os
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import elizaos_interop as api

from testkit import __version__
from testkit._jsonprofile import load_edge_cases
from testkit._rawipc import RawIpc, RawIpcError
from testkit._schemas import SchemaSet, schemas
from testkit._toolchains import Toolchains, find_repo_root

__all__ = ["Certification", "Check", "certify", "describe_target"]

GENERIC_MEMORY: dict[str, Any] = {
    "id": "certify-memory",
    "entityId": "certify-user",
    "roomId": "certify-room",
    "content": {"text": "Hello, I would like some help with my problem.", "source": "certify"},
}
GENERIC_STATE: dict[str, Any] = {"values": {}, "data": {}, "text": ""}


@dataclass
class Check:
    """One named check and its outcome."""

    name: str
    passed: bool
    message: str = ""
    skipped: bool = False

    def to_json(self) -> dict[str, Any]:
        outcome = "skipped" if self.skipped else ("pass" if self.passed else "fail")
        return {"name": self.name, "outcome": outcome, "message": self.message}


@dataclass
class Certification:
    """All checks of one certification run and what was certified."""

    target: str
    transport: str
    plugin: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every check passed (skipped-on-request checks do not fail it)."""
        return bool(self.checks) and all(c.passed or c.skipped for c in self.checks)

    def certificate(self) -> dict[str, Any]:
        """The certificate document."""
        return {
            "certificate": "elizaos-interop plugin certification",
            "plugin": {
                "name": self.plugin.get("name"),
                "version": self.plugin.get("version"),
                "language": self.plugin.get("language"),
            },
            "target": self.target,
            "transport": self.transport,
            "checks": [c.to_json() for c in self.checks],
            "verdict": "PASS" if self.passed else "FAIL",
            "testkit_version": __version__,
            "protocol": "docs/protocol.md",
            "timestamp": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }


def describe_target(
    path: str | None, ipc: str | None, toolchains: Toolchains
) -> tuple[str, list[str] | None]:
    """(transport, IPC argv or None) of a certify target; raises ValueError for an unknown kind."""
    if ipc is not None:
        argv = shlex.split(ipc)
        if not argv:
            raise ValueError("--ipc needs a command line, received an empty string")
        return "ipc", argv
    if path is None:
        raise ValueError("give a plugin path or --ipc COMMAND")
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{path}: no such file or directory")
    suffix = p.suffix.lower()
    if suffix == ".wasm":
        return "wasm", None
    if suffix in (".so", ".dylib", ".dll"):
        return "ffi", None
    if suffix == ".py" or (p.is_dir() and (p / "__init__.py").is_file()):
        return "ipc", [str(toolchains.python), "-m", "elizaos_interop.bridge_server", str(p.resolve())]
    if suffix in (".ts", ".js", ".mjs", ".mts"):
        return "ipc", [str(toolchains.node), str(toolchains.ts_bridge), str(p.resolve())]
    raise ValueError(
        f"{path}: cannot tell how to load it; expected .wasm, .so/.dylib, .py or a package directory, "
        ".ts/.js, or --ipc COMMAND"
    )


class _Certifier:
    def __init__(
        self,
        path: str | None,
        ipc: str | None,
        timeout_s: float,
        skip: Sequence[str],
        toolchains: Toolchains,
        echo: Callable[[str], None],
    ) -> None:
        self.path = path
        self.ipc = ipc
        self.timeout = timeout_s
        self.skip = set(skip)
        self.toolchains = toolchains
        self.echo = echo
        self.transport, self.argv = describe_target(path, ipc, toolchains)
        self.result = Certification(target=ipc if ipc is not None else str(path), transport=self.transport)
        self.loop = asyncio.new_event_loop()
        self.plugin: Any = None
        self.schemas: SchemaSet = schemas(find_repo_root() / "docs" / "schemas")
        self.timeouts: list[str] = []

    # -- plumbing -----------------------------------------------------------------------------
    def record(self, name: str, problems: list[str], ok_message: str = "", skipped: bool = False) -> None:
        check = Check(name, not problems, "; ".join(problems)[:4000] if problems else ok_message, skipped)
        self.result.checks.append(check)
        label = "SKIP" if skipped else ("PASS" if check.passed else "FAIL")
        self.echo(f"{label}  {name}" + (f": {check.message}" if check.message else ""))

    def load(self) -> Any:
        env = self.toolchains.env()
        if self.transport == "wasm":
            return api.load_wasm_plugin(str(self.path))
        if self.transport == "ffi":
            return api.load_rust_plugin(str(self.path))
        assert self.argv is not None
        return api.load_ipc_plugin(self.argv, env=env, start_timeout=self.timeout, timeout=self.timeout)

    def reload(self) -> None:
        """After a crash or wedge: a fresh instance for the remaining checks."""
        if self.plugin is not None:
            self.plugin.close()
        self.plugin = self.load()

    def call(self, method: str, params: dict[str, Any]) -> tuple[Any, BaseException | None]:
        """(result, None) or (None, error) for one raw call through the host's transport."""
        try:
            value = self.loop.run_until_complete(self.plugin.transport.call(method, params, self.timeout))
            return value, None
        except api.InteropError as exc:
            if isinstance(exc, api.PluginTimeoutError):
                self.timeouts.append(f"{method}({params.get('name', '')})")
            if isinstance(exc, api.PluginCrashError | api.PluginTimeoutError | api.PluginProtocolError):
                self.reload()
            return None, exc

    def judge(self, method: str, params: dict[str, Any], label: str) -> str | None:
        """None if the call gave a schema-valid result or a typed PluginCallError; else the problem."""
        value, error = self.call(method, params)
        if error is None:
            problems = self.schemas.validate_result(method, value)
            return f"{label}: result invalid against its schema: {problems}" if problems else None
        if isinstance(error, api.PluginCallError):
            if -32099 <= error.code <= -32000 or error.code in (-32602, -32603):
                return None
            return f"{label}: unexpected error code {error.code}: {error.message}"
        return f"{label}: {type(error).__name__}: {error}"

    # -- checks -------------------------------------------------------------------------------
    def run(self) -> Certification:
        try:
            self.check_load()
            if self.plugin is not None:
                self.check_declared()
                self.check_edge_cases()
                self.check_unknown_names()
                self.check_invalid_params()
            if self.argv is not None:
                self.check_raw_ipc()
            self.record(
                "timeouts-bounded",
                [f"calls that hit the {self.timeout:g} s time-out: {self.timeouts}"] if self.timeouts else [],
                f"every call answered within {self.timeout:g} s",
            )
        finally:
            if self.plugin is not None:
                self.plugin.close()
            self.loop.close()
        return self.result

    def _raw_manifest(self) -> Any:
        assert self.argv is not None
        with RawIpc(self.argv, env=self.toolchains.env()) as raw:
            response = raw.request("getManifest", {}, timeout=self.timeout)
        return response.get("result")

    def check_load(self) -> None:
        try:
            self.plugin = self.load()
        except api.InteropError as exc:
            self.record("load", [f"{type(exc).__name__}: {exc}"])
            if self.argv is not None:  # say what is wrong with the manifest, from the raw answer
                try:
                    manifest = self._raw_manifest()
                except RawIpcError as raw_exc:
                    self.record("manifest-schema", [f"no manifest: {raw_exc}"])
                    return
                if isinstance(manifest, dict):
                    self.result.plugin = manifest
                self.record("manifest-schema", self.schemas.validate("manifest.schema.json", manifest))
            return
        self.result.plugin = dict(self.plugin.manifest)
        self.record(
            "load",
            [],
            f"{self.plugin.name} {self.plugin.version} ({self.plugin.language}) over {self.transport}",
        )
        self.record("manifest-schema", self.schemas.validate("manifest.schema.json", self.plugin.manifest))

    def _kinds(self) -> list[tuple[str, list[tuple[str, dict[str, Any]]]]]:
        manifest = self.result.plugin
        out: list[tuple[str, list[tuple[str, dict[str, Any]]]]] = []
        for kind, calls in (
            ("actions", ("validateAction", "invokeAction")),
            ("providers", ("getProvider",)),
            ("evaluators", ("validateEvaluator", "invokeEvaluator")),
        ):
            items: list[tuple[str, dict[str, Any]]] = []
            for desc in manifest.get(kind, []):
                name = desc.get("name")
                for method in calls:
                    params: dict[str, Any] = {"name": name, "memory": GENERIC_MEMORY, "state": GENERIC_STATE}
                    if method == "invokeAction":
                        params["options"] = {}
                    items.append((method, params))
            out.append((kind, items))
        return out

    def check_declared(self) -> None:
        for kind, calls in self._kinds():
            problems: list[str] = []
            skipped: list[str] = []
            for method, params in calls:
                if params["name"] in self.skip:
                    skipped.append(f"{method}({params['name']})")
                    continue
                problem = self.judge(method, params, f"{method}({params['name']})")
                if problem:
                    problems.append(problem)
            note = f"{len(calls) - len(skipped)} calls answered per spec"
            if skipped:
                note += f"; not called on request: {', '.join(skipped)}"
            self.record(f"declared-{kind}", problems, note)

    def check_edge_cases(self) -> None:
        cases = load_edge_cases(find_repo_root() / "docs" / "vectors" / "json-edge-cases.json")
        actions = [a["name"] for a in self.result.plugin.get("actions", []) if a.get("name") not in self.skip]
        problems: list[str] = []
        for case in cases:
            value = case["value"]
            content: dict[str, Any] = {"value": value}
            content["text"] = value if isinstance(value, str) else "edge case " + case["name"]
            memory = {**GENERIC_MEMORY, "content": content}
            for action in actions:
                for method in ("validateAction", "invokeAction"):
                    params: dict[str, Any] = {"name": action, "memory": memory, "state": {}}
                    if method == "invokeAction":
                        params["options"] = {}
                    problem = self.judge(method, params, f"{method}({action}) with edge case {case['name']}")
                    if problem:
                        problems.append(problem)
        self.record(
            "edge-case-probes",
            problems,
            f"{len(cases)} payloads from docs/vectors/json-edge-cases.json x {len(actions)} actions",
        )

    def _expect_code(self, method: str, params: dict[str, Any], code: int, label: str) -> str | None:
        _value, error = self.call(method, params)
        if error is None:
            return f"{label}: expected error {code}, received a result"
        if not isinstance(error, api.PluginCallError) or error.code != code:
            return f"{label}: expected PluginCallError {code}, received {type(error).__name__}: {error}"
        return None

    def check_unknown_names(self) -> None:
        problems = [
            p
            for method in (
                "invokeAction",
                "getProvider",
                "invokeEvaluator",
                "validateAction",
                "validateEvaluator",
            )
            if (
                p := self._expect_code(
                    method,
                    {"name": "certify-no-such-name", "memory": GENERIC_MEMORY, "state": {}, "options": {}}
                    if method == "invokeAction"
                    else {"name": "certify-no-such-name", "memory": GENERIC_MEMORY, "state": {}},
                    -32001,
                    f"{method}(unknown name)",
                )
            )
        ]
        self.record("unknown-name", problems, "-32001 for every kind")

    def check_invalid_params(self) -> None:
        first = next((a["name"] for a in self.result.plugin.get("actions", [])), "x")
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("invokeAction", {"memory": GENERIC_MEMORY, "state": {}, "options": {}}, "missing name"),
            ("invokeAction", {"name": first, "memory": "not an object"}, "memory not an object"),
            ("getProvider", {"name": 5, "memory": GENERIC_MEMORY}, "name not a string"),
        ]
        problems = [
            p for method, params, label in cases if (p := self._expect_code(method, params, -32602, label))
        ]
        self.record("invalid-params", problems, "-32602 for missing and mistyped params")

    def check_raw_ipc(self) -> None:
        assert self.argv is not None
        env = self.toolchains.env()
        checks: list[tuple[str, Callable[[RawIpc], list[str]]]] = [
            ("unknown-method", self._raw_unknown_method),
            ("parse-error", self._raw_parse_error),
            ("pipelined-ids", self._raw_pipelined),
        ]
        for name, check in checks:
            try:
                with RawIpc(self.argv, env=env) as raw:
                    problems = check(raw)
            except RawIpcError as exc:
                problems = [str(exc)]
            self.record(name, problems)

    def _raw_unknown_method(self, raw: RawIpc) -> list[str]:
        msg_id = raw.send("certifyNoSuchMethod", {})
        response = raw.read_response(self.timeout)
        code = (response.get("error") or {}).get("code") if isinstance(response.get("error"), dict) else None
        if response.get("id") != msg_id or code != -32601:
            return [f"expected id {msg_id} with error -32601, received {str(response)[:300]}"]
        return []

    def _raw_parse_error(self, raw: RawIpc) -> list[str]:
        raw.send_line(b'{"id": 1, "method": ')
        response = raw.read_response(self.timeout)
        error = response.get("error")
        problems = []
        if (
            "id" not in response
            or response["id"] is not None
            or not isinstance(error, dict)
            or error.get("code") != -32700
        ):
            problems.append(
                f'expected {{"id": null, "error": {{"code": -32700}}}}, received {str(response)[:300]}'
            )
        after = raw.request("getManifest", {}, timeout=self.timeout)
        if "result" not in after:
            problems.append(
                f"the plugin should keep serving after a bad line; getManifest gave {str(after)[:300]}"
            )
        return problems

    def _raw_pipelined(self, raw: RawIpc) -> list[str]:
        """20 requests written at once (actions invoked, providers read), each with its own text;
        every response must carry the id of a request that was sent, once, and answer that request
        (a result quoting another request's text is answering the wrong one)."""
        manifest = raw.request("getManifest", {}, timeout=self.timeout).get("result") or {}
        actions = [a["name"] for a in manifest.get("actions", []) if a.get("name") not in self.skip]
        providers = [p["name"] for p in manifest.get("providers", []) if p.get("name") not in self.skip]
        sent: dict[int, tuple[str, str]] = {}
        lines = []
        for i in range(20):
            msg_id = 1000 + i
            memory = {**GENERIC_MEMORY, "content": {"text": f"pipelined request {msg_id}"}}
            params: dict[str, Any] = {"memory": memory, "state": {}}
            if actions and (i % 2 == 0 or not providers):
                method, name = "invokeAction", actions[(i // 2) % len(actions)]
                params["options"] = {}
            elif providers:
                method, name = "getProvider", providers[(i // 2) % len(providers)]
            else:
                method, name, params = "getManifest", "", {}
            if name:
                params["name"] = name
            sent[msg_id] = (method, name)
            lines.append(json.dumps({"id": msg_id, "method": method, "params": params}).encode())
        raw.send_line(b"\n".join(lines))
        problems: list[str] = []
        seen: set[object] = set()
        for _ in range(20):
            response = raw.read_response(self.timeout)
            rid = response.get("id")
            if not isinstance(rid, int) or rid not in sent:
                problems.append(f"response with an id that was never sent: {str(response)[:200]}")
                continue
            if rid in seen:
                problems.append(f"two responses for id {rid}")
            seen.add(rid)
            method, name = sent[rid]
            if "result" in response:
                if self.schemas.validate_result(method, response["result"]):
                    problems.append(f"id {rid} ({method} {name}): the result does not fit that request")
                text = json.dumps(response["result"])
                others = [k for k in sent if k != rid and f"pipelined request {k}" in text]
                if others:
                    problems.append(f"id {rid} ({method} {name}) answers request(s) {others}")
        return problems


def certify(
    path: str | None,
    ipc: str | None,
    *,
    timeout_s: float = 10.0,
    skip: Sequence[str] = (),
    toolchains: Toolchains | None = None,
    echo: Callable[[str], None] = print,
) -> Certification:
    """Run every plugin-level check against one plugin and return the outcomes."""
    tc = toolchains or Toolchains.discover()
    tc.apply_env()
    return _Certifier(path, ipc, timeout_s, skip, tc, echo).run()


def write_certificate(result: Certification, out: Path) -> None:
    """Write the certificate JSON (atomically)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result.certificate(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out)
