"""The runtime proxy in-process (protocol.md 11.1-11.3): names, arguments, local members."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import uuid
from typing import Any

import pytest

from elizaos_interop import RuntimeCallError, RuntimeProxy, RuntimeUnavailableError
from elizaos_interop.plugin._runtime_proxy import (
    FORWARDED_METHODS,
    RuntimeSession,
    snake_case,
    to_json_data,
)


class Recorder:
    """A channel that records each runtime request and answers it with ``answer``."""

    def __init__(self, answer: Any = None) -> None:
        self.sent: list[tuple[int | str, str, list[Any]]] = []
        self.answer = answer

    def send_runtime_request(
        self, call: int | str, method: str, args: list[Any]
    ) -> asyncio.Future[Any]:
        self.sent.append((call, method, args))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if isinstance(self.answer, BaseException):
            future.set_exception(self.answer)
        else:
            future.set_result(self.answer)
        return future


def proxy(answer: Any = None, context: dict[str, Any] | None = None) -> tuple[Any, Recorder]:
    channel = Recorder(answer)
    session = RuntimeSession("test-plugin", channel)
    return RuntimeProxy(session, 12, {} if context is None else context), channel


def run(make: Any) -> Any:
    """Make the call inside a running loop (the proxy sends its request as it is called)."""

    async def main() -> Any:
        return await make()

    return asyncio.run(main())


def test_every_method_of_11_3_has_both_spellings_and_one_wire_name() -> None:
    p, channel = proxy("x")

    async def main() -> None:
        for wire, params in FORWARDED_METHODS.items():
            args = [f"a{i}" for i in range(len(params))]
            assert await getattr(p, wire)(*args) == "x"
            assert await getattr(p, snake_case(wire))(*args) == "x"

    asyncio.run(main())
    assert [m for _, m, _ in channel.sent] == [w for w in FORWARDED_METHODS for _ in range(2)]
    assert {c for c, _, _ in channel.sent} == {12}
    assert snake_case("getEntityById") == "get_entity_by_id"
    assert snake_case("getRoomsForParticipants") == "get_rooms_for_participants"


@pytest.mark.parametrize(
    ("call", "wire", "args"),
    [
        (
            lambda p: p.get_component("e", "t", source_entity_id="s"),
            "getComponent",
            ["e", "t", None, "s"],
        ),
        (
            lambda p: p.create_memory({"c": 1}, table_name="messages"),
            "createMemory",
            [{"c": 1}, "messages"],
        ),
        (
            lambda p: p.get_memories(room_id="r", count=5),
            "getMemories",
            [{"roomId": "r", "count": 5}],
        ),
        (
            lambda p: p.get_memories({"roomId": "r"}, count=5),
            "getMemories",
            [{"roomId": "r", "count": 5}],
        ),
        (
            lambda p: p.use_model("TEXT_SMALL", prompt="hi"),
            "useModel",
            ["TEXT_SMALL", {"prompt": "hi"}],
        ),
        (lambda p: p.set_cache("k", None), "setCache", ["k", None]),  # an explicit None stays
    ],
)
def test_keyword_arguments_go_where_11_3_names_them(call: Any, wire: str, args: list[Any]) -> None:
    p, channel = proxy()
    run(lambda: call(p))
    assert channel.sent == [(12, wire, args)]


def test_a_keyword_that_names_no_parameter_is_a_type_error_naming_the_method() -> None:
    p, channel = proxy()
    with pytest.raises(
        TypeError, match=r"runtime\.getRoom\(\) got an unexpected keyword argument 'nope'"
    ):
        run(lambda: p.get_room("r", nope=1))
    with pytest.raises(TypeError, match="multiple values for argument 'key'"):
        run(lambda: p.get_setting("a", key="b"))
    assert channel.sent == []


class Kind(enum.Enum):
    A = "a"


@dataclasses.dataclass
class Point:
    x: int
    kind: Kind
    note: str | None = None


def test_arguments_that_are_not_plain_data_are_converted() -> None:
    ident = uuid.UUID(int=5)
    value = {"p": Point(1, Kind.A), "id": ident, "t": (1, 2), "k": Kind.A}
    assert to_json_data(value) == {
        "p": {"x": 1, "kind": "a"},
        "id": str(ident),
        "t": [1, 2],
        "k": "a",
    }


def test_pydantic_models_and_protobuf_messages_are_converted() -> None:
    pydantic = pytest.importorskip("pydantic")
    struct_pb2 = pytest.importorskip("google.protobuf.struct_pb2")

    class Room(pydantic.BaseModel):  # type: ignore[misc, name-defined]
        model_config = pydantic.ConfigDict(populate_by_name=True)
        room_id: str = pydantic.Field(alias="roomId")
        size: int = 2

    message = struct_pb2.Struct()
    message.update({"a": "b"})
    p, channel = proxy()
    run(lambda: p.update_world(Room(roomId="r")))
    run(lambda: p.emit_event("E", message))
    assert channel.sent == [
        (12, "updateWorld", [{"roomId": "r", "size": 2}]),
        (12, "emitEvent", ["E", {"a": "b"}]),
    ]


def test_snapshot_members_logger_and_local_members(capsys: pytest.CaptureFixture[str]) -> None:
    p, channel = proxy(context={"agentId": "agent-1", "character": {"name": "Eliza"}})
    assert p.agentId == p.agent_id == "agent-1"
    assert p.character == {"name": "Eliza"}
    assert p.config == {}
    p.logger.info("hello", src="test")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "[test-plugin] INFO hello src=test" in captured.err
    assert p.getService("x") is None
    assert p.get_all_services() == {}
    p.register_task_worker({"name": "w", "execute": print})
    assert p.getTaskWorker("w") == {"name": "w", "execute": print}
    assert p.get_model("TEXT_SMALL") is None
    assert channel.sent == []


def test_the_session_view_wraps_the_character_and_results() -> None:
    channel = Recorder({"id": "r-1"})
    session = RuntimeSession("p", channel)
    session.view = lambda data: ("viewed", data)
    p = RuntimeProxy(session, 1, {"character": {"name": "Eliza"}})
    assert p.character == ("viewed", {"name": "Eliza"})
    assert run(lambda: p.get_room("r-1")) == ("viewed", {"id": "r-1"})


def test_unknown_attributes_raise_attribute_error_naming_the_known_methods() -> None:
    p, _ = proxy()
    with pytest.raises(AttributeError) as info:
        _ = p.databaseAdapter
    assert "'databaseAdapter'" in str(info.value)
    assert "getSetting" in str(info.value)
    assert "getService" in str(info.value)
    assert hasattr(p, "get_setting")
    assert not hasattr(p, "agent")


def test_without_a_call_context_every_method_fails_at_once_with_the_named_error() -> None:
    channel = Recorder()
    p: Any = RuntimeProxy(RuntimeSession("p", channel))
    assert p.agentId is None
    assert p.character is None
    for name in ("getSetting", "use_model", "compose_state"):
        with pytest.raises(RuntimeUnavailableError) as info:
            run(lambda name=name: getattr(p, name)("x"))
        assert info.value.code is None
        assert isinstance(info.value, RuntimeError)
    assert str(info.value) == "runtime.composeState is not provided by the host"
    assert channel.sent == []


def test_error_answers_surface_as_runtime_call_error() -> None:
    p, _ = proxy(RuntimeCallError(-32000, "boom", {"method": "getRoom"}))
    with pytest.raises(RuntimeCallError) as info:
        run(lambda: p.getRoom("r"))
    assert (info.value.code, info.value.message, info.value.data) == (
        -32000,
        "boom",
        {"method": "getRoom"},
    )
