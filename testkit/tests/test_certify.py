"""``interop-testkit certify``: PASS on the conformance fixture, FAIL naming the right check on
misbehaving plugins, a certificate JSON, and exit codes."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from testkit._toolchains import find_repo_root
from testkit.cli import main

ROOT = find_repo_root(Path(__file__).parent)
PY = shlex.quote(sys.executable)
FIXTURE = ROOT / "plugins" / "python" / "fixtures" / "conformance_plugin.py"
MISBEHAVING = ROOT / "plugins" / "python" / "fixtures" / "misbehaving"


def _certify(tmp_path: Path, *args: str) -> tuple[int, dict[str, object]]:
    out = tmp_path / "certificate.json"
    code = main(["certify", *args, "--json", str(out), "--timeout", "10"])
    return code, json.loads(out.read_text(encoding="utf-8"))


def _outcomes(cert: dict[str, object]) -> dict[str, str]:
    checks = cert["checks"]
    assert isinstance(checks, list)
    return {c["name"]: c["outcome"] for c in checks}


def test_conformance_fixture_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ipc = f"{PY} -m elizaos_interop.bridge_server {shlex.quote(str(FIXTURE))}"
    code, cert = _certify(tmp_path, "--ipc", ipc, "--skip", "crash")
    assert code == 0, capsys.readouterr().out
    assert cert["verdict"] == "PASS"
    assert cert["plugin"] == {"name": "conformance-fixture", "version": "1.0.0", "language": "python"}
    assert cert["transport"] == "ipc"
    outcomes = _outcomes(cert)
    for name in (
        "manifest-schema",
        "declared-actions",
        "edge-case-probes",
        "unknown-name",
        "invalid-params",
        "unknown-method",
        "parse-error",
        "pipelined-ids",
        "timeouts-bounded",
    ):
        assert outcomes[name] == "pass", (name, outcomes)
    printed = capsys.readouterr().out
    assert "PASS  pipelined-ids" in printed
    assert "not called on request: validateAction(crash), invokeAction(crash)" in printed


def test_a_py_path_is_served_through_the_bridge(tmp_path: Path) -> None:
    code, cert = _certify(tmp_path, str(FIXTURE), "--skip", "crash")
    assert code == 0, cert
    assert cert["verdict"] == "PASS"


def test_the_crash_action_fails_certification_without_skip(tmp_path: Path) -> None:
    code, cert = _certify(tmp_path, str(FIXTURE))
    assert code == 1
    assert _outcomes(cert)["declared-actions"] == "fail"


@pytest.mark.parametrize(
    ("fixture", "failing_check"),
    [
        ("bad_manifest.py", "manifest-schema"),
        ("wrong_id.py", "pipelined-ids"),
        ("crash_on_input.py", "edge-case-probes"),
    ],
)
def test_misbehaving_plugins_fail_the_right_check(tmp_path: Path, fixture: str, failing_check: str) -> None:
    ipc = f"{PY} {shlex.quote(str(MISBEHAVING / fixture))}"
    code, cert = _certify(tmp_path, "--ipc", ipc, "--skip", "crash")
    assert code == 1
    assert cert["verdict"] == "FAIL"
    outcomes = _outcomes(cert)
    assert outcomes[failing_check] == "fail", outcomes
    if fixture == "crash_on_input.py":
        checks = cert["checks"]
        assert isinstance(checks, list)
        message = next(c["message"] for c in checks if c["name"] == "edge-case-probes")
        assert "astral" in message
        assert "PluginCrashError" in message
        assert outcomes["declared-actions"] == "pass"  # generic inputs are fine: only the probes find it


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certify"]) == 2
    assert main(["certify", str(ROOT / "README.md")]) == 2
    err = capsys.readouterr().err
    assert "exactly one of PATH or --ipc" in err
    assert "cannot tell how to load it" in err
