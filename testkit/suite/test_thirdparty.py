"""Third-party plugins (suites ``seed`` and ``elizaos``): software not built with our SDKs, loaded
by every host that can load it, held to the calls and outcomes of its expectation file
(protocol.md sections 1 must-ignore, 3.3 liberal answers, 3.4 no shutdown, 12 the seed dialect)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from testkit._drivers import CallOutcome, PythonDriver
from testkit._jsonprofile import json_diff
from testkit._matrix import Cell, ThirdPartyPlugin
from testkit._schemas import SchemaSet
from testkit._session import CellError, InteropSession, LoadedRef, child_processes
from testkit._thirdparty import Expectations, ExpectedCall, load_expectations, load_world
from testkit._toolchains import ToolchainError, Toolchains
from testkit.suite._helpers import CALL_MS

pytestmark = pytest.mark.interop_suite("seed", "elizaos")

#: Bound on ``close()`` of a plugin without ``shutdown`` (3.4: no longer than the EOF grace, 2 s by
#: default, plus process start-up noise on a busy 2-core machine). A robustness bound, not a figure.
CLOSE_BOUND_S = 8.0


def _plugin_of(cell: Cell) -> ThirdPartyPlugin:
    assert cell.third_party is not None, f"{cell.id} is not a third-party cell"
    return cell.third_party


@pytest.fixture
def expectations(interop_cell: Cell, interop_toolchains: Toolchains) -> Expectations:
    """The cell's expectation file."""
    try:
        return load_expectations(interop_toolchains.repo_root / _plugin_of(interop_cell).expect)
    except ToolchainError as exc:
        pytest.fail(f"{interop_cell.id}: {exc}", pytrace=False)


@pytest.fixture
def world(interop_cell: Cell, interop_toolchains: Toolchains) -> dict[str, Any] | None:
    """The World of the cell's plugin table (None when it has none)."""
    reference = _plugin_of(interop_cell).world
    if reference is None:
        return None
    try:
        return load_world(reference, interop_toolchains.repo_root)
    except ToolchainError as exc:
        pytest.fail(f"{interop_cell.id}: {exc}", pytrace=False)


@pytest.fixture
def third_party(interop_session: InteropSession, interop_cell: Cell) -> LoadedRef:
    """The cell's plugin, shared by the checks of the cell (a load failure fails each of them)."""
    try:
        return interop_session.plugin(interop_cell, "third-party")
    except CellError as exc:
        pytest.fail(str(exc), pytrace=False)


@contextlib.contextmanager
def _fresh(session: InteropSession, cell: Cell, world: dict[str, Any] | None = None) -> Iterator[LoadedRef]:
    try:
        ctx = session.fresh(cell, "third-party", world)
        ref = ctx.__enter__()
    except CellError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield ref
    finally:
        ctx.__exit__(None, None, None)


def json_subset(expected: Any, received: Any, path: str = "$") -> str | None:
    """The first place where ``received`` lacks or differs from a member of ``expected``, or None.

    Objects: every member of ``expected`` is in ``received`` with a matching value (others are
    allowed); arrays: same length, items matched in order; other values: section 2 equality."""
    if isinstance(expected, dict):
        if not isinstance(received, dict):
            return f"{path}: expected an object, received {json.dumps(received)[:120]}"
        for key, value in expected.items():
            if key not in received:
                return f"{path}.{key}: missing (received members {sorted(received)[:12]})"
            diff = json_subset(value, received[key], f"{path}.{key}")
            if diff is not None:
                return diff
        return None
    if isinstance(expected, list):
        if not isinstance(received, list) or len(received) != len(expected):
            return f"{path}: expected an array of {len(expected)}, received {json.dumps(received)[:120]}"
        for i, (e, r) in enumerate(zip(expected, received, strict=True)):
            diff = json_subset(e, r, f"{path}[{i}]")
            if diff is not None:
                return diff
        return None
    return json_diff(expected, received, path)


def judge(call: ExpectedCall, outcome: CallOutcome) -> str | None:
    """Why ``outcome`` does not meet the call's expectation, or None when it does (``error`` may
    also name the error data's ``exception``, the handler's exception type)."""
    expect = call.expect
    if "error" in expect:
        if outcome.ok:
            return (
                f"expected an error {expect['error']}, received the result {json.dumps(outcome.value)[:300]}"
            )
        wanted: dict[str, Any] = expect["error"]
        problems = []
        if "type" in wanted and outcome.error_type != wanted["type"]:
            problems.append(f"type {outcome.error_type}, expected {wanted['type']}")
        if "code" in wanted and outcome.code != wanted["code"]:
            problems.append(f"code {outcome.code}, expected {wanted['code']}")
        if "message" in wanted and str(wanted["message"]) not in outcome.message:
            problems.append(f"message should contain {wanted['message']!r}")
        if "exception" in wanted:
            exception = outcome.data.get("exception") if isinstance(outcome.data, dict) else None
            if exception != wanted["exception"]:
                problems.append(f"data.exception {exception!r}, expected {wanted['exception']!r}")
        return f"{'; '.join(problems)} (received {outcome})" if problems else None
    if not outcome.ok:
        return f"expected a result, received {outcome}"
    if "value" in expect:
        diff = json_diff(expect["value"], outcome.value)
        return None if diff is None else f"{diff}; received {json.dumps(outcome.value)[:300]}"
    if "subset" in expect:
        diff = json_subset(expect["subset"], outcome.value)
        return None if diff is None else f"{diff}; received {json.dumps(outcome.value)[:300]}"
    return None  # {"ok": true}: any result


