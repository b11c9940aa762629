"""The cross-host comparison the pytest plugin runs on the controller, and the leftover-child scan."""

from __future__ import annotations

import subprocess

from testkit._session import child_processes, reap_children
from testkit.pytest_plugin import _consistency


def _out(plugin: str, value: object) -> dict[str, object]:
    return {"plugin": plugin, "fixture": "conformance", "results": [{"ok": True, "value": value}]}


def test_agreeing_cells_pass_and_lonely_cells_are_not_judged() -> None:
    verdicts = _consistency(
        {
            "py-host/rust-plugin/ffi": _out("rust", {"a": 1, "b": 2.0}),
            "ts-host/rust-plugin/wasm": _out("rust", {"b": 2, "a": 1}),
            "rust-host/py-plugin/ipc": _out("python", {"x": 1}),
        }
    )
    assert sorted(v[0] for v in verdicts) == ["py-host/rust-plugin/ffi", "ts-host/rust-plugin/wasm"]
    assert all(diff is None for _c, _g, diff in verdicts)


def test_a_differing_cell_is_named_with_the_difference() -> None:
    verdicts = _consistency(
        {
            "py-host/ts-plugin/ipc": _out("typescript", {"text": "caf\u00e9"}),
            "rust-host/ts-plugin/ipc": _out("typescript", {"text": "cafe\u0301"}),
        }
    )
    failing = [v for v in verdicts if v[2] is not None]
    assert len(failing) == 1
    cell, group, diff = failing[0]
    assert cell == "rust-host/ts-plugin/ipc"
    assert group == "typescript"
    assert diff is not None
    assert "differs from py-host/ts-plugin/ipc" in diff
    assert ".text" in diff


def test_child_scan_sees_and_reaps_a_child() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        found = [c for c in child_processes() if c[0] == proc.pid]
        assert len(found) == 1
        assert "sleep 30" in found[0][2]
        reap_children(found)
        assert proc.pid not in {pid for pid, _s, _c in child_processes()}
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_session_restarts_a_dead_driver() -> None:
    import os
    import signal

    from testkit._drivers import SubprocessDriver
    from testkit._matrix import Cell
    from testkit._session import InteropSession
    from testkit._toolchains import Toolchains

    session = InteropSession(Toolchains.discover())
    cell = Cell("rust", "python", "ipc")
    try:
        first = session.plugin(cell)
        assert first.call("getManifest", {}).ok
        driver = first.driver
        assert isinstance(driver, SubprocessDriver)
        os.kill(driver.pid, signal.SIGKILL)
        driver._proc.wait()
        assert not driver.alive or driver._proc.poll() is not None
        second = session.plugin(cell)
        assert second.driver is not driver
        assert second.call("getManifest", {}).ok
    finally:
        assert session.close() == []
