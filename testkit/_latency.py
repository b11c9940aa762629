"""Latency of every cell, measured with the host's own clock against floors taken in the same run.

For each cell the conformance fixture is loaded through the cell's host driver and five calls are
timed with the driver's ``bench`` method (one sample per call, the host's monotonic clock):
``invokeAction echo`` with a ~100-byte, a ~10 KiB and a ~1 MiB payload (the last with 1/20 of the
samples), ``validateAction echo`` and ``getProvider static``. Each is compared with a floor
measured on the same host in the same run (protocol.md section 10):

- IPC cells: a ``cat`` pipe ping-pong with a line of the same size as the request (``bench_pipe``);
- FFI and WASM cells: the no-op call through the same transport (``bench_noop``:
  ``elizaos_free_string(NULL)`` / ``dealloc(1, 0)``) plus the JSON work that host does for the
  same call (``bench_json``: encode the arguments, decode the answer, timed by the host itself),
  so every host's ratio means the same (``noop+json``).

IPC cells are also measured for throughput: calls per second with 1, 8 and 64 calls in flight
(``bench_throughput``, the host's own clock).

Cells run one after the other, never concurrently, so benchmarks do not compete for the cores.
A cell whose driver, runtime or artifact is missing is recorded as an error, never skipped.

The measurement's parts are :mod:`testkit._latency_figures` (statistics, floors, verdicts,
payloads) and :mod:`testkit._latency_results` (the result records); this module runs it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from testkit._drivers import DriverError, HostDriver, fixture_spec, open_driver
from testkit._latency_figures import (
    HUGE_PAYLOAD,
    IN_FLIGHT,
    LARGE_PAYLOAD,
    PROFILES,
    SMALL_PAYLOAD,
    WARMUP_MAX_FACTOR,
    BudgetVerdict,
    Floor,
    LatencyError,
    MethodSpec,
    Profile,
    Stats,
    bench_methods,
    compute_stats,
    json_cost_samples,
    judge,
    memory_for_params_size,
    percentile,
    throughput_counts,
    warmup_text,
)
from testkit._latency_results import (
    CellLatency,
    Figures,
    LatencyResults,
    MethodLatency,
    RepeatFigures,
    Throughput,
)
from testkit._matrix import Budget, Cell, Matrix
from testkit._stats import sketch
from testkit._toolchains import Toolchains

__all__ = [
    "DEFAULT_REPEATS",
    "HUGE_PAYLOAD",
    "IN_FLIGHT",
    "LARGE_PAYLOAD",
    "PROFILES",
    "SMALL_PAYLOAD",
    "WARMUP_MAX_FACTOR",
    "BudgetVerdict",
    "CellLatency",
    "Figures",
    "Floor",
    "LatencyError",
    "LatencyResults",
    "MethodLatency",
    "MethodSpec",
    "Profile",
    "RepeatFigures",
    "Stats",
    "Throughput",
    "bench_methods",
    "compute_stats",
    "json_cost_samples",
    "judge",
    "memory_for_params_size",
    "percentile",
    "pin_modes",
    "pinned",
    "rounds",
    "run_latency",
    "warm_up",
]

FIXTURE = "conformance"
#: JSON-RPC "method not found": a driver that predates a bench command answers it.
METHOD_NOT_FOUND = -32601


# --- pinning -------------------------------------------------------------------------------


@contextmanager
def pinned(enabled: bool) -> Iterator[int | None]:
    """Pin this process (and so every child it starts) to one CPU while the block runs.

    Children inherit the affinity at spawn time, so host drivers, plugins and ``cat`` started in
    the block share the core: the low-noise figures without the cross-CPU wake-up. Yields the CPU,
    or ``None`` when not pinning. The previous affinity is restored on exit.
    """
    if not enabled:
        yield None
        return
    if not hasattr(os, "sched_setaffinity"):
        raise LatencyError("--pin needs os.sched_setaffinity (Linux); this platform has none")
    previous = os.sched_getaffinity(0)
    cpu = max(previous)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, previous)


# --- the run -------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load() -> tuple[float, ...] | None:
    """The machine's 1, 5 and 15 minute load averages (how busy it was), if the OS says."""
    return tuple(round(x, 2) for x in os.getloadavg()) if hasattr(os, "getloadavg") else None


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _measure_cell(
    cell: Cell,
    budget: Budget,
    profile: Profile,
    toolchains: Toolchains,
    samples_out: dict[str, Any],
    progress: Callable[[str], None],
    repeats: int = 1,
) -> CellLatency:
    """Open the cell's driver, load the fixture, time every method and its floor, and (IPC) the
    throughput with calls in flight; ``profile`` holds one repeat's counts of ``repeats``."""
    methods: list[MethodLatency] = []
    throughput: list[Throughput] = []
    specs = bench_methods()
    driver_runtime: str | None = None

    def cell_result(error: str | None) -> CellLatency:
        return CellLatency(
            cell.id,
            cell.host,
            cell.host_runtime,
            cell.plugin,
            cell.plugin_runtime,
            cell.transport,
            driver_runtime,
            tuple(methods),
            error,
            tuple(throughput),
        )

    try:
        for req in toolchains.cell_requirements(cell, FIXTURE):
            if not req.present:
                raise req.error()
        spec = fixture_spec(toolchains, FIXTURE, cell.plugin, cell.transport, cell.plugin_runtime)
        driver = open_driver(cell.host, cell.host_runtime, toolchains)
    except Exception as exc:
        return cell_result(f"{cell.id}: cannot start: {_describe(exc)}")
    handle: str | None = None
    try:
        driver_runtime = driver.runtime
        try:
            handle, _manifest = driver.load(spec)
        except Exception as exc:
            return cell_result(f"{cell.id}: loading the {FIXTURE} fixture failed: {_describe(exc)}")
        noop: Stats | None = None
        floor_error: str | None = None
        if budget.floor == "noop":
            progress(f"{cell.id}: no-op floor")
            try:
                noop_samples = driver.bench_noop(handle, profile.iterations, profile.warmup)
                noop = compute_stats(noop_samples)
                samples_out["noop"] = noop_samples
            except Exception as exc:
                # The calls are still timed (their figures are worth having); without a floor
                # they cannot be judged, and the cell is reported as an error.
                floor_error = f"{cell.id}: no floor: benchNoop failed: {_describe(exc)}"
        # One untimed pass over every call first: JIT tiers (V8, JavaScriptCore), caches and
        # allocators settle for the whole plugin, so the first method timed is not the slow one;
        # the host's pipe floor (its own stream code, under the same JIT) is warmed the same way.
        progress(f"{cell.id}: warm-up pass")
        for mspec in specs:
            with contextlib.suppress(Exception):  # a failing call is reported by its measurement
                warm_up(_untimed(driver, handle, mspec), mspec.profile_for(profile, repeats))
        if budget.floor == "pipe":
            line = specs[0].request_line()
            with contextlib.suppress(Exception):  # a failing floor is reported by its measurement
                warm_up(lambda n: driver.bench_pipe(["cat"], line, n, 0), profile)
        for mspec in specs:
            progress(f"{cell.id}: {mspec.key}")
            own = mspec.profile_for(profile, repeats)
            methods.append(_measure_method(cell, driver, handle, mspec, budget, own, noop, samples_out))
        if cell.transport == "ipc":
            throughput += _measure_throughput(cell, driver, handle, specs[0], profile, progress)
        if floor_error is not None:
            return cell_result(floor_error)
    finally:
        try:
            if handle is not None:
                driver.unload(handle)
        finally:
            driver.close()
    return cell_result(None)


