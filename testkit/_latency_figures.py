"""What a latency measurement is made of: profiles, sample statistics, floors and budget verdicts,
and the payloads of the timed methods (:mod:`testkit._latency` runs them)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from testkit._matrix import Budget

__all__ = [
    "HUGE_PAYLOAD",
    "IN_FLIGHT",
    "LARGE_PAYLOAD",
    "PROFILES",
    "SMALL_PAYLOAD",
    "WARMUP_MAX_FACTOR",
    "BudgetVerdict",
    "Floor",
    "LatencyError",
    "MethodSpec",
    "Profile",
    "Stats",
    "bench_methods",
    "compute_stats",
    "json_cost_samples",
    "judge",
    "memory_for_params_size",
    "percentile",
    "throughput_counts",
    "warmup_text",
]

SMALL_PAYLOAD = 100
LARGE_PAYLOAD = 10 * 1024
HUGE_PAYLOAD = 1024 * 1024
#: Calls outstanding in the throughput measurement of IPC cells.
IN_FLIGHT: tuple[int, ...] = (1, 8, 64)
#: A 1 MiB call is timed with 1/HUGE_SHARE of the profile's samples (at least HUGE_MIN_SAMPLES in
#: the whole run), so the quick profile stays quick.
HUGE_SHARE = 20
HUGE_MIN_SAMPLES = 30
_FILLER = "The quick brown fox jumps over the lazy dog. "


class LatencyError(RuntimeError):
    """A latency run cannot start or a result file is malformed (says what and where)."""


@dataclass(frozen=True)
class Profile:
    """How many calls to time: ``warmup`` untimed calls, then ``iterations`` samples.

    ``warmup_s`` is a floor on the warm-up pass's time per call: a JIT (V8 in the Node host and the
    Node plugin bridge, JavaScriptCore in Bun) reaches its top tier after a number of calls, and a
    count fit for a 30 µs IPC call leaves a 4 µs WASM call (or the Node host's pipe floor) short of
    it. The pass keeps calling, in doubling batches, until that long has passed (at most
    :data:`WARMUP_MAX_FACTOR` times ``warmup`` calls), the way JMH warms up for a time.
    """

    name: str
    warmup: int
    iterations: int
    warmup_s: float = 0.0


def warmup_text(warmup: int, warmup_s: float) -> str:
    """How a run warms up, for people: ``300 warm-up`` or ``300 warm-up (at least 0.2 s)``."""
    floor = f" (at least {warmup_s:g} s)" if warmup_s > 0 else ""
    return f"{warmup} warm-up{floor}"


#: The warm-up pass of one call grows to at most this many times the profile's ``warmup`` calls.
WARMUP_MAX_FACTOR = 64

#: ``quick`` is the CI default (the default matrix in well under two minutes); ``full`` is long.
PROFILES: Mapping[str, Profile] = {
    "quick": Profile("quick", warmup=300, iterations=2000, warmup_s=0.2),
    "full": Profile("full", warmup=2000, iterations=20000, warmup_s=0.5),
}


# --- statistics ----------------------------------------------------------------------------


def percentile(sorted_samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks.

    This is the "inclusive" definition (numpy's default, R type 7): position ``q/100 * (n-1)``
    in the sorted samples, interpolated. ``sorted_samples`` must be sorted and non-empty.
    """
    if not sorted_samples:
        raise ValueError("percentile of an empty sample set")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be within [0, 100], received {q!r}")
    pos = q / 100.0 * (len(sorted_samples) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_samples) - 1)
    frac = pos - lo
    return float(sorted_samples[lo]) + (float(sorted_samples[hi]) - float(sorted_samples[lo])) * frac


