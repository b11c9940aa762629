"""The host driver clients against real hosts: the Python host in-process, and the TypeScript
(Node, Bun) and Rust driver processes speaking protocol.md section 8. Missing drivers fail,
naming the build."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit._drivers import (
    DriverError,
    HostDriver,
    PluginSpec,
    PythonDriver,
    SubprocessDriver,
    fixture_spec,
    open_driver,
)
from testkit._session import child_processes
from testkit._toolchains import ToolchainError, Toolchains, find_repo_root

ROOT = find_repo_root(Path(__file__).parent)
ECHO = {
    "name": "echo",
    "memory": {"content": {"text": "h\u00e9llo \U0001f600"}},
    "state": {"s": 1},
    "options": {},
}


@pytest.fixture(scope="module")
def toolchains() -> Toolchains:
    return Toolchains.discover(ROOT)


def _children() -> set[int]:
    return {pid for pid, _s, _c in child_processes()}


@pytest.fixture(
    params=[("python", None), ("typescript", "node"), ("typescript", "bun"), ("rust", None)],
    ids=["python", "ts-node", "ts-bun", "rust"],
)
def driver(request: pytest.FixtureRequest, toolchains: Toolchains) -> Iterator[HostDriver]:
    host, runtime = request.param
    before = _children()
    try:
        drv = open_driver(host, runtime, toolchains)
    except ToolchainError as exc:
        pytest.fail(f"{host} driver unavailable: {exc}", pytrace=False)
    try:
        yield drv
    finally:
        drv.close()
    left = _children() - before
    assert not left, f"the {host} driver left child processes behind: {left}"


def test_load_call_and_errors(driver: HostDriver, toolchains: Toolchains) -> None:
    spec = fixture_spec(toolchains, "conformance", "python", "ipc")
    handle, manifest = driver.load(spec, timeout_ms=20_000)
    assert manifest["name"] == "conformance-fixture"
    assert manifest["language"] == "python"
    out = driver.call(handle, "invokeAction", ECHO, timeout_ms=20_000)
    assert out.ok, out
    assert out.value["text"] == "h\u00e9llo \U0001f600"
    assert out.value["data"]["state"] == {"s": 1}
    bad = driver.call(handle, "getProvider", {"name": "nope", "memory": {"content": {}}})
    assert (bad.ok, bad.error_type, bad.code) == (False, "PluginCallError", -32001), bad
    assert "nope" in bad.message
    many = driver.call_many(
        handle, [("invokeAction", {**ECHO, "state": {"i": i}}) for i in range(6)], timeout_ms=20_000
    )
    assert [o.value["data"]["state"]["i"] for o in many] == list(range(6))
    driver.unload(handle)
    with pytest.raises(DriverError):
        driver.call(handle, "getManifest", {})


def test_bench_and_pipe_floor(driver: HostDriver, toolchains: Toolchains) -> None:
    handle, _ = driver.load(fixture_spec(toolchains, "conformance", "python", "ipc"), timeout_ms=20_000)
    samples = driver.bench(handle, "getProvider", {"name": "static", "memory": {"content": {}}}, 5, 2)
    assert len(samples) == 5
    assert all(isinstance(s, int) and s > 0 for s in samples)
    pipe = driver.bench_pipe(["cat"], "x" * 100, 5, 1)
    assert len(pipe) == 5
    assert all(s > 0 for s in pipe)
    driver.unload(handle)


def test_bench_json_and_throughput(driver: HostDriver, toolchains: Toolchains) -> None:
    """benchJson: one sample per iteration of the host's JSON work for a call; benchThroughput:
    the host's time for N calls with 1, 8 or 64 in flight, a failing call failing it."""
    memory: dict[str, Any] = {"content": {"text": "h\u00e9llo"}}
    answer = {"success": True, "text": "h\u00e9llo", "data": {"memory": memory}}
    js = driver.bench_json({**ECHO, "memory": memory}, answer, 30, 3)
    assert len(js) == 30
    assert all(isinstance(s, int) and s >= 0 for s in js)
    handle, _ = driver.load(fixture_spec(toolchains, "conformance", "python", "ipc"), timeout_ms=20_000)
    for in_flight in (1, 8, 64):
        elapsed = driver.bench_throughput(handle, "invokeAction", dict(ECHO), in_flight, 128, 8)
        assert isinstance(elapsed, int)
        assert elapsed > 0
    nope = {"name": "nope", "memory": {"content": {}}}
    with pytest.raises(DriverError, match="nope"):
        driver.bench_throughput(handle, "getProvider", nope, 4, 16, 0)
    driver.unload(handle)


