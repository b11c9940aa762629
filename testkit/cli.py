"""``interop-testkit``: list cells, run a matrix (conformance + latency + reports), certify a plugin.

``bench`` and ``report`` live in :mod:`testkit._cli_bench`, ``call`` in :mod:`testkit._call`.
Exit codes: 0 success, 1 a check/cell failed, 2 bad usage or a missing input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from testkit import __version__
from testkit._cli_bench import add_pin_options
from testkit._cli_bench import register as register_bench
from testkit._matrix import Cell, Matrix, MatrixError, load_matrix
from testkit._toolchains import ToolchainError, Toolchains, find_repo_root

__all__ = ["build_parser", "main"]


def _err(message: str) -> None:
    print(f"interop-testkit: error: {message}", file=sys.stderr, flush=True)


def _default_matrix() -> Path:
    return find_repo_root() / "matrices" / "default.toml"


# -- list ---------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    """Each cell with what it needs (driver, runtime, artifacts) and whether it is present now."""
    try:
        matrix = load_matrix(args.matrix or _default_matrix())
        toolchains = Toolchains.discover()
    except (MatrixError, ToolchainError) as exc:
        _err(str(exc))
        return 2
    cells = matrix.select(args.cells)
    rows: list[dict[str, Any]] = []
    for cell in cells:
        needs: list[dict[str, Any]] = []
        for fixture in ("conformance", "eliza-classic"):
            for req in toolchains.cell_requirements(cell, fixture):
                if all(req.path != n["path"] for n in needs):
                    needs.append(
                        {"what": req.what, "path": req.path, "present": req.present, "build": req.build}
                    )
        rows.append({"id": cell.id, "ready": all(n["present"] for n in needs), "needs": needs})
    if args.json:
        print(json.dumps({"matrix": matrix.name, "path": str(matrix.path), "cells": rows}, indent=1))
        return 0
    print(f"matrix {matrix.name} ({matrix.path}): {len(cells)} {'cell' if len(cells) == 1 else 'cells'}")
    for row in rows:
        print(f"{'ready  ' if row['ready'] else 'MISSING'} {row['id']}")
        for need in row["needs"]:
            mark = "ok" if need["present"] else "--"
            line = f"    [{mark}] {need['what']}: {need['path']}"
            if not need["present"]:
                line += f"  (build: {need['build']})"
            print(line)
    return 0


# -- matrix -------------------------------------------------------------------------------------


def cmd_matrix(args: argparse.Namespace) -> int:
    """Conformance suite (pytest, in-process, xdist), then latency and the reports."""
    import pytest

    try:
        matrix_path = Path(args.matrix) if args.matrix else _default_matrix()
        matrix = load_matrix(matrix_path)
    except (MatrixError, ToolchainError) as exc:
        _err(str(exc))
        return 2
    cells = matrix.select(args.cells)
    if not cells:
        _err(f"--cells {args.cells!r} matches no cell of {matrix.path}: {[c.id for c in matrix.cells]}")
        return 2
    cell_pattern = args.cells
    if getattr(args, "shard", None):
        from testkit._shard import ShardError, exact_pattern, parse_shard, shard_cells

        try:
            index, count = parse_shard(args.shard)
        except ShardError as exc:
            _err(str(exc))
            return 2
        cells = shard_cells(cells, index, count)
        if not cells:
            print(f"[matrix] shard {index}/{count} has no cells of {matrix.name}: nothing to run", flush=True)
            return 0
        cell_pattern = exact_pattern([c.id for c in cells])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    conformance_json = out / "conformance.json"
    pytest_args = [
        "--pyargs",
        "testkit.suite",
        f"--matrix={matrix_path}",
        f"--interop-report={conformance_json}",
        f"--fuzz-profile={args.fuzz_profile}",
        "--interop-progress",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rfE",
    ]
    if cell_pattern:
        pytest_args.append(f"--cells={cell_pattern}")
    if args.n is not None and args.n != 0:
        pytest_args += ["-n", str(args.n)]
    print(
        f"[matrix] conformance: {len(cells)} {'cell' if len(cells) == 1 else 'cells'} of {matrix.name}: "
        f"{', '.join(c.id for c in cells)}",
        flush=True,
    )
    started = time.monotonic()
    code = int(pytest.main(pytest_args))
    print(
        f"[matrix] conformance finished in {time.monotonic() - started:.0f} s (pytest exit {code})",
        flush=True,
    )
    if code not in (0, 1):
        _err(f"the conformance run did not complete (pytest exit status {code})")
        return 2 if not conformance_json.is_file() else 1
    failed_cells = _failed_cells(conformance_json)
    for cell_id, failures in failed_cells.items():
        print(f"[matrix] FAILED {cell_id}: {', '.join(failures[:8])}{' ...' if len(failures) > 8 else ''}")
    status = 1 if code != 0 else 0
    if args.skip_latency:
        print("[matrix] latency phase not run (--skip-latency)")
        return status
    return 0 if _matrix_latency(args, matrix, cells, out, conformance_json) and status == 0 else 1


def _matrix_latency(
    args: argparse.Namespace, matrix: Matrix, cells: Sequence[Cell], out: Path, conformance_json: Path
) -> bool:
    """The matrix's latency phase and reports (compared with the matrix's committed baseline);
    False when a cell's latency failed."""
    from testkit._latency import DEFAULT_REPEATS, run_latency
    from testkit._report import baseline_path_for, write_reports

    def progress(message: str) -> None:
        print(f"[latency] {message}", flush=True)

    repeats = args.repeats or DEFAULT_REPEATS
    latency = run_latency(matrix, cells, args.bench_profile, out, progress, pin=args.pin, repeats=repeats)
    baseline = baseline_path_for(matrix.name, find_repo_root())
    write_reports(
        out,
        conformance_json=conformance_json,
        latency=latency,
        baseline=baseline if baseline.is_file() else None,
    )
    return latency.ok


