"""Matrix files: which host x plugin x transport cells to run, and the latency budgets.

A matrix is a TOML file (see matrices/default.toml). Loading validates everything eagerly and
reports the first problem with the file, the cell index, the field, what was expected and what
was received, so a typo fails before any process is started.

A cell's ``plugin`` is one of our fixture languages (``python``, ``typescript``, ``rust``: the
conformance and eliza-classic fixtures, the full suite), or the name of a third-party plugin
declared in the same file as a ``[plugin.<name>]`` table: software not built with our SDKs (the
seed-text fixtures, published elizaOS packages), checked by the suite named in its ``suite`` member
against the calls and outcomes of its ``expect`` file (see testkit/README.md).
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
    "SUITES",
    "TRANSPORTS",
    "Budget",
    "Cell",
    "Matrix",
    "MatrixError",
    "ThirdPartyPlugin",
    "load_matrix",
    "select_cells",
]

HOSTS: tuple[str, ...] = ("python", "typescript", "rust")
LANGUAGES: tuple[str, ...] = ("python", "typescript", "rust")
TRANSPORTS: tuple[str, ...] = ("wasm", "ffi", "ipc")
RUNTIMES: tuple[str, ...] = ("node", "bun")
FLOORS: tuple[str, ...] = ("noop", "pipe")
#: Check sets: ``fixtures`` (our conformance fixtures), ``seed`` (plugins written from the seed
#: README's text), ``elizaos`` (published elizaOS plugins served as they are).
SUITES: tuple[str, ...] = ("fixtures", "seed", "elizaos")

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

_TOP_KEYS = frozenset({"name", "description", "budgets", "plugin", "cell"})
_BUDGET_KEYS = frozenset({"p50_us", "floor", "max_floor_ratio"})
_CELL_KEYS = frozenset({"host", "host_runtime", "plugin", "plugin_runtime", "transport"})
_PLUGIN_KEYS = frozenset(
    {"description", "suite", "transport", "language", "command", "path", "build", "sources", "runtimes"}
    | {"expect", "world"}
)


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
class ThirdPartyPlugin:
    """A plugin not built with our SDKs, declared by a ``[plugin.<name>]`` table.

    ``command`` (IPC argv) and ``path`` (FFI library) are templates: ``{repo}``, ``{python}``,
    ``{node}``, ``{bun}``, ``{runtime}`` (the Node or Bun binary of the cell's plugin runtime),
    ``{ts_bridge}`` and ``{rust_target}`` are replaced when a cell loads it. ``build`` is an argv
    template (``{path}`` too) run when ``path`` is missing or older than one of ``sources``.
    ``expect`` is the repo-relative JSON file of calls and outcomes; ``world`` a World file
    (``file.json#member`` picks a member) passed as the in-memory runtime to calls that ask for it.
    """

    name: str
    suite: str
    transport: str
    language: str
    expect: str
    description: str = ""
    command: tuple[str, ...] | None = None
    path: str | None = None
    build: tuple[str, ...] | None = None
    sources: tuple[str, ...] = ()
    runtimes: tuple[str, ...] = ()
    world: str | None = None


@dataclass(frozen=True)
class Cell:
    """One host x plugin x transport combination, with runtimes for TypeScript sides."""

    host: str
    plugin: str
    transport: str
    host_runtime: str | None = None
    plugin_runtime: str | None = None
    index: int = field(default=0, compare=False)
    third_party: ThirdPartyPlugin | None = field(default=None, compare=False)

    @property
    def suite(self) -> str:
        """The check set that applies: ``fixtures`` for our fixture plugins, else the plugin's."""
        return "fixtures" if self.third_party is None else self.third_party.suite

    @property
    def id(self) -> str:
        """Stable, ``-k`` friendly id, e.g. ``ts@bun-host/rust-plugin/wasm``."""
        host = _SHORT[self.host]
        if self.host_runtime not in (None, "node"):
            host += f"@{self.host_runtime}"
        plugin = _SHORT.get(self.plugin, self.plugin)
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
    plugins: Mapping[str, ThirdPartyPlugin] = field(default_factory=dict)

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


_PLUGIN_NAME = "a name of lowercase letters, digits and '-', not a fixture language"


def _string(path: Path, where: str, table: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    if key not in table:
        if required:
            raise MatrixError(path, where, key, "a non-empty string", "missing")
        return None
    value = table[key]
    if not isinstance(value, str) or not value:
        raise MatrixError(path, where, key, "a non-empty string", value)
    return value


def _strings(path: Path, where: str, table: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise MatrixError(path, where, key, "an array of non-empty strings", value)
    return tuple(value)


def _parse_plugin(path: Path, name: str, raw: Any) -> ThirdPartyPlugin:
    where = f"[plugin.{name}]"
    if not name.replace("-", "").isalnum() or name != name.lower() or name in LANGUAGES:
        raise MatrixError(path, "[plugin]", name, _PLUGIN_NAME, name)
    if not isinstance(raw, dict):
        raise MatrixError(path, "[plugin]", name, "a table", _type_name(raw))
    _check_keys(path, where, raw, _PLUGIN_KEYS)
    suite = _choice(path, where, raw, "suite", SUITES[1:])
    transport = _choice(path, where, raw, "transport", ("ipc", "ffi"))
    command = _strings(path, where, raw, "command")
    plugin_path = _string(path, where, raw, "path", required=False)
    if transport == "ipc" and (command is None or plugin_path is not None):
        raise MatrixError(path, where, "command", "an IPC argv (and no 'path') for transport ipc", command)
    if transport == "ffi" and (plugin_path is None or command is not None):
        raise MatrixError(
            path, where, "path", "a library path (and no 'command') for transport ffi", plugin_path
        )
    runtimes = _strings(path, where, raw, "runtimes") or ()
    for runtime in runtimes:
        if runtime not in RUNTIMES:
            raise MatrixError(path, where, "runtimes", f"values among {list(RUNTIMES)}", runtime)
    build = _strings(path, where, raw, "build")
    if build is not None and plugin_path is None:
        raise MatrixError(path, where, "build", "absent unless 'path' names what it builds", build)
    return ThirdPartyPlugin(
        name=name,
        suite=suite,
        transport=transport,
        language=str(_string(path, where, raw, "language", required=True)),
        expect=str(_string(path, where, raw, "expect", required=True)),
        description=_string(path, where, raw, "description", required=False) or "",
        command=command,
        path=plugin_path,
        build=build,
        sources=_strings(path, where, raw, "sources") or (),
        runtimes=runtimes,
        world=_string(path, where, raw, "world", required=False),
    )


def _parse_third_party_cell(
    path: Path, index: int, raw: Mapping[str, Any], host: str, plugin: ThirdPartyPlugin
) -> Cell:
    where = f"cell {index}"
    transport = _choice(path, where, raw, "transport", (plugin.transport,))
    if transport not in HOST_TRANSPORTS[host]:
        raise MatrixError(
            path,
            where,
            "transport",
            f"a transport a {host} host loads ({sorted(HOST_TRANSPORTS[host])})",
            transport,
        )
    host_runtime: str | None = None
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
    plugin_runtime: str | None = None
    if plugin.runtimes:
        plugin_runtime = (
            _choice(path, where, raw, "plugin_runtime", plugin.runtimes)
            if "plugin_runtime" in raw
            else plugin.runtimes[0]
        )
    elif "plugin_runtime" in raw:
        raise MatrixError(
            path,
            where,
            "plugin_runtime",
            f"absent ([plugin.{plugin.name}] lists no runtimes)",
            raw["plugin_runtime"],
        )
    return Cell(host, plugin.name, transport, host_runtime, plugin_runtime, index, plugin)


def _parse_cell(
    path: Path,
    index: int,
    raw: Any,
    budgets: Mapping[str, Budget],
    plugins: Mapping[str, ThirdPartyPlugin] | None = None,
) -> Cell:
    where = f"cell {index}"
    if not isinstance(raw, dict):
        raise MatrixError(path, where, "[[cell]]", "a table", _type_name(raw))
    _check_keys(path, where, raw, _CELL_KEYS)
    host = _choice(path, where, raw, "host", HOSTS)
    plugins = plugins or {}
    plugin = _choice(path, where, raw, "plugin", (*LANGUAGES, *plugins))
    if plugin in plugins:
        return _parse_third_party_cell(path, index, raw, host, plugins[plugin])
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
    raw_plugins = data.get("plugin", {})
    if not isinstance(raw_plugins, dict):
        raise MatrixError(path, "top level", "plugin", "tables [plugin.<name>]", raw_plugins)
    plugins = {name: _parse_plugin(path, name, raw) for name, raw in raw_plugins.items()}
    raw_cells = data.get("cell")
    if not isinstance(raw_cells, list) or not raw_cells:
        raise MatrixError(path, "top level", "cell", "a non-empty array of [[cell]] tables", raw_cells)
    cells: list[Cell] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_cells):
        cell = _parse_cell(path, index, raw, budgets, plugins)
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
    return Matrix(name, description, budgets, tuple(cells), path, plugins)


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
