"""``interop-testkit certify``: correct plugins pass (ours and seed-dialect ones), malformed input
never gives a traceback, unusable input exits 2 with a reason, and the reports and the
expected-failures file behave as documented."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from testkit._certify_checks import CHECKS, check_spec, checks_markdown
from testkit._toolchains import find_repo_root
from testkit.cli import main

ROOT = find_repo_root(Path(__file__).parent)
PY = shlex.quote(sys.executable)
FIXTURE = ROOT / "plugins" / "python" / "fixtures" / "conformance_plugin.py"
ELIZA = ROOT / "plugins" / "python" / "fixtures" / "eliza_classic"
SEED = ROOT / "testkit" / "fixtures" / "seed" / "seed_plugin.py"
BROKEN = ROOT / "testkit" / "fixtures" / "broken"
FAST = ("--fuzz-examples", "3", "--timeout", "3", "--hosts", "python")
FIXTURE_SKIPS = ("--skip", "crash,fail,panic,invalid")


def certify(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """Run certify with a certificate; (exit status, certificate)."""
    out = tmp_path / "certificate.json"
    code = main(["certify", *args, "--json", str(out)])
    return code, json.loads(out.read_text(encoding="utf-8"))


def verdicts(cert: dict[str, Any]) -> dict[str, str]:
    """check id -> verdict."""
    return {c["id"]: c["verdict"] for c in cert["checks"]}


def must_failures(cert: dict[str, Any]) -> set[str]:
    """Ids of failed MUST checks."""
    return {c["id"] for c in cert["checks"] if c["level"] == "MUST" and c["verdict"] == "fail"}


def broken(name: str) -> str:
    """--ipc command line of a catalogue plugin."""
    return f"{PY} {shlex.quote(str(BROKEN / name))}"


def test_every_check_has_a_level_and_a_section() -> None:
    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids))
    assert {c.level for c in CHECKS} == {"MUST", "SHOULD", "MAY"}
    assert all(c.section and c.summary for c in CHECKS)
    assert check_spec("no-crash").level == "MUST"
    with pytest.raises(KeyError, match="known"):
        check_spec("no-such-check")


def test_the_readme_renders_the_check_table() -> None:
    readme = (ROOT / "testkit" / "README.md").read_text(encoding="utf-8")
    assert checks_markdown() in readme, (
        "regenerate the table: python -c 'from testkit._certify_checks import *; print(checks_markdown())'"
    )


def test_conformance_fixture_passes_every_must(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, cert = certify(tmp_path, str(FIXTURE), *FIXTURE_SKIPS, *FAST)
    out = capsys.readouterr().out
    assert code == 0, out
    assert cert["verdict"] == "PASS"
    assert cert["plugin"] == {"name": "conformance-fixture", "version": "1.0.0", "language": "python"}
    assert not must_failures(cert), out
    assert cert["hosts"]["python"]["status"] == "loaded"
    assert cert["calls"] >= 300  # a few hundred calls at the default profile and more
    assert all({"id", "level", "section", "verdict", "duration_s"} <= set(c) for c in cert["checks"])
    assert "not called (--skip): fail, panic, crash, invalid" in out
    assert out.count("\n") < 60, "one line per check, details only for failures"


def test_seed_dialect_plugin_passes_must_and_fails_should(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, cert = certify(tmp_path, "--ipc", f"{PY} {shlex.quote(str(SEED))}", *FAST)
    out = capsys.readouterr().out
    assert code == 0, out
    assert not must_failures(cert)
    v = verdicts(cert)
    # The seed answers {"valid": true} and -32602 for unknown names: SHOULD, never MUST.
    assert v["validate-boolean"] == "fail"
    assert v["unknown-name-error"] == "fail"
    assert "SHOULD not met (fails with --strict)" in out
    # A repeated problem is one line with a count, not one line per payload.
    line = next(x for x in out.splitlines() if "validate-boolean" in x)
    assert "(x" in line
    assert len(line) < 200
    code, _cert = certify(tmp_path, "--ipc", f"{PY} {shlex.quote(str(SEED))}", *FAST, "--strict")
    assert code == 1


def test_eliza_classic_passes(tmp_path: Path) -> None:
    code, cert = certify(tmp_path, str(ELIZA), *FAST)
    assert code == 0, cert
    assert not must_failures(cert)


def _write_plugin(tmp_path: Path, manifest: Any) -> str:
    script = tmp_path / "plugin.py"
    script.write_text(
        "import json, sys\n"
        f"MANIFEST = json.loads({json.dumps(json.dumps(manifest))})\n"
        "for line in sys.stdin:\n"
        "    req = json.loads(line)\n"
        "    if req.get('method') == 'getManifest':\n"
        "        out = {'id': req['id'], 'result': MANIFEST}\n"
        "    else:\n"
        "        out = {'id': req.get('id'), 'error': {'code': -32601, 'message': 'nope'}}\n"
        "    print(json.dumps(out), flush=True)\n",
        encoding="utf-8",
    )
    return f"{PY} {shlex.quote(str(script))}"


BASE = {"name": "m", "description": "d", "version": "1.0.0", "language": "python"}


@pytest.mark.parametrize(
    "manifest",
    [
        {**BASE, "actions": "REPLY", "providers": [], "evaluators": []},
        {**BASE, "actions": [1, 2], "providers": [3], "evaluators": [None]},
        {**BASE, "actions": [{"description": "no name"}], "providers": [], "evaluators": []},
        {"description": "no name at all", "actions": [], "providers": [], "evaluators": []},
        ["not", "an", "object"],
        "a string",
    ],
    ids=["actions-string", "items-numbers", "item-missing-name", "manifest-missing-name", "array", "string"],
)
def test_malformed_manifests_fail_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], manifest: Any
) -> None:
    code, cert = certify(tmp_path, "--ipc", _write_plugin(tmp_path, manifest), *FAST)
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.out + captured.err
    assert verdicts(cert)["manifest"] == "fail"
    assert not any("could not complete" in json.dumps(c["findings"]) for c in cert["checks"]), cert


def _wasm_without_exports(tmp_path: Path) -> Path:
    path = tmp_path / "empty.wasm"
    path.write_bytes(b"\x00asm\x01\x00\x00\x00")
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/plugin.py"], "no such file"),
        ([str(ROOT / "README.md")], "not a plugin"),
        (["--ipc", "no-such-command-anywhere --serve"], "command not found"),
        (["--ipc", "sleep 30", "--start-timeout", "1"], "nothing on stdout within the start time-out"),
        (["--ipc", f"{PY} -c 'import sys; sys.stderr.write(\"boom\\n\")'"], "boom"),
        ([], "exactly one of PATH or --ipc"),
        (["--hosts", "cobol", str(FIXTURE)], "unknown host"),
        (["--only", "no-such-check", str(FIXTURE)], "unknown check id"),
    ],
)
def test_unusable_input_exits_2_with_a_reason(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["certify", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_wrong_architecture_so_and_wasm_without_exports_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    so = tmp_path / "libplugin.so"
    so.write_bytes(b"\x7fELF" + b"\x00" * 60)
    assert main(["certify", str(so)]) == 2
    assert "cannot load this shared library" in capsys.readouterr().err
    assert main(["certify", str(_wasm_without_exports(tmp_path))]) == 2
    assert "does not export" in capsys.readouterr().err


def test_a_failure_shows_request_answer_stderr_and_reproduction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, cert = certify(tmp_path, "--ipc", broken("exit_on_sad.py"), *FAST)
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  MUST   no-crash" in out
    assert "I am feeling sad" in out
    assert "stderr| mood model not loaded" in out
    repro = f"reproduce: interop-testkit certify --ipc {shlex.quote(broken('exit_on_sad.py'))}"
    assert repro in out
    assert "--only no-crash" in out
    finding = next(c for c in cert["checks"] if c["id"] == "no-crash")["findings"][0]
    assert "I am feeling sad" in finding["request"]
    assert "mood model not loaded" in finding["stderr_tail"]


def test_only_runs_the_named_check(tmp_path: Path) -> None:
    code, cert = certify(tmp_path, "--ipc", broken("exit_on_sad.py"), *FAST, "--only", "no-crash")
    assert code == 1
    assert [c["id"] for c in cert["checks"]] == ["no-crash"]


def test_expected_failures_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = tmp_path / "expected.txt"
    args = ["--ipc", broken("exit_on_sad.py"), *FAST, "--expected-failures", str(baseline)]
    code, _cert = certify(tmp_path, *args, "--update-baseline")
    assert code == 0
    listed = baseline.read_text(encoding="utf-8")
    assert "no-crash" in listed
    code, cert = certify(tmp_path, *args)
    assert code == 0, capsys.readouterr().out
    assert verdicts(cert)["no-crash"] == "xfail"
    baseline.write_text(listed + "manifest\n", encoding="utf-8")  # passes: an unexpected pass
    code, cert = certify(tmp_path, *args)
    assert code == 1
    assert verdicts(cert)["manifest"] == "xpass"
    assert "remove it from the list" in capsys.readouterr().out


def test_junit_and_html_reports(tmp_path: Path) -> None:
    junit, page = tmp_path / "certify.xml", tmp_path / "certify.html"
    code, _cert = certify(
        tmp_path, "--ipc", broken("nan_result.py"), *FAST, "--junit", str(junit), "--html", str(page)
    )
    assert code == 1
    suite = ET.parse(junit).getroot()
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["json-profile"]
    text = page.read_text(encoding="utf-8")
    assert "json-profile" in text
    assert "NaN" in text
    assert "<script" not in text
    assert "http://" not in text
    assert "https://" not in text


def test_runtime_gap_is_its_own_finding(tmp_path: Path) -> None:
    script = tmp_path / "needs_runtime.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(BROKEN)!r})\n"
        "from _seed_core import serve\n"
        "def override(req, default):\n"
        "    if req.get('method') == 'invokeAction':\n"
        "        return {'id': req['id'], 'error': {'code': -32000, 'message': "
        "'runtime.getRoom is not provided by the host', 'data': {'exception': 'RuntimeUnavailableError'}}}\n"
        "    return default(req)\n"
        "serve(override)\n",
        encoding="utf-8",
    )
    code, cert = certify(tmp_path, "--ipc", f"{PY} {shlex.quote(str(script))}", *FAST)
    assert code == 1
    v = verdicts(cert)
    assert v["runtime-gap"] == "fail"
    gap = next(c for c in cert["checks"] if c["id"] == "runtime-gap")
    assert "runtime.getRoom" in gap["findings"][0]["summary"]
    declared = next(c for c in cert["checks"] if c["id"] == "declared-actions")
    assert "--runtime WORLD.json" in json.dumps(declared["findings"])


def test_hosts_agree_on_the_conformance_fixture_and_disagree_on_a_nondeterministic_plugin(
    tmp_path: Path,
) -> None:
    code, cert = certify(
        tmp_path, str(FIXTURE), *FIXTURE_SKIPS, "--fuzz-examples", "0", "--hosts", "python,node"
    )
    assert code == 0, cert
    assert cert["hosts"]["node"]["status"] == "loaded"
    assert verdicts(cert)["differential"] == "pass"
    script = tmp_path / "host_dependent_plugin.py"
    script.write_text(
        f"import os, sys\nsys.path.insert(0, {str(BROKEN)!r})\n"
        "from _seed_core import serve\n"
        "def override(req, default):\n"
        "    if req.get('method') == 'getProvider':\n"
        "        parent = open(f'/proc/{os.getppid()}/comm').read().strip()\n"
        "        return {'id': req['id'], 'result': {'text': f'served for {parent}'}}\n"
        "    return default(req)\n"
        "serve(override)\n",
        encoding="utf-8",
    )
    code, cert = certify(
        tmp_path,
        "--ipc",
        f"{PY} {shlex.quote(str(script))}",
        "--fuzz-examples",
        "0",
        "--hosts",
        "python,node",
    )
    assert code == 0  # differential is SHOULD
    diff = next(c for c in cert["checks"] if c["id"] == "differential")
    assert diff["verdict"] == "fail"
    assert "python and node disagree at $.text" in diff["findings"][0]["summary"]

    # Answers that differ between two loads on the same host (a clock) are not host disagreements.
    clock = tmp_path / "clock_plugin.py"
    clock.write_text(
        script.read_text(encoding="utf-8").replace(
            "f'served for {parent}'", "repr(__import__('time').time())"
        )
    )
    code, cert = certify(
        tmp_path, "--ipc", f"{PY} {shlex.quote(str(clock))}", "--fuzz-examples", "0", "--hosts", "python,node"
    )
    diff = next(c for c in cert["checks"] if c["id"] == "differential")
    assert diff["verdict"] == "pass", diff
    assert "not compared: they differ between two fresh loads on python" in diff["message"]


RUNTIME_PLUGIN = """
import json, sys
sys.path.insert(0, {broken!r})
from _seed_core import MANIFEST, serve