def _untimed(driver: HostDriver, handle: str, mspec: MethodSpec) -> Callable[[int], object]:
    """``run(n)``: ``n`` calls of ``mspec`` whose samples are thrown away (a warm-up)."""
    params = dict(mspec.params)
    return lambda n: driver.bench(handle, mspec.method, params, n, 0)


def warm_up(run: Callable[[int], object], profile: Profile) -> int:
    """Make ``profile.warmup`` untimed calls through ``run(n)``, then more in doubling batches
    until ``profile.warmup_s`` seconds have passed or :data:`WARMUP_MAX_FACTOR` times the count
    is reached (see :class:`Profile`); returns the number of calls made."""
    start = time.perf_counter()
    done = 0
    batch = max(1, profile.warmup)
    cap = batch * WARMUP_MAX_FACTOR
    if profile.warmup > 0:
        run(profile.warmup)
        done = profile.warmup
    while done < cap and time.perf_counter() - start < profile.warmup_s:
        n = min(batch, cap - done)
        run(n)
        done += n
        batch *= 2
    return done


def _measure_method(
    cell: Cell,
    driver: HostDriver,
    handle: str,
    mspec: MethodSpec,
    budget: Budget,
    profile: Profile,
    noop: Stats | None,
    samples_out: dict[str, Any],
) -> MethodLatency:
    """Check the call answers correctly once, then time it and its floor."""
    params = dict(mspec.params)

    def failed(error: str) -> MethodLatency:
        return MethodLatency(
            mspec.key,
            mspec.method,
            mspec.name,
            mspec.payload_bytes,
            None,
            None,
            None,
            f"{cell.id}: {mspec.method}({mspec.name!r}): {error}",
        )

    try:
        outcome = driver.call(handle, mspec.method, params)
    except Exception as exc:
        return failed(f"call failed: {_describe(exc)}")
    if not outcome.ok:
        return failed(f"the fixture answered {outcome.error_type} (code {outcome.code}): {outcome.message}")
    samples: list[int] = []
    pipe: list[int] = []
    line = mspec.request_line()
    # The call and its pipe floor alternate in rounds, so drift in this noisy machine's
    # scheduling over the measurement hits both alike instead of biasing the ratio.
    for count, warm in rounds(profile):
        try:
            samples += driver.bench(handle, mspec.method, params, count, warm)
        except Exception as exc:
            return failed(f"bench failed: {_describe(exc)}")
        if budget.floor == "pipe":
            try:
                pipe += driver.bench_pipe(["cat"], line, count, warm)
            except Exception as exc:
                return failed(f"floor (pipe) failed: {_describe(exc)}")
    try:
        stats = compute_stats(samples)
    except ValueError as exc:
        return failed(f"bench returned unusable samples: {exc}")
    record: dict[str, Any] = {"samples_ns": samples}
    floor: Floor | None = None
    try:
        if budget.floor == "pipe":
            pipe_stats = compute_stats(pipe)
            record["floor_samples_ns"] = pipe
            floor = Floor("pipe", pipe_stats.p50_ns, pipe_stats.p99_ns, {"pipe": pipe_stats})
        elif noop is not None:
            # The host times the JSON work it does for this call (encode the arguments, decode
            # the answer): every host's in-process floor is noop+json.
            js = _json_samples(driver, params, outcome.value, profile)
            if js is None:  # an older driver (bench --compare REF): the bare no-op floor
                floor = Floor("noop", noop.p50_ns, noop.p99_ns, {"noop": noop})
            else:
                js_stats = compute_stats(js)
                record["json_samples_ns"] = js
                floor = Floor(
                    "noop+json",
                    noop.p50_ns + js_stats.p50_ns,
                    noop.p99_ns + js_stats.p99_ns,
                    {"noop": noop, "json": js_stats},
                )
    except Exception as exc:
        return failed(f"floor ({budget.floor}) failed: {_describe(exc)}")
    samples_out[mspec.key] = record
    return MethodLatency(
        mspec.key, mspec.method, mspec.name, mspec.payload_bytes, stats, floor, judge(stats, floor, budget)
    )


