"""``pip install <testkit wheel> <elizaos_interop wheel>`` then ``interop-testkit certify
./my_plugin.py`` in an empty directory: no repository checkout needed.

It builds both wheels, installs them into a fresh virtualenv (dependencies from the package
index) and certifies a plugin from an empty temporary directory. It runs under
``nox -s certify_install`` (which sets INTEROP_INSTALL_TEST=1); it is skipped elsewhere because
installing the dependencies takes minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from testkit._toolchains import Toolchains, find_repo_root

ROOT = find_repo_root(Path(__file__).parent)

pytestmark = pytest.mark.skipif(
    os.environ.get("INTEROP_INSTALL_TEST") != "1",
    reason="builds wheels and a virtualenv: run with nox -s certify_install",
)

PLUGIN = """
from elizaos_interop import Action, Plugin, Provider


async def reply(runtime, memory, state, options):
    text = memory.get("content", {}).get("text")
    return {"success": True, "text": f"you said {text}" if isinstance(text, str) else "you said nothing"}


async def mood(runtime, memory, state):
    return {"text": "calm"}


plugin = Plugin(
    name="my-plugin",
    description="A plugin certified from an installed testkit",
    version="0.1.0",
    actions=[Action(name="REPLY", description="Reply", handler=reply, validate=lambda r, m, s: True)],
    providers=[Provider(name="MOOD", description="Mood", get=mood)],
)
"""


TS_PLUGIN = """
export const plugin = {
  name: "my-ts-plugin",
  description: "A TypeScript plugin certified from an installed testkit",
  actions: [
    {
      name: "REPLY",
      description: "Reply",
      validate: async () => true,
      handler: async (_runtime: unknown, memory: { content?: { text?: unknown } }) => ({
        success: true,
        text: typeof memory.content?.text === "string"
          ? `you said ${memory.content.text}`
          : "you said nothing",
      }),
    },
  ],
};
"""


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=900, **kwargs)  # type: ignore[call-overload,no-any-return]


def test_certify_from_an_empty_directory(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    for project in (ROOT, ROOT / "plugins" / "python"):
        built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheels), str(project)])
        assert built.returncode == 0, built.stderr[-3000:]
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    installed = _run([str(python), "-m", "pip", "install", "-q", *map(str, sorted(wheels.glob("*.whl")))])
    assert installed.returncode == 0, installed.stderr[-3000:]
    work = tmp_path / "empty"
    work.mkdir()
    (work / "my_plugin.py").write_text(PLUGIN, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELIZAOS_", "PYTHON", "VIRTUAL_ENV"))}
    env["ELIZAOS_NODE"] = str(Toolchains.discover(ROOT).node)  # Node 22 (this machine's system node is 20)
    result = _run(
        [
            str(env_dir / "bin" / "interop-testkit"),
            "certify",
            "./my_plugin.py",
            "--hosts",
            "python,node",
            "--fuzz-examples",
            "5",
            "--json",
            "cert.json",
        ],
        cwd=work,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert "cannot find the repository root" not in result.stdout + result.stderr
    cert = json.loads((work / "cert.json").read_text(encoding="utf-8"))
    assert cert["verdict"] == "PASS"
    assert cert["hosts"]["node"]["status"] == "loaded", cert["hosts"]
    # A TypeScript plugin: the TS bridge and host driver come out of the wheel too.
    (work / "my-plugin.ts").write_text(TS_PLUGIN, encoding="utf-8")
    result = _run(
        [
            str(env_dir / "bin" / "interop-testkit"),
            "certify",
            "./my-plugin.ts",
            "--hosts",
            "python,node",
            "--fuzz-examples",
            "5",
            "--json",
            "cert-ts.json",
        ],
        cwd=work,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    cert = json.loads((work / "cert-ts.json").read_text(encoding="utf-8"))
    assert cert["plugin"]["name"] == "my-ts-plugin"
    assert cert["hosts"]["node"]["status"] == "loaded", cert["hosts"]
