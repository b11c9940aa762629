"""The certify corpus: the plugin's own examples, the seed's messages, edge cases with BMP and
astral text, and reproducible generated inputs."""

from __future__ import annotations

from testkit._certify_corpus import build_corpus, fuzz_inputs, manifest_example_texts, ordinary_inputs

ELIZAOS_MANIFEST = {
    "actions": [
        {
            "name": "REPLY",
            "examples": [
                [
                    {"name": "{{name1}}", "content": {"text": "Can you help me?"}},
                    {"name": "{{agentName}}", "content": {"text": "Of course.", "actions": ["REPLY"]}},
                ]
            ],
        },
        {"name": "NONE", "examples": "not a list"},
    ],
    "evaluators": [
        {
            "name": "REFLECTION",
            "examples": [{"prompt": "p", "messages": [{"name": "u", "content": {"text": "I feel great"}}]}],
        }
    ],
    "providers": "not a list",
}


def test_example_texts_come_from_every_elizaos_shape() -> None:
    assert manifest_example_texts(ELIZAOS_MANIFEST) == ["Can you help me?", "Of course.", "I feel great"]
    assert manifest_example_texts("not a manifest") == []


def test_ordinary_inputs_start_with_the_seed_messages_and_carry_the_examples() -> None:
    inputs = ordinary_inputs(ELIZAOS_MANIFEST)
    texts = [i.memory["content"].get("text") for i in inputs]
    assert texts[:2] == ["I am feeling sad", "Hello"]
    assert "Can you help me?" in texts
    assert all(i.ordinary for i in inputs)
    assert len(texts) == len(set(texts))


def test_edge_inputs_hold_latin1_bmp_and_astral_text() -> None:
    corpus = build_corpus({}, 0, 0)
    texts = "".join(str(i.memory["content"].get("text", "")) for i in corpus if i.kind == "edge")
    assert "\u00e9" in texts  # Latin-1
    assert "\u65e5" in texts  # CJK (BMP)
    assert any(ord(c) > 0xFFFF for c in texts)  # astral


def test_generated_inputs_are_reproducible_per_seed() -> None:
    first = [(i.memory, i.state, i.options) for i in fuzz_inputs(8, 3)]
    again = [(i.memory, i.state, i.options) for i in fuzz_inputs(8, 3)]
    assert first == again
    assert len(first) == 8
    assert all(isinstance(m.get("content"), dict) for m, _s, _o in first)


def test_runtime_gap_classification() -> None:
    from testkit._certify_channel import Reply
    from testkit._certify_exercise import _is_gap

    def gap(message: str, exception: str = "Error") -> str:
        return _is_gap(Reply("error", code=-32000, message=message, data={"exception": exception}))

    assert gap("runtime.getRoom is not provided by the host", "RuntimeUnavailableError") == "getRoom"
    assert gap("runtime.getRoom is not a function", "TypeError") == "getRoom"
    assert gap("'Runtime' object has no attribute 'get_room'", "AttributeError") == "?"
    assert gap("database offline", "RuntimeCallError") == "*"
    assert gap("room not found") == ""
    assert gap("Cannot read properties of undefined (reading 'text')", "TypeError") == ""
