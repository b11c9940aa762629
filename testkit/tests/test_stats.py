"""The regression verdict on synthetic, seeded samples: no false alarms, real shifts always flagged."""

from __future__ import annotations

import random

import pytest

from testkit._stats import (
    DEFAULT_THRESHOLD,
    SampleGroup,
    classify,
    compare_groups,
    plural,
    seed_for,
    sketch,
)


def _latencies(rng: random.Random, n: int, center_ns: float, *, level: float = 1.0) -> list[float]:
    """Latency-like samples: a floor, log-normal jitter, and rare scheduler spikes (x5..x40)."""
    out: list[float] = []
    for _ in range(n):
        x = center_ns * level * rng.lognormvariate(0.0, 0.08)
        if rng.random() < 0.01:
            x *= rng.uniform(5.0, 40.0)
        out.append(x)
    return out


def _run(
    rng: random.Random, center_ns: float, *, repeats: int = 5, n: int = 400, jitter: float = 0.04
) -> list[SampleGroup]:
    """One run: ``repeats`` groups, each shifted by a between-repeat level (machine drift)."""
    return [
        SampleGroup.from_samples(_latencies(rng, n, center_ns, level=rng.lognormvariate(0.0, jitter)))
        for _ in range(repeats)
    ]


def test_equal_distributions_never_flag() -> None:
    rng = random.Random(1)
    verdicts = [
        compare_groups(_run(rng, 50_000.0), _run(rng, 50_000.0), key=f"pair-{i}", resamples=400).verdict
        for i in range(200)
    ]
    assert "regression" not in verdicts
    assert "improvement" not in verdicts
    assert verdicts.count("same") >= 190


def test_a_20us_shift_on_a_50us_cell_always_flags() -> None:
    rng = random.Random(2)
    for i in range(100):
        now = _run(rng, 70_000.0)
        base = _run(rng, 50_000.0)
        result = compare_groups(now, base, key=f"shift-{i}", resamples=400)
        assert result.verdict == "regression", result
        assert result.low > DEFAULT_THRESHOLD
        assert result.ratio == pytest.approx(1.4, rel=0.15)
        # The mirror image is an improvement.
        assert compare_groups(base, now, key=f"shift-{i}", resamples=400).verdict == "improvement"


def test_single_group_runs_flag_a_shift_too() -> None:
    rng = random.Random(3)
    now = _run(rng, 70_000.0, repeats=1, n=2000)
    base = _run(rng, 50_000.0, repeats=1, n=2000)
    assert compare_groups(now, base).verdict == "regression"


def test_a_single_repeat_baseline_borrows_the_noise_of_the_other_run() -> None:
    rng = random.Random(6)
    base = _run(rng, 50_000.0, repeats=1, n=2000)
    now = [
        SampleGroup.from_samples(_latencies(rng, 400, 50_000.0, level=lv))
        for lv in (1.22, 1.26, 1.30, 1.34, 1.38)
    ]
    # A baseline of five identical repeats claims to be noiseless: the shift then looks certain.
    assert compare_groups(now, base * 5).verdict == "regression"
    # One repeat claims nothing: it gets the spread of the run it is compared with.
    assert compare_groups(now, base).verdict == "inconclusive"
    assert compare_groups(base, now).verdict == "inconclusive"


def test_a_noisy_machine_gives_inconclusive_not_a_regression() -> None:
    rng = random.Random(4)
    # Repeats 30 % apart from one another: the shift of the medians is within that noise.
    noisy_now = [
        SampleGroup.from_samples(_latencies(rng, 400, 50_000.0, level=lv)) for lv in (1.0, 1.5, 1.25)
    ]
    base = _run(rng, 50_000.0)
    result = compare_groups(noisy_now, base)
    assert result.verdict == "inconclusive", result
    assert result.low < DEFAULT_THRESHOLD < result.high


def test_verdicts_are_reproducible() -> None:
    rng = random.Random(5)
    now, base = _run(rng, 56_000.0), _run(rng, 50_000.0)
    assert compare_groups(now, base, key="k") == compare_groups(now, base, key="k")
    assert seed_for("a") != seed_for("b")


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (1.21, 1.5, "regression"),
        (0.5, 0.8, "improvement"),
        (0.9, 1.1, "same"),
        (1.1, 1.3, "inconclusive"),
        (0.7, 0.9, "inconclusive"),
        (0.5, 1.5, "inconclusive"),
    ],
)
def test_classify(low: float, high: float, expected: str) -> None:
    assert classify(low, high, 1.2) == expected


def test_sketch_and_quantile_function() -> None:
    samples = list(range(1, 102))  # 1..101
    sk = sketch(samples)
    assert len(sk) == 101
    assert (sk[0], sk[50], sk[-1]) == (1, 51, 101)
    group = SampleGroup.from_sketch(101, sk)
    assert group.median == 51
    assert group.quantile(0.255) == pytest.approx(26.5)
    with pytest.raises(ValueError, match="empty"):
        sketch([])


def test_group_from_a_summary_of_an_older_results_file() -> None:
    group = SampleGroup.from_stats(
        {"n": 2000, "min_ns": 10.0, "p50_ns": 20.0, "p90_ns": 30.0, "p99_ns": 90.0, "max_ns": 80.0}
    )
    assert group.median == 20.0
    assert group.values[-1] == 90.0  # max below p99 (rounding) is clamped, never decreasing
    # Identical summaries compare as identical: the line from p50 to p90 says nothing of the spread.
    result = compare_groups([group], [group])
    assert (result.low, result.high, result.verdict) == (1.0, 1.0, "same")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 1.0}, "threshold must be > 1.0"),
        ({"confidence": 1.0}, "confidence"),
        ({"resamples": 10}, "resamples"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, float], message: str) -> None:
    group = SampleGroup.from_samples([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=message):
        compare_groups([group], [group], **kwargs)  # type: ignore[arg-type]


def test_bad_groups_are_refused() -> None:
    with pytest.raises(ValueError, match="n >= 1"):
        SampleGroup(0, (0.0, 1.0), (1.0, 2.0))
    with pytest.raises(ValueError, match="non-decreasing"):
        SampleGroup(3, (0.0, 1.0), (2.0, 1.0))
    with pytest.raises(ValueError, match="from 0 to 1"):
        SampleGroup(3, (0.1, 1.0), (1.0, 2.0))


@pytest.mark.parametrize(("count", "text"), [(0, "0 calls"), (1, "1 call"), (2, "2 calls")])
def test_plural(count: int, text: str) -> None:
    assert plural(count, "call") == text
    assert plural(1, "regression") == "1 regression"
