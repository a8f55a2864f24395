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
    hint="Write and flush each event to the client as soon as it is translated, never holding back the upstream body or a batch of events.",
    applies=_is(Pacing),
    level="proxy",
    evidence=[
        "https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream — block buffering, or line buffering with other line endings, delays event dispatch",
        "https://github.com/openai/openai-openapi — with stream: true the response is sent to the client as it is generated, as server-sent events",
        "https://github.com/BerriAI/litellm/issues/3129 — LiteLLM delivered streamed Anthropic responses all at once because its HTTP client was not streaming",
    ],
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
    hint="When the client's connection closes, cancel the upstream request and close its connection at once instead of reading the upstream to its end.",
    applies=_is(Cancellation),
    level="proxy",
    evidence=[
        "https://html.spec.whatwg.org/multipage/server-sent-events.html#dom-eventsource-close — a client ends a stream by aborting its fetch, which the server sees as the connection closing",
        "https://github.com/BerriAI/litellm/issues/13774 — LiteLLM kept upstream requests running for 20-30 minutes after its client had disconnected",
        "https://github.com/BerriAI/litellm/pull/30245 — LiteLLM's fix closes the upstream stream when the client disconnects mid-stream",
    ],
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
    hint="Keep all per-stream state (buffers, queues, block indices, HTTP clients) in the object made for that stream, never in module, class or other shared state.",
    applies=_is(Isolation),
    level="proxy",
    evidence=[
        "https://github.com/BerriAI/litellm/pull/28868 — LiteLLM's AnthropicStreamWrapper kept its chunk_queue in a class attribute shared by every stream, so concurrent streams corrupted each other's events; the PR moved it into __init__",
        "https://github.com/BerriAI/litellm/issues/3881 — concurrent async streaming requests through LiteLLM interfered with each other and raised",
    ],
)
def concurrent_isolation(ctx: Isolation) -> Iterator[Violation]:
    """Streams run concurrently through one target instance give the same normalized output as each run alone."""
    for capture, alone, together in ctx.mismatches[:5]:
        yield Violation(
            f"{capture}: the output under {ctx.streams} concurrent streams differs from its output alone",
            alone,
            together,
        )
