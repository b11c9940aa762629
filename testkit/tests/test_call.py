"""``interop-testkit call``: every fixture through every host its transports allow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testkit._call import HOSTS, CallRequest, UnusableInput, host_transports, plugin_spec, run_call
from testkit._drivers import PluginSpec
from testkit._toolchains import Toolchains
from testkit.cli import main

REPO = Path(__file__).resolve().parents[2]
SAD = "I am feeling sad"
SORRY = "I am sorry to hear you are sad."
_GET_GREETING = json.dumps({"calls": [{"method": "getSetting", "args": ["GREETING"]}]})

#: (plugin language, transport) a fixture is offered over.
_OFFERS = [("python", "ipc"), ("typescript", "ipc"), ("rust", "ffi"), ("rust", "wasm"), ("rust", "ipc")]
_COMBOS = [
    pytest.param(host, fixture, language, transport, id=f"{host}-host/{language}-{fixture}/{transport}")
    for host in HOSTS
    for language, transport in _OFFERS
    if transport in host_transports(host)
    for fixture in ("conformance", "eliza-classic")
]


def _spec(toolchains: Toolchains, fixture: str, language: str, transport: str, host: str) -> PluginSpec:
    runtime = "bun" if host == "bun" else "node"
    path = toolchains.fixture_path(
        fixture, language, transport, runtime if language == "typescript" else None
    )
    return plugin_spec(str(path), None, plugin_runtime=runtime)


@pytest.mark.parametrize(("host", "fixture", "language", "transport"), _COMBOS)
def test_call_reaches_every_fixture_from_every_host(
    host: str, fixture: str, language: str, transport: str
) -> None:
    toolchains = Toolchains.discover(REPO)
    spec = _spec(toolchains, fixture, language, transport, host)
    assert spec.transport == transport  # the path alone picked the transport
    if fixture == "eliza-classic":
        params = {
            "name": "generate-response",
            "memory": {"content": {"text": SAD}},
            "state": {},
            "options": {},
        }
    else:
        params = {"name": "echo", "memory": {"content": {"text": "héllo 🌍"}}, "state": {}, "options": {}}
    report = run_call(CallRequest(spec=spec, host=host, method="invokeAction", params=params), toolchains)
    assert report.manifest["name"] == (
        "eliza-classic" if fixture == "eliza-classic" else "conformance-fixture"
    )
    assert report.manifest["language"] == language
    assert report.transport == transport
    assert report.outcome is not None
    assert report.outcome.ok, report.outcome
    expected = SORRY if fixture == "eliza-classic" else "héllo 🌍"
    assert report.outcome.value["text"] == expected
    header = "\n".join(report.header())
    assert f"# host: {host} (" in header
    assert report.host_runtime.split()[0] in {"cpython", "node", "bun", "rustc"}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "testkit.cli", "call", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
        check=False,
    )


def test_cli_prints_header_and_result_and_exits_0() -> None:
    done = _cli(
        "plugins/python/fixtures/eliza_classic",
        "invokeAction",
        "generate-response",
        "--text",
        SAD,
        "--host",
        "rust",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("# host: rust (rustc ")
    assert lines[1].startswith("# plugin: python plugin ")
    assert "served by python 3." in lines[1]
    assert lines[2].startswith("# manifest: eliza-classic ")
    assert json.loads("\n".join(lines[4:]))["text"] == SORRY


def test_cli_without_method_prints_the_manifest() -> None:
    done = _cli("plugins/typescript/fixtures/conformance.ts", "--host", "bun", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["host"] == "bun"
    assert doc["hostRuntime"].startswith("bun ")
    assert doc["pluginRuntime"].startswith("bun ")
    assert "echo" in [a["name"] for a in doc["manifest"]["actions"]]
    assert "ok" not in doc


def test_plugin_error_is_shown_typed_and_exits_1() -> None:
    done = _cli("plugins/typescript/fixtures/conformance.ts", "invokeAction", "fail", "--host", "rust")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "error: PluginCallError (code -32000): " in done.stdout
    assert "fixture failure" in done.stdout


def test_ipc_command_and_runtime_world(tmp_path: Path) -> None:
    toolchains = Toolchains.discover(REPO)
    command = " ".join(toolchains.ipc_command("conformance", "python"))
    world = tmp_path / "world.json"
    world.write_text(json.dumps({"wrap": {"settings": {"GREETING": "bonjour"}}}))
    done = _cli(
        "--ipc",
        command,
        "invokeAction",
        "runtime",
        "--options",
        _GET_GREETING,
        "--runtime",
        f"{world}#wrap",
        "--host",
        "node",
        "--json",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["transport"] == "ipc"
    assert doc["method"] == "invokeAction"
    assert doc["value"]["data"]["results"] == [{"ok": "bonjour"}]


def test_runtime_action_without_world_names_the_missing_runtime() -> None:
    done = _cli(
        "plugins/python/fixtures/conformance_plugin.py",
        "invokeAction",
        "runtime",
        "--options",
        _GET_GREETING,
        "--json",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (result,) = json.loads(done.stdout)["value"]["data"]["results"]
    assert "runtime.getSetting is not provided by the host" in result["error"]["message"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["no/such/plugin.py"], "no such file"),
        (["README.md"], "cannot tell which language"),
        (
            [
                "plugins/rust/target/wasm32-unknown-unknown/release/elizaos_plugin_conformance.wasm",
                "--host",
                "rust",
            ],
            "does not load wasm plugins",
        ),
        (["plugins/python/fixtures/conformance_plugin.py", "invokeAction"], "needs the name of the item"),
        (
            ["plugins/python/fixtures/conformance_plugin.py", "invokeActoin", "echo"],
            "unknown method 'invokeActoin'",
        ),
        (
            ["plugins/python/fixtures/conformance_plugin.py", "invokeAction", "echo", "--memory", "{bad"],
            "not JSON",
        ),
        (["plugins/python/fixtures/conformance_plugin.py", "--runtime", "no/world.json"], "cannot read"),
        (
            ["plugins/typescript/fixtures/conformance.ts", "--attr", "plugin"],
            "--attr names a Python module attribute",
        ),
    ],
)
def test_unusable_input_exits_2_with_what_to_change(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["call", *args]) == 2
    assert needle in capsys.readouterr().err


def test_attr_picks_the_module_attribute(tmp_path: Path) -> None:
    module = tmp_path / "two.py"
    module.write_text(
        "from elizaos_interop import Action, Plugin\n"
        "async def hi(runtime, memory, state, options):\n"
        "    return {'success': True, 'text': 'hi from second'}\n"
        "first = Plugin(name='first', description='one')\n"
        "second = Plugin(name='second', description='two',\n"
        "                actions=[Action(name='hi', description='says hi', handler=hi)])\n"
    )
    report = run_call(
        CallRequest(
            spec=plugin_spec(str(module), None, attr="second"),
            host="python",
            method="invokeAction",
            params={"name": "hi", "memory": {"content": {"text": ""}}, "state": {}, "options": {}},
        ),
        Toolchains.discover(REPO),
    )
    assert report.manifest["name"] == "second"
    assert report.outcome is not None
    assert report.outcome.value["text"] == "hi from second"


def test_node_too_old_is_refused_with_the_common_sentence(tmp_path: Path) -> None:
    fake = tmp_path / "node"
    fake.write_text("#!/bin/sh\necho v20.19.2\n")
    fake.chmod(0o755)
    env = dict(os.environ, ELIZAOS_NODE=str(fake))
    done = _cli("plugins/typescript/fixtures/conformance.ts", "--host", "python", env=env)
    assert done.returncode == 2
    assert (
        f"TypeScript plugins need Node >= 22.6 or Bun; found node v20.19.2 at {fake}; "
        "set ELIZAOS_NODE or install node@22"
    ) in done.stderr


def test_spec_of_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert plugin_spec("x.wasm", None).transport == "wasm"
    assert plugin_spec("libx.so", None).transport == "ffi"
    assert plugin_spec("@elizaos/plugin-bootstrap", None).language == "typescript"
    assert plugin_spec(None, "python3 server.py").command == ("python3", "server.py")
    relative = plugin_spec(None, "plugins/rust/target/release/conformance-ipc --flag")
    assert relative.command == (str(REPO / "plugins/rust/target/release/conformance-ipc"), "--flag")
    with pytest.raises(UnusableInput, match="exactly one"):
        plugin_spec("x.py", "python3 x.py")


def test_a_ts_plugin_with_its_own_interop_package_is_served_by_that_bridge(tmp_path: Path) -> None:
    """The plugin's ``instanceof RuntimeUnavailableError`` must see the bridge's class."""
    link = tmp_path / "node_modules" / "@elizaos" / "interop"
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO / "plugins" / "typescript", target_is_directory=True)
    (tmp_path / "package.json").write_text('{"type": "module"}')
    plugin = tmp_path / "p.ts"
    plugin.write_text(
        'import { RuntimeUnavailableError, type Plugin } from "@elizaos/interop";\n'
        "export const plugin: Plugin = { name: 'p', actions: [{ name: 'a', description: '',\n"
        "  validate: async () => true, handler: async (runtime) => {\n"
        "    try { await runtime.getSetting('X'); return { success: true, text: 'had one' }; }\n"
        "    catch (err) {\n"
        "      return { success: true, text: String(err instanceof RuntimeUnavailableError) };\n"
        "    }\n"
        "  } }] };\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ELIZAOS_TS_BRIDGE"}
    done = _cli(str(plugin), "invokeAction", "a", "--host", "rust", "--json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["value"]["text"] == "true"
    assert str(link / "dist" / "bridge-server.js") in doc["pluginRuntime"]


def test_load_python_plugin_takes_attr(tmp_path: Path) -> None:
    """The Python host's own loader names the module attribute (the bridge's --attr)."""
    from elizaos_interop import PluginLoadError, load_python_plugin

    module = tmp_path / "pair.py"
    module.write_text(
        "from elizaos_interop import Plugin\nfirst = Plugin(name='first')\nsecond = Plugin(name='second')\n"
    )
    with load_python_plugin(module, attr="second") as plugin:
        assert plugin.name == "second"
    with pytest.raises(PluginLoadError, match="--attr"), load_python_plugin(module):
        pass


def test_ts_load_python_plugin_takes_attr(tmp_path: Path) -> None:
    """The TypeScript host's loadPythonPlugin(path, {attr}) passes the bridge's --attr."""
    link = tmp_path / "node_modules" / "@elizaos" / "interop"
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO / "plugins" / "typescript", target_is_directory=True)
    (tmp_path / "pair.py").write_text(
        "from elizaos_interop import Plugin\nfirst = Plugin(name='first')\nsecond = Plugin(name='second')\n"
    )
    script = tmp_path / "load.mts"
    script.write_text(
        'import { loadPythonPlugin } from "@elizaos/interop";\n'
        'const plugin = await loadPythonPlugin(process.argv[2]!, { attr: "second" });\n'
        "console.log(plugin.name);\nawait plugin.close();\n"
    )
    toolchains = Toolchains.discover(REPO)
    env = dict(os.environ, ELIZAOS_PYTHON=sys.executable)
    done = subprocess.run(
        [str(toolchains.node), "--conditions=interop-source", str(script), str(tmp_path / "pair.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "second"
