"""A host written only from the seed README's "FFI Exports" list, with ctypes: it loads our
eliza-classic shared library, reads the manifest as plain JSON, and gets ELIZA's reply from
``elizaos_invoke_action`` as the plain ActionResult (protocol.md section 6: our ABI is the seed's)."""

from __future__ import annotations

import ctypes
import json
from pathlib import Path
from typing import Any

import pytest

from testkit._toolchains import Toolchains, find_repo_root

ROOT = find_repo_root(Path(__file__).parent)


@pytest.fixture(scope="module")
def library() -> ctypes.CDLL:
    """libelizaos_plugin_eliza_classic.so with the seed's signatures (char * results as void *, so
    the pointer handed back to elizaos_free_string is the one the plugin allocated)."""
    path = Toolchains.discover(ROOT).rust_target_dir / "release" / "libelizaos_plugin_eliza_classic.so"
    if not path.is_file():
        pytest.fail(f"{path} is missing; build it with: nox -s build_rust_ffi", pytrace=False)
    lib = ctypes.CDLL(str(path))
    lib.elizaos_get_manifest.restype = ctypes.c_void_p
    lib.elizaos_get_manifest.argtypes = []
    lib.elizaos_init.restype = ctypes.c_int
    lib.elizaos_init.argtypes = [ctypes.c_char_p]
    lib.elizaos_validate_action.restype = ctypes.c_int
    lib.elizaos_validate_action.argtypes = [ctypes.c_char_p] * 3
    lib.elizaos_invoke_action.restype = ctypes.c_void_p
    lib.elizaos_invoke_action.argtypes = [ctypes.c_char_p] * 4
    lib.elizaos_get_provider.restype = ctypes.c_void_p
    lib.elizaos_get_provider.argtypes = [ctypes.c_char_p] * 3
    lib.elizaos_free_string.restype = None
    lib.elizaos_free_string.argtypes = [ctypes.c_void_p]
    return lib


def _take(lib: ctypes.CDLL, pointer: int | None, call: str) -> Any:
    """The JSON value behind a returned char *, freed with elizaos_free_string."""
    assert pointer, f"{call} returned NULL"
    try:
        text = ctypes.string_at(pointer).decode("utf-8")
    finally:
        lib.elizaos_free_string(pointer)
    return json.loads(text)


def _b(value: Any) -> bytes:
    return (value if isinstance(value, str) else json.dumps(value)).encode("utf-8")


def test_manifest_is_plain_json(library: ctypes.CDLL) -> None:
    manifest = _take(library, library.elizaos_get_manifest(), "elizaos_get_manifest()")
    assert manifest.get("name") == "eliza-classic", manifest
    assert [a["name"] for a in manifest["actions"]] == ["generate-response"], manifest
    assert [p["name"] for p in manifest["providers"]] == ["eliza-greeting"], manifest


def test_eliza_replies_through_the_seed_abi(library: ctypes.CDLL) -> None:
    assert library.elizaos_init(_b({})) == 0
    memory = _b({"content": {"text": "I am feeling sad"}})
    assert library.elizaos_validate_action(_b("generate-response"), memory, _b({})) == 1
    result = _take(
        library,
        library.elizaos_invoke_action(_b("generate-response"), memory, _b({}), _b({})),
        'elizaos_invoke_action("generate-response")',
    )
    assert result == {"success": True, "text": "I am sorry to hear you are sad."}, result
    greeting = _take(
        library,
        library.elizaos_get_provider(_b("eliza-greeting"), _b({"content": {}}), _b({})),
        'elizaos_get_provider("eliza-greeting")',
    )
    assert greeting == {"text": "How do you do. Please tell me your problem."}, greeting


def test_failure_is_null_or_negative(library: ctypes.CDLL) -> None:
    memory = _b({"content": {"text": "x"}})
    assert library.elizaos_validate_action(_b("no-such-action"), memory, _b({})) < 0
    assert not library.elizaos_invoke_action(_b("no-such-action"), memory, _b({}), _b({}))
    library.elizaos_free_string(None)  # a no-op, per the seed's ownership rule
