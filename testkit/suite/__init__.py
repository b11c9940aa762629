"""The conformance suite v1: run with ``pytest --pyargs testkit.suite --matrix matrices/default.toml``."""
