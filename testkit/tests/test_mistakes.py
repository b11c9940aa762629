"""docs/vectors/mistakes.json: each first-hour mistake, through every host, names its fix."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from testkit.cli import main

REPO = Path(__file__).resolve().parents[2]
VECTORS = json.loads((REPO / "docs" / "vectors" / "mistakes.json").read_text(encoding="utf-8"))
_OLD_NODE = """#!/bin/sh
# Answers like Node 20: a version below 22.6, and no TypeScript.
if [ "$1" = "--version" ]; then echo v20.19.2; exit 0; fi
echo 'TypeError [ERR_UNKNOWN_FILE_EXTENSION]: Unknown file extension ".ts" for '"$2" >&2
exit 1
"""


def _cases() -> list[Any]:
    cases = []
    for mistake in VECTORS["mistakes"]:
        for host in mistake["hosts"]:
            marks = []
            gap = mistake.get("gaps", {}).get(host)
            if gap is not None:
                marks.append(pytest.mark.xfail(reason=gap, strict=True))
            cases.append(pytest.param(mistake, host, id=f"{mistake['id']}-{host}", marks=marks))
    return cases


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The Python of a fresh virtualenv without elizaos_interop."""
    venv = tmp_path_factory.mktemp("bare-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import elizaos_interop"], capture_output=True, check=False)
    assert probe.returncode != 0, "a bare virtualenv should not see elizaos_interop"
    return str(python)


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


@pytest.mark.parametrize(("mistake", "host"), _cases())
def test_mistake_names_its_fix(
    mistake: dict[str, Any],
    host: str,
    tmp_path: Path,
    bare_python: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old_node = tmp_path / "old-node" / "node"
    old_node.parent.mkdir()
    old_node.write_text(_OLD_NODE)
    old_node.chmod(0o755)
    values = {
        "{dir}": str(tmp_path),
        "{repo}": str(REPO),
        "{old_node}": str(old_node),
        "{bare_python}": bare_python,
    }
    for name, content in mistake.get("files", {}).items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    for name, hex_bytes in mistake.get("bytes", {}).items():
        (tmp_path / name).write_bytes(bytes.fromhex(hex_bytes))
    if "copy" in mistake:
        source = Path(_fill(mistake["copy"]["from"], values))
        if not source.is_file():
            pytest.fail(f"{source} is missing; build it with: nox -s build_rust_ffi")
        target = tmp_path / mistake["copy"]["to"]
        shutil.copyfile(source, target)
        patch = mistake["copy"].get("patch")
        if patch is not None:
            data = bytearray(target.read_bytes())
            new = bytes.fromhex(patch["hex"])
            data[patch["offset"] : patch["offset"] + len(new)] = new
            target.write_bytes(bytes(data))
    for key, value in mistake.get("env", {}).items():
        monkeypatch.setenv(key, _fill(value, values))
    monkeypatch.delenv("ELIZAOS_TS_BRIDGE", raising=False)
    args = [_fill(a, values) for a in mistake["args"]]
    status = main(["call", *args, "--host", host, "--timeout", "30"])
    captured = capsys.readouterr()
    output = captured.out + captured.err
    if host in mistake.get("ok_hosts", {}):
        assert status == 0, output
        return
    assert status == 2, f"expected exit 2 (unusable input), got {status}:\n{output}"
    missing = [hint for hint in mistake.get("hint", []) if hint not in output]
    assert not missing, f"the {host} host's message lacks {missing}:\n{output}"
    if "hint_regex" in mistake:
        assert re.search(mistake["hint_regex"], output), f"no match for {mistake['hint_regex']!r}:\n{output}"


def test_every_listed_host_is_a_host_and_every_mistake_says_why() -> None:
    for mistake in VECTORS["mistakes"]:
        assert mistake["why"]
        assert set(mistake["hosts"]) <= {"python", "node", "bun", "rust"}
        assert set(mistake.get("gaps", {})) | set(mistake.get("ok_hosts", {})) <= set(mistake["hosts"])
        assert mistake.get("hint") or mistake.get("hint_regex"), mistake["id"]
