"""The benchmark's regression detector, proved on a deliberately slowed build (``nox -s bench_selftest``).

The claim: ``interop-testkit bench`` compared with a baseline flags a real slowdown and does not
flag an unchanged tree. The experiment measures cells with a Python plugin (by default
``rust-host/py-plugin/ipc`` and ``ts-host/py-plugin/ipc``, pinned to one CPU) in two modes:

- ``unchanged``: this tree as it is;
- ``slowed``: the same tree with ``ELIZAOS_INTEROP_TEST_DELAY_US=20`` in the environment of the
  benchmark process. Only the Python plugin bridge reads that variable (a busy wait of 20 µs per
  request, ``elizaos_interop.plugin._bridge``), and the hosts of these cells are Rust and
  TypeScript, so only the plugin side is slowed; the pipe floor the detector divides by is not.

Two designs, one decision rule:

- ``reference`` (default, ~11 bench runs): one reference run, then ``--runs`` unchanged and
  ``--runs`` slowed runs, alternated (U S U S ...) so that the machine's drift over the
  experiment hits both modes alike, each compared with the reference through ``--baseline``:
  the path of a committed baseline, drift between the reference and the run included.
- ``interleaved`` (``--design interleaved``, ~7 times as long): every run is
  ``bench --candidate-env ELIZAOS_INTEROP_TEST_DELAY_US=N``, this tree with the variable against
  this tree without it in 4 alternating blocks a side within one run (``N=0``, which wraps
  nothing, for the unchanged mode): the path of ``bench --compare``, which slow drift cannot
  fool. Each block is a fresh process, so a run costs 8 start-ups; fewer blocks are not an
  option: with 2 a side, an unchanged run on a machine at load 19 gave an interval [1.40, 1.61]
  (the spread between blocks is not estimated from two).

Each run's top-line verdict (:func:`testkit._report.overall_verdict`) is judged:

- unchanged: ``regressed`` is a false alarm (the claim fails); ``passed`` and ``inconclusive`` are
  right (inconclusive is exactly the detector declining to cry wolf on a busy machine);
- slowed: ``regressed`` with every measured cell flagged is right; ``passed``, or ``regressed``
  leaving a cell unflagged, is a missed slowdown (the claim fails); ``inconclusive`` (the
  interval straddles the threshold, or the machine's load was above 1 per core) proves nothing
  either way: the experiment is then ``unproved``, not passed;
- ``failed`` (a cell could not be measured) is a broken run: the experiment cannot conclude.

The experiment is ``proved`` (exit 0) when every run is right, ``refuted`` (exit 1) on a false
alarm or a missed slowdown, ``broken`` (exit 1) when a run failed, else ``unproved`` (exit 3:
measure again on a quieter machine). ``bench-selftest.md`` holds one row per run: mode,
verdict, load, and every flagged (cell, method) with the p50 before and after and the interval
of the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DELAY_VAR",
    "Flag",
    "RunOutcome",
    "judge_experiment",
    "judge_run",
    "main",
    "render_markdown",
]

#: The test-only busy wait of the Python plugin bridge, in microseconds per request.
DELAY_VAR = "ELIZAOS_INTEROP_TEST_DELAY_US"
DEFAULT_CELLS = "rust-host/py-plugin/ipc,ts-host/py-plugin/ipc"
#: Alternating blocks a side of an interleaved run.
BLOCKS = 4
#: Exit status of each experiment outcome.
EXIT = {"proved": 0, "refuted": 1, "broken": 1, "unproved": 3}

Runner = Callable[[Sequence[str], Mapping[str, str]], int]


@dataclass(frozen=True)
class Flag:
    """One (cell, method) the comparison flagged as a regression."""

    cell: str
    method: str
    before_p50_ns: float
    after_p50_ns: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class RunOutcome:
    """One run of the experiment, judged: ``right`` is ``ok`` or what went wrong."""

    run: int
    mode: str
    verdict: str
    right: str
    flags: tuple[Flag, ...] = ()
    inconclusive: int = 0
    load_per_core: float | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _load_per_core(results: Mapping[str, Any]) -> float | None:
    env = results.get("environment") or {}
    lat = results.get("latency") or {}
    loads = [
        float(x[0])
        for x in (lat.get("load_average_start"), lat.get("load_average_end"), env.get("load_average"))
        if x
    ]
    cores = env.get("cores_available") or env.get("cores") or 0
    return max(loads) / cores if loads and cores else None


def judge_run(run: int, mode: str, results: Mapping[str, Any], cells: Sequence[str] = ()) -> RunOutcome:
    """Judge one compared run (its results.json with a ``baseline`` member) by the module's rule.

    ``cells`` are the cell ids the run was asked for: one without a single comparison (not in
    the matrix, or not measured) makes the run broken, not silently smaller."""
    if mode not in ("unchanged", "slowed"):
        raise ValueError(f"mode must be 'unchanged' or 'slowed', received {mode!r}")
    verdict = str((results.get("verdict") or {}).get("verdict", "missing"))
    base = results.get("baseline") or {}
    flags = tuple(
        Flag(
            str(c["cell"]),
            str(c["method"]),
            float(c["baseline_p50_ns"]),
            float(c["p50_ns"]),
            float(c["ci_low"]),
            float(c["ci_high"]),
        )
        for c in base.get("comparisons", [])
        if c.get("verdict") == "regression"
    )
    measured = sorted({str(c["cell"]) for c in base.get("comparisons", [])})
    absent = [cell for cell in cells if cell not in measured]
    unflagged = [cell for cell in measured if all(f.cell != cell for f in flags)]
    if verdict in ("failed", "missing") or not base:
        right = "broken run"
    elif absent or not measured:
        right = f"broken run (no comparison of {', '.join(absent) or 'any cell'})"
    elif mode == "unchanged":
        right = "false alarm" if verdict == "regressed" else "ok"
    elif verdict == "inconclusive":
        right = "unproved"
    elif verdict == "regressed" and measured and not unflagged:
        right = "ok"
    else:
        right = "missed slowdown" + (f" ({', '.join(unflagged)} not flagged)" if unflagged else "")
    return RunOutcome(
        run=run,
        mode=mode,
        verdict=verdict,
        right=right,
        flags=flags,
        inconclusive=len(base.get("inconclusive", [])),
        load_per_core=_load_per_core(results),
        reasons=tuple(str(r) for r in (results.get("verdict") or {}).get("reasons", [])),
    )


def judge_experiment(outcomes: Sequence[RunOutcome]) -> tuple[str, str]:
    """The experiment's outcome (``proved``, ``refuted``, ``broken``, ``unproved``) and why."""
    if not outcomes or not {o.mode for o in outcomes} >= {"unchanged", "slowed"}:
        return "broken", "the experiment needs runs of both modes"
    false_alarms = [o.run for o in outcomes if o.right == "false alarm"]
    missed = [o.run for o in outcomes if o.right.startswith("missed")]
    if false_alarms or missed:
        parts = []
        if false_alarms:
            parts.append(f"false alarm on the unchanged tree in run(s) {', '.join(map(str, false_alarms))}")
        if missed:
            parts.append(f"slowed build not flagged in run(s) {', '.join(map(str, missed))}")
        return "refuted", "; ".join(parts)
    broken = [o.run for o in outcomes if o.right.startswith("broken run")]
    if broken:
        return "broken", f"run(s) {', '.join(map(str, broken))} could not be measured: no conclusion"
    unproved = [o.run for o in outcomes if o.right == "unproved"]
    if unproved:
        return "unproved", (
            f"slowed run(s) {', '.join(map(str, unproved))} came out inconclusive (busy machine or an "
            "interval straddling the threshold): no false alarm, but the detection is not proved; "
            "measure again on a quieter machine"
        )
    return "proved", "no false alarm on the unchanged tree, every slowed run flagged on every cell"


