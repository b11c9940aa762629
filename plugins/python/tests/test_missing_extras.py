"""The in-process loaders name the pip extra to install when their dependency is missing."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from elizaos_interop import PluginLoadError, load_rust_plugin, load_wasm_plugin

TARGET = Path(
    os.environ.get(
        "ELIZAOS_RUST_TARGET_DIR", Path(__file__).resolve().parents[2] / "rust" / "target"
    )
)
# Real artifacts: the loaders check the file before they import their dependency.
SO = TARGET / "release" / "libelizaos_plugin_conformance.so"
WASM = TARGET / "wasm32-unknown-unknown" / "release" / "elizaos_plugin_conformance.wasm"


@pytest.mark.parametrize(
    ("loader", "path", "hidden", "module", "expected"),
    [
        (
            load_rust_plugin,
            SO,
            ("cffi", "_cffi_backend"),
            "elizaos_interop.host._ffi",
            "cffi is not installed (pip install 'elizaos-interop[ffi]')",
        ),
        (
            load_wasm_plugin,
            WASM,
            ("wasmtime",),
            "elizaos_interop.host._wasm",
            "wasmtime is not installed (pip install 'elizaos-interop[wasm]')",
        ),
    ],
)
def test_missing_dependency_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
    loader: Callable[..., Any],
    path: Path,
    hidden: tuple[str, ...],
    module: str,
    expected: str,
) -> None:
    if not path.is_file():
        pytest.fail(f"{path} is missing; build it with: nox -s build_rust_ffi build_rust_wasm")
    for name in hidden:  # None in sys.modules makes `import name` fail as if not installed
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(PluginLoadError, match=r"is not installed") as info:
        loader(path)
    assert expected in str(info.value)
    assert info.value.plugin == str(path)
