"""The transport interface every host loader implements (IPC, FFI, WASM).

A :class:`Transport` moves one method call of protocol.md section 3.3 to a plugin and brings
back the method's result value. :class:`~elizaos_interop.LoadedPlugin` is built on top of
it, so the plugin object user code sees is the same whatever the transport.

Contract:

* ``call``/``call_sync`` return the *result value* of the method (the ``result`` member of the
  response or envelope), or raise one of the typed errors of protocol.md 7.2
  (:class:`PluginCallError` for an ``error`` answer, :class:`PluginTimeoutError`,
  :class:`PluginCrashError`, :class:`PluginProtocolError`, :class:`InvalidPayloadError`).
* ``params`` is the params object of the method exactly as on the IPC wire.
* ``timeout`` is in seconds; ``None`` means the transport's default.
* ``close`` is idempotent, never raises, and frees or reaps everything the transport holds.
  Calls after ``close`` raise :class:`PluginCrashError` ("plugin is closed").
* ``label`` is the plugin name once the manifest is known (the loader sets it), before that the
  path or command; it is what error messages name.
* Optional: a transport whose ``answers_runtime_calls`` is true (IPC) takes a ``runtime=``
  keyword in ``call`` and answers the plugin's runtime requests for that call from it
  (section 11); a ``set_peer(protocol_version, capabilities)`` method is told the plugin's half
  of the version exchange (section 12) once the manifest is known; a transport whose
  ``calls_in_place`` is true (FFI, WASM) promises that ``call`` only runs ``call_sync`` on the
  caller's thread, so :class:`~elizaos_interop.LoadedPlugin` calls ``call_sync`` directly and
  saves a coroutine per call.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Transport"]


@runtime_checkable
class Transport(Protocol):
    """One connection to one plugin: an IPC child process, an FFI library or a WASM instance."""

    kind: str
    """``"ipc"``, ``"ffi"`` or ``"wasm"``."""

    label: str
    """Plugin name once known, else the path or command; used in error messages."""

    async def call(self, method: str, params: dict[str, Any], timeout: float | None = None) -> Any:
        """Call ``method`` with ``params`` and return its result value, or raise a typed error."""
        ...

    def call_sync(self, method: str, params: dict[str, Any], timeout: float | None = None) -> Any:
        """Blocking form of :meth:`call` (used for the manifest handshake and by sync users)."""
        ...

    def close(self) -> None:
        """Release the plugin (idempotent, never raises)."""
        ...
