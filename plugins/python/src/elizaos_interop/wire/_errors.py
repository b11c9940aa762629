"""Typed errors raised by every host loader (protocol.md section 7.2).

Every error names the plugin, the method and the transport, so a failure in a matrix of
cells can be traced to one cell and one call without reading logs.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "InteropError",
    "InvalidPayloadError",
    "PluginCallError",
    "PluginCrashError",
    "PluginLoadError",
    "PluginProtocolError",
    "PluginTimeoutError",
]


class InteropError(Exception):
    """Base of every error raised by the interop host API."""

    def __init__(
        self,
        message: str,
        *,
        plugin: str | None = None,
        method: str | None = None,
        transport: str | None = None,
    ) -> None:
        self.plugin = plugin
        self.method = method
        self.transport = transport
        self.detail = message
        super().__init__(self._format(message))

    def _format(self, message: str) -> str:
        where = self.plugin or "plugin"
        if self.method:
            where += f": {self.method}"
        if self.transport:
            where += f" over {self.transport}"
        return f"{where}: {message}"


class PluginLoadError(InteropError):
    """The plugin could not be loaded: missing file, bad manifest, start time-out, no runtime."""


class PluginCallError(InteropError):
    """The plugin answered a call with a JSON-RPC error (protocol.md section 4)."""

    def __init__(
        self,
        code: int,
        message: str,
        data: Any = None,
        *,
        plugin: str | None = None,
        method: str | None = None,
        transport: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.data = data
        super().__init__(
            f"error {code}: {message}", plugin=plugin, method=method, transport=transport
        )


class PluginTimeoutError(InteropError):
    """No answer arrived within the time-out; the plugin process was killed."""

    def __init__(
        self,
        timeout_ms: float,
        *,
        plugin: str | None = None,
        method: str | None = None,
        transport: str | None = None,
    ) -> None:
        self.timeout_ms = timeout_ms
        super().__init__(
            f"timed out after {timeout_ms:g} ms", plugin=plugin, method=method, transport=transport
        )


class PluginCrashError(InteropError):
    """The plugin process exited, or a WASM instance trapped beyond recovery, or it is closed."""

    def __init__(
        self,
        message: str,
        *,
        exit_code: int | None = None,
        signal: int | None = None,
        stderr_tail: str = "",
        plugin: str | None = None,
        method: str | None = None,
        transport: str | None = None,
    ) -> None:
        self.exit_code = exit_code
        self.signal = signal
        self.stderr_tail = stderr_tail
        if stderr_tail:
            message += f"\n--- plugin stderr (tail) ---\n{stderr_tail}"
        super().__init__(message, plugin=plugin, method=method, transport=transport)


class PluginProtocolError(InteropError):
    """The plugin broke the wire protocol: garbage, unexpected id, oversize message."""

    def __init__(
        self,
        message: str,
        *,
        excerpt: bytes | str = b"",
        plugin: str | None = None,
        method: str | None = None,
        transport: str | None = None,
    ) -> None:
        if isinstance(excerpt, str):
            excerpt = excerpt.encode("utf-8", "replace")
        self.excerpt = excerpt[:200]
        if self.excerpt:
            message += f" (received {self.excerpt!r})"
        super().__init__(message, plugin=plugin, method=method, transport=transport)


class InvalidPayloadError(InteropError):
    """The host refused to send a value outside the JSON profile (protocol.md section 2)."""

    def __init__(
        self,
        message: str,
        *,
        path: str = "$",
        plugin: str | None = None,
        method: str | None = None,
        transport: str | None = None,
    ) -> None:
        self.path = path
        super().__init__(f"{message} at {path}", plugin=plugin, method=method, transport=transport)
