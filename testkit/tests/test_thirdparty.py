"""Third-party plugins in matrices: ``[plugin.<name>]`` tables, their cells and ids, templates,
the on-demand C build, expectation files and Worlds (testkit._matrix, testkit._thirdparty)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from testkit._drivers import CallOutcome
from testkit._matrix import MatrixError, load_matrix
from testkit._thirdparty import (
    build_library,
    load_expectations,
    load_world,
    plugin_spec,
    requirements,
    resolve,
)
from testkit._toolchains import ToolchainError, Toolchains, find_repo_root
from testkit.suite.test_thirdparty import json_subset, judge

ROOT = find_repo_root(Path(__file__).parent)

HEADER = """
name = "t"
[budgets.ipc]
p50_us = 1000.0
floor = "pipe"
max_floor_ratio = 1.3
[plugin.tp]
suite = "seed"
transport = "ipc"
language = "python"
command = ["{python}", "{repo}/testkit/fixtures/seed/seed_plugin.py"]
expect = "testkit/fixtures/seed/expected.json"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_full_matrix_has_the_seed_cells() -> None:
    matrix = load_matrix(ROOT / "matrices" / "full.toml")
    seed = {c.id: c for c in matrix.cells if c.suite == "seed"}
    assert set(seed) == {
        *(
            f"{h}/seed-{p}-plugin/ipc"
            for h in ("py-host", "ts-host", "ts@bun-host", "rust-host")
            for p in ("py", "node")
        ),
        "py-host/seed-c-plugin/ffi",
        "rust-host/seed-c-plugin/ffi",
    }
    assert all(c.third_party is not None and c.third_party.suite == "seed" for c in seed.values())
    assert {c.suite for c in matrix.cells if c.third_party is None} == {"fixtures"}


def test_plugin_table_cell_and_runtime(tmp_path: Path) -> None:
    text = HEADER.replace('suite = "seed"', 'suite = "elizaos"\nruntimes = ["node", "bun"]')
    text += '[[cell]]\nhost = "rust"\nplugin = "tp"\ntransport = "ipc"\n'
    text += '[[cell]]\nhost = "python"\nplugin = "tp"\nplugin_runtime = "bun"\ntransport = "ipc"\n'
    matrix = load_matrix(_write(tmp_path, text))
    assert [c.id for c in matrix.cells] == ["rust-host/tp-plugin/ipc", "py-host/tp@bun-plugin/ipc"]
    assert [c.plugin_runtime for c in matrix.cells] == ["node", "bun"]
    assert matrix.cells[0].suite == "elizaos"
    assert matrix.plugins["tp"].command == ("{python}", "{repo}/testkit/fixtures/seed/seed_plugin.py")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (('suite = "seed"', 'suite = "fixtures"'), "suite"),
        (('transport = "ipc"\nlanguage', 'transport = "wasm"\nlanguage'), "transport"),
        (("command = [", 'path = "x"\ncommand = ['), "command"),
        (('language = "python"\n', ""), "language"),
        (("expect = ", 'colour = "red"\nexpect = '), "colour"),
        (("[plugin.tp]", "[plugin.python]"), "python"),
    ],
)
def test_plugin_table_errors(tmp_path: Path, edit: tuple[str, str], field: str) -> None:
    text = HEADER.replace(*edit) + '[[cell]]\nhost = "python"\nplugin = "rust"\ntransport = "ipc"\n'
    with pytest.raises(MatrixError) as info:
        load_matrix(_write(tmp_path, text))
    assert info.value.field == field, str(info.value)


@pytest.mark.parametrize(
    ("cell", "field"),
    [
        ('host = "python"\nplugin = "tp"\ntransport = "ffi"', "transport"),
        ('host = "python"\nplugin = "tp"\nplugin_runtime = "bun"\ntransport = "ipc"', "plugin_runtime"),
        ('host = "python"\nplugin = "nope"\ntransport = "ipc"', "plugin"),
    ],
)
def test_third_party_cell_errors(tmp_path: Path, cell: str, field: str) -> None:
    with pytest.raises(MatrixError) as info:
        load_matrix(_write(tmp_path, HEADER + "[[cell]]\n" + cell + "\n"))
    assert info.value.field == field, str(info.value)


def test_templates_resolve_and_unknown_placeholders_fail() -> None:
    tc = Toolchains.discover(ROOT)
    assert resolve("{repo}/x", tc) == f"{ROOT}/x"
    assert resolve("{runtime}", tc, "bun") == str(tc.bun)
    with pytest.raises(ToolchainError, match="unknown placeholder"):
        resolve("{nope}", tc)


def test_seed_ipc_spec_is_a_command() -> None:
    matrix = load_matrix(ROOT / "matrices" / "full.toml")
    cell = next(c for c in matrix.cells if c.id == "rust-host/seed-py-plugin/ipc")
    tc = Toolchains.discover(ROOT)
    spec = plugin_spec(cell, tc)
    assert (spec.transport, spec.language) == ("ipc", "python")
    assert spec.command == (str(tc.python), f"{ROOT}/testkit/fixtures/seed/seed_plugin.py")
    assert all(r.present for r in requirements(cell, tc)), requirements(cell, tc)


