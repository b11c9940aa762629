"""Serve published elizaOS Python plugins as they are (the PyPI package ``elizaos``).

An elizaOS plugin object (``elizaos.types.Plugin``, a pydantic model, with ``Action``/``Provider``/
``Evaluator`` definitions whose handlers take protobuf ``Memory``/``State`` messages and return
protobuf ``ActionResult``/``ProviderResult``) becomes an :class:`elizaos_interop.Plugin` whose
handlers take and return JSON data:

* Memory, State and options dicts are turned into the message types the handlers expect (unknown
  members of a message that has an ``extra`` Struct go there), results back into JSON; protobuf
  ``Struct`` numbers are doubles, so integral values come back as integers;
* the handler's ``callback`` collects each content's ``text`` into the result's ``text`` when the
  result has none;
* the runtime proxy is passed as ``runtime`` (snake_case methods, ``agent_id``, and ``character``
  as a :class:`JsonView`: the snapshot read as attributes, ``character.bio`` a real list);
* ``services``/``events``/``routes``/``models`` are reported in the manifest as names
  (protocol.md 1), ``version`` comes from the distribution's metadata when the object has none.

Detection is by duck typing (an object with a ``name`` and lists of actions, providers or
evaluators); ``elizaos`` itself is imported only when the plugin object comes from it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from ..wire._protocol import SEMVER_RE
from ._plugin import DEFAULT_VERSION, Action, Evaluator, Plugin, Provider
from ._runtime_proxy import camel_case, proto_to_data, to_json_data

__all__ = ["adapt_plugin", "is_plugin_like", "pep440_to_semver"]

JsonObject = dict[str, Any]

_NAME_CHARS = re.compile(r"[^a-z0-9._~-]+")
_PEP440 = re.compile(
    r"^v?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre>a|b|rc|alpha|beta|c|pre|preview)[-_.]?(?P<pre_n>\d*))?"
    r"(?:[-_.]?(?:post|rev|r)[-_.]?(?P<post>\d*))?"
    r"(?:[-_.]?dev[-_.]?(?P<dev>\d*))?"
    r"(?:\+(?P<local>[a-z0-9.]+))?$",
    re.IGNORECASE,
)
_PRE_NAMES = {"a": "alpha", "alpha": "alpha", "b": "beta", "beta": "beta"}


def pep440_to_semver(version: str) -> str | None:
    """``2.0.0a5`` -> ``2.0.0-alpha.5``; ``1.2`` -> ``1.2.0``; ``None`` when it is not PEP 440.

    A version that already is SemVer 2.0 is returned as it is.
    """
    if SEMVER_RE.match(version):
        return version
    match = _PEP440.match(version.strip())
    if match is None:
        return None
    parts = [str(int(p)) for p in match["release"].split(".")]
    parts = [*parts, "0", "0"][:3]
    out = ".".join(parts)
    pre: list[str] = []
    if match["pre"]:
        pre += [_PRE_NAMES.get(match["pre"].lower(), "rc"), str(int(match["pre_n"] or 0))]
    if match["dev"] is not None:
        pre += ["dev", str(int(match["dev"] or 0))]
    if pre:
        out += "-" + ".".join(pre)
    build: list[str] = []
    if match["post"] is not None:
        build += ["post", str(int(match["post"] or 0))]
    if match["local"]:
        build += match["local"].split(".")
    if build:
        out += "+" + ".".join(build)
    return out


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` or ``obj[name]`` (elizaOS definitions are objects or dicts)."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def is_plugin_like(obj: Any) -> bool:
    """Whether ``obj`` looks like an elizaOS plugin object: a ``name`` and component lists."""
    if isinstance(obj, (Plugin, type)):
        return False
    name = _get(obj, "name")
    if not isinstance(name, str) or not name:
        return False
    return any(
        isinstance(_get(obj, kind), (list, tuple))
        for kind in ("actions", "providers", "evaluators", "services")
    )


# -- value conversion -------------------------------------------------------------------------


class JsonView(dict[str, Any]):
    """A JSON object that also reads as attributes, the way elizaOS handlers read their data.

    ``view.message_examples`` reads ``messageExamples`` (or ``message_examples``); lists stay
    lists (``isinstance(character.bio, list)`` holds, unlike a protobuf repeated field); an
    absent member reads as ``None``, like an unset optional field of a pydantic model. Names
    starting with ``_`` or ``model_`` are never members, so duck typing (``hasattr(v,
    "model_dump")``) sees a plain mapping.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith(("_", "model_")):
            raise AttributeError(name)
        for key in (name, camel_case(name)):
            if key in self:
                return _viewed(self[key])
        return None


