"""The pytest plugin itself, run in a child pytest: cell parametrisation and ids, -k selection,
--cells, the --interop-report JSON under xdist, usage errors, and the leftover-child check."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from testkit._session import child_processes

MATRIX = """
name = "mini"
[budgets.ipc]
p50_us = 1000.0
floor = "pipe"
max_floor_ratio = 1.3
[[cell]]
host = "python"
plugin = "python"
transport = "ipc"
[[cell]]
host = "rust"
plugin = "python"
transport = "ipc"
"""

TESTS = """
import pytest

def test_one(interop_cell):
    assert interop_cell.transport == "ipc"

@pytest.mark.interop_check("named-check")
@pytest.mark.parametrize("n", [1, 2])
def test_two(interop_cell, n):
    assert interop_cell.host != "rust", "rust cell fails on purpose"
"""


def _run(tmp_path: Path, *args: str, tests: str = TESTS) -> subprocess.CompletedProcess[str]:
    (tmp_path / "matrix.toml").write_text(MATRIX, encoding="utf-8")
    (tmp_path / "test_cells.py").write_text(tests, encoding="utf-8")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--matrix={tmp_path / 'matrix.toml'}",
            *args,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ids_and_report_under_xdist(tmp_path: Path) -> None:
    report = tmp_path / "out" / "conformance.json"
    done = _run(tmp_path, "-n", "2", f"--interop-report={report}", "-v")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "PASSED test_cells.py::test_one[py-host/py-plugin/ipc]" in done.stdout
    assert "FAILED test_cells.py::test_two[rust-host/py-plugin/ipc-1]" in done.stdout
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["matrix"] == "mini"
    cells = {c["id"]: c for c in data["cells"]}
    assert set(cells) == {"py-host/py-plugin/ipc", "rust-host/py-plugin/ipc"}
    py = {c["name"]: c for c in cells["py-host/py-plugin/ipc"]["checks"]}
    rust = {c["name"]: c for c in cells["rust-host/py-plugin/ipc"]["checks"]}
    assert py["one"]["outcome"] == "passed"
    assert py["named-check[1]"]["outcome"] == "passed"
    assert rust["named-check[2]"]["outcome"] == "failed"
    assert "rust cell fails on purpose" in rust["named-check[2]"]["message"]
    assert cells["rust-host/py-plugin/ipc"]["host"] == "rust"
    assert cells["py-host/py-plugin/ipc"]["host_runtime"] is None


def test_k_and_cells_select(tmp_path: Path) -> None:
    done = _run(tmp_path, "-k", "py-host/py-plugin/ipc", "-q")
    assert done.returncode == 0, done.stdout
    assert "3 passed" in done.stdout
    done = _run(tmp_path, "--cells", "rust-host/*", "-q")
    assert "2 failed, 1 passed" in done.stdout


def test_cells_matching_nothing_is_a_usage_error(tmp_path: Path) -> None:
    done = _run(tmp_path, "--cells", "ts@bun-host/*")
    assert done.returncode == 4
    assert "matches no cell" in done.stderr
    assert "py-host/py-plugin/ipc" in done.stderr


def test_bad_matrix_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        MATRIX.replace('transport = "ipc"\n[[cell]]', 'transport = "ffi"\n[[cell]]', 1), encoding="utf-8"
    )
    (tmp_path / "test_cells.py").write_text(TESTS, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--matrix={bad}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 4
    assert "cell 0: field 'transport'" in done.stderr
    assert "a transport a python plugin offers" in done.stderr


def test_leftover_child_fails_the_session_and_is_reaped(tmp_path: Path) -> None:
    leak = """
import subprocess

def test_leak(interop_session):
    subprocess.Popen(["sleep", "300"])
"""
    before = {pid for pid, _s, _c in child_processes()}
    done = _run(tmp_path, "-q", "--cells", "py-host/*", tests=leak)
    assert done.returncode == 1, done.stdout
    assert "outlived the session" in done.stdout
    assert "sleep 300" in done.stdout
    # The report names the leaked pid; that process (not any `sleep 300` on the machine) must be
    # gone. SIGKILL is asynchronous, so a loaded machine gets a few seconds to carry it out.
    match = re.search(r"pid (\d+) \[[^]]*\] sleep 300", done.stdout)
    assert match, done.stdout
    leaked = int(match.group(1))
    deadline = time.monotonic() + 5.0
    while _alive(leaked) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(leaked), f"the leaked sleep (pid {leaked}) survived"
    assert {pid for pid, _s, _c in child_processes()} <= before


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie awaiting its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_missing_artifact_fails_naming_the_build(tmp_path: Path) -> None:
    """A cell whose artifact is missing is an error of every check, naming path and build command."""
    import os

    env = dict(os.environ, ELIZAOS_RUST_TARGET_DIR=str(tmp_path / "empty-target"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--pyargs",
            "testkit.suite",
            "--cells",
            "py-host/rust-plugin/ffi",
            "-q",
            "-k",
            "test_manifest or test_invalid_result",
            "-rf",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 errors" in done.stdout  # a fixture that cannot load its plugin: an error, never a skip
    assert "skipped" not in done.stdout
    assert "libelizaos_plugin_conformance.so" in done.stdout
    assert "nox -s build_rust_ffi" in done.stdout


SUITE_TESTS = """
import pytest

def test_fixture_suite(interop_cell):
    assert interop_cell.suite == "fixtures"

@pytest.mark.interop_suite("seed")
def test_seed_suite(interop_cell):
    assert interop_cell.suite == "seed"
"""

SEED_PLUGIN = """
[plugin.seed-x]
suite = "seed"
transport = "ipc"
language = "python"
command = ["{python}", "x.py"]
expect = "x.json"
"""


def test_check_sets_pick_their_cells_and_idle_ones_are_deselected(tmp_path: Path) -> None:
    """A test runs on the cells of its check set (interop_suite); a check set without cells in
    the matrix is deselected, never reported as skipped."""
    done = _run(tmp_path, "-v", "-rs", tests=SUITE_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_fixture_suite[py-host/py-plugin/ipc] PASSED" in done.stdout
    assert "skipped" not in done.stdout
    assert "1 deselected" in done.stdout
    matrix = MATRIX.replace('[[cell]]\nhost = "rust"', SEED_PLUGIN + '[[cell]]\nhost = "rust"', 1)
    matrix += '[[cell]]\nhost = "typescript"\nplugin = "seed-x"\ntransport = "ipc"\n'
    (tmp_path / "seed.toml").write_text(matrix, encoding="utf-8")
    done = _run(tmp_path, "-v", f"--matrix={tmp_path / 'seed.toml'}", tests=SUITE_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_seed_suite[ts-host/seed-x-plugin/ipc] PASSED" in done.stdout
    assert "test_fixture_suite[ts-host/seed-x-plugin/ipc]" not in done.stdout
