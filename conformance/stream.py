"""A stream as the checks see it: bytes, SSE events, decoded payloads, and what it assembles to."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from conformance.neutral import Message, loads
from conformance.protocols import OPENAI_PROFILE
from conformance.sse import Event, Observation

__all__ = ["DONE", "Payload", "Context", "decode", "hashable"]

DONE = "[DONE]"


# Not frozen: one is built for every event checked, and a frozen dataclass takes about three times
# as long to build.
@dataclass(slots=True)
class Payload:
    index: int
    event: Event
    json: Any = None
    json_error: str = ""
    is_done: bool = False


def decode(events: list[Event]) -> list[Payload]:
    payloads = []
    for index, event in enumerate(events):
        if event.data.strip() == DONE:
            payloads.append(Payload(index, event, is_done=True))
            continue
        try:
            payloads.append(Payload(index, event, loads(event.data)))
        except ValueError as error:
            payloads.append(Payload(index, event, json_error=f"{error}"))
    return payloads


def hashable(value: Any) -> Any:
    """A JSON value usable as a dict key: a list or an object (garbage in an index field) becomes its text."""
    try:
        hash(value)
    except TypeError:
        return json.dumps(value, sort_keys=True, default=str)
    return value


@dataclass(slots=True)
class Context:
    """Everything an invariant may look at. Which target made the stream is deliberately absent."""

    protocol: str
    raw: bytes
    events: list[Event]
    observations: tuple[Observation, ...]
    payloads: list[Payload]
    view: Any
    message: Message
    request: dict[str, Any] = field(default_factory=dict)
    """The request the client sent, in this stream's protocol."""
    expect: dict[str, Any] | None = None
    """What the stream must preserve (a capture's `expect`); None when checking a stream alone."""
    negative: dict[str, Any] | None = None
    """The capture's `negative` block when the upstream stream was itself broken."""
    usage_requested: bool = True
    status: int = 200
    """The HTTP status the client got; a body sent with a 4xx or 5xx status is an error response."""
    expect_protocol: str | None = None
    """The protocol of the capture `expect` comes from, when it is not this stream's own: what only
    a client of the upstream's protocol can receive (its finish and error names) is compared only
    when the two match."""
    ending: str = "complete"
    """How the response ended for the client: `complete`, or `aborted` (the body broke off: its
    chunked encoding never ended, or the connection was reset). To a client an abort is an error."""
    responses_profile: str = OPENAI_PROFILE
    """How an `openai-responses` stream must end: `openai` (OpenAI's own streams: the terminal event
    last, no `[DONE]`) or `open-responses` (the Open Responses specification: `data: [DONE]` after
    the terminal event). Only the Responses invariants read it."""

    @property
    def failed_upstream(self) -> bool:
        return self.negative is not None

    @property
    def same_protocol(self) -> bool:
        """The stream speaks the protocol of the capture it is compared with."""
        return self.expect_protocol in (None, self.protocol)

    @property
    def aborted(self) -> bool:
        return self.ending == "aborted"
