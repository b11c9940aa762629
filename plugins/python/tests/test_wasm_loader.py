"""WASM-specific behaviour of ``load_wasm_plugin`` (protocol.md section 5).

Load-time validation, the memory-ownership rules (one ``alloc`` per argument, one ``dealloc`` per
result buffer), status codes, traps and their recovery, epoch time-outs and bounds checks are
driven by small real modules assembled from WebAssembly text in this file, whose behaviour
is chosen by the first byte of the action name. The Rust conformance fixture covers memory
exhaustion, concurrency and the flat-memory check.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import wasmtime

from elizaos_interop import (
    LoadedPlugin,
    PluginCallError,
    PluginCrashError,
    PluginLoadError,
    PluginProtocolError,
    PluginTimeoutError,
    load_wasm_plugin,
)
from elizaos_interop.host._wasm import WASM_EXPORTS, WasmTransport

REPO = Path(__file__).resolve().parents[3]
T = TypeVar("T")
MEMORY = {"content": {"text": "t"}}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(autouse=True, params=["cffi", "ctypes"])
def call_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run every test over both ways into wasmtime: cffi, and ctypes when cffi is missing."""
    if request.param == "ctypes":
        monkeypatch.setitem(sys.modules, "cffi", None)  # `import cffi` raises ImportError
    return str(request.param)


def test_the_call_path_follows_cffi_availability(call_path: str, tmp_path: Path) -> None:
    t = WasmTransport(build(tmp_path, plugin_wat()))
    try:
        assert hasattr(t, "_cffi") == (call_path == "cffi")
        assert t.call_sync("init", {"config": {"a": 1}}) == {}
    finally:
        t.close()


def fixture_wasm() -> Path:
    base = Path(os.environ.get("ELIZAOS_RUST_TARGET_DIR", REPO / "plugins" / "rust" / "target"))
    path = base / "wasm32-unknown-unknown" / "release" / "elizaos_plugin_conformance.wasm"
    if not path.is_file():
        pytest.fail(f"missing {path}; build it with: plugins/rust/build-wasm.sh", pytrace=False)
    return path


# -- a test plugin in WebAssembly text -----------------------------------------------------------

MANIFEST = {
    "name": "wat-plugin",
    "description": "test module",
    "version": "1.0.0",
    "language": "wat",
    "actions": [{"name": "ok", "description": "d"}],
    "providers": [],
    "evaluators": [],
}


def _wat_string(text: str) -> str:
    return "".join(f"\\{b:02x}" for b in text.encode("utf-8"))


