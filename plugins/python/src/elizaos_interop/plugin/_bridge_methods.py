"""The method handlers of protocol.md 3.3: params checks, the plugin's function, its result.

Each returns the method's result (an :class:`~._replies.Encoded`, or a value to encode), or a
:class:`~._replies.Pending` when the plugin's function returned an awaitable; param and name
errors raise :class:`~._replies.RpcError`.
"""

from __future__ import annotations

import asyncio
import dis
import inspect
import types
from collections.abc import Callable
from contextvars import copy_context
from typing import Any

from ..wire._errors import InvalidPayloadError
from ..wire._json import dumps
from ..wire._protocol import UNKNOWN_NAME, json_type
from ._bridge_init import InitGate
from ._bridge_state import Handler
from ._replies import (
    ACTION_RESULT,
    EMPTY,
    NULL,
    PROVIDER_RESULT,
    Encoded,
    Pending,
    RpcError,
    check_bool,
    check_result,
    handler_failed,
    init_done,
    invalid_param,
)
from ._runtime_proxy import RuntimeProxy

__all__ = ["Methods"]

_CoroutineType = types.CoroutineType
_PLAIN_RESULTS = (dict, bool, type(None))
_YIELD_VALUE = dis.opmap["YIELD_VALUE"]


def _can_suspend(code: types.CodeType) -> bool:
    """Whether a coroutine of ``code`` can suspend: only a ``YIELD_VALUE`` (what every
    ``await``, ``async with`` and ``async for`` compiles to) gives control back to the loop."""
    return any(instruction.opcode == _YIELD_VALUE for instruction in dis.get_instructions(code))


