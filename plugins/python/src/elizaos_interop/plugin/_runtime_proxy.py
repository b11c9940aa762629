"""The runtime a plugin's handler receives inside the bridge (protocol.md section 11).

elizaOS handlers call their agent runtime (``runtime.getSetting``, ``runtime.use_model``, ...).
Over IPC the host's runtime object stays in the host, so the bridge hands each handler a
:class:`RuntimeProxy`: ``agentId``/``character`` read the snapshot the host sent in the call's
``params.runtime``, ``logger`` writes to stderr, and every method of 11.3 (camelCase and
snake_case spellings) sends a runtime request ``{"id": "rt-<n>", "method": "runtime.<name>",
"params": {"call": <host request id>, "args": [...]}}`` and awaits the host's answer.

Without ``params.runtime`` (the host's caller passed none, or a seed-dialect host) every
forwarded method raises :class:`RuntimeUnavailableError` at once, without writing anything.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import importlib
import re
import sys
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from ..wire._protocol import INTERNAL_ERROR, METHOD_NOT_FOUND

__all__ = [
    "FORWARDED_METHODS",
    "LOCAL_METHODS",
    "RuntimeCallError",
    "RuntimeChannel",
    "RuntimeProxy",
    "RuntimeSession",
    "RuntimeUnavailableError",
    "settle_runtime_answer",
    "snake_case",
    "to_json_data",
]


class RuntimeCallError(RuntimeError):
    """The host answered a runtime request with an error (protocol.md 11.2).

    ``code`` is the JSON-RPC code the host sent (-32603 "host closed" when the host went away
    while the request was pending), ``data`` its ``data`` member or ``None``.
    """

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class RuntimeUnavailableError(RuntimeError):
    """The host provides no such runtime method, or no runtime at all for this call (11.1).

    Raised at once, inside the handler, when the call carried no ``params.runtime`` (``code``
    is then ``None``: nothing was asked of the host), and for a host's -32601 answer.
    """

    def __init__(self, method: str, code: int | None = None, data: Any = None) -> None:
        message = f"runtime.{method} is not provided by the host"
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.method = method


# protocol.md 11.3: wire name -> positional parameter names (optional ones included).
FORWARDED_METHODS: dict[str, tuple[str, ...]] = {
    # settings
    "getSetting": ("key",),
    "setSetting": ("key", "value", "secret"),
    # cache
    "getCache": ("key",),
    "setCache": ("key", "value"),
    "deleteCache": ("key",),
    # rooms, worlds
    "getRoom": ("roomId",),
    "getRooms": ("worldId",),
    "getRoomsForParticipant": ("entityId",),
    "getRoomsForParticipants": ("entityIds",),
    "getParticipantsForRoom": ("roomId",),
    "getParticipantUserState": ("roomId", "entityId"),
    "setParticipantUserState": ("roomId", "entityId", "state"),
    "getWorld": ("worldId",),
    "updateWorld": ("world",),
    "ensureWorldExists": ("world",),
    "ensureRoomExists": ("room",),
    "ensureConnection": ("params",),
    "ensureConnections": ("entities", "rooms", "source", "world"),
    # entities
    "getEntityById": ("entityId",),
    "getEntitiesForRoom": ("roomId", "includeComponents"),
    "updateEntity": ("entity",),
    "getComponent": ("entityId", "type", "worldId", "sourceEntityId"),
    "getComponents": ("entityId", "worldId", "sourceEntityId"),
    "createComponent": ("component",),
    "updateComponent": ("component",),
    "getRelationships": ("params",),
    "createRelationship": ("params",),
    "updateRelationship": ("relationship",),
    # memories
    "getMemories": ("params",),
    "getMemoryById": ("id",),
    "getMemoriesByRoomIds": ("params",),
    "searchMemories": ("params",),
    "createMemory": ("memory", "tableName", "unique"),
    "updateMemory": ("memory",),
    "deleteMemory": ("memoryId",),
    "getConversationLength": (),
    "queueEmbeddingGeneration": ("memory", "priority"),
    # tasks
    "getTasks": ("params",),
    "getTask": ("id",),
    "getTasksByName": ("name",),
    "createTask": ("task",),
    "updateTask": ("id", "task"),
    "deleteTask": ("id",),
    # models, state, events
    "useModel": ("modelType", "params"),
    "composeState": ("message", "includeList", "onlyInclude", "skipCache"),
    "emitEvent": ("event", "params"),
    "log": ("params",),
}

LOCAL_METHODS: tuple[str, ...] = (
    "getService",
    "getAllServices",
    "registerTaskWorker",
    "getTaskWorker",
    "registerEvent",
    "getModel",
)
"""Members of 11.3 answered on the plugin side: what they return cannot cross a process."""

_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake_case(name: str) -> str:
    """``getEntityById`` -> ``get_entity_by_id`` (the Python spelling of a wire name)."""
    return _CAMEL_HUMP.sub(r"_\1", name).lower()


def camel_case(name: str) -> str:
    """``room_id`` -> ``roomId`` (keyword arguments are sent under the camelCase name)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_PYTHON_ALIASES: dict[str, str] = {"get_entity": "getEntityById"}
