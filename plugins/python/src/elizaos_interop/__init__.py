"""elizaOS cross-language plugin interop for Python.

Host side: load plugins written in Python, TypeScript or Rust (:func:`load_python_plugin`,
:func:`load_ts_plugin`, :func:`load_ipc_plugin`, :func:`load_rust_plugin`,
:func:`load_wasm_plugin`) and call them with ``await``. Plugin side: describe a plugin with
:class:`Plugin`, :class:`Action`, :class:`Provider`, :class:`Evaluator` and serve it with
``python -m elizaos_interop.bridge_server``.
"""

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
from ._plugin import Action, Evaluator, Plugin, PluginRuntime, Provider

__all__ = [
    "Action",
    "Evaluator",
    "InteropError",
    "InvalidPayloadError",
    "Plugin",
    "PluginCallError",
    "PluginCrashError",
    "PluginLoadError",
    "PluginProtocolError",
    "PluginRuntime",
    "PluginTimeoutError",
    "Provider",
]
