"""What running one item gives: its class, verdicts and output, whatever kind of item it was.

An item's class is the worst of its verdicts' (`GRADES`, worst first: fail, non-strict, inherited,
pass, skipped), or `errored` when the target crashed or timed out, or `skipped` when it lacks the
route. The gate decides which classes fail a run (`gated`): by default `fail` and `errored`; with
`--strict` also `non-strict` and `inherited`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from conformance.invariants import FAILING_GRADES, Verdict
from conformance.neutral import Message
from conformance.routes import Route

__all__ = ["CLASSES", "CaseLike", "CaseResult", "Ending", "Output", "gated", "item_class"]

Ending = Literal["complete", "aborted"]
CLASSES = ("errored", "fail", "non-strict", "inherited", "pass", "skipped")
"""Every item class, worst first: the verdict classes, and `errored`."""
_DEFAULT_GATE = frozenset({"fail", "errored"})
_STRICT_GATE = frozenset({"fail", "errored", "non-strict", "inherited"})


def gated(strict: bool) -> frozenset[str]:
    """The classes that fail the gate: `fail` and `errored`, and with `--strict` every deviation."""
    return _STRICT_GATE if strict else _DEFAULT_GATE


def item_class(verdicts: list[Verdict]) -> str:
    """The worst class among an item's verdicts; `pass` when every one passed or was skipped."""
    present = {verdict.outcome for verdict in verdicts}
    return next((grade for grade in FAILING_GRADES if grade in present), "pass")


class CaseLike(Protocol):
    """A capture case or a transport check: what reports and expectations key an item by."""

    @property
    def id(self) -> str: ...

    @property
    def capture(self) -> Any: ...

    route: Route
    schedule: str


@dataclass(slots=True)
class Output:
    """What the target's client received."""

    status: int = 200
    chunks: list[bytes] = field(default_factory=list)
    ending: Ending = "complete"
    """`aborted` when the response broke off before its end (the target yielded `Abort`)."""
    abort_reason: str = ""

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


@dataclass(slots=True)
class CaseResult:
    case: CaseLike
    outcome: str
    """The item's class: one of `CLASSES`."""
    verdicts: list[Verdict] = field(default_factory=list)
    output: bytes = b""
    status: int = 200
    """The HTTP status the target's client got."""
    chunks: int = 0
    message: Message | None = None
    error: str = ""
    """Why the case errored or was skipped."""
    seconds: float = 0.0
    upstream_requests: int = 0
    ending: str = "complete"
    """How the response ended for the client: `complete`, `aborted`, or `timed-out` (errored)."""
    upstream_identical: bool = False
    """The client got exactly what the upstream sent: status, body bytes and ending."""

    @property
    def failures(self) -> list[Verdict]:
        """Verdicts that are introduced and break a client (`fail`)."""
        return [v for v in self.verdicts if v.outcome == "fail"]

    @property
    def failing(self) -> list[Verdict]:
        """Verdicts whose requirement the output breaks, whoever caused it."""
        return [v for v in self.verdicts if v.failing]
