"""Reports of a run: ``results.json``, ``summary.md``, a terminal table, the README status block.

``results.json`` is the machine-readable record (validated against ``reports/results.schema.json``):
the environment, per-cell conformance (passed/failed/errored checks by name) and latency (stats,
floors, budget verdicts), and the comparison with a baseline run. ``summary.md`` and the terminal
table are views of it, and so is the README block between the ``matrix-status`` markers.

Regressions against a baseline are noise-aware: a (cell, method) is flagged only when its p50 grew
by the threshold factor (default 1.5x), the new p50 lies beyond the baseline's own p90, and, when
both runs measured a floor, the ratio to the floor grew by the same factor (so a machine that is
slower across the board, floor included, does not flag every cell).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from testkit._html import render_html
from testkit._junit import render_junit
from testkit._latency import LatencyResults
from testkit._stats import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, SampleGroup, compare_groups, plural
from testkit._stats import DEFAULT_THRESHOLD as _DEFAULT_CHANGE_THRESHOLD

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

SCHEMA_VERSION = 1
DEFAULT_THRESHOLD = _DEFAULT_CHANGE_THRESHOLD
#: The method quoted in one-line views (README, terminal): invokeAction echo, ~100-byte payload.
HEADLINE_METHOD = "invokeAction:echo:100B"
MARKER_BEGIN = "<!-- matrix-status:begin -->"
MARKER_END = "<!-- matrix-status:end -->"

_LANG_NAME = {"python": "Python", "typescript": "TypeScript", "rust": "Rust"}
_SHORT_LANG = {"py": "python", "ts": "typescript", "rust": "rust"}
_OUTCOMES = ("passed", "failed", "error", "skipped")
_CELL_ID = re.compile(
    r"^(?P<host>py|ts|rust)(?:@(?P<hrt>node|bun))?-host/"
    r"(?P<plugin>[a-z0-9][a-z0-9._-]*?)(?:@(?P<prt>node|bun))?-plugin/(?P<transport>wasm|ffi|ipc)$"
)


class ReportError(ValueError):
    """An input of the report (conformance JSON, results, baseline) is malformed or missing."""


class ReadmeError(ReportError):
    """The README has no (or broken) ``matrix-status`` markers."""


# --- conformance input ---------------------------------------------------------------------


class ConformanceCheck(TypedDict):
    """One conformance check of one cell, as the pytest plugin records it."""

    name: str
    outcome: str  # passed | failed | error | skipped
    message: NotRequired[str]
    duration_s: NotRequired[float]
    nodeid: NotRequired[str]


class CellConformance(TypedDict):
    """All checks of one cell; runtimes are ``null`` for non-TypeScript sides."""

    id: str
    host: str
    host_runtime: str | None
    plugin: str
    plugin_runtime: str | None
    transport: str
    checks: list[ConformanceCheck]


class ConformanceReport(TypedDict):
    """The conformance JSON the pytest plugin writes with ``--interop-report PATH``."""

    matrix: str
    generated_at: str
    cells: list[CellConformance]
    matrix_path: NotRequired[str]
    fuzz_profile: NotRequired[str | None]
    plugin_level: NotRequired[list[ConformanceCheck]]


def parse_cell_id(cell_id: str) -> dict[str, Any]:
    """Host, plugin, transport and runtimes from a cell id such as ``ts@bun-host/rust-plugin/wasm``."""
    match = _CELL_ID.match(cell_id)
    if match is None:
        raise ReportError(
            f"cell id {cell_id!r} is not of the form <host>[@runtime]-host/<plugin>[@runtime]-plugin/"
            "<transport> (host: py, ts, rust; plugin: py, ts, rust or a matrix's third-party plugin "
            "name; runtime: node, bun; transport: wasm, ffi, ipc)"
        )
    host = _SHORT_LANG[match["host"]]
    # A plugin that is not one of our fixtures (a matrix's [plugin.<name>] table) keeps its name.
    plugin = _SHORT_LANG.get(match["plugin"], match["plugin"])
    return {
        "host": host,
        "host_runtime": match["hrt"] or ("node" if host == "typescript" else None),
        "plugin": plugin,
        "plugin_runtime": match["prt"] or ("node" if plugin == "typescript" else None),
        "transport": match["transport"],
    }


def _require(cond: bool, where: str, expected: str, received: Any) -> None:
    if not cond:
        raise ReportError(f"{where}: expected {expected}, received {received!r:.200}")


def _check_checks(checks: list[Any], where: str) -> None:
    for j, check in enumerate(checks):
        cw = f"{where}[{j}]"
        _require(isinstance(check, dict), cw, "an object", check)
        _require(isinstance(check.get("name"), str), f"{cw}.name", "a string", check.get("name"))
        _require(
            check.get("outcome") in _OUTCOMES,
            f"{cw}.outcome",
            f"one of {_OUTCOMES}",
            check.get("outcome"),
        )


def load_conformance(path: Path) -> ConformanceReport:
    """Read and check a conformance JSON file (see :class:`ConformanceReport`)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the conformance report: {exc}") from exc
    except ValueError as exc:
        raise ReportError(f"{path}: the conformance report is not JSON: {exc}") from exc
    _require(isinstance(data, dict), f"{path}", "an object", type(data).__name__)
    _require(isinstance(data.get("cells"), list), f"{path}: cells", "an array", data.get("cells"))
    for i, cell in enumerate(data["cells"]):
        where = f"{path}: cells[{i}]"
        _require(isinstance(cell, dict), where, "an object", cell)
        _require(isinstance(cell.get("id"), str), f"{where}.id", "a cell id string", cell.get("id"))
        meta = parse_cell_id(cell["id"])
        for key, value in meta.items():
            if cell.get(key) is None:
                cell[key] = value
        _require(isinstance(cell.get("checks"), list), f"{where}.checks", "an array", cell.get("checks"))
        _check_checks(cell["checks"], f"{where}.checks")
    plugin_level = data.setdefault("plugin_level", [])
    _require(isinstance(plugin_level, list), f"{path}: plugin_level", "an array", plugin_level)
    _check_checks(plugin_level, f"{path}: plugin_level")
    data.setdefault("matrix", "")
    data.setdefault("generated_at", "")
    report: ConformanceReport = data
    return report


