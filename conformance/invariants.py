"""Invariants: registered, documented checks over one stream, and the verdicts they give.

An invariant is a small function decorated with its id, impact, evidence and scope; its docstring
is the one-sentence requirement. It yields a `Violation` for each place the stream breaks the
requirement and nothing when the stream meets it.

- `impact`: `breaks` when breaking the requirement loses or alters content, hides an error as a
  clean finish, or makes a real client raise or misread the stream (the official SDK oracles show
  it, or a named client's issue); `strict` when it deviates from the documented wire format but the
  clients we know read the stream the same way (tests/test_tolerance.py proves each one).
- `evidence`: primary sources a user can open (a spec, a vendor document, an issue), each an
  `https://` address with what it shows; `hint`: what a proxy does to meet the requirement.
- `protocol`: the wire protocol whose streams it checks, or None for every protocol.
- `level`: "provider" when every real provider stream of that protocol meets it (the corpus proves
  this: each capture's own stream must pass), "proxy" when it states the canonical shape that a
  proxy must emit and some providers' quirks break; `quirks` names those quirks' features.
- `applies`: a precondition on the context, such as "the client asked for usage".
- `judges_silence`: whether it judges an output that carries no event at all; the others are
  skipped on such an output, where a vacuous pass would say nothing.

Evaluating an invariant gives `pass`, `fail` or `skipped`. `conformance.attribution` then grades a
failure, by who caused it and what it breaks, as Autobahn grades its results:
`fail` (introduced, and it breaks a client), `non-strict` (introduced, a strict deviation) or
`inherited` (the upstream stream already broke it, and the target passed it on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = [
    "FAILING_GRADES",
    "GRADES",
    "Grade",
    "Impact",
    "Invariant",
    "Verdict",
    "Violation",
    "evaluate",
    "invariant",
    "registry",
    "select",
]

Impact = Literal["breaks", "strict"]
Level = Literal["provider", "proxy"]
Grade = Literal["pass", "non-strict", "inherited", "fail", "skipped"]

IMPACTS: tuple[Impact, ...] = ("breaks", "strict")
_LEVELS: tuple[Level, ...] = ("provider", "proxy")
GRADES: tuple[Grade, ...] = ("fail", "non-strict", "inherited", "pass", "skipped")
"""Every verdict class, worst first."""
FAILING_GRADES: tuple[Grade, ...] = GRADES[:3]
"""The classes of a verdict whose requirement the output breaks, whoever caused it, worst first."""
FAILING: frozenset[str] = frozenset(FAILING_GRADES)


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
    impact: Impact
    evidence: tuple[str, ...]
    hint: str
    protocol: str | None
    level: Level
    quirks: tuple[str, ...]
    check: Callable[[Any], Iterable[Violation]]
    applies: Callable[[Any], bool] | None
    judges_silence: bool
    module: str
    # Verdicts are frozen, so one pass and one skip verdict, made here, serve every stream: making a
    # new one for each stream cost as much as a typical check.
    passed: Verdict = field(init=False, repr=False, compare=False)
    skipped: Verdict = field(init=False, repr=False, compare=False)
    silent: Verdict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "passed", Verdict(self.id, "pass", self.impact))
        object.__setattr__(
            self, "skipped", Verdict(self.id, "skipped", self.impact, reason="not applicable to this stream")
        )
        object.__setattr__(
            self, "silent", Verdict(self.id, "skipped", self.impact, reason="the output carries no event to judge")
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "requirement": self.requirement,
            "impact": self.impact,
            "evidence": list(self.evidence),
            "hint": self.hint,
            "protocol": self.protocol,
            "level": self.level,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    invariant: str
    outcome: Grade
    impact: Impact
    violations: tuple[Violation, ...] = ()
    reason: str = ""
    """Why it was skipped, or the first violation's message; for `inherited`, what the upstream did."""

    @property
    def failing(self) -> bool:
        """The output breaks the requirement, whoever caused it."""
        return self.outcome in FAILING

    def graded(self, outcome: Grade, reason: str | None = None) -> Verdict:
        return replace(self, outcome=outcome, reason=self.reason if reason is None else reason)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"invariant": self.invariant, "outcome": self.outcome, "impact": self.impact}
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
    impact: Impact,
    evidence: Sequence[str],
    hint: str,
    protocol: str | None = None,
    level: Level = "provider",
    quirks: Sequence[str] = (),
    applies: Callable[[Any], bool] | None = None,
    judges_silence: bool = False,
) -> Callable[[Callable[[Any], Iterable[Violation]]], Callable[[Any], Iterable[Violation]]]:
    """Register the decorated function as invariant `id`; its docstring is the requirement."""
    if impact not in IMPACTS or level not in _LEVELS:
        raise ValueError(f"invariant {id}: impact must be one of {IMPACTS} and level one of {_LEVELS}")
    if isinstance(evidence, str) or not evidence:
        raise ValueError(f"invariant {id}: evidence must be a non-empty list of sources, not {evidence!r}")

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
            id,
            requirement,
            impact,
            tuple(evidence),
            hint,
            protocol,
            level,
            tuple(quirks),
            check,
            applies,
            judges_silence,
            check.__module__,
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
    """`pass`, `fail` (every violation, the first as the reason) or `skipped`."""
    if inv.applies is not None and not inv.applies(context):
        return inv.skipped
    violations = tuple(inv.check(context))
    if not violations:
        return inv.passed
    return Verdict(inv.id, "fail", inv.impact, violations, violations[0].message)
