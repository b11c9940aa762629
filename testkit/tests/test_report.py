"""Unit tests of results.json, its schema, baseline regressions, summary and the README block."""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from testkit import _cli_bench
from testkit._latency import (
    CellLatency,
    Floor,
    LatencyResults,
    MethodLatency,
    Profile,
    Stats,
    bench_methods,
    judge,
)
from testkit._matrix import Budget, load_matrix
from testkit._report import (
    MARKER_BEGIN,
    MARKER_END,
    ConformanceReport,
    ReadmeError,
    ReportError,
    build_results,
    compare_to_baseline,
    format_ns,
    load_conformance,
    parse_cell_id,
    readme_block,
    render_summary,
    render_terminal,
    replace_readme_block,
    update_readme,
    validate_results,
    write_reports,
)
from testkit._toolchains import find_repo_root

ROOT = find_repo_root(Path(__file__).parent)
SCHEMA = ROOT / "reports" / "results.schema.json"
BUDGETS = {
    "ipc": Budget("ipc", 1000.0, "pipe", 1.3),
    "ffi": Budget("ffi", 0.01, "noop", 3.0),
}
ENV: dict[str, Any] = {
    "cpu_model": "Test CPU",
    "cores": 2,
    "cores_available": 2,
    "kernel": "6.1.0",
    "os": "Linux",
    "python": "CPython 3.11.7",
    "node": "v22.0.0",
    "bun": "1.1.0",
    "rustc": "rustc 1.95.0",
    "rustc_wasm": None,
    "pinned": False,
    "pinned_cpu": None,
    "profile": "quick",
}


def _stats(p50: float, p99: float) -> Stats:
    return Stats(
        n=100, p50_ns=p50, p90_ns=(p50 + p99) / 2, p99_ns=p99, mean_ns=p50, min_ns=p50 / 2, max_ns=p99 * 2
    )


def _method(key: str, p50: float, p99: float, floor_p50: float, budget: Budget) -> MethodLatency:
    spec = next(m for m in bench_methods() if m.key == key)
    stats = _stats(p50, p99)
    kind = "pipe" if budget.floor == "pipe" else "noop+json"
    floor = Floor(
        kind,
        floor_p50,
        floor_p50 * 1.5,
        {"pipe" if kind == "pipe" else "noop": _stats(floor_p50, floor_p50 * 1.5)},
    )
    return MethodLatency(
        key, spec.method, spec.name, spec.payload_bytes, stats, floor, judge(stats, floor, budget)
    )


def _latency(
    ipc_p50: float = 60_000.0, ipc_floor: float = 50_000.0, *, pinned: bool = False
) -> LatencyResults:
    keys = [m.key for m in bench_methods()]
    ipc = CellLatency(
        "py-host/ts-plugin/ipc",
        "python",
        None,
        "typescript",
        "node",
        "ipc",
        "cpython 3.11.7",
        tuple(_method(k, ipc_p50, ipc_p50 * 1.4, ipc_floor, BUDGETS["ipc"]) for k in keys),
    )
    ffi = CellLatency(
        "py-host/rust-plugin/ffi",
        "python",
        None,
        "rust",
        None,
        "ffi",
        "cpython 3.11.7",
        tuple(_method(k, 1_500.0, 3_000.0, 400.0, BUDGETS["ffi"]) for k in keys),
    )
    broken = CellLatency(
        "ts@bun-host/rust-plugin/wasm",
        "typescript",
        "bun",
        "rust",
        None,
        "wasm",
        None,
        (),
        "ts@bun-host/rust-plugin/wasm: cannot start: ToolchainError: Bun is missing",
    )
    return LatencyResults(
        matrix_name="test",
        matrix_path="matrices/test.toml",
        profile=Profile("quick", 300, 2000),
        pinned=pinned,
        pinned_cpu=1 if pinned else None,
        pin_mode="only" if pinned else "off",
        started_at="2026-11-25T12:00:00Z",
        finished_at="2026-11-25T12:01:00Z",
        budgets=BUDGETS,
        cells=(ipc, ffi, broken),
    )


