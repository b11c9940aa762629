"""Request tasks: an async handler runs as its own asyncio task, started eagerly (protocol.md 3).

Tasks start eagerly (the first step runs as the request is read: ``asyncio.eager_task_factory``
on Python 3.12+, the same by hand on 3.11), so a handler that never suspends costs no extra
event-loop turn; a task factory the caller set on the loop is used as it is.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Coroutine
from typing import Any

from ._bridge_runtime import RuntimeRequests
from ._bridge_state import Handler
from ._replies import Pending, RpcError, handler_failed, internal_error

__all__ = ["Tasks", "asyncio_eager_task_factory"]

asyncio_eager_task_factory: Any = getattr(asyncio, "eager_task_factory", None)
"""``asyncio.eager_task_factory`` on Python 3.12+, else None."""


def _can_start_eagerly(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether :meth:`Tasks._create_eager_task` applies: a stock asyncio loop, no factory."""
    return (
        asyncio_eager_task_factory is None
        and isinstance(loop, asyncio.BaseEventLoop)
        and loop.get_task_factory() is None
        and "call_soon" not in vars(loop)
    )


class Tasks(RuntimeRequests):
    """Making, running and forgetting the task of a request."""

    def setup_tasks(self) -> None:
        """Choose how a request's task is made (called once, when the server is built).

        Python 3.12+ through Task(eager_start=True), 3.11 by hand; the loop's task factory
        is the caller's and is left alone (a factory the caller set is used as it is).
        """
        factory = self.loop.get_task_factory()
        self.eager = factory is not None and factory is asyncio_eager_task_factory
        if factory is None and asyncio_eager_task_factory is not None:
            self.eager = True
            # Task(eager_start=True) is 3.12+, as asyncio_eager_task_factory is.
            self.create_task = functools.partial(
                asyncio.Task,  # type: ignore[call-arg]
                loop=self.loop,
                eager_start=True,
            )
        elif not self.eager and _can_start_eagerly(self.loop):
            self.eager = True
            self.create_task = self._create_eager_task
        else:
            self.create_task = self.loop.create_task

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = self.create_task(work)
        if not task.done():  # an eager task may already be finished
            self.tasks.add(task)

    def _capture_step(
        self, callback: Callable[..., Any], *args: Any, context: contextvars.Context | None = None
    ) -> None:
        """Stands in for ``loop.call_soon`` while :meth:`_create_eager_task` builds a Task."""
        self.eager_steps.append((callback, args, context))

    def _create_eager_task(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Python 3.11's equivalent of ``asyncio.eager_task_factory``.

        A new Task schedules its first step with ``loop.call_soon``; catching that call (an
        instance attribute shadows the method while the Task is built) and running the step at
        once, in the Task's context, gives a real Task (``current_task()``, ``asyncio.timeout()``
        and cancellation work as usual) without a loop turn before the handler runs.
        """
        loop = self.loop
        if asyncio.current_task(loop) is not None:  # a step cannot run inside another task
            return loop.create_task(work)
        steps = self.eager_steps
        steps.clear()
        loop.call_soon = self._capture_step  # type: ignore[method-assign, assignment]
        try:
            task: asyncio.Task[None] = asyncio.Task(work, loop=loop)
        finally:
            del loop.call_soon
        if len(steps) != 1:  # not the Task this was written against: schedule what it asked
            for callback, args, context in steps:
                loop.call_soon(callback, *args, context=context)
            return task
        callback, args, context = steps[0]
        if context is None:
            callback(*args)
        else:
            context.run(callback, *args)
        return task

    def _forget_current_task(self) -> None:
        task = asyncio.current_task(self.loop)
        if task is not None:
            self.tasks.discard(task)

    async def _run(
        self,
        req_id: int | str,
        handler: Handler,
        params: dict[str, Any],
        gate: asyncio.Future[None] | None = None,
    ) -> None:
        """A request started while others were pending (or an init): the method in this task."""
        try:
            if gate is not None:
                await gate
            result = handler(params, req_id)
            if type(result) is Pending:
                result = await self._complete(result)
        except RpcError as err:
            self._send_error(req_id, err)
            return
        except Exception as exc:
            self._send_error(req_id, internal_error(exc))
            return
        finally:
            self._forget_current_task()
        self._send_result(req_id, result)

    async def _finish(self, req_id: int | str, pending: Pending) -> None:
        """Await an async handler started inline, then answer (one frame: the hot path)."""
        try:
            try:
                value = await pending.awaitable
            except Exception as exc:
                raise handler_failed(pending.kind, pending.name, exc) from exc
            result = pending.finish(value)
        except RpcError as err:
            self._send_error(req_id, err)
            return
        except Exception as exc:
            self._send_error(req_id, internal_error(exc))
            return
        finally:
            self.tasks.discard(asyncio.current_task(self.loop))  # with the loop: no getpid()
        self._send_result(req_id, result)

    @staticmethod
    async def _complete(pending: Pending) -> Any:
        try:
            value = await pending.awaitable
        except Exception as exc:
            raise handler_failed(pending.kind, pending.name, exc) from exc
        return pending.finish(value)
