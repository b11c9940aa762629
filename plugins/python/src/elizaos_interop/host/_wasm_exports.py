"""The exports a WASM plugin module must have (protocol.md 5.1), checked once at load."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["LAST_ERROR", "LAST_ERROR_SIG", "WASM_EXPORTS", "module_problem"]

WASM_EXPORTS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "alloc": (("i32",), ("i32",)),
    "dealloc": (("i32", "i32"), ()),
    "get_manifest": ((), ("i32",)),
    "init": (("i32",) * 2, ("i32",)),
    "wasm_validate_action": (("i32",) * 6, ("i32",)),
    "wasm_invoke_action": (("i32",) * 8, ("i32",)),
    "wasm_get_provider": (("i32",) * 6, ("i32",)),
    "wasm_validate_evaluator": (("i32",) * 6, ("i32",)),
    "wasm_invoke_evaluator": (("i32",) * 6, ("i32",)),
}
"""Required function exports and their signatures (protocol.md 5.1), besides ``memory``."""

LAST_ERROR: Final = "elizaos_last_error"
"""The optional export giving the last error's envelope (protocol.md 5.1)."""
LAST_ERROR_SIG: Final = ((), ("i32",))


def _signature(params: tuple[str, ...], results: tuple[str, ...]) -> str:
    return f"({', '.join(params)}) -> ({', '.join(results)})"


def module_problem(module: Any, wasmtime: Any) -> str | None:
    """What makes ``module`` not an elizaOS WASM plugin (imports, missing or mistyped exports),
    as the end of a sentence starting with its path; None when it is one."""
    imports = [f"{imp.module}.{imp.name}" for imp in module.imports]
    if imports:
        return f"imports {', '.join(imports)}; a plugin module must have no imports (protocol.md 5)"
    exports = {exp.name: exp.type for exp in module.exports}
    missing: list[str] = []
    wrong: list[str] = []
    if "memory" not in exports:
        missing.append("memory")
    elif not isinstance(exports["memory"], wasmtime.MemoryType):
        wrong.append(f"memory: expected a memory, received {type(exports['memory']).__name__}")
    elif exports["memory"].is_64:
        wrong.append("memory: expected a 32-bit memory, received a 64-bit one")
    expected = dict(WASM_EXPORTS)
    if LAST_ERROR in exports:
        expected[LAST_ERROR] = LAST_ERROR_SIG
    for name, (params, results) in expected.items():
        if name not in exports:
            missing.append(name)
            continue
        problem = _signature_problem(exports[name], params, results, wasmtime)
        if problem:
            wrong.append(f"{name}: {problem}")
    problems: list[str] = []
    if missing:
        problems.append(f"missing exports {', '.join(missing)}")
    if wrong:
        problems.append(f"wrong exports ({'; '.join(wrong)})")
    if problems:
        return f"is not an elizaOS WASM plugin: {', '.join(problems)} (protocol.md 5.1)"
    return None


def _signature_problem(
    ty: Any, params: tuple[str, ...], results: tuple[str, ...], wasmtime: Any
) -> str | None:
    if not isinstance(ty, wasmtime.FuncType):
        return f"expected a function, received {type(ty).__name__}"
    got_params = tuple(str(p) for p in ty.params)
    got_results = tuple(str(r) for r in ty.results)
    if (got_params, got_results) != (params, results):
        return (
            f"expected {_signature(params, results)}, "
            f"received {_signature(got_params, got_results)}"
        )
    return None
