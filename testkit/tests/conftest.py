"""Shared test isolation for the testkit's own tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    """Undo what a test exported into ``os.environ``.

    ``run_latency``, ``certify`` and the in-process Python driver export the ``ELIZAOS_*`` paths
    on purpose (the in-process host reads them); a test that points them at an empty target dir
    must not leak that into the next test of the same xdist worker.
    """
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
