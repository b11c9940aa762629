"""The HTML certificate looked at in headless Chromium: every check drawn with its verdict colour,
the failing one's evidence and reproduction, no console output; the screenshot is kept as an
artefact (``INTEROP_TEST_ARTEFACTS``)."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections import Counter
from pathlib import Path

from testkit._certify_checks import CHECKS
from testkit._toolchains import find_repo_root
from testkit.cli import main
from testkit.tests._browser import headless, png_pixels

ROOT = find_repo_root(Path(__file__).parent)
NAN_PLUGIN = ROOT / "testkit" / "fixtures" / "broken" / "nan_result.py"
PASS_GREEN = (0xE6, 0xF4, 0xEA)
FAIL_RED = (0xFC, 0xE8, 0xE6)


def test_chromium_shows_the_certificate(tmp_path: Path) -> None:
    assert NAN_PLUGIN.is_file(), NAN_PLUGIN
    page = tmp_path / "certificate.html"
    ipc = f"{shlex.quote(sys.executable)} {shlex.quote(str(NAN_PLUGIN))}"
    code = main(["certify", "--ipc", ipc, "--hosts", "python", "--fuzz-examples", "3", "--html", str(page)])
    assert code == 1  # NaN in a result breaks a MUST
    done = headless("--virtual-time-budget=2000", "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stderr.splitlines() if ":CONSOLE" in line] == []
    dom = done.stdout
    assert "<h1>FAIL" in dom
    for check in CHECKS:
        assert f"<code>{check.id}</code>" in dom, f"check {check.id} is not drawn"
    assert '<tr class="fail"><td>FAIL</td><td>MUST</td><td><code>json-profile</code>' in dom
    assert "reproduce: interop-testkit certify" in dom

    shot = tmp_path / "certificate.png"
    done = headless("--hide-scrollbars", "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri())
    assert shot.is_file(), done.stderr[-2000:]
    keep = os.environ.get("INTEROP_TEST_ARTEFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "certificate.png")
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1200, 2400)
    colours = Counter(pixels)
    assert colours[PASS_GREEN] > 1000, "no passing row drawn"
    assert colours[FAIL_RED] > 200, "no failing row drawn"
