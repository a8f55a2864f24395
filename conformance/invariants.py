"""Invariants: registered, documented checks over one stream, and the verdicts they give.

An invariant is a small function decorated with its id, severity, evidence and scope; its
docstring is the one-sentence requirement. It yields a `Violation` for each place the stream
breaks the requirement and nothing when the stream meets it.

Scope:
- `protocol`: the wire protocol whose streams it checks, or None for every protocol.
- `level`: "provider" when every real provider stream of that protocol meets it (the corpus
  proves this: each capture's own stream must pass), "proxy" when it states the canonical shape
  that a proxy must emit and some providers' quirks break (the evidence names them); streams from
  the protocol's own vendor (OpenAI, Anthropic) meet both.
- `applies`: a precondition on the context, such as "the client asked for usage".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Severity", "Outcome", "Violation", "Invariant", "Verdict", "invariant", "registry", "select"]

Severity = Literal["error", "warning"]
Level = Literal["provider", "proxy"]
Outcome = Literal["pass", "warning", "fail", "skipped"]

_SEVERITIES = ("error", "warning")
_LEVELS = ("provider", "proxy")


@dataclass(frozen=True, slots=True)
class Violation:
    message: str
    expected: Any = None
    actual: Any = None
    event: int | None = None
    """Index of the offending event in the parsed stream."""
    path: str = ""
    """JSON path inside that event's data."""

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "expected": self.expected,
            "actual": self.actual,
            "event": self.event,
            "path": self.path,
        }


@dataclass(frozen=True, slots=True)
class Invariant:
    id: str
    requirement: str
    severity: Severity
    evidence: str
    protocol: str | None
    level: Level
    check: Callable[[Any], Iterable[Violation]]
    applies: Callable[[Any], bool] | None
    module: str
    # Verdicts are frozen, so one pass and one skip verdict, made here, serve every stream: making a
    # new one for each stream cost as much as a typical check.
    passed: Verdict = field(init=False, repr=False, compare=False)
    skipped: Verdict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "passed", Verdict(self.id, "pass", self.severity))
        object.__setattr__(
            self, "skipped", Verdict(self.id, "skipped", self.severity, reason="not applicable to this stream")
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "requirement": self.requirement,
            "severity": self.severity,
            "evidence": self.evidence,
            "protocol": self.protocol,
            "level": self.level,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    invariant: str
    outcome: Outcome
    severity: Severity
    violations: tuple[Violation, ...] = ()
    reason: str = ""
    """Why it was skipped, or the first violation's message."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"invariant": self.invariant, "outcome": self.outcome, "severity": self.severity}
        if self.reason:
            data["reason"] = self.reason
        if self.violations:
            data["violations"] = [violation.to_json() for violation in self.violations]
        return data


_REGISTRY: dict[str, Invariant] = {}
TRANSPORT_FAMILY = "transport."


class DuplicateInvariant(Exception):
    code = "duplicate-invariant"


def invariant(
    id: str,
    *,
    evidence: str,
    severity: Severity = "error",
    protocol: str | None = None,
    level: Level = "provider",
    applies: Callable[[Any], bool] | None = None,
) -> Callable[[Callable[[Any], Iterable[Violation]]], Callable[[Any], Iterable[Violation]]]:
    """Register the decorated function as invariant `id`; its docstring is the requirement."""
    if severity not in _SEVERITIES or level not in _LEVELS:
        raise ValueError(f"invariant {id}: severity must be one of {_SEVERITIES} and level one of {_LEVELS}")

    def register(check: Callable[[Any], Iterable[Violation]]) -> Callable[[Any], Iterable[Violation]]:
        requirement = " ".join((check.__doc__ or "").split())
        if not requirement:
            raise ValueError(
                f"invariant {id} ({check.__module__}.{check.__name__}) needs a docstring stating its requirement"
            )
        existing = _REGISTRY.get(id)
        if existing is not None and existing.module != check.__module__:
            raise DuplicateInvariant(
                f"invariant id {id!r} is registered by both {existing.module} and {check.__module__}"
            )
        _REGISTRY[id] = Invariant(
            id, requirement, severity, evidence, protocol, level, check, applies, check.__module__
        )
        return check

    return register


def registry() -> dict[str, Invariant]:
    """Every registered invariant, by id."""
    import conformance.checks  # noqa: F401  (importing it registers them all)

    return dict(sorted(_REGISTRY.items()))


def select(protocol: str, *, family: str | None = None) -> list[Invariant]:
    """The invariants that apply to streams of `protocol`, optionally only ids starting with `family`.

    The `transport.*` family judges a target's timing, cancellation and concurrency rather than a
    stream (`conformance.transport`): it is chosen only when asked for by name."""
    chosen = [inv for inv in registry().values() if inv.protocol in (None, protocol)]
    if family is None:
        return [inv for inv in chosen if not inv.id.startswith(TRANSPORT_FAMILY)]
    return [inv for inv in chosen if inv.id.startswith(family)]


def evaluate(inv: Invariant, context: Any) -> Verdict:
    if inv.applies is not None and not inv.applies(context):
        return inv.skipped
    violations = tuple(inv.check(context))
    if not violations:
        return inv.passed
    outcome: Outcome = "fail" if inv.severity == "error" else "warning"
    return Verdict(inv.id, outcome, inv.severity, violations, violations[0].message)
