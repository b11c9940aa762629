"""certify's protocol probes: what a plugin answers to what it was not asked before."""

from __future__ import annotations

import json
import time
from typing import Any

from elizaos_interop import json_type

from testkit._certify_channel import RawChannel, cap
from testkit._certify_corpus import Input, memory_for
from testkit._certify_model import KINDS, UNKNOWN_NAME
from testkit._certify_state import CertifierState
from testkit._rawipc import RawIpcError


class ProtocolProbes(CertifierState):
    """The protocol's conventions probed one by one: unknown names and methods, bad params and lines,
    pipelining, shutdown and EOF."""

    # -- protocol probes --------------------------------------------------------------------------
    def check_unknown_names(self) -> None:
        if self.channel is None:
            return
        for _plural, kind, methods in KINDS:
            for method in methods:
                params = {"name": UNKNOWN_NAME, "memory": memory_for("Hello", "unknown"), "state": {}}
                if method == "invokeAction":
                    params["options"] = {}
                reply = self.call(method, params, f"{method}(unknown name)")
                evidence = self.evidence(method, params, reply, f"{method}(unknown name)")
                if self.lost(reply, f"{method} of an unknown name", evidence):
                    continue
                if reply.kind == "result":
                    self.finding(
                        "unknown-name-error",
                        f"{method} of an unknown name answers a result, not an error",
                        **evidence,
                    )
                elif reply.code != -32001:
                    self.finding(
                        "unknown-name-error",
                        f"{method} of an unknown name answers {reply.code}, expected -32001 "
                        "(hosts accept any error)",
                        **evidence,
                    )
                elif not (
                    isinstance(reply.data, dict)
                    and reply.data.get("kind") == kind
                    and reply.data.get("name") == UNKNOWN_NAME
                ):
                    self.finding(
                        "unknown-name-error",
                        f'-32001 without data {{"kind": "{kind}", "name": <name>}} on {method}',
                        **evidence,
                    )

    def _first_name(self) -> tuple[str, str]:
        for plural, _kind, methods in KINDS:
            names = [n for n in self.items.get(plural, []) if n not in self.options.skip]
            if names:
                return methods[-1], names[0]
        return "invokeAction", UNKNOWN_NAME

    def check_invalid_params(self) -> None:
        method, name = self._first_name()
        memory = memory_for("Hello", "invalid-params")
        cases: list[tuple[str, str, dict[str, Any]]] = [
            ("name", "missing", {"memory": memory, "state": {}, "options": {}}),
            ("name", "integer", {"name": 5, "memory": memory, "state": {}, "options": {}}),
            ("memory", "string", {"name": name, "memory": "not an object", "state": {}, "options": {}}),
            ("memory", "missing", {"name": name, "state": {}, "options": {}}),
        ]
        for param, received, params in cases:
            reply = self.call(method, params, f"{method} with {param} {received}")
            evidence = self.evidence(method, params, reply, f"{param} {received}")
            if self.lost(reply, f"{method} with {param} {received}", evidence):
                continue
            if reply.kind == "result":
                self.finding(
                    "invalid-params-error",
                    f"{param} {received} is answered with a result, expected -32602",
                    **evidence,
                )
            elif reply.code != -32602:
                self.finding(
                    "invalid-params-error",
                    f"{param} {received} is answered {reply.code}, expected -32602",
                    **evidence,
                )
            elif not (isinstance(reply.data, dict) and reply.data.get("param") == param):
                self.finding(
                    "invalid-params-error",
                    f'-32602 without data {{"param": "{param}", "expected", "received"}}',
                    **evidence,
                )

    def check_unknown_method(self) -> None:
        reply = self.call("certifyNoSuchMethod", {}, "certifyNoSuchMethod")
        evidence = self.evidence("certifyNoSuchMethod", {}, reply)
        if not self.lost(reply, "an unknown method", evidence) and reply.code != -32601:
            self.finding(
                "unknown-method",
                f"an unknown method is answered {reply.describe()}, expected -32601",
                **evidence,
            )

    def check_parse_error(self) -> None:
        channel = self.channel
        assert isinstance(channel, RawChannel)
        raw = channel.ensure()
        bad = b'{"id": 1, "method": '
        channel.current = (0, bad.decode(), "a line that is not JSON")
        raw.send_line(bad)
        evidence = {"request": bad.decode(), "input": "a line that is not JSON"}
        try:
            line = raw.read_line(min(self.options.timeout_s, 3.0))  # SHOULD: no long wait
        except RawIpcError as exc:
            code = raw.proc.poll()
            stderr = channel.stderr_tail()
            if code is not None:
                channel.kill()
                self.finding(
                    "parse-error",
                    f"the plugin exited (status {code}) on a line that is not JSON",
                    received=str(exc),
                    stderr=stderr,
                    **evidence,
                )
            else:
                self.finding(
                    "parse-error",
                    "a line that is not JSON got no answer (expected -32700 with id null)",
                    received=str(exc),
                    stderr=stderr,
                    **evidence,
                )
                channel.kill()
            return
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        error = message.get("error") if isinstance(message, dict) else None
        if not (
            isinstance(message, dict)
            and message.get("id", "x") is None
            and isinstance(error, dict)
            and error.get("code") == -32700
        ):
            self.finding(
                "parse-error",
                'expected {"id": null, "error": {"code": -32700, ...}}',
                received=cap(line.decode("utf-8", "replace")),
                stderr=channel.stderr_tail(),
                **evidence,
            )
        after = self.call("getManifest", {}, "getManifest after a bad line")
        if after.kind != "result":
            self.finding(
                "parse-error",
                "the plugin stopped serving after a bad line",
                received=after.describe(),
                stderr=after.stderr,
                **evidence,
            )

    def check_pipelining(self) -> None:
        channel = self.channel
        assert isinstance(channel, RawChannel)
        raw = channel.ensure()
        sent, lines = self._pipelined_requests(channel)
        channel.current = (min(sent), b"\n".join(lines)[:600].decode(), "20 pipelined requests")
        self.calls += len(lines)
        raw.send_line(b"\n".join(lines))
        answered: set[int] = set()
        strays = 0
        deadline = time.monotonic() + self.options.timeout_s + 2.0
        while len(answered) + strays < len(sent) and time.monotonic() < deadline:
            try:
                line = raw.read_line(max(0.01, deadline - time.monotonic()))
            except RawIpcError:
                break
            message = channel._inspect(line, raw)
            if not isinstance(message, dict) or "method" in message:
                continue
            rid = message.get("id")
            received = cap(line.decode("utf-8", "replace"))
            if not isinstance(rid, int) or isinstance(rid, bool) or rid not in sent:
                strays += 1
                self.finding(
                    "response-ids",
                    f"an answer to pipelined requests carries a {json_type(rid)} id that was not sent",
                    received=received,
                    stderr=channel.stderr_tail(),
                    input="20 pipelined requests",
                )
            elif rid in answered:
                self.finding(
                    "response-ids",
                    "a second answer to a pipelined request",
                    received=received,
                    input="20 pipelined requests",
                )
            else:
                answered.add(rid)
                channel.answered.add(rid)
                self._check_not_crossed(rid, message, sent)
        missing = sorted(set(sent) - answered)
        if len(missing) > strays:
            self.finding(
                "pipelining",
                f"{len(missing)} of 20 pipelined requests got no answer "
                f"(ids {missing[:8]}{'...' if len(missing) > 8 else ''})",
                request=channel.current[1] if channel.current else "",
                stderr=channel.stderr_tail(),
                input="20 pipelined requests",
            )
            channel.kill()

    def _pipelined_requests(self, channel: RawChannel) -> tuple[dict[int, tuple[str, str, str]], list[bytes]]:
        """20 requests over the declared items, each quoting its own text: (id -> (method, name,
        text), the lines)."""
        targets = [
            (methods[-1], name)
            for plural, _kind, methods in KINDS
            for name in self.items.get(plural, [])
            if name not in self.options.skip
        ] or [("getManifest", "")]
        sent: dict[int, tuple[str, str, str]] = {}
        lines: list[bytes] = []
        for i in range(20):
            method, name = targets[i % len(targets)]
            channel.last_id += 1
            msg_id = channel.last_id
            text = f"pipelined request {msg_id}"
            params: dict[str, Any] = {}
            if method != "getManifest":
                params = Input("pipelined", "ordinary", memory_for(text, text), {}, {}).params(method, name)
            sent[msg_id] = (method, name, text)
            lines.append(
                json.dumps({"id": msg_id, "method": method, "params": params}, ensure_ascii=False).encode()
            )
        return sent, lines

    def _check_not_crossed(
        self, rid: int, message: dict[str, Any], sent: dict[int, tuple[str, str, str]]
    ) -> None:
        """An answer that quotes another request's text answered the wrong request."""
        if "result" not in message:
            return
        body = json.dumps(message["result"], ensure_ascii=False)
        others = [k for k, v in sent.items() if k != rid and v[2] + '"' in body]
        if others:
            self.finding(
                "pipelining",
                f"the answer to id {rid} quotes request(s) {others[:5]}: answers crossed",
                received=cap(body),
                input="20 pipelined requests",
            )

    def check_shutdown(self) -> None:
        assert isinstance(self.channel, RawChannel)
        self.channel.close()  # a fresh process: the previous one is not disturbed
        reply = self.call("shutdown", {}, "shutdown")
        evidence = self.evidence("shutdown", {}, reply)
        if reply.kind != "result" or reply.value != {}:
            declared = "shutdown" in self.capabilities
            self.finding(
                "shutdown",
                f"shutdown is answered {reply.describe()}"
                + (
                    ""
                    if declared
                    else " (the plugin does not declare the shutdown capability; hosts then close stdin)"
                ),
                **evidence,
            )
            if declared:
                self.finding(
                    "capabilities", "declares the shutdown capability but shutdown does not work", **evidence
                )
            self.channel.kill()
            return
        raw = self.channel.raw
        code = raw.wait_exit(2.0) if raw is not None else None
        if code != 0:
            self.finding(
                "shutdown",
                f"after answering shutdown the plugin did not exit 0 within 2 s (status {code})",
                **evidence,
            )
        self.channel.kill()

    def check_eof(self) -> None:
        assert isinstance(self.channel, RawChannel)
        reply = self.call("getManifest", {}, "getManifest")
        if reply.kind != "result":
            self.finding("eof-exit", f"getManifest before EOF: {reply.describe()}", stderr=reply.stderr)
            self.channel.kill()
            return
        code, elapsed = self.channel.close(grace_s=3.0)
        if code != 0:
            self.finding(
                "eof-exit",
                f"on stdin EOF the plugin did not exit 0 within 3 s (status {code}, {elapsed:.1f} s)",
                request="(stdin closed)",
            )
