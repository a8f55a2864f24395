"""Grading failures: who caused them, and what they break.

A failing verdict becomes one of three classes, as Autobahn grades OK / NON-STRICT / FAILED:
- `inherited`: on a route whose client protocol is the upstream's, the upstream's own stream already
  breaks the requirement, and the target passed that on. The same checks judge what a client
  calling the upstream directly would have received: the capture's bytes, ending as the upstream's
  ended (a reset is an aborted response), under the same client request. The verdict names the
  provider quirk behind it, from the capture's features.
- `non-strict`: the target introduced it, but it is a strict deviation: the invariant's impact is
  `strict`, or the only input that triggers it is framing that is legal but no real provider is
  documented to send (a capture's `strict` field says why).
- `fail`: the target introduced it, and it breaks a client.

On a translating route the output is the target's own work, so nothing there is inherited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from conformance.checks import check
from conformance.invariants import Invariant, Verdict, registry
from conformance.stream import Context

__all__ = ["grade", "upstream_fails"]


def grade(
    verdicts: list[Verdict],
    *,
    upstream: Callable[[Invariant], bool] | None,
    quirks: Sequence[str] = (),
    unseen_framing: str = "",
) -> list[Verdict]:
    """Grade each `fail` verdict. `upstream(inv)` says whether a client calling the upstream directly
    would have got a stream that fails `inv` too (None on a translating route); `quirks` are the
    capture's features, `unseen_framing` why its framing, though legal, is never seen in practice."""
    known = registry()
    graded = []
    for verdict in verdicts:
        if verdict.outcome != "fail":
            graded.append(verdict)
            continue
        inv = known[verdict.invariant]
        if upstream is not None and upstream(inv):
            graded.append(verdict.graded("inherited", _inherited(inv, verdict, quirks)))
        elif inv.impact == "strict":
            graded.append(verdict.graded("non-strict"))
        elif unseen_framing:
            graded.append(verdict.graded("non-strict", f"{verdict.reason} (non-strict: {unseen_framing})"))
        else:
            graded.append(verdict)
    return graded


def _inherited(inv: Invariant, verdict: Verdict, features: Sequence[str]) -> str:
    named = [quirk for quirk in inv.quirks if quirk in features]
    if named:
        source = f"the provider's quirk {', '.join(named)}"
    elif features:
        source = f"the upstream stream (features: {', '.join(features)})"
    else:
        source = "the upstream stream"
    return f"inherited from {source}, which already breaks this: {verdict.reason}"


def upstream_fails(context: Callable[[], Context]) -> Callable[[Invariant], bool]:
    """`upstream(inv)` for `grade`, building the upstream's context once, on the first question."""
    built: list[Context] = []
    answers: dict[str, bool] = {}

    def fails(inv: Invariant) -> bool:
        if inv.id not in answers:
            if not built:
                built.append(context())
            answers[inv.id] = any(verdict.outcome == "fail" for verdict in check(built[0], [inv]))
        return answers[inv.id]

    return fails
