"""The per-call targets (judged on pinned figures), the payload-scaling fit and the throughput
figures: their computation from a results document, and their place in summary.md."""

from __future__ import annotations

from typing import Any, cast

import pytest

from testkit import _latency
from testkit._drivers import HostDriver
from testkit._latency import CellLatency, MethodLatency, Throughput
from testkit._latency_figures import BudgetVerdict, Floor, Stats
from testkit._report_figures import TARGETS, fit_per_kib, scaling_rows, target_rows
from testkit._report_render import readme_block, render_summary

SIZES = {
    "invokeAction:echo:100B": 100,
    "invokeAction:echo:10KiB": 10_340,
    "invokeAction:echo:1MiB": 1_048_576,
}


def _fig(p50: float, floor: float, kind: str) -> dict[str, Any]:
    stats = {
        "n": 10,
        "p50_ns": p50,
        "p90_ns": p50,
        "p99_ns": p50,
        "mean_ns": p50,
        "min_ns": p50,
        "max_ns": p50,
    }
    return {
        "stats": stats,
        "floor": {"kind": kind, "p50_ns": floor, "p99_ns": floor, "components": {}},
        "budget": {
            "p50_us": 1.0,
            "max_floor_ratio": 3.0,
            "absolute_met": True,
            "ratio": p50 / floor,
            "ratio_met": True,
            "met": True,
        },
        "repeats": [],
    }


def _cell(
    cid: str, host: str, plugin: str, transport: str, pinned: dict[str, tuple[float, float]]
) -> dict[str, Any]:
    """A measured cell whose pinned (p50, floor p50) per method key are ``pinned``; the unpinned
    figures are 10x slower, so a target judged on them would read differently."""
    kind = "pipe" if transport == "ipc" else "noop+json"
    methods = [
        {
            "key": key,
            "method": "invokeAction",
            "name": "echo",
            "payload_bytes": SIZES.get(key, 90),
            "error": None,
            **_fig(p50 * 10, floor * 10, kind),
            "pinned": _fig(p50, floor, kind),
        }
        for key, (p50, floor) in pinned.items()
    ]
    return {
        "id": cid,
        "host": host,
        "host_runtime": "node"
        if host == "typescript" and "@bun" not in cid
        else "bun"
        if host == "typescript"
        else None,
        "plugin": plugin,
        "plugin_runtime": None,
        "transport": transport,
        "status": "measured",
        "conformance": None,
        "latency": {"status": "ok", "error": None, "driver_runtime": None, "met": True, "methods": methods},
    }


def _doc(pin_mode: str = "both") -> dict[str, Any]:
    cells = [
        # 100 B at 2.5x the cat floor (met, <= 3x); 10 KiB grows 3 µs against the floor's 2 µs (1.5, met).
        _cell(
            "rust-host/ts-plugin/ipc",
            "rust",
            "typescript",
            "ipc",
            {"invokeAction:echo:100B": (25_000, 10_000), "invokeAction:echo:10KiB": (28_000, 12_000)},
        ),
        # 6x the floor: missed for a Python plugin (<= 5x); the 10 KiB slope 5 µs vs 1 µs: missed.
        _cell(
            "py-host/py-plugin/ipc",
            "python",
            "python",
            "ipc",
            {"invokeAction:echo:100B": (60_000, 10_000), "invokeAction:echo:10KiB": (65_000, 11_000)},
        ),
        _cell(
            "ts-host/rust-plugin/wasm", "typescript", "rust", "wasm", {"invokeAction:echo:100B": (1_200, 300)}
        ),
        _cell(
            "ts@bun-host/rust-plugin/wasm",
            "typescript",
            "rust",
            "wasm",
            {"invokeAction:echo:100B": (900, 300)},
        ),
        _cell(
            "py-host/rust-plugin/wasm",
            "python",
            "rust",
            "wasm",
            {"invokeAction:echo:100B": (7_000, 3_000), "invokeAction:echo:10KiB": (45_000, 30_000)},
        ),
        _cell("rust-host/rust-plugin/ffi", "rust", "rust", "ffi", {"invokeAction:echo:100B": (600, 500)}),
        _cell("py-host/rust-plugin/ffi", "python", "rust", "ffi", {"invokeAction:echo:100B": (3_000, 2_000)}),
    ]
    return {"latency": {"pin_mode": pin_mode, "pinned": pin_mode == "only"}, "cells": cells}


