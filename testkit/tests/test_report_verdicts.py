"""Baseline comparisons from repeats, pinned figures first, the top-line verdict, per-matrix baselines."""

from __future__ import annotations

import copy
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from testkit._report import (
    ReportError,
    baseline_path_for,
    collect_source,
    compare_to_baseline,
    overall_verdict,
    render_summary,
    render_terminal,
)
from testkit._stats import sketch

KEY = "invokeAction:echo:100B"
CELL = "py-host/ts-plugin/ipc"


def _figures(
    rng: random.Random, center: float, levels: list[float], floor: float = 40_000.0
) -> dict[str, Any]:
    """Pooled stats, floor, budget and repeat sketches of synthetic latency-like samples."""
    repeats, pooled = [], []
    for level in levels:
        own = [center * level * rng.lognormvariate(0.0, 0.08) for _ in range(300)]
        pooled += own
        sk = sketch(own)
        repeats.append({"n": len(own), "p50_ns": sk[50], "floor_p50_ns": floor, "quantiles_ns": sk})
    sk = sketch(pooled)
    stats = {
        "n": len(pooled),
        "p50_ns": sk[50],
        "p90_ns": sk[90],
        "p99_ns": sk[99],
        "mean_ns": sk[50],
        "min_ns": sk[0],
        "max_ns": sk[-1],
    }
    budget = {
        "p50_us": 1000.0,
        "max_floor_ratio": 1.3,
        "absolute_met": True,
        "ratio": sk[50] / floor,
        "ratio_met": sk[50] / floor <= 1.3,
        "met": sk[50] / floor <= 1.3,
    }
    return {
        "stats": stats,
        "floor": {"kind": "pipe", "p50_ns": floor, "p99_ns": floor, "components": {}},
        "budget": budget,
        "repeats": repeats,
    }


def _doc(
    unpinned: dict[str, Any], pinned: dict[str, Any] | None, *, matrix: str = "default"
) -> dict[str, Any]:
    method = {
        "key": KEY,
        "method": "invokeAction",
        "name": "echo",
        "payload_bytes": 100,
        "error": None,
        **unpinned,
        "pinned": pinned,
    }
    return {
        "schema_version": 1,
        "generated_at": "2026-12-01T00:00:00Z",
        "matrix": matrix,
        "source": {"commit": "0123456789abcdef", "branch": "main", "dirty": False},
        "environment": {"cpu_model": "x", "cores": 2, "load_average": [0.5, 0.5, 0.5]},
        "latency": {
            "profile": "quick",
            "warmup": 1,
            "iterations": 900,
            "pinned": False,
            "pinned_cpu": 1,
            "pin_mode": "both" if pinned else "off",
            "repeats": 3,
        },
        "cells": [
            {
                "id": CELL,
                "host": "python",
                "host_runtime": None,
                "plugin": "typescript",
                "plugin_runtime": "node",
                "transport": "ipc",
                "status": "passed",
                "conformance": None,
                "latency": {
                    "status": "ok",
                    "error": None,
                    "driver_runtime": None,
                    "met": True,
                    "methods": [method],
                },
            },
        ],
        "plugin_level": [],
        "baseline": None,
    }


def test_pinned_figures_decide_when_both_runs_have_them() -> None:
    rng = random.Random(1)
    # Unpinned: the busy machine makes the new run 60 % slower; pinned: nothing changed.
    base = _doc(_figures(rng, 50_000.0, [1.0, 1.02, 0.98]), _figures(rng, 10_000.0, [1.0, 1.01, 0.99]))
    now = _doc(
        _figures(rng, 80_000.0, [1.0, 1.02, 0.98], 40_000.0), _figures(rng, 10_000.0, [1.0, 1.01, 1.0])
    )
    comparison = compare_to_baseline(now, base)
    assert comparison["figures"] == "pinned"
    assert comparison["regressions"] == []
    (c,) = comparison["comparisons"]
    assert c["verdict"] == "same"
    assert c["ci_low"] <= c["change"] <= c["ci_high"]