def _us(ns: float) -> str:
    return f"{ns / 1000:.1f} µs"


def render_markdown(
    outcomes: Sequence[RunOutcome], status: str, why: str, *, design: str, cells: str, delay_us: int
) -> str:
    """``bench-selftest.md``: the claim, the outcome, one row per run."""
    lines = [
        "# Benchmark regression detector: self-test",
        "",
        f"Cells `{cells}`, pinned; slowed = `{DELAY_VAR}={delay_us}` (busy wait per request in the Python "
        f"plugin bridge); design `{design}` (see `testkit/_bench_selftest.py`).",
        "",
        f"**Outcome: {status}**: {why}.",
        "",
        "| run | mode | verdict | judged | load/core | flagged (before -> after p50, 95 % CI of the ratio) |",
        "|---:|---|---|---|---:|---|",
    ]
    for o in outcomes:
        flags = "<br>".join(
            f"`{f.cell}::{f.method}` {_us(f.before_p50_ns)} -> {_us(f.after_p50_ns)} "
            f"[{f.ci_low:.2f}, {f.ci_high:.2f}]"
            for f in o.flags
        )
        if o.inconclusive:
            flags += f"{'<br>' if flags else ''}{o.inconclusive} inconclusive"
        load = "-" if o.load_per_core is None else f"{o.load_per_core:.2f}"
        lines.append(f"| {o.run} | {o.mode} | {o.verdict} | {o.right} | {load} | {flags or 'none'} |")
    lines += [
        "",
        "Rule: an unchanged run must not be `regressed`; a slowed run must be `regressed` with every cell "
        "flagged. `inconclusive` (load above 1 per core, or an interval straddling the 1.2x threshold) is "
        "no false alarm, and no detection either. Flagged pairs (interval wholly above the threshold) are "
        "listed even when the machine's load turned the run's verdict to `inconclusive`.",
        "",
    ]
    return "\n".join(lines)


