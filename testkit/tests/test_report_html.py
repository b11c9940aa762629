"""report.html in headless Chromium (cells drawn, charts rendered, no console output) and junit.xml."""

from __future__ import annotations

import os
import random
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from testkit._html import VERDICT_COLOURS, render_html, scaling
from testkit._report import compare_to_baseline, overall_verdict, render_reports
from testkit._stats import sketch
from testkit._toolchains import find_repo_root
from testkit.tests._browser import headless, png_pixels

ROOT = find_repo_root(Path(__file__).parent)
KEYS = (
    ("invokeAction:echo:100B", 100),
    ("validateAction:echo", 87),
    ("invokeAction:echo:10KiB", 10240),
    ("invokeAction:echo:1MiB", 1048576),
)


def _figures(rng: random.Random, center: float, floor: float, max_ratio: float) -> dict[str, Any]:
    repeats, pooled = [], []
    for _ in range(3):
        own = [center * rng.lognormvariate(0.0, 0.1) for _ in range(200)]
        pooled += own
        sk = sketch(own)
        repeats.append({"n": 200, "p50_ns": sk[50], "floor_p50_ns": floor, "quantiles_ns": sk})
    sk = sketch(pooled)
    ratio = sk[50] / floor
    return {
        "stats": {
            "n": 600,
            "p50_ns": sk[50],
            "p90_ns": sk[90],
            "p99_ns": sk[99],
            "mean_ns": sk[50],
            "min_ns": sk[0],
            "max_ns": sk[-1],
        },
        "floor": {"kind": "pipe", "p50_ns": floor, "p99_ns": floor * 1.5, "components": {}},
        "budget": {
            "p50_us": 1000.0,
            "max_floor_ratio": max_ratio,
            "absolute_met": True,
            "ratio": ratio,
            "ratio_met": ratio <= max_ratio,
            "met": ratio <= max_ratio,
        },
        "repeats": repeats,
    }


def _cell(
    rng: random.Random,
    cid: str,
    host: str,
    plugin: str,
    transport: str,
    center: float,
    status: str,
    slow: float = 1.0,
) -> dict[str, Any]:
    methods = []
    for key, size in KEYS:
        scale = 1.0 + min(size, 10240) / 2048
        # ``slow`` slows the call, not its floor: a regression of the cell, not of the machine.
        main = _figures(rng, center * scale * slow, center * 0.9, 1.3)
        methods.append(
            {
                "key": key,
                "method": key.split(":")[0],
                "name": "echo",
                "payload_bytes": size,
                "error": None,
                **main,
                "pinned": _figures(rng, center * scale * slow / 5, center / 5, 3.0),
            }
        )
    checks = [{"name": "manifest-valid", "outcome": "passed", "duration_s": 0.01}]
    if status == "failed":
        checks.append({"name": "fail-keeps-serving", "outcome": "failed", "message": "expected -32000"})
    return {
        "id": cid,
        "host": host,
        "host_runtime": "node" if host == "typescript" else None,
        "plugin": plugin,
        "plugin_runtime": "node" if plugin == "typescript" else None,
        "transport": transport,
        "status": status,
        "conformance": {"passed": 1, "failed": len(checks) - 1, "errored": 0, "skipped": 0, "checks": checks},
        "latency": {
            "status": "ok",
            "error": None,
            "driver_runtime": None,
            "met": True,
            "methods": methods,
            "throughput": [
                {
                    "in_flight": n,
                    "method": "invokeAction:echo:100B",
                    "calls": 400,
                    "calls_per_s": 1e9 / center * n**0.5,
                    "repeats_calls_per_s": [1e9 / center * n**0.5] * 3,
                    "error": None,
                    "pinned": {"calls_per_s": 5e9 / center, "repeats_calls_per_s": [5e9 / center] * 3},
                }
                for n in ((1, 8, 64) if transport == "ipc" else ())
            ],
        },
    }


def _doc(seed: int, slow_cell: str | None = None) -> dict[str, Any]:
    rng = random.Random(seed)
    spec = [
        ("py-host/ts-plugin/ipc", "python", "typescript", "ipc", 50_000.0, "passed"),
        ("ts-host/rust-plugin/wasm", "typescript", "rust", "wasm", 10_000.0, "passed"),
        ("rust-host/py-plugin/ipc", "rust", "python", "ipc", 60_000.0, "failed"),
    ]
    cells = [
        _cell(rng, cid, h, p, t, c, st, 1.5 if cid == slow_cell else 1.0) for cid, h, p, t, c, st in spec
    ]
    return {
        "schema_version": 1,
        "generated_at": "2026-12-01T00:00:00Z",
        "matrix": "default",
        "source": {"commit": "0123456789abcdef0123", "branch": "main", "dirty": True},
        "environment": {
            "cpu_model": "Test CPU",
            "cores": 2,
            "cores_available": 2,
            "load_average": [0.3, 0.2, 0.1],
            "kernel": "6.1",
            "os": "Linux",
            "python": "CPython 3.11",
            "node": None,
            "bun": None,
            "rustc": None,
            "pinned": False,
            "pinned_cpu": 1,
            "profile": "quick",
        },
        "latency": {
            "profile": "quick",
            "warmup": 10,
            "iterations": 600,
            "pinned": False,
            "pinned_cpu": 1,
            "pin_mode": "both",
            "repeats": 3,
            "started_at": "2026-12-01T00:00:00Z",
            "finished_at": "2026-12-01T00:00:00Z",
            "budgets": {},
        },
        "cells": cells,
        "plugin_level": [],
        "baseline": None,
    }


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("report")
    base_path = out / "baseline.json"
    import json

    base_path.write_text(json.dumps(_doc(1)), encoding="utf-8")
    results = _doc(2, slow_cell="py-host/ts-plugin/ipc")
    paths = render_reports(out / "run", results, baseline=base_path, echo=None)
    assert paths.html is not None
    return paths.html, results