def plugin_wat(
    *,
    alloc: str = "normal",
    fail_after: int = 1 << 30,
    strict_dealloc: bool = True,
    last_error: bool = False,
    extra: str = "",
    skip: tuple[str, ...] = (),
    answers: dict[str, bytes] | None = None,
) -> str:
    """A module implementing the section 5 ABI with a bump allocator.

    ``alloc``: "normal", "trap" or "oob" (hands out a pointer past the end of memory).
    ``fail_after``: the exported ``alloc`` returns 0 once it has been called this many times.
    ``strict_dealloc``: ``dealloc`` traps unless given exactly the outstanding result buffer.
    Exported globals count what the host did: ``host_allocs``, ``frees`` (result buffers freed),
    ``deallocs`` (every non-empty dealloc), ``inits``.
    ``answers``: raw result buffers ``wasm_invoke_action`` returns for a name starting with the
    given (ASCII) letter.
    """
    manifest = json.dumps({"result": MANIFEST}, separators=(",", ":"))
    ok = '{"result":{"success":true}}'
    bad_env = '{"nope":1}'
    not_json = "not json"
    last = '{"error":{"code":-32000,"message":"last error text","data":{"exception":"E"}}}'
    alloc_body = {
        "normal": "(call $alloc_impl (local.get $n))",
        "trap": "(unreachable)",
        "oob": "(i32.const 0x7ffffff0)",
    }[alloc]
    dealloc_tail = "(unreachable)" if strict_dealloc else ""
    answer_data = answer_ifs = ""
    for i, (letter, raw) in enumerate((answers or {}).items()):
        offset = 5120 + 512 * i
        escaped = "".join(f"\\{b:02x}" for b in raw)
        answer_data += f'\n  (data (i32.const {offset}) "{escaped}")'
        answer_ifs += f"""
    (if (i32.eq (local.get $c) (i32.const {ord(letter)}))
      (then (return (call $buf (i32.const {offset}) (i32.const {len(raw)})))))"""
    funcs = {
        "alloc": f"""
  (func (export "alloc") (param $n i32) (result i32)
    (global.set $host_allocs (i32.add (global.get $host_allocs) (i32.const 1)))
    (if (i32.gt_u (global.get $host_allocs) (i32.const {fail_after}))
      (then (return (i32.const 0))))
    {alloc_body})""",
        "dealloc": f"""
  (func (export "dealloc") (param $p i32) (param $n i32)
    (if (i32.eqz (local.get $n)) (then (return)))
    (global.set $deallocs (i32.add (global.get $deallocs) (i32.const 1)))
    (if (i32.and (i32.eq (local.get $p) (global.get $out_ptr))
                 (i32.eq (local.get $n) (global.get $out_len)))
      (then
        (global.set $frees (i32.add (global.get $frees) (i32.const 1)))
        (global.set $out_ptr (i32.const 0))
        (global.set $out_len (i32.const -1))
        (return)))
    {dealloc_tail})""",
        "get_manifest": f"""
  (func (export "get_manifest") (result i32)
    (call $buf (i32.const 16) (i32.const {len(manifest.encode())})))""",
        "init": """
  (func (export "init") (param $p i32) (param $n i32) (result i32)
    (if (i32.eq (i32.load8_u (i32.add (local.get $p) (i32.const 2))) (i32.const 102))
      (then (return (i32.const -3))))
    (global.set $inits (i32.add (global.get $inits) (i32.const 1)))
    (i32.const 0))""",
        "wasm_validate_action": """
  (func (export "wasm_validate_action")
    (param $np i32) (param i32 i32 i32 i32 i32) (result i32)
    (local $c i32)
    (local.set $c (i32.load8_u (local.get $np)))
    (if (i32.eq (local.get $c) (i32.const 110)) (then (return (i32.const 0))))
    (if (i32.eq (local.get $c) (i32.const 107)) (then (return (i32.const -1))))
    (if (i32.eq (local.get $c) (i32.const 105)) (then (return (i32.const -2))))
    (if (i32.eq (local.get $c) (i32.const 102)) (then (return (i32.const -3))))
    (if (i32.eq (local.get $c) (i32.const 109)) (then (return (i32.const -4))))
    (if (i32.eq (local.get $c) (i32.const 120)) (then (return (i32.const 7))))
    (if (i32.eq (local.get $c) (i32.const 108)) (then (loop $spin (br $spin))))
    (i32.const 1))""",
        "wasm_invoke_action": f"""
  (func (export "wasm_invoke_action")
    (param $np i32) (param i32 i32 i32 i32 i32 i32 i32) (result i32)
    (local $c i32) (local $p i32)
    (local.set $c (i32.load8_u (local.get $np))){answer_ifs}
    (if (i32.eq (local.get $c) (i32.const 108)) (then (loop $spin (br $spin))))
    (if (i32.eq (local.get $c) (i32.const 117)) (then (unreachable)))
    (if (i32.eq (local.get $c) (i32.const 113)) (then (return (i32.const 0x7ffffff0))))
    (if (i32.eq (local.get $c) (i32.const 122)) (then (return (i32.const 0))))
    (if (i32.eq (local.get $c) (i32.const 101))
      (then (return (call $buf (i32.const 4096) (i32.const {len(bad_env)})))))
    (if (i32.eq (local.get $c) (i32.const 106))
      (then (return (call $buf (i32.const 4160) (i32.const {len(not_json)})))))
    (if (i32.eq (local.get $c) (i32.const 103))
      (then (drop (memory.grow (i32.const 16)))))
    (if (i32.eq (local.get $c) (i32.const 98))
      (then
        (local.set $p (call $buf (i32.const 2048) (i32.const {len(ok)})))
        (i32.store (local.get $p) (i32.const 0x7ffffff0))
        (return (local.get $p))))
    (call $buf (i32.const 2048) (i32.const {len(ok)})))""",
        "wasm_get_provider": f"""
  (func (export "wasm_get_provider") (param i32 i32 i32 i32 i32 i32) (result i32)
    (call $buf (i32.const 2048) (i32.const {len(ok)})))""",
        "wasm_validate_evaluator": """
  (func (export "wasm_validate_evaluator") (param i32 i32 i32 i32 i32 i32) (result i32)
    (i32.const 1))""",
        "wasm_invoke_evaluator": f"""
  (func (export "wasm_invoke_evaluator") (param i32 i32 i32 i32 i32 i32) (result i32)
    (call $buf (i32.const 2048) (i32.const {len(ok)})))""",
    }
    body = "".join(code for name, code in funcs.items() if name not in skip)
    if last_error:
        body += f"""
  (func (export "elizaos_last_error") (result i32)
    (call $buf (i32.const 3072) (i32.const {len(last)})))"""
    memory = "" if "memory" in skip else '(memory (export "memory") 1)'
    return f"""
(module
  {memory}
  (global $bump (mut i32) (i32.const 8192))
  (global $out_ptr (mut i32) (i32.const 0))
  (global $out_len (mut i32) (i32.const -1))
  (global $host_allocs (export "host_allocs") (mut i32) (i32.const 0))
  (global $frees (export "frees") (mut i32) (i32.const 0))
  (global $deallocs (export "deallocs") (mut i32) (i32.const 0))
  (global $inits (export "inits") (mut i32) (i32.const 0))
  (data (i32.const 16) "{_wat_string(manifest)}")
  (data (i32.const 2048) "{_wat_string(ok)}")
  (data (i32.const 3072) "{_wat_string(last)}")
  (data (i32.const 4096) "{_wat_string(bad_env)}")
  (data (i32.const 4160) "{_wat_string(not_json)}"){answer_data}
  (func $alloc_impl (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (global.get $bump)
      (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8))))
    (block $fits
      (loop $grow
        (br_if $fits (i32.le_u (global.get $bump)
                               (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
          (then (return (i32.const 0))))
        (br $grow)))
    (local.get $p))
  (func $buf (param $src i32) (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (call $alloc_impl (i32.add (local.get $n) (i32.const 4))))
    (i32.store (local.get $p) (local.get $n))
    (memory.copy (i32.add (local.get $p) (i32.const 4)) (local.get $src) (local.get $n))
    (global.set $out_ptr (local.get $p))
    (global.set $out_len (i32.add (local.get $n) (i32.const 4)))
    (local.get $p))
  {body}
  {extra}
)
"""