def _verdicts(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(r["target"], r["cell"]): r["verdict"] for r in target_rows(doc)}


def test_targets_are_judged_on_the_pinned_figures() -> None:
    verdicts = _verdicts(_doc())
    assert verdicts == {
        ("IPC, any host -> Rust or TS plugin, 100 B echo", "rust-host/ts-plugin/ipc"): "met",
        ("IPC, any host -> Python plugin, 100 B echo", "py-host/py-plugin/ipc"): "missed",
        ("IPC, 10 KiB echo", "rust-host/ts-plugin/ipc"): "met",
        ("IPC, 10 KiB echo", "py-host/py-plugin/ipc"): "missed",
        ("WASM from Node, 100 B echo", "ts-host/rust-plugin/wasm"): "met",
        ("WASM from Python, 100 B echo", "py-host/rust-plugin/wasm"): "met",
        ("WASM from Python, 10 KiB echo", "py-host/rust-plugin/wasm"): "missed",
        ("FFI from the Rust host, 100 B echo", "rust-host/rust-plugin/ffi"): "missed",
        ("FFI from Python, 100 B echo", "py-host/rust-plugin/ffi"): "met",
    }
    rows = {(r["target"], r["cell"]): r for r in target_rows(_doc())}
    slope = rows[("IPC, 10 KiB echo", "rust-host/ts-plugin/ipc")]
    assert slope["value"] == pytest.approx(3_000 / 2_000)
    ffi = rows[("FFI from Python, 100 B echo", "py-host/rust-plugin/ffi")]
    assert ffi["value"] == pytest.approx(1.5)
    assert "noop+json floor" in ffi["figure"]
    assert rows[("FFI from the Rust host, 100 B echo", "rust-host/rust-plugin/ffi")]["figure"] == "p50 600 ns"


def test_targets_of_a_pinned_only_run_use_its_main_figures_and_unpinned_runs_have_none() -> None:
    only = _doc("only")
    for cell in only["cells"]:
        for m in cell["latency"]["methods"]:
            m.update({k: v for k, v in m.pop("pinned").items()})
    assert _verdicts(only) == _verdicts(_doc())
    off = _doc("off")
    for cell in off["cells"]:
        for m in cell["latency"]["methods"]:
            m["pinned"] = None
    assert set(_verdicts(off).values()) == {"not measured"}


def test_every_target_names_a_known_measure() -> None:
    assert {t.measure for t in TARGETS} <= {"floor_ratio", "p50_us", "slope_ratio"}
    assert len(TARGETS) == 8


def test_fit_per_kib_is_least_squares_over_the_sizes() -> None:
    # 500 ns + 2 ns per byte at 100 B, 10 KiB and 1 MiB: 2048 ns per KiB exactly.
    points = [(float(x), 500.0 + 2.0 * x) for x in (100, 10_240, 1_048_576)]
    assert fit_per_kib(points) == pytest.approx(2048.0)
    # Not on a line: the least-squares slope, by hand.
    xs, ys = [0.0, 1024.0, 2048.0], [0.0, 3000.0, 2000.0]
    mx, my = sum(xs) / 3, sum(ys) / 3
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    assert fit_per_kib(list(zip(xs, ys, strict=True))) == pytest.approx(slope * 1024)
    assert fit_per_kib([(100.0, 1.0)]) is None
    assert fit_per_kib([(100.0, 1.0), (100.0, 2.0)]) is None


def test_scaling_rows_fit_the_cell_and_its_floor() -> None:
    doc = _doc()
    cell = doc["cells"][0]
    cell["latency"]["methods"].append(
        {
            "key": "invokeAction:echo:1MiB",
            "method": "invokeAction",
            "name": "echo",
            "payload_bytes": SIZES["invokeAction:echo:1MiB"],
            "error": None,
            **_fig(5_000_000, 1_000_000, "pipe"),
            "pinned": _fig(500_000, 100_000, "pipe"),
        }
    )
    rows = {r["cell"]: r for r in scaling_rows(doc)}
    row = rows["rust-host/ts-plugin/ipc"]
    assert row["p50_ns"] == [250_000, 280_000, 5_000_000]
    assert row["floor_p50_ns"] == [100_000, 120_000, 1_000_000]
    assert row["floor_kind"] == "pipe"
    sizes = [100.0, 10_340.0, 1_048_576.0]
    assert row["per_kib_ns"] == pytest.approx(
        fit_per_kib(list(zip(sizes, [250_000.0, 280_000.0, 5e6], strict=True)))
    )
    assert row["floor_per_kib_ns"] == pytest.approx(
        fit_per_kib(list(zip(sizes, [100_000.0, 120_000.0, 1e6], strict=True)))
    )
    assert row["pinned_per_kib_ns"] is not None
    assert "ts-host/rust-plugin/wasm" not in rows  # one size only: nothing to fit


