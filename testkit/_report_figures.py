"""The figures a report derives from a results document: per-call targets judged on pinned
figures, payload-size scaling with fitted slopes, throughput by calls in flight."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from testkit._report_model import HEADLINE_METHOD

__all__ = [
    "SCALING_KEYS",
    "TARGETS",
    "Target",
    "fit_per_kib",
    "format_ns",
    "method_figures",
    "scaling_rows",
    "target_rows",
    "throughput_rows",
]


def format_ns(ns: float | None) -> str:
    """A duration for humans: ``850 ns``, ``12.3 µs``, ``1.25 ms``, ``2.10 s``; ``-`` for none."""
    if ns is None:
        return "-"
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        us = ns / 1_000
        return f"{us:.2f} µs" if us < 10 else f"{us:.1f} µs" if us < 100 else f"{us:.0f} µs"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.2f} ms"
    return f"{ns / 1_000_000_000:.2f} s"


# --- per-call targets, payload scaling, throughput ------------------------------------------


@dataclass(frozen=True)
class Target:
    """One per-call target, judged on the pinned figures of every cell it applies to.

    ``measure``: ``floor_ratio`` (p50 / floor p50 <= ``limit``), ``p50_us`` (p50 <= ``limit`` µs)
    or ``slope_ratio`` ((p50 of ``method`` - p50 at 100 B) / (the floor's same difference)
    <= ``limit``: the cost per byte against the floor's). Empty ``hosts``/``plugins``: any.
    """

    label: str
    rule: str
    transport: str
    measure: str
    limit: float
    method: str = HEADLINE_METHOD
    hosts: tuple[str, ...] = ()
    host_runtime: str | None = None
    plugins: tuple[str, ...] = ()

    def applies(self, cell: Mapping[str, Any]) -> bool:
        """True when ``cell`` (a results.json cell) is one this target judges."""
        return (
            cell.get("transport") == self.transport
            and (not self.hosts or cell.get("host") in self.hosts)
            and (self.host_runtime is None or cell.get("host_runtime") == self.host_runtime)
            and (not self.plugins or cell.get("plugin") in self.plugins)
        )


_SMALL_ECHO = HEADLINE_METHOD
_LARGE_ECHO = "invokeAction:echo:10KiB"
#: The per-call targets of reports/README.md, one row per (target, cell) in the views.
TARGETS: tuple[Target, ...] = (
    Target(
        "IPC, any host -> Rust or TS plugin, 100 B echo",
        "p50 <= 3x the `cat` floor",
        "ipc",
        "floor_ratio",
        3.0,
        plugins=("rust", "typescript"),
    ),
    Target(
        "IPC, any host -> Python plugin, 100 B echo",
        "p50 <= 5x the `cat` floor",
        "ipc",
        "floor_ratio",
        5.0,
        plugins=("python",),
    ),
    Target(
        "IPC, 10 KiB echo",
        "(p50 10 KiB - p50 100 B) / (floor 10 KiB - floor 100 B) <= 2",
        "ipc",
        "slope_ratio",
        2.0,
        method=_LARGE_ECHO,
    ),
    Target(
        "WASM from Node, 100 B echo",
        "p50 <= 1.5 µs",
        "wasm",
        "p50_us",
        1.5,
        hosts=("typescript",),
        host_runtime="node",
    ),
    Target("WASM from Python, 100 B echo", "p50 <= 8 µs", "wasm", "p50_us", 8.0, hosts=("python",)),
    Target(
        "WASM from Python, 10 KiB echo",
        "p50 <= 40 µs",
        "wasm",
        "p50_us",
        40.0,
        method=_LARGE_ECHO,
        hosts=("python",),
    ),
    Target("FFI from the Rust host, 100 B echo", "p50 <= 0.5 µs", "ffi", "p50_us", 0.5, hosts=("rust",)),
    Target(
        "FFI from Python, 100 B echo",
        "p50 <= 2x the no-op + JSON floor",
        "ffi",
        "floor_ratio",
        2.0,
        hosts=("python",),
    ),
)


def method_figures(
    results: Mapping[str, Any], method: Mapping[str, Any] | None, pinned: bool
) -> Mapping[str, Any] | None:
    """A method's pinned (or unpinned) figures, if measured: a run pinned throughout has its pinned
    figures as the main ones and no unpinned ones; otherwise the pinned ones sit beside."""
    if method is None or method.get("error") or not method.get("stats"):
        return None
    lat = results.get("latency") or {}
    all_pinned = lat.get("pin_mode") == "only" or (lat.get("pin_mode") is None and lat.get("pinned"))
    if not pinned:
        return None if all_pinned else method
    if all_pinned:
        return method
    beside = method.get("pinned")
    return beside if beside and beside.get("stats") else None


def _method_of(cell: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    for m in (cell.get("latency") or {}).get("methods", []):
        if m.get("key") == key:
            return m  # type: ignore[no-any-return]
    return None


def _judge_target(
    target: Target, results: Mapping[str, Any], cell: Mapping[str, Any], pinned: bool = True
) -> tuple[float | None, str, bool | None]:
    """(value, figure text, met) of ``target`` on ``cell``, on its pinned figures (or the unpinned
    ones); met ``None`` when not measured."""
    which = "pinned" if pinned else "unpinned"
    fig = method_figures(results, _method_of(cell, target.method), pinned)
    if fig is None:
        return None, f"not measured (no {which} figures)", None
    p50 = float(fig["stats"]["p50_ns"])
    floor = fig.get("floor") or {}
    if target.measure == "p50_us":
        value = p50 / 1000.0
        return value, f"p50 {format_ns(p50)}", value <= target.limit
    if target.measure == "floor_ratio":
        if not floor.get("p50_ns"):
            return None, f"p50 {format_ns(p50)}, no floor", None
        value = p50 / float(floor["p50_ns"])
        text = f"{value:.2f}x (p50 {format_ns(p50)}, {floor.get('kind')} floor {format_ns(floor['p50_ns'])})"
        return value, text, value <= target.limit
    small = method_figures(results, _method_of(cell, _SMALL_ECHO), pinned)
    small_floor = (small or {}).get("floor") or {}
    if small is None or not floor.get("p50_ns") or not small_floor.get("p50_ns"):
        return None, f"not measured (no {which} figures or floors)", None
    extra = p50 - float(small["stats"]["p50_ns"])
    floor_extra = float(floor["p50_ns"]) - float(small_floor["p50_ns"])
    if floor_extra <= 0:
        return None, f"{_signed_ns(extra)}; the floor did not grow ({_signed_ns(floor_extra)})", None
    value = extra / floor_extra
    text = f"{value:.2f}x ({_signed_ns(extra)} vs the floor's {_signed_ns(floor_extra)})"
    return value, text, value <= target.limit


def _signed_ns(ns: float) -> str:
    """A difference of durations with its sign: ``+3.20 µs``, ``-21.6 µs``."""
    return ("+" if ns >= 0 else "-") + format_ns(abs(ns))


def target_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per (target of :data:`TARGETS`, cell it applies to) with the pinned figure and the
    verdict: ``met``, ``missed`` or ``not measured``, and the unpinned figure beside
    (``unpinned_value``, ``unpinned_figure``; the verdict is the pinned one). A missed target is
    reported, never fatal."""
    rows: list[dict[str, Any]] = []
    for target in TARGETS:
        for cell in results.get("cells", []):
            if not cell.get("latency") or not target.applies(cell):
                continue
            value, figure, met = _judge_target(target, results, cell)
            loose_value, loose_figure, _loose_met = _judge_target(target, results, cell, pinned=False)
            rows.append(
                {
                    "target": target.label,
                    "rule": target.rule,
                    "cell": cell["id"],
                    "value": value,
                    "figure": figure,
                    "met": met,
                    "verdict": "not measured" if met is None else "met" if met else "missed",
                    "unpinned_value": loose_value,
                    "unpinned_figure": loose_figure,
                }
            )
    return rows


#: The echo calls whose payload sizes the scaling table compares, smallest first.
SCALING_KEYS: tuple[str, ...] = (
    "invokeAction:echo:100B",
    "invokeAction:echo:10KiB",
    "invokeAction:echo:1MiB",
)


def fit_per_kib(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (payload bytes, ns) points, in ns per KiB; ``None`` below two sizes."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _y in points) / n
    my = sum(y for _x, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _y in points)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in points) / sxx * 1024.0


def scaling_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per measured cell: p50 and floor p50 of the echo at each size of :data:`SCALING_KEYS` (main
    figures), and the fitted slopes in ns per KiB for the cell, its floor and its pinned figures."""
    rows: list[dict[str, Any]] = []
    for cell in results.get("cells", []):
        methods = [_method_of(cell, k) for k in SCALING_KEYS]
        sizes = [m for m in methods if m is not None and m.get("stats") and not m.get("error")]
        if len(sizes) < 2:
            continue
        calls = [(float(m["payload_bytes"]), float(m["stats"]["p50_ns"])) for m in sizes]
        floors = [(float(m["payload_bytes"]), float(m["floor"]["p50_ns"])) for m in sizes if m.get("floor")]
        pinned = [
            (float(m["payload_bytes"]), float(m["pinned"]["stats"]["p50_ns"]))
            for m in sizes
            if m.get("pinned")
        ]
        rows.append(
            {
                "cell": cell["id"],
                "p50_ns": [
                    None if m is None or not m.get("stats") else m["stats"]["p50_ns"] for m in methods
                ],
                "floor_p50_ns": [
                    None if m is None or not m.get("floor") else m["floor"]["p50_ns"] for m in methods
                ],
                "floor_kind": next((m["floor"]["kind"] for m in sizes if m.get("floor")), None),
                "per_kib_ns": fit_per_kib(calls),
                "floor_per_kib_ns": fit_per_kib(floors) if len(floors) == len(sizes) else None,
                "pinned_per_kib_ns": fit_per_kib(pinned) if len(pinned) == len(sizes) else None,
            }
        )
    return rows


def throughput_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per cell with throughput figures: calls/s (and pinned calls/s) by number of calls in flight."""
    rows: list[dict[str, Any]] = []
    for cell in results.get("cells", []):
        entries = (cell.get("latency") or {}).get("throughput") or []
        if entries:
            rows.append({"cell": cell["id"], "entries": entries})
    return rows
