"""What ``certify`` prints and writes: terminal lines, certificate JSON, JUnit XML, an HTML page,
and the expected-failures (baseline) file.

Terminal: one line per check, details capped; the certificate holds everything.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

from testkit._certify import Certification, CheckResult

__all__ = [
    "print_result",
    "read_expected_failures",
    "write_certificate",
    "write_expected_failures",
    "write_html",
    "write_junit",
]

_TERMINAL_CAP = 160


def _short(text: str, limit: int = _TERMINAL_CAP) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _tail(text: str, lines: int = 4) -> list[str]:
    return [line for line in text.strip().splitlines() if line.strip()][-lines:]


def print_result(result: Certification, echo: Callable[[str], None] = print, details: bool = True) -> None:
    """One line per check, then for each failure its evidence and the command that reproduces it."""
    labels = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP", "xfail": "XFAIL", "xpass": "XPASS"}
    for host, info in result.hosts.items():
        extra = f", {info['calls']} calls in {info.get('duration_s', 0):g} s" if "calls" in info else ""
        echo(f"host  {host:6} {info.get('status')}: {info.get('driver', '')}{extra}")
    width = max((len(c.id) for c in result.checks), default=10)
    for check in result.checks:
        line = f"{labels[check.outcome]:5} {check.level:6} {check.id:{width}}"
        if check.message:
            line += "  " + _short(check.message)
        echo(line)
        counts = check.level == "MUST" or result.strict
        if details and counts and check.outcome in ("fail", "xpass") and check.groups:
            _print_details(check, echo)
    for note in result.notes:
        echo(f"note: {_short(note, 200)}")


def _print_details(check: CheckResult, echo: Callable[[str], None]) -> None:
    for group in check.groups[:3]:
        count = f" (x{group.count})" if group.count > 1 else ""
        echo(f"      - {_short(group.summary, 140)}{count}")
        first = group.first
        if first.host:
            echo(f"        host: {first.host}")
        if first.input:
            echo(f"        input: {_short(first.input, 140)}")
        if first.request:
            echo(f"        sent: {_short(first.request, 140)}")
        if first.received:
            echo(f"        got:  {_short(first.received, 140)}")
        for line in _tail(first.stderr, 3):
            echo(f"        stderr| {_short(line, 130)}")
    if len(check.groups) > 3:
        echo(f"      ... {len(check.groups) - 3} more problem(s) in the certificate")
    echo(f"      reproduce: {check.repro}")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_certificate(result: Certification, out: Path) -> None:
    """The certificate JSON (complete details of every finding)."""
    _atomic_write(out, json.dumps(result.certificate(), indent=1, ensure_ascii=False) + "\n")


def write_junit(result: Certification, out: Path) -> None:
    """JUnit XML: one testcase per check; SHOULD/MAY failures are failures only under --strict."""
    suite = ET.Element(
        "testsuite",
        name=f"certify {result.plugin.get('name') or result.target}",
        tests=str(len(result.checks)),
        failures=str(sum(c.failed for c in result.checks)),
        skipped=str(sum(c.outcome in ("skip", "xfail") for c in result.checks)),
        time=f"{result.duration_s:.3f}",
    )
    for check in result.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"certify.{check.level}",
            name=check.id,
            time=f"{check.duration_s:.3f}",
        )
        if check.failed:
            counts = check.level == "MUST" or result.strict or check.outcome == "xpass"
            tag = "failure" if counts else "system-out"
            body = "\n".join(
                f"{g.summary} (x{g.count})\n  input: {g.first.input}\n  sent: {g.first.request}\n"
                f"  got: {g.first.received}\n  stderr: {g.first.stderr[-800:]}"
                for g in check.groups
            )
            element = (
                ET.SubElement(case, tag, message=check.message[:500]) if counts else ET.SubElement(case, tag)
            )
            element.text = body + f"\nreproduce: {check.repro}"
        elif check.outcome in ("skip", "xfail"):
            ET.SubElement(case, "skipped", message=check.message[:500])
    _atomic_write(out, ET.tostring(suite, encoding="unicode") + "\n")


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:72em}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top}
.pass{background:#e6f4ea}.fail,.xpass{background:#fce8e6}.skip,.xfail{background:#f1f3f4}
pre{white-space:pre-wrap;font-size:.85em;margin:.2em 0}summary{cursor:pointer}
"""


def write_html(result: Certification, out: Path) -> None:
    """A self-contained HTML page (no scripts, no network) with every check and its evidence."""
    esc = html.escape
    rows = []
    for check in result.checks:
        details = ""
        for group in check.groups:
            first = group.first
            details += (
                f"<details><summary>{esc(group.summary)} (x{group.count})</summary>"
                f"<pre>input: {esc(first.input)}\nhost: {esc(first.host)}\nsent: {esc(first.request)}\n"
                f"got: {esc(first.received)}\nstderr:\n{esc(first.stderr[-1500:])}</pre></details>"
            )
        if check.repro and check.outcome in ("fail", "xpass", "xfail"):
            details += f"<pre>reproduce: {esc(check.repro)}</pre>"
        rows.append(
            f'<tr class="{check.outcome}"><td>{esc(check.outcome.upper())}</td><td>{esc(check.level)}</td>'
            f"<td><code>{esc(check.id)}</code></td><td>{esc(check.section)}</td>"
            f"<td>{esc(check.message)}{details}</td></tr>"
        )
    cert = result.certificate()
    hosts = "".join(
        f"<li>{esc(h)}: {esc(str(info.get('status')))} ({esc(str(info.get('driver', '')))})</li>"
        for h, info in result.hosts.items()
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in result.notes)
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>certify {esc(str(cert['plugin']['name']))}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(cert['verdict'])}: {esc(str(cert['plugin']['name']))} "
        f"{esc(str(cert['plugin']['version']))}</h1>"
        f"<p>target <code>{esc(result.target)}</code> over {esc(result.transport)}; {result.calls} calls in "
        f"{result.duration_s:.1f} s; testkit {esc(cert['testkit_version'])}; {esc(cert['timestamp'])}</p>"
        f"<h2>Hosts</h2><ul>{hosts}</ul>"
        "<h2>Checks</h2><table><tr><th>verdict</th><th>level</th><th>check</th><th>protocol.md</th>"
        f"<th>details</th></tr>{''.join(rows)}</table><h2>Notes</h2><ul>{notes}</ul></body></html>\n"
    )
    _atomic_write(out, page)


def read_expected_failures(path: Path) -> list[str]:
    """Check ids listed in an expected-failures file (one per line, ``#`` comments); [] if absent."""
    if not path.is_file():
        return []
    ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            ids.append(text)
    return ids


def write_expected_failures(result: Certification, path: Path) -> list[str]:
    """Rewrite the expected-failures file with the checks that fail now; returns the ids."""
    ids = [c.id for c in result.checks if c.outcome in ("fail", "xfail")]
    lines = [
        f"# Expected certify failures of {result.plugin.get('name') or result.target}",
        "# (check ids, one a line).",
        "# An unexpected failure fails certify, and so does a listed check that passes.",
        *[f"{c.id}  # {c.level}: {c.message[:100]}" for c in result.checks if c.id in ids],
    ]
    _atomic_write(path, "\n".join(lines) + "\n")
    return ids
