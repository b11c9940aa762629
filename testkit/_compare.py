"""``interop-testkit bench --compare REF``: this tree against another git ref, side by side.

Like ``asv continuous``: the other ref is exported (``git archive``, no worktree, nothing in the
repository changes) to a cache directory, built with its own noxfile's build sessions, and then
both trees are measured in alternating blocks, A B B A A B ... (the order flips every block, so
neither side always runs first after the other's warm caches), each block one repeat of every
selected cell in a fresh process. The blocks of each side are pooled into one results document
whose repeats are the blocks, and the two are compared with the bootstrap of
:mod:`testkit._stats`: this tree is "now", the ref is the baseline. Machine drift during the run
hits both sides alike, which no comparison with a committed baseline can promise.

With ``--candidate-env KEY=VALUE`` the measured side ("now") runs with that environment on top,
and without ``--compare`` the baseline side is this very tree: the same build measured against
itself with one environment variable changed, in the same alternating blocks. That is how a
deliberately slowed build (``ELIZAOS_INTEROP_TEST_DELAY_US``, a busy wait in the Python plugin
bridge) is told from the unchanged one without building anything (``nox -s bench_selftest``).

Both sides are driven by this tree's harness (``python -P -m testkit.cli bench``, with this
tree's ``testkit`` first on ``PYTHONPATH``), with the side's repository as working directory (its
matrices, fixtures, host drivers and build artifacts) and the side's Python runtime
(``plugins/python/src``) on ``PYTHONPATH`` for the in-process Python host and Python plugins.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit._stats import sketch

__all__ = [
    "BUILD_SESSIONS",
    "CompareError",
    "Side",
    "bench_argv",
    "block_order",
    "build_side",
    "export_ref",
    "parse_env",
    "pool_blocks",
    "run_compare",
    "sessions_for",
    "subprocess_runner",
]

#: The build sessions of a tree's noxfile that make every artifact a latency run needs.
BUILD_SESSIONS = ("build_rust_ffi", "build_rust_ipc", "build_rust_wasm", "build_typescript")
#: Environment variables that point at one tree's artifacts: a side finds its own instead.
_TREE_ENV = ("ELIZAOS_NODE", "ELIZAOS_BUN", "ELIZAOS_TS_BRIDGE", "ELIZAOS_RUST_TARGET_DIR", "ELIZAOS_PYTHON")

Runner = Callable[[Sequence[str], Path, Mapping[str, str]], int]


class CompareError(RuntimeError):
    """The other ref cannot be exported, built or measured (says which step and why)."""


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a label (``HEAD``, the ref) and the repository root measured."""

    label: str
    root: Path


def _git(root: Path, *argv: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CompareError(f"git {' '.join(argv)}: {done.stderr.strip() or 'failed'}")
    return done.stdout.strip()


def export_ref(repo: Path, ref: str, cache: Path | None = None) -> tuple[str, Path]:
    """``ref``'s commit id and a directory holding its tree (exported once, then reused)."""
    commit = _git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
    base = cache or Path(tempfile.gettempdir()) / "interop-testkit-compare"
    target = base / commit
    if (target / ".exported").is_file():
        return commit, target
    target.mkdir(parents=True, exist_ok=True)
    archive = target.with_suffix(".tar")
    with archive.open("wb") as out:
        done = subprocess.run(
            ["git", "-C", str(repo), "archive", "--format=tar", commit], stdout=out, check=False
        )
    if done.returncode != 0:
        raise CompareError(f"git archive {commit} failed (exit {done.returncode})")
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    archive.unlink()
    (target / ".exported").write_text(commit + "\n", encoding="utf-8")
    return commit, target


def _side_env(side: Side, harness: Path, base: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in _TREE_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(harness), str(side.root / "plugins" / "python" / "src")])
    return env


def _nox() -> list[str]:
    if importlib.util.find_spec("nox") is not None:
        return [sys.executable, "-m", "nox"]
    found = shutil.which("nox")
    if found is None:
        raise CompareError("building the other ref needs nox: python3 -m pip install nox")
    return [found]


