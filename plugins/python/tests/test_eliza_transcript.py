"""The Python eliza-classic port against the shared transcript (docs/eliza.md).

The engine is replayed in-process, then the plugin is replayed through the real IPC bridge
(``load_python_plugin``), one fresh plugin process per session, so both the algorithm and the
plugin surface of protocol.md section 9 are pinned by the same vectors as the Rust and TS ports.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "plugins" / "python" / "fixtures"
PLUGIN_DIR = FIXTURES / "eliza_classic"
TRANSCRIPT = json.loads((REPO / "docs/vectors/eliza-transcript.json").read_text(encoding="utf-8"))
SCRIPT = json.loads((REPO / "docs/vectors/eliza-doctor.json").read_text(encoding="utf-8"))
SESSIONS: list[dict[str, Any]] = TRANSCRIPT["sessions"]
GREETING = "How do you do. Please tell me your problem."

if str(FIXTURES) not in sys.path:
    sys.path.insert(0, str(FIXTURES))

from eliza_classic import create_plugin  # noqa: E402
from eliza_classic.engine import (  # noqa: E402
    Eliza,
    ScriptError,
    parse_script,
    tokenize,
)

from elizaos_interop import load_python_plugin  # noqa: E402


def test_transcript_is_substantial() -> None:
    """The shared vectors exercise enough of the script to mean something."""
    main = next(s for s in SESSIONS if s["name"] == "doctor")
    assert len(main["exchanges"]) >= 60
    assert TRANSCRIPT["greeting"] == GREETING
    seed = next(s for s in SESSIONS if s["name"] == "seed-demo")
    assert seed["exchanges"][0]["input"] == "I am feeling sad"


@pytest.mark.parametrize("session", SESSIONS, ids=[s["name"] for s in SESSIONS])
def test_engine_replays_transcript(session: dict[str, Any]) -> None:
    eliza = Eliza()
    for step, exchange in enumerate(session["exchanges"]):
        reply = eliza.respond(exchange["input"])
        assert reply == exchange["reply"], f"{session['name']} step {step}: {exchange['input']!r}"


def test_greeting_is_the_scripts() -> None:
    assert Eliza.greeting() == GREETING == SCRIPT["greeting"]


def test_instances_do_not_share_state() -> None:
    first, second = Eliza(), Eliza()
    assert first.respond("I am feeling sad") == "I am sorry to hear you are sad."
    assert first.respond("I am feeling sad") != "I am sorry to hear you are sad."
    assert second.respond("I am feeling sad") == "I am sorry to hear you are sad."


def test_tokenize_folds_ascii_only_and_splits_clauses() -> None:
    pre = {"i'm": ("i", "am")}
    assert tokenize("I'm SÄD, but 'OK'!  x", pre) == [["i", "am", "sÄd"], ["ok"], ["x"]]
    assert tokenize("", pre) == []
    assert tokenize(" .,;:!? ", pre) == []


def test_long_clause_is_cut_to_64_words() -> None:
    (clause,) = tokenize(" ".join(f"w{i}" for i in range(100)), {})
    assert clause == [f"w{i}" for i in range(64)]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s["keywords"][0]["rules"][0]["reassembly"].append("goto nowhere"), "nowhere"),
        (lambda s: s["keywords"][0]["rules"][0]["reassembly"].append("say {9}"), "{9}"),
        (lambda s: s["keywords"].append(copy.deepcopy(s["keywords"][0])), "duplicate keyword"),
        (lambda s: s["keywords"][0]["rules"][0].update(pattern="* @nogroup *"), "@nogroup"),
        (lambda s: s["memory"].update(keyword="zzz"), "$.memory.keyword"),
        (lambda s: s.update(none=[]), "$.none"),
        (lambda s: s["keywords"][1].update(rank="5"), "$.keywords[1].rank"),
        (lambda s: s["memory"]["reassembly"].append("newkey"), "$.memory.reassembly"),
    ],
)
def test_bad_script_is_rejected_with_its_location(mutate: Any, message: str) -> None:
    script = copy.deepcopy(SCRIPT)
    mutate(script)
    with pytest.raises(ScriptError, match=re.escape(message)):
        parse_script(script)


def _memory(text: Any) -> dict[str, Any]:
    return {"content": {"text": text}}


async def _replay_over_ipc(session: dict[str, Any]) -> list[str]:
    with load_python_plugin(str(PLUGIN_DIR)) as plugin:
        action = plugin.actions[0]
        replies: list[str] = []
        for exchange in session["exchanges"]:
            result = await action.handler(None, _memory(exchange["input"]), {}, {})
            assert result.success is True
            replies.append(result.text)
        return replies


@pytest.mark.parametrize("session", SESSIONS, ids=[s["name"] for s in SESSIONS])
def test_plugin_over_ipc_replays_transcript(session: dict[str, Any]) -> None:
    replies = asyncio.run(_replay_over_ipc(session))
    assert replies == [e["reply"] for e in session["exchanges"]]


async def _surface() -> None:
    with load_python_plugin(str(PLUGIN_DIR)) as plugin:
        manifest = plugin.manifest
        assert manifest["name"] == "eliza-classic"
        assert manifest["language"] == "python"
        assert manifest["version"] == "1.0.0"
        assert [a["name"] for a in manifest["actions"]] == ["generate-response"]
        assert [p["name"] for p in manifest["providers"]] == ["eliza-greeting"]
        assert manifest["evaluators"] == []
        assert await plugin.validate_action("generate-response", _memory("hi"), {}) is True
        greeting = await plugin.get_provider("eliza-greeting", _memory("hi"), {})
        assert greeting == {"text": GREETING}
        # A memory without text is answered as the empty input: the first NONE reply, then
        # the second (the NONE counter advances per call in this plugin instance).
        first = await plugin.invoke_action("generate-response", {"content": {}}, {}, {})
        assert first == {"success": True, "text": "I am not sure I understand you fully."}
        second = await plugin.invoke_action("generate-response", {"content": {"x": 1}}, {}, {})
        assert second == {"success": True, "text": "Please go on."}


def test_plugin_surface_over_ipc() -> None:
    asyncio.run(_surface())


async def _in_process_non_string_text() -> list[Any]:
    action = create_plugin().actions[0]
    memories: list[dict[str, Any]] = [_memory(42), _memory(None), {"content": "x"}, {}]
    return [await action.handler(None, m, {}, {}) for m in memories]


def test_plugin_in_process_treats_non_string_text_as_empty() -> None:
    """Hosts refuse a non-string ``content.text`` (Memory schema); the handler still copes."""
    fresh = Eliza()
    expected = [{"success": True, "text": fresh.respond("")} for _ in range(4)]
    assert asyncio.run(_in_process_non_string_text()) == expected
