"""Runtime calls through the real bridge (protocol.md 11), and the wider dialect (1, 3.3, 12).

The test plays the host: it writes requests to a bridge child process, reads the runtime
requests the plugin's handler sends on stdout, and answers them on stdin.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFORMANCE, schema_errors
from test_bridge import Bridge

MEM = {"content": {"text": "hello"}}
CONTEXT = {"agentId": "agent-1", "character": {"name": "Eliza", "bio": ["a test agent"]}}


class Host(Bridge):
    """A bridge child process spoken to as a host that answers runtime requests."""

    def recv_any(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next stdout line, whatever it is (a response or a runtime request)."""
        deadline = time.monotonic() + timeout
        fd = self.out.fileno()
        while b"\n" not in self.buf:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no line within the bound"
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 20)
                assert chunk, f"bridge closed stdout (exit status {self.proc.poll()})"
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def runtime_request(self) -> dict[str, Any]:
        """The next line, which must be a runtime request valid against its schema."""
        message = self.recv_any()
        assert "method" in message, f"expected a runtime request, got {message}"
        assert not schema_errors("runtime-request.schema.json", message), message
        return message

    def response(self, req_id: int) -> dict[str, Any]:
        message = self.recv_any()
        assert "method" not in message, f"expected the response to {req_id}, got {message}"
        assert not schema_errors("response.schema.json", message), message
        assert message["id"] == req_id, message
        return message

    def invoke(self, req_id: int, options: dict[str, Any], runtime: Any = CONTEXT) -> None:
        params: dict[str, Any] = {"name": "runtime", "memory": MEM, "options": options}
        if runtime is not None:
            params["runtime"] = runtime
        self.send({"id": req_id, "method": "invokeAction", "params": params})

    def results(self, req_id: int) -> tuple[Any, list[Any]]:
        """(values.agentId, data.results) of the runtime action's answer to ``req_id``."""
        result = self.response(req_id)["result"]
        assert result["success"] is True, result
        return result["values"]["agentId"], result["data"]["results"]

    def quiet(self, within: float = 0.2) -> bool:
        """True when nothing more is on stdout for ``within`` seconds."""
        if b"\n" in self.buf:
            return False
        ready, _, _ = select.select([self.out.fileno()], [], [], within)
        return not ready


@pytest.fixture
def host() -> Iterator[Host]:
    h = Host(CONFORMANCE)
    yield h
    h.finish()


def call(method: str, *args: Any) -> dict[str, Any]:
    return {"method": method, "args": list(args)}


# -- section 11: the fixture's runtime action --------------------------------------------


def test_runtime_call_is_forwarded_and_answered(host: Host) -> None:
    host.invoke(7, {"calls": [call("getSetting", "API_KEY"), call("get_room", "r-1")]})
    first = host.runtime_request()
    assert first == {
        "id": "rt-1",
        "method": "runtime.getSetting",
        "params": {"call": 7, "args": ["API_KEY"]},
    }
    host.send({"id": "rt-1", "result": "secret"})
    second = host.runtime_request()  # the snake_case spelling goes out under the wire name
    assert second == {
        "id": "rt-2",
        "method": "runtime.getRoom",
        "params": {"call": 7, "args": ["r-1"]},
    }
    host.send({"id": "rt-2", "result": {"id": "r-1", "name": "general", "n": 2**53 - 1}})
    agent_id, results = host.results(7)
    assert agent_id == "agent-1"
    assert results == [{"ok": "secret"}, {"ok": {"id": "r-1", "name": "general", "n": 2**53 - 1}}]


def test_string_call_ids_are_echoed_in_params_call(host: Host) -> None:
    host.send(
        {
            "id": "call-a",
            "method": "invokeAction",
            "params": {
                "name": "runtime",
                "memory": MEM,
                "options": {"calls": [call("getConversationLength")]},
                "runtime": {},
            },
        }
    )
    request = host.runtime_request()
    assert request["params"] == {"call": "call-a", "args": []}
    host.send({"id": request["id"], "result": None})
    message = host.recv_any()
    assert message["id"] == "call-a"
    assert message["result"]["values"] == {"agentId": None}  # an empty snapshot
    assert message["result"]["data"]["results"] == [{"ok": None}]


def test_failing_runtime_method_raises_runtime_call_error(host: Host) -> None:
    host.invoke(1, {"calls": [call("getRoom", "r-1"), call("getSetting", "K")]})
    request = host.runtime_request()
    host.send(
        {
            "id": request["id"],
            "error": {
                "code": -32000,
                "message": "database offline",
                "data": {"method": "getRoom", "exception": "Error"},
            },
        }
    )
    follow = host.runtime_request()  # the handler caught it and went on
    host.send({"id": follow["id"], "result": "v"})
    _, results = host.results(1)
    assert results == [
        {"error": {"code": -32000, "message": "database offline"}},
        {"ok": "v"},
    ]