def test_summary_shows_targets_first_in_the_latency_part() -> None:
    doc = _doc()
    doc.update(
        {
            "cells": doc["cells"],
            "latency": {**doc["latency"], "profile": "quick", "warmup": 1, "iterations": 10},
        }
    )
    text = render_summary(doc)
    latency = text.split("## Latency", 1)[1]
    assert (
        latency.index("### Per-call targets")
        < latency.index("### Payload-size scaling")
        < latency.index("### Per method")
    )
    row = (
        "| IPC, any host -> Python plugin, 100 B echo | p50 <= 5x the `cat` floor | `py-host/py-plugin/ipc` |"
    )
    assert f"{row} 6.00x" in latency
    assert "**missed**" in latency
    assert "4 targets missed of 9" in latency


def _stats(p50: float) -> Stats:
    return Stats(10, p50, p50, p50, p50, p50, p50)


def _run(throughput: tuple[Throughput, ...]) -> CellLatency:
    stats = _stats(1000.0)
    floor = Floor("pipe", 500.0, 500.0, {"pipe": stats})
    verdict = BudgetVerdict(1.0, 3.0, True, 2.0, True)
    method = MethodLatency("invokeAction:echo:100B", "invokeAction", "echo", 100, stats, floor, verdict)
    return CellLatency(
        "py-host/py-plugin/ipc", "python", None, "python", None, "ipc", None, (method,), None, throughput
    )


def test_throughput_repeats_are_pooled_and_pinned_figures_sit_beside() -> None:
    def one(n: int, value: float) -> Throughput:
        return Throughput(n, "invokeAction:echo:100B", 400, (value,))

    runs = [_run((one(1, 1000.0 * k), one(64, 5000.0 * k))) for k in (1, 2, 3)]
    pooled = _latency._pool_throughput(runs)
    assert [t.repeats_calls_per_s for t in pooled] == [(1000.0, 2000.0, 3000.0), (5000.0, 10000.0, 15000.0)]
    assert pooled[0].calls_per_s == 2000.0
    pinned = _latency._pool_throughput([_run((one(1, 7.0), one(64, 70.0)))])
    main = _latency._with_pinned(_run(pooled), _run(pinned))
    assert [t.pinned_calls_per_s for t in main.throughput] == [7.0, 70.0]
    doc = main.to_json()["throughput"]
    assert doc[1] == {
        "in_flight": 64,
        "method": "invokeAction:echo:100B",
        "calls": 400,
        "calls_per_s": 10000.0,
        "repeats_calls_per_s": [5000.0, 10000.0, 15000.0],
        "error": None,
        "pinned": {"calls_per_s": 70.0, "repeats_calls_per_s": [70.0]},
    }
    back = CellLatency.from_json(
        {"id": main.cell_id, "host": "python", "plugin": "python", "transport": "ipc"}, main.to_json()
    )
    assert back.throughput == main.throughput


def test_a_throughput_error_in_any_repeat_is_the_cells() -> None:
    bad = Throughput(
        8, "invokeAction:echo:100B", 400, (), "py-host/py-plugin/ipc: throughput: the plugin died"
    )
    runs = [_run((Throughput(8, "invokeAction:echo:100B", 400, (10.0,)),)), _run((bad,))]
    pooled = _latency._pool_throughput(runs)
    assert pooled == (bad,)
    cell = _run(pooled)
    assert not cell.ok
    assert cell.to_json()["status"] == "error"
    assert cell.to_json()["throughput"][0]["calls_per_s"] is None
    # A figure of the run and none pinned: the pinned repeat's error is the entry's.
    main = _latency._with_pinned(_run((Throughput(8, "invokeAction:echo:100B", 400, (10.0,)),)), cell)
    assert main.throughput[0].error is not None
    assert main.throughput[0].error.startswith("pinned: ")


