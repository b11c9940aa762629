"""elizaOS cross-language plugin interop for Python."""

from __future__ import annotations

from ._errors import (
    InteropError,
    InvalidPayloadError,
    PluginCallError,
    PluginCrashError,
    PluginLoadError,
    PluginProtocolError,
    PluginTimeoutError,
)

__all__ = [
    "InteropError",
    "InvalidPayloadError",
    "PluginCallError",
    "PluginCrashError",
    "PluginLoadError",
    "PluginProtocolError",
    "PluginTimeoutError",
]
