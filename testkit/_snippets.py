"""Docs that run: extract the code blocks of a Markdown file and run the runnable ones.

Every fenced code block is either runnable (``python``, ``ts``/``typescript``, ``bash``/``sh``)
or marked by an HTML comment on the line(s) right before its fence:

``<!-- fragment -->``
    part of a program, not run.
``<!-- fragment: mirrors PATH -->``
    not run; the complete program is the repository file PATH, which must exist.
``<!-- file: NAME -->``
    not run: written to NAME in the document's scratch directory, for later blocks to use.
``<!-- cwd: scratch -->`` / ``<!-- cwd: repo -->``
    where this block runs (default: the document's, see below).
``<!-- expect: TEXT -->``
    the block's output (stdout and stderr) must contain TEXT; may be repeated.
``<!-- exit: N -->``
    the block must exit with status N (default 0).

A document may say ``<!-- snippets: cwd=scratch -->`` once, anywhere: its blocks then run in its
scratch directory (a fresh temporary directory outside the repository) instead of the repository
root. The blocks of one document run in order and share that directory. Every block sees
``INTEROP_REPO`` (the repository root) in its environment, the testkit's Python first on PATH
(an activated virtualenv), then the checkout's Node 22 and Bun.

Python blocks run with the testkit's interpreter; TypeScript blocks with Node 22 as ``.mts``
modules, where ``@elizaos/interop`` resolves to this repository's sources (the scratch directory's
``node_modules``, when it has its own ``@elizaos/interop``, wins: that is what a reader outside
the repository installs); bash blocks with ``bash -euo pipefail``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "RUNNERS",
    "Block",
    "Problem",
    "check_document",
    "extract_blocks",
]

#: Fence languages that are run, and by what.
RUNNERS: dict[str, str] = {
    "python": "python",
    "py": "python",
    "ts": "typescript",
    "typescript": "typescript",
    "bash": "bash",
    "sh": "bash",
}
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
_COMMENT = re.compile(r"^\s*<!--\s*(?P<body>.*?)\s*-->\s*$")
_DOC_DIRECTIVE = re.compile(r"<!--\s*snippets:\s*cwd=(?P<cwd>scratch|repo)\s*-->")
_BLOCK_TIMEOUT_S = 300


@dataclass
class Block:
    """One fenced code block and the directives right before it."""

    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    fragment: bool = False
    mirrors: str | None = None
    file: str | None = None
    cwd: str | None = None
    expect: list[str] = field(default_factory=list)
    exit: int = 0

    @property
    def runner(self) -> str | None:
        """``python``, ``typescript`` or ``bash``; None when the language has no runner."""
        return RUNNERS.get(self.lang.lower())


@dataclass(frozen=True)
class Problem:
    """Why a document's block failed, with the output it gave."""

    doc: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.message}"


class DirectiveError(ValueError):
    """A directive comment that is not one of the documented ones."""


def _apply(block: Block, body: str, where: str) -> None:
    key, _, value = body.partition(":")
    key, value = key.strip(), value.strip()
    if key == "fragment":
        block.fragment = True
        if value:
            mirror = re.fullmatch(r"mirrors\s+(\S+)", value)
            if mirror is None:
                raise DirectiveError(f"{where}: expected <!-- fragment: mirrors PATH -->, found {body!r}")
            block.mirrors = mirror.group(1)
    elif key == "file" and value:
        block.file = value
    elif key == "cwd" and value in ("scratch", "repo"):
        block.cwd = value
    elif key == "expect" and value:
        block.expect.append(value)
    elif key == "exit" and value.lstrip("-").isdigit():
        block.exit = int(value)
    else:
        raise DirectiveError(
            f"{where}: unknown snippet directive <!-- {body} -->; expected fragment, "
            "fragment: mirrors PATH, file: NAME, cwd: scratch|repo, expect: TEXT or exit: N"
        )


def extract_blocks(text: str, doc: str = "<markdown>") -> list[Block]:
    """Every fenced code block of ``text`` with its directives (raises DirectiveError)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        fence, indent = match.group("fence"), len(match.group("indent"))
        block = Block(line=i + 1, lang=match.group("info"), code="")
        j = i - 1
        comments: list[str] = []
        while j >= 0 and (found := _COMMENT.match(lines[j])) is not None:
            body = found.group("body")
            if body.startswith(("snippets:", "matrix-status")):
                break
            comments.insert(0, body)
            j -= 1
        for body in comments:
            _apply(block, body, f"{doc}:{i + 1}")
        body_lines: list[str] = []
        i += 1
        while i < len(lines) and not (
            lines[i].strip().startswith(fence[0] * len(fence)) and lines[i].strip().strip(fence[0]) == ""
        ):
            body_lines.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        block.code = "\n".join(body_lines) + "\n"
        blocks.append(block)
        i += 1
    return blocks


def _node(repo: Path) -> str:
    """Node 22: ``ELIZAOS_NODE``, else the checkout's, else ``node`` on PATH."""
    chosen = os.environ.get("ELIZAOS_NODE")
    if chosen:
        return chosen
    local = repo / "plugins" / "typescript" / "node_modules" / ".bin" / "node"
    return str(local) if local.exists() else "node"


