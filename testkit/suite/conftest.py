"""Fixtures of the conformance suite (the generic ones come from testkit.pytest_plugin)."""

from __future__ import annotations

import pytest

from testkit._matrix import Cell
from testkit._schemas import SchemaSet, schemas
from testkit._session import CellError, InteropSession, LoadedRef


@pytest.fixture(scope="session", autouse=True)
def _no_leftover_children(interop_child_guard: None) -> None:
    """Every suite session ends with the leftover-child check."""


@pytest.fixture(scope="session")
def schema_set() -> SchemaSet:
    """docs/schemas with a registry."""
    return schemas()


@pytest.fixture
def conformance(interop_session: InteropSession, interop_cell: Cell) -> LoadedRef:
    """The cell's shared conformance fixture plugin (a missing artifact fails, naming the build)."""
    try:
        return interop_session.plugin(interop_cell, "conformance")
    except CellError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def eliza(interop_session: InteropSession, interop_cell: Cell) -> LoadedRef:
    """The cell's eliza-classic plugin."""
    try:
        return interop_session.plugin(interop_cell, "eliza-classic")
    except CellError as exc:
        pytest.fail(str(exc), pytrace=False)
