"""Host robustness against misbehaving IPC plugins (Python host, raw IPC): each fault gives a
typed error within the configured time-out, never a hang, and the host survives
(protocol.md section 3.5). Uses plugins/python/fixtures/misbehaving/."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

import elizaos_interop as api
import pytest

from testkit._session import child_processes
from testkit.suite._helpers import REPO, memory

MISBEHAVING = REPO / "plugins" / "python" / "fixtures" / "misbehaving"
CONFORMANCE = REPO / "plugins" / "python" / "fixtures" / "conformance_plugin.py"


def _argv(name: str) -> list[str]:
    path = MISBEHAVING / name
    if not path.is_file():
        pytest.fail(f"misbehaving fixture {path} is missing (it is source in plugins/python)", pytrace=False)
    return [sys.executable, str(path)]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A private event loop per check."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _invoke(loop: asyncio.AbstractEventLoop, plugin: Any, text: str = "hi", timeout: float = 10.0) -> Any:
    return loop.run_until_complete(plugin.invoke_action("echo", memory(text), {}, {}, timeout=timeout))


@pytest.mark.interop_check("robustness-bad-manifest")
def test_bad_manifest() -> None:
    with pytest.raises(api.PluginLoadError, match="manifest"):
        api.load_ipc_plugin(_argv("bad_manifest.py"), start_timeout=10)


@pytest.mark.interop_check("robustness-wrong-id")
def test_wrong_id(loop: asyncio.AbstractEventLoop) -> None:
    plugin = api.load_ipc_plugin(_argv("wrong_id.py"), start_timeout=10)
    with plugin:
        with pytest.raises(api.PluginProtocolError, match="id"):
            _invoke(loop, plugin)
        with pytest.raises(api.PluginCrashError):
            _invoke(loop, plugin)


@pytest.mark.interop_check("robustness-garbage")
def test_garbage(loop: asyncio.AbstractEventLoop) -> None:
    plugin = api.load_ipc_plugin(_argv("garbage.py"), start_timeout=10)
    with plugin:
        with pytest.raises(api.PluginProtocolError) as info:
            _invoke(loop, plugin)
        assert b"this is not json" in info.value.excerpt, info.value.excerpt


@pytest.mark.interop_check("robustness-crash-on-input")
def test_crash_on_input(loop: asyncio.AbstractEventLoop) -> None:
    plugin = api.load_ipc_plugin(_argv("crash_on_input.py"), start_timeout=10)
    with plugin:
        assert _invoke(loop, plugin, "plain text").success is True
        with pytest.raises(api.PluginCrashError) as info:
            _invoke(loop, plugin, "astral \U0001f600")
        assert info.value.exit_code == 70, f"exit code {info.value.exit_code}, expected 70"


@pytest.mark.interop_check("robustness-hang")
def test_hang(loop: asyncio.AbstractEventLoop) -> None:
    plugin = api.load_ipc_plugin(_argv("hang.py"), start_timeout=10)
    with plugin:
        with pytest.raises(api.PluginTimeoutError) as info:
            _invoke(loop, plugin, timeout=0.5)
        assert info.value.timeout_ms == pytest.approx(500), info.value.timeout_ms
        with pytest.raises(api.PluginCrashError, match="closed"):
            _invoke(loop, plugin)


@pytest.mark.interop_check("robustness-slow-start")
def test_slow_start() -> None:
    with pytest.raises(api.PluginLoadError) as info:
        api.load_ipc_plugin(_argv("slow_start.py"), start_timeout=1)
    assert isinstance(info.value.__cause__, api.PluginTimeoutError), repr(info.value.__cause__)


@pytest.mark.interop_check("robustness-stderr-flood")
def test_stderr_flood(loop: asyncio.AbstractEventLoop) -> None:
    plugin = api.load_ipc_plugin(_argv("stderr_flood.py"), start_timeout=20)
    with plugin:
        for i in range(5):
            result = _invoke(loop, plugin, f"flood {i}", timeout=20)
            assert result.text == f"flood {i}"


@pytest.mark.interop_check("robustness-killed")
def test_killed_plugin(loop: asyncio.AbstractEventLoop) -> None:
    before = {pid for pid, _s, _c in child_processes()}
    plugin = api.load_python_plugin(str(CONFORMANCE), start_timeout=20)
    with plugin:
        new = [pid for pid, _s, _c in child_processes() if pid not in before]
        assert len(new) == 1, f"expected one new child process for the plugin, found {new}"
        assert _invoke(loop, plugin).success is True
        os.kill(new[0], signal.SIGKILL)
        with pytest.raises(api.PluginCrashError) as info:
            _invoke(loop, plugin)
        assert info.value.signal == signal.SIGKILL, str(info.value)
    fresh = api.load_python_plugin(str(CONFORMANCE), start_timeout=20)
    with fresh:
        assert _invoke(loop, fresh, "after kill").text == "after kill"