def build(tmp_path: Path, wat: str, name: str = "plugin.wasm") -> Path:
    path = tmp_path / name
    path.write_bytes(wasmtime.wat2wasm(wat))
    return path


def global_value(transport: WasmTransport, name: str) -> int:
    """Read one of the test module's counters from the live instance."""
    live = transport._live
    assert live is not None
    exported = live.instance.exports(live.store)[name]
    assert isinstance(exported, wasmtime.Global)
    value: int = exported.value(live.store)
    return value


@pytest.fixture
def wat_plugin(tmp_path: Path) -> Iterator[LoadedPlugin]:
    loaded = load_wasm_plugin(build(tmp_path, plugin_wat()))
    try:
        yield loaded
    finally:
        loaded.close()


def transport_of(plugin: LoadedPlugin) -> WasmTransport:
    t = plugin.transport
    assert isinstance(t, WasmTransport)
    return t


# -- load-time validation -------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="file not found"):
        load_wasm_plugin(tmp_path / "nope.wasm")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="is not a regular file"):
        load_wasm_plugin(tmp_path)


def test_not_a_wasm_file(tmp_path: Path) -> None:
    path = tmp_path / "plugin.wasm"
    path.write_text("(module)")
    with pytest.raises(PluginLoadError, match="is not a WebAssembly module") as info:
        load_wasm_plugin(path)
    assert "received b'(mod'" in str(info.value)
    assert info.value.transport == "wasm"


