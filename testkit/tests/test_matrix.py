"""Matrix loading: the shipped matrices, cell ids, selection, and eager, specific errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit._matrix import Cell, MatrixError, load_matrix, select_cells
from testkit._toolchains import find_repo_root

ROOT = find_repo_root(Path(__file__).parent)

HEADER = """
name = "t"
[budgets.ipc]
p50_us = 1000.0
floor = "pipe"
max_floor_ratio = 1.3
[budgets.wasm]
p50_us = 1.0
floor = "noop"
max_floor_ratio = 10.0
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_matrix_is_the_seed_six() -> None:
    matrix = load_matrix(ROOT / "matrices" / "default.toml")
    assert [c.id for c in matrix.cells] == [
        "ts-host/rust-plugin/wasm",
        "ts-host/py-plugin/ipc",
        "py-host/rust-plugin/ffi",
        "py-host/ts-plugin/ipc",
        "rust-host/ts-plugin/ipc",
        "rust-host/py-plugin/ipc",
    ]
    assert set(matrix.budgets) == {"wasm", "ffi", "ipc"}
    assert matrix.budgets["ipc"].floor == "pipe"
    assert matrix.budgets["ipc"].max_floor_ratio == 1.3


def test_full_matrix_has_every_offered_combination() -> None:
    ids = {c.id for c in load_matrix(ROOT / "matrices" / "full.toml").cells if c.suite == "fixtures"}
    for required in (
        "py-host/py-plugin/ipc",
        "ts-host/ts-plugin/ipc",
        "rust-host/rust-plugin/ipc",
        "rust-host/rust-plugin/ffi",
        "py-host/rust-plugin/wasm",
        "py-host/rust-plugin/ipc",
        "ts-host/rust-plugin/ipc",
        "ts@bun-host/rust-plugin/wasm",
        "ts@bun-host/ts@bun-plugin/ipc",
        "py-host/ts@bun-plugin/ipc",
    ):
        assert required in ids, required
    assert len(ids) == 21
    assert not any("ts-host" in i and i.endswith("/ffi") for i in ids)
    assert not any(i.startswith("rust-host") and i.endswith("/wasm") for i in ids)


def test_cell_ids_show_only_non_default_runtimes() -> None:
    assert Cell("typescript", "typescript", "ipc", "node", "node").id == "ts-host/ts-plugin/ipc"
    assert Cell("typescript", "typescript", "ipc", "bun", "bun").id == "ts@bun-host/ts@bun-plugin/ipc"
    assert Cell("python", "rust", "ffi").id == "py-host/rust-plugin/ffi"


def test_select_cells_by_substring_and_glob() -> None:
    cells = load_matrix(ROOT / "matrices" / "full.toml").cells
    assert {c.id for c in select_cells(cells, "py-host/rust")} == {
        "py-host/rust-plugin/wasm",
        "py-host/rust-plugin/ffi",
        "py-host/rust-plugin/ipc",
    }
    assert {c.id for c in select_cells(cells, "ts@bun-host/*/wasm,rust-host/rust-plugin/ffi")} == {
        "ts@bun-host/rust-plugin/wasm",
        "rust-host/rust-plugin/ffi",
    }
    assert select_cells(cells, None) == cells
    assert select_cells(cells, "no-such") == ()


@pytest.mark.parametrize(
    ("cell", "field", "expected", "received"),
    [
        ('host = "java"\nplugin = "rust"\ntransport = "ipc"', "host", "one of", "'java'"),
        ('host = "python"\nplugin = "rust"\ntransport = "pipe"', "transport", "one of", "'pipe'"),
        (
            'host = "typescript"\nplugin = "rust"\ntransport = "ffi"',
            "transport",
            "a typescript host loads",
            "'ffi'",
        ),
        (
            'host = "python"\nplugin = "python"\ntransport = "wasm"',
            "transport",
            "a python plugin offers",
            "'wasm'",
        ),
        (
            'host = "rust"\nhost_runtime = "bun"\nplugin = "python"\ntransport = "ipc"',
            "host_runtime",
            "absent",
            "'bun'",
        ),
        (
            'host = "typescript"\nhost_runtime = "deno"\nplugin = "python"\ntransport = "ipc"',
            "host_runtime",
            "one of",
            "'deno'",
        ),
        ('host = "python"\nplugin = "rust"\ntransport = "ffi"', "transport", "[budgets.ffi]", "'ffi'"),
        ('host = "python"\nplugin = "rust"', "transport", "one of", "'missing'"),
        (
            'host = "python"\nplugin = "rust"\ntransport = "ipc"\nspeed = 3',
            "speed",
            "one of",
            "'unknown field'",
        ),
    ],
    ids=[
        "host",
        "transport",
        "host-transport",
        "plugin-transport",
        "runtime-non-ts",
        "runtime-value",
        "no-budget",
        "missing-field",
        "unknown-field",
    ],
)
def test_cell_errors_name_file_index_field_expected_received(
    tmp_path: Path, cell: str, field: str, expected: str, received: str
) -> None:
    ok = '[[cell]]\nhost = "python"\nplugin = "python"\ntransport = "ipc"\n'
    path = _write(tmp_path, HEADER + ok + "[[cell]]\n" + cell + "\n")
    with pytest.raises(MatrixError) as info:
        load_matrix(path)
    message = str(info.value)
    assert str(path) in message
    assert "cell 1" in message
    assert f"field {field!r}" in message
    assert expected in message
    assert received in message
    assert info.value.field == field


def test_duplicate_cells_are_refused(tmp_path: Path) -> None:
    cell = '[[cell]]\nhost = "python"\nplugin = "python"\ntransport = "ipc"\n'
    with pytest.raises(MatrixError, match=r"cell 1: .*cell 0 is the same.*py-host/py-plugin/ipc"):
        load_matrix(_write(tmp_path, HEADER + cell + cell))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('name = "t"\n[[cell]]\nhost = "python"\nplugin = "python"\ntransport = "ipc"\n', "budgets"),
        (HEADER, "field 'cell'"),
        (
            HEADER.replace("p50_us = 1000.0", "p50_us = -1"),
            r"\[budgets.ipc\]: field 'p50_us': expected a positive number, received -1",
        ),
        (
            HEADER.replace('floor = "pipe"', 'floor = "cat"'),
            r"field 'floor': expected one of \['noop', 'pipe'\], received 'cat'",
        ),
        (HEADER.replace("[budgets.wasm]", "[budgets.grpc]"), r"\[budgets\]: field 'grpc'"),
        ("name = [", "valid TOML"),
        ('description = "x"\n', "field 'name'"),
    ],
    ids=[
        "no-budgets",
        "no-cells",
        "negative-budget",
        "bad-floor",
        "unknown-transport-budget",
        "syntax",
        "no-name",
    ],
)
def test_top_level_errors(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(MatrixError, match=match):
        load_matrix(_write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match="readable TOML file"):
        load_matrix(tmp_path / "nope.toml")
