"""The fast paths of the IPC client, the bridge and the encoder keep protocol.md behaviour.

* ``dumps`` uses the C encoder directly and refuses non-``str`` object keys (which ``json``
  silently turns into strings) with an :class:`InvalidPayloadError` naming the path.
* The bridge answers a plain-function handler inline, runs ``async`` handlers as tasks started
  eagerly (answers out of order), and starts requests in arrival order. With a lazy task
  factory, a plain handler queues behind pending work. An ``async def`` handler that never
  awaits runs inline, in a copy of the context. These run ``serve()`` in-process on real pipes.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import enum
import json
import os
import sys
from typing import Any

import pytest
from conftest import CONFORMANCE

from elizaos_interop import (
    Action,
    Evaluator,
    InvalidPayloadError,
    Plugin,
    Provider,
    load_python_plugin,
)
from elizaos_interop.plugin._bridge import serve
from elizaos_interop.wire._json import dumps, loads, no_u_escape

SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("SEEN")


class Color(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize(
    ("value", "path", "key"),
    [
        ({1: "a"}, "$", "1"),
        ({"a": {None: 1}}, "$.a", "None"),
        ({"a": [0, {True: 1}]}, "$.a[1]", "True"),
        ({"a": {"b": {1.5: "x"}}}, "$.a.b", "1.5"),
        # a long array goes through the type-set shortcut, then finds the nested dict
        ({"xs": [*range(20), {"ok": 1, 2: "bad"}]}, "$.xs[20]", "2"),
        ([{"k": (1, {3: 4})}], "$[0].k[1]", "3"),
    ],
)
def test_dumps_refuses_non_str_keys_naming_the_path(value: Any, path: str, key: str) -> None:
    with pytest.raises(InvalidPayloadError) as info:
        dumps(value)
    assert info.value.path == path
    assert f"object key {key} is" in str(info.value)
    assert "expected str" in str(info.value)


def test_dumps_matches_json_within_the_profile() -> None:
    value = {
        "s": "é\u0000\U0001f600\u2028",
        "i": [0, -1, 2**53 - 1, 2**63 - 1],
        "f": [0.1, -0.0, 1e300, 5e-324],
        "b": [True, False, None],
        "nested": {"a": [{"b": [[], {}]}] * 10, "t": (1, 2)},
        "k": {Color.RED: Color.RED},  # str subclasses are strings
    }
    expected = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert dumps(value) == expected.encode("utf-8")
    assert loads(dumps(value)) == json.loads(expected)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"a": float("nan")}, "$.a"),
        ({"a": ["\ud800"]}, "$.a[0]"),
        ({"a": {"b": object()}}, "$.a.b"),
    ],
)
def test_dumps_still_refuses_the_rest_of_section_2(value: Any, path: str) -> None:
    with pytest.raises(InvalidPayloadError) as info:
        dumps(value)
    assert info.value.path == path


def test_dumps_refuses_a_circular_value_instead_of_recursing() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(InvalidPayloadError, match="circular"):
        dumps({"a": loop})


@pytest.mark.parametrize("text", ['{"a":1}', ' {"a":1} ', '{"a":1}\r'])
def test_loads_fast_path_and_whitespace(text: str) -> None:
    assert loads(text.encode()) == {"a": 1}


@pytest.mark.parametrize("text", ["", "{", '{"a":1} x', "[1]]"])
def test_loads_errors_are_value_errors(text: str) -> None:
    with pytest.raises(json.JSONDecodeError, match=r"Expecting|Extra data"):
        loads(text)


def test_host_refuses_a_non_str_key_before_writing() -> None:
    with load_python_plugin(CONFORMANCE) as plugin:
        memory = {"content": {"text": "hi"}, "meta": {7: "seven"}}
        with pytest.raises(InvalidPayloadError) as info:
            asyncio.run(plugin.invoke_action("echo", memory, {}, {}))
        assert info.value.path == "params.memory.meta"
        assert info.value.method == 'invokeAction("echo")'
        assert info.value.transport == "ipc"
        with pytest.raises(InvalidPayloadError):
            plugin.transport.call_sync("invokeAction", {"name": "echo", "memory": memory})
        # nothing was written: the plugin answers the next call normally
        result = asyncio.run(plugin.invoke_action("echo", {"content": {"text": "ok"}}, {}, {}))
        assert result.text == "ok"


# -- the bridge in-process, on real pipes -------------------------------------------------


class Log:
    """What the test plugin's handlers saw, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.release = asyncio.Event()