def _json_samples(
    driver: HostDriver, params: dict[str, Any], result: Any, profile: Profile
) -> list[int] | None:
    """The host's ``benchJson`` samples; ``None`` when its driver predates the command."""
    try:
        return driver.bench_json(params, result, profile.iterations, profile.warmup)
    except DriverError as exc:
        if exc.code == METHOD_NOT_FOUND:
            return None
        raise


def _measure_throughput(
    cell: Cell,
    driver: HostDriver,
    handle: str,
    mspec: MethodSpec,
    profile: Profile,
    progress: Callable[[str], None],
) -> list[Throughput]:
    """Calls per second of ``mspec`` with each of :data:`IN_FLIGHT` calls outstanding (one repeat)."""
    out: list[Throughput] = []
    for n in IN_FLIGHT:
        progress(f"{cell.id}: throughput, {n} in flight")
        calls, warmup = throughput_counts(n, profile)
        error: str | None = None
        try:
            elapsed = driver.bench_throughput(handle, mspec.method, dict(mspec.params), n, calls, warmup)
            if elapsed <= 0:
                error = f"the host reported {elapsed} ns for {calls} calls"
        except DriverError as exc:
            if exc.code == METHOD_NOT_FOUND:
                return []  # an older driver (bench --compare REF): no throughput figures
            error = _describe(exc)
        except Exception as exc:
            error = _describe(exc)
        if error is not None:
            where = f"{cell.id}: throughput of {mspec.key} with {n} in flight"
            out.append(Throughput(n, mspec.key, calls, (), f"{where}: {error}"))
            continue
        out.append(Throughput(n, mspec.key, calls, (calls * 1e9 / elapsed,)))
    return out


