"""Where ``load_ts_plugin`` finds the TypeScript bridge (protocol.md 7.1).

``$ELIZAOS_TS_BRIDGE``, else an installed ``@elizaos/interop``'s
``node_modules/@elizaos/interop/dist/bridge-server.js`` walking up from the plugin, then from the
working directory, else this repository's ``plugins/typescript/src/bridge-server.ts``.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from conftest import REPO

from elizaos_interop import PluginLoadError, load_ts_plugin
from elizaos_interop.host._loaders import find_ts_bridge

INSTALLED = Path("node_modules/@elizaos/interop/dist/bridge-server.js")
REPO_BRIDGE = REPO / "plugins" / "typescript" / "src" / "bridge-server.ts"

FAKE_BRIDGE = r"""
// A stand-in for the installed bridge: serves a manifest naming the plugin file it was given.
const path = require("node:path");
const readline = require("node:readline");
const name = path.basename(process.argv[2], ".ts");
const manifest = {name, description: "served by " + __filename, version: "1.0.0",
  language: "typescript", actions: [{name: "where", description: "Where am I"}],
  providers: [], evaluators: []};
readline.createInterface({input: process.stdin}).on("line", (line) => {
  const req = JSON.parse(line);
  const result = req.method === "getManifest" ? manifest
    : req.method === "invokeAction" ? {success: true, text: __filename} : {};
  process.stdout.write(JSON.stringify({id: req.id, result}) + "\n");
});
"""


def install(root: Path) -> Path:
    """An installed ``@elizaos/interop`` under ``root`` (CommonJS, so no package.json needed)."""
    bridge = root / INSTALLED
    bridge.parent.mkdir(parents=True)
    bridge.write_text(FAKE_BRIDGE, encoding="utf-8")
    return bridge


def plugin_in(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    plugin = directory / "my-plugin.ts"
    plugin.write_text("export const plugin = {};\n", encoding="utf-8")
    return plugin


@pytest.fixture(autouse=True)
def no_configured_bridge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELIZAOS_TS_BRIDGE", raising=False)


def test_installed_package_above_the_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = install(tmp_path / "project")
    plugin = plugin_in(tmp_path / "project" / "src" / "plugins")
    monkeypatch.chdir(tmp_path)
    assert find_ts_bridge(plugin) == bridge


def test_installed_package_above_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = install(tmp_path / "app")
    (tmp_path / "app" / "deep").mkdir()
    monkeypatch.chdir(tmp_path / "app" / "deep")
    plugin = plugin_in(tmp_path / "elsewhere")
    assert find_ts_bridge(plugin) == bridge


def test_the_plugins_package_wins_over_the_working_directorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    near = install(tmp_path / "plugin-project")
    install(tmp_path / "cwd-project")
    monkeypatch.chdir(tmp_path / "cwd-project")
    assert find_ts_bridge(plugin_in(tmp_path / "plugin-project" / "lib")) == near


def test_the_repository_bridge_is_the_last_resort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_ts_bridge(plugin_in(tmp_path / "p")) == REPO_BRIDGE


def test_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(tmp_path)
    configured = tmp_path / "mine.js"
    configured.write_text("", encoding="utf-8")
    monkeypatch.setenv("ELIZAOS_TS_BRIDGE", str(configured))
    assert find_ts_bridge(plugin_in(tmp_path / "p")) == configured.resolve()
    monkeypatch.setenv("ELIZAOS_TS_BRIDGE", str(tmp_path / "absent.js"))
    with pytest.raises(PluginLoadError, match="is not a file"):
        find_ts_bridge(plugin_in(tmp_path / "p"))


def test_load_ts_plugin_runs_the_installed_bridge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("no node on PATH: needed to run the installed bridge")
    bridge = install(tmp_path / "project")
    plugin = plugin_in(tmp_path / "project" / "plugins")
    monkeypatch.chdir(tmp_path)
    with load_ts_plugin(plugin, node=node) as loaded:
        assert loaded.name == "my-plugin"
        assert loaded.description == f"served by {bridge}"
        assert asyncio.run(loaded.invoke_action("where", {"content": {}})).text == str(bridge)
