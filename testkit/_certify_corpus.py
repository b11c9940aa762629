"""The inputs ``certify`` sends to every declared action, provider and evaluator.

Three kinds, in this order:

- ``ordinary``: what real conversations look like: the texts of the plugin's own manifest
  ``examples`` (elizaOS shape: lists of ``[{name, content: {text}}]`` turns), the seed README's
  example messages, and ELIZA transcript lines (docs/vectors/eliza-transcript.json). A plugin MUST
  answer these per spec.
- ``edge``: the shared JSON edge cases (docs/vectors/json-edge-cases.json), with Latin-1 and other
  BMP text beside the astral characters.
- ``fuzz``: hypothesis-generated Memory/State/Options, seeded so a run is reproducible.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from testkit._jsonprofile import load_edge_cases
from testkit._resources import vectors_dir

__all__ = ["SEED_MESSAGES", "Input", "build_corpus", "in_world", "manifest_example_texts"]

#: The seed README's example messages.
SEED_MESSAGES: tuple[str, ...] = ("I am feeling sad", "Hello")

#: Text outside ASCII but inside the BMP, beside the astral cases of the vector file.
BMP_TEXTS: tuple[tuple[str, str], ...] = (
    ("latin-1", "Caf\u00e9 na\u00efve r\u00e9sum\u00e9, gr\u00fc\u00dfe aus K\u00f6ln \u00a9 \u00bd \u00ff"),
    ("nbsp-and-soft-hyphen", "non\u00a0breaking\u00adhyphen"),
    ("greek-cyrillic", "\u03a9\u03bc\u03ad\u03b3\u03b1 \u041f\u0440\u0438\u0432\u0435\u0442"),
    ("cjk", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \ud55c\uad6d\uc5b4"),
    ("line-separators", "one\u2028two\u2029three"),
    ("private-use", "\ue000\uf8ff"),
)

_NS = uuid.UUID("6f1b5f0e-4b0c-4a39-9a36-0c4d5e6f7a8b")
_ELIZA_LINES = 12
_EXAMPLE_TEXTS = 16


@dataclass(frozen=True)
class Input:
    """One input of the corpus: a label a human can find again, its kind, and the payloads."""

    label: str
    kind: str
    memory: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def ordinary(self) -> bool:
        """True for inputs every plugin must answer per spec."""
        return self.kind == "ordinary"

    def params(self, method: str, name: Any) -> dict[str, Any]:
        """The params of ``method`` for item ``name`` with this input."""
        params: dict[str, Any] = {"name": name, "memory": self.memory, "state": self.state}
        if method == "invokeAction":
            params["options"] = self.options
        return params


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def memory_for(text: str | None, key: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An elizaOS-shaped Memory (ids are stable UUIDs derived from ``key``)."""
    content: dict[str, Any] = {"source": "certify"}
    if text is not None:
        content["text"] = text
    if extra:
        content.update(extra)
    return {
        "id": _uid("memory", key),
        "entityId": _uid("entity", "user"),
        "agentId": _uid("agent"),
        "roomId": _uid("room", "certify"),
        "content": content,
        "createdAt": 1_700_000_000_000,
    }


ORDINARY_STATE: dict[str, Any] = {"values": {}, "data": {}, "text": ""}


def in_world(memory: dict[str, Any], world: dict[str, Any] | None) -> dict[str, Any]:
    """``memory`` as a message of the World's agent (``--runtime``): sent in its first room by its
    first entity other than the agent, as an agent's messages always are. Without a World, or
    where the World has no rooms or entities, the memory's own ids stay."""
    if world is None:
        return memory
    placed = dict(memory)
    agent = world.get("agentId")
    if isinstance(agent, str):
        placed["agentId"] = agent
    rooms = [r for r in world.get("rooms") or [] if isinstance(r, dict) and isinstance(r.get("id"), str)]
    if rooms:
        placed["roomId"] = rooms[0]["id"]
    entities = [
        e["id"]
        for e in world.get("entities") or []
        if isinstance(e, dict) and isinstance(e.get("id"), str) and e["id"] != agent
    ]
    if entities:
        placed["entityId"] = entities[0]
    return placed