def _pool_throughput(runs: Sequence[CellLatency]) -> tuple[Throughput, ...]:
    """Every repeat's throughput figures pooled per number in flight (an error in one is the entry's)."""
    pooled: list[Throughput] = []
    for position, first in enumerate(runs[0].throughput):
        parts = [r.throughput[position] for r in runs if position < len(r.throughput)]
        failed = next((t for t in parts if t.error is not None), None)
        if failed is not None:
            pooled.append(failed)
            continue
        figures = tuple(v for t in parts for v in t.repeats_calls_per_s)
        pooled.append(dataclasses.replace(first, repeats_calls_per_s=figures))
    return tuple(pooled)


#: Rounds a method's samples are split into, alternating with its pipe floor.
ROUNDS = 4


def rounds(profile: Profile) -> list[tuple[int, int]]:
    """(samples, warm-up) per round: ``profile`` split into up to :data:`ROUNDS` alternating rounds.

    Every round is warmed up again (the floor ran in between); the counts add up to the profile's.
    """
    n = max(1, min(ROUNDS, profile.iterations))
    base, extra = divmod(profile.iterations, n)
    wbase, wextra = divmod(profile.warmup, n)
    return [(base + (1 if i < extra else 0), wbase + (1 if i < wextra else 0)) for i in range(n)]


def _safe_name(cell_id: str) -> str:
    return cell_id.replace("/", "__").replace("@", "_at_")


#: Interleaved repeats of every cell per run (A B A B ...): the unit a comparison resamples.
DEFAULT_REPEATS = 5


def pin_modes(pin: bool | None, cpus: int | None = None) -> tuple[bool, ...]:
    """The pinning modes of a run, main mode first: ``True`` pinned to one CPU, ``False`` not.

    ``pin=None`` (the default) measures both when at least two CPUs are available (the pinned
    figures are the ones a baseline comparison uses, the unpinned ones are what users see), and
    unpinned only on one CPU, where pinning changes nothing. ``True``/``False`` force one mode.
    """
    if pin is True:
        return (True,)
    if pin is False:
        return (False,)
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return (False, True) if cpus >= 2 else (False,)


def _pool(cell: Cell, budget: Budget, runs: Sequence[tuple[CellLatency, Mapping[str, Any]]]) -> CellLatency:
    """One cell's repeats in one pinning mode pooled: stats and floors of every sample, repeats kept.

    An error in any repeat is the cell's (or the method's) error: a figure is only reported when
    every repeat measured it.
    """
    first = runs[0][0]
    for index, (result, _samples) in enumerate(runs):
        if result.error is not None:
            return dataclasses.replace(result, error=f"repeat {index + 1}: {result.error}")
    methods: list[MethodLatency] = []
    for position, method in enumerate(first.methods):
        parts = [(result.methods[position], samples) for result, samples in runs]
        failed = next((m for m, _s in parts if m.error is not None or m.stats is None), None)
        if failed is not None:
            methods.append(failed)
            continue
        calls: list[int] = []
        floor_samples: dict[str, list[int]] = {}
        repeats: list[RepeatFigures] = []
        for m, samples in parts:
            record = samples.get(m.key, {})
            own = list(record.get("samples_ns", []))
            calls += own
            kind = m.floor.kind if m.floor is not None else None
            if kind == "pipe":
                floor_samples.setdefault("pipe", []).extend(record.get("floor_samples_ns", []))
            elif kind in ("noop", "noop+json"):
                floor_samples.setdefault("noop", []).extend(samples.get("noop", []))
                if kind == "noop+json":
                    floor_samples.setdefault("json", []).extend(record.get("json_samples_ns", []))
            assert m.stats is not None  # checked above
            repeats.append(
                RepeatFigures(
                    len(own), m.stats.p50_ns, None if m.floor is None else m.floor.p50_ns, tuple(sketch(own))
                )
            )
        stats = compute_stats(calls)
        floor: Floor | None = None
        if method.floor is not None and all(floor_samples.get(k) for k in floor_samples) and floor_samples:
            parts_stats = {k: compute_stats(v) for k, v in floor_samples.items()}
            floor = Floor(
                method.floor.kind,
                math.fsum(st.p50_ns for st in parts_stats.values()),
                math.fsum(st.p99_ns for st in parts_stats.values()),
                parts_stats,
            )
        methods.append(
            dataclasses.replace(
                method, stats=stats, floor=floor, verdict=judge(stats, floor, budget), repeats=tuple(repeats)
            )
        )
    return dataclasses.replace(
        first, methods=tuple(methods), throughput=_pool_throughput([r for r, _s in runs])
    )


