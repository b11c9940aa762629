"""Views of a results document: ``summary.md``, the terminal table, the README status block."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from testkit._latency_figures import warmup_text
from testkit._report_figures import (
    SCALING_KEYS,
    TARGETS,
    Target,
    fit_per_kib,
    format_ns,
    method_figures,
    scaling_rows,
    target_rows,
    throughput_rows,
)
from testkit._report_model import HEADLINE_METHOD, MARKER_BEGIN, MARKER_END, ReadmeError, overall_verdict
from testkit._stats import plural

__all__ = [
    "SCALING_KEYS",
    "TARGETS",
    "Target",
    "baseline_lines",
    "fit_per_kib",
    "format_ns",
    "print_table",
    "readme_block",
    "render_summary",
    "render_terminal",
    "replace_readme_block",
    "run_line",
    "scaling_rows",
    "target_rows",
    "throughput_rows",
    "update_readme",
    "verdict_line",
]

_LANG_NAME = {"python": "Python", "typescript": "TypeScript", "rust": "Rust"}


def _us_per_kib(ns: float | None) -> str:
    return "-" if ns is None else f"{ns / 1000.0:.3g} µs/KiB"


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000.0:.1f}k/s" if value >= 10_000 else f"{value:.0f}/s"


def _targets_lines(results: Mapping[str, Any]) -> list[str]:
    rows = target_rows(results)
    if not rows:
        return []
    missed = sum(1 for r in rows if r["met"] is False)
    lines = [
        "### Per-call targets",
        "",
        "Judged on the pinned figures of this run (reports/README.md, Per-call targets); "
        f"{plural(missed, 'target')} missed of {len(rows)}. A missed target is reported, not a failure.",
        "",
        "| target | rule | cell | figure (pinned) | verdict |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = "**missed**" if r["met"] is False else r["verdict"]
        lines.append(f"| {r['target']} | {r['rule']} | `{r['cell']}` | {r['figure']} | {verdict} |")
    return [*lines, ""]


def _scaling_lines(results: Mapping[str, Any]) -> list[str]:
    rows = scaling_rows(results)
    if not rows:
        return []
    lines = [
        "### Payload-size scaling (invokeAction echo)",
        "",
        "p50 and floor p50 at 100 B, 10 KiB and 1 MiB (main figures); slope: least squares over "
        "the sizes, in µs per KiB, for the cell, its floor and the cell's pinned figures.",
        "",
        "| cell | p50 100 B | p50 10 KiB | p50 1 MiB | slope | floor | floor 100 B | floor 10 KiB "
        "| floor 1 MiB | floor slope | pinned slope |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p50s = " | ".join(format_ns(v) for v in r["p50_ns"])
        floors = " | ".join(format_ns(v) for v in r["floor_p50_ns"])
        lines.append(
            f"| `{r['cell']}` | {p50s} | {_us_per_kib(r['per_kib_ns'])} | {r['floor_kind'] or '-'} "
            f"| {floors} | {_us_per_kib(r['floor_per_kib_ns'])} | {_us_per_kib(r['pinned_per_kib_ns'])} |"
        )
    return [*lines, ""]


def _throughput_lines(results: Mapping[str, Any]) -> list[str]:
    rows = throughput_rows(results)
    if not rows:
        return []
    counts = sorted({int(e["in_flight"]) for r in rows for e in r["entries"]})
    head = " | ".join(f"{n} in flight" for n in counts)
    pinned_head = " | ".join(f"pinned, {n}" for n in counts)
    lines = [
        "### Throughput (IPC, invokeAction echo 100 B)",
        "",
        "Calls per second with N calls outstanding (each of N workers issues its next call when its "
        "last is answered), host clock; median of the repeats. Cells are never measured concurrently.",
        "",
        f"| cell | {head} | {pinned_head} |",
        "|---|" + "---|" * (2 * len(counts)),
    ]
    for r in rows:
        by_n = {int(e["in_flight"]): e for e in r["entries"]}
        main = [by_n.get(n) or {} for n in counts]
        cells = [("ERROR" if e.get("error") else _rate(e.get("calls_per_s"))) for e in main]
        pinned = [_rate((e.get("pinned") or {}).get("calls_per_s")) for e in main]
        lines.append(f"| `{r['cell']}` | {' | '.join(cells)} | {' | '.join(pinned)} |")
    return [*lines, ""]


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _side(lang: str, runtime: str | None) -> str:
    name = _LANG_NAME.get(lang, lang)
    return f"{name} ({runtime.capitalize()})" if runtime else name


def _verdict(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "MISSED")


def _headline(cell: Mapping[str, Any]) -> Mapping[str, Any] | None:
    lat = cell.get("latency") or {}
    for method in lat.get("methods", []):
        if method.get("key") == HEADLINE_METHOD:
            return method  # type: ignore[no-any-return]
    return None


def _conformance_text(cell: Mapping[str, Any]) -> str:
    conf = cell.get("conformance")
    if not conf:
        return "not run"
    total = conf["passed"] + conf["failed"] + conf["errored"] + conf["skipped"]
    if conf["failed"] or conf["errored"] or conf["skipped"]:
        parts = [f"{conf['passed']}/{total} passed"]
        for key in ("failed", "errored", "skipped"):
            if conf[key]:
                parts.append(f"{conf[key]} {key}")
        return ", ".join(parts)
    return f"{conf['passed']}/{total} passed"


def _latency_budget_text(cell: Mapping[str, Any]) -> str:
    lat = cell.get("latency")
    if not lat:
        return "not run"
    if lat["status"] == "error":
        return "ERROR"
    verdicts = [(m.get("budget") or {}).get("met") for m in lat.get("methods", [])]
    if lat.get("met") is False:
        return f"MISSED ({sum(1 for v in verdicts if v)}/{len(verdicts)} met)"
    return _verdict(lat.get("met"))


def _pin_text(lat: Mapping[str, Any]) -> str:
    mode = lat.get("pin_mode") or ("only" if lat.get("pinned") else "off")
    if mode == "only":
        return f"pinned to CPU {lat.get('pinned_cpu')}"
    if mode == "both":
        return f"unpinned, and pinned to CPU {lat.get('pinned_cpu')} beside"
    return "unpinned"


def _source_text(source: Mapping[str, Any] | None) -> str | None:
    if not source or not source.get("commit"):
        return None
    text = f"commit {str(source['commit'])[:12]}"
    if source.get("branch"):
        text += f" ({source['branch']})"
    if source.get("dirty"):
        text += " + uncommitted changes"
    return text


def run_line(results: Mapping[str, Any]) -> str:
    lat = results.get("latency")
    env = results.get("environment") or {}
    parts = [f"run {results.get('generated_at', '?')}"]
    src = _source_text(results.get("source"))
    if src:
        parts.append(src)
    if results.get("matrix"):
        parts.append(f"matrix `{results['matrix']}`")
    if lat:
        repeats = int(lat.get("repeats") or 1)
        parts.append(
            f"latency profile `{lat['profile']}` "
            f"({warmup_text(int(lat['warmup']), float(lat.get('warmup_s') or 0))} + "
            f"{plural(int(lat['iterations']), 'sample')} per method in "
            f"{plural(repeats, 'interleaved repeat')}, {_pin_text(lat)})"
        )
    if env.get("cpu_model"):
        parts.append(f"{env['cpu_model']}, {plural(int(env.get('cores') or 0), 'core')}")
    if env.get("load_average"):
        parts.append(f"load average {' '.join(str(x) for x in env['load_average'])}")
    return " · ".join(parts)


def verdict_line(results: Mapping[str, Any]) -> str:
    """``VERDICT: regressed (2 regressions against ...; ...)``: the run's one top-line answer."""
    verdict = results.get("verdict") or overall_verdict(results)
    reasons = "; ".join(verdict.get("reasons", []))
    return f"VERDICT: {verdict['verdict']}" + (f" ({reasons})" if reasons else "")


