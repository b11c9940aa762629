"""pytest plugin ``interop``: runs the conformance suite over the cells of a matrix.

Options: ``--matrix PATH`` (default ``matrices/default.toml``), ``--cells PATTERN`` (comma-separated
globs or substrings of cell ids), ``--fuzz-profile quick|ci|long`` and ``--interop-report PATH``.
Tests that request the ``interop_cell`` fixture are parametrised over the selected cells with
stable ids (``py-host/ts-plugin/ipc``). The plugin is inert for test suites that do not use its
fixtures, so installing the testkit does not change other projects' runs.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from testkit._jsonprofile import json_diff
from testkit._matrix import Cell, Matrix, MatrixError, load_matrix
from testkit._session import InteropSession, child_processes, reap_children
from testkit._toolchains import ToolchainError, Toolchains, find_repo_root

__all__ = ["FUZZ_PROFILES", "fuzz_settings"]

#: Hypothesis settings per ``--fuzz-profile``; ``ci`` keeps the suite within minutes on 2 cores.
FUZZ_PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"max_examples": 10, "derandomize": True},
    "ci": {"max_examples": 40, "derandomize": True},
    "long": {"max_examples": 1000, "derandomize": False},
}
for _name, _values in FUZZ_PROFILES.items():
    settings.register_profile(
        f"interop-{_name}",
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
        **_values,
    )

_ACTIVE_FUZZ = "ci"
_MATRIX_KEY = pytest.StashKey[Matrix]()
_CELLS_KEY = pytest.StashKey[tuple[Cell, ...]]()
_REPORT_KEY = pytest.StashKey["_Report"]()


def fuzz_settings() -> settings:
    """Hypothesis settings of the active ``--fuzz-profile`` (deadline off, no example database)."""
    return settings.get_profile(f"interop-{_ACTIVE_FUZZ}")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("interop", "cross-language interop conformance")
    group.addoption("--matrix", default=None, help="matrix TOML file (default: matrices/default.toml)")
    group.addoption(
        "--cells", default=None, help="only cells whose id matches (comma-separated globs/substrings)"
    )
    group.addoption(
        "--fuzz-profile", default="ci", choices=sorted(FUZZ_PROFILES), help="hypothesis effort (default: ci)"
    )
    group.addoption("--interop-report", default=None, help="write per-cell per-check outcomes JSON here")
    group.addoption(
        "--interop-progress", action="store_true", help="print one line per cell when its checks are done"
    )


def pytest_configure(config: pytest.Config) -> None:
    global _ACTIVE_FUZZ
    _ACTIVE_FUZZ = str(config.getoption("fuzz_profile"))
    config.addinivalue_line("markers", "interop_check(name): the check name reported for this test")
    config.addinivalue_line("markers", "xdist_group(name): keep one cell's tests on one xdist worker")
    config.addinivalue_line("markers", "interop_cells(predicate): restrict the cells of a test")
    config.addinivalue_line(
        "markers",
        "interop_suite(*names): the check sets of a test: fixtures (default), seed, elizaos; "
        "it runs on the cells whose plugin belongs to one of them",
    )
    # One cell's tests share a driver and loaded plugins: keep them on one worker.
    if getattr(config.option, "dist", "no") == "load" and not hasattr(config, "workerinput"):
        config.option.dist = "loadgroup"
    if config.getoption("matrix") or config.getoption("cells"):
        _matrix(config)  # eager: a bad matrix or an empty selection is a usage error up front
    if not hasattr(config, "workerinput") and config.getoption("interop_progress"):
        config.stash[_PROGRESS_KEY] = _Progress(config)
    if not hasattr(config, "workerinput"):
        path = config.getoption("interop_report")
        if path:
            config.stash[_REPORT_KEY] = _Report(Path(path))


def _matrix(config: pytest.Config) -> tuple[Matrix, tuple[Cell, ...]]:
    if _MATRIX_KEY not in config.stash:
        option = config.getoption("matrix")
        if option:
            path = Path(option)
        else:
            try:
                path = find_repo_root(Path(str(config.rootpath))) / "matrices" / "default.toml"
            except ToolchainError as exc:
                raise pytest.UsageError(f"--matrix not given and no default: {exc}") from exc
        try:
            matrix = load_matrix(path)
        except MatrixError as exc:
            raise pytest.UsageError(str(exc)) from exc
        pattern = config.getoption("cells")
        cells = matrix.select(pattern)
        if not cells:
            known = ", ".join(c.id for c in matrix.cells)
            raise pytest.UsageError(f"--cells {pattern!r} matches no cell of {path} (cells: {known})")
        config.stash[_MATRIX_KEY] = matrix
        config.stash[_CELLS_KEY] = cells
    return config.stash[_MATRIX_KEY], config.stash[_CELLS_KEY]


def ipc_plugins(cells: tuple[Cell, ...]) -> list[tuple[str, str | None]]:
    """Distinct (plugin language, runtime) served over IPC by the given cells, in order."""
    seen: list[tuple[str, str | None]] = []
    for cell in cells:
        key = (cell.plugin, cell.plugin_runtime)
        if cell.suite == "fixtures" and cell.transport == "ipc" and key not in seen:
            seen.append(key)
    return seen


def ipc_plugin_id(key: tuple[str, str | None]) -> str:
    """``py-plugin``, ``ts@bun-plugin``: the plugin half of a cell id."""
    short = {"python": "py", "typescript": "ts", "rust": "rust"}[key[0]]
    return f"{short}@{key[1]}-plugin" if key[1] not in (None, "node") else f"{short}-plugin"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "interop_ipc_plugin" in metafunc.fixturenames:
        keys = ipc_plugins(_matrix(metafunc.config)[1])
        metafunc.parametrize(
            "interop_ipc_plugin", keys, ids=[ipc_plugin_id(k) for k in keys], scope="session"
        )
    if "interop_cell" not in metafunc.fixturenames:
        return
    _, cells = _matrix(metafunc.config)
    suite_marker = metafunc.definition.get_closest_marker("interop_suite")
    suites = {str(a) for a in suite_marker.args} if suite_marker is not None else {"fixtures"}
    cells = tuple(c for c in cells if c.suite in suites)
    marker = metafunc.definition.get_closest_marker("interop_cells")
    if marker is not None:  # a test restricted to some transports/hosts
        predicate = marker.args[0]
        cells = tuple(c for c in cells if predicate(c))
    metafunc.parametrize("interop_cell", cells, ids=[c.id for c in cells], scope="session")


def _check_name(item: pytest.Item) -> str:
    """``interop_check`` marker name (else the test name), plus any non-cell parameter ids."""
    marker = item.get_closest_marker("interop_check")
    base = str(marker.args[0]) if marker else item.name.split("[")[0].removeprefix("test_").replace("_", "-")
    callspec = getattr(item, "callspec", None)
    if callspec is not None and any(k != "interop_cell" for k in callspec.params):
        ids = callspec.id
        cell = callspec.params.get("interop_cell")
        if isinstance(cell, Cell):
            ids = ids.replace(cell.id, "", 1).strip("-")
        if ids:
            base += f"[{ids}]"
    return base


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Plugin-level IPC checks when no selected cell serves a plugin over IPC: nothing to run, so
    # they are deselected (pytest would otherwise report them as skipped).
    # Likewise checks of a suite that no selected cell belongs to (a matrix without seed cells).
    idle = [
        item
        for item in items
        if (
            "interop_ipc_plugin" in getattr(item, "fixturenames", ())
            and not isinstance(
                getattr(getattr(item, "callspec", None), "params", {}).get("interop_ipc_plugin"), tuple
            )
        )
        or (
            "interop_cell" in getattr(item, "fixturenames", ())
            and not isinstance(
                getattr(getattr(item, "callspec", None), "params", {}).get("interop_cell"), Cell
            )
        )
    ]
    if idle:
        config.hook.pytest_deselected(items=idle)
        items[:] = [item for item in items if item not in idle]
    for item in items:
        callspec = getattr(item, "callspec", None)
        cell = callspec.params.get("interop_cell") if callspec is not None else None
        if isinstance(cell, Cell):
            item.add_marker(pytest.mark.xdist_group(cell.id))
            item.user_properties.append(("interop_cell", cell.id))
            item.user_properties.append(("interop_check", _check_name(item)))
        elif item.get_closest_marker("interop_check") is not None or (
            callspec is not None and "interop_ipc_plugin" in callspec.params
        ):
            item.user_properties.append(("interop_check", _check_name(item)))


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def interop_toolchains(pytestconfig: pytest.Config) -> Toolchains:
    """Toolchains discovered from the repository the tests run in."""
    try:
        return Toolchains.discover(find_repo_root(Path(str(pytestconfig.rootpath))))
    except ToolchainError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def interop_matrix(pytestconfig: pytest.Config) -> Matrix:
    """The matrix of this run."""
    return _matrix(pytestconfig)[0]


@pytest.fixture(scope="session")
def interop_child_guard() -> Iterator[None]:
    """Fails the session loudly if any child process of this pytest process is left at the end
    (after every driver and plugin was closed); leftovers are killed and reaped first."""
    before = {pid for pid, _s, _c in child_processes()}
    yield
    leftovers = [c for c in child_processes() if c[0] not in before]
    if leftovers:
        reap_children(leftovers)
        lines = "\n".join(f"  pid {pid} [{state}] {cmd[:200]}" for pid, state, cmd in leftovers)
        pytest.fail(
            f"{len(leftovers)} child process(es) outlived the session (killed now):\n{lines}", pytrace=False
        )


@pytest.fixture(scope="session")
def interop_session(interop_toolchains: Toolchains, interop_child_guard: None) -> Iterator[InteropSession]:
    """Per-worker drivers and loaded plugins, closed at session end (before the child check)."""
    session = InteropSession(interop_toolchains)
    yield session
    problems = session.close()
    if problems:
        pytest.fail("closing the session failed:\n" + "\n".join(problems), pytrace=False)


# -- report ---------------------------------------------------------------------------------------


class _Report:
    """Per-cell per-check outcomes gathered on the controller (it sees every worker's reports)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.checks: dict[str, dict[str, dict[str, Any]]] = {}
        self.plugin_level: dict[str, dict[str, Any]] = {}

    def add(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        check = props.get("interop_check")
        if check is None:
            return
        cell = props.get("interop_cell")
        bucket = self.checks.setdefault(str(cell), {}) if cell else self.plugin_level
        entry = bucket.get(str(check))
        outcome = _outcome(report)
        if outcome is None:
            return
        if entry is None or _RANK[outcome] > _RANK[entry["outcome"]]:
            new: dict[str, Any] = {"name": str(check), "outcome": outcome, "nodeid": report.nodeid}
            if entry is not None:
                new["duration_s"] = entry.get("duration_s", 0.0)
            if outcome in ("failed", "error", "skipped"):
                new["message"] = _message(report)
            bucket[str(check)] = new
            entry = new
        entry["duration_s"] = round(float(entry.get("duration_s", 0.0)) + report.duration, 6)


_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def _outcome(report: pytest.TestReport) -> str | None:
    """call phase: its outcome; setup/teardown: only failures (error) and skips count."""
    if report.when == "call":
        return "passed" if report.passed else ("skipped" if report.skipped else "failed")
    if report.failed:
        return "error"
    if report.skipped:
        return "skipped"
    return None


def _message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)[:4000]
    text = report.longreprtext or ""
    return text[-4000:]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    config = _CONFIG
    if config is None or hasattr(config, "workerinput"):
        return
    if _REPORT_KEY in config.stash:
        config.stash[_REPORT_KEY].add(report)
    _consistency_input(config, report)
    if _PROGRESS_KEY in config.stash:
        config.stash[_PROGRESS_KEY].add(report)


_CELL_IN_NODEID = re.compile(r"\[((?:py|ts|rust)(?:@\w+)?-host/[a-z0-9-]+?(?:@\w+)?-plugin/(?:wasm|ffi|ipc))")


class _Progress:
    """Counts each cell's finished tests on the controller and prints a line when a cell is done."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.expected: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.failed: dict[str, int] = {}

    def expect(self, nodeids: list[str]) -> None:
        if self.expected:
            return
        for nodeid in nodeids:
            match = _CELL_IN_NODEID.search(nodeid)
            if match:
                self.expected[match[1]] = self.expected.get(match[1], 0) + 1

    def add(self, report: pytest.TestReport) -> None:
        match = _CELL_IN_NODEID.search(report.nodeid)
        if match is None:
            return
        cell = match[1]
        if report.failed:
            self.failed[cell] = self.failed.get(cell, 0) + 1
        if report.when != "teardown":
            return
        self.done[cell] = self.done.get(cell, 0) + 1
        if self.done[cell] == self.expected.get(cell):
            failed = self.failed.get(cell, 0)
            verdict = f"FAILED ({failed} failing)" if failed else "passed"
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            line = f"[cell] {cell}: {self.done[cell]} checks {verdict}"
            if reporter is not None:
                reporter.write("\n")  # the progress dots do not end their line
                reporter.write_line(line)


def pytest_collection_finish(session: pytest.Session) -> None:
    if _PROGRESS_KEY in session.config.stash:
        session.config.stash[_PROGRESS_KEY].expect([item.nodeid for item in session.items])


def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    config = _CONFIG
    if config is not None and _PROGRESS_KEY in config.stash:
        config.stash[_PROGRESS_KEY].expect(ids)


_PROGRESS_KEY = pytest.StashKey[_Progress]()


_CONFIG: pytest.Config | None = None
_CONSISTENCY_KEY = pytest.StashKey[dict[str, dict[str, Any]]]()


def _consistency_input(config: pytest.Config, report: pytest.TestReport) -> None:
    props = dict(report.user_properties)
    if report.when == "call" and "interop_outputs" in props and "interop_cell" in props:
        store = config.stash.setdefault(_CONSISTENCY_KEY, {})
        value: Any = props["interop_outputs"]
        store[str(props["interop_cell"])] = value


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _CONFIG
    _CONFIG = session.config
    if not hasattr(session.config, "workerinput"):
        session.config.stash.setdefault(_CONSISTENCY_KEY, {})


def _consistency(outputs: dict[str, dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    """(cell, group, diff or None) for every cell whose plugin was seen in another cell too.

    Outputs are grouped by plugin language (the same plugin source, whatever host, transport or
    runtime); each cell is compared with the first cell of its group under section 2 equality.
    """
    groups: dict[str, list[str]] = {}
    for cell_id, out in outputs.items():
        groups.setdefault(str(out.get("plugin")), []).append(cell_id)
    verdicts: list[tuple[str, str, str | None]] = []
    for group, cells in groups.items():
        if len(cells) < 2:
            continue
        cells.sort()
        ref = cells[0]
        for cell_id in cells:
            diff = json_diff(outputs[ref]["results"], outputs[cell_id]["results"])
            verdicts.append((cell_id, group, None if diff is None else f"differs from {ref}: {diff}"))
    return verdicts


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):
        return
    outputs = config.stash.get(_CONSISTENCY_KEY, {})
    verdicts = _consistency(outputs)
    failures = [v for v in verdicts if v[2] is not None]
    config.stash[_VERDICTS_KEY] = verdicts
    if failures and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if _REPORT_KEY in config.stash:
        report = config.stash[_REPORT_KEY]
        for cell_id, _group, diff in verdicts:
            entry: dict[str, Any] = {
                "name": "cross-host-consistency",
                "outcome": "failed" if diff else "passed",
            }
            if diff:
                entry["message"] = diff
            report.checks.setdefault(cell_id, {})["cross-host-consistency"] = entry
        _write_report(config, report)


_VERDICTS_KEY = pytest.StashKey[list[tuple[str, str, str | None]]]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    verdicts = config.stash.get(_VERDICTS_KEY, [])
    if not verdicts:
        return
    failures = [v for v in verdicts if v[2] is not None]
    terminalreporter.section("cross-host consistency")
    if failures:
        for cell_id, group, diff in failures:
            terminalreporter.line(f"FAILED {cell_id} ({group} plugin): {diff}", red=True)
    else:
        n = len({g for _c, g, _d in verdicts})
        terminalreporter.line(f"{len(verdicts)} cells agree ({n} plugin group(s))", green=True)


def _write_report(config: pytest.Config, report: _Report) -> None:
    matrix, cells = _matrix(config)
    by_id = {c.id: c for c in cells}
    out_cells: list[dict[str, Any]] = []
    for cell_id in [c.id for c in cells] + sorted(set(report.checks) - set(by_id)):
        checks = report.checks.get(cell_id)
        if checks is None:
            continue
        cell = by_id.get(cell_id)
        out_cells.append(
            {
                "id": cell_id,
                "host": cell.host if cell else None,
                "host_runtime": cell.host_runtime if cell else None,
                "plugin": cell.plugin if cell else None,
                "plugin_runtime": cell.plugin_runtime if cell else None,
                "transport": cell.transport if cell else None,
                "checks": sorted(checks.values(), key=lambda c: c["name"]),
            }
        )
    document = {
        "matrix": matrix.name,
        "matrix_path": str(matrix.path),
        "generated_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "fuzz_profile": _ACTIVE_FUZZ,
        "cells": out_cells,
        "plugin_level": sorted(report.plugin_level.values(), key=lambda c: c["name"]),
    }
    report.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = report.path.with_name(report.path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(report.path)