def _with_pinned(main: CellLatency, pinned_run: CellLatency) -> CellLatency:
    """``main`` with each method's pinned figures from ``pinned_run`` beside it (errors are the cell's)."""
    if main.error is not None:
        return main
    if pinned_run.error is not None:
        return dataclasses.replace(main, error=f"pinned: {pinned_run.error}")
    methods: list[MethodLatency] = []
    for m in main.methods:
        p = pinned_run.method(m.key)
        if m.error is not None:
            methods.append(m)
        elif p is None or p.error is not None or p.stats is None or p.verdict is None:
            reason = "not measured" if p is None else p.error
            methods.append(
                dataclasses.replace(m, stats=None, floor=None, verdict=None, error=f"pinned: {reason}")
            )
        else:
            methods.append(dataclasses.replace(m, pinned=Figures(p.stats, p.floor, p.verdict, p.repeats)))
    throughput: list[Throughput] = []
    for t in main.throughput:
        pt = next((x for x in pinned_run.throughput if x.in_flight == t.in_flight), None)
        if t.error is not None:
            throughput.append(t)
        elif pt is None or pt.error is not None:
            reason = "not measured" if pt is None else pt.error
            throughput.append(dataclasses.replace(t, error=f"pinned: {reason}"))
        else:
            throughput.append(dataclasses.replace(t, pinned_repeats_calls_per_s=pt.repeats_calls_per_s))
    return dataclasses.replace(main, methods=tuple(methods), throughput=tuple(throughput))


def _run_profile(profile: str, override: Profile | None, repeats: int) -> Profile:
    """The profile a run uses (``override`` replaces the named one's counts); LatencyError when
    the name, the counts or ``repeats`` are invalid."""
    if profile not in PROFILES:
        raise LatencyError(f"unknown latency profile {profile!r}; expected one of {sorted(PROFILES)}")
    prof = override or PROFILES[profile]
    if prof.iterations < 1 or prof.warmup < 0 or not prof.warmup_s >= 0:
        raise LatencyError(
            f"profile {prof.name!r}: expected iterations >= 1, warmup >= 0 and warmup_s >= 0, "
            f"received iterations={prof.iterations}, warmup={prof.warmup}, warmup_s={prof.warmup_s}"
        )
    if repeats < 1:
        raise LatencyError(f"expected repeats >= 1, received {repeats}")
    return prof


def _timed_cells(matrix: Matrix, cells: Sequence[Cell]) -> list[Cell]:
    """The cells latency is measured on, each with a budget (LatencyError names a missing one).

    Latency is the conformance fixture's: a third-party plugin (a matrix's [plugin.<name>] table)
    has no echo action to time, its cells are proven by their own suite."""
    timed = [c for c in cells if getattr(c, "suite", "fixtures") == "fixtures"]
    for cell in timed:
        if cell.transport not in matrix.budgets:
            raise LatencyError(f"{matrix.path}: cell {cell.id}: no [budgets.{cell.transport}] table")
    return timed


_Collected = dict[tuple[str, bool], list[tuple[CellLatency, dict[str, Any]]]]


def _measure_repeats(
    matrix: Matrix,
    cells: Sequence[Cell],
    modes: tuple[bool, ...],
    repeats: int,
    per_repeat: Profile,
    toolchains: Toolchains,
    say: Callable[[str], None],
) -> tuple[_Collected, dict[str, list[dict[str, Any]]], int | None]:
    """The interleaved repeats of :func:`run_latency`: each repeat's result and raw samples per
    (cell, pinning mode), the raw samples per cell, and the CPU pinned runs used."""
    collected: _Collected = {}
    raw: dict[str, list[dict[str, Any]]] = {cell.id: [] for cell in cells}
    pinned_cpu: int | None = None
    for index in range(repeats):
        order = modes if index % 2 == 0 else tuple(reversed(modes))
        for cell in cells:
            budget = matrix.budgets[cell.transport]
            for mode in order:
                with pinned(mode) as cpu:
                    pinned_cpu = cpu if cpu is not None else pinned_cpu
                    where = f"pinned to CPU {cpu}" if cpu is not None else "unpinned"
                    say(
                        f"{cell.id}: repeat {index + 1}/{repeats}, {where} ({per_repeat.name}: "
                        f"{warmup_text(per_repeat.warmup, per_repeat.warmup_s)} + "
                        f"{per_repeat.iterations} samples per method)"
                    )
                    samples: dict[str, Any] = {}
                    result = _measure_cell(cell, budget, per_repeat, toolchains, samples, say, repeats)
                if result.error:
                    say(f"{cell.id}: ERROR {result.error}")
                collected.setdefault((cell.id, mode), []).append((result, samples))
                raw[cell.id].append({"repeat": index + 1, "pinned": mode, "samples": samples})
    return collected, raw, pinned_cpu


