"""LoadedPlugin's result checks and its direct call path for in-place transports (FFI, WASM).

The common result (every known member of exactly its JSON type) is checked in one pass; any
other (a null member, a subclass, a wrong type) takes the full check, which drops nulls and
words the error. A transport with ``calls_in_place`` is called through ``call_sync``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from elizaos_interop import LoadedPlugin, PluginProtocolError, Result

MANIFEST: dict[str, Any] = {
    "name": "fake",
    "description": "a fake plugin",
    "version": "1.0.0",
    "language": "python",
    "actions": [{"name": "act", "description": "an action"}],
    "providers": [{"name": "prov", "description": "a provider"}],
    "evaluators": [],
}


class FakeTransport:
    """Answers every call with ``answer``; records which entry point was used."""

    kind = "fake"

    def __init__(self, answer: Any, *, in_place: bool) -> None:
        self.label = "fake"
        self.answer = answer
        self.calls_in_place = in_place
        self.used: list[str] = []

    async def call(self, method: str, params: dict[str, Any], timeout: float | None = None) -> Any:
        self.used.append("call")
        return self.answer

    def call_sync(self, method: str, params: dict[str, Any], timeout: float | None = None) -> Any:
        self.used.append("call_sync")
        return MANIFEST if method == "getManifest" else self.answer

    def close(self) -> None:
        pass


def invoke(answer: Any, *, in_place: bool = True) -> tuple[Result, FakeTransport]:
    transport = FakeTransport(answer, in_place=in_place)
    plugin = LoadedPlugin.from_transport(transport)
    transport.used.clear()
    result = asyncio.run(plugin.invoke_action("act", {"content": {}}))
    return result, transport


@pytest.mark.parametrize("in_place", [True, False])
def test_the_entry_point_follows_calls_in_place(in_place: bool) -> None:
    result, transport = invoke({"success": True, "text": "hi"}, in_place=in_place)
    assert result == {"success": True, "text": "hi"}
    assert transport.used == (["call_sync"] if in_place else ["call"])


def test_a_plain_result_keeps_every_member() -> None:
    answer = {"success": True, "text": "hi", "values": {"a": None}, "extra": [1]}
    result, _ = invoke(answer)
    assert result == answer
    assert result.text == "hi"
    assert result.error is None
    assert result.extra == [1]


def test_null_known_members_are_dropped_and_unknown_nulls_kept() -> None:
    result, _ = invoke({"success": False, "text": None, "data": None, "other": None})
    assert result == {"success": False, "other": None}
    assert result.text is None


def test_a_subclass_of_a_member_type_is_accepted() -> None:
    class Text(str):
        pass

    result, _ = invoke({"success": True, "text": Text("hi")})
    assert result.text == "hi"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"success": True, "text": 3}, "text is integer, expected string"),
        ({"success": True, "values": []}, "values is array, expected object"),
        ({"success": 1}, "success is integer, expected boolean"),
        ({"text": "hi"}, "success is missing"),
        (["not", "an", "object"], "expected object, got array"),
    ],
)
def test_a_wrong_member_type_is_named(answer: Any, reason: str) -> None:
    with pytest.raises(PluginProtocolError, match=reason):
        invoke(answer)


def test_a_provider_result_is_checked_against_its_own_members() -> None:
    transport = FakeTransport({"text": "p", "success": "not checked here"}, in_place=True)
    plugin = LoadedPlugin.from_transport(transport)
    result = asyncio.run(plugin.get_provider("prov", {"content": {}}))
    assert result == {"text": "p", "success": "not checked here"}
    transport.answer = {"text": 1}
    with pytest.raises(PluginProtocolError, match="text is integer, expected string"):
        asyncio.run(plugin.get_provider("prov", {"content": {}}))
