"""The JSON Schemas of docs/schemas, loaded once into a registry so every ``$ref`` resolves.

:func:`validate` returns a list of human-readable problems (empty when valid), each naming the
JSON path inside the instance, what the schema expected, and the value received.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from testkit._toolchains import find_repo_root

__all__ = ["SCHEMA_BASE", "SchemaSet", "schemas"]

SCHEMA_BASE = "https://elizaos.ai/interop/schemas/"


class SchemaSet:
    """All schemas of one ``docs/schemas`` directory with a shared registry."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        resources: list[tuple[str, Resource[Any]]] = []
        self._by_name: dict[str, dict[str, Any]] = {}
        for path in sorted(directory.rglob("*.schema.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            rel = path.relative_to(directory).as_posix()
            uri = document.get("$id", SCHEMA_BASE + rel)
            resources.append((uri, Resource.from_contents(document)))
            self._by_name[rel] = document
        if not self._by_name:
            raise FileNotFoundError(f"no *.schema.json files under {directory}")
        self.registry: Registry[Any] = Registry().with_resources(resources)
        self._validators: dict[str, Draft202012Validator] = {}

    def names(self) -> list[str]:
        """Schema file names relative to the directory, e.g. ``params/init.schema.json``."""
        return sorted(self._by_name)

    def validator(self, name: str) -> Draft202012Validator:
        """Validator for a schema by file name, or for a method result as ``results#<method>``."""
        if name not in self._validators:
            if name.startswith("results#"):
                schema: dict[str, Any] = {"$ref": f"{SCHEMA_BASE}results.schema.json#/$defs/{name[8:]}"}
            else:
                if name not in self._by_name:
                    raise KeyError(f"no schema {name!r} in {self.directory}; have {self.names()}")
                schema = self._by_name[name]
            self._validators[name] = Draft202012Validator(schema, registry=self.registry)
        return self._validators[name]

    def validate(self, name: str, instance: Any) -> list[str]:
        """Problems of ``instance`` against schema ``name`` (empty list: valid)."""
        problems: list[str] = []
        for error in sorted(self.validator(name).iter_errors(instance), key=lambda e: list(e.path)):
            where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            problems.append(f"{where}: {error.message[:300]} (schema rule {error.validator!s})")
        return problems

    def validate_result(self, method: str, value: Any) -> list[str]:
        """Problems of a method's result value (results.schema.json)."""
        return self.validate(f"results#{method}", value)


@functools.cache
def schemas(directory: Path | None = None) -> SchemaSet:
    """The repository's schemas (cached)."""
    return SchemaSet(directory or find_repo_root() / "docs" / "schemas")
