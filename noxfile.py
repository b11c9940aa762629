"""Build, test and measure every interop cell.

Sessions (``nox -l`` lists them):

- ``conformance``: the main job. Builds every fixture plugin and host driver, runs the
  conformance suite and measures latency over ``matrices/default.toml`` (reports in
  ``reports/latest/``) and over ``matrices/full.toml`` (``reports/latest/full/``), prints the
  summaries, then opens both ``report.html`` pages in headless Chromium (every cell and chart
  drawn, no console output).
- ``tests``: everything that can fail: unit tests of each runtime (pytest, ``cargo test``,
  ``node --test``, ``bun test``), the seed's examples, and the conformance suite over
  ``matrices/full.toml`` (every host x plugin x transport, Node and Bun).
- ``elizaos``: the published elizaOS plugins (``@elizaos/plugin-bootstrap`` from npm, the PyPI
  ``elizaos`` bootstrap plugin), installed from their pins in ``plugins/*/published/`` and served
  as they are through every host: ``matrices/elizaos.toml`` (``tests`` runs it too).
- ``lint``: ruff, mypy --strict, cargo fmt/clippy, tsc --noEmit.
- ``bench_selftest``: proves the latency regression detector: unchanged runs must not be flagged,
  runs slowed by ``ELIZAOS_INTEROP_TEST_DELAY_US`` must be (``reports/latest/bench-selftest.md``;
  a few minutes, not part of CI: see ``testkit/_bench_selftest.py``).
- ``certify_install``: the testkit and elizaos-interop wheels, installed into a fresh virtualenv,
  certify a plugin from an empty directory (no checkout needed).
- ``build_python``, ``build_rust_ffi``, ``build_rust_ipc``, ``build_rust_wasm``,
  ``build_typescript``: the builds, also run by the sessions above. Builds are incremental
  (cargo) or stamped (npm), so running several sessions in one go builds once.

Options after ``--``: ``conformance -- --bench-profile full`` (long latency profile),
``tests -- --fuzz-profile long`` (long hypothesis profile), ``tests -- -k PATTERN``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
RUST = ROOT / "plugins" / "rust"
TS = ROOT / "plugins" / "typescript"
PY = ROOT / "plugins" / "python"
RUST_TARGET = Path(os.environ.get("ELIZAOS_RUST_TARGET_DIR", RUST / "target"))

nox.options.sessions = ["lint", "tests", "conformance"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
PY_TEST_DEPS = [
    "pytest>=8",
    "pytest-xdist>=3.5",
    "pytest-timeout>=2.3",
    "pytest-benchmark>=4",
    "hypothesis>=6.100",
    "jsonschema>=4.21",
]
NATIVE_FEATURES = ",".join(
    f"{crate}/{feature}"
    for crate in ("plugin-conformance", "plugin-eliza-classic")
    for feature in ("ffi", "ipc")
)
FFI_SYMBOLS = (
    "elizaos_get_manifest",
    "elizaos_init",
    "elizaos_validate_action",
    "elizaos_invoke_action",
    "elizaos_get_provider",
    "elizaos_validate_evaluator",
    "elizaos_invoke_evaluator",
    "elizaos_free_string",
    # Optional in section 6; our SDK exports them (the error object, ABI version 1).
    "elizaos_last_error",
    "elizaos_abi_version",
)
WASM_APT = ["rustc-web", "cargo-web", "rust-web-src", "libstd-rust-web-dev", "lld-22"]


# --- helpers -------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    """Environment every host and driver needs to find the other runtimes."""
    return {
        "ELIZAOS_NODE": str(TS / "node_modules" / ".bin" / "node"),
        "ELIZAOS_BUN": str(TS / "node_modules" / ".bin" / "bun"),
        "ELIZAOS_TS_BRIDGE": str(TS / "src" / "bridge-server.ts"),
        "ELIZAOS_RUST_TARGET_DIR": str(RUST_TARGET),
    }


def _session_env(session: nox.Session) -> dict[str, str]:
    env = _env()
    bin_dir = Path(session.bin)  # the session's virtualenv: its python has elizaos_interop
    env["ELIZAOS_PYTHON"] = str(bin_dir / "python")
    return env


def _require(session: nox.Session, program: str, hint: str) -> None:
    if shutil.which(program) is None:
        session.error(f"`{program}` is not on PATH; {hint}")


def _install_python(session: nox.Session) -> None:
    """Install the Python runtime (with its FFI/WASM extras) and the testkit, editable."""
    session.install("-e", f"{PY}[all]", "-e", str(ROOT), *PY_TEST_DEPS)


def _wasm_toolchain_ready() -> bool:
    rustup_targets = (
        subprocess.run(
            ["rustup", "target", "list", "--installed"], capture_output=True, text=True, check=False
        ).stdout
        if shutil.which("rustup")
        else ""
    )
    if "wasm32-unknown-unknown" in rustup_targets.split():
        return True
    # Debian's rustc-web builds std for wasm32 from source (-Zbuild-std): it needs the sources
    # and an lld: /usr/bin/rust-lld, or lld-22 that plugins/rust/build-wasm.sh links as rust-lld.
    debian_src = Path("/usr/lib/rustlib/src/rust/library")
    lld = Path("/usr/bin/rust-lld").exists() or Path("/usr/bin/lld-22").exists()
    return Path("/usr/bin/rustc").exists() and debian_src.is_dir() and lld


def _ensure_wasm_toolchain(session: nox.Session) -> None:
    """A wasm32 std: rustup's target if installed, else Debian's rustc-web (installed when root)."""
    if _wasm_toolchain_ready():
        return
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0 and not os.environ.get("ELIZAOS_NO_APT"):
        session.log(f"no wasm32 std found: installing Debian packages {' '.join(WASM_APT)}")
        session.run(apt, "update", "-qq", external=True)
        session.run(
            apt, "install", "-y", "-qq", *WASM_APT, external=True, env={"DEBIAN_FRONTEND": "noninteractive"}
        )
        return
    session.error(
        "no wasm32-unknown-unknown std: run `rustup target add wasm32-unknown-unknown`, or on "
        f"Debian `apt-get install -y {' '.join(WASM_APT)}`"
    )


def _ensure_chromium(session: nox.Session) -> None:
    """Headless Chromium for the report page's test (Debian's ``chromium``, installed when root)."""
    if any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
        return
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0 and not os.environ.get("ELIZAOS_NO_APT"):
        session.log("no headless Chromium found: installing Debian's chromium for the report page test")
        session.run(apt, "update", "-qq", external=True)
        session.run(
            apt, "install", "-y", "-qq", "chromium", external=True, env={"DEBIAN_FRONTEND": "noninteractive"}
        )
        return
    session.error("the report page test needs headless Chromium: `apt-get install -y chromium`")


def _build_rust_native(session: nox.Session) -> None:
    """FFI libraries, IPC servers, the host driver and the seed's examples in ONE cargo call.

    Separate calls with different features would rebuild the shared cdylib and could drop
    the FFI exports from it; one call with the union of features cannot.
    """
    _require(session, "cargo", "install Rust (rustup) first")
    session.run(
        "cargo",
        "build",
        "--release",
        "--locked",
        "--workspace",
        "--lib",
        "--bins",
        "--examples",
        "--manifest-path",
        str(RUST / "Cargo.toml"),
        "--features",
        NATIVE_FEATURES,
        external=True,
        env={"CARGO_TARGET_DIR": str(RUST_TARGET)},
    )


def _artifact(session: nox.Session, path: Path, build: str) -> Path:
    if not path.exists():
        session.error(f"expected build artifact {path} is missing after `{build}`")
    return path


def _check_ffi_exports(session: nox.Session, so: Path) -> None:
    nm = shutil.which("nm")
    if nm is None:
        return
    out = subprocess.run(
        [nm, "-D", "--defined-only", str(so)], capture_output=True, text=True, check=True
    ).stdout
    missing = [s for s in FFI_SYMBOLS if s not in out]
    if missing:
        session.error(f"{so} lacks the FFI exports {missing} (protocol.md section 6)")


def _build_rust_ffi(session: nox.Session) -> None:
    _build_rust_native(session)
    for name in ("conformance", "eliza_classic"):
        so = _artifact(
            session, RUST_TARGET / "release" / f"libelizaos_plugin_{name}.so", "cargo build --features ffi"
        )
        _check_ffi_exports(session, so)


def _build_rust_ipc(session: nox.Session) -> None:
    _build_rust_native(session)
    for name in ("conformance-ipc", "eliza-classic-ipc", "elizaos-host-driver"):
        _artifact(session, RUST_TARGET / "release" / name, "cargo build --features ipc")


def _build_rust_wasm(session: nox.Session) -> None:
    _ensure_wasm_toolchain(session)
    session.run(
        "bash", str(RUST / "build-wasm.sh"), external=True, env={"CARGO_TARGET_DIR_NATIVE": str(RUST_TARGET)}
    )
    for name in ("conformance", "eliza_classic"):
        _artifact(
            session,
            RUST_TARGET / "wasm32-unknown-unknown" / "release" / f"elizaos_plugin_{name}.wasm",
            "plugins/rust/build-wasm.sh",
        )


def _build_typescript(session: nox.Session) -> None:
    """`npm ci` (skipped while the lockfile is unchanged), typecheck, then build dist/ (incremental)."""
    _require(session, "npm", "install Node.js and npm (any version; Node 22 and Bun come from npm)")
    lock = TS / "package-lock.json"
    stamp = TS / "node_modules" / ".ci-stamp"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        session.run("npm", "ci", "--no-audit", "--no-fund", "--prefix", str(TS), external=True)
        stamp.write_text(digest)
    for tool in ("node", "bun", "tsc"):
        _artifact(session, TS / "node_modules" / ".bin" / tool, "npm ci")
    tsc = str(TS / "node_modules" / ".bin" / "tsc")
    session.run(tsc, "--noEmit", "-p", str(TS), external=True)
    # dist/ (JavaScript + declarations) is what `npm install @elizaos/interop` users import.
    session.run(tsc, "-p", str(TS / "tsconfig.build.json"), external=True)


def _install_published(session: nox.Session) -> None:
    """The pinned published packages: pip install -r into the session's venv, npm ci (stamped)."""
    requirements = PY / "published" / "requirements.txt"
    lock = TS / "published" / "package-lock.json"
    for pin in (requirements, lock):
        if not pin.is_file():
            session.error(f"the pinned published packages need {pin}, which is missing")
    session.install("-r", str(requirements))
    _require(session, "npm", "install Node.js and npm")
    stamp = TS / "published" / "node_modules" / ".ci-stamp"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        session.run("npm", "ci", "--no-audit", "--no-fund", "--prefix", str(TS / "published"), external=True)
        stamp.write_text(digest)


