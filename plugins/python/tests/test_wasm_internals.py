"""The WASM host on a wasmtime whose private internals changed: the public-API call path.

The raw call path uses private parts of wasmtime-py (``FAST_PATH_INTERNALS``). When one is
missing, the transport says exactly which (``fast_path_missing``) and calls through wasmtime's
public API instead; a broken wasmtime import is not reported as "not installed".
"""

from __future__ import annotations

import asyncio
import os
import types
from pathlib import Path
from typing import Any

import pytest

wasmtime = pytest.importorskip("wasmtime")

from elizaos_interop import (  # noqa: E402
    LoadedPlugin,
    PluginCallError,
    PluginLoadError,
    load_wasm_plugin,
)
from elizaos_interop.host import _wasm  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
INSTANCE_INTERNALS = ("wasmtime.Memory._memory", "wasmtime.Func._func")


@pytest.fixture
def wasm_file() -> Path:
    base = Path(os.environ.get("ELIZAOS_RUST_TARGET_DIR", REPO / "plugins" / "rust" / "target"))
    path = base / "wasm32-unknown-unknown" / "release" / "elizaos_plugin_conformance.wasm"
    if not path.is_file():
        pytest.fail(f"missing {path}; build it with: plugins/rust/build-wasm.sh", pytrace=False)
    return path


def fake_wasmtime(owner: str, attr: str) -> Any:
    """A stand-in for the wasmtime module in which only ``owner.attr`` is missing."""
    namespace: dict[str, Any] = {}
    for own, name in _wasm.FAST_PATH_INTERNALS:
        holder = namespace.setdefault(own, types.SimpleNamespace())
        if (own, name) != (owner, attr):
            setattr(holder, name, object())
    return types.SimpleNamespace(__name__="fake_wasmtime", **namespace)


@pytest.mark.parametrize(("owner", "attr"), _wasm.FAST_PATH_INTERNALS)
def test_missing_internals_names_exactly_the_one_missing(owner: str, attr: str) -> None:
    assert _wasm.missing_internals(fake_wasmtime(owner, attr)) == [f"wasmtime.{owner}.{attr}"]


def test_an_intact_wasmtime_has_every_internal() -> None:
    assert _wasm.missing_internals(wasmtime) == []


def exercise(loaded: LoadedPlugin) -> None:
    """Calls, a trap and the recovery after it, as on the raw path."""
    echo = {"name": "echo", "memory": {"content": {"text": "héllo 🌍"}}}
    assert loaded.transport.call_sync("invokeAction", echo)["text"] == "héllo 🌍"
    assert loaded.transport.call_sync("validateAction", echo) is True
    with pytest.raises(PluginCallError) as info:
        loaded.transport.call_sync("invokeAction", {**echo, "name": "nope"})
    assert info.value.code == -32001
    with pytest.raises(PluginCallError) as trap:
        asyncio.run(loaded.invoke_action("large", {"content": {}}, None, {"size": 32_000_000}))
    assert trap.value.code == -32000
    assert loaded.transport.call_sync("invokeAction", echo)["text"] == "héllo 🌍"


@pytest.mark.parametrize(
    "name", [f"wasmtime.{o}.{a}" for o, a in _wasm.FAST_PATH_INTERNALS] + list(INSTANCE_INTERNALS)
)
def test_a_missing_internal_falls_back_to_the_public_api(
    monkeypatch: pytest.MonkeyPatch, wasm_file: Path, name: str
) -> None:
    if name in INSTANCE_INTERNALS:
        owner, attr = name.split(".")[1:]
        real = wasmtime.Instance.exports

        def exports(self: Any, store: Any) -> Any:
            found = real(self, store)
            for item in (found["memory"], found["alloc"]):
                if type(item).__name__ == owner:
                    # wasmtime itself still needs the attribute: hide it from hasattr only
                    monkeypatch.setattr(
                        _wasm,
                        "hasattr",
                        lambda obj, a: a != attr and hasattr(obj, a),
                        raising=False,
                    )
            return found

        monkeypatch.setattr(wasmtime.Instance, "exports", exports)
    else:
        monkeypatch.setattr(_wasm, "missing_internals", lambda module: [name])
    loaded = load_wasm_plugin(wasm_file, memory_limit=16 * 1024 * 1024)
    try:
        assert loaded.transport.fast_path_missing == [name]  # type: ignore[attr-defined]
        exercise(loaded)
    finally:
        loaded.close()


def test_a_time_out_on_the_public_api_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from test_wasm_loader import MEMORY, build, plugin_wat

    from elizaos_interop import PluginTimeoutError

    monkeypatch.setattr(_wasm, "missing_internals", lambda module: ["wasmtime.Store._context"])
    loaded = load_wasm_plugin(build(tmp_path, plugin_wat()), default_timeout=0.1)
    try:
        with pytest.raises(PluginTimeoutError):
            asyncio.run(loaded.invoke_action("loop", MEMORY))
        assert asyncio.run(loaded.invoke_action("ok", MEMORY)) is not None
    finally:
        loaded.close()


def test_a_really_deleted_call_function_falls_back(
    monkeypatch: pytest.MonkeyPatch, wasm_file: Path
) -> None:
    # wasmtime's public API does not use this one, so deleting it simulates a rename faithfully
    monkeypatch.delattr(wasmtime._bindings, "_wasmtime_func_call_unchecked")
    loaded = load_wasm_plugin(wasm_file, memory_limit=16 * 1024 * 1024)
    try:
        assert loaded.transport.fast_path_missing == [  # type: ignore[attr-defined]
            "wasmtime._bindings._wasmtime_func_call_unchecked"
        ]
        exercise(loaded)
    finally:
        loaded.close()


def test_the_intact_wasmtime_takes_the_raw_path(wasm_file: Path) -> None:
    loaded = load_wasm_plugin(wasm_file)
    try:
        assert loaded.transport.fast_path_missing == []  # type: ignore[attr-defined]
    finally:
        loaded.close()


def test_a_broken_wasmtime_import_is_not_reported_as_missing(
    monkeypatch: pytest.MonkeyPatch, wasm_file: Path
) -> None:
    import builtins
    import sys

    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "wasmtime":
            raise ImportError("cannot import name '_bindings' from partially initialized module")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "wasmtime")
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(PluginLoadError, match="installed but cannot be imported") as info:
        load_wasm_plugin(wasm_file)
    assert "not installed" not in str(info.value)
