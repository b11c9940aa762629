"""Regression verdicts that do not cry wolf: a seeded bootstrap CI of the ratio of medians.

A latency run records, per (cell, method), the samples of each repeat (the cells are measured in
interleaved repeats, A B A B, so slow drift of the machine hits every cell alike) as a quantile
sketch. Comparing a run with its baseline asks: "did the median grow by more than the threshold,
beyond what the noise of both runs can explain?"

The answer is a two-stage (cluster) bootstrap of ``median(now) / median(baseline)``:

1. resample the repeats of each run with replacement (the between-repeat spread is where a busy
   machine shows: one repeat slowed by another process moves the whole repeat);
2. within each chosen repeat, draw its median as a bootstrap replicate of n samples would give
   it: the median of n draws from an empirical distribution is the quantile at a
   Beta((n+1)/2, (n+1)/2) distributed probability, so one draw per repeat is exact for the
   (interpolated) sketch and costs O(1) instead of O(n);
3. the run's statistic is the median of its repeats' medians; the replicate is their ratio.
   A run of one repeat (an older baseline) borrows the other run's between-repeat spread.

The percentile interval of ``resamples`` replicates (default 2,000, 95 %) gives the verdict
against the threshold ``t`` (default 1.2):

- ``regression``: the whole interval lies above ``t``;
- ``improvement``: the whole interval lies below ``1/t``;
- ``same``: the whole interval lies within ``[1/t, t]``;
- ``inconclusive``: the interval straddles ``t`` or ``1/t``: the runs were too noisy to tell.

The RNG is seeded from the comparison's key, so a verdict is reproducible bit for bit.
"""

from __future__ import annotations

import bisect
import math
import random
import statistics
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "DEFAULT_THRESHOLD",
    "SKETCH_POINTS",
    "ChangeVerdict",
    "SampleGroup",
    "Verdict",
    "classify",
    "compare_groups",
    "plural",
    "seed_for",
    "sketch",
]

#: Smallest ratio of medians (now / baseline) that counts as a regression (and 1/x an improvement).
DEFAULT_THRESHOLD = 1.2
DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20261201
#: Points of a stored quantile sketch: the percentiles 0, 1, ..., 100.
SKETCH_POINTS = 101

Verdict = Literal["regression", "improvement", "same", "inconclusive"]


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``"1 call"``, ``"2 calls"``, ``"0 calls"``: a count with the right noun form."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"


def _interpolate(ordered: Sequence[float], q: float) -> float:
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo]) + (float(ordered[hi]) - float(ordered[lo])) * (pos - lo)


def sketch(samples: Sequence[float], points: int = SKETCH_POINTS) -> list[float]:
    """Quantiles of ``samples`` at ``points`` evenly spaced probabilities 0..1 (inclusive).

    Rounded to 0.1 ns: the sketch is stored in results.json and the baseline, and sub-ns digits
    are noise.
    """
    if not samples:
        raise ValueError("cannot sketch an empty sample set")
    if points < 2:
        raise ValueError(f"a sketch needs at least 2 points, received {points}")
    ordered = sorted(float(s) for s in samples)
    return [round(_interpolate(ordered, i / (points - 1)), 1) for i in range(points)]


@dataclass(frozen=True)
class SampleGroup:
    """One repeat of one measurement: ``n`` samples described by their quantile function.

    ``probs`` (strictly increasing, from 0 to 1) and ``values`` (non-decreasing, ns) are the
    points of the quantile function; between them it is linear. A sketch from :func:`sketch`
    has evenly spaced probabilities; a group rebuilt from a summary (min, p50, p90, p99, max)
    of an older results file has uneven ones.
    """

    n: int
    probs: tuple[float, ...]
    values: tuple[float, ...]
    #: Rebuilt from five percentiles: the shape near the median is unknown (a line from p50 to
    #: p90 would overstate the median's spread many times), so the median is taken as exact and
    #: the run's noise comes from the other run's repeats (see :func:`compare_groups`).
    coarse: bool = False

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"a sample group needs n >= 1, received {self.n}")
        if len(self.probs) != len(self.values) or len(self.probs) < 2:
            raise ValueError(
                f"a sample group needs >= 2 (probability, value) points of equal count, received "
                f"{len(self.probs)} probabilities and {len(self.values)} values"
            )
        if self.probs[0] != 0.0 or self.probs[-1] != 1.0:
            raise ValueError(
                f"probabilities must run from 0 to 1, received {self.probs[0]}..{self.probs[-1]}"
            )
        if any(b <= a for a, b in zip(self.probs, self.probs[1:], strict=False)):
            raise ValueError("probabilities must be strictly increasing")
        if any(b < a for a, b in zip(self.values, self.values[1:], strict=False)):
            raise ValueError("quantile values must be non-decreasing")

    @classmethod
    def from_samples(cls, samples: Sequence[float], points: int = SKETCH_POINTS) -> SampleGroup:
        """The group of raw samples, through their sketch."""
        return cls.from_sketch(len(samples), sketch(samples, points))

    @classmethod
    def from_sketch(cls, n: int, quantiles: Sequence[float]) -> SampleGroup:
        """A group from evenly spaced quantiles (as :func:`sketch` returns them)."""
        k = len(quantiles)
        if k < 2:
            raise ValueError(f"a sketch needs at least 2 points, received {k}")
        return cls(n, tuple(i / (k - 1) for i in range(k)), tuple(float(v) for v in quantiles))

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any]) -> SampleGroup:
        """A coarse group from a results.json ``stats`` member (no sketch was stored)."""
        points = [
            (0.0, float(stats["min_ns"])),
            (0.5, float(stats["p50_ns"])),
            (0.9, float(stats["p90_ns"])),
            (0.99, float(stats["p99_ns"])),
            (1.0, float(stats["max_ns"])),
        ]
        values: list[float] = []
        for _p, v in points:  # clamp, in case rounding left a summary out of order
            values.append(max(v, values[-1]) if values else v)
        return cls(int(stats["n"]), tuple(p for p, _v in points), tuple(values), coarse=True)

    def quantile(self, q: float) -> float:
        """The value at probability ``q`` (0..1), linear between the stored points."""
        if q <= 0.0:
            return self.values[0]
        if q >= 1.0:
            return self.values[-1]
        i = bisect.bisect_right(self.probs, q) - 1
        p0, p1 = self.probs[i], self.probs[i + 1]
        v0, v1 = self.values[i], self.values[i + 1]
        return v0 + (v1 - v0) * (q - p0) / (p1 - p0)

    @property
    def median(self) -> float:
        """The group's median."""
        return self.quantile(0.5)

    def draw_median(self, rng: random.Random) -> float:
        """The median of one bootstrap resample of the group's ``n`` samples."""
        if self.coarse:
            return self.median
        a = (self.n + 1) / 2.0
        return self.quantile(rng.betavariate(a, a))


