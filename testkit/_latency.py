"""Latency of every cell, measured with the host's own clock against floors taken in the same run.

For each cell the conformance fixture is loaded through the cell's host driver and four calls are
timed with the driver's ``bench`` method (one sample per call, the host's monotonic clock):
``invokeAction echo`` with a ~100-byte and a ~10 KiB payload, ``validateAction echo`` and
``getProvider static``. Each is compared with a floor measured on the same host in the same run
(protocol.md section 10):

- IPC cells: a ``cat`` pipe ping-pong with a line of the same size as the request (``bench_pipe``);
- FFI and WASM cells: the no-op call through the same transport (``bench_noop``:
  ``elizaos_free_string(NULL)`` / ``dealloc(1, 0)``), plus, for the Python host, the cost of the
  JSON encoding and decoding that call does, measured in-process, because the budget for a
  Python FFI call is "within 3x a cffi no-op call plus JSON cost".

Cells run one after the other, never concurrently, so benchmarks do not compete for the cores.
A cell whose driver, runtime or artifact is missing is recorded as an error, never skipped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from testkit._drivers import HostDriver, fixture_spec, open_driver
from testkit._matrix import Budget, Cell, Matrix
from testkit._stats import sketch
from testkit._toolchains import Toolchains

__all__ = [
    "DEFAULT_REPEATS",
    "PROFILES",
    "BudgetVerdict",
    "CellLatency",
    "Figures",
    "Floor",
    "LatencyError",
    "LatencyResults",
    "MethodLatency",
    "MethodSpec",
    "Profile",
    "RepeatFigures",
    "Stats",
    "bench_methods",
    "compute_stats",
    "judge",
    "memory_for_params_size",
    "percentile",
    "pin_modes",
    "pinned",
    "rounds",
    "run_latency",
]

FIXTURE = "conformance"
SMALL_PAYLOAD = 100
LARGE_PAYLOAD = 10 * 1024
_FILLER = "The quick brown fox jumps over the lazy dog. "


class LatencyError(RuntimeError):
    """A latency run cannot start or a result file is malformed (says what and where)."""


@dataclass(frozen=True)
class Profile:
    """How many calls to time: ``warmup`` untimed calls, then ``iterations`` samples."""

    name: str
    warmup: int
    iterations: int


#: ``quick`` is the CI default (the default matrix in well under two minutes); ``full`` is long.
PROFILES: Mapping[str, Profile] = {
    "quick": Profile("quick", warmup=300, iterations=2000),
    "full": Profile("full", warmup=2000, iterations=20000),
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
    transport) or ``noop+json`` (no-op plus the in-process JSON cost of the same payload; Python
    host only). ``p50_ns``/``p99_ns`` are the sums of the components' percentiles.
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

    @property
    def payload_bytes(self) -> int:
        """Size of the params in compact UTF-8 JSON."""
        return len(_compact(self.params).encode("utf-8"))

    def request_line(self) -> str:
        """The IPC request line a host writes for this call (the pipe floor echoes one this size)."""
        return _compact({"id": 1, "method": self.method, "params": self.params})


def bench_methods() -> tuple[MethodSpec, ...]:
    """The four timed calls of every cell, in report order."""
    small = memory_for_params_size(SMALL_PAYLOAD)
    large = memory_for_params_size(LARGE_PAYLOAD)
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
    )


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


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepeatFigures:
    """One repeat of one measurement: its sample count, medians and quantile sketch.

    The repeats are what a baseline comparison resamples (:mod:`testkit._stats`): their spread
    is the noise of the machine at the time of the run.
    """

    n: int
    p50_ns: float
    floor_p50_ns: float | None
    quantiles_ns: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON form (results.json ``repeats[]``)."""
        return {
            "n": self.n,
            "p50_ns": self.p50_ns,
            "floor_p50_ns": self.floor_p50_ns,
            "quantiles_ns": list(self.quantiles_ns),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RepeatFigures:
        """Inverse of :meth:`to_json`."""
        floor = data.get("floor_p50_ns")
        return cls(
            n=int(data["n"]),
            p50_ns=float(data["p50_ns"]),
            floor_p50_ns=None if floor is None else float(floor),
            quantiles_ns=tuple(float(v) for v in data["quantiles_ns"]),
        )


@dataclass(frozen=True)
class Figures:
    """The figures of one method taken in one pinning mode: pooled stats, floor, verdict, repeats."""

    stats: Stats
    floor: Floor | None
    verdict: BudgetVerdict
    repeats: tuple[RepeatFigures, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON form (results.json ``latency.methods[].pinned``)."""
        return {
            "stats": self.stats.to_json(),
            "floor": None if self.floor is None else self.floor.to_json(),
            "budget": self.verdict.to_json(),
            "repeats": [r.to_json() for r in self.repeats],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Figures:
        """Inverse of :meth:`to_json`."""
        return cls(
            stats=Stats.from_json(data["stats"]),
            floor=None if data.get("floor") is None else Floor.from_json(data["floor"]),
            verdict=BudgetVerdict.from_json(data["budget"]),
            repeats=tuple(RepeatFigures.from_json(r) for r in data.get("repeats", [])),
        )


@dataclass(frozen=True)
class MethodLatency:
    """Latency of one method of one cell, its floor and verdict (or why it could not be measured).

    ``stats``/``floor``/``verdict``/``repeats`` are the run's main figures (unpinned unless the
    whole run was pinned); ``pinned`` holds the figures taken pinned to one CPU beside them when
    the run measured both (the ones a baseline comparison prefers).
    """

    key: str
    method: str
    name: str
    payload_bytes: int
    stats: Stats | None
    floor: Floor | None
    verdict: BudgetVerdict | None
    error: str | None = None
    repeats: tuple[RepeatFigures, ...] = ()
    pinned: Figures | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form (results.json ``latency.methods[]``)."""
        return {
            "key": self.key,
            "method": self.method,
            "name": self.name,
            "payload_bytes": self.payload_bytes,
            "stats": None if self.stats is None else self.stats.to_json(),
            "floor": None if self.floor is None else self.floor.to_json(),
            "budget": None if self.verdict is None else self.verdict.to_json(),
            "error": self.error,
            "repeats": [r.to_json() for r in self.repeats],
            "pinned": None if self.pinned is None else self.pinned.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MethodLatency:
        """Inverse of :meth:`to_json` (older files without repeats or pinned figures load too)."""
        return cls(
            key=str(data["key"]),
            method=str(data["method"]),
            name=str(data["name"]),
            payload_bytes=int(data["payload_bytes"]),
            stats=None if data.get("stats") is None else Stats.from_json(data["stats"]),
            floor=None if data.get("floor") is None else Floor.from_json(data["floor"]),
            verdict=None if data.get("budget") is None else BudgetVerdict.from_json(data["budget"]),
            error=data.get("error"),
            repeats=tuple(RepeatFigures.from_json(r) for r in data.get("repeats", [])),
            pinned=None if data.get("pinned") is None else Figures.from_json(data["pinned"]),
        )


@dataclass(frozen=True)
class CellLatency:
    """Latency of one cell: every method, or the error that stopped the cell."""

    cell_id: str
    host: str
    host_runtime: str | None
    plugin: str
    plugin_runtime: str | None
    transport: str
    driver_runtime: str | None
    methods: tuple[MethodLatency, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the cell was measured without any error."""
        return self.error is None and all(m.error is None for m in self.methods)

    @property
    def met(self) -> bool | None:
        """All methods met their ratio budget; ``None`` if something could not be judged."""
        if not self.ok or not self.methods:
            return None
        verdicts = [m.verdict.met if m.verdict else None for m in self.methods]
        if any(v is None for v in verdicts):
            return None
        return all(bool(v) for v in verdicts)

    def method(self, key: str) -> MethodLatency | None:
        """The method measurement with ``key``, if any."""
        return next((m for m in self.methods if m.key == key), None)

    def to_json(self) -> dict[str, Any]:
        """JSON form (results.json ``cells[].latency``)."""
        return {
            "status": "ok" if self.ok else "error",
            "error": self.error,
            "driver_runtime": self.driver_runtime,
            "met": self.met,
            "methods": [m.to_json() for m in self.methods],
        }

    @classmethod
    def from_json(cls, cell: Mapping[str, Any], data: Mapping[str, Any]) -> CellLatency:
        """Rebuild from a results.json cell (``cell``) and its ``latency`` member (``data``)."""
        return cls(
            cell_id=str(cell["id"]),
            host=str(cell["host"]),
            host_runtime=cell.get("host_runtime"),
            plugin=str(cell["plugin"]),
            plugin_runtime=cell.get("plugin_runtime"),
            transport=str(cell["transport"]),
            driver_runtime=data.get("driver_runtime"),
            methods=tuple(MethodLatency.from_json(m) for m in data.get("methods", [])),
            error=data.get("error"),
        )


@dataclass(frozen=True)
class LatencyResults:
    """Everything one latency run measured."""

    matrix_name: str
    matrix_path: str
    profile: Profile
    pinned: bool
    pinned_cpu: int | None
    started_at: str
    finished_at: str
    budgets: Mapping[str, Budget]
    cells: tuple[CellLatency, ...]
    repeats: int = 1
    #: ``both`` (unpinned figures plus pinned ones beside them), ``only`` (pinned), ``off``.
    pin_mode: str = "off"
    #: 1, 5 and 15 minute load averages when the measurement started and when it ended.
    load_start: tuple[float, ...] | None = None
    load_end: tuple[float, ...] | None = None

    @property
    def ok(self) -> bool:
        """True when every cell was measured."""
        return all(c.ok for c in self.cells)

    def cell(self, cell_id: str) -> CellLatency | None:
        """The cell measurement with ``cell_id``, if any."""
        return next((c for c in self.cells if c.cell_id == cell_id), None)

    def run_json(self) -> dict[str, Any]:
        """The run-level part of results.json (``latency``), without the per-cell data."""
        return {
            "profile": self.profile.name,
            "warmup": self.profile.warmup,
            "iterations": self.profile.iterations,
            "pinned": self.pinned,
            "pinned_cpu": self.pinned_cpu,
            "pin_mode": self.pin_mode,
            "repeats": self.repeats,
            "load_average_start": None if self.load_start is None else list(self.load_start),
            "load_average_end": None if self.load_end is None else list(self.load_end),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "budgets": {
                t: {"p50_us": b.p50_us, "floor": b.floor, "max_floor_ratio": b.max_floor_ratio}
                for t, b in sorted(self.budgets.items())
            },
        }


# --- pinning -------------------------------------------------------------------------------


@contextmanager
def pinned(enabled: bool) -> Iterator[int | None]:
    """Pin this process (and so every child it starts) to one CPU while the block runs.

    Children inherit the affinity at spawn time, so host drivers, plugins and ``cat`` started in
    the block share the core: the low-noise figures without the cross-CPU wake-up. Yields the CPU,
    or ``None`` when not pinning. The previous affinity is restored on exit.
    """
    if not enabled:
        yield None
        return
    if not hasattr(os, "sched_setaffinity"):
        raise LatencyError("--pin needs os.sched_setaffinity (Linux); this platform has none")
    previous = os.sched_getaffinity(0)
    cpu = max(previous)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, previous)


# --- the run -------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load() -> tuple[float, ...] | None:
    """The machine's 1, 5 and 15 minute load averages (how busy it was), if the OS says."""
    return tuple(round(x, 2) for x in os.getloadavg()) if hasattr(os, "getloadavg") else None


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _measure_cell(
    cell: Cell,
    budget: Budget,
    profile: Profile,
    toolchains: Toolchains,
    samples_out: dict[str, Any],
    progress: Callable[[str], None],
) -> CellLatency:
    """Open the cell's driver, load the fixture, time every method and its floor."""
    methods: list[MethodLatency] = []
    specs = bench_methods()
    driver_runtime: str | None = None

    def cell_result(error: str | None) -> CellLatency:
        return CellLatency(
            cell.id,
            cell.host,
            cell.host_runtime,
            cell.plugin,
            cell.plugin_runtime,
            cell.transport,
            driver_runtime,
            tuple(methods),
            error,
        )

    try:
        for req in toolchains.cell_requirements(cell, FIXTURE):
            if not req.present:
                raise req.error()
        spec = fixture_spec(toolchains, FIXTURE, cell.plugin, cell.transport, cell.plugin_runtime)
        driver = open_driver(cell.host, cell.host_runtime, toolchains)
    except Exception as exc:
        return cell_result(f"{cell.id}: cannot start: {_describe(exc)}")
    handle: str | None = None
    try:
        driver_runtime = driver.runtime
        try:
            handle, _manifest = driver.load(spec)
        except Exception as exc:
            return cell_result(f"{cell.id}: loading the {FIXTURE} fixture failed: {_describe(exc)}")
        noop: Stats | None = None
        floor_error: str | None = None
        if budget.floor == "noop":
            progress(f"{cell.id}: no-op floor")
            try:
                noop_samples = driver.bench_noop(handle, profile.iterations, profile.warmup)
                noop = compute_stats(noop_samples)
                samples_out["noop"] = noop_samples
            except Exception as exc:
                # The calls are still timed (their figures are worth having); without a floor
                # they cannot be judged, and the cell is reported as an error.
                floor_error = f"{cell.id}: no floor: benchNoop failed: {_describe(exc)}"
        # One untimed pass over every call first: JIT tiers (V8, JavaScriptCore), caches and
        # allocators settle for the whole plugin, so the first method timed is not the slow one.
        progress(f"{cell.id}: warm-up pass")
        for mspec in specs:
            with contextlib.suppress(Exception):  # a failing call is reported by its measurement
                driver.bench(handle, mspec.method, dict(mspec.params), profile.warmup, 0)
        for mspec in specs:
            progress(f"{cell.id}: {mspec.key}")
            methods.append(_measure_method(cell, driver, handle, mspec, budget, profile, noop, samples_out))
        if floor_error is not None:
            return cell_result(floor_error)
    finally:
        try:
            if handle is not None:
                driver.unload(handle)
        finally:
            driver.close()
    return cell_result(None)


def _measure_method(
    cell: Cell,
    driver: HostDriver,
    handle: str,
    mspec: MethodSpec,
    budget: Budget,
    profile: Profile,
    noop: Stats | None,
    samples_out: dict[str, Any],
) -> MethodLatency:
    """Check the call answers correctly once, then time it and its floor."""
    params = dict(mspec.params)

    def failed(error: str) -> MethodLatency:
        return MethodLatency(
            mspec.key,
            mspec.method,
            mspec.name,
            mspec.payload_bytes,
            None,
            None,
            None,
            f"{cell.id}: {mspec.method}({mspec.name!r}): {error}",
        )

    try:
        outcome = driver.call(handle, mspec.method, params)
    except Exception as exc:
        return failed(f"call failed: {_describe(exc)}")
    if not outcome.ok:
        return failed(f"the fixture answered {outcome.error_type} (code {outcome.code}): {outcome.message}")
    samples: list[int] = []
    pipe: list[int] = []
    line = mspec.request_line()
    # The call and its pipe floor alternate in rounds, so drift in this noisy machine's
    # scheduling over the measurement hits both alike instead of biasing the ratio.
    for count, warm in rounds(profile):
        try:
            samples += driver.bench(handle, mspec.method, params, count, warm)
        except Exception as exc:
            return failed(f"bench failed: {_describe(exc)}")
        if budget.floor == "pipe":
            try:
                pipe += driver.bench_pipe(["cat"], line, count, warm)
            except Exception as exc:
                return failed(f"floor (pipe) failed: {_describe(exc)}")
    try:
        stats = compute_stats(samples)
    except ValueError as exc:
        return failed(f"bench returned unusable samples: {exc}")
    record: dict[str, Any] = {"samples_ns": samples}
    floor: Floor | None
    try:
        if budget.floor == "pipe":
            pipe_stats = compute_stats(pipe)
            record["floor_samples_ns"] = pipe
            floor = Floor("pipe", pipe_stats.p50_ns, pipe_stats.p99_ns, {"pipe": pipe_stats})
        elif noop is None:
            floor = None
        elif cell.host == "python":
            js = json_cost_samples(params, outcome.value, profile.iterations, profile.warmup)
            js_stats = compute_stats(js)
            record["json_samples_ns"] = js
            floor = Floor(
                "noop+json",
                noop.p50_ns + js_stats.p50_ns,
                noop.p99_ns + js_stats.p99_ns,
                {"noop": noop, "json": js_stats},
            )
        else:
            floor = Floor("noop", noop.p50_ns, noop.p99_ns, {"noop": noop})
    except Exception as exc:
        return failed(f"floor ({budget.floor}) failed: {_describe(exc)}")
    samples_out[mspec.key] = record
    return MethodLatency(
        mspec.key, mspec.method, mspec.name, mspec.payload_bytes, stats, floor, judge(stats, floor, budget)
    )


#: Rounds a method's samples are split into, alternating with its pipe floor.
ROUNDS = 4


def rounds(profile: Profile) -> list[tuple[int, int]]:
    """(samples, warm-up) per round: ``profile`` split into up to :data:`ROUNDS` alternating rounds.

    Every round is warmed up again (the floor ran in between); the counts add up to the profile's.
    """
    n = max(1, min(ROUNDS, profile.iterations))
    base, extra = divmod(profile.iterations, n)
    wbase, wextra = divmod(profile.warmup, n)
    return [(base + (1 if i < extra else 0), wbase + (1 if i < wextra else 0)) for i in range(n)]


def _safe_name(cell_id: str) -> str:
    return cell_id.replace("/", "__").replace("@", "_at_")


#: Interleaved repeats of every cell per run (A B A B ...): the unit a comparison resamples.
DEFAULT_REPEATS = 5


def pin_modes(pin: bool | None, cpus: int | None = None) -> tuple[bool, ...]:
    """The pinning modes of a run, main mode first: ``True`` pinned to one CPU, ``False`` not.

    ``pin=None`` (the default) measures both when at least two CPUs are available (the pinned
    figures are the ones a baseline comparison uses, the unpinned ones are what users see), and
    unpinned only on one CPU, where pinning changes nothing. ``True``/``False`` force one mode.
    """
    if pin is True:
        return (True,)
    if pin is False:
        return (False,)
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return (False, True) if cpus >= 2 else (False,)


def _pool(cell: Cell, budget: Budget, runs: Sequence[tuple[CellLatency, Mapping[str, Any]]]) -> CellLatency:
    """One cell's repeats in one pinning mode pooled: stats and floors of every sample, repeats kept.

    An error in any repeat is the cell's (or the method's) error: a figure is only reported when
    every repeat measured it.
    """
    first = runs[0][0]
    for index, (result, _samples) in enumerate(runs):
        if result.error is not None:
            return dataclasses.replace(result, error=f"repeat {index + 1}: {result.error}")
    methods: list[MethodLatency] = []
    for position, method in enumerate(first.methods):
        parts = [(result.methods[position], samples) for result, samples in runs]
        failed = next((m for m, _s in parts if m.error is not None or m.stats is None), None)
        if failed is not None:
            methods.append(failed)
            continue
        calls: list[int] = []
        floor_samples: dict[str, list[int]] = {}
        repeats: list[RepeatFigures] = []
        for m, samples in parts:
            record = samples.get(m.key, {})
            own = list(record.get("samples_ns", []))
            calls += own
            kind = m.floor.kind if m.floor is not None else None
            if kind == "pipe":
                floor_samples.setdefault("pipe", []).extend(record.get("floor_samples_ns", []))
            elif kind in ("noop", "noop+json"):
                floor_samples.setdefault("noop", []).extend(samples.get("noop", []))
                if kind == "noop+json":
                    floor_samples.setdefault("json", []).extend(record.get("json_samples_ns", []))
            assert m.stats is not None  # checked above
            repeats.append(
                RepeatFigures(
                    len(own), m.stats.p50_ns, None if m.floor is None else m.floor.p50_ns, tuple(sketch(own))
                )
            )
        stats = compute_stats(calls)
        floor: Floor | None = None
        if method.floor is not None and all(floor_samples.get(k) for k in floor_samples) and floor_samples:
            parts_stats = {k: compute_stats(v) for k, v in floor_samples.items()}
            floor = Floor(
                method.floor.kind,
                math.fsum(st.p50_ns for st in parts_stats.values()),
                math.fsum(st.p99_ns for st in parts_stats.values()),
                parts_stats,
            )
        methods.append(
            dataclasses.replace(
                method, stats=stats, floor=floor, verdict=judge(stats, floor, budget), repeats=tuple(repeats)
            )
        )
    return dataclasses.replace(first, methods=tuple(methods))


def _with_pinned(main: CellLatency, pinned_run: CellLatency) -> CellLatency:
    """``main`` with each method's pinned figures from ``pinned_run`` beside it (errors are the cell's)."""
    if main.error is not None:
        return main
    if pinned_run.error is not None:
        return dataclasses.replace(main, error=f"pinned: {pinned_run.error}")
    methods: list[MethodLatency] = []
    for m in main.methods:
        p = pinned_run.method(m.key)
        if m.error is not None:
            methods.append(m)
        elif p is None or p.error is not None or p.stats is None or p.verdict is None:
            reason = "not measured" if p is None else p.error
            methods.append(
                dataclasses.replace(m, stats=None, floor=None, verdict=None, error=f"pinned: {reason}")
            )
        else:
            methods.append(dataclasses.replace(m, pinned=Figures(p.stats, p.floor, p.verdict, p.repeats)))
    return dataclasses.replace(main, methods=tuple(methods))


def run_latency(
    matrix: Matrix,
    cells: Sequence[Cell],
    profile: str,
    out_dir: Path,
    progress: Callable[[str], None] | None = None,
    *,
    pin: bool | None = None,
    repeats: int = DEFAULT_REPEATS,
    toolchains: Toolchains | None = None,
    profile_override: Profile | None = None,
    allow_xdist: bool = False,
) -> LatencyResults:
    """Measure ``cells`` of ``matrix`` in interleaved repeats and return the results.

    ``profile`` names an entry of :data:`PROFILES` (``profile_override`` replaces its counts, for
    tests); its samples are split over ``repeats`` repeats, each with its own driver, warm-up
    and floor. The repeats interleave: every cell once (in each pinning mode of
    :func:`pin_modes`, the order alternating), then every cell again, so drift of a shared
    machine hits all cells and both modes alike. Raw samples go to
    ``out_dir/latency-samples/<cell>.json``; the results themselves are written by
    :func:`testkit._report.write_reports`.
    Inside a pytest-xdist worker it refuses to run (the figures would be skewed by the other
    workers) unless ``allow_xdist`` is set, for structural tests that do not use the figures.
    """
    if profile not in PROFILES:
        raise LatencyError(f"unknown latency profile {profile!r}; expected one of {sorted(PROFILES)}")
    prof = profile_override or PROFILES[profile]
    if prof.iterations < 1 or prof.warmup < 0:
        raise LatencyError(
            f"profile {prof.name!r}: expected iterations >= 1 and warmup >= 0, "
            f"received iterations={prof.iterations}, warmup={prof.warmup}"
        )
    if repeats < 1:
        raise LatencyError(f"expected repeats >= 1, received {repeats}")
    # Latency is the conformance fixture's: a third-party plugin (a matrix's [plugin.<name>]
    # table) has no echo action to time, its cells are proven by their own suite.
    skipped = [c.id for c in cells if getattr(c, "suite", "fixtures") != "fixtures"]
    cells = [c for c in cells if getattr(c, "suite", "fixtures") == "fixtures"]
    for cell in cells:
        if cell.transport not in matrix.budgets:
            raise LatencyError(f"{matrix.path}: cell {cell.id}: no [budgets.{cell.transport}] table")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and not allow_xdist:
        raise LatencyError(
            f"latency measurement refused inside pytest-xdist worker {worker}: the other workers "
            "would compete for the cores; run `interop-testkit bench`, or pytest with -p no:xdist"
        )
    say = progress or (lambda _msg: None)
    if skipped:
        say(f"not timed (third-party plugins, no echo fixture): {', '.join(skipped)}")
    if toolchains is None:
        toolchains = Toolchains.discover()
    toolchains.apply_env()
    samples_dir = Path(out_dir) / "latency-samples"
    samples_dir.mkdir(parents=True, exist_ok=True)
    modes = pin_modes(pin)
    per_repeat = Profile(prof.name, prof.warmup, max(1, math.ceil(prof.iterations / repeats)))
    started = _now()
    load_start = _load()
    collected: dict[tuple[str, bool], list[tuple[CellLatency, dict[str, Any]]]] = {}
    raw: dict[str, list[dict[str, Any]]] = {cell.id: [] for cell in cells}
    pinned_cpu: int | None = None
    for index in range(repeats):
        order = modes if index % 2 == 0 else tuple(reversed(modes))
        for cell in cells:
            budget = matrix.budgets[cell.transport]
            for mode in order:
                with pinned(mode) as cpu:
                    pinned_cpu = cpu if cpu is not None else pinned_cpu
                    where = f"pinned to CPU {cpu}" if cpu is not None else "unpinned"
                    say(
                        f"{cell.id}: repeat {index + 1}/{repeats}, {where} ({prof.name}: "
                        f"{per_repeat.warmup} warm-up + {per_repeat.iterations} samples per method)"
                    )
                    samples: dict[str, Any] = {}
                    result = _measure_cell(cell, budget, per_repeat, toolchains, samples, say)
                if result.error:
                    say(f"{cell.id}: ERROR {result.error}")
                collected.setdefault((cell.id, mode), []).append((result, samples))
                raw[cell.id].append({"repeat": index + 1, "pinned": mode, "samples": samples})
    results: list[CellLatency] = []
    main_mode = modes[0]
    for cell in cells:
        budget = matrix.budgets[cell.transport]
        main = _pool(cell, budget, collected[(cell.id, main_mode)])
        if len(modes) > 1:
            main = _with_pinned(main, _pool(cell, budget, collected[(cell.id, modes[1])]))
        results.append(main)
        (samples_dir / f"{_safe_name(cell.id)}.json").write_text(
            json.dumps({"cell": cell.id, "profile": prof.name, "repeats": raw[cell.id]}),
            encoding="utf-8",
        )
    return LatencyResults(
        matrix_name=matrix.name,
        matrix_path=str(matrix.path),
        profile=prof,
        pinned=modes == (True,),
        pinned_cpu=pinned_cpu,
        started_at=started,
        finished_at=_now(),
        budgets=dict(matrix.budgets),
        cells=tuple(results),
        repeats=repeats,
        pin_mode="only" if modes == (True,) else "both" if len(modes) > 1 else "off",
        load_start=load_start,
        load_end=_load(),
    )
