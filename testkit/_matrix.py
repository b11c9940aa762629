"""Matrix files: which host x plugin x transport cells to run, and the latency budgets.

A matrix is a TOML file (see matrices/default.toml). Loading validates everything eagerly and
reports the first problem with the file, the cell index, the field, what was expected and what
was received, so a typo fails before any process is started.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FLOORS",
    "HOSTS",
    "HOST_TRANSPORTS",
    "LANGUAGES",
    "PLUGIN_TRANSPORTS",
    "RUNTIMES",
    "TRANSPORTS",
    "Budget",
    "Cell",
    "Matrix",
    "MatrixError",
    "load_matrix",
    "select_cells",
]

HOSTS: tuple[str, ...] = ("python", "typescript", "rust")
LANGUAGES: tuple[str, ...] = ("python", "typescript", "rust")
TRANSPORTS: tuple[str, ...] = ("wasm", "ffi", "ipc")
RUNTIMES: tuple[str, ...] = ("node", "bun")
FLOORS: tuple[str, ...] = ("noop", "pipe")

#: Transports each host language can load (protocol.md section 7.1).
HOST_TRANSPORTS: Mapping[str, frozenset[str]] = {
    "python": frozenset({"wasm", "ffi", "ipc"}),
    "typescript": frozenset({"wasm", "ipc"}),
    "rust": frozenset({"ffi", "ipc"}),
}
#: Transports each plugin language offers.
PLUGIN_TRANSPORTS: Mapping[str, frozenset[str]] = {
    "rust": frozenset({"wasm", "ffi", "ipc"}),
    "python": frozenset({"ipc"}),
    "typescript": frozenset({"ipc"}),
}
_SHORT: Mapping[str, str] = {"python": "py", "typescript": "ts", "rust": "rust"}

_TOP_KEYS = frozenset({"name", "description", "budgets", "cell"})
_BUDGET_KEYS = frozenset({"p50_us", "floor", "max_floor_ratio"})
_CELL_KEYS = frozenset({"host", "host_runtime", "plugin", "plugin_runtime", "transport"})


class MatrixError(ValueError):
    """A matrix file is malformed; the message names file, location, field, expected, received."""

    def __init__(self, path: Path | str, where: str, field_name: str, expected: str, received: Any) -> None:
        self.path = str(path)
        self.where = where
        self.field = field_name
        self.expected = expected
        self.received = received
        super().__init__(
            f"{self.path}: {where}: field {field_name!r}: expected {expected}, received {received!r}"
        )


@dataclass(frozen=True)
class Budget:
    """Latency budget of one transport: an absolute p50 and a maximum ratio to the floor."""

    transport: str
    p50_us: float
    floor: str
    max_floor_ratio: float


@dataclass(frozen=True)
class Cell:
    """One host x plugin x transport combination, with runtimes for TypeScript sides."""

    host: str
    plugin: str
    transport: str
    host_runtime: str | None = None
    plugin_runtime: str | None = None
    index: int = field(default=0, compare=False)

    @property
    def id(self) -> str:
        """Stable, ``-k`` friendly id, e.g. ``ts@bun-host/rust-plugin/wasm``."""
        host = _SHORT[self.host]
        if self.host_runtime not in (None, "node"):
            host += f"@{self.host_runtime}"
        plugin = _SHORT[self.plugin]
        if self.plugin_runtime not in (None, "node"):
            plugin += f"@{self.plugin_runtime}"
        return f"{host}-host/{plugin}-plugin/{self.transport}"

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class Matrix:
    """A loaded, validated matrix file."""

    name: str
    description: str
    budgets: Mapping[str, Budget]
    cells: tuple[Cell, ...]
    path: Path

    def select(self, pattern: str | None) -> tuple[Cell, ...]:
        """The cells whose id matches ``pattern`` (see :func:`select_cells`)."""
        return select_cells(self.cells, pattern)


def select_cells(cells: Iterable[Cell], pattern: str | None) -> tuple[Cell, ...]:
    """Filter cells by a comma-separated list of glob patterns or substrings of their id.

    ``None`` or an empty pattern selects everything. A term containing ``*``, ``?`` or ``[`` is a
    glob on the whole id, anything else is a substring match.
    """
    cells = tuple(cells)
    if not pattern:
        return cells
    terms = [t.strip() for t in pattern.split(",") if t.strip()]

    def matches(cid: str) -> bool:
        for term in terms:
            if any(ch in term for ch in "*?["):
                if fnmatch.fnmatchcase(cid, term):
                    return True
            elif term in cid:
                return True
        return False

    return tuple(c for c in cells if matches(c.id))


def _type_name(value: Any) -> str:
    return type(value).__name__


def _check_keys(path: Path, where: str, table: Mapping[str, Any], allowed: frozenset[str]) -> None:
    for key in table:
        if key not in allowed:
            raise MatrixError(path, where, key, f"one of {sorted(allowed)}", "unknown field")


def _choice(path: Path, where: str, table: Mapping[str, Any], key: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if key not in table:
        raise MatrixError(path, where, key, f"one of {list(choices)}", "missing")
    value = table[key]
    if not isinstance(value, str) or value not in choices:
        raise MatrixError(path, where, key, f"one of {list(choices)}", value)
    return value


def _number(path: Path, where: str, table: Mapping[str, Any], key: str) -> float:
    if key not in table:
        raise MatrixError(path, where, key, "a positive number", "missing")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise MatrixError(path, where, key, "a positive number", value)
    return float(value)


def _parse_budget(path: Path, transport: str, raw: Any) -> Budget:
    where = f"[budgets.{transport}]"
    if not isinstance(raw, dict):
        raise MatrixError(path, "[budgets]", transport, "a table", _type_name(raw))
    _check_keys(path, where, raw, _BUDGET_KEYS)
    return Budget(
        transport=transport,
        p50_us=_number(path, where, raw, "p50_us"),
        floor=_choice(path, where, raw, "floor", FLOORS),
        max_floor_ratio=_number(path, where, raw, "max_floor_ratio"),
    )


def _parse_cell(path: Path, index: int, raw: Any, budgets: Mapping[str, Budget]) -> Cell:
    where = f"cell {index}"
    if not isinstance(raw, dict):
        raise MatrixError(path, where, "[[cell]]", "a table", _type_name(raw))
    _check_keys(path, where, raw, _CELL_KEYS)
    host = _choice(path, where, raw, "host", HOSTS)
    plugin = _choice(path, where, raw, "plugin", LANGUAGES)
    transport = _choice(path, where, raw, "transport", TRANSPORTS)
    host_runtime: str | None = None
    plugin_runtime: str | None = None
    if "host_runtime" in raw:
        if host != "typescript":
            raise MatrixError(
                path,
                where,
                "host_runtime",
                "absent (only TypeScript hosts have a runtime)",
                raw["host_runtime"],
            )
        host_runtime = _choice(path, where, raw, "host_runtime", RUNTIMES)
    elif host == "typescript":
        host_runtime = "node"
    if "plugin_runtime" in raw:
        if plugin != "typescript":
            raise MatrixError(
                path,
                where,
                "plugin_runtime",
                "absent (only TypeScript plugins have a runtime)",
                raw["plugin_runtime"],
            )
        plugin_runtime = _choice(path, where, raw, "plugin_runtime", RUNTIMES)
    elif plugin == "typescript":
        plugin_runtime = "node"
    if transport not in HOST_TRANSPORTS[host]:
        raise MatrixError(
            path,
            where,
            "transport",
            f"a transport a {host} host loads ({sorted(HOST_TRANSPORTS[host])})",
            transport,
        )
    if transport not in PLUGIN_TRANSPORTS[plugin]:
        raise MatrixError(
            path,
            where,
            "transport",
            f"a transport a {plugin} plugin offers ({sorted(PLUGIN_TRANSPORTS[plugin])})",
            transport,
        )
    if transport not in budgets:
        raise MatrixError(
            path,
            where,
            "transport",
            f"a transport with a [budgets.{transport}] table",
            transport,
        )
    return Cell(host, plugin, transport, host_runtime, plugin_runtime, index)


def parse_matrix(data: Mapping[str, Any], path: Path) -> Matrix:
    """Validate an already parsed TOML document as a matrix."""
    _check_keys(path, "top level", data, _TOP_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise MatrixError(path, "top level", "name", "a non-empty string", name)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise MatrixError(path, "top level", "description", "a string", description)
    raw_budgets = data.get("budgets")
    if not isinstance(raw_budgets, dict):
        raise MatrixError(path, "top level", "budgets", "a table [budgets.<transport>]", raw_budgets)
    budgets: dict[str, Budget] = {}
    for transport, raw in raw_budgets.items():
        if transport not in TRANSPORTS:
            raise MatrixError(path, "[budgets]", transport, f"one of {list(TRANSPORTS)}", transport)
        budgets[transport] = _parse_budget(path, transport, raw)
    raw_cells = data.get("cell")
    if not isinstance(raw_cells, list) or not raw_cells:
        raise MatrixError(path, "top level", "cell", "a non-empty array of [[cell]] tables", raw_cells)
    cells: list[Cell] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_cells):
        cell = _parse_cell(path, index, raw, budgets)
        if cell.id in seen:
            raise MatrixError(
                path,
                f"cell {index}",
                "host/plugin/transport",
                f"a cell not already listed (cell {seen[cell.id]} is the same)",
                cell.id,
            )
        seen[cell.id] = index
        cells.append(cell)
    return Matrix(name, description, budgets, tuple(cells), path)


def load_matrix(path: Path | str) -> Matrix:
    """Read and validate a matrix TOML file; raises :class:`MatrixError` on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MatrixError(path, "file", "path", "a readable TOML file", str(exc)) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MatrixError(path, "file", "syntax", "valid TOML", str(exc)) from exc
    return parse_matrix(data, path)
