"""Third-party plugins of a matrix (``[plugin.<name>]`` tables): how to start or build them, and
their expectation files (calls and outcomes as data).

A third-party plugin is software not built with our SDKs: the seed-text fixtures in
``testkit/fixtures/seed/`` and the published elizaOS packages. Its command or library path is a
template resolved against :class:`~testkit._toolchains.Toolchains`; a library with a ``build``
argv is (re)built on demand, and a missing compiler or file is a :class:`ToolchainError` naming
what is missing and how to get it, never a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit._drivers import PluginSpec, World
from testkit._matrix import Cell, ThirdPartyPlugin
from testkit._toolchains import Requirement, ToolchainError, Toolchains

__all__ = [
    "Expectations",
    "ExpectedCall",
    "build_library",
    "load_expectations",
    "load_world",
    "plugin_spec",
    "requirements",
    "resolve",
]

#: Methods an expectation file may call (protocol.md 3.3, without shutdown).
_METHODS = frozenset(
    {
        "getManifest",
        "init",
        "validateAction",
        "invokeAction",
        "getProvider",
        "validateEvaluator",
        "invokeEvaluator",
    }
)
_EXPECT_KEYS = frozenset({"value", "subset", "ok", "error"})


def _placeholders(toolchains: Toolchains, runtime: str | None) -> dict[str, str]:
    return {
        "repo": str(toolchains.repo_root),
        "python": str(toolchains.python),
        "node": str(toolchains.node),
        "bun": str(toolchains.bun),
        "runtime": str(toolchains.ts_runtime(runtime)),
        "ts_bridge": str(toolchains.ts_bridge),
        "rust_target": str(toolchains.rust_target_dir),
    }


def resolve(template: str, toolchains: Toolchains, runtime: str | None = None, **extra: str) -> str:
    """A command word or path with its ``{placeholders}`` replaced (unknown ones are an error)."""
    values = _placeholders(toolchains, runtime) | extra
    try:
        return template.format_map(values)
    except (KeyError, ValueError) as exc:
        raise ToolchainError(
            f"cannot resolve {template!r}: unknown placeholder {exc}; known: {sorted(values)}"
        ) from exc


def _library_path(plugin: ThirdPartyPlugin, toolchains: Toolchains) -> Path:
    assert plugin.path is not None
    return Path(resolve(plugin.path, toolchains))


def requirements(cell: Cell, toolchains: Toolchains) -> list[Requirement]:
    """What loading a third-party cell's plugin needs (its command's program and files, its library
    or the compiler that builds it, its expectation file)."""
    plugin = cell.third_party
    if plugin is None:
        raise ValueError(f"{cell.id} serves one of our fixtures, not a third-party plugin")
    reqs: list[Requirement] = []
    expect = toolchains.repo_root / plugin.expect
    reqs.append(Requirement(f"the expectations of {plugin.name}", str(expect), expect.is_file(), "source"))
    if plugin.command is not None:
        argv = [resolve(word, toolchains, cell.plugin_runtime) for word in plugin.command]
        program = Path(argv[0]) if os.sep in argv[0] else Path(shutil.which(argv[0]) or argv[0])
        reqs.append(
            Requirement(
                f"the program serving {plugin.name}",
                str(program),
                program.is_file() and os.access(program, os.X_OK),
                "see the [plugin] table of the matrix",
            )
        )
        for word in argv[1:]:
            if word.startswith(str(toolchains.repo_root)):
                reqs.append(
                    Requirement(
                        f"a file {plugin.name} is served from",
                        word,
                        Path(word).exists(),
                        "nox -s elizaos installs the published packages"
                        if plugin.suite == "elizaos"
                        else "source",
                    )
                )
    else:
        library = _library_path(plugin, toolchains)
        if plugin.build is not None:  # (re)built on demand: what counts is the compiler
            compiler = resolve(plugin.build[0], toolchains)
            found = shutil.which(compiler)
            reqs.append(
                Requirement(
                    f"{compiler} to build {plugin.name}",
                    found or compiler,
                    found is not None,
                    "apt-get install -y gcc (any C compiler named cc)",
                )
            )
        else:
            reqs.append(Requirement(f"the {plugin.name} library", str(library), library.is_file(), "build"))
    return reqs


def build_library(plugin: ThirdPartyPlugin, toolchains: Toolchains) -> Path:
    """The plugin's library, built with its ``build`` argv when missing or older than a source."""
    library = _library_path(plugin, toolchains)
    if plugin.build is None:
        if not library.is_file():
            raise ToolchainError(f"the {plugin.name} library is missing: expected at {library}")
        return library
    sources = [toolchains.repo_root / s for s in plugin.sources]
    for source in sources:
        if not source.is_file():
            raise ToolchainError(f"{plugin.name}: source {source} is missing")
    if library.is_file() and all(s.stat().st_mtime <= library.stat().st_mtime for s in sources):
        return library
    argv = [resolve(word, toolchains, path=str(library)) for word in plugin.build]
    if shutil.which(argv[0]) is None:
        raise ToolchainError(
            f"{argv[0]} is missing: it builds {plugin.name} ({' '.join(argv)}); "
            "install a C compiler (apt-get install -y gcc)"
        )
    library.parent.mkdir(parents=True, exist_ok=True)
    tmp = library.with_name(f".{library.name}.{os.getpid()}.tmp")  # xdist workers may build at once
    argv = [str(tmp) if word == str(library) else word for word in argv]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise ToolchainError(
            f"building {plugin.name} failed (status {done.returncode}): {' '.join(argv)}\n"
            + done.stderr[-2000:]
        )
    tmp.replace(library)
    return library


