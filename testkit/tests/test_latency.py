"""Unit tests of the latency statistics, payload sizing, budget verdicts and pinning."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from testkit._latency import (
    HUGE_PAYLOAD,
    LARGE_PAYLOAD,
    PROFILES,
    SMALL_PAYLOAD,
    BudgetVerdict,
    CellLatency,
    Floor,
    LatencyError,
    MethodLatency,
    Profile,
    Stats,
    bench_methods,
    compute_stats,
    json_cost_samples,
    judge,
    memory_for_params_size,
    percentile,
    pinned,
    rounds,
    run_latency,
    warm_up,
)
from testkit._matrix import Budget, Cell, Matrix

IPC = Budget("ipc", p50_us=1000.0, floor="pipe", max_floor_ratio=1.3)
FFI = Budget("ffi", p50_us=0.01, floor="noop", max_floor_ratio=3.0)


def _stats(p50: float, p99: float | None = None) -> Stats:
    p99 = p50 * 2 if p99 is None else p99
    return Stats(n=10, p50_ns=p50, p90_ns=p50, p99_ns=p99, mean_ns=p50, min_ns=p50, max_ns=p99)


# --- percentiles and stats -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("samples", "q", "expected"),
    [
        # 1..10: position q/100 * 9, interpolated.
        (list(range(1, 11)), 50, 5.5),
        (list(range(1, 11)), 90, 9.1),
        (list(range(1, 11)), 99, 9.91),
        (list(range(1, 11)), 0, 1.0),
        (list(range(1, 11)), 100, 10.0),
        # 15, 20, 35, 40, 50: p50 is the middle one; p90 at 3.6 -> 40 + 0.6 * 10.
        ([15, 20, 35, 40, 50], 50, 35.0),
        ([15, 20, 35, 40, 50], 90, 46.0),
        ([15, 20, 35, 40, 50], 99, 49.6),
        ([15, 20, 35, 40, 50], 25, 20.0),
        ([7], 99, 7.0),
        ([100, 200], 50, 150.0),
    ],
)
def test_percentile_matches_hand_computed_values(samples: list[int], q: float, expected: float) -> None:
    assert percentile(samples, q) == pytest.approx(expected)


def test_percentile_refuses_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"within \[0, 100\]"):
        percentile([1, 2], 101)


def test_compute_stats_sorts_and_summarises() -> None:
    stats = compute_stats([50, 15, 40, 20, 35])
    assert stats == Stats(n=5, p50_ns=35.0, p90_ns=46.0, p99_ns=49.6, mean_ns=32.0, min_ns=15.0, max_ns=50.0)


def test_compute_stats_refuses_empty_and_negative_samples() -> None:
    with pytest.raises(ValueError, match="no samples"):
        compute_stats([])
    with pytest.raises(ValueError, match=r"non-negative .* received -3 \(1 bad of 3\)"):
        compute_stats([1, -3, 2])


def test_stats_json_round_trip() -> None:
    stats = compute_stats([3, 1, 2, 10])
    assert Stats.from_json(json.loads(json.dumps(stats.to_json()))) == stats


# --- verdicts ------------------------------------------------------------------------------


def test_ratio_verdict_is_the_one_that_counts() -> None:
    verdict = judge(_stats(1200.0), Floor("noop+json", 500.0, 900.0), FFI)
    assert verdict.ratio == pytest.approx(2.4)
    assert verdict.ratio_met is True
    assert verdict.met is True
    # 1.2 us is far above the 10 ns absolute figure: reported, but not the verdict.
    assert verdict.absolute_met is False


def test_ratio_verdict_missed_and_boundary() -> None:
    missed = judge(_stats(1400.0), Floor("pipe", 1000.0, 1500.0), IPC)
    assert missed.ratio == pytest.approx(1.4)
    assert missed.met is False
    assert missed.absolute_met is True  # 1.4 us <= 1000 us
    boundary = judge(_stats(1300.0), Floor("pipe", 1000.0, 1500.0), IPC)
    assert boundary.met is True


def test_no_floor_means_no_verdict() -> None:
    verdict = judge(_stats(5.0), None, FFI)
    assert verdict.ratio is None
    assert verdict.met is None
    assert verdict.absolute_met is True
    zero = judge(_stats(5.0), Floor("noop", 0.0, 0.0), FFI)
    assert zero.met is None


def test_verdict_json_round_trip() -> None:
    verdict = judge(_stats(1200.0), Floor("pipe", 1000.0, 1100.0), IPC)
    data = verdict.to_json()
    assert data["met"] is True
    assert BudgetVerdict.from_json(data) == verdict


def test_cell_met_requires_every_method() -> None:
    ok = MethodLatency(
        "a", "invokeAction", "echo", 100, _stats(1.0), None, judge(_stats(1.0), Floor("pipe", 1.0, 1.0), IPC)
    )
    bad = MethodLatency(
        "b", "invokeAction", "echo", 100, _stats(9.0), None, judge(_stats(9.0), Floor("pipe", 1.0, 1.0), IPC)
    )
    err = MethodLatency("c", "getProvider", "static", 100, None, None, None, "boom")
    cell = CellLatency("py-host/py-plugin/ipc", "python", None, "python", None, "ipc", "cpython", (ok,))
    assert cell.ok
    assert cell.met is True
    assert CellLatency(**{**cell.__dict__, "methods": (ok, bad)}).met is False
    with_error = CellLatency(**{**cell.__dict__, "methods": (ok, err)})
    assert not with_error.ok
    assert with_error.met is None
    assert with_error.to_json()["status"] == "error"
    round_trip = CellLatency.from_json(
        {"id": cell.cell_id, "host": "python", "plugin": "python", "transport": "ipc"},
        json.loads(json.dumps(with_error.to_json())),
    )
    assert round_trip == with_error


# --- payloads ------------------------------------------------------------------------------


def _size(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


@pytest.mark.parametrize("target", [SMALL_PAYLOAD, LARGE_PAYLOAD, 1000])
def test_memory_makes_echo_params_exactly_the_target_size(target: int) -> None:
    memory = memory_for_params_size(target)
    params = {"name": "echo", "memory": memory, "state": {}, "options": {}}
    assert _size(params) == target
    assert memory["content"]["text"].isascii()


def test_memory_below_the_minimum_size_has_empty_text() -> None:
    assert memory_for_params_size(10) == {"content": {"text": ""}}


def test_bench_methods_cover_the_five_calls() -> None:
    methods = bench_methods()
    assert [m.key for m in methods] == [
        "invokeAction:echo:100B",
        "validateAction:echo",
        "getProvider:static",
        "invokeAction:echo:10KiB",
        "invokeAction:echo:1MiB",
    ]
    assert methods[0].payload_bytes == SMALL_PAYLOAD
    assert methods[3].payload_bytes == LARGE_PAYLOAD
    assert methods[4].payload_bytes == HUGE_PAYLOAD
    for m in methods:
        line = json.loads(m.request_line())
        assert line == {"id": 1, "method": m.method, "params": dict(m.params)}
        assert "\n" not in m.request_line()


def test_json_cost_samples_one_per_iteration() -> None:
    params = dict(bench_methods()[0].params)
    samples = json_cost_samples(params, {"success": True, "text": "x"}, iterations=50, warmup=5)
    assert len(samples) == 50
    assert all(isinstance(s, int) and s >= 0 for s in samples)


@pytest.mark.parametrize(
    ("iterations", "warmup", "expected"),
    [
        (2000, 300, [(500, 75)] * 4),
        (10, 3, [(3, 1), (3, 1), (2, 1), (2, 0)]),
        (2, 0, [(1, 0), (1, 0)]),
        (1, 5, [(1, 5)]),
    ],
)
def test_rounds_split_the_profile(iterations: int, warmup: int, expected: list[tuple[int, int]]) -> None:
    split = rounds(Profile("p", warmup, iterations))
    assert split == expected
    assert sum(n for n, _ in split) == iterations
    assert sum(w for _, w in split) == warmup


def test_json_cost_accepts_host_result_objects() -> None:
    from collections.abc import Iterator, Mapping

    class Result(Mapping[str, object]):
        """A read-only mapping, like the Python host's result objects."""

        def __init__(self, data: dict[str, object]) -> None:
            self._data = data

        def __getitem__(self, key: str) -> object:
            return self._data[key]

        def __iter__(self) -> Iterator[str]:
            return iter(self._data)

        def __len__(self) -> int:
            return len(self._data)

    result = Result({"success": True, "data": Result({"memory": {"content": {"text": "x"}}}), "l": (1, 2)})
    assert len(json_cost_samples({"name": "echo", "memory": {}}, result, iterations=3, warmup=0)) == 3