def _failed_cells(conformance_json: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(conformance_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    failed: dict[str, list[str]] = {}
    for cell in data.get("cells", []):
        bad = [c["name"] for c in cell.get("checks", []) if c.get("outcome") in ("failed", "error")]
        if bad:
            failed[cell["id"]] = bad
    bad_plugin = [c["name"] for c in data.get("plugin_level", []) if c.get("outcome") in ("failed", "error")]
    if bad_plugin:
        failed["plugin-level"] = bad_plugin
    return failed


# -- certify ------------------------------------------------------------------------------------


def cmd_certify(args: argparse.Namespace) -> int:
    """Certify one plugin: exit 0 when every MUST check passes (and every SHOULD under --strict),
    1 when one fails, 2 when the input cannot be certified at all."""
    from testkit._certify import CertifyOptions, UnusableInput, certify
    from testkit._certify_report import (
        print_result,
        read_expected_failures,
        write_certificate,
        write_expected_failures,
        write_html,
        write_junit,
    )

    def split(values: list[str] | None) -> list[str]:
        return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]

    baseline = Path(args.expected_failures) if args.expected_failures else None
    options = CertifyOptions(
        timeout_s=args.timeout,
        start_timeout_s=args.start_timeout,
        skip=split(args.skip),
        only=split(args.only),
        hosts=split([args.hosts]) if args.hosts else None,
        runtime_world=args.runtime,
        fuzz_examples=args.fuzz_examples,
        seed=args.seed,
        soak_s=args.soak,
        item_budget_s=args.item_budget,
        strict=args.strict,
        expected_failures=read_expected_failures(baseline) if baseline and not args.update_baseline else [],
    )
    try:
        result = certify(args.path, args.ipc, options)
    except (UnusableInput, ToolchainError) as exc:
        _err(str(exc))
        return 2
    print_result(result)
    name = result.plugin.get("name") or result.target
    failed = [
        c.id for c in result.checks if c.failed and (c.level == "MUST" or args.strict or c.outcome == "xpass")
    ]
    should = [c.id for c in result.checks if c.failed and c.level != "MUST" and c.id not in failed]
    hosts = ", ".join(h for h, info in result.hosts.items() if info.get("status") == "loaded") or "none"
    line = f"{'PASS' if result.passed else 'FAIL'}: {name} over {result.transport} (hosts: {hosts}; "
    line += f"{result.calls} calls in {result.duration_s:.1f} s)"
    if failed:
        line += f"; failed: {', '.join(failed)}"
    if should:
        line += f"; SHOULD not met (fails with --strict): {', '.join(should)}"
    print(line)
    for flag, writer in ((args.json, write_certificate), (args.junit, write_junit), (args.html, write_html)):
        if flag:
            writer(result, Path(flag))
            print(f"wrote {flag}")
    if baseline and args.update_baseline:
        ids = write_expected_failures(result, baseline)
        print(f"expected failures rewritten: {baseline} ({len(ids)} check(s))")
        return 0
    return 0 if result.passed else 1


# -- parser -------------------------------------------------------------------------------------


def _add_list(sub: Any) -> None:
    """The ``list`` subcommand."""
    p_list = sub.add_parser("list", help="the cells of a matrix and whether what they need is present")
    p_list.add_argument("--matrix", help="matrix TOML (default: matrices/default.toml)")
    p_list.add_argument("--cells", help="comma-separated globs or substrings of cell ids")
    p_list.add_argument("--json", action="store_true", help="machine-readable output")
    p_list.set_defaults(func=cmd_list)


def _add_matrix(sub: Any) -> None:
    """The ``matrix`` subcommand."""
    p_matrix = sub.add_parser(
        "matrix", help="run the conformance suite, then latency, then write the reports"
    )
    p_matrix.add_argument("matrix", nargs="?", help="matrix TOML (default: matrices/default.toml)")
    p_matrix.add_argument("--cells", help="comma-separated globs or substrings of cell ids")
    p_matrix.add_argument("-n", type=int, default=2, help="pytest-xdist workers (0: in-process; default 2)")
    p_matrix.add_argument("--bench-profile", choices=("quick", "full"), default="quick")
    p_matrix.add_argument(
        "--repeats", type=int, metavar="N", help="interleaved latency repeats of every cell (default 5)"
    )
    add_pin_options(p_matrix, "latency ")
    p_matrix.add_argument("--fuzz-profile", choices=("quick", "ci", "long"), default="ci")
    p_matrix.add_argument("--out", default="reports/latest", help="output directory (default reports/latest)")
    p_matrix.add_argument("--skip-latency", action="store_true", help="conformance only")
    p_matrix.add_argument(
        "--shard",
        metavar="I/N",
        help="run shard I of N (cells sorted by id, dealt round-robin); join with `report merge`",
    )
    p_matrix.set_defaults(func=cmd_matrix)


def _add_certify(sub: Any) -> None:
    """The ``certify`` subcommand and its options."""
    p_cert = sub.add_parser(
        "certify",
        help="certify one plugin: MUST/SHOULD/MAY checks through every installed host",
        description="Exit 0 when every MUST check passes (--strict: every SHOULD too), 1 when one "
        "fails, 2 when the input cannot be certified (missing file, not a plugin, no manifest).",
    )
    p_cert.add_argument("path", nargs="?", help=".wasm, .so/.dylib, .py or package dir, .ts/.js")
    p_cert.add_argument(
        "--ipc", metavar="CMD", help='an IPC plugin command line, e.g. "python3 my_plugin.py"'
    )
    p_cert.add_argument("--json", metavar="OUT", help="write the certificate JSON here")
    p_cert.add_argument("--junit", metavar="OUT", help="write JUnit XML here")
    p_cert.add_argument("--html", metavar="OUT", help="write a self-contained HTML report here")
    p_cert.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="per-call time-out (default 10 s)"
    )
    p_cert.add_argument(
        "--start-timeout", type=float, default=10.0, metavar="S", help="time to the manifest (default 10 s)"
    )
    p_cert.add_argument(
        "--skip",
        action="append",
        metavar="NAME",
        help="do not call this action/provider/evaluator (e.g. a deliberate crash); "
        "comma-separated or repeated",
    )
    p_cert.add_argument("--only", action="append", metavar="CHECK_ID", help="run only these checks")
    p_cert.add_argument(
        "--hosts",
        metavar="LIST",
        help="comma-separated subset of python,node,bun,rust (default: all installed)",
    )
    p_cert.add_argument(
        "--runtime",
        metavar="WORLD.json",
        help="pass an in-memory runtime built from this World to every call",
    )
    p_cert.add_argument(
        "--fuzz-examples", type=int, default=40, metavar="N", help="generated inputs per item (default 40)"
    )
    p_cert.add_argument("--seed", type=int, default=0, help="seed of the generated inputs (default 0)")
    p_cert.add_argument(
        "--soak",
        type=float,
        default=0.0,
        metavar="S",
        help="also call ordinary inputs for S seconds (RSS, losses)",
    )
    p_cert.add_argument(
        "--item-budget",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds per item and method after which edge-case/generated inputs stop (0: no limit)",
    )
    p_cert.add_argument("--strict", action="store_true", help="SHOULD failures fail the verdict too")
    p_cert.add_argument("--expected-failures", metavar="FILE", help="check ids expected to fail (one a line)")
    p_cert.add_argument(
        "--update-baseline", action="store_true", help="rewrite --expected-failures from this run"
    )
    p_cert.set_defaults(func=cmd_certify)


def build_parser() -> argparse.ArgumentParser:
    """The ``interop-testkit`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="interop-testkit",
        description="Conformance testkit for the elizaOS cross-language plugin interop system.",
    )
    parser.add_argument("--version", action="version", version=f"interop-testkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    _add_list(sub)
    _add_matrix(sub)
    _add_certify(sub)
    register_bench(sub)
    from testkit._call import register as register_call

    register_call(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``interop-testkit`` console script."""
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
