"""certify's hosts phase: the plugin through every selected host, and the differential check."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from testkit._certify_channel import HostChannel, Reply, cap
from testkit._certify_corpus import ordinary_inputs
from testkit._certify_model import HOSTS, KINDS, UnusableInput
from testkit._certify_state import CertifierState
from testkit._certify_target import open_host
from testkit._drivers import DriverError, HostDriver, PluginSpec
from testkit._jsonprofile import json_diff


def _normalise(reply: Reply, method: str) -> Any:
    """A reply as a comparable JSON value (protocol.md 2: -0.0 and 0, null optional members)."""
    if reply.kind != "result":
        return {"<outcome>": reply.kind, "code": reply.code}
    value = reply.value
    if method.startswith("validate") and isinstance(value, dict) and isinstance(value.get("valid"), bool):
        return value["valid"]

    def walk(v: Any) -> Any:
        if isinstance(v, float) and v == 0:
            return 0
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if v is not None}
    return walk(value)


class HostPhase(CertifierState):
    """The plugin loaded through every selected host, and their answers compared."""

    # -- hosts --------------------------------------------------------------------------------------
    def selected_hosts(self) -> tuple[list[str], bool]:
        if self.options.hosts:
            return list(self.options.hosts), True
        return list(HOSTS), False

    def run_hosts(self) -> None:
        hosts, explicit = self.selected_hosts()
        if self.target.spec is None:
            return
        calls: list[tuple[str, dict[str, Any]]] = []
        labels: list[str] = []
        inputs = ordinary_inputs(self.manifest, self.world)
        for plural, _kind, methods in KINDS:
            for name in self.items.get(plural, []):
                if name in self.options.skip:
                    continue
                for method in methods:
                    for inp in inputs:
                        calls.append((method, inp.params(method, name)))
                        labels.append(f"{method}({name!r}) with {inp.label}")
        outcomes: dict[str, list[Reply]] = {}
        for host in hosts:
            replies = self._through_host(host, explicit, calls, labels, several=len(hosts) > 1)
            if replies is not None:
                outcomes[host] = replies
        self.compare_hosts(outcomes, calls, labels)

    def _through_host(
        self,
        host: str,
        explicit: bool,
        calls: list[tuple[str, dict[str, Any]]],
        labels: list[str],
        several: bool,
    ) -> list[Reply] | None:
        """The ordinary calls through one host (None when it could not load the plugin); its
        status, driver and duration go to the certificate's ``hosts``."""
        assert self.target.spec is not None
        spec = self.target.spec
        info: dict[str, Any] = {"status": "not run"}
        self.result.hosts[host] = info
        host_started = time.monotonic()
        driver, description = open_host(host, self.toolchains, build=explicit)
        info["driver"] = description
        if driver is None:
            info["status"] = "unavailable"
            if explicit:
                raise UnusableInput(f"--hosts {host}: {description}")
            self.result.notes.append(f"host {host} not used: {description}")
            return None
        try:
            transports = getattr(driver, "transports", None) or ["ipc", "wasm", "ffi"]
            if spec.transport not in transports:
                info["status"] = f"no {spec.transport} loader"
                self.result.notes.append(
                    f"host {host} has no {spec.transport} loader (it offers {', '.join(transports)})"
                )
                return None
            info["runtime"] = driver.runtime
            if host == "bun" and spec.language == "typescript":
                spec = PluginSpec(
                    spec.transport, spec.language, path=spec.path, command=spec.command, runtime="bun"
                )
            try:
                replies = self._load_and_call(driver, spec, calls)
            except DriverError as exc:
                info["status"] = "load failed"
                self.finding(
                    "host-load",
                    f"the {host} host refuses the plugin",
                    received=cap(str(exc), 1500),
                    host=host,
                )
                return None
            info["status"] = "loaded"
            self.judge_host_replies(host, calls, labels, replies)
            info["calls"] = len(calls)
            if not self.unstable and several:
                # The same calls on a fresh load of the same host: what differs is the plugin's
                # own nondeterminism (clocks, randomness), not a host disagreement.
                with contextlib.suppress(DriverError):
                    again = self._load_and_call(driver, spec, calls)
                    self.unstable = {
                        i
                        for i, (method, _params) in enumerate(calls)
                        if json_diff(_normalise(replies[i], method), _normalise(again[i], method)) is not None
                    } or {-1}
            return replies
        finally:
            with contextlib.suppress(Exception):
                driver.close()
            info["duration_s"] = round(time.monotonic() - host_started, 2)

    def _load_and_call(
        self, driver: HostDriver, spec: PluginSpec, calls: list[tuple[str, dict[str, Any]]]
    ) -> list[Reply]:
        """Load the plugin through ``driver``, send ``calls`` (batched), unload; DriverError when
        the host refuses the plugin."""
        handle, _manifest = driver.load(
            spec, int(self.options.start_timeout_s * 1000), agent_runtime=self.world
        )
        replies = self._batch(HostChannel(driver, handle, self.options.timeout_s, raw_params=False), calls)
        with contextlib.suppress(DriverError):
            driver.unload(handle)
        return replies

    def judge_host_replies(
        self, host: str, calls: list[tuple[str, dict[str, Any]]], labels: list[str], replies: list[Reply]
    ) -> None:
        """Ordinary inputs through a host: a crash, a hang or an unknown-name answer there is the
        plugin's (a host sends the version exchange and, with --runtime, runtime params: a plugin
        that trips over members it does not know breaks must-ignore)."""
        framing = {"stdout-json", "json-profile", "response-envelope", "response-ids", "pipelining"}
        broken = sorted({f.check for f in self.findings if f.check in framing})
        # After a crash, a time-out or a protocol error the host closes the plugin, and a plugin
        # that already broke the framing trips the host's own checks: what follows is consequence.
        stopped = bool(broken)
        lost = 0
        for (method, params), label, reply in zip(calls, labels, replies, strict=True):
            if reply.kind in ("crash", "hang", "host"):
                if stopped:
                    lost += 1
                    continue
                stopped = True
            kind = next(k for _p, k, methods in KINDS if method in methods)
            check = f"declared-{kind}s"
            evidence = {
                "request": self.request_text(method, params),
                "received": reply.describe(),
                "input": label,
                "host": host,
            }
            if reply.kind == "crash":
                self.finding(
                    "no-crash",
                    f"the plugin exited while answering {method} through the {host} host",
                    **evidence,
                )
            elif reply.kind == "hang":
                self.finding(
                    "no-hang", f"{method} through the {host} host was not answered in time", **evidence
                )
            elif reply.kind == "error" and reply.code in (-32001, -32601):
                self.finding(
                    check,
                    f"{method} through the {host} host answers its own declared name with {reply.code}",
                    **evidence,
                )
            elif reply.kind == "error" and reply.code == -32003:
                self.finding(
                    check,
                    f"the {host} host finds the {method} result of an ordinary input invalid (-32003)",
                    **evidence,
                )
        if lost:
            cause = f"it broke {', '.join(broken)}" if broken else "of the first failure"
            self.result.notes.append(f"{host} host: {lost} calls failed because {cause}; not counted again")

    def _batch(self, channel: HostChannel, calls: list[tuple[str, dict[str, Any]]]) -> list[Reply]:
        replies: list[Reply] = []
        for start in range(0, len(calls), 64):
            replies += channel.call_many(calls[start : start + 64])
        self.calls += len(calls)
        return replies

    def compare_hosts(
        self, outcomes: dict[str, list[Reply]], calls: list[tuple[str, dict[str, Any]]], labels: list[str]
    ) -> None:
        hosts = list(outcomes)
        if len(hosts) < 2:
            self.notes_by_check["differential"] = f"{len(hosts)} host(s) answered: nothing to compare"
            return
        reference = hosts[0]
        unstable = self.unstable - {-1}
        for other in hosts[1:]:
            for i, (method, params) in enumerate(calls):
                if i in unstable:
                    continue
                a = _normalise(outcomes[reference][i], method)
                b = _normalise(outcomes[other][i], method)
                diff = json_diff(a, b)
                if diff is None:
                    continue
                path = diff.split(":", 1)[0]
                self.finding(
                    "differential",
                    f"{reference} and {other} disagree at {path}",
                    request=self.request_text(method, params),
                    received=cap(
                        f"{reference}: {outcomes[reference][i].describe()}\n"
                        f"{other}: {outcomes[other][i].describe()}",
                        1200,
                    ),
                    input=labels[i],
                    host=f"{reference}/{other}",
                )
        self.notes_by_check["differential"] = (
            f"{len(calls) - len(unstable)} calls compared across {', '.join(hosts)}"
            + (
                f"; {len(unstable)} not compared: they differ between two fresh loads on {reference} "
                "(clocks, randomness)"
                if unstable
                else ""
            )
        )
