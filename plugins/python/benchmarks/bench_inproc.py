"""Latency of the Python host's in-process transports against their floors (protocol.md 10).

Prints median and p99 in nanoseconds, one sample per call on ``time.perf_counter_ns``, for:

* the cffi no-op floor, ``elizaos_free_string(NULL)``;
* FFI ``invokeAction("echo")`` with a 100-byte Memory, through the transport;
* the JSON encode + decode work that call does, alone (encode the three arguments, decode the
  envelope the plugin answers);
* the wasmtime no-op floor, ``dealloc(1, 0)`` through the transport's fast path;
* WASM ``invokeAction("echo")`` with the same Memory (with and without the time-out watchdog);
* WASM echo compiled without epoch checks (``interruptible=False``: no time-outs);
* both echo calls again with the arguments pre-encoded and the answer not decoded, which
  is what the plugin side (and the ABI traffic) costs on its own;

and the ratios the targets are stated in: FFI echo <= 3 x (cffi no-op + JSON cost), WASM echo
< 10 us. Artifacts come from ``$ELIZAOS_RUST_TARGET_DIR`` (default ``plugins/rust/target``).

Usage: ``python3 plugins/python/benchmarks/bench_inproc.py [--iterations N] [--warmup N]
[--json FILE]``
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "plugins" / "python" / "src"))

from elizaos_interop.host._ffi import FfiTransport  # noqa: E402
from elizaos_interop.host._wasm import WasmTransport  # noqa: E402
from elizaos_interop.wire._json import dumps  # noqa: E402

WASM_TARGET_NS = 10_000
FFI_RATIO_TARGET = 3.0


def target_dir() -> Path:
    """Where the Rust artifacts are (``$ELIZAOS_RUST_TARGET_DIR`` or ``plugins/rust/target``)."""
    return Path(os.environ.get("ELIZAOS_RUST_TARGET_DIR", REPO / "plugins" / "rust" / "target"))


def memory_of_size(size: int) -> dict[str, Any]:
    """A Memory whose compact JSON encoding is exactly ``size`` bytes."""
    base = len(dumps({"content": {"text": ""}}))
    memory = {"content": {"text": "x" * (size - base)}}
    assert len(dumps(memory)) == size
    return memory


def sample(fn: Callable[[], object], iterations: int, warmup: int) -> list[int]:
    """One perf_counter_ns sample per call of ``fn``, GC off while sampling."""
    for _ in range(warmup):
        fn()
    clock = time.perf_counter_ns
    samples = [0] * iterations
    gc.disable()
    try:
        for i in range(iterations):
            start = clock()
            fn()
            samples[i] = clock() - start
    finally:
        gc.enable()
    samples.sort()
    return samples


def stats(samples: list[int]) -> dict[str, int]:
    """Median and p99 of sorted samples."""
    n = len(samples)
    return {"median": samples[n // 2], "p99": samples[min(n - 1, (n * 99) // 100)], "n": n}


def main() -> int:
    """Run every measurement and print a table plus the target ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50_000)
    parser.add_argument("--warmup", type=int, default=5_000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    so = target_dir() / "release" / "libelizaos_plugin_conformance.so"
    wasm = target_dir() / "wasm32-unknown-unknown" / "release" / "elizaos_plugin_conformance.wasm"
    for path, build in (
        (so, "cd plugins/rust/fixtures/conformance && cargo build --release --features ffi"),
        (wasm, "plugins/rust/build-wasm.sh"),
    ):
        if not path.is_file():
            print(f"missing artifact {path}; build it with: {build}", file=sys.stderr)
            return 2

    memory = memory_of_size(100)
    params = {"name": "echo", "memory": memory, "state": {}, "options": {}}
    ffi = FfiTransport(so)
    wasm_t = WasmTransport(wasm)
    wasm_nowd = WasmTransport(wasm, default_timeout=None)
    wasm_plain = WasmTransport(wasm, interruptible=False)
    try:
        response = json.dumps(
            {"result": ffi.call_sync("invokeAction", params)}, separators=(",", ":")
        ).encode()
        decode = json.JSONDecoder().decode
        free = ffi._lib.elizaos_free_string
        null = ffi._ffi.NULL

        def json_cost() -> object:
            dumps(memory)
            dumps(params["state"])
            dumps(params["options"])
            return decode(response.decode("utf-8"))

        # The plugin's own share: the same calls with the arguments already encoded and the
        # answer copied out but not decoded (FFI: call + ffi.string + free; WASM: 4 x alloc,
        # copy in, the export, copy out, dealloc).
        encoded = [b"echo", dumps(memory), b"{}", b"{}"]
        invoke = ffi._lib.elizaos_invoke_action
        string = ffi._ffi.string

        def ffi_raw() -> object:
            ptr = invoke(*encoded)
            try:
                return string(ptr)
            finally:
                free(ptr)

        live = wasm_nowd._live
        assert live is not None

        def wasm_raw() -> object:
            ptr = wasm_nowd._invoke(live, "wasm_invoke_action", encoded)
            return wasm_nowd._read_buffer(live, ptr)

        cases: list[tuple[str, Callable[[], object]]] = [
            ("cffi no-op free_string(NULL)", lambda: free(null)),
            ("FFI echo 100 B (transport)", lambda: ffi.call_sync("invokeAction", params)),
            ("FFI echo raw C call, no host JSON", ffi_raw),
            ("JSON encode+decode alone", json_cost),
            ("wasmtime no-op dealloc(1,0)", wasm_t.noop),
            ("WASM echo 100 B (transport)", lambda: wasm_t.call_sync("invokeAction", params)),
            (
                "WASM echo 100 B (no watchdog)",
                lambda: wasm_nowd.call_sync("invokeAction", params),
            ),
            ("WASM echo raw ABI, no host JSON", wasm_raw),
            (
                "WASM echo (no epoch checks)",
                lambda: wasm_plain.call_sync("invokeAction", params),
            ),
        ]
        results: dict[str, dict[str, int]] = {}
        print(f"{'case':34} {'median ns':>10} {'p99 ns':>10}")
        for name, fn in cases:
            results[name] = stats(sample(fn, args.iterations, args.warmup))
            print(f"{name:34} {results[name]['median']:>10} {results[name]['p99']:>10}")
    finally:
        ffi.close()
        wasm_t.close()
        wasm_nowd.close()
        wasm_plain.close()

    floor = results["cffi no-op free_string(NULL)"]["median"]
    json_ns = results["JSON encode+decode alone"]["median"]
    ffi_echo = results["FFI echo 100 B (transport)"]["median"]
    wasm_echo = results["WASM echo 100 B (transport)"]["median"]
    wasm_floor = results["wasmtime no-op dealloc(1,0)"]["median"]
    ratio = ffi_echo / (floor + json_ns)
    print()
    print(
        f"FFI echo / (cffi no-op + JSON) = {ratio:.2f} "
        f"(target <= {FFI_RATIO_TARGET}: {'met' if ratio <= FFI_RATIO_TARGET else 'NOT met'})"
    )
    print(f"FFI echo / cffi no-op = {ffi_echo / floor:.1f}")
    verdict = "met" if wasm_echo < WASM_TARGET_NS else "NOT met"
    target_us = WASM_TARGET_NS // 1000
    print(f"WASM echo = {wasm_echo / 1000:.2f} us (target < {target_us} us: {verdict})")
    print(f"WASM echo / wasmtime no-op = {wasm_echo / wasm_floor:.1f}")
    wasm_raw_ns = results["WASM echo raw ABI, no host JSON"]["median"]
    ffi_raw_ns = results["FFI echo raw C call, no host JSON"]["median"]
    print(
        f"share of the plugin side: WASM {wasm_raw_ns / wasm_echo:.0%} of the echo call, "
        f"FFI {ffi_raw_ns / ffi_echo:.0%}; WASM raw / FFI raw = {wasm_raw_ns / ffi_raw_ns:.1f}"
    )
    watchdog = wasm_echo - results["WASM echo 100 B (no watchdog)"]["median"]
    print(f"time-out watchdog cost per call (Python side): {watchdog} ns")
    epochs = (
        results["WASM echo 100 B (no watchdog)"]["median"]
        - (results["WASM echo (no epoch checks)"]["median"])
    )
    print(f"epoch checks in the compiled plugin, per echo call: {epochs} ns")
    print(f"load average during the run: {os.getloadavg()[0]:.2f} (2 cores; >1 inflates figures)")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "ffi_ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
