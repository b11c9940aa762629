"""The results document of a run: its inputs (the conformance JSON, the environment, the latency
results), how they become ``results.json`` (validated against ``reports/results.schema.json``), and
the run's top-line verdict. Comparison with a baseline is :mod:`testkit._report_compare`, the views
(summary, terminal table, README block) :mod:`testkit._report_render`.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from testkit._latency import LatencyResults
from testkit._stats import DEFAULT_THRESHOLD as _DEFAULT_CHANGE_THRESHOLD
from testkit._stats import plural

__all__ = [
    "DEFAULT_THRESHOLD",
    "HEADLINE_METHOD",
    "MARKER_BEGIN",
    "MARKER_END",
    "NOISY_LOAD_PER_CORE",
    "SCHEMA_VERSION",
    "CellConformance",
    "ConformanceCheck",
    "ConformanceReport",
    "ReadmeError",
    "ReportError",
    "build_results",
    "collect_environment",
    "collect_source",
    "load_conformance",
    "load_results",
    "overall_verdict",
    "parse_cell_id",
    "schema_path",
    "validate_results",
]

SCHEMA_VERSION = 1
DEFAULT_THRESHOLD = _DEFAULT_CHANGE_THRESHOLD
#: The method quoted in one-line views (README, terminal): invokeAction echo, ~100-byte payload.
HEADLINE_METHOD = "invokeAction:echo:100B"
MARKER_BEGIN = "<!-- matrix-status:begin -->"
MARKER_END = "<!-- matrix-status:end -->"

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


def _read_json(path: Path, what: str) -> Any:
    """The JSON value in ``path``; ReportError naming the file and ``what`` it should be."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the {what}: {exc}") from exc
    except ValueError as exc:
        raise ReportError(f"{path}: the {what} is not JSON: {exc}") from exc


def load_conformance(path: Path) -> ConformanceReport:
    """Read and check a conformance JSON file (see :class:`ConformanceReport`)."""
    data = _read_json(path, "conformance report")
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


def load_results(path: Path, what: str = "results") -> dict[str, Any]:
    """Read a results.json (or baseline) file; ReportError names the file on any problem."""
    data = _read_json(path, f"{what} file")
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