manifest = {{**MANIFEST, "protocolVersion": 1, "capabilities": ["runtime"]}}
pending = {{}}

def override(req, default):
    if "method" not in req:  # the host's answer to a runtime request
        call_id, original = pending.pop(req["id"])
        if "error" in req:
            data = {{"exception": "RuntimeCallError"}}
            error = {{"code": -32000, "message": req["error"]["message"], "data": data}}
            return {{"id": call_id, "error": error}}
        return {{"id": call_id, "result": {{"success": True, "text": str(req["result"])}}}}
    if req.get("method") == "getManifest":
        return {{"id": req["id"], "result": manifest}}
    if req.get("method") == "invokeAction":
        if "runtime" not in req.get("params", {{}}):
            error = {{"code": -32000, "message": "runtime.getSetting is not provided by the host",
                     "data": {{"exception": "RuntimeUnavailableError"}}}}
            return {{"id": req["id"], "error": error}}
        rid = "rt-" + str(req["id"])
        pending[rid] = (req["id"], req)
        params = {{"call": req["id"], "args": ["GREETING"]}}
        ask = {{"id": rid, "method": "runtime.getSetting", "params": params}}
        return json.dumps(ask).encode() + b"\\n"
    return default(req)

serve(override)
"""


def test_runtime_world_answers_runtime_calls(tmp_path: Path) -> None:
    script = tmp_path / "runtime_plugin.py"
    script.write_text(RUNTIME_PLUGIN.format(broken=str(BROKEN)), encoding="utf-8")
    ipc = f"{PY} {shlex.quote(str(script))}"
    world = ROOT / "docs" / "vectors" / "runtime-world.json"
    code, cert = certify(tmp_path, "--ipc", ipc, *FAST, "--runtime", str(world))
    assert not must_failures(cert), cert
    v = verdicts(cert)
    assert v["runtime-gap"] == "pass"
    assert v["runtime-requests"] == "pass"
    assert code == 0
    # Without a runtime the same plugin's action cannot work: a runtime gap, and the action fails.
    code, cert = certify(tmp_path, "--ipc", ipc, *FAST)
    assert code == 1
    v = verdicts(cert)
    assert v["runtime-gap"] == "fail"
    assert must_failures(cert) == {"declared-actions"}


def test_soak_reports_rss_and_losses(tmp_path: Path) -> None:
    code, cert = certify(tmp_path, "--ipc", f"{PY} {shlex.quote(str(SEED))}", *FAST, "--soak", "2")
    assert code == 0
    soak = cert["soak"]
    assert soak["calls"] > 0
    assert soak["lost"] == 0
    assert soak["rss_kb"]
    assert all(kb > 0 for _t, kb in soak["rss_kb"])


def test_malformed_runtime_requests_fail_the_may_check(tmp_path: Path) -> None:
    script = tmp_path / "runtime_plugin.py"
    text = RUNTIME_PLUGIN.format(broken=str(BROKEN)).replace('"call": req["id"]', '"call": "nope"')
    script.write_text(text, encoding="utf-8")
    world = ROOT / "docs" / "vectors" / "runtime-world.json"
    code, cert = certify(
        tmp_path, "--ipc", f"{PY} {shlex.quote(str(script))}", *FAST, "--runtime", str(world)
    )
    assert code == 0  # MAY
    calls = next(c for c in cert["checks"] if c["id"] == "runtime-calls")
    assert calls["verdict"] == "fail"
    assert "params.call" in calls["findings"][0]["summary"]


@pytest.mark.parametrize("transport", ["ffi", "wasm"])
def test_rust_conformance_fixture_passes_in_process(tmp_path: Path, transport: str) -> None:
    from testkit._toolchains import Toolchains

    artifact = Toolchains.discover(ROOT).fixture_path("conformance", "rust", transport)
    code, cert = certify(tmp_path, str(artifact), *FIXTURE_SKIPS, *FAST)
    assert not must_failures(cert), cert
    assert code == 0
    assert cert["transport"] == transport
    assert verdicts(cert)["pipelining"] == "skip"  # IPC-only checks are skipped, not failed


def test_ts_and_rust_ipc_conformance_fixtures_pass(tmp_path: Path) -> None:
    from testkit._toolchains import Toolchains

    toolchains = Toolchains.discover(ROOT)
    for argv in (
        toolchains.ipc_command("conformance", "typescript"),
        toolchains.ipc_command("conformance", "rust"),
    ):
        code, cert = certify(tmp_path, "--ipc", shlex.join(argv), *FIXTURE_SKIPS, *FAST)
        assert not must_failures(cert), (argv, cert)
        assert code == 0


@pytest.mark.parametrize("script", ["seed_plugin.py", "seed-plugin.mjs"])
def test_a_seed_dialect_script_path_is_run_as_a_script(tmp_path: Path, script: str) -> None:
    code, cert = certify(tmp_path, str(SEED.parent / script), *FAST)
    assert code == 0, cert
    assert cert["plugin"]["name"] == "seed-plugin"
    assert not must_failures(cert)


def test_certify_says_which_rust_host_driver_it_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from testkit._toolchains import Toolchains

    driver = Toolchains.discover(ROOT).rust_host_driver
    monkeypatch.setenv("ELIZAOS_HOST_DRIVER", str(driver))
    code, cert = certify(tmp_path, "--ipc", f"{PY} {shlex.quote(str(SEED))}", *FAST[:-1], "rust")
    assert cert["hosts"]["rust"]["driver"] == f"rust: {driver} (from ELIZAOS_HOST_DRIVER)"
    assert f"host  rust   {cert['hosts']['rust']['status']}: rust: {driver}" in capsys.readouterr().out
    assert code in (0, 1)  # the verdict depends on the Rust host's must-ignore support
    monkeypatch.setenv("ELIZAOS_HOST_DRIVER", str(tmp_path / "missing-driver"))
    assert main(["certify", "--ipc", f"{PY} {shlex.quote(str(SEED))}", "--hosts", "rust"]) == 2
    assert "ELIZAOS_HOST_DRIVER=" in capsys.readouterr().err


def test_a_handler_failure_that_says_not_found_is_not_an_unknown_name(tmp_path: Path) -> None:
    script = tmp_path / "room_not_found.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(BROKEN)!r})\n"
        "from _seed_core import serve, text_of\n"
        "def override(req, default):\n"
        "    if req.get('method') == 'invokeAction' and text_of(req) == 'Hello':\n"
        "        error = {'code': -32000, 'message': 'room not found for action REPLY'}\n"
        "        return {'id': req['id'], 'error': error}\n"
        "    return default(req)\n"
        "serve(override)\n",
        encoding="utf-8",
    )
    code, cert = certify(tmp_path, "--ipc", f"{PY} {shlex.quote(str(script))}", *FAST)
    assert not must_failures(cert), cert
    assert code == 0


def test_a_ts_plugin_without_node_22_or_bun_is_unusable_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old_node = tmp_path / "node"
    old_node.write_text("#!/bin/sh\necho v20.19.0\n", encoding="utf-8")
    old_node.chmod(0o755)
    monkeypatch.setenv("ELIZAOS_NODE", str(old_node))
    monkeypatch.setenv("ELIZAOS_BUN", str(tmp_path / "no-bun"))
    ts = ROOT / "plugins" / "typescript" / "fixtures" / "conformance.ts"
    assert main(["certify", str(ts)]) == 2
    assert "needs Node >= 22 or Bun" in capsys.readouterr().err


def test_an_oversize_stdout_line_is_a_finding_not_memory_growth(tmp_path: Path) -> None:
    script = tmp_path / "oversize.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(BROKEN)!r})\n"
        "from _seed_core import serve\n"
        "sent = False\n"
        "def override(req, default):\n"
        "    global sent\n"
        "    if req.get('method') == 'invokeAction' and not sent:\n"
        "        sent = True\n"
        "        sys.stdout.buffer.write(b'x' * (17 * 1024 * 1024) + b'\\n')\n"
        "    return default(req)\n"
        "serve(override)\n",
        encoding="utf-8",
    )
    code, cert = certify(tmp_path, "--ipc", f"{PY} {shlex.quote(str(script))}", *FAST)
    assert code == 1
    assert must_failures(cert) == {"stdout-json"}
    stdout = next(c for c in cert["checks"] if c["id"] == "stdout-json")
    assert "longer than 16777216 bytes" in stdout["findings"][0]["summary"]


def test_a_crash_only_through_a_host_is_found_there(tmp_path: Path) -> None:
    script = tmp_path / "exchange_crash.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(BROKEN)!r})\n"
        "from _seed_core import serve\n"
        "exchanged = False\n"
        "def override(req, default):\n"
        "    global exchanged\n"
        "    if req.get('method') == 'getManifest' and req.get('params'):\n"
        "        exchanged = True\n"
        "    if req.get('method') == 'invokeAction' and exchanged:\n"
        "        sys.exit('protocol version 1 is not implemented')\n"
        "    return default(req)\n"
        "serve(override)\n",
        encoding="utf-8",
    )
    code, cert = certify(tmp_path, "--ipc", f"{PY} {shlex.quote(str(script))}", *FAST)
    assert code == 1
    assert must_failures(cert) == {"no-crash"}
    crash = next(c for c in cert["checks"] if c["id"] == "no-crash")
    assert crash["findings"][0]["host"] == "python"
    assert any("not counted again" in note for note in cert["notes"])


def test_a_late_runtime_request_is_answered_32602_and_not_a_malformed_one(tmp_path: Path) -> None:
    script = tmp_path / "late_runtime.py"
    script.write_text(
        f"import json, sys\nsys.path.insert(0, {str(BROKEN)!r})\n"
        "from _seed_core import MANIFEST, serve\n"
        "answers = []\n"
        "def override(req, default):\n"
        "    if 'method' not in req:\n"
        "        answers.append(req)\n"
        "        return None\n"
        "    if req.get('method') == 'getManifest':\n"
        "        manifest = {**MANIFEST, 'protocolVersion': 1, 'capabilities': ['runtime']}\n"
        "        return {'id': req['id'], 'result': manifest}\n"
        "    if req.get('method') == 'invokeAction' and 'runtime' in req.get('params', {}):\n"
        "        reply = json.dumps(default(req)) + '\\n'\n"
        "        late = {'id': f\"rt-{req['id']}\", 'method': 'runtime.log',\n"
        "                'params': {'call': req['id'], 'args': [{'done': True}]}}\n"
        "        return (reply + json.dumps(late) + '\\n').encode()\n"
        "    return default(req)\n"
        "serve(override)\n",
        encoding="utf-8",
    )
    world = ROOT / "docs" / "vectors" / "runtime-world.json"
    code, cert = certify(
        tmp_path, "--ipc", f"{PY} {shlex.quote(str(script))}", *FAST, "--runtime", str(world)
    )
    assert code == 0, cert
    assert verdicts(cert)["runtime-calls"] == "pass"
    assert verdicts(cert)["runtime-requests"] == "pass"


BOOTSTRAP = ROOT / "plugins" / "typescript" / "published" / "node_modules" / "@elizaos" / "plugin-bootstrap"
BOOTSTRAP_WORLD = ROOT / "plugins" / "typescript" / "published" / "expectations.json"


def test_published_plugin_bootstrap_passes_only_with_a_runtime(tmp_path: Path) -> None:
    """@elizaos/plugin-bootstrap from npm, as published (the package directory, installed from the
    pinned lockfile by the nox sessions): without a runtime its handlers cannot work, so its
    declared items fail; given the in-memory runtime of its expectation file's World (ordinary
    inputs placed in that World's room) every MUST passes."""
    assert BOOTSTRAP.is_dir(), f"{BOOTSTRAP} is missing: run `nox -s elizaos` (npm ci of the pins)"
    args = (str(BOOTSTRAP), "--fuzz-examples", "3", "--hosts", "python")
    code, cert = certify(tmp_path, *args)
    assert code == 1
    assert {"declared-actions", "declared-providers"} <= must_failures(cert)
    assert verdicts(cert)["runtime-gap"] == "fail"
    code, cert = certify(tmp_path, *args, "--runtime", str(BOOTSTRAP_WORLD))
    assert not must_failures(cert), [c for c in cert["checks"] if c["verdict"] == "fail"]
    assert code == 0
