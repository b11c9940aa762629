"""The ``bench`` and ``report`` subcommands of ``interop-testkit``.

``bench`` measures the latency of a matrix's cells and writes the reports; ``report`` re-renders
the reports of an earlier run, compares it with a baseline, updates the README status block and
can promote the run to the committed baseline. Exit status: 0 when everything asked for was
measured (and, with ``--fail-on-regression``/``--fail-on-budget``, nothing regressed / missed), 1
otherwise, 2 on bad input (missing file, malformed matrix, README without markers).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from testkit._matrix import Cell
    from testkit._report import ReportPaths

__all__ = ["add_pin_options", "cmd_bench", "cmd_report", "register"]


def _root() -> Path:
    from testkit._toolchains import find_repo_root

    return find_repo_root()


def _err(message: str) -> None:
    print(f"interop-testkit: {message}", file=sys.stderr)


def _print_written(paths: ReportPaths) -> None:
    print(f"wrote {paths.results_json}, {paths.summary_md}, {paths.html} and {paths.junit}")


def _fails_on_regression(args: argparse.Namespace, paths: ReportPaths, against: object) -> bool:
    """True (after saying which) when ``--fail-on-regression`` is set and the run regressed."""
    if args.fail_on_regression and paths.verdict == "regressed":
        _err(f"regressions against {against}: {', '.join(paths.regressions)}")
        return True
    return False


def register(subparsers: Any) -> None:
    """Add ``bench`` and ``report`` to the ``interop-testkit`` subcommand parsers."""
    _register_bench(subparsers)
    _register_report(subparsers)


def add_pin_options(parser: argparse.ArgumentParser, subject: str = "") -> None:
    """``--pin``/``--no-pin`` (``args.pin``: True, False or None for both modes) of ``bench`` and
    ``matrix``; ``subject`` prefixes the help ("latency ")."""
    pin = parser.add_mutually_exclusive_group()
    pin.add_argument(
        "--pin",
        dest="pin",
        action="store_const",
        const=True,
        default=None,
        help=f"{subject}pinned to one CPU only (default: unpinned, and pinned beside when >= 2 CPUs)",
    )
    pin.add_argument(
        "--no-pin", dest="pin", action="store_const", const=False, help=f"{subject}unpinned only"
    )


def _add_comparison_options(parser: argparse.ArgumentParser) -> None:
    """The baseline options ``bench`` and ``report`` share."""
    parser.add_argument(
        "--baseline",
        type=Path,
        help="results.json to compare with (default: reports/baselines/<matrix>.json)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="compare with no baseline")
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="regression when the whole CI of the ratio of medians lies above it (default 1.2)",
    )
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when the verdict is `regressed` (not when inconclusive: a busy machine)",
    )


def _register_bench(subparsers: Any) -> None:
    bench = subparsers.add_parser(
        "bench",
        help="measure per-cell latency against same-run floors and write reports",
        description="Measure the latency of each cell of MATRIX (host clock, sequentially) against "
        "floors measured in the same run, then write results.json and summary.md.",
    )
    bench.add_argument("matrix", nargs="?", type=Path, help="matrix TOML (default: matrices/default.toml)")
    bench.add_argument("--cells", metavar="PAT", help="comma-separated globs or substrings of cell ids")
    bench.add_argument("--profile", choices=("quick", "full"), default="quick", help="sample counts")
    bench.add_argument("--iterations", type=int, help="samples per method (overrides the profile's)")
    bench.add_argument(
        "--warmup",
        type=int,
        help="warm-up calls per method (overrides the profile's count and its time floor: exactly this many)",
    )
    add_pin_options(bench)
    bench.add_argument(
        "--repeats",
        type=int,
        default=None,
        metavar="N",
        help="interleaved repeats of every cell (default 5); the profile's samples are split over them",
    )
    bench.add_argument("--out", type=Path, help="output directory (default: reports/latest)")
    bench.add_argument("--conformance", type=Path, help="conformance JSON to merge into results.json")
    _add_comparison_options(bench)
    bench.add_argument("--fail-on-budget", action="store_true", help="exit 1 when a budget is missed")
    bench.add_argument(
        "--compare",
        metavar="REF",
        help="build git REF and measure it against this tree in alternating blocks (--repeats blocks "
        "each, default 4); REF is the baseline",
    )
    bench.add_argument(
        "--candidate-env",
        action="append",
        metavar="KEY=VALUE",
        help="measure this tree with KEY=VALUE set (repeatable) against the same tree without it "
        "(or against --compare REF), in alternating blocks",
    )
    bench.add_argument(
        "--compare-cache",
        type=Path,
        metavar="DIR",
        help="where REF is exported and built (default: a temp dir)",
    )
    bench.set_defaults(func=cmd_bench)


def _register_report(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report",
        help="re-render reports, compare with a baseline, update the README status block",
        description="Re-render summary.md from a results.json, compare it with a baseline, "
        "update the README's matrix-status block, or promote the run to the baseline.",
    )
    report.add_argument(
        "action",
        nargs="?",
        choices=("merge",),
        help="merge: join the results.json of shards (DIR...) into one report in --out",
    )
    report.add_argument("dirs", nargs="*", type=Path, metavar="DIR", help="shard output directories")
    report.add_argument("--out", type=Path, help="where `merge` writes (default: reports/latest)")
    report.add_argument(
        "--results", type=Path, help="results.json of a run (default: reports/latest/results.json)"
    )
    _add_comparison_options(report)
    report.add_argument(
        "--update-readme", type=Path, metavar="README", help="rewrite the README's matrix-status block"
    )
    report.add_argument(
        "--write-baseline",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help="save this run as its matrix's baseline (default path: reports/baselines/<matrix>.json)",
    )
    report.set_defaults(func=cmd_report)


def _baseline_arg(
    args: argparse.Namespace, root: Path, results_path: Path | None, matrix: str | None
) -> Path | None:
    """The baseline to compare with: ``--baseline``, else the committed one of the run's matrix."""
    from testkit._report import baseline_path_for

    if args.no_baseline:
        return None
    if args.baseline is not None:
        if not args.baseline.is_file():
            raise FileNotFoundError(f"baseline {args.baseline} does not exist")
        path: Path = args.baseline
        return path
    default = baseline_path_for(matrix, root)
    if not default.is_file():
        return None
    if results_path is not None and default.resolve() == results_path.resolve():
        return None
    return default