def _pool_and_save(
    matrix: Matrix,
    cells: Sequence[Cell],
    modes: tuple[bool, ...],
    collected: _Collected,
    raw: Mapping[str, list[dict[str, Any]]],
    samples_dir: Path,
    profile_name: str,
) -> list[CellLatency]:
    """Each cell's repeats pooled (the first pinning mode's as the main figures, the other's
    beside), its raw samples written to ``samples_dir``."""
    results: list[CellLatency] = []
    for cell in cells:
        budget = matrix.budgets[cell.transport]
        main = _pool(cell, budget, collected[(cell.id, modes[0])])
        if len(modes) > 1:
            main = _with_pinned(main, _pool(cell, budget, collected[(cell.id, modes[1])]))
        results.append(main)
        (samples_dir / f"{_safe_name(cell.id)}.json").write_text(
            json.dumps({"cell": cell.id, "profile": profile_name, "repeats": raw[cell.id]}),
            encoding="utf-8",
        )
    return results


def run_latency(
    matrix: Matrix,
    cells: Sequence[Cell],
    profile: str,
    out_dir: Path,
    progress: Callable[[str], None] | None = None,
    *,
    pin: bool | None = None,
    repeats: int = DEFAULT_REPEATS,
    toolchains: Toolchains | None = None,
    profile_override: Profile | None = None,
    allow_xdist: bool = False,
) -> LatencyResults:
    """Measure ``cells`` of ``matrix`` in interleaved repeats and return the results.

    ``profile`` names an entry of :data:`PROFILES` (``profile_override`` replaces its counts, for
    tests); its samples are split over ``repeats`` repeats, each with its own driver, warm-up
    and floor. The repeats interleave: every cell once (in each pinning mode of
    :func:`pin_modes`, the order alternating), then every cell again, so drift of a shared
    machine hits all cells and both modes alike. Raw samples go to
    ``out_dir/latency-samples/<cell>.json``; the results themselves are written by
    :func:`testkit._report.write_reports`.
    Inside a pytest-xdist worker it refuses to run (the figures would be skewed by the other
    workers) unless ``allow_xdist`` is set, for structural tests that do not use the figures.
    """
    prof = _run_profile(profile, profile_override, repeats)
    skipped = [c.id for c in cells if getattr(c, "suite", "fixtures") != "fixtures"]
    cells = _timed_cells(matrix, cells)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and not allow_xdist:
        raise LatencyError(
            f"latency measurement refused inside pytest-xdist worker {worker}: the other workers "
            "would compete for the cores; run `interop-testkit bench`, or pytest with -p no:xdist"
        )
    say = progress or (lambda _msg: None)
    if skipped:
        say(f"not timed (third-party plugins, no echo fixture): {', '.join(skipped)}")
    if toolchains is None:
        toolchains = Toolchains.discover()
    toolchains.apply_env()
    samples_dir = Path(out_dir) / "latency-samples"
    samples_dir.mkdir(parents=True, exist_ok=True)
    modes = pin_modes(pin)
    per_repeat = dataclasses.replace(prof, iterations=max(1, math.ceil(prof.iterations / repeats)))
    started = _now()
    load_start = _load()
    collected, raw, pinned_cpu = _measure_repeats(matrix, cells, modes, repeats, per_repeat, toolchains, say)
    results = _pool_and_save(matrix, cells, modes, collected, raw, samples_dir, prof.name)
    return LatencyResults(
        matrix_name=matrix.name,
        matrix_path=str(matrix.path),
        profile=prof,
        pinned=modes == (True,),
        pinned_cpu=pinned_cpu,
        started_at=started,
        finished_at=_now(),
        budgets=dict(matrix.budgets),
        cells=tuple(results),
        repeats=repeats,
        pin_mode="only" if modes == (True,) else "both" if len(modes) > 1 else "off",
        load_start=load_start,
        load_end=_load(),
    )
