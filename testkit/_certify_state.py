"""The state of one certify run and the plumbing every phase uses: findings, phases, calls."""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from elizaos_interop import json_type

from testkit._certify_channel import Finding, HostChannel, RawChannel, Reply, cap
from testkit._certify_model import Certification, CertifyOptions, Target, UnusableInput
from testkit._drivers import PythonDriver
from testkit._resources import schemas_dir
from testkit._schemas import SchemaSet
from testkit._toolchains import Toolchains


class CertifierState:
    """A certify run's state and plumbing, shared by its phases (each a mixin of its own module)."""

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

    def evidence(self, method: str, params: Any, reply: Reply, input: str | None = None) -> dict[str, str]:
        """What a finding about ``reply`` shows the author: the request, what came back, the
        plugin's stderr and, when given, the input's label."""
        found = {
            "request": self.request_text(method, params),
            "received": reply.received or reply.describe(),
            "stderr": reply.stderr,
        }
        if input is not None:
            found["input"] = input
        return found

    def lost(self, reply: Reply, what: str, evidence: dict[str, str]) -> bool:
        """File ``no-crash`` or ``no-hang`` when the plugin exited on, or did not answer, ``what``
        (e.g. "an unknown method"); True when it did, and nothing else is to be judged."""
        if reply.kind == "crash":
            self.finding("no-crash", f"the plugin exited on {what}", **evidence)
        elif reply.kind == "hang":
            self.finding("no-hang", f"{what} was not answered", **evidence)
        else:
            return False
        return True

    def runtime_context(self) -> dict[str, Any] | None:
        if self.world is None or "runtime" not in self.capabilities:
            return None
        context: dict[str, Any] = {}
        for key in ("agentId", "character"):
            if key in self.world:
                context[key] = self.world[key]
        return context