def test_missing_runtime_method_raises_runtime_unavailable(host: Host) -> None:
    host.invoke(1, {"calls": [call("useModel", "TEXT_SMALL", {"prompt": "hi"})]})
    request = host.runtime_request()
    assert request["params"]["args"] == ["TEXT_SMALL", {"prompt": "hi"}]
    host.send(
        {
            "id": request["id"],
            "error": {
                "code": -32601,
                "message": "runtime.useModel is not provided by the host",
                "data": {"method": "useModel"},
            },
        }
    )
    _, results = host.results(1)
    assert results == [
        {"error": {"code": -32601, "message": "runtime.useModel is not provided by the host"}}
    ]


def test_without_a_runtime_every_method_fails_at_once_and_nothing_is_written(host: Host) -> None:
    calls = [call("getSetting", "K"), call("composeState", MEM), call("get_memories", {})]
    host.invoke(1, {"calls": calls}, runtime=None)
    agent_id, results = host.results(1)  # the very next line is the answer
    assert agent_id is None
    assert results == [
        {"error": {"code": None, "message": f"runtime.{m} is not provided by the host"}}
        for m in ("getSetting", "composeState", "getMemories")
    ]
    assert host.quiet()


def test_an_unknown_runtime_member_is_refused_by_the_proxy_naming_the_known_ones(
    host: Host,
) -> None:
    host.invoke(1, {"calls": [call("frobnicate", 1)]})
    _, results = host.results(1)
    error = results[0]["error"]
    assert error["code"] is None
    assert "'frobnicate'" in error["message"]
    assert "getSetting" in error["message"]
    assert "useModel" in error["message"]
    assert host.quiet()


def test_local_members_are_answered_without_the_host(host: Host) -> None:
    host.invoke(1, {"calls": [call("getService", "x"), call("get_all_services")]})
    _, results = host.results(1)
    assert results == [{"ok": None}, {"ok": {}}]
    assert host.quiet()


def test_parallel_calls_are_all_in_flight_and_answered_in_any_order(host: Host) -> None:
    keys = ["a", "b", "c"]
    host.invoke(3, {"parallel": True, "calls": [call("getCache", k) for k in keys]})
    requests = [host.runtime_request() for _ in keys]
    assert sorted(r["params"]["args"][0] for r in requests) == keys
    assert len({r["id"] for r in requests}) == 3
    for request in reversed(requests):
        host.send({"id": request["id"], "result": request["params"]["args"][0].upper()})
    _, results = host.results(3)
    assert results == [{"ok": "A"}, {"ok": "B"}, {"ok": "C"}]


def test_host_requests_are_served_while_a_runtime_request_is_pending(host: Host) -> None:
    host.invoke(1, {"calls": [call("composeState", MEM)]})
    pending = host.runtime_request()
    assert pending["params"]["call"] == 1
    # Re-entrancy: the host's composeState calls back into the plugin before answering.
    host.send({"id": 2, "method": "getProvider", "params": {"name": "static", "memory": MEM}})
    assert host.response(2)["result"] == {"text": "static provider", "values": {"answer": 42}}
    host.invoke(3, {"calls": [call("getSetting", "nested")]})
    nested = host.runtime_request()
    assert nested["params"]["call"] == 3
    assert nested["id"] != pending["id"]
    host.send({"id": nested["id"], "result": "inner"})
    assert host.results(3)[1] == [{"ok": "inner"}]
    host.send({"id": pending["id"], "result": {"values": {"x": 1}}})
    assert host.results(1)[1] == [{"ok": {"values": {"x": 1}}}]


def test_stdin_eof_fails_pending_runtime_requests_with_host_closed(host: Host) -> None:
    host.invoke(1, {"calls": [call("getRoom", "r-1"), call("getRoom", "r-2")]})
    host.runtime_request()
    host.close_stdin()
    _, results = host.results(1)
    # the pending one fails "host closed"; the next one fails at once, nothing more is written
    assert results == [{"error": {"code": -32603, "message": "host closed"}}] * 2
    assert host.proc.wait(10) == 0


def test_a_response_for_no_pending_request_is_still_an_invalid_request(host: Host) -> None:
    host.send({"id": "rt-99", "result": 1})
    message = host.recv_any()
    assert message["id"] == "rt-99"
    assert message["error"]["code"] == -32600


def test_a_second_answer_to_a_runtime_request_is_dropped(host: Host) -> None:
    host.invoke(1, {"calls": [call("getSetting", "K")]})
    request = host.runtime_request()
    host.send({"id": request["id"], "result": "v"})
    assert host.results(1)[1] == [{"ok": "v"}]
    host.send({"id": request["id"], "result": "again"})  # answered already: nothing is said
    host.send({"id": "rt-2", "result": "never asked"})  # an id it never sent: -32600 as before
    message = host.recv_any()
    assert message["id"] == "rt-2"
    assert message["error"]["code"] == -32600
    assert host.quiet()


