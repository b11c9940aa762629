"""The Python IPC host: loaders, LoadedPlugin and every fault of protocol.md 3.5, real children."""

from __future__ import annotations

import asyncio
import gc
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    CONFORMANCE,
    MISBEHAVING,
    SRC,
    bridge_env,
    conformance_manifest,
    pid_gone,
    result_errors,
    schema_errors,
)

from elizaos_interop import (
    InvalidPayloadError,
    LoadedPlugin,
    PluginCallError,
    PluginCrashError,
    PluginLoadError,
    PluginProtocolError,
    PluginTimeoutError,
    Result,
    load_ipc_plugin,
    load_python_plugin,
    load_ts_plugin,
)
from elizaos_interop.host._ipc import IpcTransport
from elizaos_interop.wire._manifest import check_manifest

MEM = {"content": {"text": "hello"}}


def pid_of(plugin: LoadedPlugin) -> int:
    transport = plugin.transport
    assert isinstance(transport, IpcTransport)
    return transport.pid


def misbehaving(name: str, **options: Any) -> LoadedPlugin:
    return load_ipc_plugin([sys.executable, str(MISBEHAVING / f"{name}.py")], **options)


@pytest.fixture
def plugin() -> Iterator[LoadedPlugin]:
    loaded = load_python_plugin(CONFORMANCE)
    yield loaded
    loaded.close()
    assert pid_gone(pid_of(loaded))


# -- the plugin object ---------------------------------------------------------------------


def test_loader_is_sync_and_exposes_the_manifest(plugin: LoadedPlugin) -> None:
    assert plugin.name == "conformance-fixture"
    assert plugin.version == "1.0.0"
    assert plugin.language == "python"
    assert plugin.description == "Deterministic behaviours for the interop conformance suite"
    assert plugin.protocol_version == 1
    assert plugin.capabilities == {"runtime", "shutdown"}
    exchange = ("protocolVersion", "capabilities")  # section 12
    assert {k: v for k, v in plugin.manifest.items() if k not in exchange} == conformance_manifest()
    assert [a.name for a in plugin.actions][:2] == ["echo", "reject"]
    assert plugin.actions[0].description == "Echo memory, state and options"
    assert [p.name for p in plugin.providers] == ["static", "echo", "config", "fail", "inits"]
    assert [e.name for e in plugin.evaluators] == ["echo", "silent", "reject", "fail"]
    assert plugin.transport.label == "conformance-fixture"


def test_handlers_and_results(plugin: LoadedPlugin) -> None:
    async def main() -> None:
        echo = plugin.actions[0]
        result = await echo.handler(None, MEM, {"s": 1}, {"o": 2})
        assert isinstance(result, Result)
        assert result.text == "hello"
        assert result.success is True
        assert result.error is None
        assert result["data"] == {"memory": MEM, "state": {"s": 1}, "options": {"o": 2}}
        assert result == {"success": True, "text": "hello", "data": result["data"]}
        assert not result_errors("invokeAction", result.to_dict())
        with pytest.raises(AttributeError):
            result.text = "x"
        assert await echo.validate(None, MEM, {}) is True
        assert await plugin.actions[1].validate(None, MEM, {}) is False
        static = await plugin.providers[0].get(None, MEM, {})
        assert static.text == "static provider"
        assert static.values == {"answer": 42}
        assert await plugin.evaluators[1].handler(None, MEM, {}) is None
        assert await plugin.evaluators[2].validate(None, MEM, {}) is False
        reject = await plugin.evaluators[2].handler(None, MEM, {})
        assert reject == {"success": False}
        await plugin.init({"k": "v"})
        assert (await plugin.get_provider("config", MEM)).values == {"k": "v"}
        assert await plugin.validate_evaluator("echo", MEM) is True
        evaluated = await plugin.invoke_evaluator("echo", MEM)
        assert evaluated is not None
        assert evaluated.success is True

    asyncio.run(main())


def test_calls_from_two_different_event_loops(plugin: LoadedPlugin) -> None:
    first = asyncio.run(plugin.invoke_action("echo", {"content": {"text": "one"}}))
    second = asyncio.run(plugin.invoke_action("echo", {"content": {"text": "two"}}))
    loop = asyncio.new_event_loop()
    try:
        third = loop.run_until_complete(plugin.invoke_action("echo", {"content": {"text": "3"}}))
    finally:
        loop.close()
    assert (first.text, second.text, third.text) == ("one", "two", "3")
    assert plugin.transport.call_sync("validateAction", {"name": "echo", "memory": MEM}) is True