def build_side(
    side: Side, run: Runner, base_env: Mapping[str, str], sessions: Sequence[str] = BUILD_SESSIONS
) -> None:
    """Build a side's artifacts with its own noxfile's ``sessions`` (those built before are not
    built again: the ``.built`` stamp lists them, one a line). No sessions, no build."""
    stamp = side.root / ".built"
    done = set(stamp.read_text(encoding="utf-8").split()) if stamp.is_file() else set()
    wanted = [s for s in sessions if s not in done]
    if not wanted:
        return
    env = {k: v for k, v in base_env.items() if k not in _TREE_ENV}
    argv = [*_nox(), "--noxfile", str(side.root / "noxfile.py"), "-s", *wanted]
    code = run(argv, side.root, env)
    if code != 0:
        raise CompareError(f"building {side.label} in {side.root} failed (exit {code}): {' '.join(argv)}")
    stamp.write_text("".join(f"{s}\n" for s in sorted(done | set(wanted))), encoding="utf-8")


def sessions_for(build_hints: Sequence[str]) -> list[str]:
    """The build sessions named in requirements' build hints (``nox -s build_rust_ffi ...``), in
    :data:`BUILD_SESSIONS` order: what the selected cells need, so a Python-only cell builds
    nothing and a TypeScript host does not wait for cargo."""
    named = {word for hint in build_hints for word in hint.replace(",", " ").split()}
    return [s for s in BUILD_SESSIONS if s in named]