def test_a_runtime_member_that_is_not_an_object_is_invalid_params(host: Host) -> None:
    host.invoke(1, {}, runtime=["agent"])
    error = host.response(1)["error"]
    assert error["code"] == -32602
    assert error["data"] == {"param": "runtime", "expected": "object", "received": "array"}


# -- sections 1, 3.3, 12: the wider dialect ------------------------------------------------


def test_unknown_request_and_params_members_are_ignored(host: Host) -> None:
    host.send(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "getManifest",
            "params": {"protocolVersion": 1, "capabilities": ["runtime"], "future": {"x": 1}},
            "trace": "abc",
        }
    )
    manifest = host.response(1)["result"]
    assert manifest["protocolVersion"] == 1
    assert manifest["capabilities"] == ["runtime", "shutdown"]
    assert not schema_errors("manifest.schema.json", manifest)
    host.send(
        {
            "id": 2,
            "method": "invokeAction",
            "params": {"name": "echo", "memory": MEM, "priority": 3, "meta": [None]},
            "extra": True,
        }
    )
    assert host.response(2)["result"]["text"] == "hello"


PLUGIN = """
import asyncio
from elizaos_interop import Action, Plugin, Provider, run_plugin

seen = []

async def setup(config, runtime):
    seen.append(dict(config))
    if config.get("slow"):
        await asyncio.sleep(0.05)
    if config.get("explode"):
        raise ValueError("bad config")

def extra(runtime, memory, state, options):
    return {"success": True, "text": None, "examples": [[{"name": "x"}]], "future": {"a": None}}

def mistyped(runtime, memory, state, options):
    return {"success": "yes"}

def inits(runtime, memory, state):
    return {"values": {"seen": seen, "config": runtime.config}, "score": 0.5}

plugin = Plugin(
    name="@scope/compat-test",
    version="2.0.0-alpha.1",
    init=setup,
    actions=[Action(name="extra", handler=extra), Action(name="mistyped", handler=mistyped)],
    providers=[Provider(name="inits", get=inits)],
)

if __name__ == "__main__":
    run_plugin(plugin)
"""


@pytest.fixture
def compat(tmp_path: Path) -> Iterator[Host]:
    path = tmp_path / "compat_plugin.py"
    path.write_text(PLUGIN)
    h = Host(path)
    yield h
    h.finish()


def provider(h: Host, req_id: int) -> Any:
    h.send({"id": req_id, "method": "getProvider", "params": {"name": "inits", "memory": MEM}})
    return h.response(req_id)["result"]


def test_scoped_name_and_unknown_result_members_pass_through(compat: Host) -> None:
    compat.send({"id": 1, "method": "getManifest"})
    manifest = compat.response(1)["result"]
    assert manifest["name"] == "@scope/compat-test"
    assert not schema_errors("manifest.schema.json", manifest)
    compat.send({"id": 2, "method": "invokeAction", "params": {"name": "extra", "memory": MEM}})
    assert compat.response(2)["result"] == {
        "success": True,
        "examples": [[{"name": "x"}]],
        "future": {"a": None},
    }
    compat.send({"id": 3, "method": "invokeAction", "params": {"name": "mistyped", "memory": MEM}})
    error = compat.response(3)["error"]
    assert error["code"] == -32003
    assert error["data"]["reason"] == "ActionResult.success must be a boolean, received string"
    assert provider(compat, 4)["score"] == 0.5


def test_the_first_call_runs_the_init_hook_with_an_empty_config(compat: Host) -> None:
    compat.send({"id": 1, "method": "getManifest"})
    compat.response(1)
    assert provider(compat, 2)["values"] == {"seen": [{}], "config": {}}
    assert provider(compat, 3)["values"] == {"seen": [{}], "config": {}}  # only once


def test_an_explicit_init_first_means_no_implicit_one(compat: Host) -> None:
    compat.send({"id": 1, "method": "init", "params": {"config": {"k": 1}}})
    assert compat.response(1)["result"] == {}
    assert provider(compat, 2)["values"] == {"seen": [{"k": 1}], "config": {"k": 1}}


def test_a_failing_init_hook_keeps_the_previous_config(compat: Host) -> None:
    compat.send({"id": 1, "method": "init", "params": {"config": {"k": 1}}})
    compat.response(1)
    compat.send({"id": 2, "method": "init", "params": {"config": {"explode": True}}})
    error = compat.response(2)["error"]
    assert error["code"] == -32000
    assert error["data"] == {
        "kind": "plugin",
        "name": "@scope/compat-test",
        "exception": "ValueError",
    }
    assert provider(compat, 3)["values"]["config"] == {"k": 1}


