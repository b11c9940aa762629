"""What ``load_ts_plugin`` serves (protocol.md 7.1): a file, a package directory, or the name of a
package installed in a ``node_modules`` folder from the working directory upwards."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from elizaos_interop import PluginLoadError, load_ts_plugin

PLUGIN_TS = """export const plugin = {
  name: "greeter",
  description: "Greets",
  actions: [
    { name: "greet", description: "Say hi", handler: async () => ({ success: true, text: "hi" }) },
  ],
};
"""


def make_package(folder: Path, entry: str = "index.ts") -> Path:
    """A minimal npm package ``@acme/greeter`` 2.3.4 whose entry exports a plugin object. Node
    strips types only outside node_modules, so installed packages ship JavaScript (``index.js``)."""
    folder.mkdir(parents=True)
    manifest = {"name": "@acme/greeter", "version": "2.3.4", "type": "module", "main": entry}
    (folder / "package.json").write_text(json.dumps(manifest), encoding="utf-8")
    (folder / entry).write_text(PLUGIN_TS, encoding="utf-8")
    return folder


def greet(target: str | Path, cwd: Path | None = None) -> tuple[str, str, object]:
    with load_ts_plugin(target, cwd=cwd) as plugin:
        result = asyncio.run(plugin.invoke_action("greet", {"content": {"text": "x"}}))
        return plugin.name, plugin.version, result["text"]


def test_a_package_directory(tmp_path: Path) -> None:
    package = make_package(tmp_path / "greeter")
    assert greet(package) == ("@acme/greeter", "2.3.4", "hi")


def test_a_package_name_found_in_node_modules_above_cwd(tmp_path: Path) -> None:
    make_package(tmp_path / "node_modules" / "@acme" / "greeter", "index.js")
    work = tmp_path / "app" / "src"
    work.mkdir(parents=True)
    assert greet("@acme/greeter", cwd=work) == ("@acme/greeter", "2.3.4", "hi")


def test_a_package_name_that_is_not_installed(tmp_path: Path) -> None:
    expected = r"no package '@acme/absent' in a node_modules folder"
    with pytest.raises(PluginLoadError, match=expected):
        load_ts_plugin("@acme/absent", cwd=tmp_path)


def test_a_directory_without_package_json(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match=r"a directory without a package\.json"):
        load_ts_plugin(tmp_path)