def plugin_spec(cell: Cell, toolchains: Toolchains) -> PluginSpec:
    """How the cell's host loads its third-party plugin: an IPC argv, or an FFI library path."""
    plugin = cell.third_party
    if plugin is None:
        raise ValueError(f"{cell.id} serves one of our fixtures, not a third-party plugin")
    if plugin.command is not None:
        for req in requirements(cell, toolchains):
            if not req.present:
                raise req.error()
        argv = tuple(resolve(word, toolchains, cell.plugin_runtime) for word in plugin.command)
        return PluginSpec(transport="ipc", language=plugin.language, command=argv)
    return PluginSpec(transport="ffi", language=plugin.language, path=str(build_library(plugin, toolchains)))


@dataclass(frozen=True)
class ExpectedCall:
    """One call of an expectation file and the outcome it must have.

    ``expect`` has one of: ``value`` (the exact result, section 2 equality), ``subset`` (every
    member given is present and equal, recursively), ``ok: true`` (any result), ``error`` (an
    object with optional ``type``, ``code`` and ``message``, a substring of the error's message).
    ``world`` true runs the call with the matrix's World as the in-memory runtime.
    """

    id: str
    method: str
    params: dict[str, Any]
    expect: dict[str, Any]
    world: bool = False
    why: str = ""


@dataclass(frozen=True)
class Expectations:
    """An expectation file: the manifest members that must be there, the calls, and optionally
    the World its ``world`` calls run with (else the one of the matrix's plugin table)."""

    path: Path
    manifest: dict[str, Any]
    calls: tuple[ExpectedCall, ...]
    world: World | None = None


def _fail(path: Path, where: str, expected: str, received: Any) -> ToolchainError:
    return ToolchainError(f"{path}: {where}: expected {expected}, received {json.dumps(received)[:200]}")


def load_expectations(path: Path) -> Expectations:
    """Read and check an expectation file (format in testkit/README.md)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ToolchainError(f"cannot read the expectation file {path}: {exc}") from exc
    if isinstance(data, list):  # a bare list of calls
        data = {"calls": data}
    if not isinstance(data, dict) or not isinstance(data.get("calls"), list):
        raise _fail(path, "top level", 'an object with "calls": [...], or a list of calls', data)
    world = data.get("world")
    if world is not None and not isinstance(world, dict):
        raise _fail(path, "world", "a World object (docs/schemas/runtime-world.schema.json)", world)
    manifest = data.get("manifest", {})
    if not isinstance(manifest, dict):
        raise _fail(path, "manifest", "an object (members the manifest must have)", manifest)
    calls: list[ExpectedCall] = []
    seen: set[str] = set()
    for index, raw in enumerate(data["calls"]):
        where = f"calls[{index}]"
        if not isinstance(raw, dict):
            raise _fail(path, where, "an object", raw)
        method = raw.get("method")
        if method not in _METHODS:
            raise _fail(path, f"{where}.method", f"one of {sorted(_METHODS)}", method)
        params = raw.get("params", {})
        if not isinstance(params, dict):
            raise _fail(path, f"{where}.params", "an object", params)
        expect = raw.get("expect")
        if not isinstance(expect, dict) or len(set(expect) & _EXPECT_KEYS) != 1:
            raise _fail(path, f"{where}.expect", f"an object with one of {sorted(_EXPECT_KEYS)}", expect)
        if "error" in expect and not isinstance(expect["error"], dict):
            raise _fail(path, f"{where}.expect.error", "an object with optional type, code, message", expect)
        name = params.get("name")
        call_id = str(raw.get("id") or (f"{method}({name})" if isinstance(name, str) else method))
        if call_id in seen:
            call_id = f"{call_id}#{index}"
        seen.add(call_id)
        calls.append(
            ExpectedCall(
                id=call_id,
                method=str(method),
                params=params,
                expect=expect,
                world=bool(raw.get("world", False)),
                why=str(raw.get("why", "")),
            )
        )
    return Expectations(path, manifest, tuple(calls), world)


def load_world(reference: str, repo_root: Path) -> World:
    """A World from ``file.json`` or ``file.json#member`` (repo-relative)."""
    file, _, member = reference.partition("#")
    path = repo_root / file
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ToolchainError(f"cannot read the World {path}: {exc}") from exc
    if member:
        if not isinstance(data, Mapping) or member not in data:
            raise ToolchainError(f"{path} has no member {member!r} to use as the World")
        data = data[member]
    if not isinstance(data, dict):
        raise ToolchainError(f"the World {reference} is not a JSON object")
    return data