def make_plugin(log: Log) -> Plugin:
    def sync_echo(runtime: Any, memory: Any, state: Any, options: Any) -> Any:
        log.events.append(f"sync:{memory['content'].get('text')}")
        return {
            "success": True,
            "text": memory["content"].get("text"),
            "values": {"in_task": asyncio.current_task() is not None},
        }

    async def gated(runtime: Any, memory: Any, state: Any, options: Any) -> Any:
        log.events.append("gated:start")
        await log.release.wait()
        log.events.append("gated:end")
        return {"success": True, "text": "released"}

    def bad_key(runtime: Any, memory: Any, state: Any, options: Any) -> Any:
        return {"success": True, "data": {1: "one"}}

    def nulls(runtime: Any, memory: Any, state: Any, options: Any) -> Any:
        result = {"success": True, "text": None, "values": {"kept": None}}
        if options.get("subclass"):
            return collections.OrderedDict(result)
        return result

    def boom(runtime: Any, memory: Any, state: Any, options: Any) -> Any:
        raise ValueError("sync boom")

    async def not_bool(runtime: Any, memory: Any, state: Any) -> Any:
        return "yes"

    def sync_provider(runtime: Any, memory: Any, state: Any) -> Any:
        return {"text": "p", "values": None}

    def silent(runtime: Any, memory: Any, state: Any) -> Any:
        return None

    async def task_probe(runtime: Any, memory: Any, state: Any) -> Any:
        first = asyncio.current_task()
        async with asyncio.timeout(5):  # needs a task from the very first step
            await asyncio.sleep(0)
        second = asyncio.current_task()
        return {
            "values": {
                "before_await": first is not None,
                "after_await": second is not None,
                "same_task": first is second,
            }
        }

    async def no_await(runtime: Any, memory: Any, state: Any) -> Any:
        before = SEEN.get("unset")
        SEEN.set(memory["content"]["text"])  # a task's context copy would forget this
        return {"values": {"in_task": asyncio.current_task() is not None, "before": before}}

    async def no_await_boom(runtime: Any, memory: Any, state: Any) -> Any:
        raise LookupError("async boom")

    async def no_await_not_bool(runtime: Any, memory: Any, state: Any) -> Any:
        return "yes"

    return Plugin(
        name="perf-paths",
        description="bridge fast paths",
        actions=[
            Action(name="sync-echo", handler=sync_echo),
            Action(name="gated", handler=gated),
            Action(name="bad-key", handler=bad_key),
            Action(name="boom", handler=boom),
            Action(name="nulls", handler=nulls),
            Action(name="not-bool", handler=sync_echo, validate=not_bool),
            Action(name="no-await-not-bool", handler=sync_echo, validate=no_await_not_bool),
        ],
        providers=[
            Provider(name="sync", get=sync_provider),
            Provider(name="task-probe", get=task_probe),
            Provider(name="no-await", get=no_await),
            Provider(name="no-await-boom", get=no_await_boom),
        ],
        evaluators=[Evaluator(name="silent", handler=silent)],
    )


