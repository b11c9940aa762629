"""bench --compare REF: export, build, alternating blocks, pooling, and the comparison (stand-in runner)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from testkit._compare import (
    CompareError,
    Side,
    block_order,
    build_side,
    export_ref,
    parse_env,
    pool_blocks,
    run_compare,
    sessions_for,
)
from testkit._report import load_results, render_reports
from testkit.tests.test_report_html import _doc


def _repo(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "repo"
    (repo / "matrices").mkdir(parents=True)
    (repo / "matrices" / "default.toml").write_text("name = 'default'\n")

    def git(*argv: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *argv], check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    git("add", "matrices/default.toml")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    return repo, git("rev-parse", "HEAD")


def test_blocks_alternate_which_side_goes_first() -> None:
    assert block_order(3) == [0, 1, 1, 0, 0, 1]


def test_export_ref_writes_the_tree_once(tmp_path: Path) -> None:
    repo, commit = _repo(tmp_path)
    got, tree = export_ref(repo, "HEAD", tmp_path / "cache")
    assert got == commit
    assert (tree / "matrices" / "default.toml").read_text() == "name = 'default'\n"
    (tree / "marker").write_text("kept")
    assert export_ref(repo, commit, tmp_path / "cache") == (commit, tree)
    assert (tree / "marker").is_file()  # reused, not exported again
    with pytest.raises(CompareError, match="rev-parse"):
        export_ref(repo, "no-such-ref", tmp_path / "cache")


def test_compare_measures_both_sides_in_alternating_blocks(tmp_path: Path) -> None:
    repo, commit = _repo(tmp_path)
    calls: list[tuple[list[str], Path, dict[str, str]]] = []

    def runner(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> int:
        calls.append((list(argv), cwd, dict(env)))
        if "--noxfile" in argv:
            return 0
        out = Path(argv[argv.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        now = cwd == repo
        # This tree is 1.5x slower than the ref in one cell; every block draws fresh samples.
        doc = _doc(len(calls), slow_cell="py-host/ts-plugin/ipc" if now else None)
        (out / "results.json").write_text(json.dumps(doc))
        return 0

    env = {"PATH": "/usr/bin", "ELIZAOS_RUST_TARGET_DIR": "/elsewhere", "HOME": "/root"}
    now_path, ref_path = run_compare(
        repo=repo,
        ref="HEAD",
        matrix=repo / "matrices" / "default.toml",
        out=tmp_path / "out",
        blocks=3,
        options=["--profile", "quick"],
        run=runner,
        progress=lambda _m: None,
        cache=tmp_path / "cache",
        env=env,
    )
    build, *benches = calls
    tree = tmp_path / "cache" / commit
    assert build[1] == tree
    assert "build_rust_wasm" in build[0]
    assert "ELIZAOS_RUST_TARGET_DIR" not in build[2]
    assert [cwd for _a, cwd, _e in benches] == [repo, tree, tree, repo, repo, tree]
    for argv, cwd, side_env in benches:
        assert argv[1:5] == ["-P", "-m", "testkit.cli", "bench"]
        assert argv[5] == str(cwd / "matrices" / "default.toml")
        assert "--repeats" in argv
        assert side_env["PYTHONPATH"].endswith(str(cwd / "plugins" / "python" / "src"))
        assert "ELIZAOS_RUST_TARGET_DIR" not in side_env
    now = load_results(now_path)
    method = now["cells"][0]["latency"]["methods"][0]
    assert len(method["repeats"]) == 3 * 3  # three blocks of three repeats each
    assert len(method["pinned"]["repeats"]) == 9
    assert now["latency"]["repeats"] == 3
    assert load_results(ref_path)["source"]["commit"] == commit
    paths = render_reports(tmp_path / "out", now, baseline=ref_path, echo=None)
    assert paths.regressions
    assert all(r.startswith("py-host/ts-plugin/ipc::") for r in paths.regressions)
    # A second comparison reuses the build.
    calls.clear()
    run_compare(
        repo=repo,
        ref="HEAD",
        matrix=repo / "matrices" / "default.toml",
        out=tmp_path / "out2",
        blocks=2,
        options=[],
        run=runner,
        progress=lambda _m: None,
        cache=tmp_path / "cache",
        env=env,
    )
    assert not any("--noxfile" in argv for argv, _c, _e in calls)


def test_a_failed_build_or_measurement_is_a_clear_error(tmp_path: Path) -> None:
    repo, _commit = _repo(tmp_path)
    kwargs = {
        "repo": repo,
        "ref": "HEAD",
        "matrix": repo / "matrices" / "default.toml",
        "out": tmp_path / "out",
        "blocks": 2,
        "options": [],
        "progress": lambda _m: None,
        "cache": tmp_path / "cache",
    }
    with pytest.raises(CompareError, match=r"building HEAD .* failed \(exit 3\)"):
        run_compare(run=lambda argv, cwd, env: 3, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(CompareError, match=r"wrote no .*results\.json \(exit 0\)"):
        run_compare(run=lambda argv, cwd, env: 0, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(CompareError, match="at least 2 blocks"):
        run_compare(run=lambda argv, cwd, env: 0, **{**kwargs, "blocks": 1})  # type: ignore[arg-type]


def test_pooling_keeps_a_blocks_error() -> None:
    good, bad = _doc(1), _doc(2)
    bad["cells"][0]["latency"] = {
        "status": "error",
        "error": "driver died",
        "driver_runtime": None,
        "met": None,
        "methods": [],
    }
    pooled = pool_blocks([good, bad])
    assert pooled["cells"][0]["latency"]["error"] == "driver died"
    assert len(pooled["cells"][1]["latency"]["methods"][0]["repeats"]) == 6


def test_bench_compare_with_an_unknown_ref_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from testkit import _cli_bench

    argv = [
        "bench",
        "--compare",
        "no-such-ref-anywhere",
        "--out",
        str(tmp_path),
        "--compare-cache",
        str(tmp_path),
    ]
    assert _cli_bench.main(argv) == 2
    assert "git rev-parse --verify no-such-ref-anywhere^{commit}" in capsys.readouterr().err


def test_candidate_env_measures_this_tree_against_itself(tmp_path: Path) -> None:
    repo, _commit = _repo(tmp_path)
    calls: list[tuple[list[str], Path, dict[str, str]]] = []

    def runner(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> int:
        calls.append((list(argv), cwd, dict(env)))
        out = Path(argv[argv.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        slowed = env.get("ELIZAOS_INTEROP_TEST_DELAY_US") == "20"
        doc = _doc(len(calls), slow_cell="py-host/ts-plugin/ipc" if slowed else None)
        (out / "results.json").write_text(json.dumps(doc))
        return 0

    now_path, ref_path = run_compare(
        repo=repo,
        ref=None,
        matrix=repo / "matrices" / "default.toml",
        out=tmp_path / "out",
        blocks=2,
        options=[],
        run=runner,
        progress=lambda _m: None,
        cache=tmp_path / "cache",
        env={"PATH": "/usr/bin", "ELIZAOS_INTEROP_TEST_DELAY_US": "7"},
        candidate_env={"ELIZAOS_INTEROP_TEST_DELAY_US": "20"},
    )
    assert not (tmp_path / "cache").exists()  # nothing exported, nothing built
    assert [cwd for _a, cwd, _e in calls] == [repo] * 4
    delays = [env.get("ELIZAOS_INTEROP_TEST_DELAY_US") for _a, _c, env in calls]
    assert delays == ["20", None, None, "20"]  # the candidate's blocks only, never inherited
    paths = render_reports(tmp_path / "out", load_results(now_path), baseline=ref_path, echo=None)
    assert paths.regressions
    assert all(r.startswith("py-host/ts-plugin/ipc::") for r in paths.regressions)
    with pytest.raises(CompareError, match="needs --candidate-env"):
        run_compare(
            repo=repo,
            ref=None,
            matrix=repo / "matrices" / "default.toml",
            out=tmp_path / "out",
            blocks=2,
            options=[],
            run=runner,
            progress=lambda _m: None,
        )


def test_only_the_build_sessions_the_cells_need_are_run(tmp_path: Path) -> None:
    hints = [
        "nox -s build_rust_ffi build_rust_ipc (one cargo build of every native artifact)",
        "nox -s build_typescript (npm ci --prefix plugins/typescript)",
        "it is source: plugins/python/fixtures/conformance_plugin.py",
    ]
    assert sessions_for(hints) == ["build_rust_ffi", "build_rust_ipc", "build_typescript"]
    assert sessions_for(["it is source: x.py", "pip install -e 'plugins/python[all]'"]) == []
    side = Side("ref", tmp_path)
    built: list[list[str]] = []

    def runner(argv: Sequence[str], _cwd: Path, _env: Mapping[str, str]) -> int:
        built.append(list(argv[argv.index("-s") + 1 :]))
        return 0

    build_side(side, runner, {}, ["build_typescript"])
    build_side(side, runner, {}, ["build_typescript"])  # stamped: not again
    build_side(side, runner, {}, ["build_rust_ipc", "build_typescript"])  # only what is new
    build_side(side, runner, {}, [])
    assert built == [["build_typescript"], ["build_rust_ipc"]]


def test_candidate_env_items_are_checked() -> None:
    assert parse_env(["A_B=1", "C=x=y", "D="]) == {"A_B": "1", "C": "x=y", "D": ""}
    for bad in ("NOVALUE", "=1", "A-B=1"):
        with pytest.raises(CompareError, match="KEY=VALUE"):
            parse_env([bad])
