"""Init gating: calls wait while the plugin's init hook runs (protocol.md 3.3).

``init`` (explicit, or the implicit ``init({})`` started before the first call) holds calls
back until the hook has finished; ``getManifest`` and ``init`` itself are not held.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from typing import Any

from ._bridge_tasks import Tasks
from ._replies import exception_message

__all__ = ["UNGATED", "InitGate"]

UNGATED = frozenset(("getManifest", "init"))
"""Methods that do not wait for a running init hook (init chains itself after the last one)."""


class InitGate(Tasks):
    """The init hook's runs, and the gate calls wait on while one runs."""

    def _init_gate(self) -> asyncio.Future[None] | None:
        """What a call must wait for: the running init hook (the implicit ``init({})`` is
        started here before the first call, protocol.md 3.3); ``None`` when nothing runs."""
        if self.implicit_init:
            self.implicit_init = False
            gate: asyncio.Future[None] = self.loop.create_future()
            self.init_gate = gate
            self._spawn(self._implicit_init(gate))
        gate_now = self.init_gate
        if gate_now is None or gate_now.done():
            self.init_due = self.implicit_init
            return None
        return gate_now

    async def _implicit_init(self, gate: asyncio.Future[None]) -> None:
        try:
            await self._run_init({}, None, gate)
        except Exception as exc:  # calls proceed; the failure is logged, as nobody asked
            print(
                f"elizaos_interop.bridge_server: {self.plugin.name}: implicit init({{}}) before "
                f"the first call failed: {type(exc).__name__}: {exception_message(exc)}",
                file=sys.stderr,
                flush=True,
            )
        finally:
            self._forget_current_task()

    async def _run_init(
        self,
        config: dict[str, Any],
        previous: asyncio.Future[None] | None,
        gate: asyncio.Future[None],
    ) -> None:
        """Run the init hook after ``previous`` inits; a failing hook keeps the old config."""
        try:
            if previous is not None and not previous.done():
                await asyncio.shield(previous)
            before = self.session.config
            self.session.config = config
            try:
                value = self.plugin.init(config, self.runtime)  # type: ignore[misc]
                if value is not None and inspect.isawaitable(value):
                    await value
            except BaseException:
                self.session.config = before
                raise
        finally:
            if not gate.done():
                gate.set_result(None)
            if self.init_gate is gate:
                self.init_gate = None
                self.init_due = self.implicit_init
