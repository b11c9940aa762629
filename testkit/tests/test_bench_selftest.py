"""The decision of ``nox -s bench_selftest`` on synthetic runs: it can fail, and says why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from testkit._bench_selftest import (
    DELAY_VAR,
    EXIT,
    RunOutcome,
    experiment,
    judge_experiment,
    judge_run,
    render_markdown,
)

CELLS = ("rust-host/py-plugin/ipc", "ts-host/py-plugin/ipc")


def _comparison(cell: str, method: str, verdict: str, change: float) -> dict[str, Any]:
    low, high = {"regression": (1.5, 2.5), "same": (0.9, 1.1), "inconclusive": (1.1, 1.6)}[verdict]
    return {
        "cell": cell,
        "method": method,
        "baseline_p50_ns": 24_000.0,
        "p50_ns": 24_000.0 * change,
        "ci_low": low,
        "ci_high": high,
        "verdict": verdict,
    }


def _results(verdict: str, per_cell: Mapping[str, str], load: float = 0.4) -> dict[str, Any]:
    """A compared run: the top-line ``verdict`` and, per cell, the verdict of its two methods."""
    comparisons = [
        _comparison(cell, method, v, 1.9 if v == "regression" else 1.0)
        for cell, v in per_cell.items()
        for method in ("invokeAction:echo:100B", "validateAction:echo")
    ]
    return {
        "verdict": {"verdict": verdict, "reasons": []},
        "environment": {"cores_available": 2, "load_average": [load * 2, 0.0, 0.0]},
        "latency": {},
        "baseline": {
            "comparisons": comparisons,
            "regressions": [
                f"{c['cell']}::{c['method']}" for c in comparisons if c["verdict"] == "regression"
            ],
            "inconclusive": [
                f"{c['cell']}::{c['method']}" for c in comparisons if c["verdict"] == "inconclusive"
            ],
        },
    }


SAME = _results("passed", dict.fromkeys(CELLS, "same"))
SLOWED = _results("regressed", dict.fromkeys(CELLS, "regression"))


def _experiment(unchanged: dict[str, Any], slowed: dict[str, Any], runs: int = 5) -> list[RunOutcome]:
    return [
        o
        for k in range(1, runs + 1)
        for o in (judge_run(k, "unchanged", unchanged), judge_run(k, "slowed", slowed))
    ]


def test_both_right_is_proved() -> None:
    outcomes = _experiment(SAME, SLOWED)
    assert all(o.right == "ok" for o in outcomes)
    status, _why = judge_experiment(outcomes)
    assert status == "proved"
    assert EXIT[status] == 0
    assert len(outcomes[1].flags) == 4
    assert outcomes[1].load_per_core == pytest.approx(0.4)


def test_a_false_alarm_on_the_unchanged_tree_fails() -> None:
    outcomes = _experiment(SAME, SLOWED)
    outcomes[4] = judge_run(3, "unchanged", SLOWED)
    status, why = judge_experiment(outcomes)
    assert (status, EXIT[status]) == ("refuted", 1)
    assert "false alarm on the unchanged tree in run(s) 3" in why


def test_a_missed_slowdown_fails() -> None:
    outcomes = _experiment(SAME, SLOWED)
    outcomes[3] = judge_run(2, "slowed", SAME)
    status, why = judge_experiment(outcomes)
    assert (status, EXIT[status]) == ("refuted", 1)
    assert "slowed build not flagged in run(s) 2" in why


def test_a_slowed_run_must_flag_every_cell() -> None:
    half = _results("regressed", {CELLS[0]: "regression", CELLS[1]: "same"})
    outcome = judge_run(1, "slowed", half)
    assert outcome.right == f"missed slowdown ({CELLS[1]} not flagged)"
    assert judge_experiment([judge_run(1, "unchanged", SAME), outcome])[0] == "refuted"


def test_inconclusive_is_no_false_alarm_and_no_detection() -> None:
    busy_same = _results("inconclusive", dict.fromkeys(CELLS, "inconclusive"), load=3.0)
    busy_slowed = _results("inconclusive", dict.fromkeys(CELLS, "regression"), load=3.0)
    assert judge_run(1, "unchanged", busy_same).right == "ok"
    assert judge_run(1, "slowed", busy_slowed).right == "unproved"
    status, why = judge_experiment(_experiment(busy_same, busy_slowed))
    assert (status, EXIT[status]) == ("unproved", 3)
    assert "quieter machine" in why
    # A false alarm elsewhere still refutes, whatever the load did to the other runs.
    outcomes = _experiment(busy_same, busy_slowed)
    outcomes[0] = judge_run(1, "unchanged", SLOWED)
    assert judge_experiment(outcomes)[0] == "refuted"


def test_a_run_that_failed_is_broken_not_passed() -> None:
    failed = dict(SLOWED, verdict={"verdict": "failed", "reasons": ["1 cell failed"]})
    outcomes = _experiment(SAME, SLOWED)
    outcomes[1] = judge_run(1, "slowed", failed)
    assert judge_experiment(outcomes)[0] == "broken"
    assert judge_experiment([judge_run(1, "unchanged", SAME)])[0] == "broken"  # one mode only


def test_the_table_names_the_flagged_pairs() -> None:
    outcomes = _experiment(SAME, SLOWED, runs=1)
    status, why = judge_experiment(outcomes)
    page = render_markdown(outcomes, status, why, design="reference", cells=",".join(CELLS), delay_us=20)
    assert "**Outcome: proved**" in page
    assert "| 1 | slowed | regressed | ok | 0.40 |" in page
    assert "`rust-host/py-plugin/ipc::invokeAction:echo:100B` 24.0 µs -> 45.6 µs [1.50, 2.50]" in page
    assert "| 1 | unchanged | passed | ok | 0.40 | none |" in page


@pytest.mark.parametrize("design", ["reference", "interleaved"])
def test_the_runs_set_the_delay_on_the_slowed_side_only(tmp_path: Path, design: str) -> None:
    import json

    calls: list[tuple[list[str], dict[str, str]]] = []

    def runner(argv: Sequence[str], env: Mapping[str, str]) -> int:
        calls.append((list(argv), dict(env)))
        out = Path(argv[argv.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        slowed = env.get(DELAY_VAR) == "20" or f"{DELAY_VAR}=20" in argv
        doc = SLOWED if slowed else SAME
        (out / "results.json").write_text(json.dumps(doc), encoding="utf-8")
        return 0

    outcomes = experiment(
        cells=",".join(CELLS),
        runs=2,
        delay_us=20,
        design=design,
        work=tmp_path,
        run=runner,
        progress=lambda _m: None,
    )
    assert [o.mode for o in outcomes] == ["unchanged", "slowed", "unchanged", "slowed"]
    assert judge_experiment(outcomes)[0] == "proved"
    if design == "reference":
        assert len(calls) == 5
        assert "--no-baseline" in calls[0][0]
        assert [env.get(DELAY_VAR) for _a, env in calls] == [None, None, "20", None, "20"]
    else:
        assert len(calls) == 4
        assert all(DELAY_VAR not in env for _a, env in calls)  # set by --candidate-env, one side only
        assert [a[a.index("--candidate-env") + 1] for a, _e in calls] == [
            f"{DELAY_VAR}=0",
            f"{DELAY_VAR}=20",
        ] * 2


def test_a_cell_asked_for_but_not_compared_breaks_the_run() -> None:
    only_one = _results("regressed", {CELLS[0]: "regression"})
    outcome = judge_run(1, "slowed", only_one, CELLS)
    assert outcome.right == f"broken run (no comparison of {CELLS[1]})"
    assert (
        judge_run(1, "slowed", _results("passed", {}), ()).right == "broken run (no comparison of any cell)"
    )
    assert judge_experiment([judge_run(1, "unchanged", SAME, CELLS), outcome])[0] == "broken"