class Pipes:
    """A bridge served in this event loop on two real pipes, with a line client."""

    def __init__(self, log: Log) -> None:
        self.req_r, self.req_w = os.pipe()
        self.resp_r, self.resp_w = os.pipe()
        self.task = asyncio.get_running_loop().create_task(
            serve(make_plugin(log), input_fd=self.req_r, output_fd=self.resp_w)
        )
        self.buf = b""
        self.next_id = 1

    def send(self, method: str, params: dict[str, Any]) -> int:
        req_id = self.next_id
        self.next_id += 1
        line = json.dumps({"id": req_id, "method": method, "params": params}) + "\n"
        os.write(self.req_w, line.encode())
        return req_id

    async def recv(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        while b"\n" not in self.buf:
            ready = loop.create_future()
            loop.add_reader(self.resp_r, ready.set_result, None)
            try:
                await asyncio.wait_for(ready, 10)
            finally:
                loop.remove_reader(self.resp_r)
            chunk = os.read(self.resp_r, 1 << 16)
            assert chunk, "bridge closed its output"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    async def close(self) -> str:
        os.close(self.req_w)
        reason = await asyncio.wait_for(self.task, 10)
        for fd in (self.req_r, self.resp_r, self.resp_w):
            os.close(fd)
        return reason


def memory(text: str) -> dict[str, Any]:
    return {"content": {"text": text}}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_sync_handler_runs_inline_when_nothing_is_pending() -> None:
    async def main() -> None:
        log = Log()
        pipes = Pipes(log)
        req = pipes.send("invokeAction", {"name": "sync-echo", "memory": memory("a")})
        response = await pipes.recv()
        assert response == {
            "id": req,
            "result": {"success": True, "text": "a", "values": {"in_task": False}},
        }
        assert await pipes.close() == "eof"

    run(main())


def test_pipelined_requests_start_in_arrival_order_and_answer_out_of_order() -> None:
    async def main() -> None:
        log = Log()
        pipes = Pipes(log)
        gated = pipes.send("invokeAction", {"name": "gated", "memory": memory("g")})
        fast = pipes.send("invokeAction", {"name": "sync-echo", "memory": memory("b")})
        first = await pipes.recv()
        # out of order: the sync request is answered while the async one still waits
        assert first["id"] == fast
        # ... but it started after the request that arrived before it
        assert log.events == ["gated:start", "sync:b"]
        log.release.set()
        second = await pipes.recv()
        assert second == {"id": gated, "result": {"success": True, "text": "released"}}
        assert log.events == ["gated:start", "sync:b", "gated:end"]
        assert await pipes.close() == "eof"

    run(main())


def lazy_task_factory(
    loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
) -> asyncio.Task[Any]:
    """A custom task factory: tasks start on the next loop turn, as asyncio's default does."""
    return asyncio.Task(coro, loop=loop, **kwargs)


@pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="serve() installs asyncio.eager_task_factory on 3.12+"
)
def test_with_lazy_tasks_a_sync_handler_queues_behind_pending_work() -> None:
    async def main() -> None:
        asyncio.get_running_loop().set_task_factory(lazy_task_factory)
        log = Log()
        pipes = Pipes(log)
        gated = pipes.send("invokeAction", {"name": "gated", "memory": memory("g")})
        fast = pipes.send("invokeAction", {"name": "sync-echo", "memory": memory("b")})
        first = await pipes.recv()
        assert first["id"] == fast
        assert first["result"]["values"] == {"in_task": True}  # it ran in a task, in order
        assert log.events == ["gated:start", "sync:b"]
        log.release.set()
        assert (await pipes.recv())["id"] == gated
        # with nothing pending, the next sync request runs inline again
        pipes.send("invokeAction", {"name": "sync-echo", "memory": memory("c")})
        assert (await pipes.recv())["result"]["values"] == {"in_task": False}
        assert await pipes.close() == "eof"

    run(main())


def test_async_handlers_run_in_their_own_task_from_the_first_step() -> None:
    async def main() -> None:
        log = Log()
        pipes = Pipes(log)
        pipes.send("getProvider", {"name": "task-probe", "memory": memory("t")})
        result = (await pipes.recv())["result"]
        assert result["values"]["before_await"] is True
        assert result["values"]["after_await"] is True
        assert result["values"]["same_task"] is True
        assert await pipes.close() == "eof"

    run(main())