def test_load_failure_is_a_driver_error(driver: HostDriver) -> None:
    spec = PluginSpec(transport="ipc", language="python", path=str(ROOT / "no-such-plugin.py"))
    with pytest.raises(DriverError, match=r"no-such-plugin\.py"):
        driver.load(spec, timeout_ms=5_000)


def test_python_driver_runtime_name(toolchains: Toolchains) -> None:
    drv = PythonDriver(toolchains)
    try:
        assert drv.runtime.startswith("cpython 3.")
    finally:
        drv.close()


def test_python_driver_is_alive_until_closed(toolchains: Toolchains) -> None:
    drv = PythonDriver(toolchains)
    assert isinstance(drv, HostDriver)
    assert drv.alive
    drv.close()
    assert not drv.alive


def test_subprocess_driver_time_out_kills_and_reaps() -> None:
    before = _children()
    with pytest.raises(DriverError, match="no answer within the time-out"):
        SubprocessDriver(
            [sys.executable, "-c", "import time; time.sleep(60)"], host="test", hello_timeout_s=0.5
        )
    assert not (_children() - before)


def test_subprocess_driver_reports_a_dead_driver_with_its_stderr() -> None:
    code = "import sys; sys.stdin.readline(); sys.stderr.write('driver exploded\\n'); sys.exit(3)"
    with pytest.raises(DriverError, match=r"(?s)exited with status 3.*driver exploded"):
        SubprocessDriver([sys.executable, "-c", code], host="test", hello_timeout_s=10)


def test_subprocess_driver_rejects_non_protocol_output() -> None:
    with pytest.raises(DriverError, match="response without result or error"):
        SubprocessDriver(["cat"], host="test", hello_timeout_s=10)


def test_missing_driver_names_the_build(tmp_path: Path, toolchains: Toolchains) -> None:
    fake = Toolchains.discover(ROOT, env={"ELIZAOS_RUST_TARGET_DIR": str(tmp_path)})
    with pytest.raises(
        ToolchainError,
        match=r"Rust host driver is missing: expected at .*elizaos-host-driver.*build_rust_ipc",
    ):
        open_driver("rust", None, fake)


@pytest.mark.parametrize(
    ("host", "runtime", "transport"),
    [
        ("python", None, "ffi"),
        ("python", None, "wasm"),
        ("typescript", "node", "wasm"),
        ("rust", None, "ffi"),
    ],
)
def test_bench_noop_floor(toolchains: Toolchains, host: str, runtime: str | None, transport: str) -> None:
    drv = open_driver(host, runtime, toolchains)
    try:
        handle, manifest = drv.load(
            fixture_spec(toolchains, "conformance", "rust", transport), timeout_ms=20_000
        )
        assert manifest["language"] == "rust"
        samples = drv.bench_noop(handle, 50, 5)
        assert len(samples) == 50
        assert all(isinstance(s, int) and s >= 0 for s in samples)
        ipc_handle, _ = drv.load(fixture_spec(toolchains, "conformance", "python", "ipc"), timeout_ms=20_000)
        with pytest.raises(DriverError) as info:
            drv.bench_noop(ipc_handle, 5, 0)
        assert info.value.code == -32602
    finally:
        drv.close()