def test_concurrent_calls_complete_out_of_order(plugin: LoadedPlugin) -> None:
    async def main() -> list[str]:
        order: list[str] = []

        async def run(name: str, options: dict[str, Any]) -> None:
            result = await plugin.invoke_action(name, MEM, {}, options)
            order.append(result.text)

        await asyncio.gather(run("slow", {"delayMs": 400}), run("echo", {}))
        return order

    assert asyncio.run(main()) == ["hello", "slept 400"]


def test_many_pipelined_calls(plugin: LoadedPlugin) -> None:
    async def main() -> list[Any]:
        return await asyncio.gather(
            *(plugin.invoke_action("echo", {"content": {"text": str(i)}}) for i in range(200))
        )

    results = asyncio.run(main())
    assert [r.text for r in results] == [str(i) for i in range(200)]


def test_large_result(plugin: LoadedPlugin) -> None:
    result = asyncio.run(plugin.invoke_action("large", MEM, {}, {"size": 3_000_000}))
    assert len(result.text) == 3_000_000
    assert result.values == {"size": 3_000_000}


def test_call_errors_are_typed_and_serving_continues(plugin: LoadedPlugin) -> None:
    async def main() -> None:
        with pytest.raises(PluginCallError) as fail:
            await plugin.invoke_action("fail", MEM)
        assert fail.value.code == -32000
        assert fail.value.data == {"kind": "action", "name": "fail", "exception": "RuntimeError"}
        assert 'conformance-fixture: invokeAction("fail") over ipc' in str(fail.value)
        with pytest.raises(PluginCallError) as unknown:
            await plugin.get_provider("nope", MEM)
        assert unknown.value.code == -32001
        with pytest.raises(PluginCallError) as invalid:
            await plugin.invoke_action("invalid", MEM)
        assert invalid.value.code == -32003
        with pytest.raises(PluginCallError) as bad:
            await plugin.invoke_action("echo", {"content": {"text": 5}})
        assert bad.value.code == -32602
        assert (await plugin.invoke_action("echo", MEM)).text == "hello"

    asyncio.run(main())


def test_cancelled_call_does_not_break_the_plugin(plugin: LoadedPlugin) -> None:
    async def main() -> str:
        task = asyncio.ensure_future(plugin.invoke_action("slow", MEM, {}, {"delayMs": 200}))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.3)  # the late answer arrives and is dropped
        return (await plugin.invoke_action("echo", MEM)).text  # type: ignore[no-any-return]

    assert asyncio.run(main()) == "hello"


# -- payloads the host refuses (nothing is written, the plugin is untouched) ---------------


@pytest.mark.parametrize(
    ("memory", "path"),
    [
        ({"content": {"text": "x"}, "v": math.nan}, "params.memory.v"),
        ({"content": {"text": "x"}, "v": [math.inf]}, "params.memory.v[0]"),
        ({"content": {"text": "\ud800"}}, "params.memory.content.text"),
        ({"content": {}, "v": object()}, "params.memory.v"),
    ],
)
def test_invalid_payload_is_refused_before_writing(
    plugin: LoadedPlugin, memory: dict[Any, Any], path: str
) -> None:
    with pytest.raises(InvalidPayloadError) as err:
        asyncio.run(plugin.invoke_action("echo", memory))
    assert err.value.path == path
    assert err.value.transport == "ipc"
    assert (asyncio.run(plugin.invoke_action("echo", MEM))).text == "hello"


def test_oversize_request_is_refused() -> None:
    with load_python_plugin(CONFORMANCE, max_message_bytes=10_000) as small:
        with pytest.raises(InvalidPayloadError, match="exceeds the message limit"):
            asyncio.run(small.invoke_action("echo", {"content": {"text": "x" * 20_000}}))
        assert asyncio.run(small.invoke_action("echo", MEM)).text == "hello"


# -- faults (protocol.md 3.5): typed error, bounded time, child reaped ---------------------


