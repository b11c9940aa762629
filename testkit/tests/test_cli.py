"""``interop-testkit list`` and the parser."""

from __future__ import annotations

import argparse
import json

import pytest

from testkit.cli import build_parser, main


def test_list_json_names_each_cell_and_its_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["matrix"] == "default"
    ids = [c["id"] for c in data["cells"]]
    assert ids[0] == "ts-host/rust-plugin/wasm"
    assert len(ids) == 6
    first = data["cells"][0]
    whats = " ".join(n["what"] for n in first["needs"])
    assert "Node 22" in whats
    assert "WASM module" in whats
    assert all({"what", "path", "present", "build"} <= set(n) for n in first["needs"])


def test_list_text_and_cell_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--matrix", "matrices/full.toml", "--cells", "ts@bun-host/*"]) == 0
    out = capsys.readouterr().out
    assert "ts@bun-host/rust-plugin/wasm" in out
    assert "py-host" not in out


def test_bad_matrix_is_a_usage_error(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--matrix", "no/such.toml"]) == 2
    assert "readable TOML file" in capsys.readouterr().err


def test_parser_has_every_subcommand() -> None:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    assert {"list", "matrix", "certify", "bench", "report"} <= set(actions[0].choices)
