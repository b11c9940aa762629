"""The bridge server against protocol.md 3 and 4, spoken to over real pipes with raw JSON lines."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    CONFORMANCE,
    bridge_env,
    result_errors,
    schema_errors,
    sdk_conformance_manifest,
)


class Bridge:
    """A bridge child process with a minimal line client (no host library involved)."""

    def __init__(self, target: str | Path, *extra: str, cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "elizaos_interop.bridge_server", str(target), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=bridge_env(),
            cwd=cwd,
        )
        assert self.proc.stdout is not None
        self.out = self.proc.stdout
        self.buf = b""
        self.next_id = 1

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(json.dumps(message).encode() + b"\n")

    def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        fd = self.out.fileno()
        while b"\n" not in self.buf:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no response line within the bound"
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 20)
                assert chunk, f"bridge closed stdout (exit status {self.proc.poll()})"
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        assert not schema_errors("response.schema.json", message), message
        return message

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        req_id = self.next_id
        self.next_id += 1
        message: dict[str, Any] = {"id": req_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        response = self.recv()
        assert response["id"] == req_id
        return response

    def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        response = self.request(method, params)
        assert "result" in response, response
        assert not result_errors(method, response["result"]), response
        return response["result"]

    def error(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.request(method, params)
        assert "error" in response, response
        error: dict[str, Any] = response["error"]
        return error

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def finish(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def bridge() -> Iterator[Bridge]:
    b = Bridge(CONFORMANCE)
    yield b
    b.finish()


MEM = {"content": {"text": "hello"}}


def call(name: str, memory: Any = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "memory": MEM if memory is None else memory, **extra}


# -- section 3.3: every method ------------------------------------------------------------


def test_get_manifest_matches_vector_and_schema(bridge: Bridge) -> None:
    manifest = bridge.result("getManifest", {})
    assert not schema_errors("manifest.schema.json", manifest)
    assert manifest == sdk_conformance_manifest()


def test_params_may_be_omitted_and_jsonrpc_is_ignored(bridge: Bridge) -> None:
    bridge.send({"jsonrpc": "2.0", "id": "abc", "method": "getManifest"})
    response = bridge.recv()
    assert response["id"] == "abc"
    assert response["result"]["name"] == "conformance-fixture"


def test_crlf_line_ending_is_tolerated(bridge: Bridge) -> None:
    bridge.send_raw(b'{"id": 7, "method": "getManifest"}\r\n')
    assert bridge.recv()["id"] == 7


def test_init_and_config_provider(bridge: Bridge) -> None:
    assert bridge.result("getProvider", call("config")) == {"values": {}}
    assert bridge.result("init", {"config": {"a": 1}}) == {}
    assert bridge.result("getProvider", call("config")) == {"values": {"a": 1}}
    assert bridge.result("init", {"config": {"b": [True, None]}}) == {}
    assert bridge.result("getProvider", call("config")) == {"values": {"b": [True, None]}}


def test_validate_action_and_evaluator(bridge: Bridge) -> None:
    for name in ("echo", "fail", "panic", "slow", "large", "crash", "invalid", "runtime"):
        assert bridge.result("validateAction", call(name)) is True
    assert bridge.result("validateAction", call("reject")) is False
    for name in ("echo", "silent", "fail"):
        assert bridge.result("validateEvaluator", call(name)) is True
    assert bridge.result("validateEvaluator", call("reject")) is False


def test_echo_action_round_trips_memory_state_options(bridge: Bridge) -> None:
    memory = {"content": {"text": "héllo 😀 \u0000"}, "id": 9007199254740991, "x": [-0.0, 1.5]}
    state = {"s": {"nested": [1, "2"]}}
    options = {"o": None}
    result = bridge.result("invokeAction", call("echo", memory, state=state, options=options))
    assert result == {
        "success": True,
        "text": memory["content"]["text"],
        "data": {"memory": memory, "state": state, "options": options},
    }


def test_echo_without_text_omits_text_and_defaults_state_options(bridge: Bridge) -> None:
    result = bridge.result("invokeAction", {"name": "echo", "memory": {"content": {}}})
    assert result == {
        "success": True,
        "data": {"memory": {"content": {}}, "state": {}, "options": {}},
    }


def test_reject_slow_large_actions(bridge: Bridge) -> None:
    assert bridge.result("invokeAction", call("reject")) == {"success": False, "error": "rejected"}
    slow = bridge.result("invokeAction", call("slow", options={"delayMs": 5}))
    assert slow == {"success": True, "text": "slept 5"}
    assert bridge.result("invokeAction", call("slow")) == {"success": True, "text": "slept 100"}
    large = bridge.result("invokeAction", call("large"))
    assert large["values"] == {"size": 1048576}
    assert len(large["text"]) == 1048576
    assert large["text"].startswith("0123456789012")
    small = bridge.result("invokeAction", call("large", options={"size": 13}))
    assert small == {"success": True, "text": "0123456789012", "values": {"size": 13}}


def test_failing_handlers_give_32000_and_serving_continues(bridge: Bridge) -> None:
    fail = bridge.error("invokeAction", call("fail"))
    assert fail["code"] == -32000
    assert fail["message"] == "fixture failure"
    assert fail["data"] == {"kind": "action", "name": "fail", "exception": "RuntimeError"}
    panic = bridge.error("invokeAction", call("panic"))
    assert panic["code"] == -32000
    assert panic["message"] == "fixture panic"
    assert panic["data"] == {"kind": "action", "name": "panic", "exception": "KeyError"}
    provider = bridge.error("getProvider", call("fail"))
    assert (provider["code"], provider["data"]["kind"]) == (-32000, "provider")
    evaluator = bridge.error("invokeEvaluator", call("fail"))
    assert (evaluator["code"], evaluator["data"]["kind"]) == (-32000, "evaluator")
    assert bridge.result("invokeAction", call("echo"))["success"] is True


def test_invalid_result_gives_32003(bridge: Bridge) -> None:
    error = bridge.error("invokeAction", call("invalid"))
    assert error["code"] == -32003
    assert error["data"]["kind"] == "action"
    assert error["data"]["name"] == "invalid"
    assert "sucess" in error["data"]["reason"]


def test_providers(bridge: Bridge) -> None:
    assert bridge.result("getProvider", call("static")) == {
        "text": "static provider",
        "values": {"answer": 42},
    }
    assert bridge.result("getProvider", call("echo", state={"k": 1})) == {
        "text": "hello",
        "data": {"memory": MEM, "state": {"k": 1}},
    }


def test_evaluators(bridge: Bridge) -> None:
    assert bridge.result("invokeEvaluator", call("echo")) == {
        "success": True,
        "data": {"memory": MEM, "state": {}},
    }
    assert bridge.result("invokeEvaluator", call("silent")) is None
    assert bridge.result("invokeEvaluator", call("reject")) == {"success": False}


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("validateAction", "action"),
        ("invokeAction", "action"),
        ("getProvider", "provider"),
        ("validateEvaluator", "evaluator"),
        ("invokeEvaluator", "evaluator"),
    ],
)
def test_unknown_name_gives_32001(bridge: Bridge, method: str, kind: str) -> None:
    error = bridge.error(method, call("no-such"))
    assert error["code"] == -32001
    assert error["data"] == {"kind": kind, "name": "no-such"}


@pytest.mark.parametrize(
    ("method", "params", "data"),
    [
        ("invokeAction", {"memory": MEM}, ("name", "string", "missing")),
        ("invokeAction", {"name": 3, "memory": MEM}, ("name", "string", "integer")),
        ("validateAction", {"name": "echo"}, ("memory", "object", "missing")),
        ("getProvider", {"name": "echo", "memory": []}, ("memory", "object", "array")),
        (
            "invokeEvaluator",
            {"name": "echo", "memory": {}},
            ("memory.content", "object", "missing"),
        ),
        (
            "invokeAction",
            {"name": "echo", "memory": {"content": {"text": 1.5}}},
            ("memory.content.text", "string", "number"),
        ),
        (
            "invokeAction",
            {"name": "echo", "memory": MEM, "state": []},
            ("state", "object", "array"),
        ),
        (
            "invokeAction",
            {"name": "echo", "memory": MEM, "options": "x"},
            ("options", "object", "string"),
        ),
        ("init", {}, ("config", "object", "missing")),
        ("init", {"config": True}, ("config", "object", "boolean")),
    ],
)
def test_bad_params_give_32602(
    bridge: Bridge, method: str, params: dict[str, Any], data: tuple[str, str, str]
) -> None:
    error = bridge.error(method, params)
    assert error["code"] == -32602
    assert error["data"] == dict(zip(("param", "expected", "received"), data, strict=True))


def test_unknown_method_gives_32601(bridge: Bridge) -> None:
    assert bridge.error("frobnicate", {})["code"] == -32601


# -- framing errors: answered, and the bridge keeps serving ---------------------------------


@pytest.mark.parametrize(
    ("line", "code", "response_id"),
    [
        (b"not json", -32700, None),
        (b'{"id": 1, "method": ', -32700, None),
        (b"\xff\xfe{}", -32700, None),
        (b"", -32700, None),
        (b'{"id": 1, "method": "getManifest", "x": NaN}', -32700, None),
        (b"[1, 2]", -32600, None),
        (b'"str"', -32600, None),
        (b'{"method": "getManifest"}', -32600, None),
        (b'{"id": 1.5, "method": "getManifest"}', -32600, None),
        (b'{"id": true, "method": "getManifest"}', -32600, None),
        (b'{"id": -1, "method": "getManifest"}', -32600, None),
        (b'{"id": "", "method": "getManifest"}', -32600, None),
        (b'{"id": 9007199254740992, "method": "getManifest"}', -32600, None),
        (b'{"id": 5}', -32600, 5),
        (b'{"id": 5, "method": 3}', -32600, 5),
        (b'{"id": "r", "method": "getManifest", "params": []}', -32600, "r"),
    ],
)
def test_bad_lines_are_answered_and_serving_continues(
    bridge: Bridge, line: bytes, code: int, response_id: Any
) -> None:
    bridge.send_raw(line + b"\n")
    response = bridge.recv()
    assert response["id"] == response_id
    assert response["error"]["code"] == code
    assert bridge.result("getManifest", {})["name"] == "conformance-fixture"


def test_oversize_request_is_discarded_and_answered() -> None:
    bridge = Bridge(CONFORMANCE, "--max-message-bytes", "1000")
    try:
        big = json.dumps({"id": 1, "method": "invokeAction", "params": call("echo", x="a" * 5000)})
        bridge.send_raw(big.encode() + b"\n")
        response = bridge.recv()
        assert response == {
            "id": None,
            "error": {"code": -32600, "message": "request exceeds 1000 bytes"},
        }
        # Split across writes, bigger than one read: still one discarded line.
        bridge.send_raw(b'{"id": 2, "x": "' + b"b" * 3000)
        bridge.send_raw(b"c" * 3000 + b'"}\n')
        assert bridge.recv()["error"]["code"] == -32600
        assert bridge.result("getManifest", {})["name"] == "conformance-fixture"
    finally:
        bridge.finish()


def test_oversize_result_gives_32003() -> None:
    bridge = Bridge(CONFORMANCE, "--max-message-bytes", "10000")
    try:
        error = bridge.error("invokeAction", call("large", options={"size": 20000}))
        assert error["code"] == -32003
        assert "exceeds" in error["data"]["reason"]
        assert bridge.result("invokeAction", call("large", options={"size": 100}))["success"]
    finally:
        bridge.finish()


# -- concurrency and lifecycle ---------------------------------------------------------------


def test_pipelined_requests_are_answered_out_of_order(bridge: Bridge) -> None:
    bridge.send(
        {"id": 1, "method": "invokeAction", "params": call("slow", options={"delayMs": 400})}
    )
    bridge.send({"id": 2, "method": "invokeAction", "params": call("echo")})
    bridge.send({"id": 3, "method": "getManifest"})
    ids = [bridge.recv()["id"] for _ in range(3)]
    assert ids[-1] == 1
    assert sorted(ids[:2]) == [2, 3]


def test_shutdown_answers_then_exits_zero(bridge: Bridge) -> None:
    assert bridge.result("shutdown", {}) == {}
    assert bridge.proc.wait(10) == 0


def test_stdin_eof_exits_zero_while_work_is_in_flight(bridge: Bridge) -> None:
    bridge.send(
        {"id": 1, "method": "invokeAction", "params": call("slow", options={"delayMs": 60000})}
    )
    bridge.result("getManifest", {})
    bridge.close_stdin()
    assert bridge.proc.wait(10) == 0


def test_stdin_eof_lets_short_work_finish(bridge: Bridge) -> None:
    bridge.send(
        {"id": 1, "method": "invokeAction", "params": call("slow", options={"delayMs": 50})}
    )
    bridge.close_stdin()
    assert bridge.recv()["result"] == {"success": True, "text": "slept 50"}
    assert bridge.proc.wait(10) == 0


def test_stdin_eof_still_delivers_every_reply_to_a_slow_reader() -> None:
    """A reply already made reaches a reader that waits, even though stdin closed with it.

    The request and EOF arrive together and the reader takes nothing for 2 s, so the 300 kB
    reply is still in a full pipe when the bridge is ready to exit.
    """
    bridge = f"'{sys.executable}' -m elizaos_interop.bridge_server '{CONFORMANCE}'"
    request = {"id": 1, "method": "invokeAction", "params": call("large", options={"size": 300000})}
    proc = subprocess.run(
        ["sh", "-c", f"{bridge} | (sleep 2; cat)"],
        input=json.dumps(request).encode() + b"\n",
        capture_output=True,
        env=bridge_env(),
        timeout=60,
        check=True,
    )
    reply = json.loads(proc.stdout)
    assert reply["id"] == 1
    assert len(reply["result"]["text"]) == 300000


# -- stdout is protocol only, and target loading ---------------------------------------------

NOISY_PLUGIN = """
import sys
from elizaos_interop import Action, Plugin, Provider
print("printed at import")