def test_corrupt_module(tmp_path: Path) -> None:
    path = tmp_path / "plugin.wasm"
    path.write_bytes(b"\x00asm\x01\x00\x00\x00\xff\xff\xff")
    with pytest.raises(PluginLoadError, match="is not a valid WebAssembly module"):
        load_wasm_plugin(path)


def test_imports_are_refused(tmp_path: Path) -> None:
    wat = plugin_wat(extra='(import "env" "now" (func $now (result i64)))')
    # imports must precede definitions in the text format: move it to the front
    wat = wat.replace('(import "env" "now" (func $now (result i64)))', "").replace(
        "(module", '(module (import "env" "now" (func $now (result i64)))', 1
    )
    with pytest.raises(PluginLoadError, match=r"imports env\.now; a plugin module must have no"):
        load_wasm_plugin(build(tmp_path, wat))


def test_missing_exports_are_listed(tmp_path: Path) -> None:
    wat = plugin_wat(skip=("memory", "wasm_get_provider", "init"))
    wat = wat.replace("(module", "(module (memory 1)", 1)
    with pytest.raises(PluginLoadError) as info:
        load_wasm_plugin(build(tmp_path, wat))
    assert "missing exports memory, init, wasm_get_provider" in str(info.value)


def test_wrong_signatures_are_listed(tmp_path: Path) -> None:
    wat = plugin_wat(skip=("alloc", "wasm_validate_evaluator"))
    wat = wat.replace(
        "(func $alloc_impl",
        """(func (export "alloc") (param i64) (result i32) (i32.const 0))
  (func (export "wasm_validate_evaluator") (param i32 i32 i32 i32) (result i32) (i32.const 1))
  (func $alloc_impl""",
        1,
    )
    with pytest.raises(PluginLoadError) as info:
        load_wasm_plugin(build(tmp_path, wat))
    message = str(info.value)
    assert "alloc: expected (i32) -> (i32), received (i64) -> (i32)" in message
    assert (
        "wasm_validate_evaluator: expected (i32, i32, i32, i32, i32, i32) -> (i32), "
        "received (i32, i32, i32, i32) -> (i32)" in message
    )


def test_the_abi_table_is_protocol_5_1() -> None:
    assert set(WASM_EXPORTS) == {
        "alloc",
        "dealloc",
        "get_manifest",
        "init",
        "wasm_validate_action",
        "wasm_invoke_action",
        "wasm_get_provider",
        "wasm_validate_evaluator",
        "wasm_invoke_evaluator",
    }


def test_loads_and_reports_the_manifest(wat_plugin: LoadedPlugin) -> None:
    assert wat_plugin.manifest == MANIFEST
    assert wat_plugin.transport.label == "wat-plugin"
    assert repr(wat_plugin).endswith("over wasm>")


