"""The catalogue of broken plugins (testkit/fixtures/broken): each breaks one MUST of
docs/protocol.md, and certify must fail it with that check's id and no MUST it does not break."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from testkit._certify_checks import CHECKS
from testkit._toolchains import Toolchains, find_repo_root
from testkit.cli import main

ROOT = find_repo_root(Path(__file__).parent)
BROKEN = ROOT / "testkit" / "fixtures" / "broken"

#: file -> the MUST check it breaks.
CATALOGUE: dict[str, str] = {
    "exit_on_sad.py": "no-crash",
    "hang_on_sad.py": "no-hang",
    "provider_unknown_name.py": "declared-providers",
    "evaluator_validate_string.py": "declared-evaluators",
    "invalid_result_ordinary.py": "declared-actions",
    "nan_result.py": "json-profile",
    "wrong_id.py": "response-ids",
    "duplicate_answer.py": "response-ids",
    "garbage_stdout.py": "stdout-json",
    "bad_manifest_types.py": "manifest",
    "error_not_object.py": "response-envelope",
    "drops_pipelined.py": "pipelining",
    "unsolicited_runtime.py": "runtime-requests",
    "strict_params.py": "host-load",
    "exit_on_sad.mjs": "no-crash",
    "hang_on_sad.mjs": "no-hang",
    "provider_unknown_name.mjs": "declared-providers",
    "invalid_result_ordinary.mjs": "declared-actions",
    "nan_result.mjs": "json-profile",
    "duplicate_answer.mjs": "response-ids",
    "garbage_stdout.mjs": "stdout-json",
    "manifest_missing_name.mjs": "manifest",
}

#: A plugin whose manifest is broken cannot load in a host either: that follows from the break.
CONSEQUENCES: dict[str, set[str]] = {"manifest": {"host-load"}}


def test_every_file_is_listed_and_every_must_check_has_a_breaker() -> None:
    files = {p.name for p in BROKEN.iterdir() if p.suffix in (".py", ".mjs") and not p.name.startswith("_")}
    assert files == set(CATALOGUE)
    musts = {c.id for c in CHECKS if c.level == "MUST"}
    assert musts <= set(CATALOGUE.values())
    assert {n.rsplit(".", 1)[1] for n in CATALOGUE} == {"py", "mjs"}


@pytest.mark.parametrize(("plugin", "check"), sorted(CATALOGUE.items()))
def test_broken_plugin_fails_its_own_check_only(tmp_path: Path, plugin: str, check: str) -> None:
    path = BROKEN / plugin
    interpreter = sys.executable if plugin.endswith(".py") else str(Toolchains.discover(ROOT).node)
    out = tmp_path / "certificate.json"
    ipc = f"{shlex.quote(interpreter)} {shlex.quote(str(path))}"
    code = main(
        [
            "certify",
            "--ipc",
            ipc,
            "--hosts",
            "python",
            "--timeout",
            "2",
            "--fuzz-examples",
            "3",
            "--json",
            str(out),
        ]
    )
    cert = json.loads(out.read_text(encoding="utf-8"))
    failed = {c["id"] for c in cert["checks"] if c["level"] == "MUST" and c["verdict"] == "fail"}
    assert code == 1
    assert check in failed, failed
    assert failed - {check} - CONSEQUENCES.get(check, set()) == set(), failed
