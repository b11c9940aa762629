"""An IPC plugin written only from the seed README's text: no SDK, no section 11 or 12.

It speaks the seed's dialect as a third-party author would: the manifest carries elizaOS members
the protocol does not define (``examples``, ``config``, ``dependencies``, ``priority``), the name
is scoped, ``init`` answers ``{"success": true}``, validate answers ``{"valid": bool}``, results
carry extra members, an unknown name is -32602 and there is no ``shutdown`` method.

Usage: ``seed_plugin.py LOG [CAPABILITIES]``. Every request line received is appended to ``LOG``
(one JSON line each) so tests can see what the host sent. ``CAPABILITIES``, a comma-separated
list, makes the manifest declare ``"protocolVersion": 1`` and those capabilities; with
``shutdown`` among them the plugin answers ``shutdown`` and exits.
"""

from __future__ import annotations

import json
import sys
from typing import Any

LOG = sys.argv[1]
CAPABILITIES = [c for c in (sys.argv[2] if len(sys.argv) > 2 else "").split(",") if c]

MANIFEST: dict[str, Any] = {
    "name": "@elizaos/plugin-seed",
    "description": "A plugin written from the seed README",
    "version": "0.1.0-alpha.1",
    "language": "python",
    "config": {"SEED_API_KEY": None},
    "dependencies": ["@elizaos/plugin-sql"],
    "priority": 5,
    "actions": [
        {
            "name": "GREET",
            "description": "Say hello",
            "similes": ["HELLO"],
            "examples": [[{"name": "user", "content": {"text": "hi"}}]],
        },
        {"name": "STRANGE", "description": "Answers with members nobody defined"},
    ],
    "providers": [{"name": "TIME", "description": "The time", "position": -1, "dynamic": True}],
    "evaluators": [
        {
            "name": "REFLECT",
            "description": "Reflect",
            "examples": [{"prompt": "p", "messages": [], "outcome": "o"}],
        }
    ],
}
if CAPABILITIES:
    MANIFEST["protocolVersion"] = 1
    MANIFEST["capabilities"] = CAPABILITIES

NAMES = {
    "Action": {"GREET", "STRANGE"},
    "Provider": {"TIME"},
    "Evaluator": {"REFLECT"},
}


BROKEN: dict[str, Any] = {
    "TYPO": {"sucess": True},
    "BAD_SUCCESS": {"success": "yes"},
    "BAD_TEXT": {"success": True, "text": 5},
    "BAD_VALUES": {"success": True, "values": [1]},
    "NOT_OBJECT": [True],
}
"""Unlisted action names answering something that is not an ActionResult (host-side checks)."""


def answer(method: str, params: dict[str, Any]) -> Any:
    """The result for one request, or raise KeyError for an unknown name."""
    if method == "getManifest":
        return MANIFEST
    if method == "init":
        return {"success": True}
    name = params.get("name")
    if name in BROKEN:
        if method == "getProvider":
            return {"BAD_TEXT": {"text": 5}, "BAD_VALUES": {"values": [1]}}.get(name, "nope")
        if method.startswith("validate"):
            return {"valid": "yes"} if name == "BAD_SUCCESS" else "yes"
        return BROKEN[name]
    kind = method.removeprefix("validate").removeprefix("invoke").removeprefix("get")
    if name not in NAMES.get(kind, set()):
        raise KeyError(name)
    if method.startswith("validate"):
        return {"valid": name != "STRANGE"}
    if method == "getProvider":
        return {"text": "noon", "values": {"hour": 12}, "position": -1, "text2": None}
    if method == "invokeEvaluator":
        return {"success": True, "text": "reflected", "score": 0.5}
    if name == "STRANGE":
        return {"success": True, "text": None, "confidence": 0.9, "nested": {"a": [1]}}
    return {"success": True, "text": "hello", "data": {"actions": ["GREET"]}, "extra": None}


def main() -> None:
    out = sys.stdout
    with open(LOG, "a", encoding="utf-8") as log:
        for line in sys.stdin:
            log.write(line if line.endswith("\n") else line + "\n")
            log.flush()
            request = json.loads(line)
            req_id, method = request["id"], request["method"]
            params = request.get("params") or {}
            if method == "shutdown" and "shutdown" in CAPABILITIES:
                out.write(json.dumps({"id": req_id, "result": {}}) + "\n")
                out.flush()
                return
            known = method in (
                "getManifest",
                "init",
                "validateAction",
                "invokeAction",
                "getProvider",
                "validateEvaluator",
                "invokeEvaluator",
            )
            if not known:
                response: dict[str, Any] = {
                    "id": req_id,
                    "error": {"code": -32601, "message": f"Method not found: {method}"},
                }
            else:
                try:
                    response = {"id": req_id, "result": answer(method, params)}
                except KeyError:
                    response = {
                        "id": req_id,
                        "error": {"code": -32602, "message": f"Unknown: {params.get('name')}"},
                    }
            out.write(json.dumps(response) + "\n")
            out.flush()


main()
