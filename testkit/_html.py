"""``report.html``: one self-contained page of a run for people who decide from it.

Everything is inline (CSS, SVG, one small script that only counts what was drawn): the page opens
from a CI artefact or an e-mail attachment with no network. It shows the top-line verdict, the
matrix as a grid coloured by each cell's verdict, p50/p99 against the budget and the floor, the
latency distribution of every method (box plots from the stored quantile sketches, and a
histogram of the headline call), the per-call targets judged on the pinned figures, payload-size
scaling (100 B, 10 KiB, 1 MiB) with the fitted slopes of each cell and its floor, throughput with
1, 8 and 64 calls in flight (IPC cells), and the comparison with the baseline as intervals against
the threshold.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from testkit._report_figures import fit_per_kib, scaling_rows, target_rows, throughput_rows
from testkit._report_figures import format_ns as _ns
from testkit._stats import plural

__all__ = ["VERDICT_COLOURS", "cell_verdict", "pooled_points", "render_html", "scaling"]

#: Fill colour of each cell verdict (the grid, the banner); a test reads them back from pixels.
VERDICT_COLOURS: Mapping[str, str] = {
    "passed": "#2e7d32",
    "failed": "#c62828",
    "regressed": "#c62828",
    "inconclusive": "#ef6c00",
    "budget-missed": "#f9a825",
    "not-run": "#9e9e9e",
}
_LANG = {"python": "Python", "typescript": "TypeScript", "rust": "Rust"}
_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#212121;background:#fff}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}
.banner{padding:12px 16px;color:#fff;border-radius:6px;font-size:18px;font-weight:600}
.banner small{display:block;font-weight:400;font-size:13px}
.meta{color:#555;font-size:12px;margin:8px 0}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid td{vertical-align:top;min-width:120px}
.chip{display:inline-block;color:#fff;border-radius:4px;padding:4px 8px;margin:2px;font-weight:600}
.legend .chip{font-weight:400}
.cellbox{border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:12px 0}
svg text{font:11px system-ui,sans-serif;fill:#424242}
.bad{color:#c62828}.note{color:#555}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _side(lang: str, runtime: str | None) -> str:
    name = _LANG.get(lang, lang)
    return f"{name} ({runtime.capitalize()})" if runtime else name


def cell_verdict(cell: Mapping[str, Any], comparisons: Sequence[Mapping[str, Any]]) -> str:
    """One cell's verdict: failed, regressed, inconclusive, budget-missed, not-run or passed."""
    if cell.get("status") in ("failed", "error"):
        return "failed"
    mine = [c["verdict"] for c in comparisons if c["cell"] == cell["id"]]
    if "regression" in mine:
        return "regressed"
    if "inconclusive" in mine:
        return "inconclusive"
    if (cell.get("latency") or {}).get("met") is False:
        return "budget-missed"
    if cell.get("status") == "not-run":
        return "not-run"
    return "passed"


def pooled_points(figures: Mapping[str, Any]) -> list[float]:
    """Sorted points standing for a measurement's distribution (the repeats' sketches pooled).

    Without repeats (an older file) the five stored percentiles stand in.
    """
    repeats = figures.get("repeats") or []
    if repeats:
        return sorted(float(v) for r in repeats for v in r["quantiles_ns"])
    s = figures.get("stats") or {}
    return sorted(float(s[k]) for k in ("min_ns", "p50_ns", "p90_ns", "p99_ns", "max_ns") if k in s)


def _q(points: Sequence[float], q: float) -> float:
    pos = q * (len(points) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(points) - 1)
    return points[lo] + (points[hi] - points[lo]) * (pos - lo)


