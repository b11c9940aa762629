"""The checks ``interop-testkit certify`` runs: stable ids, requirement levels, protocol sections.

MUST checks are what the seed README and JSON-RPC framing require of any plugin; a plugin that
fails one does not work with a host written from the seed. SHOULD checks are this project's
stricter conventions (docs/protocol.md); they fail the verdict only under ``--strict``. MAY checks
exercise optional capabilities a plugin declares. ``testkit/README.md`` renders this table.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CHECKS", "LEVELS", "CheckSpec", "check_spec", "checks_markdown"]

LEVELS: tuple[str, ...] = ("MUST", "SHOULD", "MAY")


@dataclass(frozen=True)
class CheckSpec:
    """One check: its stable id, requirement level, the protocol.md section it enforces, and what
    it asks of the plugin."""

    id: str
    level: str
    section: str
    summary: str


CHECKS: tuple[CheckSpec, ...] = (
    # -- MUST: the seed and JSON-RPC framing ------------------------------------------------
    CheckSpec(
        "manifest",
        "MUST",
        "1, 3.3",
        "getManifest answers a well-typed manifest (unknown members are fine: must-ignore)",
    ),
    CheckSpec(
        "stdout-json",
        "MUST",
        "3.1",
        "every stdout line is one JSON object in valid UTF-8 (logging goes to stderr)",
    ),
    CheckSpec(
        "json-profile",
        "MUST",
        "2",
        "no NaN, Infinity or lone surrogates in anything the plugin sends",
    ),
    CheckSpec(
        "response-envelope",
        "MUST",
        "3.2",
        'each response has "id" and exactly one of "result" and "error"; '
        "an error is an object with an integer code and a string message",
    ),
    CheckSpec(
        "response-ids",
        "MUST",
        "3.2",
        "every request with an id gets exactly one answer carrying the same id (same JSON type)",
    ),
    CheckSpec(
        "pipelining",
        "MUST",
        "3.4",
        "requests written before the previous answer arrived are each answered, by id",
    ),
    CheckSpec(
        "declared-actions",
        "MUST",
        "3.3",
        "every declared action validates and runs under its own name with well-shaped results; "
        "ordinary inputs are not answered with unknown-name, invalid-params or -32003, and not "
        "every input fails",
    ),
    CheckSpec(
        "declared-providers",
        "MUST",
        "3.3",
        "every declared provider answers its own name with a well-shaped ProviderResult (same rules)",
    ),
    CheckSpec(
        "declared-evaluators",
        "MUST",
        "3.3",
        "every declared evaluator validates and runs under its own name with well-shaped results "
        "(same rules)",
    ),
    CheckSpec(
        "no-crash",
        "MUST",
        "3.3, 3.4",
        "the plugin keeps running whatever the input of the corpus (a failing handler is an error answer)",
    ),
    CheckSpec(
        "no-hang",
        "MUST",
        "3.5",
        "every request of the corpus is answered within the call time-out",
    ),
    CheckSpec(
        "runtime-requests",
        "MUST",
        "11.1, 12",
        "no runtime request is sent for a call whose params carry no runtime",
    ),
    CheckSpec(
        "host-load",
        "MUST",
        "7, 12",
        "the plugin loads through every selected host (python, node, bun, rust)",
    ),
    # -- SHOULD: this project's stricter conventions ----------------------------------------
    CheckSpec(
        "unknown-name-error",
        "SHOULD",
        "3.3",
        'an unknown action/provider/evaluator name is -32001 with data {"kind", "name"}',
    ),
    CheckSpec(
        "invalid-params-error",
        "SHOULD",
        "3.3",
        'a missing or mistyped param is -32602 with data {"param", "expected", "received"}',
    ),
    CheckSpec("unknown-method", "SHOULD", "3.3, 4", "an unknown method is -32601"),
    CheckSpec(
        "parse-error",
        "SHOULD",
        "3.5",
        'a line that is not JSON is answered {"id": null, "error": {"code": -32700}} and the plugin '
        "keeps serving",
    ),
    CheckSpec(
        "validate-boolean",
        "SHOULD",
        "3.3",
        'validate answers a bare boolean (hosts also accept {"valid": bool})',
    ),
    CheckSpec(
        "unusual-inputs",
        "SHOULD",
        "2, 3.3",
        "edge-case and generated inputs are answered with a result, -32602 or -32000, never -32003",
    ),
    CheckSpec(
        "runtime-gap",
        "SHOULD",
        "11",
        "handlers do not fail because the host lacks a runtime method "
        "(certify with --runtime WORLD.json to provide one)",
    ),
    CheckSpec("shutdown", "SHOULD", "3.3, 3.4", "shutdown is answered {} and the plugin exits 0"),
    CheckSpec("eof-exit", "SHOULD", "3.4", "on stdin EOF the plugin exits 0 within the grace period"),
    CheckSpec(
        "differential",
        "SHOULD",
        "2, 7",
        "the same inputs give the same results through every host (JSON value equality of section 2)",
    ),
    # -- MAY: declared optional capabilities -----------------------------------------------
    CheckSpec(
        "capabilities",
        "MAY",
        "12",
        "declared protocolVersion/capabilities are well-formed and the declared ones work",
    ),
    CheckSpec(
        "runtime-calls",
        "MAY",
        "11.2",
        "runtime requests are well-formed (id rt-<n>, params.call = the calling request, args an array)",
    ),
)

_BY_ID = {spec.id: spec for spec in CHECKS}


def check_spec(check_id: str) -> CheckSpec:
    """The spec of a check id; KeyError naming the known ids otherwise."""
    try:
        return _BY_ID[check_id]
    except KeyError:
        raise KeyError(f"unknown check id {check_id!r}; known: {', '.join(_BY_ID)}") from None


def checks_markdown() -> str:
    """The check table as Markdown (rendered in testkit/README.md)."""
    rows = ["| id | level | protocol.md | what the plugin must do |", "|---|---|---|---|"]
    rows += [f"| `{c.id}` | {c.level} | {c.section} | {c.summary} |" for c in CHECKS]
    return "\n".join(rows)
