"""The host-side plugin object (protocol.md 7.1), identical whatever the transport.

:class:`LoadedPlugin` wraps a :class:`~elizaos_interop.Transport`. It fetches and checks
the manifest once (synchronously, so loaders are plain functions), then exposes the plugin's
actions, providers and evaluators as objects with ``async`` handlers, exactly like an elizaOS
plugin written in Python.

It accepts what plugins written from the seed README send (protocol.md 1, 3.3, 12): unknown
members of manifests, descriptors and results are kept, validate may answer ``{"valid": bool}``
and ``init`` anything; only known members of the wrong type are refused. A caller's runtime
travels with the call to a plugin that declared ``"runtime"`` (section 11).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping
from types import TracebackType
from typing import Any, NoReturn

from ..wire._errors import InteropError, PluginLoadError, PluginProtocolError
from ..wire._json import dumps
from ..wire._manifest import check_manifest
from ..wire._protocol import PROTOCOL_VERSION, item_label, json_type
from ._handles import ActionHandle, EvaluatorHandle, ProviderHandle
from ._runtime_dispatch import runtime_snapshot
from ._transport import Transport

__all__ = [
    "PROTOCOL_VERSION",
    "ActionHandle",
    "EvaluatorHandle",
    "LoadedPlugin",
    "ProviderHandle",
    "Result",
    "check_manifest",
    "host_hello",
]

_PROVIDER_MEMBER_TYPES: dict[str, type] = {"text": str, "values": dict, "data": dict}
"""ProviderResult members a host consumes; any other member is kept untouched (must-ignore)."""
_ACTION_MEMBER_TYPES: dict[str, type] = {
    "success": bool,
    "text": str,
    "error": str,
    "values": dict,
    "data": dict,
}
"""ActionResult members and their types (``success`` is checked first, as required)."""
RESULT_MEMBERS: tuple[str, ...] = ("success", "text", "error", "values", "data")
"""Members of an ActionResult or ProviderResult that read as ``None`` when absent."""
_ACTION_MEMBERS: tuple[dict[str, type], tuple[str, ...]] = (
    _ACTION_MEMBER_TYPES,
    tuple(_ACTION_MEMBER_TYPES),
)
_PROVIDER_MEMBERS: tuple[dict[str, type], tuple[str, ...]] = (
    _PROVIDER_MEMBER_TYPES,
    tuple(_PROVIDER_MEMBER_TYPES),
)
_JSON_NAMES: dict[type, str] = {bool: "boolean", str: "string", dict: "object"}


def host_hello(transport: Transport) -> dict[str, Any]:
    """The host's half of the version exchange, sent as ``getManifest``'s params (section 12).

    ``"runtime"`` is offered only by a transport that answers runtime calls (IPC, section 11).
    """
    capabilities = ["runtime"] if getattr(transport, "answers_runtime_calls", False) else []
    return {"protocolVersion": PROTOCOL_VERSION, "capabilities": capabilities}


class Result:
    """A read-only result (ActionResult, ProviderResult) with attribute access.

    ``result.text``, ``result.values``, ``result.data`` read the members; a missing optional
    member reads as ``None``, and any other name (``result.sucess``) raises AttributeError
    naming the known members. Every member the plugin sent, unknown ones included, is readable.
    It also reads like a mapping (``result["text"]``, ``in``, ``len``, iteration, ``keys()``,
    ``items()``, ``get()``) and compares equal to the plain dict it wraps.
    It has no ``values()`` method, because ``values`` is a result member; use :meth:`to_dict`
    for a plain ``dict`` copy.
    """

    __slots__ = ("_data", "_known")
    _data: dict[str, Any]
    _known: tuple[str, ...]

    def __init__(self, data: dict[str, Any], known: tuple[str, ...] = RESULT_MEMBERS) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_known", known)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):  # slots not set yet (copy, pickle): no recursion
            raise AttributeError(key)
        data = self._data
        if key in data:
            return data[key]
        if key in self._known:
            return None
        raise AttributeError(
            f"Result has no member {key!r}: expected one of {', '.join(self._known)}, "
            f"or a member the plugin sent (received {', '.join(data) or 'none'})",
            name=key,
            obj=self,
        )

    def __setattr__(self, key: str, value: Any) -> NoReturn:
        raise AttributeError(f"Result is read-only (cannot set {key!r})")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Result):
            return bool(self._data == other._data)
        if isinstance(other, Mapping):
            return bool(self._data == dict(other.items()))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Result({self._data!r})"

    def keys(self) -> KeysView[str]:
        """The member names."""
        return self._data.keys()

    def items(self) -> ItemsView[str, Any]:
        """``(name, value)`` pairs."""
        return self._data.items()

    def get(self, key: str, default: Any = None) -> Any:
        """The member ``key``, or ``default``."""
        return self._data.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """Return a shallow copy of the underlying dict."""
        return dict(self._data)


_SET_DATA: Any = Result.__dict__["_data"].__set__
_SET_KNOWN: Any = Result.__dict__["_known"].__set__
_new_object = object.__new__


def _new_result(data: dict[str, Any], known: tuple[str, ...]) -> Result:
    """``Result(data, known)`` through the slot descriptors: ~0.25 us where ``__init__`` and its
    two ``object.__setattr__`` calls cost ~0.45 us (one result per call)."""
    result: Result = _new_object(Result)
    _SET_DATA(result, data)
    _SET_KNOWN(result, known)
    return result


def _as_object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, dict):
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{what} must be a dict (JSON object), got {type(value).__name__}")


class LoadedPlugin:
    """A plugin loaded over any transport (protocol.md 7.1).

    Build one with :meth:`from_transport` (what every loader does). Calls are ``async`` and work
    from any event loop; results are :class:`Result` objects. Use ``with``/``async with`` or call
    :meth:`close` to release the plugin (its process, library or instance).
    """

    def __init__(self, transport: Transport, manifest: dict[str, Any]) -> None:
        self.transport = transport
        self.manifest: dict[str, Any] = manifest
        self.name: str = manifest["name"]
        self.description: str = manifest["description"]
        self.version: str = manifest["version"]
        self.language: str = manifest["language"]
        self.protocol_version: int = manifest.get("protocolVersion", 0)
        """The plugin's protocol version (section 12); 0 for a seed-dialect plugin."""
        self.capabilities: frozenset[str] = frozenset(manifest.get("capabilities", ()))
        """The capabilities the plugin declared (``"runtime"``, ``"shutdown"``, ...)."""
        self._takes_runtime = (
            self.protocol_version >= 1
            and "runtime" in self.capabilities
            and getattr(transport, "answers_runtime_calls", False)
        )
        self._call_now: Any = (
            transport.call_sync if getattr(transport, "calls_in_place", False) else None
        )
        """``transport.call_sync`` when the transport's ``call`` only runs it on this thread (FFI,
        WASM): the call methods then skip one coroutine per call."""
        self.actions = [ActionHandle(self, d) for d in manifest["actions"]]
        self.providers = [ProviderHandle(self, d) for d in manifest["providers"]]
        self.evaluators = [EvaluatorHandle(self, d) for d in manifest["evaluators"]]

    @classmethod
    def from_transport(cls, transport: Transport, *, timeout: float | None = None) -> LoadedPlugin:
        """Fetch and check the manifest over ``transport`` (blocking) and wrap it.

        Any failure (no answer within ``timeout``, crash, garbage, invalid manifest) closes the
        transport and raises :class:`PluginLoadError` with the underlying error as its cause.
        """
        try:
            manifest = transport.call_sync("getManifest", host_hello(transport), timeout)
        except InteropError as exc:
            transport.close()
            raise PluginLoadError(
                f"could not get the manifest: {exc.detail}",
                plugin=transport.label,
                method="getManifest",
                transport=transport.kind,
            ) from exc
        except BaseException:
            transport.close()
            raise
        problems = check_manifest(manifest)
        if problems:
            transport.close()
            try:
                excerpt = dumps(manifest)[:200].decode("utf-8", "replace")
            except InteropError:
                excerpt = repr(manifest)[:200]
            raise PluginLoadError(
                "invalid manifest: " + "; ".join(problems) + f" (received {excerpt})",
                plugin=transport.label,
                method="getManifest",
                transport=transport.kind,
            )
        transport.label = manifest["name"]
        plugin = cls(transport, manifest)
        set_peer = getattr(transport, "set_peer", None)
        if set_peer is not None:
            set_peer(plugin.protocol_version, plugin.capabilities)
        return plugin

    # -- direct methods ---------------------------------------------------------------------

    async def init(
        self, config: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> None:
        """Send the plugin its configuration (may be called again; the last config wins).

        Any result value is accepted (ours answer ``{}``, the seed's ``{"success": true}``).
        """
        await self.transport.call("init", {"config": _as_object(config, "config")}, timeout)

    async def validate_action(
        self,
        name: str,
        memory: Mapping[str, Any],
        state: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        runtime: Any = None,
    ) -> bool:
        """Return the action's ``validate`` answer."""
        params = self._params(name, memory, state)
        if runtime is None:  # the hot path: exactly the call of a runtime-less host
            call_now = self._call_now
            if call_now is not None:
                result = call_now("validateAction", params, timeout)
            else:
                result = await self.transport.call("validateAction", params, timeout)
        else:
            result = await self._call_with_runtime("validateAction", params, timeout, runtime)
        return self._expect_bool(result, "validateAction", name)

    async def invoke_action(
        self,
        name: str,
        memory: Mapping[str, Any],
        state: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        runtime: Any = None,
    ) -> Result:
        """Run the action and return its ActionResult."""
        params = self._params(name, memory, state)
        params["options"] = options if type(options) is dict else _as_object(options, "options")
        if runtime is None:  # the hot path: exactly the call of a runtime-less host
            call_now = self._call_now
            if call_now is not None:
                result = call_now("invokeAction", params, timeout)
            else:
                result = await self.transport.call("invokeAction", params, timeout)
        else:
            result = await self._call_with_runtime("invokeAction", params, timeout, runtime)
        return self._action_result(result, "invokeAction", name)

    async def get_provider(
        self,
        name: str,
        memory: Mapping[str, Any],
        state: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        runtime: Any = None,
    ) -> Result:
        """Run the provider and return its ProviderResult."""
        params = self._params(name, memory, state)
        if runtime is None:  # the hot path: exactly the call of a runtime-less host
            call_now = self._call_now
            if call_now is not None:
                result = call_now("getProvider", params, timeout)
            else:
                result = await self.transport.call("getProvider", params, timeout)
        else:
            result = await self._call_with_runtime("getProvider", params, timeout, runtime)
        return self._checked_result(result, "getProvider", name, _PROVIDER_MEMBERS)

    async def validate_evaluator(
        self,
        name: str,
        memory: Mapping[str, Any],
        state: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        runtime: Any = None,
    ) -> bool:
        """Return the evaluator's ``validate`` answer."""
        params = self._params(name, memory, state)
        if runtime is None:  # the hot path: exactly the call of a runtime-less host
            call_now = self._call_now
            if call_now is not None:
                result = call_now("validateEvaluator", params, timeout)
            else:
                result = await self.transport.call("validateEvaluator", params, timeout)
        else:
            result = await self._call_with_runtime("validateEvaluator", params, timeout, runtime)
        return self._expect_bool(result, "validateEvaluator", name)

    async def invoke_evaluator(
        self,
        name: str,
        memory: Mapping[str, Any],
        state: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        runtime: Any = None,
    ) -> Result | None:
        """Run the evaluator; ``None`` means it had nothing to say."""
        params = self._params(name, memory, state)
        if runtime is None:  # the hot path: exactly the call of a runtime-less host
            call_now = self._call_now
            if call_now is not None:
                result = call_now("invokeEvaluator", params, timeout)
            else:
                result = await self.transport.call("invokeEvaluator", params, timeout)
        else:
            result = await self._call_with_runtime("invokeEvaluator", params, timeout, runtime)
        if result is None:
            return None
        return self._action_result(result, "invokeEvaluator", name)

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Release the plugin (idempotent)."""
        self.transport.close()

    def __enter__(self) -> LoadedPlugin:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> LoadedPlugin:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<LoadedPlugin {self.name!r} {self.version} ({self.language}) "
            f"over {self.transport.kind}>"
        )

    # -- helpers ----------------------------------------------------------------------------

    async def _call_with_runtime(
        self, method: str, params: dict[str, Any], timeout: float | None, runtime: Any
    ) -> Any:
        """Send a call method with the caller's runtime, if the plugin takes one (11.1).

        To a plugin that did not declare ``"runtime"``, and over FFI and WASM (11.6), the call
        is sent as without a runtime: nothing is added to ``params``.
        """
        if not self._takes_runtime:
            return await self.transport.call(method, params, timeout)
        params["runtime"] = runtime_snapshot(runtime)
        call: Any = self.transport.call
        return await call(method, params, timeout, runtime=runtime)

    @staticmethod
    def _params(
        name: str, memory: Mapping[str, Any], state: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        return {
            "name": name,
            "memory": memory if type(memory) is dict else _as_object(memory, "memory"),
            "state": state if type(state) is dict else _as_object(state, "state"),
        }

    def _bad_result(self, method: str, name: str | None, result: Any, reason: str) -> NoReturn:
        try:
            excerpt = dumps(result)[:200]
        except InteropError:
            excerpt = repr(result).encode("utf-8", "replace")[:200]
        raise PluginProtocolError(
            f"invalid result: {reason}",
            excerpt=excerpt,
            plugin=self.name,
            method=item_label(method, name),
            transport=self.transport.kind,
        )

    def _expect_bool(self, result: Any, method: str, name: str) -> bool:
        """A validate answer: a boolean, or the seed's ``{"valid": boolean}`` (3.3)."""
        if result is True or result is False:
            return result
        if type(result) is dict:
            valid = result.get("valid")
            if valid is True or valid is False:
                return valid
        self._bad_result(
            method,
            name,
            result,
            f'expected boolean or {{"valid": boolean}}, got {json_type(result)}',
        )

    def _expect_object(self, result: Any, method: str, name: str | None) -> dict[str, Any]:
        if not isinstance(result, dict):
            self._bad_result(method, name, result, f"expected object, got {json_type(result)}")
        return result

    def _action_result(self, result: Any, method: str, name: str) -> Result:
        if type(result) is dict and type(result.get("success")) is not bool:
            reason = (
                "success is missing"
                if "success" not in result
                else f"success is {json_type(result['success'])}, expected boolean"
            )
            self._bad_result(method, name, result, reason)
        return self._checked_result(result, method, name, _ACTION_MEMBERS)

    def _checked_result(
        self,
        result: Any,
        method: str,
        name: str,
        members: tuple[dict[str, type], tuple[str, ...]],
    ) -> Result:
        """Check the known members' types; unknown members are kept untouched (must-ignore).

        A known optional member that is ``null`` is treated as absent and dropped; the dict is
        only copied when there is such a member. ``members`` is (name -> type, the names).
        """
        known, names = members
        if type(result) is dict:
            # The common case in one pass over the (few) members the plugin sent: each known
            # one has exactly its JSON type. Anything else (null, a subclass, a wrong type)
            # takes the loop below, which drops nulls and words the error.
            for key, value in result.items():
                expected = known.get(key)
                if expected is not None and type(value) is not expected:
                    break
            else:
                return _new_result(result, names)
        data = self._expect_object(result, method, name)
        has_null = False
        for key, expected in known.items():
            if key not in data:
                continue
            value = data[key]
            if value is None:
                has_null = True
            elif not isinstance(value, expected):
                self._bad_result(
                    method,
                    name,
                    result,
                    f"{key} is {json_type(value)}, expected {_JSON_NAMES[expected]}",
                )
        if has_null:
            data = {k: v for k, v in data.items() if v is not None or k not in known}
        return _new_result(data, names)
