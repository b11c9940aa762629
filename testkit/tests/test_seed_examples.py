"""The interop README's six snippets, rewritten only for our import names, run as documented.

Each example loads the eliza-classic plugin of another language through the snippet's loader and
prints ELIZA's reply to "I am feeling sad". The reply must be the one the shared transcript pins
(``docs/vectors/eliza-transcript.json``, session ``seed-demo``), so the six snippets also prove that
the three ports answer alike. A missing runtime or artifact fails the test with the build command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testkit._toolchains import Toolchains

ROOT = Path(__file__).resolve().parents[2]
TS = ROOT / "plugins" / "typescript"
TOOLCHAINS = Toolchains.discover(ROOT)
TARGET = TOOLCHAINS.rust_target_dir
NODE = str(TOOLCHAINS.node)


def _seed_reply() -> str:
    transcript = json.loads((ROOT / "docs" / "vectors" / "eliza-transcript.json").read_text())
    (demo,) = (s for s in transcript["sessions"] if s["name"] == "seed-demo")
    reply: str = demo["exchanges"][0]["reply"]
    return reply


def _need(path: Path | str, build: str) -> str:
    if not Path(path).exists():
        pytest.fail(f"{path} is missing; build it with: {build}")
    return str(path)


def _snippets() -> dict[str, tuple[list[str], str]]:
    """Snippet number and languages -> (argv, build command for what it needs)."""
    py_examples = ROOT / "plugins" / "python" / "examples"
    ts_examples = TS / "examples"
    npm = "npm ci --prefix plugins/typescript"
    return {
        "1-ts-loads-rust-wasm": (
            [NODE, str(ts_examples / "ts-loads-rust-wasm.ts")],
            f"{npm} && nox -s build_rust_wasm",
        ),
        "2-ts-loads-python-ipc": ([NODE, str(ts_examples / "ts-loads-python.ts")], npm),
        "3-python-loads-rust-ffi": (
            [sys.executable, str(py_examples / "python_loads_rust.py")],
            "nox -s build_rust_ffi",
        ),
        "4-python-loads-ts-ipc": (
            [sys.executable, str(py_examples / "python_loads_typescript.py")],
            npm,
        ),
        "5-rust-loads-ts-ipc": (
            [str(TARGET / "release" / "examples" / "rust_loads_typescript")],
            "nox -s build_rust_ipc",
        ),
        "6-rust-loads-python-ipc": (
            [str(TARGET / "release" / "examples" / "rust_loads_python")],
            "nox -s build_rust_ipc",
        ),
    }


@pytest.mark.parametrize("snippet", sorted(_snippets()))
def test_seed_snippet_prints_the_eliza_reply(snippet: str) -> None:
    argv, build = _snippets()[snippet]
    for part in argv:
        if "/" in part:
            _need(part, build)
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        env=TOOLCHAINS.env(),
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, f"{snippet} exited {proc.returncode}\n{proc.stderr[-4000:]}"
    responses = [line for line in proc.stdout.splitlines() if line.startswith("Response:")]
    assert responses == [f"Response: {_seed_reply()}"], proc.stdout