def cmd_bench(args: argparse.Namespace) -> int:
    """``interop-testkit bench``: run the latency measurement and write the reports."""
    from testkit._latency import DEFAULT_REPEATS, PROFILES, LatencyError, Profile, run_latency
    from testkit._matrix import MatrixError, load_matrix
    from testkit._report import DEFAULT_THRESHOLD, ReportError, write_reports
    from testkit._toolchains import ToolchainError

    try:
        root = _root()
        matrix = load_matrix(args.matrix or root / "matrices" / "default.toml")
        cells = matrix.select(args.cells)
        if not cells:
            _err(f"--cells {args.cells!r} matches no cell of {matrix.path}: {[c.id for c in matrix.cells]}")
            return 2
        out: Path = args.out or root / "reports" / "latest"
        baseline = _baseline_arg(args, root, None, matrix.name)
        if args.conformance is not None and not args.conformance.is_file():
            raise FileNotFoundError(f"conformance report {args.conformance} does not exist")
    except (MatrixError, ToolchainError, FileNotFoundError, ReportError) as exc:
        _err(str(exc))
        return 2

    def progress(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    if args.compare or args.candidate_env:
        return _bench_compare(args, root, matrix.path, cells, out, progress)

    override: Profile | None = None
    if args.iterations is not None or args.warmup is not None:
        base = PROFILES[args.profile]
        # An explicit --warmup is the whole warm-up: no time floor on top of it.
        override = Profile(
            base.name,
            base.warmup if args.warmup is None else args.warmup,
            base.iterations if args.iterations is None else args.iterations,
            base.warmup_s if args.warmup is None else 0.0,
        )
    try:
        latency = run_latency(
            matrix,
            cells,
            args.profile,
            out,
            progress,
            pin=args.pin,
            repeats=DEFAULT_REPEATS if args.repeats is None else args.repeats,
            profile_override=override,
        )
        paths = write_reports(
            out,
            conformance_json=args.conformance,
            latency=latency,
            baseline=baseline,
            threshold=args.threshold or DEFAULT_THRESHOLD,
        )
    except (LatencyError, ReportError) as exc:
        _err(str(exc))
        return 2
    _print_written(paths)
    status = 0
    if not latency.ok:
        _err("some cells could not be measured (see above)")
        status = 1
    if _fails_on_regression(args, paths, baseline):
        status = 1
    if args.fail_on_budget and any(c.met is False for c in latency.cells):
        _err("some cells missed their latency budget")
        status = 1
    return status


def _merge(args: argparse.Namespace, root: Path) -> Path:
    """``report merge DIR...``: the shards' results joined into ``--out``/results.json (returned)."""
    from testkit._report import ReportError, load_results, validate_results
    from testkit._shard import ShardError, merge_results
    from testkit._stats import plural

    if not args.dirs:
        raise ReportError("report merge needs the output directories (or results.json files) of the shards")
    docs = []
    for item in args.dirs:
        path = item / "results.json" if item.is_dir() else item
        doc = load_results(path)
        validate_results(doc)
        docs.append((path, doc))
    try:
        merged = merge_results(docs)
    except ShardError as exc:
        raise ReportError(str(exc)) from exc
    out: Path = args.out or root / "reports" / "latest"
    out.mkdir(parents=True, exist_ok=True)
    target = out / "results.json"
    target.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"merged {plural(len(docs), 'shard')} ({plural(len(merged['cells']), 'cell')}) into {target}")
    return target