def _conformance() -> ConformanceReport:
    return {
        "matrix": "test",
        "generated_at": "2026-11-25T12:00:00Z",
        "cells": [
            {
                "id": "py-host/ts-plugin/ipc",
                "host": "python",
                "host_runtime": None,
                "plugin": "typescript",
                "plugin_runtime": "node",
                "transport": "ipc",
                "checks": [
                    {
                        "name": "manifest-valid",
                        "outcome": "passed",
                        "duration_s": 0.01,
                        "nodeid": "suite/test_manifest.py::test_manifest[py-host/ts-plugin/ipc]",
                    },
                    {"name": "invokeAction-unknown-name", "outcome": "passed"},
                ],
            },
            {
                "id": "py-host/rust-plugin/ffi",
                "host": "python",
                "host_runtime": None,
                "plugin": "rust",
                "plugin_runtime": None,
                "transport": "ffi",
                "checks": [
                    {"name": "manifest-valid", "outcome": "passed"},
                    {
                        "name": "fail-keeps-serving",
                        "outcome": "failed",
                        "message": "expected -32000 | got -32603",
                    },
                ],
            },
            {
                # A cell outside the matrix: the pytest plugin writes null metadata.
                "id": "rust-host/py-plugin/ipc",
                "host": None,  # type: ignore[typeddict-item]
                "host_runtime": None,
                "plugin": None,  # type: ignore[typeddict-item]
                "plugin_runtime": None,
                "transport": None,  # type: ignore[typeddict-item]
                "checks": [{"name": "manifest-valid", "outcome": "error", "message": "driver missing"}],
            },
        ],
        "plugin_level": [
            {
                "name": "manifests-agree",
                "outcome": "failed",
                "message": "rust manifest lacks evaluator 'echo'",
            }
        ],
    }


def _results(**kwargs: Any) -> dict[str, Any]:
    return build_results(
        conformance=_conformance(),
        latency=_latency(**kwargs),
        environment=ENV,
        generated_at="2026-11-25T12:02:00Z",
    )


# --- results.json --------------------------------------------------------------------------


def test_results_validate_against_the_schema() -> None:
    results = _results()
    validate_results(results, SCHEMA)
    statuses = {c["id"]: c["status"] for c in results["cells"]}
    assert statuses == {
        "py-host/ts-plugin/ipc": "passed",
        "py-host/rust-plugin/ffi": "failed",
        "ts@bun-host/rust-plugin/wasm": "error",
        "rust-host/py-plugin/ipc": "error",
    }
    ffi = next(c for c in results["cells"] if c["id"] == "py-host/rust-plugin/ffi")
    assert ffi["conformance"]["passed"] == 1
    assert ffi["conformance"]["failed"] == 1
    assert [c["name"] for c in ffi["conformance"]["checks"]] == ["manifest-valid", "fail-keeps-serving"]
    assert ffi["latency"]["methods"][0]["budget"]["ratio"] == pytest.approx(1500 / 400)
    assert ffi["latency"]["met"] is False


def test_schema_rejects_a_malformed_document() -> None:
    results = _results()
    bad = copy.deepcopy(results)
    bad["cells"][0]["latency"]["methods"][0]["stats"]["p50_ns"] = -1
    with pytest.raises(ReportError, match=r"at cells/0/latency/methods/0"):
        validate_results(bad, SCHEMA)
    typo = copy.deepcopy(results)
    typo["cells"][0]["stauts"] = "passed"
    with pytest.raises(ReportError, match="stauts"):
        validate_results(typo, SCHEMA)


def test_latency_only_cells_are_measured() -> None:
    results = build_results(conformance=None, latency=_latency(), environment=ENV)
    assert [c["status"] for c in results["cells"]] == ["measured", "measured", "error"]
    validate_results(results, SCHEMA)


def test_conformance_file_from_the_pytest_plugin_is_merged(tmp_path: Path) -> None:
    conf = tmp_path / "conformance.json"
    conf.write_text(json.dumps(_conformance()), encoding="utf-8")
    loaded = load_conformance(conf)
    outside = loaded["cells"][2]
    assert (outside["host"], outside["plugin"], outside["transport"]) == ("rust", "python", "ipc")
    results = build_results(conformance=loaded, latency=None, environment=ENV)
    validate_results(results, SCHEMA)
    assert results["plugin_level"][0]["name"] == "manifests-agree"
    first = results["cells"][0]["conformance"]["checks"][0]
    assert first["nodeid"].endswith("[py-host/ts-plugin/ipc]")
    assert "manifests-agree: failed: rust manifest lacks evaluator 'echo'" in render_summary(results)