# -- memory ownership ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "params", "allocs"),
    [
        ("getManifest", {}, 0),
        ("init", {"config": {"a": 1}}, 1),
        ("validateAction", {"name": "v", "memory": MEMORY}, 3),
        ("invokeAction", {"name": "ok", "memory": MEMORY, "options": {"x": 1}}, 4),
        ("getProvider", {"name": "p", "memory": MEMORY}, 3),
        ("validateEvaluator", {"name": "e", "memory": MEMORY}, 3),
        ("invokeEvaluator", {"name": "e", "memory": MEMORY}, 3),
    ],
)
def test_one_alloc_per_argument_and_one_dealloc_per_result(
    wat_plugin: LoadedPlugin, method: str, params: dict[str, Any], allocs: int
) -> None:
    """The strict dealloc traps on anything but the outstanding result buffer (p, 4 + n)."""
    t = transport_of(wat_plugin)
    frees = global_value(t, "frees")
    host_allocs = global_value(t, "host_allocs")
    t.call_sync(method, params)
    assert global_value(t, "host_allocs") - host_allocs == allocs
    buffers = (
        1 if method in ("getManifest", "invokeAction", "getProvider", "invokeEvaluator") else 0
    )
    assert global_value(t, "frees") - frees == buffers
    assert t.instantiations == 1


def test_alloc_returning_zero_is_32603_and_earlier_arguments_are_given_back(
    tmp_path: Path,
) -> None:
    loaded = load_wasm_plugin(build(tmp_path, plugin_wat(fail_after=2, strict_dealloc=False)))
    try:
        t = transport_of(loaded)
        deallocs = global_value(t, "deallocs")
        with pytest.raises(PluginCallError) as info:
            run(loaded.invoke_action("ok", MEMORY))
        assert info.value.code == -32603
        assert "alloc(" in info.value.message
        # the two arguments allocated before the 0 were handed back
        assert global_value(t, "deallocs") - deallocs == 2
    finally:
        loaded.close()


def test_null_result_buffer_is_32603(wat_plugin: LoadedPlugin) -> None:
    with pytest.raises(PluginCallError) as info:
        run(wat_plugin.invoke_action("zero", MEMORY))
    assert info.value.code == -32603


@pytest.mark.parametrize("name", ["q-oob-pointer", "big-length"])
def test_result_outside_memory_is_a_protocol_error(wat_plugin: LoadedPlugin, name: str) -> None:
    t = transport_of(wat_plugin)
    with pytest.raises(PluginProtocolError, match="outside its linear memory"):
        run(wat_plugin.invoke_action(name, MEMORY))
    assert run(wat_plugin.invoke_action("ok", MEMORY)) == {"success": True}
    assert t.instantiations == 2  # the instance that broke the ABI was replaced


def test_alloc_outside_memory_is_a_protocol_error(tmp_path: Path) -> None:
    loaded = load_wasm_plugin(build(tmp_path, plugin_wat(alloc="oob")))
    try:
        with pytest.raises(PluginProtocolError, match="outside its linear memory"):
            run(loaded.invoke_action("ok", MEMORY))
    finally:
        loaded.close()


@pytest.mark.parametrize("name", ["envelope-wrong", "json-not"])
def test_bad_envelopes_are_protocol_errors(wat_plugin: LoadedPlugin, name: str) -> None:
    with pytest.raises(PluginProtocolError) as info:
        run(wat_plugin.invoke_action(name, MEMORY))
    assert info.value.excerpt in (b'{"nope":1}', b"not json")
    assert run(wat_plugin.invoke_action("ok", MEMORY)) == {"success": True}


STRICT_ANSWERS = {
    "N": b'{"result":{"success":true,"values":{"x":NaN}}}',
    "I": b'{"result":{"success":true,"values":{"x":Infinity}}}',
    "S": b'{"result":{"success":true,"text":"\\ud800"}}',
    "U": b'{"result":{"success":true,"text":"\xff"}}',
    "P": b'{"result":{"success":true,"text":"\\ud83d\\ude00"}}',
}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("NaN", "NaN is not JSON"),
        ("Infinity", "Infinity is not JSON"),
        ("Surrogate", "lone surrogate"),
        ("Utf8", "can't decode byte 0xff"),
    ],
)
def test_what_strict_json_refuses(tmp_path: Path, name: str, reason: str) -> None:
    """Section 2 on the receiving side: a plugin's buffer with these is a protocol error."""
    with load_wasm_plugin(build(tmp_path, plugin_wat(answers=STRICT_ANSWERS))) as loaded:
        with pytest.raises(PluginProtocolError, match=reason) as info:
            run(loaded.invoke_action(name, MEMORY))
        assert info.value.transport == "wasm"
        assert info.value.excerpt == STRICT_ANSWERS[name[0]]
        assert run(loaded.invoke_action("Pair", MEMORY)) == {"success": True, "text": "\U0001f600"}