WORLD = {
    "agentId": "00000000-0000-4000-8000-00000000000a",
    "character": {"name": "Eliza"},
    "settings": {"GREETING": "hello from the world"},
}
GET_GREETING = {
    "name": "runtime",
    "memory": {"content": {"text": "rt"}},
    "state": {},
    "options": {"calls": [{"method": "getSetting", "args": ["GREETING"]}]},
}


def test_agent_runtime_travels_with_the_call(driver: HostDriver, toolchains: Toolchains) -> None:
    """protocol.md 8 and 11.5: a World given at load becomes the handle's in-memory runtime, one
    given with a call replaces it for that call, and without either the plugin's runtime call
    fails inside the plugin with the named error (code null: refused locally, nothing sent)."""
    spec = fixture_spec(toolchains, "conformance", "python", "ipc")
    handle, _ = driver.load(spec, timeout_ms=20_000, agent_runtime=WORLD)
    out = driver.call(handle, "invokeAction", GET_GREETING, timeout_ms=20_000)
    assert out.ok, out
    assert out.value["values"] == {"agentId": WORLD["agentId"]}, out.value
    assert out.value["data"]["results"] == [{"ok": "hello from the world"}], out.value
    other = {"agentId": "other-agent", "settings": {"GREETING": "per call"}}
    out = driver.call(handle, "invokeAction", GET_GREETING, timeout_ms=20_000, agent_runtime=other)
    assert out.ok, out
    assert out.value["values"] == {"agentId": "other-agent"}, out.value
    assert out.value["data"]["results"] == [{"ok": "per call"}], out.value
    many = driver.call_many(
        handle,
        [("invokeAction", GET_GREETING), ("invokeAction", GET_GREETING, other)],
        timeout_ms=20_000,
    )
    assert [o.value["data"]["results"] for o in many] == [
        [{"ok": "hello from the world"}],
        [{"ok": "per call"}],
    ], many
    plain, _ = driver.load(spec, timeout_ms=20_000)
    out = driver.call(plain, "invokeAction", GET_GREETING, timeout_ms=20_000)
    assert out.ok, out
    assert out.value["values"] == {"agentId": None}, out.value
    assert out.value["data"]["results"] == [
        {"error": {"code": None, "message": "runtime.getSetting is not provided by the host"}}
    ], out.value
    driver.unload(handle)
    driver.unload(plain)


_RECORDING_DRIVER = r"""
import json, sys
for line in sys.stdin:
    req = json.loads(line)
    method, params = req["method"], req["params"]
    if method == "hello":
        result = {"language": "test", "runtime": "recording", "transports": ["ipc"]}
    elif method == "load":
        result = {"plugin": "h1", "manifest": {"name": "rec", "loadParams": params}}
    else:
        result = {"ok": True, "value": params}
    sys.stdout.write(json.dumps({"id": req["id"], "result": result}) + "\n")
    sys.stdout.flush()
"""


def test_subprocess_driver_sends_agent_runtime() -> None:
    """``agentRuntime`` is sent on load and on each call that has a World, and only then."""
    with SubprocessDriver([sys.executable, "-c", _RECORDING_DRIVER], host="test") as drv:
        spec = PluginSpec(transport="ipc", language="python", path="p.py")
        _handle, manifest = drv.load(spec, agent_runtime=WORLD)
        assert manifest["loadParams"]["agentRuntime"] == WORLD
        _handle, manifest = drv.load(spec)
        assert "agentRuntime" not in manifest["loadParams"]
        sent = drv.call("h1", "invokeAction", {"name": "x"}, agent_runtime={"settings": {}})
        assert sent.value["agentRuntime"] == {"settings": {}}
        assert "agentRuntime" not in drv.call("h1", "getManifest", {}).value
        many = drv.call_many("h1", [("getManifest", {}), ("getManifest", {}, WORLD)])
        assert ["agentRuntime" in o.value for o in many] == [False, True]
        assert many[1].value["agentRuntime"] == WORLD