@dataclass(frozen=True)
class Stats:
    """Summary of one sample set, in nanoseconds."""

    n: int
    p50_ns: float
    p90_ns: float
    p99_ns: float
    mean_ns: float
    min_ns: float
    max_ns: float

    def to_json(self) -> dict[str, Any]:
        """JSON form (results.json ``stats``)."""
        return {
            "n": self.n,
            "p50_ns": self.p50_ns,
            "p90_ns": self.p90_ns,
            "p99_ns": self.p99_ns,
            "mean_ns": self.mean_ns,
            "min_ns": self.min_ns,
            "max_ns": self.max_ns,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Stats:
        """Inverse of :meth:`to_json`."""
        return cls(
            n=int(data["n"]),
            p50_ns=float(data["p50_ns"]),
            p90_ns=float(data["p90_ns"]),
            p99_ns=float(data["p99_ns"]),
            mean_ns=float(data["mean_ns"]),
            min_ns=float(data["min_ns"]),
            max_ns=float(data["max_ns"]),
        )


def compute_stats(samples: Sequence[float]) -> Stats:
    """n, p50, p90, p99, mean, min and max of ``samples`` (ns); refuses empty or negative sets."""
    if not samples:
        raise ValueError("no samples: the benchmark returned an empty list")
    bad = [s for s in samples if not isinstance(s, int | float) or isinstance(s, bool) or s < 0]
    if bad:
        raise ValueError(
            f"samples must be non-negative numbers of nanoseconds, received {bad[0]!r} "
            f"({len(bad)} bad of {len(samples)})"
        )
    ordered = sorted(float(s) for s in samples)
    return Stats(
        n=len(ordered),
        p50_ns=percentile(ordered, 50),
        p90_ns=percentile(ordered, 90),
        p99_ns=percentile(ordered, 99),
        mean_ns=math.fsum(ordered) / len(ordered),
        min_ns=ordered[0],
        max_ns=ordered[-1],
    )


# --- floors and verdicts -------------------------------------------------------------------


@dataclass(frozen=True)
class Floor:
    """The floor one measurement is compared with.

    ``kind`` is ``pipe`` (cat ping-pong of the same size), ``noop`` (no-op call through the same
    transport; older runs) or ``noop+json`` (no-op plus the JSON work the host does for the same
    payload, timed by the host's own ``benchJson``: every host, so every host's ratio means the
    same). ``p50_ns``/``p99_ns`` are the sums of the components' percentiles.
    """

    kind: str
    p50_ns: float
    p99_ns: float
    components: Mapping[str, Stats] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON form (results.json ``floor``)."""
        return {
            "kind": self.kind,
            "p50_ns": self.p50_ns,
            "p99_ns": self.p99_ns,
            "components": {k: v.to_json() for k, v in self.components.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Floor:
        """Inverse of :meth:`to_json`."""
        return cls(
            kind=str(data["kind"]),
            p50_ns=float(data["p50_ns"]),
            p99_ns=float(data["p99_ns"]),
            components={k: Stats.from_json(v) for k, v in data.get("components", {}).items()},
        )


@dataclass(frozen=True)
class BudgetVerdict:
    """A measurement judged against its transport's budget.

    ``met`` is the ratio verdict (p50 / floor p50 <= ``max_floor_ratio``), the one that counts;
    the absolute verdict (p50 <= ``p50_us``) is informational: the seed's absolute figures
    (e.g. ~10 ns for FFI) are below what some hosts can do at all (an empty CPython call is ~21 ns).
    """

    p50_us: float
    max_floor_ratio: float
    absolute_met: bool
    ratio: float | None
    ratio_met: bool | None

    @property
    def met(self) -> bool | None:
        """Whether the budget is met (the ratio verdict); ``None`` when there is no floor."""
        return self.ratio_met

    def to_json(self) -> dict[str, Any]:
        """JSON form (results.json ``budget``)."""
        return {
            "p50_us": self.p50_us,
            "max_floor_ratio": self.max_floor_ratio,
            "absolute_met": self.absolute_met,
            "ratio": self.ratio,
            "ratio_met": self.ratio_met,
            "met": self.met,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BudgetVerdict:
        """Inverse of :meth:`to_json`."""
        ratio = data.get("ratio")
        ratio_met = data.get("ratio_met")
        return cls(
            p50_us=float(data["p50_us"]),
            max_floor_ratio=float(data["max_floor_ratio"]),
            absolute_met=bool(data["absolute_met"]),
            ratio=None if ratio is None else float(ratio),
            ratio_met=None if ratio_met is None else bool(ratio_met),
        )


def judge(stats: Stats, floor: Floor | None, budget: Budget) -> BudgetVerdict:
    """Judge ``stats`` against ``budget``: absolute p50 and the ratio of p50 to the floor's p50."""
    absolute_met = stats.p50_ns <= budget.p50_us * 1000.0
    if floor is None or floor.p50_ns <= 0:
        return BudgetVerdict(budget.p50_us, budget.max_floor_ratio, absolute_met, None, None)
    ratio = stats.p50_ns / floor.p50_ns
    return BudgetVerdict(
        budget.p50_us, budget.max_floor_ratio, absolute_met, ratio, ratio <= budget.max_floor_ratio
    )


# --- payloads ------------------------------------------------------------------------------


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def memory_for_params_size(target_bytes: int) -> dict[str, Any]:
    """A Memory whose ``content.text`` makes ``invokeAction`` echo params ~``target_bytes`` of JSON.

    The params are ``{"name":"echo","memory":M,"state":{},"options":{}}`` in compact JSON; the
    text is ASCII, so characters and bytes agree. Targets below the empty-text size give "".
    """
    empty = {"name": "echo", "memory": {"content": {"text": ""}}, "state": {}, "options": {}}
    length = max(0, target_bytes - len(_compact(empty).encode("utf-8")))
    text = (_FILLER * (length // len(_FILLER) + 1))[:length]
    return {"content": {"text": text}}


@dataclass(frozen=True)
class MethodSpec:
    """One timed call: ``key`` is stable across runs (baseline comparison matches on it)."""

    key: str
    method: str
    name: str
    params: Mapping[str, Any]
    #: 1 for the profile's samples; N times fewer samples and warm-up calls (a large payload).
    share: int = 1

    def profile_for(self, profile: Profile, repeats: int = 1) -> Profile:
        """The counts of one repeat of this call: ``profile`` (one repeat's counts of ``repeats``)
        itself, or with ``share`` the run's samples divided by it (never below
        :data:`HUGE_MIN_SAMPLES` in the whole run, nor above the profile's) and fewer warm-up calls."""
        if self.share <= 1:
            return profile
        total = profile.iterations * repeats
        wanted = max(min(HUGE_MIN_SAMPLES, total), total // self.share)
        iterations = max(1, math.ceil(wanted / repeats))
        warmup = min(profile.warmup, max(2, profile.warmup // (self.share * 2)))
        # No time floor: a 1 MiB call is ms of copying, not code a JIT still has to tier up.
        return Profile(profile.name, warmup, iterations)

    @property
    def payload_bytes(self) -> int:
        """Size of the params in compact UTF-8 JSON."""
        return len(_compact(self.params).encode("utf-8"))

    def request_line(self) -> str:
        """The IPC request line a host writes for this call (the pipe floor echoes one this size)."""
        return _compact({"id": 1, "method": self.method, "params": self.params})


def bench_methods() -> tuple[MethodSpec, ...]:
    """The five timed calls of every cell, in report order (the 1 MiB echo with fewer samples)."""
    small = memory_for_params_size(SMALL_PAYLOAD)
    large = memory_for_params_size(LARGE_PAYLOAD)
    huge = memory_for_params_size(HUGE_PAYLOAD)
    return (
        MethodSpec(
            "invokeAction:echo:100B",
            "invokeAction",
            "echo",
            {"name": "echo", "memory": small, "state": {}, "options": {}},
        ),
        MethodSpec(
            "validateAction:echo",
            "validateAction",
            "echo",
            {"name": "echo", "memory": small, "state": {}},
        ),
        MethodSpec(
            "getProvider:static",
            "getProvider",
            "static",
            {"name": "static", "memory": small, "state": {}},
        ),
        MethodSpec(
            "invokeAction:echo:10KiB",
            "invokeAction",
            "echo",
            {"name": "echo", "memory": large, "state": {}, "options": {}},
        ),
        MethodSpec(
            "invokeAction:echo:1MiB",
            "invokeAction",
            "echo",
            {"name": "echo", "memory": huge, "state": {}, "options": {}},
            share=HUGE_SHARE,
        ),
    )


def throughput_counts(in_flight: int, profile: Profile) -> tuple[int, int]:
    """(calls, warm-up calls) of one throughput measurement with ``in_flight`` calls outstanding:
    one repeat's sample count, and at least 8 calls per worker, after 2 warm-up calls per worker."""
    return max(profile.iterations, 8 * in_flight), 2 * in_flight


def _plain(value: Any) -> Any:
    """``value`` with every Mapping a dict and every sequence a list (host result objects)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def json_cost_samples(params: Mapping[str, Any], result: Any, iterations: int, warmup: int) -> list[int]:
    """In-process cost of the JSON an in-process (FFI/WASM) Python host does for one call.

    Per sample: encode each JSON argument (memory, state, options) to UTF-8 as the host does,
    and decode the result envelope ``{"result": ...}``; timed with ``perf_counter_ns``. Empty
    objects are not encoded (any host passes the constant ``{}``), so the floor holds only work
    a host cannot avoid and never flatters the ratio.
    """
    args = [v for k, v in params.items() if k != "name" and v != {}]
    envelope = _compact({"result": _plain(result)}).encode("utf-8")
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
    decode = json.loads
    clock = time.perf_counter_ns
    samples: list[int] = []
    for i in range(warmup + iterations):
        start = clock()
        for arg in args:
            encode(arg).encode("utf-8")
        decode(envelope)
        elapsed = clock() - start
        if i >= warmup:
            samples.append(elapsed)
    return samples
