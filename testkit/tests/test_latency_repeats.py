"""Interleaved repeats and pinned/unpinned figures of a latency run (with a stand-in for the timing)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testkit import _latency
from testkit._latency import (
    CellLatency,
    Floor,
    LatencyResults,
    MethodLatency,
    Profile,
    bench_methods,
    compute_stats,
    judge,
    pin_modes,
    run_latency,
)
from testkit._matrix import Budget, Cell, Matrix

IPC = Budget("ipc", p50_us=1000.0, floor="pipe", max_floor_ratio=1.3)
CELLS = (Cell("python", "typescript", "ipc", None, "node"), Cell("rust", "python", "ipc"))
MATRIX = Matrix("t", "", {"ipc": IPC}, CELLS, Path("t.toml"))


class _Toolchains:
    def apply_env(self) -> None:
        """Nothing to export: the stand-in measures nothing."""


def _fake_measure(calls: list[tuple[str, bool, int]]) -> Callable[..., CellLatency]:
    """A _measure_cell that records (cell, pinned, iterations) and returns synthetic samples.

    Pinned samples are 10 µs, unpinned 50 µs, plus the call's ordinal so repeats differ.
    """

    def measure(
        cell: Cell,
        budget: Budget,
        profile: Profile,
        toolchains: Any,
        samples_out: dict[str, Any],
        progress: Callable[[str], None],
        repeats: int = 1,
    ) -> CellLatency:
        is_pinned = len(os.sched_getaffinity(0)) == 1
        calls.append((cell.id, is_pinned, profile.iterations))
        base = (10_000 if is_pinned else 50_000) + len(calls)
        methods = []
        for spec in bench_methods():
            own = [base + i for i in range(profile.iterations)]
            floor = [base // 2] * profile.iterations
            samples_out[spec.key] = {"samples_ns": own, "floor_samples_ns": floor}
            stats, fstats = compute_stats(own), compute_stats(floor)
            fl = Floor("pipe", fstats.p50_ns, fstats.p99_ns, {"pipe": fstats})
            methods.append(
                MethodLatency(
                    spec.key, spec.method, spec.name, spec.payload_bytes, stats, fl, judge(stats, fl, budget)
                )
            )
        return CellLatency(
            cell.id,
            cell.host,
            cell.host_runtime,
            cell.plugin,
            cell.plugin_runtime,
            "ipc",
            "x",
            tuple(methods),
        )

    return measure


def _run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pin: bool | None, repeats: int
) -> tuple[LatencyResults, list[tuple[str, bool, int]]]:
    calls: list[tuple[str, bool, int]] = []
    monkeypatch.setattr(_latency, "_measure_cell", _fake_measure(calls))
    monkeypatch.setattr(_latency, "pin_modes", lambda p: pin_modes(p, cpus=2))
    result = run_latency(
        MATRIX,
        CELLS,
        "quick",
        tmp_path,
        pin=pin,
        repeats=repeats,
        toolchains=_Toolchains(),  # type: ignore[arg-type]
        profile_override=Profile("quick", 0, 30),
        allow_xdist=True,
    )
    return result, calls


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs"
)
def test_repeats_interleave_cells_and_pinning_modes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result, calls = _run(monkeypatch, tmp_path, None, 3)
    a, b = (c.id for c in CELLS)
    # A B A B across cells, and the pinning order alternating from one repeat to the next.
    assert [(cid, p) for cid, p, _n in calls] == [
        (a, False), (a, True), (b, False), (b, True),
        (a, True), (a, False), (b, True), (b, False),
        (a, False), (a, True), (b, False), (b, True),
    ]  # fmt: skip
    assert {n for _c, _p, n in calls} == {10}  # 30 samples split over 3 repeats
    assert result.pin_mode == "both"
    assert result.repeats == 3
    assert result.pinned is False
    method = result.cells[0].methods[0]
    assert method.stats is not None
    assert method.stats.n == 30
    assert [r.n for r in method.repeats] == [10, 10, 10]
    # Main figures unpinned (~50 µs), pinned ones beside them (~10 µs), each with its repeats.
    assert 50_000 < method.stats.p50_ns < 50_100
    assert method.pinned is not None
    assert 10_000 < method.pinned.stats.p50_ns < 10_100
    assert len(method.pinned.repeats) == 3
    assert method.pinned.floor is not None
    assert method.pinned.floor.components["pipe"].n == 30
    raw = json.loads((tmp_path / "latency-samples" / "py-host__ts-plugin__ipc.json").read_text())
    assert [(r["repeat"], r["pinned"]) for r in raw["repeats"]] == [
        (1, False), (1, True), (2, True), (2, False), (3, False), (3, True),
    ]  # fmt: skip
    doc = json.loads(json.dumps(result.cells[0].to_json()))
    meta = {"id": a, "host": "python", "plugin": "typescript", "plugin_runtime": "node", "transport": "ipc"}
    assert CellLatency.from_json(meta, doc) == result.cells[0]


def test_forced_modes_measure_once_per_repeat(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result, calls = _run(monkeypatch, tmp_path, False, 2)
    assert [p for _c, p, _n in calls] == [False] * 4
    assert result.pin_mode == "off"
    assert result.cells[0].methods[0].pinned is None
    # How busy the machine was when the measurement started and ended.
    assert result.load_start is not None
    assert len(result.load_start) == 3
    assert result.run_json()["load_average_end"] == list(result.load_end or ())


def test_an_error_in_any_repeat_is_the_cells(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[str, bool, int]] = []
    good = _fake_measure(calls)

    def flaky(*args: Any) -> CellLatency:
        cell = good(*args)
        if len(calls) == 2:
            return CellLatency(**{**cell.__dict__, "error": "driver died"})
        return cell

    monkeypatch.setattr(_latency, "_measure_cell", flaky)
    result = run_latency(
        MATRIX,
        CELLS[:1],
        "quick",
        tmp_path,
        pin=False,
        repeats=3,
        toolchains=_Toolchains(),  # type: ignore[arg-type]
        profile_override=Profile("quick", 0, 9),
        allow_xdist=True,
    )
    assert result.cells[0].error == "repeat 2: driver died"


def test_pin_modes() -> None:
    assert pin_modes(None, cpus=2) == (False, True)
    assert pin_modes(None, cpus=1) == (False,)
    assert pin_modes(True, cpus=1) == (True,)
    assert pin_modes(False, cpus=8) == (False,)


def test_bad_repeats_are_refused(tmp_path: Path) -> None:
    with pytest.raises(_latency.LatencyError, match="repeats >= 1"):
        run_latency(MATRIX, CELLS, "quick", tmp_path, repeats=0, allow_xdist=True)
