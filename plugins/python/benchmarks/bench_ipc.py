"""IPC latency: the Python host against the conformance fixtures vs a ``cat`` pipe floor.

Usage: ``python benchmarks/bench_ipc.py [--iterations 10000] [--warmup 1000] [--payload 100]
[--plugins python,rust]``

``python`` is the Python fixture through ``elizaos_interop.bridge_server``; ``rust`` is the Rust
fixture's IPC server ``plugins/rust/target/release/conformance-ipc`` (build it with
``cargo build --release`` in ``plugins/rust``; asking for it when it is missing is an error).

Prints median and p99 (microseconds) for:

* ``cat blocking``: raw blocking write + read of one line through ``cat`` (the pipe floor);
* ``cat event-loop``: the same through ``loop.add_reader`` on a non-blocking pipe, i.e. the
  machinery the async client uses, with no JSON and no plugin;
* ``python json echo``: blocking ping-pong with a minimal Python child that parses and
  re-encodes the line (what any Python plugin costs at least);
* ``<plugin> async``: ``await plugin.invoke_action("echo", ...)`` with a ``payload``-byte text;
* ``<plugin> sync``: ``plugin.transport.call_sync("invokeAction", ...)``.

The ``cat`` line is the exact request line the client sends, so sizes match.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from elizaos_interop import LoadedPlugin, load_ipc_plugin, load_python_plugin  # noqa: E402

FIXTURE = HERE.parent / "fixtures" / "conformance_plugin.py"
RUST_FIXTURE = HERE.parents[2] / "plugins" / "rust" / "target" / "release" / "conformance-ipc"


def summary(name: str, samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    median = statistics.median(ordered) / 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000
    print(f"{name:<18} median {median:8.1f} us   p99 {p99:8.1f} us   n={len(ordered)}")
    return median, p99


PY_ECHO = (
    "import sys, json\n"
    "for line in sys.stdin.buffer:\n"
    "    sys.stdout.buffer.write(json.dumps(json.loads(line)).encode() + b'\\n')\n"
    "    sys.stdout.buffer.flush()\n"
)
"""A minimal Python child (parse + re-encode one JSON line): the cost of Python + JSON alone."""


def cat_blocking(
    line: bytes, iterations: int, warmup: int, argv: tuple[str, ...] = ("cat",)
) -> list[int]:
    proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    assert proc.stdin is not None
    assert proc.stdout is not None
    w, r = proc.stdin.fileno(), proc.stdout.fileno()
    samples: list[int] = []
    try:
        for i in range(warmup + iterations):
            t0 = time.perf_counter_ns()
            os.write(w, line)
            got = b""
            while not got.endswith(b"\n"):
                got += os.read(r, 1 << 16)
            if i >= warmup:
                samples.append(time.perf_counter_ns() - t0)
    finally:
        proc.stdin.close()
        proc.wait()
        proc.stdout.close()
    return samples


def cat_event_loop(line: bytes, iterations: int, warmup: int) -> list[int]:
    proc = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    assert proc.stdin is not None
    assert proc.stdout is not None
    w, r = proc.stdin.fileno(), proc.stdout.fileno()
    os.set_blocking(r, False)
    os.set_blocking(w, False)

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        buf = bytearray()
        waiter: list[asyncio.Future[None]] = []

        def on_readable() -> None:
            buf.extend(os.read(r, 1 << 16))
            if buf.endswith(b"\n") and waiter:
                waiter.pop().set_result(None)

        loop.add_reader(r, on_readable)
        samples: list[int] = []
        for i in range(warmup + iterations):
            t0 = time.perf_counter_ns()
            fut = loop.create_future()
            waiter.append(fut)
            os.write(w, line)
            await fut
            buf.clear()
            if i >= warmup:
                samples.append(time.perf_counter_ns() - t0)
        loop.remove_reader(r)
        return samples

    try:
        return asyncio.run(main())
    finally:
        proc.stdin.close()
        proc.wait()
        proc.stdout.close()


def timed(fn: Callable[[], object], iterations: int, warmup: int) -> list[int]:
    samples: list[int] = []
    for i in range(warmup + iterations):
        t0 = time.perf_counter_ns()
        fn()
        if i >= warmup:
            samples.append(time.perf_counter_ns() - t0)
    return samples


def load(which: str) -> LoadedPlugin:
    """Load the named fixture over IPC."""
    if which == "python":
        return load_python_plugin(FIXTURE)
    if which == "rust":
        if not RUST_FIXTURE.exists():
            raise SystemExit(
                f"bench_ipc: {RUST_FIXTURE} is missing (cargo build --release in plugins/rust)"
            )
        return load_ipc_plugin([RUST_FIXTURE])
    raise SystemExit(f"bench_ipc: unknown plugin {which!r}, expected python or rust")


def bench_plugin(
    which: str, memory: dict[str, object], iterations: int, warmup: int
) -> tuple[float, float, float, float]:
    """Async and sync echo round trips against one fixture: (median, p99) of each, in us."""
    params = {"name": "echo", "memory": memory, "state": {}, "options": {}}
    with load(which) as plugin:

        async def run_async() -> list[int]:
            samples: list[int] = []
            for i in range(warmup + iterations):
                t0 = time.perf_counter_ns()
                await plugin.invoke_action("echo", memory, {}, {})
                if i >= warmup:
                    samples.append(time.perf_counter_ns() - t0)
            return samples

        med, p99 = summary(f"{which} async", asyncio.run(run_async()))
        call_sync = plugin.transport.call_sync
        sync = timed(lambda: call_sync("invokeAction", params), iterations, warmup)
        smed, sp99 = summary(f"{which} sync", sync)
    return med, p99, smed, sp99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--payload", type=int, default=100, help="bytes of memory.content.text")
    parser.add_argument(
        "--plugins",
        default="python,rust" if RUST_FIXTURE.exists() else "python",
        help="comma-separated fixtures to call: python, rust (default: those available)",
    )
    args = parser.parse_args()
    memory: dict[str, object] = {"content": {"text": "x" * args.payload}}
    params = {"name": "echo", "memory": memory, "state": {}, "options": {}}
    with load_python_plugin(FIXTURE) as plugin:
        line = plugin.transport._encode(1, "invokeAction", params, "echo")  # type: ignore[attr-defined]
    print(f"request line {len(line)} bytes, {args.iterations} round trips after {args.warmup}")
    floor, _ = summary("cat blocking", cat_blocking(line, args.iterations, args.warmup))
    loop_floor, _ = summary("cat event-loop", cat_event_loop(line, args.iterations, args.warmup))
    py_child = (sys.executable, "-c", PY_ECHO)
    echo, _ = summary(
        "python json echo", cat_blocking(line, args.iterations, args.warmup, py_child)
    )
    for which in args.plugins.split(","):
        med, _, smed, _ = bench_plugin(which, memory, args.iterations, args.warmup)
        print(
            f"  {which} ratios (median): async {med / floor:.2f}x cat blocking, "
            f"{med / loop_floor:.2f}x cat event-loop, {med / echo:.2f}x python json echo; "
            f"sync {smed / floor:.2f}x cat blocking, {smed / echo:.2f}x python json echo"
        )


if __name__ == "__main__":
    main()
