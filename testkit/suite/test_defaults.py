"""Defaults a bridge fills in (protocol.md section 1): a plugin that gives no ``version`` is
served with ``"0.0.0"``, one that gives no ``description`` with ``""``, whatever the host.

Python and TypeScript plugin objects may leave both out; a Rust plugin cannot (its ``Manifest``
has no default), so the check runs in every cell whose plugin is Python or TypeScript. The plugin
is written into the check's temporary directory, next to a ``package.json`` without a version (a
TypeScript plugin otherwise takes the version of the nearest ``package.json``, section 7.1).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit._drivers import DriverError, PluginSpec
from testkit._matrix import Cell
from testkit._session import CellError, InteropSession
from testkit.suite._helpers import expect_ok

NAME = "unversioned-fixture"

PY_PLUGIN = f'''"""A plugin that gives neither a version nor a description."""
from elizaos_interop import Plugin, run_plugin

plugin = Plugin(name="{NAME}")

if __name__ == "__main__":
    run_plugin(plugin)
'''

TS_PLUGIN = f"""// A plugin that gives neither a version nor a description.
export const plugin = {{ name: "{NAME}", actions: [], providers: [], evaluators: [] }};
export default plugin;
"""

PACKAGE_JSON = f'{{"name": "{NAME}", "private": true, "type": "module"}}\n'


def _plugin_languages(cell: Cell) -> bool:
    return cell.plugin in ("python", "typescript") and cell.transport == "ipc"


def _write(cell: Cell, where: Path) -> PluginSpec:
    (where / "package.json").write_text(PACKAGE_JSON, encoding="utf-8")
    if cell.plugin == "python":
        path = where / "unversioned_plugin.py"
        path.write_text(PY_PLUGIN, encoding="utf-8")
        return PluginSpec(transport="ipc", language="python", path=str(path))
    path = where / "unversioned.ts"
    path.write_text(TS_PLUGIN, encoding="utf-8")
    return PluginSpec(transport="ipc", language="typescript", path=str(path), runtime=cell.plugin_runtime)


@pytest.mark.interop_check("manifest-defaults")
@pytest.mark.interop_cells.with_args(_plugin_languages)
def test_manifest_defaults(interop_session: InteropSession, interop_cell: Cell, tmp_path: Path) -> None:
    spec = _write(interop_cell, tmp_path)
    try:
        driver = interop_session.driver(interop_cell)
        handle, manifest = driver.load(spec, timeout_ms=20_000)
    except (CellError, DriverError) as exc:
        pytest.fail(f"{interop_cell.id}: {exc}", pytrace=False)
    try:
        asked = expect_ok(driver.call(handle, "getManifest", {}, 20_000), "getManifest")
        for what, received in (("the loaded manifest", manifest), ("getManifest", asked)):
            assert isinstance(received, dict), f"{what}: expected a manifest, received {received!r}"
            got = (received.get("name"), received.get("version"), received.get("description"))
            assert got == (NAME, "0.0.0", ""), (
                f"{interop_cell.id}: {what} of a {interop_cell.plugin} plugin without version and "
                f"description should carry version '0.0.0' and description '' (protocol.md 1), "
                f"received name, version, description = {got}"
            )
    finally:
        driver.unload(handle)