def test_the_1_mib_echo_takes_a_twentieth_of_the_samples_and_at_least_30() -> None:
    from testkit._latency_figures import PROFILES, Profile, bench_methods

    huge = bench_methods()[-1]
    assert huge.key == "invokeAction:echo:1MiB"
    quick = PROFILES["quick"]
    per_repeat = Profile("quick", quick.warmup, quick.iterations // 5)
    own = huge.profile_for(per_repeat, 5)
    assert own.iterations * 5 == quick.iterations // 20  # 100 in the whole run
    assert own.warmup < per_repeat.warmup
    small = Profile("quick", 300, 100)  # 500 in the run: 1/20 is 25, below the floor of 30
    assert huge.profile_for(small, 5).iterations * 5 == 30
    assert bench_methods()[0].profile_for(per_repeat, 5) == per_repeat


class _OldDriver:
    """A driver that predates benchJson and benchThroughput (``bench --compare`` an older ref)."""

    host = "rust"
    runtime = "old"

    def call(self, handle: str, method: str, params: dict[str, Any], *args: Any) -> Any:
        from testkit._driver_api import CallOutcome

        return CallOutcome(ok=True, value={"success": True})

    def bench(self, *args: Any) -> list[int]:
        return [1000] * 8

    def bench_json(self, *args: Any) -> list[int]:
        from testkit._driver_api import DriverError

        raise DriverError("method not found: benchJson", host="rust", method="benchJson", code=-32601)

    def bench_throughput(self, *args: Any) -> int:
        from testkit._driver_api import DriverError

        raise DriverError("method not found", host="rust", method="benchThroughput", code=-32601)


def test_an_older_driver_gets_the_bare_noop_floor_and_no_throughput() -> None:
    from testkit._latency_figures import Profile, bench_methods
    from testkit._matrix import Budget, Cell

    cell = Cell("rust", "rust", "ffi")
    noop = _stats(100.0)
    spec = bench_methods()[0]
    budget = Budget("ffi", 0.5, "noop", 3.0)
    old = cast(HostDriver, _OldDriver())
    m = _latency._measure_method(cell, old, "p1", spec, budget, Profile("t", 0, 8), noop, {})
    assert m.error is None
    assert m.floor is not None
    assert m.floor.kind == "noop"
    ipc = Cell("rust", "python", "ipc")
    assert _latency._measure_throughput(ipc, old, "p1", spec, Profile("t", 0, 8), lambda _m: None) == []


def test_readme_block_shows_pinned_and_unpinned_figures_and_the_targets() -> None:
    doc = _doc()
    doc["generated_at"] = "2026-12-01T00:00:00Z"
    doc["latency"].update({"profile": "quick", "pinned_cpu": 1})
    block = readme_block(doc)
    # The cell table: unpinned p50 (10x the pinned one in this document) and the pinned one beside.
    assert "| Rust | TypeScript | ipc | measured | 250 µs | 250 µs | 2.50x | 25.0 µs | 2.50x | met |" in block
    # The targets: verdict from the pinned figure, the unpinned one beside.
    rows = [line for line in block.splitlines() if "`rust-host/rust-plugin/ffi`" in line]
    assert rows == [
        "| FFI from the Rust host, 100 B echo | p50 <= 0.5 µs | `rust-host/rust-plugin/ffi` | p50 600 ns "
        "| p50 6.00 µs | **missed** |"
    ]
    assert all(r["unpinned_figure"] for r in target_rows(doc))


def test_readme_block_of_a_run_pinned_throughout_fills_only_the_pinned_columns() -> None:
    doc = _doc("only")
    doc["latency"].update({"profile": "quick", "pinned_cpu": 1})
    # Pinned throughout, the main figures are the pinned ones: they go under "pinned", and the
    # unpinned columns say that nothing was measured that way.
    assert "| Rust | TypeScript | ipc | measured | - | - | - | 250 µs | 2.50x | met |" in readme_block(doc)


def test_a_slope_whose_floor_shrank_is_not_judged_and_prints_both_signs() -> None:
    cell = _cell(
        "rust-host/rust-plugin/ipc",
        "rust",
        "rust",
        "ipc",
        {"invokeAction:echo:100B": (10_000, 8_000), "invokeAction:echo:10KiB": (12_000, 6_000)},
    )
    doc = {"latency": {"pin_mode": "both", "pinned": False}, "cells": [cell]}
    row = next(r for r in target_rows(doc) if r["target"].startswith("IPC, 10 KiB"))
    assert row["met"] is None
    assert row["figure"] == "+2.00 µs; the floor did not grow (-2.00 µs)"
    assert row["unpinned_figure"] == "+20.0 µs; the floor did not grow (-20.0 µs)"
