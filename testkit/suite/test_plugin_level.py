"""Plugin-level IPC checks, sent raw by the testkit (no host in between): unknown method, bad
lines, ids under pipelining, EOF and shutdown (protocol.md sections 3.2-3.4). One run per plugin
language and runtime that the selected cells serve over IPC."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from testkit._rawipc import RawIpc, RawIpcError
from testkit._toolchains import ToolchainError, Toolchains
from testkit.suite._helpers import memory

TIMEOUT_S = 20.0


@pytest.fixture
def raw(interop_toolchains: Toolchains, interop_ipc_plugin: tuple[str, str | None]) -> Iterator[RawIpc]:
    """The conformance fixture's IPC server, spawned directly; closed and reaped afterwards."""
    language, runtime = interop_ipc_plugin
    try:
        argv = interop_toolchains.ipc_command("conformance", language, runtime)
    except ToolchainError as exc:
        pytest.fail(str(exc), pytrace=False)
    ipc = RawIpc(argv, env=interop_toolchains.env(), cwd=interop_toolchains.repo_root)
    try:
        first = ipc.request("getManifest", {}, timeout=TIMEOUT_S)
        assert first.get("result", {}).get("name") == "conformance-fixture", f"getManifest: {first}"
        yield ipc
    finally:
        ipc.close()


def _serving(ipc: RawIpc, after: str) -> None:
    response = ipc.request("getProvider", {"name": "static", "memory": memory("x")}, timeout=TIMEOUT_S)
    assert response.get("result") == {"text": "static provider", "values": {"answer": 42}}, (
        f"the plugin should keep serving after {after}; got {response}"
    )


def _error_code(response: dict[str, object]) -> object:
    error = response.get("error")
    return error.get("code") if isinstance(error, dict) else None


@pytest.mark.interop_check("ipc-unknown-method")
def test_unknown_method(raw: RawIpc) -> None:
    msg_id = raw.send("noSuchMethod", {})
    response = raw.read_response(TIMEOUT_S)
    assert (response.get("id"), _error_code(response)) == (msg_id, -32601), (
        f"expected id {msg_id} with error -32601, got {response}"
    )
    _serving(raw, "an unknown method")


@pytest.mark.interop_check("ipc-parse-error")
def test_bad_json_line(raw: RawIpc) -> None:
    raw.send_line(b'{"id": 1, "method": "getManifest", ')
    response = raw.read_response(TIMEOUT_S)
    assert (response.get("id", "missing"), _error_code(response)) == (None, -32700), (
        f'expected {{"id": null, "error": {{"code": -32700}}}}, got {response}'
    )
    _serving(raw, "a line that is not JSON")


@pytest.mark.interop_check("ipc-invalid-request")
@pytest.mark.parametrize(
    ("line", "expected_id"),
    [
        (b"[1, 2, 3]", None),
        (b'{"method": "getManifest"}', None),
        (b'{"id": 9, "params": {}}', 9),
        (b'{"id": 10, "method": 5}', 10),
    ],
    ids=["not-an-object", "no-id", "no-method", "method-not-string"],
)
def test_invalid_request(raw: RawIpc, line: bytes, expected_id: object) -> None:
    raw.send_line(line)
    response = raw.read_response(TIMEOUT_S)
    assert (response.get("id", "missing"), _error_code(response)) == (expected_id, -32600), (
        f"{line!r}: expected id {expected_id} with error -32600, got {response}"
    )
    _serving(raw, f"the invalid request {line!r}")


@pytest.mark.interop_check("ipc-pipelined-ids")
def test_pipelined_ids(raw: RawIpc) -> None:
    """20 requests written at once (ids mixed: integers and strings); each response carries the
    id of the request it answers, whatever the order."""
    sent: dict[object, str] = {}
    lines = []
    for i in range(20):
        msg_id: object = i + 100 if i % 2 else f"req-{i}"
        text = f"pipelined {i}"
        sent[msg_id] = text
        params = {"name": "echo", "memory": memory(text), "state": {}, "options": {}}
        if i % 5 == 0:
            params = {"name": "slow", "memory": memory(text), "options": {"delayMs": 20}}
            sent[msg_id] = "slept 20"
        lines.append(json.dumps({"id": msg_id, "method": "invokeAction", "params": params}).encode())
    raw.send_line(b"\n".join(lines))
    seen: dict[object, str] = {}
    for _ in range(20):
        response = raw.read_response(TIMEOUT_S)
        rid = response.get("id")
        assert rid in sent, f"response with an id that was never sent: {str(response)[:200]}"
        assert rid not in seen, f"two responses for id {rid!r}"
        result = response.get("result")
        assert isinstance(result, dict), f"id {rid!r}: expected a result, got {str(response)[:300]}"
        seen[rid] = str(result.get("text"))
    wrong = {k: (v, sent[k]) for k, v in seen.items() if v != sent[k]}
    assert not wrong, f"responses answer the wrong request (got, expected): {wrong}"


@pytest.mark.interop_check("ipc-shutdown")
def test_shutdown(raw: RawIpc) -> None:
    response = raw.request("shutdown", {}, timeout=TIMEOUT_S)
    assert response.get("result") == {}, f"shutdown should answer {{}}, got {response}"
    status = raw.wait_exit(10)
    assert status == 0, (
        f"after shutdown the plugin should exit 0; status {status} (None: still running after 10 s)"
    )


@pytest.mark.interop_check("ipc-stdin-eof")
def test_stdin_eof(raw: RawIpc) -> None:
    raw.close_stdin()
    status = raw.wait_exit(10)
    assert status == 0, (
        f"on stdin EOF the plugin should exit 0; status {status} (None: still running after 10 s)"
    )
    with pytest.raises(RawIpcError):
        raw.read_line(1)
