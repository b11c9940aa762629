"""Reports of a run: ``results.json``, ``summary.md``, a terminal table, the README status block.

``results.json`` is the machine-readable record (validated against ``reports/results.schema.json``):
the environment, per-cell conformance (passed/failed/errored checks by name) and latency (stats,
floors, budget verdicts), and the comparison with a baseline run. ``summary.md`` and the terminal
table are views of it, and so is the README block between the ``matrix-status`` markers.

Regressions against a baseline are noise-aware (:mod:`testkit._report_compare`, :mod:`testkit._stats`).

The document and its inputs are :mod:`testkit._report_model`, the baseline comparison
:mod:`testkit._report_compare`, the views :mod:`testkit._report_render`; this module writes a run's
files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit._html import render_html
from testkit._junit import render_junit
from testkit._latency import LatencyResults
from testkit._report_compare import baseline_path_for, compare_to_baseline
from testkit._report_model import (
    DEFAULT_THRESHOLD,
    HEADLINE_METHOD,
    MARKER_BEGIN,
    MARKER_END,
    CellConformance,
    ConformanceCheck,
    ConformanceReport,
    ReadmeError,
    ReportError,
    build_results,
    collect_environment,
    collect_source,
    load_conformance,
    load_results,
    overall_verdict,
    parse_cell_id,
    schema_path,
    validate_results,
)
from testkit._report_render import (
    format_ns,
    print_table,
    readme_block,
    render_summary,
    render_terminal,
    replace_readme_block,
    run_line,
    update_readme,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "HEADLINE_METHOD",
    "MARKER_BEGIN",
    "MARKER_END",
    "CellConformance",
    "ConformanceCheck",
    "ConformanceReport",
    "ReadmeError",
    "ReportError",
    "ReportPaths",
    "baseline_path_for",
    "build_results",
    "collect_source",
    "compare_to_baseline",
    "format_ns",
    "load_conformance",
    "load_results",
    "overall_verdict",
    "parse_cell_id",
    "print_table",
    "readme_block",
    "render_summary",
    "render_terminal",
    "replace_readme_block",
    "schema_path",
    "update_readme",
    "validate_results",
    "write_reports",
]

# --- entry point ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPaths:
    """Files written by :func:`write_reports`, and the terminal table text."""

    results_json: Path
    summary_md: Path
    terminal: str
    regressions: tuple[str, ...]
    html: Path | None = None
    junit: Path | None = None
    #: The top-line verdict: passed, failed, regressed or inconclusive.
    verdict: str = "passed"


def render_reports(
    out_dir: Path,
    results: dict[str, Any],
    *,
    baseline: Path | None,
    threshold: float = DEFAULT_THRESHOLD,
    echo: Callable[[str], None] | None = print,
    schema: Path | None = None,
) -> ReportPaths:
    """Add the baseline comparison to ``results``, validate, and write the run's files.

    ``results.json``, ``summary.md``, ``report.html`` (self-contained page) and ``junit.xml``.
    """
    results["baseline"] = None
    if baseline is not None:
        base = load_results(baseline, "baseline")
        results["baseline"] = compare_to_baseline(
            results, base, threshold=threshold, baseline_path=_display_path(baseline)
        )
    results["verdict"] = overall_verdict(results)
    validate_results(results, schema)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.json"
    summary_path = out_dir / "summary.md"
    html_path = out_dir / "report.html"
    junit_path = out_dir / "junit.xml"
    results_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    summary_path.write_text(render_summary(results), encoding="utf-8")
    html_path.write_text(
        render_html(results, run_line=run_line(results)),
        encoding="utf-8",
    )
    junit_path.write_text(render_junit(results), encoding="utf-8")
    if echo is not None:
        print_table(results, echo)
    regressions = tuple(results["baseline"]["regressions"]) if results["baseline"] else ()
    return ReportPaths(
        results_path,
        summary_path,
        render_terminal(results),
        regressions,
        html_path,
        junit_path,
        str(results["verdict"]["verdict"]),
    )


def _display_path(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def write_reports(
    out_dir: Path,
    *,
    conformance_json: Path | None,
    latency: LatencyResults | None,
    baseline: Path | None,
    threshold: float = DEFAULT_THRESHOLD,
    echo: Callable[[str], None] | None = print,
    environment: Mapping[str, Any] | None = None,
    source: Mapping[str, Any] | None = None,
) -> ReportPaths:
    """Write ``out_dir/results.json`` and ``out_dir/summary.md`` and print the terminal table.

    ``conformance_json`` is the pytest plugin's ``--interop-report`` file, ``latency`` the result
    of :func:`testkit._latency.run_latency`, ``baseline`` an earlier results.json to compare with.
    ``echo=None`` prints nothing; ``environment`` and ``source`` replace the probed machine
    description and git state (tests).
    """
    conformance = load_conformance(conformance_json) if conformance_json is not None else None
    env = dict(environment) if environment is not None else collect_environment(latency)
    src = dict(source) if source is not None else collect_source()
    results = build_results(conformance=conformance, latency=latency, environment=env, source=src)
    return render_reports(out_dir, results, baseline=baseline, threshold=threshold, echo=echo)
