"""The state of one IPC serving session (protocol.md 3), shared by the bridge's layers.

The bridge server is one object built from layers, each in its own module and each using only
the layers below it: this state, then writing (:mod:`._bridge_write`), runtime requests
(:mod:`._bridge_runtime`), request tasks (:mod:`._bridge_tasks`), init gating
(:mod:`._bridge_init`), the method handlers (:mod:`._bridge_methods`), dispatch
(:mod:`._bridge_dispatch`) and reading (:mod:`._bridge_read`); :mod:`._bridge` puts them
together and serves.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import types
from collections.abc import Callable, Coroutine
from typing import Any

from ..wire._protocol import INTERNAL_ERROR
from ._plugin import Plugin
from ._replies import Encoded
from ._runtime_proxy import RuntimeCallError, RuntimeProxy, RuntimeSession

__all__ = ["Handler", "ServerState"]

Handler = Callable[[dict[str, Any], int | str], Any]
"""A method handler: ``(params, id)`` to a result, an ``Encoded`` or a ``Pending``."""


class ServerState:
    """State of one serving session on a pair of file descriptors."""

    def __init__(self, plugin: Plugin, in_fd: int, out_fd: int, max_message_bytes: int) -> None:
        self.plugin = plugin
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.max = max_message_bytes
        self.session = RuntimeSession(plugin.name)  # its channel: RuntimeRequests
        self.session.view = plugin.runtime_view
        self.session.components = plugin.runtime_components or (
            list(plugin.actions),
            list(plugin.providers),
            list(plugin.evaluators),
        )
        self.runtime = RuntimeProxy(self.session)  # the host-less proxy, shared by every call
        self.manifest = plugin.manifest()
        # Runtime requests this plugin sent (protocol.md 11.2), by id, awaiting the host.
        self.rt_pending: dict[str, asyncio.Future[Any]] = {}
        self.rt_methods: dict[str, str] = {}
        self.rt_next = 0
        self.host_closed = False
        # init: calls wait while the implicit init({}) is due or an init hook is running.
        self.implicit_init = plugin.init is not None
        self.init_due = self.implicit_init
        self.init_gate: asyncio.Future[None] | None = None
        self.actions = {a.name: a for a in plugin.actions}
        self.providers = {p.name: p for p in plugin.providers}
        self.evaluators = {e.name: e for e in plugin.evaluators}
        self.buf = bytearray()
        self.discarding = False
        self.tasks: set[asyncio.Task[None]] = set()
        self.out: collections.deque[memoryview] = collections.deque()
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[str] = self.loop.create_future()
        self.drained: asyncio.Future[None] | None = None
        self.reading = False
        self.broken = False
        self.blocking = (True, True)
        self.manifest_json: Encoded | None = None
        # How a request's task is made: set by Tasks.setup_tasks (see _bridge_tasks).
        self.eager_steps: list[
            tuple[Callable[..., Any], tuple[Any, ...], contextvars.Context | None]
        ] = []
        self.eager = False
        self.create_task: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]
        # Whether coroutines of a code object can suspend (see Methods._call), by code object.
        self.suspends: dict[types.CodeType, bool] = {}
        # The method table: set by the server from Methods.method_table (see _bridge_methods).
        self.handlers: dict[str, Handler] = {}

    def stop_reading(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.in_fd)

    def _host_gone(self) -> None:
        """stdin EOF (or stdout closed): every pending runtime request fails "host closed"."""
        self.host_closed = True
        pending = list(self.rt_pending.items())
        self.rt_pending.clear()
        for rt_id, future in pending:
            method = self.rt_methods.pop(rt_id, "?")
            if not future.done():
                future.set_exception(
                    RuntimeCallError(INTERNAL_ERROR, "host closed", {"method": method})
                )
