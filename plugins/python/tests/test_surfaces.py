"""Honest surfaces: what a typo, a wrong argument or a foreign event loop runs into."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
from typing import Any

import pytest

from elizaos_interop import (
    Action,
    Evaluator,
    Plugin,
    Provider,
    Result,
    load_rust_plugin,
    load_wasm_plugin,
    serve,
)

MEM = {"content": {"text": "hi"}}


# The classes as Any: these tests pass what the annotations forbid, on purpose.
UntypedAction: Any = Action
UntypedProvider: Any = Provider
UntypedEvaluator: Any = Evaluator
UntypedPlugin: Any = Plugin


def A(**kwargs: Any) -> Action:
    return Action(name="a", handler=handler, **kwargs)


def P(**kwargs: Any) -> Provider:
    return Provider(name="p", get=getter, **kwargs)


def handler(runtime: Any, memory: Any, state: Any, options: Any) -> dict[str, Any]:
    return {"success": True}


def getter(runtime: Any, memory: Any, state: Any) -> dict[str, Any]:
    return {"text": "t"}


# -- Result --------------------------------------------------------------------------------


def test_result_typo_raises_attribute_error_naming_the_known_members() -> None:
    result = Result({"success": True, "text": "hi"}, known=("success", "text", "error"))
    with pytest.raises(AttributeError, match=r"'sucess'.*success, text, error.*success, text"):
        _ = result.sucess
    assert not hasattr(result, "sucess")


def test_result_reads_sent_members_and_known_absent_ones() -> None:
    result = Result({"success": True, "extra": 1}, known=("success", "text"))
    assert result.extra == 1  # must-ignore member the plugin sent
    assert result.text is None  # known optional member, absent
    assert result.success is True


def test_result_without_known_names_defaults_to_the_result_members() -> None:
    result = Result({"text": "x"})
    assert result.values is None
    assert result.error is None
    with pytest.raises(AttributeError, match="'txet'"):
        _ = result.txet


# -- loader signatures ---------------------------------------------------------------------


@pytest.mark.parametrize("loader", [load_rust_plugin, load_wasm_plugin])
def test_loaders_have_real_signatures(loader: Any) -> None:
    params = inspect.signature(loader).parameters
    assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in params.values())
    assert "max_message_bytes" in params


def test_loader_signature_defaults_match_the_transports() -> None:
    from elizaos_interop.host import _ffi, _wasm

    for public, inner in (
        (load_rust_plugin, _ffi.load_rust_plugin),
        (load_wasm_plugin, _wasm.load_wasm_plugin),
    ):
        outer_params = inspect.signature(public).parameters
        inner_params = inspect.signature(inner).parameters
        assert list(outer_params) == list(inner_params)
        for name, param in inner_params.items():
            assert outer_params[name].default == param.default, name


def test_loader_refuses_an_unknown_option_before_loading() -> None:
    with pytest.raises(TypeError, match="memory_limt"):
        load_wasm_plugin("/nonexistent.wasm", memory_limt=1)  # type: ignore[call-arg]


# -- eager argument checks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: UntypedAction(name="a", handler=3),
            r"Action 'a': handler must be callable, received int",
        ),
        (
            lambda: UntypedAction(name="", handler=handler),
            r"Action: name must be a non-empty string, received ''",
        ),
        (
            lambda: UntypedAction(name=5, handler=handler),
            r"name must be a non-empty string, received 5",
        ),
        (
            lambda: A(validate=None),
            r"validate must be callable, received NoneType",
        ),
        (
            lambda: A(similes="X"),
            r"similes must be a list of strings, received 'X'",
        ),
        (
            lambda: A(description=None),
            r"description must be a string, received None",
        ),
        (
            lambda: A(extra=[]),
            r"extra must be a dict, received \[\]",
        ),
        (
            lambda: UntypedProvider(name="p", get="x"),
            r"Provider 'p': get must be callable, received str",
        ),
        (
            lambda: P(dynamic="yes"),
            r"dynamic must be a boolean or None, received 'yes'",
        ),
        (
            lambda: P(description=1),
            r"description must be a string or None, received 1",
        ),
        (
            lambda: UntypedEvaluator(name="e", handler=None),
            r"Evaluator 'e': handler must be callable, received NoneT",
        ),
        (
            lambda: UntypedEvaluator(name="e", handler=getter, always_run=1),
            r"always_run must be a boolean or None, received 1",
        ),
        (
            lambda: UntypedPlugin(name="ok", init=3),
            r"Plugin ok: init must be callable or None, received int",
        ),
        (
            lambda: UntypedPlugin(name="ok", actions=None),
            r"Plugin ok: actions must be a list, received None",
        ),
        (lambda: UntypedPlugin(name="ok", extra=3), r"Plugin ok: extra must be a dict, received 3"),
        (
            lambda: UntypedPlugin(name="ok", runtime_view=1),
            r"runtime_view must be callable or None, received int",
        ),
    ],
)
def test_plugin_types_check_their_arguments_eagerly(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_valid_plugin_types_construct() -> None:
    plugin = Plugin(
        name="ok",
        actions=[Action(name="a", handler=handler, similes=["A"])],
        providers=[Provider(name="p", get=getter, dynamic=True)],
        evaluators=[Evaluator(name="e", handler=getter, always_run=False)],
        init=lambda config, runtime: None,
    )
    assert plugin.manifest()["actions"] == [{"name": "a", "description": "", "similes": ["A"]}]


# -- serve() and the caller's loop ---------------------------------------------------------


def test_serve_leaves_the_callers_task_factory_alone() -> None:
    seen: list[Any] = []

    def record(runtime: Any, memory: Any, state: Any, options: Any) -> dict[str, Any]:
        seen.append(asyncio.get_running_loop().get_task_factory())
        return {"success": True}

    plugin = Plugin(name="loop-check", actions=[Action(name="a", handler=record)])

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert loop.get_task_factory() is None
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        line = {"id": 1, "method": "invokeAction", "params": {"name": "a", "memory": MEM}}
        os.write(to_w, json.dumps(line).encode() + b"\n")
        os.close(to_w)
        assert await serve(plugin, input_fd=to_r, output_fd=from_w) == "eof"
        reply = json.loads(os.read(from_r, 65536).splitlines()[0])
        assert reply == {"jsonrpc": "2.0", "id": 1, "result": {"success": True}} or reply[
            "result"
        ] == {"success": True}
        for fd in (to_r, from_r, from_w):
            os.close(fd)
        assert loop.get_task_factory() is None

    asyncio.run(main())
    assert seen == [None]
