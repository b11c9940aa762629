"""The IPC bridge server: serves a Python :class:`Plugin` over stdin/stdout (protocol.md 3).

A handler that returns an awaitable (an ``async def`` handler) runs as its own asyncio task, so a
slow handler never blocks a fast one and pipelined requests may be answered out of order. Tasks
start eagerly (the first step runs as the request is read: ``asyncio.eager_task_factory`` on
Python 3.12+, the same by hand on 3.11), so a handler that never suspends costs no extra
event-loop turn. A plain function handler runs inline. Requests therefore start in arrival
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
import collections
import contextlib
import contextvars
import functools
import inspect
import os
import sys
import time
import types
from collections.abc import Callable, Coroutine
from typing import Any

from ..wire._errors import InvalidPayloadError
from ..wire._json import MAX_MESSAGE_BYTES, decode_text, dumps
from ..wire._protocol import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    MAX_ID,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    UNKNOWN_NAME,
    json_type,
)
from ._elizaos_adapter import adapt_plugin, is_plugin_like
from ._plugin import Plugin
from ._replies import (
    ACTION_RESULT,
    EMPTY,
    NULL,
    PROVIDER_RESULT,
    Encoded,
    Pending,
    RpcError,
    check_bool,
    check_result,
    exception_message,
    handler_failed,
    init_done,
    internal_error,
    invalid_param,
    invalid_request,
)
from ._runtime_proxy import (
    RuntimeCallError,
    RuntimeProxy,
    RuntimeSession,
    settle_runtime_answer,
)

__all__ = ["serve"]

asyncio_eager_task_factory: Any = getattr(asyncio, "eager_task_factory", None)
"""``asyncio.eager_task_factory`` on Python 3.12+, else None."""

_READ_CHUNK = 1 << 16
_EOF_GRACE = 0.5
"""Seconds in-flight work may take after stdin EOF (the protocol allows 1 s in total)."""
_SHUTDOWN_FLUSH = 5.0


def _can_start_eagerly(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether :meth:`_Server._create_eager_task` applies: a stock asyncio loop, no factory."""
    return (
        asyncio_eager_task_factory is None
        and isinstance(loop, asyncio.BaseEventLoop)
        and loop.get_task_factory() is None
        and "call_soon" not in vars(loop)
    )


_CoroutineType = types.CoroutineType
_PLAIN_RESULTS = (dict, bool, type(None))


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