def test_memory_growth_during_calls(wat_plugin: LoadedPlugin) -> None:
    """Each 'g' call grows memory by 1 MiB inside the call; results stay readable."""
    t = transport_of(wat_plugin)
    before = t.memory_size()
    for _ in range(20):
        assert run(wat_plugin.invoke_action("grow", MEMORY)) == {"success": True}
    assert t.memory_size() >= before + 20 * 16 * 65536
    assert run(wat_plugin.invoke_action("ok", MEMORY)) == {"success": True}


# -- status codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [("kunknown", -32001), ("ibad", -32602), ("fails", -32000), ("minternal", -32603)],
)
def test_negative_statuses_map_to_codes(wat_plugin: LoadedPlugin, name: str, code: int) -> None:
    with pytest.raises(PluginCallError) as info:
        run(wat_plugin.validate_action(name, MEMORY))
    assert info.value.code == code
    if code in (-32001, -32000):
        assert info.value.data == {"kind": "action", "name": name}


def test_validate_statuses(wat_plugin: LoadedPlugin) -> None:
    assert run(wat_plugin.validate_action("valid", MEMORY)) is True
    assert run(wat_plugin.validate_action("no", MEMORY)) is False
    with pytest.raises(PluginProtocolError, match="invalid status 7"):
        run(wat_plugin.validate_action("x", MEMORY))


def test_last_error_supplies_message_and_data(tmp_path: Path) -> None:
    loaded = load_wasm_plugin(build(tmp_path, plugin_wat(last_error=True)))
    try:
        with pytest.raises(PluginCallError) as info:
            run(loaded.validate_action("fails", MEMORY))
        assert info.value.code == -32000
        assert info.value.message == "last error text"
        assert info.value.data == {"exception": "E"}
    finally:
        loaded.close()


def test_failed_init_is_not_replayed(wat_plugin: LoadedPlugin) -> None:
    t = transport_of(wat_plugin)
    run(wat_plugin.init({"a": 1}))
    with pytest.raises(PluginCallError) as info:
        run(wat_plugin.init({"fail": 1}))  # the module fails configs starting {"f
    assert info.value.code == -32000
    with pytest.raises(PluginCallError):
        run(wat_plugin.invoke_action("unreachable", MEMORY))
    run(wat_plugin.invoke_action("ok", MEMORY))
    assert t.instantiations == 2
    assert global_value(t, "inits") == 1  # {"a": 1} replayed, {"fail": 1} not


# -- traps and time-outs --------------------------------------------------------------------------


def test_trap_is_32000_and_the_instance_is_replaced(wat_plugin: LoadedPlugin) -> None:
    t = transport_of(wat_plugin)
    run(wat_plugin.init({"k": "v"}))
    with pytest.raises(PluginCallError) as info:
        run(wat_plugin.invoke_action("unreachable", MEMORY))
    assert info.value.code == -32000
    assert "unreachable" in info.value.message
    assert info.value.data["kind"] == "action"
    assert "wasm backtrace" in info.value.data["trap"]
    assert run(wat_plugin.invoke_action("ok", MEMORY)) == {"success": True}
    assert t.instantiations == 2
    assert global_value(t, "inits") == 1  # the last init config was replayed


