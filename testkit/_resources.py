"""Where the testkit's data lives: in a repository checkout, or inside the installed wheel.

A checkout has ``docs/schemas``, ``docs/vectors`` and ``plugins/typescript/{src,driver}``; a wheel
carries copies of them under ``testkit/_data`` (copied by the build hook in ``setup.py``). Every
lookup prefers the checkout (so edits are seen at once) and falls back to the wheel's copy, so
``interop-testkit certify`` works from any directory.
"""

from __future__ import annotations

import functools
from pathlib import Path

from testkit._toolchains import ToolchainError, find_repo_root

__all__ = ["DATA_DIR", "repo_root_or_none", "schemas_dir", "ts_dir", "vectors_dir"]

#: The wheel's copy of the shared data (absent in a plain checkout).
DATA_DIR = Path(__file__).resolve().parent / "_data"


@functools.cache
def repo_root_or_none() -> Path | None:
    """The repository checkout the testkit runs from, or None when it runs from an install."""
    try:
        return find_repo_root(Path(__file__).resolve().parent)
    except ToolchainError:
        return None


def _pick(relative_in_repo: str, relative_in_data: str, probe: str) -> Path:
    root = repo_root_or_none()
    candidates = []
    if root is not None:
        candidates.append(root / relative_in_repo)
    candidates.append(DATA_DIR / relative_in_data)
    for candidate in candidates:
        if (candidate / probe).exists():
            return candidate
    raise ToolchainError(
        f"the testkit's {relative_in_data} data is missing: looked in "
        f"{', '.join(str(c) for c in candidates)}; reinstall the interop-testkit wheel"
    )


def schemas_dir() -> Path:
    """docs/schemas (JSON Schemas of every wire type)."""
    return _pick("docs/schemas", "schemas", "manifest.schema.json")


def vectors_dir() -> Path:
    """docs/vectors (edge cases, ELIZA transcript, runtime worlds)."""
    return _pick("docs/vectors", "vectors", "json-edge-cases.json")


def ts_dir() -> Path:
    """The TypeScript runtime's sources (``src/`` with the bridge, ``driver/`` with the host driver)."""
    return _pick("plugins/typescript", "typescript", "driver/host-driver.ts")