def test_inline_errors_and_checks_match_the_task_path() -> None:
    async def main() -> None:
        pipes = Pipes(Log())
        pipes.send("invokeAction", {"name": "bad-key", "memory": memory("x")})
        error = (await pipes.recv())["error"]
        assert error["code"] == -32003
        assert error["data"]["kind"] == "action"
        assert error["data"]["name"] == "bad-key"
        assert "object key 1 is int" in error["data"]["reason"]

        pipes.send("invokeAction", {"name": "boom", "memory": memory("x")})
        error = (await pipes.recv())["error"]
        assert error == {
            "code": -32000,
            "message": "sync boom",
            "data": {"kind": "action", "name": "boom", "exception": "ValueError"},
        }

        pipes.send("validateAction", {"name": "not-bool", "memory": memory("x")})
        error = (await pipes.recv())["error"]
        assert error["code"] == -32003
        assert error["data"]["reason"] == "validate must return a boolean, received string"

        for subclass in (False, True):
            params = {"name": "nulls", "memory": memory("x"), "options": {"subclass": subclass}}
            pipes.send("invokeAction", params)
            # top-level nulls are dropped (canonical form), nested ones are data
            assert (await pipes.recv())["result"] == {"success": True, "values": {"kept": None}}

        pipes.send("getProvider", {"name": "sync", "memory": memory("x")})
        assert (await pipes.recv())["result"] == {"text": "p"}
        pipes.send("invokeEvaluator", {"name": "silent", "memory": memory("x")})
        assert (await pipes.recv())["result"] is None
        pipes.send("validateEvaluator", {"name": "silent", "memory": memory("x")})
        assert (await pipes.recv())["result"] is True
        pipes.send("getManifest", {})
        assert (await pipes.recv())["result"]["name"] == "perf-paths"
        pipes.send("getManifest", {})  # the cached encoding
        assert (await pipes.recv())["result"]["name"] == "perf-paths"
        pipes.send("invokeAction", {"name": "sync-echo", "memory": {"content": 1}})
        error = (await pipes.recv())["error"]
        assert error["code"] == -32602
        assert error["data"] == {
            "param": "memory.content",
            "expected": "object",
            "received": "integer",
        }
        assert await pipes.close() == "eof"

    run(main())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"text":"plain"}', True),
        ('{"text":"line\\nbreak \\"quoted\\""}', True),  # backslashes, but no \u escape
        ('{"text":"\\u00e9"}', False),
        ('{"text":"\\ud800"}', False),
        ("\\", True),
        ("\\u", False),
    ],
)
def test_no_u_escape_is_the_substring_test_it_replaces(text: str, expected: bool) -> None:
    """The receivers' fast path skips the surrogate check only when there is no ``\\u`` at all."""
    assert no_u_escape(text) is expected
    assert no_u_escape(text) is ("\\u" not in text)


def test_an_async_handler_that_never_awaits_runs_inline_in_a_copy_of_the_context() -> None:
    async def main() -> None:
        pipes = Pipes(Log())
        for text in ("a", "b"):
            req = pipes.send("getProvider", {"name": "no-await", "memory": memory(text)})
            assert await pipes.recv() == {
                "id": req,
                "result": {"values": {"in_task": False, "before": "unset"}},
            }
        req = pipes.send("getProvider", {"name": "no-await-boom", "memory": memory("x")})
        failed = await pipes.recv()
        assert failed["id"] == req
        assert failed["error"]["code"] == -32000
        assert failed["error"]["message"] == "async boom"
        assert failed["error"]["data"]["exception"] == "LookupError"
        req = pipes.send("validateAction", {"name": "no-await-not-bool", "memory": memory("x")})
        invalid = await pipes.recv()
        assert invalid["id"] == req
        assert invalid["error"]["code"] == -32003
        assert "validate must return a boolean, received string" in invalid["error"]["message"]
        assert await pipes.close() == "eof"

    run(main())