def test_a_real_slowdown_of_the_pinned_figures_is_a_regression() -> None:
    rng = random.Random(2)
    base = _doc(_figures(rng, 50_000.0, [1.0, 1.02, 0.98]), _figures(rng, 50_000.0, [1.0, 1.01, 0.99]))
    now = _doc(_figures(rng, 70_000.0, [1.0, 1.02, 0.98]), _figures(rng, 70_000.0, [1.0, 1.01, 0.99]))
    comparison = compare_to_baseline(now, base)
    assert comparison["regressions"] == [f"{CELL}::{KEY}"]
    assert comparison["comparisons"][0]["ci_low"] > 1.2
    now["baseline"] = comparison
    assert overall_verdict(now)["verdict"] == "regressed"
    assert "1 regression against" in overall_verdict(now)["reasons"][0]
    text = render_summary(now)
    assert "**VERDICT: regressed" in text
    assert "**1 regression:**" in text
    assert "commit 0123456789ab (main)" in text


def test_a_noisy_run_is_inconclusive_not_regressed() -> None:
    rng = random.Random(3)
    base = _doc(_figures(rng, 50_000.0, [1.0, 1.02, 0.98]), None)
    now = _doc(_figures(rng, 60_000.0, [0.9, 1.2, 1.45]), None)
    comparison = compare_to_baseline(now, base)
    assert comparison["figures"] == "unpinned"
    assert comparison["regressions"] == []
    assert comparison["inconclusive"] == [f"{CELL}::{KEY}"]
    now["baseline"] = comparison
    assert overall_verdict(now)["verdict"] == "inconclusive"
    assert "VERDICT: inconclusive (1 comparison inconclusive" in render_terminal(now)


def test_an_older_baseline_without_repeats_is_compared_from_its_stats() -> None:
    rng = random.Random(4)
    base = _doc(_figures(rng, 50_000.0, [1.0, 1.0, 1.0]), None)
    del base["cells"][0]["latency"]["methods"][0]["repeats"]
    del base["cells"][0]["latency"]["methods"][0]["pinned"]
    now = _doc(_figures(rng, 50_000.0, [1.0, 1.02, 0.98]), _figures(rng, 10_000.0, [1.0, 1.0, 1.0]))
    comparison = compare_to_baseline(now, base)
    assert comparison["figures"] == "unpinned"
    assert "only one run has pinned figures" in comparison["notes"][0]
    assert comparison["comparisons"][0]["verdict"] == "same"


def test_verdict_precedence() -> None:
    rng = random.Random(5)
    doc = _doc(_figures(rng, 50_000.0, [1.0]), None)
    assert overall_verdict(doc) == {"verdict": "passed", "reasons": ["no baseline to compare with"]}
    doc["environment"]["load_average"] = [3.0, 2.0, 1.0]
    assert "the machine was busy: load average 3.0 on 2 cores" in overall_verdict(doc)["reasons"]
    assert overall_verdict(doc)["verdict"] == "passed"
    doc["baseline"] = {"path": "b.json", "comparable": True, "regressions": ["x::y"], "inconclusive": ["z"]}
    # Regressions measured on a busy machine (load 3 on 2 cores) are not a verdict: measure again.
    assert overall_verdict(doc)["verdict"] == "inconclusive"
    doc["environment"]["load_average"] = [1.5, 1.0, 1.0]
    assert overall_verdict(doc)["verdict"] == "regressed"
    failed = copy.deepcopy(doc)
    failed["cells"][0]["status"] = "failed"
    verdict = overall_verdict(failed)
    assert verdict["verdict"] == "failed"
    assert verdict["reasons"][0] == f"1 cell failed or errored: {CELL}"


