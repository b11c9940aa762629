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
import shlex
import time
from collections.abc import Callable
from typing import Any

from testkit._certify_channel import HostChannel, RawChannel, cap
from testkit._certify_checks import CHECKS, check_spec
from testkit._certify_exercise import CorpusPhase
from testkit._certify_hosts import HostPhase
from testkit._certify_model import (
    HOSTS,
    KINDS,
    Certification,
    CertifyOptions,
    CheckResult,
    FindingGroup,
    Target,
    UnusableInput,
)
from testkit._certify_probes import ProtocolProbes
from testkit._certify_target import resolve_target, toolchains_anywhere
from testkit._drivers import DriverError, PythonDriver
from testkit._rawipc import RawIpcError
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


class _Certifier(CorpusPhase, ProtocolProbes, HostPhase):
    """One certify run: its phases in order, then the grading."""

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
