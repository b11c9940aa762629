"""A real latency run: the Python host and the Python conformance fixture over IPC.

Small iteration counts; the assertions are about structure and positivity only, never about how
fast anything is (the machine is noisy; figures come from ``interop-testkit bench``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from testkit import _cli_bench
from testkit._latency import Profile, bench_methods, run_latency
from testkit._matrix import Budget, Cell, Matrix
from testkit._report import validate_results, write_reports
from testkit._toolchains import Toolchains, find_repo_root

ROOT = find_repo_root(Path(__file__).parent)
BUDGETS = {
    "ipc": Budget("ipc", 1000.0, "pipe", 1.3),
    "ffi": Budget("ffi", 0.01, "noop", 3.0),
}
TINY = Profile("tiny", warmup=5, iterations=40)


def _children() -> set[int]:
    """Pids of this process's children (zombies included), read from /proc."""
    me = os.getpid()
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me:
            found.add(int(entry.name))
    return found


def test_python_host_python_plugin_ipc(tmp_path: Path) -> None:
    cell = Cell("python", "python", "ipc")
    matrix = Matrix("e2e", "", BUDGETS, (cell,), tmp_path / "e2e.toml")
    before = _children()
    messages: list[str] = []
    results = run_latency(
        matrix,
        (cell,),
        "quick",
        tmp_path,
        messages.append,
        profile_override=TINY,
        allow_xdist=True,
        repeats=2,
    )
    assert _children() <= before, "the run left child processes behind"
    assert results.ok, [c.error for c in results.cells] + [m.error for c in results.cells for m in c.methods]
    (measured,) = results.cells
    assert measured.cell_id == "py-host/py-plugin/ipc"
    assert measured.driver_runtime is not None
    assert measured.driver_runtime.startswith("cpython 3.")
    assert [m.key for m in measured.methods] == [m.key for m in bench_methods()]
    per_repeat = Profile(TINY.name, TINY.warmup, TINY.iterations // 2)
    counts = {spec.key: spec.profile_for(per_repeat, 2).iterations * 2 for spec in bench_methods()}
    assert counts["invokeAction:echo:1MiB"] == 30  # 1/20 of the samples, at least 30
    for m in measured.methods:
        assert m.stats is not None
        assert m.stats.n == counts[m.key]
        assert 0 < m.stats.min_ns <= m.stats.p50_ns <= m.stats.p90_ns <= m.stats.p99_ns <= m.stats.max_ns
        assert m.floor is not None
        assert m.floor.kind == "pipe"
        assert m.floor.p50_ns > 0
        assert m.verdict is not None
        assert m.verdict.ratio is not None
        assert m.verdict.ratio > 0
        assert m.verdict.met is not None
        assert [r.n for r in m.repeats] == [counts[m.key] // 2] * 2
        if len(os.sched_getaffinity(0)) >= 2:  # pinned figures beside the unpinned ones
            assert m.pinned is not None
            assert m.pinned.stats.n == counts[m.key]
            assert len(m.pinned.repeats) == 2
    assert any("invokeAction:echo:10KiB" in msg for msg in messages)
    # Throughput with 1, 8 and 64 calls in flight, one figure per repeat.
    assert [t.in_flight for t in measured.throughput] == [1, 8, 64]
    for t in measured.throughput:
        assert t.error is None
        assert t.method == "invokeAction:echo:100B"
        assert len(t.repeats_calls_per_s) == 2
        assert t.calls_per_s is not None
        assert t.calls_per_s > 0
        if len(os.sched_getaffinity(0)) >= 2:
            assert t.pinned_calls_per_s is not None
    samples = json.loads((tmp_path / "latency-samples" / "py-host__py-plugin__ipc.json").read_text())
    first = samples["repeats"][0]
    assert (first["repeat"], first["pinned"]) == (1, False)
    record = first["samples"]["invokeAction:echo:100B"]
    assert len(record["samples_ns"]) == TINY.iterations // 2
    assert len(record["floor_samples_ns"]) == TINY.iterations // 2

    paths = write_reports(
        tmp_path / "report", conformance_json=None, latency=results, baseline=None, echo=None
    )
    doc = json.loads(paths.results_json.read_text(encoding="utf-8"))
    validate_results(doc, ROOT / "reports" / "results.schema.json")
    assert doc["cells"][0]["status"] == "measured"
    assert [t["in_flight"] for t in doc["cells"][0]["latency"]["throughput"]] == [1, 8, 64]
    assert doc["latency"]["pinned"] is False


def test_missing_artifact_is_an_error_naming_the_build(tmp_path: Path) -> None:
    toolchains = dataclasses.replace(Toolchains.discover(ROOT), rust_target_dir=tmp_path / "empty-target")
    cell = Cell("python", "rust", "ffi")
    matrix = Matrix("e2e", "", BUDGETS, (cell,), tmp_path / "e2e.toml")
    results = run_latency(
        matrix, (cell,), "quick", tmp_path, toolchains=toolchains, profile_override=TINY, allow_xdist=True
    )
    (measured,) = results.cells
    assert not measured.ok
    assert measured.methods == ()
    assert measured.error is not None
    assert "py-host/rust-plugin/ffi: cannot start" in measured.error
    assert "is missing: expected at" in measured.error
    assert str(tmp_path / "empty-target") in measured.error
    assert "nox -s build_rust_ffi" in measured.error
    assert not results.ok


@pytest.mark.parametrize(
    "cell",
    [
        Cell("python", "rust", "ffi"),
        Cell("python", "rust", "wasm"),
        Cell("rust", "rust", "ffi"),
        Cell("typescript", "rust", "wasm", host_runtime="node"),
    ],
    ids=lambda c: c.id,
)
def test_in_process_cells_of_every_host_have_a_noop_json_floor(cell: Cell, tmp_path: Path) -> None:
    """FFI and WASM cells of every host are judged against the no-op call plus the JSON work that
    host does for the same call, timed by the host itself (``benchJson``)."""
    budgets = {**BUDGETS, "wasm": Budget("wasm", 1.0, "noop", 10.0)}
    matrix = Matrix("e2e", "", budgets, (cell,), tmp_path / "e2e.toml")
    small = Profile("tiny", warmup=2, iterations=10)
    results = run_latency(
        matrix, (cell,), "quick", tmp_path, profile_override=small, allow_xdist=True, repeats=1, pin=False
    )
    (measured,) = results.cells
    assert measured.ok, [measured.error] + [m.error for m in measured.methods]
    assert measured.throughput == ()  # IPC cells only
    for m in measured.methods:
        assert m.floor is not None
        assert m.floor.kind == "noop+json", (cell.id, m.key, m.floor.kind)
        assert set(m.floor.components) == {"noop", "json"}
        json_stats = m.floor.components["json"]
        assert m.stats is not None
        assert json_stats.n == m.stats.n
        assert m.floor.p50_ns == pytest.approx(m.floor.components["noop"].p50_ns + json_stats.p50_ns)
    huge = next(m for m in measured.methods if m.key == "invokeAction:echo:1MiB")
    small_echo = next(m for m in measured.methods if m.key == "invokeAction:echo:100B")
    assert huge.floor is not None
    assert small_echo.floor is not None
    # Encoding and decoding a MiB costs more than 100 bytes on any host.
    assert huge.floor.components["json"].p50_ns > small_echo.floor.components["json"].p50_ns


MATRIX = """
name = "e2e"
description = "Python host, Python plugin"
[budgets.ipc]
p50_us = 1000.0
floor = "pipe"
max_floor_ratio = 1.3
[[cell]]
host = "python"
plugin = "python"
transport = "ipc"
"""


def test_bench_command_measures_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Structure only: the figures are not looked at, so running beside other xdist workers is fine.
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    matrix = tmp_path / "e2e.toml"
    matrix.write_text(MATRIX, encoding="utf-8")
    out = tmp_path / "out"
    argv = [
        "bench", str(matrix), "--iterations", "20", "--warmup", "2", "--out", str(out), "--no-baseline",
        "--repeats", "2", "--no-pin",
    ]  # fmt: skip
    assert _cli_bench.main(argv) == 0
    captured = capsys.readouterr()
    assert "py-host/py-plugin/ipc" in captured.out
    assert "[bench] py-host/py-plugin/ipc: invokeAction:echo:100B" in captured.err
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    validate_results(doc, ROOT / "reports" / "results.schema.json")
    assert doc["latency"]["iterations"] == 20
    # An explicit --warmup is the whole warm-up: the profile's time floor is dropped.
    assert doc["latency"]["warmup"] == 2
    assert doc["latency"]["warmup_s"] == 0
    assert doc["cells"][0]["latency"]["methods"][0]["stats"]["n"] == 20
    assert (out / "summary.md").is_file()
    assert (out / "report.html").is_file()
    assert (out / "junit.xml").is_file()
    assert doc["latency"]["repeats"] == 2
    assert doc["latency"]["pin_mode"] == "off"


def test_bench_command_refuses_bad_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    matrix = tmp_path / "e2e.toml"
    matrix.write_text(MATRIX, encoding="utf-8")
    argv = ["bench", str(matrix), "--iterations", "0", "--out", str(tmp_path), "--no-baseline"]
    assert _cli_bench.main(argv) == 2
    assert "expected iterations >= 1" in capsys.readouterr().err
