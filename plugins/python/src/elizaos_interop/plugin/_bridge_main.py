"""The bridge's entry point: find the plugin in a module, file or package and serve it.

``python -m elizaos_interop.bridge_server TARGET [--attr plugin] [--max-message-bytes N]`` runs
:func:`main`; :func:`run_plugin` serves a plugin object from a script's ``__main__``. Both redirect
fd 1 to stderr first, so ``print()`` in a plugin never corrupts the protocol stream.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import NoReturn

from ..wire._json import MAX_MESSAGE_BYTES
from ._bridge import serve
from ._elizaos_adapter import adapt_plugin, is_plugin_like
from ._plugin import Plugin

__all__ = ["main", "run_plugin"]


_DEFAULT_ATTR = "plugin"


def _only_plugin(module: types.ModuleType) -> str | None:
    """The one public attribute of ``module`` holding a plugin object (elizaOS packages name it
    ``<name>_plugin``, as ``elizaos.bootstrap.bootstrap_plugin``), or ``None`` when not one."""
    names = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and (isinstance(value, Plugin) or is_plugin_like(value))
    ]
    return names[0] if len(names) == 1 else None


def _load_target(target: str, attr: str) -> Plugin:
    """Import ``target`` (module name, ``.py`` file or package directory) and get ``attr``."""
    path = Path(target)
    if target.endswith(".py") or os.sep in target or path.exists():
        path = path.resolve()
        if not path.exists():
            raise SystemExit(f"elizaos_interop.bridge_server: {target}: no such file or directory")
        if path.is_dir():
            if not (path / "__init__.py").exists():
                raise SystemExit(
                    f"elizaos_interop.bridge_server: {target}: directory is not a package "
                    "(no __init__.py)"
                )
            sys.path.insert(0, str(path.parent))
            module = importlib.import_module(path.name)
        else:
            sys.path.insert(0, str(path.parent))
            module_name = path.stem if path.stem.isidentifier() else "_elizaos_plugin"
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise SystemExit(f"elizaos_interop.bridge_server: {target}: cannot import")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        module = importlib.import_module(target)
    plugin = getattr(module, attr, None)
    if attr == _DEFAULT_ATTR and (plugin is None or isinstance(plugin, types.ModuleType)):
        # No `plugin` object (a package's `plugin` may be its submodule): take the only one.
        found = _only_plugin(module)
        if found is not None:
            attr, plugin = found, getattr(module, found)
    if not hasattr(module, attr):
        raise SystemExit(
            f"elizaos_interop.bridge_server: {target} has no attribute {attr!r} "
            "(expected the plugin object; name it with --attr)"
        )
    if isinstance(plugin, Plugin):
        return plugin
    if is_plugin_like(plugin):  # a published elizaOS plugin object, served as it is
        try:
            return adapt_plugin(plugin, module.__name__)
        except ValueError as exc:
            raise SystemExit(
                f"elizaos_interop.bridge_server: {target}.{attr}: cannot serve this "
                f"{type(plugin).__name__}: {exc}"
            ) from exc
    raise SystemExit(
        f"elizaos_interop.bridge_server: {target}.{attr} is a {type(plugin).__name__}, "
        "expected elizaos_interop.Plugin or an elizaOS plugin object (a name and lists of "
        "actions, providers or evaluators)"
    )


def _redirect_stdio() -> tuple[int, int]:
    """Keep private copies of the protocol descriptors, point fd 1 at stderr and fd 0 at null.

    stdout carries protocol only: afterwards ``print()`` and C-level writes to fd 1 land on
    stderr, and nothing else can read the host's requests.
    """
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    return proto_in, proto_out


def run_plugin(plugin: Plugin | object, *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> NoReturn:
    """Serve ``plugin`` on this process's stdin/stdout, then exit 0.

    For a plugin file that serves itself: ``if __name__ == "__main__": run_plugin(plugin)``.
    """
    proto_in, proto_out = _redirect_stdio()
    asyncio.run(
        serve(plugin, input_fd=proto_in, output_fd=proto_out, max_message_bytes=max_message_bytes)
    )
    sys.stderr.flush()
    # Exit now: lingering non-daemon threads of the plugin must not keep the process alive.
    os._exit(0)


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point of ``python -m elizaos_interop.bridge_server``."""
    parser = argparse.ArgumentParser(
        prog="python -m elizaos_interop.bridge_server",
        description="Serve a Python elizaOS plugin over stdin/stdout (newline-delimited JSON-RPC).",
    )
    parser.add_argument("target", help="module name, .py file or package directory")
    parser.add_argument(
        "--attr",
        default=_DEFAULT_ATTR,
        help="attribute holding the plugin object (default: plugin, else the module's only one)",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=MAX_MESSAGE_BYTES,
        help=f"largest request/response line in bytes (default {MAX_MESSAGE_BYTES})",
    )
    args = parser.parse_args(argv)
    if args.max_message_bytes <= 0:
        parser.error("--max-message-bytes must be positive")
    proto_in, proto_out = _redirect_stdio()
    try:
        plugin = _load_target(args.target, args.attr)
    except SystemExit as exc:
        print(exc.code, file=sys.stderr)
        sys.stderr.flush()
        os._exit(2)
    except BaseException as exc:
        import traceback

        traceback.print_exc()
        print(
            f"elizaos_interop.bridge_server: importing {args.target} failed: "
            f"{type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        sys.stderr.flush()
        os._exit(2)
    asyncio.run(
        serve(
            plugin, input_fd=proto_in, output_fd=proto_out, max_message_bytes=args.max_message_bytes
        )
    )
    sys.stderr.flush()
    # Exit now: lingering non-daemon threads of the plugin must not keep the process alive.
    os._exit(0)