# --- environment ---------------------------------------------------------------------------


def _version(argv: Sequence[str]) -> str | None:
    exe = argv[0]
    if os.sep not in exe and shutil.which(exe) is None:
        return None
    if os.sep in exe and not os.access(exe, os.X_OK):
        return None
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0].strip() if done.returncode == 0 and text else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(root: Path, *argv: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *argv], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def collect_source(root: Path | None = None) -> dict[str, Any]:
    """The commit the run measured and whether the work tree had uncommitted changes.

    ``dirty`` counts tracked files only (an untracked report directory is not a change of the
    code measured); both are ``null`` outside a git checkout.
    """
    if root is None:
        try:
            from testkit._toolchains import find_repo_root

            root = find_repo_root()
        except Exception:  # outside the repository: no source information
            return {"commit": None, "branch": None, "dirty": None}
    commit = _git(root, "rev-parse", "HEAD")
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    return {
        "commit": commit,
        "branch": branch if branch and branch != "HEAD" else None,
        "dirty": None if status is None else bool(status),
    }


def collect_environment(latency: LatencyResults | None) -> dict[str, Any]:
    """CPU, cores, kernel and toolchain versions of this machine, and how latency was taken."""
    node = os.environ.get("ELIZAOS_NODE")
    bun = os.environ.get("ELIZAOS_BUN")
    try:
        from testkit._toolchains import Toolchains

        tc = Toolchains.discover()
        node, bun = str(tc.node), str(tc.bun)
    except Exception:  # the environment block is best effort; versions become null
        pass
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    # Other work on the machine skews every figure; the load average says how busy it was.
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count() or 0,
        "cores_available": affinity,
        "load_average": load,
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "node": _version([node, "--version"]) if node else None,
        "bun": _version([bun, "--version"]) if bun else None,
        "rustc": _version(["rustc", "--version"]),
        "rustc_wasm": _version(["/usr/bin/rustc", "--version"]),
        "pinned": None if latency is None else latency.pinned,
        "pinned_cpu": None if latency is None else latency.pinned_cpu,
        "profile": None if latency is None else latency.profile.name,
    }


# --- results -------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_entries(raw: Iterable[ConformanceCheck]) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    for check in raw:
        entry: dict[str, Any] = {"name": check["name"], "outcome": check["outcome"]}
        if check.get("message"):
            entry["message"] = str(check.get("message"))[:2000]
        if "duration_s" in check:
            entry["duration_s"] = float(check["duration_s"])
        if check.get("nodeid"):
            entry["nodeid"] = str(check.get("nodeid"))
        checks.append(entry)
    return checks


def _conformance_summary(cell: CellConformance) -> dict[str, Any]:
    counts = dict.fromkeys(_OUTCOMES, 0)
    for check in cell["checks"]:
        counts[check["outcome"]] += 1
    checks = _check_entries(cell["checks"])
    return {
        "passed": counts["passed"],
        "failed": counts["failed"],
        "errored": counts["error"],
        "skipped": counts["skipped"],
        "checks": checks,
    }


