"""Plugin authoring API: the elizaOS ``Plugin``/``Action``/``Provider``/``Evaluator`` shapes.

A Python plugin is a module with a ``plugin`` attribute built from these dataclasses; the bridge
server (``python -m elizaos_interop.bridge_server``) serves it to hosts in any language.
Handlers may be plain functions or coroutines:

* action handler ``(runtime, memory, state, options) -> ActionResult dict``
* provider ``get``, evaluator ``handler`` ``(runtime, memory, state) -> result dict`` (evaluators
  may return ``None``)
* ``validate`` ``(runtime, memory, state) -> bool`` (defaults to always ``True``)
* plugin ``init`` ``(config, runtime) -> None`` (optional)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ..wire._protocol import NAME_RE, PROTOCOL_VERSION, SEMVER_RE
from ._runtime_proxy import RuntimeProxy

__all__ = [
    "Action",
    "Evaluator",
    "Plugin",
    "PluginRuntime",
    "Provider",
]

JsonObject: TypeAlias = dict[str, Any]
ActionHandler: TypeAlias = Callable[
    [Any, JsonObject, JsonObject, JsonObject], "Awaitable[Any] | Any"
]
StateHandler: TypeAlias = Callable[[Any, JsonObject, JsonObject], "Awaitable[Any] | Any"]
InitHandler: TypeAlias = Callable[[JsonObject, Any], "Awaitable[None] | None"]

DEFAULT_VERSION = "0.0.0"
"""Version put in the manifest when a :class:`Plugin` does not give one (protocol.md 1: the
same in every language)."""

CAPABILITIES: tuple[str, ...] = ("runtime", "shutdown")
"""What the bridge implements beyond the seed: runtime calls (11) and ``shutdown`` (3.4)."""


def always_valid(runtime: Any, memory: JsonObject, state: JsonObject) -> bool:
    """Default ``validate``: the action or evaluator always applies."""
    return True


def _invalid(owner: str, field_name: str, expected: str, value: Any) -> ValueError:
    """``Action 'greet': handler must be callable, received int``: field, expected, received."""
    received = type(value).__name__ if expected.startswith("callable") else repr(value)
    return ValueError(f"{owner}: {field_name} must be {expected}, received {received}")


def _check_item(owner: str, item: Any, handlers: tuple[str, ...]) -> None:
    """Check the fields an Action, Provider and Evaluator share, naming the first bad one."""
    name = item.name
    if not isinstance(name, str) or not name:
        raise _invalid(owner, "name", "a non-empty string", name)
    where = f"{owner} {name!r}"
    for attr in handlers:
        if not callable(getattr(item, attr)):
            raise _invalid(where, attr, "callable", getattr(item, attr))
    similes = getattr(item, "similes", [])
    if not isinstance(similes, list) or not all(isinstance(s, str) for s in similes):
        raise _invalid(where, "similes", "a list of strings", similes)
    if not isinstance(item.extra, dict):
        raise _invalid(where, "extra", "a dict", item.extra)


def _check_optional(where: str, field_name: str, value: Any, kind: type, expected: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise _invalid(where, field_name, f"{expected} or None", value)


@dataclass(kw_only=True)
class Action:
    """An action: ``handler`` does the work, ``validate`` says whether it applies."""

    name: str
    handler: ActionHandler
    description: str = ""
    validate: StateHandler = always_valid
    similes: list[str] = field(default_factory=list)
    extra: JsonObject = field(default_factory=dict)
    """More descriptor members (``examples``, ``priority`` ...), sent as they are."""

    def __post_init__(self) -> None:
        _check_item("Action", self, ("handler", "validate"))
        if not isinstance(self.description, str):
            raise _invalid(f"Action {self.name!r}", "description", "a string", self.description)

    def descriptor(self) -> JsonObject:
        """The ActionDescriptor for the manifest."""
        out: JsonObject = {**self.extra, "name": self.name, "description": self.description}
        if self.similes:
            out["similes"] = list(self.similes)
        return out


@dataclass(kw_only=True)
class Provider:
    """A provider: ``get`` returns a ProviderResult dict (``text``, ``values``, ``data``)."""

    name: str
    get: StateHandler
    description: str | None = None
    dynamic: bool | None = None
    private: bool | None = None
    extra: JsonObject = field(default_factory=dict)
    """More descriptor members (``position`` ...), sent as they are."""

    def __post_init__(self) -> None:
        _check_item("Provider", self, ("get",))
        where = f"Provider {self.name!r}"
        _check_optional(where, "description", self.description, str, "a string")
        _check_optional(where, "dynamic", self.dynamic, bool, "a boolean")
        _check_optional(where, "private", self.private, bool, "a boolean")

    def descriptor(self) -> JsonObject:
        """The ProviderDescriptor for the manifest."""
        out: JsonObject = {**self.extra, "name": self.name}
        if self.description is not None:
            out["description"] = self.description
        if self.dynamic is not None:
            out["dynamic"] = self.dynamic
        if self.private is not None:
            out["private"] = self.private
        return out


@dataclass(kw_only=True)
class Evaluator:
    """An evaluator: ``handler`` returns an ActionResult dict or ``None``."""

    name: str
    handler: StateHandler
    description: str = ""
    validate: StateHandler = always_valid
    always_run: bool | None = None
    similes: list[str] = field(default_factory=list)
    extra: JsonObject = field(default_factory=dict)
    """More descriptor members (``examples`` ...), sent as they are."""

    def __post_init__(self) -> None:
        _check_item("Evaluator", self, ("handler", "validate"))
        where = f"Evaluator {self.name!r}"
        if not isinstance(self.description, str):
            raise _invalid(where, "description", "a string", self.description)
        _check_optional(where, "always_run", self.always_run, bool, "a boolean")

    def descriptor(self) -> JsonObject:
        """The EvaluatorDescriptor for the manifest."""
        out: JsonObject = {**self.extra, "name": self.name, "description": self.description}
        if self.always_run is not None:
            out["alwaysRun"] = self.always_run
        if self.similes:
            out["similes"] = list(self.similes)
        return out


@dataclass(kw_only=True)
class Plugin:
    """A plugin as served by the bridge. ``version`` defaults to ``"0.0.0"``.

    Construction checks what the manifest schema requires (name, SemVer version, unique and
    non-empty names per kind) and raises ``ValueError`` naming the problem.
    """

    name: str
    description: str = ""
    version: str = DEFAULT_VERSION
    actions: list[Action] = field(default_factory=list)
    providers: list[Provider] = field(default_factory=list)
    evaluators: list[Evaluator] = field(default_factory=list)
    init: InitHandler | None = None
    extra: JsonObject = field(default_factory=dict)
    """More manifest members (``services``, ``config``, ``dependencies`` ...), sent as they are."""
    runtime_view: Callable[[Any], Any] | None = None
    """Wraps what the runtime proxy hands to handlers (the ``character`` snapshot, the results
    of runtime calls) in the shape they expect; by default they get plain JSON values."""
    runtime_components: tuple[list[Any], list[Any], list[Any]] | None = None
    """What ``runtime.actions``, ``runtime.providers`` and ``runtime.evaluators`` list for this
    plugin's handlers (protocol.md 11.3: the served plugin's own components); by default its
    Action/Provider/Evaluator objects. The elizaOS adapter gives the original elizaOS objects."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_RE.match(self.name):
            raise ValueError(
                f"Plugin name {self.name!r} must be 1..214 characters of [a-z0-9._~-], "
                "optionally scoped as @scope/name"
            )
        if not isinstance(self.version, str) or not SEMVER_RE.match(self.version):
            raise ValueError(f"Plugin {self.name}: version {self.version!r} is not SemVer 2.0")
        where = f"Plugin {self.name}"
        if not isinstance(self.description, str):
            raise _invalid(where, "description", "a string", self.description)
        for hook in ("init", "runtime_view"):
            if getattr(self, hook) is not None and not callable(getattr(self, hook)):
                raise _invalid(where, hook, "callable or None", getattr(self, hook))
        if not isinstance(self.extra, dict):
            raise _invalid(where, "extra", "a dict", self.extra)
        kinds: list[tuple[str, list[Any], type]] = [
            ("action", self.actions, Action),
            ("provider", self.providers, Provider),
            ("evaluator", self.evaluators, Evaluator),
        ]
        for kind, items, cls in kinds:
            if not isinstance(items, list):
                raise _invalid(where, f"{kind}s", "a list", items)
            seen: set[str] = set()
            for item in items:
                item_name: Any = getattr(item, "name", None)
                if not isinstance(item, cls):
                    raise ValueError(
                        f"Plugin {self.name}: {kind}s must be {cls.__name__} objects, "
                        f"got {type(item).__name__}"
                    )
                if not isinstance(item_name, str) or not item_name:
                    raise ValueError(f"Plugin {self.name}: a {kind} has an empty name")
                if item_name in seen:
                    raise ValueError(f"Plugin {self.name}: duplicate {kind} name {item_name!r}")
                seen.add(item_name)

    def manifest(self) -> JsonObject:
        """The Manifest (manifest.schema.json) served by ``getManifest``."""
        return {
            **self.extra,
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "language": "python",
            "actions": [a.descriptor() for a in self.actions],
            "providers": [p.descriptor() for p in self.providers],
            "evaluators": [e.descriptor() for e in self.evaluators],
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": list(CAPABILITIES),
        }


PluginRuntime: TypeAlias = RuntimeProxy
"""The ``runtime`` handed to handlers inside the bridge (see :class:`RuntimeProxy`)."""