def _bench(
    run: Runner,
    out: Path,
    cells: str,
    extra: Sequence[str],
    env: Mapping[str, str],
    matrix: Path | None,
) -> dict[str, Any]:
    argv = [
        sys.executable,
        "-m",
        "testkit.cli",
        "bench",
        *([str(matrix)] if matrix is not None else []),
        "--pin",
        "--cells",
        cells,
        "--out",
        str(out),
        *extra,
    ]
    code = run(argv, env)
    path = out / "results.json"
    if not path.is_file():
        raise RuntimeError(f"`{' '.join(argv)}` wrote no {path} (exit {code})")
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def _subprocess(argv: Sequence[str], env: Mapping[str, str]) -> int:
    return subprocess.run(list(argv), env=dict(env), check=False).returncode


def experiment(
    *,
    cells: str,
    runs: int,
    delay_us: int,
    design: str,
    work: Path,
    matrix: Path | None = None,
    run: Runner = _subprocess,
    progress: Callable[[str], None] = print,
) -> list[RunOutcome]:
    """Make the runs of the experiment (see the module docstring) and judge each; ``cells`` are
    comma-separated cell ids of ``matrix``."""
    wanted = [c.strip() for c in cells.split(",") if c.strip()]
    base_env = {k: v for k, v in os.environ.items() if k != DELAY_VAR}
    outcomes: list[RunOutcome] = []
    reference = work / "reference"
    if design == "reference":
        progress(f"reference run of {cells}")
        _bench(run, reference, cells, ["--no-baseline"], base_env, matrix)
    for k in range(1, runs + 1):
        for mode in ("unchanged", "slowed"):
            out = work / f"{mode}-{k}"
            delay = delay_us if mode == "slowed" else 0
            progress(f"run {k}/{runs}: {mode}")
            if design == "reference":
                env = dict(base_env, **({DELAY_VAR: str(delay)} if delay else {}))
                doc = _bench(run, out, cells, ["--baseline", str(reference / "results.json")], env, matrix)
            else:
                candidate = ["--candidate-env", f"{DELAY_VAR}={delay}", "--repeats", str(BLOCKS)]
                doc = _bench(run, out, cells, candidate, base_env, matrix)
            outcome = judge_run(k, mode, doc, wanted)
            progress(f"run {k}/{runs}: {mode}: {outcome.verdict} -> {outcome.right}")
            outcomes.append(outcome)
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m testkit._bench_selftest``: run the experiment, write the table, exit by outcome."""
    parser = argparse.ArgumentParser(prog="python -m testkit._bench_selftest", description=__doc__)
    parser.add_argument(
        "--cells",
        default=DEFAULT_CELLS,
        help=f"comma-separated ids of cells with a Python plugin ({DEFAULT_CELLS})",
    )
    parser.add_argument(
        "--matrix",
        type=Path,
        default=None,
        help="matrix TOML holding the cells (default: matrices/full.toml)",
    )
    parser.add_argument("--runs", type=int, default=5, help="runs of each mode (default 5)")
    parser.add_argument("--delay-us", type=int, default=20, help="busy wait of the slowed build (default 20)")
    parser.add_argument("--design", choices=("reference", "interleaved"), default="reference")
    parser.add_argument(
        "--out", type=Path, default=Path("reports/latest"), help="where bench-selftest.md goes"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.delay_us < 1:
        parser.error("--runs and --delay-us must be >= 1")
    work = args.out / "bench-selftest"
    try:
        if args.matrix is None:
            from testkit._toolchains import find_repo_root

            args.matrix = find_repo_root() / "matrices" / "full.toml"
        outcomes = experiment(
            cells=args.cells,
            runs=args.runs,
            delay_us=args.delay_us,
            design=args.design,
            work=work,
            matrix=args.matrix,
        )
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"bench_selftest: {exc}", file=sys.stderr)
        return 2
    status, why = judge_experiment(outcomes)
    page = args.out / "bench-selftest.md"
    page.write_text(
        render_markdown(outcomes, status, why, design=args.design, cells=args.cells, delay_us=args.delay_us),
        encoding="utf-8",
    )
    print(f"bench_selftest: {status}: {why} (wrote {page})")
    return EXIT[status]


if __name__ == "__main__":
    raise SystemExit(main())
