"""``python -m elizaos_interop.bridge_server TARGET [--attr plugin] [--max-message-bytes N]``.

Serves the Python plugin found in TARGET (module name, ``.py`` file or package directory) over
stdin/stdout, as protocol.md section 3 specifies. See :mod:`elizaos_interop.plugin._bridge_main`.
"""

from __future__ import annotations

from .plugin._bridge import serve
from .plugin._bridge_main import main, run_plugin

__all__ = ["main", "run_plugin", "serve"]

if __name__ == "__main__":
    main()