def test_page_is_self_contained(rendered: tuple[Path, dict[str, Any]]) -> None:
    page = rendered[0].read_text(encoding="utf-8")
    for needle in ("http://", "https://", "<link", "src="):
        assert needle not in page, f"the page refers to something outside itself: {needle}"
    assert page.count('data-chart="box"') == 6  # main and pinned box plots of three cells
    assert "VERDICT: failed" in page


def test_chromium_draws_the_cells_and_charts_without_console_output(
    rendered: tuple[Path, dict[str, Any]],
) -> None:
    html_path, results = rendered
    done = headless("--virtual-time-budget=3000", "--dump-dom", html_path.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    dom = done.stdout
    assert 'data-rendered="yes"' in dom, "the page's script did not run"
    assert f'data-cells="{len(results["cells"])}"' in dom
    charts = int(dom.split('data-charts="', 1)[1].split('"', 1)[0])
    assert charts >= 3 * 3 + 1  # 2 box plots + a histogram per cell, and the comparison
    for cell in results["cells"]:
        assert f'data-cell="{cell["id"]}"' in dom
    # The targets, payload-scaling and throughput tables are laid out with rows.
    tables = dom.split('data-tables="', 1)[1].split('"', 1)[0].split()
    assert tables == ["targets", "scaling", "throughput"], tables
    assert 'data-target-verdict="missed"' in dom  # the wasm cell: ~2 µs pinned from Node, target 1.5 µs
    assert 'data-target-verdict="met"' in dom
    for cell in results["cells"]:
        assert f'data-scaling-cell="{cell["id"]}"' in dom
    assert 'data-throughput-cell="py-host/ts-plugin/ipc"' in dom
    assert 'data-throughput-cell="ts-host/rust-plugin/wasm"' not in dom
    assert 'data-verdict="regressed"' in dom  # the slowed cell
    assert 'data-verdict="failed"' in dom


def test_chromium_screenshot_shows_the_verdict_colours(rendered: tuple[Path, dict[str, Any]]) -> None:
    html_path = rendered[0]
    shot = html_path.parent / "report.png"
    done = headless(
        "--hide-scrollbars", "--window-size=1000,3200", f"--screenshot={shot}", html_path.as_uri()
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.is_file(), done.stderr[-2000:]
    keep = os.environ.get("INTEROP_TEST_ARTEFACTS")
    if keep:  # CI keeps the screenshot beside the other artefacts
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "report.png")
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1000, 3200)
    counts = Counter(pixels)
    for verdict in ("passed", "failed"):
        assert counts[_rgb(VERDICT_COLOURS[verdict])] > 200, f"no {verdict} colour drawn"
    assert counts[_rgb("#90caf9")] > 100, "no box plot drawn"
    assert len(counts) > 50  # text, charts, not a blank page


def test_scaling_slope_is_least_squares_per_kib() -> None:
    methods = [
        {"key": "invokeAction:echo:100B", "payload_bytes": 100, "stats": {"p50_ns": 1_100.0}},
        {"key": "invokeAction:echo:10KiB", "payload_bytes": 10_340, "stats": {"p50_ns": 11_340.0}},
        {"key": "validateAction:echo", "payload_bytes": 87, "stats": {"p50_ns": 5.0}},
    ]
    points, per_kib = scaling(methods)
    assert points == [(100, 1_100.0), (10_340, 11_340.0)]
    assert per_kib == pytest.approx(1024.0)
    assert scaling(methods[:1]) == ([(100, 1_100.0)], None)


def test_junit_has_a_suite_per_cell_and_the_regressions(rendered: tuple[Path, dict[str, Any]]) -> None:
    junit = rendered[0].parent / "junit.xml"
    root = ET.parse(junit).getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert {
        "py-host/ts-plugin/ipc",
        "ts-host/rust-plugin/wasm",
        "rust-host/py-plugin/ipc",
        "baseline",
    } <= set(suites)
    failed = suites["rust-host/py-plugin/ipc"]
    assert failed.get("failures") == "1"
    case = next(c for c in failed.findall("testcase") if c.get("name") == "fail-keeps-serving")
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "expected -32000"
    baseline = suites["baseline"]
    regressed = [c for c in baseline.findall("testcase") if c.find("failure") is not None]
    assert regressed
    assert all(c.get("classname") == "baseline.py-host/ts-plugin/ipc" for c in regressed)
    assert int(root.get("failures", "0")) == 1 + len(regressed)
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["verdict"] == "failed"


def test_verdict_and_html_agree_without_a_baseline() -> None:
    results = _doc(3)
    results["cells"] = [c for c in results["cells"] if c["status"] == "passed"]
    results["verdict"] = overall_verdict(results)
    assert results["verdict"]["verdict"] == "passed"
    page = render_html(results)
    assert 'data-verdict="passed"' in page
    assert "No baseline given." in page
    assert compare_to_baseline(results, results)["regressions"] == []
