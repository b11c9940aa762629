"""The WASM host on a wasmtime whose private internals changed: a load error naming them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

wasmtime = pytest.importorskip("wasmtime")

from elizaos_interop import PluginLoadError, load_wasm_plugin  # noqa: E402
from elizaos_interop.host import _wasm  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def wasm_file() -> Path:
    base = Path(os.environ.get("ELIZAOS_RUST_TARGET_DIR", REPO / "plugins" / "rust" / "target"))
    path = base / "wasm32-unknown-unknown" / "release" / "elizaos_plugin_conformance.wasm"
    if not path.is_file():
        pytest.fail(f"missing {path}; build it with: plugins/rust/build-wasm.sh", pytrace=False)
    return path


@pytest.mark.parametrize(("owner", "attr"), _wasm.FAST_PATH_INTERNALS)
def test_a_missing_internal_is_named(
    monkeypatch: pytest.MonkeyPatch, wasm_file: Path, owner: str, attr: str
) -> None:
    holder = wasmtime._bindings if owner == "_bindings" else getattr(wasmtime, owner)
    monkeypatch.delattr(holder, attr)
    with pytest.raises(PluginLoadError, match=rf"lacks wasmtime\.{owner}\.{attr}\b") as info:
        load_wasm_plugin(wasm_file)
    assert "not installed" not in str(info.value)


@pytest.mark.parametrize(("cls", "attr"), [("Memory", "_memory"), ("Func", "_func")])
def test_a_missing_instance_internal_is_named(
    monkeypatch: pytest.MonkeyPatch, wasm_file: Path, cls: str, attr: str
) -> None:
    real = wasmtime.Instance.exports

    def exports(self: object, store: object) -> object:
        found = real(self, store)
        for name in ("memory", "alloc"):
            item = found[name]
            if type(item).__name__ == cls and hasattr(item, attr):
                object.__delattr__(item, attr)
        return found

    monkeypatch.setattr(wasmtime.Instance, "exports", exports)
    with pytest.raises(PluginLoadError, match=rf"lacks wasmtime\.{cls}\.{attr}\b"):
        load_wasm_plugin(wasm_file)


def test_an_intact_wasmtime_has_every_internal() -> None:
    assert _wasm.missing_internals(wasmtime) == []


def test_a_broken_wasmtime_import_is_not_reported_as_missing(
    monkeypatch: pytest.MonkeyPatch, wasm_file: Path
) -> None:
    import builtins
    import sys

    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name == "wasmtime":
            raise ImportError("cannot import name '_bindings' from partially initialized module")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.delitem(sys.modules, "wasmtime")
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(PluginLoadError, match="installed but cannot be imported") as info:
        load_wasm_plugin(wasm_file)
    assert "not installed" not in str(info.value)
