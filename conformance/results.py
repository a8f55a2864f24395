"""What running one item gives: its outcome, verdicts and output, whatever kind of item it was."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from conformance.invariants import Verdict
from conformance.neutral import Message
from conformance.routes import Route

__all__ = ["CaseLike", "CaseResult"]


class CaseLike(Protocol):
    """A capture case or a transport check: what reports and expectations key an item by."""

    @property
    def id(self) -> str: ...

    @property
    def capture(self) -> Any: ...

    route: Route
    schedule: str


@dataclass(slots=True)
class CaseResult:
    case: CaseLike
    outcome: str
    """passed, failed, errored or skipped."""
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

    @property
    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.outcome == "fail"]

    @property
    def warnings(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.outcome == "warning"]