async def in_task(runtime, memory, state):
    import asyncio
    async with asyncio.timeout(5):
        await asyncio.sleep(0)
    return {"text": "in a task", "values": {"task": asyncio.current_task() is not None}}

def handler(runtime, memory, state, options):
    print("printed in handler")
    import os
    os.write(1, b"written to fd 1\\n")
    return {"success": True, "text": "quiet"}

plugin = Plugin(
    name="noisy",
    actions=[Action(name="talk", handler=handler)],
    providers=[Provider(name="in-task", get=in_task)],
)
other = Plugin(name="other-attr", version="2.0.0-rc.1")
"""


def test_prints_go_to_stderr_not_the_protocol(tmp_path: Path) -> None:
    (tmp_path / "noisy.py").write_text(NOISY_PLUGIN)
    bridge = Bridge(tmp_path / "noisy.py")
    try:
        manifest = bridge.result("getManifest", {})
        assert manifest["name"] == "noisy"
        assert manifest["version"] == "0.0.0"
        assert manifest["actions"] == [{"name": "talk", "description": ""}]
        assert bridge.result("invokeAction", call("talk")) == {"success": True, "text": "quiet"}
        in_task = bridge.result("getProvider", call("in-task"))
        assert in_task == {"text": "in a task", "values": {"task": True}}
        assert bridge.result("shutdown", {}) == {}
        assert bridge.proc.wait(10) == 0
        assert bridge.proc.stderr is not None
        err = bridge.proc.stderr.read().decode()
        assert "printed at import" in err
        assert "printed in handler" in err
        assert "written to fd 1" in err
    finally:
        bridge.finish()


@pytest.mark.parametrize("form", ["module", "package", "attr"])
def test_target_forms(tmp_path: Path, form: str) -> None:
    if form == "package":
        (tmp_path / "noisy_pkg").mkdir()
        (tmp_path / "noisy_pkg" / "__init__.py").write_text(NOISY_PLUGIN)
        bridge = Bridge(tmp_path / "noisy_pkg")
    else:
        (tmp_path / "noisy_mod.py").write_text(NOISY_PLUGIN)
        extra = ("--attr", "other") if form == "attr" else ()
        bridge = Bridge("noisy_mod", *extra, cwd=tmp_path)
    try:
        expected = "other-attr" if form == "attr" else "noisy"
        assert bridge.result("getManifest", {})["name"] == expected
    finally:
        bridge.finish()


@pytest.mark.parametrize(
    ("target", "extra", "message"),
    [
        ("does/not/exist.py", (), "no such file"),
        ("no_such_module_xyz", (), "No module named"),
        ("{conformance}", ("--attr", "nope"), "has no attribute 'nope'"),
        ("{conformance}", ("--attr", "_text"), "expected elizaos_interop.Plugin"),
    ],
)
def test_bad_targets_exit_2_with_a_clear_message(
    target: str, extra: tuple[str, ...], message: str
) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "elizaos_interop.bridge_server",
            target.replace("{conformance}", str(CONFORMANCE)),
            *extra,
        ],
        capture_output=True,
        env=bridge_env(),
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert message in proc.stderr.decode()