def _run_elizaos(session: nox.Session, env: dict[str, str], extra: list[str]) -> None:
    """The conformance suite over matrices/elizaos.toml (a missing package fails its cells)."""
    session.run(
        "pytest",
        "-n",
        "auto",
        f"--matrix={ROOT / 'matrices' / 'elizaos.toml'}",
        f"--interop-report={ROOT / 'reports' / 'latest' / 'conformance-elizaos.json'}",
        "--pyargs",
        "testkit.suite",
        *extra,
        env=env,
    )


def _build_all(session: nox.Session) -> None:
    _build_rust_ffi(session)
    _build_rust_ipc(session)
    _build_rust_wasm(session)
    _build_typescript(session)


# --- sessions ------------------------------------------------------------------------------


@nox.session(python=PYTHON)
def build_python(session: nox.Session) -> None:
    """Build the elizaos-interop wheel and prove it installs and imports on its own."""
    session.install("build")
    dist = Path(session.create_tmp()) / "dist"
    session.run("python", "-m", "build", "--wheel", "--outdir", str(dist), str(PY))
    wheels = sorted(dist.glob("elizaos_interop-*.whl"))
    if not wheels:
        session.error(f"no wheel was built in {dist}")
    session.install("--force-reinstall", str(wheels[-1]))
    session.run("python", "-c", "import elizaos_interop as m; print(m.__name__, sorted(m.__all__))")