@pytest.mark.interop_check("thirdparty-manifest")
def test_manifest_kept_as_sent(
    third_party: LoadedRef, interop_cell: Cell, expectations: Expectations, schema_set: SchemaSet
) -> None:
    """The host's manifest is valid, names the plugin's language, and keeps every member the
    plugin sent, known or not (must-ignore: ``examples``, ``config``, ``dependencies``, ...)."""
    manifest = third_party.manifest
    problems = schema_set.validate("manifest.schema.json", manifest)
    assert not problems, f"{interop_cell.id}: manifest invalid against manifest.schema.json: {problems}"
    language = _plugin_of(interop_cell).language
    assert manifest.get("language") == language, (
        f"{interop_cell.id}: manifest language {manifest.get('language')!r}, expected {language!r}"
    )
    diff = json_subset(expectations.manifest, manifest)
    assert diff is None, (
        f"{interop_cell.id}: the host's manifest lost or changed a member the plugin sent "
        f"(must-ignore, protocol.md section 1): {diff}"
    )
    if isinstance(third_party.driver, PythonDriver):
        # In-process host: each Action/Provider/Evaluator object's ``descriptor`` (section 7.1).
        plugin = third_party.driver.plugin(third_party.handle)
        for kind in ("actions", "providers", "evaluators"):
            if kind not in expectations.manifest:
                continue
            descriptors = [getattr(o, "descriptor", None) for o in getattr(plugin, kind)]
            diff = json_subset(expectations.manifest[kind], descriptors, f"plugin.{kind}[*].descriptor")
            assert diff is None, (
                f"{interop_cell.id}: a {kind[:-1]} object lost a member of its descriptor: {diff}"
            )


@pytest.mark.interop_check("thirdparty-calls")
def test_expected_calls(
    third_party: LoadedRef,
    interop_cell: Cell,
    expectations: Expectations,
    world: dict[str, Any] | None,
    request: pytest.FixtureRequest,
) -> None:
    """Every call of the expectation file has its outcome; ``world`` calls run with the World (the
    file's, else the plugin table's) as the in-memory runtime (protocol.md 11.5), the others with
    no runtime."""
    failures: list[str] = []
    outcomes: dict[str, str] = {}
    world = expectations.world if expectations.world is not None else world
    for call in expectations.calls:
        if call.world and world is None:
            failures.append(f"{call.id}: needs a World, and [plugin.{interop_cell.plugin}] has no 'world'")
            continue
        outcome = third_party.call(call.method, call.params, CALL_MS, world if call.world else None)
        why = judge(call, outcome)
        outcomes[call.id] = "ok" if why is None else "FAILED"
        if why is not None:
            failures.append(f"{call.id}{' (with the World)' if call.world else ''}: {why}")
    request.node.user_properties.append(("interop_call_outcomes", outcomes))
    assert not failures, (
        f"{interop_cell.id}: {len(failures)} of {len(expectations.calls)} calls of "
        f"{expectations.path.name} did not have the expected outcome:\n  " + "\n  ".join(failures)
    )


@pytest.mark.interop_check("thirdparty-close")
def test_close_is_bounded(interop_session: InteropSession, interop_cell: Cell) -> None:
    """Closing the plugin is bounded and leaves no process behind; a plugin that declared no
    ``shutdown`` capability is closed through stdin EOF (protocol.md 3.4)."""
    before = {pid for pid, _s, _c in child_processes()}
    with _fresh(interop_session, interop_cell) as ref:
        expected = ref.call("getManifest", {})
        assert expected.ok, f"{interop_cell.id}: getManifest on a fresh instance: {expected}"
        started = time.monotonic()
        ref.driver.unload(ref.handle)
        elapsed = time.monotonic() - started
    assert elapsed < CLOSE_BOUND_S, (
        f"{interop_cell.id}: close() took {elapsed:.1f} s (bound {CLOSE_BOUND_S} s): the host waited "
        "for a shutdown answer or an exit the plugin never promised"
    )
    if isinstance(ref.driver, PythonDriver):  # in-process host: its children are ours to see
        left = [c for c in child_processes() if c[0] not in before]
        assert not left, f"{interop_cell.id}: close() left the plugin process behind: {left}"


def _over_ipc(cell: Cell) -> bool:
    return cell.transport == "ipc"


@pytest.mark.interop_suite("seed")
@pytest.mark.interop_cells.with_args(_over_ipc)
@pytest.mark.interop_check("seed-no-runtime-params")
def test_seed_plugin_gets_no_runtime_params(
    interop_session: InteropSession, interop_cell: Cell, world: dict[str, Any] | None
) -> None:
    """A plugin without ``protocolVersion`` is a seed-dialect plugin: even when the host's caller
    passes a runtime, the host sends it no ``runtime`` params (protocol.md 11.1 and 12)."""
    with _fresh(interop_session, interop_cell, world or {"agentId": "seed-check"}) as ref:
        params = {"name": "inspect", "memory": {"content": {"text": "x"}}, "state": {}, "options": {}}
        out = ref.call("invokeAction", params)
        assert out.ok, f"{interop_cell.id}: invokeAction(inspect): {out}"
        keys = (out.value.get("data") or {}).get("keys")
        assert isinstance(keys, list), f"{interop_cell.id}: inspect should list the params members: {out}"
        assert "runtime" not in keys, (
            f"{interop_cell.id}: the host sent `runtime` params to a seed-dialect plugin: {keys}"
        )
