"""elizaOS cross-language plugin interop for Python.

Host side: load plugins written in Python, TypeScript or Rust (:func:`load_python_plugin`,
:func:`load_ts_plugin`, :func:`load_ipc_plugin`, :func:`load_rust_plugin`,
:func:`load_wasm_plugin`) and call them with ``await``. Plugin side: describe a plugin with
:class:`Plugin`, :class:`Action`, :class:`Provider`, :class:`Evaluator` and serve it with
``python -m elizaos_interop.bridge_server``. :func:`json_type` names a value's JSON type the way
error data's ``received`` member spells it (protocol.md 3.3), for code that builds such errors.
"""

from __future__ import annotations

from .host._in_memory import InMemoryRuntime
from .host._ipc import IpcTransport
from .host._loaded_plugin import LoadedPlugin, Result
from .host._loaders import (
    load_ipc_plugin,
    load_python_plugin,
    load_rust_plugin,
    load_ts_plugin,
    load_wasm_plugin,
)
from .host._transport import Transport
from .plugin._bridge import serve
from .plugin._bridge_main import run_plugin
from .plugin._plugin import Action, Evaluator, Plugin, PluginRuntime, Provider
from .plugin._runtime_proxy import RuntimeCallError, RuntimeProxy, RuntimeUnavailableError
from .wire._errors import (
    InteropError,
    InvalidPayloadError,
    PluginCallError,
    PluginCrashError,
    PluginLoadError,
    PluginProtocolError,
    PluginTimeoutError,
)
from .wire._protocol import json_type

__all__ = [
    "Action",
    "Evaluator",
    "InMemoryRuntime",
    "InteropError",
    "InvalidPayloadError",
    "IpcTransport",
    "LoadedPlugin",
    "Plugin",
    "PluginCallError",
    "PluginCrashError",
    "PluginLoadError",
    "PluginProtocolError",
    "PluginRuntime",
    "PluginTimeoutError",
    "Provider",
    "Result",
    "RuntimeCallError",
    "RuntimeProxy",
    "RuntimeUnavailableError",
    "Transport",
    "json_type",
    "load_ipc_plugin",
    "load_python_plugin",
    "load_rust_plugin",
    "load_ts_plugin",
    "load_wasm_plugin",
    "run_plugin",
    "serve",
]