@nox.session(python=PYTHON)
def certify_install(session: nox.Session) -> None:
    """Build the testkit and elizaos-interop wheels, install them into a fresh virtualenv, and
    certify a plugin from an empty directory (testkit/tests/test_certify_install.py)."""
    _install_python(session)
    _build_typescript(session)
    env = _session_env(session)
    env["INTEROP_INSTALL_TEST"] = "1"
    session.run("pytest", str(ROOT / "testkit" / "tests" / "test_certify_install.py"), "-q", env=env)


@nox.session(python=False)
def build_rust_ffi(session: nox.Session) -> None:
    """The FFI shared libraries (libelizaos_plugin_*.so), checked for the C exports."""
    _build_rust_ffi(session)


@nox.session(python=False)
def build_rust_ipc(session: nox.Session) -> None:
    """The IPC plugin servers (conformance-ipc, eliza-classic-ipc) and the Rust host driver."""
    _build_rust_ipc(session)


@nox.session(python=False)
def build_rust_wasm(session: nox.Session) -> None:
    """The raw-ABI WASM plugins (rustup wasm32 target if present, else Debian's rustc-web)."""
    _build_rust_wasm(session)


@nox.session(python=False)
def build_typescript(session: nox.Session) -> None:
    """npm ci (Node 22, Bun, TypeScript from the lockfile) and tsc --noEmit."""
    _build_typescript(session)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff and mypy --strict (Python), cargo fmt and clippy (Rust), tsc --noEmit (TypeScript)."""
    _install_python(session)
    session.install("ruff>=0.6", "mypy>=1.11", "types-jsonschema", "types-cffi")
    session.run("ruff", "check", "testkit", "plugins/python", "noxfile.py")
    session.run("ruff", "format", "--check", "testkit", "plugins/python", "noxfile.py")
    session.run("mypy", "testkit")
    session.run("mypy", "--config-file", str(PY / "pyproject.toml"), str(PY / "src"))
    session.run(
        "cargo", "fmt", "--all", "--check", "--manifest-path", str(RUST / "Cargo.toml"), external=True
    )
    session.run(
        "cargo",
        "clippy",
        "--locked",
        "--workspace",
        "--all-targets",
        "--manifest-path",
        str(RUST / "Cargo.toml"),
        "--features",
        NATIVE_FEATURES,
        "--",
        "-D",
        "warnings",
        external=True,
    )
    _build_typescript(session)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Every runtime's unit tests, the seed's examples, and the full conformance matrix.

    The seed's six snippets run as examples from ``testkit/tests/test_seed_examples.py``.
    """
    _install_python(session)
    # The pinned published plugins first: plugins/python/tests serves the elizaos one too.
    _install_published(session)
    _build_all(session)
    _ensure_chromium(session)
    env = _session_env(session)
    # The report page test keeps its Chromium screenshot here.
    env["INTEROP_TEST_ARTEFACTS"] = str(ROOT / "reports" / "latest" / "test-artefacts")
    extra = session.posargs
    # Rust: unit and integration tests (they use the release artifacts built above).
    session.run(
        "cargo",
        "test",
        "--locked",
        "--workspace",
        "--manifest-path",
        str(RUST / "Cargo.toml"),
        "--features",
        NATIVE_FEATURES,
        external=True,
        env=env,
    )
    # TypeScript on both runtimes.
    node = str(TS / "node_modules" / ".bin" / "node")
    bun = str(TS / "node_modules" / ".bin" / "bun")
    with session.chdir(TS):
        session.run(node, "--test", "test/**/*.test.ts", external=True, env=env)
        session.run(bun, "test", "test/", external=True, env=env)
    # Python runtime and testkit unit tests, then the full matrix (xdist on every core).
    session.run("pytest", "-n", "auto", str(PY / "tests"), str(ROOT / "testkit" / "tests"), *extra, env=env)
    session.run(
        "pytest",
        "-n",
        "auto",
        f"--matrix={ROOT / 'matrices' / 'full.toml'}",
        f"--interop-report={ROOT / 'reports' / 'latest' / 'conformance-full.json'}",
        "--pyargs",
        "testkit.suite",
        *extra,
        env=env,
    )
    # The published elizaOS plugins (installed above) through every host.
    _run_elizaos(session, env, list(extra))