"""Other spellings the ``elizaos`` Python runtime gives a method of 11.3."""
_SNAKE_TO_WIRE: dict[str, str] = {snake_case(n): n for n in FORWARDED_METHODS} | _PYTHON_ALIASES
_KNOWN_NAMES = ", ".join(sorted([*FORWARDED_METHODS, *LOCAL_METHODS]))


def to_json_data(value: Any) -> Any:
    """Convert a runtime call argument to plain JSON data, as ``JSON.stringify`` would.

    Pydantic models (``model_dump(mode="json", by_alias=True)``), protobuf messages
    (``MessageToDict`` with camelCase names), dataclasses, enums, UUIDs, tuples and sets become
    plain values; dicts and lists are converted member by member. Anything else is returned as
    it is (the encoder then refuses what is not JSON, naming its path).
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        if isinstance(value, enum.Enum):
            return to_json_data(value.value)
        return value
    if isinstance(value, dict):
        return {
            (k if isinstance(k, str) else str(to_json_data(k))): to_json_data(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json_data(v) for v in value]
    if isinstance(value, enum.Enum):
        return to_json_data(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # pydantic v2
        return dump(mode="json", by_alias=True, exclude_none=True)
    if hasattr(value, "DESCRIPTOR") and hasattr(value, "ListFields"):  # a protobuf message
        return proto_to_data(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_json_data(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_json_data(to_dict())
    return value


_MAX_EXACT = 2**53
_INT64_TYPES = frozenset((3, 4, 6, 16, 18))  # int64, uint64, fixed64, sfixed64, sint64
_STRUCT_TYPES = frozenset(
    ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue")
)


def restore_ints(value: Any) -> Any:
    """Integral doubles (what a protobuf ``Struct`` makes of an int) back to ints, recursively."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) <= _MAX_EXACT:
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: restore_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [restore_ints(v) for v in value]
    return value


def proto_to_data(message: Any) -> Any:
    """A protobuf message as JSON data, camelCase names, with integers kept integers.

    ``MessageToDict`` writes 64-bit integers as strings and a ``Struct`` holds only doubles;
    both come back as ints here (a ``Struct`` double with an integral value is taken for an int).
    """
    json_format: Any = importlib.import_module("google.protobuf.json_format")
    return _fix_proto(json_format.MessageToDict(message), message.DESCRIPTOR)


def _fix_scalar(value: Any, field: Any) -> Any:
    if field.type in _INT64_TYPES and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    if field.message_type is not None:
        return _fix_proto(value, field.message_type)
    return value