def test_trap_in_alloc_is_32000(tmp_path: Path) -> None:
    loaded = load_wasm_plugin(build(tmp_path, plugin_wat(alloc="trap")))
    try:
        for _ in range(2):
            with pytest.raises(PluginCallError) as info:
                run(loaded.invoke_action("ok", MEMORY))
            assert info.value.code == -32000
        # the first instance, plus the one created lazily for the second call
        assert transport_of(loaded).instantiations == 2
    finally:
        loaded.close()


def test_infinite_loop_times_out_and_the_plugin_keeps_serving(wat_plugin: LoadedPlugin) -> None:
    t = transport_of(wat_plugin)
    run(wat_plugin.init({"k": 1}))
    with pytest.raises(PluginTimeoutError) as info:
        run(wat_plugin.invoke_action("loop", MEMORY, timeout=0.2))
    assert info.value.timeout_ms == 200
    assert 'wat-plugin: invokeAction("loop") over wasm: timed out after 200 ms' in str(info.value)
    assert run(wat_plugin.invoke_action("ok", MEMORY)) == {"success": True}
    assert t.instantiations == 2
    assert global_value(t, "inits") == 1
    with pytest.raises(PluginTimeoutError):
        t.call_sync("validateAction", {"name": "loop", "memory": MEMORY}, timeout=0.1)
    assert run(wat_plugin.validate_action("v", MEMORY)) is True


def test_default_timeout_applies(tmp_path: Path) -> None:
    loaded = load_wasm_plugin(build(tmp_path, plugin_wat()), default_timeout=0.1)
    try:
        with pytest.raises(PluginTimeoutError) as info:
            run(loaded.invoke_action("loop", MEMORY))
        assert info.value.timeout_ms == 100
    finally:
        loaded.close()


def test_watchdog_thread_ends_on_close(tmp_path: Path) -> None:
    loaded = load_wasm_plugin(build(tmp_path, plugin_wat()))
    run(loaded.invoke_action("ok", MEMORY))
    thread = transport_of(loaded)._watchdog._thread
    assert thread is not None
    assert thread.is_alive()
    loaded.close()
    assert not thread.is_alive()
    with pytest.raises(PluginCrashError, match="plugin is closed"):
        run(loaded.invoke_action("ok", MEMORY))
    with pytest.raises(PluginCrashError, match="plugin is closed"):
        transport_of(loaded).noop()


def test_without_default_timeout_the_watchdog_waits_for_a_timed_call(tmp_path: Path) -> None:
    t = WasmTransport(build(tmp_path, plugin_wat()), default_timeout=None)
    try:
        assert t.call_sync("invokeAction", {"name": "ok", "memory": MEMORY}) == {"success": True}
        assert t._watchdog._thread is None
        with pytest.raises(PluginTimeoutError):  # a per-call time-out still applies
            t.call_sync("invokeAction", {"name": "loop", "memory": MEMORY}, timeout=0.1)
        assert t._watchdog._thread is not None
    finally:
        t.close()


def test_not_interruptible_ignores_timeouts(tmp_path: Path) -> None:
    """Without epoch checks no time-out can apply: a timed call runs to completion."""
    t = WasmTransport(build(tmp_path, plugin_wat()), interruptible=False, default_timeout=0.001)
    try:
        params = {"name": "ok", "memory": MEMORY}
        assert t.call_sync("invokeAction", params, timeout=0.001) == {"success": True}
        assert t._watchdog._thread is None
        with pytest.raises(PluginCallError):  # traps are still recovered
            t.call_sync("invokeAction", {"name": "unreachable", "memory": MEMORY})
        assert t.call_sync("invokeAction", params) == {"success": True}
    finally:
        t.close()


# -- the Rust fixture: memory exhaustion, concurrency, flat memory ------------------------------


def test_memory_exhaustion_traps_and_recovers() -> None:
    loaded = load_wasm_plugin(fixture_wasm(), memory_limit=16 * 1024 * 1024)
    try:
        t = transport_of(loaded)
        with pytest.raises(PluginCallError) as info:
            run(loaded.invoke_action("large", {"content": {}}, None, {"size": 32_000_000}))
        assert info.value.code == -32000
        assert t._live is None  # discarded; re-created by the next call
        result = run(loaded.invoke_action("echo", {"content": {"text": "after"}}))
        assert result["text"] == "after"
        assert t.instantiations == 2
    finally:
        loaded.close()