def _build_sessions(cells: Sequence[Cell]) -> list[str]:
    """The build sessions the other ref needs for ``cells`` (every one if that cannot be told)."""
    from testkit._compare import BUILD_SESSIONS, sessions_for
    from testkit._toolchains import ToolchainError, Toolchains

    try:
        toolchains = Toolchains.discover()
        hints = [
            req.build
            for cell in cells
            for fixture in ("conformance", "eliza-classic")
            for req in toolchains.cell_requirements(cell, fixture)
        ]
    except (ToolchainError, OSError, ValueError):
        return list(BUILD_SESSIONS)
    return sessions_for(hints)


def _bench_compare(
    args: argparse.Namespace, root: Path, matrix: Path, cells: Sequence[Cell], out: Path, progress: Any
) -> int:
    """``bench --compare REF`` / ``--candidate-env``: both sides in alternating blocks, REF (or
    this tree without the candidate's environment) as the baseline."""
    from testkit._compare import CompareError, parse_env, run_compare, subprocess_runner
    from testkit._report import DEFAULT_THRESHOLD, ReportError, load_results, render_reports

    options: list[str] = ["--profile", args.profile]
    if args.cells:
        options += ["--cells", args.cells]
    if args.iterations is not None:
        options += ["--iterations", str(args.iterations)]
    if args.warmup is not None:
        options += ["--warmup", str(args.warmup)]
    if args.pin is True:
        options.append("--pin")
    elif args.pin is False:
        options.append("--no-pin")
    try:
        now_path, ref_path = run_compare(
            repo=root,
            ref=args.compare,
            matrix=matrix,
            out=out,
            blocks=4 if args.repeats is None else args.repeats,
            options=options,
            run=subprocess_runner,
            progress=progress,
            cache=args.compare_cache,
            candidate_env=parse_env(args.candidate_env or []),
            sessions=_build_sessions(cells) if args.compare else (),
        )
        paths = render_reports(
            out,
            load_results(now_path),
            baseline=ref_path,
            threshold=args.threshold or DEFAULT_THRESHOLD,
        )
    except (CompareError, ReportError) as exc:
        _err(str(exc))
        return 2
    _print_written(paths)
    against = args.compare or "this tree without " + ", ".join(args.candidate_env or [])
    return 1 if _fails_on_regression(args, paths, against) else 0


def cmd_report(args: argparse.Namespace) -> int:
    """``interop-testkit report``: re-render, compare, update the README, promote to baseline."""
    from testkit._report import (
        DEFAULT_THRESHOLD,
        ReportError,
        baseline_path_for,
        load_results,
        overall_verdict,
        render_reports,
        update_readme,
        validate_results,
    )

    try:
        root = _root()
        if args.action == "merge":
            args.results = _merge(args, root)
        elif args.dirs:
            raise ReportError(
                f"unexpected arguments {[str(d) for d in args.dirs]}: only `report merge` takes DIRs"
            )
        results_path: Path = args.results or root / "reports" / "latest" / "results.json"
        results = load_results(results_path)
        validate_results(results)
        baseline = _baseline_arg(args, root, results_path, results.get("matrix"))
        paths = render_reports(
            results_path.parent,
            results,
            baseline=baseline,
            threshold=args.threshold or DEFAULT_THRESHOLD,
        )
        _print_written(paths)
        if args.update_readme is not None:
            changed = update_readme(args.update_readme, results)
            print(f"{args.update_readme}: matrix status {'updated' if changed else 'already up to date'}")
        if args.write_baseline is not None:
            target = (
                baseline_path_for(results.get("matrix"), root)
                if args.write_baseline is True
                else Path(args.write_baseline)
            )
            saved = dict(results, baseline=None)
            saved["verdict"] = overall_verdict(saved)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(saved, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"wrote baseline {target}")
    except (ReportError, FileNotFoundError) as exc:
        _err(str(exc))
        return 2
    return 1 if _fails_on_regression(args, paths, baseline) else 0


def main(argv: list[str] | None = None) -> int:
    """Run ``bench``/``report`` on their own (``python -m testkit._cli_bench``)."""
    parser = argparse.ArgumentParser(prog="interop-testkit")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
