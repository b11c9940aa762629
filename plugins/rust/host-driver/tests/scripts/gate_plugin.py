"""An IPC plugin written against the wire alone, for the driver's pipelining test.

Its one action, `wait`, answers only once something has been written to the FIFO named by
`options.gate`: the test opens the gate after it has seen the answers that must come first, so
the order of the answers is fixed by the protocol, not by timing.
"""

import json
import sys


def send(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


MANIFEST = {
    "name": "gate",
    "description": "answers when the test opens the gate",
    "version": "1.0.0",
    "language": "python",
    "actions": [{"name": "wait", "description": "wait for the gate"}],
    "providers": [],
    "evaluators": [],
    "protocolVersion": 1,
    "capabilities": ["shutdown"],
}

for raw in sys.stdin:
    if not raw.strip():
        continue
    req = json.loads(raw)
    rid, method, params = req.get("id"), req.get("method"), req.get("params") or {}
    if method == "getManifest":
        send({"id": rid, "result": MANIFEST})
    elif method == "init":
        send({"id": rid, "result": {}})
    elif method == "shutdown":
        send({"id": rid, "result": {}})
        sys.exit(0)
    elif method == "invokeAction" and params.get("name") == "wait":
        with open(params.get("options", {})["gate"], encoding="utf-8") as gate:
            gate.read()
        send({"id": rid, "result": {"success": True, "text": "opened"}})
    else:
        send({"id": rid, "error": {"code": -32601, "message": "method not found: " + str(method)}})
