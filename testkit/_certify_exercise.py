"""certify's corpus phase: every declared action, provider and evaluator through every input."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elizaos_interop import json_type

from testkit._certify_channel import RawChannel, Reply
from testkit._certify_corpus import Input, build_corpus, ordinary_inputs
from testkit._certify_model import KINDS
from testkit._certify_state import CertifierState

_UNKNOWN_RE = re.compile(
    r"\b(unknown|no such|not found|not registered|does not exist)\b.{0,40}\b(action|provider|evaluator|name)"
    r"|\b(action|provider|evaluator)\b.{0,60}\b(unknown|not found|not registered|does not exist)\b",
    re.IGNORECASE,
)
_GAP_METHOD_RE = re.compile(r"runtime\.(\w+)")
_MAX_HANGS = 2
_MAX_CRASHES = 5


#: A call that got no answer: the check it fails and the summary (formatted with method, s).
_LOST = {
    "crash": ("no-crash", "the plugin exited while answering {method}"),
    "hang": ("no-hang", "{method} was not answered within {s:g} s"),
}


@dataclass
class _Tally:
    """What one item's corpus run saw so far."""

    calls: int = 0
    hangs: int = 0
    crashes: int = 0
    gaps: int = 0
    ordinary_ok: int = 0
    ordinary_total: int = 0
    errors: dict[Any, int] = field(default_factory=dict)
    first_error: dict[str, str] = field(default_factory=dict)


def _is_gap(reply: Reply) -> str:
    """The runtime method a handler error says the host lacks ('?' if unnamed), '*' when a runtime
    call failed on the host's side (RuntimeCallError), or '' for the plugin's own failure."""
    message = reply.message or ""
    data = reply.data if isinstance(reply.data, dict) else {}
    exception = str(data.get("exception", ""))
    low = message.lower()
    gap = (
        "is not provided by the host" in message
        or exception == "RuntimeUnavailableError"
        or ("is not a function" in message and "runtime" in low)
        or (
            ("has no attribute" in message or exception in ("AttributeError", "TypeError"))
            and "runtime" in low
        )
        or ("cannot read properties of undefined" in low and "runtime" in low)
    )
    if exception == "RuntimeCallError" and not gap:
        return "*"  # the host's runtime answered the plugin's runtime call with an error
    if not gap:
        return ""
    match = _GAP_METHOD_RE.search(message)
    return match.group(1) if match else "?"


