"""Shards of a matrix run and `report merge`: the merged report equals an unsharded run's."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from testkit import _cli_bench, cli
from testkit._matrix import load_matrix, select_cells
from testkit._report import render_reports
from testkit._shard import ShardError, exact_pattern, merge_results, parse_shard, shard_cells
from testkit._toolchains import find_repo_root
from testkit.tests.test_report_html import _doc

ROOT = find_repo_root(Path(__file__).parent)
FULL = load_matrix(ROOT / "matrices" / "full.toml")


@pytest.mark.parametrize(("spec", "expected"), [("1/1", (1, 1)), ("2/3", (2, 3)), (" 4 / 4 ", (4, 4))])
def test_parse_shard(spec: str, expected: tuple[int, int]) -> None:
    assert parse_shard(spec) == expected


@pytest.mark.parametrize("spec", ["0/2", "3/2", "1/0", "1", "a/b", "-1/2"])
def test_bad_shard_specs_are_refused(spec: str) -> None:
    with pytest.raises(ShardError, match="--shard"):
        parse_shard(spec)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_shards_are_disjoint_balanced_and_cover_the_matrix(count: int) -> None:
    shards = [shard_cells(FULL.cells, i, count) for i in range(1, count + 1)]
    ids = [c.id for shard in shards for c in shard]
    assert sorted(ids) == sorted(c.id for c in FULL.cells)
    assert len(set(ids)) == len(ids)
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1
    # The matrix file's order does not matter, only the set of ids.
    reordered = [shard_cells(tuple(reversed(FULL.cells)), i, count) for i in range(1, count + 1)]
    assert [{c.id for c in s} for s in reordered] == [{c.id for c in s} for s in shards]


def test_exact_pattern_selects_exactly_the_shard() -> None:
    for i in (1, 2, 3):
        shard = shard_cells(FULL.cells, i, 3)
        chosen = select_cells(FULL.cells, exact_pattern([c.id for c in shard]))
        assert [c.id for c in chosen] == [c.id for c in shard]
    # A substring would also pick the Bun-hosted and third-party cells; the exact form does not.
    one = select_cells(FULL.cells, exact_pattern(["ts-host/py-plugin/ipc"]))
    assert [c.id for c in one] == ["ts-host/py-plugin/ipc"]


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    return path


def _verdicts(results: dict[str, Any]) -> dict[str, Any]:
    return {
        "cells": sorted((c["id"], c["status"]) for c in results["cells"]),
        "comparisons": sorted(
            (c["cell"], c["method"], c["verdict"]) for c in results["baseline"]["comparisons"]
        ),
        "verdict": results["verdict"]["verdict"],
        "plugin_level": results["plugin_level"],
    }


def test_merged_shards_equal_the_unsharded_run(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(_doc(1)), encoding="utf-8")
    whole = _doc(2, slow_cell="py-host/ts-plugin/ipc")
    whole["plugin_level"] = [{"name": "manifests-agree", "outcome": "passed"}]
    render_reports(tmp_path / "whole", copy.deepcopy(whole), baseline=baseline, echo=None)
    unsharded = json.loads((tmp_path / "whole" / "results.json").read_text(encoding="utf-8"))
    dirs = []
    for i in (1, 2):
        part = copy.deepcopy(whole)
        ids = {c["id"] for c in whole["cells"]}
        keep = set(shard_cells(sorted(ids), i, 2))
        part["cells"] = [c for c in whole["cells"] if c["id"] in keep]
        dirs.append(str(_write(tmp_path / f"shard{i}", part)))
    argv = ["report", "merge", *dirs, "--out", str(tmp_path / "merged"), "--baseline", str(baseline)]
    assert _cli_bench.main(argv) == 0
    merged = json.loads((tmp_path / "merged" / "results.json").read_text(encoding="utf-8"))
    assert _verdicts(merged) == _verdicts(unsharded)
    assert merged["verdict"]["verdict"] == "failed"  # a failed cell in shard 2, a regression in shard 1
    assert (tmp_path / "merged" / "report.html").is_file()
    assert (tmp_path / "merged" / "junit.xml").is_file()


def test_merge_refuses_overlapping_or_foreign_shards(tmp_path: Path) -> None:
    a, b = _doc(1), _doc(2)
    with pytest.raises(ShardError, match="is in both"):
        merge_results([(tmp_path / "a", a), (tmp_path / "b", b)])
    b["cells"] = []
    b["source"] = dict(b["source"], commit="ffff")
    with pytest.raises(ShardError, match="commit 'ffff' differs"):
        merge_results([(tmp_path / "a", a), (tmp_path / "b", b)])
    b["source"] = a["source"]
    b["latency"] = dict(b["latency"], repeats=5)
    with pytest.raises(ShardError, match="latency repeats 5 differs"):
        merge_results([(tmp_path / "a", a), (tmp_path / "b", b)])
    b["latency"] = a["latency"]
    b["plugin_level"] = [{"name": "manifests-agree", "outcome": "failed", "message": "x"}]
    a["plugin_level"] = [{"name": "manifests-agree", "outcome": "passed"}]
    merged = merge_results([(tmp_path / "a", a), (tmp_path / "b", b)])
    assert merged["plugin_level"] == [{"name": "manifests-agree", "outcome": "failed", "message": "x"}]


def test_report_merge_needs_directories(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli_bench.main(["report", "merge"]) == 2
    assert "needs the output directories" in capsys.readouterr().err


def test_matrix_refuses_a_bad_shard(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["matrix", str(ROOT / "matrices" / "default.toml"), "--shard", "3/2"]) == 2
    assert "--shard '3/2'" in capsys.readouterr().err


def test_matrix_command_takes_latency_and_shard_options() -> None:
    args = cli.build_parser().parse_args(["matrix", "--repeats", "3", "--no-pin", "--shard", "1/2"])
    assert (args.repeats, args.pin, args.shard) == (3, False, "1/2")
    defaults = cli.build_parser().parse_args(["matrix"])
    assert (defaults.repeats, defaults.pin, defaults.shard) == (None, None, None)