def test_timeout_kills_the_child_and_fails_everything() -> None:
    plugin = load_python_plugin(CONFORMANCE)
    pid = pid_of(plugin)

    async def main() -> tuple[Result | BaseException, Result | BaseException]:
        return await asyncio.gather(
            plugin.invoke_action("slow", MEM, {}, {"delayMs": 60_000}, timeout=0.3),
            plugin.invoke_action("slow", MEM, {}, {"delayMs": 60_000}),
            return_exceptions=True,
        )

    first, second = asyncio.run(main())
    assert isinstance(first, PluginTimeoutError)
    assert first.timeout_ms == 300
    assert 'invokeAction("slow") over ipc' in str(first)
    assert isinstance(second, PluginTimeoutError)
    assert pid_gone(pid)
    with pytest.raises(PluginCrashError, match="plugin is closed"):
        asyncio.run(plugin.invoke_action("echo", MEM))
    plugin.close()


def test_hang_fixture_times_out() -> None:
    plugin = misbehaving("hang", timeout=0.3)
    pid = pid_of(plugin)
    assert asyncio.run(plugin.validate_action("echo", MEM)) is True
    with pytest.raises(PluginTimeoutError):
        asyncio.run(plugin.invoke_action("echo", MEM))
    assert pid_gone(pid)
    plugin.close()


def test_sync_call_timeout() -> None:
    plugin = misbehaving("hang")
    pid = pid_of(plugin)
    with pytest.raises(PluginTimeoutError):
        plugin.transport.call_sync("invokeAction", {"name": "echo", "memory": MEM}, 0.3)
    assert pid_gone(pid)
    plugin.close()


def test_crash_reports_exit_status_and_later_calls_fail() -> None:
    plugin = load_python_plugin(CONFORMANCE)
    pid = pid_of(plugin)
    with pytest.raises(PluginCrashError) as crash:
        asyncio.run(plugin.invoke_action("crash", MEM))
    assert crash.value.exit_code == 70
    assert "exited with status 70" in str(crash.value)
    assert pid_gone(pid)
    with pytest.raises(PluginCrashError) as later:
        asyncio.run(plugin.invoke_action("echo", MEM))
    assert later.value.exit_code == 70
    plugin.close()


def test_crash_quotes_the_stderr_tail() -> None:
    plugin = misbehaving("crash_on_input")
    pid = pid_of(plugin)
    assert asyncio.run(plugin.invoke_action("echo", MEM)).text == "hello"
    with pytest.raises(PluginCrashError) as crash:
        asyncio.run(plugin.invoke_action("echo", {"content": {"text": "sad 😀"}}))
    assert crash.value.exit_code == 70
    assert "cannot handle a character outside the BMP" in crash.value.stderr_tail
    assert "cannot handle a character outside the BMP" in str(crash.value)
    assert pid_gone(pid)
    plugin.close()


def test_killed_by_signal_is_named() -> None:
    plugin = load_python_plugin(CONFORMANCE)
    pid = pid_of(plugin)

    async def main() -> None:
        call = asyncio.ensure_future(plugin.invoke_action("slow", MEM, {}, {"delayMs": 60_000}))
        await asyncio.sleep(0.1)
        os.kill(pid, 9)
        with pytest.raises(PluginCrashError) as crash:
            await call
        assert crash.value.signal == 9
        assert "SIGKILL" in str(crash.value)

    asyncio.run(main())
    assert pid_gone(pid)
    plugin.close()


@pytest.mark.parametrize(
    ("fixture", "reason"), [("garbage", "not JSON"), ("wrong_id", "unexpected id 1002")]
)
def test_protocol_faults_kill_the_child(fixture: str, reason: str) -> None:
    plugin = misbehaving(fixture)
    pid = pid_of(plugin)
    with pytest.raises(PluginProtocolError, match=reason) as err:
        asyncio.run(plugin.invoke_action("echo", MEM))
    assert err.value.excerpt
    assert pid_gone(pid)
    with pytest.raises(PluginCrashError, match="plugin is closed"):
        asyncio.run(plugin.invoke_action("echo", MEM))
    plugin.close()


def test_oversize_response_is_a_protocol_error() -> None:
    argv = [sys.executable, "-m", "elizaos_interop.bridge_server", str(CONFORMANCE)]
    plugin = load_ipc_plugin(argv, env=bridge_env(), max_message_bytes=100_000)
    pid = pid_of(plugin)
    with pytest.raises(PluginProtocolError, match="exceeds limit 100000"):
        asyncio.run(plugin.invoke_action("large", MEM, {}, {"size": 300_000}))
    assert pid_gone(pid)
    plugin.close()