def parse_env(assignments: Sequence[str]) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` as a mapping; a malformed item is a CompareError naming it."""
    env: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key or not key.replace("_", "").isalnum():
            raise CompareError(
                f"--candidate-env expects KEY=VALUE (KEY of letters, digits, _), received {item!r}"
            )
        env[key] = value
    return env


def _use_harness_schema(harness: Path, tree: Path) -> None:
    """Give the exported tree this harness's ``reports/results.schema.json``.

    Both sides' results are written by this tree's harness, which validates them against the
    schema of the repository it runs in (the side's, found from the working directory); an older
    ref's schema would refuse the fields this harness added. The export is a scratch copy: the
    repository is not touched."""
    schema = harness / "reports" / "results.schema.json"
    if schema.is_file():
        (tree / "reports").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(schema, tree / "reports" / "results.schema.json")


def block_order(blocks: int) -> list[int]:
    """Which side (0 = this tree, 1 = the ref) runs at each step: 0 1, 1 0, 0 1, ..."""
    order: list[int] = []
    for k in range(blocks):
        order += [0, 1] if k % 2 == 0 else [1, 0]
    return order


def bench_argv(matrix: Path, out: Path, options: Sequence[str]) -> list[str]:
    """The command measuring one block of one side with this tree's harness."""
    return [sys.executable, "-P", "-m", "testkit.cli", "bench", str(matrix), "--repeats", "1",
            "--no-baseline", "--out", str(out), *options]  # fmt: skip


def _pool_figures(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    if any(not p or not p.get("stats") for p in parts):
        return None
    repeats = [r for p in parts for r in (p.get("repeats") or [])]
    merged = dict(parts[0])
    merged["repeats"] = repeats
    points = sorted(float(v) for r in repeats for v in r["quantiles_ns"])
    if points:
        sk = sketch(points)
        merged["stats"] = {
            "n": sum(int(r["n"]) for r in repeats),
            "p50_ns": sk[50],
            "p90_ns": sk[90],
            "p99_ns": sk[99],
            "mean_ns": sum(points) / len(points),
            "min_ns": sk[0],
            "max_ns": sk[-1],
        }
    return merged


def pool_blocks(blocks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One side's per-block results joined: each method's repeats are the blocks' repeats.

    The pooled stats are read from the pooled sketches (the raw samples stay in each block's
    directory). A cell or method that failed in any block keeps that block's error.
    """
    if not blocks:
        raise CompareError("no blocks to pool")
    merged: dict[str, Any] = json.loads(json.dumps(blocks[0]))
    for cell in merged.get("cells", []):
        same = [next((c for c in b.get("cells", []) if c["id"] == cell["id"]), None) for b in blocks]
        lats = [(c or {}).get("latency") for c in same]
        if any(not lat or lat.get("error") for lat in lats):
            bad = next((lat for lat in lats if not lat or lat.get("error")), None)
            cell["latency"] = bad
            continue
        for position, method in enumerate(cell["latency"]["methods"]):
            parts = [lat["methods"][position] for lat in lats if lat and len(lat["methods"]) > position]
            if len(parts) != len(blocks) or any(p.get("error") for p in parts):
                continue
            main = _pool_figures(parts)
            if main is not None:
                method.update({k: main[k] for k in ("stats", "repeats")})
            if all(p.get("pinned") for p in parts):
                method["pinned"] = _pool_figures([p["pinned"] for p in parts])
    if merged.get("latency"):
        merged["latency"]["repeats"] = len(blocks)
        merged["latency"]["finished_at"] = max(
            str(b["latency"]["finished_at"]) for b in blocks if b.get("latency")
        )
    merged["baseline"] = None
    return merged


def run_compare(
    *,
    repo: Path,
    ref: str | None,
    matrix: Path,
    out: Path,
    blocks: int,
    options: Sequence[str],
    run: Runner,
    progress: Callable[[str], None],
    cache: Path | None = None,
    env: Mapping[str, str] | None = None,
    candidate_env: Mapping[str, str] | None = None,
    sessions: Sequence[str] = BUILD_SESSIONS,
) -> tuple[Path, Path]:
    """Export and build ``ref`` (its ``sessions``), measure both sides in alternating blocks,
    pool each side. ``candidate_env`` is added to this tree's side only; with ``ref=None`` the
    baseline side is this tree too (nothing exported or built).

    Returns the pooled results of this tree and of the baseline side (``out/compare/now.json``,
    ``out/compare/ref.json``); the caller compares them and writes the reports.
    """
    if blocks < 2:
        raise CompareError(f"--compare needs at least 2 blocks per side to see the noise, received {blocks}")
    if ref is None and not candidate_env:
        raise CompareError(
            "comparing this tree with itself needs --candidate-env KEY=VALUE (or --compare REF)"
        )
    base_env = dict(os.environ if env is None else env)
    extra = dict(candidate_env or {})
    harness = Path(__file__).resolve().parent.parent
    label = "HEAD" + "".join(f" {k}={v}" for k, v in extra.items())
    commit: str | None = None
    if ref is None:
        sides = (Side(label, repo), Side("HEAD", repo))
    else:
        commit, tree = export_ref(repo, ref, cache)
        sides = (Side(label, repo), Side(f"{ref} ({commit[:12]})", tree))
    try:
        relative = matrix.resolve().relative_to(repo.resolve())
    except ValueError as exc:
        raise CompareError(f"--compare needs a matrix inside the repository, received {matrix}") from exc
    if ref is not None:
        _use_harness_schema(harness, sides[1].root)
        what = ", ".join(sessions) or "nothing to build"
        progress(f"building {sides[1].label} in {sides[1].root} ({what})")
        build_side(sides[1], run, base_env, sessions)
    results: dict[int, list[dict[str, Any]]] = {0: [], 1: []}
    for step, which in enumerate(block_order(blocks)):
        side = sides[which]
        block_dir = out / "compare" / f"{'now' if which == 0 else 'ref'}-{step // 2 + 1}"
        progress(f"block {step // 2 + 1}/{blocks}: {side.label}")
        side_matrix = side.root / relative
        if not side_matrix.is_file():
            raise CompareError(f"{side.label} has no {relative}")
        side_env = _side_env(side, harness, base_env)
        if which == 0:
            side_env.update(extra)
        else:
            for key in extra:  # the baseline side never inherits the candidate's variable
                side_env.pop(key, None)
        code = run(bench_argv(side_matrix, block_dir, options), side.root, side_env)
        results_path = block_dir / "results.json"
        if not results_path.is_file():
            raise CompareError(f"measuring {side.label} wrote no {results_path} (exit {code})")
        results[which].append(json.loads(results_path.read_text(encoding="utf-8")))
    now, then = pool_blocks(results[0]), pool_blocks(results[1])
    if commit is not None:
        then["source"] = {"commit": commit, "branch": None, "dirty": False}
    now_path, ref_path = out / "compare" / "now.json", out / "compare" / "ref.json"
    now_path.write_text(json.dumps(now, indent=1), encoding="utf-8")
    ref_path.write_text(json.dumps(then, indent=1), encoding="utf-8")
    return now_path, ref_path


def subprocess_runner(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> int:
    """Run ``argv`` in ``cwd`` with ``env``, output passed through; the exit status."""
    return subprocess.run(list(argv), cwd=cwd, env=dict(env), check=False).returncode
