"""How ``load_ts_plugin`` finds the runtime serving a TypeScript plugin (protocol.md 7.1).

With a PATH holding only a ``node`` that is too old and no ``node_modules/.bin`` beside the
bridge: Bun on PATH serves the plugin; without Bun, the common sentence names the old node.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO

from elizaos_interop import PluginLoadError, load_ts_plugin

TS = REPO / "plugins" / "typescript"
REAL_BUN = TS / "node_modules" / ".bin" / "bun"
PLUGIN = TS / "fixtures" / "conformance.ts"


def old_node_path(tmp_path: Path, with_bun: bool) -> tuple[Path, Path]:
    """A bridge copied where no node_modules is above it, and a PATH dir with a Node 20."""
    shutil.copytree(TS / "src", tmp_path / "ts" / "src")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "node"
    fake.write_text("#!/bin/sh\necho v20.0.0\n")
    fake.chmod(0o755)
    if with_bun:
        (bin_dir / "bun").symlink_to(REAL_BUN.resolve())
    return tmp_path / "ts" / "src" / "bridge-server.ts", bin_dir


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("ELIZAOS_NODE", "ELIZAOS_BUN", "ELIZAOS_TS_BRIDGE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_old_node_on_path_falls_back_to_bun(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    bridge, bin_dir = old_node_path(tmp_path, with_bun=True)
    clean_env.setenv("PATH", str(bin_dir))
    plugin = load_ts_plugin(PLUGIN, bridge=bridge)
    try:
        assert plugin.name == "conformance-fixture"
        assert plugin.transport.argv[0] == str(bin_dir / "bun")  # type: ignore[attr-defined]
    finally:
        plugin.close()


def test_old_node_on_path_without_bun_names_it(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    bridge, bin_dir = old_node_path(tmp_path, with_bun=False)
    clean_env.setenv("PATH", str(bin_dir))
    with pytest.raises(PluginLoadError) as caught:
        load_ts_plugin(PLUGIN, bridge=bridge)
    assert (
        "TypeScript plugins need Node >= 22.6 or Bun; found node v20.0.0 at "
        f"{bin_dir / 'node'}; set ELIZAOS_NODE or install node@22"
    ) in str(caught.value)


def test_no_node_at_all_says_none(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    bridge, _ = old_node_path(tmp_path, with_bun=False)
    clean_env.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PluginLoadError, match=r"found node \(none\) at node; set ELIZAOS_NODE"):
        load_ts_plugin(PLUGIN, bridge=bridge)


def test_runtime_bun_missing_names_elizaos_bun(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    bridge, bin_dir = old_node_path(tmp_path, with_bun=False)
    clean_env.setenv("PATH", str(bin_dir))
    with pytest.raises(PluginLoadError, match="ELIZAOS_BUN"):
        load_ts_plugin(PLUGIN, "bun", bridge=bridge)