def test_baselines_are_per_matrix(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    assert baseline_path_for("default", tmp_path) == tmp_path / "reports" / "baselines" / "default.json"
    assert baseline_path_for("full", tmp_path) == tmp_path / "reports" / "baselines" / "full.json"
    # A stray single baseline of an older layout is not read for any matrix.
    (tmp_path / "reports" / "baseline.json").write_text("{}")
    assert baseline_path_for("full", tmp_path) == tmp_path / "reports" / "baselines" / "full.json"
    assert baseline_path_for("default", tmp_path).name == "default.json"
    with pytest.raises(ReportError, match="cannot name a baseline file"):
        baseline_path_for("../etc", tmp_path)


def test_a_baseline_of_another_matrix_says_so() -> None:
    rng = random.Random(6)
    base = _doc(_figures(rng, 50_000.0, [1.0, 1.0]), None, matrix="full")
    now = _doc(_figures(rng, 50_000.0, [1.0, 1.0]), None)
    assert "the baseline is of matrix `full`" in compare_to_baseline(now, base)["notes"][0]


def test_source_records_commit_and_dirty_flag(tmp_path: Path) -> None:
    def git(*argv: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *argv], check=True, capture_output=True)

    git("init", "-q", "-b", "trunk")
    (tmp_path / "f.txt").write_text("a")
    git("add", "f.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    source = collect_source(tmp_path)
    assert source["branch"] == "trunk"
    assert source["dirty"] is False
    assert len(source["commit"]) == 40
    (tmp_path / "untracked.txt").write_text("x")
    assert collect_source(tmp_path)["dirty"] is False  # untracked files are not the code measured
    (tmp_path / "f.txt").write_text("b")
    assert collect_source(tmp_path)["dirty"] is True
    assert collect_source(tmp_path / "nowhere") == {"commit": None, "branch": None, "dirty": None}


def test_a_run_that_measured_nothing_is_not_called_a_pinning_mismatch() -> None:
    rng = random.Random(7)
    base = _doc(_figures(rng, 50_000.0, [1.0, 1.0]), _figures(rng, 10_000.0, [1.0, 1.0]))
    now = copy.deepcopy(base)
    now["cells"][0]["latency"] = {
        "status": "error",
        "error": "driver died",
        "driver_runtime": None,
        "met": None,
        "methods": [],
    }
    comparison = compare_to_baseline(now, base)
    assert comparison["comparable"] is True
    assert comparison["notes"] == ["this run measured no latency: nothing to compare"]
    assert comparison["comparisons"] == []


def test_a_busy_start_of_the_measurement_counts_too() -> None:
    rng = random.Random(9)
    doc = _doc(_figures(rng, 50_000.0, [1.0]), None)
    doc["baseline"] = {"path": "b.json", "comparable": True, "regressions": ["x::y"], "inconclusive": []}
    assert overall_verdict(doc)["verdict"] == "regressed"
    doc["latency"]["load_average_start"] = [4.0, 2.0, 1.0]
    doc["latency"]["load_average_end"] = [0.5, 0.5, 0.5]
    verdict = overall_verdict(doc)
    assert verdict["verdict"] == "inconclusive"
    assert "the machine was busy: load average 4.0 on 2 cores" in verdict["reasons"]


def test_write_baseline_goes_to_the_runs_matrix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from testkit import _cli_bench
    from testkit.tests.test_report_html import _doc as _valid_doc

    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "baseline.json").write_text("{}")  # a stray file of an older layout
    monkeypatch.setattr(_cli_bench, "_root", lambda: tmp_path)
    for matrix in ("default", "full"):
        run = tmp_path / matrix / "results.json"
        run.parent.mkdir()
        run.write_text(json.dumps(dict(_valid_doc(10), matrix=matrix)))
        argv = ["report", "--results", str(run), "--no-baseline", "--write-baseline"]
        assert _cli_bench.main(argv) == 0
        saved = json.loads((tmp_path / "reports" / "baselines" / f"{matrix}.json").read_text())
        assert saved["matrix"] == matrix
        assert saved["baseline"] is None
    assert (tmp_path / "reports" / "baseline.json").read_text() == "{}"  # never overwritten
