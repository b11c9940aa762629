"""Docs that run: every code block of the READMEs and walkthroughs is run or marked (testkit/_snippets.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit._snippets import check_document, extract_blocks

REPO = Path(__file__).resolve().parents[2]
DOCS = [
    "README.md",
    "plugins/python/README.md",
    "plugins/typescript/README.md",
    "plugins/rust/README.md",
    *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("first-plugin-*.md")),
]


@pytest.mark.parametrize("doc", DOCS)
def test_every_block_runs_or_is_marked(doc: str) -> None:
    problems = check_document(REPO / doc, REPO)
    assert not problems, "\n\n".join(str(p) for p in problems)


def test_each_readme_has_runnable_blocks() -> None:
    for doc in ("README.md", "plugins/python/README.md", "plugins/typescript/README.md"):
        blocks = extract_blocks((REPO / doc).read_text(encoding="utf-8"))
        assert any(b.runner and not b.fragment and b.file is None for b in blocks), doc


def _doc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_broken_python_snippet_is_reported(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "# t\n\n```python\nprint(undefined_name)\n```\n")
    (problem,) = check_document(doc, REPO)
    assert problem.line == 3
    assert "exited with status 1" in problem.message
    assert "NameError: name 'undefined_name' is not defined" in problem.message


def test_top_level_await_in_python_is_reported(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "```python\nimport asyncio\nawait asyncio.sleep(0)\n```\n")
    (problem,) = check_document(doc, REPO)
    assert "SyntaxError" in problem.message


def test_a_broken_typescript_snippet_is_reported(tmp_path: Path) -> None:
    doc = _doc(tmp_path, 'Text.\n\n```ts\nimport { nothing } from "@elizaos/interop";\nnothing();\n```\n')
    (problem,) = check_document(doc, REPO)
    assert "```ts block exited with status 1" in problem.message


def test_a_working_typescript_snippet_resolves_the_package(tmp_path: Path) -> None:
    doc = _doc(
        tmp_path,
        '<!-- expect: function -->\n```typescript\nimport { loadWasmPlugin } from "@elizaos/interop";\n'
        "console.log(typeof loadWasmPlugin);\n```\n",
    )
    assert check_document(doc, REPO) == []


def test_an_unmarked_block_without_runner_is_reported(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "```toml\n[x]\ny = 1\n```\n")
    (problem,) = check_document(doc, REPO)
    assert "<!-- fragment -->" in problem.message


def test_fragments_are_not_run_and_mirrors_must_exist(tmp_path: Path) -> None:
    doc = _doc(
        tmp_path,
        "<!-- fragment -->\n```python\nraise SystemExit(3)\n```\n\n"
        "<!-- fragment: mirrors plugins/rust/elizaos/examples/rust_loads_python.rs -->\n"
        "```rust\nfn x() {}\n```\n\n"
        "<!-- fragment: mirrors no/such/example.rs -->\n```rust\nfn y() {}\n```\n",
    )
    (problem,) = check_document(doc, REPO)
    assert "mirrors no/such/example.rs, which does not exist" in problem.message


def test_files_expectations_and_exit_status(tmp_path: Path) -> None:
    doc = _doc(
        tmp_path,
        "<!-- snippets: cwd=scratch -->\n"
        "<!-- file: sub/hello.txt -->\n```text\nhello file\n```\n\n"
        "<!-- expect: hello file -->\n```bash\ncat sub/hello.txt\n```\n\n"
        '<!-- exit: 3 -->\n```sh\necho "$INTEROP_REPO"; exit 3\n```\n\n'
        "<!-- expect: not printed -->\n```bash\necho something else\n```\n",
    )
    (problem,) = check_document(doc, REPO)
    assert problem.line == 18
    assert "lacks ['not printed']" in problem.message


def test_an_unknown_directive_is_reported(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "<!-- fragmnet -->\n```python\npass\n```\n")
    (problem,) = check_document(doc, REPO)
    assert "unknown snippet directive" in problem.message
