"""Transport invariants: what a proxy does with time, cancellation and concurrent streams.

Each judges a small record of what happened while a target streamed (`Pacing`, `Cancellation`,
`Isolation`), not a stream's events; `conformance.transport` drives the target and builds them.
Upstream faults are judged by the stream invariants (`semantic.error-surfaced`, `semantic.text`,
`http.error-body`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from conformance.invariants import Violation, invariant

__all__ = ["Cancellation", "Isolation", "Pacing"]

_EVIDENCE = "issue: proxies buffer whole streams, keep reading after the client left, share state across streams, or finish cleanly on an upstream failure"


@dataclass(frozen=True, slots=True)
class Pacing:
    """When output events reached the client, against when the paced upstream sent its events."""

    upstream_seconds: float
    """From the first upstream event to the last: pace × (events − 1)."""
    event_times: tuple[float, ...]
    """Each complete output event's arrival, in seconds after the upstream request arrived."""


@dataclass(frozen=True, slots=True)
class Cancellation:
    events_read: int
    disconnect_after: float | None
    """Seconds from the client's close to the upstream seeing the connection closed; None: never within the wait."""
    bound: float


@dataclass(frozen=True, slots=True)
class Isolation:
    streams: int
    mismatches: tuple[tuple[str, Any, Any], ...]
    """(capture id, output alone, output under concurrency) for each stream that differed."""


def _is(kind: type) -> Callable[[Any], bool]:
    return lambda ctx: isinstance(ctx, kind)


@invariant(
    "transport.incremental",
    impact="breaks",
    hint="",
    applies=_is(Pacing),
    level="proxy",
    evidence=[f"WIRE-FACTS §1 (SSE delivers each event as it is written), §2.1; {_EVIDENCE}"],
)
def streams_incrementally(ctx: Pacing) -> Iterator[Violation]:
    """Output events reach the client while a paced upstream is still sending: the first before half the upstream's duration, half of them before it ends, and all spread over at least half of it."""
    half = ctx.upstream_seconds / 2
    if not ctx.event_times:
        yield Violation(
            "no complete output event reached the client", "output events while the upstream streams", "none"
        )
        return
    first, last = ctx.event_times[0], ctx.event_times[-1]
    if first > half:
        yield Violation(
            f"the first output event arrived {first:.2f} s after the upstream request, but the upstream streams for {ctx.upstream_seconds:.1f} s: the output was held back",
            f"< {half:.2f} s",
            round(first, 3),
        )
    middle = ctx.event_times[len(ctx.event_times) // 2]
    if middle > ctx.upstream_seconds:
        yield Violation(
            f"half the output events arrived only after the upstream had finished ({middle:.2f} s, upstream {ctx.upstream_seconds:.1f} s): the output did not keep pace",
            f"< {ctx.upstream_seconds:.2f} s",
            round(middle, 3),
        )
    elif last - first < half:
        yield Violation(
            f"the output events arrived within {last - first:.2f} s of each other while the upstream took {ctx.upstream_seconds:.1f} s: the stream was buffered and released at once",
            f">= {half:.2f} s between the first and last output event",
            round(last - first, 3),
        )


@invariant(
    "transport.cancel-propagates",
    impact="breaks",
    hint="",
    applies=_is(Cancellation),
    level="proxy",
    evidence=[f"WIRE-FACTS §1 (a client ends a stream by closing it); {_EVIDENCE}"],
)
def cancel_propagates(ctx: Cancellation) -> Iterator[Violation]:
    """When the client disconnects mid-stream, the upstream connection is closed within 2 seconds."""
    if ctx.disconnect_after is None:
        yield Violation(
            f"the client closed its stream after {ctx.events_read} events, but the upstream connection was still being read {ctx.bound:g} s later",
            f"upstream closed within {ctx.bound:g} s",
            "still open",
        )
    elif ctx.disconnect_after > ctx.bound:
        yield Violation(
            f"the upstream connection closed {ctx.disconnect_after:.2f} s after the client left",
            f"<= {ctx.bound:g} s",
            round(ctx.disconnect_after, 3),
        )


@invariant(
    "transport.concurrent-isolation",
    impact="breaks",
    hint="",
    applies=_is(Isolation),
    level="proxy",
    evidence=["WIRE-FACTS §10 X3, §9 (LiteLLM's chunk queue shared across instances corrupted concurrent streams)"],
)
def concurrent_isolation(ctx: Isolation) -> Iterator[Violation]:
    """Streams run concurrently through one target instance give the same normalized output as each run alone."""
    for capture, alone, together in ctx.mismatches[:5]:
        yield Violation(
            f"{capture}: the output under {ctx.streams} concurrent streams differs from its output alone",
            alone,
            together,
        )