def test_c_library_is_built_on_demand_and_reused(tmp_path: Path) -> None:
    if shutil.which("cc") is None:
        pytest.fail("cc is missing: the seed C fixture needs a C compiler (apt-get install -y gcc)")
    text = (ROOT / "matrices" / "full.toml").read_text(encoding="utf-8")
    plugin = load_matrix(_write(tmp_path, text)).plugins["seed-c"]
    tc = Toolchains.discover(ROOT, env={"ELIZAOS_RUST_TARGET_DIR": str(tmp_path / "target")})
    library = build_library(plugin, tc)
    assert library == tmp_path / "target" / "seed" / "libseed_plugin.so"
    assert library.read_bytes()[:4] == b"\x7fELF"
    stamp = library.stat().st_mtime_ns
    assert build_library(plugin, tc).stat().st_mtime_ns == stamp  # up to date: not rebuilt


def test_missing_compiler_is_an_error_naming_it(tmp_path: Path) -> None:
    plugin = load_matrix(ROOT / "matrices" / "full.toml").plugins["seed-c"]
    assert plugin.build is not None
    broken = dataclasses.replace(plugin, build=("no-such-cc", *plugin.build[1:]))
    tc = Toolchains.discover(ROOT, env={"ELIZAOS_RUST_TARGET_DIR": str(tmp_path)})
    with pytest.raises(ToolchainError, match="no-such-cc is missing"):
        build_library(broken, tc)


def test_expectation_file_and_world() -> None:
    expectations = load_expectations(ROOT / "testkit" / "fixtures" / "seed" / "expected.json")
    ids = [c.id for c in expectations.calls]
    assert "invokeAction(my-action)" in ids
    assert "invokeAction(unknown)" in ids
    assert len(ids) == len(set(ids))
    world = load_world("docs/vectors/runtime-world.json#world", ROOT)
    assert world["agentId"] == "00000000-0000-4000-8000-000000000001"
    with pytest.raises(ToolchainError, match="no member"):
        load_world("docs/vectors/runtime-world.json#nope", ROOT)


def test_bad_expectation_file_names_the_call(tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    path.write_text(json.dumps({"calls": [{"method": "invokeAction", "expect": {"maybe": 1}}]}))
    with pytest.raises(ToolchainError, match=r"calls\[0\]\.expect"):
        load_expectations(path)


def test_json_subset_and_judge() -> None:
    assert json_subset({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1.0, {"c": 2, "d": 3}], "e": 4}}) is None
    assert "missing" in str(json_subset({"examples": []}, {"name": "x"}))
    assert json_subset([1], [1, 2]) is not None
    expectations = load_expectations(ROOT / "testkit" / "fixtures" / "seed" / "expected.json")
    unknown = next(c for c in expectations.calls if c.id == "getProvider(unknown)")
    assert judge(unknown, CallOutcome(ok=False, error_type="PluginCallError", code=-32602)) is None
    assert judge(unknown, CallOutcome(ok=True, value={})) is not None
    valid = next(c for c in expectations.calls if c.id == "validateAction(my-action)")
    assert judge(valid, CallOutcome(ok=True, value=True)) is None
    assert judge(valid, CallOutcome(ok=True, value={"valid": True})) is not None


def test_elizaos_matrix_serves_both_packages_to_every_host() -> None:
    matrix = load_matrix(ROOT / "matrices" / "elizaos.toml")
    assert all(c.suite == "elizaos" for c in matrix.cells)
    hosts = {p: {(c.host, c.host_runtime) for c in matrix.cells if c.plugin == p} for p in matrix.plugins}
    everyone = {("python", None), ("rust", None), ("typescript", "node"), ("typescript", "bun")}
    assert hosts == {"bootstrap-ts": everyone, "bootstrap-py": everyone}
    assert {c.plugin_runtime for c in matrix.cells if c.plugin == "bootstrap-ts"} == {"node", "bun"}
    for plugin in matrix.plugins.values():
        assert plugin.expect.startswith("plugins/"), plugin.expect
        assert plugin.expect.endswith(".json"), plugin.expect


def test_expectation_file_may_be_a_list_and_carry_a_world(tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    path.write_text(json.dumps([{"method": "getManifest", "expect": {"ok": True}}]))
    assert [c.id for c in load_expectations(path).calls] == ["getManifest"]
    path.write_text(json.dumps({"world": {"settings": {}}, "calls": []}))
    assert load_expectations(path).world == {"settings": {}}


def test_judge_checks_the_exception_type() -> None:
    call = load_expectations(ROOT / "testkit" / "fixtures" / "seed" / "expected.json").calls[0]
    call = dataclasses.replace(call, expect={"error": {"exception": "TypeError"}})
    assert (
        judge(call, CallOutcome(ok=False, error_type="PluginCallError", data={"exception": "TypeError"}))
        is None
    )
    assert judge(call, CallOutcome(ok=False, error_type="PluginCallError", data={"exception": "KeyError"}))
    assert judge(call, CallOutcome(ok=False, error_type="PluginCallError"))