def test_write_reports_writes_valid_files(tmp_path: Path) -> None:
    conf = tmp_path / "conformance.json"
    conf.write_text(json.dumps(_conformance()), encoding="utf-8")
    lines: list[str] = []
    paths = write_reports(
        tmp_path / "out",
        conformance_json=conf,
        latency=_latency(),
        baseline=None,
        echo=lines.append,
        environment=ENV,
    )
    results = json.loads(paths.results_json.read_text(encoding="utf-8"))
    validate_results(results, SCHEMA)
    summary = paths.summary_md.read_text(encoding="utf-8")
    assert "## Latency" in summary
    assert "below CPython's own ~21 ns call floor" in summary
    assert "py-host/rust-plugin/fail-keeps-serving" not in summary
    assert "py-host/rust-plugin/ffi::fail-keeps-serving: failed: expected -32000 \\| got -32603" in summary
    assert "Bun is missing" in summary
    assert lines
    assert "py-host/ts-plugin/ipc" in lines[0]
    assert paths.regressions == ()


def test_environment_is_probed_when_not_given(tmp_path: Path) -> None:
    paths = write_reports(tmp_path, conformance_json=None, latency=_latency(), baseline=None, echo=None)
    env = json.loads(paths.results_json.read_text(encoding="utf-8"))["environment"]
    assert env["cores"] >= 1
    assert env["python"].startswith("CPython 3.")
    assert env["pinned"] is False
    assert env["profile"] == "quick"
    assert len(env["load_average"]) == 3


def test_conformance_input_errors_name_file_and_place(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps({"cells": [{"id": "py-host/py-plugin/ipc", "checks": [{"name": "x", "outcome": "ok"}]}]})
    )
    with pytest.raises(ReportError, match=r"c.json: cells\[0\].checks\[0\].outcome: expected one of"):
        load_conformance(path)
    path.write_text(json.dumps({"cells": [{"id": "python/ipc", "checks": []}]}))
    with pytest.raises(ReportError, match="cell id 'python/ipc' is not of the form"):
        load_conformance(path)
    path.write_text("{")
    with pytest.raises(ReportError, match="not JSON"):
        load_conformance(path)
    with pytest.raises(ReportError, match="cannot read"):
        load_conformance(tmp_path / "missing.json")


def test_conformance_metadata_comes_from_the_cell_id(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"cells": [{"id": "ts@bun-host/ts@bun-plugin/ipc", "checks": []}]}))
    cell = load_conformance(path)["cells"][0]
    assert (cell["host"], cell["host_runtime"], cell["plugin"], cell["plugin_runtime"]) == (
        "typescript",
        "bun",
        "typescript",
        "bun",
    )


def test_parse_cell_id_inverts_cell_id() -> None:
    for name in ("default.toml", "full.toml"):
        for cell in load_matrix(ROOT / "matrices" / name).cells:
            meta = parse_cell_id(cell.id)
            if cell.third_party is not None:  # named by its plugin; the matrix holds the rest
                assert (meta["host"], meta["plugin"], meta["transport"]) == (
                    cell.host,
                    cell.plugin,
                    cell.transport,
                )
                continue
            assert meta == {
                "host": cell.host,
                "host_runtime": cell.host_runtime,
                "plugin": cell.plugin,
                "plugin_runtime": cell.plugin_runtime,
                "transport": cell.transport,
            }


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (None, "-"),
        (0, "0 ns"),
        (850.4, "850 ns"),
        (1_234, "1.23 µs"),
        (12_345, "12.3 µs"),
        (123_456, "123 µs"),
        (1_250_000, "1.25 ms"),
        (2_100_000_000, "2.10 s"),
    ],
)
def test_format_ns(ns: float | None, text: str) -> None:
    assert format_ns(ns) == text


# --- baseline ------------------------------------------------------------------------------


def _verdicts(comparison: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(c["cell"], c["method"]): c["verdict"] for c in comparison["comparisons"]}


def test_same_figures_are_not_a_regression() -> None:
    comparison = compare_to_baseline(_results(), _results())
    assert comparison["comparable"] is True
    assert comparison["regressions"] == []
    assert comparison["improvements"] == []
    assert set(_verdicts(comparison).values()) == {"same"}
    assert all(c["change"] == pytest.approx(1.0) for c in comparison["comparisons"])


