"""Invariants on the event-stream framing itself, whatever protocol it carries.

The framing is the WHATWG server-sent events format: https://html.spec.whatwg.org/multipage/server-sent-events.html
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.invariants import Violation, invariant
from conformance.stream import Context


def _observed(ctx: Context, kind: str) -> Iterator[Violation]:
    for observation in ctx.observations:
        if observation.kind == kind:
            yield Violation(
                f"{kind} at byte {observation.offset} ({observation.count}x)", f"no {kind}", observation.example
            )


@invariant(
    "sse.utf8",
    impact="breaks",
    hint="Decode and re-encode the upstream as one byte stream (an incremental UTF-8 decoder, or split lines on bytes before decoding) and write only valid UTF-8.",
    evidence=[
        "https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream — an event stream is always decoded as UTF-8, invalid bytes becoming U+FFFD",
        "https://www.rfc-editor.org/rfc/rfc8259#section-8.1 — JSON exchanged between systems must be UTF-8, so a U+FFFD substitution silently alters the payload",
        "https://github.com/api7/aisix/issues/111 — a gateway that decoded each network read on its own turned CJK and emoji split across reads into U+FFFD",
    ],
)
def valid_utf8(ctx: Context) -> Iterator[Violation]:
    """The stream is valid UTF-8."""
    yield from _observed(ctx, "invalid-utf8")


@invariant(
    "sse.event-terminated",
    impact="breaks",
    hint="End every event, the last one included, with a blank line before closing the response.",
    evidence=[
        "https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation — at end of file pending data is discarded, so an event without its final blank line is never dispatched",
        "https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — the openai-python decoder dispatches an event only on a blank line, so an unterminated last event is lost",
    ],
)
def event_terminated(ctx: Context) -> Iterator[Violation]:
    """The stream ends after a blank line, so its last event is dispatched."""
    yield from _observed(ctx, "unterminated-event")


@invariant(
    "sse.has-events",
    impact="breaks",
    judges_silence=True,
    hint="Send at least one event with a data: line on every streamed response, an error event when there is nothing else to send.",
    evidence=[
        "https://html.spec.whatwg.org/multipage/server-sent-events.html#dispatchMessage — only an event whose data buffer is non-empty is dispatched to the client",
        "https://github.com/openai/openai-openapi — a streamed chat completion is data-only server-sent events terminated by data: [DONE]",
        "https://docs.claude.com/en/docs/build-with-claude/streaming — a Messages stream is message_start, content block events, message_delta and message_stop",
    ],
)
def has_events(ctx: Context) -> Iterator[Violation]:
    """The stream carries at least one event."""
    if not ctx.events:
        yield Violation("the stream carries no event", "at least one event", f"{len(ctx.raw)} bytes: {ctx.raw[:120]!r}")