def _cell_status(conformance: Mapping[str, Any] | None, latency: Mapping[str, Any] | None) -> str:
    """passed | failed | error | measured | not-run (see reports/README.md)."""
    if conformance is not None and conformance["errored"]:
        return "error"
    if latency is not None and latency["status"] == "error":
        return "error"
    if conformance is not None and (conformance["failed"] or conformance["skipped"]):
        return "failed"
    if conformance is not None and conformance["passed"]:
        return "passed"
    if latency is not None:
        return "measured"
    return "not-run"


def build_results(
    *,
    conformance: ConformanceReport | None,
    latency: LatencyResults | None,
    environment: Mapping[str, Any],
    generated_at: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The results.json document (without the baseline comparison) from a run's parts."""
    cells: dict[str, dict[str, Any]] = {}

    def slot(cell_id: str, meta: Mapping[str, Any]) -> dict[str, Any]:
        if cell_id not in cells:
            cells[cell_id] = {
                "id": cell_id,
                "host": meta["host"],
                "host_runtime": meta.get("host_runtime"),
                "plugin": meta["plugin"],
                "plugin_runtime": meta.get("plugin_runtime"),
                "transport": meta["transport"],
                "status": "not-run",
                "conformance": None,
                "latency": None,
            }
        return cells[cell_id]

    if latency is not None:
        for lc in latency.cells:
            entry = slot(
                lc.cell_id,
                {
                    "host": lc.host,
                    "host_runtime": lc.host_runtime,
                    "plugin": lc.plugin,
                    "plugin_runtime": lc.plugin_runtime,
                    "transport": lc.transport,
                },
            )
            entry["latency"] = lc.to_json()
    if conformance is not None:
        for cc in conformance["cells"]:
            meta = parse_cell_id(cc["id"])
            meta.update({k: v for k, v in cc.items() if k in meta and v is not None})
            entry = slot(cc["id"], meta)
            entry["conformance"] = _conformance_summary(cc)
    for entry in cells.values():
        entry["status"] = _cell_status(entry["conformance"], entry["latency"])
    matrix_name = latency.matrix_name if latency is not None else None
    if matrix_name is None and conformance is not None:
        matrix_name = conformance.get("matrix") or None
    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": generated_at or _now(),
        "matrix": matrix_name,
        "source": dict(source) if source is not None else {"commit": None, "branch": None, "dirty": None},
        "environment": dict(environment),
        "latency": None if latency is None else latency.run_json(),
        "cells": list(cells.values()),
        "plugin_level": [] if conformance is None else _check_entries(conformance.get("plugin_level", [])),
        "baseline": None,
    }
    results["verdict"] = overall_verdict(results)
    return results


#: 1-minute load average per core above which the machine was too busy for a regression verdict:
#: more runnable work than cores means the cells waited for a CPU in a way the baseline did not.
NOISY_LOAD_PER_CORE = 1.0


def overall_verdict(results: Mapping[str, Any]) -> dict[str, Any]:
    """The one top-line verdict of a run, with the reasons a release manager needs.

    ``failed`` (a conformance check or a cell failed or could not run) beats ``regressed`` (a
    comparison's whole interval lies beyond the threshold), which beats ``inconclusive`` (some
    comparison's interval straddles the threshold, the runs are not comparable, or regressions
    were measured while the machine was busy: load average above :data:`NOISY_LOAD_PER_CORE`
    per core; measure again on a quieter machine), which beats ``passed``.
    """
    reasons: list[str] = []
    bad_cells = [c["id"] for c in results.get("cells", []) if c.get("status") in ("failed", "error")]
    bad_plugin = [c["name"] for c in results.get("plugin_level", []) if c.get("outcome") != "passed"]
    if bad_cells:
        reasons.append(f"{plural(len(bad_cells), 'cell')} failed or errored: {', '.join(bad_cells)}")
    if bad_plugin:
        reasons.append(f"{plural(len(bad_plugin), 'plugin-level check')} failed: {', '.join(bad_plugin)}")
    base = results.get("baseline")
    env = results.get("environment") or {}
    lat = results.get("latency") or {}
    # The busiest of: when the measurement started, when it ended, when the reports were written.
    loads = [
        float(x[0])
        for x in (lat.get("load_average_start"), lat.get("load_average_end"), env.get("load_average"))
        if x
    ]
    load = [max(loads)] if loads else []
    cores = env.get("cores_available") or env.get("cores") or 0
    noisy = bool(load and cores and load[0] / cores > NOISY_LOAD_PER_CORE)
    busy_regressions = False
    regressions = list((base or {}).get("regressions", []))
    inconclusive = list((base or {}).get("inconclusive", []))
    if regressions:
        reasons.append(f"{plural(len(regressions), 'regression')} against `{base['path']}`")  # type: ignore[index]
        busy_regressions = noisy
    if base and not base.get("comparable", True):
        reasons.append("the baseline's figures were not taken the same way (pinning): nothing compared")
    if inconclusive:
        reasons.append(
            f"{plural(len(inconclusive), 'comparison')} inconclusive: the interval straddles the threshold"
        )
    if noisy:
        reasons.append(f"the machine was busy: load average {load[0]} on {plural(int(cores), 'core')}")
    if base is None:
        reasons.append("no baseline to compare with")
    if bad_cells or bad_plugin:
        verdict = "failed"
    elif regressions and not busy_regressions:
        verdict = "regressed"
    elif busy_regressions or inconclusive or (base is not None and not base.get("comparable", True)):
        verdict = "inconclusive"
    else:
        verdict = "passed"
    return {"verdict": verdict, "reasons": reasons}


