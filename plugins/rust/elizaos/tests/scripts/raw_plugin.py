"""A raw IPC plugin for the Rust host's tests, written against the wire alone (no SDK).

Usage: raw_plugin.py MODE. Every mode answers getManifest; then:

With RAW_PLUGIN_LOG set, every host request is also appended to that file.

- seed: the seed README's dialect: a manifest without protocolVersion, init answers
  {"success": true}, validate answers {"valid": ...}, an unknown name is -32602, no shutdown
  method (-32601). Every request is logged on stderr as "got <method> <params>".
- surrogate / nan / bad-utf8 / string-id / float-id: invokeAction answers with a lone
  surrogate escape, a NaN, a byte that is not UTF-8, the id as a string, or the id as a float.
- runtime: declares the "runtime" capability. invokeAction sends the runtime requests listed in
  options.calls ([{"method", "args", "call"?, "rawArgs"?}], "call" overriding params.call,
  "rawArgs" replacing params.args with any JSON value), waits for every answer, and returns
  them in data.answers (the whole response objects, in order). Host requests that arrive
  meanwhile are answered at once (getProvider returns the runtime context it received).
"""

import json
import os
import sys

MODE = sys.argv[1]
LOG = os.environ.get("RAW_PLUGIN_LOG")


def send(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def send_raw(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def manifest() -> dict:
    m = {
        "name": "raw-" + MODE,
        "description": "raw wire-level plugin",
        "version": "1.0.0",
        "language": "python",
        "actions": [{"name": "act", "description": "an action"}],
        "providers": [{"name": "echo-runtime", "description": "the runtime context"}],
        "evaluators": [],
    }
    if MODE == "seed":
        m["examples"] = [[{"name": "user", "content": {"text": "hi"}}]]
    else:
        m["protocolVersion"] = 1
        m["capabilities"] = ["runtime", "shutdown"] if MODE == "runtime" else ["shutdown"]
    return m


def answer_host(req: dict) -> None:
    rid, method, params = req.get("id"), req["method"], req.get("params", {})
    line = f"got {method} {json.dumps(params, sort_keys=True)}"
    print(line, file=sys.stderr, flush=True)
    if LOG:
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(line + "\n")
    if method == "getManifest":
        send({"id": rid, "result": manifest()})
    elif method == "shutdown" and MODE != "seed":
        send({"id": rid, "result": {}})
        sys.exit(0)
    elif method == "init":
        send({"id": rid, "result": {"success": True} if MODE == "seed" else {}})
    elif method in ("validateAction", "validateEvaluator"):
        if params.get("name") != "act":
            send({"id": rid, "error": {"code": -32602, "message": "Unknown action"}})
        else:
            send({"id": rid, "result": {"valid": True} if MODE == "seed" else True})
    elif method == "getProvider":
        send({"id": rid, "result": {"data": {"runtime": params.get("runtime")}}})
    elif method == "invokeAction":
        if params.get("name") != "act":
            unknown = f"Unknown action: {params.get('name')}"
            send({"id": rid, "error": {"code": -32602, "message": unknown}})
        elif MODE == "surrogate":
            send_raw('{"id": ' + json.dumps(rid) + ', "result": {"success": true, "text": "\\ud800"}}')
        elif MODE == "nan":
            send_raw('{"id": ' + json.dumps(rid) + ', "result": {"success": true, "values": {"x": NaN}}}')
        elif MODE == "bad-utf8":
            sys.stdout.flush()
            sys.stdout.buffer.write(
                b'{"id": ' + json.dumps(rid).encode() + b', "result": {"success": true, "text": "\xff"}}\n'
            )
            sys.stdout.buffer.flush()
        elif MODE == "string-id":
            send({"id": str(rid), "result": {"success": True}})
        elif MODE == "float-id":
            send_raw('{"id": ' + json.dumps(rid) + '.0, "result": {"success": true}}')
        elif MODE == "runtime":
            run_runtime_calls(rid, params)
        else:
            send({"id": rid, "result": {"success": True, "extra": "kept"}})
    else:
        send({"id": rid, "error": {"code": -32601, "message": "method not found: " + method}})


def run_runtime_calls(rid: object, params: dict) -> None:
    calls = params.get("options", {}).get("calls", [])
    ids = []
    for n, c in enumerate(calls):
        rt_id = f"rt-{n + 1}"
        ids.append(rt_id)
        p = {"call": c.get("call", rid), "args": c.get("args", [])}
        if "rawArgs" in c:
            p["args"] = c["rawArgs"]
        send({"id": rt_id, "method": "runtime." + c["method"], "params": p})
    answers = {}
    while len(answers) < len(ids):
        line = sys.stdin.readline()
        if not line:
            sys.exit(0)
        msg = json.loads(line)
        if "method" in msg:
            answer_host(msg)
        else:
            answers[msg["id"]] = msg
    send({"id": rid, "result": {"success": True, "data": {"answers": [answers[i] for i in ids]}}})


for raw in sys.stdin:
    if raw.strip():
        answer_host(json.loads(raw))