def _fix_proto(data: Any, descriptor: Any) -> Any:
    if descriptor.full_name in _STRUCT_TYPES:
        return restore_ints(data)
    if not isinstance(data, dict):
        return data
    for field in descriptor.fields:
        key = field.json_name
        if key not in data:
            continue
        value = data[key]
        sub = field.message_type
        if sub is not None and sub.GetOptions().map_entry:
            value_field = sub.fields_by_name["value"]
            if isinstance(value, dict):
                data[key] = {k: _fix_scalar(v, value_field) for k, v in value.items()}
        elif isinstance(value, list):
            data[key] = [_fix_scalar(v, field) for v in value]
        else:
            data[key] = _fix_scalar(value, field)
    return data


class RuntimeChannel(Protocol):
    """The bridge's side of runtime requests: sends one and returns the future of its answer."""

    def send_runtime_request(
        self, call: int | str, method: str, args: list[Any]
    ) -> asyncio.Future[Any]:
        """Write the request for host call ``call`` and return the future of the host's answer.

        The future fails with :class:`RuntimeCallError` for an error answer, and with -32603
        "host closed" when stdin reaches EOF first.
        """
        ...


class _StderrLogger:
    """``runtime.logger``: one line per message on stderr, never on stdout (protocol.md 3.1).

    Accepts the call shapes elizaOS handlers use: ``info("text")``, ``info("text", key=v)``
    (structlog) and ``info({"src": ...}, "text")`` (pino).
    """

    __slots__ = ("_prefix",)

    def __init__(self, plugin_name: str) -> None:
        self._prefix = f"[{plugin_name}]"

    def _emit(self, level: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        parts = [self._prefix, level]
        parts.extend(str(a) for a in args)
        parts.extend(f"{k}={v}" for k, v in kwargs.items())
        print(" ".join(parts), file=sys.stderr, flush=True)

    def trace(self, *args: Any, **kwargs: Any) -> None:
        self._emit("TRACE", args, kwargs)

    def debug(self, *args: Any, **kwargs: Any) -> None:
        self._emit("DEBUG", args, kwargs)

    def info(self, *args: Any, **kwargs: Any) -> None:
        self._emit("INFO", args, kwargs)

    def log(self, *args: Any, **kwargs: Any) -> None:
        self._emit("LOG", args, kwargs)

    def success(self, *args: Any, **kwargs: Any) -> None:
        self._emit("SUCCESS", args, kwargs)

    def warn(self, *args: Any, **kwargs: Any) -> None:
        self._emit("WARN", args, kwargs)

    warning = warn

    def error(self, *args: Any, **kwargs: Any) -> None:
        self._emit("ERROR", args, kwargs)

    def exception(self, *args: Any, **kwargs: Any) -> None:
        self._emit("ERROR", args, kwargs)

    def fatal(self, *args: Any, **kwargs: Any) -> None:
        self._emit("FATAL", args, kwargs)

    critical = fatal


class RuntimeSession:
    """What every runtime proxy of one serving session shares.

    ``channel`` sends runtime requests (``None``: nothing to send them on), ``config`` is the
    config of the last successful ``init``, and the registries hold what the local methods of
    11.3 keep on the plugin side. ``view`` (the plugin's ``runtime_view``, set by the elizaOS
    adapter) wraps the ``character`` snapshot and runtime results for the plugin's handlers.
    """

    def __init__(self, plugin_name: str, channel: RuntimeChannel | None = None) -> None:
        self.plugin_name = plugin_name
        self.channel = channel
        self.config: dict[str, Any] = {}
        self.logger = _StderrLogger(plugin_name)
        self.task_workers: dict[str, Any] = {}
        self.events: dict[str, list[Any]] = {}
        self.view: Callable[[Any], Any] | None = None
        # The served plugin's own (actions, providers, evaluators), for runtime.actions etc.
        self.components: tuple[list[Any], list[Any], list[Any]] = ([], [], [])


def _place_args(wire: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    """Positional arguments for the wire, with keyword arguments put where 11.3 names them.

    A keyword that names no parameter joins the method's ``params`` object when it has one
    (``get_memories(room_id=r, count=5)`` sends ``[{"roomId": r, "count": 5}]``).
    """
    out = [to_json_data(a) for a in args]
    if not kwargs:
        return out
    names = FORWARDED_METHODS[wire]
    holes: set[int] = set()
    extra: dict[str, Any] = {}
    for key, value in kwargs.items():
        camel = camel_case(key)
        if camel in names:
            index = names.index(camel)
            if index < len(out) and index not in holes:
                raise TypeError(f"runtime.{wire}() got multiple values for argument {key!r}")
            while len(out) <= index:
                holes.add(len(out))
                out.append(None)
            holes.discard(index)
            out[index] = to_json_data(value)
        elif "params" in names:
            extra[camel] = to_json_data(value)
        else:
            raise TypeError(
                f"runtime.{wire}() got an unexpected keyword argument {key!r} "
                f"(parameters: {', '.join(names) or 'none'})"
            )
    if extra:
        index = names.index("params")
        while len(out) <= index:
            holes.add(len(out))
            out.append(None)
        current = out[index]
        if current is None:
            out[index] = extra
        elif isinstance(current, dict):
            out[index] = {**current, **extra}
        else:
            raise TypeError(f"runtime.{wire}(): params is not an object, cannot add {extra}")
        holes.discard(index)
    while out and len(out) - 1 in holes:  # trailing unset arguments are dropped
        holes.discard(len(out) - 1)
        out.pop()
    return out


class RuntimeProxy:
    """The ``runtime`` argument of a handler served by the bridge (protocol.md 11.1).

    ``agentId``/``agent_id`` and ``character`` come from the call's ``params.runtime`` snapshot
    (``None`` when absent), ``logger`` writes to stderr, ``config`` is the config of the last
    ``init``, ``actions``/``providers``/``evaluators`` list the served plugin's own components.
    Each method of 11.3, spelled ``getSetting`` or ``get_setting``, is a coroutine function
    forwarding to the host; the local ones (``getService`` ...) answer here. Any other attribute
    raises ``AttributeError`` naming the known methods.
    """

    __slots__ = ("_call", "_character", "_context", "_session")

    def __init__(
        self,
        session: RuntimeSession,
        call: int | str | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        self._session = session
        self._call = call if context is not None else None
        self._context = context
        self._character: Any = None

    # -- the snapshot and local members -----------------------------------------------------

    @property
    def has_host(self) -> bool:
        """Whether runtime requests of this call reach a host (the call carried a runtime)."""
        return self._call is not None and self._session.channel is not None

    @property
    def agentId(self) -> str | None:
        """The host runtime's agent id, from the call's snapshot."""
        if self._context is None:
            return None
        value = self._context.get("agentId")
        return value if isinstance(value, str) else None

    @property
    def agent_id(self) -> str | None:
        """Python spelling of :attr:`agentId`."""
        return self.agentId

    @property
    def character(self) -> Any:
        """The host runtime's character, from the call's snapshot (``None`` when absent)."""
        if self._character is None and self._context is not None:
            value = self._context.get("character")
            if isinstance(value, dict):
                view = self._session.view
                self._character = view(value) if view is not None else value
        return self._character

    @property
    def logger(self) -> _StderrLogger:
        """A logger writing to the plugin's stderr."""
        return self._session.logger

    @property
    def config(self) -> dict[str, Any]:
        """The config of the last ``init`` (``{}`` before any)."""
        return self._session.config

    @property
    def actions(self) -> list[Any]:
        """The served plugin's own actions (protocol.md 11.3: other plugins' do not cross)."""
        return self._session.components[0]

    @property
    def providers(self) -> list[Any]:
        """The served plugin's own providers."""
        return self._session.components[1]

    @property
    def evaluators(self) -> list[Any]:
        """The served plugin's own evaluators."""
        return self._session.components[2]

    def getService(self, name: Any) -> None:
        """Services live in the host's process: always ``None`` on the plugin side."""
        return None

    def getAllServices(self) -> dict[str, Any]:
        """An empty map: services do not cross the process boundary."""
        return {}

    def registerTaskWorker(self, worker: Any) -> None:
        """Keep ``worker`` in the plugin-local registry, by its ``name``."""
        name = worker.get("name") if isinstance(worker, dict) else getattr(worker, "name", None)
        self._session.task_workers[str(name)] = worker

    def getTaskWorker(self, name: str) -> Any:
        """The worker registered under ``name`` in this plugin, or ``None``."""
        return self._session.task_workers.get(name)

    def registerEvent(self, event: str, handler: Any) -> None:
        """Keep ``handler`` in the plugin-local event registry."""
        self._session.events.setdefault(event, []).append(handler)

    def getModel(self, model_type: Any) -> None:
        """Model handlers live in the host: always ``None`` on the plugin side."""
        return None

    get_service = getService
    get_all_services = getAllServices
    register_task_worker = registerTaskWorker
    get_task_worker = getTaskWorker
    register_event = registerEvent
    get_model = getModel

    # -- forwarded methods ------------------------------------------------------------------

    def _forward(
        self, wire: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Coroutine[Any, Any, Any]:
        call = self._call
        channel = self._session.channel
        if call is None or channel is None:
            return _raise(RuntimeUnavailableError(wire))
        try:
            wire_args = _place_args(wire, args, kwargs)
            future = channel.send_runtime_request(call, wire, wire_args)
        except Exception as exc:
            return _raise(exc)
        return _await(future, self._session.view)

    def __getattr__(self, name: str) -> Any:
        wire = name if name in FORWARDED_METHODS else _SNAKE_TO_WIRE.get(name)
        if wire is None:
            raise AttributeError(
                f"the plugin-side runtime has no attribute {name!r}; it forwards the methods of "
                f"protocol.md 11.3 (camelCase or snake_case): {_KNOWN_NAMES}"
            )

        def method(*args: Any, **kwargs: Any) -> Coroutine[Any, Any, Any]:
            return self._forward(wire, args, kwargs)

        method.__name__ = name
        method.__qualname__ = f"RuntimeProxy.{name}"
        return method

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *FORWARDED_METHODS, *_SNAKE_TO_WIRE})

    def __repr__(self) -> str:
        host = "host" if self.has_host else "no host"
        return f"<RuntimeProxy of {self._session.plugin_name} ({host}), agentId={self.agentId!r}>"


async def _raise(exc: BaseException) -> Any:
    raise exc


async def _await(future: asyncio.Future[Any], view: Callable[[Any], Any] | None) -> Any:
    value = await future
    return value if view is None else view(value)


def settle_runtime_answer(
    future: asyncio.Future[Any], method: str, rt_id: str, message: dict[str, Any]
) -> None:
    """Settle ``future`` with the host's answer to runtime request ``rt_id`` (protocol.md 11.2).

    -32601 is :class:`RuntimeUnavailableError`, another error :class:`RuntimeCallError` with the
    host's code; an answer with neither a valid error nor a result is -32603.
    """
    if future.done():  # the handler was cancelled meanwhile
        return
    if "error" in message:
        error = message["error"]
        if not isinstance(error, dict):
            error = {}
        code = error.get("code")
        text = error.get("message")
        data = error.get("data")
        if code == METHOD_NOT_FOUND:
            future.set_exception(RuntimeUnavailableError(method, METHOD_NOT_FOUND, data))
        elif type(code) is int and isinstance(text, str):
            future.set_exception(RuntimeCallError(code, text, data))
        else:
            future.set_exception(
                RuntimeCallError(
                    INTERNAL_ERROR,
                    f"runtime.{method}: the host sent an invalid error object: "
                    f"expected {{code: int, message: str}}, received {message['error']!r:.200}",
                )
            )
    elif "result" in message:
        future.set_result(message["result"])
    else:
        future.set_exception(
            RuntimeCallError(
                INTERNAL_ERROR,
                f"runtime.{method}: the host's answer {rt_id} has neither result nor error",
            )
        )