def test_slower_cell_with_same_floor_is_a_regression() -> None:
    base = _results(ipc_p50=60_000.0)
    now = _results(ipc_p50=120_000.0)  # 2x, beyond the baseline p90 (72 us), floor unchanged
    comparison = compare_to_baseline(now, base)
    assert "py-host/ts-plugin/ipc::invokeAction:echo:100B" in comparison["regressions"]
    assert len(comparison["regressions"]) == len(bench_methods())
    assert not any(r.startswith("py-host/rust-plugin/ffi") for r in comparison["regressions"])
    c = next(c for c in comparison["comparisons"] if c["cell"] == "py-host/ts-plugin/ipc")
    assert c["change"] == pytest.approx(2.0)
    assert c["floor_ratio_change"] == pytest.approx(2.0)


def test_slower_machine_floor_included_is_not_a_regression() -> None:
    base = _results(ipc_p50=60_000.0, ipc_floor=50_000.0)
    now = _results(ipc_p50=120_000.0, ipc_floor=100_000.0)
    comparison = compare_to_baseline(now, base)
    assert comparison["regressions"] == []


def test_change_within_the_baseline_spread_is_noise() -> None:
    base = _results(ipc_p50=60_000.0)
    for method in next(c for c in base["cells"] if c["id"] == "py-host/ts-plugin/ipc")["latency"]["methods"]:
        # A very noisy baseline: its repeats' medians lie from 30 to 120 us.
        method["repeats"] = [
            {
                "n": 100,
                "p50_ns": m,
                "floor_p50_ns": 50_000.0,
                "quantiles_ns": [m * (0.9 + i / 500) for i in range(101)],
            }
            for m in (30_000.0, 60_000.0, 120_000.0)
        ]
    now = _results(ipc_p50=120_000.0)
    comparison = compare_to_baseline(now, base)
    assert comparison["regressions"] == []
    assert len(comparison["inconclusive"]) == len(bench_methods())


def test_faster_cell_is_an_improvement() -> None:
    comparison = compare_to_baseline(_results(ipc_p50=20_000.0), _results(ipc_p50=60_000.0))
    assert len(comparison["improvements"]) == len(bench_methods())
    assert comparison["regressions"] == []


def test_pinning_mismatch_flags_nothing() -> None:
    comparison = compare_to_baseline(_results(ipc_p50=600_000.0), _results(pinned=True))
    assert comparison["comparable"] is False
    assert comparison["regressions"] == []
    assert "pinning differs" in comparison["notes"][0]
    assert comparison["comparisons"] == []


def test_methods_missing_now_are_listed_and_cells_not_run_counted() -> None:
    base = _results()
    now = _results()
    ffi = next(c for c in now["cells"] if c["id"] == "py-host/rust-plugin/ffi")
    ffi["latency"]["methods"] = ffi["latency"]["methods"][:1]
    comparison = compare_to_baseline(now, base)
    assert comparison["missing"] == sorted(f"py-host/rust-plugin/ffi::{m.key}" for m in bench_methods()[1:])
    assert comparison["cells_not_run"] == []
    # A cell the run did not include is one line, not one per method.
    now["cells"] = [c for c in now["cells"] if c["id"] != "py-host/rust-plugin/ffi"]
    comparison = compare_to_baseline(now, base)
    assert comparison["missing"] == []
    assert comparison["cells_not_run"] == ["py-host/rust-plugin/ffi"]
    assert "1 cell of the baseline not in this run." in render_summary(dict(now, baseline=comparison))


def test_threshold_must_exceed_one() -> None:
    with pytest.raises(ReportError, match=r"threshold must be > 1\.0"):
        compare_to_baseline(_results(), _results(), threshold=1.0)


def test_write_reports_with_a_baseline_flags_regressions(tmp_path: Path) -> None:
    base_dir = tmp_path / "base"
    base = write_reports(
        base_dir, conformance_json=None, latency=_latency(60_000.0), baseline=None, echo=None, environment=ENV
    )
    lines: list[str] = []
    now = write_reports(
        tmp_path / "now",
        conformance_json=None,
        latency=_latency(200_000.0),
        baseline=base.results_json,
        echo=lines.append,
        environment=ENV,
    )
    assert len(now.regressions) == len(bench_methods())
    results = json.loads(now.results_json.read_text(encoding="utf-8"))
    validate_results(results, SCHEMA)
    assert results["baseline"]["regressions"] == list(now.regressions)
    count = len(bench_methods())
    assert f"**{count} regressions:**" in now.summary_md.read_text(encoding="utf-8")
    assert f"{count} regressions" in lines[0]
    # A broken cell outranks the regressions in the one top-line verdict.
    assert lines[0].splitlines()[-1].startswith("VERDICT: failed (1 cell failed or errored")