@nox.session(python=PYTHON)
def elizaos(session: nox.Session) -> None:
    """Published elizaOS plugins, pinned, served as they are through every host (matrices/elizaos.toml)."""
    _install_python(session)
    _build_rust_ipc(session)
    _build_typescript(session)
    _install_published(session)
    _run_elizaos(session, _session_env(session), list(session.posargs))


@nox.session(python=PYTHON)
def conformance(session: nox.Session) -> None:
    """The main job: build; conformance and latency over the default matrix (reports/latest/)
    and the full matrix (reports/latest/full/); both report pages checked in headless Chromium."""
    _install_python(session)
    _build_all(session)
    _ensure_chromium(session)
    env = _session_env(session)
    out = ROOT / "reports" / "latest"
    # The full matrix's 31 cells are measured lighter (pinned only, 2 repeats; its page says so):
    # the default's five repeats in both modes would take the 2-core CI machine ~25 minutes.
    lighter = ["--pin", "--repeats", "2"]
    # Both matrices run and both pages are looked at even when a cell of the first fails; the
    # session fails at the end, naming each matrix that did.
    failed: list[str] = []
    run_env = {**os.environ, **env, "PATH": os.pathsep.join([session.bin, os.environ.get("PATH", "")])}
    for matrix, where, options in (("default", out, []), ("full", out / "full", lighter)):
        argv = [
            str(Path(session.bin) / "interop-testkit"),
            "matrix",
            str(ROOT / "matrices" / f"{matrix}.toml"),
            "--out",
            str(where),
            *options,
            *session.posargs,
        ]
        session.log(" ".join(argv))
        code = subprocess.run(argv, env=run_env, check=False).returncode
        if code != 0:
            failed.append(f"the {matrix} matrix (interop-testkit exit {code}, see {where / 'summary.md'})")
    # The pages as a reader sees them: every cell and chart drawn, nothing on the console.
    pages_env = dict(env, INTEROP_MAIN_JOB_PAGES=str(out), INTEROP_TEST_ARTEFACTS=str(out / "test-artefacts"))
    session.run(
        "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "testkit" / "tests" / "test_main_job_pages.py"),
        env=pages_env,
    )  # fmt: skip
    if failed:
        session.error(f"failed: {'; '.join(failed)}")


@nox.session(python=PYTHON)
def bench_selftest(session: nox.Session) -> None:
    """Prove the latency regression detector on cells with a Python plugin (a few minutes).

    Unchanged runs of this tree must not be ``regressed``; runs with the Python plugin bridge
    slowed by ``ELIZAOS_INTEROP_TEST_DELAY_US=20`` must be, on every cell. Writes
    ``reports/latest/bench-selftest.md``; fails on a false alarm, a missed slowdown or a broken
    run, and also when the slowed runs came out ``inconclusive`` (a busy machine proves nothing).
    Not part of ``.ci/run``: eleven latency runs on a shared CI machine are minutes of noise-bound
    work for a claim about the detector, not about the tree. Options after ``--`` go to
    ``python -m testkit._bench_selftest`` (``--design interleaved``, ``--runs N``, ``--cells``).
    """
    _install_python(session)
    _build_rust_ipc(session)
    _build_typescript(session)
    session.run(
        "python",
        "-m",
        "testkit._bench_selftest",
        "--out",
        str(ROOT / "reports" / "latest"),
        *session.posargs,
        env=_session_env(session),
    )