def render_summary(results: Mapping[str, Any]) -> str:
    """``summary.md``: matrix table, latency table, baseline comparison, failures."""
    env = results.get("environment") or {}
    lines = ["# Interop matrix results", "", f"**{verdict_line(results)}**", "", run_line(results), ""]
    versions = ", ".join(
        f"{k} {env[k]}" for k in ("python", "node", "bun", "rustc", "rustc_wasm") if env.get(k)
    )
    lines += [f"Environment: kernel {env.get('kernel', '?')}; {versions}", ""]
    lines += [
        "## Cells",
        "",
        "| cell | host | plugin | transport | status | conformance | latency budget |",
        "|---|---|---|---|---|---|---|",
    ]
    for cell in results.get("cells", []):
        lines.append(
            f"| `{cell['id']}` | {_side(cell['host'], cell.get('host_runtime'))} "
            f"| {_side(cell['plugin'], cell.get('plugin_runtime'))} | {cell['transport']} "
            f"| {cell['status']} | {_conformance_text(cell)} | {_latency_budget_text(cell)} |"
        )
    lat_run = results.get("latency")
    if lat_run:
        lines += [
            "",
            "## Latency",
            "",
            *_targets_lines(results),
            *_scaling_lines(results),
            *_throughput_lines(results),
            "### Per method",
            "",
            "Host clock, one sample per call; unpinned figures, and the pinned ones (host, plugin and "
            "floor on one CPU: what a baseline comparison uses) in the last columns. Floor: `cat` "
            "pipe ping-pong of the same size (IPC), no-op call through the same transport "
            "(FFI/WASM) plus the JSON work the host does for the same payload, timed by the host "
            "(`noop+json`). Ratio = p50 / floor p50; the "
            "budget is met when the ratio is within `max_floor_ratio`. The absolute p50 budget "
            "is informational: the seed's ~10 ns FFI figure is below CPython's own ~21 ns call "
            "floor, so no Python host can meet it.",
            "",
            "| cell | method | bytes | p50 | p90 | p99 | floor | floor p50 | floor p99 | ratio "
            "| max ratio | budget | abs p50 budget | pinned p50 | pinned ratio |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for cell in results.get("cells", []):
            lat = cell.get("latency")
            if not lat:
                continue
            if lat.get("error"):
                lines.append(f"| `{cell['id']}` | ERROR: {_md_escape(lat['error'])} |" + " |" * 13)
            for m in lat.get("methods", []):
                if m.get("error"):
                    lines.append(
                        f"| `{cell['id']}` | {m['key']} | {m['payload_bytes']} | ERROR: "
                        f"{_md_escape(m['error'])} |" + " |" * 11
                    )
                    continue
                s, f, b = m["stats"], m.get("floor") or {}, m.get("budget") or {}
                pin_stats = (m.get("pinned") or {}).get("stats") or {}
                pin_budget = (m.get("pinned") or {}).get("budget") or {}
                abs_budget = format_ns(b["p50_us"] * 1000.0) if "p50_us" in b else "?"
                abs_text = f"{abs_budget}: {'met' if b.get('absolute_met') else 'missed'}"
                lines.append(
                    f"| `{cell['id']}` | {m['key']} | {m['payload_bytes']} | {format_ns(s['p50_ns'])} "
                    f"| {format_ns(s['p90_ns'])} | {format_ns(s['p99_ns'])} | {f.get('kind', '-')} "
                    f"| {format_ns(f.get('p50_ns'))} | {format_ns(f.get('p99_ns'))} "
                    f"| {_ratio(b.get('ratio'))} | {b.get('max_floor_ratio', '-')}x "
                    f"| {_verdict(b.get('met'))} | {abs_text} "
                    f"| {format_ns(pin_stats.get('p50_ns'))} | {_ratio(pin_budget.get('ratio'))} |"
                )
    lines += ["", "## Against the baseline", ""]
    lines += baseline_lines(results.get("baseline"))
    problems = _problems(results)
    if problems:
        lines += ["", "## Failures and errors", ""]
        lines += [f"- {_md_escape(p)}" for p in problems]
    return "\n".join(lines) + "\n"


def _ci(c: Mapping[str, Any]) -> str:
    if c.get("ci_low") is None or c.get("ci_high") is None:
        return "-"
    return f"{c['ci_low']:.2f}x-{c['ci_high']:.2f}x"


def baseline_lines(base: Mapping[str, Any] | None) -> list[str]:
    """The Markdown of the baseline comparison (shared by summary.md and the HTML page's text)."""
    if not base:
        return ["No baseline given."]
    where = f"`{base['path']}`"
    if base.get("matrix"):
        where += f" (matrix `{base['matrix']}`"
        if base.get("commit"):
            where += f", commit {str(base['commit'])[:12]}"
        where += ")"
    confidence = round(100 * float(base.get("confidence", 0.95)))
    lines = [
        f"Baseline {where} from {base.get('generated_at')}; {base.get('figures', 'unpinned')} figures "
        f"compared. A (cell, method) is a regression when the whole {confidence} % bootstrap interval "
        f"of p50 now / p50 then lies above {base['threshold']}x (and, with floors, the ratio to the "
        "floor grew as much); inconclusive when the interval straddles it."
    ]
    lines += [f"- note: {note}" for note in base.get("notes", [])]
    lines.append("")
    regressions, improvements = base["regressions"], base["improvements"]
    inconclusive = base.get("inconclusive", [])
    if regressions:
        lines.append(
            f"**{plural(len(regressions), 'regression').capitalize()}:** "
            + ", ".join(f"`{r}`" for r in regressions)
        )
    else:
        lines.append("No regressions.")
    if inconclusive:
        lines += [
            "",
            f"{plural(len(inconclusive), 'inconclusive comparison').capitalize()} (measure again on a "
            "quieter machine): " + ", ".join(f"`{r}`" for r in inconclusive),
        ]
    if improvements:
        lines += [
            "",
            f"{plural(len(improvements), 'improvement').capitalize()}: "
            + ", ".join(f"`{r}`" for r in improvements),
        ]
    if base["missing"]:
        lines += [
            "",
            f"Measured in the baseline, not now ({plural(len(base['missing']), 'method')}): "
            + ", ".join(f"`{r}`" for r in base["missing"]),
        ]
    not_run = base.get("cells_not_run", [])
    if not_run:
        lines += ["", f"{plural(len(not_run), 'cell')} of the baseline not in this run."]
    if base["comparisons"]:
        lines += [
            "",
            "| cell | method | baseline p50 | p50 | change | interval | floor-ratio change | verdict |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in base["comparisons"]:
            lines.append(
                f"| `{c['cell']}` | {c['method']} | {format_ns(c['baseline_p50_ns'])} "
                f"| {format_ns(c['p50_ns'])} | {_ratio(c['change'])} | {_ci(c)} "
                f"| {_ratio(c['floor_ratio_change'])} | {c['verdict']} |"
            )
    return lines


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:1000]


def _problems(results: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for check in results.get("plugin_level", []):
        if check["outcome"] != "passed":
            msg = check.get("message", "")
            out.append(f"{check['name']}: {check['outcome']}{': ' + msg if msg else ''}")
    for cell in results.get("cells", []):
        conf = cell.get("conformance") or {}
        for check in conf.get("checks", []):
            if check["outcome"] != "passed":
                msg = check.get("message", "")
                out.append(f"{cell['id']}::{check['name']}: {check['outcome']}{': ' + msg if msg else ''}")
        lat = cell.get("latency") or {}
        if lat.get("error"):
            out.append(f"{cell['id']}: latency: {lat['error']}")
        for m in lat.get("methods", []):
            if m.get("error"):
                out.append(f"{cell['id']}::{m['key']}: latency: {m['error']}")
    return out


def _table_rows(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["cell", "status", "conformance", "p50", "p99", "floor p50", "ratio", "budget"]
    rows: list[list[str]] = []
    for cell in results.get("cells", []):
        m = _headline(cell)
        s = (m or {}).get("stats") or {}
        f = (m or {}).get("floor") or {}
        b = (m or {}).get("budget") or {}
        rows.append(
            [
                cell["id"],
                cell["status"],
                _conformance_text(cell),
                format_ns(s.get("p50_ns")),
                format_ns(s.get("p99_ns")),
                format_ns(f.get("p50_ns")),
                _ratio(b.get("ratio")),
                _latency_budget_text(cell),
            ]
        )
    return header, rows


def render_terminal(results: Mapping[str, Any]) -> str:
    """Plain-text table, one line per cell (latency of invokeAction echo, 100-byte payload)."""
    header, rows = _table_rows(results)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [run_line(results).replace("`", ""), fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*row) for row in rows]
    base = results.get("baseline")
    if base:
        out.append(
            f"baseline {base['path']}: {plural(len(base['regressions']), 'regression')}"
            + (": " + ", ".join(base["regressions"]) if base["regressions"] else "")
            + (
                f"; {plural(len(base.get('inconclusive', [])), 'inconclusive comparison')}"
                if base.get("inconclusive")
                else ""
            )
        )
    for problem in _problems(results)[:20]:
        out.append(f"! {' '.join(problem.split())[:300]}")
    out.append(verdict_line(results))
    return "\n".join(out)


def print_table(results: Mapping[str, Any], echo: Callable[[str], None] = print) -> None:
    """Print the terminal table: rich when installed and writing to a terminal, else plain text."""
    if echo is print and sys.stdout.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            header, rows = _table_rows(results)
            table = Table(title=run_line(results).replace("`", ""))
            for name in header:
                table.add_column(name)
            for row in rows:
                table.add_row(*row)
            Console().print(table)
            for problem in _problems(results)[:20]:
                echo(f"! {' '.join(problem.split())[:300]}")
            return
    echo(render_terminal(results))


# --- README --------------------------------------------------------------------------------


def readme_block(results: Mapping[str, Any]) -> str:
    """The generated matrix-status block (markers excluded): one row per cell with its unpinned
    and pinned figures, then the per-call targets (judged pinned, the unpinned figure beside)."""
    lat = results.get("latency") or {}
    date = str(results.get("generated_at", "?"))
    profile = f"`{lat['profile']}` profile, {_pin_text(lat)}" if lat else "no latency measured"
    lines = [
        f"_Generated by `interop-testkit report` from the run of {date} ({profile}). "
        "p50/p99: `invokeAction echo` with a ~100-byte payload, host clock; ratio: p50 over the floor "
        "measured in the same run (`cat` pipe for IPC, no-op call plus the host's JSON work for "
        "FFI/WASM); pinned: host, plugin and floor on one CPU._",
        "",
        "| host | plugin | transport | status | p50 | p99 | ratio to floor | pinned p50 | pinned ratio "
        "| budget | run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in results.get("cells", []):
        # A run pinned throughout has only pinned figures: its unpinned columns stay empty.
        m = _headline(cell)
        unpinned = method_figures(results, m, pinned=False) or {}
        s = unpinned.get("stats") or {}
        b = unpinned.get("budget") or {}
        pinned = method_figures(results, m, pinned=True) or {}
        ps = pinned.get("stats") or {}
        pf = pinned.get("floor") or {}
        pratio = ps["p50_ns"] / pf["p50_ns"] if ps.get("p50_ns") and pf.get("p50_ns") else None
        lines.append(
            f"| {_side(cell['host'], cell.get('host_runtime'))} "
            f"| {_side(cell['plugin'], cell.get('plugin_runtime'))} | {cell['transport']} "
            f"| {cell['status']} | {format_ns(s.get('p50_ns'))} | {format_ns(s.get('p99_ns'))} "
            f"| {_ratio(b.get('ratio'))} | {format_ns(ps.get('p50_ns'))} | {_ratio(pratio)} "
            f"| {_latency_budget_text(cell)} | {date[:10]} |"
        )
    rows = target_rows(results)
    if rows:
        missed = sum(1 for r in rows if r["met"] is False)
        lines += [
            "",
            f"Per-call targets (reports/README.md), judged on the pinned figures: "
            f"{plural(missed, 'target')} missed of {len(rows)}.",
            "",
            "| target | rule | cell | pinned | unpinned | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows:
            verdict = "**missed**" if r["met"] is False else r["verdict"]
            lines.append(
                f"| {r['target']} | {r['rule']} | `{r['cell']}` | {r['figure']} | {r['unpinned_figure']} "
                f"| {verdict} |"
            )
    return "\n".join(lines)


def replace_readme_block(text: str, block: str, where: str = "README") -> str:
    """Replace what lies between the markers with ``block``; ReadmeError when markers are wrong."""
    begins = text.count(MARKER_BEGIN)
    ends = text.count(MARKER_END)
    if begins != 1 or ends != 1:
        raise ReadmeError(
            f"{where}: expected exactly one {MARKER_BEGIN!r} and one {MARKER_END!r} marker, "
            f"received {begins} and {ends}"
        )
    start = text.index(MARKER_BEGIN) + len(MARKER_BEGIN)
    end = text.index(MARKER_END)
    if end < start:
        raise ReadmeError(f"{where}: {MARKER_END!r} comes before {MARKER_BEGIN!r}")
    return text[:start] + "\n" + block.strip("\n") + "\n" + text[end:]


def update_readme(readme: Path, results: Mapping[str, Any]) -> bool:
    """Rewrite the README's matrix-status block from ``results``; returns True when it changed."""
    try:
        text = Path(readme).read_text(encoding="utf-8")
    except OSError as exc:
        raise ReadmeError(f"{readme}: cannot read the README: {exc}") from exc
    new = replace_readme_block(text, readme_block(results), str(readme))
    if new == text:
        return False
    Path(readme).write_text(new, encoding="utf-8")
    return True
