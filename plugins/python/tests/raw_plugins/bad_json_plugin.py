"""A raw IPC plugin whose answer to ``invokeAction`` breaks the JSON profile (protocol.md 2, 3.5).

Usage: ``bad_json_plugin.py MODE``. ``getManifest`` is answered correctly; every
``invokeAction`` is answered with the line MODE names (written as raw bytes):

- ``nan``, ``infinity``, ``minus-infinity``: a result holding that non-JSON constant;
- ``surrogate``: a string holding a lone ``\\ud800`` escape;
- ``utf8``: a string holding the byte 0xff;
- ``string-id``: the right answer with the id as a string (``"1"`` for ``1``);
- ``float-id``: the right answer with the id as a float (``1.0`` for ``1``);
- ``pair``: a valid astral character written as an escaped surrogate pair (accepted).
"""

from __future__ import annotations

import json
import sys

MODE = sys.argv[1]
MANIFEST = {
    "name": "bad-json",
    "description": "Answers outside the JSON profile",
    "version": "1.0.0",
    "language": "python",
    "actions": [{"name": "go", "description": "Answer badly"}],
    "providers": [],
    "evaluators": [],
}
BODIES = {
    "nan": b'{"success":true,"values":{"x":NaN}}',
    "infinity": b'{"success":true,"values":{"x":Infinity}}',
    "minus-infinity": b'{"success":true,"values":{"x":-Infinity}}',
    "surrogate": b'{"success":true,"text":"\\ud800"}',
    "utf8": b'{"success":true,"text":"\xff"}',
    "pair": b'{"success":true,"text":"\\ud83d\\ude00"}',
    "string-id": b'{"success":true}',
    "float-id": b'{"success":true}',
}

out = sys.stdout.buffer
for line in sys.stdin.buffer:
    request = json.loads(line)
    req_id = request["id"]
    if request["method"] == "getManifest":
        out.write(json.dumps({"id": req_id, "result": MANIFEST}).encode() + b"\n")
    elif request["method"] == "invokeAction":
        as_sent = {"string-id": str(req_id), "float-id": float(req_id)}.get(MODE, req_id)
        wire_id = json.dumps(as_sent).encode()
        out.write(b'{"id":' + wire_id + b',"result":' + BODIES[MODE] + b"}\n")
    else:
        out.write(json.dumps({"id": req_id, "result": {}}).encode() + b"\n")
    out.flush()
