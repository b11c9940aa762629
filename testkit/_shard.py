"""Fan-out of a matrix run over CI jobs: deterministic shards, and merging their results.

``interop-testkit matrix --shard i/n`` runs shard ``i`` (1-based) of ``n``: the matrix's cells
sorted by id and dealt round-robin, so every shard gets the same number of cells (give or take
one), the slices are disjoint and cover the matrix, and the assignment depends only on the set
of cell ids (never on file order or on the machine). ``interop-testkit report merge DIR...``
joins the shards' ``results.json`` into one document, compares it with the matrix's baseline and
writes the usual reports, as if one job had run every cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["ShardError", "exact_pattern", "merge_results", "parse_shard", "shard_cells"]

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_OUTCOME_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}

T = TypeVar("T")


class ShardError(ValueError):
    """A shard spec is malformed, or shards' results cannot be merged (says which and why)."""


def parse_shard(spec: str) -> tuple[int, int]:
    """``"2/3"`` -> ``(2, 3)``; the index is 1-based, as CI job matrices count."""
    match = _SHARD.match(spec)
    if match is None:
        raise ShardError(f"--shard expects I/N (e.g. 1/4), received {spec!r}")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 1 <= index <= count:
        raise ShardError(f"--shard {spec!r}: expected 1 <= I <= N and N >= 1")
    return index, count


def _id(item: Any) -> str:
    return str(item.id if hasattr(item, "id") else item)


def shard_cells(cells: Iterable[T], index: int, count: int) -> tuple[T, ...]:
    """Shard ``index`` of ``count`` of ``cells`` (objects with an ``id``, or id strings).

    Sorted by id, then dealt round-robin: the ``k``-th id goes to shard ``k % count + 1``. The
    result keeps the order of ``cells``.
    """
    if count < 1 or not 1 <= index <= count:
        raise ShardError(f"shard {index}/{count}: expected 1 <= I <= N and N >= 1")
    items = list(cells)
    ranked = sorted({_id(c) for c in items})
    chosen = {cid for k, cid in enumerate(ranked) if k % count == index - 1}
    return tuple(c for c in items if _id(c) in chosen)


def exact_pattern(cell_ids: Sequence[str]) -> str:
    """A ``--cells`` value that matches exactly these ids and no other.

    ``--cells`` terms without glob characters match substrings; wrapping each id's first
    character in a one-character class (``[p]y-host/...``) makes it a glob on the whole id.
    """
    return ",".join(f"[{cid[0]}]{cid[1:]}" for cid in cell_ids if cid)


def _worst_check(a: Mapping[str, Any], b: Mapping[str, Any]) -> Mapping[str, Any]:
    return a if _OUTCOME_RANK.get(a["outcome"], 3) >= _OUTCOME_RANK.get(b["outcome"], 3) else b


def merge_results(docs: Sequence[tuple[Path, Mapping[str, Any]]]) -> dict[str, Any]:
    """One results document from the shards' (path, results.json) pairs.

    Refuses shards of different matrices, schema versions, commits or latency profiles, and a
    cell measured by two shards. Cells keep the order of the shard files given; plugin-level
    checks (every shard runs them) are joined by name, the worst outcome kept. The machine of
    the first shard describes the run; others that differ are named in ``environment.shards``.
    The baseline comparison and verdict are left for the caller to recompute.
    """
    if not docs:
        raise ShardError("report merge needs at least one results.json")
    first_path, first = docs[0]

    def same(key: str, value: Any, path: Path, what: str) -> None:
        if value != first.get(key):
            raise ShardError(
                f"{path}: {what} {value!r} differs from {first_path}'s {first.get(key)!r}: "
                "only shards of one run can be merged"
            )

    cells: list[dict[str, Any]] = []
    owner: dict[str, Path] = {}
    plugin_level: dict[str, Mapping[str, Any]] = {}
    started: list[str] = []
    finished: list[str] = []
    machines: list[str] = []
    for path, doc in docs:
        same("schema_version", doc.get("schema_version"), path, "schema version")
        same("matrix", doc.get("matrix"), path, "matrix")
        commit = (doc.get("source") or {}).get("commit")
        if commit != (first.get("source") or {}).get("commit"):
            raise ShardError(
                f"{path}: commit {commit!r} differs from {first_path}'s "
                f"{(first.get('source') or {}).get('commit')!r}: only shards of one run can be merged"
            )
        lat, first_lat = doc.get("latency") or {}, first.get("latency") or {}
        for key in ("profile", "iterations", "warmup", "pin_mode", "repeats"):
            if lat.get(key) != first_lat.get(key):
                raise ShardError(
                    f"{path}: latency {key} {lat.get(key)!r} differs from {first_path}'s "
                    f"{first_lat.get(key)!r}: shards must be measured the same way"
                )
        if lat.get("started_at"):
            started.append(str(lat["started_at"]))
        if lat.get("finished_at"):
            finished.append(str(lat["finished_at"]))
        env = doc.get("environment") or {}
        machines.append(f"{path}: {env.get('cpu_model', '?')}, {env.get('cores', '?')} cores")
        for cell in doc.get("cells", []):
            cid = str(cell["id"])
            if cid in owner:
                raise ShardError(f"cell {cid} is in both {owner[cid]} and {path}: shards must not overlap")
            owner[cid] = path
            cells.append(dict(cell))
        for check in doc.get("plugin_level", []):
            name = str(check["name"])
            plugin_level[name] = _worst_check(check, plugin_level[name]) if name in plugin_level else check
    merged: dict[str, Any] = {key: value for key, value in first.items()}
    merged["cells"] = cells
    merged["plugin_level"] = [dict(plugin_level[k]) for k in sorted(plugin_level)]
    merged["generated_at"] = max(str(d.get("generated_at", "")) for _p, d in docs)
    if merged.get("latency"):
        latency = dict(merged["latency"])
        if started:
            latency["started_at"] = min(started)
        if finished:
            latency["finished_at"] = max(finished)
        merged["latency"] = latency
    env = dict(first.get("environment") or {})
    if len(set(m.split(": ", 1)[1] for m in machines)) > 1:
        env["shards"] = machines
    merged["environment"] = env
    merged["baseline"] = None
    merged.pop("verdict", None)
    return merged
