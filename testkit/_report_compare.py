"""A run's latency against a baseline run, per (cell, method), without crying wolf.

Each comparison is :func:`testkit._stats.compare_groups` over the repeats of both runs (a bootstrap
interval of the ratio of medians against the threshold, default 1.2). A regression or improvement
is set back to ``same`` when the ratio to the floor measured in the same run did not move as much
(a machine slower across the board, floor included, does not flag every cell). Pinned figures are
compared with pinned ones, unpinned with unpinned; a run and a baseline with no figures taken the
same way are not comparable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from testkit._report_figures import method_figures
from testkit._report_model import DEFAULT_THRESHOLD, ReportError
from testkit._stats import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, SampleGroup, compare_groups

__all__ = ["baseline_path_for", "compare_to_baseline"]


def _methods_by_key(
    results: Mapping[str, Any], want_pinned: bool
) -> dict[tuple[str, str], Mapping[str, Any]]:
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for cell in results.get("cells", []):
        lat = cell.get("latency")
        if not lat:
            continue
        for method in lat.get("methods", []):
            figures = method_figures(results, method, want_pinned)
            if figures is not None:
                out[(cell["id"], method["key"])] = figures
    return out


def _groups(figures: Mapping[str, Any]) -> list[SampleGroup]:
    """The repeats of a measurement as sample groups; one coarse group from its stats if none."""
    repeats = figures.get("repeats") or []
    if repeats:
        return [SampleGroup.from_sketch(int(r["n"]), r["quantiles_ns"]) for r in repeats]
    return [SampleGroup.from_stats(figures["stats"])]


def _has_figures(results: Mapping[str, Any], pinned_figures: bool) -> bool:
    return bool(_methods_by_key(results, pinned_figures))


def _which_figures(current: Mapping[str, Any], baseline: Mapping[str, Any]) -> tuple[str, bool, list[str]]:
    """Which figures the two runs share (``pinned``/``unpinned``), whether they are comparable at
    all, and notes for the reader."""
    notes: list[str] = []
    if current.get("matrix") and baseline.get("matrix") and current["matrix"] != baseline["matrix"]:
        notes.append(
            f"the baseline is of matrix `{baseline['matrix']}`, this run of `{current['matrix']}`: "
            "only the cells both measured are compared"
        )
    if not _has_figures(current, True) and not _has_figures(current, False):
        notes.append("this run measured no latency: nothing to compare")
        return "unpinned", True, notes
    if _has_figures(current, True) and _has_figures(baseline, True):
        return "pinned", True, notes
    if _has_figures(current, False) and _has_figures(baseline, False):
        if _has_figures(current, True) or _has_figures(baseline, True):
            notes.append("only one run has pinned figures: the (noisier) unpinned figures are compared")
        return "unpinned", True, notes
    notes.append(
        f"pinning differs (baseline pinned={(baseline.get('latency') or {}).get('pinned')}, "
        f"now pinned={(current.get('latency') or {}).get('pinned')}): no figures taken the same "
        "way, nothing compared"
    )
    return ("pinned" if _has_figures(current, True) else "unpinned"), False, notes


def _compare_method(
    key: tuple[str, str],
    c: Mapping[str, Any],
    b: Mapping[str, Any],
    figures: str,
    *,
    threshold: float,
    confidence: float,
    resamples: int,
) -> dict[str, Any]:
    """One comparison of the ``baseline.comparisons`` list: (cell, method) now ``c``, then ``b``."""
    label = f"{key[0]}::{key[1]}"
    c_ratio = (c.get("budget") or {}).get("ratio")
    b_ratio = (b.get("budget") or {}).get("ratio")
    # Ratios to different floors (noop then, noop+json now) say nothing about the machine.
    same_floor = (c.get("floor") or {}).get("kind") == (b.get("floor") or {}).get("kind")
    floor_change = c_ratio / b_ratio if c_ratio and b_ratio and same_floor else None
    try:
        change = compare_groups(
            _groups(c), _groups(b), threshold=threshold, confidence=confidence, resamples=resamples, key=label
        )
    except ValueError as exc:
        raise ReportError(f"{label}: cannot compare with the baseline: {exc}") from exc
    verdict: str = change.verdict
    # The floor measured in the same run moved as much: the machine, not the cell, changed.
    if floor_change is not None and (
        (verdict == "regression" and floor_change < threshold)
        or (verdict == "improvement" and floor_change > 1.0 / threshold)
    ):
        verdict = "same"
    return {
        "cell": key[0],
        "method": key[1],
        "figures": figures,
        "baseline_p50_ns": b["stats"]["p50_ns"],
        "baseline_p90_ns": b["stats"]["p90_ns"],
        "baseline_p99_ns": b["stats"]["p99_ns"],
        "p50_ns": c["stats"]["p50_ns"],
        "p99_ns": c["stats"]["p99_ns"],
        "change": change.ratio,
        "ci_low": change.low,
        "ci_high": change.high,
        "floor_ratio_change": floor_change,
        "verdict": verdict,
    }


def compare_to_baseline(
    current: Mapping[str, Any],
    baseline: Mapping[str, Any],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    baseline_path: str = "",
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
) -> dict[str, Any]:
    """Compare the latency of two results documents (see the module docstring for the rule).

    Returns the results.json ``baseline`` member: every comparison with its bootstrap interval
    and verdict, the keys of regressions, improvements and inconclusive comparisons, (cell,
    method) pairs of cells run now that the baseline measured but this run did not, and the
    baseline's cells this run did not include.
    """
    if threshold <= 1.0:
        raise ReportError(f"regression threshold must be > 1.0, received {threshold!r}")
    figures, comparable, notes = _which_figures(current, baseline)
    cur = _methods_by_key(current, figures == "pinned")
    base = _methods_by_key(baseline, figures == "pinned")
    comparisons = [
        _compare_method(
            key, cur[key], base[key], figures, threshold=threshold, confidence=confidence, resamples=resamples
        )
        for key in (sorted(cur.keys() & base.keys()) if comparable else [])
    ]
    lists: dict[str, list[str]] = {"regression": [], "improvement": [], "inconclusive": []}
    for comparison in comparisons:
        if comparison["verdict"] in lists:
            lists[comparison["verdict"]].append(f"{comparison['cell']}::{comparison['method']}")
    current_cells = {cell["id"] for cell in current.get("cells", [])}
    missing = sorted(f"{k[0]}::{k[1]}" for k in base.keys() - cur.keys() if k[0] in current_cells)
    not_run = sorted({k[0] for k in base} - current_cells)
    return {
        "path": baseline_path,
        "generated_at": baseline.get("generated_at"),
        "matrix": baseline.get("matrix"),
        "commit": (baseline.get("source") or {}).get("commit"),
        "threshold": threshold,
        "confidence": confidence,
        "figures": figures,
        "comparable": comparable,
        "notes": notes,
        "comparisons": comparisons,
        "regressions": lists["regression"],
        "improvements": lists["improvement"],
        "inconclusive": lists["inconclusive"],
        "missing": missing,
        "cells_not_run": not_run,
    }


def baseline_path_for(matrix: str | None, root: Path | None = None) -> Path:
    """Where the committed baseline of ``matrix`` lives: ``reports/baselines/<matrix>.json``.

    A run is compared only with its own matrix's baseline.
    """
    if root is None:
        from testkit._toolchains import find_repo_root

        root = find_repo_root()
    name = matrix or "default"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ReportError(f"matrix name {name!r} cannot name a baseline file (letters, digits, . _ -)")
    return root / "reports" / "baselines" / f"{name}.json"
