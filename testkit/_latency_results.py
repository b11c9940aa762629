"""The results of a latency run: per repeat, per method, per cell, and the whole run, each with its
JSON form for ``results.json``."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from testkit._latency_figures import BudgetVerdict, Floor, Profile, Stats
from testkit._matrix import Budget

__all__ = ["CellLatency", "Figures", "LatencyResults", "MethodLatency", "RepeatFigures", "Throughput"]


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


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


@dataclass(frozen=True)
class Throughput:
    """Calls per second of one cell with ``in_flight`` calls outstanding (IPC cells).

    ``repeats_calls_per_s`` holds one figure per interleaved repeat (``calls`` calls each, timed by
    the host's clock); ``calls_per_s`` is their median. ``pinned_*`` are the same taken pinned to
    one CPU, when the run measured both modes.
    """

    in_flight: int
    method: str
    calls: int
    repeats_calls_per_s: tuple[float, ...]
    error: str | None = None
    pinned_repeats_calls_per_s: tuple[float, ...] | None = None

    @property
    def calls_per_s(self) -> float | None:
        """Median over the repeats; ``None`` when not measured."""
        return None if self.error is not None else _median(self.repeats_calls_per_s)

    @property
    def pinned_calls_per_s(self) -> float | None:
        """Median of the pinned repeats; ``None`` without them."""
        return None if self.pinned_repeats_calls_per_s is None else _median(self.pinned_repeats_calls_per_s)

    def to_json(self) -> dict[str, Any]:
        """JSON form (results.json ``cells[].latency.throughput[]``)."""
        pinned = self.pinned_repeats_calls_per_s
        return {
            "in_flight": self.in_flight,
            "method": self.method,
            "calls": self.calls,
            "calls_per_s": self.calls_per_s,
            "repeats_calls_per_s": list(self.repeats_calls_per_s),
            "error": self.error,
            "pinned": None
            if pinned is None
            else {"calls_per_s": self.pinned_calls_per_s, "repeats_calls_per_s": list(pinned)},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Throughput:
        """Inverse of :meth:`to_json`."""
        pinned = data.get("pinned")
        return cls(
            in_flight=int(data["in_flight"]),
            method=str(data["method"]),
            calls=int(data["calls"]),
            repeats_calls_per_s=tuple(float(v) for v in data.get("repeats_calls_per_s", [])),
            error=data.get("error"),
            pinned_repeats_calls_per_s=None
            if pinned is None
            else tuple(float(v) for v in pinned.get("repeats_calls_per_s", [])),
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
    #: Calls per second with 1, 8 and 64 calls in flight (IPC cells; empty for the others).
    throughput: tuple[Throughput, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the cell was measured without any error."""
        return (
            self.error is None
            and all(m.error is None for m in self.methods)
            and all(t.error is None for t in self.throughput)
        )

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
            "throughput": [t.to_json() for t in self.throughput],
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
            throughput=tuple(Throughput.from_json(t) for t in data.get("throughput", [])),
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
            "warmup_s": self.profile.warmup_s,
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