def _viewed(value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, JsonView):
        return JsonView(value)
    if isinstance(value, list):
        return [_viewed(v) for v in value]
    return value


class ElizaRuntimeView:
    """The runtime proxy as an ``elizaos`` handler sees it.

    Everything is the proxy's, plus the elizaos runtime's pure helpers, computed here with the
    package's own functions since they need nothing from the host: ``compose_prompt`` /
    ``compose_prompt_from_state`` (a template filled from a state) and ``get_current_time_ms``.
    """

    __slots__ = ("_proxy",)

    def __init__(self, proxy: Any) -> None:
        self._proxy = proxy

    def compose_prompt_from_state(self, *, state: Any, template: Any) -> str:
        """elizaos ``compose_prompt_from_state``, run in the plugin's process."""
        utils: Any = importlib.import_module("elizaos.utils")
        return str(utils.compose_prompt_from_state(state=state, template=template))

    compose_prompt = compose_prompt_from_state

    def get_current_time_ms(self) -> int:
        """Milliseconds since the epoch, as the elizaos runtime answers it."""
        return int(time.time() * 1000)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._proxy, name)

    def __repr__(self) -> str:
        return f"<ElizaRuntimeView of {self._proxy!r}>"


def _is_message(value: Any) -> bool:
    return hasattr(value, "DESCRIPTOR") and hasattr(value, "ListFields")


