"""The report pages the main job wrote (``nox -s conformance``), looked at in headless Chromium.

The session runs this file with ``INTEROP_MAIN_JOB_PAGES`` set to its output directory after
writing ``report.html`` (default matrix) and ``full/report.html`` (full matrix): each page must
exist beside its results.json, draw one chip per cell of that run and every chart it holds, and
print nothing on the console. Without the variable (``nox -s tests``, a developer's pytest) the
pages may not exist yet, so the tests are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from testkit.tests._browser import headless, png_pixels

PAGES = ("report.html", "full/report.html")


def _out() -> Path:
    where = os.environ.get("INTEROP_MAIN_JOB_PAGES")
    if not where:
        pytest.skip("INTEROP_MAIN_JOB_PAGES is not set: run by `nox -s conformance` after it wrote the pages")
    return Path(where)


@pytest.mark.parametrize("page", PAGES)
def test_the_page_draws_every_cell_and_chart_without_console_output(page: str) -> None:
    html = _out() / page
    results_path = html.parent / "results.json"
    assert html.is_file(), f"the main job wrote no {html}"
    assert results_path.is_file(), f"the main job wrote no {results_path} beside {html}"
    results = json.loads(results_path.read_text(encoding="utf-8"))
    cells = [c["id"] for c in results["cells"]]
    assert cells, f"{results_path} has no cells"
    source = html.read_text(encoding="utf-8")
    charts_in_page = source.count('<svg class="chart')
    measured = [c["id"] for c in results["cells"] if (c.get("latency") or {}).get("methods")]
    assert charts_in_page >= len(measured), (charts_in_page, measured)

    done = headless("--virtual-time-budget=5000", "--dump-dom", html.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], f"{html}: console output {console}"
    dom = done.stdout
    assert 'data-rendered="yes"' in dom, f"{html}: the page's script did not run"
    assert f'data-cells="{len(cells)}"' in dom, f"{html}: expected {len(cells)} cells drawn"
    for cid in cells:
        assert f'data-cell="{cid}"' in dom, f"{html}: cell {cid} not drawn"
    drawn = int(dom.split('data-charts="', 1)[1].split('"', 1)[0])
    assert drawn == charts_in_page, f"{html}: {drawn} of {charts_in_page} charts drawn"


@pytest.mark.parametrize("page", PAGES)
def test_the_page_screenshot_is_not_blank(page: str) -> None:
    html = _out() / page
    assert html.is_file(), f"the main job wrote no {html}"
    shot = html.with_suffix(".png")
    done = headless("--hide-scrollbars", "--window-size=1000,1600", f"--screenshot={shot}", html.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.is_file(), done.stderr[-2000:]
    keep = os.environ.get("INTEROP_TEST_ARTEFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / ("main-job-" + page.replace("/", "-").replace(".html", ".png")))
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1000, 1600)
    assert len(Counter(pixels)) > 50, f"{shot}: a blank page (text and charts give many colours)"