def test_stderr_flood_does_not_block() -> None:
    with misbehaving("stderr_flood") as plugin:
        for i in range(5):
            text = asyncio.run(plugin.invoke_action("echo", {"content": {"text": str(i)}})).text
            assert text == str(i)
        transport = plugin.transport
        assert isinstance(transport, IpcTransport)
        assert 0 < len(transport.stderr_tail().encode()) <= 64 * 1024


# -- loading failures -----------------------------------------------------------------------


def test_bad_manifest_is_a_load_error() -> None:
    with pytest.raises(PluginLoadError) as err:
        misbehaving("bad_manifest")
    message = str(err.value)
    assert "invalid manifest" in message
    assert "version is missing" in message
    assert "'Conformance Fixture'" in message


def test_slow_start_is_a_load_error_and_the_child_is_reaped() -> None:
    before = _children()
    with pytest.raises(PluginLoadError, match="timed out after 500 ms") as err:
        misbehaving("slow_start", start_timeout=0.5)
    assert isinstance(err.value.__cause__, PluginTimeoutError)
    assert _children() <= before


def test_child_that_exits_at_once_is_a_load_error() -> None:
    with pytest.raises(PluginLoadError, match="exited with status 3") as err:
        load_ipc_plugin([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"])
    assert "boom" in str(err.value)


def test_missing_program_and_missing_file() -> None:
    with pytest.raises(PluginLoadError, match="cannot start"):
        load_ipc_plugin(["/no/such/program"])
    with pytest.raises(PluginLoadError, match="no such file"):
        load_python_plugin("/no/such/plugin.py")
    with pytest.raises(PluginLoadError, match="exited with status 2"):
        load_python_plugin("no_such_module_for_sure")


def test_ts_loader_reports_a_missing_bridge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin_file = tmp_path / "plugin.ts"
    plugin_file.write_text("export const plugin = {};\n")
    monkeypatch.setenv("ELIZAOS_TS_BRIDGE", str(tmp_path / "missing-bridge.ts"))
    with pytest.raises(PluginLoadError, match="ELIZAOS_TS_BRIDGE"):
        load_ts_plugin(plugin_file)
    with pytest.raises(PluginLoadError, match="runtime must be"):
        load_ts_plugin(plugin_file, runtime="deno")
    with pytest.raises(PluginLoadError, match="no such file"):
        load_ts_plugin(tmp_path / "absent.ts")


def test_python_loader_uses_elizaos_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELIZAOS_PYTHON", "/no/such/python")
    with pytest.raises(PluginLoadError, match="/no/such/python"):
        load_python_plugin(CONFORMANCE)


# -- lifetime -------------------------------------------------------------------------------


def test_fixture_file_serves_itself() -> None:
    with load_ipc_plugin([sys.executable, str(CONFORMANCE)], env=bridge_env()) as plugin:
        assert plugin.name == "conformance-fixture"
        assert asyncio.run(plugin.invoke_action("echo", MEM)).text == "hello"


STUBBORN = """
import json, signal, sys, time
from pathlib import Path
signal.signal(signal.SIGTERM, signal.SIG_IGN)
manifest = json.loads(Path(sys.argv[1]).read_text())
manifest["language"] = "python"
request = json.loads(sys.stdin.readline())
print(json.dumps({"id": request["id"], "result": manifest}), flush=True)
sys.stderr.write("ignoring shutdown, EOF and SIGTERM\\n")
sys.stderr.flush()
while True:
    time.sleep(1)
"""


def test_close_escalates_to_sigkill() -> None:
    vector = SRC.parents[2] / "docs" / "vectors" / "conformance-manifest.json"
    plugin = load_ipc_plugin([sys.executable, "-c", STUBBORN, str(vector)], grace=0.2)
    pid = pid_of(plugin)
    plugin.close()
    assert pid_gone(pid, within=0)
    transport = plugin.transport
    assert isinstance(transport, IpcTransport)
    assert transport.returncode == -9
    assert "ignoring shutdown" in transport.stderr_tail()


def test_close_is_idempotent_and_reaps() -> None:
    plugin = load_python_plugin(CONFORMANCE)
    pid = pid_of(plugin)
    plugin.close()
    plugin.close()
    assert pid_gone(pid, within=0)
    transport = plugin.transport
    assert isinstance(transport, IpcTransport)
    assert transport.returncode == 0  # it honoured shutdown
    with pytest.raises(PluginCrashError, match="plugin is closed"):
        asyncio.run(plugin.invoke_action("echo", MEM))


def test_context_managers_close() -> None:
    with load_python_plugin(CONFORMANCE) as plugin:
        pid = pid_of(plugin)
    assert pid_gone(pid, within=0)

    async def main() -> int:
        async with load_python_plugin(CONFORMANCE) as loaded:
            assert (await loaded.invoke_action("echo", MEM)).text == "hello"
            return pid_of(loaded)

    assert pid_gone(asyncio.run(main()), within=0)


def test_close_with_calls_in_flight_fails_them() -> None:
    plugin = load_python_plugin(CONFORMANCE)

    async def main() -> None:
        call = asyncio.ensure_future(plugin.invoke_action("slow", MEM, {}, {"delayMs": 60_000}))
        await asyncio.sleep(0.1)
        plugin.close()
        with pytest.raises(PluginCrashError, match="plugin is closed"):
            await call

    asyncio.run(main())
    assert pid_gone(pid_of(plugin), within=0)


def test_unreferenced_plugin_is_reaped_by_the_finaliser() -> None:
    plugin = load_python_plugin(CONFORMANCE)
    pid = pid_of(plugin)
    del plugin
    gc.collect()
    assert pid_gone(pid)


def test_no_child_outlives_the_interpreter(tmp_path: Path) -> None:
    script = tmp_path / "leak.py"
    script.write_text(
        "import sys\n"
        "from elizaos_interop import load_python_plugin\n"
        f"p = load_python_plugin({str(CONFORMANCE)!r})\n"
        "print(p.transport.pid, flush=True)\n"
        "keep = [p]\n"
    )
    env = dict(os.environ, PYTHONPATH=str(SRC))
    import subprocess

    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, env=env, timeout=60, check=True
    )
    assert pid_gone(int(out.stdout.decode().strip()))


# -- manifest checks --------------------------------------------------------------------------


def test_check_manifest_agrees_with_the_schema() -> None:
    good = conformance_manifest()
    assert check_manifest(good) == []
    assert schema_errors("manifest.schema.json", good) == []
    bad_cases: list[dict[str, Any]] = [
        {**good, "name": "Has Spaces"},
        {**good, "version": "1.0"},
        {**good, "language": "Py"},
        {**good, "actions": [{"name": "a"}]},
        {**good, "providers": [{"name": ""}]},
        {**good, "evaluators": [{"name": "e", "description": "d", "alwaysRun": "yes"}]},
        {k: v for k, v in good.items() if k != "description"},
    ]
    for bad in bad_cases:
        assert check_manifest(bad), bad
        assert schema_errors("manifest.schema.json", bad), bad
    duplicate = {**good, "actions": [{"name": "a", "description": ""}] * 2}
    assert check_manifest(duplicate) == ["actions[1].name 'a' is not unique"]


def _children() -> set[int]:
    """PIDs of this process's live children (zombies included)."""
    me = os.getpid()
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            found.add(int(entry))
    return found


# -- TypeScript plugins through the TS bridge --------------------------------------------------


@pytest.mark.parametrize("runtime", ["node", "bun"])
def test_ts_conformance_fixture(runtime: str) -> None:
    ts_fixture = SRC.parents[1] / "typescript" / "fixtures" / "conformance.ts"
    with load_ts_plugin(ts_fixture, runtime) as plugin:
        assert plugin.language == "typescript"
        assert plugin.manifest["protocolVersion"] == 1
        assert set(plugin.manifest["capabilities"]) == {"runtime", "shutdown"}
        ours = ("language", "protocolVersion", "capabilities")
        assert {k: v for k, v in plugin.manifest.items() if k not in ours} == {
            k: v for k, v in conformance_manifest().items() if k != "language"
        }
        result = asyncio.run(plugin.invoke_action("echo", {"content": {"text": "hi 😀"}}))
        assert result.text == "hi 😀"
        with pytest.raises(PluginCallError) as err:
            asyncio.run(plugin.invoke_action("panic", MEM))
        assert err.value.code == -32000
        pid = pid_of(plugin)
    assert pid_gone(pid, within=0)