class _Protobuf:
    """Conversions between JSON data and the ``elizaos`` protobuf types, loaded on first use."""

    def __init__(self) -> None:
        self.json_format: Any = importlib.import_module("google.protobuf.json_format")
        types_mod: Any = importlib.import_module("elizaos.types")
        self.Memory: Any = types_mod.Memory
        self.State: Any = types_mod.State
        self.HandlerOptions: Any = types_mod.HandlerOptions

    def _restructure(self, data: JsonObject, descriptor: Any) -> JsonObject:
        """Members of ``data`` that the message does not know go into its ``extra`` Struct."""
        fields: dict[str, Any] = {}
        for f in descriptor.fields:
            fields[f.name] = f
            fields[f.json_name] = f
        known: JsonObject = {}
        unknown: JsonObject = {}
        for key, value in data.items():
            if value is None:
                continue
            f = fields.get(key)
            if f is None:
                unknown[key] = value
                continue
            sub = f.message_type
            is_map = sub is not None and sub.GetOptions().map_entry
            if (
                sub is not None
                and not is_map
                and isinstance(value, dict)
                and sub.full_name != "google.protobuf.Struct"
            ):
                value = self._restructure(value, sub)
            known[key] = value
        extra = descriptor.fields_by_name.get("extra")
        if unknown and extra is not None and "extra" not in known:
            known["extra"] = unknown
        return known

    def to_message(self, data: JsonObject, cls: Any, what: str) -> Any:
        """``data`` as a ``cls`` message; members that do not fit are dropped, not fatal."""
        data = self._restructure(data, cls.DESCRIPTOR)
        message = cls()
        try:
            self.json_format.ParseDict(data, message, ignore_unknown_fields=True)
            return message
        except self.json_format.ParseError:
            pass
        message = cls()
        for key, value in data.items():  # member by member, keeping what fits
            part = cls()
            try:
                self.json_format.ParseDict({key: value}, part, ignore_unknown_fields=True)
            except self.json_format.ParseError as exc:
                print(
                    f"elizaos_interop: {what}.{key} does not fit {cls.DESCRIPTOR.full_name} "
                    f"and is left out: {exc}",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            message.MergeFrom(part)
        return message

    def from_message(self, message: Any) -> JsonObject:
        data: JsonObject = proto_to_data(message)
        return data


_PROTOBUF: _Protobuf | None = None


def _protobuf() -> _Protobuf:
    global _PROTOBUF
    if _PROTOBUF is None:
        _PROTOBUF = _Protobuf()
    return _PROTOBUF


def _result_data(value: Any) -> Any:
    """A handler's result as JSON data (protobuf and pydantic results included)."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_result_data(v) for v in value]
    if _is_message(value):
        data = _protobuf().from_message(value)
        fields = value.DESCRIPTOR.fields_by_name
        if "success" in fields:  # proto3 leaves false out; an ActionResult always says it
            data["success"] = bool(value.success)
        return data
    if isinstance(value, dict):
        return {k: _result_data(v) for k, v in value.items()}
    return to_json_data(value)


def _content_text(content: Any) -> str | None:
    text = _get(content, "text")
    return text if isinstance(text, str) and text else None


def _positional_arity(fn: Callable[..., Any]) -> int:
    """How many positional arguments ``fn`` takes (a large number for ``*args``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 6
    count = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return 6
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


async def _settle(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class _Adapter:
    """Wraps one elizaOS plugin object's functions into JSON-in, JSON-out handlers."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        root = type(obj).__module__.split(".")[0]
        self.protobuf = root == "elizaos"  # the elizaos package's types: protobuf messages

    # JSON -> the handler's types
    def memory(self, memory: JsonObject) -> Any:
        if not self.protobuf:
            return memory
        pb = _protobuf()
        return pb.to_message(memory, pb.Memory, "memory")

    def state(self, state: JsonObject) -> Any:
        if not self.protobuf:
            return state
        pb = _protobuf()
        return pb.to_message(state, pb.State, "state")

    def options(self, options: JsonObject) -> Any:
        if not self.protobuf:
            return options
        pb = _protobuf()
        return pb.to_message(options, pb.HandlerOptions, "options")

    def runtime(self, proxy: Any) -> Any:
        return ElizaRuntimeView(proxy) if self.protobuf else proxy

    # the wrapped functions
    def validate(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        async def validate(runtime: Any, memory: JsonObject, state: JsonObject) -> bool:
            value = await _settle(fn(self.runtime(runtime), self.memory(memory), self.state(state)))
            return bool(value)

        return validate

    def action(self, fn: Callable[..., Any], *, evaluator: bool) -> Callable[..., Any]:
        arity = _positional_arity(fn)

        async def handler(
            runtime: Any, memory: JsonObject, state: JsonObject, options: JsonObject | None = None
        ) -> Any:
            texts: list[str] = []

            async def callback(content: Any, *_: Any, **__: Any) -> list[Any]:
                text = _content_text(content)
                if text is not None:
                    texts.append(text)
                return []

            args = [
                self.runtime(runtime),
                self.memory(memory),
                self.state(state),
                self.options(options or {}),
            ]
            args += [callback, None]
            value = _result_data(await _settle(fn(*args[: min(arity, 6)])))
            if value is None:
                # elizaOS treats an action that returns nothing as done; an evaluator as silent
                if evaluator and not texts:
                    return None
                value = {"success": True}
            if isinstance(value, dict) and texts and "text" not in value:
                value["text"] = "\n".join(texts)
            return value

        return handler

    def provider(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        async def get(runtime: Any, memory: JsonObject, state: JsonObject) -> Any:
            value = _result_data(
                await _settle(fn(self.runtime(runtime), self.memory(memory), self.state(state)))
            )
            return {} if value is None else value

        return get

    def init(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        async def init(config: JsonObject, runtime: Any) -> None:
            await _settle(fn(config, self.runtime(runtime)))

        return init


def _always(runtime: Any, memory: Any, state: Any) -> bool:
    return True


def _plain(value: Any) -> Any:
    """JSON data for a descriptor member, or ``None`` when it is empty or not data."""
    if value is None or (callable(value) and not _is_message(value)):
        return None
    data = _result_data(value)
    if data in ([], {}, ""):
        return None
    return data


def _names(values: Any, name_of: Callable[[Any], str | None]) -> list[str]:
    out: list[str] = []
    for value in values or []:
        name = name_of(value)
        if name:
            out.append(name)
    return out


def _service_name(service: Any) -> str | None:
    kind = getattr(service, "service_type", None) or getattr(service, "serviceType", None)
    if kind is not None:
        value = getattr(kind, "value", kind)
        if isinstance(value, str) and value and value != "unknown":
            return value
    return getattr(service, "__name__", None) or type(service).__name__


def _route_name(route: Any) -> str | None:
    method = _get(route, "type") or _get(route, "method") or "GET"
    path = _get(route, "path")
    return f"{getattr(method, 'value', method)} {path}" if path else None


def _model_name(model: Any) -> str:
    return str(getattr(model, "value", model))


def _distribution_version(module_name: str | None) -> str | None:
    """The installed distribution's version for the top-level package of ``module_name``."""
    if not module_name:
        return None
    top = module_name.split(".")[0]
    try:
        dists = importlib.metadata.packages_distributions().get(top, [])
    except Exception:
        dists = []
    for dist in dists or [top]:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _plugin_name(name: str) -> str:
    """An elizaOS name as an npm package name (protocol.md 1): lower case, invalid runs as '-'."""
    scope = ""
    if name.startswith("@") and "/" in name:
        scope, name = name.split("/", 1)
        scope = "@" + _NAME_CHARS.sub("-", scope[1:].lower()).strip("-") + "/"
    return scope + (_NAME_CHARS.sub("-", name.lower()).strip("-") or "plugin")


def adapt_plugin(obj: Any, module_name: str | None = None) -> Plugin:
    """An :class:`elizaos_interop.Plugin` serving the elizaOS plugin object ``obj``.

    ``module_name`` (the module the object was found in) gives the distribution whose version
    is used when ``obj`` has none. Raises ``ValueError`` when ``obj`` is not plugin-like.
    """
    if not is_plugin_like(obj):
        raise ValueError(
            f"{type(obj).__name__} is not an elizaOS plugin object "
            "(expected a name and lists of actions, providers or evaluators)"
        )
    adapter = _Adapter(obj)
    version = _get(obj, "version")
    if not isinstance(version, str) or not version:
        version = _distribution_version(module_name or type(obj).__module__)
    semver = pep440_to_semver(version) if isinstance(version, str) else None
    init = _get(obj, "init")
    return Plugin(
        name=_plugin_name(str(_get(obj, "name"))),
        description=str(_get(obj, "description") or ""),
        version=semver or DEFAULT_VERSION,
        actions=[_adapt_action(adapter, a) for a in _get(obj, "actions") or []],
        providers=[_adapt_provider(adapter, p) for p in _get(obj, "providers") or []],
        evaluators=[_adapt_evaluator(adapter, e) for e in _get(obj, "evaluators") or []],
        init=adapter.init(init) if callable(init) else None,
        extra=_manifest_members(obj),
        runtime_view=_viewed,
        runtime_components=(
            list(_get(obj, "actions") or []),
            list(_get(obj, "providers") or []),
            list(_get(obj, "evaluators") or []),
        ),
    )


def _adapt_action(adapter: _Adapter, a: Any) -> Action:
    extra = {
        k: v
        for k, v in (
            ("examples", _plain(_get(a, "examples"))),
            ("priority", _plain(_get(a, "priority"))),
            ("tags", _plain(_get(a, "tags"))),
            ("parameters", _plain(_get(a, "parameters"))),
        )
        if v is not None
    }
    validate = _get(a, "validate")
    return Action(
        name=str(_get(a, "name")),
        description=str(_get(a, "description") or ""),
        handler=adapter.action(_get(a, "handler"), evaluator=False),
        validate=adapter.validate(validate) if callable(validate) else _always,
        similes=[str(s) for s in _get(a, "similes") or []],
        extra=extra,
    )


def _adapt_provider(adapter: _Adapter, p: Any) -> Provider:
    position = _get(p, "position")
    return Provider(
        name=str(_get(p, "name")),
        description=_get(p, "description"),
        get=adapter.provider(_get(p, "get")),
        dynamic=_get(p, "dynamic"),
        private=_get(p, "private"),
        extra={"position": position} if isinstance(position, (int, float)) else {},
    )


def _adapt_evaluator(adapter: _Adapter, e: Any) -> Evaluator:
    examples = _plain(_get(e, "examples"))
    validate = _get(e, "validate")
    return Evaluator(
        name=str(_get(e, "name")),
        description=str(_get(e, "description") or ""),
        handler=adapter.action(_get(e, "handler"), evaluator=True),
        validate=adapter.validate(validate) if callable(validate) else _always,
        always_run=_get(e, "always_run", _get(e, "alwaysRun")),
        similes=[str(s) for s in _get(e, "similes") or []],
        extra={"examples": examples} if examples is not None else {},
    )


def _manifest_members(obj: Any) -> JsonObject:
    """``services``, ``events``, ``routes``, ``models`` as names; ``config`` ... as data."""
    members: JsonObject = {}
    for key, values, name_of in (
        ("services", _get(obj, "services"), _service_name),
        ("events", list((_get(obj, "events") or {}).keys()), str),
        ("routes", _get(obj, "routes"), _route_name),
        ("models", list((_get(obj, "models") or {}).keys()), _model_name),
    ):
        names = _names(values, name_of)
        if names:
            members[key] = names
    for key in ("config", "dependencies", "priority"):
        value = _plain(_get(obj, key))
        if value is not None:
            members[key] = value
    return members
