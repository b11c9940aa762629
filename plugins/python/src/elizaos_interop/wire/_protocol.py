"""The protocol's vocabulary (docs/protocol.md): version, method names, error codes by name,
the name and version patterns of a manifest, and the JSON type names of ``data.received``."""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = [
    "HANDLER_FAILED",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "INVALID_RESULT",
    "LANGUAGE_RE",
    "MAX_ID",
    "METHODS",
    "METHOD_NOT_FOUND",
    "NAME_RE",
    "NOT_SUPPORTED",
    "PARSE_ERROR",
    "PROTOCOL_VERSION",
    "RUNTIME_PREFIX",
    "SEMVER_RE",
    "UNKNOWN_NAME",
    "item_label",
    "json_type",
    "method_label",
]

PROTOCOL_VERSION: Final = 1
"""The protocol version this package speaks and declares (protocol.md 12)."""

METHODS: Final[tuple[str, ...]] = (
    "getManifest",
    "init",
    "validateAction",
    "invokeAction",
    "getProvider",
    "validateEvaluator",
    "invokeEvaluator",
    "shutdown",
)
"""The methods of protocol.md section 3.3, in table order."""
MAX_ID: Final = 2**53 - 1
"""Largest integer request id (section 3.2)."""
RUNTIME_PREFIX: Final = "runtime."
"""Prefix of a plugin's runtime requests to its host (``runtime.getSetting``, section 11)."""

# Error codes (protocol.md 4), named as in the Rust runtime's ``codes`` module.
PARSE_ERROR: Final = -32700
"""Not JSON / not UTF-8."""
INVALID_REQUEST: Final = -32600
"""Not an object, ``id``/``method`` missing or mistyped, oversize."""
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
"""A bug in the bridge, an allocation failure."""
HANDLER_FAILED: Final = -32000
"""A handler threw, raised, rejected or panicked."""
UNKNOWN_NAME: Final = -32001
"""Unknown action/provider/evaluator name."""
NOT_SUPPORTED: Final = -32002
"""Not supported by this plugin or transport."""
INVALID_RESULT: Final = -32003
"""A handler returned an invalid result."""

NAME_RE: Final = re.compile(r"^(?=.{1,214}$)(?:@[a-z0-9._~-]+/)?[a-z0-9._~-]+$")
"""A plugin name: an npm package name, optionally scoped (``@elizaos/plugin-sql``), section 1."""
SEMVER_RE: Final = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
"""A SemVer 2.0 version (``1.2.3-beta.1+build``)."""
LANGUAGE_RE: Final = re.compile(r"^[a-z][a-z0-9+-]*$")
"""A manifest's ``language``."""


def json_type(value: Any) -> str:
    """The JSON type name of ``value`` as section 3.3's ``data.received`` spells it.

    ``"integer"`` for an integral number, ``"number"`` for any other; a tuple is an array.
    A value that is not JSON gives its Python type name.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def method_label(method: str, params: Any) -> str:
    """``invokeAction("echo")`` when the call's params name an item, else ``method``."""
    return item_label(method, params.get("name")) if isinstance(params, dict) else method


def item_label(method: str, name: Any) -> str:
    """``invokeAction("echo")`` when ``name`` is a string, else ``method``."""
    return f'{method}("{name}")' if isinstance(name, str) else method