def test_profiles() -> None:
    assert PROFILES["quick"].iterations >= 1000
    assert PROFILES["full"].iterations >= 10_000
    # Both warm up for a time, not only a count (a JIT's tiers come with calls).
    assert 0 < PROFILES["quick"].warmup_s <= PROFILES["full"].warmup_s


def test_warm_up_keeps_calling_in_doubling_batches_until_its_time_has_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from testkit._latency import WARMUP_MAX_FACTOR

    clock = [0.0]
    batches: list[int] = []

    def run(n: int) -> None:
        batches.append(n)
        clock[0] += n * 1e-3  # 1 ms a call

    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    # 10 calls take 10 ms; the floor of 75 ms wants 10, 20 and 40 more (doubling batches).
    assert warm_up(run, Profile("t", 10, 1, warmup_s=0.075)) == 80
    assert batches == [10, 10, 20, 40]
    # Without a time floor the count is the whole warm-up, and 0 is no call at all.
    batches.clear()
    assert warm_up(run, Profile("t", 10, 1)) == 10
    assert warm_up(run, Profile("t", 0, 1)) == 0
    assert batches == [10]
    # A call that never gets fast enough stops at WARMUP_MAX_FACTOR times the count.
    batches.clear()
    assert warm_up(run, Profile("t", 2, 1, warmup_s=1e9)) == 2 * WARMUP_MAX_FACTOR
    assert sum(batches) == 2 * WARMUP_MAX_FACTOR


