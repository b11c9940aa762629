"""docs/architecture.md names real files: every path it writes in backticks exists in the repository.

A span is taken for a path when it is one word of path characters that holds a ``/`` or ends with a
file extension (``plugins/python/src/elizaos_interop/host/_ipc.py``, ``src/index.ts``, ``_ipc.py``,
``matrices/*.toml``). One whose first segment is a top-level entry of the repository must exist there
(a trailing ``/`` asks for a directory, a ``*`` for at least one match); any other must be the tail of
a file or directory of the repository, cut at a ``/``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "architecture.md"

EXTENSIONS = frozenset(
    {"py", "pyi", "ts", "mts", "mjs", "js", "rs", "md", "toml", "json", "lock", "sh", "c", "h", "txt", "cfg"}
)
_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_PATHLIKE = re.compile(r"[A-Za-z0-9_.*/-]+")
_SKIPPED_DIRS = frozenset(
    {".git", "node_modules", "target", ".nox", "dist", "build", "__pycache__", ".mypy_cache", ".ruff_cache"}
)


def _fenced_blocks_removed(text: str) -> str:
    """The text without fenced code blocks (their content is code, not names of files)."""
    out: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line)
    return "\n".join(out)


def looks_like_path(span: str) -> bool:
    """True for one word of path characters holding a '/' or ending with a known file extension."""
    if not _PATHLIKE.fullmatch(span) or "//" in span or span.startswith("-"):
        return False
    if "/" in span:
        return any(part not in ("", ".", "..") for part in span.split("/"))
    stem, dot, ext = span.rpartition(".")
    return bool(dot) and bool(stem.strip("*")) and ext in EXTENSIONS


def path_spans(text: str) -> list[str]:
    """Every backticked span of ``text`` (outside fenced blocks) that looks like a path, in order."""
    return [s for s in _SPAN.findall(_fenced_blocks_removed(text)) if looks_like_path(s)]


def repository_entries(root: Path) -> set[str]:
    """Every file and directory of the repository, as '/'-separated paths relative to ``root``.

    Tracked and untracked-but-not-ignored files from git when ``root`` is a git work tree, else a
    walk that leaves out build output and dependency directories.
    """
    files: list[str] = []
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            check=True,
            timeout=60,
        )
        if (root / ".git").exists():
            files = [f for f in listed.stdout.decode("utf-8").split("\0") if f and (root / f).exists()]
    except (OSError, subprocess.SubprocessError):
        files = []
    if not files:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in _SKIPPED_DIRS]
            rel = Path(dirpath).relative_to(root)
            files.extend((rel / f).as_posix() for f in filenames)
    entries: set[str] = set()
    for f in files:
        parts = f.split("/")
        for i in range(1, len(parts) + 1):
            entries.add("/".join(parts[:i]))
    return entries


def missing_paths(text: str, root: Path) -> list[str]:
    """The path spans of ``text`` that name nothing in the repository at ``root``."""
    entries = repository_entries(root)
    directories = {e.rpartition("/")[0] for e in entries if "/" in e} | {
        e for e in entries if (root / e).is_dir()
    }
    top = {e for e in entries if "/" not in e}
    missing: list[str] = []
    for span in path_spans(text):
        want_dir = span.endswith("/")
        name = span.strip("/").removeprefix("./")
        pool = directories if want_dir else entries
        if name.split("/")[0] in top or "*" in name.split("/")[0]:
            found = any(fnmatch.fnmatchcase(e, name) for e in pool) if "*" in name else name in pool
        else:
            found = any(
                e == name or fnmatch.fnmatchcase(e, name) or fnmatch.fnmatchcase(e, "*/" + name) for e in pool
            )
        if not found and span not in missing:
            missing.append(span)
    return missing


def test_architecture_doc_names_only_real_paths() -> None:
    text = DOC.read_text(encoding="utf-8")
    spans = path_spans(text)
    assert len(spans) >= 40, f"only {len(spans)} paths found in {DOC.name}: the extractor no longer reads it"
    missing = missing_paths(text, REPO)
    assert not missing, f"{DOC.relative_to(REPO)} names paths that do not exist: {missing}"


def test_readme_links_the_architecture_doc() -> None:
    assert "](docs/architecture.md)" in (REPO / "README.md").read_text(encoding="utf-8")


SYNTHETIC = """\
# A page

The host lives in `pkg/host/ipc.py` and `pkg/host/` (its room); `ipc.py` alone names it too,
as does `host/ipc.py`. The wire room is `pkg/wire/` and the fixtures `fixtures/*.json`.

Gone: `pkg/host/wasm.py`, `pkg/plugin/`, `ffi.py`, `host/gone.py`, `fixtures/*.toml`,
`pkg/host/ipc.py/` (a file is not a directory).

Not paths: `wire`, `runtime.getSetting`, `-32601`, `elizaos::interop`, `@elizaos/interop`,
`node --test`, `rt-<n>`, `.so`, `https://example.org/a.py`, `{"id": 1}`.

```
pkg/in/a/fenced/block.py
```
"""


@pytest.fixture
def synthetic_repo(tmp_path: Path) -> Path:
    for f in ("pkg/host/ipc.py", "pkg/wire/json.py", "fixtures/a.json", "README.md"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("", encoding="utf-8")
    return tmp_path


def test_extractor_reads_path_spans_only() -> None:
    assert path_spans(SYNTHETIC) == [
        "pkg/host/ipc.py",
        "pkg/host/",
        "ipc.py",
        "host/ipc.py",
        "pkg/wire/",
        "fixtures/*.json",
        "pkg/host/wasm.py",
        "pkg/plugin/",
        "ffi.py",
        "host/gone.py",
        "fixtures/*.toml",
        "pkg/host/ipc.py/",
    ]


def test_extractor_reports_every_missing_path(synthetic_repo: Path) -> None:
    assert missing_paths(SYNTHETIC, synthetic_repo) == [
        "pkg/host/wasm.py",
        "pkg/plugin/",
        "ffi.py",
        "host/gone.py",
        "fixtures/*.toml",
        "pkg/host/ipc.py/",
    ]


def test_extractor_passes_a_page_of_real_paths(synthetic_repo: Path) -> None:
    good = "`pkg/host/ipc.py`, `pkg/host/`, `ipc.py`, `host/ipc.py`, `pkg/wire/`, `fixtures/*.json`, `wire`"
    assert missing_paths(good, synthetic_repo) == []
