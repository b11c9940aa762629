"""Dispatching one request line: checks, init gating, inline or task (protocol.md 3).

A plain function handler runs inline; a handler that returns an awaitable (an ``async def``
handler) runs as its own task, so a slow handler never blocks a fast one and pipelined
requests may be answered out of order; an ``async def`` handler that never awaits cannot
suspend and runs inline (see ``Methods._call``). Requests start in arrival order: on a loop
whose tasks start lazily (a custom task factory), a plain handler that arrives while tasks are
pending runs in a task behind them. Bad lines are answered (-32700, -32600) and serving goes on.
"""

from __future__ import annotations

from ..wire._json import decode_text
from ..wire._protocol import MAX_ID, METHOD_NOT_FOUND, PARSE_ERROR, json_type
from ._bridge_init import UNGATED
from ._bridge_methods import Methods
from ._replies import Pending, RpcError, internal_error, invalid_request

__all__ = ["Dispatch"]


class Dispatch(Methods):
    """The per-request path from a decoded line to a handler's answer."""

    def _on_line(self, line: bytes) -> None:
        """Check one request line and dispatch it (the bridge's per-request hot path)."""
        try:
            message = decode_text(line.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            self._send_error(None, RpcError(PARSE_ERROR, f"parse error: {exc}"))
            return
        if not isinstance(message, dict):
            received = json_type(message)
            self._send_error(None, invalid_request(f"expected an object, received {received}"))
            return
        if self.rt_pending and "method" not in message and self._on_runtime_answer(message):
            return
        if "id" not in message:
            missing = "id is missing (notifications are not used)"
            self._send_error(None, invalid_request(missing))
            return
        req_id = message["id"]
        if not (
            (isinstance(req_id, int) and not isinstance(req_id, bool) and 0 <= req_id <= MAX_ID)
            or (isinstance(req_id, str) and req_id)
        ):
            expected = "an integer in [0, 2^53-1] or a non-empty string"
            received = json_type(req_id)
            self._send_error(None, invalid_request(f"id must be {expected}, received {received}"))
            return
        method = message.get("method")
        if not isinstance(method, str) or not method:
            if "method" not in message and self._stale_runtime_answer(req_id):
                return
            received = json_type(method)
            problem = f"method must be a non-empty string, received {received}"
            self._send_error(req_id, invalid_request(problem))
            return
        params = message.get("params", {})
        if not isinstance(params, dict):
            problem = f"params must be an object, received {json_type(params)}"
            self._send_error(req_id, invalid_request(problem))
            return
        if method == "shutdown":
            self._shutdown(req_id)
            return
        handler = self.handlers.get(method)
        if handler is None:
            self._send_error(req_id, RpcError(METHOD_NOT_FOUND, f"method not found: {method}"))
            return
        if self.init_due and method not in UNGATED:
            gate = self._init_gate()
            if gate is not None:  # an init hook is running: this call waits for it
                self._spawn(self._run(req_id, handler, params, gate))
                return
        if self.tasks and not self.eager:
            # Work is pending and tasks start lazily: start this request behind it, in order.
            self._spawn(self._run(req_id, handler, params))
            return
        try:
            result = handler(params, req_id)
            if type(result) is Pending:
                # An async handler runs as its own task, so a slow handler never delays another
                # request and it can rely on asyncio.current_task() (asyncio.timeout() needs it).
                self._spawn(self._finish(req_id, result))
                return
        except RpcError as err:
            self._send_error(req_id, err)
            return
        except Exception as exc:
            self._send_error(req_id, internal_error(exc))
            return
        self._send_result(req_id, result)

    def _shutdown(self, req_id: int | str) -> None:
        self.stop_reading()
        self._send_result(req_id, {})
        if not self.done.done():
            self.done.set_result("shutdown")