class Methods(InitGate):
    """One handler per method a plugin serves (``shutdown`` is the dispatcher's)."""

    def method_table(self) -> dict[str, Handler]:
        """The handlers by method name."""
        return {
            "getManifest": self._get_manifest,
            "init": self._init,
            "validateAction": self._validate_action,
            "invokeAction": self._invoke_action,
            "getProvider": self._get_provider,
            "validateEvaluator": self._validate_evaluator,
            "invokeEvaluator": self._invoke_evaluator,
        }

    def _get_manifest(self, params: dict[str, Any], req_id: int | str) -> Any:
        if self.manifest_json is None:
            try:
                self.manifest_json = Encoded(dumps(self.manifest))
            except InvalidPayloadError:
                return self.manifest  # answered -32603 by _send_result, as before
        return self.manifest_json

    def _init(self, params: dict[str, Any], req_id: int | str) -> Any:
        if "config" not in params:
            raise invalid_param("config", "object", "missing")
        config = params["config"]
        if not isinstance(config, dict):
            raise invalid_param("config", "object", json_type(config))
        self.implicit_init = False  # an explicit init comes first: no implicit one
        if self.plugin.init is None:
            self.session.config = config
            return EMPTY
        previous = self.init_gate
        gate: asyncio.Future[None] = self.loop.create_future()
        self.init_gate = gate
        self.init_due = True
        return Pending(
            "plugin", self.plugin.name, self._run_init(config, previous, gate), init_done
        )

    def _args(
        self, params: dict[str, Any], with_options: bool, req_id: int | str
    ) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], RuntimeProxy]:
        if "name" not in params:
            raise invalid_param("name", "string", "missing")
        name = params["name"]
        if type(name) is not str and not isinstance(name, str):
            raise invalid_param("name", "string", json_type(name))
        if "memory" not in params:
            raise invalid_param("memory", "object", "missing")
        memory = params["memory"]
        if type(memory) is not dict:
            raise invalid_param("memory", "object", json_type(memory))
        if "content" not in memory:
            raise invalid_param("memory.content", "object", "missing")
        content = memory["content"]
        if type(content) is not dict:
            raise invalid_param("memory.content", "object", json_type(content))
        text = content.get("text")
        if text is not None and type(text) is not str:
            raise invalid_param("memory.content.text", "string", json_type(text))
        state = params.get("state")
        if state is None:
            state = {}
        elif type(state) is not dict:
            raise invalid_param("state", "object", json_type(state))
        options: Any = {}
        if with_options:
            options = params.get("options")
            if options is None:
                options = {}
            elif type(options) is not dict:
                raise invalid_param("options", "object", json_type(options))
        context = params.get("runtime")
        if context is None:
            return name, memory, state, options, self.runtime
        if type(context) is not dict:
            raise invalid_param("runtime", "object", json_type(context))
        return name, memory, state, options, RuntimeProxy(self.session, req_id, context)

    @staticmethod
    def _unknown(kind: str, name: str) -> RpcError:
        return RpcError(UNKNOWN_NAME, f"unknown {kind}: {name}", {"kind": kind, "name": name})

    def _call(
        self,
        kind: str,
        name: str,
        finish: Callable[[Any], Any],
        fn: Callable[..., Any],
        *args: Any,
    ) -> Any:
        """Call a plugin function: its checked result, or a Pending when it is async."""
        try:
            value = fn(*args)
        except Exception as exc:
            raise handler_failed(kind, name, exc) from exc
        if type(value) is _CoroutineType:
            code = value.cr_code
            suspends = self.suspends.get(code)
            if suspends is None:
                suspends = self.suspends[code] = _can_suspend(code)
            if suspends:
                return Pending(kind, name, value, finish)
            # An async def that never awaits cannot suspend: run it to its end here, in a copy
            # of the context as a task would, without a task (one per call is most of the
            # cost of a small async call on Python 3.11).
            try:
                copy_context().run(value.send, None)
            except StopIteration as stop:
                return finish(stop.value)
            except Exception as exc:
                raise handler_failed(kind, name, exc) from exc
            value.close()  # unreachable: a coroutine without YIELD_VALUE cannot yield
            raise RuntimeError(f"{kind} {name}: a coroutine without await suspended")
        if not isinstance(value, _PLAIN_RESULTS) and inspect.isawaitable(value):
            return Pending(kind, name, value, finish)
        return finish(value)

    def _validate_action(self, params: dict[str, Any], req_id: int | str) -> Any:
        name, memory, state, _, runtime = self._args(params, False, req_id)
        action = self.actions.get(name)
        if action is None:
            raise self._unknown("action", name)
        return self._call(
            "action",
            name,
            lambda value: check_bool("action", name, value),
            action.validate,
            runtime,
            memory,
            state,
        )

    def _invoke_action(self, params: dict[str, Any], req_id: int | str) -> Any:
        name, memory, state, options, runtime = self._args(params, True, req_id)
        action = self.actions.get(name)
        if action is None:
            raise self._unknown("action", name)
        return self._call(
            "action",
            name,
            lambda value: check_result(
                "action", name, value, ACTION_RESULT, "ActionResult", self.max
            ),
            action.handler,
            runtime,
            memory,
            state,
            options,
        )

    def _get_provider(self, params: dict[str, Any], req_id: int | str) -> Any:
        name, memory, state, _, runtime = self._args(params, False, req_id)
        provider = self.providers.get(name)
        if provider is None:
            raise self._unknown("provider", name)
        return self._call(
            "provider",
            name,
            lambda value: check_result(
                "provider", name, value, PROVIDER_RESULT, "ProviderResult", self.max
            ),
            provider.get,
            runtime,
            memory,
            state,
        )

    def _validate_evaluator(self, params: dict[str, Any], req_id: int | str) -> Any:
        name, memory, state, _, runtime = self._args(params, False, req_id)
        evaluator = self.evaluators.get(name)
        if evaluator is None:
            raise self._unknown("evaluator", name)
        return self._call(
            "evaluator",
            name,
            lambda value: check_bool("evaluator", name, value),
            evaluator.validate,
            runtime,
            memory,
            state,
        )

    def _invoke_evaluator(self, params: dict[str, Any], req_id: int | str) -> Any:
        name, memory, state, _, runtime = self._args(params, False, req_id)
        evaluator = self.evaluators.get(name)
        if evaluator is None:
            raise self._unknown("evaluator", name)

        def finish(value: Any) -> Encoded:
            if value is None:
                return NULL
            return check_result(
                "evaluator", name, value, ACTION_RESULT, "EvaluatorResult", self.max
            )

        return self._call("evaluator", name, finish, evaluator.handler, runtime, memory, state)
