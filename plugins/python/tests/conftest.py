"""Shared helpers for the runtime's tests: paths, JSON Schema validation, process checks."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parents[1]
FIXTURES = PYTHON_DIR / "fixtures"
CONFORMANCE = FIXTURES / "conformance_plugin.py"
MISBEHAVING = FIXTURES / "misbehaving"
SCHEMAS = REPO / "docs" / "schemas"
SRC = PYTHON_DIR / "src"


def _registry() -> Registry:
    resources = []
    for path in SCHEMAS.rglob("*.schema.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


REGISTRY = _registry()


def schema_errors(schema_file: str, value: Any) -> list[str]:
    """Every violation of ``docs/schemas/<schema_file>`` by ``value`` (empty list: valid)."""
    schema = json.loads((SCHEMAS / schema_file).read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema, registry=REGISTRY)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(value)]


def result_errors(method: str, value: Any) -> list[str]:
    """Violations of the result schema of ``method`` (results.schema.json ``$defs``)."""
    schema = {"$ref": f"https://elizaos.ai/interop/schemas/results.schema.json#/$defs/{method}"}
    validator = Draft202012Validator(schema, registry=REGISTRY)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(value)]


def conformance_manifest() -> dict[str, Any]:
    """docs/vectors/conformance-manifest.json with ``language`` python."""
    data: dict[str, Any] = json.loads(
        (REPO / "docs" / "vectors" / "conformance-manifest.json").read_text(encoding="utf-8")
    )
    data["language"] = "python"
    return data


def sdk_conformance_manifest() -> dict[str, Any]:
    """The manifest the Python SDK's bridge serves for the fixture: the vector plus the SDK's
    half of the version exchange (protocol.md 1 and 12)."""
    return {**conformance_manifest(), "protocolVersion": 1, "capabilities": ["runtime", "shutdown"]}


def pid_gone(pid: int, within: float = 5.0) -> bool:
    """True once ``pid`` no longer exists (reaped, not a zombie), polling up to ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def bridge_env() -> dict[str, str]:
    """Environment for a child bridge: this source tree first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + (os.pathsep + env["PYTHONPATH"] if "PYTHONPATH" in env else "")
    return env


@pytest.fixture
def memory() -> dict[str, Any]:
    return {"content": {"text": "hello"}}