class CorpusPhase(CertifierState):
    """Every declared item through the corpus (ordinary, edge-case and generated inputs), and the soak."""

    # -- corpus ---------------------------------------------------------------------------------
    def run_corpus(self) -> None:
        if self.channel is None:
            return
        corpus = build_corpus(self.manifest, self.options.fuzz_examples, self.options.seed, self.world)
        counts = [sum(i.kind == kind for i in corpus) for kind in ("ordinary", "edge", "fuzz")]
        self.result.notes.append(
            f"corpus: {counts[0]} ordinary, {counts[1]} edge-case, {counts[2]} generated inputs "
            f"(--seed {self.options.seed})"
        )
        runtime_context = self.runtime_context() if isinstance(self.channel, RawChannel) else None
        for plural, kind, methods in KINDS:
            check = f"declared-{plural}"
            skipped = [n for n in self.items.get(plural, []) if n in self.options.skip]
            names = [n for n in self.items.get(plural, []) if n not in self.options.skip]
            called = 0
            for name in names:
                for method in methods:
                    called += self.exercise(check, kind, name, method, corpus, runtime_context)
            note = f"{len(names)} declared, {called} calls"
            if skipped:
                note += f"; not called (--skip): {', '.join(skipped)}"
            if not names and not skipped:
                note = f"no {plural} declared"
            self.notes_by_check[check] = note

    def exercise(
        self,
        check: str,
        kind: str,
        name: str,
        method: str,
        corpus: Sequence[Input],
        runtime: dict[str, Any] | None,
    ) -> int:
        """Every input through one item's method; returns the number of calls."""
        tally = _Tally()
        started = time.monotonic()
        for index, inp in enumerate(corpus):
            stop = self._stop_reason(tally, inp, started, len(corpus) - index)
            if stop:
                self.result.notes.append(f"{method}({name!r}): {stop}")
                break
            params = inp.params(method, name)
            if runtime is not None:
                params["runtime"] = runtime
            label = f"{method}({name!r}) with {inp.label}"
            reply = self.call(method, params, label)
            tally.calls += 1
            evidence = self.evidence(method, params, reply, label)
            tally.ordinary_total += inp.ordinary
            if reply.kind in _LOST:
                tally.hangs += reply.kind == "hang"
                tally.crashes += reply.kind == "crash"
                check_id, summary = _LOST[reply.kind]
                self.finding(check_id, summary.format(method=method, s=self.options.timeout_s), **evidence)
            elif reply.kind == "host":
                self.finding(
                    "response-envelope", f"the host could not read the answer: {reply.detail}", **evidence
                )
            elif reply.kind == "error":
                if not tally.errors:
                    tally.first_error = evidence
                tally.errors[reply.code] = tally.errors.get(reply.code, 0) + 1
                self.judge_error(check, kind, name, method, inp, reply, evidence)
                tally.gaps += bool(_is_gap(reply))
            elif self.judge_result(check, method, reply, evidence) and inp.ordinary:
                tally.ordinary_ok += 1
        if tally.calls and tally.ordinary_total and not tally.ordinary_ok and tally.errors:
            self._never_answered(check, name, method, tally)
        return tally.calls

    def _stop_reason(self, tally: _Tally, inp: Input, started: float, left: int) -> str:
        """Why the rest of an item's corpus is not sent ('' to go on): its time budget for unusual
        inputs is spent, or it hung or crashed too often."""
        budget = self.options.item_budget_s
        if not inp.ordinary and budget > 0 and time.monotonic() - started > budget:
            return f"{left} unusual inputs not sent after {budget:g} s (--item-budget)"
        if tally.hangs >= _MAX_HANGS or tally.crashes >= _MAX_CRASHES:
            reason = "time-outs" if tally.hangs >= _MAX_HANGS else "crashes"
            return (
                f"stopped after {tally.hangs or tally.crashes} {reason}; the remaining inputs were not sent"
            )
        return ""

    def _never_answered(self, check: str, name: str, method: str, tally: _Tally) -> None:
        """An item that answered no ordinary input with a result fails its declared-* check, unless
        every error was -32002 (a handler's own failure, judged per call)."""
        if set(tally.errors) == {-32002}:
            return
        codes = ", ".join(f"{code} x{n}" for code, n in tally.errors.items())
        hint = "a World that answers them" if self.world is not None else "--runtime WORLD.json"
        why = (
            f"; {tally.gaps} of them failed on the runtime's side (see runtime-gap; certify with {hint})"
            if tally.gaps
            else ""
        )
        first = tally.first_error
        self.finding(
            check,
            f"{method}({name!r}) never answered an ordinary input with a result (errors: {codes}){why}",
            request=first.get("request", ""),
            received=first.get("received", ""),
            stderr=first.get("stderr", ""),
            input=f"{method}({name!r})",
        )

    def judge_error(
        self,
        check: str,
        kind: str,
        name: str,
        method: str,
        inp: Input,
        reply: Reply,
        evidence: dict[str, str],
    ) -> None:
        gap = _is_gap(reply)
        if gap == "*":
            self.finding(
                "runtime-gap",
                "a handler failed because the host's runtime answered a runtime call with an error",
                **evidence,
            )
            return
        if gap:
            what = "a runtime method" if gap == "?" else f"runtime.{gap}"
            self.finding("runtime-gap", f"a handler needs {what}, which the host did not provide", **evidence)
            return
        code = reply.code
        message = reply.message or ""
        # A handler's own failure (-32000) may say "not found" about anything; an unknown-name
        # answer in another code names the item.
        said_unknown = code not in (None, -32000) and name in message and _UNKNOWN_RE.search(message)
        if code == -32001 or said_unknown:
            self.finding(
                check,
                f"{method} answers its own declared {kind} name {name!r} as unknown ({code})",
                **evidence,
            )
        elif code == -32601:
            self.finding(
                check, f"{method} is answered 'method not found' although {kind}s are declared", **evidence
            )
        elif code is None:
            pass  # a malformed error object: response-envelope already has it
        elif inp.ordinary and code == -32003:
            self.finding(
                check,
                f"{method} answers an ordinary input with -32003 (the handler's result is invalid)",
                **evidence,
            )
        elif inp.ordinary and code in (-32600, -32602, -32700):
            self.finding(
                check, f"{method} rejects well-formed params of an ordinary input with {code}", **evidence
            )
        elif not inp.ordinary and code not in (-32000, -32002, -32602, -32700):
            self.finding("unusual-inputs", f"{method} answers {inp.kind} inputs with {code}", **evidence)

    def judge_result(self, check: str, method: str, reply: Reply, evidence: dict[str, str]) -> bool:
        value = reply.value
        if method.startswith("validate"):
            if isinstance(value, bool):
                return True
            if isinstance(value, dict) and isinstance(value.get("valid"), bool):
                self.finding(
                    "validate-boolean", f'{method} answers {{"valid": bool}}, not a bare boolean', **evidence
                )
                return True
            self.finding(check, f"{method} answers a JSON {json_type(value)}, expected a boolean", **evidence)
            return False
        problems = self.schemas.validate_result(method, value)
        if problems:
            self.finding(check, f"{method} result does not fit its schema: {problems[0]}", **evidence)
            return False
        return True

    def soak(self) -> None:
        """Ordinary inputs round and round for ``--soak`` seconds; RSS sampled once a second."""
        ordinary = ordinary_inputs(self.manifest, self.world)
        deadline = time.monotonic() + self.options.soak_s
        samples: list[list[float]] = []
        calls = lost = 0
        started = time.monotonic()
        next_sample = started
        targets = [
            (f"declared-{plural}", kind, name, method)
            for plural, kind, methods in KINDS
            for name in self.items.get(plural, [])
            if name not in self.options.skip
            for method in methods
        ]
        if not targets:
            return
        i = 0
        while time.monotonic() < deadline:
            _check, _kind, name, method = targets[i % len(targets)]
            inp = ordinary[i % len(ordinary)]
            reply = self.call(method, inp.params(method, name), f"soak {method}({name!r})")
            calls += 1
            i += 1
            if reply.kind in ("crash", "hang"):
                lost += 1
                self.finding(
                    "no-crash" if reply.kind == "crash" else "no-hang",
                    f"a request was lost during the soak ({reply.kind})",
                    request=self.request_text(method, inp.params(method, name)),
                    received=reply.detail,
                    stderr=reply.stderr,
                    input=f"soak {method}({name!r})",
                )
            if time.monotonic() >= next_sample:
                rss = self._rss_kb()
                if rss is not None:
                    samples.append([round(time.monotonic() - started, 1), rss])
                next_sample += 1.0
        self.result.soak = {"seconds": self.options.soak_s, "calls": calls, "lost": lost, "rss_kb": samples}
        if samples:
            self.result.notes.append(
                f"soak: {calls} calls in {self.options.soak_s:g} s, {lost} lost, RSS {samples[0][1]:.0f} -> "
                f"{samples[-1][1]:.0f} KiB"
            )

    def _rss_kb(self) -> float | None:
        if isinstance(self.channel, RawChannel) and self.channel.raw is not None:
            try:
                status = Path(f"/proc/{self.channel.raw.proc.pid}/status").read_text()
            except OSError:
                return None
            match = re.search(r"VmRSS:\s+(\d+)", status)
            return float(match.group(1)) if match else None
        return None
