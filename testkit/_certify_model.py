"""What certify works on and produces: its options, the target, check results and the certificate."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from testkit import __version__
from testkit._certify_channel import Finding
from testkit._drivers import PluginSpec

#: Host names accepted by ``--hosts``.
HOSTS: tuple[str, ...] = ("python", "node", "bun", "rust")
KINDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("actions", "action", ("validateAction", "invokeAction")),
    ("providers", "provider", ("getProvider",)),
    ("evaluators", "evaluator", ("validateEvaluator", "invokeEvaluator")),
)
UNKNOWN_NAME = "certify-no-such-name"


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