def _center(groups: Sequence[SampleGroup]) -> float:
    return float(statistics.median(g.median for g in groups))


def _levels(groups: Sequence[SampleGroup]) -> list[float]:
    """Each repeat's median relative to the run's center: the run's between-repeat noise."""
    center = _center(groups)
    return [g.median / center for g in groups] if center > 0 else [1.0]


def _replicate(groups: Sequence[SampleGroup], rng: random.Random, borrowed: Sequence[float]) -> float:
    if len(groups) == 1:
        # One repeat shows no between-repeat noise of its own; it is given the other run's
        # (``borrowed``), so a single-repeat baseline is not taken for a noiseless one.
        return groups[0].draw_median(rng) * (rng.choice(borrowed) if borrowed else 1.0)
    chosen = rng.choices(groups, k=len(groups))
    return float(statistics.median(g.draw_median(rng) for g in chosen))


@dataclass(frozen=True)
class ChangeVerdict:
    """``now / baseline`` ratio of medians, its bootstrap interval, and what that means."""

    ratio: float
    low: float
    high: float
    confidence: float
    threshold: float
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        """The members a results.json comparison records."""
        return {
            "change": self.ratio,
            "ci_low": self.low,
            "ci_high": self.high,
            "confidence": self.confidence,
            "verdict": self.verdict,
        }


def classify(low: float, high: float, threshold: float) -> Verdict:
    """The verdict of an interval ``[low, high]`` of the ratio against ``threshold``."""
    if low > threshold:
        return "regression"
    if high < 1.0 / threshold:
        return "improvement"
    if low >= 1.0 / threshold and high <= threshold:
        return "same"
    return "inconclusive"


def seed_for(key: str, seed: int = DEFAULT_SEED) -> int:
    """A stable per-comparison seed (crc32 of the key mixed with ``seed``)."""
    return (zlib.crc32(key.encode("utf-8")) ^ seed) & 0xFFFFFFFF


def compare_groups(
    now: Sequence[SampleGroup],
    baseline: Sequence[SampleGroup],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    key: str = "",
) -> ChangeVerdict:
    """Bootstrap the ratio of medians of ``now`` over ``baseline`` (see the module docstring)."""
    if threshold <= 1.0:
        raise ValueError(f"regression threshold must be > 1.0, received {threshold!r}")
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must be within [0.5, 1), received {confidence!r}")
    if resamples < 100:
        raise ValueError(f"at least 100 bootstrap resamples are needed, received {resamples}")
    if not now or not baseline:
        raise ValueError("both runs need at least one sample group to be compared")
    base_center = _center(baseline)
    if base_center <= 0:
        raise ValueError(f"the baseline median must be > 0 ns, received {base_center}")
    rng = random.Random(seed_for(key, seed))
    now_noise = _levels(now) if len(now) > 1 else []
    base_noise = _levels(baseline) if len(baseline) > 1 else []
    ratios: list[float] = []
    for _ in range(resamples):
        denominator = _replicate(baseline, rng, now_noise)
        ratios.append(_replicate(now, rng, base_noise) / denominator if denominator > 0 else math.inf)
    ratios.sort()
    tail = (1.0 - confidence) / 2.0
    low = _interpolate(ratios, tail)
    high = _interpolate(ratios, 1.0 - tail)
    ratio = _center(now) / base_center
    return ChangeVerdict(ratio, low, high, confidence, threshold, classify(low, high, threshold))