def test_pinning_uses_one_cpu_and_restores_affinity() -> None:
    before = os.sched_getaffinity(0)
    with pinned(True) as cpu:
        assert cpu is not None
        assert os.sched_getaffinity(0) == {cpu}
    assert os.sched_getaffinity(0) == before
    with pinned(False) as none:
        assert none is None
        assert os.sched_getaffinity(0) == before


# --- run_latency argument checks -----------------------------------------------------------


def _matrix(cells: tuple[Cell, ...]) -> Matrix:
    return Matrix("test", "", {"ipc": IPC, "ffi": FFI}, cells, Path("test.toml"))


def test_unknown_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        LatencyError, match=r"unknown latency profile 'slow'; expected one of \['full', 'quick'\]"
    ):
        run_latency(_matrix(()), (), "slow", tmp_path)


def test_bad_profile_counts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LatencyError, match="iterations >= 1"):
        run_latency(_matrix(()), (), "quick", tmp_path, profile_override=Profile("x", 0, 0))
    with pytest.raises(LatencyError, match=r"warmup_s >= 0, received .* warmup_s=-1\.0"):
        run_latency(_matrix(()), (), "quick", tmp_path, profile_override=Profile("x", 0, 1, -1.0))


def test_cell_without_budget_is_refused(tmp_path: Path) -> None:
    cell = Cell("typescript", "rust", "wasm", "node")
    with pytest.raises(LatencyError, match=r"no \[budgets.wasm\] table"):
        run_latency(_matrix((cell,)), (cell,), "quick", tmp_path)


def test_refuses_to_measure_inside_an_xdist_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    with pytest.raises(LatencyError, match="refused inside pytest-xdist worker gw3"):
        run_latency(_matrix(()), (), "quick", tmp_path)
