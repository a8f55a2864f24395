"""Grading failures: who caused them, and what they break.

A failing verdict becomes one of three classes, as Autobahn grades OK / NON-STRICT / FAILED:
- `inherited`: on a route whose client protocol is the upstream's, the upstream's own stream already
  breaks the requirement in the same way, and the target passed that on. The same checks judge what
  a client calling the upstream directly would have received: the capture's bytes, ending as the
  upstream's ended (a reset is an aborted response), under the same client request. Every violation
  the output has must be one the upstream has (the same message and the same actual value; where in
  the stream it sits may move): a target that breaks an invariant its upstream breaks, but in a way
  of its own (other text lost, a third finish chunk), introduced that. The verdict names the
  provider quirk behind it, from the capture's features.
- `non-strict`: the target introduced it, but it is a strict deviation: the invariant's impact is
  `strict`, or the only input that triggers it is framing that is legal but no real provider is
  documented to send (a capture's `unseen_framing` says why).
- `fail`: the target introduced it, and it breaks a client.

On a translating route the output is the target's own work, so nothing there is inherited.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from conformance.checks import check
from conformance.invariants import Invariant, Verdict, Violation, registry
from conformance.stream import Context

__all__ = ["Upstream", "grade", "upstream_violations"]

ORACLE_FAMILY = "oracle."

Upstream = Callable[[Invariant], tuple[Violation, ...]]
"""What the upstream's own stream breaks of an invariant: its violations, none when it meets it."""


def grade(
    verdicts: list[Verdict],
    *,
    upstream: Upstream | None,
    quirks: Sequence[str] = (),
    unseen_framing: str = "",
) -> list[Verdict]:
    """Grade each `fail` verdict. `upstream(inv)` gives the violations a client calling the upstream
    directly would have seen (None on a translating route); `quirks` are the capture's features,
    `unseen_framing` why its framing, though legal, is never seen in practice."""
    known = registry()
    graded = []
    for verdict in verdicts:
        if verdict.outcome != "fail":
            graded.append(verdict)
            continue
        inv = known[verdict.invariant]
        if upstream is not None and _passed_on(inv, verdict.violations, upstream(inv)):
            graded.append(verdict.graded("inherited", _inherited(inv, verdict, quirks)))
        elif inv.impact == "strict":
            graded.append(verdict.graded("non-strict"))
        elif unseen_framing:
            graded.append(verdict.graded("non-strict", f"{verdict.reason} (non-strict: {unseen_framing})"))
        else:
            graded.append(verdict)
    return graded


def _key(violation: Violation) -> tuple[str, str]:
    return violation.message, json.dumps(violation.actual, sort_keys=True, default=str)


def _passed_on(inv: Invariant, output: tuple[Violation, ...], upstream: tuple[Violation, ...]) -> bool:
    """Every violation of the output is one the upstream's stream already has. A client oracle is
    the exception: when the official client cannot read the upstream's own stream either, a target
    that repairs part of it (say, adds Copilot's missing `object`) and passes on the rest (its tool
    index 1) makes the client fail another way, on a quirk it did not create."""
    if inv.id.startswith(ORACLE_FAMILY):
        return bool(upstream)
    had = {_key(violation) for violation in upstream}
    return bool(had) and all(_key(violation) in had for violation in output)


def _inherited(inv: Invariant, verdict: Verdict, features: Sequence[str]) -> str:
    named = [quirk for quirk in inv.quirks if quirk in features]
    if named:
        source = f"the provider's quirk {', '.join(named)}"
    elif features:
        source = f"the upstream stream (features: {', '.join(features)})"
    else:
        source = "the upstream stream"
    return f"inherited from {source}, which already breaks this: {verdict.reason}"


def upstream_violations(context: Callable[[], Context]) -> Upstream:
    """`upstream(inv)` for `grade`, building the upstream's context once, on the first question, and
    judging each invariant on it once."""
    built: list[Context] = []
    answers: dict[str, tuple[Violation, ...]] = {}

    def violations(inv: Invariant) -> tuple[Violation, ...]:
        if inv.id not in answers:
            if not built:
                built.append(context())
            answers[inv.id] = tuple(v for verdict in check(built[0], [inv]) for v in verdict.violations)
        return answers[inv.id]

    return violations