def test_calls_wait_for_a_running_init_hook(compat: Host) -> None:
    # Pipelined: the provider call arrives while the (async) init hook is still sleeping.
    compat.send({"id": 1, "method": "init", "params": {"config": {"slow": True}}})
    compat.send({"id": 2, "method": "getProvider", "params": {"name": "inits", "memory": MEM}})
    assert compat.response(1)["result"] == {}
    assert compat.response(2)["result"]["values"]["config"] == {"slow": True}


def test_the_conformance_fixture_init_hook_sees_the_implicit_and_explicit_configs() -> None:
    """In-process on real pipes: the fixture module's own record of its init hook's configs."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_fixture_under_test", CONFORMANCE)
    assert spec is not None
    assert spec.loader is not None
    fixture = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixture)
    from elizaos_interop.plugin._bridge import serve

    async def main() -> list[dict[str, Any]]:
        to_plugin_r, to_plugin_w = os.pipe()
        from_plugin_r, from_plugin_w = os.pipe()
        server = asyncio.ensure_future(
            serve(fixture.plugin, input_fd=to_plugin_r, output_fd=from_plugin_w)
        )
        lines = [
            {"id": 1, "method": "getProvider", "params": {"name": "static", "memory": MEM}},
            {"id": 2, "method": "init", "params": {"config": {"a": 1}}},
            {"id": 3, "method": "getProvider", "params": {"name": "config", "memory": MEM}},
        ]
        os.write(to_plugin_w, b"".join(json.dumps(m).encode() + b"\n" for m in lines))
        os.close(to_plugin_w)
        assert await server == "eof"
        os.close(from_plugin_w)
        out = b""
        while chunk := os.read(from_plugin_r, 1 << 16):
            out += chunk
        for fd in (to_plugin_r, from_plugin_r):
            os.close(fd)
        return [json.loads(line) for line in out.splitlines()]

    answers = {m["id"]: m for m in asyncio.run(main())}
    assert answers[3]["result"] == {"values": {"a": 1}}
    assert fixture.init_configs == [{}, {"a": 1}]


def test_calls_without_a_runtime_share_one_hostless_proxy() -> None:
    """The hot path builds nothing per call: every runtime-less call gets the same proxy."""
    from elizaos_interop import Action, Plugin, RuntimeProxy
    from elizaos_interop.plugin._bridge import serve

    seen: list[Any] = []

    def record(runtime: Any, memory: Any, state: Any, options: Any) -> Any:
        seen.append(runtime)
        return {"success": True}

    plugin = Plugin(name="proxy-sharing", actions=[Action(name="a", handler=record)])

    async def main() -> None:
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        params: dict[str, Any] = {"name": "a", "memory": MEM}
        lines = [
            {"id": 1, "method": "invokeAction", "params": params},
            {"id": 2, "method": "invokeAction", "params": params},
            {"id": 3, "method": "invokeAction", "params": {**params, "runtime": CONTEXT}},
        ]
        os.write(to_w, b"".join(json.dumps(m).encode() + b"\n" for m in lines))
        os.close(to_w)
        assert await serve(plugin, input_fd=to_r, output_fd=from_w) == "eof"
        for fd in (to_r, from_r, from_w):
            os.close(fd)

    asyncio.run(main())
    first, second, third = seen
    assert isinstance(first, RuntimeProxy)
    assert first is second
    assert not first.has_host
    assert third is not first
    assert third.has_host
    assert third.agent_id == "agent-1"


REFUSING = """
from elizaos_interop import Plugin, Provider, run_plugin

attempts = 0


def init(config, runtime):
    global attempts
    attempts += 1
    raise TypeError("no config is good enough")


def count(runtime, message, state):
    return {"values": {"attempts": attempts}}


plugin = Plugin(name="refusing-init", init=init, providers=[Provider(name="attempts", get=count)])

if __name__ == "__main__":
    run_plugin(plugin)
"""


def test_a_failed_implicit_init_is_logged_and_the_call_served_once(tmp_path: Path) -> None:
    path = tmp_path / "refusing_plugin.py"
    path.write_text(REFUSING)
    h = Host(path)
    try:
        for req_id in (1, 2):
            params = {"name": "attempts", "memory": MEM}
            h.send({"id": req_id, "method": "getProvider", "params": params})
            assert h.response(req_id)["result"] == {"values": {"attempts": 1}}
        assert h.proc.stdin is not None
        h.proc.stdin.close()
        assert h.proc.wait(10) == 0
        assert h.proc.stderr is not None
        stderr = h.proc.stderr.read().decode()
        failure = "implicit init({}) before the first call failed: TypeError: no config is good"
        assert failure in stderr
    finally:
        h.finish()