def _texts_in(value: Any) -> Iterator[str]:
    """Every ``content.text`` string in an elizaOS ``examples`` structure, in order."""
    if isinstance(value, dict):
        content = value.get("content")
        if isinstance(content, dict) and isinstance(content.get("text"), str):
            yield content["text"]
        for key, child in value.items():
            if key != "content":
                yield from _texts_in(child)
    elif isinstance(value, list):
        for child in value:
            yield from _texts_in(child)


def manifest_example_texts(manifest: Any) -> list[str]:
    """Distinct example texts of every descriptor of a manifest (first ones first, capped)."""
    out: list[str] = []
    if not isinstance(manifest, dict):
        return out
    for kind in ("actions", "providers", "evaluators"):
        items = manifest.get(kind)
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict):
                for text in _texts_in(item.get("examples")):
                    if text and text not in out:
                        out.append(text)
    return out[:_EXAMPLE_TEXTS]


def _eliza_inputs() -> list[str]:
    try:
        data = json.loads((vectors_dir() / "eliza-transcript.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    lines = [
        ex["input"]
        for session in data.get("sessions", [])
        for ex in session.get("exchanges", [])
        if isinstance(ex.get("input"), str)
    ]
    if len(lines) <= _ELIZA_LINES:
        return lines
    step = len(lines) / _ELIZA_LINES
    return [lines[int(i * step)] for i in range(_ELIZA_LINES)]


def ordinary_inputs(manifest: Any, world: dict[str, Any] | None = None) -> list[Input]:
    """Ordinary inputs: seed messages, the manifest's own examples, ELIZA lines (placed in the
    World's first room when certifying with ``--runtime``)."""
    inputs: list[Input] = []
    seen: set[str] = set()

    def add(label: str, text: str) -> None:
        if text in seen:
            return
        seen.add(text)
        memory = in_world(memory_for(text, label), world)
        inputs.append(Input(label, "ordinary", memory, ORDINARY_STATE, {}))

    for text in SEED_MESSAGES:
        add(f"seed message {text!r}", text)
    for i, text in enumerate(manifest_example_texts(manifest)):
        add(f"manifest example {i + 1} {text[:40]!r}", text)
    for i, text in enumerate(_eliza_inputs()):
        add(f"ELIZA transcript line {i + 1} {text[:40]!r}", text)
    return inputs


def edge_inputs() -> list[Input]:
    """The shared JSON edge cases (value at memory.content.value, strings also as text) and BMP text."""
    inputs: list[Input] = []
    for case in load_edge_cases(vectors_dir() / "json-edge-cases.json"):
        value = case["value"]
        text = value if isinstance(value, str) else f"edge case {case['name']}"
        label = f"edge case {case['name']}"
        inputs.append(Input(label, "edge", memory_for(text, label, {"value": value}), {}, {}))
    for name, text in BMP_TEXTS:
        label = f"edge case {name}"
        inputs.append(Input(label, "edge", memory_for(text, label), {}, {}))
    inputs.append(Input("edge case no content.text", "edge", memory_for(None, "no-text"), {}, {}))
    return inputs


def fuzz_inputs(count: int, seed: int) -> list[Input]:
    """``count`` hypothesis-generated (Memory, State, Options), reproducible for a given ``seed``."""
    if count <= 0:
        return []
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    from testkit._strategies import json_objects, memories

    found: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []

    @hseed(seed)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(memories(), json_objects(), json_objects())
    def collect(memory: dict[str, Any], state: dict[str, Any], options: dict[str, Any]) -> None:
        if len(found) < count:
            found.append((memory, state, options))

    collect()
    return [
        Input(f"generated input {i + 1} (--seed {seed})", "fuzz", m, s, o)
        for i, (m, s, o) in enumerate(found)
    ]


def build_corpus(
    manifest: Any, fuzz_examples: int, seed: int, world: dict[str, Any] | None = None
) -> list[Input]:
    """Every input, ordinary first."""
    return ordinary_inputs(manifest, world) + edge_inputs() + fuzz_inputs(fuzz_examples, seed)