def test_bad_baseline_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "baseline.json"
    bad.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(
        ReportError, match=r"baseline\.json: expected a results document with schema_version 1, received 99"
    ):
        write_reports(
            tmp_path / "o",
            conformance_json=None,
            latency=_latency(),
            baseline=bad,
            echo=None,
            environment=ENV,
        )


# --- README --------------------------------------------------------------------------------

README = f"# Title\n\nIntro.\n\n{MARKER_BEGIN}\n_No run recorded yet._\n{MARKER_END}\n\nAfter.\n"


def test_readme_block_is_replaced_and_idempotent(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    results = _results()
    assert update_readme(readme, results) is True
    first = readme.read_text(encoding="utf-8")
    assert first.startswith("# Title\n\nIntro.\n\n" + MARKER_BEGIN + "\n")
    assert first.endswith(MARKER_END + "\n\nAfter.\n")
    assert "_No run recorded yet._" not in first
    assert (
        "| Python | TypeScript (Node) | ipc | passed | 60.0 µs | 84.0 µs | 1.20x | - | - | met | 2026-11-25 |"
        in first
    )
    assert "| TypeScript (Bun) | Rust | wasm | error | - | - | - | - | - | ERROR | 2026-11-25 |" in first
    ffi_row = (
        "| Python | Rust | ffi | failed | 1.50 µs | 3.00 µs | 3.75x | - | - | MISSED (0/5 met) | 2026-11-25 |"
    )
    assert ffi_row in first
    assert update_readme(readme, results) is False
    assert readme.read_text(encoding="utf-8") == first


def test_readme_block_only_touches_the_marked_region() -> None:
    block = readme_block(_results())
    new = replace_readme_block(README, block)
    assert new.split(MARKER_BEGIN)[0] == README.split(MARKER_BEGIN)[0]
    assert new.split(MARKER_END)[1] == README.split(MARKER_END)[1]
    assert replace_readme_block(new, block) == new


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# no markers\n", "expected exactly one .* received 0 and 0"),
        (f"{MARKER_BEGIN}\nx\n", "received 1 and 0"),
        (f"{MARKER_BEGIN}\n{MARKER_END}\n{MARKER_BEGIN}\n{MARKER_END}\n", "received 2 and 2"),
        (f"{MARKER_END}\nx\n{MARKER_BEGIN}\n", "comes before"),
    ],
)
def test_broken_markers_are_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(text, encoding="utf-8")
    with pytest.raises(ReadmeError, match=message):
        update_readme(readme, _results())
    assert readme.read_text(encoding="utf-8") == text
    with pytest.raises(ReadmeError, match="cannot read"):
        update_readme(tmp_path / "nope.md", _results())


# --- terminal and summary --------------------------------------------------------------------


def test_terminal_table_has_one_row_per_cell() -> None:
    text = render_terminal(_results())
    for cell_id in ("py-host/ts-plugin/ipc", "py-host/rust-plugin/ffi", "ts@bun-host/rust-plugin/wasm"):
        assert cell_id in text
    assert "! ts@bun-host/rust-plugin/wasm: latency: ts@bun-host/rust-plugin/wasm: cannot start" in text


def test_summary_lists_budgets_and_verdicts() -> None:
    summary = render_summary(_results())
    assert "| `py-host/rust-plugin/ffi` | invokeAction:echo:100B | 100 | 1.50 µs |" in summary
    assert "| noop+json | 400 ns | 600 ns | 3.75x | 3.0x | MISSED | 10 ns: missed |" in summary
    assert "No baseline given." in summary


# --- CLI -----------------------------------------------------------------------------------


