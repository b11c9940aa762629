"""Runtime requests: the plugin's ``runtime.X`` calls to the host on its pipe (protocol.md 11.2).

A request is written as ``{"id":"rt-n","method":"runtime.X",...}`` and its future settled when
the reader hands over the host's answer (a line without ``method`` and with that id).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from ..wire._errors import InvalidPayloadError
from ..wire._json import dumps
from ..wire._protocol import INTERNAL_ERROR
from ._bridge_write import Writer
from ._plugin import Plugin
from ._runtime_proxy import RuntimeCallError, settle_runtime_answer

__all__ = ["RuntimeRequests"]


class RuntimeRequests(Writer):
    """The session's runtime channel (:class:`~._runtime_proxy.RuntimeChannel`)."""

    def __init__(self, plugin: Plugin, in_fd: int, out_fd: int, max_message_bytes: int) -> None:
        super().__init__(plugin, in_fd, out_fd, max_message_bytes)
        self.session.channel = self

    def send_runtime_request(
        self, call: int | str, method: str, args: list[Any]
    ) -> asyncio.Future[Any]:
        """Write ``runtime.<method>`` for host call ``call``; the future of the host's answer."""
        if self.host_closed or self.broken:
            raise RuntimeCallError(INTERNAL_ERROR, "host closed", {"method": method})
        self.rt_next += 1
        rt_id = f"rt-{self.rt_next}"
        try:
            line = dumps(
                {"id": rt_id, "method": "runtime." + method, "params": {"call": call, "args": args}}
            )
        except InvalidPayloadError as exc:
            raise TypeError(
                f"{self.plugin.name}: runtime.{method} arguments are not JSON: {exc.detail}"
            ) from None
        if len(line) >= self.max:
            raise ValueError(
                f"{self.plugin.name}: runtime.{method} request of {len(line)} bytes exceeds the "
                f"message limit of {self.max} bytes"
            )
        future: asyncio.Future[Any] = self.loop.create_future()
        self.rt_pending[rt_id] = future
        self.rt_methods[rt_id] = method
        self._write(line + b"\n")
        return future

    def _on_runtime_answer(self, message: dict[str, Any]) -> bool:
        """Settle the runtime request this response answers; False when it answers none."""
        rt_id = message.get("id")
        if type(rt_id) is not str or rt_id not in self.rt_pending:
            return False
        future = self.rt_pending.pop(rt_id)
        method = self.rt_methods.pop(rt_id)
        settle_runtime_answer(future, method, rt_id, message)
        return True

    def _stale_runtime_answer(self, rt_id: Any) -> bool:
        """A second answer to a runtime request this plugin sent: logged and dropped, since an
        error line with a host-unknown id would make the host drop the whole plugin."""
        if not (isinstance(rt_id, str) and rt_id.startswith("rt-") and rt_id[3:].isdigit()):
            return False
        if not 0 < int(rt_id[3:]) <= self.rt_next:
            return False
        print(
            f"elizaos_interop.bridge_server: {self.plugin.name}: dropped a second answer to "
            f"runtime request {rt_id}",
            file=sys.stderr,
            flush=True,
        )
        return True
