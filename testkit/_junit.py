"""``junit.xml``: the conformance run and the baseline comparison as JUnit XML for CI.

One ``<testsuite>`` per cell (one ``<testcase>`` per conformance check: failed checks are
``<failure>``, errored ones ``<error>``, skipped ones ``<skipped>``; a cell whose latency could not
be measured gets a failing ``latency`` case), one for the plugin-level checks, and one
``baseline`` suite: a regression is a ``<failure>``, an inconclusive comparison ``<skipped>``
with the reason, so a CI dashboard shows which call regressed by how much.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["render_junit"]


def _case(suite: ET.Element, classname: str, name: str, time_s: float = 0.0) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{time_s:.6f}")


def _suite(root: ET.Element, name: str, timestamp: str) -> ET.Element:
    return ET.SubElement(root, "testsuite", name=name, timestamp=timestamp)


def _checks(suite: ET.Element, classname: str, checks: Sequence[Mapping[str, Any]]) -> None:
    for check in checks:
        case = _case(suite, classname, str(check["name"]), float(check.get("duration_s", 0.0)))
        message = str(check.get("message", ""))
        outcome = check["outcome"]
        if outcome == "failed":
            ET.SubElement(case, "failure", message=message[:500], type="check").text = message
        elif outcome == "error":
            ET.SubElement(case, "error", message=message[:500], type="error").text = message
        elif outcome == "skipped":
            ET.SubElement(case, "skipped", message=message[:500])


def _count(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("time", f"{sum(float(c.get('time', '0')) for c in cases):.6f}")


def render_junit(results: Mapping[str, Any]) -> str:
    """The JUnit XML document of ``results`` (see the module docstring)."""
    stamp = str(results.get("generated_at", ""))
    matrix = str(results.get("matrix") or "matrix")
    root = ET.Element("testsuites", name=f"interop {matrix}")
    for cell in results.get("cells", []):
        suite = _suite(root, str(cell["id"]), stamp)
        _checks(suite, str(cell["id"]), (cell.get("conformance") or {}).get("checks", []))
        lat = cell.get("latency") or {}
        problems = [str(lat["error"])] if lat.get("error") else []
        problems += [str(m["error"]) for m in lat.get("methods", []) if m.get("error")]
        if lat:
            case = _case(suite, str(cell["id"]), "latency")
            if problems:
                ET.SubElement(case, "failure", message=problems[0][:500], type="latency").text = "\n".join(
                    problems
                )
        _count(suite)
    plugin_level = results.get("plugin_level") or []
    if plugin_level:
        suite = _suite(root, "plugin-level", stamp)
        _checks(suite, "plugin-level", plugin_level)
        _count(suite)
    base = results.get("baseline")
    if base:
        suite = _suite(root, "baseline", stamp)
        for c in base.get("comparisons", []):
            case = _case(suite, f"baseline.{c['cell']}", str(c["method"]))
            text = (
                f"p50 {c['baseline_p50_ns']:.0f} ns -> {c['p50_ns']:.0f} ns: {c['change']:.2f}x, "
                f"interval {c.get('ci_low') or 0:.2f}x-{c.get('ci_high') or 0:.2f}x "
                f"against {base['threshold']}x ({base.get('figures', 'unpinned')} figures)"
            )
            if c["verdict"] == "regression":
                ET.SubElement(case, "failure", message=text, type="regression").text = text
            elif c["verdict"] == "inconclusive":
                ET.SubElement(case, "skipped", message=f"inconclusive: {text}")
        _count(suite)
    verdict = (results.get("verdict") or {}).get("verdict")
    if verdict:
        props = ET.SubElement(root, "properties")
        ET.SubElement(props, "property", name="verdict", value=str(verdict))
        commit = (results.get("source") or {}).get("commit")
        if commit:
            ET.SubElement(props, "property", name="commit", value=str(commit))
    suites = root.findall("testsuite")
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
