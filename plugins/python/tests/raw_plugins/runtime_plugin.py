"""A raw IPC plugin (no SDK) that calls its host's runtime (protocol.md section 11).

It declares ``"protocolVersion": 1`` and ``"capabilities": ["runtime"]`` and serves requests
one line at a time, single-threaded: a call that waits for runtime answers is a generator
parked until they arrive, while other host requests (including ones the host's runtime method
makes re-entrantly) are served in the meantime.

- action ``CALL``: for each ``{"method", "args"}`` in ``options.calls``, sends
  ``runtime.<method>`` with ``{"call": <this request's id>, "args": args}``, one after the other
  (all at once with ``options.parallel``), and answers ``{"success": true, "values":
  {"agentId": ...}, "data": {"results": [{"ok": v} | {"error": {...}}], "runtime": <the params'
  runtime member, or null>}}``.
- action ``RAW``: writes each object of ``options.requests`` as it is (malformed runtime
  requests) and records the next response line for each.
- provider ``STATE``: ``{"text": "state from the plugin", "values": {"calls": <CALL count>}}``.
- action ``EXIT``: exits at once with status 3 (a crash while runtime methods run).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Generator
from typing import Any

MANIFEST = {
    "name": "raw-runtime",
    "description": "Calls the host's runtime",
    "version": "1.0.0",
    "language": "python",
    "protocolVersion": 1,
    "capabilities": ["runtime"],
    "actions": [
        {"name": "CALL", "description": "Call runtime methods"},
        {"name": "RAW", "description": "Send raw runtime requests"},
        {"name": "EXIT", "description": "Exit at once"},
    ],
    "providers": [{"name": "STATE", "description": "Plugin state"}],
    "evaluators": [],
}

Job = Generator[list[dict[str, Any]], dict[Any, Any], dict[str, Any]]

out = sys.stdout
next_rt = 0
call_count = 0
jobs: dict[Any, tuple[Job, set[Any], dict[Any, Any], Any]] = {}
"""Parked jobs by runtime request id: (job, ids awaited, answers so far, host request id)."""
raw_waiter: list[tuple[Job, dict[Any, Any], Any]] = []


def send(message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def request(call_id: Any, method: str, args: Any) -> dict[str, Any]:
    global next_rt
    next_rt += 1
    return {
        "id": f"rt-{next_rt}",
        "method": f"runtime.{method}",
        "params": {"call": call_id, "args": args},
    }


def outcome(response: dict[str, Any]) -> dict[str, Any]:
    if "error" in response:
        return {"error": response["error"]}
    return {"ok": response.get("result")}


def call_job(call_id: Any, params: dict[str, Any]) -> Job:
    options = params.get("options") or {}
    calls = options.get("calls", [])
    results: list[dict[str, Any]] = []
    if options.get("parallel"):
        requests = [request(call_id, c["method"], c.get("args", [])) for c in calls]
        answers = yield requests
        results = [outcome(answers[r["id"]]) for r in requests]
    else:
        for c in calls:
            one = request(call_id, c["method"], c.get("args", []))
            answers = yield [one]
            results.append(outcome(answers[one["id"]]))
    runtime = params.get("runtime")
    agent_id = runtime.get("agentId") if isinstance(runtime, dict) else None
    return {
        "success": True,
        "values": {"agentId": agent_id},
        "data": {"results": results, "runtime": runtime},
    }


def raw_job(params: dict[str, Any]) -> Job:
    options = params.get("options") or {}
    results = []
    for raw in options.get("requests", []):
        answers = yield [{"raw": raw}]
        results.append(answers["*"])
    return {"success": True, "data": {"results": results}}


def advance(job: Job, host_id: Any, answers: dict[Any, Any] | None) -> None:
    """Run ``job`` to its next wait (sending its requests) or to its end (answering)."""
    try:
        requests = next(job) if answers is None else job.send(answers)
    except StopIteration as done:
        send({"id": host_id, "result": done.value})
        return
    if requests and "raw" in requests[0]:
        raw_waiter.append((job, {}, host_id))
        send(requests[0]["raw"])
        return
    waiting = {r["id"] for r in requests}
    state: tuple[Job, set[Any], dict[Any, Any], Any] = (job, waiting, {}, host_id)
    for r in requests:
        jobs[r["id"]] = state
    for r in requests:
        send(r)


def on_response(message: dict[str, Any]) -> None:
    if raw_waiter:
        job, _, host_id = raw_waiter.pop(0)
        advance(job, host_id, {"*": message})
        return
    state = jobs.pop(message.get("id"), None)
    if state is None:
        sys.stderr.write(f"unexpected response {message!r}\n")
        return
    job, waiting, answers, host_id = state
    answers[message["id"]] = message
    if waiting <= answers.keys():
        advance(job, host_id, answers)


def on_request(message: dict[str, Any]) -> None:
    global call_count
    req_id, method = message["id"], message["method"]
    params = message.get("params") or {}
    if method == "getManifest":
        send({"id": req_id, "result": MANIFEST})
    elif method == "init":
        send({"id": req_id, "result": {}})
    elif method == "getProvider":
        send(
            {
                "id": req_id,
                "result": {"text": "state from the plugin", "values": {"calls": call_count}},
            }
        )
    elif method == "validateAction":
        send({"id": req_id, "result": True})
    elif method == "invokeAction" and params.get("name") == "CALL":
        call_count += 1
        advance(call_job(req_id, params), req_id, None)
    elif method == "invokeAction" and params.get("name") == "RAW":
        advance(raw_job(params), req_id, None)
    elif method == "invokeAction" and params.get("name") == "EXIT":
        os._exit(3)
    else:
        send({"id": req_id, "error": {"code": -32601, "message": f"not here: {method}"}})


for line in sys.stdin:
    message = json.loads(line)
    if "method" in message:
        on_request(message)
    else:
        on_response(message)