# --- baseline ------------------------------------------------------------------------------


def _run_pinned(results: Mapping[str, Any]) -> bool:
    """True when the run's main figures were taken pinned (``--pin``: no unpinned figures)."""
    return bool((results.get("latency") or {}).get("pinned"))


def _figures(method: Mapping[str, Any], run_pinned: bool, want_pinned: bool) -> Mapping[str, Any] | None:
    """The method's pinned or unpinned figures (stats, floor, budget, repeats), if it has them."""
    if want_pinned:
        found = method if run_pinned else method.get("pinned")
    else:
        found = None if run_pinned else method
    if found is None or not found.get("stats"):
        return None
    return found


def _methods_by_key(
    results: Mapping[str, Any], want_pinned: bool
) -> dict[tuple[str, str], Mapping[str, Any]]:
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    run_pinned = _run_pinned(results)
    for cell in results.get("cells", []):
        lat = cell.get("latency")
        if not lat:
            continue
        for method in lat.get("methods", []):
            figures = _figures(method, run_pinned, want_pinned)
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
    comparable = True
    notes: list[str] = []
    if current.get("matrix") and baseline.get("matrix") and current["matrix"] != baseline["matrix"]:
        notes.append(
            f"the baseline is of matrix `{baseline['matrix']}`, this run of `{current['matrix']}`: "
            "only the cells both measured are compared"
        )
    if not _has_figures(current, True) and not _has_figures(current, False):
        figures = "unpinned"
        notes.append("this run measured no latency: nothing to compare")
    elif _has_figures(current, True) and _has_figures(baseline, True):
        figures = "pinned"
    elif _has_figures(current, False) and _has_figures(baseline, False):
        figures = "unpinned"
        if _has_figures(current, True) or _has_figures(baseline, True):
            notes.append("only one run has pinned figures: the (noisier) unpinned figures are compared")
    else:
        figures = "pinned" if _has_figures(current, True) else "unpinned"
        comparable = False
        notes.append(
            f"pinning differs (baseline pinned={(baseline.get('latency') or {}).get('pinned')}, "
            f"now pinned={(current.get('latency') or {}).get('pinned')}): no figures taken the same "
            "way, nothing compared"
        )
    cur = _methods_by_key(current, figures == "pinned")
    base = _methods_by_key(baseline, figures == "pinned")
    comparisons: list[dict[str, Any]] = []
    lists: dict[str, list[str]] = {"regression": [], "improvement": [], "inconclusive": []}
    for key in sorted(cur.keys() & base.keys()) if comparable else []:
        c, b = cur[key], base[key]
        label = f"{key[0]}::{key[1]}"
        c_ratio = (c.get("budget") or {}).get("ratio")
        b_ratio = (b.get("budget") or {}).get("ratio")
        floor_change = c_ratio / b_ratio if c_ratio and b_ratio else None
        try:
            change = compare_groups(
                _groups(c),
                _groups(b),
                threshold=threshold,
                confidence=confidence,
                resamples=resamples,
                key=label,
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
        if verdict in lists:
            lists[verdict].append(label)
        comparisons.append(
            {
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
        )
    current_cells = {cell["id"] for cell in current.get("cells", [])}
    base_all = _methods_by_key(baseline, figures == "pinned")
    missing = sorted(f"{k[0]}::{k[1]}" for k in base_all.keys() - cur.keys() if k[0] in current_cells)
    not_run = sorted({k[0] for k in base_all} - current_cells)
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

    A run is compared only with its own matrix's baseline. Until a ``full`` baseline is promoted
    there, the older ``reports/baseline.json`` (a full-matrix run) stands in for it.
    """
    if root is None:
        from testkit._toolchains import find_repo_root

        root = find_repo_root()
    name = matrix or "default"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ReportError(f"matrix name {name!r} cannot name a baseline file (letters, digits, . _ -)")
    path = root / "reports" / "baselines" / f"{name}.json"
    legacy = root / "reports" / "baseline.json"
    if name == "full" and not path.is_file() and legacy.is_file():
        return legacy
    return path


def load_results(path: Path, what: str = "results") -> dict[str, Any]:
    """Read a results.json (or baseline) file; ReportError names the file on any problem."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the {what} file: {exc}") from exc
    except ValueError as exc:
        raise ReportError(f"{path}: the {what} file is not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        received = data.get("schema_version") if isinstance(data, dict) else type(data).__name__
        raise ReportError(
            f"{path}: expected a results document with schema_version {SCHEMA_VERSION}, received {received!r}"
        )
    return data


# --- schema --------------------------------------------------------------------------------


def schema_path() -> Path:
    """``reports/results.schema.json`` of this repository."""
    from testkit._toolchains import find_repo_root

    return find_repo_root() / "reports" / "results.schema.json"


def validate_results(results: Mapping[str, Any], schema: Path | None = None) -> None:
    """Validate a results document against the JSON Schema; ReportError lists the first problem."""
    # Imported by name so mypy --strict passes with or without the types-jsonschema stubs.
    jsonschema: Any = importlib.import_module("jsonschema")
    path = schema or schema_path()
    try:
        schema_doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: cannot read the results schema: {exc}") from exc
    validator = jsonschema.Draft202012Validator(schema_doc)
    errors = list(validator.iter_errors(results))
    if errors:
        # best_match descends into oneOf alternatives, so the deepest real problem is named.
        first = jsonschema.exceptions.best_match(errors)
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise ReportError(
            f"results do not match {path}: at {where}: {first.message[:300]} ({len(errors)} problem(s))"
        )


# --- formatting ----------------------------------------------------------------------------


def format_ns(ns: float | None) -> str:
    """A duration for humans: ``850 ns``, ``12.3 µs``, ``1.25 ms``, ``2.10 s``; ``-`` for none."""
    if ns is None:
        return "-"
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        us = ns / 1_000
        return f"{us:.2f} µs" if us < 10 else f"{us:.1f} µs" if us < 100 else f"{us:.0f} µs"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.2f} ms"
    return f"{ns / 1_000_000_000:.2f} s"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _side(lang: str, runtime: str | None) -> str:
    name = _LANG_NAME.get(lang, lang)
    return f"{name} ({runtime.capitalize()})" if runtime else name


def _verdict(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "MISSED")


def _headline(cell: Mapping[str, Any]) -> Mapping[str, Any] | None:
    lat = cell.get("latency") or {}
    for method in lat.get("methods", []):
        if method.get("key") == HEADLINE_METHOD:
            return method  # type: ignore[no-any-return]
    return None


def _conformance_text(cell: Mapping[str, Any]) -> str:
    conf = cell.get("conformance")
    if not conf:
        return "not run"
    total = conf["passed"] + conf["failed"] + conf["errored"] + conf["skipped"]
    if conf["failed"] or conf["errored"] or conf["skipped"]:
        parts = [f"{conf['passed']}/{total} passed"]
        for key in ("failed", "errored", "skipped"):
            if conf[key]:
                parts.append(f"{conf[key]} {key}")
        return ", ".join(parts)
    return f"{conf['passed']}/{total} passed"


def _latency_budget_text(cell: Mapping[str, Any]) -> str:
    lat = cell.get("latency")
    if not lat:
        return "not run"
    if lat["status"] == "error":
        return "ERROR"
    verdicts = [(m.get("budget") or {}).get("met") for m in lat.get("methods", [])]
    if lat.get("met") is False:
        return f"MISSED ({sum(1 for v in verdicts if v)}/{len(verdicts)} met)"
    return _verdict(lat.get("met"))


def _pin_text(lat: Mapping[str, Any]) -> str:
    mode = lat.get("pin_mode") or ("only" if lat.get("pinned") else "off")
    if mode == "only":
        return f"pinned to CPU {lat.get('pinned_cpu')}"
    if mode == "both":
        return f"unpinned, and pinned to CPU {lat.get('pinned_cpu')} beside"
    return "unpinned"


def _source_text(source: Mapping[str, Any] | None) -> str | None:
    if not source or not source.get("commit"):
        return None
    text = f"commit {str(source['commit'])[:12]}"
    if source.get("branch"):
        text += f" ({source['branch']})"
    if source.get("dirty"):
        text += " + uncommitted changes"
    return text


def _run_line(results: Mapping[str, Any]) -> str:
    lat = results.get("latency")
    env = results.get("environment") or {}
    parts = [f"run {results.get('generated_at', '?')}"]
    src = _source_text(results.get("source"))
    if src:
        parts.append(src)
    if results.get("matrix"):
        parts.append(f"matrix `{results['matrix']}`")
    if lat:
        repeats = int(lat.get("repeats") or 1)
        parts.append(
            f"latency profile `{lat['profile']}` ({lat['warmup']} warm-up + "
            f"{plural(int(lat['iterations']), 'sample')} per method in "
            f"{plural(repeats, 'interleaved repeat')}, {_pin_text(lat)})"
        )
    if env.get("cpu_model"):
        parts.append(f"{env['cpu_model']}, {plural(int(env.get('cores') or 0), 'core')}")
    if env.get("load_average"):
        parts.append(f"load average {' '.join(str(x) for x in env['load_average'])}")
    return " · ".join(parts)


def verdict_line(results: Mapping[str, Any]) -> str:
    """``VERDICT: regressed (2 regressions against ...; ...)``: the run's one top-line answer."""
    verdict = results.get("verdict") or overall_verdict(results)
    reasons = "; ".join(verdict.get("reasons", []))
    return f"VERDICT: {verdict['verdict']}" + (f" ({reasons})" if reasons else "")


def render_summary(results: Mapping[str, Any]) -> str:
    """``summary.md``: matrix table, latency table, baseline comparison, failures."""
    env = results.get("environment") or {}
    lines = ["# Interop matrix results", "", f"**{verdict_line(results)}**", "", _run_line(results), ""]
    versions = ", ".join(
        f"{k} {env[k]}" for k in ("python", "node", "bun", "rustc", "rustc_wasm") if env.get(k)
    )
    lines += [f"Environment: kernel {env.get('kernel', '?')}; {versions}", ""]
    lines += [
        "## Cells",
        "",
        "| cell | host | plugin | transport | status | conformance | latency budget |",
        "|---|---|---|---|---|---|---|",
    ]
    for cell in results.get("cells", []):
        lines.append(
            f"| `{cell['id']}` | {_side(cell['host'], cell.get('host_runtime'))} "
            f"| {_side(cell['plugin'], cell.get('plugin_runtime'))} | {cell['transport']} "
            f"| {cell['status']} | {_conformance_text(cell)} | {_latency_budget_text(cell)} |"
        )
    lat_run = results.get("latency")
    if lat_run:
        lines += [
            "",
            "## Latency",
            "",
            "Host clock, one sample per call; unpinned figures, and the pinned ones (host, plugin and "
            "floor on one CPU: what a baseline comparison uses) in the last columns. Floor: `cat` "
            "pipe ping-pong of the same size (IPC), no-op call through the same transport "
            "(FFI/WASM), plus the in-process JSON cost of "
            "the same payload for the Python host (`noop+json`). Ratio = p50 / floor p50; the "
            "budget is met when the ratio is within `max_floor_ratio`. The absolute p50 budget "
            "is informational: the seed's ~10 ns FFI figure is below CPython's own ~21 ns call "
            "floor, so no Python host can meet it.",
            "",
            "| cell | method | bytes | p50 | p90 | p99 | floor | floor p50 | floor p99 | ratio "
            "| max ratio | budget | abs p50 budget | pinned p50 | pinned ratio |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for cell in results.get("cells", []):
            lat = cell.get("latency")
            if not lat:
                continue
            if lat.get("error"):
                lines.append(f"| `{cell['id']}` | ERROR: {_md_escape(lat['error'])} |" + " |" * 13)
            for m in lat.get("methods", []):
                if m.get("error"):
                    lines.append(
                        f"| `{cell['id']}` | {m['key']} | {m['payload_bytes']} | ERROR: "
                        f"{_md_escape(m['error'])} |" + " |" * 11
                    )
                    continue
                s, f, b = m["stats"], m.get("floor") or {}, m.get("budget") or {}
                pin_stats = (m.get("pinned") or {}).get("stats") or {}
                pin_budget = (m.get("pinned") or {}).get("budget") or {}
                abs_budget = format_ns(b["p50_us"] * 1000.0) if "p50_us" in b else "?"
                abs_text = f"{abs_budget}: {'met' if b.get('absolute_met') else 'missed'}"
                lines.append(
                    f"| `{cell['id']}` | {m['key']} | {m['payload_bytes']} | {format_ns(s['p50_ns'])} "
                    f"| {format_ns(s['p90_ns'])} | {format_ns(s['p99_ns'])} | {f.get('kind', '-')} "
                    f"| {format_ns(f.get('p50_ns'))} | {format_ns(f.get('p99_ns'))} "
                    f"| {_ratio(b.get('ratio'))} | {b.get('max_floor_ratio', '-')}x "
                    f"| {_verdict(b.get('met'))} | {abs_text} "
                    f"| {format_ns(pin_stats.get('p50_ns'))} | {_ratio(pin_budget.get('ratio'))} |"
                )
    lines += ["", "## Against the baseline", ""]
    lines += baseline_lines(results.get("baseline"))
    problems = _problems(results)
    if problems:
        lines += ["", "## Failures and errors", ""]
        lines += [f"- {_md_escape(p)}" for p in problems]
    return "\n".join(lines) + "\n"


def _ci(c: Mapping[str, Any]) -> str:
    if c.get("ci_low") is None or c.get("ci_high") is None:
        return "-"
    return f"{c['ci_low']:.2f}x-{c['ci_high']:.2f}x"


def baseline_lines(base: Mapping[str, Any] | None) -> list[str]:
    """The Markdown of the baseline comparison (shared by summary.md and the HTML page's text)."""
    if not base:
        return ["No baseline given."]
    where = f"`{base['path']}`"
    if base.get("matrix"):
        where += f" (matrix `{base['matrix']}`"
        if base.get("commit"):
            where += f", commit {str(base['commit'])[:12]}"
        where += ")"
    confidence = round(100 * float(base.get("confidence", 0.95)))
    lines = [
        f"Baseline {where} from {base.get('generated_at')}; {base.get('figures', 'unpinned')} figures "
        f"compared. A (cell, method) is a regression when the whole {confidence} % bootstrap interval "
        f"of p50 now / p50 then lies above {base['threshold']}x (and, with floors, the ratio to the "
        "floor grew as much); inconclusive when the interval straddles it."
    ]
    lines += [f"- note: {note}" for note in base.get("notes", [])]
    lines.append("")
    regressions, improvements = base["regressions"], base["improvements"]
    inconclusive = base.get("inconclusive", [])
    if regressions:
        lines.append(
            f"**{plural(len(regressions), 'regression').capitalize()}:** "
            + ", ".join(f"`{r}`" for r in regressions)
        )
    else:
        lines.append("No regressions.")
    if inconclusive:
        lines += [
            "",
            f"{plural(len(inconclusive), 'inconclusive comparison').capitalize()} (measure again on a "
            "quieter machine): " + ", ".join(f"`{r}`" for r in inconclusive),
        ]
    if improvements:
        lines += [
            "",
            f"{plural(len(improvements), 'improvement').capitalize()}: "
            + ", ".join(f"`{r}`" for r in improvements),
        ]
    if base["missing"]:
        lines += [
            "",
            f"Measured in the baseline, not now ({plural(len(base['missing']), 'method')}): "
            + ", ".join(f"`{r}`" for r in base["missing"]),
        ]
    not_run = base.get("cells_not_run", [])
    if not_run:
        lines += ["", f"{plural(len(not_run), 'cell')} of the baseline not in this run."]
    if base["comparisons"]:
        lines += [
            "",
            "| cell | method | baseline p50 | p50 | change | interval | floor-ratio change | verdict |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in base["comparisons"]:
            lines.append(
                f"| `{c['cell']}` | {c['method']} | {format_ns(c['baseline_p50_ns'])} "
                f"| {format_ns(c['p50_ns'])} | {_ratio(c['change'])} | {_ci(c)} "
                f"| {_ratio(c['floor_ratio_change'])} | {c['verdict']} |"
            )
    return lines


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:1000]


def _problems(results: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for check in results.get("plugin_level", []):
        if check["outcome"] != "passed":
            msg = check.get("message", "")
            out.append(f"{check['name']}: {check['outcome']}{': ' + msg if msg else ''}")
    for cell in results.get("cells", []):
        conf = cell.get("conformance") or {}
        for check in conf.get("checks", []):
            if check["outcome"] != "passed":
                msg = check.get("message", "")
                out.append(f"{cell['id']}::{check['name']}: {check['outcome']}{': ' + msg if msg else ''}")
        lat = cell.get("latency") or {}
        if lat.get("error"):
            out.append(f"{cell['id']}: latency: {lat['error']}")
        for m in lat.get("methods", []):
            if m.get("error"):
                out.append(f"{cell['id']}::{m['key']}: latency: {m['error']}")
    return out


def _table_rows(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["cell", "status", "conformance", "p50", "p99", "floor p50", "ratio", "budget"]
    rows: list[list[str]] = []
    for cell in results.get("cells", []):
        m = _headline(cell)
        s = (m or {}).get("stats") or {}
        f = (m or {}).get("floor") or {}
        b = (m or {}).get("budget") or {}
        rows.append(
            [
                cell["id"],
                cell["status"],
                _conformance_text(cell),
                format_ns(s.get("p50_ns")),
                format_ns(s.get("p99_ns")),
                format_ns(f.get("p50_ns")),
                _ratio(b.get("ratio")),
                _latency_budget_text(cell),
            ]
        )
    return header, rows


def render_terminal(results: Mapping[str, Any]) -> str:
    """Plain-text table, one line per cell (latency of invokeAction echo, 100-byte payload)."""
    header, rows = _table_rows(results)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [_run_line(results).replace("`", ""), fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*row) for row in rows]
    base = results.get("baseline")
    if base:
        out.append(
            f"baseline {base['path']}: {plural(len(base['regressions']), 'regression')}"
            + (": " + ", ".join(base["regressions"]) if base["regressions"] else "")
            + (
                f"; {plural(len(base.get('inconclusive', [])), 'inconclusive comparison')}"
                if base.get("inconclusive")
                else ""
            )
        )
    for problem in _problems(results)[:20]:
        out.append(f"! {' '.join(problem.split())[:300]}")
    out.append(verdict_line(results))
    return "\n".join(out)


def print_table(results: Mapping[str, Any], echo: Callable[[str], None] = print) -> None:
    """Print the terminal table: rich when installed and writing to a terminal, else plain text."""
    if echo is print and sys.stdout.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            header, rows = _table_rows(results)
            table = Table(title=_run_line(results).replace("`", ""))
            for name in header:
                table.add_column(name)
            for row in rows:
                table.add_row(*row)
            Console().print(table)
            for problem in _problems(results)[:20]:
                echo(f"! {' '.join(problem.split())[:300]}")
            return
    echo(render_terminal(results))


# --- README --------------------------------------------------------------------------------


def readme_block(results: Mapping[str, Any]) -> str:
    """The generated matrix-status block (markers excluded): one row per cell."""
    lat = results.get("latency") or {}
    date = str(results.get("generated_at", "?"))
    pin = "pinned to one CPU" if lat.get("pinned") else "unpinned"
    profile = f"`{lat['profile']}` profile, {pin}" if lat else "no latency measured"
    lines = [
        f"_Generated by `interop-testkit report` from the run of {date} ({profile}). "
        "p50/p99: `invokeAction echo` with a ~100-byte payload, host clock; ratio: p50 over the floor "
        "measured in the same run (`cat` pipe for IPC, no-op call for FFI/WASM, plus JSON cost on "
        "the Python host)._",
        "",
        "| host | plugin | transport | status | p50 | p99 | ratio to floor | budget | run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in results.get("cells", []):
        m = _headline(cell) or {}
        s = m.get("stats") or {}
        b = m.get("budget") or {}
        lines.append(
            f"| {_side(cell['host'], cell.get('host_runtime'))} "
            f"| {_side(cell['plugin'], cell.get('plugin_runtime'))} | {cell['transport']} "
            f"| {cell['status']} | {format_ns(s.get('p50_ns'))} | {format_ns(s.get('p99_ns'))} "
            f"| {_ratio(b.get('ratio'))} | {_latency_budget_text(cell)} | {date[:10]} |"
        )
    return "\n".join(lines)


def replace_readme_block(text: str, block: str, where: str = "README") -> str:
    """Replace what lies between the markers with ``block``; ReadmeError when markers are wrong."""
    begins = text.count(MARKER_BEGIN)
    ends = text.count(MARKER_END)
    if begins != 1 or ends != 1:
        raise ReadmeError(
            f"{where}: expected exactly one {MARKER_BEGIN!r} and one {MARKER_END!r} marker, "
            f"received {begins} and {ends}"
        )
    start = text.index(MARKER_BEGIN) + len(MARKER_BEGIN)
    end = text.index(MARKER_END)
    if end < start:
        raise ReadmeError(f"{where}: {MARKER_END!r} comes before {MARKER_BEGIN!r}")
    return text[:start] + "\n" + block.strip("\n") + "\n" + text[end:]


def update_readme(readme: Path, results: Mapping[str, Any]) -> bool:
    """Rewrite the README's matrix-status block from ``results``; returns True when it changed."""
    try:
        text = Path(readme).read_text(encoding="utf-8")
    except OSError as exc:
        raise ReadmeError(f"{readme}: cannot read the README: {exc}") from exc
    new = replace_readme_block(text, readme_block(results), str(readme))
    if new == text:
        return False
    Path(readme).write_text(new, encoding="utf-8")
    return True


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
        render_html(results, run_line=_run_line(results)),
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