def _environment(repo: Path, base: Mapping[str, str] | None) -> dict[str, str]:
    """What a reader's shell has: the environment without the testkit's ``ELIZAOS_*`` exports,
    the testkit's Python first on PATH (an activated virtualenv), and INTEROP_REPO."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("ELIZAOS_")}
    if base is not None:
        env.update({k: v for k, v in base.items() if k.startswith("ELIZAOS_")})
    bin_dirs = [str(Path(sys.executable).parent)]
    js_bin = repo / "plugins" / "typescript" / "node_modules" / ".bin"
    if js_bin.is_dir():  # Node 22 and Bun, as the walkthroughs' setup installs them
        bin_dirs.append(str(js_bin))
    env["PATH"] = os.pathsep.join([*bin_dirs, env.get("PATH", "")])
    env["INTEROP_REPO"] = str(repo)
    env.pop("PYTHONPATH", None)
    return env


def _ts_home(scratch: Path, repo: Path) -> Path:
    """A directory whose ``node_modules/@elizaos/interop`` is this checkout's package (for
    TypeScript blocks of documents that run in the repository)."""
    home = scratch / ".snippet-ts"
    link = home / "node_modules" / "@elizaos" / "interop"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(repo / "plugins" / "typescript", target_is_directory=True)
    return home


def _run(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, str]:
    try:
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_BLOCK_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else ""
        return -1, f"timed out after {_BLOCK_TIMEOUT_S} s\n{out}"
    return done.returncode, done.stdout + done.stderr


def _tail(text: str, limit: int = 3000) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


def check_document(
    path: Path,
    repo: Path,
    *,
    scratch: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Run every runnable block of the Markdown file ``path`` in order; the problems found
    (an empty list when every block ran as its directives say)."""
    text = path.read_text(encoding="utf-8")
    doc = str(path.relative_to(repo)) if path.is_relative_to(repo) else str(path)
    try:
        blocks = extract_blocks(text, doc)
    except DirectiveError as exc:
        return [Problem(doc, 0, str(exc))]
    doc_cwd = "scratch" if (m := _DOC_DIRECTIVE.search(text)) and m.group("cwd") == "scratch" else "repo"
    problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="snippets-") as tmp:
        work = scratch or Path(tmp)
        run_env = _environment(repo, env)
        for n, block in enumerate(blocks):
            problem = _run_block(n, block, repo, work, doc_cwd, run_env)
            if problem:
                problems.append(Problem(doc, block.line, problem))
    return problems


def _run_block(n: int, block: Block, repo: Path, work: Path, doc_cwd: str, run_env: dict[str, str]) -> str:
    """Do what one block's directives say (check a mirror, skip a fragment, write a file, or run
    it); the problem found, '' when none."""
    where = f"```{block.lang or '(no language)'} block"
    if block.mirrors is not None:
        if not (repo / block.mirrors).exists():
            return f"{where} mirrors {block.mirrors}, which does not exist"
        return ""
    if block.fragment:
        return ""
    if block.file is not None:
        if Path(block.file).is_absolute() or ".." in Path(block.file).parts:
            return f"file: {block.file} must stay inside the scratch dir"
        target = work / block.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.code, encoding="utf-8")
        return ""
    runner = block.runner
    if runner is None:
        return (
            f"{where} has no runner (runnable: {', '.join(sorted(RUNNERS))}) and is not "
            "marked: put <!-- fragment --> (or <!-- fragment: mirrors PATH -->, "
            "<!-- file: NAME -->) on the line before its fence"
        )
    cwd = work if (block.cwd or doc_cwd) == "scratch" else repo
    code_dir = work / ".snippet-code"
    code_dir.mkdir(exist_ok=True)
    if runner == "python":
        source = code_dir / f"block{n}_line{block.line}.py"
        source.write_text(block.code, encoding="utf-8")
        argv = [sys.executable, str(source)]
    elif runner == "typescript":
        home = work if (work / "node_modules" / "@elizaos" / "interop").exists() else _ts_home(work, repo)
        source = home / f"snippet_block{n}_line{block.line}.mts"
        source.write_text(block.code, encoding="utf-8")
        argv = [_node(repo), "--conditions=interop-source", str(source)]
    else:
        argv = ["bash", "-euo", "pipefail", "-c", block.code]
    status, output = _run(argv, cwd, run_env)
    if status != block.exit:
        return f"{where} exited with status {status}, expected {block.exit}; output:\n" + _tail(output)
    missing = [text for text in block.expect if text not in output]
    if missing:
        return f"{where} output lacks {missing!r}; output:\n" + _tail(output)
    return ""