def test_report_command_updates_readme_and_writes_baseline(tmp_path: Path) -> None:
    run = write_reports(
        tmp_path / "run", conformance_json=None, latency=_latency(), baseline=None, echo=None, environment=ENV
    )
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    baseline = tmp_path / "baseline.json"
    argv = ["report", "--results", str(run.results_json), "--no-baseline", "--update-readme", str(readme)]
    assert _cli_bench.main([*argv, "--write-baseline", str(baseline)]) == 0
    saved = json.loads(baseline.read_text(encoding="utf-8"))
    validate_results(saved, SCHEMA)
    assert saved["baseline"] is None
    assert "py-host/ts-plugin/ipc" not in README
    assert "TypeScript (Node) | ipc | measured" in readme.read_text(encoding="utf-8")
    # Comparing the run with the baseline it just wrote: nothing regressed.
    argv2 = [
        "report",
        "--results",
        str(run.results_json),
        "--baseline",
        str(baseline),
        "--fail-on-regression",
    ]
    assert _cli_bench.main(argv2) == 0
    compared = json.loads(run.results_json.read_text(encoding="utf-8"))
    assert compared["baseline"]["regressions"] == []


def test_report_command_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli_bench.main(["report", "--results", str(tmp_path / "none.json"), "--no-baseline"]) == 2
    assert "none.json: cannot read the results file" in capsys.readouterr().err
    run = write_reports(
        tmp_path / "run", conformance_json=None, latency=_latency(), baseline=None, echo=None, environment=ENV
    )
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n", encoding="utf-8")
    argv = ["report", "--results", str(run.results_json), "--no-baseline", "--update-readme", str(readme)]
    assert _cli_bench.main(argv) == 2
    assert "expected exactly one" in capsys.readouterr().err


def test_bench_command_refuses_a_pattern_matching_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        _cli_bench.main(["bench", str(ROOT / "matrices" / "default.toml"), "--cells", "nothing-like-this"])
        == 2
    )
    assert "matches no cell" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["bench", "report"])
def test_bench_and_report_take_the_same_baseline_options(command: str) -> None:
    parser = argparse.ArgumentParser()
    _cli_bench.register(parser.add_subparsers(dest="command"))
    argv = [command, "--baseline", "b.json", "--threshold", "1.3", "--fail-on-regression", "--no-baseline"]
    args = parser.parse_args(argv)
    assert (args.baseline, args.threshold, args.fail_on_regression, args.no_baseline) == (
        Path("b.json"),
        1.3,
        True,
        True,
    )


@pytest.mark.parametrize("ok", [True, False])
def test_matrix_latency_phase_passes_the_options_and_says_whether_latency_failed(
    ok: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testkit import _latency, cli
    from testkit import _report as report

    seen: dict[str, Any] = {}

    class Result:
        def __init__(self) -> None:
            self.ok = ok

    def fake_run(matrix: Any, cells: Any, profile: str, out: Path, progress: Any, **kw: Any) -> Result:
        seen.update(profile=profile, out=out, **kw)
        return Result()

    monkeypatch.setattr(_latency, "run_latency", fake_run)
    monkeypatch.setattr(report, "write_reports", lambda out, **kw: seen.update(reports=out, **kw))
    matrix = load_matrix(find_repo_root() / "matrices" / "default.toml")
    args = cli.build_parser().parse_args(["matrix", "--no-pin", "--bench-profile", "full"])
    assert cli._matrix_latency(args, matrix, matrix.cells, tmp_path, tmp_path / "c.json") is ok
    assert (seen["profile"], seen["pin"], seen["repeats"]) == ("full", False, _latency.DEFAULT_REPEATS)
    assert (seen["reports"], seen["conformance_json"]) == (tmp_path, tmp_path / "c.json")


@pytest.mark.parametrize("command", ["bench", "matrix"])
def test_bench_and_matrix_take_the_same_pin_options(command: str) -> None:
    from testkit import cli

    parser = cli.build_parser()
    assert [parser.parse_args([command, *flag]).pin for flag in ([], ["--pin"], ["--no-pin"])] == [
        None,
        True,
        False,
    ]
    with pytest.raises(SystemExit):
        parser.parse_args([command, "--pin", "--no-pin"])


def test_fail_on_regression_fails_only_a_regressed_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from testkit._report import ReportPaths

    def paths(verdict: str) -> ReportPaths:
        return ReportPaths(tmp_path, tmp_path, "", ("c::m",), verdict=verdict)

    on, off = argparse.Namespace(fail_on_regression=True), argparse.Namespace(fail_on_regression=False)
    assert _cli_bench._fails_on_regression(on, paths("regressed"), "base.json") is True
    assert "regressions against base.json: c::m" in capsys.readouterr().err
    assert _cli_bench._fails_on_regression(on, paths("inconclusive"), "base.json") is False
    assert _cli_bench._fails_on_regression(off, paths("regressed"), "base.json") is False