def test_calls_from_many_threads_are_serialised() -> None:
    loaded = load_wasm_plugin(fixture_wasm())
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(200):
                text = f"{k}-{i}"
                params = {"name": "echo", "memory": {"content": {"text": text}}}
                assert loaded.transport.call_sync("invokeAction", params)["text"] == text
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        loaded.close()
    assert errors == []


def test_instance_memory_stays_flat() -> None:
    """After a warm-up, 100k echo calls leave the linear memory size unchanged.

    Any leak of an argument (~120 bytes) or of a result buffer (~250 bytes) per call would need
    at least 12 MB more memory over 100k calls, i.e. ~180 more 64 KiB pages: exact equality
    of the page count cannot hide it.
    """
    loaded = load_wasm_plugin(fixture_wasm())
    try:
        t = transport_of(loaded)
        params = {"name": "echo", "memory": {"content": {"text": "x" * 80}}, "options": {"n": 1}}
        for _ in range(2_000):
            t.call_sync("invokeAction", params)
        before = t.memory_size()
        for _ in range(100_000):
            t.call_sync("invokeAction", params)
        assert t.memory_size() == before
        assert t.instantiations == 1
    finally:
        loaded.close()


def test_noop_is_dealloc_1_0(wat_plugin: LoadedPlugin) -> None:
    t = transport_of(wat_plugin)
    for _ in range(10):
        t.noop()
    assert global_value(t, "deallocs") == 1  # only the manifest's buffer; (1, 0) is a no-op


def test_a_late_epoch_increment_never_times_out_the_next_call() -> None:
    """Calls whose deadline passes about when they finish alternate with long-deadline calls.

    The watchdog disarms without a lock (see ``_Watchdog``): a check that read a finished
    call's deadline must never trap the call after it, so every long-deadline call succeeds,
    however each short one ended (timed out, or finished just before or after its deadline).
    """
    loaded = load_wasm_plugin(fixture_wasm())
    try:
        t = transport_of(loaded)
        large = {"name": "large", "memory": MEMORY, "options": {"size": 200_000}}
        echo = {"name": "echo", "memory": MEMORY}
        durations = []
        for _ in range(20):  # calibrates the short deadline; nothing is asserted on time
            start = time.perf_counter()
            t.call_sync("invokeAction", large)
            durations.append(time.perf_counter() - start)
        # Most short calls pass their deadline while running; the watchdog checks every 50 ms
        # at most, so which ones time out (and how late) varies from run to run.
        short = min(durations) / 4
        outcomes = {"ok": 0, "timeout": 0}
        for _ in range(2_000):
            try:
                t.call_sync("invokeAction", large, timeout=short)
                outcomes["ok"] += 1
            except PluginTimeoutError:
                outcomes["timeout"] += 1
            result = t.call_sync("invokeAction", echo, timeout=30.0)
            assert result["data"]["memory"] == MEMORY, outcomes
            if outcomes["timeout"] >= 5:
                break
        assert t.instantiations == 1 + outcomes["timeout"]
    finally:
        loaded.close()


def test_a_runtime_is_accepted_and_not_sent(wat_plugin: LoadedPlugin) -> None:
    """Runtime calls are not built over WASM (protocol.md 11.6): ``runtime`` changes nothing."""
    runtime = {"agentId": "a-1"}
    assert run(wat_plugin.actions[0].handler(runtime, MEMORY, {}, {})) == {"success": True}
    assert run(wat_plugin.invoke_action("ok", MEMORY, runtime=runtime)) == {"success": True}
    assert run(wat_plugin.validate_action("valid", MEMORY, runtime=runtime)) is True
