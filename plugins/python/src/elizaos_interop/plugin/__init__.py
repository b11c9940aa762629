"""The plugin author's side: Plugin/Action/Provider/Evaluator, the IPC bridge server, the
runtime proxy a handler calls and the adapter for published elizaOS plugin objects.

Modules here are private; the public API is :mod:`elizaos_interop`.
"""
