"""The IPC bridge server: serves a Python :class:`Plugin` over stdin/stdout (protocol.md 3).

A handler that returns an awaitable (an ``async def`` handler) runs as its own asyncio task, so a
slow handler never blocks a fast one and pipelined requests may be answered out of order. Tasks
start eagerly (the first step runs as the request is read: ``asyncio.eager_task_factory`` on
Python 3.12+, the same by hand on 3.11), so a handler that never suspends costs no extra
event-loop turn. A plain function handler runs inline, and so does an ``async def`` handler whose
code never awaits (it cannot suspend; it runs in a copy of the context, as a task would, with no
task: ``asyncio.current_task()`` is None there). Requests therefore start in arrival
order; on a loop whose tasks start lazily (a custom task factory), a plain handler that arrives
while tasks are pending runs in a task behind them to keep that order. Bad lines are answered
(-32700, -32600) and the server keeps serving. ``shutdown`` or stdin EOF end :func:`serve`.

Handlers get a :class:`~elizaos_interop.plugin._runtime_proxy.RuntimeProxy` as ``runtime``
(protocol.md 11): its methods write runtime requests on stdout, and the reader hands each line
without ``method`` to the pending runtime request of that id, so host requests keep being served
while handlers wait for the host. A call without ``params.runtime`` gets the session's one
host-less proxy, so the hot path builds nothing per call. ``init`` (explicit, or the implicit
``init({})`` before the first call) holds calls back until the plugin's init hook has finished.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

from ..wire._json import MAX_MESSAGE_BYTES
from ._bridge_read import Reader
from ._elizaos_adapter import adapt_plugin, is_plugin_like
from ._plugin import Plugin

__all__ = ["serve"]

_EOF_GRACE = 0.5
"""Seconds in-flight work may take after stdin EOF (the protocol allows 1 s in total)."""
_SHUTDOWN_FLUSH = 5.0


def _test_delay_us() -> int:
    """Microseconds of busy wait added to every request, from ``ELIZAOS_INTEROP_TEST_DELAY_US``.

    Test-only: it makes a deliberately slowed build for the benchmark's regression detector
    (``nox -s bench_selftest``). Unset or 0, nothing is wrapped and the hot path is unchanged."""
    raw = os.environ.get("ELIZAOS_INTEROP_TEST_DELAY_US", "")
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            "ELIZAOS_INTEROP_TEST_DELAY_US must be a non-negative integer (microseconds), "
            f"received {raw!r}"
        ) from None
    if value < 0:
        raise ValueError(f"ELIZAOS_INTEROP_TEST_DELAY_US must be >= 0, received {value}")
    return value


def _delayed(on_line: Callable[[bytes], None], delay_us: int) -> Callable[[bytes], None]:
    """``on_line`` after a busy wait of ``delay_us`` (CPU work, as a slower bridge would do)."""
    delay_ns = delay_us * 1000
    clock = time.perf_counter_ns

    def slowed(line: bytes) -> None:
        end = clock() + delay_ns
        while clock() < end:
            pass
        on_line(line)

    return slowed


class _Server(Reader):
    """One serving session on a pair of file descriptors: the layers of the bridge, together.

    The layers, each in its own module and each using only those below it: the state
    (``_bridge_state``), writing (``_bridge_write``), runtime requests (``_bridge_runtime``),
    request tasks (``_bridge_tasks``), init gating (``_bridge_init``), the method handlers
    (``_bridge_methods``), dispatch (``_bridge_dispatch``) and reading (``_bridge_read``).
    """

    def __init__(self, plugin: Plugin, in_fd: int, out_fd: int, max_message_bytes: int) -> None:
        super().__init__(plugin, in_fd, out_fd, max_message_bytes)
        self.setup_tasks()
        self.handlers = self.method_table()
        delay_us = _test_delay_us()
        if delay_us:
            self._on_line = _delayed(self._on_line, delay_us)  # type: ignore[method-assign,assignment]


async def serve(
    plugin: Plugin | object,
    *,
    input_fd: int = 0,
    output_fd: int = 1,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
) -> str:
    """Serve ``plugin`` on ``input_fd``/``output_fd`` until ``shutdown`` or EOF.

    Returns ``"shutdown"`` or ``"eof"``. Both descriptors are switched to non-blocking mode.
    After EOF, in-flight requests get up to 0.5 s to finish before they are abandoned; replies
    already made are then delivered in full before it returns. An elizaOS plugin object (the
    PyPI ``elizaos`` package's, or one shaped like it) is served through the adapter.
    """
    if not isinstance(plugin, Plugin):
        if not is_plugin_like(plugin):
            raise TypeError(
                "serve() needs an elizaos_interop.Plugin or an elizaOS plugin object (a name and "
                f"lists of actions, providers or evaluators), got {type(plugin).__name__}"
            )
        plugin = adapt_plugin(plugin, type(plugin).__module__)
    server = _Server(plugin, input_fd, output_fd, max_message_bytes)
    server.start()
    try:
        reason = await server.done
        if reason == "eof" and server.tasks:
            await asyncio.wait(set(server.tasks), timeout=_EOF_GRACE)
        for task in list(server.tasks):
            task.cancel()
        # Replies already made are delivered in full, at the reader's pace: a host that no
        # longer reads closes the pipe (EPIPE ends the flush) or kills the process.
        await server.flush(_SHUTDOWN_FLUSH if reason == "shutdown" else None)
        return reason
    finally:
        server.close()
