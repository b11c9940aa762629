"""``init`` as protocol.md section 3.3 defines it, checked on a private instance of the conformance
fixture in every cell: the implicit ``init({})`` before the first call (once, and never after an
explicit ``init``), and a failing ``init`` that changes nothing. The fixture's ``inits`` provider
reports every config its init hook saw, its ``config`` provider the config in force, and a config
with ``"failInit": true`` makes its hook fail (section 9).

An FFI library keeps its state per process (section 6), and the Python host runs in the testkit's
own process: each check loads a private copy of the library, so it starts from a library no
earlier check has initialised.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit._drivers import DriverError
from testkit._matrix import Cell
from testkit._session import CellError, InteropSession, LoadedRef
from testkit.suite._helpers import expect_error, expect_ok, expect_value, memory

FIXTURE_NAME = "conformance-fixture"


@contextlib.contextmanager
def _private(session: InteropSession, cell: Cell, tmp_path: Path) -> Iterator[LoadedRef]:
    """A conformance fixture no other check has called: a new process (IPC), a new instance
    (WASM), or a new copy of the library (FFI); unloaded afterwards."""
    try:
        driver = session.driver(cell)
        spec = session.spec(cell, "conformance")
        if cell.transport == "ffi" and spec.path is not None:
            original = Path(spec.path)
            copy = tmp_path / f"{original.stem}-{uuid.uuid4().hex[:8]}{original.suffix}"
            shutil.copyfile(original, copy)
            spec = dataclasses.replace(spec, path=str(copy))
        handle, manifest = driver.load(spec, timeout_ms=20_000)
    except (CellError, DriverError) as exc:
        pytest.fail(f"{cell.id}: {exc}", pytrace=False)
    ref = LoadedRef(cell, "conformance", driver, handle, manifest, spec)
    try:
        yield ref
    finally:
        with contextlib.suppress(Exception):
            driver.unload(handle)


def _provider(plugin: LoadedRef, name: str, what: str) -> dict[str, Any]:
    value = expect_ok(plugin.call("getProvider", {"name": name, "memory": memory("init")}), what)
    assert isinstance(value, dict), f"{what}: expected a ProviderResult, received {value!r}"
    return value


def _inits(plugin: LoadedRef, what: str) -> Any:
    """What the fixture's init hook saw so far (the ``inits`` provider's ``data.configs``)."""
    return (_provider(plugin, "inits", what).get("data") or {}).get("configs")


def _config(plugin: LoadedRef, what: str) -> Any:
    """The config in force (the ``config`` provider's ``values``)."""
    return _provider(plugin, "config", what).get("values")


def _expect_configs(received: Any, expected: list[dict[str, Any]], what: str) -> None:
    assert received == expected, (
        f"{what}: the init hook should have seen exactly {expected} (in order), it saw {received}"
    )


def _init_failed(plugin: LoadedRef, cell: Cell, config: dict[str, Any], what: str) -> list[str]:
    """``init(config)`` failed as a failing handler does: -32000 and the hook's message (asserted),
    and, where the host exposes it, data ``{"kind": "plugin", "name": <plugin name>, "exception"}``
    (returned as problems, so the check goes on to the behaviour that follows and reports both)."""
    out = plugin.call("init", {"config": config})
    expect_error(out, what, code=-32000, error_type="PluginCallError")
    assert "fixture init failure" in out.message, (
        f"{what}: message {out.message!r} should quote the hook's 'fixture init failure'"
    )
    if out.data is None and cell.host != "python":
        return []  # the section 8 driver protocol carries data only when the host has it
    data = out.data if isinstance(out.data, dict) else {}
    if (data.get("kind"), data.get("name")) != ("plugin", FIXTURE_NAME) or not isinstance(
        data.get("exception"), str
    ):
        return [
            f"{what}: error data should be {{'kind': 'plugin', 'name': {FIXTURE_NAME!r}, "
            f"'exception': <type name>}} (protocol.md 3.3), received {out.data!r}"
        ]
    return []


@pytest.mark.interop_check("init-implicit")
@pytest.mark.parametrize("first", ["getProvider", "invokeAction", "validateAction"])
def test_implicit_init(
    interop_session: InteropSession, interop_cell: Cell, tmp_path: Path, first: str
) -> None:
    """The first call without an init runs the hook once with ``{}``, before the call itself;
    later calls run no other."""
    with _private(interop_session, interop_cell, tmp_path) as plugin:
        if first == "getProvider":
            _expect_configs(_inits(plugin, "getProvider(inits) as the first call"), [{}], "first call")
        elif first == "invokeAction":
            m = memory("first")
            out = plugin.call("invokeAction", {"name": "echo", "memory": m, "state": {}, "options": {}})
            expect_ok(out, "invokeAction(echo) as the first call")
        else:
            out = plugin.call("validateAction", {"name": "echo", "memory": memory("first"), "state": {}})
            expect_value(out, True, "validateAction(echo) as the first call", interop_cell)
        _expect_configs(_inits(plugin, f"getProvider(inits) after {first}"), [{}], f"after {first}")
        assert _config(plugin, "getProvider(config)") == {}, "the implicit init's config is {}"
        _expect_configs(_inits(plugin, "getProvider(inits) again"), [{}], "after three calls")


@pytest.mark.interop_check("init-explicit-first")
def test_no_implicit_init_after_explicit(
    interop_session: InteropSession, interop_cell: Cell, tmp_path: Path
) -> None:
    """An explicit init before any call: the hook runs for it alone, never with an implicit ``{}``."""
    with _private(interop_session, interop_cell, tmp_path) as plugin:
        expect_value(plugin.call("init", {"config": {"a": 1}}), {}, "init({a: 1})", interop_cell)
        m = memory("after init")
        expect_ok(
            plugin.call("invokeAction", {"name": "echo", "memory": m, "state": {}, "options": {}}),
            "invokeAction(echo) after init",
        )
        _expect_configs(_inits(plugin, "getProvider(inits)"), [{"a": 1}], "explicit init first")
        assert _config(plugin, "getProvider(config)") == {"a": 1}, "the explicit config is in force"


@pytest.mark.interop_check("init-failure-rollback")
def test_failed_init_changes_nothing(
    interop_session: InteropSession, interop_cell: Cell, tmp_path: Path
) -> None:
    """A failing init leaves the config of the last successful one; a later init works."""
    with _private(interop_session, interop_cell, tmp_path) as plugin:
        expect_value(plugin.call("init", {"config": {"k": 1}}), {}, "init({k: 1})", interop_cell)
        bad = {"failInit": True, "k": 2}
        problems = _init_failed(plugin, interop_cell, bad, "init({failInit: true, k: 2})")
        assert _config(plugin, "getProvider(config) after the failed init") == {"k": 1}, (
            "after a failed init the config of the last successful one stays in force"
        )
        expect_value(
            plugin.call("init", {"config": {"k": 3}}), {}, "init({k: 3}) after a failure", interop_cell
        )
        assert _config(plugin, "getProvider(config) after a new init") == {"k": 3}
        _expect_configs(_inits(plugin, "getProvider(inits)"), [{"k": 1}, bad, {"k": 3}], "three inits")
        assert not problems, "; ".join(problems)


@pytest.mark.interop_check("init-failure-first")
def test_failed_first_init(interop_session: InteropSession, interop_cell: Cell, tmp_path: Path) -> None:
    """A failing init as the very first request: calls then see the config ``{}`` and no implicit
    init follows (the explicit one, failed, was the init); a later init works."""
    with _private(interop_session, interop_cell, tmp_path) as plugin:
        problems = _init_failed(plugin, interop_cell, {"failInit": True}, "init({failInit: true}) first")
        assert _config(plugin, "getProvider(config) after the failed init") == {}, (
            "after a failed first init the config is {}"
        )
        _expect_configs(
            _inits(plugin, "getProvider(inits)"), [{"failInit": True}], "a failed explicit init first"
        )
        expect_value(
            plugin.call("init", {"config": {"n": 1}}), {}, "init({n: 1}) after a failure", interop_cell
        )
        assert _config(plugin, "getProvider(config) after a new init") == {"n": 1}
        assert not problems, "; ".join(problems)