class _Server:
    """State of one serving session on a pair of file descriptors."""

    def __init__(self, plugin: Plugin, in_fd: int, out_fd: int, max_message_bytes: int) -> None:
        self.plugin = plugin
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.max = max_message_bytes
        self.session = RuntimeSession(plugin.name, self)
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
        # Start each request's task eagerly (its first step runs now, not one loop turn later):
        # Python 3.12+ through Task(eager_start=True), 3.11 by hand; the loop's task factory
        # is the caller's and is left alone (a factory the caller set is used as it is).
        self.eager_steps: list[
            tuple[Callable[..., Any], tuple[Any, ...], contextvars.Context | None]
        ] = []
        factory = self.loop.get_task_factory()
        self.eager = factory is not None and factory is asyncio_eager_task_factory
        self.create_task: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]
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
        self.handlers: dict[str, Callable[[dict[str, Any], int | str], Any]] = {
            "getManifest": self._get_manifest,
            "init": self._init,
            "validateAction": self._validate_action,
            "invokeAction": self._invoke_action,
            "getProvider": self._get_provider,
            "validateEvaluator": self._validate_evaluator,
            "invokeEvaluator": self._invoke_evaluator,
        }
        delay_us = _test_delay_us()
        if delay_us:
            self._on_line = _delayed(self._on_line, delay_us)  # type: ignore[method-assign,assignment]

    # -- reading ----------------------------------------------------------------------------

    def start(self) -> None:
        # Non-blocking while serving; close() restores the modes (a terminal shares them).
        self.blocking = (os.get_blocking(self.in_fd), os.get_blocking(self.out_fd))
        os.set_blocking(self.in_fd, False)
        os.set_blocking(self.out_fd, False)
        self.loop.add_reader(self.in_fd, self._on_readable)
        self.reading = True

    def stop_reading(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.in_fd)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.in_fd, _READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.stop_reading()
            self._host_gone()
            if not self.done.done():
                self.done.set_result("eof")
            return
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        start = 0
        while self.reading:
            nl = data.find(b"\n", start)
            if nl < 0:
                if not self.discarding:
                    self.buf += data[start:]
                    if len(self.buf) > self.max:
                        self.buf.clear()
                        self.discarding = True
                return
            end = nl
            if self.discarding:
                self.discarding = False
                start = nl + 1
                self._reply_oversize()
                continue
            if self.buf:
                self.buf += data[start:end]
                line = bytes(self.buf)
                self.buf.clear()
            else:
                line = data[start:end]
            start = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.max:
                self._reply_oversize()
                continue
            self._on_line(line)
            if start == len(data):  # the usual case: the chunk ended with this line
                return

    def _reply_oversize(self) -> None:
        self._send_error(None, RpcError(INVALID_REQUEST, f"request exceeds {self.max} bytes"))

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
        if self.init_due and method not in _UNGATED:
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
        handler: Callable[[dict[str, Any], int | str], Any],
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

    # -- init -------------------------------------------------------------------------------

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

    # -- runtime requests (protocol.md 11.2) ------------------------------------------------

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

    def _shutdown(self, req_id: int | str) -> None:
        self.stop_reading()
        self._send_result(req_id, {})
        if not self.done.done():
            self.done.set_result("shutdown")

    # -- writing ----------------------------------------------------------------------------

    def _send_result(self, req_id: int | str, result: Any) -> None:
        if type(result) is Encoded:
            id_text = b"%d" % req_id if type(req_id) is int else dumps(req_id)
            self._write(b"".join((b'{"id":', id_text, b',"result":', result.data, b"}\n")))
            return
        try:
            data = dumps({"id": req_id, "result": result})
        except InvalidPayloadError as exc:  # the handler checks make this unreachable in practice
            self._send_error(req_id, RpcError(INTERNAL_ERROR, f"internal error: {exc.detail}"))
            return
        self._write(data + b"\n")

    def _send_error(self, req_id: int | str | None, err: RpcError) -> None:
        try:
            data = dumps({"id": req_id, "error": err.to_json()})
        except InvalidPayloadError:
            data = dumps({"id": req_id, "error": {"code": err.code, "message": err.message}})
        self._write(data + b"\n")

    def _write(self, data: bytes) -> None:
        """Write one newline-terminated message, queueing what the pipe does not take now."""
        if self.broken:
            return
        if self.out:
            self.out.append(memoryview(data))
            return
        try:
            n = os.write(self.out_fd, data)
        except BlockingIOError:
            n = 0
        except OSError:
            self._broken()
            return
        if n < len(data):
            self.out.append(memoryview(data)[n:])
            self.loop.add_writer(self.out_fd, self._on_writable)

    def _on_writable(self) -> None:
        while self.out:
            chunk = self.out[0]
            try:
                n = os.write(self.out_fd, chunk)
            except BlockingIOError:
                return
            except OSError:
                self._broken()
                return
            if n < len(chunk):
                self.out[0] = chunk[n:]
                return
            self.out.popleft()
        self.loop.remove_writer(self.out_fd)
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def _broken(self) -> None:
        """The host closed our stdout: nothing more can be said, so stop."""
        self.broken = True
        self._host_gone()
        if self.out:
            self.out.clear()
            self.loop.remove_writer(self.out_fd)
        self.stop_reading()
        if not self.done.done():
            self.done.set_result("eof")

    async def flush(self, timeout: float | None) -> None:
        if not self.out:
            return
        self.drained = self.loop.create_future()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drained, timeout)

    def close(self) -> None:
        self.stop_reading()
        if self.out:
            self.out.clear()
            self.loop.remove_writer(self.out_fd)
        for fd, blocking in zip((self.in_fd, self.out_fd), self.blocking, strict=True):
            with contextlib.suppress(OSError):
                os.set_blocking(fd, blocking)

    # -- methods ----------------------------------------------------------------------------
    # Each returns the method's result (an Encoded, or a value to encode), or a Pending when
    # the plugin's handler returned an awaitable; param and name errors raise RpcError.

    def _get_manifest(self, params: dict[str, Any], req_id: int | str) -> Any:
        if self.manifest_json is None:
            try:
                self.manifest_json = Encoded(dumps(self.manifest))
            except InvalidPayloadError:
                return self.manifest  # answered -32603 by _send_result, as before
        return self.manifest_json

    def _init(self, params: dict[str, Any], req_id: int | str) -> Any:
        if "config" not in params:
            raise invalid_param("config", "object", "missing")
        config = params["config"]
        if not isinstance(config, dict):
            raise invalid_param("config", "object", json_type(config))
        self.implicit_init = False  # an explicit init comes first: no implicit one
        if self.plugin.init is None:
            self.session.config = config
            return EMPTY
        previous = self.init_gate
        gate: asyncio.Future[None] = self.loop.create_future()
        self.init_gate = gate
        self.init_due = True
        return Pending(
            "plugin", self.plugin.name, self._run_init(config, previous, gate), init_done
        )

    def _args(
        self, params: dict[str, Any], with_options: bool, req_id: int | str
    ) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], RuntimeProxy]:
        if "name" not in params:
            raise invalid_param("name", "string", "missing")
        name = params["name"]
        if type(name) is not str and not isinstance(name, str):
            raise invalid_param("name", "string", json_type(name))
        if "memory" not in params:
            raise invalid_param("memory", "object", "missing")
        memory = params["memory"]
        if type(memory) is not dict:
            raise invalid_param("memory", "object", json_type(memory))
        if "content" not in memory:
            raise invalid_param("memory.content", "object", "missing")
        content = memory["content"]
        if type(content) is not dict:
            raise invalid_param("memory.content", "object", json_type(content))
        text = content.get("text")
        if text is not None and type(text) is not str:
            raise invalid_param("memory.content.text", "string", json_type(text))
        state = params.get("state")
        if state is None:
            state = {}
        elif type(state) is not dict:
            raise invalid_param("state", "object", json_type(state))
        options: Any = {}
        if with_options:
            options = params.get("options")
            if options is None:
                options = {}
            elif type(options) is not dict:
                raise invalid_param("options", "object", json_type(options))
        context = params.get("runtime")
        if context is None:
            return name, memory, state, options, self.runtime
        if type(context) is not dict:
            raise invalid_param("runtime", "object", json_type(context))
        return name, memory, state, options, RuntimeProxy(self.session, req_id, context)

    @staticmethod
    def _unknown(kind: str, name: str) -> RpcError:
        return RpcError(UNKNOWN_NAME, f"unknown {kind}: {name}", {"kind": kind, "name": name})

    def _call(
        self,
        kind: str,
        name: str,
        finish: Callable[[Any], Any],
        fn: Callable[..., Any],
        *args: Any,
    ) -> Any:
        """Call a plugin function: its checked result, or a Pending when it is async."""
        try:
            value = fn(*args)
        except Exception as exc:
            raise handler_failed(kind, name, exc) from exc
        if type(value) is _CoroutineType or (
            not isinstance(value, _PLAIN_RESULTS) and inspect.isawaitable(value)
        ):
            return Pending(kind, name, value, finish)
        return finish(value)

    def _validate_action(self, params: dict[str, Any], req_id: int | str) -> Any:
        name, memory, state, _, runtime = self._args(params, False, req_id)
        action = self.actions.get(name)
        if action is None:
            raise self._unknown("action", name)
        return self._call(
            "action",
            name,
            lambda value: check_bool("action", name, value),
            action.validate,
            runtime,
            memory,
            state,
        )

    def _invoke_action(self, params: dict[str, Any], req_id: int | str) -> Any:
        name, memory, state, options, runtime = self._args(params, True, req_id)
        action = self.actions.get(name)
        if action is None:
            raise self._unknown("action", name)
        return self._call(
            "action",
            name,
            lambda value: check_result(
                "action", name, value, ACTION_RESULT, "ActionResult", self.max
            ),
            action.handler,
            runtime,
            memory,
            state,
            options,
        )

    def _get_provider(self, params: dict[str, Any], req_id: int | str) -> Any:
        name, memory, state, _, runtime = self._args(params, False, req_id)
        provider = self.providers.get(name)
        if provider is None:
            raise self._unknown("provider", name)
        return self._call(
            "provider",
            name,
            lambda value: check_result(
                "provider", name, value, PROVIDER_RESULT, "ProviderResult", self.max
            ),
            provider.get,
            runtime,
            memory,
            state,
        )

    def _validate_evaluator(self, params: dict[str, Any], req_id: int | str) -> Any:
        name, memory, state, _, runtime = self._args(params, False, req_id)
        evaluator = self.evaluators.get(name)
        if evaluator is None:
            raise self._unknown("evaluator", name)
        return self._call(
            "evaluator",
            name,
            lambda value: check_bool("evaluator", name, value),
            evaluator.validate,
            runtime,
            memory,
            state,
        )

    def _invoke_evaluator(self, params: dict[str, Any], req_id: int | str) -> Any:
        name, memory, state, _, runtime = self._args(params, False, req_id)
        evaluator = self.evaluators.get(name)
        if evaluator is None:
            raise self._unknown("evaluator", name)

        def finish(value: Any) -> Encoded:
            if value is None:
                return NULL
            return check_result(
                "evaluator", name, value, ACTION_RESULT, "EvaluatorResult", self.max
            )

        return self._call("evaluator", name, finish, evaluator.handler, runtime, memory, state)


_UNGATED = frozenset(("getManifest", "init"))
"""Methods that do not wait for a running init hook (init chains itself after the last one)."""


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