class _LogAxis:
    """Maps ns to x pixels on a log scale between ``lo`` and ``hi``."""

    def __init__(self, lo: float, hi: float, x0: float, x1: float) -> None:
        lo = max(lo, 1.0)
        hi = max(hi, lo * 1.5)
        self.lo, self.hi = math.log10(lo / 1.15), math.log10(hi * 1.15)
        self.x0, self.x1 = x0, x1

    def __call__(self, ns: float) -> float:
        v = math.log10(max(ns, 1.0))
        return self.x0 + (self.x1 - self.x0) * (v - self.lo) / (self.hi - self.lo)

    def ticks(self) -> list[float]:
        out = [10.0**k for k in range(math.floor(self.lo), math.ceil(self.hi) + 1)]
        return [t for t in out if self.lo <= math.log10(t) <= self.hi]


def _box_plot(methods: Sequence[Mapping[str, Any]], figures_of: str) -> str:
    """Box plots (p1, p25, p50, p75, p99) of each method, floor p50 and budget marked."""
    rows: list[tuple[str, list[float], Mapping[str, Any]]] = []
    for m in methods:
        fig = m if figures_of == "main" else m.get("pinned")
        if not fig or not fig.get("stats"):
            continue
        pts = pooled_points(fig)
        if len(pts) >= 2:
            rows.append((str(m["key"]), pts, fig))
    if not rows:
        return ""
    lo = min(_q(p, 0.01) for _k, p, _f in rows)
    hi = max(_q(p, 0.99) for _k, p, _f in rows)
    for _k, _p, fig in rows:
        floor = (fig.get("floor") or {}).get("p50_ns")
        budget = fig.get("budget") or {}
        if floor:
            lo = min(lo, floor)
            hi = max(hi, floor * float(budget.get("max_floor_ratio", 1.0)))
    width, left, right, row_h = 640, 170, 20, 26
    axis = _LogAxis(lo, hi, left, width - right)
    height = 30 + row_h * len(rows)
    parts = [
        f'<svg class="chart box" data-chart="box" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="latency distribution ({figures_of})">'
    ]
    for t in axis.ticks():
        x = axis(t)
        parts.append(f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{height - 22}" stroke="#eee"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle">{_e(_ns(t))}</text>')
    for i, (key, pts, fig) in enumerate(rows):
        y = 8 + i * row_h
        mid = y + row_h / 2 - 4
        q01, q25, q50, q75, q99 = (_q(pts, q) for q in (0.01, 0.25, 0.5, 0.75, 0.99))
        parts.append(f'<text x="4" y="{mid + 4:.1f}">{_e(key)}</text>')
        parts.append(
            f'<line x1="{axis(q01):.1f}" y1="{mid:.1f}" x2="{axis(q99):.1f}" y2="{mid:.1f}" '
            'stroke="#546e7a"/>'
        )
        parts.append(
            f'<rect x="{axis(q25):.1f}" y="{mid - 7:.1f}" width="{max(axis(q75) - axis(q25), 1.5):.1f}" '
            f'height="14" fill="#90caf9" stroke="#1565c0"/>'
        )
        parts.append(
            f'<line x1="{axis(q50):.1f}" y1="{mid - 8:.1f}" x2="{axis(q50):.1f}" y2="{mid + 8:.1f}" '
            'stroke="#0d47a1" stroke-width="2"/>'
        )
        floor = (fig.get("floor") or {}).get("p50_ns")
        budget = fig.get("budget") or {}
        if floor:
            fx = axis(floor)
            parts.append(
                f'<line x1="{fx:.1f}" y1="{mid - 10:.1f}" x2="{fx:.1f}" y2="{mid + 10:.1f}" '
                'stroke="#2e7d32" stroke-width="2"><title>floor p50</title></line>'
            )
            limit = floor * float(budget.get("max_floor_ratio", 0) or 0)
            if limit > 0:
                bx = axis(limit)
                colour = "#c62828" if budget.get("met") is False else "#6d4c41"
                parts.append(
                    f'<line x1="{bx:.1f}" y1="{mid - 10:.1f}" x2="{bx:.1f}" y2="{mid + 10:.1f}" '
                    f'stroke="{colour}" stroke-dasharray="3,2" stroke-width="2"><title>budget</title></line>'
                )
    parts.append("</svg>")
    return "".join(parts)


def _histogram(method: Mapping[str, Any], bins: int = 32) -> str:
    """Histogram of one method's pooled sketch points on a log axis (each point is an equal share)."""
    pts = pooled_points(method)
    if len(pts) < 10:
        return ""
    lo, hi = _q(pts, 0.005), _q(pts, 0.995)
    if hi <= lo:
        hi = lo * 1.01 + 1
    width, height, left, bottom = 640, 120, 40, 22
    axis = _LogAxis(lo, hi, left, width - 10)
    counts = [0] * bins
    for p in pts:
        v = math.log10(max(p, 1.0))
        k = min(max(int((v - axis.lo) / (axis.hi - axis.lo) * bins), 0), bins - 1)
        counts[k] += 1
    top = max(counts) or 1
    parts = [
        f'<svg class="chart hist" data-chart="histogram" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="histogram of {_e(method["key"])}">'
    ]
    bar_w = (width - 10 - left) / bins
    for i, c in enumerate(counts):
        h = (height - bottom - 6) * c / top
        x = left + i * bar_w
        parts.append(
            f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{max(bar_w - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="#42a5f5"/>'
        )
    for t in axis.ticks():
        parts.append(f'<text x="{axis(t):.1f}" y="{height - 6}" text-anchor="middle">{_e(_ns(t))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def scaling(methods: Sequence[Mapping[str, Any]]) -> tuple[list[tuple[int, float]], float | None]:
    """(payload bytes, p50 ns) of the invokeAction echo calls, and the least-squares ns per KiB."""
    points = sorted(
        (int(m["payload_bytes"]), float(m["stats"]["p50_ns"]))
        for m in methods
        if str(m.get("key", "")).startswith("invokeAction:echo:") and m.get("stats")
    )
    return points, fit_per_kib([(float(x), y) for x, y in points])


def _targets_table(results: Mapping[str, Any]) -> str:
    """The per-call targets judged on the pinned figures: one row per (target, cell)."""
    rows = target_rows(results)
    if not rows:
        return '<p class="note">No cell this run measured has a per-call target.</p>'
    missed = sum(1 for r in rows if r["met"] is False)
    out = [
        f"<p>Judged on the pinned figures of this run; <b>{_e(plural(missed, 'target'))} missed</b> "
        f"of {len(rows)}. A missed target is reported, not a failure.</p>",
        '<table class="targets" data-table="targets"><tr><th>target</th><th>rule</th><th>cell</th>'
        "<th>figure (pinned)</th><th>verdict</th></tr>",
    ]
    for r in rows:
        verdict = str(r["verdict"])
        cls = "bad" if r["met"] is False else ""
        out.append(
            f'<tr data-target-verdict="{_e(verdict)}"><td>{_e(r["target"])}</td>'
            f"<td>{_e(str(r['rule']).replace('`', ''))}</td>"
            f'<td><a href="#{_e(r["cell"])}">{_e(r["cell"])}</a></td><td>{_e(r["figure"])}</td>'
            f'<td class="{cls}">{_e(verdict)}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


def _per_kib(ns: float | None) -> str:
    return "-" if ns is None else f"{ns / 1000.0:.3g} µs/KiB"


def _scaling_table(results: Mapping[str, Any]) -> str:
    """p50 and floor p50 at 100 B, 10 KiB and 1 MiB per cell, with the fitted slopes."""
    rows = scaling_rows(results)
    if not rows:
        return ""
    out = [
        "<h3>Payload-size scaling (invokeAction echo)</h3>",
        '<p class="note">Main figures; slope: least squares over the sizes, in µs per KiB.</p>',
        '<table data-table="scaling"><tr><th>cell</th><th>p50 100 B</th><th>p50 10 KiB</th>'
        "<th>p50 1 MiB</th><th>slope</th><th>floor</th><th>floor 100 B</th><th>floor 10 KiB</th>"
        "<th>floor 1 MiB</th><th>floor slope</th><th>pinned slope</th></tr>",
    ]
    for r in rows:
        p50s = "".join(f'<td class="num">{_e(_ns(v))}</td>' for v in r["p50_ns"])
        floors = "".join(f'<td class="num">{_e(_ns(v))}</td>' for v in r["floor_p50_ns"])
        out.append(
            f'<tr data-scaling-cell="{_e(r["cell"])}"><td>{_e(r["cell"])}</td>{p50s}'
            f'<td class="num">{_e(_per_kib(r["per_kib_ns"]))}</td><td>{_e(r["floor_kind"] or "-")}</td>'
            f'{floors}<td class="num">{_e(_per_kib(r["floor_per_kib_ns"]))}</td>'
            f'<td class="num">{_e(_per_kib(r["pinned_per_kib_ns"]))}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000.0:.1f}k/s" if value >= 10_000 else f"{value:.0f}/s"


def _throughput_table(results: Mapping[str, Any]) -> str:
    """Calls per second with 1, 8 and 64 calls in flight per IPC cell, main and pinned."""
    rows = throughput_rows(results)
    if not rows:
        return ""
    counts = sorted({int(e["in_flight"]) for r in rows for e in r["entries"]})
    out = [
        "<h3>Throughput (IPC, invokeAction echo 100 B)</h3>",
        '<p class="note">Calls per second with N calls outstanding, host clock, median of the '
        "repeats; cells are never measured concurrently.</p>",
        '<table data-table="throughput"><tr><th>cell</th>'
        + "".join(f"<th>{n} in flight</th>" for n in counts)
        + "".join(f"<th>pinned, {n}</th>" for n in counts)
        + "</tr>",
    ]
    for r in rows:
        by_n = {int(e["in_flight"]): e for e in r["entries"]}
        main = [by_n.get(n) or {} for n in counts]
        cells = "".join(
            f'<td class="bad">{_e(e["error"])}</td>'
            if e.get("error")
            else f'<td class="num">{_e(_rate(e.get("calls_per_s")))}</td>'
            for e in main
        )
        pinned = "".join(
            f'<td class="num">{_e(_rate((e.get("pinned") or {}).get("calls_per_s")))}</td>' for e in main
        )
        out.append(f'<tr data-throughput-cell="{_e(r["cell"])}"><td>{_e(r["cell"])}</td>{cells}{pinned}</tr>')
    out.append("</table>")
    return "".join(out)


def _forest(comparisons: Sequence[Mapping[str, Any]], threshold: float) -> str:
    """Each comparison's interval of now/baseline on a log axis, with the threshold lines."""
    rows = [c for c in comparisons if c.get("ci_low") and c.get("ci_high")]
    if not rows:
        return ""
    lo = min(min(float(c["ci_low"]) for c in rows), 1 / threshold) / 1.1
    hi = max(max(float(c["ci_high"]) for c in rows), threshold) * 1.1
    width, left, row_h = 760, 390, 18
    height = 30 + row_h * len(rows)

    def x(v: float) -> float:
        return left + (width - 20 - left) * (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))

    parts = [
        f'<svg class="chart forest" data-chart="comparison" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="change against the baseline">'
    ]
    # Labels anchored away from the middle line, so the three never overlap on a wide axis.
    marks = ((1 / threshold, "#1565c0", "end"), (1.0, "#9e9e9e", "middle"), (threshold, "#c62828", "start"))
    for v, colour, anchor in marks:
        parts.append(
            f'<line x1="{x(v):.1f}" y1="2" x2="{x(v):.1f}" y2="{height - 20}" stroke="{colour}" '
            'stroke-dasharray="4,3"/>'
        )
        nudge = {"end": -8, "middle": 0, "start": 8}[anchor]
        parts.append(f'<text x="{x(v) + nudge:.1f}" y="{height - 6}" text-anchor="{anchor}">{v:.2f}x</text>')
    colours = {
        "regression": "#c62828",
        "improvement": "#1565c0",
        "inconclusive": "#ef6c00",
        "same": "#2e7d32",
    }
    for i, c in enumerate(rows):
        y = 10 + i * row_h
        colour = colours.get(str(c["verdict"]), "#616161")
        parts.append(f'<text x="4" y="{y + 4}">{_e(c["cell"])} {_e(c["method"])}</text>')
        parts.append(
            f'<line x1="{x(float(c["ci_low"])):.1f}" y1="{y}" x2="{x(float(c["ci_high"])):.1f}" y2="{y}" '
            f'stroke="{colour}" stroke-width="3"/>'
        )
        parts.append(f'<circle cx="{x(float(c["change"])):.1f}" cy="{y}" r="3.5" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _grid(results: Mapping[str, Any], comparisons: Sequence[Mapping[str, Any]]) -> str:
    cells = list(results.get("cells", []))
    hosts: list[tuple[str, str | None]] = []
    plugins: list[tuple[str, str | None]] = []
    for c in cells:
        h, p = (c["host"], c.get("host_runtime")), (c["plugin"], c.get("plugin_runtime"))
        if h not in hosts:
            hosts.append(h)
        if p not in plugins:
            plugins.append(p)
    out = ['<table class="grid"><tr><th>host \\ plugin</th>']
    out += [f"<th>{_e(_side(*p))}</th>" for p in plugins]
    out.append("</tr>")
    for h in hosts:
        out.append(f"<tr><th>{_e(_side(*h))}</th>")
        for p in plugins:
            chips = []
            for c in cells:
                if (c["host"], c.get("host_runtime")) == h and (c["plugin"], c.get("plugin_runtime")) == p:
                    v = cell_verdict(c, comparisons)
                    chips.append(
                        f'<a href="#{_e(c["id"])}" class="chip v-{v}" data-cell="{_e(c["id"])}" '
                        f'data-verdict="{v}" style="background:{VERDICT_COLOURS[v]}" '
                        f'title="{_e(c["id"])}: {v}">{_e(c["transport"])}</a>'
                    )
            out.append(f"<td>{''.join(chips)}</td>")
        out.append("</tr>")
    out.append("</table>")
    legend = "".join(
        f'<span class="chip" style="background:{colour}">{_e(name)}</span>'
        for name, colour in VERDICT_COLOURS.items()
    )
    out.append(f'<div class="legend">{legend}</div>')
    return "".join(out)


def _latency_table(methods: Sequence[Mapping[str, Any]]) -> str:
    out = [
        "<table><tr><th>method</th><th>bytes</th><th>p50</th><th>p99</th><th>floor p50</th>"
        "<th>ratio / max</th><th>budget</th><th>pinned p50</th><th>pinned p99</th><th>pinned ratio</th></tr>"
    ]
    for m in methods:
        if m.get("error"):
            out.append(f'<tr><td>{_e(m["key"])}</td><td colspan="9" class="bad">{_e(m["error"])}</td></tr>')
            continue
        s, f, b = m.get("stats") or {}, m.get("floor") or {}, m.get("budget") or {}
        p = m.get("pinned") or {}
        ps, pb = p.get("stats") or {}, p.get("budget") or {}
        ratio = "-" if b.get("ratio") is None else f"{b['ratio']:.2f}x / {b.get('max_floor_ratio')}x"
        met = {True: "met", False: "MISSED", None: "-"}[b.get("met")]
        pratio = "-" if pb.get("ratio") is None else f"{pb['ratio']:.2f}x"
        out.append(
            f'<tr><td>{_e(m["key"])}</td><td class="num">{_e(m.get("payload_bytes"))}</td>'
            f'<td class="num">{_e(_ns(s.get("p50_ns")))}</td><td class="num">{_e(_ns(s.get("p99_ns")))}</td>'
            f'<td class="num">{_e(_ns(f.get("p50_ns")))}</td><td class="num">{_e(ratio)}</td>'
            f'<td class="{"bad" if met == "MISSED" else ""}">{met}</td>'
            f'<td class="num">{_e(_ns(ps.get("p50_ns")))}</td>'
            f'<td class="num">{_e(_ns(ps.get("p99_ns")))}</td>'
            f'<td class="num">{_e(pratio)}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


def _cell_section(cell: Mapping[str, Any], comparisons: Sequence[Mapping[str, Any]]) -> str:
    v = cell_verdict(cell, comparisons)
    conf = cell.get("conformance")
    conf_text = "not run"
    if conf:
        total = conf["passed"] + conf["failed"] + conf["errored"] + conf["skipped"]
        conf_text = f"{conf['passed']}/{plural(total, 'check')} passed"
    out = [
        f'<div class="cellbox" id="{_e(cell["id"])}" data-cell-section="{_e(cell["id"])}">',
        f'<h3><span class="chip" style="background:{VERDICT_COLOURS[v]}">{v}</span> {_e(cell["id"])}</h3>',
        f'<div class="meta">{_e(_side(cell["host"], cell.get("host_runtime")))} host, '
        f"{_e(_side(cell['plugin'], cell.get('plugin_runtime')))} plugin over {_e(cell['transport'])}; "
        f"status {_e(cell['status'])}; conformance {_e(conf_text)}</div>",
    ]
    lat = cell.get("latency") or {}
    if lat.get("error"):
        out.append(f'<p class="bad">{_e(lat["error"])}</p>')
    methods = list(lat.get("methods", []))
    if methods:
        out.append(_latency_table(methods))
        out.append(
            '<p class="note">Box: p25-p75, whiskers p1-p99, dark bar the median; green: floor p50; '
            "dashed: the budget (floor x max ratio).</p>"
        )
        out.append(_box_plot(methods, "main"))
        if any(m.get("pinned") for m in methods):
            out.append('<p class="note">Pinned to one CPU:</p>')
            out.append(_box_plot(methods, "pinned"))
        head = next((m for m in methods if m.get("key") == "invokeAction:echo:100B" and m.get("stats")), None)
        histogram = "" if head is None else _histogram(head)
        if histogram:
            out.append('<p class="note">Distribution of invokeAction echo, 100 B:</p>')
            out.append(histogram)
        points, per_kib = scaling(methods)
        if len(points) >= 2:
            pts = ", ".join(f"{_e(_ns(y))} at {x} B" for x, y in points)
            out.append(
                f'<p data-scaling="{per_kib if per_kib is not None else ""}">Payload scaling '
                f"(invokeAction echo): {pts}; fitted slope "
                f"{_e(_ns(per_kib) if per_kib is not None else '-')} per KiB.</p>"
            )
    out.append("</div>")
    return "".join(out)


def _summary_baseline(base: Mapping[str, Any] | None) -> str:
    if not base:
        return "<p>No baseline given.</p>"
    out = [
        f"<p>Baseline <code>{_e(base['path'])}</code> (matrix {_e(base.get('matrix'))}, "
        f"{_e(base.get('generated_at'))}); {_e(base.get('figures', 'unpinned'))} figures compared. "
        f"Regression: the whole {round(100 * float(base.get('confidence', 0.95)))} % bootstrap interval of "
        f"p50 now / p50 then above {_e(base['threshold'])}x; inconclusive: it straddles the threshold.</p>"
    ]
    out += [f'<p class="note">{_e(n)}</p>' for n in base.get("notes", [])]
    counts = [
        plural(len(base.get("regressions", [])), "regression"),
        plural(len(base.get("inconclusive", [])), "inconclusive comparison"),
        plural(len(base.get("improvements", [])), "improvement"),
    ]
    out.append(f"<p><b>{_e(', '.join(counts))}</b></p>")
    out.append(_forest(base.get("comparisons", []), float(base["threshold"])))
    if base.get("comparisons"):
        out.append(
            "<table><tr><th>cell</th><th>method</th><th>baseline p50</th><th>p50</th><th>change</th>"
            "<th>interval</th><th>verdict</th></tr>"
        )
        for c in base["comparisons"]:
            interval = (
                f"{c['ci_low']:.2f}x-{c['ci_high']:.2f}x" if c.get("ci_low") and c.get("ci_high") else "-"
            )
            out.append(
                f"<tr><td>{_e(c['cell'])}</td><td>{_e(c['method'])}</td>"
                f'<td class="num">{_e(_ns(c["baseline_p50_ns"]))}</td>'
                f'<td class="num">{_e(_ns(c["p50_ns"]))}</td>'
                f'<td class="num">{c["change"]:.2f}x</td><td class="num">{_e(interval)}</td>'
                f'<td data-verdict="{_e(c["verdict"])}">{_e(c["verdict"])}</td></tr>'
            )
        out.append("</table>")
    if base.get("missing"):
        out.append(f"<p>Measured in the baseline, not now: {_e(', '.join(base['missing']))}</p>")
    if base.get("cells_not_run"):
        out.append(
            f"<p>{_e(plural(len(base['cells_not_run']), 'cell'))} of the baseline not in this run.</p>"
        )
    return "".join(out)


_SCRIPT = """
document.addEventListener('DOMContentLoaded', function () {
  var b = document.body;
  b.setAttribute('data-cells', String(document.querySelectorAll('.grid [data-cell]').length));
  var drawn = 0;
  document.querySelectorAll('svg.chart').forEach(function (s) {
    if (s.getBBox().width > 0 && s.querySelectorAll('rect,line,circle').length > 0) { drawn++; }
  });
  b.setAttribute('data-charts', String(drawn));
  var tables = [];
  document.querySelectorAll('table[data-table]').forEach(function (t) {
    if (t.getBoundingClientRect().height > 0 && t.rows.length > 1) {
      tables.push(t.getAttribute('data-table'));
    }
  });
  b.setAttribute('data-tables', tables.join(' '));
  b.setAttribute('data-rendered', 'yes');
});
"""


def render_html(results: Mapping[str, Any], *, run_line: str = "") -> str:
    """The whole page as one string (``run_line`` as the Markdown views word it)."""
    verdict = results.get("verdict") or {"verdict": "passed", "reasons": []}
    base = results.get("baseline")
    comparisons = list((base or {}).get("comparisons", []))
    colour = {"passed": "#2e7d32", "failed": "#c62828", "regressed": "#c62828"}.get(
        str(verdict["verdict"]), "#ef6c00"
    )
    env = results.get("environment") or {}
    reasons = "; ".join(verdict.get("reasons", []))
    cells = list(results.get("cells", []))
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        f"<title>Interop matrix {_e(results.get('matrix') or '')}: {_e(verdict['verdict'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Interop matrix results</h1>",
        f'<div class="banner" id="verdict" data-verdict="{_e(verdict["verdict"])}" '
        f'style="background:{colour}">VERDICT: {_e(verdict["verdict"])}'
        f"<small>{_e(reasons.replace('`', ''))}</small></div>",
        f'<div class="meta">{_e(run_line.replace("`", ""))}</div>',
        f'<div class="meta">kernel {_e(env.get("kernel", "?"))}; '
        + _e(", ".join(f"{k} {env[k]}" for k in ("python", "node", "bun", "rustc") if env.get(k)))
        + "</div>",
        f"<h2>Matrix ({_e(plural(len(cells), 'cell'))})</h2>",
        _grid(results, comparisons),
        "<h2>Latency</h2>",
        "<h3>Per-call targets</h3>",
        _targets_table(results),
        _scaling_table(results),
        _throughput_table(results),
        "<h2>Against the baseline</h2>",
        _summary_baseline(base),
        "<h2>Cells</h2>",
    ]
    body += [_cell_section(c, comparisons) for c in cells]
    body.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(body) + "\n"
