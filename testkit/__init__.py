"""Conformance testkit for the elizaOS cross-language plugin interop system.

It drives every host (Python in-process, TypeScript and Rust through their host drivers) against
every fixture plugin over every transport declared in a matrix file, proves each cell conforms to
docs/protocol.md, fuzzes payloads, and certifies third-party plugins.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
